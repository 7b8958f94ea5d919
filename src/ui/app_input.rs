//! What keys, mouse and paste do to the chatroom, and running slash commands.

use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent, MouseEventKind};
use ratatui::layout::Position;

use crate::core::protocol::{Command, ModelSettings, TargetId, ToolDecision, TurnId};
use crate::ui::app::{App, Effect, Level, Overlay};
use crate::ui::commands::{self, BranchArg, Cmd, ExportFormat, Which};
use crate::ui::keymap::Action;
use crate::ui::pane::{PaneState, Selection};
use crate::ui::picker::{Picker, PickerOutcome};

const WHEEL_LINES: isize = 3;

impl App {
    pub fn on_terminal(&mut self, event: Event) {
        // Stays true only while every event edits the draft and nothing else.
        let draft_only_so_far = std::mem::take(&mut self.chrome.draft_edits_only);
        match event {
            Event::Key(key) if key.kind != KeyEventKind::Release => {
                self.on_key(key);
                self.chrome.draft_edits_only &= draft_only_so_far;
            }
            Event::Paste(text) => {
                if let Some(Overlay::Picker(p)) = &mut self.chrome.overlay {
                    p.type_str(&text.replace(['\n', '\r'], " "));
                } else {
                    self.chrome.input.paste(&text);
                    self.chrome.draft_edits_only = draft_only_so_far;
                }
                self.dirty = true;
            }
            Event::Mouse(m) => self.on_mouse(m),
            Event::Resize(..) => self.dirty = true,
            _ => {}
        }
    }

    /// The character `key` types, when on_key would only insert it into a draft that already
    /// has text: no overlay, question, selection or palette takes it and no binding is on it.
    /// The loop inserts a run of such keys in one edit: a paste from a terminal that does not
    /// bracket pastes arrives as a key per character, and the textarea lays out the whole draft
    /// again after each edit (300,000 keys took minutes one by one).
    pub fn types_into_draft(&self, key: &KeyEvent) -> Option<char> {
        plain_char(key).filter(|_| self.draft_takes_typing() && self.services.keymap.action(key).is_none())
    }

    /// Whether `key` would send a draft that `types_into_draft` types into (the loop tells a
    /// paste's line breaks from a send by what follows them).
    pub fn sends_typed_draft(&self, key: &KeyEvent) -> bool {
        key.kind == KeyEventKind::Press
            && self.services.keymap.action(key) == Some(Action::Send)
            && self.draft_takes_typing()
    }

    /// The draft has text and a key would reach it: no overlay, question, selection or palette.
    fn draft_takes_typing(&self) -> bool {
        self.chrome.overlay.is_none()
            && self.chrome.pending_confirm.is_none()
            && !self.chrome.input.is_empty()
            && !self.chrome.input.first_line().starts_with('/')
            && self.view.panes.get(self.chrome.focus).is_none_or(|p| p.selection.is_none())
    }

    /// Insert characters that `types_into_draft` let through, as one edit.
    pub fn type_into_draft(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        self.dirty = true;
        self.chrome.status = None;
        self.chrome.input.paste(text);
        self.chrome.palette_index = 0;
    }

    pub fn on_key(&mut self, key: KeyEvent) {
        self.dirty = true;
        self.chrome.draft_edits_only = false;
        if let Some(question) = self.chrome.pending_confirm.take() {
            self.chrome.status = None;
            let yes = key.code == KeyCode::Char('y') && key.modifiers.is_empty();
            return self.confirmed(question, yes);
        }
        if key.code == KeyCode::Esc && self.chrome.editing.is_some() && self.chrome.overlay.is_none() {
            self.chrome.editing = None;
            return self.set_status(Level::Info, "No longer editing: Enter sends the draft as a new prompt");
        }
        if self.chrome.status.is_some() && key.code != KeyCode::Esc {
            self.chrome.status = None;
        }
        let screen = self.screen();
        match &mut self.chrome.overlay {
            Some(Overlay::Help { scroll }) => {
                if !scroll_text(scroll, key.code) {
                    self.chrome.overlay = None;
                }
                return;
            }
            Some(Overlay::Rooms(browser)) => {
                match browser.key(key) {
                    crate::ui::rooms_view::BrowserOutcome::Stay => {}
                    crate::ui::rooms_view::BrowserOutcome::Close => self.chrome.overlay = None,
                    crate::ui::rooms_view::BrowserOutcome::Request(r) => self.effects.push(Effect::Rooms(r)),
                }
                return;
            }
            Some(Overlay::Leaderboard { scroll, .. }) => {
                if !scroll_text(scroll, key.code) {
                    self.chrome.overlay = None;
                }
                return;
            }
            Some(Overlay::Analysis { scroll, .. }) => {
                if !scroll_text(scroll, key.code) {
                    self.chrome.overlay = None;
                }
                return;
            }
            Some(Overlay::Diff(diff)) => {
                match key.code {
                    KeyCode::Up | KeyCode::Char('k') => diff.scroll_by(-1, screen),
                    KeyCode::Down | KeyCode::Char('j') => diff.scroll_by(1, screen),
                    KeyCode::PageUp => diff.page_by(-1, screen),
                    KeyCode::PageDown | KeyCode::Char(' ') => diff.page_by(1, screen),
                    _ => self.chrome.overlay = None,
                }
                return;
            }
            Some(Overlay::Picker(picker)) => {
                let catalog = self.services.estimator.as_ref().map(|e| e.catalog());
                match picker.key(key, catalog.as_deref()) {
                    PickerOutcome::Stay => {}
                    PickerOutcome::Close => self.chrome.overlay = None,
                    PickerOutcome::Add(model) => {
                        self.chrome.overlay = None;
                        self.add_models(vec![model]);
                    }
                }
                return;
            }
            None => {}
        }
        // Alt+1…9 votes for Model A…I during a blind round.
        if self.room.is_blind()
            && key.modifiers == KeyModifiers::ALT
            && let KeyCode::Char(c @ '1'..='9') = key.code
        {
            let position = usize::from(c as u8 - b'1');
            return self.cast_vote(crate::core::compare::VoteChoice::Label(position));
        }
        if self.selection_key(key) || self.tool_decision_key(key) || self.palette_key(key) {
            return;
        }
        match self.services.keymap.action(&key) {
            Some(action) => self.act(action),
            None => {
                // Up/Down browse history from the first/last line of the draft.
                if key.modifiers == KeyModifiers::NONE {
                    if key.code == KeyCode::Up && self.chrome.input.cursor_on_first_line() {
                        return self.chrome.input.history_prev();
                    }
                    if key.code == KeyCode::Down && self.chrome.input.cursor_on_last_line() {
                        return self.chrome.input.history_next();
                    }
                }
                self.chrome.input.key(key);
                self.chrome.palette_index = 0;
                self.chrome.draft_edits_only = true;
            }
        }
    }

