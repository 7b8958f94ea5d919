//! `roundtable usage`: requests, tokens and exact spend from the ledger, grouped by model,
//! provider or UTC day, as a table or JSON.

use std::io::Write;

use crate::core::store::{self, GroupBy, StoreError, UsageRow};
use crate::present::usd as format_usd;

/// Exit codes, as for `ask`.
const EXIT_OK: i32 = 0;
const EXIT_FAILED: i32 = 1;
const EXIT_USAGE: i32 = 2;

#[derive(clap::Args, Debug)]
pub struct UsageArgs {
    /// How far back to look: a span (`90m`, `24h`, `7d`, `2w`) or a UTC date (`2026-11-01`).
    #[arg(long, default_value = "24h", value_name = "SPAN|DATE")]
    pub since: String,
    /// How to group the requests.
    #[arg(long, value_enum, default_value_t = By::Model)]
    pub by: By,
    /// Print a JSON array of rows (costs as exact decimal strings) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Read the demo's history (the built-in simulator's) instead of the real ledger.
    #[arg(long)]
    pub demo: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum By {
    Model,
    Provider,
    Day,
}

impl From<By> for GroupBy {
    fn from(b: By) -> GroupBy {
        match b {
            By::Model => GroupBy::Model,
            By::Provider => GroupBy::Provider,
            By::Day => GroupBy::Day,
        }
    }
}

/// The start of the reporting period and how to describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Since {
    pub start_ms: i64,
    pub label: String,
}

/// Parse `--since`: `<n>m|h|d|w` before `now_ms`, or a UTC date `YYYY-MM-DD`.
pub fn parse_since(raw: &str, now_ms: i64) -> Result<Since, String> {
    let s = raw.trim();
    let bad =
        || format!("Invalid --since value '{raw}': use a span like 90m, 24h, 7d, 2w or a UTC date like 2026-11-01.");
    if let Some(unit) = s.chars().last().filter(|c| "mhdw".contains(*c)) {
        let digits = &s[..s.len() - 1];
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            let n: i64 = digits.parse().map_err(|_| bad())?;
            let unit_ms: i64 = match unit {
                'm' => 60_000,
                'h' => 3_600_000,
                'd' => 86_400_000,
                _ => 7 * 86_400_000,
            };
            let span = n.checked_mul(unit_ms).ok_or_else(bad)?;
            return Ok(Since { start_ms: now_ms.saturating_sub(span), label: format!("in the last {s}") });
        }
    }
    let date: jiff::civil::Date = s.parse().map_err(|_| bad())?;
    let start = date.to_zoned(jiff::tz::TimeZone::UTC).map_err(|_| bad())?;
    Ok(Since { start_ms: start.timestamp().as_millisecond(), label: format!("since {date} (UTC)") })
}

pub fn run(paths: &crate::paths::Paths, args: UsageArgs) -> i32 {
    let now = store::now_ms();
    let since = match parse_since(&args.since, now) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("roundtable: {e}");
            return EXIT_USAGE;
        }
    };
    let paths = if args.demo { paths.demo() } else { paths.clone() };
    let path = store::db_path(&paths.data_dir);
    let mut out = std::io::stdout().lock();
    let rows = match store::usage_summary(&path, since.start_ms, args.by.into()) {
        Ok(rows) => rows,
        Err(StoreError::Missing { .. }) => {
            if args.json {
                let _ = writeln!(out, "[]");
            } else {
                let _ = writeln!(out, "No usage recorded yet (database {} does not exist).", path.display());
            }
            return EXIT_OK;
        }
        Err(e) => {
            eprintln!("roundtable: {e}");
            return EXIT_FAILED;
        }
    };
    if args.json {
        return match serde_json::to_string_pretty(&rows) {
            Ok(s) => {
                let _ = writeln!(out, "{s}");
                EXIT_OK
            }
            Err(e) => {
                eprintln!("roundtable: could not encode the usage as JSON: {e}");
                EXIT_FAILED
            }
        };
    }
    let today_start = store::daily_window("UTC", now).map_or(now, |(start, _)| start);
    let today = match store::usage_summary(&path, today_start, GroupBy::Day) {
        Ok(r) => total(&r),
        Err(e) => {
            eprintln!("roundtable: {e}");
            return EXIT_FAILED;
        }
    };
    let _ = write!(out, "{}", render(&rows, args.by, &since, &today));
    EXIT_OK
}

