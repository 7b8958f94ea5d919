//! Catalog, prices and cost: snapshot parsing, the §10.2 cost formula against the worked examples
//! and fixtures, price tables, the estimator, the disk cache, and the `models` command's pure parts.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use jiff::Timestamp;
use roundtable::core::catalog::cache::{cache_file, load_for_start_from, read_cache, write_cache};
use roundtable::core::catalog::{
    Catalog, CatalogEstimator, CatalogSource, DEFAULT_TTL, PriceTable, Pricing, cost, estimate_prompt_cost,
    estimate_prompt_tokens, load_for_start, parse_model_ids, refresh, strip_date_suffix,
};
use roundtable::core::protocol::{ChatMessage, Usage};
use roundtable::core::provider::{ApiKey, ProviderKind};
use roundtable::core::router::CostEstimator;
use roundtable::models_cmd::{
    ModelsArgs, SortKey, filter_models, format_age, format_context, format_per_million, format_table, matches_query,
    sort_models, source_phrase, to_json,
};
use rust_decimal::Decimal;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{name}")).unwrap()
}

fn usage(prompt: u64, cached: u64, completion: u64) -> Usage {
    Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
        cached_tokens: cached,
        ..Usage::default()
    }
}

fn price_of(c: &Catalog, id: &str) -> Pricing {
    c.get(id).unwrap_or_else(|| panic!("{id} in catalog")).pricing.clone()
}

// ---------- parsing ----------

#[test]
fn snapshot_parses_every_entry() {
    let c = Catalog::snapshot();
    assert_eq!(c.source, CatalogSource::Snapshot);
    assert_eq!(c.models.len(), 23);
    assert_eq!(c.skipped, 0);
    assert_eq!(c.ids().filter(|id| id.ends_with(":free")).count(), 9);
    // The nine `:free` variants plus the zero-priced `openrouter/free` router.
    assert_eq!(c.models.iter().filter(|m| m.is_free()).count(), 10);
    for id in ["deepseek/deepseek-r1-0528:free", "meta-llama/llama-3.2-3b-instruct:free", "google/gemma-3-27b-it:free"]
    {
        assert!(!c.get(id).unwrap().supports_tools(), "{id}");
    }
    assert!(c.get("openai/gpt-4o-mini").unwrap().supports_tools());
    assert!(c.get("deepseek/deepseek-r1-0528:free").unwrap().supports_reasoning());
    assert!(!c.get("openai/gpt-4o-mini").unwrap().supports_reasoning());
    // `\u003e` in the raw JSON decodes to `>`.
    let free_router = c.get("openrouter/free").unwrap();
    assert_eq!(free_router.modality.as_deref(), Some("text+image->text"));
    assert!(c.models.iter().all(|m| m.modality.as_deref().is_none_or(|s| s.contains("->"))));
    let llama = c.get("meta-llama/llama-3.3-70b-instruct:free").unwrap();
    assert_eq!((llama.context_length, llama.top_provider_context_length), (Some(131072), Some(65536)));
    assert_eq!(c.get("google/gemini-2.0-flash-001").unwrap().expiration_date.as_deref(), Some("2026-12-09"));
    assert_eq!(c.get("qwen/qwen3-coder:free").unwrap().canonical_slug, "qwen/qwen3-coder-480b-a35b-07-25");
    assert_eq!(c.fetched_at.unwrap().to_string(), "2026-08-25T00:00:00Z");
}

/// The demo prices, estimates and tool support of its own models from the shipped catalog.
#[test]
fn the_demo_uses_only_catalogued_models() {
    let c = Catalog::snapshot();
    for model in roundtable::ui::launch::DEMO_MODELS {
        let info = c.get(model).unwrap_or_else(|| panic!("{model} is not in assets/catalog-snapshot.json"));
        assert!(info.pricing.prompt_per_million().is_some(), "{model} has no price");
    }
}

#[test]
fn fixture_and_embedded_snapshot_are_the_same_list() {
    let c = Catalog::parse(&fixture("models-sample.json")).unwrap();
    assert_eq!(c.models, Catalog::snapshot().models);
}

