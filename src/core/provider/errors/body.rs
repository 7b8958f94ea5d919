//! Helpers for error classification: finding the error object in any body shape, turning
//! upstream text into short safe excerpts, and reading reset times from headers and bodies.

use jiff::civil::Time;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use crate::core::sanitize::strip_controls;

/// Longest upstream text kept in a message or `upstream_message`.
pub(super) const MAX_UPSTREAM: usize = 300;
/// Longest upstream text kept whole for `--json` and logs (`upstream_message`).
pub(super) const MAX_UPSTREAM_FULL: usize = 16 * 1024;
/// Longest excerpt of a body that was not a JSON error.
pub(super) const MAX_EXCERPT: usize = 200;

/// What a response body turned out to be.
pub(super) enum Body {
    Json(Value),
    /// Not JSON: a cleaned excerpt, and whether it looked like HTML.
    Text {
        excerpt: String,
        html: bool,
    },
    Empty,
}

pub(super) fn parse_body(body: &[u8]) -> Body {
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() {
        return Body::Empty;
    }
    if let Ok(v) = serde_json::from_slice::<Value>(trimmed) {
        return Body::Json(v);
    }
    // Only the head matters for an excerpt; cap the work on huge pages.
    let head = String::from_utf8_lossy(&trimmed[..trimmed.len().min(64 * 1024)]);
    let lower_head: String = head.chars().take(512).collect::<String>().to_ascii_lowercase();
    let html = lower_head.starts_with('<')
        && (lower_head.contains("<html")
            || lower_head.contains("<!doctype")
            || lower_head.contains("<head")
            || lower_head.contains("<body")
            || lower_head.contains("<title"));
    let text = if html { strip_html(&head) } else { head.into_owned() };
    let excerpt = clean(&text, MAX_EXCERPT);
    if excerpt.is_empty() { Body::Empty } else { Body::Text { excerpt, html } }
}

/// The error object of any known envelope: `{"error":{…}}` (OpenAI, OpenRouter, Ollama),
/// `[{"error":{…}}]` (Gemini), `{"error":"text"}` (some proxies), or a top-level
/// `{"object":"error","message":…}` / `{"message":…}` / `{"detail":…}` (vLLM, FastAPI servers).
pub(super) fn error_object(v: &Value) -> Option<&Value> {
    match v {
        Value::Array(items) => items.iter().find_map(error_object),
        Value::Object(map) => match map.get("error") {
            Some(e) if !e.is_null() => Some(e),
            _ if map.contains_key("message") || map.contains_key("detail") => Some(v),
            _ => None,
        },
        _ => None,
    }
}

/// Upstream text made safe and short: controls stripped, key-like tokens and configured keys
/// redacted, whitespace collapsed to single spaces, cut at a word boundary before `max`
/// characters with an ellipsis (a single word longer than `max` is cut inside).
pub(super) fn clean(s: &str, max: usize) -> String {
    let stripped = strip_controls(s);
    let redacted = redact_keys(&stripped);
    let redacted = crate::core::sanitize::redact_secrets(&redacted);
    let mut out = String::with_capacity(redacted.len().min(max + 4));
    let mut count = 0;
    for word in redacted.split_whitespace() {
        let extra = usize::from(count > 0);
        let len = word.chars().count();
        if count + extra + len > max {
            if count == 0 {
                out.extend(word.chars().take(max));
            }
            out.push('…');
            return out;
        }
        if extra == 1 {
            out.push(' ');
        }
        out.push_str(word);
        count += extra + len;
    }
    out
}

/// Replaces tokens that look like API keys (`sk-…`, Google `AIza…`) so an upstream that echoes
/// the key back never gets it onto the screen or into logs.
fn redact_keys(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = ["sk-", "AIza"].iter().filter_map(|p| rest.find(p)).min() {
        let (before, from) = rest.split_at(pos);
        out.push_str(before);
        let len = from.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_')).unwrap_or(from.len());
        let boundary = before.chars().next_back().is_none_or(|c| !c.is_ascii_alphanumeric());
        if len >= 20 && boundary {
            out.push_str("[redacted key]");
        } else {
            out.push_str(&from[..len.max(1)]);
        }
        rest = &from[len.max(1)..];
    }
    out.push_str(rest);
    out
}

