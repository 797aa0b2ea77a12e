//! A ring written by one thread only and read by any: a sequence lock per
//! entry over atomic fields, so that appending costs plain stores.

use std::sync::atomic::{
    AtomicBool, AtomicI64, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence,
};
use std::sync::{Mutex, OnceLock, PoisonError};

use crate::execution::{Execution, Extra};
use crate::kept::{Keep, Record};
use crate::message::{Text, last_message_address, recycle};
use crate::status::{ErrorCategory, ExecutionStatus};
use crate::thread::ExecutionId;

/// A ring written by one thread only (the holder of a slot), read by any:
/// a sequence lock per entry instead of a mutex, so that appending costs
/// plain stores.
///
/// Each entry's fields are atomics. The writer makes the entry's sequence
/// odd, writes the fields, then makes it even; a reader that sees the same
/// even sequence before and after reading the fields has a consistent copy,
/// and retries otherwise. Details (ids, metadata, messages) sit behind a
/// per-entry mutex that only records with details touch.
#[derive(Debug)]
pub(crate) struct OwnedRing {
    capacity: usize,
    /// Records ever appended; only the owner writes it.
    appended: AtomicU64,
    /// Where the next record goes (`appended % capacity`, kept apart to
    /// spare a division per call); only the owner touches it.
    next: AtomicUsize,
    /// Records appended before this count were cleared: readers skip them.
    hidden_below: AtomicU64,
    entries: OnceLock<Box<[Entry]>>,
}

#[derive(Debug, Default)]
struct Entry {
    sequence: AtomicU64,
    /// Which append this is (0-based).
    index: AtomicU64,
    /// tool index (32 bits) | status (8) | category + 1, 0 for none (8) | has extra (1)
    meta: AtomicU64,
    thread: AtomicU32,
    id_sequence: AtomicU64,
    start_wall_nanos: AtomicI64,
    end_wall_nanos: AtomicI64,
    end_mono_nanos: AtomicU64,
    duration_nanos: AtomicU64,
    input_bytes: AtomicU64,
    output_bytes: AtomicU64,
    /// `f64` bits; `NO_MEMORY` for none.
    memory_mb: AtomicU64,
    /// Details and the error message: read when `meta` says the record has
    /// some. It may hold a message of an older record that `meta` hides,
    /// while that is the owner's last message (which the owner keeps alive
    /// anyway): so the common cases (no message, or the message the entry
    /// holds already) take no lock and hold no extra memory.
    extra: Mutex<Extra>,
    /// The address of the message `extra` holds (0 for none); only the
    /// owner reads or writes it.
    held_message: AtomicUsize,
    /// Whether `extra` holds details; only the owner reads or writes it.
    held_details: AtomicBool,
}

const NO_MEMORY: u64 = u64::MAX;
const HAS_DETAILS: u64 = 1 << 48;
/// How often a reader retries an entry that keeps changing under it before
/// skipping it (it is being overwritten by newer records).
const READ_RETRIES: usize = 8;

#[inline]
fn pack_meta(tool: u32, execution: &Execution) -> u64 {
    let category = execution.category.map_or(0, |c| c.index() as u64 + 1);
    u64::from(tool)
        | (execution.status.index() as u64) << 32
        | category << 40
        | if execution.extra.is_some() {
            HAS_DETAILS
        } else {
            0
        }
}

fn unpack_meta(meta: u64) -> (u32, ExecutionStatus, Option<ErrorCategory>, bool) {
    #[allow(clippy::cast_possible_truncation)] // masked fields
    let (tool, status, category) = (
        meta as u32,
        ((meta >> 32) & 0xff) as usize,
        ((meta >> 40) & 0xff) as usize,
    );
    (
        tool,
        ExecutionStatus::ALL
            .get(status)
            .copied()
            .unwrap_or(ExecutionStatus::Error),
        category
            .checked_sub(1)
            .and_then(|c| ErrorCategory::ALL.get(c).copied()),
        meta & HAS_DETAILS != 0,
    )
}