#[test]
fn prices_are_exact_decimals_and_minus_one_is_variable() {
    let c = Catalog::snapshot();
    let mini = price_of(&c, "openai/gpt-4o-mini");
    assert_eq!(mini.prompt().to_string(), "0.00000015");
    assert_eq!(mini.prompt_per_million(), Some(d("0.15")));
    assert_eq!(mini.rates.input_cache_read, Some(d("0.000000075")));
    assert!(!mini.variable);
    let auto = c.get("openrouter/auto").unwrap();
    assert!(auto.pricing.variable);
    assert!(!auto.is_free());
    assert_eq!(auto.pricing.prompt_per_million(), None);
    assert_eq!(cost(&auto.pricing, &usage(100, 0, 100)), None);
    assert_eq!(auto.pricing.to_value()["prompt"], "-1");
    let sonnet = price_of(&c, "anthropic/claude-sonnet-4.5");
    assert_eq!(sonnet.overrides.len(), 1);
    assert_eq!(sonnet.overrides[0].min_prompt_tokens, Some(200_000));
    assert_eq!(sonnet.rates.input_cache_write_1h, Some(d("0.000006")));
}

#[test]
fn tolerant_of_unknown_null_and_missing_fields_and_skips_bad_entries() {
    let body = br#"{"data":[
        {"id":"a/ok","pricing":{"prompt":"0.000001","completion":"0.000002","brand_new_key":"7"},"whatever":{"x":1},
         "context_length":null,"architecture":null,"top_provider":null,"supported_parameters":null},
        {"id":"a/numbers","pricing":{"prompt":1e-6,"completion":0.000002,"discount":0}},
        {"id":"a/no-completion","pricing":{"prompt":"0.000001"}},
        {"id":"a/garbage-price","pricing":{"prompt":"cheap","completion":"0"}},
        {"id":42,"pricing":{"prompt":"0","completion":"0"}},
        {"pricing":{"prompt":"0","completion":"0"}},
        "not an object"
    ]}"#;
    let c = Catalog::parse(body).unwrap();
    assert_eq!(c.ids().collect::<Vec<_>>(), ["a/ok", "a/numbers"]);
    assert_eq!(c.skipped, 5);
    let ok = c.get("a/ok").unwrap();
    assert_eq!((ok.name.as_str(), ok.canonical_slug.as_str(), ok.context_length), ("a/ok", "a/ok", None));
    assert_eq!(c.get("a/numbers").unwrap().pricing.prompt(), d("0.000001"));
    assert!(Catalog::parse(b"<html>").is_err());
    assert!(Catalog::parse(br#"{"error":{"code":500}}"#).is_err());
}

#[test]
fn model_ids_of_other_backends() {
    let body = br#"{"object":"list","data":[{"id":"llama3.2:3b","object":"model","owned_by":"library"},
        {"id":"models/gemini-2.5-flash","object":"model"},{"object":"model"},{"id":"llama3.2:3b"}]}"#;
    assert_eq!(parse_model_ids(body).unwrap(), ["gemini-2.5-flash", "llama3.2:3b"]);
    assert!(parse_model_ids(b"nope").is_err());
}

#[test]
fn lookup_resolves_dated_permaslugs_and_dynamic_variants() {
    let c = Catalog::snapshot();
    assert_eq!(c.get("openai/gpt-4o-mini-2024-07-18").unwrap().id, "openai/gpt-4o-mini");
    assert_eq!(c.get("anthropic/claude-haiku-4.5-20251001").unwrap().id, "anthropic/claude-haiku-4.5");
    assert_eq!(c.get("qwen/qwen3-coder-480b-a35b-07-25").unwrap().id, "qwen/qwen3-coder:free");
    assert_eq!(c.get("openai/gpt-4o-mini:nitro").unwrap().id, "openai/gpt-4o-mini");
    // The slug of both the paid and the :free entry resolves to the paid one, routed under it.
    assert_eq!(c.get("openai/gpt-oss-120b").unwrap().id, "openai/gpt-oss-120b");
    assert!(c.get("openai/gpt-9").is_none());
    assert!(c.get("moonshotai/kimi-k2").is_none(), "short numeric suffixes are part of ids");

    let body = br#"{"data":[
        {"id":"qwen/qwen3.5-35b-a3b","canonical_slug":"qwen/qwen3.5-35b-a3b-20260224","pricing":{"prompt":"0.0000001","completion":"0.0000004"}},
        {"id":"x/m:free","canonical_slug":"x/m-base","pricing":{"prompt":"0","completion":"0"}},
        {"id":"x/m:extended","canonical_slug":"x/m-base","pricing":{"prompt":"0.000001","completion":"0.000002"}}
    ]}"#;
    let c = Catalog::parse(body).unwrap();
    assert_eq!(c.get("qwen/qwen3.5-35b-a3b-20260224").unwrap().id, "qwen/qwen3.5-35b-a3b");
    assert!(c.get("x/m-base").is_none(), "ambiguous slug with different prices");

    assert_eq!(strip_date_suffix("a/b-2025-04-14"), Some("a/b"));
    assert_eq!(strip_date_suffix("a/b-20250414"), Some("a/b"));
    assert_eq!(strip_date_suffix("a/b-0905"), None);
    assert_eq!(strip_date_suffix("ünïcödé-é"), None);
}

