//! What keys, mouse and paste do to the chatroom, and running slash commands.

use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent, MouseEventKind};
use ratatui::layout::Position;

use crate::core::protocol::{ChatMessage, Command, Role, ToolDecision, ToolSpec};
use crate::ui::app::{App, Effect, Level, Overlay};
use crate::ui::commands::{self, Cmd, ExportFormat, Which};
use crate::ui::keymap::Action;
use crate::ui::pane::{Entry, PaneState, Selection};
use crate::ui::picker::{Picker, PickerOutcome};

const WHEEL_LINES: isize = 3;

impl App {
    pub fn on_terminal(&mut self, event: Event) {
        match event {
            Event::Key(key) if key.kind != KeyEventKind::Release => self.on_key(key),
            Event::Paste(text) => {
                if let Some(Overlay::Picker(p)) = &mut self.overlay {
                    p.type_str(&text.replace(['\n', '\r'], " "));
                } else {
                    self.input.paste(&text);
                }
                self.dirty = true;
            }
            Event::Mouse(m) => self.on_mouse(m),
            Event::Resize(..) => self.dirty = true,
            _ => {}
        }
    }

    pub fn on_key(&mut self, key: KeyEvent) {
        self.dirty = true;
        if self.status.is_some() && key.code != KeyCode::Esc {
            self.status = None;
        }
        match &mut self.overlay {
            Some(Overlay::Help { scroll }) => {
                match key.code {
                    KeyCode::Up | KeyCode::Char('k') => *scroll = scroll.saturating_sub(1),
                    KeyCode::Down | KeyCode::Char('j') => *scroll = scroll.saturating_add(1),
                    KeyCode::PageUp => *scroll = scroll.saturating_sub(10),
                    KeyCode::PageDown => *scroll = scroll.saturating_add(10),
                    _ => self.overlay = None,
                }
                return;
            }
            Some(Overlay::Picker(picker)) => {
                let catalog = self.estimator.as_ref().map(|e| e.catalog());
                match picker.key(key, catalog.as_deref()) {
                    PickerOutcome::Stay => {}
                    PickerOutcome::Close => self.overlay = None,
                    PickerOutcome::Add(model) => {
                        self.overlay = None;
                        self.add_models(vec![model]);
                    }
                }
                return;
            }
            None => {}
        }
        if self.selection_key(key) || self.tool_decision_key(key) || self.palette_key(key) {
            return;
        }
        match self.keymap.action(&key) {
            Some(action) => self.act(action),
            None => {
                // Up/Down browse history from the first/last line of the draft.
                if key.modifiers == KeyModifiers::NONE {
                    if key.code == KeyCode::Up && self.input.cursor_on_first_line() {
                        return self.input.history_prev();
                    }
                    if key.code == KeyCode::Down && self.input.cursor_on_last_line() {
                        return self.input.history_next();
                    }
                }
                self.input.key(key);
                self.palette_index = 0;
            }
        }
    }

