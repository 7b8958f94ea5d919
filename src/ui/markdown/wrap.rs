//! Styled inline text and its layout: word wrapping by display width (graphemes never split,
//! break opportunities at spaces and around wide CJK/emoji characters, over-long words broken),
//! hard breaking for code, and fitting container prefixes into narrow widths.

use std::ops::Range;

use ratatui::style::Style;
use ratatui::text::Span;
use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

/// Content columns kept free for text when container prefixes (quote bars, list indents) would
/// eat the whole width; the prefix is clipped instead.
const MIN_CONTENT: usize = 8;

/// Shown for a character wider than the whole line (a CJK character at width 1).
pub(crate) const TOO_WIDE: &str = "?";

/// Display width of a grapheme cluster, as the terminal buffer measures it.
pub(crate) fn grapheme_width(g: &str) -> usize {
    g.width()
}

/// Display width of a string, summed per grapheme cluster.
pub fn str_width(s: &str) -> usize {
    s.graphemes(true).map(grapheme_width).sum()
}

pub(crate) fn spans_width(spans: &[Span<'_>]) -> usize {
    spans.iter().map(|s| str_width(&s.content)).sum()
}

/// Inline content being collected: text with style runs and hard-break positions.
#[derive(Debug, Default, Clone)]
pub(crate) struct Inline {
    text: String,
    /// `(end, style)`, ends strictly increasing; each run starts where the previous ended.
    runs: Vec<(usize, Style)>,
    breaks: Vec<usize>,
}

impl Inline {
    /// Appends `s`; tabs and newlines become spaces (inline layout is ours, not the source's).
    pub(crate) fn push(&mut self, s: &str, style: Style) {
        let start = self.text.len();
        self.text.extend(s.chars().map(|c| if c == '\t' || c == '\n' { ' ' } else { c }));
        let end = self.text.len();
        if end == start {
            return;
        }
        match self.runs.last_mut() {
            Some((last_end, last_style)) if *last_style == style => *last_end = end,
            _ => self.runs.push((end, style)),
        }
    }

    /// Appends another inline's styled text and hard breaks.
    pub(crate) fn append(&mut self, other: &Inline) {
        let base = self.text.len();
        let mut start = 0;
        for &(end, style) in &other.runs {
            self.push(&other.text[start..end], style);
            start = end;
        }
        self.breaks.extend(other.breaks.iter().map(|b| b + base));
    }

    pub(crate) fn hard_break(&mut self) {
        self.breaks.push(self.text.len());
    }

    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    pub(crate) fn is_blank(&self) -> bool {
        self.text.trim_matches(' ').is_empty()
    }

    /// The widest line this content needs when nothing wraps (for table columns).
    pub(crate) fn natural_width(&self) -> usize {
        self.segments().map(|r| str_width(self.text[r].trim_matches(' '))).max().unwrap_or(0)
    }

    fn segments(&self) -> impl Iterator<Item = Range<usize>> + '_ {
        let starts = std::iter::once(0).chain(self.breaks.iter().copied());
        let ends = self.breaks.iter().copied().chain(std::iter::once(self.text.len()));
        starts.zip(ends).map(|(a, b)| a..b.max(a))
    }

    fn style_at(&self, byte: usize) -> Style {
        let i = self.runs.partition_point(|(end, _)| *end <= byte);
        self.runs.get(i).map_or_else(Style::default, |(_, s)| *s)
    }

    /// Pushes `range` as spans onto `out`, split at style changes, merged with the last span
    /// when the style continues.
    fn emit(&self, range: Range<usize>, out: &mut Vec<Span<'static>>) {
        let mut pos = range.start;
        let mut i = self.runs.partition_point(|(end, _)| *end <= pos);
        while pos < range.end {
            let (end, style) = self.runs.get(i).copied().unwrap_or((range.end, Style::default()));
            let stop = end.min(range.end);
            push_span(out, &self.text[pos..stop], style);
            pos = stop;
            i += 1;
        }
    }
}

/// Appends text to a span list, extending the last span when the style matches.
pub(crate) fn push_span(out: &mut Vec<Span<'static>>, text: &str, style: Style) {
    if text.is_empty() {
        return;
    }
    match out.last_mut() {
        Some(last) if last.style == style => last.content.to_mut().push_str(text),
        _ => out.push(Span::styled(text.to_string(), style)),
    }
}

