//! Cross-crate integration tests of vector-tier live in `tests/tests/`; this library is empty.
