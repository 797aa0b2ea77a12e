//! Compile-time behaviour of `#[monitored_tool]`: what must compile, and the
//! errors (with where they point) for what must not.
//!
//! Stable only: compiler wording drifts between releases. Regenerate the
//! expected output with `TRYBUILD=overwrite` and review it as a diff.

#[rustversion::stable]
#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}

/// The errors that need rmcp (feature `rmcp`).
#[cfg(feature = "rmcp")]
#[rustversion::stable]
#[test]
fn ui_rmcp() {
    trybuild::TestCases::new().compile_fail("tests/ui/rmcp/*.rs");
}
