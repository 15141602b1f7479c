//! The conformance suite against the in-memory backend (needs no server). The second object of
//! the several-clients cases shares the first one's store, as a second replica shares a server.

fn main() -> std::process::ExitCode {
    vector_backend::conformance::Harness::<vector_memory::MemoryBackend>::new()
        .default_url("memory://", "in-process")
        .twin(|b| vector_memory::MemoryBackend::new(b.driver().share()))
        .run()
}
