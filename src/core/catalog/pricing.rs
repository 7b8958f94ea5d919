//! Prices and cost: the OpenRouter pricing object as exact decimals, per-provider price tables
//! from the config, the cost formula of the API reference §10.2 and the pre-send estimate.

use std::collections::BTreeMap;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::core::protocol::{ChatMessage, Usage};

/// USD per unit for each priced quantity; `None` = the key was absent (which matters: cache
/// reads fall back to the prompt price only when their own key is missing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rates {
    pub prompt: Option<Decimal>,
    pub completion: Option<Decimal>,
    pub request: Option<Decimal>,
    pub image: Option<Decimal>,
    pub web_search: Option<Decimal>,
    pub internal_reasoning: Option<Decimal>,
    pub input_cache_read: Option<Decimal>,
    pub input_cache_write: Option<Decimal>,
    pub input_cache_write_1h: Option<Decimal>,
    pub audio: Option<Decimal>,
}

/// Field names in wire order, paired with accessors, so parsing, merging and serializing share
/// one list and cannot drift apart.
type Field = (&'static str, fn(&Rates) -> Option<Decimal>, fn(&mut Rates) -> &mut Option<Decimal>);
const FIELDS: [Field; 10] = [
    ("prompt", |r| r.prompt, |r| &mut r.prompt),
    ("completion", |r| r.completion, |r| &mut r.completion),
    ("request", |r| r.request, |r| &mut r.request),
    ("image", |r| r.image, |r| &mut r.image),
    ("web_search", |r| r.web_search, |r| &mut r.web_search),
    ("internal_reasoning", |r| r.internal_reasoning, |r| &mut r.internal_reasoning),
    ("input_cache_read", |r| r.input_cache_read, |r| &mut r.input_cache_read),
    ("input_cache_write", |r| r.input_cache_write, |r| &mut r.input_cache_write),
    ("input_cache_write_1h", |r| r.input_cache_write_1h, |r| &mut r.input_cache_write_1h),
    ("audio", |r| r.audio, |r| &mut r.audio),
];

impl Rates {
    /// Keys present in `over` replace ours; missing ones inherit.
    fn overlay(&mut self, over: &Rates) {
        for (_, get, get_mut) in FIELDS {
            if let Some(v) = get(over) {
                *get_mut(self) = Some(v);
            }
        }
    }

    fn from_map(map: &Map<String, Value>) -> Result<Rates, String> {
        let mut rates = Rates::default();
        for (key, _, get_mut) in FIELDS {
            if let Some(v) = map.get(key) {
                *get_mut(&mut rates) = decimal_of(v).map_err(|e| format!("pricing.{key}: {e}"))?;
            }
        }
        Ok(rates)
    }

    fn write_map(&self, map: &mut Map<String, Value>) {
        for (key, get, _) in FIELDS {
            if let Some(v) = get(self) {
                map.insert(key.into(), Value::String(v.to_string()));
            }
        }
    }
}

/// A conditional price tier from `pricing.overrides`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriceOverride {
    /// Applies when the request's prompt tokens exceed this.
    pub min_prompt_tokens: Option<u64>,
    /// Peak/off-peak window (`HHMM` UTC). Parsed, not evaluated: the top-level prices already
    /// reflect the window current when the catalog was fetched (§7.3).
    pub utc_start: Option<String>,
    pub utc_end: Option<String>,
    pub rates: Rates,
}

impl PriceOverride {
    /// Only conditions we can evaluate count; a timed tier never applies (see `utc_start`).
    fn applies(&self, prompt_tokens: u64) -> bool {
        self.utc_start.is_none()
            && self.utc_end.is_none()
            && self.min_prompt_tokens.is_none_or(|min| prompt_tokens > min)
    }
}

/// One model's pricing, USD per unit, parsed from decimal strings without passing through f64.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pricing {
    pub rates: Rates,
    /// `"-1"` prompt/completion: the price depends on the routed model (`openrouter/auto`).
    pub variable: bool,
    /// Fraction off the total (0.01 = 1 %).
    pub discount: Option<Decimal>,
    pub overrides: Vec<PriceOverride>,
}

