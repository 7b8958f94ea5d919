//! Every error-body fixture (with its `.headers` file where present) through the HTTP error
//! classifier: kind, status, reset time and the actionable parts of the message. Plus bodies
//! that are not JSON at all, and a no-panic loop over random bytes.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use roundtable::core::error::{CoreError, ErrorKind};
use roundtable::core::provider::ProviderKind;
use roundtable::core::provider::errors::{
    ErrorContext, classify_error_object, classify_http_error, classify_http_error_at,
};

/// 2026-08-25 09:50:00 UTC (02:50 in Los Angeles), shortly before the fixtures' reset times.
fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_787_651_400)
}

fn ms(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

fn read(name: &str) -> Option<Vec<u8>> {
    std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)).ok()
}

/// Status line + headers of a `.headers` fixture.
fn parse_headers(raw: &str) -> (u16, HeaderMap) {
    let mut lines = raw.lines().map(|l| l.trim_end_matches('\r'));
    let status =
        lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|s| s.parse().ok()).expect("status line");
    let mut map = HeaderMap::new();
    for line in lines.take_while(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':').expect("header line");
        map.append(
            HeaderName::from_bytes(name.trim().as_bytes()).unwrap(),
            HeaderValue::from_str(value.trim()).unwrap(),
        );
    }
    (status, map)
}

