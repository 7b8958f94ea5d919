//! Code blocks: highlighting cached per complete line (so a growing block highlights only its
//! new lines) and layout as a panel with a gutter, lines hard-broken at the width, tabs expanded.

use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use super::wrap::{hard_break, push_span, spans_width, str_width};
use crate::ui::highlight::{LineHighlighter, Piece};
use crate::ui::theme::MarkdownStyle;

const GUTTER: &str = "▎ ";
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

/// Highlighted lines of one code block, extended as the block grows.
#[derive(Debug, Default)]
pub(crate) struct CodeHighlight {
    key: Option<(Option<String>, String, bool)>,
    /// The complete lines highlighted so far, to check the next call extends them.
    seen: String,
    lines: Vec<Vec<Piece>>,
    /// The highlighter's state after `seen`; `None` for plain code.
    hl: Option<LineHighlighter>,
}

impl CodeHighlight {
    /// Brings the cache up to date with `code` and returns the pieces of its unfinished last
    /// line (empty when `code` ends with a newline). When `code` does not extend what was seen,
    /// or the language or syntax theme changed, highlighting restarts from the top.
    pub(crate) fn update(&mut self, lang: Option<&str>, code: &str, st: &MarkdownStyle) -> Vec<Piece> {
        let key = (lang.map(str::to_string), st.syntax_theme.clone(), st.no_color);
        if self.key.as_ref() != Some(&key) || !code.starts_with(self.seen.as_str()) {
            self.seen.clear();
            self.lines.clear();
            self.hl = lang.and_then(|l| LineHighlighter::new(l, &st.syntax_theme, st.no_color));
            self.key = Some(key);
        }
        let rest = &code[self.seen.len()..];
        let complete = rest.rfind('\n').map_or(0, |i| i + 1);
        for line in rest[..complete].split_inclusive('\n') {
            let pieces = match &mut self.hl {
                Some(hl) => hl.line(line),
                None => vec![(line.to_string(), Style::default())],
            };
            self.lines.push(pieces);
        }
        self.seen.push_str(&rest[..complete]);
        let tail = &rest[complete..];
        match (&self.hl, tail.is_empty()) {
            (_, true) => Vec::new(),
            (Some(hl), false) => hl.peek(tail),
            (None, false) => vec![(tail.to_string(), Style::default())],
        }
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
    // Below three columns the gutter would leave no room for code.
    let gutter = width > GUTTER_WIDTH;
    let avail = if gutter { width - GUTTER_WIDTH } else { width };
    let gutter_style = st.code_block.patch(st.rule);
    for row in hard_break(pieces, avail) {
        let mut spans = Vec::with_capacity(row.len() + 2);
        if gutter {
            spans.push(Span::styled(GUTTER, gutter_style));
        }
        let used = spans_width(&row) + if gutter { GUTTER_WIDTH } else { 0 };
        spans.extend(row);
        // With a background colour the block reads as a panel; without one padding is noise.
        if st.code_block.bg.is_some() && used < width {
            push_span(&mut spans, &" ".repeat(width - used), st.code_block);
        }
        out.push(Line::from(spans));
    }
}

/// Replaces tabs by spaces to the next tab stop and drops the line's newline.
fn expand_tabs(pieces: &[Piece]) -> Vec<Piece> {
    let mut col = 0;
    let mut out = Vec::with_capacity(pieces.len());
    for (text, style) in pieces {
        let text = text.strip_suffix('\n').unwrap_or(text);
        if !text.contains('\t') {
            col += str_width(text);
            out.push((text.to_string(), *style));
            continue;
        }
        let mut expanded = String::with_capacity(text.len() + 8);
        for (i, part) in text.split('\t').enumerate() {
            if i > 0 {
                let n = TAB_STOP - col % TAB_STOP;
                expanded.extend(std::iter::repeat_n(' ', n));
                col += n;
            }
            expanded.push_str(part);
            col += str_width(part);
        }
        out.push((expanded, *style));
    }
    out
}

/// Renders a whole code block (header and lines) using and updating `cache`.
pub(crate) fn render_block(
    lang: Option<&str>,
    code: &str,
    width: usize,
    st: &MarkdownStyle,
    cache: &mut CodeHighlight,
) -> Vec<Line<'static>> {
    let tail = cache.update(lang, code, st);
    let mut out = Vec::new();
    out.extend(header(lang, width, st));
    for line in cache.lines() {
        render_line(line, width, st, &mut out);
    }
    if !tail.is_empty() {
        render_line(&tail, width, st, &mut out);
    }
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
        let tail = cache.update(Some("rust"), "fn a() {}\nlet", &st);
        assert_eq!(cache.lines().len(), 1);
        assert_eq!(tail.iter().map(|p| p.0.as_str()).collect::<String>(), "let");
        cache.update(Some("rust"), "fn a() {}\nlet x = 1;\n", &st);
        assert_eq!(cache.lines().len(), 2);
        cache.update(Some("rust"), "different\n", &st);
        assert_eq!(cache.lines().len(), 1);
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
