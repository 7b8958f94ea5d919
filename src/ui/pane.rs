//! One model's pane: its conversation thread, transcript entries, live stream state, totals and
//! scroll position. Pure state: drawing lives in `pane_view`.

use std::time::{Instant, SystemTime};

use ratatui::text::Line;

use crate::core::protocol::{ChatMessage, Cost, ModelSettings, StreamSummary, TargetId, TurnId, Usage};
use crate::core::store::TranscriptRecorder;
use crate::ui::accounting::StepFigures;
pub use crate::ui::accounting::Totals;
use crate::ui::markdown::MarkdownView;

/// What the pane is doing now (its header shows it).
#[derive(Debug, Clone, PartialEq)]
pub enum PaneState {
    Idle,
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
}

impl PaneState {
    pub fn is_active(&self) -> bool {
        matches!(self, Self::Waiting { .. } | Self::Queued { .. } | Self::Streaming { .. } | Self::AwaitingTool)
    }
}

/// How an answer ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Streaming,
    Done,
    Failed(String),
    Cancelled,
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

/// A tool call shown in the transcript, with its result once known.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolNote {
    pub call_id: String,
    pub name: String,
    pub arguments: String,
    pub result: Option<(String, bool)>,
    pub needs_confirmation: bool,
}

#[derive(Debug)]
pub struct Answer {
    pub turn: TurnId,
    pub body: MarkdownView,
    pub reasoning_chars: usize,
    pub outcome: Outcome,
    pub footer: Option<Footer>,
    pub tools: Vec<ToolNote>,
    pub notices: Vec<String>,
    /// The requests behind this answer (one per tool-loop step), as counted in the totals.
    pub steps: Vec<StepFigures>,
    /// The lines drawn above and below the body once the answer is finished (`pane_view`);
    /// cleared when its figures change.
    pub extras: Option<ExtrasCache>,
}

/// An answer's drawn head and tail lines for one width and theme.
#[derive(Debug)]
pub struct ExtrasCache {
    pub key: (u16, u64, String),
    pub head: Vec<Line<'static>>,
    pub tail: Vec<Line<'static>>,
}

impl Answer {
    pub fn new(turn: TurnId) -> Answer {
        Answer {
            turn,
            body: MarkdownView::new(),
            reasoning_chars: 0,
            outcome: Outcome::Streaming,
            footer: None,
            tools: Vec::new(),
            notices: Vec::new(),
            steps: Vec::new(),
            extras: None,
        }
    }
}

#[derive(Debug)]
pub enum Entry {
    /// Boxed: a message view carries its render caches.
    User {
        turn: TurnId,
        body: Box<MarkdownView>,
    },
    Answer(Box<Answer>),
    /// A line from the app itself (model added, settings changed, answer adopted).
    Notice(String),
}

/// Scroll position. `top` is the first visible line; while `follow` is set the pane sticks to
/// the bottom as text arrives, and `unseen` marks text that arrived below while it was not.
#[derive(Debug, Clone, Default)]
pub struct Scroll {
    pub top: usize,
    pub follow: bool,
    pub unseen: bool,
    /// Rows of the last drawn viewport and the transcript height then, for paging and markers.
    pub viewport: usize,
    pub total: usize,
}

/// Keyboard selection: a cursor line and, once started, an anchor (absolute line numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selection {
    pub cursor: usize,
    pub anchor: Option<usize>,
}

impl Selection {
    pub fn range(&self) -> (usize, usize) {
        let a = self.anchor.unwrap_or(self.cursor);
        (a.min(self.cursor), a.max(self.cursor))
    }
}

/// The stream in progress for this pane.
#[derive(Debug, Clone, Copy)]
pub struct Live {
    pub turn: TurnId,
    /// Index of its `Entry::Answer` in `entries`.
    pub entry: usize,
}

pub struct Pane {
    pub target: TargetId,
    /// The model spec as the user wrote it.
    pub model: String,
    pub served_model: Option<String>,
    pub upstream: Option<String>,
    pub settings: ModelSettings,
    pub state: PaneState,
    pub entries: Vec<Entry>,
    /// What this model sees next turn: shared user turns plus its own answers.
    pub thread: Vec<ChatMessage>,
    pub scroll: Scroll,
    pub selection: Option<Selection>,
    pub totals: Totals,
    pub live: Option<Live>,
    /// Writes the live answer (and a tool loop's messages) into the stored room.
    pub recorder: Option<TranscriptRecorder>,
}

impl Pane {
    pub fn new(target: TargetId, model: String, settings: ModelSettings) -> Pane {
        Pane {
            target,
            model,
            served_model: None,
            upstream: None,
            settings,
            state: PaneState::Idle,
            entries: Vec::new(),
            thread: Vec::new(),
            scroll: Scroll { follow: true, ..Scroll::default() },
            selection: None,
            totals: Totals::default(),
            live: None,
            recorder: None,
        }
    }

