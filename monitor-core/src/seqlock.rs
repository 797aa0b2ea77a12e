//! A ring written by one thread only and read by any: a sequence lock per
//! entry over atomic fields, so that appending costs plain stores.

use std::sync::atomic::{
    AtomicBool, AtomicI64, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence,
};
use std::sync::{Mutex, OnceLock, PoisonError};

use crate::execution::{Execution, Extra};
use crate::kept::{Keep, Record};
use crate::message::{Formatted, Text};
use crate::status::{ErrorCategory, ExecutionStatus};
use crate::thread::ExecutionId;

/// A ring written by one thread only (the holder of a slot), read by any:
/// a sequence lock per entry instead of a mutex, so that appending costs
/// plain stores.
///
/// Each entry's fields are atomics. The writer makes the entry's sequence
/// odd, writes the fields, then makes it even; a reader that sees the same
/// even sequence before and after reading the fields has a consistent copy,
/// and retries otherwise. An error message of at most
/// [`INLINE_MESSAGE_BYTES`] is copied into the entry's own atomic words
/// the same way; details (ids, metadata) and longer messages sit behind a
/// per-entry mutex that only records with them touch.
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
    /// How many entries hold details or a long message; only the owner
    /// touches it. While none does, an append reads nothing of its entry
    /// (pure stores: a cold entry costs no load miss).
    holding_extra: AtomicUsize,
    entries: OnceLock<Box<[Entry]>>,
}

/// Whole cache lines, in a fixed order: everything a success writes in the
/// first two, the inline message alone in a line of its own, so that a
/// success writes two lines and a failure with a message of at most
/// [`INLINE_MESSAGE_BYTES`] three. 192 bytes on Linux; where `Mutex` is
/// larger (a pthread pointer, as on macOS), 256.
#[derive(Debug, Default)]
#[repr(C, align(64))]
struct Entry {
    /// Odd while the entry is written, then even: 2·(append index) + 1,
    /// then + 2, so that the append index is `sequence / 2 - 1` once even.
    sequence: AtomicU64,
    /// tool index (32 bits) | status (8) | category + 1, 0 for none (8) |
    /// has extra (1) | 3 unused | inline message length + 1, 0 for none (8)
    meta: AtomicU64,
    id_sequence: AtomicU64,
    start_wall_nanos: AtomicI64,
    end_wall_nanos: AtomicI64,
    end_mono_nanos: AtomicU64,
    duration_nanos: AtomicU64,
    input_bytes: AtomicU64,
    output_bytes: AtomicU64,
    /// `f64` bits; `NO_MEMORY` for none.
    memory_mb: AtomicU64,
    thread: AtomicU32,
    /// Whether `extra` holds details; only the owner reads or writes it.
    held_details: AtomicBool,
    /// Details and a message too long for `message`: read when `meta` says
    /// the record has some. Emptied by the next record that has neither, so
    /// that no entry keeps an older record's memory alive; the common cases
    /// (no details and a short message or none) take no lock.
    extra: Mutex<Extra>,
    /// The address of the message `extra` holds (0 for none); only the
    /// owner reads or writes it.
    held_message: AtomicUsize,
    /// A message of at most [`INLINE_MESSAGE_BYTES`], 8 bytes a word
    /// (little-endian), its length in `meta`: a failing call copies it here
    /// instead of allocating, locking or counting references. In a line of
    /// its own, which a success does not write.
    message: OwnLine<[AtomicU64; INLINE_MESSAGE_WORDS]>,
}

/// A field that starts a cache line of its own.
#[derive(Debug, Default)]
#[repr(align(64))]
struct OwnLine<T>(T);

/// The longest error message a ring entry keeps in its own storage, with
/// no allocation (longer ones are one shared allocation for both rings).
/// 64 bytes per entry: the history and the error list of each recording
/// thread hold `history_capacity + error_capacity` entries.
pub(crate) const INLINE_MESSAGE_BYTES: usize = 64;
const INLINE_MESSAGE_WORDS: usize = INLINE_MESSAGE_BYTES / 8;
const INLINE_SHIFT: u32 = 52;

const NO_MEMORY: u64 = u64::MAX;
const HAS_DETAILS: u64 = 1 << 48;
/// How often a reader retries an entry that keeps changing under it before
/// skipping it (it is being overwritten by newer records).
const READ_RETRIES: usize = 8;

