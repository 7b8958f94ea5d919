//! `roundtable quota`: every quota bucket's used / limit / remaining and reset time, with where
//! each figure came from, plus the OpenRouter account's credits and key limit when known.

use std::io::Write;

use serde_json::json;

use crate::config::Config;
use crate::core::account;
use crate::core::provider::ProviderKind;
use crate::core::provider::client::build_http_client;
use crate::core::quota::{BucketStatus, FigureSource, format_duration_ms};
use crate::paths::Paths;
use crate::present::usd as format_usd;

#[derive(clap::Args, Debug)]
pub struct QuotaArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Show the demo's counts (the built-in simulator's) instead of the real account's.
    #[arg(long)]
    pub demo: bool,
}

pub async fn run(config: &Config, paths: &Paths, args: QuotaArgs) -> i32 {
    if args.demo {
        return run_demo(config, paths, args.json).await;
    }
    let runtime = crate::runtime::build(config, paths);
    for warning in &runtime.warnings {
        eprintln!("roundtable: {warning}");
    }
    // The server's own count of today's free requests, when a key is set.
    let mut account_info = None;
    let mut note = None;
    if let Some((name, provider)) = config.providers.providers.iter().find(|(_, p)| p.kind == ProviderKind::Openrouter)
    {
        match config.providers.api_key(name, provider) {
            Ok(Some(key)) => match build_http_client(&config.providers.timeouts) {
                Ok(http) => match account::fetch(&http, &provider.base_url, &key, name).await {
                    Ok(info) => {
                        if let (Some(used), Some(limit)) = (info.free_daily_used, info.free_daily_limit) {
                            runtime.limiter.learn_free_daily(used, limit);
                        }
                        account_info = Some(info);
                    }
                    Err(e) => note = Some(format!("Could not read the account from {name}: {e} Showing local counts.")),
                },
                Err(e) => note = Some(e.to_string()),
            },
            _ => {
                note = Some(format!(
                    "No {} set: showing local counts and configured limits only.",
                    provider.api_key_env.as_deref().unwrap_or("API key")
                ));
            }
        }
    }
    let limiter = runtime.limiter.clone();
    let status =
        tokio::task::spawn_blocking(move || limiter.status(&limiter.configured_buckets())).await.unwrap_or_default();
    let mut out = std::io::stdout().lock();
    if args.json {
        let v = json!({"buckets": status, "account": account_info});
        let _ = writeln!(out, "{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return 0;
    }
    let _ = write!(out, "{}", render(&status, runtime.limiter.now_ms()));
    if let Some(info) = &account_info {
        let _ = writeln!(out);
        if let Some(c) = info.credits_remaining {
            let _ = writeln!(out, "OpenRouter credits remaining: {}", format_usd(c));
        }
        match (info.key_limit, info.key_limit_remaining) {
            (Some(limit), Some(left)) => {
                let reset = info.key_limit_reset.as_deref().map(|r| format!(", resets {r}")).unwrap_or_default();
                let _ = writeln!(out, "Key spend limit: {} of {} left{reset}", format_usd(left), format_usd(limit));
            }
            _ => {
                let _ = writeln!(out, "Key spend limit: none");
            }
        }
        if let Some(today) = info.usage_today {
            let _ = writeln!(out, "Spent today with this key (UTC): {}", format_usd(today));
        }
    }
    if let Some(n) = note {
        let _ = writeln!(out, "\n{n}");
    }
    0
}

/// `quota --demo`: the demo's own counts, kept in its data directory; no account to ask.
async fn run_demo(config: &Config, paths: &Paths, json: bool) -> i32 {
    let runtime = crate::runtime::build(config, &paths.demo());
    for warning in &runtime.warnings {
        eprintln!("roundtable: {warning}");
    }
    let limiter = runtime.limiter.clone();
    let status =
        tokio::task::spawn_blocking(move || limiter.status(&limiter.configured_buckets())).await.unwrap_or_default();
    let mut out = std::io::stdout().lock();
    if json {
        let v = json!({"buckets": status, "account": null, "demo": true});
        let _ = writeln!(out, "{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        let _ = write!(out, "{}", render(&status, runtime.limiter.now_ms()));
        let _ = writeln!(out, "\nDemo mode: the simulator's free-tier counts from the demo's own history.");
    }
    0
}

fn source(s: FigureSource) -> &'static str {
    match s {
        FigureSource::Config => "config",
        FigureSource::Server => "server",
        FigureSource::RateLimitResponse => "429",
        FigureSource::Local => "local",
    }
}

/// The bucket table, one row per (bucket, window).
pub fn render(status: &[BucketStatus], now_ms: i64) -> String {
    let header = ["bucket", "window", "used", "limit", "remaining", "resets", "source (used/limit)"];
    let rows: Vec<[String; 7]> = status
        .iter()
        .map(|b| {
            let limit = b.limit.map_or("∞".into(), |l| l.to_string());
            let remaining = b.remaining.map_or("∞".into(), |r| r.to_string());
            let resets = match b.resets_at_ms {
                Some(at) if b.window == "day" => {
                    let when = jiff::Timestamp::from_millisecond(at)
                        .map(|t| t.strftime("%H:%M UTC").to_string())
                        .unwrap_or_default();
                    format!("{when} (in {})", format_duration_ms(at - now_ms))
                }
                // A rolling window frees its next slot when its oldest request leaves it.
                Some(at) if at > now_ms => format!("in {}", format_duration_ms(at - now_ms)),
                _ if b.remaining.is_none_or(|r| r > 0) => "now".into(),
                _ => "-".into(),
            };
            [
                b.bucket.clone(),
                format!("per {}", b.window),
                b.used.to_string(),
                limit,
                remaining,
                resets,
                format!("{}/{}", source(b.used_source), source(b.limit_source)),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let fmt = |cells: &[String]| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if (2..=4).contains(&i) { format!("{c:>w$}", w = widths[i]) } else { format!("{c:<w$}", w = widths[i]) }
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let mut out = String::new();
    out.push_str(&fmt(&header.map(String::from)));
    out.push('\n');
    out.push_str(&widths.iter().map(|w| "─".repeat(*w)).collect::<Vec<_>>().join("  "));
    out.push('\n');
    for row in &rows {
        out.push_str(&fmt(row));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minute(used: u32, resets_at_ms: Option<i64>) -> BucketStatus {
        BucketStatus {
            bucket: "openrouter:free".into(),
            window: "minute",
            used,
            limit: Some(20),
            remaining: Some(20 - used),
            resets_at_ms,
            used_source: FigureSource::Local,
            limit_source: FigureSource::Config,
        }
    }

    #[test]
    fn a_full_minute_window_shows_when_its_next_slot_frees() {
        let table = render(&[minute(20, Some(18_000))], 0);
        assert!(table.contains("in 18s"), "{table}");
        let table = render(&[minute(0, None)], 0);
        assert!(table.lines().nth(2).is_some_and(|row| row.contains(" now ")), "{table}");
    }
}
