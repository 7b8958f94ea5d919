//! Draws a whole frame: panes, sidebar, input, status line, then any popup; or the "terminal
//! too small" message. Drawing only reads the app: `App::prepare_frame` computed the layout,
//! the draft's estimate and every pane's visible lines beforehand.

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use crate::ui::app::{App, Level, Overlay};
use crate::ui::frames::{Reuse, ScrollHint};
use crate::ui::{cells, layout, overlay, pane_view, sidebar};

/// Everything a frame of `area` needs that takes work: the layout, the draft's estimate, the
/// sidebar, each visible pane's lines (render caches and scroll positions brought up to date).
pub fn prepare(app: &mut App, area: Rect) {
    prepare_chrome(app, area);
    prepare_panes(app);
}

/// The part of `prepare` a frame that keeps the panes needs: the layout, the draft's estimate
/// and the sidebar.
pub fn prepare_chrome(app: &mut App, area: Rect) {
    if layout::too_small(area) {
        app.chrome.regions = None;
        return;
    }
    app.refresh_draft_estimate();
    let regions = layout::compute_in(
        app.chrome.layout,
        area,
        app.view.panes.len(),
        app.chrome.zoom,
        app.chrome.show_sidebar,
        app.chrome.input.line_count(),
    );
    refresh_sidebar(app, regions.sidebar);
    app.chrome.regions = Some(regions);
    app.chrome.status_view = Some(status_view(app));
}

/// The part of `prepare` that brings each visible pane's lines up to date (after
/// `prepare_chrome`, whose layout it uses).
pub fn prepare_panes(app: &mut App) {
    let Some(regions) = app.chrome.regions.as_ref() else { return };
    // Not `app.draw_ctx()`: the panes are borrowed mutably beside it.
    let ctx = crate::ui::app::draw_ctx(&app.services, &app.chrome);
    for &(i, rect) in &regions.panes {
        if let Some(pane) = app.view.panes.get_mut(i) {
            pane_view::prepare(pane, rect, i + 1, i == app.chrome.focus, &ctx);
        }
    }
}

/// While answers stream, the sidebar's throughput and a pane's rate change with every token:
/// no one reads them at frame rate, and redrawing them cost work every frame. They are worked
/// out again this often then; the sidebar at once when anything else about it changes (a
/// stream starting or ending, the draft's estimate, the theme, the size).
const LIVE_FIGURES_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// Whether live figures worked out `at` may still stand `now` (see `LIVE_FIGURES_EVERY`).
pub fn live_figures_fresh(at: std::time::Instant, now: std::time::Instant) -> bool {
    now.saturating_duration_since(at) < LIVE_FIGURES_EVERY
}

fn refresh_sidebar(app: &mut App, area: Option<Rect>) {
    let Some(side) = area else {
        app.chrome.sidebar_picture = None;
        app.chrome.sidebar_sampled = None;
        return;
    };
    let now = app.now();
    let shape = sidebar::Shape::of(side, &app.view.panes, &app.view.sidebar, &app.services.theme);
    let fresh_enough =
        |(at, last): &(std::time::Instant, sidebar::Shape)| *last == shape && live_figures_fresh(*at, now);
    // A frozen clock (snapshot tests) draws the figures of the moment.
    let keep = app.is_streaming()
        && app.chrome.frozen_clock.is_none()
        && app.chrome.sidebar_picture.is_some()
        && app.chrome.sidebar_sampled.as_ref().is_some_and(fresh_enough);
    if keep {
        return;
    }
    let now_ms = crate::core::quota::system_time_ms(app.wall());
    app.chrome.sidebar_picture =
        Some(sidebar::picture(side, &app.view.panes, &app.view.sidebar, &app.services.theme, now_ms, now));
    app.chrome.sidebar_sampled = Some((now, shape));
}

/// Rows that moved up since the last frame (panes following their streams), as `prepare`
/// found them: the frame writer may let the terminal scroll them.
pub fn scroll_hints(app: &App) -> Vec<ScrollHint> {
    let Some(regions) = app.chrome.regions.as_ref() else { return Vec::new() };
    regions
        .panes
        .iter()
        .filter_map(|&(i, rect)| app.view.panes.get(i).and_then(|p| pane_view::scroll_hint(p, rect)))
        .collect()
}

/// What decides whether a frame may start from the last one: when any of it differs (layout,
/// theme, a popup or the palette over the panes), the frame is drawn fresh.
#[derive(Debug, Clone, PartialEq)]
pub struct LayoutKey {
    regions: Option<layout::Regions>,
    theme: (String, u64, crate::ui::theme::UiColors),
    /// Nothing is drawn over the panes (no overlay, no palette) and the room has panes.
    plain: bool,
}

