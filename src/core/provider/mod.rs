//! Upstream providers: their configuration, how a model spec picks one, and the per-backend
//! request bodies and stream normalizers that sit on one shared SSE client.

pub mod client;
pub mod errors;
pub mod normalize;
pub mod pacing;
pub mod request;
pub mod sse;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::core::error::{CoreError, ErrorKind};
use crate::core::protocol::ModelSettings;

/// Which dialect of the OpenAI-compatible API a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderKind {
    /// OpenRouter: `provider`, `models`, `reasoning`, `usage` fields; attribution headers.
    Openrouter,
    /// Google's OpenAI-compatibility endpoint: rejects unknown fields, so only OpenAI fields.
    Gemini,
    /// OpenAI itself.
    Openai,
    /// Any other OpenAI-compatible server (Ollama, llama.cpp, vLLM, LiteLLM).
    OpenaiCompatible,
}

/// One configured upstream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderConfig {
    pub kind: ProviderKind,
    pub base_url: String,
    /// Environment variable holding the API key. Keys are never stored in config files.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Whether a request may go out without a key (local servers).
    #[serde(default)]
    pub key_optional: bool,
    /// Extra request headers (never put secrets here: they may be logged).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A key set by the program itself (demo mode, tests); never read from or written to files.
    #[serde(skip)]
    pub fixed_key: Option<ApiKey>,
}

/// Connect, first-byte and idle timeouts for streaming requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    /// From sending the request to the response headers.
    pub first_byte: Duration,
    /// Longest silence between two body reads (keep-alive comments count as traffic).
    pub idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self { connect: Duration::from_secs(10), first_byte: Duration::from_secs(120), idle: Duration::from_secs(90) }
    }
}

/// Attribution sent to OpenRouter (`HTTP-Referer`, `X-Title`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppIdentity {
    pub referer: String,
    pub title: String,
}

impl Default for AppIdentity {
    fn default() -> Self {
        Self { referer: "https://github.com/roundtable-tui/roundtable".into(), title: "roundtable".into() }
    }
}

/// Everything the core needs to reach upstreams.
#[derive(Debug, Clone, PartialEq)]
pub struct ProvidersConfig {
    pub default_provider: String,
    pub providers: BTreeMap<String, ProviderConfig>,
    /// Per-model settings keyed by the model spec as written (`openai/gpt-4o`, `gemini:…`).
    pub models: BTreeMap<String, ModelSettings>,
    pub timeouts: Timeouts,
    pub identity: AppIdentity,
    pub limits: StreamLimits,
    /// When set, a stream that has nothing waiting reads again only at the next slot of this
    /// length (see `pacing`): the chatroom shows text at its frame slots, so reading per packet
    /// would cost a wake-up each for nothing. `ask`, which prints as text comes, leaves it unset.
    pub read_slot: Option<Duration>,
}

/// Bounds on one streamed answer, so a server that never stops (or never sends a line break)
/// cannot take the process's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimits {
    /// Most bytes of answer (text, reasoning and tool-call arguments together) kept per request;
    /// past it the stream stops with `ErrorKind::AnswerTooLarge` and the text so far is kept.
    pub max_answer_bytes: usize,
    /// Longest line (one SSE event's data) accepted from a stream.
    pub max_line_bytes: usize,
}

/// No single request has ever used this many tokens (the largest contexts hold ~10 million):
/// a count above it comes from a broken or hostile server, and would wreck every total it joins.
pub const MAX_PLAUSIBLE_TOKENS: u64 = 1_000_000_000;

/// 16 MiB: some 4 million tokens of text, far past any model's output limit.
pub const DEFAULT_MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

impl Default for StreamLimits {
    fn default() -> Self {
        Self { max_answer_bytes: DEFAULT_MAX_ANSWER_BYTES, max_line_bytes: DEFAULT_MAX_ANSWER_BYTES }
    }
}

/// The host (and port) of a URL, for messages: `openrouter.ai`, `127.0.0.1:8787`.
pub fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    // Credentials in a URL never reach a message.
    host.rsplit_once('@').map_or(host, |(_, h)| h)
}

/// Whether `base_url` is OpenRouter itself (not another server behind `--base-url`).
pub fn is_openrouter_host(base_url: &str) -> bool {
    let host = host_of(base_url);
    let name = host.split(':').next().unwrap_or(host).to_ascii_lowercase();
    name == "openrouter.ai" || name.ends_with(".openrouter.ai")
}

