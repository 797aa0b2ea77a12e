//! Per-thread state: a process-unique thread number, which picks the shard a
//! thread writes to, and the sequence that makes execution ids unique.

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, Ordering};

/// Numbers handed to threads in the order they first record.
static NEXT_THREAD: AtomicU32 = AtomicU32::new(0);

thread_local! {
    static THREAD: Cell<Option<u32>> = const { Cell::new(None) };
    static SEQUENCE: Cell<u64> = const { Cell::new(0) };
}

/// This thread's number: unique in the process, dense from 0, never reused.
#[inline]
pub(crate) fn thread_number() -> u32 {
    THREAD
        .try_with(|cell| {
            cell.get().unwrap_or_else(|| {
                // Relaxed: only uniqueness matters, not order.
                let number = NEXT_THREAD.fetch_add(1, Ordering::Relaxed);
                cell.set(Some(number));
                number
            })
        })
        // During thread-local destruction: a fresh number is still unique.
        .unwrap_or_else(|_| NEXT_THREAD.fetch_add(1, Ordering::Relaxed))
}

/// A process-unique execution id: (thread number, per-thread sequence).
#[inline]
pub(crate) fn next_execution_id() -> ExecutionId {
    let thread = thread_number();
    SEQUENCE
        .try_with(|cell| {
            let sequence = cell.get().wrapping_add(1);
            cell.set(sequence);
            ExecutionId { thread, sequence }
        })
        // During thread-local destruction: a fresh thread number with
        // sequence 0 is unique as well.
        .unwrap_or_else(|_| ExecutionId {
            thread: NEXT_THREAD.fetch_add(1, Ordering::Relaxed),
            sequence: 0,
        })
}

/// The parts of an execution id; formatted as `{tool}-{thread}-{sequence}`
/// when a record is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct ExecutionId {
    pub(crate) thread: u32,
    pub(crate) sequence: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_across_threads() {
        let ids: Vec<ExecutionId> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| s.spawn(|| (0..1000).map(|_| next_execution_id()).collect::<Vec<_>>()))
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        });
        let unique: std::collections::HashSet<_> =
            ids.iter().map(|id| (id.thread, id.sequence)).collect();
        assert_eq!(unique.len(), 4000);
    }
}