    pub fn act(&mut self, action: Action) {
        self.dirty = true;
        let focus = self.chrome.focus;
        match action {
            Action::Send => self.submit_draft(),
            Action::Newline => self.chrome.input.newline(),
            Action::StopAll => {
                if self.is_streaming() {
                    self.stop(None);
                } else if self.chrome.zoom.is_some() {
                    self.chrome.zoom = None;
                } else {
                    self.chrome.status = None;
                }
            }
            Action::StopFocused => self.stop(Some(focus)),
            Action::Retry => self.retry(focus),
            Action::FocusNext => self.move_focus(1),
            Action::FocusPrev => self.move_focus(-1),
            Action::PageUp => self.scroll_focused(-(self.page() as isize)),
            Action::PageDown => self.scroll_focused(self.page() as isize),
            Action::LineUp => self.scroll_focused(-1),
            Action::LineDown => self.scroll_focused(1),
            Action::ScrollTop => self.for_scrolled_panes(|p| p.scroll_to_top()),
            Action::ScrollBottom => self.for_scrolled_panes(|p| p.scroll_to_bottom()),
            Action::Zoom => self.toggle_zoom(focus),
            Action::SyncScroll => {
                self.chrome.sync_scroll = !self.chrome.sync_scroll;
                let state = if self.chrome.sync_scroll { "on: all panes scroll together" } else { "off" };
                self.set_status(Level::Info, format!("Synchronized scrolling {state}"));
            }
            Action::Help => self.chrome.overlay = Some(Overlay::Help { scroll: 0 }),
            Action::Palette => {
                if !self.chrome.input.first_line().starts_with('/') {
                    self.chrome.input.set_text("/");
                }
            }
            Action::AddModel => self.open_picker(),
            Action::CopyAnswer => self.copy(None),
            Action::SelectMode => self.start_selection(),
            Action::Adopt => self.adopt(focus),
            Action::EditDraft => self.effects.push(Effect::Editor(self.chrome.input.text())),
            Action::HistoryPrev => self.chrome.input.history_prev(),
            Action::HistoryNext => self.chrome.input.history_next(),
            Action::ToggleSidebar => self.chrome.show_sidebar = !self.chrome.show_sidebar,
            Action::ToggleMouse => self.toggle_mouse(),
            Action::CycleTheme => self.switch_theme(None),
            Action::Clear => self.clear_panes(),
            Action::Interrupt => {
                if self.is_streaming() {
                    self.stop(None);
                } else {
                    self.quit = true;
                }
            }
            // Ctrl+Q is a deliberate key and quits at once; a typed /quit asks while streaming.
            Action::Quit => self.quit = true,
            Action::Rooms => self.open_room_browser(),
            Action::EditLastPrompt => self.edit_prompt(None),
            Action::BranchPrev => self.branch(BranchArg::Prev),
            Action::BranchNext => self.branch(BranchArg::Next),
        }
    }

    fn page(&self) -> usize {
        self.view.panes.get(self.chrome.focus).map_or(10, |p| p.scroll.viewport.saturating_sub(2).max(1))
    }

    fn move_focus(&mut self, by: isize) {
        if self.view.panes.is_empty() {
            return;
        }
        let n = self.view.panes.len() as isize;
        self.chrome.focus = (self.chrome.focus as isize + by).rem_euclid(n) as usize;
        if self.chrome.zoom.is_some() {
            self.chrome.zoom = Some(self.chrome.focus);
        }
    }

    fn for_scrolled_panes(&mut self, f: impl Fn(&mut crate::ui::pane::Pane)) {
        let focus = self.chrome.focus;
        for (i, p) in self.view.panes.iter_mut().enumerate() {
            if self.chrome.sync_scroll || i == focus {
                f(p);
            }
        }
    }

    /// Scroll the focused pane; with synchronised scrolling the others follow it to the same
    /// turn (and as far into it), so answers of different lengths stay side by side.
    fn scroll_focused(&mut self, by: isize) {
        let focus = self.chrome.focus;
        let Some(pane) = self.view.panes.get_mut(focus) else { return };
        pane.scroll_by(by);
        if !self.chrome.sync_scroll {
            return;
        }
        let Some((turn, offset)) = pane.turn_at(pane.scroll.top) else { return };
        for (i, p) in self.view.panes.iter_mut().enumerate() {
            if i != focus {
                p.align_to_turn(turn, offset);
            }
        }
    }

    fn toggle_zoom(&mut self, i: usize) {
        self.chrome.zoom = if self.chrome.zoom.is_some() || self.view.panes.len() < 2 {
            None
        } else {
            Some(i.min(self.view.panes.len() - 1))
        };
    }

    fn toggle_mouse(&mut self) {
        self.chrome.mouse_capture = !self.chrome.mouse_capture;
        self.effects.push(Effect::MouseCapture(self.chrome.mouse_capture));
        let text = if self.chrome.mouse_capture {
            "Mouse capture on: the wheel scrolls panes (F3 gives selection back to the terminal)"
        } else {
            "Mouse capture off: select text with the terminal; F3 turns the wheel back on"
        };
        self.set_status(Level::Info, text);
    }

    fn on_mouse(&mut self, m: MouseEvent) {
        let Some(regions) = &self.chrome.regions else { return };
        let at = Position { x: m.column, y: m.row };
        let Some(&(index, _)) = regions.panes.iter().find(|(_, r)| r.contains(at)) else { return };
        match m.kind {
            MouseEventKind::ScrollUp | MouseEventKind::ScrollDown => {
                let by = if m.kind == MouseEventKind::ScrollUp { -WHEEL_LINES } else { WHEEL_LINES };
                for (i, p) in self.view.panes.iter_mut().enumerate() {
                    if self.chrome.sync_scroll || i == index {
                        p.scroll_by(by);
                    }
                }
                self.dirty = true;
            }
            MouseEventKind::Down(_) => {
                self.chrome.focus = index;
                self.dirty = true;
            }
            _ => {}
        }
    }

