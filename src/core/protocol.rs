//! The typed vocabulary between the routing core and its consumers (chatroom, `ask`, tests):
//! commands in, events out, every event keyed by (turn, target).
//!
//! # Tool calling (issue #5)
//!
//! A target whose `TargetRequest::tools` is non-empty runs a tool loop inside the core:
//!
//! * Tools go only to models that can use them: when the catalog says a model lacks `tools`
//!   (or OpenRouter answers 404 "No endpoints found that support tool use") the target emits
//!   `ToolsUnsupported { message }` and streams without tools.
//! * Per step: `Started` … deltas … then, when the model asked for tools, `StepFinished { summary }`
//!   (that step's text, calls, usage and cost; it has its own ledger row), one `ToolCall` per
//!   call, one `ToolResult` per call (in order), and the next step's `Started`. Exactly one
//!   final event (`Finished` / `Failed` / `Cancelled`) ends the target after the whole loop;
//!   its summary is the last step's, so a pane's totals are the `StepFinished` summaries plus
//!   the final one. A cancel while a tool runs or waits for approval ends with `Cancelled`
//!   and an empty summary (the step's figures were in its `StepFinished`).
//! * `ToolCall { needs_confirmation: true }` waits for `Command::ToolDecision` with that
//!   `call_id`; a `ToolResult` for the call ends the wait, whatever the consumer showed.
//!   Built-in tools, tools marked `safe`, tools approved with `AlwaysForTool` earlier in the
//!   process, and every call of a turn with `ToolPolicy::auto_approve` never wait. Unknown
//!   tools and malformed arguments never wait either: they come back at once as an error
//!   `ToolResult`, which is also what the model is told.
//! * After `step_limit` rounds of tool calls the next request asks for a text answer
//!   (`tool_choice: "none"`); a model that still calls tools then ends with
//!   `Finished { reason: Some(ToolCalls) }` and its calls unrun.
//! * The conversation of a tool loop is stored by the consumer with
//!   `store::TranscriptRecorder`, which turns these events into room messages (the assistant
//!   message with its tool calls, each tool result, the next answer).
//!
//! Details a consumer may not expect from the sketch:
//!
//! * `TurnRequest::tool_policy: ToolPolicy { auto_approve, step_limit: Option<u32> }`;
//!   `None` takes the config's `tool_use.step_limit` (8). `TurnRequest` is `Default` and has
//!   `TurnRequest::new(turn, targets)`.
//! * A `ToolResult` with `is_error` has `output` starting with `Error: ` — the exact text the
//!   model got, since OpenAI-style tool messages carry no error flag.
//! * `CoreEvent::CostSettled` (a cost fetched after the stream) and `CoreEvent::Stopped` (the
//!   last event after `Command::Shutdown`) are core-level, not per-target stream events.

use std::time::SystemTime;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::core::error::CoreError;

/// One user prompt fanned out to several models.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TurnId(pub u64);

/// One model's stream within a turn (a pane in the chatroom). Stable across turns of a room,
/// so the same model may appear twice in a room with different settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TargetId(pub u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

/// A chat message in OpenAI shape. Tool calls and `tool_call_id` carry the tool loop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// An assistant step's structured reasoning (OpenRouter's `reasoning_details`), passed back
    /// unmodified with its tool calls so the model keeps its reasoning (§2.2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasoning_details: Vec<serde_json::Value>,
    /// Files sent with a user message (images, PDFs), as content parts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

/// A file sent with a prompt, by path and content fingerprint (`core::attach`): the bytes are
/// read when a request is built, never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub path: String,
    /// The file name, as sent (`file.filename`) and shown.
    pub name: String,
    pub mime: String,
    pub bytes: u64,
    pub fingerprint: String,
}

impl ChatMessage {
    /// A tool's result for the call `tool_call_id`, as fed back to the model.
    pub fn tool_result(tool_call_id: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            role: Role::Tool,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: Some(tool_call_id.into()),
            reasoning_details: Vec::new(),
            attachments: Vec::new(),
        }
    }
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
            reasoning_details: Vec::new(),
            attachments: Vec::new(),
        }
    }
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }
}

/// A complete tool call, assembled from streamed fragments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The raw JSON arguments string exactly as the model produced it (may be malformed).
    pub arguments: String,
    /// Gemini's `extra_content.google.thought_signature`, echoed back verbatim on the next turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thought_signature: Option<String>,
}

