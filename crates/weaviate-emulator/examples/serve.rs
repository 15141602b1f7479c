//! Runs the emulator as a process of its own, for benchmarks that compare two builds of the
//! backend against one server: prints its URL on the first line, then serves until killed.
//!
//! `cargo run --release -p weaviate-emulator --example serve`

#![allow(clippy::print_stdout)] // The URL is the output.

use std::io::Write as _;

fn main() -> std::io::Result<()> {
    let emulator = weaviate_emulator::Emulator::start_in_thread(Default::default())?;
    let mut out = std::io::stdout();
    writeln!(out, "{}", emulator.url())?;
    out.flush()?;
    loop {
        std::thread::park();
    }
}
