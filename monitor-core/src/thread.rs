//! Per-thread state: a process-unique thread number for execution ids, a
//! per-thread sequence, and a *slot*: a small number that no other live
//! thread holds, which gives the thread sole ownership of one shard of
//! every tool's counters and of one history ring.

use std::cell::Cell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, PoisonError};

/// Numbers handed to threads in the order they first record.
static NEXT_THREAD: AtomicU32 = AtomicU32::new(0);
/// Slots never handed out yet start here; freed ones are reused first.
static NEXT_SLOT: AtomicU32 = AtomicU32::new(0);
/// Freed slots, smallest first: a thread started after a burst of others
/// (a blocking pool, say) still gets a low slot, which has a shard of its
/// own, instead of the last one freed.
static FREE_SLOTS: Mutex<BinaryHeap<Reverse<u32>>> = Mutex::new(BinaryHeap::new());

/// A slot number that marks "no slot of its own": such a thread writes to
/// the shared shard with atomic read-modify-writes.
pub(crate) const NO_SLOT: u32 = u32::MAX;

struct ThreadState {
    number: u32,
    slot: u32,
    sequence: Cell<u64>,
}

impl ThreadState {
    fn new() -> Self {
        let slot = FREE_SLOTS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            // Relaxed: only uniqueness matters; the free list's mutex orders
            // a reused slot after its previous owner's last write.
            .map_or_else(
                || NEXT_SLOT.fetch_add(1, Ordering::Relaxed),
                |Reverse(slot)| slot,
            );
        Self {
            // Relaxed: only uniqueness matters.
            number: NEXT_THREAD.fetch_add(1, Ordering::Relaxed),
            slot,
            sequence: Cell::new(0),
        }
    }
}

impl Drop for ThreadState {
    fn drop(&mut self) {
        // The thread is ending: nothing it writes through this slot comes
        // after this point, so the next owner may write plainly.
        FREE_SLOTS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Reverse(self.slot));
    }
}

thread_local! {
    static STATE: ThreadState = ThreadState::new();
}

/// This thread's slot and a fresh execution id, in one thread-local
/// access. While the thread's locals are being destroyed: [`NO_SLOT`] and a
/// fresh thread number with sequence 0, unique as well.
#[inline]
pub(crate) fn claim_id() -> (u32, ExecutionId) {
    STATE
        .try_with(|s| {
            let sequence = s.sequence.get().wrapping_add(1);
            s.sequence.set(sequence);
            let id = ExecutionId {
                thread: s.number,
                sequence,
            };
            (s.slot, id)
        })
        .unwrap_or_else(|_| {
            let id = ExecutionId {
                // Relaxed: only uniqueness matters.
                thread: NEXT_THREAD.fetch_add(1, Ordering::Relaxed),
                sequence: 0,
            };
            (NO_SLOT, id)
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
                .map(|_| s.spawn(|| (0..1000).map(|_| claim_id().1).collect::<Vec<_>>()))
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

    #[test]
    fn live_threads_never_share_a_slot() {
        let barrier = std::sync::Barrier::new(8);
        let slots: Vec<u32> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        let mine = claim_id().0;
                        // All eight are alive at once here.
                        barrier.wait();
                        mine
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let unique: std::collections::HashSet<_> = slots.iter().collect();
        assert_eq!(unique.len(), 8, "{slots:?}");
        assert!(!slots.contains(&NO_SLOT));
    }
}
