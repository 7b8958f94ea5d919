//! The lenient wire shapes of chat-completion chunks and bodies: every field optional, `null`
//! accepted everywhere, unknown fields skipped, short strings borrowed from the payload.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::core::protocol::Usage;

/// A string that borrows from the payload when it has no escapes.
pub(super) type Str<'a> = Cow<'a, str>;

#[derive(Deserialize)]
pub(super) struct Chunk<'a> {
    #[serde(default, borrow, deserialize_with = "opt_str")]
    pub(super) id: Option<Str<'a>>,
    #[serde(default, borrow, deserialize_with = "opt_str")]
    pub(super) model: Option<Str<'a>>,
    #[serde(default, borrow, deserialize_with = "opt_str")]
    pub(super) provider: Option<Str<'a>>,
    #[serde(default, borrow)]
    pub(super) choices: Option<Vec<Option<Choice<'a>>>>,
    #[serde(default)]
    pub(super) usage: Option<RawUsage>,
    #[serde(default)]
    pub(super) error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
pub(super) struct Choice<'a> {
    #[serde(default, borrow)]
    pub(super) delta: Option<Delta<'a>>,
    /// Non-streamed bodies carry `message` instead of `delta`.
    #[serde(default, borrow)]
    pub(super) message: Option<Delta<'a>>,
    #[serde(default, borrow, deserialize_with = "opt_str")]
    pub(super) finish_reason: Option<Str<'a>>,
    #[serde(default, borrow, deserialize_with = "opt_str")]
    pub(super) native_finish_reason: Option<Str<'a>>,
    #[serde(default)]
    pub(super) error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
pub(super) struct Delta<'a> {
    #[serde(default, borrow)]
    pub(super) content: Text<'a>,
    #[serde(default, borrow)]
    pub(super) refusal: Text<'a>,
    #[serde(default, borrow)]
    pub(super) reasoning: Text<'a>,
    #[serde(default, borrow)]
    pub(super) reasoning_content: Text<'a>,
    /// Kept whole: the blocks are passed back unmodified in a tool loop. Any JSON is accepted
    /// here (only an array of objects is used), so an odd value never fails the chunk.
    #[serde(default)]
    pub(super) reasoning_details: Option<serde_json::Value>,
    #[serde(default, borrow)]
    pub(super) tool_calls: Option<Vec<Option<ToolCallDelta<'a>>>>,
    #[serde(default, borrow)]
    pub(super) extra_content: Option<ExtraContent<'a>>,
    /// Citations (`{type:"url_citation", url_citation:{url, title, …}}`); any JSON is accepted
    /// so an odd value never fails the chunk.
    #[serde(default)]
    pub(super) annotations: Option<serde_json::Value>,
}

#[derive(Deserialize)]
pub(super) struct ToolCallDelta<'a> {
    #[serde(default)]
    pub(super) index: Count,
    #[serde(default, borrow, deserialize_with = "opt_str")]
    pub(super) id: Option<Str<'a>>,
    #[serde(default, borrow)]
    pub(super) function: Option<FunctionDelta<'a>>,
    #[serde(default, borrow)]
    pub(super) extra_content: Option<ExtraContent<'a>>,
}

#[derive(Deserialize)]
pub(super) struct FunctionDelta<'a> {
    #[serde(default, borrow, deserialize_with = "opt_str")]
    pub(super) name: Option<Str<'a>>,
    #[serde(default)]
    pub(super) arguments: Arguments,
}

#[derive(Deserialize)]
pub(super) struct ExtraContent<'a> {
    #[serde(default, borrow)]
    pub(super) google: Option<GoogleExtra<'a>>,
}

#[derive(Deserialize)]
pub(super) struct GoogleExtra<'a> {
    #[serde(default, borrow, deserialize_with = "opt_str")]
    pub(super) thought_signature: Option<Str<'a>>,
    #[serde(default)]
    pub(super) thought: Option<bool>,
}

#[derive(Deserialize)]
pub(super) struct RawUsage {
    #[serde(default)]
    pub(super) prompt_tokens: Count,
    #[serde(default)]
    pub(super) completion_tokens: Count,
    #[serde(default)]
    pub(super) total_tokens: Count,
    #[serde(default)]
    pub(super) cost: Option<serde_json::Value>,
    #[serde(default)]
    pub(super) prompt_tokens_details: Option<PromptDetails>,
    #[serde(default)]
    pub(super) completion_tokens_details: Option<CompletionDetails>,
    /// §3.2: `server_tool_use.web_search_requests` for server tools.
    #[serde(default)]
    pub(super) server_tool_use: Option<ServerToolUse>,
    /// `cache_discount` (USD saved by caching): the reference lists it in `GET /generation`
    /// (§8.3) and says nothing of the usage chunk; read here too should an upstream send it.
    #[serde(default)]
    pub(super) cache_discount: Option<serde_json::Value>,
}

#[derive(Deserialize)]
pub(super) struct ServerToolUse {
    #[serde(default)]
    pub(super) web_search_requests: Count,
}

#[derive(Deserialize)]
pub(super) struct PromptDetails {
    #[serde(default)]
    pub(super) cached_tokens: Count,
    #[serde(default)]
    pub(super) cache_write_tokens: Count,
}

