//! Turns one SSE `data:` payload (or a whole non-streamed body) of any OpenAI-compatible backend
//! into normalized pieces: text, reasoning, tool-call fragments, finish, usage, errors.
//!
//! This runs once per chunk for many concurrent streams, so each payload is parsed exactly once
//! into the lenient borrowed wire types of `wire` and nothing is cloned twice.

mod details;
mod wire;
pub(crate) use wire::reported_discount;

use std::borrow::Cow;

use self::details::ReasoningDetails;
use self::wire::{Chunk, Delta, Str, ToolCallDelta};
use crate::core::error::{CoreError, ErrorKind};
use crate::core::protocol::{Citation, FinishReason, ToolCall, Usage};
use crate::core::provider::ProviderKind;
use crate::core::provider::errors::classify_error_object;
use crate::core::sanitize::strip_controls;

/// What one SSE data payload (or a non-streamed body) contributed, in order.
///
/// Within one payload the order is: `Meta`, `Reasoning`, `Text`, `ToolFragment`s, `Error`,
/// `Finish`, `Usage`. An `Error` precedes the `Finish { reason: Error }` of the same chunk so a
/// caller that stops at the first terminal piece reports the cause.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    /// Identity of the generation, emitted when a value first appears or changes. Values are
    /// control-stripped (they are shown in the UI); the caller keeps the first non-empty one.
    Meta {
        generation_id: Option<String>,
        model: Option<String>,
        upstream_provider: Option<String>,
    },
    /// Answer text, verbatim (the consumer sanitizes at display time, after joining deltas, so
    /// an escape sequence split across chunks is still caught).
    Text(String),
    Reasoning(String),
    /// One tool-call fragment; `slot` is stable for the stream. `id`/`name` are only set on the
    /// fragment that carried them (non-empty); `arguments` is appended verbatim.
    ToolFragment {
        slot: usize,
        id: Option<String>,
        name: Option<String>,
        arguments: String,
    },
    /// May repeat within a stream (the usage chunk often repeats it); keep the first.
    Finish {
        reason: FinishReason,
        native: Option<String>,
    },
    /// Emitted for every non-null `usage`; keep the last.
    Usage(Usage),
    /// An error inside a 200 response (top-level or per-choice `error`).
    Error(CoreError),
}

#[derive(Debug, Default)]
struct Slot {
    /// The `index` this slot was opened for, when the backend sends one.
    index: Option<u64>,
    id: String,
    name: String,
    arguments: String,
    thought_signature: Option<String>,
}

/// Per-stream state: the tool-call accumulator and the identity already reported.
#[derive(Debug)]
pub struct StreamNormalizer {
    kind: ProviderKind,
    slots: Vec<Slot>,
    generation_id: Option<String>,
    model: Option<String>,
    upstream_provider: Option<String>,
    details: ReasoningDetails,
    citations: Vec<Citation>,
}

impl StreamNormalizer {
    pub fn new(kind: ProviderKind) -> Self {
        Self {
            kind,
            slots: Vec::new(),
            generation_id: None,
            model: None,
            upstream_provider: None,
            details: ReasoningDetails::default(),
            citations: Vec::new(),
        }
    }

    /// The stream's structured reasoning blocks, whole, for passing back in a tool loop.
    pub fn reasoning_details(&self) -> Vec<serde_json::Value> {
        self.details.blocks()
    }

    /// The sources the answer cited, each URL once, in the order first cited.
    pub fn citations(&self) -> Vec<Citation> {
        self.citations.clone()
    }

