//! Model ids as the simulator sees them: `@` directives, per-model speed/length defaults, the
//! provider display name and catalog prices (decimal, so costs match OpenRouter exactly).

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::OnceLock;

use rust_decimal::Decimal;

use super::SimConfig;
use super::util::fnv1a;

/// The embedded catalog served by `GET /models` and used for prices.
pub const CATALOG: &str = include_str!("../../assets/catalog-snapshot.json");

/// A request failure forced by a directive (answered before any body byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    Unauthorized,
    Credits,
    KeyLimit,
    Moderation,
    DataPolicy,
    NoToolEndpoints,
    ModelNotFound,
    RateMinute,
    RateDay,
    RateUpstream,
    Internal,
    BadGateway,
    Unavailable,
    Html,
    Empty,
    Garbage,
}

/// How a successful answer is broken off part-way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interrupt {
    Midstream,
    Stall,
    Drop,
}

/// Scripted tool-calling behaviour (only used when the request carries `tools`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ToolScript {
    Single,
    Parallel,
    Chain,
    BadArgs,
    Unknown,
    Gemini,
    /// Calls a tool on every round until told `tool_choice: "none"` (step-limit tests).
    Loop,
    /// Calls the offered tool that `call=NAME` names (`ModelSpec::call_tool`), once, then
    /// answers from its result.
    Call,
    /// No directive, but the catalog says the model takes tools: it calls the offered tools
    /// the prompt asks for (all at once), or answers in text when none fits.
    Auto,
}

/// A parsed model id: the served id plus everything after `@`.
#[derive(Clone, Debug, Default)]
pub struct ModelSpec {
    pub base: String,
    pub tokens: Option<u32>,
    pub tps: Option<f64>,
    pub ttft_ms: Option<u64>,
    pub failure: Option<Failure>,
    pub interrupt: Option<Interrupt>,
    pub tools: Option<ToolScript>,
    /// The tool `call=NAME` asks for: a name as offered, `server.tool` (offered as
    /// `server__tool`), a bare MCP tool name, `server.*` (its first tool) or `*` (the first).
    pub call_tool: Option<String>,
    pub force_json: bool,
    pub reasoning: bool,
    pub no_usage: bool,
    pub no_done: bool,
    pub crlf: bool,
}

impl ModelSpec {
    pub fn parse(model: &str) -> ModelSpec {
        let mut parts = model.split('@');
        let mut spec = ModelSpec { base: parts.next().unwrap_or_default().to_string(), ..ModelSpec::default() };
        // `@preset/slug` alone names an OpenRouter preset, whose model the simulator does not
        // know (the reference is silent on presets): it answers as the auto router. A preset
        // after a model (`model@preset/slug`) is an unknown directive, so ignored.
        if spec.base.is_empty() && model.starts_with("@preset/") {
            spec.base = "openrouter/auto".into();
        }
        for d in parts {
            let (name, value) = d.split_once('=').unwrap_or((d, ""));
            match name {
                "tokens" => spec.tokens = value.parse().ok(),
                "tps" => spec.tps = value.parse().ok().filter(|v: &f64| v.is_finite() && *v >= 0.0),
                "ttft" => spec.ttft_ms = value.parse().ok(),
                "401" => spec.failure = Some(Failure::Unauthorized),
                "402" => spec.failure = Some(Failure::Credits),
                "402-key" => spec.failure = Some(Failure::KeyLimit),
                "403" => spec.failure = Some(Failure::Moderation),
                "404-policy" => spec.failure = Some(Failure::DataPolicy),
                "404-tools" => spec.failure = Some(Failure::NoToolEndpoints),
                "400-model" => spec.failure = Some(Failure::ModelNotFound),
                "429-rpm" => spec.failure = Some(Failure::RateMinute),
                "429-day" => spec.failure = Some(Failure::RateDay),
                "429-upstream" => spec.failure = Some(Failure::RateUpstream),
                "500" => spec.failure = Some(Failure::Internal),
                "502" => spec.failure = Some(Failure::BadGateway),
                "503" => spec.failure = Some(Failure::Unavailable),
                "html" => spec.failure = Some(Failure::Html),
                "empty" => spec.failure = Some(Failure::Empty),
                "garbage" => spec.failure = Some(Failure::Garbage),
                "midstream" => spec.interrupt = Some(Interrupt::Midstream),
                "stall" => spec.interrupt = Some(Interrupt::Stall),
                "drop" => spec.interrupt = Some(Interrupt::Drop),
                "json" => spec.force_json = true,
                "reasoning" => spec.reasoning = true,
                "nousage" => spec.no_usage = true,
                "nodone" => spec.no_done = true,
                "crlf" => spec.crlf = true,
                "tools" => spec.tools = Some(ToolScript::Single),
                "tools-parallel" => spec.tools = Some(ToolScript::Parallel),
                "tools-chain" => spec.tools = Some(ToolScript::Chain),
                "tools-bad-args" => spec.tools = Some(ToolScript::BadArgs),
                "tools-unknown" => spec.tools = Some(ToolScript::Unknown),
                "tools-gemini" => spec.tools = Some(ToolScript::Gemini),
                "tools-loop" => spec.tools = Some(ToolScript::Loop),
                "call" if !value.is_empty() => {
                    spec.tools = Some(ToolScript::Call);
                    spec.call_tool = Some(value.to_string());
                }
                // Unknown directives are ignored so that newer test ids do not break older sims.
                _ => {}
            }
        }
        spec
    }