impl Pricing {
    /// Plain per-token prices, as for a price table entry.
    pub fn per_token(prompt: Decimal, completion: Decimal) -> Pricing {
        Pricing {
            rates: Rates { prompt: Some(prompt), completion: Some(completion), ..Rates::default() },
            ..Pricing::default()
        }
    }

    pub fn prompt(&self) -> Decimal {
        self.rates.prompt.unwrap_or_default()
    }

    pub fn completion(&self) -> Decimal {
        self.rates.completion.unwrap_or_default()
    }

    /// Both token prices are zero (and not variable).
    pub fn is_zero(&self) -> bool {
        !self.variable && self.prompt().is_zero() && self.completion().is_zero()
    }

    /// USD per million prompt tokens, exact; `None` when variable.
    pub fn prompt_per_million(&self) -> Option<Decimal> {
        (!self.variable).then(|| per_million(self.prompt()))
    }

    /// USD per million completion tokens, exact; `None` when variable.
    pub fn completion_per_million(&self) -> Option<Decimal> {
        (!self.variable).then(|| per_million(self.completion()))
    }

    /// The base rates with every override that applies at this prompt size laid over them,
    /// in order, so later entries win per key.
    pub fn effective_rates(&self, prompt_tokens: u64) -> Rates {
        let mut rates = self.rates.clone();
        for o in self.overrides.iter().filter(|o| o.applies(prompt_tokens)) {
            rates.overlay(&o.rates);
        }
        rates
    }

    /// Parse an OpenRouter `pricing` object (or a config price-table entry of the same shape).
    /// Values may be decimal strings or numbers; `prompt` and `completion` are required.
    pub fn from_value(v: &Value) -> Result<Pricing, String> {
        let map = v.as_object().ok_or("pricing is not an object")?;
        let rates = Rates::from_map(map)?;
        let (Some(prompt), Some(completion)) = (rates.prompt, rates.completion) else {
            return Err("pricing needs both `prompt` and `completion`".into());
        };
        let variable = prompt.is_sign_negative() || completion.is_sign_negative();
        let discount = match map.get("discount") {
            Some(d) => decimal_of(d).map_err(|e| format!("pricing.discount: {e}"))?,
            None => None,
        };
        let mut overrides = Vec::new();
        if let Some(list) = map.get("overrides").filter(|o| !o.is_null()) {
            let list = list.as_array().ok_or("pricing.overrides is not a list")?;
            for o in list {
                let m = o.as_object().ok_or("pricing.overrides entry is not an object")?;
                let min_prompt_tokens = match m.get("min_prompt_tokens") {
                    None | Some(Value::Null) => None,
                    Some(n) => Some(n.as_u64().ok_or("overrides.min_prompt_tokens is not a count")?),
                };
                let text = |k: &str| {
                    m.get(k).and_then(|t| t.as_str().map(str::to_owned).or_else(|| t.as_u64().map(|n| n.to_string())))
                };
                overrides.push(PriceOverride {
                    min_prompt_tokens,
                    utc_start: text("utc_start"),
                    utc_end: text("utc_end"),
                    rates: Rates::from_map(m)?,
                });
            }
        }
        Ok(Pricing { rates, variable, discount, overrides })
    }

    /// The OpenRouter shape with exact decimal strings (`"-1"` kept for variable prices).
    pub fn to_value(&self) -> Value {
        let mut map = Map::new();
        self.rates.write_map(&mut map);
        if let Some(d) = self.discount {
            map.insert("discount".into(), Value::String(d.to_string()));
        }
        if !self.overrides.is_empty() {
            let list = self.overrides.iter().map(|o| {
                let mut m = Map::new();
                if let Some(n) = o.min_prompt_tokens {
                    m.insert("min_prompt_tokens".into(), n.into());
                }
                for (k, v) in [("utc_start", &o.utc_start), ("utc_end", &o.utc_end)] {
                    if let Some(v) = v {
                        m.insert(k.into(), Value::String(v.clone()));
                    }
                }
                o.rates.write_map(&mut m);
                Value::Object(m)
            });
            map.insert("overrides".into(), Value::Array(list.collect()));
        }
        Value::Object(map)
    }
}

