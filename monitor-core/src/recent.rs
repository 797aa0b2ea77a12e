//! Bounded rings of compact records: the execution history and recent errors.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{
    AtomicBool, AtomicI64, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence,
};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use crate::classify::{ErrorCategory, ExecutionStatus};
use crate::clock::wall_from_nanos;
use crate::guard::{Execution, last_message_address, message_address};
use crate::metrics::ToolExecutionMetrics;
use crate::thread::ExecutionId;

/// What a record holds beyond fixed-size fields; boxed, and only present
/// when a call has ids, metadata or an error message.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Details {
    pub(crate) user_id: Option<String>,
    pub(crate) session_id: Option<String>,
    pub(crate) metadata: serde_json::Map<String, serde_json::Value>,
}

/// One execution as kept in a ring: no allocation unless it has details.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    /// The tool's index in the registry (a name would cost a shared
    /// reference count per call).
    pub(crate) tool: u32,
    pub(crate) id: ExecutionId,
    pub(crate) start_wall_nanos: i64,
    pub(crate) end_wall_nanos: i64,
    /// Monotonic end time: the order of records across shards.
    pub(crate) end_mono_nanos: u64,
    pub(crate) duration_nanos: u64,
    pub(crate) status: ExecutionStatus,
    pub(crate) category: Option<ErrorCategory>,
    pub(crate) input_bytes: u64,
    pub(crate) output_bytes: u64,
    pub(crate) memory_mb: Option<f64>,
    pub(crate) details: Option<Box<Details>>,
    /// Shared by the history and the error list.
    pub(crate) error_message: Option<Arc<str>>,
}

impl Record {
    /// The record of `execution`, with its details and message as `keep`
    /// says.
    fn new(tool: u32, id: ExecutionId, execution: &mut Execution, keep: Keep) -> Self {
        let Extra {
            details,
            error_message,
        } = Extra::of(execution, keep);
        Self {
            tool,
            id,
            start_wall_nanos: execution.start.wall_nanos,
            end_wall_nanos: execution.end.wall_nanos,
            end_mono_nanos: execution.end.mono_nanos,
            duration_nanos: execution.duration_nanos,
            status: execution.status,
            category: execution.category,
            input_bytes: execution.input_bytes,
            output_bytes: execution.output_bytes,
            memory_mb: execution.memory_mb,
            details,
            error_message,
        }
    }

    /// The order in which records finished.
    pub(crate) fn order_key(&self) -> (u64, u32, u64) {
        (self.end_mono_nanos, self.id.thread, self.id.sequence)
    }

    pub(crate) fn to_metrics(&self, tool_name: &str) -> ToolExecutionMetrics {
        let details = self.details.as_deref();
        #[allow(clippy::cast_precision_loss)] // nanoseconds to fractional ms
        let duration_ms = self.duration_nanos as f64 / 1e6;
        ToolExecutionMetrics {
            tool_name: tool_name.to_owned(),
            execution_id: format!("{tool_name}-{}-{}", self.id.thread, self.id.sequence),
            start_time: wall_from_nanos(self.start_wall_nanos),
            end_time: Some(wall_from_nanos(self.end_wall_nanos)),
            duration_ms: Some(duration_ms),
            status: self.status,
            error_message: self.error_message.as_deref().map(str::to_owned),
            error_category: self.category,
            input_size_bytes: self.input_bytes,
            output_size_bytes: self.output_bytes,
            memory_usage_mb: self.memory_mb,
            cpu_time_ms: None,
            user_id: details.and_then(|d| d.user_id.clone()),
            session_id: details.and_then(|d| d.session_id.clone()),
            metadata: details.map(|d| d.metadata.clone()).unwrap_or_default(),
        }
    }
}

/// A ring that keeps the last `capacity` records; capacity 0 keeps none.
#[derive(Debug)]
pub(crate) struct Ring {
    capacity: usize,
    records: Mutex<VecDeque<Record>>,
}

impl Ring {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            records: Mutex::new(VecDeque::new()),
        }
    }

    /// Appends `record`, dropping the oldest when full. Takes a lock that is
    /// shared only with readers and with threads that share this ring.
    #[inline]
    pub(crate) fn push(&self, record: Record) {
        if self.capacity == 0 {
            return;
        }
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        if records.len() == self.capacity {
            records.pop_front();
        } else if records.capacity() == records.len() {
            // Grow once, straight to the bound, so that a long run never
            // reallocates (and never allocates on the hot path after warm-up).
            // Out of memory, the record is dropped rather than the call.
            let additional = self.capacity - records.len();
            if records.try_reserve_exact(additional).is_err() {
                return;
            }
        }
        records.push_back(record);
    }

    /// Copies the records that match `keep`; the lock is held only for the copy.
    pub(crate) fn copy_where(&self, keep: impl Fn(&Record) -> bool, into: &mut Vec<Record>) {
        let records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        into.extend(records.iter().filter(|r| keep(r)).cloned());
    }

    /// Panics while holding the lock (for tests of poisoning).
    pub(crate) fn poison(&self) {
        let _records = self.records.lock();
        panic!("poisoning a ring's lock on purpose");
    }

    pub(crate) fn retain(&self, keep: impl Fn(&Record) -> bool) {
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        records.retain(|r| keep(r));
    }
}

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

