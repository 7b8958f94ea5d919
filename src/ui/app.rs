//! The chatroom's state: the core's room (the conversation), its view (panes of entries with
//! render caches, mirrored from the room when it changes), the chrome (focus, overlays, status,
//! input) and the services it uses. Pure: no terminal, no awaits. Input handling is in
//! `app_input`, drawing in `draw`; side effects leave as [`Effect`]s for the loop.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use rust_decimal::Decimal;

use crate::core::catalog::{CatalogEstimator, estimate_prompt_tokens, estimate_send_cost, estimate_tool_tokens};
use crate::core::protocol::{Command, CoreEvent, ModelSettings, TargetId, TurnId};
use crate::core::provider::ProvidersConfig;
use crate::core::room::{self, AnswerKey, AnswerState, DaySpend, Room, RoomSetup};
use crate::core::store::Store;
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
        /// Make missing parent directories (the default export folder); a path the user typed
        /// must exist already.
        create_dirs: bool,
    },
    MouseCapture(bool),
    /// Read or change the stored rooms (the room browser), off the UI thread.
    Rooms(crate::ui::rooms_view::RoomsRequest),
    /// Load the leaderboard (votes and ledger averages, 200 bootstrap fits) off the UI thread.
    Leaderboard {
        width: usize,
    },
    /// Start these MCP servers (their tools were just enabled) and report how it went.
    StartMcp(Vec<String>),
}

/// Results of effects that finished off the UI thread.
#[derive(Debug, Clone)]
pub enum Background {
    EditorDone(Result<String, String>),
    Exported(Result<PathBuf, String>),
    Copied(Result<String, String>),
    Rooms(crate::ui::rooms_view::RoomsReply),
    Leaderboard(Result<Vec<String>, String>),
    /// An MCP server started (its tool count) or failed to (why).
    McpStarted {
        server: String,
        result: Result<usize, String>,
    },
}

/// A popup over the room.
pub enum Overlay {
    Help {
        scroll: u16,
    },
    Picker(Box<Picker>),
    Rooms(Box<crate::ui::rooms_view::RoomBrowser>),
    /// The leaderboard's lines (`/leaderboard`), loaded off the UI thread.
    Leaderboard {
        lines: Vec<String>,
        scroll: u16,
    },
    /// The analysis of a turn's answers (`/analyze`), drawn from the room as it streams.
    Analysis {
        turn: TurnId,
        scroll: u16,
    },
    /// A word diff of two answers (`/diff`).
    Diff(Box<crate::ui::diff_view::DiffView>),
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
    /// A stored room to reopen (`--resume`), already loaded.
    pub resume: Option<crate::core::store::StoredRoom>,
    pub today_spend: Decimal,
    /// Start of the UTC day `today_spend` counts from (unix ms).
    pub day_start_ms: i64,
    pub config_dir: Option<PathBuf>,
    pub export_dir: PathBuf,
    pub no_color: bool,
    /// Tools a room may enable (`/tools`): the built-ins and the user's `[[tools]]`.
    pub tools: ToolRegistry,
    /// The model `/analyze` asks when none is named (`[compare] analyst`).
    pub analyst: String,
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
            day_start_ms: crate::core::quota::day_bounds(
                crate::core::quota::DayReset::Utc,
                crate::core::store::now_ms(),
            )
            .0,
            config_dir: None,
            export_dir,
            no_color: false,
            tools: ToolRegistry::builtins(),
            analyst: "openai/gpt-4o-mini".into(),
            warnings: Vec::new(),
        }
    }
}

pub struct App {
    /// The conversation, owned by the core: panes, turns, answers, figures.
    pub room: Room,
    pub view: RoomView,
    pub chrome: Chrome,
    pub services: Services,
    pub effects: Vec<Effect>,
    /// Something visible changed since the last frame.
    pub dirty: bool,
    /// The screen was used by something else (`$EDITOR`): repaint every cell next frame.
    pub repaint: bool,
    pub quit: bool,
}

/// The room as the chatroom shows it, mirrored from the core's room when it changes.
pub struct RoomView {
    /// One view per pane of the room, in room order (removed panes have none).
    pub panes: Vec<Pane>,
    pub sidebar: SidebarData,
    /// `/clear` hides the turns up to this one (the models still remember them).
    pub cleared_through: Option<TurnId>,
    /// The room revision the view was last rebuilt for.
    pub view_revision: u64,
    pub draft_revision: Option<(u64, u64)>,
    /// Each pane's context in estimated tokens, with the room revision it was counted at: the
    /// draft changes with every keystroke, the context only with the room.
    pub context_tokens: HashMap<TargetId, (u64, u64)>,
    /// Earlier attempts of retried answers are shown whole (`/attempts`) instead of folded.
    pub show_attempts: bool,
}

