//! Query throughput of the memory backend at 100,000 × 384, k = 10.
fn main() {}
