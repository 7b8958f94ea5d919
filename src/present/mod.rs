//! Short human formats shared by the chatroom and the headless commands: token counts, dollars,
//! durations, rates, shortened model ids.

pub mod room;

use rust_decimal::Decimal;

use crate::core::protocol::{Cost, CostSource};

/// "812", "12.3k", "1.20M".
pub fn tokens(n: u64) -> String {
    match n {
        0..=999 => n.to_string(),
        1_000..=99_999 => format!("{:.1}k", n as f64 / 1_000.0),
        100_000..=999_999 => format!("{}k", n / 1_000),
        _ => format!("{:.2}M", n as f64 / 1_000_000.0),
    }
}

/// A file size: "68 B", "12.3 KiB", "4.5 MiB".
pub fn bytes(n: u64) -> String {
    match n {
        0..1024 => format!("{n} B"),
        1024..1_048_576 => format!("{:.1} KiB", n as f64 / 1024.0),
        _ => format!("{:.1} MiB", n as f64 / 1_048_576.0),
    }
}

/// Dollars with enough digits to show sub-cent costs exactly: "$0.0012", "$0.000042", "$1.2500".
pub fn usd(amount: Decimal) -> String {
    let n = amount.normalize();
    if n.is_zero() {
        return "$0".into();
    }
    if n.abs() >= Decimal::new(1, 2) { format!("${:.4}", n.round_dp(4)) } else { format!("${n}") }
}

/// A cost with its provenance: "$0.0012", "~$0.0012" (estimated), "?" (unknown).
pub fn cost(c: &Cost) -> String {
    match (c.usd, c.source) {
        (Some(v), CostSource::Estimated) => format!("~{}", usd(v)),
        (Some(v), _) => usd(v),
        (None, _) => "?".into(),
    }
}

/// A moment as local date and time, "2026-11-29 14:05" (UTC when the zone is unknown).
pub fn date_time_ms(ms: i64) -> String {
    let Ok(ts) = jiff::Timestamp::from_millisecond(ms) else { return "?".into() };
    ts.to_zoned(jiff::tz::TimeZone::system()).strftime("%Y-%m-%d %H:%M").to_string()
}

/// "850 ms", "3.2 s", "2m 05s".
pub fn millis(ms: u64) -> String {
    match ms {
        0..=999 => format!("{ms} ms"),
        1_000..=59_999 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => crate::core::quota::format_duration_ms(i64::try_from(ms).unwrap_or(i64::MAX)),
    }
}

/// An answer's finish reason as footers show it: a token-limit stop says the answer was cut
/// (as `ask`'s table does); other reasons as the upstream named them.
pub fn finish(reason: &str) -> String {
    if reason == "length" { "cut (length)".into() } else { reason.to_string() }
}

/// "42 tok/s".
pub fn rate(tps: f64) -> String {
    if tps >= 100.0 { format!("{tps:.0} tok/s") } else { format!("{tps:.1} tok/s") }
}

/// Fit a model id into `max` display columns by cutting its middle: the vendor's start and the
/// distinguishing tail stay ("meta-l…-3.3-70b:free"), so `:free` variants and sizes of one
/// family still tell apart when shortened.
pub fn shorten(s: &str, max: usize) -> String {
    use unicode_width::UnicodeWidthStr;
    if s.width() <= max {
        return s.to_string();
    }
    if max <= 1 {
        return "…".repeat(max);
    }
    // Words that most ids of a family share say least: they go first (`-instruct`, `-it`).
    let (marked, bare) = without_filler(s);
    if marked.width() <= max {
        return marked;
    }
    cut_middle(&bare, max)
}

/// Segments of a model id that seldom tell two models apart.
const FILLER: [&str; 3] = ["-instruct", "-chat", "-it"];

/// `s` with its filler segments replaced by `…`, and with them simply dropped.
fn without_filler(s: &str) -> (String, String) {
    let (mut marked, mut bare) = (String::new(), String::new());
    let mut rest = s;
    'scan: while !rest.is_empty() {
        for word in FILLER {
            if let Some(after) = rest.strip_prefix(word)
                && (after.is_empty() || after.starts_with([':', '-']))
            {
                if !marked.ends_with('…') {
                    marked.push('…');
                }
                rest = after;
                continue 'scan;
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            marked.push(c);
            bare.push(c);
        }
        rest = chars.as_str();
    }
    (marked, bare)
}