    /// Keys of the keyboard selection mode; true when consumed.
    fn selection_key(&mut self, key: KeyEvent) -> bool {
        let focus = self.chrome.focus;
        let Some(pane) = self.view.panes.get_mut(focus) else { return false };
        let Some(mut sel) = pane.selection else { return false };
        let last = pane.scroll.total.saturating_sub(1);
        match key.code {
            KeyCode::Up | KeyCode::Char('k') => sel.cursor = sel.cursor.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => sel.cursor = (sel.cursor + 1).min(last),
            KeyCode::PageUp => sel.cursor = sel.cursor.saturating_sub(pane.scroll.viewport),
            KeyCode::PageDown => sel.cursor = (sel.cursor + pane.scroll.viewport).min(last),
            KeyCode::Char('v') | KeyCode::Char(' ') => {
                sel.anchor = if sel.anchor.is_some() { None } else { Some(sel.cursor) };
            }
            KeyCode::Char('y') | KeyCode::Enter => {
                let (from, to) = sel.range();
                pane.selection = None;
                let width = self.pane_text_width(focus);
                let text = {
                    let mut panes = std::mem::take(&mut self.view.panes);
                    let text =
                        crate::ui::pane_view::text_of_lines(&mut panes[focus], width, from, to, &self.draw_ctx());
                    self.view.panes = panes;
                    text
                };
                self.effects.push(Effect::Clipboard(text));
                return true;
            }
            KeyCode::Esc | KeyCode::Char('q') => {
                pane.selection = None;
                self.set_status(Level::Info, "Selection mode off");
                return true;
            }
            _ => return true,
        }
        // Keep the cursor in view.
        if sel.cursor < pane.scroll.top {
            pane.scroll.top = sel.cursor;
            pane.scroll.follow = false;
        } else if sel.cursor >= pane.scroll.top + pane.scroll.viewport {
            pane.scroll.top = sel.cursor + 1 - pane.scroll.viewport;
            pane.scroll.follow = false;
        }
        pane.selection = Some(sel);
        true
    }

    fn start_selection(&mut self) {
        let focus = self.chrome.focus;
        let Some(pane) = self.view.panes.get_mut(focus) else { return };
        // The top row as drawn (a following pane's too: `visible_lines` keeps it).
        let cursor = pane.scroll.top.min(pane.scroll.total.saturating_sub(1));
        pane.scroll.top = cursor;
        pane.scroll.follow = false;
        pane.selection = Some(Selection { cursor, anchor: None });
        self.set_status(Level::Info, "Select: ↑/↓ move · v marks · y copies · Esc leaves");
    }

    /// Text columns of pane `i` as last drawn (80 before the first frame).
    fn pane_text_width(&self, i: usize) -> u16 {
        self.chrome
            .regions
            .as_ref()
            .and_then(|r| r.panes.iter().find(|(j, _)| *j == i))
            .map_or(80, |(_, r)| r.width.saturating_sub(2).max(1))
    }

    /// y/a/n answer a pending tool confirmation in the focused pane while the draft is empty.
    fn tool_decision_key(&mut self, key: KeyEvent) -> bool {
        if !self.chrome.input.is_empty() || !key.modifiers.is_empty() {
            return false;
        }
        let decision = match key.code {
            KeyCode::Char('y') => ToolDecision::RunOnce,
            KeyCode::Char('a') => ToolDecision::AlwaysForTool,
            KeyCode::Char('n') => ToolDecision::Deny,
            _ => return false,
        };
        // The focused pane's question first, else the first pane that is asking.
        let awaiting = |p: &crate::ui::pane::Pane| p.state == PaneState::AwaitingTool;
        let index = if self.view.panes.get(self.chrome.focus).is_some_and(awaiting) {
            self.chrome.focus
        } else {
            match self.view.panes.iter().position(awaiting) {
                Some(i) => i,
                None => return false,
            }
        };
        let target = self.view.panes[index].target;
        let Some(answer) = self.room.active_answer(target) else { return false };
        let turn = answer.key.turn;
        let Some(call_id) =
            answer.tools.iter().find(|x| x.needs_confirmation && x.result.is_none()).map(|x| x.call.id.clone())
        else {
            return false;
        };
        // The view stops asking at once; the room learns the outcome from the tool's result.
        if let Some(note) =
            self.view.panes[index].live.map(|l| l.entry).and_then(|i| match self.view.panes[index].entries.get_mut(i) {
                Some(crate::ui::pane::Entry::Answer(a)) => a.tools.iter_mut().find(|n| n.call_id == call_id),
                _ => None,
            })
        {
            note.needs_confirmation = false;
        }
        self.effects.push(Effect::Core(Command::ToolDecision { turn, target, call_id, decision }));
        true
    }

    /// Keys of the `/` palette while the draft is a command line; true when consumed.
    fn palette_key(&mut self, key: KeyEvent) -> bool {
        let line = self.chrome.input.first_line().to_string();
        if !line.starts_with('/') || self.chrome.input.line_count() > 1 {
            return false;
        }
        let matches = commands::completions(&line);
        let typing_name = !line.contains(' ');
        match key.code {
            // Ctrl+↑/↓ stay prompt history, whatever the draft is.
            KeyCode::Up if !matches.is_empty() && key.modifiers.is_empty() => {
                self.chrome.palette_index = (self.chrome.palette_index + matches.len() - 1) % matches.len();
                self.chrome.palette_chosen = true;
                true
            }
            KeyCode::Down if !matches.is_empty() && key.modifiers.is_empty() => {
                self.chrome.palette_index = (self.chrome.palette_index + 1) % matches.len();
                self.chrome.palette_chosen = true;
                true
            }
            KeyCode::Tab if !matches.is_empty() => {
                let pick = matches[self.chrome.palette_index.min(matches.len() - 1)];
                self.chrome.input.set_text(&format!("/{} ", pick.name));
                self.chrome.palette_index = 0;
                true
            }
            KeyCode::Enter if typing_name && !matches.is_empty() && key.modifiers.is_empty() => {
                let typed = line.trim_start_matches('/');
                let pick = matches[self.chrome.palette_index.min(matches.len() - 1)];
                if pick.name == typed || self.chrome.palette_chosen {
                    // An exact name, or the row the user moved to: run it.
                    self.chrome.input.take_command();
                    self.chrome.palette_index = 0;
                    self.chrome.palette_chosen = false;
                    self.run_command_line(&format!("/{}", pick.name));
                } else {
                    // A partial name is completed, never guessed.
                    self.chrome.input.set_text(&format!("/{}", pick.name));
                    self.set_status(Level::Info, format!("/{}: Enter runs it, Tab adds arguments", pick.name));
                }
                true
            }
            KeyCode::Esc => {
                self.chrome.input.set_text("");
                true
            }
            _ => false,
        }
    }

