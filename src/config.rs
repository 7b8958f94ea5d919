//! The TOML configuration: the embedded, documented defaults (`assets/default-config.toml`)
//! with the user's `config.toml` merged over them, turned into the core's settings.

mod unknown_keys;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::core::catalog::PriceTable;
use crate::core::protocol::ModelSettings;
use crate::core::provider::{AppIdentity, ProviderConfig, ProvidersConfig, StreamLimits, Timeouts};
use crate::core::quota::QuotaConfig;
use crate::core::router::DEFAULT_TOOL_STEP_LIMIT;
use crate::core::tools::{McpServerConfig, ToolRegistry, UserToolConfig};

pub const DEFAULT_CONFIG: &str = include_str!("../assets/default-config.toml");

/// A config problem, with the file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "Could not read the config file {path}: {source}. Check its permissions, or move it away to use the defaults."
    )]
    Read { path: PathBuf, source: std::io::Error },
    #[error(
        "The config file {path} is not valid: {message}\nFix it (every key is documented in `roundtable config`), or move it away to use the defaults."
    )]
    Invalid { path: PathBuf, message: String },
}

#[derive(Debug, Clone, Deserialize)]
struct FileConfig {
    default_provider: String,
    #[serde(default)]
    default_models: Vec<String>,
    timeouts: FileTimeouts,
    #[serde(default)]
    limits: FileLimits,
    app: AppIdentity,
    #[serde(default)]
    providers: BTreeMap<String, ProviderConfig>,
    #[serde(default)]
    models: BTreeMap<String, ModelSettings>,
    #[serde(default)]
    prices: PriceTable,
    quota: QuotaConfig,
    #[serde(default)]
    tool_use: ToolUseConfig,
    #[serde(default)]
    tools: Vec<UserToolConfig>,
    #[serde(default)]
    mcp_servers: Vec<McpServerConfig>,
    #[serde(default)]
    compare: CompareConfig,
}

/// `[compare]`: comparing the answers of a turn.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompareConfig {
    /// The model `/analyze` and `ask --analyze` use when none is named.
    pub analyst: String,
}

