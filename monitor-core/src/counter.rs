//! The one write every counter of a shard takes: a plain load and store
//! for the shard's owner, a `fetch_add` for everyone else.

use std::sync::atomic::{AtomicU64, Ordering};

/// Who writes to a shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Writer {
    /// The one thread that owns this shard: plain loads and stores, no
    /// locked instructions. `epoch` is the tool's current reset epoch.
    Owner { epoch: u64 },
    /// Any thread without a shard of its own: atomic read-modify-writes.
    Shared,
}

/// Adds `value` to `counter`: a load and a store for the owner (nobody else
/// writes it), a `fetch_add` otherwise.
#[inline]
pub(crate) fn add(counter: &AtomicU64, value: u64, writer: Writer) {
    // Relaxed: an independent counter; readers tolerate a torn snapshot.
    match writer {
        Writer::Owner { .. } => counter.store(
            counter.load(Ordering::Relaxed).wrapping_add(value),
            Ordering::Relaxed,
        ),
        Writer::Shared => {
            counter.fetch_add(value, Ordering::Relaxed);
        }
    }
}
