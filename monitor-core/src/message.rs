//! Error messages: capped at [`MAX_ERROR_MESSAGE_BYTES`], formatted into a
//! reused per-thread buffer, and shared with the thread's last message when
//! the text repeats.

use std::any::Any;
use std::cell::RefCell;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use crate::limits::{MAX_ERROR_MESSAGE_BYTES, cut};

/// Cuts `message` to [`MAX_ERROR_MESSAGE_BYTES`] on a char boundary.
pub(crate) fn cap_message(message: &str) -> Arc<str> {
    Arc::from(cut(message, MAX_ERROR_MESSAGE_BYTES))
}

/// The address of a message, to tell whether a ring entry holds it already.
pub(crate) fn message_address(message: &Arc<str>) -> usize {
    Arc::as_ptr(message).cast::<u8>().addr()
}

/// The address of this thread's last message (0 for none): a ring entry
/// that holds it keeps no memory alive that the thread does not keep
/// anyway.
pub(crate) fn last_message_address() -> usize {
    MESSAGES
        .try_with(|cell| {
            cell.try_borrow()
                .ok()
                .and_then(|messages| messages.last.as_ref().map(message_address))
        })
        .ok()
        .flatten()
        .unwrap_or(0)
}

/// A `fmt::Write` into a reused per-thread buffer that keeps at most
/// [`MAX_ERROR_MESSAGE_BYTES`], cut on a char boundary, and stops the
/// formatting once full.
struct Capped<'a>(&'a mut String);

impl fmt::Write for Capped<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = MAX_ERROR_MESSAGE_BYTES - self.0.len();
        let fits = cut(s, room);
        self.0.push_str(fits);
        if fits.len() == s.len() {
            Ok(())
        } else {
            Err(fmt::Error)
        }
    }
}

/// Per-thread state for error messages.
struct Messages {
    /// Where messages are formatted before their one allocation.
    buffer: String,
    /// The last message made on this thread: the next one with the same
    /// text shares it instead of allocating (a tool that fails keeps
    /// failing the same way, as a rule).
    last: Option<Arc<str>>,
}

thread_local! {
    static MESSAGES: RefCell<Messages> = const {
        RefCell::new(Messages {
            buffer: String::new(),
            last: None,
        })
    };
}

/// The text `write` produces, at most [`MAX_ERROR_MESSAGE_BYTES`] of it: the
/// last message of this thread if the text is the same, else one allocation
/// (it is formatted into a reused per-thread buffer first). A formatting
/// impl that panics leaves a note instead of unwinding out of the
/// instrumented function.
pub(crate) fn capped_message(write: impl FnOnce(&mut dyn fmt::Write) -> fmt::Result) -> Arc<str> {
    let mut write = Some(write);
    let mut format = |buffer: &mut String, last: Option<&mut Option<Arc<str>>>| -> Arc<str> {
        buffer.clear();
        let Some(write) = write.take() else {
            return Arc::from("");
        };
        // A full buffer stops the formatting with an error; the text is kept.
        if catch_unwind(AssertUnwindSafe(|| write(&mut Capped(buffer)))).is_err() {
            return Arc::from("<the error's formatting panicked>");
        }
        let Some(last) = last else {
            return Arc::from(buffer.as_str());
        };
        match last {
            Some(message) if **message == **buffer => Arc::clone(message),
            _ => Arc::clone(last.insert(Arc::from(buffer.as_str()))),
        }
    };
    let reused = MESSAGES.try_with(|cell| {
        // Fails only when re-entered from inside a `Display` impl.
        let mut messages = cell.try_borrow_mut().ok()?;
        let Messages { buffer, last } = &mut *messages;
        Some(format(buffer, Some(last)))
    });
    match reused {
        Ok(Some(message)) => message,
        _ => format(&mut String::new(), None),
    }
}

/// The message of a panic payload.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> Arc<str> {
    if let Some(message) = payload.downcast_ref::<&str>() {
        cap_message(message)
    } else if let Some(message) = payload.downcast_ref::<String>() {
        cap_message(message)
    } else {
        Arc::from("panic with a non-string payload")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_cut_on_a_char_boundary() {
        let long = "ü".repeat(1000);
        let cut = cap_message(&long);
        assert!(cut.len() <= MAX_ERROR_MESSAGE_BYTES && cut.len() >= MAX_ERROR_MESSAGE_BYTES - 1);
        assert_eq!(&*cap_message("short"), "short");
        let formatted = capped_message(|out: &mut dyn fmt::Write| write!(out, "{long}"));
        assert_eq!(formatted, cut);
        assert_eq!(
            &*capped_message(|out: &mut dyn fmt::Write| write!(out, "a{}", 1)),
            "a1"
        );
    }

    #[test]
    fn a_repeated_message_is_shared_not_allocated_again() {
        let make =
            |text: &'static str| capped_message(|out: &mut dyn fmt::Write| out.write_str(text));
        let first = make("denied");
        let again = make("denied");
        assert!(Arc::ptr_eq(&first, &again));
        let other = make("refused");
        assert_eq!(&*other, "refused");
        assert!(!Arc::ptr_eq(&first, &other));
        assert!(!Arc::ptr_eq(&other, &make("denied")));
    }

    #[test]
    fn panic_payloads_give_messages() {
        assert_eq!(&*panic_message(&"static"), "static");
        assert_eq!(&*panic_message(&String::from("owned")), "owned");
        assert_eq!(&*panic_message(&42), "panic with a non-string payload");
    }
}
