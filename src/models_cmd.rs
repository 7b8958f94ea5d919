//! `roundtable models`: list the OpenRouter catalog with prices, filtered and sorted, as an
//! aligned table or JSON. The filter/sort/format functions are pure so tests can pin them.

use std::io::Write;
use std::time::Duration;

use jiff::Timestamp;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::config::Config;
use crate::core::catalog::cache::{read_cache, refresh};
use crate::core::catalog::{Catalog, CatalogSource, DEFAULT_TTL, ModelInfo};
use crate::core::provider::client::build_http_client;
use crate::core::provider::{ProviderConfig, ProviderKind};
use crate::paths::Paths;

/// How long the command waits for a live list before settling for the cache or the snapshot.
const LIVE_TIMEOUT: Duration = Duration::from_secs(8);

#[derive(clap::Args, Debug, Clone, Default)]
pub struct ModelsArgs {
    /// Only free models (`:free` variants and zero-priced ones).
    #[arg(long)]
    pub free: bool,
    /// Only models that support tool calling.
    #[arg(long)]
    pub tools: bool,
    /// Only models with at least this context, in tokens (`128000`, `128K`, `1M`).
    #[arg(long, value_name = "TOKENS", value_parser = parse_context)]
    pub min_context: Option<u64>,
    /// Only models whose prompt price is at most this many USD per million tokens.
    #[arg(long, value_name = "USD_PER_M", allow_negative_numbers = true, value_parser = parse_max_price)]
    pub max_price: Option<Decimal>,
    /// Sort order.
    #[arg(long, value_enum, default_value_t = SortKey::Name)]
    pub sort: SortKey,
    /// Print one JSON array with exact decimal price strings.
    #[arg(long)]
    pub json: bool,
    /// Fetch the live list even when the cache is fresh.
    #[arg(long)]
    pub refresh: bool,
    /// Case-insensitive match on id and name; every word must match (`gemini flash`).
    #[arg(value_name = "QUERY")]
    pub query: Vec<String>,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SortKey {
    /// Cheapest prompt price first (variable prices last).
    Price,
    /// Largest context first.
    Context,
    /// Alphabetical by model id.
    #[default]
    Name,
}

fn parse_context(s: &str) -> Result<u64, String> {
    let t = s.trim().to_ascii_lowercase();
    let (num, mult) = match t.strip_suffix('k') {
        Some(n) => (n, 1_000u64),
        None => match t.strip_suffix('m') {
            Some(n) => (n, 1_000_000),
            None => (t.as_str(), 1),
        },
    };
    let n: Decimal = num.trim().parse().map_err(|_| format!("'{s}' is not a token count (try 128000, 128K or 1M)"))?;
    if n.is_sign_negative() {
        return Err(format!("'{s}': a context size cannot be negative"));
    }
    n.checked_mul(Decimal::from(mult))
        .and_then(|v| u64::try_from(v.trunc()).ok())
        .ok_or_else(|| format!("'{s}' is too large"))
}

fn parse_max_price(s: &str) -> Result<Decimal, String> {
    let p: Decimal =
        s.trim().parse().map_err(|_| format!("'{s}' is not a price (USD per million prompt tokens, e.g. 0.5)"))?;
    if p.is_sign_negative() {
        return Err(format!("'{s}': a price cannot be negative"));
    }
    Ok(p)
}

/// Arguments a hand-built `ModelsArgs` could still get wrong (clap rejects these already).
pub fn validate(args: &ModelsArgs) -> Result<(), String> {
    match args.max_price {
        Some(p) if p.is_sign_negative() => Err("--max-price cannot be negative".into()),
        _ => Ok(()),
    }
}

/// Whether every whitespace-separated word of `query` occurs in the id or the name, ignoring
/// case, and also ignoring punctuation so `sonnet45` finds `claude-sonnet-4.5`.
pub fn matches_query(m: &ModelInfo, query: &str) -> bool {
    let squash = |s: &str| s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect::<String>();
    let hay = format!("{} {}", m.id, m.name).to_lowercase();
    let hay_squashed = squash(&hay);
    query.split_whitespace().all(|word| {
        let w = word.to_lowercase();
        let ws = squash(&w);
        hay.contains(&w) || (!ws.is_empty() && hay_squashed.contains(&ws))
    })
}

/// The models that pass every filter in `args`.
pub fn filter_models<'a>(models: &'a [ModelInfo], args: &ModelsArgs) -> Vec<&'a ModelInfo> {
    let query = args.query.join(" ");
    models
        .iter()
        .filter(|m| !args.free || m.is_free())
        .filter(|m| !args.tools || m.supports_tools())
        .filter(|m| args.min_context.is_none_or(|min| m.context_length.is_some_and(|c| c >= min)))
        .filter(|m| args.max_price.is_none_or(|max| m.pricing.prompt_per_million().is_some_and(|p| p <= max)))
        .filter(|m| query.trim().is_empty() || matches_query(m, &query))
        .collect()
}