impl ToolCall {
    /// The arguments indented for display, or verbatim when they are not JSON.
    pub fn pretty_arguments(&self) -> String {
        serde_json::from_str::<serde_json::Value>(&self.arguments)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| self.arguments.clone())
    }
}

/// A tool definition in OpenAI function-tool shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// JSON Schema of the parameters object.
    pub parameters: serde_json::Value,
}

/// Per-model request settings, merged from config and the room.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Vec<String>>,
    /// `low` / `medium` / `high` / `none`; sent as `reasoning.effort` to OpenRouter and as
    /// `reasoning_effort` to the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<String>,
    /// System prompt prepended to the messages when they carry none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// OpenRouter `provider` preferences object, passed through as-is (OpenRouter only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<serde_json::Value>,
    /// OpenRouter `models` fallback list (OpenRouter only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallbacks: Vec<String>,
    /// OpenRouter's sticky-routing key (`session_id`, ≤256 chars; OpenRouter only). The router
    /// gives each pane of a stored room its own when none is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// OpenRouter's web search (the `openrouter:web_search` server tool; OpenRouter only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_search: Option<bool>,
    /// `response_format` body field, passed through as-is (structured output, e.g. the analyst's
    /// JSON schema: `core::compare::analyst`). Every backend accepts it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<serde_json::Value>,
}

impl ModelSettings {
    /// `self` with every field that `over` sets replaced by `over`'s value.
    pub fn overlay(&self, over: &ModelSettings) -> ModelSettings {
        ModelSettings {
            temperature: over.temperature.or(self.temperature),
            top_p: over.top_p.or(self.top_p),
            max_tokens: over.max_tokens.or(self.max_tokens),
            seed: over.seed.or(self.seed),
            stop: over.stop.clone().or_else(|| self.stop.clone()),
            reasoning_effort: over.reasoning_effort.clone().or_else(|| self.reasoning_effort.clone()),
            system: over.system.clone().or_else(|| self.system.clone()),
            provider: over.provider.clone().or_else(|| self.provider.clone()),
            fallbacks: if over.fallbacks.is_empty() { self.fallbacks.clone() } else { over.fallbacks.clone() },
            web_search: over.web_search.or(self.web_search),
            session_id: over.session_id.clone().or_else(|| self.session_id.clone()),
            response_format: over.response_format.clone().or_else(|| self.response_format.clone()),
        }
    }
}

/// What one target of a turn should stream.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetRequest {
    pub target: TargetId,
    /// The model spec as the user wrote it: `openai/gpt-4o`, `gemini:gemini-2.0-flash`.
    pub model: String,
    pub messages: Vec<ChatMessage>,
    pub settings: ModelSettings,
    pub tools: Vec<ToolSpec>,
    /// Tools of MCP servers that were not running when the request was made, as the user named
    /// them (`server.tool`, `server.*`): the target starts those servers first (a notice says
    /// so; cancelling stops the wait) and offers their tools too. A server whose last start
    /// failed is not tried again here; a notice says why its tools are missing.
    pub tools_to_start: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TurnRequest {
    pub turn: TurnId,
    pub targets: Vec<TargetRequest>,
    /// The stored room this turn belongs to, so ledger rows link to the conversation.
    pub room: Option<i64>,
    /// How this turn's tool calls are approved and how long a tool loop may run.
    pub tool_policy: ToolPolicy,
}

impl TurnRequest {
    pub fn new(turn: TurnId, targets: Vec<TargetRequest>) -> Self {
        Self { turn, targets, room: None, tool_policy: ToolPolicy::default() }
    }
}

/// Approval and length of the tool loops of a turn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ToolPolicy {
    /// Run every call without asking (`ask --yes`).
    pub auto_approve: bool,
    /// Most rounds of tool calls per target before the model must answer in text; `None`
    /// takes the config's `tool_use.step_limit`.
    pub step_limit: Option<u32>,
}

/// The user's answer to a `ToolCall { needs_confirmation: true }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolDecision {
    /// Run this call.
    RunOnce,
    /// Run this call and every later call of the same tool, for the rest of the process.
    AlwaysForTool,
    /// Do not run it; the model is told the user declined.
    Deny,
}

