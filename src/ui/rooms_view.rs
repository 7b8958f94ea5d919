//! The room browser (`/rooms`, Ctrl+O): earlier rooms newest first, type to search prompts and
//! answers (full text), Enter opens, `r` renames, `d` deletes after a confirmation. Its data
//! is read off the UI thread: the browser asks with a [`RoomsRequest`] and takes the reply.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::core::store::{RoomId, RoomListing, SearchHit, StoredRoom};
use crate::present;
use crate::ui::theme::Theme;

/// Work for the event loop (database reads and writes run in a blocking task).
#[derive(Debug, Clone, PartialEq)]
pub enum RoomsRequest {
    List,
    Search(String),
    Open(RoomId),
    Rename(RoomId, String),
    Delete(RoomId),
}

/// What came back.
#[derive(Debug, Clone)]
pub enum RoomsReply {
    Listed(Vec<RoomListing>),
    Found(String, Vec<SearchHit>),
    Opened(Box<StoredRoom>),
    Changed,
    Failed(String),
}

/// One row of the browser: a room, or a search hit in a room.
#[derive(Debug, Clone)]
enum Row {
    Room(RoomListing),
    Hit(SearchHit),
}

impl Row {
    fn room(&self) -> RoomId {
        match self {
            Row::Room(r) => r.id,
            Row::Hit(h) => h.room,
        }
    }
    fn title(&self) -> &str {
        match self {
            Row::Room(r) => &r.title,
            Row::Hit(h) => &h.room_title,
        }
    }
}

/// What the browser is doing with the keyboard.
#[derive(Debug, Clone, PartialEq)]
enum Mode {
    Browse,
    Rename(String),
    ConfirmDelete,
}

pub struct RoomBrowser {
    query: String,
    rows: Vec<Row>,
    selected: usize,
    mode: Mode,
    loading: bool,
    message: Option<String>,
}

/// What a key did.
pub enum BrowserOutcome {
    Stay,
    Close,
    Request(RoomsRequest),
}

impl Default for RoomBrowser {
    fn default() -> Self {
        RoomBrowser::new()
    }
}

impl RoomBrowser {
    pub fn new() -> RoomBrowser {
        RoomBrowser {
            query: String::new(),
            rows: Vec::new(),
            selected: 0,
            mode: Mode::Browse,
            loading: true,
            message: None,
        }
    }

    pub fn on_reply(&mut self, reply: &RoomsReply) {
        self.loading = false;
        match reply {
            RoomsReply::Listed(rooms) if self.query.is_empty() => {
                self.rows = rooms.iter().cloned().map(Row::Room).collect();
            }
            RoomsReply::Found(query, hits) if *query == self.query => {
                self.rows = hits.iter().cloned().map(Row::Hit).collect();
            }
            RoomsReply::Failed(e) => self.message = Some(e.clone()),
            _ => {}
        }
        self.selected = self.selected.min(self.rows.len().saturating_sub(1));
    }

    fn refresh(&mut self) -> BrowserOutcome {
        self.loading = true;
        self.selected = 0;
        if self.query.trim().is_empty() {
            BrowserOutcome::Request(RoomsRequest::List)
        } else {
            BrowserOutcome::Request(RoomsRequest::Search(self.query.clone()))
        }
    }