    pub fn run_command_line(&mut self, line: &str) {
        match commands::parse(line) {
            Ok(cmd) => self.run_command(cmd),
            Err(e) => self.set_status(Level::Error, e),
        }
    }

    pub fn run_command(&mut self, cmd: Cmd) {
        self.dirty = true;
        match cmd {
            Cmd::Add(models) => self.add_models(models),
            Cmd::Picker => self.open_picker(),
            Cmd::Remove(w) => {
                if let Some(i) = self.pane_index(w) {
                    self.confirm(Confirm::Remove(self.view.panes[i].target));
                }
            }
            Cmd::Stop(Which::All) => self.stop(None),
            Cmd::Stop(w) => {
                if let Some(i) = self.pane_index(w) {
                    self.stop(Some(i));
                }
            }
            Cmd::Retry(Which::All) => (0..self.view.panes.len()).for_each(|i| self.retry(i)),
            Cmd::Retry(w) => {
                if let Some(i) = self.pane_index(w) {
                    self.retry(i);
                }
            }
            Cmd::New => self.new_room(),
            Cmd::Clear => self.confirm(Confirm::Clear),
            Cmd::System(w, text) => {
                let value = Some(text.clone()).filter(|t| !t.is_empty());
                let what = if text.is_empty() { "cleared".to_string() } else { format!("set to “{text}”") };
                self.change_settings(w, &format!("System prompt {what}"), |s| s.system = value.clone());
            }
            Cmd::Temperature(w, t) => {
                let what = t.map_or("default".to_string(), |t| t.to_string());
                self.change_settings(w, &format!("Temperature {what}"), |s| s.temperature = t);
            }
            Cmd::MaxTokens(w, m) => {
                let what = m.map_or("default".to_string(), |m| m.to_string());
                self.change_settings(w, &format!("Max tokens {what}"), |s| s.max_tokens = m);
            }
            Cmd::Reasoning(w, effort) => self.set_reasoning(w, effort),
            Cmd::Web(w, on) => self.set_web_search(w, on),
            Cmd::Json(w, json) => self.set_structured(w, json),
            Cmd::Provider(w, pref) => self.set_provider_pref(w, pref),
            Cmd::Attach(paths) => self.attach(paths),
            Cmd::Rooms => self.open_room_browser(),
            Cmd::Blind => self.start_blind(),
            Cmd::Analyze(model) => self.analyze(model),
            Cmd::Attempts => {
                self.view.show_attempts = !self.view.show_attempts;
                let what = if self.view.show_attempts { "shown whole" } else { "folded" };
                self.set_status(Level::Info, format!("Answers replaced by a retry are {what}"));
            }
            Cmd::Vote(choice) => self.cast_vote(choice),
            Cmd::Tag(tag) => {
                self.room.set_tag(tag);
                let what = self.room.tag.clone().map_or("no tag".to_string(), |t| format!("tag “{t}”"));
                self.set_status(Level::Info, format!("The next vote is filed under {what}"));
            }
            Cmd::Leaderboard => {
                let width = usize::from(self.screen().width.saturating_sub(8));
                self.effects.push(Effect::Leaderboard { width });
            }
            Cmd::Diff(a, b) => self.open_diff(&a, &b),
            Cmd::Edit(turn) => self.edit_prompt(turn.map(TurnId)),
            Cmd::Branch(arg) => self.branch(arg),
            Cmd::Rename(title) => {
                self.room.rename(&title);
                self.set_status(Level::Info, format!("Room renamed “{}”", self.room.title));
            }
            Cmd::Theme(name) => self.switch_theme(name),
            Cmd::Copy(n) => self.copy(n),
            Cmd::Select => self.start_selection(),
            Cmd::Mouse => self.toggle_mouse(),
            Cmd::Export { format, path } => self.export(format, path),
            Cmd::Sync => self.act(Action::SyncScroll),
            Cmd::Layout(mode) => {
                self.chrome.layout = mode.unwrap_or(self.chrome.layout.next());
                self.set_status(Level::Info, format!("Layout: {}", self.chrome.layout.name()));
            }
            Cmd::Zoom(w) => {
                if let Some(i) = self.pane_index(w) {
                    self.chrome.focus = i;
                    self.toggle_zoom(i);
                }
            }
            Cmd::Adopt(w) => {
                if let Some(i) = self.pane_index(w) {
                    self.adopt(i);
                }
            }
            Cmd::Tools(names) => self.set_tools(names),
            Cmd::Help => self.chrome.overlay = Some(Overlay::Help { scroll: 0 }),
            Cmd::Quit if self.is_streaming() => self.confirm(Confirm::Quit),
            Cmd::Quit => self.quit = true,
        }
        self.sync_view();
    }

    fn pane_index(&mut self, w: Which) -> Option<usize> {
        let i = match w {
            Which::Focused | Which::All => self.chrome.focus,
            Which::Pane(i) => i,
        };
        if i < self.view.panes.len() {
            Some(i)
        } else {
            let n = self.view.panes.len();
            self.set_status(Level::Error, format!("There is no pane {} (the room has {n})", i + 1));
            None
        }
    }

    /// Change the settings of the panes `w` names, checked by the room for each; on any error
    /// nothing changes and the status says what is wrong.
    fn change_settings(&mut self, w: Which, what: &str, f: impl Fn(&mut ModelSettings)) {
        let indices: Vec<usize> = match w {
            Which::All => (0..self.view.panes.len()).collect(),
            other => match self.pane_index(other) {
                Some(i) => vec![i],
                None => return,
            },
        };
        let mut planned = Vec::new();
        for i in &indices {
            let target = self.view.panes[*i].target;
            let Some(spec) = self.room.pane(target) else { continue };
            let mut settings = spec.settings.clone();
            f(&mut settings);
            let limit = self.max_output(&spec.model);
            if let Err(e) = crate::core::room::validate_settings(&settings, limit) {
                return self.set_status(Level::Error, format!("Pane {} ({}): {e}; nothing changed", i + 1, spec.model));
            }
            planned.push((target, settings, limit));
        }
        for (target, settings, limit) in planned {
            if let Err(e) = self.room.set_settings(target, settings, limit) {
                return self.set_status(Level::Error, e.0);
            }
        }
        let whom = if matches!(w, Which::All) { "all panes".to_string() } else { format!("pane {}", indices[0] + 1) };
        self.set_status(Level::Info, format!("{what} for {whom}"));
    }