    pub fn hash(&self) -> u64 {
        fnv1a(&[self.base.as_bytes()])
    }

    /// Requests to these ids count against the free-tier limits.
    pub fn is_free(&self) -> bool {
        self.base.ends_with(":free") || self.base == "openrouter/free"
    }

    pub fn author(&self) -> &str {
        self.base.split('/').next().unwrap_or_default()
    }
}

/// One hour: the longest simulated wait before the first token.
const MAX_TTFT_MS: u64 = 3_600_000;
/// The longest simulated answer.
const MAX_TOKENS: u32 = 2_000_000;

/// Speed and length actually used for one answer.
#[derive(Clone, Copy, Debug)]
pub struct Profile {
    pub ttft_ms: u64,
    /// Tokens per second; 0 = unlimited.
    pub tps: f64,
    pub tokens: u32,
}

/// Directive > `SimConfig` default > deterministic per-model value.
pub fn profile(spec: &ModelSpec, config: &SimConfig) -> Profile {
    let h = spec.hash();
    let tps = spec.tps.or(config.default_tps).unwrap_or(40.0 + ((h >> 16) % 121) as f64);
    // Clamps keep hostile directives from overflowing timers or exhausting memory.
    Profile {
        ttft_ms: spec.ttft_ms.or(config.default_ttft_ms).unwrap_or(150 + h % 751).min(MAX_TTFT_MS),
        tps: if tps > 0.0 { tps.clamp(0.01, 1e9) } else { 0.0 },
        tokens: spec.tokens.or(config.default_tokens).unwrap_or(150 + ((h >> 32) % 451) as u32).min(MAX_TOKENS),
    }
}

/// Provider display name as OpenRouter reports it for the model's author.
pub fn provider_name(spec: &ModelSpec) -> &'static str {
    match spec.author() {
        "openai" => "OpenAI",
        "anthropic" => "Anthropic",
        "google" => "Google AI Studio",
        "deepseek" => "DeepInfra",
        "meta-llama" => "Together",
        "qwen" => "Chutes",
        "z-ai" => "Z.AI",
        "mistralai" => "Mistral",
        "x-ai" => "xAI",
        "moonshotai" => "Moonshot AI",
        "nvidia" => "Nvidia",
        _ => "Simulated",
    }
}

