//! The room's data: panes and their settings, turns (a tree: an edited prompt is a sibling of
//! the one it replaces), answers with their figures, tool exchanges and outcome, and the
//! records that persist every change, replayed as they are to open a room again.

use std::time::{Instant, SystemTime};

use serde::{Deserialize, Serialize};

use super::accounting::StepFigures;
use crate::core::protocol::{ChatMessage, Citation, Cost, ModelSettings, TargetId, ToolCall, TurnId, Usage};
use crate::core::store::MessageId;

/// One model's place in the room. Removed panes stay (their answers are history and their
/// spend counts), hidden from the live room.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaneSpec {
    pub target: TargetId,
    /// The model spec as the user wrote it: `openai/gpt-4o`, `gemini:gemini-2.5-flash`.
    pub model: String,
    #[serde(default)]
    pub settings: ModelSettings,
    /// Tools this pane's model is offered (registry names).
    #[serde(default)]
    pub tools: Vec<String>,
    #[serde(default)]
    pub removed: bool,
}

/// One prompt. `parent` is the turn it follows; `targets` the panes it went to (`None`: every
/// pane of the room at the time).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    pub id: TurnId,
    pub parent: Option<TurnId>,
    pub prompt: String,
    /// Files sent with the prompt, once for every pane (by path and fingerprint).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<crate::core::protocol::Attachment>,
    #[serde(default)]
    pub targets: Option<Vec<TargetId>>,
    #[serde(default)]
    pub at_ms: i64,
}

impl Turn {
    pub fn addresses(&self, target: TargetId) -> bool {
        self.targets.as_ref().is_none_or(|t| t.contains(&target))
    }
}

/// Which answer: a pane's `attempt`-th answer to a turn (retries make more).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AnswerKey {
    pub turn: TurnId,
    pub target: TargetId,
    pub attempt: u32,
}

/// What an answer is doing, or how it ended.
#[derive(Debug, Clone, PartialEq)]
pub enum AnswerState {
    /// Waiting for this pane's previous answer to end ("next prompt queued").
    Pending,
    /// Sent (or about to be); no token yet.
    Waiting {
        since: Instant,
    },
    /// Held by the quota limiter until a slot frees.
    Queued {
        until: SystemTime,
    },
    Streaming {
        first_token: Instant,
        chars: usize,
    },
    /// Waiting for the user to allow or deny a tool call.
    AwaitingTool,
    Done,
    Failed,
    Cancelled,
    /// The process ended while it streamed; the text is what had been saved.
    Interrupted,
}

impl AnswerState {
    /// Still going (or about to): a pane with such an answer is busy.
    pub fn is_active(&self) -> bool {
        matches!(self, Self::Waiting { .. } | Self::Queued { .. } | Self::Streaming { .. } | Self::AwaitingTool)
    }

    pub fn is_final(&self) -> bool {
        matches!(self, Self::Done | Self::Failed | Self::Cancelled | Self::Interrupted)
    }

    fn from_final(f: FinalState) -> AnswerState {
        match f {
            FinalState::Done => Self::Done,
            FinalState::Failed => Self::Failed,
            FinalState::Cancelled => Self::Cancelled,
        }
    }
}

/// How an answer ended, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinalState {
    Done,
    Failed,
    Cancelled,
}

/// A failed answer's error, as shown and stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerError {
    /// The error kind's snake_case name (`rate_limit_minute`, `stream_dropped`, …).
    pub kind: String,
    pub status: Option<u16>,
    pub message: String,
}

/// A tool call of an answer, with its result once known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolExchange {
    pub call: ToolCall,
    /// The result fed back to the model, and whether it was an error.
    pub result: Option<(String, bool)>,
    #[serde(default)]
    pub needs_confirmation: bool,
}