    /// Set the reasoning effort of the panes `w` names whose catalog entry offers it; the others
    /// keep theirs and the status says why. Models without a catalog entry (direct and local
    /// providers, ids the catalog does not list) get it as asked: nothing says they refuse it.
    fn set_reasoning(&mut self, w: Which, effort: Option<String>) {
        let (offered, refused) = self.split_panes(w, |app, model| {
            effort.as_deref().zip(app.catalog_entry(model)).and_then(|(e, info)| info.reasoning_refusal(e))
        });
        let what =
            format!("Reasoning {}", effort.as_deref().map_or("default", |e| if e == "none" { "off" } else { e }));
        self.apply_to_offered(&offered, &refused, &what, |s| s.reasoning_effort.clone_from(&effort));
    }

    /// Turn web search on or off for the panes `w` names; turning it on is refused (with the
    /// reason) for panes whose provider does not search.
    fn set_web_search(&mut self, w: Which, on: bool) {
        let (offered, refused) = self.split_panes(w, |app, model| {
            let r = app.services.providers.resolve(model).ok().filter(|_| on)?;
            crate::core::provider::request::web_search_refusal(r.provider.kind, &r.provider_name, model)
        });
        let what = if on { "Web search on" } else { "Web search off" };
        let value = on.then_some(true);
        self.apply_to_offered(&offered, &refused, what, |s| s.web_search = value);
    }

    /// Add files for the next prompt (each checked now; a bad one is refused with the reason),
    /// or drop them all. They show as chips on the input line until sent.
    fn attach(&mut self, paths: Option<Vec<String>>) {
        let Some(paths) = paths else {
            self.room.attachments.clear();
            self.show_attachments();
            return self.set_status(Level::Info, "No files for the next prompt");
        };
        for path in paths {
            match crate::core::attach::load(std::path::Path::new(&path)) {
                Ok(a) => {
                    let takers = self
                        .view
                        .panes
                        .iter()
                        .filter(|p| {
                            self.catalog_entry(&p.model).is_none_or(|e| {
                                e.input_modalities.is_empty()
                                    || e.input_modalities.iter().any(|m| m == crate::core::attach::modality(&a))
                            })
                        })
                        .count();
                    let note = if takers < self.view.panes.len() {
                        format!(
                            " ({} of {} panes take it; the others get the text alone)",
                            takers,
                            self.view.panes.len()
                        )
                    } else {
                        String::new()
                    };
                    self.set_status(Level::Info, format!("Attached {}{note}", a.name));
                    self.room.attachments.push(a);
                }
                Err(e) => {
                    self.set_status(Level::Error, e);
                    break;
                }
            }
        }
        self.show_attachments();
    }

    /// Prompt tokens the files waiting for the next prompt add for `model` (those it takes).
    pub(crate) fn attachment_tokens(&self, model: &str) -> u64 {
        let entry = self.catalog_entry(model);
        let taken: Vec<_> = self
            .room
            .attachments
            .iter()
            .filter(|a| {
                entry.as_ref().is_none_or(|e| {
                    e.input_modalities.is_empty()
                        || e.input_modalities.iter().any(|m| m == crate::core::attach::modality(a))
                })
            })
            .cloned()
            .collect();
        crate::core::attach::estimate_tokens(&taken)
    }

    /// The files waiting for the next prompt, as chips on the input line.
    pub(crate) fn show_attachments(&mut self) {
        let chips: Vec<String> = self
            .room
            .attachments
            .iter()
            .map(|a| format!("{} {} KiB", crate::core::sanitize::strip_controls(&a.name), a.bytes.div_ceil(1024)))
            .collect();
        self.chrome.input.apply_theme_with_chips(&self.services.theme, self.services.demo.is_some(), &chips);
    }

    /// Set one OpenRouter routing preference (or clear them) for the panes `w` names; panes on
    /// other providers are refused, as only OpenRouter routes between providers.
    fn set_provider_pref(&mut self, w: Which, pref: commands::ProviderPref) {
        use commands::ProviderPref as P;
        let (offered, refused) = self.split_panes(w, |app, model| match app.services.providers.resolve(model) {
            Ok(r) if r.provider.kind != crate::core::provider::ProviderKind::Openrouter => {
                Some(format!("{} does not route between providers", r.provider_name))
            }
            _ => None,
        });
        let what = match &pref {
            P::Order(slugs) => format!("Provider order {}", slugs.join(", ")),
            P::Fallbacks(on) => format!("Provider fallbacks {}", if *on { "on" } else { "off" }),
            P::DataCollection(d) => format!("Provider data collection {d}"),
            P::Sort(s) => format!("Providers sorted by {s}"),
            P::Clear => "Provider preferences cleared".to_string(),
        };
        let apply = |s: &mut ModelSettings| {
            let (key, value) = match &pref {
                P::Clear => {
                    s.provider = None;
                    return;
                }
                P::Order(slugs) => ("order", serde_json::json!(slugs)),
                P::Fallbacks(on) => ("allow_fallbacks", serde_json::json!(on)),
                P::DataCollection(d) => ("data_collection", serde_json::json!(d)),
                P::Sort(by) => ("sort", serde_json::json!(by)),
            };
            let mut object = match s.provider.take() {
                Some(serde_json::Value::Object(o)) => o,
                _ => serde_json::Map::new(),
            };
            object.insert(key.into(), value);
            s.provider = Some(serde_json::Value::Object(object));
        };
        self.apply_to_offered(&offered, &refused, &what, apply);
    }

