//! Classifies upstream failures (non-2xx responses, and `error` objects inside 200 streams or
//! bodies) into a `CoreError` whose message says what happened and what to do, with the reset
//! time when the upstream tells it. Never panics on any body: JSON objects, Gemini's JSON
//! arrays, HTML pages, empty or binary bodies.

mod body;
mod messages;
mod rate_limit;

use std::time::SystemTime;

use jiff::Timestamp;
use reqwest::header::HeaderMap;
use serde_json::Value;

use self::body::{
    Body, MAX_EXCERPT, MAX_UPSTREAM, MAX_UPSTREAM_FULL, after_secs, clean, error_object, parse_body, parse_go_duration,
    parse_reset, parse_retry_after, secs_of, status_of, str_of,
};
use crate::core::error::{CoreError, ErrorKind};
use crate::core::provider::ProviderKind;

/// Who was called, for messages: which provider, which model, which env var holds the key.
#[derive(Debug, Clone, Copy)]
pub struct ErrorContext<'a> {
    /// The configured provider name (`openrouter`, `gemini`, `local`).
    pub provider_name: &'a str,
    pub kind: ProviderKind,
    /// The model id sent upstream.
    pub model: &'a str,
    /// The environment variable holding the key, named in 401 messages (never the key).
    pub api_key_env: Option<&'a str>,
    /// Where the request went, when known. An OpenRouter provider pointed at another host
    /// (`--base-url` to LiteLLM, a local server) is worded as that server, not as OpenRouter.
    pub base_url: Option<&'a str>,
}

/// Classify a non-2xx HTTP response into a `CoreError` with `status` set, a user-facing message,
/// `retry_at` when known and the upstream's own message (sanitized, short).
pub fn classify_http_error(ctx: &ErrorContext<'_>, status: u16, headers: &HeaderMap, body: &[u8]) -> CoreError {
    classify_http_error_at(ctx, status, headers, body, SystemTime::now())
}

/// [`classify_http_error`] with an explicit clock, so reset times relative to "now" (daily
/// midnights, `Retry-After: 18`) are deterministic in tests and the simulator.
pub fn classify_http_error_at(
    ctx: &ErrorContext<'_>,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> CoreError {
    let parsed = parse_body(body);
    let (err, excerpt) = match &parsed {
        Body::Json(v) => match error_object(v) {
            Some(e) => (Some(e), None),
            None => (None, Some(format!("unexpected JSON: {}", clean(&v.to_string(), MAX_EXCERPT)))),
        },
        Body::Text { excerpt, html: true } => (None, Some(format!("an HTML page: \"{excerpt}\""))),
        Body::Text { excerpt, html: false } => (None, Some(format!("a non-JSON body: \"{excerpt}\""))),
        Body::Empty => (None, Some("an empty body".to_owned())),
    };
    let foreign = ctx.kind == ProviderKind::Openrouter
        && ctx.base_url.is_some_and(|u| !crate::core::provider::is_openrouter_host(u));
    let kind = if foreign { ProviderKind::OpenaiCompatible } else { ctx.kind };
    let mut facts =
        Facts::new(kind, ctx.provider_name, ctx.model, ctx.api_key_env, Some(status), Some(headers), err, now);
    if foreign && let Some(url) = ctx.base_url {
        facts.label = format!("The server at {}", crate::core::provider::host_of(url));
    }
    let mut e = facts.decide(excerpt.as_deref(), true);
    e.status = Some(status);
    e
}

/// The `error` object of a mid-stream chunk or of a 200 body → `CoreError`. Failures that do
/// not map to a more specific kind (rate limits, credits, moderation, …) are `MidStream`.
pub fn classify_error_object(ctx_kind: ProviderKind, status_hint: Option<u16>, error: &Value) -> CoreError {
    // `{"error":"text"}` carries only a message.
    let wrapped;
    let error = match error {
        Value::String(s) => {
            wrapped = serde_json::json!({ "message": s });
            &wrapped
        }
        other => other,
    };
    let status = status_hint.or_else(|| status_of(error.get("code"))).or_else(|| status_of(error.get("http_status")));
    let facts = Facts::new(ctx_kind, "", "", None, status, None, Some(error), SystemTime::now());
    let mut e = facts.decide(None, false);
    e.status = status;
    e
}