/// One pane's answer to a turn.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub key: AnswerKey,
    pub model: String,
    /// Everything the model wrote, over all the steps of a tool loop.
    pub text: String,
    pub reasoning: String,
    pub tools: Vec<ToolExchange>,
    pub notices: Vec<String>,
    /// Sources the answer cites (web search), over all its steps, each URL once.
    pub citations: Vec<Citation>,
    /// The requests behind this answer (one per tool-loop step), as counted in the totals.
    pub steps: Vec<StepFigures>,
    pub state: AnswerState,
    /// The finish reason (`stop`, `length`, …), or `stopped` for a cancelled answer.
    pub finish: Option<String>,
    pub error: Option<AnswerError>,
    pub served_model: Option<String>,
    pub upstream_provider: Option<String>,
    pub ttft_ms: Option<u64>,
    pub tokens_per_second: Option<f64>,
    /// Whether the last request's model answered (if only its first token): a request refused
    /// before that has no figures to show under the answer.
    pub answered: bool,
    /// What this answer adds to its pane's thread: each tool-loop step's assistant message with
    /// its calls, the tool results, and the final assistant message.
    pub messages: Vec<ChatMessage>,
    /// The stored message its text streams into.
    pub message: Option<MessageId>,
}

impl Answer {
    pub fn new(key: AnswerKey, model: String, state: AnswerState, message: Option<MessageId>) -> Answer {
        Answer {
            key,
            model,
            text: String::new(),
            reasoning: String::new(),
            tools: Vec::new(),
            notices: Vec::new(),
            citations: Vec::new(),
            steps: Vec::new(),
            state,
            finish: None,
            error: None,
            served_model: None,
            upstream_provider: None,
            ttft_ms: None,
            tokens_per_second: None,
            answered: false,
            messages: Vec::new(),
            message,
        }
    }

    /// The figures under the answer: its last request's usage and cost, timings and finish
    /// reason. `None` while it streams and when no provider answered.
    pub fn footer(&self) -> Option<Footer> {
        if !self.state.is_final() {
            return None;
        }
        let last = self.steps.last();
        let known = last.is_some_and(|s| s.usage.is_some() || s.cost.as_ref().is_some_and(|c| c.usd.is_some()));
        if !(self.answered || known) {
            return None;
        }
        Some(Footer {
            usage: last.and_then(|s| s.usage.clone()),
            cost: last.and_then(|s| s.cost.clone()).unwrap_or(Cost::UNKNOWN),
            ttft_ms: self.ttft_ms,
            tokens_per_second: self.tokens_per_second,
            finish: self.finish.clone(),
        })
    }

    pub fn is_retry(&self) -> bool {
        self.key.attempt > 0
    }
}

/// The measured figures under an answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Footer {
    pub usage: Option<Usage>,
    pub cost: Cost,
    pub ttft_ms: Option<u64>,
    pub tokens_per_second: Option<f64>,
    pub finish: Option<String>,
}

/// A line of the room's own (a model joined, settings changed, an answer adopted), shown in
/// `target`'s pane (every pane when `None`) after the turn it followed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    pub after: Option<TurnId>,
    pub target: Option<TargetId>,
    pub text: String,
}