/// Everything around the room: focus, zoom and layout, overlays, the status line, the input.
pub struct Chrome {
    pub focus: usize,
    pub zoom: Option<usize>,
    /// How the panes share the screen (`/layout`).
    pub layout: crate::ui::layout::LayoutMode,
    pub sync_scroll: bool,
    pub show_sidebar: bool,
    pub mouse_capture: bool,
    pub input: InputBox,
    pub overlay: Option<Overlay>,
    /// Selected row of the `/` palette.
    pub palette_index: usize,
    /// The palette row was chosen with the arrows, so Enter runs it.
    pub palette_chosen: bool,
    pub status: Option<(Level, String)>,
    /// A question waiting for `y` (remove a pane, clear, quit while streaming).
    pub pending_confirm: Option<crate::ui::app_input::Confirm>,
    /// The turn being edited (`/edit`): sending the draft makes a branch beside it.
    pub editing: Option<TurnId>,
    /// A model id the catalog does not list, already warned about: adding it again adds it.
    pub unlisted_confirmed: Option<String>,
    /// Where things were drawn last frame (mouse hit-testing, paging).
    pub regions: Option<Regions>,
    /// What the sidebar shows this frame (worked out by `draw::prepare`).
    pub sidebar_picture: Option<crate::ui::sidebar::Picture>,
    /// What the status line shows this frame (worked out by `draw::prepare_chrome`).
    pub status_view: Option<crate::ui::draw::StatusView>,
    /// When and for what the sidebar's picture was last worked out (its live figures are
    /// refreshed a few times a second while answers stream; see `draw::prepare`).
    pub sidebar_sampled: Option<(Instant, crate::ui::sidebar::Shape)>,
    /// Animation counter for spinners; advanced by the loop while something animates.
    pub tick: u64,
    /// A fixed clock for reproducible frames (snapshot tests); `None` reads the real clocks.
    pub frozen_clock: Option<(Instant, SystemTime)>,
    /// Let the terminal scroll a following pane's rows (`[ui] scroll_regions`).
    pub scroll_regions: bool,
    /// How far a following pane moves when its text reaches the bottom, in percent of its rows
    /// (`[ui] scroll_jump`).
    pub scroll_jump: u8,
    /// The terminal events handled since the loop set this only edited the draft: their frame
    /// may leave the panes for the next frame slot (see `Painter::paint_draft`).
    pub draft_edits_only: bool,
}

/// What the chatroom works with: providers, catalog, store, theme and keys, directories.
pub struct Services {
    pub theme: Theme,
    pub keymap: Keymap,
    pub demo: Option<String>,
    pub providers: ProvidersConfig,
    pub estimator: Option<CatalogEstimator>,
    pub store: Option<Store>,
    pub config_dir: Option<PathBuf>,
    pub export_dir: PathBuf,
    pub no_color: bool,
    pub setup: RoomSetup,
    /// The default analyst model (`[compare] analyst`).
    pub analyst: String,
    /// An analysis whose estimate was shown: the same `/analyze` again sends it.
    pub analysis_confirmed: Option<String>,
}
impl App {
    pub fn new(init: AppInit) -> App {
        let now = Instant::now();
        let mut input = InputBox::new(&init.theme);
        input.apply_theme(&init.theme, init.demo.is_some());
        let setup = RoomSetup {
            store: init.store.clone(),
            tools: init.tools,
            policy: Default::default(),
            spend: DaySpend::new(init.day_start_ms, init.today_spend),
            headless: false,
        };
        let mut app = App {
            room: Room::new(setup.clone()),
            view: RoomView {
                panes: Vec::new(),
                sidebar: SidebarData::new(now),
                cleared_through: None,
                view_revision: u64::MAX,
                draft_revision: None,
                context_tokens: HashMap::new(),
                show_attempts: false,
            },
            chrome: Chrome {
                focus: 0,
                zoom: None,
                layout: Default::default(),
                sync_scroll: false,
                show_sidebar: init.sidebar,
                mouse_capture: init.mouse,
                input,
                overlay: None,
                palette_index: 0,
                palette_chosen: false,
                status: None,
                pending_confirm: None,
                editing: None,
                unlisted_confirmed: None,
                regions: None,
                sidebar_picture: None,
                status_view: None,
                sidebar_sampled: None,
                tick: 0,
                frozen_clock: None,
                scroll_regions: true,
                scroll_jump: crate::ui::settings::DEFAULT_SCROLL_JUMP,
                draft_edits_only: false,
            },
            services: Services {
                theme: init.theme,
                keymap: init.keymap,
                demo: init.demo,
                providers: init.providers,
                estimator: init.estimator,
                store: init.store,
                config_dir: init.config_dir,
                export_dir: init.export_dir,
                no_color: init.no_color,
                setup,
                analyst: init.analyst,
                analysis_confirmed: None,
            },
            effects: Vec::new(),
            dirty: true,
            repaint: false,
            quit: false,
        };
        match init.resume {
            Some(stored) => app.open_stored(stored),
            None => {
                for model in init.models {
                    app.add_pane(model);
                }
            }
        }
        app.sync_view();
        let unknown: Vec<String> = app
            .view
            .panes
            .iter()
            .filter_map(|p| {
                let near = app.unlisted(&p.model)?;
                let hint = near.first().map(|n| format!(" (did you mean {n}?)")).unwrap_or_default();
                Some(format!("{}{hint}", p.model))
            })
            .collect();
        if !unknown.is_empty() {
            app.set_status(Level::Warn, format!("Not in the model catalog, sent as given: {}", unknown.join(", ")));
        }
        if let Some(w) = init.warnings.into_iter().next() {
            app.set_status(Level::Warn, w);
        }
        app
    }

