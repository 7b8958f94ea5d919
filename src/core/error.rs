//! Typed errors of the core. Every error carries a message written for the user: what
//! happened and what to do. Messages never contain an API key.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// What went wrong, as a machine-readable category (`kind` in `ask --json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// No API key in the environment for a provider that needs one.
    MissingKey,
    /// 401: key invalid, disabled or missing upstream.
    Unauthorized,
    /// 402: out of credits, key spend limit reached, or `max_tokens` too high to afford.
    PaymentRequired,
    /// 403 from moderation (reasons in the message).
    Moderation,
    /// 403 for any other reason (guardrail, permission, region, key daily limit).
    Forbidden,
    /// 404 "No endpoints found matching your data policy".
    DataPolicy,
    /// 404 "No endpoints found that support tool use".
    NoToolEndpoints,
    /// 400/404 unknown or removed model.
    ModelNotFound,
    /// 404 of any other kind.
    NotFound,
    /// 400/413/422: the request itself was rejected.
    BadRequest,
    /// 429 per-minute limit (OpenRouter free-models-per-min, Gemini RPM/TPM): retry after reset.
    RateLimitMinute,
    /// 429 daily cap (free-models-per-day, Gemini RPD): not retryable until the reset.
    RateLimitDaily,
    /// 429 from an upstream provider's shared pool, or capacity exhausted: retry shortly.
    RateLimitUpstream,
    /// 5xx from the router or the provider.
    Server,
    /// Connect, first-byte or idle timeout.
    Timeout,
    /// Could not connect at all (DNS, refused, TLS).
    Connect,
    /// The connection closed before the stream finished.
    StreamDropped,
    /// The stream ended (`[DONE]` or end of body) without a finish reason: the server stopped
    /// generating without saying the answer was complete (text kept).
    Incomplete,
    /// The answer passed `limits.max_answer_bytes` and the stream was stopped (text kept).
    AnswerTooLarge,
    /// The process ended (killed, crashed) while the request was in flight; found on a later
    /// start. Only ever read back from the ledger.
    Interrupted,
    /// An error event inside a 200 stream.
    MidStream,
    /// The body could not be understood (garbage, HTML where JSON was expected, bad JSON).
    MalformedResponse,
    /// A quota limiter refused to send (daily cap reached locally).
    QuotaExhausted,
    /// Configuration problem (unknown provider prefix, bad base URL).
    Config,
}

impl ErrorKind {
    /// The kind named `name` (its `kind` in `ask --json` and in the ledger), if any.
    pub fn from_name(name: &str) -> Option<ErrorKind> {
        serde_json::from_value(serde_json::Value::String(name.to_owned())).ok()
    }

    /// Whether a request that failed this way was refused before any model answered it, so it
    /// used nothing and costs nothing: it never left this machine (no key, a configuration
    /// problem, the local limiter), never reached a server, or the server answered with an HTTP
    /// error instead of a stream. Not a timeout (the request may have been sent and answered
    /// upstream), nor anything that ends a stream that began: its tokens may be billed.
    pub fn refused_before_answering(self) -> bool {
        matches!(
            self,
            Self::MissingKey
                | Self::Config
                | Self::QuotaExhausted
                | Self::Connect
                | Self::Unauthorized
                | Self::PaymentRequired
                | Self::Moderation
                | Self::Forbidden
                | Self::DataPolicy
                | Self::NoToolEndpoints
                | Self::ModelNotFound
                | Self::NotFound
                | Self::BadRequest
                | Self::RateLimitMinute
                | Self::RateLimitDaily
                | Self::RateLimitUpstream
                | Self::Server
        )
    }

    /// Whether an automatic retry may succeed without any change by the user.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            Self::RateLimitMinute
                | Self::RateLimitUpstream
                | Self::Server
                | Self::Timeout
                | Self::Connect
                | Self::StreamDropped
        )
    }
}

/// A failure of one target's request.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct CoreError {
    pub kind: ErrorKind,
    /// HTTP status (or the numeric `code` of a mid-stream error) when there was one.
    pub status: Option<u16>,
    /// For the user: what happened and what to do.
    pub message: String,
    /// When a retry may succeed (rate-limit reset), when known.
    pub retry_at: Option<SystemTime>,
    /// The upstream's own message, control characters removed, for logs and detail views.
    pub upstream_message: Option<String>,
}

impl CoreError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, status: None, message: message.into(), retry_at: None, upstream_message: None }
    }

    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    pub fn with_retry_at(mut self, at: SystemTime) -> Self {
        self.retry_at = Some(at);
        self
    }

    pub fn with_upstream_message(mut self, msg: impl Into<String>) -> Self {
        self.upstream_message = Some(msg.into());
        self
    }

    /// No key for OpenRouter's provider whose `base_url` (`--base-url`, or the config) points at
    /// another server: the simulator hint would be beside the point; the way to a server that
    /// takes no key is a keyless provider.
    pub fn missing_key_for_server(provider: &str, env_var: &str, host: &str) -> Self {
        Self::new(
            ErrorKind::MissingKey,
            format!(
                "No API key for provider '{provider}', whose requests go to {host}: set the environment variable \
                 {env_var} (to any value if that server takes no key), or ask a local server that needs no key \
                 through a keyless provider instead of --base-url: `-m llamacpp:MODEL` (also ollama:, vllm:, \
                 litellm:; their base_url is in config.toml)."
            ),
        )
    }

    pub fn missing_key(provider: &str, env_var: &str) -> Self {
        Self::new(
            ErrorKind::MissingKey,
            format!(
                "No API key for provider '{provider}': set the environment variable {env_var} \
                 (or try the built-in simulator: `roundtable ask --demo …`, or roundtable sim, then \
                 --base-url http://127.0.0.1:8787/api/v1)."
            ),
        )
    }
}