    pub fn act(&mut self, action: Action) {
        self.dirty = true;
        let focus = self.focus;
        match action {
            Action::Send => self.submit_draft(),
            Action::Newline => self.input.newline(),
            Action::StopAll => {
                if self.is_streaming() {
                    self.stop(None);
                } else if self.zoom.is_some() {
                    self.zoom = None;
                } else {
                    self.status = None;
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
                self.sync_scroll = !self.sync_scroll;
                let state = if self.sync_scroll { "on: all panes scroll together" } else { "off" };
                self.set_status(Level::Info, format!("Synchronized scrolling {state}"));
            }
            Action::Help => self.overlay = Some(Overlay::Help { scroll: 0 }),
            Action::Palette => {
                if !self.input.first_line().starts_with('/') {
                    self.input.set_text("/");
                }
            }
            Action::AddModel => self.open_picker(),
            Action::CopyAnswer => self.copy(None),
            Action::SelectMode => self.start_selection(),
            Action::Adopt => self.adopt(focus),
            Action::EditDraft => self.effects.push(Effect::Editor(self.input.text())),
            Action::HistoryPrev => self.input.history_prev(),
            Action::HistoryNext => self.input.history_next(),
            Action::ToggleSidebar => self.show_sidebar = !self.show_sidebar,
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
            Action::Quit => self.quit = true,
        }
    }

    fn page(&self) -> usize {
        self.panes.get(self.focus).map_or(10, |p| p.scroll.viewport.saturating_sub(2).max(1))
    }

    fn move_focus(&mut self, by: isize) {
        if self.panes.is_empty() {
            return;
        }
        let n = self.panes.len() as isize;
        self.focus = (self.focus as isize + by).rem_euclid(n) as usize;
        if self.zoom.is_some() {
            self.zoom = Some(self.focus);
        }
    }

    fn for_scrolled_panes(&mut self, f: impl Fn(&mut crate::ui::pane::Pane)) {
        let focus = self.focus;
        for (i, p) in self.panes.iter_mut().enumerate() {
            if self.sync_scroll || i == focus {
                f(p);
            }
        }
    }

    fn scroll_focused(&mut self, by: isize) {
        self.for_scrolled_panes(|p| p.scroll_by(by));
    }

    fn toggle_zoom(&mut self, i: usize) {
        self.zoom = if self.zoom.is_some() || self.panes.len() < 2 { None } else { Some(i.min(self.panes.len() - 1)) };
    }

    fn toggle_mouse(&mut self) {
        self.mouse_capture = !self.mouse_capture;
        self.effects.push(Effect::MouseCapture(self.mouse_capture));
        let text = if self.mouse_capture {
            "Mouse capture on: the wheel scrolls panes (F3 gives selection back to the terminal)"
        } else {
            "Mouse capture off: select text with the terminal; F3 turns the wheel back on"
        };
        self.set_status(Level::Info, text);
    }

    fn on_mouse(&mut self, m: MouseEvent) {
        let Some(regions) = &self.regions else { return };
        let at = Position { x: m.column, y: m.row };
        let Some(&(index, _)) = regions.panes.iter().find(|(_, r)| r.contains(at)) else { return };
        match m.kind {
            MouseEventKind::ScrollUp | MouseEventKind::ScrollDown => {
                let by = if m.kind == MouseEventKind::ScrollUp { -WHEEL_LINES } else { WHEEL_LINES };
                for (i, p) in self.panes.iter_mut().enumerate() {
                    if self.sync_scroll || i == index {
                        p.scroll_by(by);
                    }
                }
                self.dirty = true;
            }
            MouseEventKind::Down(_) => {
                self.focus = index;
                self.dirty = true;
            }
            _ => {}
        }
    }

    /// Keys of the keyboard selection mode; true when consumed.
    fn selection_key(&mut self, key: KeyEvent) -> bool {
        let focus = self.focus;
        let Some(pane) = self.panes.get_mut(focus) else { return false };
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
                    let mut panes = std::mem::take(&mut self.panes);
                    let text =
                        crate::ui::pane_view::text_of_lines(&mut panes[focus], width, from, to, &self.draw_ctx());
                    self.panes = panes;
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
        let focus = self.focus;
        let Some(pane) = self.panes.get_mut(focus) else { return };
        let cursor =
            if pane.scroll.follow { pane.scroll.total.saturating_sub(pane.scroll.viewport) } else { pane.scroll.top };
        pane.scroll.top = cursor;
        pane.scroll.follow = false;
        pane.selection = Some(Selection { cursor, anchor: None });
        self.set_status(Level::Info, "Select: ↑/↓ move · v marks · y copies · Esc leaves");
    }

    /// Text columns of pane `i` as last drawn (80 before the first frame).
    fn pane_text_width(&self, i: usize) -> u16 {
        self.regions
            .as_ref()
            .and_then(|r| r.panes.iter().find(|(j, _)| *j == i))
            .map_or(80, |(_, r)| r.width.saturating_sub(2).max(1))
    }

    /// y/a/n answer a pending tool confirmation in the focused pane while the draft is empty.
    fn tool_decision_key(&mut self, key: KeyEvent) -> bool {
        if !self.input.is_empty() || !key.modifiers.is_empty() {
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
        let index = if self.panes.get(self.focus).is_some_and(awaiting) {
            self.focus
        } else {
            match self.panes.iter().position(awaiting) {
                Some(i) => i,
                None => return false,
            }
        };
        let pane = &mut self.panes[index];
        let Some(live) = pane.live else { return false };
        let target = pane.target;
        let Some(note) =
            pane.live_answer().and_then(|a| a.tools.iter_mut().find(|n| n.needs_confirmation && n.result.is_none()))
        else {
            return false;
        };
        note.needs_confirmation = false;
        let call_id = note.call_id.clone();
        self.effects.push(Effect::Core(Command::ToolDecision { turn: live.turn, target, call_id, decision }));
        true
    }

    /// Keys of the `/` palette while the draft is a command line; true when consumed.
    fn palette_key(&mut self, key: KeyEvent) -> bool {
        let line = self.input.first_line().to_string();
        if !line.starts_with('/') || self.input.line_count() > 1 {
            return false;
        }
        let matches = commands::completions(&line);
        let typing_name = !line.contains(' ');
        match key.code {
            KeyCode::Up if !matches.is_empty() => {
                self.palette_index = (self.palette_index + matches.len() - 1) % matches.len();
                true
            }
            KeyCode::Down if !matches.is_empty() => {
                self.palette_index = (self.palette_index + 1) % matches.len();
                true
            }
            KeyCode::Tab if !matches.is_empty() => {
                let pick = matches[self.palette_index.min(matches.len() - 1)];
                self.input.set_text(&format!("/{} ", pick.name));
                self.palette_index = 0;
                true
            }
            KeyCode::Enter if typing_name && !matches.is_empty() && key.modifiers.is_empty() => {
                // Enter on a partial name runs the highlighted command.
                let pick = matches[self.palette_index.min(matches.len() - 1)];
                self.input.take();
                self.palette_index = 0;
                self.run_command_line(&format!("/{}", pick.name));
                true
            }
            KeyCode::Esc => {
                self.input.set_text("");
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
            Cmd::Remove(w) => self.remove_pane(w),
            Cmd::Stop(Which::All) => self.stop(None),
            Cmd::Stop(w) => {
                if let Some(i) = self.pane_index(w) {
                    self.stop(Some(i));
                }
            }
            Cmd::Retry(Which::All) => (0..self.panes.len()).for_each(|i| self.retry(i)),
            Cmd::Retry(w) => {
                if let Some(i) = self.pane_index(w) {
                    self.retry(i);
                }
            }
            Cmd::New => self.new_room(),
            Cmd::Clear => self.clear_panes(),
            Cmd::System(w, text) => {
                let value = Some(text.clone()).filter(|t| !t.is_empty());
                let n = self.each_pane(w, |p| p.settings.system = value.clone());
                let what = if text.is_empty() { "cleared".to_string() } else { format!("set to “{text}”") };
                self.set_status(Level::Info, format!("System prompt {what} for {n}"));
            }
            Cmd::Temperature(w, t) => {
                let n = self.each_pane(w, |p| p.settings.temperature = t);
                let what = t.map_or("default".to_string(), |t| t.to_string());
                self.set_status(Level::Info, format!("Temperature {what} for {n}"));
            }
            Cmd::MaxTokens(w, m) => {
                let n = self.each_pane(w, |p| p.settings.max_tokens = m);
                let what = m.map_or("default".to_string(), |m| m.to_string());
                self.set_status(Level::Info, format!("Max tokens {what} for {n}"));
            }
            Cmd::Theme(name) => self.switch_theme(name),
            Cmd::Copy(n) => self.copy(n),
            Cmd::Select => self.start_selection(),
            Cmd::Mouse => self.toggle_mouse(),
            Cmd::Export { format, path } => self.export(format, path),
            Cmd::Sync => self.act(Action::SyncScroll),
            Cmd::Zoom(w) => {
                if let Some(i) = self.pane_index(w) {
                    self.focus = i;
                    self.toggle_zoom(i);
                }
            }
            Cmd::Adopt(w) => {
                if let Some(i) = self.pane_index(w) {
                    self.adopt(i);
                }
            }
            Cmd::Tools(names) => self.set_tools(names),
            Cmd::Help => self.overlay = Some(Overlay::Help { scroll: 0 }),
            Cmd::Quit => self.quit = true,
        }
    }

    fn pane_index(&mut self, w: Which) -> Option<usize> {
        let i = match w {
            Which::Focused | Which::All => self.focus,
            Which::Pane(i) => i,
        };
        if i < self.panes.len() {
            Some(i)
        } else {
            let n = self.panes.len();
            self.set_status(Level::Error, format!("There is no pane {} (the room has {n})", i + 1));
            None
        }
    }

    /// Apply `f` to the panes `w` names; returns "all panes" / "pane N" for the status line.
    fn each_pane(&mut self, w: Which, f: impl Fn(&mut crate::ui::pane::Pane)) -> String {
        match w {
            Which::All => {
                self.panes.iter_mut().for_each(&f);
                "all panes".into()
            }
            other => match self.pane_index(other) {
                Some(i) => {
                    f(&mut self.panes[i]);
                    format!("pane {}", i + 1)
                }
                None => "no pane".into(),
            },
        }
    }

    pub fn add_models(&mut self, models: Vec<String>) {
        for model in models {
            if let Err(e) = self.providers.resolve(&model) {
                self.set_status(Level::Error, e.message);
                continue;
            }
            let i = self.add_pane(model.clone());
            // A pane joining mid-conversation starts from the shared user turns only.
            let shared: Vec<ChatMessage> = self
                .panes
                .first()
                .map(|p| p.thread.iter().filter(|m| m.role == Role::User).cloned().collect())
                .unwrap_or_default();
            if i > 0 {
                self.panes[i].thread = shared;
            }
            self.panes[i].entries.push(Entry::Notice(format!("{model} joined the room")));
            self.focus = i;
            self.set_status(Level::Info, format!("Added {model} as pane {}", i + 1));
        }
    }

    fn remove_pane(&mut self, w: Which) {
        let Some(i) = self.pane_index(w) else { return };
        self.stop(Some(i));
        let pane = self.panes.remove(i);
        self.focus = self.focus.min(self.panes.len().saturating_sub(1));
        self.zoom = None;
        self.set_status(Level::Info, format!("Removed {}", pane.model));
    }

    fn open_picker(&mut self) {
        let catalog = self.estimator.as_ref().map(|e| e.catalog());
        self.overlay = Some(Overlay::Picker(Box::new(Picker::new(catalog.as_deref()))));
    }

    fn new_room(&mut self) {
        self.stop(None);
        for p in &mut self.panes {
            p.clear();
            p.totals = Default::default();
        }
        self.room = None;
        self.set_status(Level::Info, "New room: the next prompt starts it");
    }

    fn clear_panes(&mut self) {
        if self.is_streaming() {
            self.set_status(Level::Warn, "Stop streaming first (Esc), then clear");
            return;
        }
        for p in &mut self.panes {
            p.entries.clear();
            p.scroll = crate::ui::pane::Scroll { follow: true, ..Default::default() };
        }
        self.set_status(Level::Info, "Cleared the panes; the models still remember the conversation (/new forgets)");
    }

    fn switch_theme(&mut self, name: Option<String>) {
        let names = crate::ui::theme::available(self.config_dir.as_deref());
        let name = name.unwrap_or_else(|| {
            let at = names.iter().position(|n| *n == self.theme.name).map_or(0, |i| i + 1);
            names.get(at % names.len().max(1)).cloned().unwrap_or_else(|| "dark".into())
        });
        match crate::ui::theme::load(&name, self.config_dir.as_deref(), self.no_color) {
            Ok(theme) => {
                self.theme = theme;
                self.input.apply_theme(&self.theme, self.demo.is_some());
                self.set_status(Level::Info, format!("Theme: {name}"));
            }
            Err(e) => self.set_status(Level::Error, e.to_string()),
        }
    }

    fn copy(&mut self, block: Option<usize>) {
        let Some(pane) = self.panes.get(self.focus) else { return };
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

    /// Make pane `i`'s last answer the answer of every pane's thread, so the next turn builds on it.
    fn adopt(&mut self, i: usize) {
        let Some(source) = self.panes.get(i) else { return };
        if source.state.is_active() {
            return self.set_status(Level::Warn, "Wait for the answer to finish before adopting it");
        }
        let Some(answer) = source.last_answer() else {
            return self.set_status(Level::Info, "Nothing to adopt yet");
        };
        let text = answer.body.text().to_string();
        let model = source.model.clone();
        for (j, p) in self.panes.iter_mut().enumerate() {
            if j == i {
                continue;
            }
            if p.thread.last().is_some_and(|m| m.role == Role::Assistant) {
                p.thread.pop();
            }
            p.thread.push(ChatMessage::assistant(text.clone()));
            p.entries.push(Entry::Notice(format!("adopted {model}'s answer as this model's answer")));
        }
        self.set_status(Level::Info, format!("Every pane now continues from {model}'s answer"));
    }

    fn export(&mut self, format: ExportFormat, path: Option<String>) {
        let (contents, ext) = match format {
            ExportFormat::Markdown => (crate::ui::export::markdown(self), "md"),
            ExportFormat::Json => (crate::ui::export::json(self), "json"),
        };
        let path = match path {
            Some(p) => std::path::PathBuf::from(p),
            None => {
                let stamp = jiff::Zoned::now().strftime("%Y%m%d-%H%M%S").to_string();
                self.export_dir.join(format!("roundtable-{stamp}.{ext}"))
            }
        };
        self.effects.push(Effect::Export { path, contents });
    }

    fn set_tools(&mut self, names: Option<Vec<String>>) {
        let available = self.tools.names();
        match names {
            None => {
                let list = if available.is_empty() { "none configured".to_string() } else { available.join(", ") };
                let on = if self.enabled_tools.is_empty() { "none".to_string() } else { self.enabled_tools.join(", ") };
                self.set_status(Level::Info, format!("Tools enabled: {on} · available: {list}"));
            }
            Some(names) => {
                if let Some(bad) = names.iter().find(|n| self.tools.specs(std::slice::from_ref(*n)).is_err()) {
                    let list = available.join(", ");
                    return self.set_status(Level::Error, format!("No tool named {bad}; available: {list}"));
                }
                self.enabled_tools = names;
                self.tools.prepare_in_background(&self.enabled_tools);
                let on = if self.enabled_tools.is_empty() { "off".to_string() } else { self.enabled_tools.join(", ") };
                self.set_status(Level::Info, format!("Tools for this room: {on}"));
            }
        }
    }

    /// Specs of the enabled tools, sent with each request.
    pub fn tool_specs(&self) -> Vec<ToolSpec> {
        self.tools.specs(&self.enabled_tools).unwrap_or_default()
    }
}
