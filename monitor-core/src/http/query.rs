//! What a URL carries: the `/errors` query and percent-encoded names.

/// Hours of `/errors` when the query gives none.
const DEFAULT_ERROR_HOURS: u32 = 24;

/// The query of `/errors`.
#[derive(Debug, PartialEq)]
pub(super) struct ErrorQuery {
    pub(super) hours: u32,
    pub(super) tool: Option<String>,
}

impl ErrorQuery {
    pub(super) fn parse(query: &str) -> Result<Self, String> {
        let mut parsed = Self {
            hours: DEFAULT_ERROR_HOURS,
            tool: None,
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode_query(value).ok_or("bad percent-encoding\n")?;
            match key {
                "hours" => {
                    parsed.hours = value.parse().map_err(|_| {
                        format!("hours must be a whole number from 0 to {}\n", u32::MAX)
                    })?;
                }
                "tool" => parsed.tool = Some(value),
                _ => {
                    return Err(format!(
                        "unknown query parameter `{key}`; expected hours or tool\n"
                    ));
                }
            }
        }
        Ok(parsed)
    }
}

/// The query of `/series`: `tool=T`, required.
#[derive(Debug, PartialEq)]
pub(super) struct SeriesQuery {
    pub(super) tool: String,
}

impl SeriesQuery {
    pub(super) fn parse(query: &str) -> Result<Self, String> {
        let mut tool = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "tool" => tool = Some(percent_decode_query(value).ok_or("bad percent-encoding\n")?),
                _ => return Err(format!("unknown query parameter `{key}`; expected tool\n")),
            }
        }
        tool.map(|tool| Self { tool })
            .ok_or_else(|| "the query needs tool=NAME\n".to_owned())
    }
}

/// Decodes a path segment: `%XX` escapes only, as RFC 3986 says, so
/// `/stats/c++` names the tool `c++`. `None` if malformed or not UTF-8.
pub(super) fn percent_decode_path(input: &str) -> Option<String> {
    percent_decode(input, false)
}

/// Decodes a query value: `%XX` escapes and `+` as space (the
/// `application/x-www-form-urlencoded` rule browsers use in queries).
fn percent_decode_query(input: &str) -> Option<String> {
    percent_decode(input, true)
}

fn percent_decode(input: &str, plus_is_space: bool) -> Option<String> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                // Two hex digits exactly (`from_str_radix` alone takes `+1`).
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_parse_or_explain() {
        assert_eq!(
            ErrorQuery::parse("").unwrap(),
            ErrorQuery {
                hours: 24,
                tool: None
            }
        );
        assert_eq!(
            ErrorQuery::parse("hours=0&tool=get%2Duser").unwrap(),
            ErrorQuery {
                hours: 0,
                tool: Some("get-user".into())
            }
        );
        assert!(ErrorQuery::parse("hours=-1").is_err());
        assert!(ErrorQuery::parse("hours=99999999999").is_err());
        assert!(ErrorQuery::parse("limit=3").is_err());
        assert!(ErrorQuery::parse("tool=%zz").is_err());
        assert_eq!(
            ErrorQuery::parse("tool=get+user").unwrap().tool.as_deref(),
            Some("get user")
        );
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode_query("a%20b+c").as_deref(), Some("a b c"));
        assert_eq!(percent_decode_path("a%20b+c").as_deref(), Some("a b+c"));
        assert_eq!(percent_decode_path("c++").as_deref(), Some("c++"));
        assert_eq!(percent_decode_path("c%2B%2B").as_deref(), Some("c++"));
        for decode in [percent_decode_path, percent_decode_query] {
            assert_eq!(decode("%"), None);
            assert_eq!(decode("%ff"), None);
            assert_eq!(decode("%+1"), None);
            assert_eq!(decode("caf%C3%A9").as_deref(), Some("café"));
        }
    }
}