    /// Replace the room with a stored one, exactly as it was.
    pub fn open_stored(&mut self, stored: crate::core::store::StoredRoom) {
        let title = stored.title.clone();
        self.room = room::open_stored(self.services.setup.clone(), stored);
        self.view.panes.clear();
        self.chrome.focus = 0;
        self.chrome.zoom = None;
        self.view.cleared_through = None;
        self.chrome.editing = None;
        self.sync_view();
        self.set_status(Level::Info, format!("Resumed room “{title}”"));
    }

    pub fn set_status(&mut self, level: Level, text: impl Into<String>) {
        // Nothing on screen may name a model during a blind round, the status line included.
        self.chrome.status = Some((level, blind_scrub(&self.room, &text.into())));
        self.dirty = true;
    }

    /// Add a pane for `model` (with default settings) and return its index.
    pub fn add_pane(&mut self, model: String) -> usize {
        let target = self.room.add_pane(&model, ModelSettings::default());
        self.sync_view();
        self.view.panes.iter().position(|p| p.target == target).unwrap_or(0)
    }

    pub fn is_streaming(&self) -> bool {
        self.room.is_streaming()
    }

    /// Whether spinners or rates are on screen and need periodic redraws.
    pub fn animating(&self) -> bool {
        self.is_streaming()
    }

    /// Send the draft (or run it as a command when it starts with `/`). `@2 text` or
    /// `@2,3 text` sends to those panes only.
    pub fn submit_draft(&mut self) {
        let text = self.chrome.input.text();
        if text.trim().is_empty() {
            return;
        }
        if text.starts_with('/') && !text.contains('\n') {
            self.chrome.input.take_command();
            self.run_command_line(&text);
            return;
        }
        if self.view.panes.is_empty() {
            self.set_status(Level::Warn, "Add a model first: Ctrl+N opens the picker, or type /add MODEL");
            return;
        }
        let (to, prompt) = match self.parse_addressees(&text) {
            Ok(parsed) => parsed,
            Err(e) => return self.set_status(Level::Error, e),
        };
        let result = match self.chrome.editing {
            Some(turn) => self.room.send_branch(turn, &prompt, to),
            None => self.room.send(&prompt, to),
        };
        match result {
            Ok(commands) => {
                let branched = self.chrome.editing.take().is_some();
                self.chrome.input.take();
                self.show_attachments();
                self.core(commands);
                self.sync_view();
                for p in &mut self.view.panes {
                    p.scroll_to_bottom();
                }
                if branched {
                    let (at, n) = self.room.branch_position();
                    self.set_status(
                        Level::Info,
                        format!("New branch {at}/{n}: /branch prev goes back to the earlier one"),
                    );
                } else if self.room.panes.iter().any(|p| !p.removed && self.room.is_busy(p.target)) {
                    self.chrome.status = None;
                }
            }
            Err(e) => self.set_status(Level::Warn, e.0),
        }
    }

    /// `@2 text`, `@2,3 text`: the panes (1-based) a prompt goes to, and the prompt without them.
    fn parse_addressees(&self, text: &str) -> Result<(Option<Vec<TargetId>>, String), String> {
        let Some(rest) = text.strip_prefix('@') else { return Ok((None, text.to_owned())) };
        let (list, prompt) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        let mut targets = Vec::new();
        for part in list.split(',').filter(|p| !p.is_empty()) {
            let n: usize = part
                .parse()
                .map_err(|_| format!("“@{list}” is not a list of pane numbers: write @2 or @1,3 before the prompt"))?;
            let pane = n
                .checked_sub(1)
                .and_then(|i| self.view.panes.get(i))
                .ok_or_else(|| format!("There is no pane {n}: this room has {} pane(s)", self.view.panes.len()))?;
            targets.push(pane.target);
        }
        if targets.is_empty() || prompt.trim().is_empty() {
            return Err("Write the prompt after the panes: @2 your question".into());
        }
        Ok((Some(targets), prompt.trim_start().to_owned()))
    }

