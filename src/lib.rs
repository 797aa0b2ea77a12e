//! The workspace's root package: it only hosts the top-level `examples/` and
//! `tests/`, which use `monitor-core` the way a user would.
