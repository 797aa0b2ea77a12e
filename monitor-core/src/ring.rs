//! A mutex-guarded ring of records, for the threads that hold no slot of
//! their own.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use crate::kept::Record;

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
    #[cfg(feature = "test-hooks")]
    pub(crate) fn poison(&self) {
        let _records = self.records.lock();
        panic!("poisoning a ring's lock on purpose");
    }

    pub(crate) fn retain(&self, keep: impl Fn(&Record) -> bool) {
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        records.retain(|r| keep(r));
    }
}