// ---------- cost ----------

#[test]
fn worked_example_gpt_4o_mini() {
    let c = Catalog::snapshot();
    let got = cost(&price_of(&c, "openai/gpt-4o-mini"), &usage(28, 0, 12)).unwrap();
    assert_eq!(got.to_string(), "0.0000114");
}

#[test]
fn worked_caching_example_claude_sonnet() {
    let u = usage(12_000, 10_000, 800);
    let c = Catalog::snapshot();
    assert_eq!(cost(&price_of(&c, "anthropic/claude-sonnet-4.5"), &u).unwrap().to_string(), "0.021");
    // The §10.2 numbers by hand, independent of the snapshot.
    let mut p = Pricing::per_token(d("0.000003"), d("0.000015"));
    p.rates.input_cache_read = Some(d("0.0000003"));
    assert_eq!(cost(&p, &u).unwrap().to_string(), "0.021");
    // Without a cache-read price the cached tokens fall back to the prompt price.
    let plain = Pricing::per_token(d("0.000003"), d("0.000015"));
    assert_eq!(cost(&plain, &u).unwrap(), d("0.048"));
}

/// The usage object of the stream's usage chunk and its reported `cost`.
fn fixture_usage(name: &str) -> (Usage, Decimal) {
    let text = String::from_utf8(fixture(name)).unwrap();
    let u = text
        .lines()
        .rev()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|v| v.get("usage").filter(|u| !u.is_null()).cloned())
        .unwrap();
    let n = |p: &str| u.pointer(p).and_then(|v| v.as_u64()).unwrap_or(0);
    let usage = Usage {
        prompt_tokens: n("/prompt_tokens"),
        completion_tokens: n("/completion_tokens"),
        total_tokens: n("/total_tokens"),
        cached_tokens: n("/prompt_tokens_details/cached_tokens"),
        cache_write_tokens: n("/prompt_tokens_details/cache_write_tokens"),
        ..Usage::default()
    };
    let text = u["cost"].to_string();
    let reported = if text.contains('e') { Decimal::from_scientific(&text) } else { Decimal::from_str(&text) }.unwrap();
    (usage, reported)
}

#[test]
fn stream_fixture_costs_to_the_last_digit() {
    let c = Catalog::snapshot();
    let (u, reported) = fixture_usage("openrouter-stream-basic.sse");
    assert_eq!((u.prompt_tokens, u.completion_tokens), (12, 9));
    let got = cost(&price_of(&c, "openai/gpt-4o-mini"), &u).unwrap();
    assert_eq!(got.to_string(), "0.0000072");
    assert_eq!(got, reported);

    let (u, reported) = fixture_usage("openrouter-stream-with-usage-and-keepalive.sse");
    assert_eq!((u.prompt_tokens, u.cached_tokens, u.completion_tokens), (2100, 1800, 40));
    let got = cost(&price_of(&c, "anthropic/claude-haiku-4.5"), &u).unwrap();
    assert_eq!(got.to_string(), "0.00068");
    assert_eq!(got, reported);
}

#[test]
fn long_context_override_applies_only_above_the_threshold() {
    let p = price_of(&Catalog::snapshot(), "anthropic/claude-sonnet-4.5");
    // At exactly 200K the base prices hold: 200000×3e-6 + 1000×15e-6.
    assert_eq!(cost(&p, &usage(200_000, 0, 1000)).unwrap(), d("0.615"));
    // Above: 250000×6e-6 + 1000×22.5e-6, the output price switches too.
    assert_eq!(cost(&p, &usage(250_000, 0, 1000)).unwrap(), d("1.5225"));
    // Cached reads switch to the tier's own cache price: 50000×6e-6 + 200000×0.6e-6.
    assert_eq!(cost(&p, &usage(250_000, 200_000, 0)).unwrap(), d("0.42"));
    // grok-4-fast's tier has no cache-read key: the base cache price is inherited.
    let g = price_of(&Catalog::snapshot(), "x-ai/grok-4-fast");
    assert_eq!(cost(&g, &usage(130_000, 100_000, 0)).unwrap(), d("0.017"));
    // Pre-send estimate uses the tier too.
    assert_eq!(estimate_prompt_cost(&p, 250_000), Some(d("1.5")));
    assert_eq!(estimate_prompt_cost(&p, 1000), Some(d("0.003")));
}