/// Commands the core accepts.
#[derive(Debug, Clone)]
pub enum Command {
    Submit(TurnRequest),
    /// Cancel one target of a turn, or the whole turn when `target` is `None`.
    Cancel {
        turn: TurnId,
        target: Option<TargetId>,
    },
    /// Answer a `ToolCall { needs_confirmation: true }` of a running target. Decisions for calls
    /// that are not waiting (yet) are kept until the call is reached; stale ones are ignored.
    ToolDecision {
        turn: TurnId,
        target: TargetId,
        call_id: String,
        decision: ToolDecision,
    },
    Shutdown,
}

/// Token counts as the provider reported them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    #[serde(default)]
    pub cached_tokens: u64,
    #[serde(default)]
    pub cache_write_tokens: u64,
    #[serde(default)]
    pub reasoning_tokens: u64,
    /// Tokens the provider billed but did not count in `completion_tokens` (Gemini's hidden
    /// thinking): `total - prompt - completion` when positive.
    #[serde(default)]
    pub hidden_tokens: u64,
    /// `usage.cost` in USD as reported by the provider (OpenRouter), exact decimal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported_cost: Option<Decimal>,
    /// Web searches run for the answer (`usage.server_tool_use.web_search_requests`), each
    /// billed at the model's `web_search` price.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub web_search_requests: u64,
    /// What the web searches cost: `web_search_requests` at the model's catalog `web_search`
    /// price, computed by the core (`Estimated`). The reference shows no per-search figure in the
    /// usage (`cost_details` splits only prompt and completion), so this is never `Reported`
    /// today; `usage.cost` already includes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_search_cost: Option<Cost>,
    /// What prompt caching saved (negative when cache writes cost more than they saved, as on
    /// Anthropic). `Reported` when the upstream gives `cache_discount` (§8.3: `GET /generation`;
    /// the reference is silent on whether the usage chunk ever carries it, so it is read there
    /// too when present); otherwise `Estimated` by the core from the catalog prices: the cost
    /// with every prompt token at the prompt price minus the cost as billed (§10.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_discount: Option<Cost>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A source the answer cites (an `annotations[]` entry of type `url_citation`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Citation {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CostSource {
    Reported,
    Estimated,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cost {
    pub usd: Option<Decimal>,
    pub source: CostSource,
}

impl Cost {
    pub const UNKNOWN: Cost = Cost { usd: None, source: CostSource::Unknown };
}

/// Normalized finish reasons; `Other` keeps anything unexpected verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    Stop,
    Length,
    ToolCalls,
    ContentFilter,
    Error,
    Other(String),
}

impl FinishReason {
    pub fn parse(raw: &str) -> Self {
        match raw {
            "stop" | "end_turn" | "STOP" => Self::Stop,
            "length" | "max_tokens" | "MAX_TOKENS" => Self::Length,
            "tool_calls" | "tool_use" | "function_call" => Self::ToolCalls,
            "content_filter" | "SAFETY" => Self::ContentFilter,
            "error" => Self::Error,
            other => Self::Other(other.to_owned()),
        }
    }
    pub fn as_str(&self) -> &str {
        match self {
            Self::Stop => "stop",
            Self::Length => "length",
            Self::ToolCalls => "tool_calls",
            Self::ContentFilter => "content_filter",
            Self::Error => "error",
            Self::Other(s) => s,
        }
    }
}

/// Timings measured by the core for one stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timings {
    /// Request sent → first content or reasoning token.
    pub ttft_ms: Option<u64>,
    /// Request sent → final event.
    pub duration_ms: u64,
}

impl Timings {
    /// Completion tokens per second over the generation phase (after the first token).
    pub fn tokens_per_second(&self, completion_tokens: u64) -> Option<f64> {
        let ttft = self.ttft_ms?;
        let gen_ms = self.duration_ms.saturating_sub(ttft);
        if gen_ms == 0 || completion_tokens == 0 {
            return None;
        }
        Some(completion_tokens as f64 * 1000.0 / gen_ms as f64)
    }
}

/// The summary carried by every final event, so consumers never need to fold deltas.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamSummary {
    pub text: String,
    pub reasoning: String,
    pub tool_calls: Vec<ToolCall>,
    /// Structured reasoning blocks, whole (OpenRouter); passed back in a tool loop.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasoning_details: Vec<serde_json::Value>,
    /// Sources the answer cites (web search), in the order first cited, each URL once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub citations: Vec<Citation>,
    pub usage: Option<Usage>,
    pub cost: Option<Cost>,
    pub timings: Timings,
    pub generation_id: Option<String>,
    pub served_model: Option<String>,
    pub upstream_provider: Option<String>,
    pub native_finish_reason: Option<String>,
}