impl Serialize for Pricing {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Pricing {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Pricing::from_value(&v).map_err(serde::de::Error::custom)
    }
}

/// A decimal from a JSON/TOML value: strings are parsed exactly; numbers go through their
/// shortest decimal text (exact for anything a person writes); null/empty = absent.
fn decimal_of(v: &Value) -> Result<Option<Decimal>, String> {
    let text = match v {
        Value::Null => return Ok(None),
        Value::String(s) if s.trim().is_empty() => return Ok(None),
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        other => return Err(format!("expected a decimal string, got {other}")),
    };
    let parsed = if text.contains(['e', 'E']) { Decimal::from_scientific(&text) } else { Decimal::from_str(&text) };
    parsed.map(Some).map_err(|e| format!("'{text}' is not a decimal number ({e})"))
}

fn per_million(per_token: Decimal) -> Decimal {
    per_token.checked_mul(Decimal::from(1_000_000u32)).unwrap_or(Decimal::MAX).normalize()
}

/// `tokens × price`, `None` on overflow (absurd counts must not panic).
fn times(tokens: u64, price: Decimal) -> Option<Decimal> {
    if tokens == 0 || price.is_zero() {
        return Some(Decimal::ZERO);
    }
    Decimal::from(tokens).checked_mul(price)
}

/// The cost of one request per §10.2: uncached prompt × prompt + cached × cache-read (falling
/// back to prompt) + cache-write × cache-write (falling back to prompt) + (completion + hidden
/// thinking) × completion + reasoning × internal_reasoning when that is non-zero + request, with
/// long-context overrides applied and the discount taken off. `None` for variable prices.
pub fn cost(pricing: &Pricing, usage: &Usage) -> Option<Decimal> {
    if pricing.variable {
        return None;
    }
    let r = pricing.effective_rates(usage.prompt_tokens);
    let prompt = r.prompt.unwrap_or_default();
    let completion = r.completion.unwrap_or_default();
    // Cached and cache-write tokens are both subsets of prompt_tokens (§10.2 [INF]).
    let uncached = usage.prompt_tokens.saturating_sub(usage.cached_tokens).saturating_sub(usage.cache_write_tokens);
    // Gemini's hidden thinking tokens are billed as output but missing from completion_tokens.
    let output = usage.completion_tokens.saturating_add(usage.hidden_tokens);
    let reasoning = match r.internal_reasoning {
        Some(p) if !p.is_zero() => times(usage.reasoning_tokens, p)?,
        _ => Decimal::ZERO,
    };
    let parts = [
        times(uncached, prompt)?,
        times(usage.cached_tokens, r.input_cache_read.unwrap_or(prompt))?,
        times(usage.cache_write_tokens, r.input_cache_write.unwrap_or(prompt))?,
        times(output, completion)?,
        reasoning,
        r.request.unwrap_or_default(),
        times(usage.web_search_requests, r.web_search.unwrap_or_default())?,
    ];
    let mut total = Decimal::ZERO;
    for p in parts {
        total = total.checked_add(p)?;
    }
    if let Some(d) = pricing.discount.filter(|d| !d.is_zero()) {
        total = total.checked_mul(Decimal::ONE.checked_sub(d)?)?;
    }
    Some(total.normalize())
}

/// Tokens the tool definitions add to a prompt (providers count them as input): ~4 characters
/// per token of each tool's name, description and JSON schema. Like [`estimate_prompt_tokens`],
/// an estimate; an MCP server's dozen schemas are thousands.
pub fn estimate_tool_tokens(tools: &[crate::core::protocol::ToolSpec]) -> u64 {
    let chars: usize = tools.iter().map(|t| t.name.len() + t.description.len() + t.parameters.to_string().len()).sum();
    (chars as u64).div_ceil(4)
}

