//! Puts drawn frames on the terminal: ratatui's cell diff, plus letting the terminal scroll the
//! rows of a pane that follows its stream instead of rewriting every cell of them.
//!
//! Why: a following pane moves every visible row up by one each time a line completes, so the
//! diff sees the whole pane changed and rewrites it, many times a second (2.5 MB for a
//! 5,000-token answer). A scroll region (DECSTBM, then SU) moves the rows in the terminal for a
//! few bytes, and the diff then sends only what really changed.
//!
//! Correctness never depends on the scroll: the frame writer keeps a copy of what the terminal
//! shows (the last frame it put there), shifts that copy exactly as the terminal shifts its
//! rows, and hands the shifted copy to ratatui as "the previous frame", so the diff repairs
//! every cell the scroll got wrong (the sidebar or a neighbouring pane on the same rows). It
//! scrolls only when that costs fewer cells than not scrolling, and never when what the
//! terminal shows is not known (after a resize, a repaint or another program's turn).

use std::ops::Range;

use ratatui::Terminal;
use ratatui::backend::Backend;
use ratatui::buffer::{Buffer, Cell, CellDiffOption};
use ratatui::layout::Rect;
use ratatui::style::Modifier;

use crate::ui::cells;

/// A region of whole terminal rows whose content moved up by `lines` since the last frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScrollHint {
    pub rows: Range<u16>,
    pub lines: u16,
}

/// How the buffer a retained frame starts from relates to the last frame: it holds the last
/// frame, moved as the terminal was told to scroll. Drawing code asks which row of the last
/// frame a row holds, to skip rows whose content is already there.
///
/// Drawing code also says which rows it wrote (`touch`): the rows of a retained frame nobody
/// touched are the last frame's (the frame being made and the copy of the screen start equal and
/// are scrolled alike), so only touched rows are compared with the screen. A row written without
/// being touched would not be sent: a drawing path that cannot say what it wrote touches all.
#[derive(Debug, Clone, Default)]
pub struct Reuse {
    scroll: Option<ScrollHint>,
    sidebar_unchanged: bool,
    input_unchanged: bool,
    status_unchanged: bool,
    panes_kept: bool,
    touched: std::cell::RefCell<Touched>,
}

/// Where a retained frame's drawing code wrote: per row, the columns from the leftmost to the
/// rightmost cell it wrote (`start == end` where it wrote nothing).
#[derive(Debug, Clone, Default)]
struct Touched {
    all: bool,
    rows: Vec<Columns>,
}

/// Columns `start..end` of a row.
type Columns = (u16, u16);

impl Reuse {
    /// The last frame moved up by `scroll`.
    pub fn scrolled(scroll: ScrollHint) -> Reuse {
        Reuse { scroll: Some(scroll), ..Reuse::default() }
    }

    /// The drawing code wrote (or may have written) cells in `rect`.
    pub fn touch(&self, rect: Rect) {
        if rect.is_empty() {
            return;
        }
        let mut touched = self.touched.borrow_mut();
        let rows = &mut touched.rows;
        let end = usize::from(rect.bottom());
        if rows.len() < end {
            rows.resize(end, (0, 0));
        }
        for columns in &mut rows[usize::from(rect.top())..end] {
            *columns = if columns.0 == columns.1 {
                (rect.left(), rect.right())
            } else {
                (columns.0.min(rect.left()), columns.1.max(rect.right()))
            };
        }
    }

    /// The drawing code wrote where it cannot say: every row is compared.
    pub fn touch_all(&self) {
        self.touched.borrow_mut().all = true;
    }

    /// The columns to compare with the screen, per row: `None` for all of them.
    pub(crate) fn touched_rows(self) -> Option<Vec<Columns>> {
        let touched = self.touched.into_inner();
        (!touched.all).then_some(touched.rows)
    }