    /// Fan `text` out to every pane as a new turn.
    pub fn start_turn(&mut self, text: &str) {
        match self.room.send(text, None) {
            Ok(commands) => {
                self.core(commands);
                self.sync_view();
                for p in &mut self.view.panes {
                    p.scroll_to_bottom();
                }
            }
            Err(e) => self.set_status(Level::Warn, e.0),
        }
    }

    /// The next turn's id (tests).
    pub fn next_turn(&self) -> u64 {
        self.room.turns.iter().map(|t| t.id.0).max().unwrap_or(0) + 1
    }

    /// Queue commands for the routing core.
    pub fn core(&mut self, commands: Vec<Command>) {
        self.effects.extend(commands.into_iter().map(Effect::Core));
    }

    /// Ask pane `i` again for its last answer.
    pub fn retry(&mut self, i: usize) {
        let Some(target) = self.view.panes.get(i).map(|p| p.target) else { return };
        match self.room.retry(target) {
            Ok(commands) => {
                self.core(commands);
                self.sync_view();
                if let Some(p) = self.view.panes.get_mut(i) {
                    p.scroll_to_bottom();
                }
            }
            Err(e) => self.set_status(Level::Warn, e.0),
        }
    }

    pub fn stop(&mut self, which: Option<usize>) {
        let target = match which {
            Some(i) => match self.view.panes.get(i) {
                Some(p) => Some(p.target),
                None => return,
            },
            None => None,
        };
        let commands = self.room.stop(target);
        let stopping = commands.len();
        self.core(commands);
        self.sync_view();
        if stopping > 0 {
            self.set_status(Level::Info, format!("Stopping {stopping} stream{}", if stopping == 1 { "" } else { "s" }));
        }
    }

    pub fn on_core(&mut self, event: CoreEvent) {
        self.dirty = true;
        match &event {
            CoreEvent::Quota(buckets) => {
                // Buckets the room's models draw from, plus any already used today.
                let relevant = self.relevant_buckets();
                self.view.sidebar.quota =
                    buckets.iter().filter(|b| b.used > 0 || relevant.contains(&b.bucket)).cloned().collect();
                return;
            }
            CoreEvent::Account(info) => {
                self.view.sidebar.account = Some(info.clone());
                return;
            }
            CoreEvent::Stopped => return,
            CoreEvent::Stream(ev) => {
                // The throughput sparkline: roughly four characters per token until usage arrives.
                if let crate::core::protocol::EventKind::TextDelta(t)
                | crate::core::protocol::EventKind::ReasoningDelta(t) = &ev.kind
                {
                    self.view.sidebar.throughput.record(self.now(), (t.len() as u64).div_ceil(4));
                }
            }
            CoreEvent::CostSettled { .. } => {}
        }
        let applied = self.room.on_event(&event);
        let commands = applied.commands;
        let Some(key) = applied.answer else { return };
        if !commands.is_empty() || self.room.revision != self.view.view_revision && self.needs_rebuild(key) {
            self.core(commands);
            self.sync_view();
        } else {
            self.sync_answer(key);
            if self.room.revision != self.view.view_revision {
                self.sync_pane_state(key.target);
                self.view.view_revision = self.room.revision;
            }
        }
        if applied.ended && !self.is_streaming() {
            self.check_store_health();
            if self.chrome.status.as_ref().is_some_and(|(_, t)| t.starts_with("Stopping ")) {
                self.chrome.status = None;
            }
        }
    }

    /// An event for an answer that has no entry yet (a waiting prompt went out): rebuild.
    fn needs_rebuild(&self, key: AnswerKey) -> bool {
        let Some(pane) = self.view.panes.iter().find(|p| p.target == key.target) else { return false };
        !pane.entries.iter().any(|e| matches!(e, Entry::Answer(a) if a.key == key))
    }

    /// Bring answer `key`'s entry up to date with the room: new text (the delta only), state,
    /// tool calls, notices, footer.
    fn sync_answer(&mut self, key: AnswerKey) {
        let Some(answer) = self.room.answer(key) else { return };
        let Some(pane) = self.view.panes.iter_mut().find(|p| p.target == key.target) else { return };
        // The streaming rate in the header follows every delta.
        if let (PaneState::Streaming { chars, .. }, AnswerState::Streaming { chars: now, .. }) =
            (&mut pane.state, &answer.state)
        {
            *chars = *now;
        }
        let Some(view) = pane.answer_view(key) else { return };
        fill_answer(view, answer);
        if self.room.is_blind() {
            blind_view(view, &self.room);
        }
    }

