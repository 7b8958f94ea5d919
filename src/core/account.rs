//! OpenRouter account figures: `GET /key` (spend, key limit, the free-model daily counter) and
//! `GET /credits` (balance), read in the background and fed to the quota limiter.

use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::Value;

use crate::core::decimal::decimal_from_json as decimal;
use crate::core::error::CoreError;
use crate::core::protocol::AccountInfo;
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

async fn get(http: &reqwest::Client, url: &str, key: &ApiKey, provider: &str) -> Result<Vec<u8>, CoreError> {
    let response =
        http.get(url).bearer_auth(key.expose()).timeout(std::time::Duration::from_secs(15)).send().await.map_err(
            |e| CoreError::new(crate::core::error::ErrorKind::Connect, format!("Could not reach {url}: {e}")),
        )?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
    if !(200..300).contains(&status) {
        let ctx =
            ErrorContext { provider_name: provider, kind: ProviderKind::Openrouter, model: "", api_key_env: None };
        return Err(classify_http_error(&ctx, status, &headers, &body));
    }
    Ok(body)
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
}
