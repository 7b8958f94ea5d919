//! Draws one pane: a header with model, upstream and state, then only the visible slice of the
//! transcript (message bodies come from their render caches, so a frame costs the viewport,
//! not the transcript), a scroll marker and the selection highlight.

use std::borrow::Cow;
use std::ops::Range;
use std::time::{Instant, SystemTime};

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget};

use crate::core::protocol::ToolCall;
use crate::present;
use crate::ui::cells;
use crate::ui::frames::Reuse;
use crate::ui::pane::{Answer, DrawnBody, Entry, ExtrasCache, Footer, Outcome, Pane, PaneState, ToolNote};
use crate::ui::pane::{Edges, FrameRow};
use crate::ui::theme::Theme;
use crate::ui::wrap;

const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const USER_INDENT: &str = "  ";

/// What every pane draw needs besides the pane.
pub struct DrawCtx<'a> {
    pub theme: &'a Theme,
    pub now: Instant,
    pub wall: SystemTime,
    /// Advances while something animates; picks the spinner frame.
    pub tick: u64,
    /// How far a following pane moves when its text reaches the bottom, in percent of its rows
    /// (`[ui] scroll_jump`; see [`follow_top`]).
    pub scroll_jump: u8,
}

/// The pane's body area inside its border.
fn inner_area(area: Rect) -> Rect {
    Block::default().borders(Borders::ALL).inner(area)
}

/// Before a frame: bring the render caches and scroll position up to date for `area` and keep
/// the visible lines, so that drawing only reads.
pub fn prepare(pane: &mut Pane, area: Rect, number: usize, focused: bool, ctx: &DrawCtx<'_>) {
    let inner = inner_area(area);
    pane.frame_lines = if inner.width == 0 || inner.height == 0 {
        Vec::new()
    } else {
        visible_lines(pane, inner.width, usize::from(inner.height), ctx)
    };
    let top = pane.scroll.top;
    pane.moved_up = match pane.prepared_at {
        Some((before, old_top)) if before == inner && top > old_top => {
            u16::try_from(top - old_top).ok().filter(|&n| n < inner.height).unwrap_or(0)
        }
        _ => 0,
    };
    pane.prepared_at = Some((inner, top));
    pane.rate_shown = match &pane.state {
        PaneState::Streaming { first_token, chars } => match pane.rate_shown.take() {
            Some((at, text)) if crate::ui::draw::live_figures_fresh(at, ctx.now) => Some((at, text)),
            _ => Some((ctx.now, rate_text(*first_token, *chars, ctx.now))),
        },
        _ => None,
    };
    // After the rate: the header shows it.
    pane.frame_edges = Edges {
        header: header(pane, number, focused, area.width, ctx),
        footer: footer_title(pane, ctx).alignment(Alignment::Right),
        style: border_style(focused, ctx),
    };
}

/// "185 tok/s" from the characters streamed so far (roughly four a token until the provider
/// reports exact usage), or "streaming" for the first moments.
fn rate_text(first_token: Instant, chars: usize, now: Instant) -> String {
    let secs = now.saturating_duration_since(first_token).as_secs_f64();
    if secs > 0.3 { present::rate(chars as f64 / 4.0 / secs) } else { "streaming".into() }
}

/// The terminal rows of a pane's body, if its content moved up since the last frame: a scroll
/// the frame writer may let the terminal do.
pub fn scroll_hint(pane: &Pane, area: Rect) -> Option<crate::ui::frames::ScrollHint> {
    let inner = inner_area(area);
    (pane.moved_up > 0).then(|| crate::ui::frames::ScrollHint { rows: inner.y..inner.bottom(), lines: pane.moved_up })
}