#[test]
fn later_overrides_win_per_key_and_timed_tiers_are_ignored() {
    let v = serde_json::json!({"prompt":"1","completion":"2","overrides":[
        {"min_prompt_tokens":10,"prompt":"3","completion":"4"},
        {"min_prompt_tokens":20,"prompt":"5"},
        {"utc_start":"0100","utc_end":"0700","prompt":"0","completion":"0"}]});
    let p = Pricing::from_value(&v).unwrap();
    assert_eq!(p.overrides[2].utc_start.as_deref(), Some("0100"));
    assert_eq!(cost(&p, &usage(10, 0, 1)).unwrap(), d("12"));
    assert_eq!(cost(&p, &usage(11, 0, 1)).unwrap(), d("37"));
    assert_eq!(cost(&p, &usage(21, 0, 1)).unwrap(), d("109"));
}

#[test]
fn request_fee_cache_writes_reasoning_hidden_tokens_and_discount() {
    let mut p = Pricing::per_token(d("0.000001"), d("0.000002"));
    p.rates.request = Some(d("0.005"));
    p.rates.input_cache_write = Some(d("0.00000125"));
    let u = Usage { prompt_tokens: 1000, cache_write_tokens: 400, completion_tokens: 100, ..Usage::default() };
    // 600×1e-6 + 400×1.25e-6 + 100×2e-6 + 0.005
    assert_eq!(cost(&p, &u).unwrap(), d("0.0063"));
    p.discount = Some(d("0.01"));
    assert_eq!(cost(&p, &u).unwrap(), d("0.006237"));

    let mut r = Pricing::per_token(d("0"), d("0.000002"));
    let u = Usage { completion_tokens: 100, reasoning_tokens: 60, ..Usage::default() };
    r.rates.internal_reasoning = Some(d("0"));
    assert_eq!(cost(&r, &u).unwrap(), d("0.0002"), "zero reasoning price adds nothing");
    r.rates.internal_reasoning = Some(d("0.000001"));
    assert_eq!(cost(&r, &u).unwrap(), d("0.00026"));

    // Gemini compat fixture: 9 prompt, 31 completion, total 412 → 372 hidden thinking tokens.
    let g = Pricing::per_token(d("0.0000003"), d("0.0000025"));
    let u =
        Usage { prompt_tokens: 9, completion_tokens: 31, total_tokens: 412, hidden_tokens: 372, ..Usage::default() };
    assert_eq!(cost(&g, &u).unwrap(), d("0.0010102"));

    let huge = Usage { prompt_tokens: u64::MAX, completion_tokens: u64::MAX, ..Usage::default() };
    let _ = cost(&Pricing::per_token(Decimal::MAX, Decimal::MAX), &huge); // no panic
}

#[test]
fn prompt_token_estimate_is_a_documented_heuristic() {
    assert_eq!(estimate_prompt_tokens(&[]), 3);
    assert_eq!(estimate_prompt_tokens(&[ChatMessage::user("Hello world!")]), 3 + 4 + 3);
    assert_eq!(estimate_prompt_tokens(&[ChatMessage::user("你好世界")]), 3 + 4 + 4);
    let two = [ChatMessage::system("Be brief."), ChatMessage::user("x".repeat(4000))];
    assert_eq!(estimate_prompt_tokens(&two), 3 + 4 + 3 + 4 + 1000);
}

// ---------- price tables and estimator ----------

const PRICES_TOML: &str = r#"
[prices."gemini:gemini-2.5-flash"]
prompt = "0.0000003"
completion = "0.0000025"

[prices."gemini:gemini-2.5-pro"]
prompt = "0.00000125"
completion = "0.00001"
overrides = [{ min_prompt_tokens = 200000, prompt = "0.0000025", completion = "0.000015" }]

[prices."openai:gpt-4o-mini"]
prompt = "0.00000015"
completion = "0.0000006"
input_cache_read = "0.000000075"

[prices."ollama:*"]
prompt = "0"
completion = "0"
"#;

