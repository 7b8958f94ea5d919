//! The `/diff A B` overlay: a word-level diff of two answers of the same turn (words only in the
//! first struck through in the theme's `diff_deleted` colour, words only in the second
//! underlined in `diff_inserted`), wrapped to the popup and scrollable. Holds its own state;
//! drawing is pure.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use similar::{ChangeTag, TextDiff};
use unicode_width::UnicodeWidthStr;

use crate::core::sanitize::strip_controls;
use crate::ui::draw::{centered, popup};
use crate::ui::theme::Theme;

/// Whether a run of text is in both answers or only one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Both,
    /// Only in the first answer.
    Deleted,
    /// Only in the second answer.
    Inserted,
}

/// The diff of two answers and how far it is scrolled.
#[derive(Debug, Clone, PartialEq)]
pub struct DiffView {
    label_a: String,
    label_b: String,
    /// Runs of text, consecutive runs on the same side merged.
    runs: Vec<(Side, String)>,
    deleted_words: usize,
    inserted_words: usize,
    scroll: u16,
}

impl DiffView {
    /// The diff of `a` (labelled `label_a`, e.g. "Model A" or "1 openai/gpt-4o-mini") against
    /// `b`. Both texts are control-stripped first: they come from models.
    pub fn new(label_a: &str, a: &str, label_b: &str, b: &str) -> DiffView {
        let (a, b) = (strip_controls(a), strip_controls(b));
        let diff = TextDiff::from_words(a.as_ref(), b.as_ref());
        let mut runs: Vec<(Side, String)> = Vec::new();
        let (mut deleted_words, mut inserted_words) = (0, 0);
        for change in diff.iter_all_changes() {
            let side = match change.tag() {
                ChangeTag::Equal => Side::Both,
                ChangeTag::Delete => Side::Deleted,
                ChangeTag::Insert => Side::Inserted,
            };
            let text = change.value();
            let is_word = !text.trim().is_empty();
            match side {
                Side::Deleted => deleted_words += usize::from(is_word),
                Side::Inserted => inserted_words += usize::from(is_word),
                Side::Both => {}
            }
            match runs.last_mut() {
                Some((s, run)) if *s == side => run.push_str(text),
                _ => runs.push((side, text.to_owned())),
            }
        }
        DiffView {
            label_a: strip_controls(label_a).into_owned(),
            label_b: strip_controls(label_b).into_owned(),
            runs,
            deleted_words,
            inserted_words,
            scroll: 0,
        }
    }

    /// Runs of the diff in order (for tests and exports).
    pub fn runs(&self) -> &[(Side, String)] {
        &self.runs
    }

    /// Whether the two answers are the same text.
    pub fn is_identical(&self) -> bool {
        self.runs.iter().all(|(s, _)| *s == Side::Both)
    }

    /// Rows scrolled off the top.
    pub fn scroll(&self) -> u16 {
        self.scroll
    }

    /// Scroll by `delta` rows (negative: up), within the rows the diff has in `screen`.
    pub fn scroll_by(&mut self, delta: i32, screen: Rect) {
        let max = i32::from(self.max_scroll(screen));
        self.scroll = u16::try_from((i32::from(self.scroll) + delta).clamp(0, max)).unwrap_or(0);
    }

    /// Scroll by a page of the popup in `screen` (negative pages: up).
    pub fn page_by(&mut self, pages: i32, screen: Rect) {
        let page = i32::from(Self::body(screen).height.saturating_sub(1).max(1));
        self.scroll_by(pages * page, screen);
    }

    /// The popup's rect within the screen.
    pub fn popup_rect(screen: Rect) -> Rect {
        centered(screen, screen.width.saturating_sub(4).min(120), screen.height.saturating_sub(2))
    }

    /// The scrolled text's rect: the popup inside its border, less the legend row.
    fn body(screen: Rect) -> Rect {
        let r = Self::popup_rect(screen);
        let inner = Rect {
            x: r.x.saturating_add(1),
            y: r.y.saturating_add(1),
            width: r.width.saturating_sub(2),
            height: r.height.saturating_sub(2),
        };
        Rect { y: inner.y.saturating_add(1), height: inner.height.saturating_sub(1), ..inner }
    }

    fn max_scroll(&self, screen: Rect) -> u16 {
        let body = Self::body(screen);
        let rows = self.lines(body.width, &Style::default(), &Style::default(), &Style::default()).len();
        u16::try_from(rows).unwrap_or(u16::MAX).saturating_sub(body.height)
    }

