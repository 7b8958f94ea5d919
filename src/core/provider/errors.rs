//! Classifies upstream failures (non-2xx responses, and `error` objects inside 200 streams or
//! bodies) into a `CoreError` whose message says what happened and what to do, with the reset
//! time when the upstream tells it. Never panics on any body: JSON objects, Gemini's JSON
//! arrays, HTML pages, empty or binary bodies.

mod body;

use std::time::SystemTime;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use reqwest::header::HeaderMap;
use serde_json::Value;

use self::body::{
    Body, MAX_EXCERPT, MAX_UPSTREAM, after_secs, clean, error_object, fmt_in, fmt_utc_datetime, fmt_utc_time,
    next_midnight, number_after, parse_body, parse_reset, parse_retry_after, secs_of, status_of, str_of, unknown_field,
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
    let facts =
        Facts::new(ctx.kind, ctx.provider_name, ctx.model, ctx.api_key_env, Some(status), Some(headers), err, now);
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
    /// The upstream message, cleaned; includes `metadata.raw` when the message is generic.
    message: String,
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
    #[allow(clippy::too_many_arguments)]
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
            .map(|m| clean(m, MAX_UPSTREAM))
            .unwrap_or_default();
        if let Some(raw) = meta.and_then(|m| m.get("raw")) {
            let raw = raw_text(raw);
            if !raw.is_empty() {
                let provider = str_of(meta.and_then(|m| m.get("provider_name")));
                let joined = match provider {
                    Some(p) => format!("{message} ({p}: {raw})"),
                    None => format!("{message} ({raw})"),
                };
                message = clean(&joined, MAX_UPSTREAM);
            }
        }
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
    fn detail(&self, excerpt: Option<&str>) -> String {
        match (excerpt, self.message.is_empty()) {
            (Some(ex), _) => match self.status {
                Some(s) => format!(" (HTTP {s} with {ex})"),
                None => format!(" ({ex})"),
            },
            (None, false) => format!(" ({})", self.message),
            (None, true) => self.status.map(|s| format!(" (HTTP {s})")).unwrap_or_default(),
        }
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
        if !self.message.is_empty() {
            e.upstream_message = Some(self.message.clone());
        } else if let Some(ex) = excerpt {
            e.upstream_message = Some(ex.to_owned());
        }
        e
    }

    /// Generic retry hints: the body's own delay fields, then `Retry-After`.
    fn retry_hint(&self) -> Option<Timestamp> {
        secs_of(self.meta("retry_after_seconds"))
            .or_else(|| secs_of(self.availability.and_then(|a| a.get("retry_after"))))
            .and_then(|s| after_secs(self.now, s))
            .or_else(|| self.header("retry-after").and_then(|v| parse_retry_after(&v, self.now)))
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
            || (self.has("model") && (self.has("not found") || self.has("does not exist")) && !self.has("endpoints"))
    }

    fn moderation(&self) -> Decision {
        let reasons: Vec<&str> = self
            .meta("reasons")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let model = str_of(self.meta("model_slug")).map_or_else(|| self.model_ref(), |m| format!("'{m}'"));
        let by = str_of(self.meta("provider_name")).map(|p| format!(" by {p}'s moderation")).unwrap_or_default();
        let flagged = if reasons.is_empty() { String::new() } else { format!(" for: {}", reasons.join(", ")) };
        decision(
            ErrorKind::Moderation,
            format!(
                "The input to {model} was flagged{flagged}{by}; nothing was charged. Rephrase it, or ask a different model, which may accept it."
            ),
        )
    }

    fn model_not_found(&self, excerpt: Option<&str>) -> Decision {
        let fallback = self
            .availability
            .and_then(|a| a.get("fallback_models"))
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(Value::as_str);
        let avail = self.availability.and_then(|a| str_of(a.get("code")));
        let model = self.model_ref();
        let message = match (avail, fallback) {
            (Some("free_variant_ended"), Some(f)) => {
                format!("The free variant of {model} has ended: use '{f}' instead.")
            }
            (Some("model_deprecated"), _) => {
                format!("{model} has been retired by {}: pick another model (see `roundtable models`).", self.label)
            }
            _ if self.has("try pulling") || self.has("ollama") => {
                format!(
                    "{} does not have {model}{}: download it with `ollama pull {}` or check the id.",
                    self.label,
                    self.detail(excerpt),
                    self.model
                )
            }
            _ => format!(
                "{} does not know the model {model}{}: check the id with `roundtable models`.",
                self.label,
                self.detail(excerpt)
            ),
        };
        decision(ErrorKind::ModelNotFound, message)
    }

    fn unauthorized(&self, excerpt: Option<&str>) -> Decision {
        let keys_at = match self.kind {
            ProviderKind::Openrouter => " (keys: https://openrouter.ai/settings/keys)",
            ProviderKind::Gemini => " (keys: https://aistudio.google.com/apikey)",
            ProviderKind::Openai => " (keys: https://platform.openai.com/api-keys)",
            ProviderKind::OpenaiCompatible => "",
        };
        let what = match self.key_env {
            Some(env) => format!("check that the environment variable {env} holds a valid, enabled key{keys_at}."),
            None => format!("set api_key_env for this provider in the config and export a valid key{keys_at}."),
        };
        decision(
            ErrorKind::Unauthorized,
            format!("{} rejected the API key{}: {what}", self.label, self.detail(excerpt)),
        )
    }

    fn payment(&self, excerpt: Option<&str>) -> Decision {
        let message = if self.limit_source == Some("openrouter_key_limit") || self.has("key limit exceeded") {
            format!(
                "This API key reached its spend limit{}: raise or remove the per-key limit in the key settings at https://openrouter.ai/settings/keys, or use another key.",
                self.detail(excerpt)
            )
        } else if self.has("can only afford") || self.has("fewer max_tokens") {
            let by = match (
                number_after(&self.message, "requested up to"),
                number_after(&self.message, "can only afford"),
            ) {
                (Some(want), Some(can)) => {
                    format!(" ({want} requested, {can} affordable): lower max_tokens to {can} or less")
                }
                (None, Some(can)) => format!(": lower max_tokens to {can} or less"),
                _ => ": lower max_tokens".to_owned(),
            };
            format!(
                "The balance cannot cover max_tokens for {}{by} in this model's settings, or add credits at https://openrouter.ai/settings/credits.",
                self.model_ref()
            )
        } else if self.limit_source == Some("openrouter_in_flight_budget") {
            format!(
                "Too many requests are reserving credits at once{}: wait for running requests to finish, then retry.",
                self.detail(excerpt)
            )
        } else if self.code_is("insufficient_quota") {
            format!(
                "{} reports no remaining quota on this account{}: check the plan and billing settings.",
                self.label,
                self.detail(excerpt)
            )
        } else if self.kind == ProviderKind::Openrouter {
            format!(
                "The OpenRouter account is out of credits{}: add credits at https://openrouter.ai/settings/credits (a negative balance blocks even :free models).",
                self.detail(excerpt)
            )
        } else {
            format!("{} requires payment{}: check the account's credits or billing.", self.label, self.detail(excerpt))
        };
        decision(ErrorKind::PaymentRequired, message)
    }

    fn forbidden(&self, excerpt: Option<&str>) -> Decision {
        let avail = self.availability.and_then(|a| str_of(a.get("code")));
        let message = if self.has("key limit exceeded") {
            format!(
                "This API key reached its spend limit{}: raise or remove the per-key limit in the key settings at https://openrouter.ai/settings/keys.",
                self.detail(excerpt)
            )
        } else if avail == Some("region_restricted") || self.has("region") || self.has("country") {
            format!(
                "{} is not available from this region{}: pick another model or provider.",
                self.model_ref(),
                self.detail(excerpt)
            )
        } else if self.has("blocked") || self.has("guardrail") {
            format!(
                "A guardrail blocked the request{}: rephrase it or adjust the guardrail settings.",
                self.detail(excerpt)
            )
        } else if self.has("management key") {
            format!(
                "This endpoint needs a management key{}: create one at https://openrouter.ai/settings/keys.",
                self.detail(excerpt)
            )
        } else if self.code_is("permission_denied") && self.kind == ProviderKind::Gemini {
            format!(
                "Google refused the request{}: check that the API key's project has the Generative Language API enabled.",
                self.detail(excerpt)
            )
        } else {
            format!(
                "{} refused the request{}: check the key's permissions and the model's access requirements.",
                self.label,
                self.detail(excerpt)
            )
        };
        decision(ErrorKind::Forbidden, message)
    }

    fn not_found(&self, excerpt: Option<&str>, http: bool) -> Decision {
        let avail = self.availability;
        let excluded: Vec<&str> = avail
            .and_then(|a| a.get("excluded_by"))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let avail_code = avail.and_then(|a| str_of(a.get("code")));
        if self.has("data policy")
            || avail_code == Some("privacy_restricted")
            || excluded.iter().any(|e| e.starts_with("data_policy"))
        {
            let which = self
                .message
                .split_once('(')
                .and_then(|(_, r)| r.split_once(')'))
                .map(|(p, _)| format!(" ({p})"))
                .unwrap_or_default();
            return decision(
                ErrorKind::DataPolicy,
                format!(
                    "No endpoint of {} matches your data policy{which}. Enable the free-endpoint training/publication toggles at https://openrouter.ai/settings/privacy, or drop provider.data_collection / provider.zdr from this model's settings, or pick another model.",
                    self.model_ref()
                ),
            );
        }
        if self.has("tool use") || self.has("tool_choice") {
            return decision(
                ErrorKind::NoToolEndpoints,
                format!(
                    "{} has no tool-capable endpoint{}: pick a model whose supported parameters include tools (see `roundtable models`), relax provider.only/order/require_parameters, or resend without tools.",
                    self.model_ref(),
                    self.detail(excerpt)
                ),
            );
        }
        let message = if self.has("no endpoints") || avail_code.is_some() {
            let why =
                if excluded.is_empty() { String::new() } else { format!(" (excluded by: {})", excluded.join(", ")) };
            format!(
                "No available endpoint can serve {}{}{why}: relax the provider settings for this model or pick another model.",
                self.model_ref(),
                self.detail(excerpt)
            )
        } else if http && excerpt.is_some() {
            format!(
                "{} answered 404{}: check the provider's base_url (it should end in the API root, e.g. …/v1).",
                self.label,
                self.detail(excerpt)
            )
        } else {
            format!("{} could not find what was requested{}.", self.label, self.detail(excerpt))
        };
        decision(ErrorKind::NotFound, message)
    }

    fn bad_request(&self, excerpt: Option<&str>) -> Decision {
        let field = unknown_field(&self.message).map(str::to_owned).or_else(|| {
            let violations = self.err?.get("details")?.as_array()?;
            violations.iter().find_map(|d| {
                d.get("fieldViolations")?.as_array()?.iter().find_map(|v| {
                    str_of(v.get("field"))
                        .map(str::to_owned)
                        .or_else(|| str_of(v.get("description")).and_then(unknown_field).map(str::to_owned))
                })
            })
        });
        let message = if let Some(field) = field {
            format!(
                "{} rejected the request field '{field}'{}: its OpenAI-compatible endpoint accepts only OpenAI fields, so remove '{field}' from this model's settings.",
                self.label,
                self.detail(excerpt)
            )
        } else if matches!(
            self.error_type,
            Some("context_length_exceeded" | "token_limit_exceeded" | "string_too_long")
        ) || self.has("context length")
            || self.has("context window")
            || self.has("maximum context")
        {
            format!(
                "The conversation is too long for {}{}: shorten it, start a new room, or pick a model with a larger context.",
                self.model_ref(),
                self.detail(excerpt)
            )
        } else if self.error_type == Some("max_tokens_exceeded") || self.has("max_tokens") {
            format!(
                "{} rejected max_tokens{}: lower max_tokens in this model's settings.",
                self.label,
                self.detail(excerpt)
            )
        } else if matches!(self.error_type, Some("content_policy_violation" | "refusal")) {
            format!(
                "{} refused the prompt under its content policy{}: rephrase it or try another model.",
                self.model_ref(),
                self.detail(excerpt)
            )
        } else {
            format!("{} rejected the request{}: check this model's settings.", self.label, self.detail(excerpt))
        };
        decision(ErrorKind::BadRequest, message)
    }

    fn server(&self, status: u16, excerpt: Option<&str>, http: bool) -> Decision {
        let model = self.model_ref();
        let upstream = str_of(self.meta("provider_name")).map(|p| format!(" ({p})")).unwrap_or_default();
        if !http {
            return decision(
                ErrorKind::MidStream,
                format!(
                    "The provider{upstream} failed in the middle of the answer{}: the partial answer is kept; retry, or pick another model.",
                    self.detail(excerpt)
                ),
            );
        }
        let message = match status {
            502 => format!(
                "The provider{upstream} returned an error for {model}{}: retry, or pick another model.",
                self.detail(excerpt)
            ),
            503 => format!(
                "No provider can serve {model} right now{}: retry shortly, or pick another model.",
                self.detail(excerpt)
            ),
            504 | 524 => format!(
                "The provider{upstream} timed out on {model}{}: retry, or pick a faster model.",
                self.detail(excerpt)
            ),
            529 => format!(
                "The provider{upstream} is overloaded{}: retry shortly, or pick another model.",
                self.detail(excerpt)
            ),
            _ => format!("{} had an internal error{}: retry in a moment.", self.label, self.detail(excerpt)),
        };
        decision(ErrorKind::Server, message)
    }

    fn rate_limit(&self, excerpt: Option<&str>) -> Decision {
        if let Some(d) = self.gemini_quota() {
            return d;
        }
        let avail = self.availability.and_then(|a| str_of(a.get("code")));
        if self.limit_source == Some("openrouter_free_tier_daily") || self.has("free-models-per-day") {
            return self.free_daily();
        }
        if self.has("free-models-per-min") {
            let limit = self.header("x-ratelimit-limit").and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(20);
            let at = self
                .header("x-ratelimit-reset")
                .and_then(|v| parse_reset(&v, self.now))
                .or_else(|| self.header("retry-after").and_then(|v| parse_retry_after(&v, self.now)))
                .or_else(|| after_secs(self.now, 60.0));
            let when = at.map(|t| format!("; retrying at {}", fmt_utc_time(t))).unwrap_or_default();
            return Decision {
                kind: ErrorKind::RateLimitMinute,
                message: format!(
                    "The OpenRouter free-model limit of {limit} requests/minute (shared by all :free models) was reached{when}."
                ),
                retry_at: at,
            };
        }
        if avail == Some("capacity_exhausted") {
            let fallbacks: Vec<&str> = self
                .availability
                .and_then(|a| a.get("fallback_models"))
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let at = self.retry_hint();
            let when =
                at.map(|t| format!("retry after {}", fmt_utc_time(t))).unwrap_or_else(|| "retry shortly".to_owned());
            let alt = if fallbacks.is_empty() {
                ", or pick another model".to_owned()
            } else {
                format!(", or use {}", fallbacks.join(" / "))
            };
            return Decision {
                kind: ErrorKind::RateLimitUpstream,
                message: format!("All providers for {} are at capacity: {when}{alt}.", self.model_ref()),
                retry_at: at,
            };
        }
        let upstream = self.has("provider returned error")
            || self.meta("raw").is_some()
            || self.limit_source.is_some_and(|s| s.starts_with("upstream"))
            || self.kind == ProviderKind::Openrouter;
        if upstream {
            let at = self.retry_hint();
            let who = str_of(self.meta("provider_name"))
                .map(|p| format!("The upstream provider {p}"))
                .unwrap_or_else(|| "The upstream provider".to_owned());
            let when =
                at.map(|t| format!("retry after {}", fmt_utc_time(t))).unwrap_or_else(|| "retry shortly".to_owned());
            return Decision {
                kind: ErrorKind::RateLimitUpstream,
                message: format!(
                    "{who} is rate-limiting {}{}: {when}, or pick another model.",
                    self.model_ref(),
                    self.detail(excerpt)
                ),
                retry_at: at,
            };
        }
        let at = self
            .header("x-ratelimit-reset")
            .and_then(|v| parse_reset(&v, self.now))
            .or_else(|| self.gemini_retry_delay())
            .or_else(|| self.retry_hint());
        let when = at
            .map(|t| format!("retry after {}", fmt_utc_time(t)))
            .unwrap_or_else(|| "wait a minute and retry".to_owned());
        Decision {
            kind: ErrorKind::RateLimitMinute,
            message: format!("{} rate limit reached{}: {when}.", self.label, self.detail(excerpt)),
            retry_at: at,
        }
    }

    fn free_daily(&self) -> Decision {
        let at = self
            .header("x-ratelimit-reset")
            .and_then(|v| parse_reset(&v, self.now))
            .or_else(|| next_midnight(TimeZone::UTC, self.now));
        let high = self.has("high-balance");
        let limit = self.header("x-ratelimit-limit").and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(if high {
            1000
        } else {
            50
        });
        let resets = at
            .map(|t| format!("; it resets at {}{}", fmt_utc_datetime(t), fmt_in(self.now, t)))
            .unwrap_or_else(|| "; it resets at 00:00 UTC".to_owned());
        let twin = match self.model.strip_suffix(":free") {
            Some(paid) => format!(" Use the paid twin '{paid}' meanwhile"),
            None => " Use a paid model (the same id without :free) meanwhile".to_owned(),
        };
        let buy = if high { "." } else { ", or buy 10 credits once to raise the cap to 1000 free requests/day." };
        Decision {
            kind: ErrorKind::RateLimitDaily,
            message: format!(
                "The OpenRouter daily free-model limit of {limit} requests (shared by all :free models) is used up{resets}.{twin}{buy}"
            ),
            retry_at: at,
        }
    }

    /// Gemini quota failures: `quotaId` tells per-day (until midnight Pacific) from per-minute.
    fn gemini_quota(&self) -> Option<Decision> {
        let violation =
            self.err?.get("details")?.as_array()?.iter().find_map(|d| d.get("violations")?.as_array()?.first())?;
        let quota_id = str_of(violation.get("quotaId"))?;
        let value = str_of(violation.get("quotaValue")).map(|v| format!(" of {v}")).unwrap_or_default();
        let model = str_of(violation.get("quotaDimensions").and_then(|d| d.get("model")))
            .map(|m| format!("'{m}'"))
            .unwrap_or_else(|| self.model_ref());
        if quota_id.contains("PerDay") {
            let at = TimeZone::get("America/Los_Angeles").ok().and_then(|tz| next_midnight(tz, self.now));
            let resets = at
                .map(|t| format!(" at midnight Pacific time ({}{})", fmt_utc_datetime(t), fmt_in(self.now, t)))
                .unwrap_or_default();
            return Some(Decision {
                kind: ErrorKind::RateLimitDaily,
                message: format!(
                    "The Gemini free-tier daily quota{value} requests for {model} is used up; it resets{resets}. Use another Gemini model (each has its own quota) or enable billing on the project."
                ),
                retry_at: at,
            });
        }
        let at = self.gemini_retry_delay().or_else(|| self.retry_hint());
        let what = if quota_id.contains("Token") { "input-tokens-per-minute" } else { "requests-per-minute" };
        let when =
            at.map(|t| format!("retrying at {}", fmt_utc_time(t))).unwrap_or_else(|| "retry in a minute".to_owned());
        Some(Decision {
            kind: ErrorKind::RateLimitMinute,
            message: format!("The Gemini free-tier {what} limit{value} for {model} was reached; {when}."),
            retry_at: at,
        })
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