    /// Whether the sidebar the last frame drew is still right where it was: its picture is the
    /// same and no rows moved under it.
    pub fn keeps_sidebar(&self) -> bool {
        self.sidebar_unchanged && self.rows_in_place()
    }

    /// Whether every row holds what the same row of the last frame held (no scroll moved any).
    pub fn rows_in_place(&self) -> bool {
        self.scroll.is_none()
    }

    /// Whether the input box the last frame drew would look the same (no scroll reaches it).
    pub fn keeps_input(&self) -> bool {
        self.input_unchanged
    }

    /// Whether the status line the last frame drew would look the same (no scroll reaches it).
    pub fn keeps_status(&self) -> bool {
        self.status_unchanged
    }

    /// Whether the panes stay as the last frame drew them, whatever streamed in since: a frame
    /// for a keystroke that only edited the draft (the next frame slot draws the panes).
    pub fn keeps_panes(&self) -> bool {
        self.panes_kept && self.scroll.is_none()
    }

    /// The row of the last frame that buffer row `y` holds now; `None` when it is blank (a row
    /// that came in at the bottom of a scrolled region).
    pub fn source(&self, y: u16) -> Option<u16> {
        match &self.scroll {
            Some(s) if s.rows.contains(&y) => {
                let from = y + s.lines;
                (from < s.rows.end).then_some(from)
            }
            _ => Some(y),
        }
    }
}

/// How a frame is made.
pub enum FrameMode<'a> {
    /// From a blank buffer, everything drawn; then one of `hints` is scrolled when that makes
    /// the diff cheaper.
    Fresh { hints: &'a [ScrollHint] },
    /// From the last frame (scrolled by `scroll` first): the drawing code redraws what changed
    /// and may leave rows that `Reuse` says are already right; with `panes_kept` it leaves the
    /// panes alone. Falls back to `Fresh` when what the terminal shows is not known.
    Retained {
        scroll: Option<ScrollHint>,
        sidebar_unchanged: bool,
        input_unchanged: bool,
        status_unchanged: bool,
        panes_kept: bool,
    },
}

/// What a frame cost, for the benchmarks.
#[derive(Debug, Default, Clone, Copy)]
pub struct FrameFigures {
    /// Rows scrolled by the terminal instead of being rewritten.
    pub scrolled_rows: u16,
    /// The frame started from the last one rather than from blank.
    pub retained: bool,
    /// The frame left the panes as the last one drew them (see `Reuse::keeps_panes`).
    pub panes_kept: bool,
}

/// Below this many cells saved, a scroll is not worth its escape sequences.
const SCROLL_OVERHEAD_CELLS: usize = 8;

#[derive(Default)]
pub struct FrameWriter {
    /// What the terminal shows: the last frame this writer completed. `None` when the screen is
    /// blank (at the start, after a clear, or after a resize: ratatui clears the terminal then).
    shown: Option<Buffer>,
    /// Whether the next frame may start from the last one and be scrolled; not after a resize,
    /// a repaint or another program's turn.
    trusted: bool,
    /// The size at which ratatui's idle buffer was last let go (see `release_idle_buffer`).
    idle_released_at: Option<Rect>,
}

/// Up to this many unchanged cells between two changed ones on a row are written again rather
/// than stepped over: a cursor move costs more bytes than a few characters.
const GAP_FILL: u16 = 3;

impl FrameWriter {
    /// The terminal's content may not be what the last frame left (a resize, another program
    /// had the screen): the next frame is made fresh, and sent as a plain diff.
    pub fn forget(&mut self) {
        self.trusted = false;
    }

    /// The screen was cleared: the next frame sends every cell that is not blank.
    pub fn cleared(&mut self) {
        self.shown = None;
        self.trusted = false;
    }

    /// Whether a frame of `area` can start from the last one.
    pub fn can_retain(&self, area: Rect) -> bool {
        self.trusted && self.shown.as_ref().is_some_and(|s| s.area == area)
    }

