//! OpenRouter account figures: `GET /key` (spend, key limit, the free-model daily counter) and
//! `GET /credits` (balance), read in the background and fed to the quota limiter; and one
//! request's own record, `GET /generation?id=` (native tokens and cost), for cost back-fill.

use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::Value;

use crate::core::decimal::decimal_from_json as decimal;
use crate::core::error::CoreError;
use crate::core::protocol::{AccountInfo, Usage};
use crate::core::provider::errors::{ErrorContext, classify_http_error};
use crate::core::provider::{ApiKey, ProviderKind};

#[derive(Debug, Deserialize)]
struct Envelope {
    data: Value,
}

fn count(v: &Value) -> Option<u32> {
    v.as_u64().and_then(|n| u32::try_from(n).ok())
}

/// Parse a `GET /key` body.
pub fn parse_key(body: &[u8], provider: &str) -> Option<AccountInfo> {
    let env: Envelope = serde_json::from_slice(body).ok()?;
    let d = &env.data;
    let free = &d["free_model_daily_requests"];
    Some(AccountInfo {
        provider: provider.to_owned(),
        key_limit: decimal(&d["limit"]),
        key_limit_remaining: decimal(&d["limit_remaining"]),
        key_limit_reset: d["limit_reset"].as_str().map(str::to_owned),
        usage_today: decimal(&d["usage_daily"]),
        credits_remaining: None,
        free_daily_used: count(&free["used"]),
        free_daily_limit: count(&free["limit"]),
    })
}

/// Parse a `GET /credits` body into the remaining balance.
pub fn parse_credits(body: &[u8]) -> Option<Decimal> {
    let env: Envelope = serde_json::from_slice(body).ok()?;
    Some(decimal(&env.data["total_credits"])? - decimal(&env.data["total_usage"])?)
}

/// One authenticated GET to OpenRouter. With `missing_ok`, a 404 is `Ok(None)` (a generation
/// record not there yet); any other non-2xx status becomes the typed error a chat request gets.
async fn get_optional(
    http: &reqwest::Client,
    url: &str,
    key: &ApiKey,
    provider: &str,
    timeout: std::time::Duration,
    missing_ok: bool,
) -> Result<Option<Vec<u8>>, CoreError> {
    let response = http.get(url).bearer_auth(key.expose()).timeout(timeout).send().await.map_err(|e| {
        CoreError::new(crate::core::error::ErrorKind::Connect, format!("Could not reach {provider} ({url}): {e}"))
    })?;
    let status = response.status().as_u16();
    if missing_ok && status == 404 {
        return Ok(None);
    }
    let headers = response.headers().clone();
    let body = response.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
    if !(200..300).contains(&status) {
        let ctx = ErrorContext {
            provider_name: provider,
            kind: ProviderKind::Openrouter,
            model: "",
            api_key_env: None,
            base_url: None,
        };
        return Err(classify_http_error(&ctx, status, &headers, &body));
    }
    Ok(Some(body))
}

async fn get(http: &reqwest::Client, url: &str, key: &ApiKey, provider: &str) -> Result<Vec<u8>, CoreError> {
    let body = get_optional(http, url, key, provider, std::time::Duration::from_secs(15), false).await?;
    Ok(body.unwrap_or_default())
}

/// Read `/key` and, when the key may, `/credits` (docs reserve it for management keys; a 403
/// there is expected and not an error worth showing).
pub async fn fetch(
    http: &reqwest::Client,
    base_url: &str,
    key: &ApiKey,
    provider: &str,
) -> Result<AccountInfo, CoreError> {
    let base = base_url.trim_end_matches('/');
    let body = get(http, &format!("{base}/key"), key, provider).await?;
    let mut info = parse_key(&body, provider).ok_or_else(|| {
        CoreError::new(
            crate::core::error::ErrorKind::MalformedResponse,
            format!("{provider} answered GET /key with an unexpected body."),
        )
    })?;
    if let Ok(body) = get(http, &format!("{base}/credits"), key, provider).await {
        info.credits_remaining = parse_credits(&body);
    }
    Ok(info)
}