    /// The diff wrapped to `width` columns. A replaced word shows as the old one then the new
    /// one, with a plain space put between them when neither brings its own.
    fn lines(&self, width: u16, both: &Style, deleted: &Style, inserted: &Style) -> Vec<Line<'static>> {
        let mut runs: Vec<(&str, Style)> = Vec::with_capacity(self.runs.len() * 2);
        let mut previous: Option<&(Side, String)> = None;
        for run in &self.runs {
            let (side, text) = run;
            if let Some((before, before_text)) = previous
                && *before != Side::Both
                && *side != Side::Both
                && !before_text.ends_with(char::is_whitespace)
                && !text.starts_with(char::is_whitespace)
            {
                runs.push((" ", *both));
            }
            let style = match side {
                Side::Both => *both,
                Side::Deleted => *deleted,
                Side::Inserted => *inserted,
            };
            runs.push((text.as_str(), style));
            previous = Some(run);
        }
        wrap_runs(runs.into_iter(), usize::from(width))
    }

    /// Draw the overlay over `screen`.
    pub fn draw(&self, frame: &mut Frame<'_>, screen: Rect, theme: &Theme) {
        let ui = &theme.ui;
        let rect = Self::popup_rect(screen);
        let title = format!("Diff · {} → {} · ↑/↓ PgUp/PgDn scroll · Esc closes", self.label_a, self.label_b);
        let inner = popup(frame, rect, &title, theme);
        if inner.height == 0 || inner.width == 0 {
            return;
        }
        // Modifiers as well as colours, so the diff still reads under NO_COLOR.
        let deleted = Style::default().fg(ui.diff_deleted).add_modifier(Modifier::CROSSED_OUT);
        let inserted = Style::default().fg(ui.diff_inserted).add_modifier(Modifier::UNDERLINED);
        let legend = if self.is_identical() {
            Line::from(Span::styled("The two answers are identical.", Style::default().fg(ui.dim)))
        } else {
            Line::from(vec![
                Span::styled(format!("− {} words only in {}", self.deleted_words, self.label_a), deleted),
                Span::styled("   ", Style::default()),
                Span::styled(format!("+ {} words only in {}", self.inserted_words, self.label_b), inserted),
            ])
        };
        frame.render_widget(Paragraph::new(legend), Rect { height: 1, ..inner });
        let body = Self::body(screen);
        let lines = self.lines(body.width, &Style::default().fg(ui.fg), &deleted, &inserted);
        let max_scroll = u16::try_from(lines.len()).unwrap_or(u16::MAX).saturating_sub(body.height);
        let first = usize::from(self.scroll.min(max_scroll));
        let visible: Vec<Line<'static>> = lines.into_iter().skip(first).take(usize::from(body.height)).collect();
        frame.render_widget(Paragraph::new(visible), body);
    }
}

