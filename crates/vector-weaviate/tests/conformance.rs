//! The conformance suite against Weaviate: a real server when `WEAVIATE_URL` is set, otherwise
//! the in-process emulator. Against the emulator the run also fails when any request the backend
//! sent violated the Weaviate OpenAPI spec (checked when the spec file is present).
//! `WEAVIATE_EMULATOR_VERSION` (e.g. `1.25.0`) makes the emulator follow that version's rules.

#![allow(clippy::print_stderr)] // A test harness reports on the terminal.

use std::process::ExitCode;
use std::sync::OnceLock;

use weaviate_emulator::{Emulator, EmulatorOptions};

/// The emulator of this run, kept (never dropped) so its records can be read after the suite.
static EMULATOR: OnceLock<Emulator> = OnceLock::new();

fn main() -> ExitCode {
    let code = vector_backend::conformance::Harness::<vector_weaviate::WeaviateBackend>::new()
        .fallback("Weaviate emulator (in-process)", || async {
            let mut options = EmulatorOptions::default();
            options.version = std::env::var("WEAVIATE_EMULATOR_VERSION").ok();
            let emulator = Emulator::start_with(options).await?;
            let url = emulator.url();
            EMULATOR
                .set(emulator)
                .map_err(|_| anyhow::anyhow!("emulator started twice"))?;
            Ok(url)
        })
        .run();
    let Some(emulator) = EMULATOR.get() else {
        return code;
    };
    let violations = emulator.spec_violations();
    if !violations.is_empty() {
        eprintln!(
            "conformance[weaviate]: FAILED: {} requests violate the Weaviate OpenAPI spec:",
            violations.len()
        );
        for v in violations.iter().take(50) {
            eprintln!("  {v}");
        }
        return ExitCode::FAILURE;
    }
    if emulator.spec_loaded() {
        eprintln!(
            "conformance[weaviate]: {} request bodies validated against the Weaviate OpenAPI spec, no violations",
            emulator.validated_requests()
        );
    } else {
        eprintln!(
            "conformance[weaviate]: the Weaviate OpenAPI spec file is absent: request bodies were NOT validated"
        );
    }
    code
}