/// What `GET /generation` says one request cost, with its native token counts.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    pub cost: Decimal,
    pub usage: Usage,
}

/// Parse a `GET /generation` body: `total_cost` (or `usage`, the same figure) and the native
/// token counts, which are the ones billed (the non-native `tokens_*` are only a fallback).
pub fn parse_generation(body: &[u8]) -> Option<Generation> {
    let env: Envelope = serde_json::from_slice(body).ok()?;
    let d = &env.data;
    let cost = decimal(&d["total_cost"]).or_else(|| decimal(&d["usage"]))?;
    let tokens = |native: &str, plain: &str| d[native].as_u64().or_else(|| d[plain].as_u64()).unwrap_or(0);
    let prompt = tokens("native_tokens_prompt", "tokens_prompt");
    let completion = tokens("native_tokens_completion", "tokens_completion");
    Some(Generation {
        cost,
        usage: Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: prompt.saturating_add(completion),
            cached_tokens: d["native_tokens_cached"].as_u64().unwrap_or(0),
            cache_write_tokens: 0,
            reasoning_tokens: d["native_tokens_reasoning"].as_u64().unwrap_or(0),
            hidden_tokens: 0,
            reported_cost: Some(cost),
            // The reference shows no search count in `/generation` (only `web_search_engine`).
            web_search_requests: 0,
            web_search_cost: None,
            cache_discount: crate::core::provider::normalize::reported_discount(Some(&d["cache_discount"])),
        },
    })
}

/// Read one request's record. `Ok(None)` while the record is not there yet: OpenRouter answers
/// 404 for a while after a stream ends, so callers retry.
pub async fn fetch_generation(
    http: &reqwest::Client,
    base_url: &str,
    key: &ApiKey,
    provider: &str,
    generation_id: &str,
) -> Result<Option<Generation>, CoreError> {
    let url = format!("{}/generation?id={}", base_url.trim_end_matches('/'), query_escape(generation_id));
    let Some(body) = get_optional(http, &url, key, provider, std::time::Duration::from_secs(10), true).await? else {
        return Ok(None);
    };
    parse_generation(&body).map(Some).ok_or_else(|| {
        CoreError::new(
            crate::core::error::ErrorKind::MalformedResponse,
            format!("{provider} answered GET /generation with an unexpected body."),
        )
    })
}

/// Percent-encode a query value (generation ids are `gen-…` alphanumerics, but they come from
/// the server and must not be able to add parameters).
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    #[test]
    fn key_and_credits_fixtures() {
        let free = parse_key(&fixture("key-free-tier.json"), "openrouter").unwrap();
        assert_eq!((free.free_daily_used, free.free_daily_limit), (Some(37), Some(50)));
        assert_eq!(free.key_limit, None);
        let paid = parse_key(&fixture("key-paid.json"), "openrouter").unwrap();
        assert_eq!(paid.free_daily_limit, Some(1000));
        assert_eq!(paid.key_limit_remaining, Some(Decimal::from_str("8.1").unwrap()));
        assert_eq!(parse_credits(&fixture("credits.json")), Some(Decimal::from_str("17.5879").unwrap()));
    }

    #[test]
    fn generation_record_native_tokens_and_exact_cost() {
        let body = br#"{"data":{"id":"gen-1","total_cost":0.0000114,"usage":0.0000114,"tokens_prompt":27,
            "tokens_completion":12,"native_tokens_prompt":28,"native_tokens_completion":12,
            "native_tokens_reasoning":0,"native_tokens_cached":3,"unknown_new_field":{"x":1}}}"#;
        let g = parse_generation(body).unwrap();
        assert_eq!(g.cost, Decimal::from_str("0.0000114").unwrap());
        assert_eq!((g.usage.prompt_tokens, g.usage.completion_tokens, g.usage.cached_tokens), (28, 12, 3));
        assert_eq!(g.usage.reported_cost, Some(g.cost));
        assert!(parse_generation(b"{\"data\":{}}").is_none(), "no cost, nothing to settle");
        assert!(parse_generation(b"<html>").is_none());
        assert_eq!(query_escape("gen-1&x=2"), "gen-1%26x%3D2");
    }
}