/// Everything the decision reads, extracted once.
struct Facts<'a> {
    kind: ProviderKind,
    label: String,
    model: &'a str,
    key_env: Option<&'a str>,
    status: Option<u16>,
    headers: Option<&'a HeaderMap>,
    err: Option<&'a Value>,
    /// The upstream message, cleaned and short; includes `metadata.raw` when the message is generic.
    message: String,
    /// The same, whole (up to `MAX_UPSTREAM_FULL`), for `upstream_message`.
    full_message: String,
    /// `metadata.raw` alone, cleaned.
    raw: Option<String>,
    /// Lower-cased `message` for substring tests.
    lower: String,
    error_type: Option<&'a str>,
    /// Non-numeric `code`, OpenAI/Ollama `type`, or Google `status`, lower-cased.
    codes: Vec<String>,
    limit_source: Option<&'a str>,
    availability: Option<&'a Value>,
    now: Timestamp,
}

struct Decision {
    kind: ErrorKind,
    message: String,
    retry_at: Option<Timestamp>,
}

fn decision(kind: ErrorKind, message: String) -> Decision {
    Decision { kind, message, retry_at: None }
}

impl<'a> Facts<'a> {
    #[allow(clippy::too_many_arguments)] // one field per fact of an error; a builder would add nothing here
    fn new(
        kind: ProviderKind,
        provider_name: &str,
        model: &'a str,
        key_env: Option<&'a str>,
        status: Option<u16>,
        headers: Option<&'a HeaderMap>,
        err: Option<&'a Value>,
        now: SystemTime,
    ) -> Self {
        let label = match kind {
            ProviderKind::Openrouter => "OpenRouter".to_owned(),
            ProviderKind::Gemini => "Gemini".to_owned(),
            ProviderKind::Openai => "OpenAI".to_owned(),
            ProviderKind::OpenaiCompatible if provider_name.is_empty() => "The server".to_owned(),
            ProviderKind::OpenaiCompatible => format!("Provider '{provider_name}'"),
        };
        let meta = err.and_then(|e| e.get("metadata"));
        let mut message = str_of(err.and_then(|e| e.get("message")))
            .or_else(|| str_of(err.and_then(|e| e.get("detail"))))
            .map(|m| clean(m, MAX_UPSTREAM_FULL))
            .unwrap_or_default();
        let raw = meta.and_then(|m| m.get("raw")).map(raw_text).filter(|r| !r.is_empty());
        if let Some(raw) = &raw {
            let provider = str_of(meta.and_then(|m| m.get("provider_name")));
            let joined = match provider {
                Some(p) => format!("{message} ({p}: {raw})"),
                None => format!("{message} ({raw})"),
            };
            message = clean(&joined, MAX_UPSTREAM_FULL);
        }
        let full_message = message.clone();
        let message = clean(&message, MAX_UPSTREAM);
        let raw = raw.map(|r| clean(&r, MAX_EXCERPT));
        let mut codes = Vec::new();
        for key in ["code", "type", "status"] {
            if let Some(s) = err.and_then(|e| e.get(key)).and_then(Value::as_str)
                && s.trim().parse::<u16>().is_err()
            {
                codes.push(s.to_ascii_lowercase());
            }
        }
        Facts {
            kind,
            label,
            model,
            key_env,
            status,
            headers,
            err,
            lower: message.to_lowercase(),
            message,
            full_message,
            raw,
            error_type: str_of(meta.and_then(|m| m.get("error_type")))
                .or_else(|| str_of(err.and_then(|e| e.get("error_type")))),
            codes,
            limit_source: str_of(meta.and_then(|m| m.get("limit_source"))),
            availability: err.and_then(|e| e.get("availability")).filter(|a| a.is_object()),
            now: Timestamp::try_from(now).unwrap_or(Timestamp::UNIX_EPOCH),
        }
    }

    fn has(&self, needle: &str) -> bool {
        self.lower.contains(needle)
    }

    fn code_is(&self, code: &str) -> bool {
        self.codes.iter().any(|c| c == code)
    }