    /// Ask the panes `w` names for JSON (following the schema in `file`, when given), or stop
    /// asking; refused (with the reason) for panes whose catalog entry does not take it.
    fn set_structured(&mut self, w: Which, json: Option<Option<String>>) {
        let format = match &json {
            None => None,
            Some(None) => Some(crate::core::structured::json_mode()),
            Some(Some(file)) => match crate::core::structured::load_schema(std::path::Path::new(file)) {
                Ok(f) => Some(f),
                Err(e) => return self.set_status(Level::Error, e),
            },
        };
        let (offered, refused) = self.split_panes(w, |app, model| {
            format
                .as_ref()
                .zip(app.catalog_entry(model))
                .and_then(|(f, info)| crate::core::structured::refusal(&info, f))
        });
        let what = match &json {
            None => "JSON off".to_string(),
            Some(None) => "JSON mode".to_string(),
            Some(Some(file)) => format!("JSON following {file}"),
        };
        self.apply_to_offered(&offered, &refused, &what, |s| s.response_format.clone_from(&format));
    }

    /// The panes `w` names, split into those whose model `refusal` lets through and, for the
    /// others, "pane N: why".
    fn split_panes(&mut self, w: Which, refusal: impl Fn(&Self, &str) -> Option<String>) -> (Vec<usize>, Vec<String>) {
        let indices: Vec<usize> = match w {
            Which::All => (0..self.view.panes.len()).collect(),
            other => self.pane_index(other).into_iter().collect(),
        };
        let this: &Self = self;
        let mut offered = Vec::new();
        let mut refused = Vec::new();
        for i in indices {
            let Some(spec) = this.room.pane(this.view.panes[i].target) else { continue };
            match refusal(this, &spec.model) {
                Some(why) => refused.push(format!("pane {}: {why}", i + 1)),
                None => offered.push(i),
            }
        }
        (offered, refused)
    }

    /// Change the settings of the `offered` panes with `f`, then say what was refused, or that
    /// every pane got it.
    fn apply_to_offered(&mut self, offered: &[usize], refused: &[String], what: &str, f: impl Fn(&mut ModelSettings)) {
        for &i in offered {
            self.change_settings(Which::Pane(i), what, &f);
        }
        if !refused.is_empty() {
            self.set_status(Level::Warn, format!("{what} refused for {}", refused.join("; ")));
        } else if offered.len() > 1 {
            self.set_status(Level::Info, format!("{what} for all panes"));
        }
    }

    /// The catalog's entry for a pane's model, when its provider is OpenRouter and the catalog
    /// lists it.
    fn catalog_entry(&self, model: &str) -> Option<crate::core::catalog::ModelInfo> {
        let r = self.services.providers.resolve(model).ok()?;
        self.services.estimator.as_ref()?.entry_for(&r.provider_name, &r.upstream_model)
    }

    /// The model's output limit from the catalog, when known.
    fn max_output(&self, model: &str) -> Option<u64> {
        let r = self.services.providers.resolve(model).ok()?;
        self.services.estimator.as_ref()?.max_output_tokens(&r.provider_name, &r.upstream_model)
    }

    pub fn add_models(&mut self, models: Vec<String>) {
        for model in models {
            if let Err(e) = self.services.providers.resolve(&model) {
                self.set_status(Level::Error, e.message);
                continue;
            }
            // An id the catalog does not list is most likely a typo; catalogs go stale too, so
            // the same /add again adds it anyway.
            if let Some(near) = self.unlisted(&model)
                && self.chrome.unlisted_confirmed.as_deref() != Some(model.as_str())
            {
                let hint = if near.is_empty() { String::new() } else { format!(" Did you mean {}?", near.join(", ")) };
                self.chrome.unlisted_confirmed = Some(model.clone());
                self.set_status(
                    Level::Warn,
                    format!("{model} is not in the model catalog.{hint} /add it again to add it anyway."),
                );
                continue;
            }
            self.chrome.unlisted_confirmed = None;
            let i = self.add_pane(model.clone());
            self.chrome.focus = i;
            self.set_status(Level::Info, format!("Added {model} as pane {}", i + 1));
        }
    }

    /// `Some(nearest ids)` when `model` goes to OpenRouter and its catalog does not list it.
    pub fn unlisted(&self, model: &str) -> Option<Vec<String>> {
        let r = self.services.providers.resolve(model).ok()?;
        if r.provider.kind != crate::core::provider::ProviderKind::Openrouter || r.upstream_model.contains('@') {
            return None;
        }
        let catalog = self.services.estimator.as_ref()?.catalog();
        if catalog.ids().next().is_none() || catalog.get(&r.upstream_model).is_some() {
            return None;
        }
        // A `:free` twin of a listed model is fine even when the catalog is older than it.
        if let Some(paid) = r.upstream_model.strip_suffix(":free")
            && catalog.get(paid).is_some()
        {
            return None;
        }
        Some(catalog.nearest(&r.upstream_model, 3).into_iter().map(str::to_owned).collect())
    }

    /// Ask before something that loses work; `y` confirms (handled in `on_key`).
    fn confirm(&mut self, what: Confirm) {
        let question = match &what {
            Confirm::Remove(target) => {
                let model = self.room.pane(*target).map(|p| p.model.clone()).unwrap_or_default();
                format!("Remove pane {model}? Its answers stay in the room's history. y removes, any other key keeps it")
            }
            Confirm::Clear => {
                "Clear the panes? The models still remember the conversation (/new forgets). y clears, any other key keeps them"
                    .to_string()
            }
            Confirm::Quit => "Answers are still streaming: quit anyway? y quits, any other key stays".to_string(),
        };
        self.chrome.pending_confirm = Some(what);
        self.set_status(Level::Warn, question);
    }

    /// The answer to a question from `confirm`.
    pub(crate) fn confirmed(&mut self, what: Confirm, yes: bool) {
        if !yes {
            return self.set_status(Level::Info, "Nothing changed");
        }
        match what {
            Confirm::Remove(target) => self.remove_pane(target),
            Confirm::Clear => self.clear_panes(),
            Confirm::Quit => self.quit = true,
        }
        self.sync_view();
    }

    fn remove_pane(&mut self, target: TargetId) {
        let model = self.room.pane(target).map(|p| p.model.clone()).unwrap_or_default();
        match self.room.remove_pane(target) {
            Ok(commands) => {
                self.core(commands);
                self.chrome.zoom = None;
                self.set_status(Level::Info, format!("Removed {model}; its spend still counts in the room's totals"));
            }
            Err(e) => self.set_status(Level::Error, e.0),
        }
    }