#[test]
fn price_table_from_config_toml() {
    let table: toml::Table = PRICES_TOML.parse().unwrap();
    let prices = table["prices"].as_table().unwrap();
    let t = PriceTable::from_toml(prices).unwrap();
    #[derive(serde::Deserialize)]
    struct FileConfig {
        prices: PriceTable,
    }
    let via_serde: FileConfig = toml::from_str(PRICES_TOML).unwrap();
    assert_eq!(via_serde.prices, t);
    // The config loader deserializes from a merged `toml::Value`, a different deserializer.
    let via_value: FileConfig = toml::Value::Table(table.clone()).try_into().unwrap();
    assert_eq!(via_value.prices, t);

    assert_eq!(t.lookup("gemini", "models/gemini-2.5-flash").unwrap().prompt(), d("0.0000003"));
    assert_eq!(t.lookup("openai", "gpt-4o-mini-2024-07-18").unwrap().completion(), d("0.0000006"));
    assert!(t.lookup("ollama", "anything:7b").unwrap().is_zero());
    assert!(t.lookup("openai", "gpt-9").is_none());
    assert_eq!(t.lookup("gemini", "gemini-2.5-pro").unwrap().overrides[0].min_prompt_tokens, Some(200_000));

    let bad: toml::Table = "[x]\nprompt = \"lots\"\ncompletion = \"0\"".parse().unwrap();
    let err = PriceTable::from_toml(&bad).unwrap_err();
    assert!(err.contains("prices.\"x\"") && err.contains("lots"), "{err}");
    let neg: toml::Table = "[x]\nprompt = \"-1\"\ncompletion = \"0\"".parse().unwrap();
    assert!(PriceTable::from_toml(&neg).is_err());
}

fn estimator() -> CatalogEstimator {
    let via: toml::Table = PRICES_TOML.parse().unwrap();
    let prices = PriceTable::from_toml(via["prices"].as_table().unwrap()).unwrap();
    let kinds = BTreeMap::from([
        ("openrouter".to_owned(), ProviderKind::Openrouter),
        ("gemini".to_owned(), ProviderKind::Gemini),
        ("openai".to_owned(), ProviderKind::Openai),
        ("ollama".to_owned(), ProviderKind::OpenaiCompatible),
        ("vllm".to_owned(), ProviderKind::OpenaiCompatible),
    ]);
    CatalogEstimator::with_kinds(Catalog::snapshot(), prices, kinds)
}

#[test]
fn estimator_prices_by_provider_kind() {
    let e = estimator();
    let u = usage(28, 0, 12);
    assert_eq!(e.estimate("openrouter", "openai/gpt-4o-mini", &u), Some(d("0.0000114")));
    assert_eq!(e.estimate("openrouter", "openai/gpt-4o-mini-2024-07-18", &u), Some(d("0.0000114")));
    assert_eq!(e.estimate("openrouter", "openrouter/auto", &u), None);
    assert_eq!(e.estimate("openrouter", "unknown/new-model:free", &u), Some(Decimal::ZERO));
    assert_eq!(e.estimate("openrouter", "unknown/new-model", &u), None);
    assert_eq!(e.estimate("openai", "gpt-4o-mini", &u), Some(d("0.0000114")));
    let hidden =
        Usage { prompt_tokens: 9, completion_tokens: 31, total_tokens: 412, hidden_tokens: 372, ..Usage::default() };
    assert_eq!(e.estimate("gemini", "gemini-2.5-flash", &hidden), Some(d("0.0010102")));
    assert_eq!(e.estimate("ollama", "llama3.2:3b", &u), Some(Decimal::ZERO));
    assert_eq!(e.estimate("vllm", "my-model", &u), None, "local but not configured as free");
    assert_eq!(e.estimate("nope", "openai/gpt-4o-mini", &u), None);
}

#[test]
fn estimator_clones_share_catalog_updates() {
    let e = estimator();
    let shared = e.clone();
    e.set_catalog(Catalog::empty(CatalogSource::Live));
    assert_eq!(shared.estimate("openrouter", "openai/gpt-4o-mini", &usage(1, 0, 1)), None);
    shared.set_catalog(Catalog::snapshot());
    assert!(e.model("openai/gpt-4o-mini").is_some());
    assert!(format!("{e:?}").contains("models: 23"));
}

// ---------- cache ----------

fn set_age(path: &std::path::Path, age: Duration) {
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - age).unwrap();
}

