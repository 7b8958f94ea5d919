//! OpenRouter error bodies (shapes and messages of the captured fixtures) and the non-JSON
//! failures a client meets in the wild (HTML pages, empty and garbage bodies).

use super::model::{Failure, ModelSpec, provider_name};
use super::util::{Obj, fnv1a, quoted};

/// A complete error response, independent of the HTTP framework.
#[derive(Clone, Debug)]
pub struct ErrorReply {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

fn json(status: u16, body: String) -> ErrorReply {
    ErrorReply { status, content_type: "application/json", headers: Vec::new(), body }
}

/// Stable fake account id per key, as sent next to `error` in many bodies.
pub fn user_id(key: &str) -> String {
    let mut rng = super::util::Rng::new(fnv1a(&[b"user", key.as_bytes()]));
    format!("user_{}", rng.alnum(27))
}

fn with_user(error: String, key: &str) -> String {
    Obj::new().raw("error", &error).str("user_id", &user_id(key)).end()
}

pub fn missing_auth() -> ErrorReply {
    json(
        401,
        Obj::new().raw("error", &Obj::new().str("message", "No auth credentials found").num("code", 401).end()).end(),
    )
}

pub fn bad_request(message: &str) -> ErrorReply {
    let err = Obj::new()
        .num("code", 400)
        .str("message", message)
        .raw("metadata", &Obj::new().str("error_type", "invalid_request").end())
        .end();
    json(400, Obj::new().raw("error", &err).end())
}

/// Anthropic's answer (through OpenRouter) when a thinking model's tool calls come back
/// without the signed reasoning that preceded them.
pub fn reasoning_not_passed_back() -> ErrorReply {
    let err = Obj::new()
        .num("code", 400)
        .str(
            "message",
            "messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`. When `thinking` is enabled, a final `assistant` message must start with a thinking block.",
        )
        .raw("metadata", &Obj::new().str("provider_name", "Anthropic").end())
        .end();
    json(400, Obj::new().raw("error", &err).end())
}

/// Google's compatibility endpoint when a function call comes back without the thought
/// signature it was given (an array-wrapped error, as Google sends them).
pub fn gemini_missing_signature() -> ErrorReply {
    let err = Obj::new()
        .num("code", 400)
        .str(
            "message",
            "Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly.",
        )
        .str("status", "INVALID_ARGUMENT")
        .end();
    json(400, format!("[{}]", Obj::new().raw("error", &err).end()))
}

pub fn generation_not_found() -> ErrorReply {
    json(404, Obj::new().raw("error", &Obj::new().num("code", 404).str("message", "Generation not found").end()).end())
}

pub fn not_found_route() -> ErrorReply {
    json(404, Obj::new().raw("error", &Obj::new().num("code", 404).str("message", "Not Found").end()).end())
}

fn rate_headers(limit: u32, reset_ms: i64) -> Vec<(&'static str, String)> {
    vec![
        ("X-RateLimit-Limit", limit.to_string()),
        ("X-RateLimit-Remaining", "0".to_string()),
        ("X-RateLimit-Reset", reset_ms.to_string()),
    ]
}

fn rate_meta_headers(limit: u32, reset_ms: i64) -> String {
    Obj::new()
        .str("X-RateLimit-Limit", &limit.to_string())
        .str("X-RateLimit-Remaining", "0")
        .str("X-RateLimit-Reset", &reset_ms.to_string())
        .end()
}

/// `free-models-per-min` (error-429-free-rpm.json + .headers).
pub fn free_per_minute(key: &str, limit: u32, reset_ms: i64) -> ErrorReply {
    let meta = Obj::new().raw("headers", &rate_meta_headers(limit, reset_ms)).null("provider_name").end();
    let err = Obj::new()
        .str("message", "Rate limit exceeded: free-models-per-min. ")
        .num("code", 429)
        .raw("metadata", &meta)
        .end();
    let mut r = json(429, with_user(err, key));
    r.headers = rate_headers(limit, reset_ms);
    r
}

/// `free-models-per-day` (error-429-free-daily.json + .headers); the high-balance wording when
/// the configured cap is the 1000/day tier.
pub fn free_per_day(key: &str, limit: u32, reset_ms: i64) -> ErrorReply {
    let message = if limit >= 1000 {
        "Rate limit exceeded: free-models-per-day-high-balance. ".to_string()
    } else {
        "Rate limit exceeded: free-models-per-day. Add 10 credits to unlock 1000 free model requests per day"
            .to_string()
    };
    let meta = Obj::new()
        .raw("headers", &rate_meta_headers(limit, reset_ms))
        .null("provider_name")
        .str("limit_source", "openrouter_free_tier_daily")
        .str("error_type", "rate_limit_exceeded")
        .end();
    let err = Obj::new().str("message", &message).num("code", 429).raw("metadata", &meta).end();
    let mut r = json(429, with_user(err, key));
    r.headers = rate_headers(limit, reset_ms);
    r
}

/// `flagged_input`: at most 100 chars, the middle elided with `...` (§5.5).
fn flagged(input: &str) -> String {
    let chars: Vec<char> = input.chars().collect();
    if chars.len() <= 100 {
        return input.to_string();
    }
    let head: String = chars[..48].iter().collect();
    let tail: String = chars[chars.len() - 49..].iter().collect();
    format!("{head}...{tail}")
}

/// The body for a failure directive. `now_ms` feeds the 429 reset values.
pub fn for_directive(
    f: Failure,
    spec: &ModelSpec,
    key: &str,
    prompt: &str,
    now_ms: i64,
    daily_limit: u32,
    per_minute: u32,
) -> ErrorReply {
    let provider = provider_name(spec);
    let model = spec.base.as_str();
    let simple = |code: u16, message: &str| {
        json(code, with_user(Obj::new().str("message", message).num("code", code).end(), key))
    };
    match f {
        Failure::Unauthorized => {
            json(401, Obj::new().raw("error", &Obj::new().str("message", "User not found.").num("code", 401).end()).end())
        }
        Failure::Credits => {
            let meta = Obj::new()
                .null("provider_name")
                .str("limit_source", "openrouter_credits")
                .str("error_type", "payment_required")
                .end();
            let msg = "Insufficient credits. Add more using https://openrouter.ai/settings/credits";
            json(402, with_user(Obj::new().num("code", 402).str("message", msg).raw("metadata", &meta).end(), key))
        }
        Failure::KeyLimit => {
            let meta = Obj::new().null("provider_name").str("limit_source", "openrouter_key_limit").end();
            let msg = "Key limit exceeded (monthly limit). Manage it using https://openrouter.ai/settings/keys";
            json(402, with_user(Obj::new().num("code", 402).str("message", msg).raw("metadata", &meta).end(), key))
        }
        Failure::Moderation => {
            let meta = Obj::new()
                .raw("reasons", "[\"violence\"]")
                .str("flagged_input", &flagged(prompt))
                .str("provider_name", provider)
                .str("model_slug", model)
                .end();
            let msg = format!(
                "{model} requires moderation on {provider}. Your input was flagged for \"violence\". No credits were charged."
            );
            json(403, with_user(Obj::new().num("code", 403).str("message", &msg).raw("metadata", &meta).end(), key))
        }
        Failure::DataPolicy => simple(
            404,
            "No endpoints found matching your data policy (Free model publication). Configure: https://openrouter.ai/settings/privacy",
        ),
        Failure::NoToolEndpoints => simple(
            404,
            "No endpoints found that support tool use. To learn more about provider routing, visit: https://openrouter.ai/docs/provider-routing",
        ),
        Failure::ModelNotFound => {
            let availability = Obj::new()
                .str("code", "model_not_found")
                .bool("retryable", false)
                .raw("requested_models", &format!("[{}]", quoted(model)))
                .str("docs_url", "https://openrouter.ai/docs/errors#model_not_found")
                .end();
            let err = Obj::new()
                .num("code", 400)
                .str("message", &format!("{model} is not a valid model ID"))
                .str("error_type", "invalid_request")
                .num("http_status", 400)
                .raw("availability", &availability)
                .raw("metadata", &Obj::new().str("error_type", "invalid_request").end())
                .end();
            json(400, Obj::new().raw("error", &err).end())
        }
        Failure::RateMinute => free_per_minute(key, per_minute, super::limits::next_minute_ms(now_ms)),
        Failure::RateDay => free_per_day(key, daily_limit, super::limits::next_midnight_ms(now_ms)),
        Failure::RateUpstream => {
            let raw = format!(
                "{model} is temporarily rate-limited upstream. Please retry shortly, or add your own key to accumulate your rate limits: https://openrouter.ai/settings/integrations"
            );
            let meta = Obj::new()
                .str("raw", &raw)
                .str("provider_name", provider)
                .bool("is_byok", false)
                .num("retry_after_seconds", 18)
                .raw("headers", &Obj::new().str("Retry-After", "18").end())
                .str("error_type", "rate_limit_exceeded")
                .str("limit_source", "upstream_provider_shared_pool")
                .end();
            let err = Obj::new().str("message", "Provider returned error").num("code", 429).raw("metadata", &meta).end();
            let mut r = json(429, with_user(err, key));
            r.headers.push(("Retry-After", "18".to_string()));
            r
        }
        Failure::Internal => {
            let meta = Obj::new().str("error_type", "server").end();
            json(500, Obj::new().raw("error", &Obj::new().num("code", 500).str("message", "Internal Server Error").raw("metadata", &meta).end()).end())
        }
        Failure::BadGateway => {
            let meta = Obj::new()
                .str("raw", "{\"error\":{\"message\":\"upstream connect error or disconnect/reset before headers\",\"type\":\"server_error\"}}")
                .str("provider_name", provider)
                .bool("is_byok", false)
                .str("error_type", "provider_unavailable")
                .end();
            let err = Obj::new().num("code", 502).str("message", "Provider returned error").raw("metadata", &meta).end();
            json(502, with_user(err, key))
        }
        Failure::Unavailable => {
            let meta = Obj::new().str("error_type", "provider_overloaded").end();
            let msg = "No available model provider that meets your routing requirements";
            let mut r = json(503, with_user(Obj::new().num("code", 503).str("message", msg).raw("metadata", &meta).end(), key));
            r.headers.push(("Retry-After", "2".to_string()));
            r
        }
        Failure::Html => ErrorReply {
            status: 502,
            content_type: "text/html; charset=UTF-8",
            headers: Vec::new(),
            body: "<!DOCTYPE html>\n<html>\n<head><title>502 Bad Gateway</title></head>\n<body>\n<center><h1>502 Bad Gateway</h1></center>\n<hr><center>cloudflare</center>\n</body>\n</html>\n".to_string(),
        },
        Failure::Empty => ErrorReply { status: 500, content_type: "application/json", headers: Vec::new(), body: String::new() },
        // A truncated proxy body that claims to be JSON.
        Failure::Garbage => ErrorReply {
            status: 500,
            content_type: "application/json",
            headers: Vec::new(),
            body: "{\"error\":{\"code\":500,\"mess\u{fffd}\u{1}upstream_reset<<".to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_parse_and_match_fixture_shapes() {
        let spec = ModelSpec::parse("openai/gpt-4o");
        for f in [
            Failure::Unauthorized,
            Failure::Credits,
            Failure::KeyLimit,
            Failure::Moderation,
            Failure::DataPolicy,
            Failure::NoToolEndpoints,
            Failure::ModelNotFound,
            Failure::RateMinute,
            Failure::RateDay,
            Failure::RateUpstream,
            Failure::Internal,
            Failure::BadGateway,
            Failure::Unavailable,
        ] {
            let r = for_directive(f, &spec, "k", &"x".repeat(300), 1_787_651_401_000, 50, 20);
            let v: serde_json::Value = serde_json::from_str(&r.body).unwrap_or_default();
            assert_eq!(v["error"]["code"].as_u64(), Some(u64::from(r.status)), "{f:?}");
        }
        let r = for_directive(Failure::RateDay, &spec, "k", "", 1_787_651_401_000, 50, 20);
        assert!(r.body.contains("\"X-RateLimit-Reset\":\"1787702400000\""));
        assert!(flagged(&"y".repeat(300)).chars().count() <= 100);
    }
}