    fn sync_pane_state(&mut self, target: TargetId) {
        let totals = self.room.totals();
        let room = &self.room;
        if let Some(pane) = self.view.panes.iter_mut().find(|p| p.target == target) {
            mirror_pane(pane, room, &totals);
        }
        self.view.sidebar.room_totals = totals.room;
        self.view.sidebar.today = self.room.spend_today();
    }

    /// Model ids the sidebar must not show during a blind round.
    fn blind_models(&self) -> Vec<String> {
        if self.room.is_blind() { self.room.live_panes().map(|p| p.model.clone()).collect() } else { Vec::new() }
    }

    /// Rebuild the view from the room: one pane per live pane, entries for the current branch
    /// (render caches kept for entries that stay).
    pub fn sync_view(&mut self) {
        self.dirty = true;
        self.view.view_revision = self.room.revision;
        let totals = self.room.totals();
        let mut old: HashMap<TargetId, Pane> = self.view.panes.drain(..).map(|p| (p.target, p)).collect();
        let specs: Vec<(TargetId, String, ModelSettings)> =
            self.room.live_panes().map(|p| (p.target, p.model.clone(), p.settings.clone())).collect();
        for (target, model, settings) in specs {
            let mut pane = old.remove(&target).unwrap_or_else(|| Pane::new(target, model.clone(), settings.clone()));
            pane.model = model;
            pane.settings = settings;
            rebuild_entries(&mut pane, &self.room, self.view.cleared_through, self.view.show_attempts);
            mirror_pane(&mut pane, &self.room, &totals);
            self.view.panes.push(pane);
        }
        self.chrome.focus = self.chrome.focus.min(self.view.panes.len().saturating_sub(1));
        if self.chrome.zoom.is_some_and(|z| z >= self.view.panes.len()) {
            self.chrome.zoom = None;
        }
        self.view.sidebar.room_totals = totals.room;
        self.view.sidebar.today = self.room.spend_today();
        self.view.sidebar.blind_models = self.blind_models();
    }

