//! The input box: a multi-line ratatui-textarea draft with prompt history, paste handling and
//! the state the palette and the sidebar's draft estimate read.

use ratatui::style::{Modifier, Style};
use ratatui::widgets::{Block, Borders};
use ratatui_textarea::{CursorMove, TextArea, WrapMode};

use crate::ui::theme::Theme;

/// Drafts above this size are drawn without soft wrapping: wrapping is recomputed per frame
/// over the whole draft, and a pasted megabyte must stay responsive.
const WRAP_LIMIT_BYTES: usize = 64 * 1024;
const HISTORY_LIMIT: usize = 500;

/// The draft's editing keys, for the help overlay and the README (readline's, as in a shell).
pub const EDITING_KEYS: &[(&str, &str)] = &[
    ("Ctrl+A, Ctrl+E, Home, End", "start / end of the line"),
    ("Alt+B, Alt+F, Ctrl+←, Ctrl+→", "back / forward a word"),
    ("Ctrl+U, Ctrl+K", "delete to the start / end of the line"),
    ("Ctrl+W, Alt+Backspace, Alt+D", "delete the word before / after the cursor"),
    ("Ctrl+Y", "paste what was deleted last"),
    ("Ctrl+Z, Ctrl+Shift+Z", "undo / redo in the draft"),
];

/// Edits whose keys differ from the textarea's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadlineEdit {
    KillToStart,
    Undo,
    Redo,
}

fn readline_edit(key: crossterm::event::KeyEvent) -> Option<ReadlineEdit> {
    use crossterm::event::{KeyCode, KeyModifiers};
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let shift = key.modifiers.contains(KeyModifiers::SHIFT);
    if !ctrl || key.modifiers.contains(KeyModifiers::ALT) {
        return None;
    }
    match key.code {
        KeyCode::Char('u') => Some(ReadlineEdit::KillToStart),
        KeyCode::Char('Z') => Some(ReadlineEdit::Redo),
        KeyCode::Char('z') if shift => Some(ReadlineEdit::Redo),
        // Ctrl+_ is readline's undo; terminals send it as Ctrl+7 or Ctrl+/.
        KeyCode::Char('z' | '_' | '7' | '/') => Some(ReadlineEdit::Undo),
        _ => None,
    }
}

pub struct InputBox {
    pub textarea: TextArea<'static>,
    history: Vec<String>,
    /// Position while browsing history, and the draft that was there before browsing.
    browsing: Option<(usize, String)>,
    /// Bumped on every change, so derived data (palette matches, estimates) knows when to refresh.
    pub revision: u64,
    /// Bumped when the box's title or colours change.
    look: u64,
    bytes: usize,
}

/// Everything the drawn input box depends on besides its area: a frame whose box would look
/// the same keeps the one on the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputView {
    revision: u64,
    look: u64,
    cursor: (usize, usize),
    selection: Option<((usize, usize), (usize, usize))>,
}

impl InputBox {
    pub fn new(theme: &Theme) -> InputBox {
        let mut input = InputBox {
            textarea: TextArea::default(),
            history: Vec::new(),
            browsing: None,
            revision: 0,
            look: 0,
            bytes: 0,
        };
        input.apply_theme(theme, false);
        input
    }

    pub fn apply_theme(&mut self, theme: &Theme, demo: bool) {
        self.apply_theme_with_chips(theme, demo, &[]);
    }

    /// The theme, with the files waiting to be sent shown as chips in the box's title.
    pub fn apply_theme_with_chips(&mut self, theme: &Theme, demo: bool, chips: &[String]) {
        let ui = &theme.ui;
        self.look += 1;
        let base = if demo { " Ask every model (demo: simulated answers) " } else { " Ask every model " };
        let title = if chips.is_empty() {
            base.to_string()
        } else {
            let chips: Vec<String> = chips.iter().map(|c| format!("[📎 {c}]")).collect();
            format!("{base}{} ", chips.join(" "))
        };
        self.textarea.set_block(
            Block::default().borders(Borders::ALL).border_style(Style::default().fg(ui.border_focused)).title(title),
        );
        self.textarea.set_style(Style::default().fg(ui.fg));
        self.textarea.set_cursor_line_style(Style::default());
        self.textarea.set_cursor_style(Style::default().add_modifier(Modifier::REVERSED));
        self.textarea.set_placeholder_text("Type a prompt · Enter sends · Alt+Enter newline · / commands · F1 help");
        self.textarea.set_placeholder_style(Style::default().fg(ui.dim));
        self.textarea.set_selection_style(Style::default().bg(ui.selection_bg));
        self.refresh_wrap();
    }