/// Event payloads. `Finished`, `Failed` and `Cancelled` are final: exactly one per target.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// Waiting for a rate-limit slot before sending.
    Queued {
        until: SystemTime,
        reason: String,
    },
    /// The request was sent to `provider` (the configured provider name) for `model` (the id
    /// sent upstream).
    Started {
        provider: String,
        model: String,
    },
    /// Response headers arrived; the generation id is known when the upstream sends it.
    Connected {
        generation_id: Option<String>,
    },
    /// The first chunk told which model and upstream provider actually serve the request.
    Served {
        model: String,
        upstream_provider: Option<String>,
    },
    TextDelta(String),
    ReasoningDelta(String),
    /// Something the target left out of its request, and why (attachments a text-only model
    /// cannot take).
    Notice {
        message: String,
    },
    /// A raw tool-call fragment, keyed by its slot in the accumulator.
    ToolCallDelta {
        slot: usize,
        id: Option<String>,
        name: Option<String>,
        arguments: String,
    },
    Usage(Usage),
    /// The model cannot use tools (its catalog entry lacks `tools`, or OpenRouter found no
    /// tool-capable endpoint): this target answers without them. `message` is for the pane.
    ToolsUnsupported {
        message: String,
    },
    /// An intermediate step ended in tool calls; its usage and cost are final and ledgered.
    /// The next step's `Started` follows once the calls have results.
    StepFinished {
        summary: Box<StreamSummary>,
    },
    /// A complete tool call of the step that just finished. With `needs_confirmation` the core
    /// waits for `Command::ToolDecision`; otherwise it runs (or fails) at once.
    ToolCall {
        call: ToolCall,
        needs_confirmation: bool,
    },
    /// The result fed back to the model for `call_id` (control characters removed, size capped).
    /// `is_error` covers denials, unknown tools, malformed arguments, timeouts and failing
    /// commands; `output` then says what went wrong.
    ToolResult {
        call_id: String,
        name: String,
        output: String,
        is_error: bool,
    },
    Finished {
        reason: Option<FinishReason>,
        summary: Box<StreamSummary>,
    },
    Failed {
        error: CoreError,
        summary: Box<StreamSummary>,
    },
    Cancelled {
        summary: Box<StreamSummary>,
    },
}

impl EventKind {
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Finished { .. } | Self::Failed { .. } | Self::Cancelled { .. })
    }
}

/// One target's event.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamEvent {
    pub turn: TurnId,
    pub target: TargetId,
    pub kind: EventKind,
}

/// What the account endpoints (`GET /key`, `GET /credits`) said.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AccountInfo {
    pub provider: String,
    /// Per-key spend cap in USD, and what is left of it.
    pub key_limit: Option<Decimal>,
    pub key_limit_remaining: Option<Decimal>,
    /// "daily" / "weekly" / "monthly" when the cap resets.
    pub key_limit_reset: Option<String>,
    pub usage_today: Option<Decimal>,
    /// Account balance: total credits minus total usage (needs `/credits`).
    pub credits_remaining: Option<Decimal>,
    pub free_daily_used: Option<u32>,
    pub free_daily_limit: Option<u32>,
}

/// Everything the core reports. Stream events are keyed by (turn, target); the others
/// describe the account and quota and go to every consumer that shows them.
#[derive(Debug, Clone, PartialEq)]
pub enum CoreEvent {
    Stream(StreamEvent),
    /// Fresh figures of every quota bucket (after each request, a 429, or `GET /key`).
    Quota(Vec<crate::core::quota::BucketStatus>),
    Account(AccountInfo),
    /// A request's real cost arrived after its stream ended (OpenRouter's `GET /generation`,
    /// when the stream carried no cost): replace the cost shown for the step whose summary has
    /// this `generation_id` (the final event's, or a `StepFinished`'s). `source` is `Reported`.
    /// `usage` is the request's token counts (the record's when the stream had none).
    CostSettled {
        turn: TurnId,
        target: TargetId,
        generation_id: String,
        cost: Cost,
        usage: Option<Usage>,
    },
    /// The core has shut down after `Command::Shutdown` (or every handle dropped): every
    /// target's final event and every pending cost back-fill have been delivered; nothing
    /// follows. Back-fills are bounded by `BackfillPolicy`, so this comes within seconds.
    Stopped,
}
