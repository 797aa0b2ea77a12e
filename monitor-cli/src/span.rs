//! Spans of time as people type them: `90s`, `30m`, `24h`, `7d`, `2w`.

use std::time::Duration;

/// Parses `N` followed by `s`, `m`, `h`, `d` or `w` (a bare number is
/// hours), for `--since` and `--older-than`.
///
/// # Errors
///
/// A message saying what was expected.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// assert_eq!(monitor_cli::span::parse("7d"), Ok(Duration::from_secs(7 * 86_400)));
/// assert!(monitor_cli::span::parse("soon").is_err());
/// ```
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let expected =
        || format!("`{text}` is not a span: expected a number and s, m, h, d or w, e.g. 24h or 7d");
    let number: u64 = number.parse().map_err(|_| expected())?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "" | "h" => 3_600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(expected()),
    };
    number
        .checked_mul(unit_secs)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("`{text}` is too long a span"))
}

/// A span for people: `7d`, `24h`, `90m`, `45s`.
#[must_use]
pub fn format(span: Duration) -> String {
    let secs = span.as_secs();
    match secs {
        s if s >= 86_400 && s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s >= 3_600 && s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s >= 60 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_parse_and_print_back() {
        for text in ["90s", "30m", "24h", "7d", "2w", "36"] {
            let span = parse(text).unwrap();
            assert_eq!(parse(&format(span)).unwrap(), span, "{text}");
        }
        assert_eq!(parse("2w").unwrap(), Duration::from_secs(14 * 86_400));
        assert_eq!(parse("36").unwrap(), Duration::from_secs(36 * 3_600));
        for bad in ["", "d", "7x", "-1d", "1.5h", "99999999999999999999d"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
