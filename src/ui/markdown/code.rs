//! Code blocks: highlighting cached per complete line (so a growing block highlights only its
//! new lines) and layout as a panel with a gutter, long lines wrapped at spaces where the next
//! word fits (else at the width) with their continued rows marked, tabs expanded.

use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use unicode_segmentation::UnicodeSegmentation;

use super::wrap::{TOO_WIDE, grapheme_width, push_span, spans_width, str_width};
use crate::ui::highlight::{self, LineHighlighter, LineQueue, Piece};
use crate::ui::theme::MarkdownStyle;

const GUTTER: &str = "▎ ";
/// The gutter of a row that continues the line above it.
const CONTINUED: &str = "↪ ";
const GUTTER_WIDTH: usize = 2;
const TAB_STOP: usize = 4;

/// The language of a fence info string: its first word, without `{.lang}` decoration or
/// `,attributes` (`rust,ignore`).
pub(crate) fn lang_of(info: &str) -> Option<String> {
    let word = info.split_whitespace().next()?;
    let word = word.trim_start_matches(['{', '.']).trim_end_matches('}');
    let word = word.split(',').next().unwrap_or_default();
    (!word.is_empty()).then(|| word.to_string())
}

/// The unfinished last line of a code block.
pub(crate) enum Tail<'c> {
    None,
    Pieces(Vec<Piece>),
    /// Unhighlighted (unknown language, or too long): its rows can be kept as it grows.
    Plain(&'c str),
    /// Plain while its block is highlighted in the background; redrawn whole on the next delta.
    Deferred(&'c str),
}

impl Tail<'_> {
    pub(crate) fn render(&self, width: usize, st: &MarkdownStyle, out: &mut Vec<Line<'static>>) {
        match self {
            Tail::None => {}
            Tail::Pieces(pieces) => render_line(pieces, width, st, out),
            Tail::Plain(text) | Tail::Deferred(text) => {
                render_line(&[(text.to_string(), Style::default())], width, st, out)
            }
        }
    }
}

/// Highlighted lines of one code block, extended as the block grows.
#[derive(Debug, Default)]
pub(crate) struct CodeHighlight {
    key: Option<(Option<String>, String, bool)>,
    /// The complete lines highlighted so far, to check the next call extends them.
    seen: String,
    /// How far the code was searched for a newline (the unfinished line is not searched again).
    searched: usize,
    lines: Vec<Vec<Piece>>,
    /// Lines `..highlighted` are final; the rest are plain stand-ins (one unstyled piece each)
    /// until the background highlighter sends their colours.
    highlighted: usize,
    /// The highlighter's state after the lines; `None` for plain code, and once the block went
    /// to the background (the queue owns it then).
    hl: Option<LineHighlighter>,
    queue: Option<LineQueue>,
}