/// Draw the pane as `prepare` left it. With `reuse`, the buffer holds the last frame (moved
/// as `reuse` says): the border's title rows and sides, and the body's rows, are left alone
/// where what they show is already there, and every row written is touched.
pub fn draw(frame: &mut Frame<'_>, area: Rect, pane: &Pane, ctx: &DrawCtx<'_>, reuse: Option<&Reuse>) {
    let ui = &ctx.theme.ui;
    let edges = &pane.frame_edges;
    let block = || {
        Block::default()
            .borders(Borders::ALL)
            .border_style(edges.style)
            .title(edges.header.clone())
            .title_bottom(edges.footer.clone())
    };
    let inner = inner_area(area);
    if let Some(reuse) = reuse {
        let buf = frame.buffer_mut();
        let drawn = pane.drawn.as_ref().filter(|d| d.inner == inner && d.edges.style == edges.style);
        // A row of the border is already there when it holds the same row of the last frame
        // this pane drew in the same place and style (and, for the titles, with the same text).
        let there = |y: u16, rows: Range<u16>| reuse.source(y).is_some_and(|s| rows.contains(&s));
        let sides = area.top() + 1..area.bottom().saturating_sub(1);
        let (top, bottom) = (area.top(), area.bottom().saturating_sub(1));
        let redo = BorderRows {
            top: !drawn.is_some_and(|d| d.edges.header == edges.header && there(top, top..top + 1)),
            bottom: !drawn.is_some_and(|d| d.edges.footer == edges.footer && there(bottom, bottom..bottom + 1)),
            side: &|y| !(drawn.is_some() && there(y, sides.clone())),
        };
        redraw_border(buf, block, (&edges.header, &edges.footer), area, edges.style, &redo, reuse);
    } else {
        // No `Clear`: a fresh frame starts from an empty buffer, and panes come first.
        frame.render_widget(block(), area);
    }
    if inner.width == 0 || inner.height == 0 {
        return;
    }
    let marker = pane.scroll.unseen && !pane.scroll.follow && inner.width >= 14;
    // Lines are wrapped to the width already: set them straight into the buffer.
    let buf = frame.buffer_mut();
    let blank = Line::default();
    for (i, row) in (inner.y..inner.bottom()).enumerate() {
        let line = pane.frame_row(i).unwrap_or(&blank);
        let at = Rect { y: row, height: 1, ..inner };
        if let Some(reuse) = reuse {
            if already_there(pane, inner, reuse, row, line) {
                continue;
            }
            reuse.touch(at);
        }
        // A fresh frame's buffer starts blank, so blanking the row again changes nothing there.
        cells::blank(buf, at, Style::default().fg(ui.fg));
        cells::set_line(buf, inner.x, row, line, inner.width);
    }
    if marker {
        let marker = Line::from(Span::styled(
            " ↓ new below ",
            Style::default().fg(ui.badge_fg).bg(ui.accent).add_modifier(Modifier::BOLD),
        ));
        let w = marker.width() as u16;
        let at = Rect { x: inner.right().saturating_sub(w), y: inner.bottom().saturating_sub(1), width: w, height: 1 };
        frame.render_widget(Paragraph::new(marker), at);
        reuse.inspect(|r| r.touch(at));
    }
}

/// The style of a pane's border.
fn border_style(focused: bool, ctx: &DrawCtx<'_>) -> Style {
    let ui = &ctx.theme.ui;
    Style::default().fg(if focused { ui.border_focused } else { ui.border })
}

/// Which rows of a border a retained frame draws again.
struct BorderRows<'a> {
    top: bool,
    bottom: bool,
    side: &'a dyn Fn(u16) -> bool,
}

/// Whether buffer row `row` of a retained frame already shows `line`: it holds a row of the
/// last frame that this pane drew, in the same place, with the same line, not under the marker.
fn already_there(pane: &Pane, inner: Rect, reuse: &Reuse, row: u16, line: &Line<'_>) -> bool {
    let Some(drawn) = pane.drawn.as_ref().filter(|d| d.inner == inner) else { return false };
    let Some(source) = reuse.source(row).filter(|s| (inner.y..inner.bottom()).contains(s)) else { return false };
    let index = usize::from(source - inner.y);
    if drawn.marker && index + 1 == usize::from(inner.height) {
        return false;
    }
    drawn.lines.get(index).is_some_and(|l| l == line)
}

/// Remember what this frame drew of the pane's body (after the frame was written). A row that
/// shows what a row of the last frame showed (moved up by a scroll, or where it was) keeps that
/// copy; only the rows that changed are copied from the render.
pub fn frame_done(pane: &mut Pane, area: Rect) {
    let inner = inner_area(area);
    let mut before = pane.drawn.take().map(|d| d.lines).unwrap_or_default();
    let moved = usize::from(pane.moved_up);
    let blank = Line::default();
    let mut lines = Vec::with_capacity(usize::from(inner.height));
    for i in 0..usize::from(inner.height) {
        let line = pane.frame_row(i).unwrap_or(&blank);
        let kept = [i + moved, i].into_iter().find(|&j| before.get(j) == Some(line));
        lines.push(match kept {
            Some(j) => std::mem::take(&mut before[j]),
            None => line.clone(),
        });
    }
    pane.frame_lines.clear();
    let marker = pane.scroll.unseen && !pane.scroll.follow && inner.width >= 14;
    let edges = pane.frame_edges.clone();
    pane.drawn = Some(DrawnBody { inner, lines, marker, edges });
}

