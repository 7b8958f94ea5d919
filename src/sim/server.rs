//! Routes under `/api/v1` and the read-only endpoints: `/models`, `/key`, `/credits`,
//! `/generation`; plus the helpers shared with the chat handler (auth, error replies).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::chat;
use super::failures::{self, ErrorReply};
use super::model::CATALOG;
use super::state::Shared;
use super::util::Obj;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/v1/chat/completions", post(chat::chat))
        .route("/api/v1/models", get(models))
        .route("/api/v1/key", get(key))
        // Legacy name many clients still call.
        .route("/api/v1/auth/key", get(key))
        .route("/api/v1/credits", get(credits))
        .route("/api/v1/generation", get(generation))
        .fallback(fallback)
        // Long conversations must not trip axum's 2 MB default.
        .layer(DefaultBodyLimit::max(64 << 20))
        .with_state(shared)
}

/// The Bearer value, if present and non-empty.
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = v.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_string())
}

pub fn reply(r: ErrorReply) -> Response {
    let mut resp = Response::new(Body::from(r.body));
    *resp.status_mut() = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(r.content_type));
    for (k, v) in r.headers {
        if let (Ok(k), Ok(v)) = (HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(&v)) {
            resp.headers_mut().insert(k, v);
        }
    }
    resp
}

fn json_ok(body: impl Into<Body>) -> Response {
    let mut resp = Response::new(body.into());
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

fn count(sh: &Shared) {
    sh.lock().stats.requests += 1;
}

fn missing_auth_key() -> Response {
    reply(ErrorReply {
        status: 401,
        content_type: "application/json",
        headers: Vec::new(),
        body: "{\"error\":{\"code\":401,\"message\":\"Missing Authentication header\"}}".to_string(),
    })
}

async fn fallback(State(sh): State<Arc<Shared>>) -> Response {
    count(&sh);
    reply(failures::not_found_route())
}

async fn models(State(sh): State<Arc<Shared>>) -> Response {
    count(&sh);
    json_ok(CATALOG)
}

/// `sk-or-v1-3c1...9e4f` style label.
fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() < 16 {
        let head: String = chars.iter().take(3).collect();
        return format!("{head}...");
    }
    let head: String = chars[..12].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}...{tail}")
}

fn money(d: Decimal) -> String {
    d.normalize().to_string()
}

async fn key(State(sh): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    count(&sh);
    let Some(k) = bearer(&headers) else { return missing_auth_key() };
    let now = sh.now_ms();
    let limit = sh.config.free_daily_limit;
    let (used, spent) = {
        let mut g = sh.lock();
        (g.limits.used_today(&k, now), g.spend.get(&k).copied().unwrap_or_default())
    };
    let spent = money(spent);
    let free = Obj::new().num("used", used).num("limit", limit).num("remaining", limit.saturating_sub(used)).end();
    let data = Obj::new()
        .str("label", &mask(&k))
        .null("limit")
        .null("limit_remaining")
        .null("limit_reset")
        .bool("include_byok_in_limit", false)
        .raw("usage", &spent)
        .raw("usage_daily", &spent)
        .raw("usage_weekly", &spent)
        .raw("usage_monthly", &spent)
        .num("byok_usage", 0)
        .num("byok_usage_daily", 0)
        .num("byok_usage_weekly", 0)
        .num("byok_usage_monthly", 0)
        .bool("is_free_tier", limit < 1000)
        .bool("is_management_key", false)
        .bool("is_provisioning_key", false)
        .str("creator_user_id", &failures::user_id(&k))
        .null("expires_at")
        .raw("allowed_data_regions", "[\"global\"]")
        .null("organization_id")
        .null("workspace_id")
        .raw("free_model_daily_requests", &free)
        .raw(
            "rate_limit",
            "{\"requests\":-1,\"interval\":\"10s\",\"note\":\"This field is deprecated and safe to ignore.\"}",
        )
        .end();
    json_ok(Obj::new().raw("data", &data).end())
}

