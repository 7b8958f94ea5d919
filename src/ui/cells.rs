//! Writing one wrapped line into a row of a ratatui buffer: what `Buffer::set_line` does, with
//! a fast path for spans of printable ASCII, where each byte is one cell; and comparing cells as
//! `Cell`'s `==` does, with a fast path for one-byte symbols.
//!
//! Why: ratatui cuts every span into grapheme clusters and measures each one. Most of what a
//! model writes is ASCII, where that work finds one cell per byte; at 200 tok/s it was a sixth
//! of the drawing thread's instructions (callgrind, one pane: ~38,000 instructions per row
//! written). Spans with anything else (wide or combining characters, emoji, control characters)
//! still go through ratatui, so the cells are the same either way (a property test compares).

use ratatui::buffer::{Buffer, Cell};
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Line;

/// `Buffer::set_line(x, y, line, max_width)`, cell for cell, returning where the line ended.
pub fn set_line(buf: &mut Buffer, x: u16, y: u16, line: &Line<'_>, max_width: u16) -> (u16, u16) {
    if !(buf.area.top()..buf.area.bottom()).contains(&y) || x < buf.area.left() {
        // Outside the buffer: ratatui's own behaviour, whatever it is.
        return buf.set_line(x, y, line, max_width);
    }
    let mut remaining = max_width;
    let mut x = x;
    for span in line {
        if remaining == 0 {
            break;
        }
        let style = line.style.patch(span.style);
        let text = span.content.as_ref();
        let end = if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            let room = buf.area.right().saturating_sub(x).min(remaining);
            let n = usize::from(room).min(text.len());
            if n > 0 {
                let start = buf.index_of(x, y);
                for (cell, byte) in buf.content[start..start + n].iter_mut().zip(text.bytes()) {
                    cell.set_char(char::from(byte)).set_style(style);
                }
            }
            x + n as u16
        } else {
            buf.set_stringn(x, y, text, usize::from(remaining), style).0
        };
        remaining = remaining.saturating_sub(end.saturating_sub(x));
        x = end;
    }
    (x, y)
}

/// `a == b` for cells (ratatui's `PartialEq`: a cell without a symbol equals one holding a
/// space), comparing one-byte symbols as bytes. Why: the frame diff compares about a thousand
/// cells a frame, and ratatui's comparison compares every symbol as a string, through a
/// `memcmp` call, though nearly all are one byte (callgrind: 76 instructions a comparison, 57
/// here; the comparisons' share of the drawing thread's instructions 13% → 10%).
pub fn same(a: &Cell, b: &Cell) -> bool {
    let (x, y) = (a.symbol().as_bytes(), b.symbol().as_bytes());
    let symbols = match (x, y) {
        ([p], [q]) => p == q,
        _ => x == y,
    };
    #[allow(deprecated)] // part of ratatui's comparison still
    let skip = a.skip == b.skip;
    symbols
        && a.fg == b.fg
        && a.bg == b.bg
        && a.modifier == b.modifier
        && a.underline_color == b.underline_color
        && a.diff_option == b.diff_option
        && skip
}

/// `a == b` for rows of cells, by [`same`].
pub fn same_row(a: &[Cell], b: &[Cell]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same(a, b))
}