/// How many rows of the pane's body a retained frame with `reuse` would redraw.
pub fn rows_to_redraw(pane: &Pane, area: Rect, reuse: &Reuse) -> usize {
    let inner = inner_area(area);
    let blank = Line::default();
    (inner.y..inner.bottom())
        .enumerate()
        .filter(|&(i, row)| {
            let line = pane.frame_row(i).unwrap_or(&blank);
            !already_there(pane, inner, reuse, row, line)
        })
        .count()
}

/// Draw `block`'s border and titles over `area` of a retained frame as rendering it would,
/// without touching the body (a `Block` applies its style to every cell of its area, the whole
/// pane), and only the rows `redo` asks for. The top and bottom rows (corners and titles) are
/// rendered on a two-row scratch buffer and copied; the sides are plain vertical lines. Every
/// row written is touched.
fn redraw_border(
    buf: &mut ratatui::buffer::Buffer,
    block: impl FnOnce() -> Block<'static>,
    titles: (&Line<'_>, &Line<'_>),
    area: Rect,
    style: Style,
    redo: &BorderRows<'_>,
    reuse: &Reuse,
) {
    let area = area.intersection(buf.area);
    if area.height < 2 || area.width < 2 {
        cells::blank(buf, area, Style::default());
        block().render(area, buf);
        reuse.touch(area);
        return;
    }
    let line = ratatui::symbols::line::NORMAL;
    if redo.top {
        edge_row(buf, area, area.top(), [line.top_left, line.top_right], titles.0, style);
        reuse.touch(Rect { height: 1, ..area });
    }
    if redo.bottom {
        let y = area.bottom() - 1;
        edge_row(buf, area, y, [line.bottom_left, line.bottom_right], titles.1, style);
        reuse.touch(Rect { y, height: 1, ..area });
    }
    for y in (area.top() + 1..area.bottom() - 1).filter(|&y| (redo.side)(y)) {
        for x in [area.left(), area.right() - 1] {
            // Reset first: a style patches, and the cell may hold anything.
            buf[(x, y)].reset();
            buf[(x, y)].set_symbol(ratatui::symbols::line::VERTICAL).set_style(style);
        }
        reuse.touch(Rect { y, height: 1, ..area });
    }
}

/// One title row of a pane's border, cell for cell as `Block` draws it (a test compares the
/// two): the corners and the line between them in the border's style, and the title over the
/// line, from the left unless it is right-aligned. Drawn straight into the frame: through a
/// scratch `Block` it cost a buffer and a whole border for each title that changed.
fn edge_row(buf: &mut ratatui::buffer::Buffer, area: Rect, y: u16, corners: [&str; 2], title: &Line<'_>, style: Style) {
    // One prepared cell cloned along the row: resetting, setting the symbol and the style of
    // each cell in turn was most of this function's cost, and the header row is drawn nearly
    // every frame of a stream (its rate and spinner change).
    let cell_of = |symbol: &str| {
        let mut cell = ratatui::buffer::Cell::EMPTY;
        cell.set_symbol(symbol).set_style(style);
        cell
    };
    let row = area.intersection(Rect { y, height: 1, ..buf.area });
    if !row.is_empty() {
        let start = buf.index_of(row.x, y);
        buf.content[start..start + usize::from(row.width)].fill(cell_of(ratatui::symbols::line::HORIZONTAL));
    }
    // The left corner last, so in a one-column area it is the one drawn (as before).
    for (x, corner) in [(area.right().saturating_sub(1), corners[1]), (area.left(), corners[0])] {
        if row.contains((x, y).into()) {
            buf[(x, y)] = cell_of(corner);
        }
    }
    let room = Rect { x: area.x + 1, y, width: area.width - 2, height: 1 };
    if room.is_empty() {
        return;
    }
    let width = (title.width().min(usize::from(u16::MAX)) as u16).min(room.width);
    let x = match title.alignment {
        Some(Alignment::Right) => room.right().saturating_sub(width).max(room.left()),
        _ => room.x,
    };
    title.render(Rect { x, width, ..room }, buf);
}

/// Below this many columns for the model id, a pane's header shortens its state to a sign.
const MIN_MODEL_COLUMNS: usize = 14;