/// This frame's layout key (after `prepare`).
pub fn layout_key(app: &App) -> LayoutKey {
    LayoutKey {
        regions: app.chrome.regions.clone(),
        theme: (app.services.theme.name.clone(), app.services.theme.markdown.generation, app.services.theme.ui.clone()),
        plain: app.chrome.overlay.is_none() && !palette_shown(app) && !app.view.panes.is_empty(),
    }
}

impl LayoutKey {
    /// Whether a frame with this key may start from a frame drawn with `last`.
    pub fn may_retain(&self, last: Option<&LayoutKey>) -> bool {
        self.plain && self.regions.is_some() && last == Some(self)
    }
}

/// The scroll a retained frame should start with: the hint whose panes' rows would then be
/// already on the screen in the greatest number, counted in cells; `None` when no hint gains
/// more than the rows it disturbs elsewhere (other panes and the sidebar on the same rows).
pub fn plan_scroll(app: &App, hints: &[ScrollHint]) -> Option<ScrollHint> {
    let regions = app.chrome.regions.as_ref()?;
    let plain = Reuse::default();
    let mut best: Option<(i64, &ScrollHint)> = None;
    for hint in hints {
        let moved = Reuse::scrolled(hint.clone());
        let mut gain: i64 = 0;
        for &(i, rect) in &regions.panes {
            let Some(pane) = app.view.panes.get(i) else { continue };
            let width = i64::from(rect.width);
            let redraw_plain = pane_view::rows_to_redraw(pane, rect, &plain) as i64;
            let redraw_moved = pane_view::rows_to_redraw(pane, rect, &moved) as i64;
            gain += (redraw_plain - redraw_moved) * width;
        }
        // The sidebar's rows move too and are rewritten where they differ; most of its cells
        // are blank, so a quarter of them is a fair guess.
        let side = regions.sidebar.map_or(0, |s| i64::from(s.width) * i64::from(hint.rows.end - hint.rows.start) / 4);
        let gain = gain - side;
        if gain > 0 && best.is_none_or(|(g, _)| gain > g) {
            best = Some((gain, hint));
        }
    }
    best.map(|(_, h)| h.clone())
}

/// After a frame was written: remember what each pane's body shows.
pub fn frame_done(app: &mut App) {
    let Some(regions) = app.chrome.regions.as_ref() else { return };
    for &(i, rect) in &regions.panes {
        if let Some(pane) = app.view.panes.get_mut(i) {
            pane_view::frame_done(pane, rect);
        }
    }
}

fn palette_shown(app: &App) -> bool {
    app.chrome.input.first_line().starts_with('/') && app.chrome.input.line_count() == 1 && app.chrome.overlay.is_none()
}

pub fn draw(frame: &mut Frame<'_>, app: &App) {
    draw_with(frame, app, None, None);
}