/// Blank the cells of `rect` (the part inside the buffer) and give them `style`: each cell reset,
/// then `Buffer::set_style`, in one pass over each row (`Style::default()` only blanks).
pub fn blank(buf: &mut Buffer, rect: Rect, style: Style) {
    let rect = rect.intersection(buf.area);
    if rect.is_empty() {
        return;
    }
    for y in rect.top()..rect.bottom() {
        let start = buf.index_of(rect.x, y);
        for cell in &mut buf.content[start..start + usize::from(rect.width)] {
            cell.reset();
            cell.set_style(style);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use ratatui::buffer::{Cell, CellDiffOption};
    use ratatui::style::{Color, Modifier};
    use ratatui::text::Span;

    /// Pieces of text with every kind of cluster the fast path must leave to ratatui.
    const PIECES: &[&str] = &[
        "a", "Z", " ", "  ", "f(x);", "~", "\t", "\n", "\r\n", "\x1b[m", "\x7f", "é", "e\u{301}", "中", "文字", "😀",
        "👍🏽", "\u{FE0F}", "\u{200D}", "ｱﾞ", "│", "•", "\u{85}", "",
    ];

    fn style_of(n: u8) -> Style {
        let colours = [Color::Reset, Color::Red, Color::Indexed(42), Color::Rgb(1, 2, 3)];
        let mut style = Style::default();
        if n & 1 == 1 {
            style = style.fg(colours[usize::from(n >> 1) % 4]);
        }
        if n & 8 == 8 {
            style = style.bg(colours[usize::from(n >> 4) % 4]);
        }
        if n & 64 == 64 {
            style = style.add_modifier(Modifier::BOLD);
        }
        if n & 128 == 128 {
            style = style.remove_modifier(Modifier::ITALIC);
        }
        style
    }

    fn filled(area: Rect, seed: u8) -> Buffer {
        let mut buf = Buffer::empty(area);
        for (i, cell) in buf.content.iter_mut().enumerate() {
            let n = (i as u8).wrapping_mul(31).wrapping_add(seed);
            if !n.is_multiple_of(3) {
                cell.set_char(char::from(b'a' + n % 26)).set_style(style_of(n));
            }
        }
        buf
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn set_line_writes_what_ratatui_writes(
            spans in proptest::collection::vec((proptest::collection::vec(proptest::sample::select(PIECES), 0..6), any::<u8>()), 0..6),
            line_style in any::<u8>(),
            x in 0u16..24,
            y in 1u16..4,
            max_width in 0u16..30,
            seed in any::<u8>(),
        ) {
            let line = Line::from(
                spans.iter().map(|(pieces, s)| Span::styled(pieces.concat(), style_of(*s))).collect::<Vec<_>>(),
            )
            .style(style_of(line_style));
            let area = Rect::new(2, 1, 20, 3);
            let (mut theirs, mut ours) = (filled(area, seed), filled(area, seed));
            // Rows outside the buffer are ratatui's call either way (it panics there); the
            // chatroom never writes one.
            let x = x.max(area.x);
            let their_end = theirs.set_line(x, y, &line, max_width);
            let our_end = set_line(&mut ours, x, y, &line, max_width);
            prop_assert_eq!(our_end, their_end);
            prop_assert_eq!(ours, theirs);
        }

        #[test]
        fn same_is_ratatuis_comparison(
            a in (proptest::option::of(proptest::sample::select(PIECES)), any::<u8>(), any::<u8>(), any::<bool>()),
            other in (proptest::option::of(proptest::sample::select(PIECES)), any::<u8>(), any::<u8>(), any::<bool>()),
            change in 0u8..7,
        ) {
            // `b` is `a` with one part changed (or none, or all), so equal cells are common.
            let mut b = a;
            match change {
                0 => {}
                1 => b.0 = other.0,
                2 => b.1 = other.1,
                3 => b.2 = other.2,
                4 => b.3 = other.3,
                5 => b.0 = if a.0 == Some(" ") { None } else { Some(" ") },
                _ => b = other,
            }
            let cell = |(symbol, style, option, skip): (Option<&str>, u8, u8, bool)| {
                let mut cell = Cell::EMPTY;
                if let Some(symbol) = symbol {
                    cell.set_symbol(symbol);
                }
                let style = style_of(style);
                cell.set_style(style.underline_color(if style.bg.is_some() { Color::Blue } else { Color::Reset }));
                cell.set_diff_option(match option % 4 {
                    0 => CellDiffOption::None,
                    1 => CellDiffOption::Skip,
                    2 => CellDiffOption::AlwaysUpdate,
                    _ => CellDiffOption::ForcedWidth(std::num::NonZeroU16::MIN.saturating_add(u16::from(option % 3))),
                });
                #[allow(deprecated)] // ratatui still compares the old flag, so the test sets it
                {
                    cell.skip = skip;
                }
                cell
            };
            let (a, b) = (cell(a), cell(b));
            prop_assert_eq!(same(&a, &b), a == b);
            prop_assert_eq!(same_row(&[a.clone(), b.clone()], &[a.clone(), a.clone()]), b == a);
            prop_assert!(!same_row(std::slice::from_ref(&a), &[a.clone(), a.clone()]));
        }

        #[test]
        fn blank_is_reset_then_style(x in 0u16..24, y in 0u16..6, w in 0u16..24, h in 0u16..4, s in any::<u8>(), seed in any::<u8>()) {
            let area = Rect::new(2, 1, 20, 3);
            let rect = Rect::new(x, y, w, h);
            let (mut theirs, mut ours) = (filled(area, seed), filled(area, seed));
            let inside = rect.intersection(area);
            for y in inside.top()..inside.bottom() {
                for x in inside.left()..inside.right() {
                    theirs[(x, y)] = Cell::EMPTY;
                }
            }
            theirs.set_style(rect, style_of(s));
            blank(&mut ours, rect, style_of(s));
            prop_assert_eq!(ours, theirs);
        }
    }
}