/// Sort in place; ties fall back to the id so the order is stable across runs.
pub fn sort_models(models: &mut [&ModelInfo], key: SortKey) {
    let by_id = |a: &&ModelInfo, b: &&ModelInfo| a.id.to_lowercase().cmp(&b.id.to_lowercase());
    match key {
        SortKey::Name => models.sort_by(by_id),
        SortKey::Price => models.sort_by(|a, b| {
            let k = |m: &ModelInfo| (m.pricing.variable, m.pricing.prompt(), m.pricing.completion());
            k(a).cmp(&k(b)).then_with(|| by_id(a, b))
        }),
        SortKey::Context => models.sort_by(|a, b| {
            b.context_length.unwrap_or(0).cmp(&a.context_length.unwrap_or(0)).then_with(|| by_id(a, b))
        }),
    }
}

/// `128K`, `1.05M`, `2M`: decimal units as model pages use them.
pub fn format_context(tokens: Option<u64>) -> String {
    match tokens {
        None => "-".into(),
        Some(n) if n >= 1_000_000 => {
            format!("{}M", (Decimal::from(n) / Decimal::from(1_000_000u32)).round_dp(2).normalize())
        }
        Some(n) if n >= 1_000 => format!("{}K", (n + 500) / 1_000),
        Some(n) => n.to_string(),
    }
}

/// A $/M price cell: exact decimal, `free` for zero, `variable` for router prices.
pub fn format_per_million(v: Option<Decimal>) -> String {
    match v {
        None => "variable".into(),
        Some(d) if d.is_zero() => "free".into(),
        Some(d) => d.normalize().to_string(),
    }
}

/// Short remarks: deprecation, a smaller top-provider context, long-context price tiers.
pub fn notes(m: &ModelInfo) -> String {
    let mut out = Vec::new();
    if let Some(d) = &m.expiration_date {
        out.push(format!("expires {d}"));
    }
    if let (Some(top), Some(ctx)) = (m.top_provider_context_length, m.context_length)
        && top < ctx
    {
        out.push(format!("{} ctx at top provider", format_context(Some(top))));
    }
    if let Some(min) = m.pricing.overrides.iter().filter_map(|o| o.min_prompt_tokens).min() {
        out.push(format!("pricier above {}", format_context(Some(min))));
    }
    out.join("; ")
}

/// `live`, `cache from 3h ago`, `built-in snapshot from 2026-08-25`.
pub fn source_phrase(catalog: &Catalog, now: Timestamp) -> String {
    match catalog.source {
        CatalogSource::Live => "live".into(),
        CatalogSource::Cache => match catalog.age(now) {
            Some(age) => format!("cache from {}", format_age(age)),
            None => "cache (age unknown)".into(),
        },
        CatalogSource::Snapshot => match catalog.fetched_at {
            Some(t) => format!("built-in snapshot from {}", t.strftime("%Y-%m-%d")),
            None => "built-in snapshot".into(),
        },
    }
}

pub fn format_age(age: Duration) -> String {
    let s = age.as_secs();
    match s {
        0..60 => "just now".into(),
        60..3600 => format!("{}m ago", s / 60),
        3600..172_800 => format!("{}h ago", s / 3600),
        _ => format!("{}d ago", s / 86_400),
    }
}