/// Tokens the prompt will probably use, before sending. **An estimate**, not a tokenizer:
/// ~4 characters per token for Latin-script text, 1 token per CJK/kana/hangul character (those
/// scripts tokenize close to one token per character), plus 4 tokens of framing per message and
/// 3 for the reply primer (OpenAI's published chat overhead). Good to ±30 % on ordinary prose.
pub fn estimate_prompt_tokens(messages: &[ChatMessage]) -> u64 {
    const PER_MESSAGE: u64 = 4;
    const REPLY_PRIMER: u64 = 3;
    let mut total = REPLY_PRIMER;
    for m in messages {
        let mut wide = 0u64;
        let mut narrow = 0u64;
        let texts = std::iter::once(m.content.as_str())
            .chain(m.tool_calls.iter().flat_map(|c| [c.name.as_str(), c.arguments.as_str()]));
        for ch in texts.flat_map(str::chars) {
            if is_wide_script(ch) {
                wide += 1;
            } else {
                narrow += 1;
            }
        }
        total = total.saturating_add(PER_MESSAGE + wide + narrow.div_ceil(4));
    }
    total
}

/// Han, kana, hangul and full-width forms: roughly a token each.
fn is_wide_script(ch: char) -> bool {
    matches!(ch as u32,
        0x3040..=0x30FF      // hiragana, katakana
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xAC00..=0xD7AF    // hangul syllables
        | 0xF900..=0xFAFF    // CJK compatibility ideographs
        | 0xFF00..=0xFFEF    // full-width forms
        | 0x20000..=0x2FFFF  // CJK extensions B+
    )
}

/// What `tokens` prompt tokens cost at these prices (tiers included), before any output.
pub fn estimate_prompt_cost(pricing: &Pricing, tokens: u64) -> Option<Decimal> {
    estimate_send_cost(pricing, tokens, false)
}

/// What sending costs before any output: the prompt, plus one web search when it is on (the
/// model decides how many it runs; one is the least a web-search answer costs).
pub fn estimate_send_cost(pricing: &Pricing, tokens: u64, web_search: bool) -> Option<Decimal> {
    let usage = Usage {
        prompt_tokens: tokens,
        total_tokens: tokens,
        web_search_requests: u64::from(web_search),
        ..Usage::default()
    };
    cost(pricing, &usage)
}

/// Prices for direct providers (Gemini, OpenAI, local servers), from the config's `[prices]`
/// table keyed by model spec: `[prices."gemini:gemini-2.5-flash"] prompt = "0.0000003"`.
/// A `provider:*` key prices every model of that provider (e.g. `"ollama:*"` at zero).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PriceTable(pub BTreeMap<String, Pricing>);

impl PriceTable {
    /// From the `[prices]` TOML table; the error names the bad key.
    pub fn from_toml(table: &toml::Table) -> Result<PriceTable, String> {
        let mut out = BTreeMap::new();
        for (key, v) in table {
            let json = serde_json::to_value(v).map_err(|e| format!("prices.\"{key}\": {e}"))?;
            let p = Pricing::from_value(&json).map_err(|e| format!("prices.\"{key}\": {e}"))?;
            if p.variable {
                return Err(format!("prices.\"{key}\": prices must not be negative"));
            }
            out.insert(key.clone(), p);
        }
        Ok(PriceTable(out))
    }

    /// The entry for a model served by `provider`: exact `provider:model`, then the id without
    /// Gemini's `models/` prefix or a date suffix (OpenAI answers `gpt-4o-mini-2024-07-18` for
    /// `gpt-4o-mini`), then the provider's `*` entry.
    pub fn lookup(&self, provider: &str, model: &str) -> Option<&Pricing> {
        let model = model.strip_prefix("models/").unwrap_or(model);
        let get = |m: &str| self.0.get(&format!("{provider}:{m}"));
        get(model)
            .or_else(|| super::strip_date_suffix(model).and_then(get))
            .or_else(|| self.0.get(&format!("{provider}:*")))
    }
}
