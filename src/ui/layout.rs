//! Where everything goes for a terminal size: sidebar, the pane grid (or one zoomed pane), the
//! input box and the status line. Pure arithmetic, so every size can be tested.

use ratatui::layout::Rect;

/// Below this the chatroom shows a "terminal too small" message instead.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 15;
/// A pane narrower than this wraps too much to read; the grid adds rows instead.
const MIN_PANE_WIDTH: u16 = 32;
const MIN_PANE_HEIGHT: u16 = 5;
/// The sidebar appears from this width up (it can be toggled).
const SIDEBAR_FROM_WIDTH: u16 = 80;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Regions {
    pub sidebar: Option<Rect>,
    /// (pane index, area) for each pane drawn; a zoomed room draws one.
    pub panes: Vec<(usize, Rect)>,
    pub input: Rect,
    pub status: Rect,
}

pub fn too_small(area: Rect) -> bool {
    area.width < MIN_WIDTH || area.height < MIN_HEIGHT
}

/// `input_lines` is the number of lines in the draft; the box grows with it up to a third of
/// the height.
pub fn compute(area: Rect, n_panes: usize, zoom: Option<usize>, sidebar: bool, input_lines: usize) -> Regions {
    let status = Rect { x: area.x, y: area.bottom().saturating_sub(1), width: area.width, height: 1.min(area.height) };
    let max_input = (area.height / 3).max(3);
    let input_h = (u16::try_from(input_lines).unwrap_or(u16::MAX).saturating_add(2)).clamp(3, max_input);
    let input_h = input_h.min(area.height.saturating_sub(status.height));
    let input = Rect { x: area.x, y: status.y.saturating_sub(input_h), width: area.width, height: input_h };
    let top_h = input.y.saturating_sub(area.y);
    let mut main = Rect { x: area.x, y: area.y, width: area.width, height: top_h };

    let sidebar = if sidebar && area.width >= SIDEBAR_FROM_WIDTH {
        let w = (area.width / 5).clamp(26, 40);
        let side = Rect { x: main.right() - w, y: main.y, width: w, height: main.height };
        main.width -= w;
        Some(side)
    } else {
        None
    };

    let panes = match zoom.filter(|&z| z < n_panes) {
        Some(z) => vec![(z, main)],
        None => grid(main, n_panes),
    };
    Regions { sidebar, panes, input, status }
}

/// Panes side by side while they are at least `MIN_PANE_WIDTH` wide, then in rows.
fn grid(area: Rect, n: usize) -> Vec<(usize, Rect)> {
    if n == 0 || area.width == 0 || area.height == 0 {
        return Vec::new();
    }
    let n16 = u16::try_from(n).unwrap_or(u16::MAX);
    let mut cols = n16.min((area.width / MIN_PANE_WIDTH).max(1));
    // Too many rows for the height: squeeze more panes per row instead.
    while n16.div_ceil(cols) * MIN_PANE_HEIGHT > area.height && cols < n16 {
        cols += 1;
    }
    let rows = n16.div_ceil(cols);
    let mut out = Vec::with_capacity(n);
    for row in 0..rows {
        let y = area.y + split(area.height, rows, row).0;
        let h = split(area.height, rows, row).1;
        let first = usize::from(row * cols);
        let in_row = (n - first).min(usize::from(cols));
        let in_row16 = u16::try_from(in_row).unwrap_or(1);
        for col in 0..in_row16 {
            let (dx, w) = split(area.width, in_row16, col);
            out.push((first + usize::from(col), Rect { x: area.x + dx, y, width: w, height: h }));
        }
    }
    out
}

/// Offset and size of part `i` of `total` split into `parts` near-equal parts.
fn split(total: u16, parts: u16, i: u16) -> (u16, u16) {
    let parts = parts.max(1);
    let start = u32::from(total) * u32::from(i) / u32::from(parts);
    let end = u32::from(total) * (u32::from(i) + 1) / u32::from(parts);
    (start as u16, (end - start) as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn area(w: u16, h: u16) -> Rect {
        Rect::new(0, 0, w, h)
    }

    #[test]
    fn panes_tile_the_main_area_without_overlap() {
        for (w, h) in [(60, 15), (80, 24), (160, 48), (400, 120), (61, 17)] {
            for n in 1..=8 {
                let r = compute(area(w, h), n, None, true, 1);
                assert_eq!(r.panes.len(), n);
                let covered: u32 = r.panes.iter().map(|(_, a)| u32::from(a.width) * u32::from(a.height)).sum();
                let main_w = w - r.sidebar.map_or(0, |s| s.width);
                assert_eq!(covered, u32::from(main_w) * u32::from(r.input.y), "{w}x{h} n={n}");
                for (i, (_, a)) in r.panes.iter().enumerate() {
                    for (_, b) in &r.panes[i + 1..] {
                        assert!(!a.intersects(*b), "{w}x{h} n={n}: {a:?} overlaps {b:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn wide_terminals_put_panes_side_by_side() {
        let r = compute(area(160, 48), 4, None, true, 1);
        assert!(r.panes.iter().all(|(_, a)| a.y == 0));
        let r = compute(area(80, 24), 4, None, true, 1);
        assert!(r.panes.iter().any(|(_, a)| a.y > 0), "narrow: a grid");
    }

    #[test]
    fn zoom_shows_one_pane_and_input_grows() {
        let r = compute(area(120, 40), 3, Some(1), true, 1);
        assert_eq!(r.panes.len(), 1);
        assert_eq!(r.panes[0].0, 1);
        let tall = compute(area(120, 40), 3, None, true, 50);
        assert_eq!(tall.input.height, 40 / 3);
        assert_eq!(compute(area(120, 40), 3, None, true, 1).input.height, 3);
    }

    #[test]
    fn tiny_sizes_do_not_panic() {
        for w in 0..20 {
            for h in 0..20 {
                let _ = compute(area(w, h), 6, None, true, 3);
                let _ = compute(area(w, h), 6, Some(5), false, 0);
            }
        }
        assert!(too_small(area(59, 40)));
        assert!(!too_small(area(60, 15)));
    }
}