impl CodeHighlight {
    /// Brings the cache up to date with `code` and returns its unfinished last line. When
    /// `code` does not extend what was seen, or the language or syntax theme changed,
    /// highlighting restarts from the top. `append_only` promises that the text after the
    /// finished lines only grew (or was dropped) since the last call, so the part already
    /// searched for a newline is skipped.
    ///
    /// With `may_defer`, while the caller renders in the background mode (see
    /// `highlight::set_background`), lines are highlighted on the background thread: they are
    /// plain stand-ins until `catch_up` brings their colours, and the unfinished line is plain.
    pub(crate) fn update<'c>(
        &mut self,
        lang: Option<&str>,
        code: &'c str,
        st: &MarkdownStyle,
        append_only: bool,
        may_defer: bool,
    ) -> Tail<'c> {
        let key = (lang.map(str::to_string), st.syntax_theme.clone(), st.no_color);
        if self.key.as_ref() != Some(&key) || !code.starts_with(self.seen.as_str()) {
            self.seen.clear();
            self.searched = 0;
            self.lines.clear();
            self.highlighted = 0;
            self.queue = None;
            self.hl = lang.and_then(|l| LineHighlighter::new(l, &st.syntax_theme, st.no_color));
            self.key = Some(key);
        }
        if may_defer
            && self.queue.is_none()
            && highlight::background()
            && let Some(hl) = self.hl.take()
        {
            self.queue = Some(LineQueue::new(hl));
        }
        let rest = &code[self.seen.len()..];
        let from = if append_only { self.searched.clamp(self.seen.len(), code.len()) - self.seen.len() } else { 0 };
        let complete = rest[from..].rfind('\n').map_or(0, |i| from + i + 1);
        for line in rest[..complete].split_inclusive('\n') {
            match (&mut self.hl, &self.queue) {
                (_, Some(queue)) => {
                    queue.push(line.to_string());
                    self.lines.push(vec![(line.to_string(), Style::default())]);
                }
                (Some(hl), None) => {
                    self.lines.push(hl.line(line));
                    self.highlighted = self.lines.len();
                }
                (None, None) => {
                    self.lines.push(vec![(line.to_string(), Style::default())]);
                    self.highlighted = self.lines.len();
                }
            }
        }
        self.seen.push_str(&rest[..complete]);
        self.searched = if append_only { code.len() } else { self.seen.len() };
        let tail = &rest[complete..];
        match (&self.hl, &self.queue) {
            _ if tail.is_empty() => Tail::None,
            (_, Some(_)) if tail.len() <= highlight::MAX_HIGHLIGHT_BYTES => Tail::Deferred(tail),
            (Some(hl), None) if !hl.is_plain(tail) => Tail::Pieces(hl.peek(tail)),
            _ => Tail::Plain(tail),
        }
    }

    /// How many leading lines are final (highlighted, or plain for good).
    pub(crate) fn highlighted(&self) -> usize {
        self.highlighted
    }

    /// Whether some finished lines are still plain stand-ins.
    pub(crate) fn pending(&self) -> bool {
        self.highlighted < self.lines.len()
    }

    /// Take the colours the background thread has sent for stand-in lines. Returns the indices
    /// of the lines that changed.
    pub(crate) fn catch_up(&mut self) -> Option<std::ops::Range<usize>> {
        let start = self.highlighted;
        for pieces in self.queue.as_ref()?.take_done() {
            if let Some(line) = self.lines.get_mut(self.highlighted) {
                *line = pieces;
                self.highlighted += 1;
            }
        }
        (self.highlighted > start).then_some(start..self.highlighted)
    }

    pub(crate) fn lines(&self) -> &[Vec<Piece>] {
        &self.lines
    }
}

/// The label line above a block with a language.
pub(crate) fn header(lang: Option<&str>, width: usize, st: &MarkdownStyle) -> Option<Line<'static>> {
    let lang = lang?;
    let label_style = st.code_block.add_modifier(Modifier::DIM | Modifier::ITALIC);
    let pieces = [(lang.to_string(), label_style)];
    let mut out = Vec::new();
    render_pieces(&pieces, width, st, &mut out);
    out.truncate(1);
    out.pop()
}

/// Appends the panel lines of one code line (its pieces, newline included or not).
pub(crate) fn render_line(pieces: &[Piece], width: usize, st: &MarkdownStyle, out: &mut Vec<Line<'static>>) {
    let pieces: Vec<Piece> = expand_tabs(pieces).into_iter().map(|(t, s)| (t, st.code_block.patch(s))).collect();
    render_pieces(&pieces, width, st, out);
}

fn render_pieces(pieces: &[Piece], width: usize, st: &MarkdownStyle, out: &mut Vec<Line<'static>>) {
    if width == 0 {
        return;
    }
    let avail = code_width(width);
    let text: String = pieces.iter().map(|(t, _)| t.as_str()).collect();
    let starts = row_starts(&text, avail);
    for (i, row) in split_rows(pieces, &starts, avail).into_iter().enumerate() {
        out.push(row_line(row, width, st, i > 0));
    }
}

/// Byte offsets where the rows of one code line start (the first is 0), wrapping greedily at
/// `width` columns: a row that overflows ends after its last space that follows code, so the
/// word that did not fit moves down whole; a row with no such space breaks at the width (a
/// word longer than a row). The breaks depend on the text alone, never on its colours, and
/// each is decided by the text up to the character that overflowed, so a growing line keeps
/// the rows it had.
fn row_starts(text: &str, width: usize) -> Vec<usize> {
    let width = width.max(1);
    let mut starts = vec![0];
    let mut used = 0;
    // Just after the row's last space that follows code.
    let mut space_break = None;
    let mut code_seen = false;
    for (i, g) in text.grapheme_indices(true) {
        let gw = cell_width(g, width);
        if used + gw > width {
            let at = space_break.unwrap_or(i);
            starts.push(at);
            // What moved down is one word (no space after `at`): it fits, having fit above.
            used = text[at..i].graphemes(true).map(|g| cell_width(g, width)).sum();
            code_seen = at < i;
            space_break = None;
        }
        used += gw;
        if g == " " {
            if code_seen {
                space_break = Some(i + 1);
            }
        } else {
            code_seen = true;
        }
    }
    starts
}