#[test]
fn cache_fresh_stale_corrupt_and_snapshot_fallback() {
    let dir = tempfile::tempdir().unwrap();
    let now = Timestamp::now();
    // Nothing cached: the snapshot, never fresh.
    let c = load_for_start(dir.path());
    assert_eq!(c.source, CatalogSource::Snapshot);
    assert!(!c.is_fresh(DEFAULT_TTL, now));

    let path = write_cache(dir.path(), "openrouter", &fixture("models-sample.json")).unwrap();
    assert_eq!(path, cache_file(dir.path(), "openrouter"));
    assert!(path.ends_with("catalog-openrouter.json"));
    // Half an hour past 3 h: `now` was taken before the file's time was set, so exactly 3 h
    // would read "2h ago" whenever a second ticks in between.
    set_age(&path, Duration::from_secs(3 * 3600 + 1800));
    let c = load_for_start(dir.path());
    assert_eq!((c.source, c.models.len()), (CatalogSource::Cache, 23));
    assert!(c.is_fresh(DEFAULT_TTL, now));
    assert_eq!(source_phrase(&c, now), "cache from 3h ago");

    set_age(&path, Duration::from_secs(25 * 3600));
    let c = load_for_start(dir.path());
    assert_eq!(c.source, CatalogSource::Cache, "stale cache still beats the snapshot at start");
    assert!(!c.is_fresh(DEFAULT_TTL, now));

    for garbage in [&b"{\"data\": [trunc"[..], b"", b"{\"data\":[]}", &[0xff, 0xfe, 0x00]] {
        std::fs::write(&path, garbage).unwrap();
        assert!(read_cache(dir.path(), "openrouter").is_none());
        assert_eq!(load_for_start(dir.path()).source, CatalogSource::Snapshot);
    }
    assert_eq!(load_for_start_from(&dir.path().join("missing/dir"), "x").source, CatalogSource::Snapshot);
    assert!(cache_file(dir.path(), "../evil").ends_with("catalog-___evil.json"));
}

/// A loopback HTTP server answering every request with `status` and `body`; returns its base
/// URL and a channel of the raw requests it saw.
async fn serve(status: &'static str, body: Vec<u8>) -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut req = Vec::new();
            let mut buf = [0u8; 4096];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match sock.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let _ = tx.send(String::from_utf8_lossy(&req).into_owned());
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = sock.write_all(head.as_bytes()).await;
            let _ = sock.write_all(&body).await;
            let _ = sock.shutdown().await;
        }
    });
    (format!("http://{addr}/api/v1/"), rx)
}

fn http() -> reqwest::Client {
    let t = roundtable::core::provider::Timeouts::default();
    roundtable::core::provider::client::build_http_client(&t).unwrap()
}

#[tokio::test]
async fn refresh_fetches_caches_and_survives_an_unwritable_cache() {
    let (base, mut seen) = serve("200 OK", fixture("models-sample.json")).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(cache_file(dir.path(), "openrouter"), b"corrupt").unwrap();
    let key = ApiKey::new("sk-test".into());
    let c = refresh(&http(), dir.path(), "openrouter", &base, Some(&key)).await.unwrap();
    assert_eq!((c.source, c.models.len()), (CatalogSource::Live, 23));
    let req = seen.recv().await.unwrap();
    assert!(req.starts_with("GET /api/v1/models HTTP/1.1"), "{req}");
    assert!(req.to_ascii_lowercase().contains("authorization: bearer sk-test"));
    // The corrupt cache was replaced.
    let cached = read_cache(dir.path(), "openrouter").unwrap();
    assert_eq!((cached.source, cached.models.len()), (CatalogSource::Cache, 23));

    // A cache "dir" that is a file cannot be written: still a live result, no failure.
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let c = refresh(&http(), &file, "openrouter", &base, None).await.unwrap();
    assert_eq!(c.models.len(), 23);
}

#[tokio::test]
async fn refresh_errors_are_classified_and_leave_the_cache_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (base, _seen) = serve("401 Unauthorized", fixture("error-401.json")).await;
    let err = refresh(&http(), dir.path(), "openrouter", &base, None).await.unwrap_err();
    assert_eq!(err.status, Some(401));
    let (base, _seen) = serve("200 OK", b"<html>oops</html>".to_vec()).await;
    let err = refresh(&http(), dir.path(), "openrouter", &base, None).await.unwrap_err();
    assert_eq!(err.kind, roundtable::core::error::ErrorKind::MalformedResponse);
    assert!(!cache_file(dir.path(), "openrouter").exists());
}

// ---------- the models command ----------

fn args() -> ModelsArgs {
    ModelsArgs::default()
}

fn ids<'a>(v: &[&'a roundtable::core::catalog::ModelInfo]) -> Vec<&'a str> {
    v.iter().map(|m| m.id.as_str()).collect()
}

