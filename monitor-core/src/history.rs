//! Every record a monitor keeps: its history and its error list, each one
//! owned ring per thread slot and one shared ring for threads without a
//! slot, read as the newest `capacity` of their union.

use crate::execution::Execution;
use crate::kept::{Keep, Record};
use crate::message::Formatted;
use crate::ring::Ring;
use crate::seqlock::OwnedRing;
use crate::status::ExecutionStatus;
use crate::thread::ExecutionId;

/// A monitor's history and error list, written together by
/// [`push`](Self::push): the error list shares an execution's details and
/// message, the history takes them, and only this order keeps both.
#[derive(Debug)]
pub(crate) struct Records {
    /// The last `history_capacity` executions.
    pub(crate) history: History,
    /// The last `error_capacity` failed executions.
    pub(crate) errors: History,
}

impl Records {
    /// Appends `execution` to the error list if it failed, then to the
    /// history; its message is `formatted` if given, else its own.
    #[inline]
    pub(crate) fn push(
        &self,
        slot: u32,
        tool: u32,
        id: ExecutionId,
        execution: &mut Execution,
        mut formatted: Option<&mut Formatted<'_>>,
    ) {
        if execution.status != ExecutionStatus::Success {
            let formatted = formatted.as_deref_mut();
            self.errors
                .push(slot, tool, id, execution, Keep::Share, formatted);
        }
        self.history
            .push(slot, tool, id, execution, Keep::Take, formatted);
    }
}

/// One owned ring per slot and a shared ring.
#[derive(Debug)]
pub(crate) struct History {
    owned: Box<[Padded<OwnedRing>]>,
    shared: Ring,
    capacity: usize,
}

/// Keeps a value on its own pair of cache lines, so that neighbours in an
/// array do not slow each other down.
#[derive(Debug)]
#[repr(align(128))]
struct Padded<T>(T);

impl History {
    pub(crate) fn new(owned: usize, capacity: usize) -> Self {
        Self {
            owned: (0..owned)
                .map(|_| Padded(OwnedRing::new(capacity)))
                .collect(),
            shared: Ring::new(capacity),
            capacity,
        }
    }

    /// Appends the record of `execution` to the ring of `slot`, with its
    /// details and message shared or taken as `keep` says; private, so that
    /// only [`Records::push`] chooses.
    #[inline]
    fn push(
        &self,
        slot: u32,
        tool: u32,
        id: ExecutionId,
        execution: &mut Execution,
        keep: Keep,
        formatted: Option<&mut Formatted<'_>>,
    ) {
        match usize::try_from(slot).ok().and_then(|i| self.owned.get(i)) {
            Some(ring) => ring.0.push_as_owner(tool, id, execution, keep, formatted),
            None => self
                .shared
                .push(Record::new(tool, id, execution, keep, formatted)),
        }
    }

    /// Panics while holding the shared ring's lock, then the message locks
    /// of the next entries of each owned ring in use, catching each panic
    /// (for tests of poisoning).
    #[cfg(feature = "test-hooks")]
    pub(crate) fn poison(&self) {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.shared.poison()));
        for ring in &self.owned {
            ring.0.poison();
        }
    }

    /// The newest `capacity` records of all rings, in finishing order.
    pub(crate) fn newest(&self) -> Vec<Record> {
        let mut records = Vec::new();
        for ring in &self.owned {
            ring.0.copy_where(|_| true, &mut records);
        }
        self.shared.copy_where(|_| true, &mut records);
        // Each ring keeps its own last `capacity`; the history is the
        // newest `capacity` of their union.
        records.sort_unstable_by_key(Record::order_key);
        let oldest_kept = records.len().saturating_sub(self.capacity);
        records.drain(..oldest_kept);
        records
    }

    /// Forgets every record.
    pub(crate) fn clear(&self) {
        for ring in &self.owned {
            ring.0.clear();
        }
        self.shared.retain(|_| false);
    }
}