impl Default for CompareConfig {
    fn default() -> Self {
        // Cheap, and its catalog entry lists structured outputs.
        Self { analyst: "openai/gpt-4o-mini".into() }
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
struct ToolUseConfig {
    #[serde(default = "default_step_limit")]
    step_limit: u32,
}

impl Default for ToolUseConfig {
    fn default() -> Self {
        Self { step_limit: DEFAULT_TOOL_STEP_LIMIT }
    }
}

fn default_step_limit() -> u32 {
    DEFAULT_TOOL_STEP_LIMIT
}

#[derive(Debug, Clone, Copy, Deserialize)]
struct FileLimits {
    #[serde(default = "default_max_answer_bytes")]
    max_answer_bytes: u64,
}

impl Default for FileLimits {
    fn default() -> Self {
        Self { max_answer_bytes: default_max_answer_bytes() }
    }
}

fn default_max_answer_bytes() -> u64 {
    crate::core::provider::DEFAULT_MAX_ANSWER_BYTES as u64
}

#[derive(Debug, Clone, Copy, Deserialize)]
struct FileTimeouts {
    connect_secs: f64,
    first_byte_secs: f64,
    idle_secs: f64,
}

/// The whole application configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub providers: ProvidersConfig,
    pub default_models: Vec<String>,
    /// Prices for providers that do not report a cost.
    pub prices: PriceTable,
    pub quota: QuotaConfig,
    /// The built-in tools plus the user's `[[tools]]`.
    pub tools: ToolRegistry,
    /// Rounds of tool calls per pane and turn before the model must answer (`tool_use.step_limit`).
    pub tool_step_limit: u32,
    /// `[compare]`: the default analyst.
    pub compare: CompareConfig,
    /// The user file that was merged, if one existed.
    pub source: Option<PathBuf>,
    /// Problems that do not stop the program (unknown keys), for the user to see.
    pub warnings: Vec<String>,
}

impl Config {
    /// Defaults merged with `path` when it exists. A missing file is not an error.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let user = match std::fs::read_to_string(path) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => return Err(ConfigError::Read { path: path.to_owned(), source }),
        };
        let mut config = Self::from_sources(user.as_deref())
            .map_err(|message| ConfigError::Invalid { path: path.to_owned(), message })?;
        if let Some(text) = &user
            && let Ok(table) = text.parse::<toml::Table>()
        {
            config.warnings = unknown_keys::warnings(path, text, &table);
            for w in &config.warnings {
                tracing::warn!("{w}");
            }
        }
        config.source = user.map(|_| path.to_owned());
        Ok(config)
    }

    /// Defaults only.
    pub fn defaults() -> Config {
        // The embedded file is tested to parse; an error here is a build defect, not input.
        Self::from_sources(None).unwrap_or_else(|e| panic!("embedded default config is invalid: {e}"))
    }

    fn from_sources(user: Option<&str>) -> Result<Config, String> {
        let mut merged: toml::Table = DEFAULT_CONFIG.parse().map_err(|e: toml::de::Error| e.to_string())?;
        if let Some(user) = user {
            let user: toml::Table = user.parse().map_err(|e: toml::de::Error| e.to_string())?;
            merge(&mut merged, user);
        }
        let file: FileConfig = toml::Value::Table(merged).try_into().map_err(|e: toml::de::Error| e.to_string())?;
        let timeouts = Timeouts {
            connect: positive_secs("timeouts.connect_secs", file.timeouts.connect_secs)?,
            first_byte: positive_secs("timeouts.first_byte_secs", file.timeouts.first_byte_secs)?,
            idle: positive_secs("timeouts.idle_secs", file.timeouts.idle_secs)?,
        };
        if !file.providers.contains_key(&file.default_provider) {
            return Err(format!(
                "default_provider = \"{}\" but there is no [providers.{}] section",
                file.default_provider, file.default_provider
            ));
        }
        for (name, p) in &file.providers {
            if !(p.base_url.starts_with("http://") || p.base_url.starts_with("https://")) {
                return Err(format!(
                    "providers.{name}.base_url must start with http:// or https:// (got \"{}\")",
                    p.base_url
                ));
            }
        }
        check_quota(&file.quota)?;
        // At least 64 KiB (a short answer), at most 4 GiB.
        if !(65_536..=4_294_967_296).contains(&file.limits.max_answer_bytes) {
            return Err(format!(
                "limits.max_answer_bytes must be between 65536 and 4294967296 (got {})",
                file.limits.max_answer_bytes
            ));
        }
        let max_answer = usize::try_from(file.limits.max_answer_bytes).unwrap_or(usize::MAX);
        let limits = StreamLimits { max_answer_bytes: max_answer, max_line_bytes: max_answer };
        if file.compare.analyst.trim().is_empty() {
            return Err("compare.analyst must name a model (e.g. \"openai/gpt-4o-mini\")".into());
        }
        if file.tool_use.step_limit == 0 || file.tool_use.step_limit > 100 {
            return Err(format!("tool_use.step_limit must be between 1 and 100 (got {})", file.tool_use.step_limit));
        }
        // User tools never see the API keys, whichever provider they belong to.
        let key_vars = file.providers.values().filter_map(|p| p.api_key_env.clone()).collect::<Vec<_>>();
        let tools = ToolRegistry::with_user_tools(&file.tools).map_err(|e| e.to_string())?.hide_env(key_vars);
        let tools = with_mcp_servers(tools, file.mcp_servers)?;
        Ok(Config {
            providers: ProvidersConfig {
                default_provider: file.default_provider,
                providers: file.providers,
                models: file.models,
                timeouts,
                identity: file.app,
                limits,
                read_slot: None,
            },
            default_models: file.default_models,
            prices: file.prices,
            quota: file.quota,
            tools,
            tool_step_limit: file.tool_use.step_limit,
            compare: file.compare,
            source: None,
            warnings: Vec::new(),
        })
    }

    /// Point every provider at `base_url` for this run (`--base-url`).
    pub fn override_base_url(&mut self, base_url: &str) {
        for p in self.providers.providers.values_mut() {
            base_url.clone_into(&mut p.base_url);
        }
    }
}

/// A limit of 0 would queue every request forever: refuse it when the config loads.
fn check_quota(quota: &QuotaConfig) -> Result<(), String> {
    let zero = |what: &str| {
        format!("{what} must be at least 1 (0 would hold every request forever; remove the key for no limit)")
    };
    if quota.openrouter_free_per_minute == 0 {
        return Err(zero("quota.openrouter_free_per_minute"));
    }
    if quota.openrouter_free_per_day == 0 {
        return Err(zero("quota.openrouter_free_per_day"));
    }
    for (name, l) in &quota.limits {
        for (key, v) in
            [("per_minute", l.per_minute), ("per_day", l.per_day), ("tokens_per_minute", l.tokens_per_minute)]
        {
            if v == Some(0) {
                return Err(zero(&format!("quota.limits.\"{name}\".{key}")));
            }
        }
    }
    Ok(())
}