/// An API key. Its `Debug` and `Display` never show the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(secret: String) -> Self {
        Self(secret)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

/// A model spec resolved to the provider that serves it.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedModel {
    pub provider_name: String,
    pub provider: ProviderConfig,
    /// The id sent upstream, without the `name:` prefix.
    pub upstream_model: String,
}

impl ResolvedModel {
    /// How messages name the server: the provider's name, with its host when the provider's
    /// URL was pointed somewhere else than its own service (`--base-url`, a local proxy).
    pub fn server_label(&self) -> String {
        let host = host_of(&self.provider.base_url);
        let own = match self.provider.kind {
            ProviderKind::Openrouter => is_openrouter_host(&self.provider.base_url),
            ProviderKind::Gemini => host.ends_with("googleapis.com"),
            ProviderKind::Openai => host.ends_with("openai.com"),
            ProviderKind::OpenaiCompatible => false,
        };
        if own { self.provider_name.clone() } else { format!("{} at {host}", self.provider_name) }
    }
}

impl ProvidersConfig {
    /// `gemini:gemini-2.0-flash` goes to the provider named `gemini`; anything whose text
    /// before the first `:` is not a provider name (`meta-llama/llama-3.2-3b-instruct:free`)
    /// goes to the default provider unchanged.
    pub fn resolve(&self, spec: &str) -> Result<ResolvedModel, CoreError> {
        let spec = spec.trim();
        if spec.is_empty() {
            return Err(CoreError::new(ErrorKind::Config, "Empty model id: name a model such as openai/gpt-4o-mini."));
        }
        if let Some((prefix, rest)) = spec.split_once(':')
            && !prefix.contains('/')
            && let Some(provider) = self.providers.get(prefix)
        {
            if rest.is_empty() {
                return Err(CoreError::new(
                    ErrorKind::Config,
                    format!("Model id '{spec}' names provider '{prefix}' but no model: write {prefix}:MODEL."),
                ));
            }
            return Ok(ResolvedModel {
                provider_name: prefix.to_owned(),
                provider: provider.clone(),
                upstream_model: rest.to_owned(),
            });
        }
        let provider = self.providers.get(&self.default_provider).ok_or_else(|| {
            CoreError::new(
                ErrorKind::Config,
                format!(
                    "The default provider '{}' is not configured: add [providers.{}] to the config file.",
                    self.default_provider, self.default_provider
                ),
            )
        })?;
        Ok(ResolvedModel {
            provider_name: self.default_provider.clone(),
            provider: provider.clone(),
            upstream_model: spec.to_owned(),
        })
    }

    /// The API key for a provider, read from its environment variable at request time so a key
    /// exported after start-up is picked up.
    pub fn api_key(&self, name: &str, provider: &ProviderConfig) -> Result<Option<ApiKey>, CoreError> {
        if let Some(key) = &provider.fixed_key {
            crate::core::sanitize::register_secret(key.expose());
            return Ok(Some(key.clone()));
        }
        let from_env = provider
            .api_key_env
            .as_deref()
            .and_then(|var| std::env::var(var).ok())
            .map(|k| k.trim().to_owned())
            .filter(|k| !k.is_empty());
        match (from_env, provider.key_optional) {
            (Some(k), _) => {
                crate::core::sanitize::register_secret(&k);
                Ok(Some(ApiKey::new(k)))
            }
            (None, true) => Ok(None),
            (None, false) => {
                let env_var = provider.api_key_env.as_deref().unwrap_or("(no api_key_env configured)");
                if provider.kind == ProviderKind::Openrouter && !is_openrouter_host(&provider.base_url) {
                    Err(CoreError::missing_key_for_server(name, env_var, host_of(&provider.base_url)))
                } else {
                    Err(CoreError::missing_key(name, env_var))
                }
            }
        }
    }

    /// Remember every configured key that is set, so that no message, JSON line or log line
    /// can carry it even before a request reads it.
    pub fn register_secrets(&self) {
        for (name, provider) in &self.providers {
            let _ = self.api_key(name, provider);
        }
    }

    /// Settings for a model spec: its config entry, if any.
    pub fn settings_for(&self, spec: &str) -> ModelSettings {
        self.models.get(spec).cloned().unwrap_or_default()
    }
}