/// `s` cut in the middle to at most `max` (≥ 2) columns, always with a `…` (what reaches here
/// lost something already). The model's name after the vendor is the distinguishing part:
/// when it fits whole, the vendor gets what is left; otherwise a third of the room keeps the
/// vendor's start and the rest the name's tail.
fn cut_middle(s: &str, max: usize) -> String {
    use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};
    let vendor = s.find('/').map_or(s, |i| &s[..i]);
    let name_w = s.width() - vendor.width();
    let head_room = match (max - 1).checked_sub(name_w) {
        Some(room) if room >= 2 && s.contains('/') => room.min(vendor.width().saturating_sub(1)),
        // Narrow: two columns of vendor are enough to place it; the tail matters more.
        _ if max <= 16 => 2.min(vendor.width()),
        _ => ((max - 1) / 3).min(vendor.width()),
    };
    let mut head = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > head_room {
            break;
        }
        used += w;
        head.push(c);
    }
    // The tail never meets the head: at least one character goes where the `…` stands.
    let tail_room = (max - 1 - used).min(s.width().saturating_sub(used + 1));
    let mut tail: Vec<char> = Vec::new();
    let mut tail_used = 0;
    for c in s.chars().rev() {
        let w = c.width().unwrap_or(0);
        if tail_used + w > tail_room {
            break;
        }
        tail_used += w;
        tail.push(c);
    }
    head.push('…');
    head.extend(tail.into_iter().rev());
    head
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_counts_are_short() {
        assert_eq!(tokens(812), "812");
        assert_eq!(tokens(12_345), "12.3k");
        assert_eq!(tokens(250_000), "250k");
        assert_eq!(tokens(1_200_000), "1.20M");
    }

    #[test]
    fn estimated_costs_are_marked() {
        let c = Cost { usd: Some(Decimal::new(12, 4)), source: CostSource::Estimated };
        assert_eq!(cost(&c), "~$0.0012");
        assert_eq!(cost(&Cost::UNKNOWN), "?");
    }

    #[test]
    fn shorten_cuts_the_middle_within_width() {
        use unicode_width::UnicodeWidthStr;
        assert_eq!(shorten("openai/gpt-4o-mini", 40), "openai/gpt-4o-mini");
        let s = shorten("meta-llama/llama-3.3-70b-instruct:free", 12);
        assert_eq!(s.width(), 12);
        assert_eq!(s, "me…-70b:free");
        assert_eq!(shorten("meta-llama/llama-3.3-70b-instruct:free", 30), "meta-llama/llama-3.3-70b…:free");
        assert_eq!(shorten("meta-llama/llama-3.3-70b-instruct:free", 20), "meta-l…-3.3-70b:free");
        assert_eq!(shorten("google/gemma-3-27b-it:free", 20), "go…/gemma-3-27b:free");
        assert_eq!(shorten("openai/gpt-4o-mini", 15), "op…/gpt-4o-mini");
        // Dropping the filler alone would hide that something went: a `…` always shows.
        assert_eq!(shorten("meta-llama/llama-3.2-3b-instruct:free", 28), "meta-llam…/llama-3.2-3b:free");
        assert_eq!(shorten("abc", 0), "");
        assert_eq!(shorten("abc", 1), "…");
        assert_eq!(shorten("日本語のモデル/名前", 7).width(), 7);
    }

    #[test]
    fn shortened_free_models_stay_distinguishable() {
        // The room: six `:free` models, all `…:free` when cut from the left.
        let ids = [
            "meta-llama/llama-3.3-70b-instruct:free",
            "meta-llama/llama-3.2-3b-instruct:free",
            "mistralai/mistral-small-3.2-24b-instruct:free",
            "google/gemma-3-27b-it:free",
            "qwen/qwen3-coder:free",
            "z-ai/glm-4.5-air:free",
        ];
        for width in [10, 12, 15, 16, 20, 28] {
            let short: std::collections::HashSet<String> = ids.iter().map(|id| shorten(id, width)).collect();
            assert_eq!(short.len(), ids.len(), "at {width}: {short:?}");
        }
    }
}