/// The parts of a record that are not fixed-size.
#[derive(Debug, Default)]
struct Extra {
    details: Option<Box<Details>>,
    error_message: Option<Arc<str>>,
}

/// Whether a ring takes an execution's details and message or shares them
/// (the error list shares them with the history, which takes them last).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keep {
    Take,
    Share,
}

impl Extra {
    fn of(execution: &mut Execution, keep: Keep) -> Self {
        match keep {
            Keep::Take => Self {
                details: execution.details.take(),
                error_message: execution.error_message.take(),
            },
            Keep::Share => Self {
                details: execution.details.clone(),
                error_message: execution.error_message.clone(),
            },
        }
    }
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
        | if has_extra(execution) { HAS_DETAILS } else { 0 }
}

#[inline]
fn has_extra(execution: &Execution) -> bool {
    execution.details.is_some() || execution.error_message.is_some()
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

    /// Appends the record of `execution`, with its details and message as
    /// `keep` says. Only the thread holding this ring's slot may call it.
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
        let message = execution.error_message.as_ref().map_or(0, message_address);
        let held = entry.held_message.load(Ordering::Relaxed);
        let stale = if message == 0 {
            // An older message this record hides: kept only while it is the
            // thread's last one (alive anyway), else freed now.
            held != 0 && held != last_message_address()
        } else {
            message != held
        };
        if stale || execution.details.is_some() || entry.held_details.load(Ordering::Relaxed) {
            let extra = Extra::of(execution, keep);
            let has_details = extra.details.is_some();
            let old = std::mem::replace(
                &mut *entry.extra.lock().unwrap_or_else(PoisonError::into_inner),
                extra,
            );
            entry.held_message.store(message, Ordering::Relaxed);
            entry.held_details.store(has_details, Ordering::Relaxed);
            // Dropped outside the lock.
            drop(old);
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
            let (details, error_message) = if has_details {
                let extra = self.extra.lock().unwrap_or_else(PoisonError::into_inner);
                (extra.details.clone(), extra.error_message.clone())
            } else {
                (None, None)
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
                details,
                error_message,
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

/// Every record a monitor keeps in its history: one owned ring per slot,
/// one shared ring for threads without a slot.
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
    /// details and message as `keep` says.
    #[inline]
    pub(crate) fn push(
        &self,
        slot: u32,
        tool: u32,
        id: ExecutionId,
        execution: &mut Execution,
        keep: Keep,
    ) {
        match usize::try_from(slot).ok().and_then(|i| self.owned.get(i)) {
            Some(ring) => ring.0.push_as_owner(tool, id, execution, keep),
            None => self.shared.push(Record::new(tool, id, execution, keep)),
        }
    }

    /// Panics while holding the shared ring's lock, then the message locks
    /// of the next three entries of each owned ring in use (the ones the
    /// next records go to), catching each panic (for tests of poisoning).
    pub(crate) fn poison(&self) {
        let _ = catch_unwind(AssertUnwindSafe(|| self.shared.poison()));
        for ring in &self.owned {
            let Some(entries) = ring.0.entries.get() else {
                continue;
            };
            let next = ring.0.next.load(Ordering::Relaxed);
            for entry in entries.iter().cycle().skip(next).take(3) {
                let _ = catch_unwind(AssertUnwindSafe(|| {
                    let _extra = entry.extra.lock();
                    panic!("poisoning a ring entry's lock on purpose");
                }));
            }
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

impl OwnedRing {
    /// Makes every entry read as absent, without writing any (the owner
    /// alone writes): entries appended before now are skipped by readers.
    fn clear(&self) {
        // Acquire/Release: a reader that sees the new mark skips every
        // record appended before the clear.
        // `fetch_max`: two concurrent clears never un-hide records.
        self.hidden_below
            .fetch_max(self.appended.load(Ordering::Acquire), Ordering::AcqRel);
    }
}

/// Sorts records from several rings into finishing order and keeps the
/// newest `limit`, oldest first.
pub(crate) fn newest(
    mut records: Vec<Record>,
    limit: usize,
    name_of: impl Fn(u32) -> String,
) -> Vec<ToolExecutionMetrics> {
    records.sort_unstable_by_key(Record::order_key);
    let skip = records.len().saturating_sub(limit);
    records[skip..]
        .iter()
        .map(|record| record.to_metrics(&name_of(record.tool)))
        .collect()
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