    /// One SSE event's data (never `[DONE]`: the caller handles it). Empty data (a bare
    /// `data:` line some proxies send as keep-alive) contributes nothing. Anything that is not
    /// JSON is a `MalformedResponse` error; the normalizer stays usable afterwards.
    pub fn feed(&mut self, data: &str) -> Result<Vec<Piece>, CoreError> {
        let mut out = Vec::new();
        if data.trim().is_empty() {
            return Ok(out);
        }
        // Gemini wraps errors in a JSON array, and may do so inside a stream too.
        if data.trim_start().starts_with('[') {
            let value: serde_json::Value = serde_json::from_str(data).map_err(|e| malformed(data.as_bytes(), &e))?;
            self.push_array_error(&value, &mut out);
            return Ok(out);
        }
        let chunk: Chunk<'_> = serde_json::from_str(data).map_err(|e| malformed(data.as_bytes(), &e))?;
        self.absorb(chunk, &mut out);
        Ok(out)
    }

    /// The assembled tool calls in slot order; an empty id becomes `call_<slot>` so the tool
    /// result sent back next turn can reference it.
    pub fn tool_calls(&self) -> Vec<ToolCall> {
        self.slots
            .iter()
            .enumerate()
            .map(|(i, s)| ToolCall {
                id: if s.id.is_empty() { format!("call_{i}") } else { s.id.clone() },
                name: s.name.clone(),
                arguments: s.arguments.clone(),
                thought_signature: s.thought_signature.clone(),
            })
            .collect()
    }

    fn push_array_error(&self, value: &serde_json::Value, out: &mut Vec<Piece>) {
        let err = value.as_array().and_then(|a| a.iter().find_map(|v| v.get("error")));
        out.push(Piece::Error(match err {
            Some(e) => classify_error_object(self.kind, None, e),
            None => CoreError::new(
                ErrorKind::MalformedResponse,
                format!(
                    "The upstream sent a JSON array where a chat-completion chunk was expected: {}",
                    excerpt(value.to_string().as_bytes())
                ),
            ),
        }));
    }

    fn absorb(&mut self, chunk: Chunk<'_>, out: &mut Vec<Piece>) {
        self.push_meta(chunk.id, chunk.model, chunk.provider, out);
        // Only the first choice: roundtable never asks for `n > 1`, and `choices` may be empty
        // (usage chunk, debug chunk, interleaved keep-alive frames).
        let mut finish = None;
        let mut choice_error = None;
        if let Some(choice) = chunk.choices.and_then(|c| c.into_iter().next()).flatten() {
            if let Some(delta) = choice.delta.or(choice.message) {
                self.absorb_delta(delta, out);
            }
            choice_error = choice.error;
            if let Some(reason) = choice.finish_reason.filter(|r| !r.is_empty()) {
                finish = Some(Piece::Finish {
                    reason: FinishReason::parse(&reason),
                    native: choice.native_finish_reason.filter(|n| !n.is_empty()).map(Cow::into_owned),
                });
            }
        }
        // A top-level error wins over a per-choice one (§3.3, §4.5); both mean the same failure.
        if let Some(err) = chunk.error.as_ref().or(choice_error.as_ref()).filter(|e| !e.is_null()) {
            out.push(Piece::Error(classify_error_object(self.kind, None, err)));
        }
        out.extend(finish);
        if let Some(usage) = chunk.usage.and_then(wire::RawUsage::into_usage) {
            out.push(Piece::Usage(usage));
        }
    }

    fn absorb_delta(&mut self, delta: Delta<'_>, out: &mut Vec<Piece>) {
        // `reasoning` (OpenRouter, Ollama) and `reasoning_content` (llama.cpp, vLLM, DeepSeek)
        // carry the same text when both appear; `reasoning_details` repeats it again in
        // structured form, so it is only a fallback when no plain field has text.
        let plain = delta.reasoning.0.filter(|r| !r.is_empty()).or(delta.reasoning_content.0.filter(|r| !r.is_empty()));
        let details = match delta.reasoning_details {
            Some(serde_json::Value::Array(details)) => details,
            _ => Vec::new(),
        };
        let has_plain = plain.is_some();
        if let Some(r) = plain {
            out.push(Piece::Reasoning(r.into_owned()));
        }
        for d in details {
            let serde_json::Value::Object(block) = d else { continue };
            if !has_plain && let Some(text) = detail_text(&block) {
                out.push(Piece::Reasoning(text.to_owned()));
            }
            self.details.absorb(block);
        }
        // Gemini marks thought summaries with `extra_content.google.thought: true`.
        let is_thought = delta.extra_content.and_then(|e| e.google).and_then(|g| g.thought).unwrap_or(false);
        for text in [delta.content.0, delta.refusal.0].into_iter().flatten() {
            if !text.is_empty() {
                let text = text.into_owned();
                out.push(if is_thought { Piece::Reasoning(text) } else { Piece::Text(text) });
            }
        }
        for call in delta.tool_calls.into_iter().flatten().flatten() {
            self.absorb_tool_call(call, out);
        }
        if let Some(serde_json::Value::Array(annotations)) = delta.annotations {
            self.absorb_annotations(&annotations);
        }
    }