    /// Names of the quota buckets the room's models would be counted in.
    fn relevant_buckets(&self) -> Vec<String> {
        let mut names = Vec::new();
        for p in &self.view.panes {
            let Ok(r) = self.services.providers.resolve(&p.model) else { continue };
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
        self.view.sidebar.store_problem = self.services.store.as_ref().and_then(Store::health).map(|e| e.to_string());
    }

    /// Re-estimate the draft's prompt for each model when the draft or the room changed.
    pub fn refresh_draft_estimate(&mut self) {
        let key = (self.chrome.input.revision, self.room.revision);
        if self.view.draft_revision == Some(key) {
            return;
        }
        self.view.draft_revision = Some(key);
        if self.chrome.input.is_empty() || self.chrome.input.first_line().starts_with('/') {
            self.view.sidebar.draft.clear();
            return;
        }
        // Draft tokens by the same heuristic the core uses (about four bytes per token).
        let draft_tokens = (self.chrome.input.byte_len() as u64).div_ceil(4) + 4;
        let mut estimates = Vec::new();
        for p in &self.view.panes {
            // The enabled tools' definitions go with every request, as `ask` counts them.
            let tool_tokens = self.room.pane(p.target).map_or(0, |spec| {
                estimate_tool_tokens(&self.services.setup.tools.specs(&spec.tools).unwrap_or_default())
            });
            let revision = self.room.revision;
            let context = match self.view.context_tokens.get(&p.target) {
                Some(&(counted_at, tokens)) if counted_at == revision => tokens,
                _ => {
                    let tokens = estimate_prompt_tokens(&self.room.context_for(p.target));
                    self.view.context_tokens.insert(p.target, (revision, tokens));
                    tokens
                }
            };
            let tokens = context + draft_tokens + tool_tokens + self.attachment_tokens(&p.model);
            let cost = self.services.providers.resolve(&p.model).ok().and_then(|r| {
                let pricing = self.services.estimator.as_ref()?.pricing_for(&r.provider_name, &r.upstream_model)?;
                let web = self.room.pane(p.target).is_some_and(|s| s.settings.web_search == Some(true));
                estimate_send_cost(&pricing, tokens, web)
            });
            estimates.push(DraftEstimate { model: p.model.clone(), tokens, cost });
        }
        self.view.sidebar.draft = estimates;
    }

    /// A new room with the same panes and settings; the next prompt starts it.
    pub fn new_room(&mut self) {
        let commands = self.room.stop(None);
        self.core(commands);
        let panes: Vec<_> = self.room.live_panes().cloned().collect();
        self.room = Room::new(self.services.setup.clone());
        for p in panes {
            let target = self.room.add_pane(&p.model, p.settings.clone());
            if !p.tools.is_empty() {
                let _ = self.room.set_tools(target, p.tools.clone());
            }
        }
        self.view.panes.clear();
        self.view.cleared_through = None;
        self.chrome.editing = None;
        self.sync_view();
        self.set_status(Level::Info, "New room: the next prompt starts it");
    }

    pub fn on_background(&mut self, bg: Background) {
        match bg {
            Background::EditorDone(Ok(text)) => {
                // The file is the new draft as written, less the final newline every editor adds.
                let text = text.strip_suffix('\n').map_or(text.as_str(), |t| t.strip_suffix('\r').unwrap_or(t));
                self.chrome.input.set_text(text);
                self.set_status(Level::Info, "Draft updated from the editor");
            }
            Background::EditorDone(Err(e)) => self.set_status(Level::Error, e),
            Background::Exported(Ok(path)) => self.set_status(Level::Info, format!("Exported to {}", path.display())),
            Background::Exported(Err(e)) => self.set_status(Level::Error, e),
            Background::Copied(Ok(what)) => self.set_status(Level::Info, what),
            Background::Copied(Err(e)) => self.set_status(Level::Warn, e),
            Background::Rooms(reply) => self.on_rooms_reply(reply),
            Background::Leaderboard(Ok(lines)) => self.chrome.overlay = Some(Overlay::Leaderboard { lines, scroll: 0 }),
            Background::Leaderboard(Err(e)) => self.set_status(Level::Error, e),
            Background::McpStarted { server, result } => self.on_mcp_started(&server, result),
        }
        self.dirty = true;
    }

    fn on_mcp_started(&mut self, server: &str, result: Result<usize, String>) {
        match result {
            Ok(n) => self.set_status(Level::Info, format!("MCP server {server} is ready: {n} tools for this room")),
            Err(e) => {
                self.room.note(format!(
                    "{e} The room goes on without the tools of {server}; once that is fixed, /tools again retries (`roundtable tools` shows the same error)."
                ));
                self.sync_view();
                self.set_status(Level::Error, format!("MCP server {server} did not start; the panes say why"));
            }
        }
    }

    /// Open the room browser and ask for the list.
    pub fn open_room_browser(&mut self) {
        if self.services.store.is_none() {
            return self.set_status(
                Level::Warn,
                "History is not saved in this session (no database), so there are no rooms to browse",
            );
        }
        self.chrome.overlay = Some(Overlay::Rooms(Box::default()));
        self.effects.push(Effect::Rooms(crate::ui::rooms_view::RoomsRequest::List));
    }

    fn on_rooms_reply(&mut self, reply: crate::ui::rooms_view::RoomsReply) {
        use crate::ui::rooms_view::{RoomsReply, RoomsRequest};
        match reply {
            RoomsReply::Opened(stored) => {
                if self.is_streaming() {
                    return self.set_status(Level::Warn, "Stop streaming first (Esc), then open another room");
                }
                self.chrome.overlay = None;
                let renamed_current = self.room.id == Some(stored.id);
                self.open_stored(*stored);
                if renamed_current {
                    self.set_status(Level::Info, "Reopened this room");
                }
            }
            RoomsReply::Changed => self.effects.push(Effect::Rooms(RoomsRequest::List)),
            other => {
                if let Some(Overlay::Rooms(browser)) = &mut self.chrome.overlay {
                    browser.on_reply(&other);
                } else if let RoomsReply::Failed(e) = other {
                    self.set_status(Level::Error, e);
                }
            }
        }
    }

    /// Monotonic now (frozen in snapshot tests).
    pub fn now(&self) -> Instant {
        self.chrome.frozen_clock.map_or_else(Instant::now, |c| c.0)
    }

    /// Wall-clock now, for countdowns (frozen in snapshot tests).
    pub fn wall(&self) -> SystemTime {
        self.chrome.frozen_clock.map_or_else(SystemTime::now, |c| c.1)
    }

    pub fn draw_ctx(&self) -> crate::ui::pane_view::DrawCtx<'_> {
        draw_ctx(&self.services, &self.chrome)
    }

    /// Tool names enabled in the room (the first pane's; `/tools` sets every pane's).
    pub fn enabled_tools(&self) -> Vec<String> {
        self.room.live_panes().next().map(|p| p.tools.clone()).unwrap_or_default()
    }
}

/// What drawing a pane needs, from the parts of the app it reads (so the panes can be borrowed
/// mutably beside it while they are prepared).
pub(crate) fn draw_ctx<'a>(services: &'a Services, chrome: &Chrome) -> crate::ui::pane_view::DrawCtx<'a> {
    let (now, wall) = chrome.frozen_clock.unwrap_or_else(|| (Instant::now(), SystemTime::now()));
    crate::ui::pane_view::DrawCtx {
        theme: &services.theme,
        now,
        wall,
        tick: chrome.tick,
        scroll_jump: chrome.scroll_jump,
    }
}

