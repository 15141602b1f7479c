//! The conformance suite against the in-memory backend (needs no server).

fn main() -> std::process::ExitCode {
    vector_backend::conformance::Harness::<vector_memory::MemoryBackend>::new()
        .default_url("memory://", "in-process")
        .run()
}