    /// `url_citation` annotations. The reference names them (issue 13) but does not give their
    /// shape; this reads OpenAI's chat-completions form, `{type:"url_citation",
    /// url_citation:{url, title, content?, start_index?, end_index?}}`, and skips anything else.
    /// Whether OpenRouter sends them once or repeats them across chunks is not documented, so
    /// repeats are dropped by URL.
    fn absorb_annotations(&mut self, annotations: &[serde_json::Value]) {
        for a in annotations.iter().filter(|a| a["type"] == "url_citation") {
            let c = &a["url_citation"];
            let Some(url) = c["url"].as_str().map(|u| strip_controls(u).into_owned()).filter(|u| !u.trim().is_empty())
            else {
                continue;
            };
            if self.citations.iter().any(|seen| seen.url == url) {
                continue;
            }
            let title = c["title"].as_str().map(|t| strip_controls(t).into_owned()).filter(|t| !t.trim().is_empty());
            self.citations.push(Citation { url, title });
        }
    }

    /// §4.7: key by `index`, else by non-empty `id`, else a new slot; keep the first non-empty
    /// id and name; append arguments verbatim.
    fn absorb_tool_call(&mut self, call: ToolCallDelta<'_>, out: &mut Vec<Piece>) {
        let id = call.id.filter(|s| !s.is_empty());
        let found = match (call.index.0, id.as_deref()) {
            (Some(i), _) => self.slots.iter().position(|s| s.index == Some(i)),
            (None, Some(id)) => self.slots.iter().position(|s| s.index.is_none() && s.id == id),
            (None, None) => None,
        };
        let slot_no = found.unwrap_or_else(|| {
            self.slots.push(Slot { index: call.index.0, ..Slot::default() });
            self.slots.len() - 1
        });
        let (name, arguments) = match call.function {
            Some(f) => (f.name.filter(|s| !s.is_empty()), f.arguments.0.unwrap_or_default()),
            None => (None, String::new()),
        };
        let signature = call.extra_content.and_then(|e| e.google).and_then(|g| g.thought_signature);
        let Some(slot) = self.slots.get_mut(slot_no) else {
            return;
        };
        if slot.id.is_empty()
            && let Some(id) = &id
        {
            slot.id.push_str(id);
        }
        if slot.name.is_empty()
            && let Some(name) = &name
        {
            slot.name.push_str(name);
        }
        if slot.thought_signature.is_none()
            && let Some(sig) = signature.filter(|s| !s.is_empty())
        {
            slot.thought_signature = Some(sig.into_owned());
        }
        slot.arguments.push_str(&arguments);
        out.push(Piece::ToolFragment {
            slot: slot_no,
            id: id.map(Cow::into_owned),
            name: name.map(Cow::into_owned),
            arguments,
        });
    }

