//! The conformance suite against the Redis Stack server that `REDIS_URL` names.

fn main() -> std::process::ExitCode {
    vector_backend::conformance::Harness::<vector_redis::RedisBackend>::new().run()
}