/// Visible text of an HTML page: tags removed, `<script>`/`<style>` bodies skipped, a few
/// common entities decoded.
fn strip_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() / 2);
    let mut rest = s;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        let tag = &rest[lt..];
        let end = tag.find('>').map_or(tag.len(), |i| i + 1);
        let name: String = tag[1..end.max(1)]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        rest = &tag[end..];
        if name == "script" || name == "style" {
            let close = format!("</{name}");
            let lower = rest.to_ascii_lowercase();
            rest = lower.find(&close).map_or("", |i| &rest[i..]);
        }
        out.push(' ');
    }
    out.push_str(rest);
    out.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// A string member, or a number rendered as text.
pub(super) fn str_of(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

/// An HTTP-like status from an int-or-string `code`.
pub(super) fn status_of(v: Option<&Value>) -> Option<u16> {
    let n = match v? {
        Value::Number(n) => n.as_u64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    u16::try_from(n).ok().filter(|s| (100..=599).contains(s))
}

/// Seconds as a JSON number or numeric string.
pub(super) fn secs_of(v: Option<&Value>) -> Option<f64> {
    let f = match v? {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().trim_end_matches('s').parse().ok()?,
        _ => return None,
    };
    (0.0..1e7).contains(&f).then_some(f)
}

pub(super) fn after_secs(now: Timestamp, secs: f64) -> Option<Timestamp> {
    now.checked_add(SignedDuration::try_from_secs_f64(secs).ok()?).ok()
}

/// `X-RateLimit-Reset`: epoch milliseconds (OpenRouter); epoch seconds when the value is too
/// small to be milliseconds; a delay in seconds when it is too small to be a date at all.
pub(super) fn parse_reset(value: &str, now: Timestamp) -> Option<Timestamp> {
    let n: f64 = value.trim().parse().ok()?;
    if !n.is_finite() || n < 0.0 {
        return None;
    }
    if n >= 1e11 {
        Timestamp::from_millisecond(n as i64).ok()
    } else if n >= 1e9 {
        Timestamp::from_second(n as i64).ok()
    } else {
        after_secs(now, n)
    }
}

/// `Retry-After`: delay seconds or an HTTP date.
pub(super) fn parse_retry_after(value: &str, now: Timestamp) -> Option<Timestamp> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (0.0..1e7).contains(&secs).then(|| after_secs(now, secs)).flatten();
    }
    static PARSER: jiff::fmt::rfc2822::DateTimeParser = jiff::fmt::rfc2822::DateTimeParser::new();
    PARSER.parse_timestamp(value).ok()
}

/// OpenAI's `x-ratelimit-reset-requests` / `-tokens`: a Go-style duration such as `1s`,
/// `6m0s`, `20ms` or `1h2m3.5s`, counted from now.
pub(super) fn parse_go_duration(value: &str, now: Timestamp) -> Option<Timestamp> {
    let mut rest = value.trim();
    if rest.is_empty() {
        return None;
    }
    let mut secs = 0.0;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" | "" => 1.0,
            "ms" => 0.001,
            "us" | "µs" => 0.000_001,
            "ns" => 0.000_000_001,
            _ => return None,
        };
        secs += n * scale;
        rest = &rest[unit_len..];
    }
    (0.0..1e7).contains(&secs).then(|| after_secs(now, secs)).flatten()
}

/// The next local midnight in `tz` after `now` (daily quotas reset then).
pub(super) fn next_midnight(tz: TimeZone, now: Timestamp) -> Option<Timestamp> {
    let today = now.to_zoned(tz.clone()).date();
    let tomorrow = today.tomorrow().ok()?;
    Some(tomorrow.to_datetime(Time::midnight()).to_zoned(tz).ok()?.timestamp())
}

pub(super) fn fmt_utc_time(ts: Timestamp) -> String {
    ts.to_zoned(TimeZone::UTC).strftime("%H:%M:%S UTC").to_string()
}

pub(super) fn fmt_utc_datetime(ts: Timestamp) -> String {
    ts.to_zoned(TimeZone::UTC).strftime("%Y-%m-%d %H:%M UTC").to_string()
}

