//! The chatroom's state and what core events do to it. Pure: no terminal, no awaits. Input
//! handling is in `app_input`, drawing in `draw`; side effects leave as [`Effect`]s for the loop.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use rust_decimal::Decimal;

use crate::core::catalog::{CatalogEstimator, estimate_prompt_cost, estimate_prompt_tokens};
use crate::core::protocol::Usage;
use crate::core::protocol::{
    ChatMessage, Command, CoreEvent, Cost, EventKind, ModelSettings, Role, StreamEvent, TargetId, TargetRequest,
    ToolPolicy, TurnId, TurnRequest,
};
use crate::core::provider::ProvidersConfig;
use crate::core::sanitize::strip_controls;
use crate::core::store::{RoomId, RoomTranscript, Store, TranscriptRecorder};
use crate::core::tools::ToolRegistry;
use crate::ui::input::InputBox;
use crate::ui::keymap::Keymap;
use crate::ui::layout::Regions;
use crate::ui::markdown::MarkdownView;
use crate::ui::pane::{Answer, Entry, Live, Outcome, Pane, PaneState, ToolNote};
use crate::ui::picker::Picker;
use crate::ui::sidebar::{DraftEstimate, SidebarData};
use crate::ui::theme::Theme;

/// Work for the event loop: everything that touches the outside world.
#[derive(Debug, Clone)]
pub enum Effect {
    Core(Command),
    /// Put text on the clipboard (OSC 52, plus a local clipboard tool when there is one).
    Clipboard(String),
    /// Suspend the UI and edit this draft in `$EDITOR`.
    Editor(String),
    /// Write a file off the UI thread.
    Export {
        path: PathBuf,
        contents: String,
    },
    MouseCapture(bool),
}

/// Results of effects that finished off the UI thread.
#[derive(Debug, Clone, PartialEq)]
pub enum Background {
    EditorDone(Result<String, String>),
    Exported(Result<PathBuf, String>),
    Copied(Result<String, String>),
}