/// A piece of a wrapped line: source bytes, or a stand-in for a grapheme too wide to fit.
enum Piece {
    Text(Range<usize>),
    TooWide(usize),
}

/// A run of graphemes that stays on one line if it can.
struct Token {
    range: Range<usize>,
    width: usize,
    space: bool,
}

/// Word-wraps `inline` to `width` columns (at least 1); each line's spans fit in `width`.
/// Hard breaks start new lines; an empty segment between two hard breaks is an empty line.
pub(crate) fn wrap(inline: &Inline, width: usize) -> Vec<Vec<Span<'static>>> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let segments: Vec<Range<usize>> = inline.segments().collect();
    // A break at the very end (`cell<br>`) adds nothing visible.
    let keep = segments.len()
        - usize::from(
            segments.len() > 1 && inline.text[segments[segments.len() - 1].clone()].trim_matches(' ').is_empty(),
        );
    for seg in segments.into_iter().take(keep) {
        let before = lines.len();
        wrap_segment(inline, seg, width, &mut lines);
        if lines.len() == before {
            lines.push(Vec::new());
        }
    }
    lines
}

fn tokens(text: &str, seg: Range<usize>) -> Vec<Token> {
    let mut tokens: Vec<Token> = Vec::new();
    // Printable ASCII (most prose) is one column per byte: no segmentation needed.
    if text.as_bytes()[seg.clone()].iter().all(|b| (0x20..0x7f).contains(b)) {
        for (i, &b) in text.as_bytes()[seg.clone()].iter().enumerate() {
            let start = seg.start + i;
            let space = b == b' ';
            match tokens.last_mut() {
                Some(t) if t.space == space => {
                    t.range.end = start + 1;
                    t.width += 1;
                }
                _ => tokens.push(Token { range: start..start + 1, width: 1, space }),
            }
        }
        return tokens;
    }
    for (i, g) in text[seg.clone()].grapheme_indices(true) {
        let start = seg.start + i;
        let width = grapheme_width(g);
        let space = g == " ";
        // Break opportunities: between spaces and non-spaces, and before any wide character
        // (CJK text has no spaces). A narrow character sticks to the wide one before it, so
        // punctuation does not start a line.
        let joins = tokens.last().is_some_and(|t: &Token| t.space == space && (space || width < 2));
        match tokens.last_mut() {
            Some(t) if joins => {
                t.range.end = start + g.len();
                t.width += width;
            }
            _ => tokens.push(Token { range: start..start + g.len(), width, space }),
        }
    }
    tokens
}

fn wrap_segment(inline: &Inline, seg: Range<usize>, width: usize, lines: &mut Vec<Vec<Span<'static>>>) {
    let text = &inline.text;
    let mut cur: Vec<Piece> = Vec::new();
    let mut cur_w = 0;
    let mut spaces: Vec<Range<usize>> = Vec::new();
    let mut spaces_w = 0;
    let mut flush = |cur: &mut Vec<Piece>, cur_w: &mut usize| {
        let mut spans = Vec::new();
        for piece in cur.drain(..) {
            match piece {
                Piece::Text(r) => inline.emit(r, &mut spans),
                Piece::TooWide(at) => push_span(&mut spans, TOO_WIDE, inline.style_at(at)),
            }
        }
        lines.push(spans);
        *cur_w = 0;
    };
    for token in tokens(text, seg) {
        if token.space {
            // Spaces at the start of a line are dropped; between words they are kept as typed.
            if cur_w > 0 {
                spaces.push(token.range);
                spaces_w += token.width;
            }
            continue;
        }
        if cur_w + spaces_w + token.width <= width {
            cur.extend(spaces.drain(..).map(Piece::Text));
            cur.push(Piece::Text(token.range));
            cur_w += spaces_w + token.width;
        } else if token.width <= width {
            flush(&mut cur, &mut cur_w);
            spaces.clear();
            cur.push(Piece::Text(token.range));
            cur_w = token.width;
        } else {
            // Longer than a line: start it here if some room is left, then break anywhere
            // between graphemes.
            if cur_w > 0 && cur_w + spaces_w < width {
                cur.extend(spaces.drain(..).map(Piece::Text));
                cur_w += spaces_w;
            } else if cur_w > 0 {
                flush(&mut cur, &mut cur_w);
            }
            spaces.clear();
            for (i, g) in text[token.range.clone()].grapheme_indices(true) {
                let start = token.range.start + i;
                let gw = grapheme_width(g);
                let (piece, gw) =
                    if gw > width { (Piece::TooWide(start), 1) } else { (Piece::Text(start..start + g.len()), gw) };
                if cur_w + gw > width {
                    flush(&mut cur, &mut cur_w);
                }
                cur.push(piece);
                cur_w += gw;
            }
        }
        spaces_w = 0;
    }
    if !cur.is_empty() {
        flush(&mut cur, &mut cur_w);
    }
}