async fn credits(State(sh): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    count(&sh);
    if bearer(&headers).is_none() {
        return missing_auth_key();
    }
    let spent = sh.lock().total_spend;
    let data = Obj::new().num("total_credits", 25).raw("total_usage", &money(spent)).end();
    json_ok(Obj::new().raw("data", &data).end())
}

#[derive(Deserialize)]
struct GenQuery {
    id: Option<String>,
}

fn timestamp(ms: i64) -> String {
    let ts = jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    format!("{}.{:06}+00:00", ts.strftime("%Y-%m-%dT%H:%M:%S"), ms.rem_euclid(1000) * 1000)
}

async fn generation(
    State(sh): State<Arc<Shared>>,
    headers: HeaderMap,
    q: Result<Query<GenQuery>, QueryRejection>,
) -> Response {
    count(&sh);
    if bearer(&headers).is_none() {
        return missing_auth_key();
    }
    let id = q.ok().and_then(|Query(q)| q.id).unwrap_or_default();
    let rec = sh.lock().generations.get(&id).cloned();
    let lag = sh.config.generation_lag;
    // Like OpenRouter, a record appears only some time after the generation ends.
    let Some(rec) = rec.filter(|r| r.finished.is_some_and(|f| f.elapsed() >= lag)) else {
        return reply(failures::generation_not_found());
    };
    let cost = money(rec.cost);
    let upstream = format!("chatcmpl-{}", id.rsplit('-').next().unwrap_or_default());
    let attempt = Obj::new()
        .str("id", &upstream)
        .str("endpoint_id", "ep_sim")
        .str("model_permaslug", &rec.model)
        .str("provider_name", rec.provider)
        .num("status", 200)
        .num("latency", rec.latency_ms)
        .bool("is_byok", false)
        .end();
    let data = Obj::new()
        .str("id", &id)
        .str("upstream_id", &upstream)
        .str("request_id", &format!("req-{}", id.trim_start_matches("gen-")))
        .raw("total_cost", &cost)
        .raw("cache_discount", &if rec.cached_tokens > 0 { money(rec.cache_discount) } else { "null".into() })
        .raw("upstream_inference_cost", &cost)
        .raw("usage", &cost)
        .str("created_at", &timestamp(rec.created_ms))
        .str("model", &rec.model)
        .null("app_id")
        .bool("streamed", rec.streamed)
        .bool("cancelled", rec.cancelled)
        .str("provider_name", rec.provider)
        .num("latency", rec.latency_ms)
        .null("moderation_latency")
        .num("generation_time", rec.generation_ms)
        .str("finish_reason", &rec.finish_reason)
        .str("native_finish_reason", &rec.native_finish_reason)
        .num("tokens_prompt", rec.prompt_tokens)
        .num("tokens_completion", rec.completion_tokens)
        .num("native_tokens_prompt", rec.prompt_tokens)
        .num("native_tokens_completion", rec.completion_tokens)
        .num("native_tokens_completion_images", 0)
        .num("native_tokens_reasoning", rec.reasoning_tokens)
        .num("native_tokens_cached", rec.cached_tokens)
        .null("num_media_prompt")
        .null("num_input_audio_prompt")
        .null("num_media_completion")
        .null("num_search_results")
        .null("num_fetches")
        .str("origin", "")
        .bool("is_byok", false)
        .str("api_type", "completions")
        .null("router")
        .null("preset_id")
        .null("external_user")
        .null("http_referer")
        .null("user_agent")
        .str("service_tier", "default")
        .null("session_id")
        .str("data_region", "global")
        .null("web_search_engine")
        .null("response_cache_source_id")
        .null("workspace_id")
        .raw("provider_responses", &format!("[{attempt}]"))
        .end();
    json_ok(Obj::new().raw("data", &data).end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_times() {
        assert_eq!(mask("sk-or-v1-3c1aaaaaaaaaaaa9e4f"), "sk-or-v1-3c1...9e4f");
        assert_eq!(mask("k"), "k...");
        assert_eq!(timestamp(1_787_651_234_433), "2026-08-25T09:47:14.433000+00:00");
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer  abc "));
        assert_eq!(bearer(&h).as_deref(), Some("abc"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer(&h), None);
    }
}