#[test]
fn filters() {
    let c = Catalog::snapshot();
    assert_eq!(filter_models(&c.models, &args()).len(), 23);
    assert_eq!(filter_models(&c.models, &ModelsArgs { free: true, ..args() }).len(), 10);
    assert_eq!(filter_models(&c.models, &ModelsArgs { tools: true, ..args() }).len(), 20);
    assert_eq!(filter_models(&c.models, &ModelsArgs { tools: true, free: true, ..args() }).len(), 7);
    let big = filter_models(&c.models, &ModelsArgs { min_context: Some(1_000_000), ..args() });
    assert_eq!(big.len(), 7);
    let cheap = filter_models(&c.models, &ModelsArgs { max_price: Some(d("0.2")), ..args() });
    assert_eq!(cheap.len(), 16);
    assert!(!ids(&cheap).contains(&"openrouter/auto"), "variable prices never pass a price cap");
    let q = |s: &str| ids(&filter_models(&c.models, &ModelsArgs { query: vec![s.to_owned()], ..args() }));
    assert_eq!(q("sonnet45"), ["anthropic/claude-sonnet-4.5"]);
    assert_eq!(q("GEMINI flash").len(), 3);
    assert_eq!(q("Llama 3b"), ["meta-llama/llama-3.2-3b-instruct:free"]);
    assert!(q("no-such-model").is_empty());
    let haiku = c.get("anthropic/claude-haiku-4.5").unwrap();
    assert!(matches_query(haiku, "Claude Haiku") && !matches_query(haiku, "sonnet"));
}

#[test]
fn sorting() {
    let c = Catalog::snapshot();
    let mut all = filter_models(&c.models, &args());
    sort_models(&mut all, SortKey::Name);
    assert_eq!(all[0].id, "anthropic/claude-haiku-4.5");
    assert_eq!(all[22].id, "z-ai/glm-4.5-air:free");
    sort_models(&mut all, SortKey::Context);
    assert_eq!(ids(&all[..2]), ["openrouter/auto", "x-ai/grok-4-fast"]);
    sort_models(&mut all, SortKey::Price);
    assert!(all[..10].iter().all(|m| m.is_free()));
    assert_eq!(all[10].id, "openai/gpt-oss-120b");
    assert_eq!(all[21].id, "anthropic/claude-sonnet-4.5");
    assert_eq!(all[22].id, "openrouter/auto");
}

#[test]
fn cells_and_table() {
    assert_eq!(format_context(Some(128_000)), "128K");
    assert_eq!(format_context(Some(131_072)), "131K");
    assert_eq!(format_context(Some(1_000_000)), "1M");
    assert_eq!(format_context(Some(1_048_576)), "1.05M");
    assert_eq!(format_context(Some(2_000_000)), "2M");
    assert_eq!(format_context(Some(512)), "512");
    assert_eq!(format_context(None), "-");
    assert_eq!(format_per_million(Some(d("0.15000"))), "0.15");
    assert_eq!(format_per_million(Some(Decimal::ZERO)), "free");
    assert_eq!(format_per_million(None), "variable");
    assert_eq!(format_age(Duration::from_secs(30)), "just now");
    assert_eq!(format_age(Duration::from_secs(90 * 60)), "1h ago");
    assert_eq!(format_age(Duration::from_secs(5 * 86_400)), "5d ago");

    let c = Catalog::snapshot();
    let mut shown = filter_models(&c.models, &args());
    sort_models(&mut shown, SortKey::Name);
    let table = format_table(&shown, c.models.len(), &source_phrase(&c, Timestamp::now()));
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("model") && lines[0].contains("prompt $/M"), "{table}");
    assert_eq!(lines.len(), 2 + 23 + 1);
    assert_eq!(lines[25], "23 models (source: built-in snapshot from 2026-08-25)");
    let row = |id: &str| *lines.iter().find(|l| l.starts_with(&format!("{id} "))).unwrap();
    let mini = row("openai/gpt-4o-mini");
    assert!(mini.contains("128K") && mini.contains("0.15") && mini.contains("0.6") && mini.contains('✓'), "{mini}");
    assert!(row("openrouter/auto").contains("variable"));
    assert!(row("google/gemini-2.0-flash-001").contains("expires 2026-12-09"));
    assert!(row("meta-llama/llama-3.3-70b-instruct:free").contains("66K ctx at top provider"));
    assert!(row("anthropic/claude-sonnet-4.5").contains("pricier above 200K"));
    // Columns line up: every row's context cell ends at the same display column.
    let ctx_end = lines[0].find("context").unwrap() + "context".len();
    assert!(lines[2..25].iter().all(|l| l.chars().nth(ctx_end - 1).is_some_and(|ch| ch != ' ')), "{table}");

    let few = filter_models(&c.models, &ModelsArgs { free: true, ..args() });
    assert!(format_table(&few, 23, "live").ends_with("10 of 23 models (source: live)\n"));
    assert!(format_table(&[], 23, "live").starts_with("No models match."));
}

