//! Greedy word wrapping of plain text (errors, notices, footers) by display width; the
//! markdown renderer does its own wrapping for message bodies.

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthChar;

/// `text` wrapped to `width` columns, one styled line per row; `\n` starts a new row. Words
/// longer than the width are broken. Width 0 yields nothing rather than looping.
pub fn plain(text: &str, width: u16, style: Style) -> Vec<Line<'static>> {
    let width = usize::from(width);
    if width == 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        let mut line_w = 0;
        for word in paragraph.split_inclusive(' ') {
            let word_w: usize = word.chars().map(|c| c.width().unwrap_or(0)).sum();
            if line_w + word_w.saturating_sub(usize::from(word.ends_with(' '))) > width && line_w > 0 {
                out.push(Line::from(Span::styled(std::mem::take(&mut line).trim_end().to_string(), style)));
                line_w = 0;
            }
            for c in word.chars() {
                let mut w = c.width().unwrap_or(0);
                // A wide character in a one-column pane cannot be shown; mark it instead.
                let c = if w > width {
                    w = 1;
                    '…'
                } else {
                    c
                };
                if line_w + w > width {
                    if c == ' ' {
                        continue;
                    }
                    out.push(Line::from(Span::styled(std::mem::take(&mut line), style)));
                    line_w = 0;
                }
                line.push(c);
                line_w += w;
            }
        }
        out.push(Line::from(Span::styled(line.trim_end().to_string(), style)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn widths(lines: &[Line<'_>]) -> Vec<usize> {
        lines.iter().map(Line::width).collect()
    }

    #[test]
    fn wraps_at_word_boundaries_and_breaks_long_words() {
        let lines = plain("the quick brown fox", 10, Style::default());
        let text: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        assert_eq!(text, ["the quick", "brown fox"]);
        let long = plain("abcdefghijklmnop", 5, Style::default());
        assert_eq!(widths(&long), [5, 5, 5, 1]);
    }

    #[test]
    fn wide_characters_count_two_columns() {
        let lines = plain("日本語のテキスト", 5, Style::default());
        assert!(widths(&lines).iter().all(|&w| w <= 5));
        assert_eq!(lines.iter().map(|l| l.to_string()).collect::<String>(), "日本語のテキスト");
    }

    #[test]
    fn zero_and_one_column_never_panic() {
        assert!(plain("hello", 0, Style::default()).is_empty());
        assert!(plain("日本 x", 1, Style::default()).iter().all(|l| l.width() <= 1));
    }
}