    /// Draw one frame with `render`, which gets `Some(reuse)` when the buffer starts from the
    /// last frame and `None` when it starts blank.
    ///
    /// The terminal's current buffer is the frame being made and is never reset between
    /// retained frames (so nothing is copied to start one); what the terminal shows is kept
    /// here, and only the cells that differ are sent and copied over.
    pub fn draw<B: Backend>(
        &mut self,
        terminal: &mut Terminal<B>,
        mode: FrameMode<'_>,
        render: impl FnOnce(&mut ratatui::Frame<'_>, Option<&Reuse>),
    ) -> Result<FrameFigures, B::Error> {
        terminal.autoresize()?;
        let area = terminal.get_frame().area();
        if self.idle_released_at != Some(area) {
            release_idle_buffer(terminal);
            self.idle_released_at = Some(area);
        }
        let mut figures = FrameFigures::default();
        // The rows a retained frame's drawing touched; `None` compares every row.
        let mut touched = None;
        if self.shown.as_ref().is_some_and(|s| s.area != area) {
            // ratatui cleared the terminal when it resized.
            self.cleared();
        }
        match mode {
            FrameMode::Retained { scroll, sidebar_unchanged, input_unchanged, status_unchanged, panes_kept }
                if self.can_retain(area) =>
            {
                let scroll = scroll.filter(|s| valid(s, area.height).is_some());
                if let Some(scroll) = &scroll {
                    // The frame being made and the copy of the screen move as the terminal will.
                    shift(terminal.current_buffer_mut(), scroll);
                    self.shift_shown(scroll);
                    terminal.backend_mut().scroll_region_up(scroll.rows.clone(), scroll.lines)?;
                    figures.scrolled_rows = scroll.rows.end - scroll.rows.start;
                }
                figures.retained = true;
                let mut frame = terminal.get_frame();
                let reuse = Reuse {
                    scroll,
                    sidebar_unchanged,
                    input_unchanged,
                    status_unchanged,
                    panes_kept,
                    ..Reuse::default()
                };
                figures.panes_kept = reuse.keeps_panes();
                render(&mut frame, Some(&reuse));
                touched = reuse.touched_rows();
            }
            FrameMode::Retained { .. } | FrameMode::Fresh { .. } => {
                let hints = match mode {
                    FrameMode::Fresh { hints } if self.trusted => hints,
                    FrameMode::Retained { .. } | FrameMode::Fresh { .. } => &[],
                };
                terminal.current_buffer_mut().reset();
                let mut frame = terminal.get_frame();
                render(&mut frame, None);
                if let Some(scroll) = self.best_scroll(terminal.current_buffer_mut(), hints) {
                    self.shift_shown(&scroll);
                    terminal.backend_mut().scroll_region_up(scroll.rows.clone(), scroll.lines)?;
                    figures.scrolled_rows = scroll.rows.end - scroll.rows.start;
                }
            }
        }
        self.send(terminal, touched.as_deref())?;
        self.trusted = true;
        Ok(figures)
    }

    /// Send the cells of the frame that differ from what the terminal shows, then remember
    /// them as shown. With `rows`, only those columns of each row can differ (see
    /// `Reuse::touch`).
    fn send<B: Backend>(&mut self, terminal: &mut Terminal<B>, rows: Option<&[Columns]>) -> Result<(), B::Error> {
        // The frame is taken out of the terminal for the moment, so its cells can be lent to
        // the backend.
        let next = std::mem::take(terminal.current_buffer_mut());
        let shown = self.shown.get_or_insert_with(|| Buffer::empty(next.area));
        // Touched rows are counted from the top of the screen (the chatroom's buffer is).
        let rows = rows.filter(|_| next.area.y == 0);
        let updates = with_small_gaps(diff_rows(shown, &next, rows), &next);
        let result = terminal.backend_mut().draw(updates.iter().copied());
        // Rows that changed are copied whole: that also carries over the cells a wide
        // character hides, which the diff never sends.
        let width = usize::from(next.area.width);
        let mut last_row = None;
        for &(_, y, _) in &updates {
            if last_row != Some(y) {
                let row = usize::from(y) * width..(usize::from(y) + 1) * width;
                shown.content[row.clone()].clone_from_slice(&next.content[row]);
                last_row = Some(y);
            }
        }
        *terminal.current_buffer_mut() = next;
        result?;
        let backend = terminal.backend_mut();
        backend.hide_cursor()?;
        backend.flush()
    }

    /// The hint that saves the most cells against a plain diff, if any saves enough.
    fn best_scroll(&self, next: &Buffer, hints: &[ScrollHint]) -> Option<ScrollHint> {
        let shown = self.shown.as_ref().filter(|s| s.area == next.area)?;
        let mut best: Option<(usize, &ScrollHint)> = None;
        for hint in hints {
            let Some(hint) = valid(hint, next.area.height) else { continue };
            let plain = changed_cells(shown, next, hint.rows.clone(), 0);
            let scrolled = changed_cells(shown, next, hint.rows.clone(), hint.lines);
            let saved = plain.saturating_sub(scrolled + SCROLL_OVERHEAD_CELLS);
            if saved > 0 && best.is_none_or(|(s, _)| saved > s) {
                best = Some((saved, hint));
            }
        }
        best.map(|(_, h)| h.clone())
    }

    /// Move `shown`'s rows as the terminal will.
    fn shift_shown(&mut self, scroll: &ScrollHint) {
        if let Some(shown) = self.shown.as_mut() {
            shift(shown, scroll);
        }
    }
}

/// Let go of the second cell buffer ratatui's `Terminal` keeps for its own diff, which this
/// writer never uses (it diffs against what it knows the terminal shows): at 200x50 that is
/// 480 KB held for nothing. ratatui sizes it again at each resize, hence once per size.
fn release_idle_buffer<B: Backend>(terminal: &mut Terminal<B>) {
    // `swap_buffers` blanks the buffer it makes current, so the frame is kept aside meanwhile.
    let frame = std::mem::take(terminal.current_buffer_mut());
    terminal.swap_buffers();
    *terminal.current_buffer_mut() = Buffer::default();
    terminal.swap_buffers();
    *terminal.current_buffer_mut() = frame;
}

/// Move `buffer`'s rows as the terminal moves its own: up by `lines` inside the region, blank
/// rows (the terminal's default colours: the backend resets them before scrolling) coming in
/// at the bottom.
fn shift(buffer: &mut Buffer, scroll: &ScrollHint) {
    let width = usize::from(buffer.area.width);
    if width == 0 {
        return;
    }
    let region = usize::from(scroll.rows.start) * width..usize::from(scroll.rows.end) * width;
    let by = usize::from(scroll.lines) * width;
    let cells = &mut buffer.content[region];
    let by = by.min(cells.len());
    // Row by row, each row swapped with the one `lines` below: contiguous swaps. (`rotate_left`
    // over the whole region takes cells one at a time a row's width apart, which cost an
    // eighth of the drawing thread at 200 tok/s.) What ends at the bottom is cleared anyway.
    for start in (0..cells.len() - by).step_by(width) {
        let (upper, lower) = cells.split_at_mut(start + by);
        upper[start..start + width].swap_with_slice(&mut lower[..width]);
    }
    let len = cells.len();
    cells[len - by..].fill(Cell::EMPTY);
}

/// ratatui's buffer diff (`Buffer::diff`), row by row, passing over rows that are equal: most
/// rows of a frame at a model's pace are, and ratatui's diff works out each equal cell's display
/// width on the way. Same cells out, in the same order (a test compares the two). With `rows`,
/// only the columns given for a row can differ (the rest is known to be equal): a row is
/// compared and diffed there, from the first cell boundary at or after the first given column
/// (the cells before it are equal, so ratatui's diff sends none of them and only steps over
/// them by their widths).
fn diff_rows<'a>(shown: &Buffer, next: &'a Buffer, rows: Option<&[Columns]>) -> Vec<(u16, u16, &'a Cell)> {
    let width = usize::from(next.area.width);
    let mut out = Vec::new();
    if shown.area != next.area || width == 0 {
        return shown.diff(next);
    }
    for (y, (old, new)) in shown.content.chunks(width).zip(next.content.chunks(width)).enumerate() {
        let columns = match rows {
            None => 0..width,
            Some(rows) => match rows.get(y) {
                Some(&(start, end)) => usize::from(start).min(width)..usize::from(end).min(width),
                None => continue,
            },
        };
        if !cells::same_row(&old[columns.clone()], &new[columns.clone()]) {
            diff_row(old, new, next.area.y + y as u16, next.area.x, columns, &mut out);
        }
    }
    out
}