/// Entries of one pane for the room's current branch: each prompt it was sent, its answers
/// (a retry after the answer it replaces), and the room's notices for it.
fn rebuild_entries(pane: &mut Pane, room: &Room, cleared_through: Option<TurnId>, show_attempts: bool) {
    let mut users: HashMap<TurnId, Box<MarkdownView>> = HashMap::new();
    let mut answers: HashMap<AnswerKey, Box<Answer>> = HashMap::new();
    for e in pane.entries.drain(..) {
        match e {
            Entry::User { turn, body } => {
                users.insert(turn, body);
            }
            Entry::Answer(a) => {
                answers.insert(a.key, a);
            }
            Entry::Notice(_) => {}
        }
    }
    let target = pane.target;
    let notices_after = |after: Option<TurnId>| {
        room.notices
            .iter()
            .filter(move |n| n.after == after && n.target.is_none_or(|t| t == target))
            .map(|n| Entry::Notice(blind_scrub(room, &n.text)))
    };
    let mut entries: Vec<Entry> = Vec::new();
    if cleared_through.is_none() {
        entries.extend(notices_after(None));
    }
    for turn in room.path() {
        let hidden = cleared_through.is_some_and(|c| turn.id <= c);
        if !turn.addresses(target) {
            if !hidden {
                entries.extend(notices_after(Some(turn.id)));
            }
            continue;
        }
        if !hidden {
            let body = users.remove(&turn.id).unwrap_or_else(|| Box::new(MarkdownView::from_text(&turn.prompt)));
            entries.push(Entry::User { turn: turn.id, body });
            let latest = room.attempts(turn.id, target).map(|a| a.key.attempt).max();
            for a in room.attempts(turn.id, target) {
                if Some(a.key.attempt) != latest && !show_attempts {
                    // An answer a retry replaced stays reachable, folded to a line.
                    let first: String =
                        a.text.lines().find(|l| !l.trim().is_empty()).unwrap_or("").chars().take(48).collect();
                    entries.push(Entry::Notice(format!(
                        "↻ answer {} (replaced by a retry, folded: /attempts shows it): {first}…",
                        a.key.attempt + 1
                    )));
                    continue;
                }
                if a.is_retry() {
                    entries.push(Entry::Notice(format!("↻ retry {} of this prompt", a.key.attempt)));
                }
                let mut view = answers.remove(&a.key).unwrap_or_else(|| Box::new(Answer::new(a.key)));
                fill_answer(&mut view, a);
                if room.is_blind() {
                    blind_view(&mut view, room);
                }
                entries.push(Entry::Answer(view));
            }
            entries.extend(notices_after(Some(turn.id)));
        }
    }
    pane.entries = entries;
    pane.live = pane.entries.iter().enumerate().rev().find_map(|(i, e)| match e {
        Entry::Answer(a) if room.answer(a.key).is_some_and(|x| x.state.is_active()) => {
            Some(Live { turn: a.turn, entry: i })
        }
        _ => None,
    });
}

/// The pane's header state, upstream and totals from the room.
fn mirror_pane(pane: &mut Pane, room: &Room, totals: &room::RoomTotals) {
    let target = pane.target;
    pane.label = room.blind_labels().and_then(|l| l.get(&target).cloned());
    pane.totals = totals.panes.get(&target).cloned().unwrap_or_default();
    pane.next_queued = room.answers.iter().any(|a| a.key.target == target && a.state == AnswerState::Pending);
    let shown = pane.entries.iter().rev().find_map(|e| match e {
        Entry::Answer(a) => room.answer(a.key),
        _ => None,
    });
    let active = room.active_answer(target);
    pane.state = match active.or(shown).map(|a| &a.state) {
        None | Some(AnswerState::Pending) => PaneState::Idle,
        Some(AnswerState::Waiting { since }) => PaneState::Waiting { since: *since },
        Some(AnswerState::Queued { until }) => PaneState::Queued { until: *until },
        Some(AnswerState::Streaming { first_token, chars }) => {
            PaneState::Streaming { first_token: *first_token, chars: *chars }
        }
        Some(AnswerState::AwaitingTool) => PaneState::AwaitingTool,
        Some(AnswerState::Done) => PaneState::Done,
        Some(AnswerState::Failed | AnswerState::Interrupted) => PaneState::Failed,
        Some(AnswerState::Cancelled) => PaneState::Cancelled,
    };
    if let Some(a) = active.or(shown) {
        if a.served_model.is_some() {
            pane.served_model.clone_from(&a.served_model);
        }
        if a.upstream_provider.is_some() {
            pane.upstream.clone_from(&a.upstream_provider);
        }
    }
    pane.live = pane.entries.iter().enumerate().rev().find_map(|(i, e)| match e {
        Entry::Answer(a) if active.is_some_and(|x| x.key == a.key) => Some(Live { turn: a.turn, entry: i }),
        _ => None,
    });
}

