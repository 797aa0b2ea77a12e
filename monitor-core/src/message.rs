//! Error messages: capped at [`MAX_ERROR_MESSAGE_BYTES`] and formatted into
//! a reused per-thread buffer, from which a failing call is classified and
//! recorded without a copy of its own: a ring entry copies a short message
//! into its own storage, and only a longer one becomes a shared [`Text`].

use std::any::Any;
use std::cell::RefCell;
use std::fmt;
use std::ops::Deref;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use crate::limits::{MAX_ERROR_MESSAGE_BYTES, cut};

/// A recorded error message, at most [`MAX_ERROR_MESSAGE_BYTES`], shared by
/// the history and the error list (one copy for both): what a record read
/// back holds, and what a ring entry keeps of a message too long for its
/// own storage. One allocation: the count and the bytes together.
#[derive(Clone)]
pub struct Text(Arc<str>);

impl Text {
    /// The address of the message, to tell whether a ring entry holds it
    /// already (two live messages never share one).
    pub(crate) fn address(&self) -> usize {
        Arc::as_ptr(&self.0).addr()
    }
}

impl Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl From<&str> for Text {
    fn from(text: &str) -> Self {
        Self(Arc::from(text))
    }
}

/// Cuts `message` to [`MAX_ERROR_MESSAGE_BYTES`] on a char boundary.
pub(crate) fn cap_message(message: &str) -> Text {
    Text::from(cut(message, MAX_ERROR_MESSAGE_BYTES))
}

/// A failure's message while its call is recorded: formatted in this
/// thread's buffer (or, re-entered, in one of its own) and lent to the
/// classification and to the rings, which copy it or ask for a [`Text`].
pub(crate) struct Formatted<'a> {
    text: &'a str,
    /// The thread's last message made into a `Text`, shared by the next
    /// one with the same text (a tool that fails keeps failing the same
    /// way, as a rule); `None` when the thread's state is unavailable.
    last: Option<&'a mut Option<Text>>,
    /// The `Text` made for this call, so that both rings share one.
    made: Option<Text>,
}

impl<'a> Formatted<'a> {
    /// The message, at most [`MAX_ERROR_MESSAGE_BYTES`].
    pub(crate) fn text(&self) -> &'a str {
        self.text
    }

    /// The message as a shared `Text`: the thread's last one if the text
    /// is the same, else a new one (once per call).
    pub(crate) fn shared(&mut self) -> Text {
        if let Some(made) = &self.made {
            return made.clone();
        }
        let text = match self.last.as_deref_mut() {
            Some(Some(last)) if same_text(last, self.text) => last.clone(),
            Some(last) => last.insert(Text::from(self.text)).clone(),
            None => Text::from(self.text),
        };
        self.made.insert(text).clone()
    }
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

    /// One char, pushed in place: the default encodes it and goes through
    /// `write_str`, a `memcpy` call per char, and padding (`{:08}`, `{:>12}`)
    /// writes its fill char by char.
    #[inline]
    fn write_char(&mut self, c: char) -> fmt::Result {
        if self.0.len() + c.len_utf8() <= MAX_ERROR_MESSAGE_BYTES {
            self.0.push(c);
            Ok(())
        } else {
            Err(fmt::Error)
        }
    }
}

/// Per-thread state for error messages.
struct Messages {
    /// Where messages are formatted.
    buffer: String,
    /// The last message made into a [`Text`] on this thread.
    last: Option<Text>,
}

/// Whether two messages are the same text, the last bytes compared first:
/// new messages differ from the last one mostly in an id at their end, and
/// this spares them a call to `memcmp`.
fn same_text(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.as_bytes().last() == b.as_bytes().last() && a == b
}

thread_local! {
    static MESSAGES: RefCell<Messages> = const {
        RefCell::new(Messages {
            buffer: String::new(),
            last: None,
        })
    };
}