fn header(pane: &Pane, number: usize, focused: bool, width: u16, ctx: &DrawCtx<'_>) -> Line<'static> {
    let ui = &ctx.theme.ui;
    use unicode_width::UnicodeWidthStr;
    let (mut state_text, state_style) = state_label(pane, ctx);
    if pane.next_queued {
        state_text.push_str(" · next prompt queued");
    }
    // The upstream, then the pane's settings that differ from the defaults ("temp 0.5 · system").
    let settings = crate::core::room::describe_settings(&pane.settings);
    let served = if pane.label.is_some() {
        // A blind round: nothing but the label may tell the models apart.
        String::new()
    } else {
        pane.upstream
            .as_deref()
            .map(|p| format!(" · {p}"))
            .into_iter()
            .chain((!settings.is_empty()).then(|| format!(" · {settings}")))
            .collect::<String>()
    };
    // Budget: the corners, " N ", the spaces around the state, the state, then the model id
    // (cut in the middle), then the upstream and settings.
    let chrome = 2 + number.to_string().len() + 2 + 2;
    let room = |state: &str| usize::from(width).saturating_sub(chrome + state.width());
    // A narrow pane keeps only the state's sign (✗, ✓, ■, the spinner) so the model stays
    // recognisable; a tool prompt keeps its keys.
    let state_text = if room(&state_text) < MIN_MODEL_COLUMNS && pane.state != PaneState::AwaitingTool {
        state_text.split(' ').next().unwrap_or_default().to_string()
    } else {
        state_text
    };
    let budget = room(&state_text);
    let model = present::shorten(pane.label.as_deref().unwrap_or(&pane.model), budget.max(6));
    let served = if model.chars().count() + served.chars().count() <= budget { served } else { String::new() };
    let title_style = if focused {
        Style::default().fg(ui.title).add_modifier(Modifier::BOLD)
    } else {
        Style::default().fg(ui.title)
    };
    Line::from(vec![
        Span::styled(format!(" {number} "), Style::default().fg(ui.dim)),
        Span::styled(model, title_style),
        Span::styled(served, Style::default().fg(ui.dim)),
        Span::raw(" "),
        Span::styled(state_text.clone(), state_style),
        Span::raw(if state_text.is_empty() { "" } else { " " }),
    ])
}

fn state_label(pane: &Pane, ctx: &DrawCtx<'_>) -> (String, Style) {
    let ui = &ctx.theme.ui;
    let spin = SPINNER[(ctx.tick % SPINNER.len() as u64) as usize];
    match &pane.state {
        PaneState::Idle => (String::new(), Style::default()),
        PaneState::Waiting { since } => {
            let secs = ctx.now.saturating_duration_since(*since).as_secs();
            let text = if secs >= 2 { format!("{spin} waiting {secs}s") } else { format!("{spin} waiting") };
            (text, Style::default().fg(ui.accent))
        }
        PaneState::Queued { until } => {
            let left = until.duration_since(ctx.wall).map(|d| d.as_millis() as i64).unwrap_or(0);
            (format!("{spin} queued {}", crate::core::quota::format_duration_ms(left)), Style::default().fg(ui.warning))
        }
        PaneState::Streaming { first_token, chars } => {
            let rate = match &pane.rate_shown {
                Some((_, text)) => text.clone(),
                None => rate_text(*first_token, *chars, ctx.now),
            };
            (format!("{spin} {rate}"), Style::default().fg(ui.accent))
        }
        PaneState::AwaitingTool => ("⚠ allow tool? y/a/n".into(), Style::default().fg(ui.warning)),
        PaneState::Done => ("✓ done".into(), Style::default().fg(ui.success)),
        PaneState::Failed => ("✗ error".into(), Style::default().fg(ui.error)),
        PaneState::Cancelled => ("■ stopped".into(), Style::default().fg(ui.warning)),
    }
}

fn footer_title(pane: &Pane, ctx: &DrawCtx<'_>) -> Line<'static> {
    let t = &pane.totals;
    // A pane's own cost would tell a blind round's models apart.
    if t.requests == 0 || pane.label.is_some() {
        return Line::default();
    }
    let mark = if t.estimated > 0 { "~" } else { "" };
    let unknown = if t.unknown > 0 { "+?" } else { "" };
    Line::from(Span::styled(
        format!(" {} tok · {mark}{}{unknown} ", t.tokens_text(), present::usd(t.cost)),
        Style::default().fg(ctx.theme.ui.dim),
    ))
}

/// Lines of the viewport, updating the pane's scroll bookkeeping for this width and height.
pub fn visible_lines(pane: &mut Pane, width: u16, rows: usize, ctx: &DrawCtx<'_>) -> Vec<FrameRow> {
    let live = pane.live.map(|l| l.entry);
    let heights: Vec<usize> =
        pane.entries.iter_mut().enumerate().map(|(i, e)| entry_height(e, width, ctx, live == Some(i))).collect();
    let total: usize = heights.iter().sum();
    // Where each turn starts, so synchronised scrolling can line panes up by turn.
    let mut at = 0;
    pane.turn_starts.clear();
    for (entry, h) in pane.entries.iter().zip(&heights) {
        if let Entry::User { turn, .. } = entry {
            pane.turn_starts.push((*turn, at));
        }
        at += h;
    }
    let grew = total > pane.scroll.total;
    // The same view as last frame (not a first one, nor a resize), which a jump may continue.
    let same_view = pane.scroll.viewport == rows;
    pane.scroll.viewport = rows;
    pane.scroll.total = total;
    let max_top = total.saturating_sub(rows);
    if pane.scroll.follow {
        let jump = if same_view { ctx.scroll_jump } else { 0 };
        pane.scroll.top = follow_top(pane.scroll.top, total, rows, jump);
        pane.scroll.unseen = false;
    } else {
        pane.scroll.top = pane.scroll.top.min(max_top);
        pane.scroll.unseen |= grew;
    }
    let top = pane.scroll.top;
    let mut out = Vec::with_capacity(rows);
    let mut line_at = 0;
    for (i, (entry, h)) in pane.entries.iter_mut().zip(heights).enumerate() {
        if out.len() >= rows {
            break;
        }
        if line_at + h <= top {
            line_at += h;
            continue;
        }
        let skip = top.saturating_sub(line_at);
        entry_lines(entry, i, width, ctx, live == Some(i), skip, rows - out.len(), &mut out);
        line_at += h;
    }
    if let Some(sel) = pane.selection {
        let (from, to) = sel.range();
        let style = Style::default().bg(ctx.theme.ui.selection_bg);
        for (i, row) in out.iter_mut().enumerate() {
            let abs = top + i;
            if abs < from.min(sel.cursor) || abs > to.max(sel.cursor) {
                continue;
            }
            let mut line = pane.frame_line(row).cloned().unwrap_or_default();
            if abs >= from && abs <= to {
                line = line.patch_style(style);
            }
            if abs == sel.cursor {
                line = line.patch_style(Style::default().add_modifier(Modifier::REVERSED));
            }
            *row = FrameRow::Made(line);
        }
    }
    out
}

/// Where the view of a pane that follows its stream starts, given where it started last frame.
/// Text that outgrows the view by a little moves it up by a jump (`jump_percent` of its rows,
/// like vim's 'scrolljump') rather than by a line: the rows a jump leaves blank fill as the text
/// comes, so the terminal scrolls (and the rows beside the pane that a scroll moves are
/// repaired) once per jump rather than once per line, and the text being read stands still
/// meanwhile. Anything else (a transcript that grew by more, or shrank) puts the last line on
/// the bottom row; 0 percent always does, as a terminal would (the caller passes 0 for a first
/// view and after a resize).
pub fn follow_top(top: usize, total: usize, rows: usize, jump_percent: u8) -> usize {
    let max_top = total.saturating_sub(rows);
    if max_top == 0 {
        return 0;
    }
    let jump = (rows * usize::from(jump_percent) / 100).clamp(1, (rows / 2).max(1));
    let jumped = max_top + (jump - 1);
    if (max_top..=jumped).contains(&top) {
        top
    } else if top < max_top && max_top - top <= jump {
        jumped
    } else {
        max_top
    }
}

/// The plain text of transcript lines `from..=to` (for copying a keyboard selection).
pub fn text_of_lines(pane: &mut Pane, width: u16, from: usize, to: usize, ctx: &DrawCtx<'_>) -> String {
    let mut out = Vec::new();
    let mut line_at = 0;
    let live = pane.live.map(|l| l.entry);
    for (i, entry) in pane.entries.iter_mut().enumerate() {
        let h = entry_height(entry, width, ctx, live == Some(i));
        if line_at + h > from && line_at <= to {
            let skip = from.saturating_sub(line_at);
            entry_lines(entry, i, width, ctx, live == Some(i), skip, to + 1 - (line_at + skip), &mut out);
        }
        line_at += h;
    }
    out.iter()
        .map(|row| pane.frame_line(row).map(|l| l.to_string().trim_end().to_string()).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

fn body_width(entry: &Entry, width: u16) -> u16 {
    match entry {
        Entry::User { .. } => width.saturating_sub(USER_INDENT.len() as u16).max(1),
        _ => width,
    }
}

fn entry_height(entry: &mut Entry, width: u16, ctx: &DrawCtx<'_>, live: bool) -> usize {
    let (head, tail) = head_and_tail(entry, width, ctx, live);
    let (head, tail) = (head.len(), tail.len());
    let bw = body_width(entry, width);
    let body = match entry {
        Entry::User { body, .. } => body.height(bw, &ctx.theme.markdown),
        Entry::Answer(a) => a.body.height(bw, &ctx.theme.markdown),
        Entry::Notice(_) => 0,
    };
    head + body + tail + 1
}

/// The lines above and below an entry's body. A finished answer's are made once per width and
/// theme (a frame measures every entry, and they do not change once the answer is done; a
/// settled cost clears them); the live answer's and the small ones are made each time.
fn head_and_tail<'a>(
    entry: &'a mut Entry,
    width: u16,
    ctx: &DrawCtx<'_>,
    live: bool,
) -> (Cow<'a, [Line<'static>]>, Cow<'a, [Line<'static>]>) {
    let Entry::Answer(a) = entry else {
        let (head, tail) = extras(entry, width, ctx);
        return (Cow::Owned(head), Cow::Owned(tail));
    };
    if live {
        return (Cow::Owned(answer_head(a, width, ctx)), Cow::Owned(answer_tail(a, width, ctx)));
    }
    let generation = ctx.theme.markdown.generation;
    let fresh = match a.extras.take() {
        Some(c) if c.key.0 == width && c.key.1 == generation && c.key.2 == ctx.theme.name => c,
        _ => ExtrasCache {
            head: answer_head(a, width, ctx),
            tail: answer_tail(a, width, ctx),
            key: (width, generation, ctx.theme.name.clone()),
        },
    };
    let cached = a.extras.insert(fresh);
    (Cow::Borrowed(&cached.head), Cow::Borrowed(&cached.tail))
}

/// Append the rows `skip..skip+take` of entry `index_of_entry` (head, body, tail, blank
/// separator).
#[allow(clippy::too_many_arguments)] // one call site in a loop, one for copying a selection
fn entry_lines(
    entry: &mut Entry,
    index_of_entry: usize,
    width: u16,
    ctx: &DrawCtx<'_>,
    live: bool,
    skip: usize,
    take: usize,
    out: &mut Vec<FrameRow>,
) {
    let (head, tail) = head_and_tail(entry, width, ctx, live);
    let (head, tail) = (head.into_owned(), tail.into_owned());
    let bw = body_width(entry, width);
    let indent = matches!(entry, Entry::User { .. });
    let body: &[Line<'static>] = match entry {
        Entry::User { body, .. } => body.lines(bw, &ctx.theme.markdown),
        Entry::Answer(a) => a.body.lines(bw, &ctx.theme.markdown),
        Entry::Notice(_) => &[],
    };
    let end = skip + take;
    let mut index = 0usize;
    let push_small = |lines: Vec<Line<'static>>, index: &mut usize, out: &mut Vec<FrameRow>| {
        for l in lines {
            if *index >= skip && *index < end {
                out.push(FrameRow::Made(l));
            }
            *index += 1;
        }
    };
    push_small(head, &mut index, out);
    // The body's rows are read from its render when drawn; a prompt's are made indented.
    let from = skip.saturating_sub(index).min(body.len());
    let to = end.saturating_sub(index).min(body.len()).max(from);
    let generation = ctx.theme.markdown.generation;
    for (line, l) in body[from..to].iter().enumerate() {
        out.push(if indent {
            let mut spans = vec![Span::raw(USER_INDENT)];
            spans.extend(l.spans.iter().cloned());
            FrameRow::Made(Line::from(spans).style(l.style))
        } else {
            FrameRow::Rendered { entry: index_of_entry, width: bw, generation, line: from + line }
        });
    }
    index += body.len();
    push_small(tail, &mut index, out);
    push_small(vec![Line::default()], &mut index, out);
}