/// The aligned table plus the footer line, in the style of `ask`'s summary table.
pub fn format_table(shown: &[&ModelInfo], total: usize, source: &str) -> String {
    let header = ["model", "context", "prompt $/M", "completion $/M", "tools", "reasoning", "notes"];
    let tick = |b: bool| if b { "✓".to_owned() } else { String::new() };
    let rows: Vec<[String; 7]> = shown
        .iter()
        .map(|m| {
            [
                m.id.clone(),
                format_context(m.context_length),
                format_per_million(m.pricing.prompt_per_million()),
                format_per_million(m.pricing.completion_per_million()),
                tick(m.supports_tools()),
                tick(m.supports_reasoning()),
                notes(m),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| -> String {
        let text = cells
            .iter()
            .enumerate()
            .map(|(i, c)| match i {
                1..=3 => format!("{c:>w$}", w = widths[i]),
                4 | 5 => format!("{c:^w$}", w = widths[i]),
                _ => format!("{c:<w$}", w = widths[i]),
            })
            .collect::<Vec<_>>()
            .join("  ");
        text.trim_end().to_owned()
    };
    let mut out = String::new();
    if shown.is_empty() {
        out.push_str("No models match.\n");
    } else {
        out.push_str(&line(&header.map(String::from)));
        out.push('\n');
        out.push_str(&widths.iter().map(|w| "─".repeat(*w)).collect::<Vec<_>>().join("  "));
        out.push('\n');
        for row in &rows {
            out.push_str(&line(row));
            out.push('\n');
        }
    }
    let count =
        if shown.len() == total { format!("{total} models") } else { format!("{} of {total} models", shown.len()) };
    out.push_str(&format!("{count} (source: {source})\n"));
    out
}

/// One JSON object per model, prices as exact decimal strings (`"-1"` kept for variable).
pub fn to_json(shown: &[&ModelInfo]) -> Value {
    let per_m = |v: Option<Decimal>| v.map(|d| d.to_string());
    Value::Array(
        shown
            .iter()
            .map(|m| {
                json!({
                    "id": m.id,
                    "name": m.name,
                    "canonical_slug": m.canonical_slug,
                    "context_length": m.context_length,
                    "top_provider_context_length": m.top_provider_context_length,
                    "max_completion_tokens": m.max_completion_tokens,
                    "pricing": m.pricing.to_value(),
                    "prompt_usd_per_million": per_m(m.pricing.prompt_per_million()),
                    "completion_usd_per_million": per_m(m.pricing.completion_per_million()),
                    "variable_price": m.pricing.variable,
                    "free": m.is_free(),
                    "tools": m.supports_tools(),
                    "reasoning": m.supports_reasoning(),
                    "input_modalities": m.input_modalities,
                    "output_modalities": m.output_modalities,
                    "expiration_date": m.expiration_date,
                })
            })
            .collect(),
    )
}

/// The OpenRouter provider to ask: the default one if it is OpenRouter, else the first such.
fn openrouter_provider(config: &Config) -> Option<(&str, &ProviderConfig)> {
    let p = &config.providers;
    p.providers
        .get_key_value(&p.default_provider)
        .filter(|(_, c)| c.kind == ProviderKind::Openrouter)
        .or_else(|| p.providers.iter().find(|(_, c)| c.kind == ProviderKind::Openrouter))
        .map(|(n, c)| (n.as_str(), c))
}

/// A fresh cache as is; otherwise a live fetch (bounded by `LIVE_TIMEOUT`), falling back to
/// the stale cache or the snapshot with a note saying which and how old.
pub async fn load_catalog(config: &Config, paths: &Paths, force_refresh: bool) -> (Catalog, Option<String>) {
    let now = Timestamp::now();
    let provider = openrouter_provider(config);
    let cache_name = provider.map_or("openrouter", |(n, _)| n);
    let cached = read_cache(&paths.cache_dir, cache_name);
    if !force_refresh && let Some(c) = cached.as_ref().filter(|c| c.is_fresh(DEFAULT_TTL, now)) {
        return (c.clone(), None);
    }
    let reason = match provider {
        None => "no OpenRouter provider is configured".to_owned(),
        Some((name, p)) => match live(config, paths, name, p).await {
            Ok(c) => return (c, None),
            Err(why) => why,
        },
    };
    let fallback = cached.unwrap_or_else(Catalog::snapshot);
    let note =
        format!("note: could not fetch the live model list ({reason}); showing {}.", source_phrase(&fallback, now));
    (fallback, Some(note))
}

async fn live(config: &Config, paths: &Paths, name: &str, p: &ProviderConfig) -> Result<Catalog, String> {
    let http = build_http_client(&config.providers.timeouts).map_err(|e| e.message)?;
    // The list is public on OpenRouter: a missing key must not stop it, so send one if we have it.
    let key = config.providers.api_key(name, p).ok().flatten();
    match tokio::time::timeout(LIVE_TIMEOUT, refresh(&http, &paths.cache_dir, name, &p.base_url, key.as_ref())).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(e.message.trim_end_matches('.').to_owned()),
        Err(_) => Err(format!("no answer within {}s", LIVE_TIMEOUT.as_secs())),
    }
}

/// Run the command; returns the process exit code (0 ok, 2 bad arguments).
pub async fn run(config: &Config, paths: &Paths, args: ModelsArgs) -> i32 {
    if let Err(msg) = validate(&args) {
        eprintln!("roundtable models: {msg}");
        return 2;
    }
    let (catalog, note) = load_catalog(config, paths, args.refresh).await;
    if let Some(note) = note {
        eprintln!("{note}");
    }
    let mut shown = filter_models(&catalog.models, &args);
    sort_models(&mut shown, args.sort);
    let text = if args.json {
        format!("{}\n", to_json(&shown))
    } else {
        format_table(&shown, catalog.models.len(), &source_phrase(&catalog, Timestamp::now()))
    };
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    0
}
