//! Used by code that `#[monitored_tool]` generates. Not public API:
//! anything here may change in any release. Re-exports only.

pub use crate::callsite::Callsite;
pub use crate::context::finish_failure;
pub use crate::dispatch::{NotAnError, Returned, ReturnedOutcome, Split, SplitResult, success};
pub use crate::execution::Outcome;
pub use crate::failure::{Classify, ClassifyOutcome, ErrorMessage, Message};
pub use crate::fastlen::{Fast, FastLen, FastLenProbe};
#[cfg(feature = "test-hooks")]
pub use crate::global::poison_locks;
pub use crate::guard::{CallGuard, NoDetails, ParkedDetails, ParkedGuard, WithDetails};
pub use crate::measure::{
    DebugArgument, DebugOutput, IdValue, JsonOutput, MetadataValue, MonitorTarget, id_string,
    input_len, json_output_len, metadata_value, monitor_of, output_len,
};
pub use crate::run::{catch_unwind_call, catch_unwind_future, resume_unwind};
#[cfg(feature = "tokio")]
pub use crate::timeout::{TimeoutError, TimeoutResult, timed_out, timeout_outcome, with_deadline};
pub use serde_json;
