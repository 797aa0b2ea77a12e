//! Error messages: capped at [`MAX_ERROR_MESSAGE_BYTES`], formatted into a
//! reused per-thread buffer, shared with the thread's last message when
//! the text repeats, and copied into a recycled buffer when it is new, so
//! that a failing call allocates nothing once warm.

use std::any::Any;
use std::cell::RefCell;
use std::fmt;
use std::ops::Deref;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use crate::limits::{MAX_ERROR_MESSAGE_BYTES, cut};

/// A recorded error message, at most [`MAX_ERROR_MESSAGE_BYTES`]: shared
/// by the history and the error list (one copy for both). When the last
/// ring lets go of it on the thread that recorded it, its buffer goes back
/// to that thread's spares ([`recycle`]) and holds a later message: a tool
/// that fails with a new message every call (an id in it, as real errors
/// carry) allocates nothing once warm.
#[derive(Clone)]
pub struct Text(Arc<String>);

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
        Self(Arc::new(text.to_owned()))
    }
}

/// Cuts `message` to [`MAX_ERROR_MESSAGE_BYTES`] on a char boundary.
pub(crate) fn cap_message(message: &str) -> Text {
    Text::from(cut(message, MAX_ERROR_MESSAGE_BYTES))
}

/// The address of this thread's last message (0 for none): a ring entry
/// that holds it keeps no memory alive that the thread does not keep
/// anyway.
pub(crate) fn last_message_address() -> usize {
    MESSAGES
        .try_with(|cell| {
            cell.try_borrow()
                .ok()
                .and_then(|messages| messages.last.as_ref().map(Text::address))
        })
        .ok()
        .flatten()
        .unwrap_or(0)
}

/// Hands the buffer of `message` back to this thread's spares if nothing
/// else holds it (a ring entry just let go of it), else drops it.
pub(crate) fn recycle(message: Option<Text>) {
    let Some(Text(mut buffer)) = message else {
        return;
    };
    if Arc::get_mut(&mut buffer).is_none() {
        return;
    }
    // Off the thread's spares (re-entered, or the thread is ending): freed.
    let _ = MESSAGES.try_with(|cell| {
        if let Ok(mut messages) = cell.try_borrow_mut() {
            if let Some(free) = messages.spares.iter_mut().find(|spare| spare.is_none()) {
                *free = Some(buffer);
            }
        }
    });
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

/// How many message buffers a thread keeps for reuse. In steady state a
/// thread failing with new messages frees one (the oldest history entry's)
/// for each one it makes, so a few are plenty.
const SPARES: usize = 4;

/// The least capacity of a message buffer, so that messages of similar
/// lengths fit one another's recycled buffers.
const MIN_CAPACITY: usize = 64;

/// Per-thread state for error messages.
struct Messages {
    /// Where messages are formatted before they are kept.
    buffer: String,
    /// The last message made on this thread: the next one with the same
    /// text shares it instead of a copy (a tool that fails keeps failing
    /// the same way, as a rule).
    last: Option<Text>,
    /// Buffers of messages no ring holds any more, each held only here.
    spares: [Option<Arc<String>>; SPARES],
}

impl Messages {
    /// The formatted message: the last one if the text is the same, else
    /// a copy in a spare buffer (or a new one), which becomes the last.
    fn keep(&mut self) -> Text {
        let Self {
            buffer,
            last,
            spares,
        } = self;
        if let Some(message) = last.as_ref().filter(|message| same_text(message, buffer)) {
            return message.clone();
        }
        let reused = spares.iter_mut().find_map(|spare| {
            let mut text = spare.take()?;
            let owned = Arc::get_mut(&mut text)?;
            owned.clear();
            owned.push_str(buffer);
            Some(text)
        });
        let text = Text(reused.unwrap_or_else(|| {
            let mut owned = String::with_capacity(buffer.len().max(MIN_CAPACITY));
            owned.push_str(buffer);
            Arc::new(owned)
        }));
        last.insert(text).clone()
    }
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
            spares: [const { None }; SPARES],
        })
    };
}

/// Formats `write` into `buffer`, at most [`MAX_ERROR_MESSAGE_BYTES`] of it;
/// `false` if the formatting panicked.
fn format_into(
    buffer: &mut String,
    write: impl FnOnce(&mut dyn fmt::Write) -> fmt::Result,
) -> bool {
    buffer.clear();
    // A full buffer stops the formatting with an error; the text is kept.
    catch_unwind(AssertUnwindSafe(|| write(&mut Capped(buffer)))).is_ok()
}

/// The message a formatting impl that panicked leaves.
const PANICKED: &str = "<the error's formatting panicked>";

/// The text `write` produces, at most [`MAX_ERROR_MESSAGE_BYTES`] of it: the
/// last message of this thread if the text is the same, else a copy in a
/// recycled buffer (it is formatted into a reused per-thread buffer
/// first). A formatting impl that panics leaves a note instead of
/// unwinding out of the instrumented function.
pub(crate) fn capped_message(write: impl FnOnce(&mut dyn fmt::Write) -> fmt::Result) -> Text {
    let mut write = Some(write);
    let reused = MESSAGES.try_with(|cell| {
        // Fails only when re-entered from inside a `Display` impl.
        let mut messages = cell.try_borrow_mut().ok()?;
        let write = write.take()?;
        if !format_into(&mut messages.buffer, write) {
            return Some(Text::from(PANICKED));
        }
        Some(messages.keep())
    });
    if let Ok(Some(message)) = reused {
        return message;
    }
    let Some(write) = write.take() else {
        // Re-entered after the formatting began: cannot happen, as the
        // formatting runs inside the borrow; an empty message then.
        return Text::from("");
    };
    let mut buffer = String::new();
    if format_into(&mut buffer, write) {
        Text::from(buffer.as_str())
    } else {
        Text::from(PANICKED)
    }
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