    fn meta(&self, key: &str) -> Option<&'a Value> {
        self.err.and_then(|e| e.get("metadata")).and_then(|m| m.get(key))
    }

    /// A response header, or its copy in `metadata.headers` (OpenRouter), case-insensitively.
    fn header(&self, name: &str) -> Option<String> {
        if let Some(v) = self.headers.and_then(|h| h.get(name)).and_then(|v| v.to_str().ok()) {
            return Some(v.to_owned());
        }
        let copied = self.meta("headers")?.as_object()?;
        copied.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).and_then(|(_, v)| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    }

    /// ` (upstream text)` for messages, or ` (HTTP 503 with an HTML page: "…")` for bodies that
    /// carried no JSON error.
    /// When the body wrapped a provider's own error (`metadata.raw`), that text is the useful
    /// part: "Provider returned error" adds nothing.
    fn detail(&self, excerpt: Option<&str>) -> String {
        match (excerpt, &self.raw, self.message.is_empty()) {
            (Some(ex), _, _) => match self.status {
                Some(s) => format!(" (HTTP {s} with {ex})"),
                None => format!(" ({ex})"),
            },
            (None, Some(raw), _) => format!(" ({raw})"),
            (None, None, false) => format!(" ({})", self.message),
            (None, None, true) => self.status.map(|s| format!(" (HTTP {s})")).unwrap_or_default(),
        }
    }

    /// The first parenthetical of the upstream message, e.g. ` (monthly limit)`.
    fn paren(&self) -> String {
        self.message
            .split_once('(')
            .and_then(|(_, r)| r.split_once(')'))
            .map(|(p, _)| format!(" ({p})"))
            .unwrap_or_default()
    }

    fn model_ref(&self) -> String {
        if self.model.is_empty() { "the model".to_owned() } else { format!("'{}'", self.model) }
    }

    /// The status that decides the category: typed fields first (`availability.code`,
    /// `error_type`), then the HTTP status or `code`, then Google's `status` and message text.
    fn category(&self) -> Option<u16> {
        if let Some(code) = self.availability.and_then(|a| str_of(a.get("code"))) {
            let s = match code {
                "model_not_found" | "wrong_endpoint" => Some(400),
                "region_restricted" => Some(403),
                "no_endpoints"
                | "model_deprecated"
                | "model_unavailable_upstream"
                | "privacy_restricted"
                | "constraint_filtered"
                | "free_variant_ended" => Some(404),
                "capacity_exhausted" => Some(429),
                "temporarily_unavailable" => Some(503),
                _ => None,
            };
            if s.is_some() {
                return s;
            }
        }
        if let Some(t) = self.error_type {
            let s = match t {
                "authentication" => Some(401),
                "payment_required" => Some(402),
                "permission_denied" => Some(403),
                "not_found" | "image_not_found" => Some(404),
                "payload_too_large" => Some(413),
                "unprocessable" => Some(422),
                "rate_limit_exceeded" => Some(429),
                "provider_unavailable" => Some(502),
                "provider_overloaded" => Some(503),
                "timeout" => Some(504),
                "server" | "unmapped" => Some(500),
                "precondition_failed" => Some(412),
                _ if !t.is_empty() && self.status.is_none_or(|s| s < 500) => Some(400),
                _ => None,
            };
            if s.is_some() {
                return s;
            }
        }
        if self.status.is_some() {
            return self.status;
        }
        let by_code = [
            ("resource_exhausted", 429),
            ("rate_limit_exceeded", 429),
            ("unauthenticated", 401),
            ("invalid_api_key", 401),
            ("permission_denied", 403),
            ("not_found", 404),
            ("not_found_error", 404),
            ("model_not_found", 404),
            ("invalid_argument", 400),
            ("invalid_request_error", 400),
            ("insufficient_quota", 402),
            ("unavailable", 503),
            ("internal", 500),
            ("server_error", 500),
        ];
        if let Some((_, s)) = by_code.iter().find(|(c, _)| self.code_is(c)) {
            return Some(*s);
        }
        if self.has("rate limit") || self.has("rate-limit") || self.has("quota") {
            return Some(429);
        }
        None
    }

    fn decide(&self, excerpt: Option<&str>, http: bool) -> CoreError {
        let cat = self.category();
        let mut d = match cat {
            // A few cases are recognised by their own markers whatever the status says.
            _ if self.is_moderation() => self.moderation(),
            _ if self.is_model_not_found() => self.model_not_found(excerpt),
            _ if self.has("api key not valid") || self.code_is("invalid_api_key") => self.unauthorized(excerpt),
            _ if self.code_is("insufficient_quota") => self.payment(excerpt),
            Some(401) => self.unauthorized(excerpt),
            Some(402) => self.payment(excerpt),
            Some(403) => self.forbidden(excerpt),
            Some(404) => self.not_found(excerpt, http),
            Some(408) => decision(
                ErrorKind::Timeout,
                format!("{} timed out waiting for the request{}: retry.", self.label, self.detail(excerpt)),
            ),
            Some(413) => decision(
                ErrorKind::BadRequest,
                format!(
                    "The request is too large for {}{}: shorten the conversation or attachments.",
                    self.label,
                    self.detail(excerpt)
                ),
            ),
            Some(429) => self.rate_limit(excerpt),
            Some(s @ 500..=599) => self.server(s, excerpt, http),
            Some(400..=499) => self.bad_request(excerpt),
            _ if !http => self.server(500, excerpt, false),
            _ => decision(
                ErrorKind::MalformedResponse,
                format!(
                    "{} answered with an unexpected response{}: retry; if it persists, check the provider's base_url.",
                    self.label,
                    self.detail(excerpt)
                ),
            ),
        };
        // An `availability.retry_after` applies to whatever kind was chosen.
        if d.retry_at.is_none() && d.kind.is_transient() {
            d.retry_at = self.retry_hint();
        }
        let mut e = CoreError::new(d.kind, d.message);
        e.retry_at = d.retry_at.map(SystemTime::from);
        if !self.full_message.is_empty() {
            e.upstream_message = Some(self.full_message.clone());
        } else if let Some(ex) = excerpt {
            e.upstream_message = Some(ex.to_owned());
        }
        e
    }

    /// Generic retry hints: the body's own delay fields, then the headers servers use to say
    /// when to come back: `Retry-After` (seconds or an HTTP date) and its millisecond form,
    /// LiteLLM's `llm_provider-retry-after`, OpenAI's `x-ratelimit-reset-requests`/`-tokens`
    /// durations (the later of the two), and `X-RateLimit-Reset` (epoch ms or s, or seconds).
    fn retry_hint(&self) -> Option<Timestamp> {
        let now = self.now;
        secs_of(self.meta("retry_after_seconds"))
            .or_else(|| secs_of(self.availability.and_then(|a| a.get("retry_after"))))
            .and_then(|s| after_secs(now, s))
            .or_else(|| {
                let ms = self.header("retry-after-ms")?.trim().parse::<f64>().ok()?;
                after_secs(now, ms / 1000.0)
            })
            .or_else(|| self.header("retry-after").and_then(|v| parse_retry_after(&v, now)))
            .or_else(|| self.header("llm_provider-retry-after").and_then(|v| parse_retry_after(&v, now)))
            .or_else(|| {
                ["x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"]
                    .iter()
                    .filter_map(|h| self.header(h).and_then(|v| parse_go_duration(&v, now)))
                    .max()
            })
            .or_else(|| self.header("x-ratelimit-reset").and_then(|v| parse_reset(&v, now)))
    }

    fn is_moderation(&self) -> bool {
        self.meta("reasons").is_some_and(Value::is_array) || (self.has("flagged for") && self.has("moderation"))
    }

    fn is_model_not_found(&self) -> bool {
        let avail = self.availability.and_then(|a| str_of(a.get("code")));
        matches!(avail, Some("model_not_found" | "model_deprecated" | "free_variant_ended"))
            || self.code_is("model_not_found")
            || self.has("is not a valid model id")
            || self.has("no endpoints found for ")
            // LiteLLM: "Invalid model name passed in model=…".
            || self.has("invalid model name")
            || (self.has("model") && (self.has("not found") || self.has("does not exist")) && !self.has("endpoints"))
    }

    /// `google.rpc.RetryInfo.retryDelay` ("41s").
    fn gemini_retry_delay(&self) -> Option<Timestamp> {
        let delay = self.err?.get("details")?.as_array()?.iter().find_map(|d| d.get("retryDelay"))?;
        after_secs(self.now, secs_of(Some(delay))?)
    }
}

/// `metadata.raw`: a string (sometimes JSON-encoded: take its inner message) or an object.
fn raw_text(raw: &Value) -> String {
    let inner = |v: &Value| -> Option<String> {
        let e = error_object(v).unwrap_or(v);
        str_of(e.get("message")).or_else(|| e.as_str()).map(str::to_owned)
    };
    match raw {
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(v @ (Value::Object(_) | Value::Array(_))) => inner(&v).unwrap_or_else(|| s.clone()),
            _ => s.clone(),
        },
        Value::Null => String::new(),
        other => inner(other).unwrap_or_else(|| other.to_string()),
    }
}