    /// The whole screen as last laid out (the status line is its bottom row).
    fn screen(&self) -> ratatui::layout::Rect {
        self.chrome.regions.as_ref().map_or(ratatui::layout::Rect::new(0, 0, 80, 24), |r| {
            ratatui::layout::Rect::new(0, 0, r.status.width, r.status.y.saturating_add(r.status.height))
        })
    }

    /// `/analyze [MODEL]`: first the estimated cost (the prompt carries every answer), then the
    /// same command again sends it; the analysis streams into an overlay.
    fn analyze(&mut self, model: Option<String>) {
        let model = model.unwrap_or_else(|| self.services.analyst.clone());
        let resolved = match self.services.providers.resolve(&model) {
            Ok(r) => r,
            Err(e) => return self.set_status(Level::Error, e.message),
        };
        let catalog = self.services.estimator.as_ref().map(|e| e.catalog());
        let info = catalog.as_ref().and_then(|c| c.get(&resolved.upstream_model).cloned());
        let structured = info.as_ref().is_some_and(crate::core::compare::supports_structured_output);
        let turn = self.room.head;
        if self.services.analysis_confirmed.as_deref() != Some(model.as_str()) {
            // The estimate: the analyst's prompt holds the question and every answer.
            let answers: usize = turn
                .map(|t| {
                    self.room.live_panes().filter_map(|p| self.room.answer_for(t, p.target)).map(|a| a.text.len()).sum()
                })
                .unwrap_or(0);
            let tokens = (answers as u64).div_ceil(4) + 400;
            let pricing = self
                .services
                .estimator
                .as_ref()
                .and_then(|e| e.pricing_for(&resolved.provider_name, &resolved.upstream_model));
            let cost = pricing
                .and_then(|p| crate::core::catalog::estimate_prompt_cost(&p, tokens))
                .map_or("price ?".to_string(), |c| format!("~{}", crate::present::usd(c)));
            self.services.analysis_confirmed = Some(model.clone());
            let form = if structured { "structured" } else { "plain text" };
            return self.set_status(
                Level::Info,
                format!("Analysis by {model} ({form}): ~{tokens} prompt tokens, {cost} before its answer. /analyze again sends it"),
            );
        }
        self.services.analysis_confirmed = None;
        match self.room.analyze(&model, structured) {
            Ok((commands, _)) => {
                self.core(commands);
                if let Some(turn) = turn {
                    self.chrome.overlay = Some(Overlay::Analysis { turn, scroll: 0 });
                }
            }
            Err(e) => self.set_status(Level::Warn, e.0),
        }
    }

    /// Start a blind round: the panes become "Model A", "Model B", … in a shuffled order.
    pub fn start_blind(&mut self) {
        if self.view.panes.len() < 2 {
            return self.set_status(Level::Warn, "A blind round needs two panes or more: add models first (Ctrl+N)");
        }
        if self.is_streaming() {
            return self
                .set_status(Level::Warn, "Wait for the answers to end (or press Esc), then start a blind round");
        }
        let seed = crate::core::store::new_id() as u64 ^ 0x9e37_79b9_7f4a_7c15;
        self.room.start_blind(seed);
        self.sync_view();
        self.set_status(Level::Info, "Blind round: names are hidden until you vote; send a prompt");
    }

    pub(crate) fn cast_vote(&mut self, choice: crate::core::compare::VoteChoice) {
        match self.room.vote(choice) {
            Ok(message) => {
                self.sync_view();
                self.set_status(Level::Info, message);
            }
            Err(e) => self.set_status(Level::Warn, e.0),
        }
    }

    /// `/diff A B`: a word diff of two panes' answers to the latest turn (numbers or blind letters).
    fn open_diff(&mut self, a: &str, b: &str) {
        let labels = self.room.blind_labels();
        let pick = |arg: &str| -> Option<(String, String)> {
            let target = match crate::core::compare::parse_vote_arg(arg).ok()? {
                crate::core::compare::VoteChoice::Pane(i) => self.view.panes.get(i)?.target,
                crate::core::compare::VoteChoice::Label(pos) => {
                    let wanted = crate::core::compare::blind_label(pos);
                    *labels.as_ref()?.iter().find(|(_, l)| **l == wanted)?.0
                }
                _ => return None,
            };
            let turn = self.room.head?;
            let answer = self.room.answer_for(turn, target)?;
            let name = labels.as_ref().and_then(|l| l.get(&target).cloned()).unwrap_or_else(|| answer.model.clone());
            Some((name, answer.text.clone()))
        };
        match (pick(a), pick(b)) {
            (Some((la, ta)), Some((lb, tb))) => {
                self.chrome.overlay =
                    Some(Overlay::Diff(Box::new(crate::ui::diff_view::DiffView::new(&la, &ta, &lb, &tb))));
            }
            _ => self.set_status(
                Level::Error,
                "Give two panes that answered the last prompt: /diff 1 2 (or /diff A B in a blind round)",
            ),
        }
    }

    /// `/edit [N]`: turn N's prompt (default: the last one on this branch) into the draft.
    fn edit_prompt(&mut self, turn: Option<TurnId>) {
        let path = self.room.path();
        let found = match turn {
            Some(t) => path.iter().find(|x| x.id == t),
            None => path.last(),
        };
        let Some(t) = found.map(|t| (*t).clone()) else {
            return self
                .set_status(Level::Error, "No such prompt on this branch: /edit N takes a turn number (see F1)");
        };
        self.chrome.input.set_text(&t.prompt);
        self.chrome.editing = Some(t.id);
        self.set_status(
            Level::Info,
            format!("Editing prompt {}: Enter sends it as a new branch · Esc leaves the draft as it is", t.id.0),
        );
    }

    fn branch(&mut self, arg: BranchArg) {
        let result = match arg {
            BranchArg::List => {
                let tips = self.room.branch_tips();
                let (at, n) = self.room.branch_position();
                let list: Vec<String> = tips
                    .iter()
                    .enumerate()
                    .map(|(i, t)| {
                        let prompt = self.room.turn(*t).map(|x| x.prompt.clone()).unwrap_or_default();
                        let short: String = prompt.lines().next().unwrap_or("").chars().take(24).collect();
                        format!("{}{}: “{short}”", if i + 1 == at { "*" } else { "" }, i + 1)
                    })
                    .collect();
                return self.set_status(Level::Info, format!("Branch {at}/{n} · {}", list.join(" · ")));
            }
            BranchArg::Next => self.room.cycle_branch(1),
            BranchArg::Prev => self.room.cycle_branch(-1),
            BranchArg::Nth(n) => match self.room.branch_tips().get(n - 1).copied() {
                Some(tip) => self.room.switch_branch(tip).map(|()| self.room.branch_position()),
                None => Err(crate::core::room::RoomError(format!("There is no branch {n}"))),
            },
        };
        match result {
            Ok((at, n)) => {
                self.sync_view();
                self.set_status(Level::Info, format!("Branch {at}/{n}"));
            }
            Err(e) => self.set_status(Level::Warn, e.0),
        }
    }