fn ctx(kind: ProviderKind, model: &'static str) -> ErrorContext<'static> {
    let (provider_name, api_key_env) = match kind {
        ProviderKind::Openrouter => ("openrouter", Some("OPENROUTER_API_KEY")),
        ProviderKind::Gemini => ("gemini", Some("GEMINI_API_KEY")),
        ProviderKind::Openai => ("openai", Some("OPENAI_API_KEY")),
        ProviderKind::OpenaiCompatible => ("ollama", None),
    };
    ErrorContext { provider_name, kind, model, api_key_env, base_url: None }
}

/// Classifies fixture `name` (status from its `.headers` file, else `status`).
fn classify(name: &str, status: u16, kind: ProviderKind, model: &'static str) -> CoreError {
    let body = read(name).unwrap_or_else(|| panic!("missing fixture {name}"));
    let headers_file = name.replace(".json", ".headers");
    let (status, headers) = match read(&headers_file) {
        Some(raw) => parse_headers(&String::from_utf8(raw).unwrap()),
        None => (status, HeaderMap::new()),
    };
    classify_http_error_at(&ctx(kind, model), status, &headers, &body, now())
}

#[track_caller]
fn assert_msg(e: &CoreError, parts: &[&str]) {
    for p in parts {
        assert!(e.message.contains(p), "message lacks {p:?}: {}", e.message);
    }
    assert!(!e.message.chars().any(|c| c.is_control()), "control char in {:?}", e.message);
}

const OR: ProviderKind = ProviderKind::Openrouter;

#[test]
fn free_per_minute() {
    let e = classify("error-429-free-rpm.json", 0, OR, "meta-llama/llama-3.3-70b-instruct:free");
    assert_eq!((e.kind, e.status), (ErrorKind::RateLimitMinute, Some(429)));
    assert_eq!(e.retry_at, Some(ms(1_787_651_460_000)));
    assert_msg(&e, &["free-model limit of 20 requests/minute", "retrying at 09:51:00 UTC"]);
    assert_eq!(e.upstream_message.as_deref(), Some("Rate limit exceeded: free-models-per-min."));

    // Without response headers the copy inside `metadata.headers` is used.
    let body = read("error-429-free-rpm.json").unwrap();
    let e = classify_http_error_at(&ctx(OR, "x:free"), 429, &HeaderMap::new(), &body, now());
    assert_eq!(e.retry_at, Some(ms(1_787_651_460_000)));
}

#[test]
fn free_per_day() {
    let e = classify("error-429-free-daily.json", 0, OR, "meta-llama/llama-3.3-70b-instruct:free");
    assert_eq!((e.kind, e.status), (ErrorKind::RateLimitDaily, Some(429)));
    assert_eq!(e.retry_at, Some(ms(1_787_702_400_000)));
    assert_msg(
        &e,
        &[
            "50 requests",
            "2026-08-26 00:00 UTC",
            "in 14h 10m",
            "'meta-llama/llama-3.3-70b-instruct'",
            "10 credits",
            "1000",
        ],
    );
    assert!(!e.kind.is_transient());

    // High-balance variant, no reset header: next UTC midnight, and no advice to buy credits.
    let body = br#"{"error":{"message":"Rate limit exceeded: free-models-per-day-high-balance.","code":429}}"#;
    let e = classify_http_error_at(&ctx(OR, "qwen/qwen3-coder:free"), 429, &HeaderMap::new(), body, now());
    assert_eq!(e.kind, ErrorKind::RateLimitDaily);
    assert_eq!(e.retry_at, Some(ms(1_787_702_400_000)));
    assert_msg(&e, &["1000 requests", "'qwen/qwen3-coder'"]);
    assert!(!e.message.contains("10 credits"), "{}", e.message);
}

#[test]
fn upstream_pool_429() {
    let e = classify("error-429-upstream-provider.json", 429, OR, "qwen/qwen3-coder:free");
    assert_eq!((e.kind, e.status), (ErrorKind::RateLimitUpstream, Some(429)));
    assert_eq!(e.retry_at, Some(now() + Duration::from_secs(18)));
    assert_msg(&e, &["Venice", "09:50:18 UTC", "another model"]);
    assert!(e.upstream_message.as_deref().unwrap().contains("temporarily rate-limited upstream"));
}

#[test]
fn capacity_exhausted() {
    let e = classify("error-429-capacity-exhausted.json", 0, OR, "anthropic/claude-sonnet-4.5");
    assert_eq!((e.kind, e.status), (ErrorKind::RateLimitUpstream, Some(429)));
    assert_eq!(e.retry_at, Some(now() + Duration::from_secs(40)));
    assert_msg(&e, &["at capacity", "anthropic/claude-haiku-4.5", "09:50:40 UTC"]);
}

#[test]
fn payment_required() {
    let e = classify("error-402.json", 402, OR, "openai/gpt-4o");
    assert_eq!((e.kind, e.status), (ErrorKind::PaymentRequired, Some(402)));
    assert_msg(&e, &["out of credits", "https://openrouter.ai/settings/credits"]);

    let e = classify("error-402-key-limit.json", 402, OR, "openai/gpt-4o");
    assert_eq!(e.kind, ErrorKind::PaymentRequired);
    assert_msg(&e, &["spend limit", "key settings"]);
    // The same text has been seen with 403, which `ErrorKind` files under Forbidden.
    let e = classify("error-402-key-limit.json", 403, OR, "openai/gpt-4o");
    assert_eq!((e.kind, e.status), (ErrorKind::Forbidden, Some(403)));
    assert_msg(&e, &["spend limit", "key settings"]);

    let body = br#"{"error":{"code":402,"message":"This request requires more credits, or fewer max_tokens. You requested up to 64000 tokens, but can only afford 2666. To increase, visit https://openrouter.ai/settings/credits and upgrade to a paid account"}}"#;
    let e = classify_http_error_at(&ctx(OR, "anthropic/claude-sonnet-4.5"), 402, &HeaderMap::new(), body, now());
    assert_eq!(e.kind, ErrorKind::PaymentRequired);
    assert_msg(&e, &["64000 requested, 2666 affordable", "lower max_tokens to 2666"]);
}

#[test]
fn unauthorized_names_env_var() {
    let e = classify("error-401.json", 401, OR, "openai/gpt-4o");
    assert_eq!((e.kind, e.status), (ErrorKind::Unauthorized, Some(401)));
    assert_msg(&e, &["rejected the API key", "OPENROUTER_API_KEY", "No auth credentials found"]);

    // Gemini reports a bad key as 400 INVALID_ARGUMENT.
    let body = br#"[{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT"}}]"#;
    let e = classify_http_error_at(&ctx(ProviderKind::Gemini, "gemini-2.5-flash"), 400, &HeaderMap::new(), body, now());
    assert_eq!(e.kind, ErrorKind::Unauthorized);
    assert_msg(&e, &["GEMINI_API_KEY"]);
}

#[test]
fn forbidden_and_moderation() {
    let e = classify("error-403-moderation.json", 403, OR, "openai/gpt-4o");
    assert_eq!((e.kind, e.status), (ErrorKind::Moderation, Some(403)));
    assert_msg(&e, &["flagged for: violence", "different model"]);

    let e = classify("error-403-credits-management-key.json", 403, OR, "");
    assert_eq!(e.kind, ErrorKind::Forbidden);
    assert_msg(&e, &["management key"]);
}

#[test]
fn not_found_variants() {
    let e = classify("error-404-data-policy.json", 404, OR, "deepseek/deepseek-r1:free");
    assert_eq!((e.kind, e.status), (ErrorKind::DataPolicy, Some(404)));
    assert_msg(&e, &["Free model publication", "https://openrouter.ai/settings/privacy", "data_collection", "zdr"]);

    let e = classify("error-404-no-tool-endpoints.json", 404, OR, "google/gemma-3-27b-it:free");
    assert_eq!(e.kind, ErrorKind::NoToolEndpoints);
    assert_msg(&e, &["no tool-capable endpoint", "supported parameters include tools", "without tools"]);

    let e = classify("error-400-model-not-found.json", 400, OR, "acme/fake-1.0");
    assert_eq!((e.kind, e.status), (ErrorKind::ModelNotFound, Some(400)));
    assert_msg(&e, &["'acme/fake-1.0'", "roundtable models"]);

    let e = classify("error-404-generation-not-ready.json", 404, OR, "");
    assert_eq!(e.kind, ErrorKind::NotFound);

    let e = classify("ollama-404-model-not-found.json", 404, ProviderKind::OpenaiCompatible, "llama3.3:70b");
    assert_eq!((e.kind, e.status), (ErrorKind::ModelNotFound, Some(404)));
    assert_msg(&e, &["ollama pull llama3.3:70b"]);
}

/// llama.cpp's server refusing a prompt longer than its context (seen with
/// scripts/try-real-servers.sh): said as a conversation too long, with the server's figures.
#[test]
fn llama_server_context_overflow_reads_as_too_long() {
    let e = classify("llamacpp-400-context-size.json", 400, ProviderKind::OpenaiCompatible, "smollm2");
    assert_eq!((e.kind, e.status), (ErrorKind::BadRequest, Some(400)));
    assert_msg(&e, &["too long for", "2431 tokens", "1024 tokens", "shorten it"]);
    assert!(!e.message.contains("check this model's settings"), "{}", e.message);
}

/// LiteLLM asked for a model it does not route (seen with scripts/try-real-servers.sh): an
/// unknown model, not "check this model's settings".
#[test]
fn litellm_invalid_model_name_is_model_not_found() {
    let e = classify("litellm-400-invalid-model.json", 400, ProviderKind::OpenaiCompatible, "no-such-model");
    assert_eq!((e.kind, e.status), (ErrorKind::ModelNotFound, Some(400)));
    assert_msg(&e, &["does not know the model", "no-such-model", "/v1/models"]);
}

#[test]
fn server_errors() {
    let e = classify("error-502-provider.json", 502, OR, "meta-llama/llama-3.3-70b-instruct");
    assert_eq!((e.kind, e.status), (ErrorKind::Server, Some(502)));
    assert_msg(&e, &["provider (Together) returned an error", "retry", "pick another model"]);
    assert!(e.upstream_message.as_deref().unwrap().contains("upstream connect error"), "{:?}", e.upstream_message);
    assert!(e.kind.is_transient());
}

#[test]
fn gemini_array_bodies() {
    let g = ProviderKind::Gemini;
    let e = classify("gemini-compat-429-daily.json", 429, g, "gemini-2.5-flash");
    assert_eq!((e.kind, e.status), (ErrorKind::RateLimitDaily, Some(429)));
    // Next midnight in Los Angeles after 02:50 PDT: 2026-08-26 07:00 UTC.
    assert_eq!(e.retry_at, Some(UNIX_EPOCH + Duration::from_secs(1_787_702_400 + 7 * 3600)));
    assert_msg(&e, &["daily quota of 20", "gemini-2.5-flash", "midnight Pacific"]);

    let e = classify("gemini-compat-429-rpm.json", 429, g, "gemini-2.5-flash");
    assert_eq!((e.kind, e.status), (ErrorKind::RateLimitMinute, Some(429)));
    assert_eq!(e.retry_at, Some(now() + Duration::from_secs(41)));
    assert_msg(&e, &["requests-per-minute", "09:50:41 UTC"]);

    let body = br#"[{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaId":"GenerateContentInputTokensPerModelPerMinute-FreeTier","quotaValue":"250000"}]},{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"12s"}]}}]"#;
    let e = classify_http_error_at(&ctx(g, "gemini-2.5-pro"), 429, &HeaderMap::new(), body, now());
    assert_eq!(e.kind, ErrorKind::RateLimitMinute);
    assert_eq!(e.retry_at, Some(now() + Duration::from_secs(12)));
    assert_msg(&e, &["input-tokens-per-minute"]);

    let e = classify("gemini-compat-400-unknown-field.json", 400, g, "gemini-2.5-flash");
    assert_eq!((e.kind, e.status), (ErrorKind::BadRequest, Some(400)));
    assert_msg(&e, &["'reasoning'"]);

    let minimal = br#"[{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}}]"#;
    let e = classify_http_error_at(&ctx(g, "gemini-2.5-flash"), 429, &HeaderMap::new(), minimal, now());
    assert_eq!(e.kind, ErrorKind::RateLimitMinute);
}

#[test]
fn non_json_bodies() {
    let c = ctx(OR, "openai/gpt-4o");
    let h = HeaderMap::new();
    let html = b"<!DOCTYPE html><html><head><title>503 Service Temporarily Unavailable</title></head><body><center><h1>503 Service Temporarily Unavailable</h1></center><hr><center>nginx</center></body></html>";
    let e = classify_http_error_at(&c, 503, &h, html, now());
    assert_eq!((e.kind, e.status), (ErrorKind::Server, Some(503)));
    assert_msg(&e, &["HTTP 503", "HTML page", "Service Temporarily Unavailable"]);
    assert!(!e.message.contains('<'), "{}", e.message);

    let e = classify_http_error_at(&c, 500, &h, b"", now());
    assert_eq!((e.kind, e.status), (ErrorKind::Server, Some(500)));
    assert_msg(&e, &["HTTP 500", "empty body"]);

    let e = classify_http_error_at(&c, 404, &h, b"404 page not found", now());
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert_msg(&e, &["404 page not found", "base_url"]);

    let e = classify_http_error_at(&c, 429, &h, b"Too Many Requests", now());
    assert_eq!(e.kind, ErrorKind::RateLimitUpstream);

    let mut garbage = vec![0xff, 0xfe, 0x1b, b'[', b'2', b'J', 0x00, 0x80];
    garbage.extend_from_slice("ok \u{9b}31m".as_bytes());
    let e = classify_http_error_at(&c, 502, &h, &garbage, now());
    assert_eq!(e.kind, ErrorKind::Server);
    assert_msg(&e, &["HTTP 502"]);

    let e = classify_http_error_at(&c, 401, &h, b"{\"unexpected\":true}", now());
    assert_eq!(e.kind, ErrorKind::Unauthorized);

    let e = classify_http_error_at(&c, 418, &h, b"[1,2,3]", now());
    assert_eq!(e.kind, ErrorKind::BadRequest);

    let long = "x".repeat(100_000);
    let e = classify_http_error(&c, 500, &h, long.as_bytes());
    assert!(e.message.len() < 1000, "{}", e.message.len());
}

#[test]
fn upstream_text_is_sanitized_and_redacted() {
    let body = "{\"error\":{\"code\":400,\"message\":\"bad \\u001b]52;c;aGk=\\u0007key sk-or-v1-abcdefghijklmnopqrstuvwxyz0123 given\"}}";
    let e = classify_http_error_at(&ctx(OR, "m"), 400, &HeaderMap::new(), body.as_bytes(), now());
    let up = e.upstream_message.unwrap();
    assert_eq!(up, "bad key [redacted key] given");
    assert!(!e.message.contains("sk-or-v1"));
}

#[test]
fn error_objects_from_streams() {
    let v: serde_json::Value =
        serde_json::json!({"code": "429", "message": "Rate limit exceeded: free-models-per-min. "});
    let e = classify_error_object(OR, None, &v);
    assert_eq!((e.kind, e.status), (ErrorKind::RateLimitMinute, Some(429)));

    let v = serde_json::json!({"code": 402, "message": "Insufficient credits."});
    assert_eq!(classify_error_object(OR, None, &v).kind, ErrorKind::PaymentRequired);

    let v = serde_json::json!({"message": "Provider disconnected", "metadata": {"error_type": "provider_unavailable"}});
    let e = classify_error_object(OR, None, &v);
    assert_eq!((e.kind, e.status), (ErrorKind::MidStream, None));

    let v = serde_json::json!("something broke");
    assert_eq!(classify_error_object(OR, Some(500), &v).kind, ErrorKind::MidStream);

    let v = serde_json::json!(null);
    assert_eq!(classify_error_object(ProviderKind::Openai, None, &v).kind, ErrorKind::MidStream);
}

#[test]
fn random_bytes_never_panic() {
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let fixtures: Vec<Vec<u8>> = [
        "error-429-free-rpm.json",
        "error-429-capacity-exhausted.json",
        "gemini-compat-429-daily.json",
        "error-403-moderation.json",
        "error-502-provider.json",
    ]
    .iter()
    .filter_map(|f| read(f))
    .collect();
    let c = ctx(OR, "x:free");
    let mut headers = HeaderMap::new();
    headers.insert("x-ratelimit-reset", HeaderValue::from_static("99999999999999999999"));
    headers.insert("retry-after", HeaderValue::from_static("-5"));
    for i in 0..4000 {
        let status = [0, 200, 400, 401, 402, 403, 404, 408, 413, 429, 500, 502, 503, 599, 999][i % 15];
        let bytes: Vec<u8> = if i % 2 == 0 {
            (0..(next() % 300)).map(|_| next() as u8).collect()
        } else {
            let mut b = fixtures[i % fixtures.len()].clone();
            for _ in 0..(next() % 6 + 1) {
                let at = (next() as usize) % b.len().max(1);
                match next() % 3 {
                    0 if !b.is_empty() => b[at] = next() as u8,
                    1 => b.truncate(at),
                    _ => b.insert(at, b"{}[]\",:0-9e"[(next() % 11) as usize]),
                }
            }
            b
        };
        let h = if i % 3 == 0 { &headers } else { &HeaderMap::new() };
        let e = classify_http_error(&c, status, h, &bytes);
        assert!(!e.message.is_empty());
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) {
            let _ = classify_error_object(OR, None, &v);
        }
    }
}