/// Greedy word wrap of styled runs by display width: `\n` breaks the line, a word wider than
/// the line is broken, spaces at a break are dropped. Width 0 yields nothing.
fn wrap_runs<'a>(runs: impl Iterator<Item = (&'a str, Style)>, width: usize) -> Vec<Line<'static>> {
    if width == 0 {
        return Vec::new();
    }
    let mut lines: Vec<Line<'static>> = Vec::new();
    let mut spans: Vec<Span<'static>> = Vec::new();
    let mut used = 0;
    let mut soft_break = false;
    let push = |spans: &mut Vec<Span<'static>>, text: &str, style: Style| match spans.last_mut() {
        Some(last) if last.style == style => last.content.to_mut().push_str(text),
        _ => spans.push(Span::styled(text.to_owned(), style)),
    };
    for (text, style) in runs {
        for (i, paragraph) in text.split('\n').enumerate() {
            if i > 0 {
                lines.push(Line::from(std::mem::take(&mut spans)));
                used = 0;
                soft_break = false;
            }
            for word in paragraph.split_inclusive(' ') {
                let word_w = word.width();
                let visible_w = word.trim_end_matches(' ').width();
                if used > 0 && used + visible_w > width {
                    lines.push(Line::from(std::mem::take(&mut spans)));
                    used = 0;
                    soft_break = true;
                }
                if used == 0 && soft_break && word.trim().is_empty() {
                    continue; // spaces carried over a wrap would indent the next row
                }
                soft_break = false;
                if word_w <= width.saturating_sub(used) {
                    push(&mut spans, word, style);
                    used += word_w;
                    continue;
                }
                // Wider than what is left: break it by characters.
                for c in word.chars() {
                    let mut buf = [0u8; 4];
                    let c_str: &str = c.encode_utf8(&mut buf);
                    let w = c_str.width();
                    if used + w > width {
                        if c == ' ' {
                            continue;
                        }
                        lines.push(Line::from(std::mem::take(&mut spans)));
                        used = 0;
                        soft_break = true;
                    }
                    push(&mut spans, c_str, style);
                    used += w;
                }
            }
        }
    }
    lines.push(Line::from(spans));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    const A: &str = "TCP slow start doubles the congestion window every round trip until a loss occurs.\n\n\
                     Then it halves the window and grows it linearly.";
    const B: &str = "TCP slow start grows the congestion window exponentially every round trip until the \
                     threshold is reached.\n\nThen congestion avoidance grows it linearly.";

    fn theme() -> Theme {
        crate::ui::theme::load("dark", None, false).expect("embedded theme")
    }

    fn render(view: &DiffView, w: u16, h: u16) -> (String, ratatui::buffer::Buffer) {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("terminal");
        let theme = theme();
        terminal.draw(|f| view.draw(f, f.area(), &theme)).expect("draw");
        let buf = terminal.backend().buffer().clone();
        let mut out = String::new();
        for y in 0..h {
            let line: String = (0..w).map(|x| buf[(x, y)].symbol()).collect();
            out.push_str(line.trim_end());
            out.push('\n');
        }
        (out, buf)
    }

    #[test]
    fn words_only_in_one_answer_are_marked() {
        let d = DiffView::new("Model A", A, "Model B", B);
        let deleted: Vec<&str> = d.runs().iter().filter(|(s, _)| *s == Side::Deleted).map(|(_, t)| t.trim()).collect();
        let inserted: Vec<&str> =
            d.runs().iter().filter(|(s, _)| *s == Side::Inserted).map(|(_, t)| t.trim()).collect();
        assert!(deleted.iter().any(|t| t.contains("doubles")), "{deleted:?}");
        assert!(inserted.iter().any(|t| t.contains("exponentially")), "{inserted:?}");
        assert!(d.runs().iter().any(|(s, t)| *s == Side::Both && t.contains("congestion window")));
        let rebuilt_a: String =
            d.runs().iter().filter(|(s, _)| *s != Side::Inserted).map(|(_, t)| t.as_str()).collect();
        let rebuilt_b: String = d.runs().iter().filter(|(s, _)| *s != Side::Deleted).map(|(_, t)| t.as_str()).collect();
        assert_eq!((rebuilt_a.as_str(), rebuilt_b.as_str()), (A, B));
        assert!(DiffView::new("a", "same text", "b", "same text").is_identical());
    }

    #[test]
    fn control_sequences_from_models_are_stripped() {
        let d = DiffView::new("a", "plain \u{1b}]52;c;aGk=\u{7}text", "b\u{1b}[2J", "plain text");
        assert!(d.is_identical(), "{:?}", d.runs());
        assert_eq!(d.label_b, "b");
    }

    #[test]
    fn overlay_at_80x24() {
        let view = DiffView::new("Model A", A, "Model B", B);
        let (text, buf) = render(&view, 80, 24);
        insta::assert_snapshot!("diff_overlay_80x24", text);
        let t = theme();
        // The cells of a deleted and an inserted word carry the theme's diff colours.
        let find = |word: &str| -> (u16, u16) {
            (0..24u16)
                .find_map(|y| {
                    let row: String = (0..80u16).map(|x| buf[(x, y)].symbol().to_owned()).collect();
                    row.find(word).map(|col| (u16::try_from(row[..col].chars().count()).unwrap_or(0), y))
                })
                .unwrap_or_else(|| panic!("{word} on screen:\n{text}"))
        };
        let (x, y) = find("doubles");
        assert_eq!(buf[(x, y)].fg, t.ui.diff_deleted);
        assert!(buf[(x, y)].modifier.contains(Modifier::CROSSED_OUT));
        let (x, y) = find("exponentially");
        assert_eq!(buf[(x, y)].fg, t.ui.diff_inserted);
        assert!(buf[(x, y)].modifier.contains(Modifier::UNDERLINED));
    }

    #[test]
    fn scrolling_stays_within_the_diff() {
        let long_a: String = (0..200).map(|i| format!("line {i} of the first answer\n")).collect();
        let long_b: String = (0..200).map(|i| format!("line {i} of the second answer\n")).collect();
        let mut view = DiffView::new("A", &long_a, "B", &long_b);
        let screen = Rect::new(0, 0, 80, 24);
        view.scroll_by(-5, screen);
        assert_eq!(view.scroll(), 0);
        view.page_by(1, screen);
        let page = view.scroll();
        assert!(page > 0);
        let (text, _) = render(&view, 80, 24);
        assert!(!text.contains("line 0 of"), "scrolled past the top:\n{text}");
        view.scroll_by(100_000, screen);
        let bottom = view.scroll();
        assert!(bottom < 200 * 2 + 2, "{bottom}");
        view.scroll_by(1, screen);
        assert_eq!(view.scroll(), bottom, "no scrolling past the end");
        let (text, _) = render(&view, 80, 24);
        assert!(text.contains("line 199 of the"), "the end is visible at the bottom:\n{text}");
    }

    #[test]
    fn wrapping_respects_the_width_and_breaks_long_words() {
        let runs =
            [("aaaa bbbb ", Style::default()), ("cccccccccccc", Style::default().fg(ratatui::style::Color::Red))];
        let lines = wrap_runs(runs.into_iter(), 5);
        let text: Vec<String> = lines.iter().map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect()).collect();
        assert!(lines.iter().all(|l| l.width() <= 5), "{text:?}");
        assert_eq!(text, ["aaaa ", "bbbb ", "ccccc", "ccccc", "cc"]);
        assert!(wrap_runs([("x", Style::default())].into_iter(), 0).is_empty());
    }
}
