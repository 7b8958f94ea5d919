//! One model's pane as the chatroom shows it: the room's answers for the current branch as
//! entries with their render caches, the state and totals mirrored from the core's room, the
//! scroll position and the keyboard selection. Pure view state: the conversation itself is the
//! core's (`core::room`), drawing lives in `pane_view`.

use std::time::{Instant, SystemTime};

use ratatui::text::Line;

use crate::core::protocol::{ModelSettings, TargetId, TurnId};
pub use crate::core::room::{AnswerKey, Footer, Totals};
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
    pub key: AnswerKey,
    pub turn: TurnId,
    pub body: MarkdownView,
    pub reasoning_chars: usize,
    pub outcome: Outcome,
    pub footer: Option<Footer>,
    pub tools: Vec<ToolNote>,
    pub notices: Vec<String>,
    /// Sources the answer cites, shown numbered under it once it is finished.
    pub citations: Vec<crate::core::protocol::Citation>,
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
    pub fn new(key: AnswerKey) -> Answer {
        Answer {
            key,
            turn: key.turn,
            body: MarkdownView::new(),
            reasoning_chars: 0,
            outcome: Outcome::Streaming,
            footer: None,
            tools: Vec::new(),
            notices: Vec::new(),
            citations: Vec::new(),
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
    /// A prompt waits for this pane's current answer to end.
    pub next_queued: bool,
    pub entries: Vec<Entry>,
    pub scroll: Scroll,
    pub selection: Option<Selection>,
    pub totals: Totals,
    /// The entry of the answer streaming now.
    pub live: Option<Live>,
    /// The first line of each turn's prompt as last laid out (for synchronised scrolling).
    pub turn_starts: Vec<(TurnId, usize)>,
    /// "Model A" while a blind round hides which model this is.
    pub label: Option<String>,
    /// The visible rows of the next frame, chosen by `pane_view::prepare` before drawing.
    pub frame_lines: Vec<FrameRow>,
    /// The border's titles and style for the next frame, made by `pane_view::prepare`.
    pub frame_edges: Edges,
    /// The body area and first transcript line of the last prepared frame, to tell how far the
    /// content moved since (a scroll the terminal can do for us).
    pub prepared_at: Option<(ratatui::layout::Rect, usize)>,
    /// Rows the body's content moved up since the previous frame, same area (0: it did not).
    pub moved_up: u16,
    /// The body as the last completed frame drew it, so a retained frame can skip rows that
    /// are already on the screen.
    pub drawn: Option<DrawnBody>,
    /// The streaming rate the header shows and when it was worked out (refreshed a few times a
    /// second: at frame rate it only flickers).
    pub rate_shown: Option<(Instant, String)>,
}

/// A row of a pane's body in the next frame: a line of an entry's rendered text, read from its
/// render cache when drawn (cloning every visible line each frame only to compare it with the
/// last frame's cost more than drawing what changed), or a line made for the frame (an answer's
/// head and tail, a prompt's indent, a selection's colours).
#[derive(Debug, Clone)]
pub enum FrameRow {
    Rendered { entry: usize, width: u16, generation: u64, line: usize },
    Made(ratatui::text::Line<'static>),
}

impl Pane {
    /// The line row `i` of the next frame's body shows (`None` below the text).
    pub fn frame_row(&self, i: usize) -> Option<&ratatui::text::Line<'static>> {
        self.frame_lines.get(i).and_then(|row| self.frame_line(row))
    }

    /// The line a row of the next frame shows (`None` for a render that is gone, which
    /// `pane_view::prepare` never leaves: it renders what it chooses).
    pub fn frame_line<'a>(&'a self, row: &'a FrameRow) -> Option<&'a ratatui::text::Line<'static>> {
        match row {
            FrameRow::Made(line) => Some(line),
            &FrameRow::Rendered { entry, width, generation, line } => {
                let body = match self.entries.get(entry)? {
                    Entry::User { body, .. } => body,
                    Entry::Answer(a) => &a.body,
                    Entry::Notice(_) => return None,
                };
                body.rendered(width, generation)?.get(line)
            }
        }
    }
}

/// A pane body as drawn: its area, one line per row, and whether the "new below" marker
/// covered its last row.
#[derive(Debug, Clone, Default)]
pub struct DrawnBody {
    pub inner: ratatui::layout::Rect,
    pub lines: Vec<ratatui::text::Line<'static>>,
    pub marker: bool,
    /// The border as drawn.
    pub edges: Edges,
}

/// A pane's border: the header and footer titles and the style of its lines.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Edges {
    pub header: ratatui::text::Line<'static>,
    pub footer: ratatui::text::Line<'static>,
    pub style: ratatui::style::Style,
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
            next_queued: false,
            entries: Vec::new(),
            scroll: Scroll { follow: true, ..Scroll::default() },
            selection: None,
            totals: Totals::default(),
            live: None,
            frame_lines: Vec::new(),
            frame_edges: Edges::default(),
            prepared_at: None,
            moved_up: 0,
            drawn: None,
            rate_shown: None,
            label: None,
            turn_starts: Vec::new(),
        }
    }

    /// The entry showing answer `key`.
    pub fn answer_view(&mut self, key: AnswerKey) -> Option<&mut Answer> {
        self.entries.iter_mut().find_map(|e| match e {
            Entry::Answer(a) if a.key == key => Some(a.as_mut()),
            _ => None,
        })
    }

    /// The answer to `turn` (the most recent one: a retry answers the same turn again).
    pub fn answer_to(&mut self, turn: TurnId) -> Option<&mut Answer> {
        self.entries.iter_mut().rev().find_map(|e| match e {
            Entry::Answer(a) if a.turn == turn => Some(a.as_mut()),
            _ => None,
        })
    }

    /// The most recent answer (live or finished), for copy.
    pub fn last_answer(&self) -> Option<&Answer> {
        self.entries.iter().rev().find_map(|e| match e {
            Entry::Answer(a) => Some(a.as_ref()),
            _ => None,
        })
    }

    pub fn scroll_by(&mut self, delta: isize) {
        let max_top = self.scroll.total.saturating_sub(self.scroll.viewport);
        // From what was drawn: a following pane may show blank rows under its text (a jump's).
        let from = if self.scroll.follow { self.scroll.top } else { self.scroll.top.min(max_top) };
        let top = from.saturating_add_signed(delta).min(max_top.max(from));
        self.scroll.top = top;
        self.scroll.follow = top >= max_top;
        if self.scroll.follow {
            self.scroll.unseen = false;
        }
    }

    /// The turn at line `line` and how far into it that line is.
    pub fn turn_at(&self, line: usize) -> Option<(TurnId, usize)> {
        self.turn_starts.iter().rev().find(|(_, start)| *start <= line).map(|(turn, start)| (*turn, line - start))
    }

    /// Scroll so that `turn` starts `offset` lines above the top (as far as this pane has it).
    pub fn align_to_turn(&mut self, turn: TurnId, offset: usize) {
        let Some(at) = self.turn_starts.iter().position(|(t, _)| *t == turn) else { return };
        let start = self.turn_starts[at].1;
        // Not past this pane's own turn: a shorter answer shows its end, not the next turn.
        let end = self.turn_starts.get(at + 1).map_or(self.scroll.total, |(_, s)| *s);
        let max_top = self.scroll.total.saturating_sub(self.scroll.viewport);
        self.scroll.top = (start + offset).min(end.saturating_sub(1).max(start)).min(max_top);
        self.scroll.follow = self.scroll.top >= max_top;
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
}
