//! Tables: box-drawn with column widths fitted to the available width (cells wrap between
//! words; each column keeps its longest word whole while the width allows), or, when even one
//! column per cell cannot fit, one "header: value" record per row.

use pulldown_cmark::Alignment;
use ratatui::text::{Line, Span};

use super::wrap::{Inline, push_span, spans_width, str_width, wrap};
use crate::ui::theme::MarkdownStyle;

/// Columns narrower than this (unless their content is) make the table fall back to records.
const MIN_CELL: usize = 6;

/// A table as collected from the parser.
#[derive(Debug, Default)]
pub(crate) struct Table {
    pub aligns: Vec<Alignment>,
    pub rows: Vec<Vec<Inline>>,
    /// How many leading rows are the header.
    pub header_rows: usize,
}

impl Table {
    pub(crate) fn render(&self, width: usize, st: &MarkdownStyle) -> Vec<Line<'static>> {
        let cols = self.rows.iter().map(Vec::len).max().unwrap_or(0).max(self.aligns.len());
        if cols == 0 || width == 0 {
            return Vec::new();
        }
        // Borders: "│ " before each cell, " " after it, and a final "│".
        let chrome = 3 * cols + 1;
        if width < chrome + cols {
            return self.records(width, st);
        }
        let natural: Vec<usize> = (0..cols)
            .map(|c| self.rows.iter().filter_map(|r| r.get(c)).map(Inline::natural_width).max().unwrap_or(0).max(1))
            .collect();
        let longest_word: Vec<usize> = (0..cols)
            .map(|c| {
                let words = self.rows.iter().filter_map(|r| r.get(c)).flat_map(|cell| cell.text().split_whitespace());
                words.map(str_width).max().unwrap_or(0)
            })
            .collect();
        let widths = fit_columns_to_words(&natural, &longest_word, width - chrome);
        // Cells squeezed below a few columns break every word: records read better then.
        if widths.iter().zip(&natural).any(|(w, n)| *w < (*n).min(MIN_CELL)) {
            return self.records(width, st);
        }
        self.boxed(&widths, st)
    }

    fn boxed(&self, widths: &[usize], st: &MarkdownStyle) -> Vec<Line<'static>> {
        let border = |left: &str, mid: &str, right: &str| {
            let mut s = String::from(left);
            for (i, w) in widths.iter().enumerate() {
                if i > 0 {
                    s.push_str(mid);
                }
                s.push_str(&"─".repeat(w + 2));
            }
            s.push_str(right);
            Line::from(Span::styled(s, st.table_border))
        };
        let empty = Inline::default();
        let mut out = vec![border("┌", "┬", "┐")];
        for (r, row) in self.rows.iter().enumerate() {
            if r > 0 && r == self.header_rows {
                out.push(border("├", "┼", "┤"));
            }
            let cells: Vec<Vec<Vec<Span<'static>>>> = widths
                .iter()
                .enumerate()
                .map(|(c, &w)| {
                    let cell = row.get(c).unwrap_or(&empty);
                    if cell.is_blank() { Vec::new() } else { wrap(cell, w) }
                })
                .collect();
            let height = cells.iter().map(Vec::len).max().unwrap_or(0).max(1);
            for i in 0..height {
                let mut spans = Vec::new();
                for (c, &w) in widths.iter().enumerate() {
                    push_span(&mut spans, if c == 0 { "│ " } else { " │ " }, st.table_border);
                    let content = cells[c].get(i).cloned().unwrap_or_default();
                    let pad = w.saturating_sub(spans_width(&content));
                    let (before, after) = match self.aligns.get(c) {
                        Some(Alignment::Right) => (pad, 0),
                        Some(Alignment::Center) => (pad / 2, pad - pad / 2),
                        _ => (0, pad),
                    };
                    push_span(&mut spans, &" ".repeat(before), st.text);
                    spans.extend(content);
                    push_span(&mut spans, &" ".repeat(after), st.text);
                }
                push_span(&mut spans, " │", st.table_border);
                out.push(Line::from(spans));
            }
        }
        out.push(border("└", "┴", "┘"));
        out
    }

    /// Too narrow for boxes: each body row becomes "header: value" lines, rows separated by a
    /// rule.
    fn records(&self, width: usize, st: &MarkdownStyle) -> Vec<Line<'static>> {
        let (headers, body) = if self.header_rows > 0 && self.rows.len() > self.header_rows {
            (self.rows.first(), &self.rows[self.header_rows..])
        } else {
            (None, &self.rows[..])
        };
        let mut out = Vec::new();
        for (r, row) in body.iter().enumerate() {
            if r > 0 {
                out.push(Line::from(Span::styled("─".repeat(width), st.table_border)));
            }
            for (c, cell) in row.iter().enumerate() {
                let mut record = Inline::default();
                if let Some(h) = headers.and_then(|h| h.get(c)).filter(|h| !h.is_blank()) {
                    record.push(h.text().trim(), st.text.patch(st.table_header));
                    record.push(": ", st.table_border);
                }
                record.append(cell);
                if !record.is_blank() {
                    out.extend(wrap(&record, width).into_iter().map(Line::from));
                }
            }
        }
        out
    }
}