/// Provider-specific raw finish reasons (`native_finish_reason`).
pub fn native_finish(spec: &ModelSpec, finish: &str) -> &'static str {
    match (provider_name(spec), finish) {
        ("Anthropic", "stop") => "end_turn",
        ("Anthropic", "length") => "max_tokens",
        ("Anthropic", "tool_calls") => "tool_use",
        ("Google AI Studio", "length") => "MAX_TOKENS",
        ("Google AI Studio", _) => "STOP",
        (_, "length") => "length",
        (_, "tool_calls") => "tool_calls",
        (_, "error") => "error",
        _ => "stop",
    }
}

/// OpenAI-served models carry a `system_fingerprint`, like the captures.
pub fn fingerprint(spec: &ModelSpec) -> Option<String> {
    (spec.author() == "openai").then(|| format!("fp_{:010x}", spec.hash() & 0xff_ffff_ffff))
}

/// Per-token prices in USD, and what the request costs beyond its tokens (its web searches).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Price {
    pub prompt: Decimal,
    pub completion: Decimal,
    pub per_request: Decimal,
    /// Per cached prompt token read; `None` where the catalog lists no cache price (the
    /// simulator caches nothing for such models).
    pub cache_read: Option<Decimal>,
}

/// Costs of one request: (total, prompt part, completion part). `cached` of the prompt tokens
/// were read from the cache, at the cache-read price (§10.2).
pub fn cost(price: Price, prompt_tokens: u64, cached: u64, completion_tokens: u64) -> (Decimal, Decimal, Decimal) {
    let cached = cached.min(prompt_tokens);
    let read = price.cache_read.unwrap_or(price.prompt);
    let p = (Decimal::from(prompt_tokens - cached) * price.prompt + Decimal::from(cached) * read).normalize();
    let c = (Decimal::from(completion_tokens) * price.completion).normalize();
    ((p + c + price.per_request).normalize(), p, c)
}

/// What reading `cached` prompt tokens from the cache saved (`cache_discount`, §8.3).
pub fn cache_discount(price: Price, cached: u64) -> Decimal {
    price.cache_read.map_or(Decimal::ZERO, |read| (Decimal::from(cached) * (price.prompt - read)).normalize())
}

/// The catalog's `web_search` price (per search) of an id; zero when it lists none.
pub fn web_search_price(id: &str) -> Decimal {
    static PRICES: OnceLock<HashMap<String, Decimal>> = OnceLock::new();
    PRICES
        .get_or_init(|| {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(CATALOG) else {
                return HashMap::new();
            };
            v["data"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| {
                    let price = m["pricing"]["web_search"].as_str().and_then(|s| Decimal::from_str(s).ok())?;
                    Some((m["id"].as_str()?.to_string(), price))
                })
                .collect()
        })
        .get(id)
        .copied()
        .unwrap_or_default()
}

/// Whether the catalog lists `tools` for an id: `None` for ids it does not list.
pub fn catalog_supports_tools(id: &str) -> Option<bool> {
    static TOOLS: OnceLock<HashMap<String, bool>> = OnceLock::new();
    TOOLS
        .get_or_init(|| {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(CATALOG) else {
                return HashMap::new();
            };
            v["data"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| {
                    let tools = m["supported_parameters"].as_array()?.iter().any(|p| p == "tools");
                    Some((m["id"].as_str()?.to_string(), tools))
                })
                .collect()
        })
        .get(id)
        .copied()
}

/// Whether the catalog lists reasoning for an id (`reasoning` or `include_reasoning` among its
/// parameters); ids it does not list do not reason unless told to with `@reasoning`.
pub fn catalog_reasons(id: &str) -> bool {
    static REASONS: OnceLock<HashSet<String>> = OnceLock::new();
    REASONS
        .get_or_init(|| {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(CATALOG) else {
                return HashSet::new();
            };
            v["data"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|m| {
                    m["supported_parameters"]
                        .as_array()
                        .is_some_and(|ps| ps.iter().any(|p| p == "reasoning" || p == "include_reasoning"))
                })
                .filter_map(|m| m["id"].as_str().map(str::to_string))
                .collect()
        })
        .contains(id)
}

