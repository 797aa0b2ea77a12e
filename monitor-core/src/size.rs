//! Sizes of values, counted without storing them: the byte length of their
//! `Debug` text, or of their JSON text.

use std::fmt;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// A `fmt::Write` that counts bytes and stores nothing.
#[derive(Debug, Default)]
struct ByteCounter(u64);

impl fmt::Write for ByteCounter {
    #[inline]
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 += s.len() as u64;
        Ok(())
    }
}

/// An `io::Write` that counts bytes and stores nothing.
struct JsonByteCounter(u64);

impl io::Write for JsonByteCounter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The UTF-8 byte length of `format!("{:?}", value)`, computed without
/// allocating; `None` if the `Debug` impl panicked or returned an error.
#[inline]
pub(crate) fn debug_len<T: fmt::Debug + ?Sized>(value: &T) -> Option<u64> {
    catch_unwind(AssertUnwindSafe(|| {
        let mut counter = ByteCounter(0);
        fmt::write(&mut counter, format_args!("{value:?}")).ok()?;
        Some(counter.0)
    }))
    .ok()
    .flatten()
}

/// The byte length of `serde_json::to_string(value)`, computed without
/// allocating the text; `None` if serializing failed or panicked.
pub(crate) fn json_len<T: serde::Serialize + ?Sized>(value: &T) -> Option<u64> {
    catch_unwind(AssertUnwindSafe(|| {
        let mut counter = JsonByteCounter(0);
        serde_json::to_writer(&mut counter, value).ok()?;
        Some(counter.0)
    }))
    .ok()
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_len_counts_bytes_like_format() {
        let value = ("héllo", vec![1, 2, 3], Some('x'));
        assert_eq!(debug_len(&value), Some(format!("{value:?}").len() as u64));
        assert_eq!(debug_len("plain"), Some(7));
    }

    #[test]
    fn debug_len_survives_a_panicking_debug() {
        struct Bad;
        impl fmt::Debug for Bad {
            fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
                panic!("no debug for you")
            }
        }
        assert_eq!(debug_len(&Bad), None);
    }

    #[test]
    fn json_len_counts_the_json_text() {
        let value = serde_json::json!({"a": [1, 2], "b": "é"});
        assert_eq!(json_len(&value), Some(value.to_string().len() as u64));
    }
}