    pub fn view(&self) -> InputView {
        InputView {
            revision: self.revision,
            look: self.look,
            cursor: {
                let at = self.textarea.cursor();
                (at.0, at.1)
            },
            selection: self.textarea.selection_range(),
        }
    }

    pub fn text(&self) -> String {
        self.textarea.lines().join("\n")
    }

    pub fn is_empty(&self) -> bool {
        self.bytes == 0 && self.textarea.lines().iter().all(String::is_empty)
    }

    pub fn line_count(&self) -> usize {
        self.textarea.lines().len()
    }

    /// The first line, for the `/` palette.
    pub fn first_line(&self) -> &str {
        self.textarea.lines().first().map_or("", String::as_str)
    }

    /// Feed a key to the textarea; returns whether the text changed. Line editing follows
    /// readline (see [`EDITING_KEYS`]); the textarea's own bindings already do most of it, and
    /// its Ctrl+U undo moves to Ctrl+Z so Ctrl+U can delete to the start of the line.
    pub fn key(&mut self, key: crossterm::event::KeyEvent) -> bool {
        let changed = match readline_edit(key) {
            Some(ReadlineEdit::KillToStart) => self.textarea.delete_line_by_head(),
            Some(ReadlineEdit::Undo) => self.textarea.undo(),
            Some(ReadlineEdit::Redo) => self.textarea.redo(),
            None => self.textarea.input(key),
        };
        if changed {
            self.touched();
        }
        changed
    }

    pub fn newline(&mut self) {
        self.textarea.insert_newline();
        self.touched();
    }

    /// Insert pasted text at the cursor. Line endings are normalised and control characters
    /// other than newline and tab dropped, so a paste cannot smuggle escape sequences.
    pub fn paste(&mut self, text: &str) {
        let clean: String = text
            .replace("\r\n", "\n")
            .replace('\r', "\n")
            .chars()
            .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
            .collect();
        self.textarea.insert_str(clean);
        self.touched();
    }

    /// How many edits the draft has had (each insertion, deletion or replacement is one).
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Replace the whole draft (history browsing, `$EDITOR`, completion).
    pub fn set_text(&mut self, text: &str) {
        self.textarea.select_all();
        self.textarea.cut();
        self.textarea.insert_str(text);
        self.textarea.move_cursor(CursorMove::Bottom);
        self.textarea.move_cursor(CursorMove::End);
        self.touched();
    }

    /// Take a slash command: clears the box without putting the command in the prompt history
    /// (Ctrl+↑ walks prompts; the palette completes commands).
    pub fn take_command(&mut self) -> String {
        let text = self.text();
        self.set_text("");
        self.browsing = None;
        text
    }

    /// Take the draft for sending: clears the box and remembers the text in history.
    pub fn take(&mut self) -> String {
        let text = self.text();
        if !text.trim().is_empty() && self.history.last() != Some(&text) {
            self.history.push(text.clone());
            if self.history.len() > HISTORY_LIMIT {
                self.history.remove(0);
            }
        }
        self.browsing = None;
        self.set_text("");
        text
    }

    pub fn history_prev(&mut self) {
        if self.history.is_empty() {
            return;
        }
        let (pos, stash) = match self.browsing.take() {
            Some((0, stash)) => (0, stash),
            Some((pos, stash)) => (pos - 1, stash),
            None => (self.history.len() - 1, self.text()),
        };
        let entry = self.history[pos].clone();
        self.set_text(&entry);
        self.browsing = Some((pos, stash));
    }

