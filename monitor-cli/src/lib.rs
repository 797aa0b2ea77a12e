//! The library behind `tool-monitor`: the report that the command and
//! `examples/agent.rs` both print ([`report`]), and the parsing of spans
//! such as `7d` ([`span`]).
//!
//! The report lives here rather than in `monitor-core` so that the runtime
//! crate stays free of terminal dependencies (tables, colours); the agent
//! example depends on this crate to print the same report from the same
//! code.

pub mod report;
pub mod span;