#[inline]
fn pack_meta(tool: u32, execution: &Execution, has_extra: bool, inline: Option<&str>) -> u64 {
    let category = execution.category.map_or(0, |c| c.index() as u64 + 1);
    u64::from(tool)
        | (execution.status.index() as u64) << 32
        | category << 40
        | if has_extra { HAS_DETAILS } else { 0 }
        | inline.map_or(0, |text| text.len() as u64 + 1) << INLINE_SHIFT
}

/// The fields packed in `meta`: tool, status, category, whether the record
/// has an extra, and its inline message's length.
struct Meta {
    tool: u32,
    status: ExecutionStatus,
    category: Option<ErrorCategory>,
    has_extra: bool,
    inline_len: Option<usize>,
}

fn unpack_meta(meta: u64) -> Meta {
    #[allow(clippy::cast_possible_truncation)] // masked fields
    let (tool, status, category, inline) = (
        meta as u32,
        ((meta >> 32) & 0xff) as usize,
        ((meta >> 40) & 0xff) as usize,
        ((meta >> INLINE_SHIFT) & 0xff) as usize,
    );
    Meta {
        tool,
        status: ExecutionStatus::ALL
            .get(status)
            .copied()
            .unwrap_or(ExecutionStatus::Error),
        category: category
            .checked_sub(1)
            .and_then(|c| ErrorCategory::ALL.get(c).copied()),
        has_extra: meta & HAS_DETAILS != 0,
        inline_len: inline
            .checked_sub(1)
            .filter(|&len| len <= INLINE_MESSAGE_BYTES),
    }
}

/// Copies `text` (at most [`INLINE_MESSAGE_BYTES`]) into `words`: whole
/// words as loads of 8 bytes, the last partial one byte by byte (a copy of
/// a variable length would be a `memcpy` call per word).
#[inline]
fn store_inline(words: &[AtomicU64; INLINE_MESSAGE_WORDS], text: &[u8]) {
    let mut chunks = text.chunks_exact(8);
    let mut words = words.iter();
    // Relaxed: ordered by the entry's sequence, as every field.
    // Chunks first: `zip` takes from its left side before it finds the
    // right one empty, and a word must not be skipped.
    for (chunk, word) in (&mut chunks).zip(&mut words) {
        let bytes = <[u8; 8]>::try_from(chunk).unwrap_or_default();
        word.store(u64::from_le_bytes(bytes), Ordering::Relaxed);
    }
    let rest = chunks.remainder();
    if let (Some(word), false) = (words.next(), rest.is_empty()) {
        let value = rest
            .iter()
            .rev()
            .fold(0, |value, &byte| value << 8 | u64::from(byte));
        word.store(value, Ordering::Relaxed);
    }
}

/// The first `len` bytes of `words`, as `store_inline` wrote them.
fn load_inline(
    words: &[AtomicU64; INLINE_MESSAGE_WORDS],
    len: usize,
) -> [u8; INLINE_MESSAGE_BYTES] {
    let mut bytes = [0; INLINE_MESSAGE_BYTES];
    for (chunk, word) in bytes.chunks_mut(8).zip(words).take(len.div_ceil(8)) {
        chunk.copy_from_slice(&word.load(Ordering::Relaxed).to_le_bytes());
    }
    bytes
}