/// One row of ratatui's `BufferDiff` (ratatui-core 0.1, `buffer/diff.rs`): changed cells, the
/// cells a wide character covers passed over, and the columns a replaced wide character
/// covered re-sent where the terminal may still show it. Only `columns` may differ: the cells
/// before them are stepped over as the diff steps over equal cells, and it stops after them.
fn diff_row<'a>(
    prev: &[Cell],
    next: &'a [Cell],
    y: u16,
    x0: u16,
    columns: Range<usize>,
    out: &mut Vec<(u16, u16, &'a Cell)>,
) {
    const VISIBLE_ON_BLANK: Modifier = Modifier::REVERSED
        .union(Modifier::UNDERLINED)
        .union(Modifier::SLOW_BLINK)
        .union(Modifier::RAPID_BLINK)
        .union(Modifier::CROSSED_OUT);
    let len = next.len().min(prev.len());
    let at = |i: usize| (x0 + i as u16, y);
    let mut pos = 0;
    while pos < columns.start.min(len) {
        pos += match next[pos].diff_option {
            CellDiffOption::ForcedWidth(width) => usize::from(width.get()),
            _ if is_skip(&next[pos]) => 1,
            _ => display_width(&next[pos]).max(1),
        };
    }
    while pos < columns.end.min(len) {
        let i = pos;
        pos += 1;
        let (current, previous) = (&next[i], &prev[i]);
        match current.diff_option {
            CellDiffOption::Skip => {}
            _ if is_skip(current) => {}
            CellDiffOption::ForcedWidth(width) => {
                pos = pos.saturating_add(usize::from(width.get()).saturating_sub(1));
                if !cells::same(current, previous) {
                    let (x, y) = at(i);
                    out.push((x, y, current));
                }
            }
            CellDiffOption::None | CellDiffOption::AlwaysUpdate => {
                let cell_width = display_width(current);
                if matches!(current.diff_option, CellDiffOption::None) && cells::same(current, previous) {
                    pos += cell_width.saturating_sub(1);
                    continue;
                }
                let previous_width = display_width(previous);
                let (x, y) = at(i);
                out.push((x, y, current));
                let trailing = if cell_width > 1 && current.symbol().contains('\u{FE0F}') {
                    Some((i + 1, (i + cell_width).min(len), false))
                } else if cell_width > 1 {
                    pos += cell_width - 1;
                    None
                } else if previous_width > cell_width
                    && (previous.bg != ratatui::style::Color::Reset || previous.modifier.intersects(VISIBLE_ON_BLANK))
                {
                    Some((i + 1, i + previous_width, true))
                } else {
                    None
                };
                if let Some((mut j, mut end, force)) = trailing {
                    while j < end.min(len) {
                        let w = display_width(&next[j]).max(1);
                        let k = j;
                        j += w;
                        end = end.max(j).min(len);
                        if !is_skip(&next[k]) && (force || prev[k].symbol() != next[k].symbol()) {
                            let (x, y) = at(k);
                            out.push((x, y, &next[k]));
                        }
                    }
                    pos = end;
                }
            }
        }
    }
}