#[test]
fn json_output_has_exact_price_strings() {
    let c = Catalog::snapshot();
    let shown: Vec<_> = c.models.iter().collect();
    let v = to_json(&shown);
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), 23);
    let mini = arr.iter().find(|m| m["id"] == "openai/gpt-4o-mini").unwrap();
    assert_eq!(mini["pricing"]["prompt"], "0.00000015");
    assert_eq!(mini["pricing"]["input_cache_read"], "0.000000075");
    assert_eq!(mini["prompt_usd_per_million"], "0.15");
    assert_eq!(mini["tools"], true);
    let auto = arr.iter().find(|m| m["id"] == "openrouter/auto").unwrap();
    assert_eq!(auto["pricing"]["prompt"], "-1");
    assert_eq!(auto["variable_price"], true);
    assert!(auto["prompt_usd_per_million"].is_null());
    let sonnet = arr.iter().find(|m| m["id"] == "anthropic/claude-sonnet-4.5").unwrap();
    assert_eq!(sonnet["pricing"]["overrides"][0]["min_prompt_tokens"], 200000);
    assert_eq!(sonnet["pricing"]["overrides"][0]["completion"], "0.0000225");
}

#[derive(clap::Parser, Debug)]
struct Cli {
    #[command(flatten)]
    args: ModelsArgs,
}

#[test]
fn argument_parsing() {
    use clap::Parser;
    let a = Cli::try_parse_from([
        "m",
        "--free",
        "--min-context",
        "128K",
        "--max-price",
        "0.5",
        "--sort",
        "price",
        "gemini",
        "flash",
    ])
    .unwrap()
    .args;
    assert!(a.free && !a.tools && !a.json);
    assert_eq!((a.min_context, a.max_price, a.sort), (Some(128_000), Some(d("0.5")), SortKey::Price));
    assert_eq!(a.query, ["gemini", "flash"]);
    assert_eq!(Cli::try_parse_from(["m", "--min-context", "1.5M"]).unwrap().args.min_context, Some(1_500_000));
    for bad in [
        &["m", "--max-price", "-1"][..],
        &["m", "--max-price", "abc"],
        &["m", "--sort", "speed"],
        &["m", "--min-context", "-5"],
    ] {
        assert_eq!(Cli::try_parse_from(bad).unwrap_err().exit_code(), 2, "{bad:?}");
    }
}

fn config_at(base: &str) -> roundtable::config::Config {
    let mut c = roundtable::config::Config::defaults();
    c.override_base_url(base);
    c
}

fn paths_in(dir: &std::path::Path) -> roundtable::paths::Paths {
    roundtable::paths::Paths {
        config_dir: dir.join("config"),
        data_dir: dir.join("data"),
        cache_dir: dir.join("cache"),
    }
}

#[tokio::test]
async fn run_fetches_live_then_uses_the_fresh_cache_and_rejects_bad_args() {
    use roundtable::models_cmd::{load_catalog, run};
    let (base, mut seen) = serve("200 OK", fixture("models-sample.json")).await;
    let dir = tempfile::tempdir().unwrap();
    let (config, paths) = (config_at(&base), paths_in(dir.path()));
    let (c, note) = load_catalog(&config, &paths, false).await;
    assert_eq!((c.source, note), (CatalogSource::Live, None));
    assert!(seen.recv().await.is_some());
    let (c, _) = load_catalog(&config, &paths, false).await;
    assert_eq!(c.source, CatalogSource::Cache, "fresh cache, no second fetch");
    assert!(seen.try_recv().is_err());
    assert_eq!(run(&config, &paths, ModelsArgs { refresh: true, query: vec!["sonnet45".into()], ..args() }).await, 0);
    assert!(seen.recv().await.is_some(), "--refresh fetches even with a fresh cache");
    assert_eq!(run(&config, &paths, ModelsArgs { max_price: Some(d("-1")), ..args() }).await, 2);

    // Unreachable upstream, stale cache: the cache, with a note naming it and its age.
    set_age(&cache_file(&paths.cache_dir, "openrouter"), Duration::from_secs(30 * 3600));
    let dead = config_at("http://127.0.0.1:1/api/v1");
    let (c, note) = load_catalog(&dead, &paths, false).await;
    assert_eq!(c.source, CatalogSource::Cache);
    assert!(note.unwrap().contains("showing cache from 30h ago"));
    // No cache at all: the snapshot.
    let empty = paths_in(&dir.path().join("elsewhere"));
    let (c, note) = load_catalog(&dead, &empty, false).await;
    assert_eq!(c.source, CatalogSource::Snapshot);
    assert!(note.unwrap().contains("built-in snapshot from 2026-08-25"));
}