/// Bring an answer's entry up to date: the text it lacks (only the new part), and the rest.
fn fill_answer(view: &mut Answer, a: &room::Answer) {
    // An answer's text only grows while it streams (a retry is another answer), so the view
    // takes the new part alone: O(delta), never a comparison of the whole text.
    let have = view.body.text().len();
    if a.text.len() > have && a.text.is_char_boundary(have) {
        view.body.push_str(&a.text[have..]);
    } else if a.text.len() < have {
        view.body = MarkdownView::from_text(&a.text);
    }
    if !a.state.is_final() && a.state != AnswerState::Pending {
        // Streaming: only what the header and the folded reasoning line need.
        view.reasoning_chars = a.reasoning.len();
        if view.tools.len() != a.tools.len() || a.tools.iter().any(|t| t.result.is_some()) {
            view.tools = tool_notes(a);
        }
        if view.notices.len() != a.notices.len() {
            view.notices.clone_from(&a.notices);
        }
        view.outcome = Outcome::Streaming;
        return;
    }
    let reasoning_chars = a.reasoning.chars().count();
    let tools = tool_notes(a);
    let outcome = match a.state {
        AnswerState::Done => Outcome::Done,
        AnswerState::Cancelled if a.finish.as_deref() == Some("never sent") => {
            Outcome::Failed("not sent: stopped before this pane was free".into())
        }
        AnswerState::Cancelled => Outcome::Cancelled,
        AnswerState::Interrupted => Outcome::Failed("interrupted: roundtable closed while streaming".into()),
        AnswerState::Pending => Outcome::Streaming,
        _ => Outcome::Failed(match &a.error {
            Some(e) => e.message.clone(),
            None => "this answer ended with an error".into(),
        }),
    };
    let footer = a.footer();
    // A finished answer's head and tail lines are cached; redraw them only when they change
    // (a room rebuild refills every answer, and most have not changed).
    let changed = view.reasoning_chars != reasoning_chars
        || view.tools != tools
        || view.notices != a.notices
        || view.citations != a.citations
        || view.outcome != outcome
        || view.footer != footer;
    if changed {
        view.reasoning_chars = reasoning_chars;
        view.tools = tools;
        view.notices.clone_from(&a.notices);
        view.citations.clone_from(&a.citations);
        view.outcome = outcome;
        view.footer = footer;
        view.extras = None;
    }
}

/// During a blind round an answer shows nothing that names its model: no figures under it (a
/// pane's cost gives it away), and model ids in notices and errors become the pane labels.
fn blind_view(view: &mut Answer, room: &Room) {
    view.footer = None;
    view.extras = None;
    for n in &mut view.notices {
        *n = blind_scrub(room, n);
    }
    if let Outcome::Failed(m) = &mut view.outcome {
        *m = blind_scrub(room, m);
    }
}

/// `text` with every pane's model id (and the id without its vendor) replaced by the pane's blind
/// label, while a blind round hides the names; unchanged otherwise.
pub fn blind_scrub(room: &Room, text: &str) -> String {
    let Some(labels) = room.blind_labels() else { return text.to_string() };
    // Every way a message may name a pane's model: the id, without its `:variant` (a `:free`
    // model's paid twin), and both without the vendor; longest first so none is cut in half.
    let mut names: Vec<(String, &str)> = Vec::new();
    for (target, label) in &labels {
        let Some(model) = room.pane(*target).map(|p| p.model.as_str()) else { continue };
        let base = model.split_once(':').map_or(model, |(b, _)| b);
        for name in [model, base, model.rsplit('/').next().unwrap_or(model), base.rsplit('/').next().unwrap_or(base)] {
            if name.len() >= 5 {
                names.push((name.to_string(), label.as_str()));
            }
        }
    }
    names.sort_by_key(|(n, _)| std::cmp::Reverse(n.len()));
    let mut out = text.to_string();
    for (name, label) in names {
        out = out.replace(&name, label);
    }
    out
}

fn tool_notes(a: &room::Answer) -> Vec<ToolNote> {
    a.tools
        .iter()
        .map(|t| ToolNote {
            call_id: t.call.id.clone(),
            name: t.call.name.clone(),
            arguments: t.call.arguments.clone(),
            result: t.result.clone(),
            needs_confirmation: t.needs_confirmation && t.result.is_none(),
        })
        .collect()
}