/// `[[mcp_servers]]`: each entry checked and its tools added (the servers start on first use).
fn with_mcp_servers(tools: ToolRegistry, servers: Vec<McpServerConfig>) -> Result<ToolRegistry, String> {
    tools.with_mcp_servers(servers).map_err(|e| e.to_string())
}

fn positive_secs(key: &str, v: f64) -> Result<Duration, String> {
    if v.is_finite() && v > 0.0 && v < 1e7 {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(format!("{key} must be a positive number of seconds (got {v})"))
    }
}

/// Deep merge: tables merge key by key, anything else in `over` replaces.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_analyst_defaults_and_overrides() {
        assert_eq!(Config::defaults().compare.analyst, "openai/gpt-4o-mini");
        let c = Config::from_sources(Some("[compare]\nanalyst = \"google/gemini-2.5-flash\"\n")).unwrap();
        assert_eq!(c.compare.analyst, "google/gemini-2.5-flash");
        assert!(Config::from_sources(Some("[compare]\nanalyst = \" \"\n")).unwrap_err().contains("compare.analyst"));
        assert!(Config::from_sources(Some("[compare]\nanalsyt = \"x\"\n")).is_err(), "a typo is reported");
    }

    #[test]
    fn embedded_defaults_parse() {
        let c = Config::defaults();
        assert_eq!(c.providers.default_provider, "openrouter");
        assert!(c.providers.providers.contains_key("gemini"));
        assert!(!c.default_models.is_empty());
    }

    #[test]
    fn user_file_merges_over_defaults() {
        let user = r#"
            [timeouts]
            idle_secs = 5
            [providers.ollama]
            base_url = "http://127.0.0.1:9999/v1"
            [models."openai/gpt-4o"]
            temperature = 0.2
        "#;
        let c = Config::from_sources(Some(user)).unwrap();
        assert_eq!(c.providers.timeouts.idle, Duration::from_secs(5));
        assert_eq!(c.providers.timeouts.connect, Duration::from_secs(10));
        let ollama = &c.providers.providers["ollama"];
        assert_eq!(ollama.base_url, "http://127.0.0.1:9999/v1");
        assert!(ollama.key_optional, "kept from defaults");
        assert_eq!(c.providers.models["openai/gpt-4o"].temperature, Some(0.2));
    }

    #[test]
    fn corrupt_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "default_provider = [unclosed").unwrap();
        let err = Config::load(&path).unwrap_err().to_string();
        assert!(err.contains("config.toml"), "{err}");
        assert!(err.contains("move it away"), "{err}");
        std::fs::write(&path, "[timeouts]\nidle_secs = -1").unwrap();
        let err = Config::load(&path).unwrap_err().to_string();
        assert!(err.contains("idle_secs"), "{err}");
        std::fs::write(&path, "default_provider = \"nope\"").unwrap();
        assert!(Config::load(&path).unwrap_err().to_string().contains("[providers.nope]"));
    }

    #[test]
    fn user_tools_and_step_limit() {
        let user = r#"
            [tool_use]
            step_limit = 3

            [[tools]]
            name = "weather"
            description = "Weather for a city"
            command = ["python3", "tools/weather.py"]
            timeout_secs = 5
            parameters = { type = "object", properties = { city = { type = "string" } }, required = ["city"] }

            [[tools]]
            name = "search_notes"
            command = ["rg", "--json"]
            parameters = '{"type":"object","properties":{"q":{"type":"string"}}}'
            safe = true
        "#;
        let c = Config::from_sources(Some(user)).unwrap();
        assert_eq!(c.tool_step_limit, 3);
        assert_eq!(c.tools.names(), ["calculator", "current_time", "weather", "search_notes"]);
        let weather = c.tools.get("weather").unwrap();
        assert_eq!(weather.spec.parameters["required"][0], "city");
        assert!(!weather.safe);
        assert!(c.tools.is_safe("search_notes"));
        let d = Config::defaults();
        assert_eq!((d.tool_step_limit, d.tools.names().len()), (8, 2));
        let bad = Config::from_sources(Some("[[tools]]\nname = \"calculator\"\ncommand = [\"x\"]")).unwrap_err();
        assert!(bad.contains("tools entry \"calculator\"") && bad.contains("built-in"), "{bad}");
        let bad = Config::from_sources(Some("[tool_use]\nstep_limit = 0")).unwrap_err();
        assert!(bad.contains("step_limit"), "{bad}");
    }

    #[test]
    fn impossible_limits_are_refused_at_load() {
        let bad = Config::from_sources(Some("[quota]\nopenrouter_free_per_minute = 0")).unwrap_err();
        assert!(bad.contains("openrouter_free_per_minute must be at least 1"), "{bad}");
        let bad = Config::from_sources(Some("[quota.limits.openai]\nper_day = 0")).unwrap_err();
        assert!(bad.contains("quota.limits.\"openai\".per_day"), "{bad}");
        let bad = Config::from_sources(Some("[limits]\nmax_answer_bytes = 0")).unwrap_err();
        assert!(bad.contains("max_answer_bytes"), "{bad}");
        let c = Config::from_sources(Some("[limits]\nmax_answer_bytes = 100000")).unwrap();
        assert_eq!(c.providers.limits.max_answer_bytes, 100_000);
    }

    #[test]
    fn unknown_keys_warn_with_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "[timeouts]\nidle_sec = 5\n").unwrap();
        let c = Config::load(&path).unwrap();
        assert_eq!(c.warnings.len(), 1);
        assert!(c.warnings[0].contains("config.toml:2: unknown key `timeouts.idle_sec`"), "{:?}", c.warnings);
        assert!(c.warnings[0].contains("did you mean `idle_secs`"), "{:?}", c.warnings);
    }

    #[test]
    fn mcp_servers() {
        let user = r#"
            [[mcp_servers]]
            name = "everything"
            command = "npx"
            args = ["-y", "@modelcontextprotocol/server-everything"]
            env = { LOG_LEVEL = "warn" }
            safe_tools = ["echo", "everything.add"]

            [[mcp_servers]]
            name = "remote"
            url = "https://mcp.example.com/mcp"
            timeout_secs = 5
            enabled = false
        "#;
        let c = Config::from_sources(Some(user)).unwrap();
        let servers = c.tools.mcp().statuses();
        assert_eq!(servers.len(), 2);
        let (everything, remote) = (&servers[0].0, &servers[1].0);
        assert_eq!(everything.args, ["-y", "@modelcontextprotocol/server-everything"]);
        assert_eq!(everything.env["LOG_LEVEL"], "warn");
        assert_eq!((everything.timeout_secs, everything.enabled), (60.0, true));
        assert_eq!((remote.url.as_deref(), remote.enabled), (Some("https://mcp.example.com/mcp"), false));
        assert!(c.tools.names().contains(&"everything.*".to_owned()));
        assert!(!c.tools.names().contains(&"remote.*".to_owned()), "disabled servers offer nothing");
        let bad = Config::from_sources(Some("[[mcp_servers]]\nname = \"x\"")).unwrap_err();
        assert!(bad.contains("mcp_servers entry \"x\"") && bad.contains("give command"), "{bad}");
        let bad =
            Config::from_sources(Some("[[mcp_servers]]\nname = \"x\"\ncommand = \"y\"\nsafe = true")).unwrap_err();
        assert!(bad.contains("unknown field `safe`"), "{bad}");
    }

    #[test]
    fn routing_by_prefix() {
        let c = Config::defaults().providers;
        let r = c.resolve("gemini:gemini-2.0-flash").unwrap();
        assert_eq!((r.provider_name.as_str(), r.upstream_model.as_str()), ("gemini", "gemini-2.0-flash"));
        let r = c.resolve("ollama:llama3.2:3b").unwrap();
        assert_eq!((r.provider_name.as_str(), r.upstream_model.as_str()), ("ollama", "llama3.2:3b"));
        let r = c.resolve("meta-llama/llama-3.2-3b-instruct:free").unwrap();
        assert_eq!(r.provider_name, "openrouter");
        assert_eq!(r.upstream_model, "meta-llama/llama-3.2-3b-instruct:free");
        assert!(c.resolve("gemini:").is_err());
        assert!(c.resolve("  ").is_err());
    }
}