#[derive(Deserialize)]
pub(super) struct CompletionDetails {
    #[serde(default)]
    pub(super) reasoning_tokens: Count,
}

impl RawUsage {
    /// The usage as reported, or `None` when its token counts are impossible (a warning is
    /// logged). An impossible cost (negative, or a million dollars or more) is dropped alone:
    /// the counts still stand and the cost becomes unknown (or estimated).
    pub(super) fn into_usage(self) -> Option<Usage> {
        let counts = [
            self.prompt_tokens.0,
            self.completion_tokens.0,
            self.total_tokens.0,
            self.prompt_tokens_details.as_ref().and_then(|d| d.cached_tokens.0),
            self.prompt_tokens_details.as_ref().and_then(|d| d.cache_write_tokens.0),
            self.completion_tokens_details.as_ref().and_then(|d| d.reasoning_tokens.0),
        ];
        if let Some(bad) = counts.into_iter().flatten().find(|c| *c > crate::core::provider::MAX_PLAUSIBLE_TOKENS) {
            tracing::warn!(count = bad, "ignored a usage report with an impossible token count");
            return None;
        }
        let prompt = self.prompt_tokens.0.unwrap_or(0);
        let completion = self.completion_tokens.0.unwrap_or(0);
        let total = self.total_tokens.0.unwrap_or(prompt + completion);
        let cost = self.cost.as_ref().and_then(crate::core::decimal::decimal_from_json);
        let reported_cost = match cost {
            Some(c) if c.is_sign_negative() || c >= rust_decimal::Decimal::from(1_000_000) => {
                tracing::warn!(cost = %c, "ignored an impossible reported cost");
                None
            }
            other => other,
        };
        Some(Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: total,
            cached_tokens: self.prompt_tokens_details.as_ref().and_then(|d| d.cached_tokens.0).unwrap_or(0),
            cache_write_tokens: self.prompt_tokens_details.as_ref().and_then(|d| d.cache_write_tokens.0).unwrap_or(0),
            reasoning_tokens: self.completion_tokens_details.and_then(|d| d.reasoning_tokens.0).unwrap_or(0),
            // Gemini bills thinking tokens it leaves out of `completion_tokens`.
            hidden_tokens: total.saturating_sub(prompt.saturating_add(completion)),
            reported_cost,
            web_search_requests: self.server_tool_use.and_then(|s| s.web_search_requests.0).unwrap_or(0),
            web_search_cost: None,
            cache_discount: reported_discount(self.cache_discount.as_ref()),
        })
    }
}

/// A reported `cache_discount` (null, absent or absurd: none).
pub(crate) fn reported_discount(v: Option<&serde_json::Value>) -> Option<crate::core::protocol::Cost> {
    let usd = crate::core::decimal::decimal_from_json(v?)?;
    (usd.abs() < rust_decimal::Decimal::from(1_000_000))
        .then_some(crate::core::protocol::Cost { usd: Some(usd), source: crate::core::protocol::CostSource::Reported })
}

/// `Option<Cow<str>>` that borrows when it can, and treats non-strings as absent rather than
/// failing the whole chunk.
fn opt_str<'de: 'a, 'a, D: Deserializer<'de>>(d: D) -> Result<Option<Str<'a>>, D::Error> {
    Ok(d.deserialize_any(TextVisitor)?.0)
}

/// Text content: a string, `null`, or an array of content parts whose `text` members are
/// joined (some servers answer in the multi-part form). Anything else counts as absent.
#[derive(Default)]
pub(super) struct Text<'a>(pub(super) Option<Str<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextVisitor)
    }
}

pub(super) struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, null or content parts")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Text(Some(Cow::Borrowed(v))))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Text(Some(Cow::Owned(v.to_owned()))))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Text(Some(Cow::Owned(v))))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut joined: Option<String> = None;
        while let Some(part) = seq.next_element::<serde_json::Value>()? {
            if let Some(t) = part.get("text").and_then(|t| t.as_str()) {
                joined.get_or_insert_with(String::new).push_str(t);
            }
        }
        Ok(Text(joined.map(Cow::Owned)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Text(None))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Text(None))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Text(None))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Text(None))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Text(None))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Text(None))
    }
}

/// Tool arguments: normally a JSON-encoded string, but some servers send the object itself;
/// re-encode that so the accumulator always holds JSON text.
#[derive(Default)]
pub(super) struct Arguments(pub(super) Option<String>);

impl<'de> Deserialize<'de> for Arguments {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Arguments(match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) => Some(s),
            serde_json::Value::Null => None,
            other => Some(other.to_string()),
        }))
    }
}

/// A token count or index: accepts integers, integral floats and numeric strings; anything
/// else (null, negative, garbage) counts as absent.
#[derive(Default, Clone, Copy)]
pub(super) struct Count(pub(super) Option<u64>);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Count(match serde_json::Value::deserialize(d)? {
            serde_json::Value::Number(n) => n
                .as_u64()
                .or_else(|| n.as_f64().filter(|f| f.is_finite() && *f >= 0.0 && f.fract() == 0.0).map(|f| f as u64)),
            serde_json::Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }))
    }
}