    pub fn key(&mut self, key: KeyEvent) -> BrowserOutcome {
        let selected = self.rows.get(self.selected).map(Row::room);
        match &mut self.mode {
            Mode::Rename(title) => match key.code {
                KeyCode::Enter => {
                    let title = title.trim().to_string();
                    self.mode = Mode::Browse;
                    match selected {
                        Some(id) if !title.is_empty() => BrowserOutcome::Request(RoomsRequest::Rename(id, title)),
                        _ => BrowserOutcome::Stay,
                    }
                }
                KeyCode::Esc => {
                    self.mode = Mode::Browse;
                    BrowserOutcome::Stay
                }
                KeyCode::Backspace => {
                    title.pop();
                    BrowserOutcome::Stay
                }
                KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                    title.push(c);
                    BrowserOutcome::Stay
                }
                _ => BrowserOutcome::Stay,
            },
            Mode::ConfirmDelete => {
                self.mode = Mode::Browse;
                match (key.code, selected) {
                    (KeyCode::Char('y'), Some(id)) => {
                        self.loading = true;
                        BrowserOutcome::Request(RoomsRequest::Delete(id))
                    }
                    _ => {
                        self.message = Some("Nothing deleted".into());
                        BrowserOutcome::Stay
                    }
                }
            }
            Mode::Browse => match key.code {
                KeyCode::Esc => BrowserOutcome::Close,
                KeyCode::Up => {
                    self.selected = self.selected.saturating_sub(1);
                    BrowserOutcome::Stay
                }
                KeyCode::Down => {
                    self.selected = (self.selected + 1).min(self.rows.len().saturating_sub(1));
                    BrowserOutcome::Stay
                }
                KeyCode::Enter => match selected {
                    Some(id) => BrowserOutcome::Request(RoomsRequest::Open(id)),
                    None => BrowserOutcome::Stay,
                },
                KeyCode::Char('r') if key.modifiers.contains(KeyModifiers::ALT) || self.query.is_empty() => {
                    if let Some(row) = self.rows.get(self.selected) {
                        self.mode = Mode::Rename(row.title().to_string());
                    }
                    BrowserOutcome::Stay
                }
                KeyCode::Char('d') if key.modifiers.contains(KeyModifiers::ALT) || self.query.is_empty() => {
                    if selected.is_some() {
                        self.mode = Mode::ConfirmDelete;
                    }
                    BrowserOutcome::Stay
                }
                KeyCode::Backspace => {
                    self.query.pop();
                    self.refresh()
                }
                KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                    self.query.push(c);
                    self.refresh()
                }
                _ => BrowserOutcome::Stay,
            },
        }
    }

    pub fn draw(&self, frame: &mut Frame<'_>, area: Rect, theme: &Theme) {
        let ui = &theme.ui;
        let inner = crate::ui::draw::popup(frame, area, "Rooms", theme);
        if inner.height < 3 || inner.width < 10 {
            return;
        }
        let dim = Style::default().fg(ui.dim);
        let mut lines = Vec::new();
        let prompt = match &self.mode {
            Mode::Rename(t) => format!("New title: {t}▏  (Enter saves · Esc cancels)"),
            Mode::ConfirmDelete => "Delete this room and its messages? y deletes, any other key keeps it".into(),
            Mode::Browse if self.query.is_empty() => {
                "Type to search prompts and answers · Enter open · r rename · d delete · Esc close".into()
            }
            Mode::Browse => format!("Search: {}▏  (Enter opens · Alt+R rename · Alt+D delete)", self.query),
        };
        lines.push(Line::from(Span::styled(prompt, Style::default().fg(ui.accent))));
        let status = if self.loading {
            "loading…".to_string()
        } else if let Some(m) = &self.message {
            m.clone()
        } else if self.rows.is_empty() {
            if self.query.is_empty() { "No rooms yet".into() } else { "Nothing found".into() }
        } else {
            String::new()
        };
        lines.push(Line::from(Span::styled(status, dim)));
        let room_rows = usize::from(inner.height).saturating_sub(2);
        let first = self.selected.saturating_sub(room_rows.saturating_sub(1));
        for (i, row) in self.rows.iter().enumerate().skip(first).take(room_rows) {
            let text = match row {
                Row::Room(r) => room_row(r, usize::from(inner.width)),
                Row::Hit(h) => {
                    let who = h.model.clone().unwrap_or_else(|| "you".into());
                    format!("{}  turn {} · {who}: {}", h.room_title, h.turn.0, h.snippet)
                }
            };
            let text = crate::core::sanitize::strip_controls(&text).into_owned();
            let style = if i == self.selected {
                Style::default().fg(ui.fg).add_modifier(Modifier::REVERSED)
            } else {
                Style::default().fg(ui.fg)
            };
            lines.push(Line::from(Span::styled(present::shorten(&text, usize::from(inner.width)), style)));
        }
        frame.render_widget(Paragraph::new(lines), inner);
    }
}

/// Run a browser request against the database at `path` (blocking: call from a blocking task).
pub fn perform(path: &std::path::Path, store: Option<&crate::core::store::Store>, request: RoomsRequest) -> RoomsReply {
    use crate::core::store;
    let failed = |e: store::StoreError| RoomsReply::Failed(e.to_string());
    let changes = matches!(request, RoomsRequest::Rename(..) | RoomsRequest::Delete(_));
    let Some(st) = store.filter(|_| changes).or(store) else {
        if changes {
            return RoomsReply::Failed("History is not being saved in this session, so rooms cannot be changed".into());
        }
        return perform_read(path, request);
    };
    match request {
        RoomsRequest::Rename(id, title) => {
            let models = store::load_room_records(path, id).ok().flatten().map(|r| r.models).unwrap_or_default();
            st.update_room(id, &title, &models);
            st.flush().map_or_else(failed, |()| RoomsReply::Changed)
        }
        RoomsRequest::Delete(id) => {
            st.delete_room(id);
            st.flush().map_or_else(failed, |()| RoomsReply::Changed)
        }
        other => perform_read(path, other),
    }
}