/// Small owned lines above and below an entry's body.
fn extras(entry: &Entry, width: u16, ctx: &DrawCtx<'_>) -> (Vec<Line<'static>>, Vec<Line<'static>>) {
    let ui = &ctx.theme.ui;
    match entry {
        Entry::User { .. } => {
            (vec![Line::from(Span::styled("▍You", Style::default().fg(ui.user).add_modifier(Modifier::BOLD)))], vec![])
        }
        Entry::Notice(text) => (wrap::plain(&format!("· {text}"), width, Style::default().fg(ui.dim)), vec![]),
        Entry::Answer(a) => (answer_head(a, width, ctx), answer_tail(a, width, ctx)),
    }
}

fn answer_head(a: &Answer, width: u16, ctx: &DrawCtx<'_>) -> Vec<Line<'static>> {
    let dim = Style::default().fg(ctx.theme.ui.dim);
    let mut head = Vec::new();
    for notice in &a.notices {
        head.extend(wrap::plain(&format!("ⓘ {notice}"), width, dim));
    }
    // Tool calls come before the answer that used their results.
    for note in &a.tools {
        head.extend(tool_lines(note, width, ctx));
    }
    if a.reasoning_chars > 0 {
        let state = if a.body.text().is_empty() && a.outcome == Outcome::Streaming { "thinking…" } else { "thought" };
        head.push(Line::from(Span::styled(
            format!("{state} ({} chars of reasoning, folded)", a.reasoning_chars),
            dim.add_modifier(Modifier::ITALIC),
        )));
    }
    head
}

fn answer_tail(a: &Answer, width: u16, ctx: &DrawCtx<'_>) -> Vec<Line<'static>> {
    let ui = &ctx.theme.ui;
    let mut tail = Vec::new();
    match &a.outcome {
        Outcome::Failed(message) => {
            tail.extend(wrap::plain(&format!("✗ {message}"), width, Style::default().fg(ui.error)));
        }
        Outcome::Cancelled => tail.push(Line::from(Span::styled("■ stopped", Style::default().fg(ui.warning)))),
        Outcome::Streaming | Outcome::Done => {}
    }
    for line in present::room::citation_lines(&a.citations) {
        tail.extend(wrap::plain(&line, width, Style::default().fg(ui.dim)));
    }
    if let Some(f) = &a.footer {
        tail.extend(wrap::plain(&footer_text(f), width, Style::default().fg(ui.dim)));
    }
    tail
}

/// "in 120 · out 1.1k tok · ~$0.0012 · ttft 320 ms · 85.0 tok/s · stop".
pub fn footer_text(f: &Footer) -> String {
    let mut parts = Vec::new();
    if let Some(u) = &f.usage {
        parts.push(format!(
            "in {} · out {} tok",
            present::tokens(u.prompt_tokens),
            present::tokens(u.completion_tokens + u.hidden_tokens)
        ));
        parts.extend(present::room::cached_text(u));
        if u.reasoning_tokens > 0 {
            parts.push(format!("{} reasoning", present::tokens(u.reasoning_tokens)));
        }
        parts.extend(present::room::searches_text(u));
    }
    let cost = present::cost(&f.cost);
    parts.push(if f.cost.source == crate::core::protocol::CostSource::Estimated {
        format!("{cost} est.")
    } else {
        cost
    });
    if let Some(ms) = f.ttft_ms {
        parts.push(format!("ttft {}", present::millis(ms)));
    }
    if let Some(tps) = f.tokens_per_second {
        parts.push(present::rate(tps));
    }
    if let Some(reason) = &f.finish {
        parts.push(present::finish(reason));
    }
    format!("── {}", parts.join(" · "))
}

fn tool_lines(note: &ToolNote, width: u16, ctx: &DrawCtx<'_>) -> Vec<Line<'static>> {
    let ui = &ctx.theme.ui;
    let args = pretty_arguments(&ToolCall {
        id: note.call_id.clone(),
        name: note.name.clone(),
        arguments: note.arguments.clone(),
        thought_signature: None,
    });
    let mut lines = wrap::plain(&format!("⚙ {}({args})", note.name), width, Style::default().fg(ui.accent));
    match &note.result {
        Some((output, is_error)) => {
            let first = output.lines().next().unwrap_or("");
            let more = output.lines().count().saturating_sub(1);
            let folded = if more > 0 { format!("{first} … (+{more} lines)") } else { first.to_string() };
            let (mark, style) =
                if *is_error { ("✗", Style::default().fg(ui.error)) } else { ("↳", Style::default().fg(ui.dim)) };
            lines.extend(wrap::plain(&format!("  {mark} {folded}"), width, style));
        }
        None if note.needs_confirmation => lines.extend(wrap::plain(
            "  run it? y = once · a = always for this tool · n = deny",
            width,
            Style::default().fg(ui.warning).add_modifier(Modifier::BOLD),
        )),
        None => lines.extend(wrap::plain("  running…", width, Style::default().fg(ui.dim))),
    }
    lines
}

/// Arguments as compact JSON when they parse, verbatim otherwise (malformed ones are shown as
/// the model sent them).
pub fn pretty_arguments(call: &ToolCall) -> String {
    match serde_json::from_str::<serde_json::Value>(&call.arguments) {
        Ok(serde_json::Value::Object(map)) => {
            // Keys are printed raw, so they are stripped like any text from a model.
            let shown = map.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", ");
            crate::core::sanitize::strip_controls(&shown).into_owned()
        }
        Ok(other) => other.to_string(),
        Err(_) => crate::core::sanitize::strip_controls(&call.arguments).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::follow_top;

    /// Streams `lines` lines one at a time into a view of `rows`, as the frames would see them,
    /// and returns each frame's top.
    fn follow(lines: usize, rows: usize, jump_percent: u8) -> Vec<usize> {
        let mut top = 0;
        (1..=lines)
            .map(|total| {
                top = follow_top(top, total, rows, jump_percent);
                top
            })
            .collect()
    }

    #[test]
    fn a_following_view_moves_a_jump_at_a_time_and_always_shows_the_last_line() {
        let rows = 20;
        let tops = follow(100, rows, 25);
        for (i, &top) in tops.iter().enumerate() {
            let total = i + 1;
            assert!(top + rows >= total, "line {total} is below the view starting at {top}");
            assert!(top < total, "the view starting at {top} shows none of {total} lines");
        }
        // Moves of 5 rows (a quarter of 20), never of one.
        let moves: Vec<usize> = tops.windows(2).map(|w| w[1] - w[0]).filter(|&d| d > 0).collect();
        assert!(moves.iter().all(|&d| d == 5), "{moves:?}");
        assert_eq!(moves.len(), (100 - rows).div_ceil(5));
    }

    #[test]
    fn no_jump_means_a_line_at_a_time() {
        let tops = follow(50, 20, 0);
        assert_eq!(tops, (1..=50).map(|t: usize| t.saturating_sub(20)).collect::<Vec<_>>());
    }

    /// A retained frame draws a changed title row itself: it must be the row `Block` draws, at
    /// every width (titles cut short, wide characters cut in half, the footer cut from the left).
    #[test]
    fn a_title_row_drawn_alone_is_the_row_the_block_draws() {
        use ratatui::buffer::Buffer;
        use ratatui::layout::{Alignment, Rect};
        use ratatui::style::{Color, Modifier, Style};
        use ratatui::text::{Line, Span};
        use ratatui::widgets::{Block, Borders, Widget};

        let style = Style::default().fg(Color::Cyan);
        let header = Line::from(vec![
            Span::styled(" 1 ", Style::default().add_modifier(Modifier::BOLD)),
            Span::raw("⠋ 模型 openai/gpt-4o · OpenAI "),
        ]);
        let footer = Line::from(Span::styled(" 1.2k tok · ~$0.0042 ", Style::default().fg(Color::Gray)))
            .alignment(Alignment::Right);
        for (header, footer) in [(header.clone(), footer.clone()), (Line::default(), Line::default())] {
            for width in 2..=60 {
                let area = Rect { x: 3, y: 1, width, height: 6 };
                let mut whole = Buffer::empty(Rect { x: 0, y: 0, width: 70, height: 8 });
                Block::default()
                    .borders(Borders::ALL)
                    .border_style(style)
                    .title(header.clone())
                    .title_bottom(footer.clone())
                    .render(area, &mut whole);
                // Drawn over whatever the last frame left there.
                let mut rows = Buffer::filled(whole.area, ratatui::buffer::Cell::new("x"));
                let line = ratatui::symbols::line::NORMAL;
                super::edge_row(&mut rows, area, 1, [line.top_left, line.top_right], &header, style);
                super::edge_row(&mut rows, area, 6, [line.bottom_left, line.bottom_right], &footer, style);
                for y in [1, 6] {
                    for x in area.left()..area.right() {
                        assert_eq!(rows[(x, y)], whole[(x, y)], "width {width}, cell ({x}, {y})");
                    }
                }
            }
        }
    }

    #[test]
    fn anything_but_a_little_growth_puts_the_last_line_on_the_bottom_row() {
        // Growth by more than a jump (a long transcript first seen from its top), a taller view.
        assert_eq!(follow_top(0, 500, 20, 25), 480);
        assert_eq!(follow_top(480, 500, 40, 25), 460);
        // A transcript that fits shows from its start; one that shrank (a retry) ends at the bottom.
        assert_eq!(follow_top(7, 15, 20, 25), 0);
        assert_eq!(follow_top(90, 60, 20, 25), 40);
        // Tiny views never jump more than half their rows.
        assert_eq!(follow_top(0, 3, 2, 50), 1);
        assert_eq!(follow_top(0, 2, 1, 50), 1);
    }
}