/// ` (in 3h 12m)` when `at` is ahead of `now`, else nothing.
pub(super) fn fmt_in(now: Timestamp, at: Timestamp) -> String {
    let secs = at.as_second() - now.as_second();
    if secs <= 0 {
        return String::new();
    }
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    match (h, m) {
        (0, 0) => format!(" (in {s}s)"),
        (0, _) => format!(" (in {m}m {s}s)"),
        _ => format!(" (in {h}h {m}m)"),
    }
}

/// The text between `Unknown name "` and the next quote (Gemini's unknown-field 400).
pub(super) fn unknown_field(message: &str) -> Option<&str> {
    let start = message.find("Unknown name \"")? + "Unknown name \"".len();
    let len = message[start..].find('"')?;
    Some(&message[start..start + len]).filter(|s| !s.is_empty())
}

/// `N` from "… can only afford N …" and the requested amount from "requested up to N tokens".
pub(super) fn number_after(message: &str, marker: &str) -> Option<u64> {
    let start = message.find(marker)? + marker.len();
    let digits: String = message[start..].trim_start().chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_truncates_and_redacts() {
        assert_eq!(clean("a  b\n\tc", 10), "a b c");
        assert_eq!(clean("hello world", 7), "hello…");
        assert_eq!(clean("Supercalifragilistic", 5), "Super…");
        assert_eq!(clean("key sk-or-v1-0123456789abcdef0123 rejected", 100), "key [redacted key] rejected");
        assert_eq!(clean("task-or-something sk-short", 100), "task-or-something sk-short");
        assert_eq!(clean("\u{1b}[31mred\u{1b}[0m", 10), "red");
    }

    #[test]
    fn html_is_reduced_to_text() {
        let page = "<!DOCTYPE html><html><head><title>Attention Required! | Cloudflare</title><style>p{color:red}</style><script>var x = '<b>';</script></head><body><h1>Sorry, you have been blocked</h1></body></html>";
        let Body::Text { excerpt, html } = parse_body(page.as_bytes()) else { panic!("not text") };
        assert!(html);
        assert_eq!(excerpt, "Attention Required! | Cloudflare Sorry, you have been blocked");
    }

    #[test]
    fn resets_and_retry_after() {
        let now = Timestamp::from_second(1_787_651_400).unwrap();
        assert_eq!(parse_reset("1787651460000", now), Timestamp::from_second(1_787_651_460).ok());
        assert_eq!(parse_reset("1787651460", now), Timestamp::from_second(1_787_651_460).ok());
        assert_eq!(parse_reset("60", now), Timestamp::from_second(1_787_651_460).ok());
        assert_eq!(parse_retry_after("18", now), Timestamp::from_second(1_787_651_418).ok());
        assert_eq!(parse_retry_after("Tue, 25 Aug 2026 09:51:00 GMT", now), Timestamp::from_second(1_787_651_460).ok());
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_go_duration("6m0s", now), Timestamp::from_second(1_787_651_760).ok());
        assert_eq!(parse_go_duration("1h2m3.5s", now), Timestamp::from_millisecond(1_787_655_123_500).ok());
        assert_eq!(parse_go_duration("20ms", now), Timestamp::from_millisecond(1_787_651_400_020).ok());
        assert_eq!(parse_go_duration("soon", now), None);
    }

    #[test]
    fn midnights() {
        // 2026-08-25 09:50 UTC = 02:50 PDT.
        let now = Timestamp::from_second(1_787_651_400).unwrap();
        assert_eq!(next_midnight(TimeZone::UTC, now), Timestamp::from_second(1_787_702_400).ok());
        let la = TimeZone::get("America/Los_Angeles").unwrap();
        // 2026-08-26 00:00 PDT = 07:00 UTC.
        assert_eq!(next_midnight(la, now), Timestamp::from_second(1_787_702_400 + 7 * 3600).ok());
    }

    #[test]
    fn small_parsers() {
        assert_eq!(
            unknown_field("Invalid JSON payload received. Unknown name \"reasoning\": Cannot find field."),
            Some("reasoning")
        );
        assert_eq!(number_after("but can only afford 2666. To", "can only afford"), Some(2666));
        assert_eq!(status_of(Some(&Value::from("429"))), Some(429));
        assert_eq!(status_of(Some(&Value::from("server_error"))), None);
        assert_eq!(secs_of(Some(&Value::from("41s"))), Some(41.0));
    }
}