/// Column widths summing to at most `avail`: columns that fit their natural width keep it, the
/// rest share what is left equally (water filling). Every column gets at least one column.
pub(crate) fn fit_columns(natural: &[usize], avail: usize) -> Vec<usize> {
    if natural.iter().sum::<usize>() <= avail {
        return natural.to_vec();
    }
    let mut widths = vec![0; natural.len()];
    let mut order: Vec<usize> = (0..natural.len()).collect();
    order.sort_by_key(|&c| natural[c]);
    let mut left = avail;
    for (k, &c) in order.iter().enumerate() {
        let share = left / (natural.len() - k);
        widths[c] = natural[c].min(share).max(1);
        left = left.saturating_sub(widths[c]);
    }
    widths
}

/// Like [`fit_columns`], but first gives every column its longest word (or its whole content
/// if shorter), so cells wrap between words; the rest of the width goes to the columns with the
/// most left to show. When even the longest words do not fit, [`fit_columns`] decides.
pub(crate) fn fit_columns_to_words(natural: &[usize], longest_word: &[usize], avail: usize) -> Vec<usize> {
    let floor: Vec<usize> = natural.iter().zip(longest_word).map(|(n, w)| (*w).clamp(1, *n)).collect();
    let need: usize = floor.iter().sum();
    if natural.iter().sum::<usize>() <= avail || need > avail {
        return fit_columns(natural, avail);
    }
    let mut widths = floor.clone();
    let mut order: Vec<usize> = (0..natural.len()).collect();
    order.sort_by_key(|&c| natural[c] - floor[c]);
    let mut left = avail - need;
    for (k, &c) in order.iter().enumerate() {
        let share = left / (natural.len() - k);
        let more = (natural[c] - floor[c]).min(share);
        widths[c] += more;
        left -= more;
    }
    widths
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_share_fairly() {
        assert_eq!(fit_columns(&[3, 4], 20), [3, 4]);
        assert_eq!(fit_columns(&[3, 40, 40], 23), [3, 10, 10]);
        assert_eq!(fit_columns(&[5, 5, 5], 3), [1, 1, 1]);
    }

    #[test]
    fn columns_keep_their_longest_word_before_sharing() {
        assert_eq!(fit_columns_to_words(&[30, 30], &[25, 8], 40), [28, 12]);
        assert_eq!(fit_columns_to_words(&[3, 4], &[3, 4], 20), [3, 4]);
        assert_eq!(fit_columns_to_words(&[30, 30], &[25, 25], 40), fit_columns(&[30, 30], 40));
    }

    #[test]
    fn cells_wrap_between_words() {
        let st = MarkdownStyle::default();
        let cell = |t: &str| {
            let mut i = Inline::default();
            i.push(t, ratatui::style::Style::default());
            i
        };
        let table = Table {
            aligns: vec![Alignment::None, Alignment::None],
            rows: vec![
                vec![cell("strategy"), cell("notes")],
                vec![cell("partitioning"), cell("splits the table into many small pieces by range of dates")],
            ],
            header_rows: 1,
        };
        let text: String = table
            .render(30, &st)
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect::<String>() + "\n")
            .collect();
        assert!(text.contains("partitioning"), "{text}");
        assert!(text.lines().all(|l| str_width(l) <= 30), "{text}");
    }
}