/// Columns a grapheme takes in a row of `width`: one wider than the row shows as one marker.
fn cell_width(g: &str, width: usize) -> usize {
    match grapheme_width(g) {
        w if w > width => 1,
        w => w,
    }
}

/// The styled pieces cut into the rows `starts` gives; a grapheme wider than the row shows as
/// a marker.
fn split_rows(pieces: &[Piece], starts: &[usize], width: usize) -> Vec<Vec<Span<'static>>> {
    let mut rows: Vec<Vec<Span<'static>>> = vec![Vec::new(); starts.len()];
    let mut row = 0;
    let mut offset = 0;
    for (text, style) in pieces {
        let end = offset + text.len();
        let mut pos = offset;
        while pos < end {
            while row + 1 < starts.len() && starts[row + 1] <= pos {
                row += 1;
            }
            let row_end = starts.get(row + 1).copied().unwrap_or(usize::MAX).min(end);
            let part = &text[pos - offset..row_end - offset];
            if part.bytes().all(|b| (0x20..0x7f).contains(&b)) {
                push_span(&mut rows[row], part, *style);
            } else {
                for g in part.graphemes(true) {
                    push_span(&mut rows[row], if grapheme_width(g) > width { TOO_WIDE } else { g }, *style);
                }
            }
            pos = row_end;
        }
        offset = end;
    }
    rows
}

/// Columns for code: below three the gutter would leave no room, so it goes.
fn code_width(width: usize) -> usize {
    if width > GUTTER_WIDTH { width - GUTTER_WIDTH } else { width }
}