fn catalog_prices() -> &'static HashMap<String, Price> {
    static PRICES: OnceLock<HashMap<String, Price>> = OnceLock::new();
    PRICES.get_or_init(|| {
        let mut map = HashMap::new();
        let Ok(v) = serde_json::from_str::<serde_json::Value>(CATALOG) else {
            return map;
        };
        for m in v["data"].as_array().into_iter().flatten() {
            let dec = |k: &str| m["pricing"][k].as_str().and_then(|s| Decimal::from_str(s).ok());
            if let (Some(id), Some(prompt), Some(completion)) = (m["id"].as_str(), dec("prompt"), dec("completion")) {
                // "-1" means "variable" (routers): fall back to the default price.
                if prompt >= Decimal::ZERO && completion >= Decimal::ZERO {
                    let cache_read = dec("input_cache_read").filter(|r| *r >= Decimal::ZERO && *r < prompt);
                    map.insert(id.to_string(), Price { prompt, completion, per_request: Decimal::ZERO, cache_read });
                }
            }
        }
        map
    })
}

/// Catalog price; `:free` ids cost nothing; unknown ids $1/M prompt, $2/M completion.
pub fn price(spec: &ModelSpec) -> Price {
    if spec.base.ends_with(":free") {
        return Price {
            prompt: Decimal::ZERO,
            completion: Decimal::ZERO,
            per_request: Decimal::ZERO,
            cache_read: None,
        };
    }
    catalog_prices().get(&spec.base).copied().unwrap_or(Price {
        prompt: Decimal::new(1, 6),
        completion: Decimal::new(2, 6),
        per_request: Decimal::ZERO,
        cache_read: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_parse() {
        let s = ModelSpec::parse("a@tokens=20000@tps=0@ttft=0@crlf@tools-chain");
        assert_eq!(s.base, "a");
        assert_eq!(s.tokens, Some(20000));
        assert_eq!(s.tps, Some(0.0));
        assert_eq!(s.ttft_ms, Some(0));
        assert!(s.crlf);
        assert_eq!(s.tools, Some(ToolScript::Chain));
        assert_eq!(ModelSpec::parse("x:free@429-day").failure, Some(Failure::RateDay));
        assert_eq!(ModelSpec::parse("x@tools-loop").tools, Some(ToolScript::Loop));
    }

    #[test]
    fn catalog_tool_support() {
        assert_eq!(catalog_supports_tools("openai/gpt-4o-mini"), Some(true));
        assert_eq!(catalog_supports_tools("google/gemma-3-27b-it:free"), Some(false));
        assert_eq!(catalog_supports_tools("made/up"), None);
        assert!(catalog_reasons("anthropic/claude-sonnet-4.5"));
        assert!(!catalog_reasons("openai/gpt-4o-mini"));
    }

    #[test]
    fn catalog_and_default_prices() {
        let p = price(&ModelSpec::parse("openai/gpt-4o-mini"));
        let (total, _, _) = cost(p, 28, 0, 12);
        // 20 of 28 prompt tokens read from the cache at $0.075/M instead of $0.15/M.
        assert_eq!(cost(p, 28, 20, 12).0.to_string(), "0.0000099");
        assert_eq!(cache_discount(p, 20).to_string(), "0.0000015");
        assert_eq!(total.to_string(), "0.0000114");
        let d = price(&ModelSpec::parse("b"));
        assert_eq!(cost(d, 1_000_000, 0, 0).0.to_string(), "1");
        assert_eq!(cost(price(&ModelSpec::parse("qwen/qwen3-coder:free")), 5, 0, 5).0.to_string(), "0");
    }
}