    pub fn history_next(&mut self) {
        match self.browsing.take() {
            Some((pos, stash)) if pos + 1 >= self.history.len() => self.set_text(&stash),
            Some((pos, stash)) => {
                let entry = self.history[pos + 1].clone();
                self.set_text(&entry);
                self.browsing = Some((pos + 1, stash));
            }
            None => {}
        }
    }

    /// Whether Up should browse history rather than move the cursor (cursor on the first line).
    pub fn cursor_on_first_line(&self) -> bool {
        self.textarea.cursor().0 == 0
    }

    pub fn cursor_on_last_line(&self) -> bool {
        self.textarea.cursor().0 + 1 >= self.textarea.lines().len()
    }

    pub fn byte_len(&self) -> usize {
        self.bytes
    }

    fn touched(&mut self) {
        self.revision += 1;
        self.bytes = self.textarea.lines().iter().map(|l| l.len() + 1).sum::<usize>().saturating_sub(1);
        self.refresh_wrap();
    }

    fn refresh_wrap(&mut self) {
        let mode = if self.bytes > WRAP_LIMIT_BYTES { WrapMode::None } else { WrapMode::WordOrGlyph };
        if self.textarea.wrap_mode() != mode {
            self.textarea.set_wrap_mode(mode);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> InputBox {
        InputBox::new(&crate::ui::theme::load("dark", None, true).unwrap())
    }

    #[test]
    fn history_browses_back_and_returns_to_the_draft() {
        let mut i = input();
        i.paste("first");
        i.take();
        i.paste("second");
        i.take();
        i.paste("draft");
        i.history_prev();
        assert_eq!(i.text(), "second");
        i.history_prev();
        assert_eq!(i.text(), "first");
        i.history_prev();
        assert_eq!(i.text(), "first");
        i.history_next();
        assert_eq!(i.text(), "second");
        i.history_next();
        assert_eq!(i.text(), "draft");
    }

    fn press(i: &mut InputBox, c: char, mods: crossterm::event::KeyModifiers) {
        i.key(crossterm::event::KeyEvent::new(crossterm::event::KeyCode::Char(c), mods));
    }

    #[test]
    fn line_editing_follows_readline() {
        use crossterm::event::KeyModifiers as M;
        let mut i = input();
        i.paste("hello big world");
        press(&mut i, 'w', M::CONTROL);
        assert_eq!(i.text(), "hello big ");
        press(&mut i, 'a', M::CONTROL);
        press(&mut i, 'k', M::CONTROL);
        assert_eq!(i.text(), "");
        press(&mut i, 'y', M::CONTROL);
        assert_eq!(i.text(), "hello big ", "Ctrl+Y yanks what Ctrl+K deleted");
        press(&mut i, 'b', M::ALT);
        press(&mut i, 'u', M::CONTROL);
        assert_eq!(i.text(), "big ", "Ctrl+U deletes to the start of the line");
        press(&mut i, 'z', M::CONTROL);
        assert_eq!(i.text(), "hello big ", "Ctrl+Z undoes");
        press(&mut i, 'z', M::CONTROL | M::SHIFT);
        assert_eq!(i.text(), "big ", "Ctrl+Shift+Z redoes");
        press(&mut i, 'e', M::CONTROL);
        press(&mut i, '!', M::NONE);
        assert_eq!(i.text(), "big !", "Ctrl+E moves to the end");
    }

    #[test]
    fn paste_normalises_line_endings_and_drops_controls() {
        let mut i = input();
        i.paste("a\r\nb\rc\u{1b}[31md\u{7}");
        assert_eq!(i.text(), "a\nb\nc[31md");
        assert_eq!(i.line_count(), 3);
    }

    #[test]
    fn a_megabyte_paste_is_kept_whole_and_unwrapped() {
        let mut i = input();
        let big = "lorem ipsum dolor sit amet\n".repeat(40_000);
        i.paste(&big);
        assert_eq!(i.text(), big);
        assert_eq!(i.textarea.wrap_mode(), WrapMode::None);
        assert_eq!(i.take().len(), big.len());
        assert!(i.is_empty());
    }
}