/// Formats `write` into `buffer`, at most [`MAX_ERROR_MESSAGE_BYTES`] of it;
/// `false` if the formatting panicked.
fn format_into(buffer: &mut String, write: &dyn Fn(&mut dyn fmt::Write) -> fmt::Result) -> bool {
    buffer.clear();
    // A full buffer stops the formatting with an error; the text is kept.
    catch_unwind(AssertUnwindSafe(|| write(&mut Capped(buffer)))).is_ok()
}

/// The message a formatting impl that panicked leaves.
const PANICKED: &str = "<the error's formatting panicked>";

/// Formats `write` (at most [`MAX_ERROR_MESSAGE_BYTES`] of it) into this
/// thread's buffer and runs `then` with it, so that a failing call is
/// classified and recorded from the buffer, with no allocation. Re-entered
/// (a `Display`, a classification or a sink that calls a failing tool of
/// its own), the inner call formats into a buffer of its own. A formatting
/// impl that panics leaves a note instead of unwinding out of the
/// instrumented function.
pub(crate) fn with_formatted<R>(
    write: &dyn Fn(&mut dyn fmt::Write) -> fmt::Result,
    mut then: impl FnMut(&mut Formatted<'_>) -> R,
) -> R {
    let done = MESSAGES.try_with(|cell| {
        let mut messages = cell.try_borrow_mut().ok()?;
        let Messages { buffer, last } = &mut *messages;
        let text = if format_into(buffer, write) {
            buffer.as_str()
        } else {
            PANICKED
        };
        Some(then(&mut Formatted {
            text,
            last: Some(last),
            made: None,
        }))
    });
    if let Ok(Some(done)) = done {
        return done;
    }
    let mut buffer = String::new();
    let text = if format_into(&mut buffer, write) {
        buffer.as_str()
    } else {
        PANICKED
    };
    then(&mut Formatted {
        text,
        last: None,
        made: None,
    })
}

/// The text `write` produces, at most [`MAX_ERROR_MESSAGE_BYTES`] of it, as
/// a shared `Text`: the thread's last one if the text is the same.
pub(crate) fn capped_message(write: impl Fn(&mut dyn fmt::Write) -> fmt::Result) -> Text {
    #[allow(clippy::redundant_closure_for_method_calls)]
    // the method alone is not general enough over lifetimes
    with_formatted(&write, |formatted| formatted.shared())
}

/// The message of a panic payload.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> Text {
    if let Some(message) = payload.downcast_ref::<&str>() {
        cap_message(message)
    } else if let Some(message) = payload.downcast_ref::<String>() {
        cap_message(message)
    } else {
        Text::from("panic with a non-string payload")
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
    fn chars_written_one_by_one_are_kept_and_capped_the_same() {
        // Padding writes its fill with `write_char`.
        let padded = capped_message(|out: &mut dyn fmt::Write| write!(out, "#{:08}|{:é>4}", 42, 7));
        assert_eq!(&*padded, "#00000042|ééé7");
        // A fill past the cap stops on a char boundary, as `write_str` does.
        let wide = capped_message(|out: &mut dyn fmt::Write| write!(out, "a{:é>2000}", 1));
        assert_eq!(wide.len(), MAX_ERROR_MESSAGE_BYTES - 1);
        assert!(wide.starts_with("aé") && wide.ends_with('é'));
        let narrow = capped_message(|out: &mut dyn fmt::Write| write!(out, "{:x>2000}", 1));
        assert_eq!(&*narrow, "x".repeat(MAX_ERROR_MESSAGE_BYTES));
    }

    #[test]
    fn a_repeated_message_is_shared_not_allocated_again() {
        let make =
            |text: &'static str| capped_message(|out: &mut dyn fmt::Write| out.write_str(text));
        let first = make("denied");
        let again = make("denied");
        assert_eq!(first.address(), again.address());
        let other = make("refused");
        assert_eq!(&*other, "refused");
        assert_ne!(first.address(), other.address());
        assert_ne!(other.address(), make("denied").address());
    }

    #[test]
    fn panic_payloads_give_messages() {
        assert_eq!(&*panic_message(&"static"), "static");
        assert_eq!(&*panic_message(&String::from("owned")), "owned");
        assert_eq!(&*panic_message(&42), "panic with a non-string payload");
    }
}