/// ratatui's display width of a cell, without its call for the commonest cell, one byte wide.
fn display_width(cell: &Cell) -> usize {
    if cell.symbol().len() == 1 && !matches!(cell.diff_option, CellDiffOption::ForcedWidth(_)) {
        return 1;
    }
    usize::from(ratatui::buffer::CellWidth::cell_width(cell))
}

#[allow(deprecated)] // ratatui's diff still honours the old `skip` flag, and so must this copy
fn is_skip(cell: &Cell) -> bool {
    matches!(cell.diff_option, CellDiffOption::Skip) || (cell.skip && matches!(cell.diff_option, CellDiffOption::None))
}

/// The diff, plus the few unchanged cells between two changed ones on a row when writing them
/// is cheaper than moving the cursor over them: plain one-column characters in the style of the
/// cell before them, so the pen does not change either.
fn with_small_gaps<'a>(diff: Vec<(u16, u16, &'a Cell)>, next: &'a Buffer) -> Vec<(u16, u16, &'a Cell)> {
    let width = next.area.width;
    let mut out = Vec::with_capacity(diff.len());
    let mut last: Option<(u16, u16, &Cell)> = None;
    for (x, y, cell) in diff {
        if let Some((lx, ly, lcell)) = last
            && ly == y
            && lcell.symbol().len() == 1
            && x > lx + 1
            && x - lx - 1 <= GAP_FILL
        {
            let at = |gx: u16| &next.content[usize::from(y) * usize::from(width) + usize::from(gx)];
            let plain = |g: &Cell| g.symbol().len() == 1 && g.diff_option == CellDiffOption::None && same_pen(g, lcell);
            if (lx + 1..x).all(|gx| plain(at(gx))) {
                out.extend((lx + 1..x).map(|gx| (gx, y, at(gx))));
            }
        }
        out.push((x, y, cell));
        last = Some((x, y, cell));
    }
    out
}

