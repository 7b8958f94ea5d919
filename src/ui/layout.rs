//! Where everything goes for a terminal size: sidebar, the pane grid (or one zoomed pane), the
//! input box and the status line. Pure arithmetic, so every size can be tested.

use ratatui::layout::Rect;

/// Below this the chatroom shows a "terminal too small" message instead.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 15;
/// A pane narrower than this wraps too much to read; the grid adds rows instead. (Three panes
/// of 31 columns, as at 120 columns with the sidebar, still read well.)
const MIN_PANE_WIDTH: u16 = 30;
const MIN_PANE_HEIGHT: u16 = 5;
/// The sidebar appears from this width up (it can be toggled).
const SIDEBAR_FROM_WIDTH: u16 = 80;

/// How the panes share the main area; `/layout` cycles through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LayoutMode {
    /// A balanced grid: as many panes across as stay readable, rows filled evenly (3×2, not 5+1).
    #[default]
    Grid,
    /// Every pane side by side in one row.
    Columns,
    /// Every pane full width, one above the other.
    Stacked,
}

impl LayoutMode {
    /// The mode after this one in `/layout`'s cycle.
    pub fn next(self) -> LayoutMode {
        match self {
            LayoutMode::Grid => LayoutMode::Columns,
            LayoutMode::Columns => LayoutMode::Stacked,
            LayoutMode::Stacked => LayoutMode::Grid,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            LayoutMode::Grid => "grid",
            LayoutMode::Columns => "columns",
            LayoutMode::Stacked => "stacked",
        }
    }

    /// `/layout NAME`: the mode of that name.
    pub fn parse(name: &str) -> Option<LayoutMode> {
        [LayoutMode::Grid, LayoutMode::Columns, LayoutMode::Stacked].into_iter().find(|m| m.name() == name)
    }
}

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
    compute_in(LayoutMode::Grid, area, n_panes, zoom, sidebar, input_lines)
}

/// [`compute`] with the panes arranged by `mode`.
pub fn compute_in(
    mode: LayoutMode,
    area: Rect,
    n_panes: usize,
    zoom: Option<usize>,
    sidebar: bool,
    input_lines: usize,
) -> Regions {
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
        None => grid(main, n_panes, mode),
    };
    Regions { sidebar, panes, input, status }
}

/// The panes in rows of `columns(..)` each; a short last row shares its width among fewer panes.
fn grid(area: Rect, n: usize, mode: LayoutMode) -> Vec<(usize, Rect)> {
    if n == 0 || area.width == 0 || area.height == 0 {
        return Vec::new();
    }
    let n16 = u16::try_from(n).unwrap_or(u16::MAX);
    let cols = match mode {
        LayoutMode::Grid => balanced_columns(area, n16),
        LayoutMode::Columns => n16,
        LayoutMode::Stacked => 1,
    };
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

/// As few rows as keep every pane at least `MIN_PANE_WIDTH` wide, then as few columns as fill
/// those rows: 6 panes that fit 5 across become 3×2, not 5 + 1. When the rows would be too
/// short to read, panes get narrower instead.
fn balanced_columns(area: Rect, n: u16) -> u16 {
    let fit_across = (area.width / MIN_PANE_WIDTH).clamp(1, n);
    let fit_down = (area.height / MIN_PANE_HEIGHT).max(1);
    let rows = n.div_ceil(fit_across).min(fit_down);
    n.div_ceil(rows)
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

    fn shape(r: &Regions) -> Vec<usize> {
        let mut rows: Vec<(u16, usize)> = Vec::new();
        for (_, a) in &r.panes {
            match rows.iter_mut().find(|(y, _)| *y == a.y) {
                Some((_, n)) => *n += 1,
                None => rows.push((a.y, 1)),
            }
        }
        rows.into_iter().map(|(_, n)| n).collect()
    }

    #[test]
    fn grids_are_balanced_and_use_the_width() {
        // The cases: 6 panes at 200 columns were 5 + 1, 3 at 120 were 2 + 1.
        assert_eq!(shape(&compute(area(200, 50), 6, None, true, 1)), [3, 3]);
        assert_eq!(shape(&compute(area(120, 40), 3, None, true, 1)), [3]);
        assert_eq!(shape(&compute(area(160, 48), 5, None, false, 1)), [5]);
        assert_eq!(shape(&compute(area(120, 40), 5, None, true, 1)), [3, 2]);
        assert_eq!(shape(&compute(area(80, 24), 6, None, true, 1)), [2, 2, 2]);
        assert_eq!(shape(&compute(area(60, 15), 6, None, true, 1)), [3, 3], "short: narrower panes, fewer rows");
    }

    #[test]
    fn layout_modes_cycle_through_columns_and_stacked() {
        let mut mode = LayoutMode::default();
        let mut seen = Vec::new();
        for _ in 0..3 {
            seen.push(mode.name());
            mode = mode.next();
        }
        assert_eq!(seen, ["grid", "columns", "stacked"]);
        assert_eq!(mode, LayoutMode::Grid);
        assert_eq!(LayoutMode::parse("stacked"), Some(LayoutMode::Stacked));
        let r = |m| shape(&compute_in(m, area(200, 50), 4, None, true, 1));
        assert_eq!(r(LayoutMode::Columns), [4]);
        assert_eq!(r(LayoutMode::Stacked), [1, 1, 1, 1]);
        assert_eq!(r(LayoutMode::Grid), [4]);
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
                for mode in [LayoutMode::Columns, LayoutMode::Stacked] {
                    let _ = compute_in(mode, area(w, h), 6, None, true, 3);
                }
            }
        }
        assert!(too_small(area(59, 40)));
        assert!(!too_small(area(60, 15)));
    }
}