/// A popup over the room.
pub enum Overlay {
    Help { scroll: u16 },
    Picker(Box<Picker>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

/// Everything the chatroom starts with.
pub struct AppInit {
    pub models: Vec<String>,
    pub theme: Theme,
    pub keymap: Keymap,
    pub sidebar: bool,
    pub mouse: bool,
    pub providers: ProvidersConfig,
    pub estimator: Option<CatalogEstimator>,
    pub store: Option<Store>,
    /// `Some(hint)` in demo mode: the badge shows and the hint says how to add a key.
    pub demo: Option<String>,
    pub resume: Option<RoomTranscript>,
    pub today_spend: Decimal,
    pub config_dir: Option<PathBuf>,
    pub export_dir: PathBuf,
    pub no_color: bool,
    /// Tools a room may enable (`/tools`): the built-ins and the user's `[[tools]]`.
    pub tools: ToolRegistry,
    pub warnings: Vec<String>,
}

impl AppInit {
    /// A room of `models` with everything else at its plain default: default keys, sidebar
    /// and mouse on, no catalog, no store, no demo, nothing to resume, the built-in tools.
    pub fn new(models: Vec<String>, theme: Theme, providers: ProvidersConfig, export_dir: PathBuf) -> AppInit {
        AppInit {
            models,
            theme,
            keymap: Keymap::default(),
            sidebar: true,
            mouse: true,
            providers,
            estimator: None,
            store: None,
            demo: None,
            resume: None,
            today_spend: Decimal::ZERO,
            config_dir: None,
            export_dir,
            no_color: false,
            tools: ToolRegistry::builtins(),
            warnings: Vec::new(),
        }
    }
}

pub struct App {
    pub panes: Vec<Pane>,
    pub focus: usize,
    pub zoom: Option<usize>,
    pub sync_scroll: bool,
    pub show_sidebar: bool,
    pub mouse_capture: bool,
    pub input: InputBox,
    pub overlay: Option<Overlay>,
    /// Selected row of the `/` palette.
    pub palette_index: usize,
    pub theme: Theme,
    pub keymap: Keymap,
    pub status: Option<(Level, String)>,
    pub demo: Option<String>,
    pub sidebar: SidebarData,
    pub providers: ProvidersConfig,
    pub estimator: Option<CatalogEstimator>,
    pub store: Option<Store>,
    pub room: Option<RoomId>,
    pub config_dir: Option<PathBuf>,
    pub export_dir: PathBuf,
    pub no_color: bool,
    pub tools: ToolRegistry,
    pub enabled_tools: Vec<String>,
    pub effects: Vec<Effect>,
    /// Something visible changed since the last frame.
    pub dirty: bool,
    /// The screen was used by something else (`$EDITOR`): repaint every cell next frame.
    pub repaint: bool,
    pub quit: bool,
    /// Where things were drawn last frame (mouse hit-testing, paging).
    pub regions: Option<Regions>,
    /// Animation counter for spinners; advanced by the loop while something animates.
    pub tick: u64,
    pub next_turn: u64,
    next_target: u32,
    /// A fixed clock for reproducible frames (snapshot tests); `None` reads the real clocks.
    pub frozen_clock: Option<(Instant, SystemTime)>,
    draft_revision: Option<(u64, usize)>,
    thread_tokens: HashMap<TargetId, (usize, u64)>,
}

impl App {
    pub fn new(init: AppInit) -> App {
        let now = Instant::now();
        let mut input = InputBox::new(&init.theme);
        input.apply_theme(&init.theme, init.demo.is_some());
        let mut app = App {
            panes: Vec::new(),
            focus: 0,
            zoom: None,
            sync_scroll: false,
            show_sidebar: init.sidebar,
            mouse_capture: init.mouse,
            input,
            overlay: None,
            palette_index: 0,
            theme: init.theme,
            keymap: init.keymap,
            status: None,
            demo: init.demo,
            sidebar: SidebarData::new(now),
            providers: init.providers,
            estimator: init.estimator,
            store: init.store,
            room: None,
            config_dir: init.config_dir,
            export_dir: init.export_dir,
            no_color: init.no_color,
            tools: init.tools,
            enabled_tools: Vec::new(),
            effects: Vec::new(),
            dirty: true,
            repaint: false,
            quit: false,
            regions: None,
            tick: 0,
            next_turn: 1,
            next_target: 0,
            frozen_clock: None,
            draft_revision: None,
            thread_tokens: HashMap::new(),
        };
        app.sidebar.today_before = init.today_spend;
        match init.resume {
            Some(room) => app.restore(room),
            None => {
                for model in init.models {
                    app.add_pane(model);
                }
            }
        }
        if let Some(w) = init.warnings.into_iter().next() {
            app.set_status(Level::Warn, w);
        }
        app
    }

    pub fn set_status(&mut self, level: Level, text: impl Into<String>) {
        self.status = Some((level, text.into()));
        self.dirty = true;
    }

    pub fn add_pane(&mut self, model: String) -> usize {
        let target = TargetId(self.next_target);
        self.next_target += 1;
        self.panes.push(Pane::new(target, model, ModelSettings::default()));
        self.dirty = true;
        self.panes.len() - 1
    }

    pub fn is_streaming(&self) -> bool {
        self.panes.iter().any(|p| p.state.is_active())
    }

    /// Whether spinners or rates are on screen and need periodic redraws.
    pub fn animating(&self) -> bool {
        self.is_streaming()
    }

    /// Send the draft to every pane (or run it as a command when it starts with `/`).
    pub fn submit_draft(&mut self) {
        let text = self.input.text();
        if text.trim().is_empty() {
            return;
        }
        if text.starts_with('/') && !text.contains('\n') {
            self.input.take();
            self.run_command_line(&text);
            return;
        }
        if self.panes.is_empty() {
            self.set_status(Level::Warn, "Add a model first: Ctrl+N opens the picker, or type /add MODEL");
            return;
        }
        if self.is_streaming() {
            self.set_status(Level::Warn, "Still streaming: wait, or press Esc to stop every pane, then send");
            return;
        }
        let text = self.input.take();
        self.start_turn(&text);
    }

    /// Fan `text` out to every pane as a new turn.
    pub fn start_turn(&mut self, text: &str) {
        let turn = TurnId(self.next_turn);
        self.next_turn += 1;
        if self.room.is_none() {
            let title: String = text.lines().next().unwrap_or("").chars().take(80).collect();
            let models: Vec<String> = self.panes.iter().map(|p| p.model.clone()).collect();
            self.room = self.store.as_ref().map(|s| s.create_room(&title, &models));
        }
        if let (Some(store), Some(room)) = (&self.store, self.room) {
            store.add_user_message(room, turn, text);
        }
        let mut targets = Vec::new();
        for i in 0..self.panes.len() {
            let pane = &mut self.panes[i];
            pane.entries.push(Entry::User { turn, body: Box::new(MarkdownView::from_text(text)) });
            pane.thread.push(ChatMessage::user(text));
            targets.push(self.begin_answer(i, turn));
        }
        self.submit(turn, targets);
    }

    /// Prepare pane `i` for a new answer in `turn` and return its request.
    fn begin_answer(&mut self, i: usize, turn: TurnId) -> TargetRequest {
        let recorder = match (&self.store, self.room) {
            (Some(store), Some(room)) => {
                let p = &self.panes[i];
                Some(TranscriptRecorder::begin(store, room, turn, p.target, &p.model))
            }
            _ => None,
        };
        let tools = self.tool_specs();
        let now = self.now();
        let pane = &mut self.panes[i];
        pane.entries.push(Entry::Answer(Box::new(Answer::new(turn))));
        pane.live = Some(Live { turn, entry: pane.entries.len() - 1 });
        pane.recorder = recorder;
        pane.state = PaneState::Waiting { since: now };
        pane.scroll_to_bottom();
        self.dirty = true;
        TargetRequest {
            target: pane.target,
            model: pane.model.clone(),
            messages: pane.thread.clone(),
            settings: pane.settings.clone(),
            tools,
        }
    }

    fn submit(&mut self, turn: TurnId, targets: Vec<TargetRequest>) {
        let room = self.room.map(|r| r.0);
        let tool_policy = ToolPolicy::default();
        self.effects.push(Effect::Core(Command::Submit(TurnRequest { turn, targets, room, tool_policy })));
    }

    /// Ask pane `i` again for its last answer.
    pub fn retry(&mut self, i: usize) {
        let Some(pane) = self.panes.get_mut(i) else { return };
        if pane.state.is_active() {
            self.set_status(Level::Warn, "That pane is still streaming; stop it first (Ctrl+X)");
            return;
        }
        let Some(turn) = pane.last_answer().map(|a| a.turn) else {
            self.set_status(Level::Info, "Nothing to retry yet");
            return;
        };
        // Drop the previous answer from the thread so the model answers the same question.
        if pane.thread.last().is_some_and(|m| m.role == Role::Assistant) {
            pane.thread.pop();
        }
        while pane
            .thread
            .last()
            .is_some_and(|m| m.role == Role::Tool || (m.role == Role::Assistant && !m.tool_calls.is_empty()))
        {
            pane.thread.pop();
        }
        let request = self.begin_answer(i, turn);
        self.submit(turn, vec![request]);
    }

    pub fn stop(&mut self, which: Option<usize>) {
        let mut stopped = 0;
        for (i, pane) in self.panes.iter().enumerate() {
            if which.is_some_and(|w| w != i) || !pane.state.is_active() {
                continue;
            }
            if let Some(live) = pane.live {
                self.effects.push(Effect::Core(Command::Cancel { turn: live.turn, target: Some(pane.target) }));
                stopped += 1;
            }
        }
        if stopped > 0 {
            self.set_status(Level::Info, format!("Stopping {stopped} stream{}", if stopped == 1 { "" } else { "s" }));
        }
    }

    pub fn on_core(&mut self, event: CoreEvent) {
        self.dirty = true;
        match event {
            CoreEvent::Stream(ev) => self.on_stream(ev),
            CoreEvent::Quota(buckets) => {
                // Buckets the room's models draw from, plus any already used today.
                let relevant = self.relevant_buckets();
                self.sidebar.quota =
                    buckets.into_iter().filter(|b| b.used > 0 || relevant.contains(&b.bucket)).collect();
            }
            CoreEvent::Account(info) => self.sidebar.account = Some(info),
            CoreEvent::CostSettled { turn, target, generation_id, cost, usage } => {
                self.settle_cost(turn, target, &generation_id, cost, usage)
            }
            CoreEvent::Stopped => {}
        }
    }

    fn on_stream(&mut self, ev: StreamEvent) {
        let Some(i) = self.panes.iter().position(|p| p.target == ev.target) else { return };
        let now = self.now();
        let pane = &mut self.panes[i];
        if pane.live.is_none_or(|l| l.turn != ev.turn) {
            return;
        }
        if let Some(recorder) = &mut pane.recorder {
            recorder.record(&ev.kind);
        }
        match ev.kind {
            EventKind::Queued { until, .. } => pane.state = PaneState::Queued { until },
            EventKind::Started { .. } => {
                if !matches!(pane.state, PaneState::Waiting { .. }) {
                    pane.state = PaneState::Waiting { since: now };
                }
            }
            EventKind::Connected { .. } | EventKind::Usage(_) | EventKind::ToolCallDelta { .. } => {}
            EventKind::Served { model, upstream_provider } => {
                pane.served_model = Some(model);
                pane.upstream = upstream_provider.map(|p| strip_controls(&p).into_owned());
            }
            EventKind::TextDelta(text) => {
                streaming(&mut pane.state, now, text.len());
                if let Some(a) = pane.live_answer() {
                    a.body.push_str(&text);
                }
                // Roughly four characters per token until usage arrives.
                self.sidebar.throughput.record(now, (text.len() as u64).div_ceil(4));
            }
            EventKind::ReasoningDelta(text) => {
                streaming(&mut pane.state, now, text.len());
                if let Some(a) = pane.live_answer() {
                    a.reasoning_chars += text.chars().count();
                }
                self.sidebar.throughput.record(now, (text.len() as u64).div_ceil(4));
            }
            EventKind::ToolsUnsupported { message } => {
                if let Some(a) = pane.live_answer() {
                    a.notices.push(strip_controls(&message).into_owned());
                }
            }
            EventKind::StepFinished { summary } => {
                // An intermediate step: its figures count now; the next step answers below.
                pane.count_step(ev.turn, &summary);
                let mut msg = ChatMessage::assistant(summary.text.clone());
                msg.tool_calls = summary.tool_calls.clone();
                msg.reasoning_details = summary.reasoning_details.clone();
                pane.thread.push(msg);
                if let Some(a) = pane.live_answer()
                    && !a.body.text().is_empty()
                {
                    a.body.push_str("\n\n");
                }
                pane.state = PaneState::Waiting { since: now };
            }
            EventKind::ToolCall { call, needs_confirmation } => {
                if let Some(a) = pane.live_answer() {
                    a.tools.push(ToolNote {
                        call_id: call.id.clone(),
                        name: strip_controls(&call.name).into_owned(),
                        arguments: call.arguments.clone(),
                        result: None,
                        needs_confirmation,
                    });
                }
                if needs_confirmation {
                    pane.state = PaneState::AwaitingTool;
                }
            }
            EventKind::ToolResult { call_id, output, is_error, .. } => {
                let shown = strip_controls(&output).into_owned();
                let mut waiting = false;
                if let Some(a) = pane.live_answer() {
                    for note in &mut a.tools {
                        if note.call_id == call_id {
                            note.result = Some((shown.clone(), is_error));
                            note.needs_confirmation = false;
                        }
                    }
                    waiting = a.tools.iter().any(|n| n.needs_confirmation && n.result.is_none());
                }
                pane.thread.push(ChatMessage::tool_result(call_id, output));
                pane.state = if waiting { PaneState::AwaitingTool } else { PaneState::Waiting { since: now } };
            }
            EventKind::Finished { reason, summary } => {
                pane.settle(&summary, reason.map(|r| r.as_str().to_string()));
                let mut msg = ChatMessage::assistant(summary.text.clone());
                msg.tool_calls = summary.tool_calls.clone();
                msg.reasoning_details = summary.reasoning_details.clone();
                pane.thread.push(msg);
                finish(pane, Outcome::Done, PaneState::Done);
            }
            EventKind::Failed { error, summary } => {
                pane.settle(&summary, None);
                if !summary.text.is_empty() {
                    pane.thread.push(ChatMessage::assistant(summary.text.clone()));
                }
                finish(pane, Outcome::Failed(strip_controls(&error.message).into_owned()), PaneState::Failed);
            }
            EventKind::Cancelled { summary } => {
                pane.settle(&summary, Some("stopped".into()));
                if !summary.text.is_empty() {
                    pane.thread.push(ChatMessage::assistant(summary.text.clone()));
                }
                finish(pane, Outcome::Cancelled, PaneState::Cancelled);
            }
        }
        if !self.is_streaming() {
            self.check_store_health();
        }
    }

    /// A reported cost arrived after the stream ended (`/generation`): it replaces the estimate.
    fn settle_cost(&mut self, turn: TurnId, target: TargetId, generation_id: &str, cost: Cost, usage: Option<Usage>) {
        if let Some(pane) = self.panes.iter_mut().find(|p| p.target == target) {
            pane.settle_cost(turn, generation_id, cost, usage);
        }
    }

    /// Names of the quota buckets the room's models would be counted in.
    fn relevant_buckets(&self) -> Vec<String> {
        let mut names = Vec::new();
        for p in &self.panes {
            let Ok(r) = self.providers.resolve(&p.model) else { continue };
            if r.provider.kind == crate::core::provider::ProviderKind::Openrouter
                && crate::core::quota::is_openrouter_free(&r.upstream_model)
            {
                names.push(crate::core::quota::OPENROUTER_FREE.to_string());
            }
            names.push(format!("{}:{}", r.provider_name, r.upstream_model));
            names.push(r.upstream_model.clone());
            names.push(r.provider_name.clone());
        }
        names
    }

    fn check_store_health(&mut self) {
        self.sidebar.store_problem = self.store.as_ref().and_then(Store::health).map(|e| e.to_string());
    }

    /// Re-estimate the draft's prompt for each model when the draft changed since last time.
    pub fn refresh_draft_estimate(&mut self) {
        let key = (self.input.revision, self.panes.len());
        if self.draft_revision == Some(key) {
            return;
        }
        self.draft_revision = Some(key);
        if self.input.is_empty() || self.input.first_line().starts_with('/') {
            self.sidebar.draft.clear();
            return;
        }
        // Draft tokens by the same heuristic the core uses (about four bytes per token).
        let draft_tokens = (self.input.byte_len() as u64).div_ceil(4) + 4;
        let mut estimates = Vec::new();
        for p in &self.panes {
            let cached = self.thread_tokens.get(&p.target).filter(|(len, _)| *len == p.thread.len()).map(|c| c.1);
            let thread = cached.unwrap_or_else(|| estimate_prompt_tokens(&p.thread));
            self.thread_tokens.insert(p.target, (p.thread.len(), thread));
            let tokens = thread + draft_tokens;
            let cost = self.providers.resolve(&p.model).ok().and_then(|r| {
                let pricing = self.estimator.as_ref()?.pricing_for(&r.provider_name, &r.upstream_model)?;
                estimate_prompt_cost(&pricing, tokens)
            });
            estimates.push(DraftEstimate { model: p.model.clone(), tokens, cost });
        }
        self.sidebar.draft = estimates;
    }

    pub fn on_background(&mut self, bg: Background) {
        match bg {
            Background::EditorDone(Ok(text)) => {
                self.input.set_text(text.trim_end_matches('\n'));
                self.set_status(Level::Info, "Draft updated from the editor");
            }
            Background::EditorDone(Err(e)) => self.set_status(Level::Error, e),
            Background::Exported(Ok(path)) => self.set_status(Level::Info, format!("Exported to {}", path.display())),
            Background::Exported(Err(e)) => self.set_status(Level::Error, e),
            Background::Copied(Ok(what)) => self.set_status(Level::Info, what),
            Background::Copied(Err(e)) => self.set_status(Level::Warn, e),
        }
        self.dirty = true;
    }

    /// Monotonic now (frozen in snapshot tests).
    pub fn now(&self) -> Instant {
        self.frozen_clock.map_or_else(Instant::now, |c| c.0)
    }

    /// Wall-clock now, for countdowns (frozen in snapshot tests).
    pub fn wall(&self) -> SystemTime {
        self.frozen_clock.map_or_else(SystemTime::now, |c| c.1)
    }

    pub fn draw_ctx(&self) -> crate::ui::pane_view::DrawCtx<'_> {
        crate::ui::pane_view::DrawCtx { theme: &self.theme, now: self.now(), wall: self.wall(), tick: self.tick }
    }
}

fn streaming(state: &mut PaneState, now: Instant, bytes: usize) {
    match state {
        PaneState::Streaming { chars, .. } => *chars += bytes,
        _ => *state = PaneState::Streaming { first_token: now, chars: bytes },
    }
}

/// End the pane's live answer with `outcome`.
fn finish(pane: &mut Pane, outcome: Outcome, state: PaneState) {
    if let Some(a) = pane.live_answer() {
        a.outcome = outcome;
    }
    pane.live = None;
    pane.recorder = None;
    pane.state = state;
}