fn perform_read(path: &std::path::Path, request: RoomsRequest) -> RoomsReply {
    use crate::core::store;
    let failed = |e: store::StoreError| RoomsReply::Failed(e.to_string());
    match request {
        RoomsRequest::List => store::list_rooms(path, 200).map_or_else(failed, RoomsReply::Listed),
        RoomsRequest::Search(q) => {
            store::search_rooms(path, &q, 100).map_or_else(failed, |hits| RoomsReply::Found(q, hits))
        }
        RoomsRequest::Open(id) => match crate::core::room::load(path, Some(id), false) {
            Ok(Some(room)) => RoomsReply::Opened(Box::new(room)),
            Ok(None) => RoomsReply::Failed("That room no longer exists".into()),
            Err(e) => failed(e),
        },
        RoomsRequest::Rename(..) | RoomsRequest::Delete(_) => RoomsReply::Changed,
    }
}

/// A room's row: date, title, turns, models, tokens, cost. When it does not fit, the models
/// give way first (cut at the end, so the first ones stay readable), then the whole row is
/// shortened: the date and the title are what tell rooms apart.
fn room_row(r: &RoomListing, width: usize) -> String {
    use unicode_width::UnicodeWidthStr;
    let when = present::date_time_ms(r.updated_at_ms);
    let kind = if r.headless { " · ask" } else { "" };
    let head = format!("{when}  {}  · {} turn(s) · ", r.title, r.turns);
    let tail = format!(
        " · {} tok · {}{kind}",
        present::tokens(r.prompt_tokens.saturating_add(r.completion_tokens)),
        present::usd(r.cost_usd)
    );
    let models = r.models.join(", ");
    let room_for_models = width.saturating_sub(head.width() + tail.width());
    if models.width() <= room_for_models {
        return format!("{head}{models}{tail}");
    }
    // At least a few letters of the models, or they are dropped for the rest to fit.
    if room_for_models >= 6 {
        let mut cut = String::new();
        for c in models.chars() {
            if cut.width() + unicode_width::UnicodeWidthChar::width(c).unwrap_or(0) + 1 > room_for_models {
                break;
            }
            cut.push(c);
        }
        return format!("{head}{}…{tail}", cut.trim_end());
    }
    let without_models = format!("{when}  {}  · {} turn(s){tail}", r.title, r.turns);
    if without_models.width() <= width {
        return without_models;
    }
    present::shorten(&format!("{when}  {}", r.title), width)
}

#[cfg(test)]
mod row_tests {
    use super::*;

    fn listing() -> RoomListing {
        RoomListing {
            title: "Why is the sky blue".into(),
            models: vec![
                "openai/gpt-4o-mini".into(),
                "anthropic/claude-haiku-4.5".into(),
                "meta-llama/llama-3.3-70b-instruct:free".into(),
            ],
            turns: 3,
            id: RoomId(7),
            headless: false,
            created_at_ms: 1_800_000_000_000,
            updated_at_ms: 1_800_000_000_000,
            requests: 9,
            prompt_tokens: 1_200,
            completion_tokens: 3_400,
            cost_usd: rust_decimal::Decimal::new(123, 5),
        }
    }

    #[test]
    fn a_long_row_gives_up_its_models_before_its_date_and_title() {
        let r = listing();
        let full = room_row(&r, 400);
        assert!(full.contains("llama-3.3-70b-instruct:free"), "{full}");
        let narrow = room_row(&r, 90);
        assert!(unicode_width::UnicodeWidthStr::width(narrow.as_str()) <= 90, "{narrow}");
        assert!(narrow.contains("Why is the sky blue") && narrow.contains("3 turn(s)"), "{narrow}");
        assert!(narrow.contains("openai/gpt") && narrow.contains('…'), "{narrow}");
        assert!(narrow.ends_with(&present::usd(r.cost_usd)), "tokens and cost stay: {narrow}");
        let tiny = room_row(&r, 30);
        assert!(tiny.contains("Why"), "the title before anything else: {tiny}");
    }
}
