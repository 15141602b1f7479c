//! The data tools of the `vtier` command line: `bench`, `export`, `import`, `migrate`,
//! `backup` and `restore`.
//!
//! The binary (`src/main.rs`) parses arguments and calls the `run` function of each module;
//! tests call the library functions in-process, because a `memory://` backend lives only as
//! long as the process that opened it. Every backend is opened through
//! [`vector_tier::open`], so these tools work with whatever backends the facade compiles in.

pub mod backup;
pub mod bench;
pub mod data;
mod error;
pub mod export;
pub mod format;
pub mod import;
pub mod migrate;
mod progress;
mod transfer;

pub use error::{Error, Result};
pub use progress::Progress;
pub use transfer::OnExisting;