fn same_pen(a: &Cell, b: &Cell) -> bool {
    a.fg == b.fg && a.bg == b.bg && a.modifier == b.modifier && a.underline_color == b.underline_color
}

/// A hint the terminal can carry out: inside the screen, moving fewer rows than it has.
fn valid(hint: &ScrollHint, height: u16) -> Option<&ScrollHint> {
    let rows = &hint.rows;
    (rows.start < rows.end && rows.end <= height && hint.lines > 0 && hint.lines < rows.end - rows.start)
        .then_some(hint)
}

/// Cells of `rows` in `next` that differ from `shown` moved up by `by` rows (blank rows coming
/// in at the bottom): how much a diff would send after such a scroll.
fn changed_cells(shown: &Buffer, next: &Buffer, rows: Range<u16>, by: u16) -> usize {
    let width = usize::from(next.area.width);
    let mut changed = 0;
    for y in rows.clone() {
        let new_row = &next.content[usize::from(y) * width..][..width];
        let from = y + by;
        if from < rows.end {
            let old_row = &shown.content[usize::from(from) * width..][..width];
            changed += new_row.iter().zip(old_row).filter(|(a, b)| !cells::same(a, b)).count();
        } else {
            changed += new_row.iter().filter(|c| **c != Cell::EMPTY).count();
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use ratatui::backend::TestBackend;

    use super::*;

    fn text_rows(buffer: &Buffer) -> Vec<String> {
        let w = usize::from(buffer.area.width);
        buffer.content.chunks(w).map(|row| row.iter().map(Cell::symbol).collect::<String>()).collect()
    }

    /// Draws `lines` (one per row from row 1) into a 40x6 terminal beside a "side" column.
    fn render_rows(frame: &mut ratatui::Frame<'_>, lines: &[&str]) {
        let buf = frame.buffer_mut();
        buf.set_string(0, 0, "header", ratatui::style::Style::default());
        for (i, l) in lines.iter().enumerate() {
            buf.set_string(0, 1 + i as u16, l, ratatui::style::Style::default());
            buf.set_string(30, 1 + i as u16, "side", ratatui::style::Style::default());
        }
    }

    #[test]
    fn shifting_moves_rows_as_a_rotation_does_and_blanks_what_comes_in() {
        let area = Rect::new(0, 0, 7, 9);
        let mut buffer = Buffer::empty(area);
        for y in 0..9u16 {
            buffer.set_string(0, y, format!("row {y} x"), ratatui::style::Style::default());
        }
        for (rows, lines) in [(1..8, 1), (1..8, 3), (0..9, 8), (2..3, 1), (0..9, 9)] {
            let mut shifted = buffer.clone();
            shift(&mut shifted, &ScrollHint { rows: rows.clone(), lines });
            let mut expected = buffer.clone();
            let w = usize::from(area.width);
            let region = &mut expected.content[usize::from(rows.start) * w..usize::from(rows.end) * w];
            region.rotate_left(usize::from(lines) * w);
            let len = region.len();
            region[len - usize::from(lines) * w..].fill(Cell::EMPTY);
            assert_eq!(text_rows(&shifted), text_rows(&expected), "rows {rows:?} up by {lines}");
        }
    }

    const FOUR: [&str; 4] = ["one one one one one", "two two two two two", "three three three", "four four four four"];
    const MOVED: [&str; 4] = ["two two two two two", "three three three", "four four four four", "five five five five"];

    /// One fresh frame of `lines` drawn with `hint` offered.
    fn frame(
        writer: &mut FrameWriter,
        terminal: &mut Terminal<TestBackend>,
        hint: &ScrollHint,
        lines: &[&str],
    ) -> FrameFigures {
        let hints = [hint.clone()];
        writer.draw(terminal, FrameMode::Fresh { hints: &hints }, |f, _| render_rows(f, lines)).unwrap()
    }

    #[test]
    fn a_scrolled_frame_leaves_the_terminal_equal_to_the_frame() {
        let mut terminal = Terminal::new(TestBackend::new(40, 6)).unwrap();
        let mut writer = FrameWriter::default();
        let hint = ScrollHint { rows: 1..5, lines: 1 };
        frame(&mut writer, &mut terminal, &hint, &FOUR);
        let figures = frame(&mut writer, &mut terminal, &hint, &MOVED);
        assert_eq!(figures.scrolled_rows, 4, "the rows should have been scrolled, not rewritten");
        let mut expected = Buffer::empty(Rect::new(0, 0, 40, 6));
        for (i, l) in MOVED.iter().enumerate() {
            expected.set_string(0, 1 + i as u16, l, ratatui::style::Style::default());
            expected.set_string(30, 1 + i as u16, "side", ratatui::style::Style::default());
        }
        expected.set_string(0, 0, "header", ratatui::style::Style::default());
        assert_eq!(text_rows(terminal.backend().buffer()), text_rows(&expected));
    }

    #[test]
    fn ratatuis_idle_buffer_is_let_go_at_each_size_and_frames_stay_right() {
        let mut terminal = Terminal::new(TestBackend::new(40, 6)).unwrap();
        let mut writer = FrameWriter::default();
        let hint = ScrollHint { rows: 1..5, lines: 1 };
        let idle_cells = |terminal: &mut Terminal<TestBackend>| {
            terminal.swap_buffers();
            let cells = terminal.current_buffer_mut().content.len();
            terminal.swap_buffers();
            cells
        };
        assert_eq!(idle_cells(&mut terminal), 240, "ratatui allocates both buffers");
        frame(&mut writer, &mut terminal, &hint, &FOUR);
        assert_eq!(idle_cells(&mut terminal), 0);
        terminal.backend_mut().resize(36, 7);
        frame(&mut writer, &mut terminal, &hint, &MOVED);
        assert_eq!(idle_cells(&mut terminal), 0, "a resize sizes it again; the next frame lets it go");
        let rows = text_rows(terminal.backend().buffer());
        assert!(rows[1].starts_with("two two") && rows[4].starts_with("five five"), "{rows:?}");
    }

    #[test]
    fn a_wrong_hint_costs_cells_but_never_correctness() {
        let mut terminal = Terminal::new(TestBackend::new(40, 6)).unwrap();
        let mut writer = FrameWriter::default();
        // Claims a scroll of two rows; the content did not move at all.
        let hint = ScrollHint { rows: 1..5, lines: 2 };
        frame(&mut writer, &mut terminal, &hint, &["a", "b", "c", "d"]);
        let figures = frame(&mut writer, &mut terminal, &hint, &["a", "b", "c", "e"]);
        assert_eq!(figures.scrolled_rows, 0, "a scroll that saves nothing is not done");
        let rows = text_rows(terminal.backend().buffer());
        assert!(rows[4].starts_with('e') && rows[1].starts_with('a'), "{rows:?}");
    }

    #[test]
    fn after_forget_the_next_frame_is_a_plain_diff() {
        let mut terminal = Terminal::new(TestBackend::new(40, 6)).unwrap();
        let mut writer = FrameWriter::default();
        let hint = ScrollHint { rows: 1..5, lines: 1 };
        frame(&mut writer, &mut terminal, &hint, &FOUR);
        writer.forget();
        let figures = frame(&mut writer, &mut terminal, &hint, &MOVED);
        assert_eq!(figures.scrolled_rows, 0);
    }

    /// The row-by-row diff sends exactly what ratatui's diff sends, wide characters, emoji with
    /// a variation selector, styled blanks and skipped cells included; and so it does when told
    /// which columns were written.
    #[test]
    fn the_row_diff_is_ratatuis_diff() {
        use ratatui::style::{Color, Style};
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next_rand = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let area = Rect::new(0, 0, 24, 5);
        let mut shown = Buffer::empty(area);
        for round in 0..500 {
            let mut next = shown.clone();
            // Where this round wrote, as drawing code tells a retained frame (`Reuse::touch`).
            let reuse = Reuse::default();
            for _ in 0..next_rand(8) {
                let (x, y) = (next_rand(24) as u16, next_rand(5) as u16);
                let text = ["語語", "ab", "  ", "❤\u{FE0F}x", "│─", "x"][next_rand(6) as usize];
                let style = match next_rand(4) {
                    0 => Style::reset(),
                    1 => Style::reset().bg(Color::Indexed(235)),
                    2 => Style::reset().add_modifier(Modifier::UNDERLINED),
                    _ => Style::reset().fg(Color::Cyan),
                };
                let (end, _) = next.set_stringn(x, y, text, usize::from(24 - x), style);
                reuse.touch(Rect::new(x, y, end.max(x + 1) - x, 1));
                if next_rand(10) == 0 {
                    next[(x, y)].set_diff_option(CellDiffOption::Skip);
                }
            }
            let ours: Vec<(u16, u16, Cell)> =
                diff_rows(&shown, &next, None).into_iter().map(|(x, y, c)| (x, y, c.clone())).collect();
            let theirs: Vec<(u16, u16, Cell)> =
                shown.diff(&next).into_iter().map(|(x, y, c)| (x, y, c.clone())).collect();
            assert_eq!(ours, theirs, "round {round}");
            // Comparing only the columns written finds the same cells.
            let touched = reuse.touched_rows().unwrap();
            let columns: Vec<(u16, u16, Cell)> =
                diff_rows(&shown, &next, Some(&touched)).into_iter().map(|(x, y, c)| (x, y, c.clone())).collect();
            assert_eq!(columns, theirs, "round {round}, columns {touched:?}");
            shown = next;
        }
    }
}