    /// The answer being streamed, if any.
    pub fn live_answer(&mut self) -> Option<&mut Answer> {
        let live = self.live?;
        match self.entries.get_mut(live.entry) {
            Some(Entry::Answer(a)) if a.turn == live.turn => Some(a),
            _ => None,
        }
    }

    /// The answer to `turn` (the most recent one: a retry answers the same turn again).
    pub fn answer_to(&mut self, turn: TurnId) -> Option<&mut Answer> {
        answer_to(&mut self.entries, turn)
    }

    /// The most recent answer (live or finished), for copy and adopt.
    pub fn last_answer(&self) -> Option<&Answer> {
        self.entries.iter().rev().find_map(|e| match e {
            Entry::Answer(a) => Some(a.as_ref()),
            _ => None,
        })
    }

    /// Record the live answer's final request: totals, and the figures under the answer.
    pub fn settle(&mut self, summary: &StreamSummary, finish: Option<String>) {
        if let Some(live) = self.live {
            let answered = finish.is_some();
            self.count_final(live.turn, summary, finish, answered);
        }
    }

    /// Count an intermediate tool-loop step of the answer to `turn`.
    pub fn count_step(&mut self, turn: TurnId, summary: &StreamSummary) {
        let step = StepFigures::count(&mut self.totals, summary);
        if let Some(a) = answer_to(&mut self.entries, turn) {
            a.steps.push(step);
        }
    }

    /// Count the final request of the answer to `turn` and put its figures under it. A request
    /// that failed before the provider answered counts but shows nothing; `answered` says the
    /// provider did answer even if it reported no figures.
    pub fn count_final(&mut self, turn: TurnId, summary: &StreamSummary, finish: Option<String>, answered: bool) {
        let nothing_known = summary.usage.is_none() && summary.cost.as_ref().is_none_or(|c| c.usd.is_none());
        let bare = nothing_known && !answered;
        let step = if bare {
            StepFigures::count_bare(&mut self.totals, summary)
        } else {
            StepFigures::count(&mut self.totals, summary)
        };
        let Some(a) = answer_to(&mut self.entries, turn) else { return };
        a.steps.push(step);
        if !bare {
            let tps = summary.usage.as_ref().and_then(|u| summary.timings.tokens_per_second(u.completion_tokens));
            a.footer = Some(Footer {
                usage: summary.usage.clone(),
                cost: summary.cost.clone().unwrap_or(Cost::UNKNOWN),
                ttft_ms: summary.timings.ttft_ms,
                tokens_per_second: tps,
                finish,
            });
        }
    }

    /// A request's cost fetched after its stream (OpenRouter's `/generation`): the step's figures
    /// and the totals take it, and so does the footer when it was the answer's last request.
    pub fn settle_cost(&mut self, turn: TurnId, generation_id: &str, cost: Cost, usage: Option<Usage>) {
        let Some(a) = answer_to(&mut self.entries, turn) else { return };
        a.extras = None;
        let last = a.steps.len().saturating_sub(1);
        let Some(k) = a.steps.iter().position(|s| s.generation_id.as_deref() == Some(generation_id)) else { return };
        a.steps[k].settle(&mut self.totals, cost.clone(), usage);
        if k != last {
            return;
        }
        let usage = a.steps[k].usage.clone();
        match &mut a.footer {
            Some(f) => {
                f.cost = cost;
                if f.usage.is_none() {
                    f.usage = usage;
                }
            }
            None => a.footer = Some(Footer { usage, cost, ttft_ms: None, tokens_per_second: None, finish: None }),
        }
    }

    pub fn scroll_by(&mut self, delta: isize) {
        let max_top = self.scroll.total.saturating_sub(self.scroll.viewport);
        let from = if self.scroll.follow { max_top } else { self.scroll.top.min(max_top) };
        let top = from.saturating_add_signed(delta).min(max_top);
        self.scroll.top = top;
        self.scroll.follow = top >= max_top;
        if self.scroll.follow {
            self.scroll.unseen = false;
        }
    }

    pub fn scroll_to_top(&mut self) {
        self.scroll.top = 0;
        self.scroll.follow = self.scroll.total <= self.scroll.viewport;
    }

    pub fn scroll_to_bottom(&mut self) {
        self.scroll.follow = true;
        self.scroll.unseen = false;
    }

    /// Clear the transcript and thread (the stored room keeps everything).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.thread.clear();
        self.scroll = Scroll { follow: true, ..Scroll::default() };
        self.selection = None;
        self.live = None;
        self.state = PaneState::Idle;
    }
}

/// `Pane::answer_to` on the entries alone, so the totals can be borrowed beside it.
fn answer_to(entries: &mut [Entry], turn: TurnId) -> Option<&mut Answer> {
    entries.iter_mut().rev().find_map(|e| match e {
        Entry::Answer(a) if a.turn == turn => Some(a.as_mut()),
        _ => None,
    })
}