fn total(rows: &[UsageRow]) -> UsageRow {
    let mut t = UsageRow { group: "total".into(), ..UsageRow::default() };
    for r in rows {
        t.add(r);
    }
    t
}

/// The human report: heading, table with a total row, today's spend and footnotes.
pub fn render(rows: &[UsageRow], by: By, since: &Since, today: &UsageRow) -> String {
    let mut s = String::new();
    let by_name = match by {
        By::Model => "model",
        By::Provider => "provider",
        By::Day => "day (UTC)",
    };
    if rows.is_empty() {
        s.push_str(&format!("No requests recorded {}.\n", since.label));
    } else {
        s.push_str(&format!("Usage {}, by {by_name}\n\n", since.label));
        let header = [by_name, "requests", "errors", "prompt tok", "completion tok", "cost (USD)"];
        let to_cells = |r: &UsageRow| -> [String; 6] {
            [
                short(&r.group, 48),
                digits(r.requests),
                digits(r.errors),
                tokens_cell(r, r.prompt_tokens),
                tokens_cell(r, r.completion_tokens),
                cost_cell(r),
            ]
        };
        let body: Vec<[String; 6]> = rows.iter().map(to_cells).collect();
        let sum = total(rows);
        let total_cells = to_cells(&sum);
        let mut widths = header.map(|h| h.chars().count());
        for row in body.iter().chain(std::iter::once(&total_cells)) {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: &[String]| -> String {
            let parts: Vec<String> = cells
                .iter()
                .enumerate()
                .map(
                    |(i, c)| if i == 0 { format!("{c:<w$}", w = widths[0]) } else { format!("{c:>w$}", w = widths[i]) },
                )
                .collect();
            parts.join("  ").trim_end().to_owned()
        };
        let rule = widths.iter().map(|w| "─".repeat(*w)).collect::<Vec<_>>().join("  ");
        s.push_str(&line(&header.map(String::from)));
        s.push('\n');
        s.push_str(&rule);
        s.push('\n');
        for row in &body {
            s.push_str(&line(row));
            s.push('\n');
        }
        s.push_str(&rule);
        s.push('\n');
        s.push_str(&line(&total_cells));
        s.push('\n');
        if sum.estimated {
            s.push_str(
                "~ includes costs estimated from model prices (catalog or config); the provider did not report them.\n",
            );
        }
        if sum.unknown_cost > 0 {
            s.push_str(&format!(
                "+? {} request{} with unknown cost, not included in the sums.\n",
                sum.unknown_cost,
                if sum.unknown_cost == 1 { "" } else { "s" }
            ));
        }
        if sum.unknown_tokens > 0 {
            s.push_str(&format!(
                "+? {} request{} whose token counts the server did not report, not included in the sums.\n",
                sum.unknown_tokens,
                if sum.unknown_tokens == 1 { "" } else { "s" }
            ));
        }
        s.push_str(&extras_lines(&sum));
    }
    s.push_str(&format!("\nToday's spend (UTC): {}\n", cost_cell(today)));
    s
}

/// Web searches, attachments and prompt caching over the period (from `ledger_extras`), one line
/// each when there were any. Search costs and cache savings are priced from the catalog (the
/// provider itemises neither); attachment tokens are the estimate made before sending.
fn extras_lines(t: &UsageRow) -> String {
    let plural = |n: u64, one: &str, many: &str| format!("{} {}", digits(n), if n == 1 { one } else { many });
    let mut s = String::new();
    if t.web_search_requests > 0 {
        s.push_str(&format!(
            "Web search: {}, ~{} (included in the cost)\n",
            plural(t.web_search_requests, "search", "searches"),
            format_usd(t.web_search_cost_usd)
        ));
    }
    if t.attachments > 0 {
        s.push_str(&format!(
            "Attachments: {}, {}, ~{} prompt tokens (estimated before sending)\n",
            plural(t.attachments, "file", "files"),
            crate::present::bytes(t.attachment_bytes),
            digits(t.attachment_tokens)
        ));
    }
    if t.cached_tokens > 0 {
        let saved = if t.cache_discount_usd.is_zero() {
            String::new()
        } else {
            format!(", saving ~{}", format_usd(t.cache_discount_usd))
        };
        s.push_str(&format!(
            "Prompt cache: {} read from the cache{saved}\n",
            plural(t.cached_tokens, "token", "tokens")
        ));
    }
    s
}

/// The cost of a group: `~` when part of it is estimated, `+?` when some requests have no
/// known cost, `unknown` when none has.
fn cost_cell(r: &UsageRow) -> String {
    if r.requests > 0 && r.unknown_cost == r.requests {
        return "unknown".into();
    }
    let mut s = String::new();
    if r.estimated {
        s.push('~');
    }
    s.push_str(&format_usd(r.cost_usd));
    if r.unknown_cost > 0 {
        s.push_str(" +?");
    }
    s
}

/// A token sum: `unknown` when no request of the group reported counts, `+?` when some did not.
fn tokens_cell(r: &UsageRow, n: u64) -> String {
    if r.requests > 0 && r.unknown_tokens == r.requests {
        return "unknown".into();
    }
    if r.unknown_tokens > 0 { format!("{} +?", digits(n)) } else { digits(n) }
}

/// Thousands separated, for reading token counts at a glance.
fn digits(n: u64) -> String {
    let raw = n.to_string();
    let mut out = String::with_capacity(raw.len() + raw.len() / 3);
    for (i, ch) in raw.chars().enumerate() {
        if i > 0 && (raw.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn short(s: &str, max: usize) -> String {
    if s.chars().count() <= max { s.to_owned() } else { s.chars().take(max - 1).collect::<String>() + "…" }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_790_000_000_000;

    #[test]
    fn since_spans_and_dates() {
        assert_eq!(parse_since("24h", NOW).map(|s| s.start_ms), Ok(NOW - 24 * 3_600_000));
        assert_eq!(parse_since("90m", NOW).map(|s| s.start_ms), Ok(NOW - 90 * 60_000));
        assert_eq!(parse_since("7d", NOW).map(|s| s.start_ms), Ok(NOW - 7 * 86_400_000));
        let d = parse_since("2026-11-01", NOW).map(|s| s.start_ms);
        assert_eq!(d, Ok(1_793_491_200_000));
        for bad in ["", "h", "24", "24x", "-3d", "2026-13-01", "yesterday", "99999999999999999999d"] {
            let err = parse_since(bad, NOW).unwrap_err();
            assert!(err.contains("Invalid --since"), "{bad}: {err}");
        }
    }

    #[test]
    fn table_marks_estimated_and_unknown() {
        let rows = vec![
            UsageRow {
                group: "openai/gpt-4o".into(),
                requests: 3,
                prompt_tokens: 12_345,
                completion_tokens: 678,
                cost_usd: "0.0123".parse().unwrap(),
                ..UsageRow::default()
            },
            UsageRow {
                group: "gemini-2.5-flash".into(),
                requests: 2,
                errors: 1,
                cost_usd: "0.00004".parse().unwrap(),
                estimated: true,
                unknown_cost: 1,
                ..UsageRow::default()
            },
            UsageRow { group: "local".into(), requests: 1, unknown_cost: 1, ..UsageRow::default() },
        ];
        let since = Since { start_ms: 0, label: "in the last 24h".into() };
        let today = total(&rows);
        let out = render(&rows, By::Model, &since, &today);
        assert!(out.contains("12,345"), "{out}");
        assert!(out.contains("$0.0123"), "{out}");
        assert!(out.contains("~$0.00004 +?"), "{out}");
        assert!(out.contains("unknown"), "{out}");
        assert!(out.contains("~$0.0123 +?"), "total row: {out}");
        assert!(out.contains("Today's spend (UTC): ~$0.0123 +?"), "{out}");
        assert_eq!(today.cost_usd, "0.01234".parse::<rust_decimal::Decimal>().unwrap());
    }
}