/// One panel row: gutter, code, and padding to the width when the panel has a background.
fn row_line(row: Vec<Span<'static>>, width: usize, st: &MarkdownStyle, continued: bool) -> Line<'static> {
    let gutter = width > GUTTER_WIDTH;
    let mut spans = Vec::with_capacity(row.len() + 2);
    if gutter {
        spans.push(Span::styled(if continued { CONTINUED } else { GUTTER }, st.code_block.patch(st.rule)));
    }
    let used = spans_width(&row) + if gutter { GUTTER_WIDTH } else { 0 };
    spans.extend(row);
    // With a background colour the block reads as a panel; without one padding is noise.
    if st.code_block.bg.is_some() && used < width {
        push_span(&mut spans, &" ".repeat(width - used), st.code_block);
    }
    Line::from(spans)
}

/// An unfinished plain code line too long to redraw on every delta: its rows that can no
/// longer change (each is followed by a character that did not fit) are handed out once.
#[derive(Debug, Default)]
pub(crate) struct LongLine {
    /// The line so far with tabs expanded.
    expanded: String,
    /// Source bytes expanded, and the display column they end at.
    src: usize,
    col: usize,
    /// Bytes of `expanded` in rows handed out.
    done: usize,
    /// Rows handed out.
    pub(crate) rows: usize,
}

impl LongLine {
    /// Extends with `line` (the unfinished line so far, a plain tail): pushes rows that became
    /// final onto `stable` and the still-open last row onto `open`. The rows are exactly those
    /// `render_line` gives for the same text.
    pub(crate) fn extend(
        &mut self,
        line: &str,
        width: usize,
        st: &MarkdownStyle,
        stable: &mut Vec<Line<'static>>,
        open: &mut Vec<Line<'static>>,
    ) {
        if width == 0 {
            return;
        }
        let new = line.get(self.src..).unwrap_or_default();
        self.col = expand_into(new, self.col, &mut self.expanded);
        self.src = line.len();
        let avail = code_width(width);
        let rest = &self.expanded[self.done..];
        // Every row but the last is final: its end was decided when a later character overflowed.
        let starts = row_starts(rest, avail);
        let last_start = starts.last().copied().unwrap_or(0);
        for pair in starts.windows(2) {
            let piece = [(rest[pair[0]..pair[1]].to_string(), st.code_block)];
            let row = split_rows(&piece, &[0], avail).pop().unwrap_or_default();
            stable.push(row_line(row, width, st, self.rows > 0));
            self.rows += 1;
        }
        self.done += last_start;
        let last = &self.expanded[self.done..];
        if !last.is_empty() {
            let row = split_rows(&[(last.to_string(), st.code_block)], &[0], avail).pop().unwrap_or_default();
            open.push(row_line(row, width, st, self.rows > 0));
        }
    }
}

/// Replaces tabs by spaces to the next tab stop and drops the line's newline.
fn expand_tabs(pieces: &[Piece]) -> Vec<Piece> {
    let mut col = 0;
    let mut out = Vec::with_capacity(pieces.len());
    for (text, style) in pieces {
        let text = text.strip_suffix('\n').unwrap_or(text);
        let mut expanded = String::with_capacity(text.len());
        col = expand_into(text, col, &mut expanded);
        out.push((expanded, *style));
    }
    out
}

/// Appends `text` to `out` with tabs expanded, starting at display column `col`; returns the
/// column it ends at.
fn expand_into(text: &str, mut col: usize, out: &mut String) -> usize {
    for (i, part) in text.split('\t').enumerate() {
        if i > 0 {
            let n = TAB_STOP - col % TAB_STOP;
            out.extend(std::iter::repeat_n(' ', n));
            col += n;
        }
        out.push_str(part);
        col += str_width(part);
    }
    col
}

/// Renders a whole code block (header and lines) using and updating `cache`.
pub(crate) fn render_block(
    lang: Option<&str>,
    code: &str,
    width: usize,
    st: &MarkdownStyle,
    cache: &mut CodeHighlight,
) -> Vec<Line<'static>> {
    let tail = cache.update(lang, code, st, false, false);
    let mut out = Vec::new();
    out.extend(header(lang, width, st));
    for line in cache.lines() {
        render_line(line, width, st, &mut out);
    }
    tail.render(width, st, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_strings() {
        assert_eq!(lang_of("rust,ignore"), Some("rust".into()));
        assert_eq!(lang_of("{.python}"), Some("python".into()));
        assert_eq!(lang_of("  json  extra"), Some("json".into()));
        assert_eq!(lang_of(""), None);
    }

    #[test]
    fn tabs_expand_to_stops() {
        let out = expand_tabs(&[("a\tbc\td\n".to_string(), Style::default())]);
        assert_eq!(out[0].0, "a   bc  d");
    }

    #[test]
    fn cache_extends_and_restarts() {
        let st = MarkdownStyle::default();
        let mut cache = CodeHighlight::default();
        let tail = cache.update(Some("rust"), "fn a() {}\nlet", &st, false, false);
        assert_eq!(cache.lines().len(), 1);
        let Tail::Pieces(tail) = tail else { panic!("highlighted tail") };
        assert_eq!(tail.iter().map(|p| p.0.as_str()).collect::<String>(), "let");
        cache.update(Some("rust"), "fn a() {}\nlet x = 1;\n", &st, false, false);
        assert_eq!(cache.lines().len(), 2);
        cache.update(Some("rust"), "different\n", &st, false, false);
        assert_eq!(cache.lines().len(), 1);
    }

    fn rows(text: &str, width: usize) -> Vec<&str> {
        let starts = row_starts(text, width);
        let mut out = Vec::new();
        for (i, &s) in starts.iter().enumerate() {
            out.push(&text[s..starts.get(i + 1).copied().unwrap_or(text.len())]);
        }
        out
    }

    #[test]
    fn code_wraps_at_spaces_when_the_word_fits() {
        // The issue's `now() - i/nterval` and `partitionin/g`.
        assert_eq!(rows("select now() - interval '1 day'", 16), ["select now() - ", "interval '1 day'"]);
        assert_eq!(rows("    by partitioning", 16), ["    by ", "partitioning"]);
        // Indentation is not a break; a word longer than a row is cut.
        assert_eq!(rows("        abcdefghijkl", 10), ["        ab", "cdefghijkl"]);
        assert_eq!(rows("aaaaaaaaaaaaaaaaaaaaaaa", 10), ["aaaaaaaaaa", "aaaaaaaaaa", "aaa"]);
        assert_eq!(rows("", 10), [""]);
    }

    #[test]
    fn continued_code_rows_are_marked() {
        let st = MarkdownStyle::default();
        let lines = render_block(None, "let total = first + second + third;\nok\n", 20, &st, &mut Default::default());
        let text: Vec<String> =
            lines.iter().map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect::<String>()).collect();
        assert_eq!(text, ["▎ let total = first ", "↪ + second + third;", "▎ ok"]);
    }

    #[test]
    fn lines_fit_width() {
        let st = MarkdownStyle::default();
        for width in 0..12 {
            let lines =
                render_block(Some("py"), "x = '日本語テキスト'\n\tpass\n", width, &st, &mut CodeHighlight::default());
            for line in &lines {
                assert!(spans_width(&line.spans) <= width, "{width}: {line:?}");
            }
        }
    }
}