    fn open_picker(&mut self) {
        let catalog = self.services.estimator.as_ref().map(|e| e.catalog());
        let picker = Picker::new(catalog.as_deref()).with_room(self.view.panes.iter().map(|p| p.model.clone()));
        self.chrome.overlay = Some(Overlay::Picker(Box::new(picker)));
    }

    fn clear_panes(&mut self) {
        if self.is_streaming() {
            self.set_status(Level::Warn, "Stop streaming first (Esc), then clear");
            return;
        }
        self.view.cleared_through = self.room.head;
        self.sync_view();
        self.set_status(Level::Info, "Cleared the panes; the models still remember the conversation (/new forgets)");
    }

    fn switch_theme(&mut self, name: Option<String>) {
        let names = crate::ui::theme::available(self.services.config_dir.as_deref());
        let name = name.unwrap_or_else(|| {
            let at = names.iter().position(|n| *n == self.services.theme.name).map_or(0, |i| i + 1);
            names.get(at % names.len().max(1)).cloned().unwrap_or_else(|| "dark".into())
        });
        match crate::ui::theme::load(&name, self.services.config_dir.as_deref(), self.services.no_color) {
            Ok(theme) => {
                self.services.theme = theme;
                self.show_attachments();
                self.set_status(Level::Info, format!("Theme: {name}"));
            }
            Err(e) => self.set_status(Level::Error, e.to_string()),
        }
    }

    fn copy(&mut self, block: Option<usize>) {
        let Some(pane) = self.view.panes.get(self.chrome.focus) else { return };
        let Some(answer) = pane.last_answer() else {
            return self.set_status(Level::Info, "Nothing to copy yet in this pane");
        };
        let text = match block {
            None => answer.body.text().to_string(),
            Some(n) => {
                let blocks = answer.body.code_blocks();
                match blocks.get(n - 1) {
                    Some(b) => b.code.clone(),
                    None => {
                        let have = blocks.len();
                        return self.set_status(Level::Error, format!("The answer has {have} code block(s), not {n}"));
                    }
                }
            }
        };
        self.effects.push(Effect::Clipboard(text));
    }

    /// Make pane `i`'s last answer the answer of every pane's thread.
    fn adopt(&mut self, i: usize) {
        let Some(target) = self.view.panes.get(i).map(|p| p.target) else { return };
        match self.room.adopt(target) {
            Ok(model) => {
                self.sync_view();
                self.set_status(Level::Info, format!("Every pane now continues from {model}'s answer"));
            }
            Err(e) => self.set_status(Level::Warn, e.0),
        }
    }

    fn export(&mut self, format: ExportFormat, path: Option<String>) {
        let (contents, ext) = match format {
            ExportFormat::Markdown => (crate::ui::export::markdown(self), "md"),
            ExportFormat::Json => (crate::ui::export::json(self), "json"),
        };
        let (path, create_dirs) = match path {
            Some(p) => {
                let home = directories::BaseDirs::new().map(|d| d.home_dir().to_path_buf());
                let cwd = std::env::current_dir().unwrap_or_default();
                (crate::ui::export::resolve_path(&p, home.as_deref(), &cwd), false)
            }
            None => {
                let stamp = jiff::Zoned::now().strftime("%Y%m%d-%H%M%S").to_string();
                (self.services.export_dir.join(format!("roundtable-{stamp}.{ext}")), true)
            }
        };
        self.effects.push(Effect::Export { path, contents, create_dirs });
    }

    fn set_tools(&mut self, names: Option<Vec<String>>) {
        let available = self.room.tools().names();
        let enabled = self.enabled_tools();
        match names {
            None => {
                let list = if available.is_empty() { "none configured".to_string() } else { available.join(", ") };
                let on = if enabled.is_empty() { "none".to_string() } else { enabled.join(", ") };
                self.set_status(Level::Info, format!("Tools enabled: {on} · available: {list}"));
            }
            Some(names) => {
                let targets: Vec<TargetId> = self.view.panes.iter().map(|p| p.target).collect();
                for target in targets {
                    if let Err(e) = self.room.set_tools(target, names.clone()) {
                        let list = available.join(", ");
                        return self.set_status(Level::Error, format!("{e}; available: {list}"));
                    }
                }
                let on = if names.is_empty() { "off".to_string() } else { names.join(", ") };
                let tools = self.room.tools();
                let servers = tools.servers_for(&tools.not_running(&names));
                if servers.is_empty() {
                    return self.set_status(Level::Info, format!("Tools for this room: {on}"));
                }
                let s = if servers.len() == 1 { "" } else { "s" };
                self.set_status(
                    Level::Info,
                    format!("Tools for this room: {on} · starting MCP server{s} {}…", servers.join(", ")),
                );
                self.effects.push(Effect::StartMcp(servers));
            }
        }
    }
}

/// Something that waits for a `y` before it happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirm {
    Remove(TargetId),
    Clear,
    Quit,
}

/// The character a key press types, without modifiers but Shift (where it may be bound to
/// nothing and go into the draft).
pub fn plain_char(key: &KeyEvent) -> Option<char> {
    let KeyCode::Char(c) = key.code else { return None };
    (key.kind == KeyEventKind::Press && (key.modifiers - KeyModifiers::SHIFT).is_empty()).then_some(c)
}

/// Scroll keys of a text overlay (↑/↓ or k/j a line, PgUp/PgDn ten); false for any other key,
/// which closes the overlay.
fn scroll_text(scroll: &mut u16, code: KeyCode) -> bool {
    match code {
        KeyCode::Up | KeyCode::Char('k') => *scroll = scroll.saturating_sub(1),
        KeyCode::Down | KeyCode::Char('j') => *scroll = scroll.saturating_add(1),
        KeyCode::PageUp => *scroll = scroll.saturating_sub(10),
        KeyCode::PageDown => *scroll = scroll.saturating_add(10),
        _ => return false,
    }
    true
}