/// Draw a frame; with `reuse` the buffer holds the last frame (see `FrameWriter`), and only
/// what may have changed is drawn (the caller checked `LayoutKey::may_retain`); the sidebar it
/// drew is `last_sidebar`.
pub fn draw_with(frame: &mut Frame<'_>, app: &App, reuse: Option<&Reuse>, last_sidebar: Option<&sidebar::Picture>) {
    let area = frame.area();
    let Some(regions) = app.chrome.regions.as_ref().filter(|_| !layout::too_small(area)) else {
        reuse.inspect(|r| r.touch_all());
        return too_small(frame, area, app);
    };
    let ctx = app.draw_ctx();
    let panes = &app.view.panes;
    if panes.is_empty() {
        let main = Rect { width: area.width - regions.sidebar.map_or(0, |s| s.width), height: regions.input.y, ..area };
        empty_room(frame, main, app);
        reuse.inspect(|r| r.touch(main));
    }
    // A frame for a keystroke that only edited the draft leaves the panes as they are.
    let panes_kept = reuse.is_some_and(Reuse::keeps_panes);
    for &(i, rect) in regions.panes.iter().filter(|_| !panes_kept) {
        if let Some(pane) = panes.get(i) {
            pane_view::draw(frame, rect, pane, &ctx, reuse);
        }
    }
    if let Some(picture) = app.chrome.sidebar_picture.as_ref().filter(|_| regions.sidebar.is_some()) {
        // A retained frame keeps the sidebar it has when its picture did not change.
        if !reuse.is_some_and(Reuse::keeps_sidebar) {
            sidebar::draw(frame, picture, &app.services.theme, reuse, last_sidebar);
        }
    }
    // A retained frame keeps the input box it has when it would look the same.
    let keep_input = reuse.is_some_and(Reuse::keeps_input) && !palette_shown(app);
    // And the status line, likewise (a popup may have drawn over it).
    let keep_status = reuse.is_some_and(Reuse::keeps_status) && !palette_shown(app) && app.chrome.overlay.is_none();
    if let Some(reuse) = reuse {
        if !keep_input {
            cells::blank(frame.buffer_mut(), regions.input, Style::default());
            reuse.touch(regions.input);
        }
        if !keep_status {
            cells::blank(frame.buffer_mut(), regions.status, Style::default());
            reuse.touch(regions.status);
        }
        // Popups draw over everything, where only they know.
        if palette_shown(app) || app.chrome.overlay.is_some() {
            reuse.touch_all();
        }
    }
    if !keep_input {
        frame.render_widget(&app.chrome.input.textarea, regions.input);
    }
    if let Some(view) = app.chrome.status_view.as_ref().filter(|_| !keep_status) {
        status_line(frame, regions.status, view);
    }
    if palette_shown(app) {
        overlay::palette(frame, regions.input, app);
    }
    match &app.chrome.overlay {
        Some(Overlay::Help { scroll }) => overlay::help(frame, area, app, *scroll),
        Some(Overlay::Picker(p)) => overlay::picker(frame, area, p, &app.services.theme),
        Some(Overlay::Leaderboard { lines, scroll }) => {
            let w = area.width.saturating_sub(6).max(20);
            let h = (lines.len() as u16 + 2).min(area.height.saturating_sub(4)).max(5);
            let inner =
                popup(frame, centered(area, w, h), "Leaderboard · ↑/↓ scroll · Esc closes", &app.services.theme);
            let text: Vec<Line> = lines.iter().map(|l| Line::from(l.as_str())).collect();
            frame.render_widget(Paragraph::new(text).scroll((*scroll, 0)), inner);
        }
        Some(Overlay::Diff(d)) => d.draw(frame, area, &app.services.theme),
        Some(Overlay::Analysis { turn, scroll }) => analysis(frame, area, app, *turn, *scroll),
        Some(Overlay::Rooms(b)) => {
            let w = area.width.saturating_sub(8).max(20);
            let h = area.height.saturating_sub(6).max(8);
            b.draw(frame, centered(area, w, h), &app.services.theme);
        }
        None => {}
    }
}

fn too_small(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let text = format!(
        "Terminal too small ({}x{}): roundtable needs at least {}x{}. Enlarge the window; Ctrl+Q quits.",
        area.width,
        area.height,
        layout::MIN_WIDTH,
        layout::MIN_HEIGHT
    );
    let p = Paragraph::new(text).wrap(Wrap { trim: true }).style(Style::default().fg(app.services.theme.ui.warning));
    frame.render_widget(p, area);
}

fn empty_room(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let ui = &app.services.theme.ui;
    let block = Block::default().borders(Borders::ALL).border_style(Style::default().fg(ui.border));
    let lines = vec![
        Line::from(Span::styled(
            "No models in this room yet.",
            Style::default().fg(ui.fg).add_modifier(Modifier::BOLD),
        )),
        Line::default(),
        Line::from("Ctrl+N opens the model picker · /add openai/gpt-4o-mini adds one by id"),
        Line::from("F1 lists every key and command"),
    ];
    let p = Paragraph::new(lines).block(block).alignment(Alignment::Center).wrap(Wrap { trim: true });
    frame.render_widget(p, area);
}

/// What the status line shows: worked out once a frame (`prepare_chrome`), so that a frame
/// that would draw it the same leaves it as it is.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusView {
    left: Vec<Span<'static>>,
    /// The flags on the right (`SYNC`, `ZOOM`, …), in the accent colour.
    right: Span<'static>,
}

fn status_view(app: &App) -> StatusView {
    let ui = &app.services.theme.ui;
    let mut spans = Vec::new();
    if app.services.demo.is_some() {
        spans.push(Span::styled(
            " DEMO ",
            Style::default().fg(ui.badge_fg).bg(ui.badge_bg).add_modifier(Modifier::BOLD),
        ));
        spans.push(Span::raw(" "));
    }
    let (text, style) = match (&app.chrome.status, &app.services.demo) {
        (Some((level, text)), _) => {
            let color = match level {
                Level::Info => ui.fg,
                Level::Warn => ui.warning,
                Level::Error => ui.error,
            };
            (text.clone(), Style::default().fg(color))
        }
        // A blind round's voting keys matter more than the demo's reminder.
        (None, Some(_)) if app.room.is_blind() => (default_hint(app), Style::default().fg(ui.dim)),
        (None, Some(hint)) => (hint.clone(), Style::default().fg(ui.dim)),
        (None, None) => (default_hint(app), Style::default().fg(ui.dim)),
    };
    spans.push(Span::styled(text, style));
    let mut flags = Vec::new();
    if app.chrome.sync_scroll {
        flags.push("SYNC");
    }
    if app.chrome.zoom.is_some() {
        flags.push("ZOOM");
    }
    if !app.chrome.mouse_capture {
        flags.push("MOUSE OFF");
    }
    if !app.enabled_tools().is_empty() {
        flags.push("TOOLS");
    }
    let branch;
    if app.room.branch_count() > 1 {
        let (at, n) = app.room.branch_position();
        branch = format!("BRANCH {at}/{n}");
        flags.push(&branch);
    }
    if app.chrome.editing.is_some() {
        flags.push("EDITING");
    }
    let right = if flags.is_empty() { String::new() } else { format!(" {} ", flags.join(" · ")) };
    StatusView { left: spans, right: Span::styled(right, Style::default().fg(ui.accent)) }
}