/// The widest prefix that leaves `min(width, 8)` columns for content.
pub(crate) fn max_prefix(width: usize) -> usize {
    width.saturating_sub(width.min(MIN_CONTENT))
}

/// Clips a line prefix (quote bars, list indents) so at least `min(width, 8)` columns stay for
/// content, dropping its leftmost graphemes first so the innermost marker stays visible.
/// Returns the prefix and its width.
pub(crate) fn fit_prefix(prefix: Vec<Span<'static>>, width: usize) -> (Vec<Span<'static>>, usize) {
    let max = max_prefix(width);
    let total = spans_width(&prefix);
    if total <= max {
        return (prefix, total);
    }
    let mut drop = total - max;
    let mut out = Vec::new();
    for span in prefix {
        if drop == 0 {
            out.push(span);
            continue;
        }
        let mut kept = String::new();
        for g in span.content.graphemes(true) {
            let gw = grapheme_width(g);
            if drop > 0 {
                // A wide grapheme straddling the cut becomes a space so columns still add up.
                if gw > drop {
                    kept.push_str(&" ".repeat(gw - drop));
                }
                drop = drop.saturating_sub(gw);
            } else {
                kept.push_str(g);
            }
        }
        if !kept.is_empty() {
            out.push(Span::styled(kept, span.style));
        }
    }
    let width = spans_width(&out);
    (out, width)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(s: &str) -> Inline {
        let mut i = Inline::default();
        i.push(s, Style::default());
        i
    }

    fn texts(lines: Vec<Vec<Span<'static>>>) -> Vec<String> {
        lines.into_iter().map(|l| l.iter().map(|s| s.content.as_ref()).collect()).collect()
    }

    #[test]
    fn wraps_at_spaces_and_breaks_long_words() {
        assert_eq!(texts(wrap(&plain("the quick brown fox"), 10)), ["the quick", "brown fox"]);
        assert_eq!(texts(wrap(&plain("abcdefghijkl xy"), 5)), ["abcde", "fghij", "kl xy"]);
        assert_eq!(texts(wrap(&plain("a  b"), 10)), ["a  b"]);
    }

    #[test]
    fn cjk_breaks_between_characters() {
        assert_eq!(texts(wrap(&plain("日本語の文章"), 5)), ["日本", "語の", "文章"]);
        assert_eq!(texts(wrap(&plain("日本"), 1)), ["?", "?"]);
    }

    #[test]
    fn styles_survive_wrapping() {
        let mut i = Inline::default();
        i.push("plain ", Style::default());
        i.push("bold words", Style::default().add_modifier(ratatui::style::Modifier::BOLD));
        let lines = wrap(&i, 11);
        assert_eq!(texts(lines.clone()), ["plain bold", "words"]);
        assert_eq!(lines[0].len(), 2);
    }

    #[test]
    fn hard_breaks_make_lines() {
        let mut i = plain("one");
        i.hard_break();
        i.hard_break();
        i.push("two", Style::default());
        assert_eq!(texts(wrap(&i, 10)), ["one", "", "two"]);
    }

    #[test]
    fn prefix_is_clipped_from_the_left() {
        let prefix = vec![Span::raw("│ │ │ "), Span::raw("• ")];
        let (fitted, w) = fit_prefix(prefix, 12);
        assert_eq!(w, 4);
        assert_eq!(fitted.iter().map(|s| s.content.as_ref()).collect::<String>(), "│ • ");
    }
}