impl OwnedRing {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            appended: AtomicU64::new(0),
            next: AtomicUsize::new(0),
            hidden_below: AtomicU64::new(0),
            holding_extra: AtomicUsize::new(0),
            entries: OnceLock::new(),
        }
    }

    /// Appends the record of `execution`, with its details and message
    /// shared or taken as `keep` says (only when the entry does not hold
    /// them already); its message is `formatted` if given, else its own.
    /// Only the thread holding this ring's slot may call it.
    #[inline]
    pub(crate) fn push_as_owner(
        &self,
        tool: u32,
        id: ExecutionId,
        execution: &mut Execution,
        keep: Keep,
        formatted: Option<&mut Formatted<'_>>,
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
        let text = match formatted.as_deref() {
            Some(formatted) => Some(formatted.text()),
            None => execution.extra.error_message.as_deref(),
        };
        let inline = text.filter(|text| text.len() <= INLINE_MESSAGE_BYTES);
        let long_message = text.is_some() && inline.is_none();
        let has_extra = long_message || execution.extra.details.is_some();
        // The entry's sequence is written, not read: odd from the append's
        // index, then the next even number. Each append to an entry has a
        // higher index than the last, so a reader never sees one even
        // sequence before and after a rewrite. Reading the old sequence
        // was a cache miss per call: the ring's entries are cold once it
        // is larger than the cache (BENCHMARKS.md, issue #18).
        let sequence = appended.wrapping_mul(2);
        entry
            .sequence
            .store(sequence.wrapping_add(1), Ordering::Relaxed);
        // Release: readers that see any field below also see the odd sequence.
        fence(Ordering::Release);
        entry.meta.store(
            pack_meta(tool, execution, has_extra, inline),
            Ordering::Relaxed,
        );
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
        if let Some(inline) = inline {
            store_inline(&entry.message.0, inline.as_bytes());
        }
        // Relaxed: only this thread touches these.
        let holding = self.holding_extra.load(Ordering::Relaxed);
        if has_extra
            || (holding != 0
                && (entry.held_message.load(Ordering::Relaxed) != 0
                    || entry.held_details.load(Ordering::Relaxed)))
        {
            let (held, holds) = entry.keep_extra(keep.extra_of(execution, formatted, long_message));
            let holding = match (held, holds) {
                (false, true) => holding + 1,
                (true, false) => holding.saturating_sub(1),
                _ => holding,
            };
            self.holding_extra.store(holding, Ordering::Relaxed);
        }
        // Release: a reader that sees the even sequence sees every field.
        entry
            .sequence
            .store(sequence.wrapping_add(2), Ordering::Release);
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
    /// Puts `extra` (details and a long message, or nothing) in the entry,
    /// unless it holds the same message already and neither has details.
    /// Only the owner calls it. Whether the entry held anything before,
    /// and whether it holds anything now.
    fn keep_extra(&self, extra: Extra) -> (bool, bool) {
        let message = extra.error_message.as_ref().map_or(0, Text::address);
        let has_details = extra.details.is_some();
        // Relaxed: only the owner touches these two.
        let held_message = self.held_message.load(Ordering::Relaxed);
        let held_details = self.held_details.load(Ordering::Relaxed);
        let held = held_message != 0 || held_details;
        if message == held_message && !has_details && !held_details {
            return (held, held);
        }
        let old = std::mem::replace(
            &mut *self.extra.lock().unwrap_or_else(PoisonError::into_inner),
            extra,
        );
        self.held_message.store(message, Ordering::Relaxed);
        self.held_details.store(has_details, Ordering::Relaxed);
        // Dropped outside the lock.
        drop(old);
        (held, message != 0 || has_details)
    }

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
            if before == 0 {
                // Never written (readers take only appended entries, so
                // this is a guard, not a path).
                return None;
            }
            // Even: 2·index + 2 (see `push_as_owner`).
            let index = (before / 2).wrapping_sub(1);
            let Meta {
                tool,
                status,
                category,
                has_extra,
                inline_len,
            } = unpack_meta(self.meta.load(Ordering::Relaxed));
            let memory = self.memory_mb.load(Ordering::Relaxed);
            let extra = if has_extra {
                self.extra
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone()
            } else {
                Extra::default()
            };
            let inline = inline_len.map(|len| (load_inline(&self.message.0, len), len));
            let mut record = Record {
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
                if let Some((bytes, len)) = inline {
                    // Consistent, so the bytes a `&str` stored: valid UTF-8.
                    record.extra.error_message =
                        Some(Text::from(&*String::from_utf8_lossy(&bytes[..len])));
                }
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

    #[test]
    fn inline_messages_round_trip_at_every_length() {
        let words: [AtomicU64; INLINE_MESSAGE_WORDS] = Default::default();
        let text = "ab€defghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        for len in (0..=INLINE_MESSAGE_BYTES).filter(|&len| text.is_char_boundary(len)) {
            // A longer message first, so that stale bytes would show.
            store_inline(&words, &[0xff; INLINE_MESSAGE_BYTES]);
            store_inline(&words, &text.as_bytes()[..len]);
            assert_eq!(
                &load_inline(&words, len)[..len],
                &text.as_bytes()[..len],
                "{len}"
            );
        }
    }

    /// An entry is whole cache lines, its message alone in the last: a
    /// success writes the lines before it, a failure also the message's.
    /// On Linux, three lines: the 192 bytes that `history_capacity` and
    /// `error_capacity` document.
    #[test]
    fn an_entry_is_whole_cache_lines_with_the_message_in_the_last() {
        let (size, message) = (
            std::mem::size_of::<Entry>(),
            std::mem::offset_of!(Entry, message),
        );
        assert_eq!(std::mem::align_of::<Entry>(), 64);
        assert_eq!(message % 64, 0, "{message}");
        assert_eq!(size, message + INLINE_MESSAGE_BYTES, "{size}");
        #[cfg(target_os = "linux")]
        assert_eq!(size, 192);
    }
}