    fn push_meta(
        &mut self,
        id: Option<Str<'_>>,
        model: Option<Str<'_>>,
        provider: Option<Str<'_>>,
        out: &mut Vec<Piece>,
    ) {
        let mut changed = false;
        for (new, seen) in
            [(id, &mut self.generation_id), (model, &mut self.model), (provider, &mut self.upstream_provider)]
        {
            // Compare the cleaned value, so a value with control characters is not re-reported
            // on every chunk; the usual repeat of the value already kept is not cleaned again
            // (every chunk repeats all three: cleaning them was 2.5% of `ask`'s CPU).
            if let Some(new) = new.filter(|v| !v.is_empty())
                && seen.as_deref() != Some(&*new)
                && let clean = strip_controls(&new)
                && seen.as_deref() != Some(&*clean)
            {
                *seen = Some(clean.into_owned());
                changed = true;
            }
        }
        if changed {
            out.push(Piece::Meta {
                generation_id: self.generation_id.clone(),
                model: self.model.clone(),
                upstream_provider: self.upstream_provider.clone(),
            });
        }
    }
}

/// A non-streamed JSON completion body (§3) → the same pieces: meta, reasoning, text, whole
/// tool calls as fragments, error, finish, usage. A top-level `error` (even with HTTP 200)
/// becomes `Piece::Error`.
pub fn pieces_from_completion(kind: ProviderKind, body: &[u8]) -> Result<Vec<Piece>, CoreError> {
    let mut normalizer = StreamNormalizer::new(kind);
    let mut out = Vec::new();
    if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| malformed(body, &e))?;
        normalizer.push_array_error(&value, &mut out);
        return Ok(out);
    }
    let chunk: Chunk<'_> = serde_json::from_slice(body).map_err(|e| malformed(body, &e))?;
    normalizer.absorb(chunk, &mut out);
    Ok(out)
}

fn malformed(data: &[u8], err: &serde_json::Error) -> CoreError {
    let what = if err.is_data() { "JSON that is not a chat-completion chunk" } else { "something that is not JSON" };
    CoreError::new(
        ErrorKind::MalformedResponse,
        format!(
            "The upstream sent {what} ({err}): {}. Retry; if it persists the server or a proxy in front of it is misbehaving.",
            excerpt(data)
        ),
    )
}

/// A short, single-line, control-free excerpt for messages.
fn excerpt(data: &[u8]) -> String {
    const MAX: usize = 120;
    let text = String::from_utf8_lossy(&data[..data.len().min(MAX * 4)]);
    let clean = strip_controls(&text);
    let mut out: String = clean.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(MAX).collect();
    if clean.chars().count() > MAX || data.len() > MAX * 4 {
        out.push('…');
    }
    format!("\"{out}\"")
}

/// The readable text of one `reasoning_details` block (`reasoning.text` or `.summary`).
fn detail_text(block: &serde_json::Map<String, serde_json::Value>) -> Option<&str> {
    let field = match block.get("type")?.as_str()? {
        "reasoning.text" => "text",
        "reasoning.summary" => "summary",
        _ => return None,
    };
    block.get(field)?.as_str().filter(|t| !t.is_empty())
}

#[cfg(test)]
mod citation_tests {
    use super::*;

    #[test]
    fn url_citations_are_collected_once_each_and_searches_counted() {
        let mut n = StreamNormalizer::new(ProviderKind::Openrouter);
        let cite = r#"{"choices":[{"index":0,"delta":{"content":"","annotations":[
            {"type":"url_citation","url_citation":{"url":"https://a.example/x","title":"A"}},
            {"type":"file","file":{}},
            {"type":"url_citation","url_citation":{"url":"https://b.example/y"}}]}}]}"#;
        n.feed(cite).unwrap();
        n.feed(cite).unwrap();
        let usage = n
            .feed(r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"server_tool_use":{"web_search_requests":2}}}"#)
            .unwrap();
        assert_eq!(
            n.citations(),
            [
                Citation { url: "https://a.example/x".into(), title: Some("A".into()) },
                Citation { url: "https://b.example/y".into(), title: None },
            ]
        );
        assert!(matches!(usage.last(), Some(Piece::Usage(u)) if u.web_search_requests == 2), "{usage:?}");
    }
}