/// `cargo test --test error_bodies -- --ignored --nocapture` shows every fixture's message.
#[test]
#[ignore]
fn print_messages() {
    for (name, status, kind, model) in [
        ("error-429-free-rpm.json", 429, OR, "meta-llama/llama-3.3-70b-instruct:free"),
        ("error-429-free-daily.json", 429, OR, "meta-llama/llama-3.3-70b-instruct:free"),
        ("error-429-upstream-provider.json", 429, OR, "qwen/qwen3-coder:free"),
        ("error-429-capacity-exhausted.json", 429, OR, "anthropic/claude-sonnet-4.5"),
        ("error-402.json", 402, OR, "openai/gpt-4o"),
        ("error-402-key-limit.json", 402, OR, "openai/gpt-4o"),
        ("error-401.json", 401, OR, "openai/gpt-4o"),
        ("error-403-moderation.json", 403, OR, "openai/gpt-4o"),
        ("error-403-credits-management-key.json", 403, OR, ""),
        ("error-404-data-policy.json", 404, OR, "deepseek/deepseek-r1:free"),
        ("error-404-no-tool-endpoints.json", 404, OR, "google/gemma-3-27b-it:free"),
        ("error-404-generation-not-ready.json", 404, OR, ""),
        ("error-400-model-not-found.json", 400, OR, "acme/fake-1.0"),
        ("error-502-provider.json", 502, OR, "meta-llama/llama-3.3-70b-instruct"),
        ("gemini-compat-429-daily.json", 429, ProviderKind::Gemini, "gemini-2.5-flash"),
        ("gemini-compat-429-rpm.json", 429, ProviderKind::Gemini, "gemini-2.5-flash"),
        ("gemini-compat-400-unknown-field.json", 400, ProviderKind::Gemini, "gemini-2.5-flash"),
        ("ollama-404-model-not-found.json", 404, ProviderKind::OpenaiCompatible, "llama3.3:70b"),
        ("llamacpp-400-context-size.json", 400, ProviderKind::OpenaiCompatible, "smollm2"),
        ("litellm-400-invalid-model.json", 400, ProviderKind::OpenaiCompatible, "no-such-model"),
    ] {
        let e = classify(name, status, kind, model);
        println!("{name}: {:?} {:?}\n  {}\n  upstream: {:?}\n", e.kind, e.status, e.message, e.upstream_message);
    }
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in pairs {
        map.append(HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
    }
    map
}

/// Issue 11 item 7: the reset headers of servers other than OpenRouter set the retry time.
#[test]
fn rate_limit_headers_of_other_servers_set_the_retry_time() {
    let body =
        br#"{"error":{"message":"litellm.RateLimitError: rate limited","type":"throttling_error","code":"429"}}"#;
    let cases: [(&[(&str, &str)], Duration); 6] = [
        (&[("retry-after", "60")], Duration::from_secs(60)),
        (&[("retry-after", "Tue, 25 Aug 2026 09:51:00 GMT")], Duration::from_secs(60)),
        (&[("llm_provider-retry-after", "45")], Duration::from_secs(45)),
        (&[("x-ratelimit-reset-requests", "1m0s"), ("x-ratelimit-reset-tokens", "6s")], Duration::from_secs(60)),
        (&[("x-ratelimit-reset", "1787651430000")], Duration::from_secs(30)),
        (&[("x-ratelimit-reset", "1787651430")], Duration::from_secs(30)),
    ];
    for (pairs, wait) in cases {
        let ctx = ctx(ProviderKind::OpenaiCompatible, "gpt-4o-mini");
        let e = classify_http_error_at(&ctx, 429, &headers(pairs), body, now());
        assert_eq!(e.kind, ErrorKind::RateLimitMinute, "{pairs:?}: {e:?}");
        assert_eq!(e.retry_at, Some(now() + wait), "{pairs:?}: {}", e.message);
    }
    // The same through an OpenRouter-kind provider pointed at another server.
    let ctx = ErrorContext { base_url: Some("http://127.0.0.1:4000/v1"), ..ctx(OR, "gpt-4o-mini") };
    let e = classify_http_error_at(&ctx, 429, &headers(&[("retry-after", "60")]), body, now());
    assert_eq!(e.retry_at, Some(now() + Duration::from_secs(60)), "{}", e.message);
    assert!(!e.message.contains("OpenRouter"), "{}", e.message);
}

/// Issue 11 item 6: an OpenRouter-kind provider pointed elsewhere is named by its host, with
/// no OpenRouter links, and a 402 keeps the server's own words.
#[test]
fn another_server_behind_base_url_is_named_by_its_host() {
    let ctx = ErrorContext { base_url: Some("http://127.0.0.1:4000/v1"), ..ctx(OR, "m") };
    let body = br#"{"error":{"message":"Authentication Error, Invalid proxy server token passed","type":"auth_error","code":"401"}}"#;
    let e = classify_http_error_at(&ctx, 401, &HeaderMap::new(), body, now());
    assert_msg(&e, &["127.0.0.1:4000", "Invalid proxy server token"]);
    assert!(!e.message.contains("openrouter.ai") && !e.message.contains("OpenRouter"), "{}", e.message);
    let body = br#"{"error":{"message":"Budget exceeded for team ops: spent 10.2, max 10.0","code":"402"}}"#;
    let e = classify_http_error_at(&ctx, 402, &HeaderMap::new(), body, now());
    assert_eq!(e.kind, ErrorKind::PaymentRequired);
    assert_msg(&e, &["127.0.0.1:4000", "Budget exceeded for team ops"]);
    // OpenRouter itself keeps its wording.
    let ctx = ErrorContext { base_url: Some("https://openrouter.ai/api/v1"), ..ctx };
    let e = classify_http_error_at(
        &ctx,
        401,
        &HeaderMap::new(),
        br#"{"error":{"message":"No auth credentials found","code":401}}"#,
        now(),
    );
    assert_msg(&e, &["OpenRouter", "openrouter.ai/settings/keys"]);
}

/// Issue 11 items 4 and 17: long server text is cut at a word boundary for people and kept
/// whole in `upstream_message`; a configured key of any shape never appears in either.
#[test]
fn long_text_is_cut_at_words_and_keys_are_redacted() {
    roundtable::core::sanitize::register_secret("CANARYNONSK-0123456789abcdef");
    let long = format!("{} tail-end-marker", "word ".repeat(120));
    let body = serde_json::json!({"error": {"message": format!("Key CANARYNONSK-0123456789abcdef is bad: {long}")}})
        .to_string();
    let e = classify_http_error_at(
        &ctx(ProviderKind::OpenaiCompatible, "m"),
        400,
        &HeaderMap::new(),
        body.as_bytes(),
        now(),
    );
    assert!(e.message.contains("word…") || e.message.contains("word …"), "{}", e.message);
    assert!(!e.message.contains("wor…") && !e.message.contains(" wo…"), "cut mid-word: {}", e.message);
    let full = e.upstream_message.clone().unwrap_or_default();
    assert!(full.contains("tail-end-marker"), "{full}");
    for text in [&e.message, &full] {
        assert!(!text.contains("CANARYNONSK"), "{text}");
    }
}
