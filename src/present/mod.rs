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

/// "42 tok/s".
pub fn rate(tps: f64) -> String {
    if tps >= 100.0 { format!("{tps:.0} tok/s") } else { format!("{tps:.1} tok/s") }
}

/// Keep the last `max` display columns' worth of a model id readable: "…/gpt-4o-mini".
pub fn shorten(s: &str, max: usize) -> String {
    let width = unicode_width::UnicodeWidthStr::width(s);
    if width <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    // Keep the tail: model ids differ at the end more often than at the vendor prefix.
    let mut out: Vec<char> = Vec::new();
    let mut used = 1; // the ellipsis
    for c in s.chars().rev() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w > max {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out.into_iter().rev().collect()
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
    fn shorten_keeps_the_tail_within_width() {
        assert_eq!(shorten("openai/gpt-4o-mini", 40), "openai/gpt-4o-mini");
        let s = shorten("meta-llama/llama-3.3-70b-instruct:free", 12);
        assert!(unicode_width::UnicodeWidthStr::width(s.as_str()) <= 12);
        assert!(s.starts_with('…') && s.ends_with(":free"));
        assert_eq!(shorten("abc", 0), "");
    }
}
