//! The conformance suite against the PostgreSQL server `PG_CONNECTION_STRING` names.

fn main() -> std::process::ExitCode {
    vector_backend::conformance::Harness::<vector_pgvector::PgVectorBackend>::new().run()
}