fn status_line(frame: &mut Frame<'_>, area: Rect, view: &StatusView) {
    let right_w = view.right.content.chars().count() as u16;
    let left_area = Rect { width: area.width.saturating_sub(right_w), ..area };
    frame.render_widget(Paragraph::new(Line::from(view.left.clone())), left_area);
    if right_w > 0 && right_w < area.width {
        let at = Rect { x: area.right() - right_w, width: right_w, ..area };
        frame.render_widget(Paragraph::new(view.right.clone()), at);
    }
}

/// The analysis overlay: as it streams, then its structured fields when they parse.
fn analysis(frame: &mut Frame<'_>, area: Rect, app: &App, turn: crate::core::protocol::TurnId, scroll: u16) {
    let w = area.width.saturating_sub(8).max(20);
    let h = area.height.saturating_sub(4).max(6);
    let rect = centered(area, w, h);
    let Some(a) = app.room.analysis_of(turn) else { return };
    let state = match &a.state {
        s if !s.is_final() => "streaming",
        crate::core::room::AnswerState::Done => "done",
        _ => "ended",
    };
    let figures = crate::core::room::Totals::of(&a.steps);
    let cost = if figures.requests > 0 { format!(" · {}", crate::present::usd(figures.cost)) } else { String::new() };
    let model = crate::ui::app::blind_scrub(&app.room, &a.model);
    let title = format!("Analysis by {model} · {state}{cost} · ↑/↓ scroll · Esc closes");
    let inner = popup(frame, rect, &title, &app.services.theme);
    let text = if a.state.is_final() && a.structured {
        match crate::core::compare::parse_reply(&a.text) {
            crate::core::compare::AnalystReply::Structured(parsed) => parsed.to_text(),
            _ => a.text.clone(),
        }
    } else {
        a.text.clone()
    };
    let mut body = crate::core::sanitize::strip_controls(&text).into_owned();
    if let Some(e) = &a.error {
        body.push_str(&format!("\n\n✗ {}", e.message));
    }
    frame.render_widget(Paragraph::new(body).wrap(Wrap { trim: false }).scroll((scroll, 0)), inner);
}

fn default_hint(app: &App) -> String {
    if app.room.is_blind() && !app.is_streaming() && app.room.head.is_some() {
        let n = app.view.panes.len();
        let labels: Vec<String> = (0..n).map(crate::core::compare::vote::blind_letters).collect();
        return format!(
            "Blind round: vote with /vote {}|tie|bad or Alt+1…{n} for Model A…; /tag TAG files it",
            labels.join("|")
        );
    }
    if let Some(i) = app.view.panes.iter().position(|p| p.state == crate::ui::pane::PaneState::AwaitingTool) {
        return format!("Pane {} asks to run a tool: y runs it once · a always for this tool · n denies", i + 1);
    }
    if app.is_streaming() {
        "Esc stops all · Ctrl+X stops the focused pane · PgUp/PgDn scroll · Alt+Z zoom".into()
    } else {
        "Enter send · Tab next pane · Ctrl+N add model · / commands · F1 help · Ctrl+Q quit".into()
    }
}

/// A centered rectangle of at most `w`x`h` inside `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect { x: area.x + (area.width - w) / 2, y: area.y + (area.height - h) / 2, width: w, height: h }
}

/// Clear `area` and draw a titled popup frame; returns the inner area.
pub fn popup(frame: &mut Frame<'_>, area: Rect, title: &str, app_theme: &crate::ui::theme::Theme) -> Rect {
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(Style::default().fg(app_theme.ui.border_focused))
        .title(Span::styled(format!(" {title} "), Style::default().add_modifier(Modifier::BOLD)));
    let inner = block.inner(area);
    frame.render_widget(Clear, area);
    frame.render_widget(block, area);
    inner
}