impl OwnedRing {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            appended: AtomicU64::new(0),
            next: AtomicUsize::new(0),
            hidden_below: AtomicU64::new(0),
            entries: OnceLock::new(),
        }
    }

    /// Appends the record of `execution`, with its details and message
    /// shared or taken as `keep` says (only when the entry does not hold
    /// them already). Only the thread holding this ring's slot may call it.
    #[inline]
    pub(crate) fn push_as_owner(
        &self,
        tool: u32,
        id: ExecutionId,
        execution: &mut Execution,
        keep: Keep,
    ) {
        if self.capacity == 0 {
            return;
        }
        let entries = self.entries.get_or_init(|| {
            // Out of memory, the ring stays empty (records are dropped)
            // rather than the call failing.
            let mut entries = Vec::new();
            if entries.try_reserve_exact(self.capacity).is_ok() {
                entries.resize_with(self.capacity, Entry::default);
            }
            entries.into_boxed_slice()
        });
        // Relaxed: only the owner writes `appended`.
        let appended = self.appended.load(Ordering::Relaxed);
        let position = self.next.load(Ordering::Relaxed);
        self.next.store(
            if position + 1 == self.capacity {
                0
            } else {
                position + 1
            },
            Ordering::Relaxed,
        );
        let Some(entry) = entries.get(position) else {
            return;
        };
        let sequence = entry.sequence.load(Ordering::Relaxed);
        entry.sequence.store(sequence + 1, Ordering::Relaxed);
        // Release: readers that see any field below also see the odd sequence.
        fence(Ordering::Release);
        entry.index.store(appended, Ordering::Relaxed);
        entry
            .meta
            .store(pack_meta(tool, execution), Ordering::Relaxed);
        entry.thread.store(id.thread, Ordering::Relaxed);
        entry.id_sequence.store(id.sequence, Ordering::Relaxed);
        entry
            .start_wall_nanos
            .store(execution.start.wall_nanos, Ordering::Relaxed);
        entry
            .end_wall_nanos
            .store(execution.end.wall_nanos, Ordering::Relaxed);
        entry
            .end_mono_nanos
            .store(execution.end.mono_nanos, Ordering::Relaxed);
        entry
            .duration_nanos
            .store(execution.duration_nanos, Ordering::Relaxed);
        entry
            .input_bytes
            .store(execution.input_bytes, Ordering::Relaxed);
        entry
            .output_bytes
            .store(execution.output_bytes, Ordering::Relaxed);
        entry.memory_mb.store(
            execution.memory_mb.map_or(NO_MEMORY, f64::to_bits),
            Ordering::Relaxed,
        );
        // Relaxed: only this thread writes these two.
        let message = execution
            .extra
            .error_message
            .as_ref()
            .map_or(0, Text::address);
        let held = entry.held_message.load(Ordering::Relaxed);
        let stale = if message == 0 {
            // An older message this record hides: kept only while it is the
            // thread's last one (alive anyway), else freed now.
            held != 0 && held != last_message_address()
        } else {
            message != held
        };
        if stale || execution.extra.details.is_some() || entry.held_details.load(Ordering::Relaxed)
        {
            let extra = keep.extra_of(execution);
            let has_details = extra.details.is_some();
            let old = std::mem::replace(
                &mut *entry.extra.lock().unwrap_or_else(PoisonError::into_inner),
                extra,
            );
            entry.held_message.store(message, Ordering::Relaxed);
            entry.held_details.store(has_details, Ordering::Relaxed);
            // Dropped outside the lock; the message's buffer is reused if
            // nothing else holds it.
            recycle(old.error_message);
            drop(old.details);
        }
        // Release: a reader that sees the even sequence sees every field.
        entry.sequence.store(sequence + 2, Ordering::Release);
        self.appended.store(appended + 1, Ordering::Release);
    }

    /// Copies the records that match `keep`.
    pub(crate) fn copy_where(&self, keep: impl Fn(&Record) -> bool, into: &mut Vec<Record>) {
        let Some(entries) = self.entries.get() else {
            return;
        };
        // Acquire: pairs with the Release store of `appended`.
        let appended = self.appended.load(Ordering::Acquire);
        // Acquire: pairs with the Release in `clear`.
        let hidden_below = self.hidden_below.load(Ordering::Acquire);
        let count = usize::try_from(appended.min(self.capacity as u64)).unwrap_or(0);
        for entry in entries.iter().take(count) {
            if let Some((index, record)) = entry.read() {
                if index >= hidden_below && keep(&record) {
                    into.push(record);
                }
            }
        }
    }
}

impl Entry {
    /// A consistent copy of the entry and its append index, or `None` if it
    /// kept changing under the reader.
    fn read(&self) -> Option<(u64, Record)> {
        for _ in 0..READ_RETRIES {
            // Acquire: pairs with the Release store of an even sequence.
            let before = self.sequence.load(Ordering::Acquire);
            if before % 2 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let index = self.index.load(Ordering::Relaxed);
            let (tool, status, category, has_details) =
                unpack_meta(self.meta.load(Ordering::Relaxed));
            let memory = self.memory_mb.load(Ordering::Relaxed);
            let extra = if has_details {
                self.extra
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone()
            } else {
                Extra::default()
            };
            let record = Record {
                tool,
                id: ExecutionId {
                    thread: self.thread.load(Ordering::Relaxed),
                    sequence: self.id_sequence.load(Ordering::Relaxed),
                },
                start_wall_nanos: self.start_wall_nanos.load(Ordering::Relaxed),
                end_wall_nanos: self.end_wall_nanos.load(Ordering::Relaxed),
                end_mono_nanos: self.end_mono_nanos.load(Ordering::Relaxed),
                duration_nanos: self.duration_nanos.load(Ordering::Relaxed),
                status,
                category,
                input_bytes: self.input_bytes.load(Ordering::Relaxed),
                output_bytes: self.output_bytes.load(Ordering::Relaxed),
                memory_mb: (memory != NO_MEMORY).then(|| f64::from_bits(memory)),
                extra,
            };
            // Acquire: the field loads above happen before the re-check.
            fence(Ordering::Acquire);
            if self.sequence.load(Ordering::Relaxed) == before {
                return Some((index, record));
            }
        }
        None
    }
}

impl OwnedRing {
    /// Makes every entry read as absent, without writing any (the owner
    /// alone writes): entries appended before now are skipped by readers.
    pub(crate) fn clear(&self) {
        // Acquire/Release: a reader that sees the new mark skips every
        // record appended before the clear.
        // `fetch_max`: two concurrent clears never un-hide records.
        self.hidden_below
            .fetch_max(self.appended.load(Ordering::Acquire), Ordering::AcqRel);
    }

    /// Panics while holding the message locks of the next three entries
    /// (the ones the next records go to), catching each panic (for tests of
    /// poisoning).
    #[cfg(feature = "test-hooks")]
    pub(crate) fn poison(&self) {
        let Some(entries) = self.entries.get() else {
            return;
        };
        let next = self.next.load(Ordering::Relaxed);
        for entry in entries.iter().cycle().skip(next).take(3) {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let _extra = entry.extra.lock();
                panic!("poisoning a ring entry's lock on purpose");
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The memory per entry that `history_capacity` and `error_capacity`
    /// document (about 140 bytes).
    #[test]
    fn an_entry_is_about_140_bytes() {
        let size = std::mem::size_of::<Entry>();
        assert!((128..=144).contains(&size), "{size}");
    }
}
