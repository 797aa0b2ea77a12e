//! The bounds that keep a monitor's memory fixed whatever callers send, and
//! the one way text is cut to a bound.

/// The largest history, error-list or sink-queue capacity: 262 144
/// entries (about 35 MB of history per recording thread). Larger requests
/// are cut to it rather than failing on the first call.
pub const MAX_CAPACITY: usize = 1 << 18;

/// Error messages are cut to this many bytes (on a char boundary), so one
/// huge error cannot blow up memory.
pub const MAX_ERROR_MESSAGE_BYTES: usize = 1024;

/// Tool names longer than this many bytes are cut (on a char boundary).
pub const MAX_TOOL_NAME_BYTES: usize = 256;

/// Where calls to tools beyond the monitor's maximum distinct tools are
/// counted.
pub const OVERFLOW_TOOL_NAME: &str = "__overflow__";

/// The history keeps this many executions unless configured.
pub(crate) const DEFAULT_HISTORY_CAPACITY: usize = 10_000;
/// The error list keeps this many failures unless configured.
pub(crate) const DEFAULT_ERROR_CAPACITY: usize = 1_000;
/// Distinct tool names with statistics of their own, unless configured.
pub(crate) const DEFAULT_MAX_TOOLS: usize = 10_000;

/// The longest prefix of `text` that is at most `max` bytes and ends on a
/// char boundary.
///
/// # Examples
///
/// `cut("héllo", 2)` is `"h"`: the `é` does not fit whole.
#[inline]
pub(crate) fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_land_on_char_boundaries() {
        assert_eq!(cut("héllo", 2), "h");
        assert_eq!(cut("héllo", 3), "hé");
        assert_eq!(cut("short", 99), "short");
        assert_eq!(cut("", 0), "");
        let long = "ü".repeat(1000);
        let cut = cut(&long, MAX_ERROR_MESSAGE_BYTES);
        assert!(cut.len() <= MAX_ERROR_MESSAGE_BYTES && cut.len() >= MAX_ERROR_MESSAGE_BYTES - 1);
    }
}