/// Every change of a room, as persisted and replayed. Streaming text is not here (it goes to
/// the answer's message as it arrives); an answer's end carries its whole final state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    PaneAdded {
        pane: PaneSpec,
    },
    PaneRemoved {
        target: TargetId,
    },
    PaneSettings {
        target: TargetId,
        settings: ModelSettings,
    },
    PaneTools {
        target: TargetId,
        tools: Vec<String>,
    },
    TurnAdded {
        turn: Turn,
    },
    /// The branch being continued: the turn new prompts follow.
    HeadMoved {
        head: Option<TurnId>,
    },
    AnswerBegun {
        key: AnswerKey,
        model: String,
        #[serde(default)]
        message: Option<MessageId>,
        /// Waits for the pane's previous answer.
        #[serde(default)]
        pending: bool,
    },
    /// A tool-loop step ended in calls; its request's figures are final.
    StepDone {
        key: AnswerKey,
        step: StepFigures,
    },
    AnswerEnded {
        key: AnswerKey,
        end: Box<AnswerEnd>,
    },
    CostSettled {
        key: AnswerKey,
        generation_id: String,
        cost: Cost,
        #[serde(default)]
        usage: Option<Usage>,
    },
    /// Every other pane's thread continues from this answer.
    Adopted {
        key: AnswerKey,
    },
    Notice {
        notice: Notice,
    },
    Renamed {
        title: String,
    },
    /// A blind round starts: panes are shown as "Model A", "Model B", … in the order this seed
    /// shuffles them to, until a vote ends the round.
    BlindStarted {
        seed: u64,
    },
    /// An analyst model was asked about the answers of `turn`.
    AnalysisBegun {
        turn: TurnId,
        model: String,
        structured: bool,
    },
    /// The analysis ended (its request's figures in `step`).
    AnalysisEnded {
        turn: TurnId,
        state: FinalState,
        text: String,
        #[serde(default)]
        step: Option<StepFigures>,
        #[serde(default)]
        error: Option<AnswerError>,
    },
    /// A vote on the answers of `turn`; it ends a blind round (the names are revealed).
    Voted {
        turn: TurnId,
        outcome: crate::core::compare::VoteOutcome,
        /// The models of the panes voted on, in pane order (what `outcome` indexes).
        models: Vec<String>,
        blind: bool,
        #[serde(default)]
        tag: Option<String>,
    },
}

/// An analyst model's comparison of one turn's answers (`/analyze`, `ask --analyze`).
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    pub turn: TurnId,
    pub model: String,
    /// Asked for JSON by schema (the catalog lists structured output for the model).
    pub structured: bool,
    pub text: String,
    pub state: AnswerState,
    /// Its one request, counted in the room's totals.
    pub steps: Vec<StepFigures>,
    pub error: Option<AnswerError>,
}

/// The blind round of a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlindRound {
    pub seed: u64,
    /// The round ended with a vote: names are shown again.
    pub revealed: bool,
}

/// A vote as the room shows it after the reveal.
#[derive(Debug, Clone, PartialEq)]
pub struct RoomVote {
    pub turn: TurnId,
    pub outcome: crate::core::compare::VoteOutcome,
    pub models: Vec<String>,
    pub blind: bool,
    pub tag: Option<String>,
}

/// An answer's final state, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnswerEnd {
    pub state: FinalState,
    pub text: String,
    #[serde(default)]
    pub reasoning: String,
    #[serde(default)]
    pub tools: Vec<ToolExchange>,
    #[serde(default)]
    pub notices: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub citations: Vec<Citation>,
    /// The last request's figures (`None` for an answer that never sent one).
    #[serde(default)]
    pub step: Option<StepFigures>,
    #[serde(default)]
    pub finish: Option<String>,
    #[serde(default)]
    pub error: Option<AnswerError>,
    #[serde(default)]
    pub served_model: Option<String>,
    #[serde(default)]
    pub upstream_provider: Option<String>,
    #[serde(default)]
    pub ttft_ms: Option<u64>,
    #[serde(default)]
    pub tokens_per_second: Option<f64>,
    #[serde(default)]
    pub answered: bool,
    #[serde(default)]
    pub messages: Vec<ChatMessage>,
}

impl AnswerEnd {
    /// Put this end into `answer`.
    pub(super) fn apply(&self, answer: &mut Answer) {
        answer.state = AnswerState::from_final(self.state);
        answer.text.clone_from(&self.text);
        answer.reasoning.clone_from(&self.reasoning);
        answer.tools.clone_from(&self.tools);
        answer.notices.clone_from(&self.notices);
        answer.citations.clone_from(&self.citations);
        if let Some(step) = &self.step {
            answer.steps.push(step.clone());
        }
        answer.finish.clone_from(&self.finish);
        answer.error.clone_from(&self.error);
        answer.served_model.clone_from(&self.served_model);
        answer.upstream_provider.clone_from(&self.upstream_provider);
        answer.ttft_ms = self.ttft_ms;
        answer.tokens_per_second = self.tokens_per_second;
        answer.answered = self.answered;
        answer.messages.clone_from(&self.messages);
    }
}
