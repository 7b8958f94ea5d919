//! The sidebar: room and per-model totals, today's spend, every quota bucket as a gauge with a
//! reset countdown, credits, the draft's estimated cost per model and a throughput sparkline.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, LineGauge, Paragraph, Sparkline};
use rust_decimal::Decimal;

use crate::core::protocol::AccountInfo;
use crate::core::quota::{BucketStatus, format_duration_ms};
use crate::present;
use crate::ui::frames::Reuse;
use crate::ui::pane::Pane;
use crate::ui::theme::Theme;

/// Streamed tokens per second over the last minute, in one-second buckets.
#[derive(Debug, Clone)]
pub struct Throughput {
    origin: Instant,
    /// (second since origin, tokens) for the most recent seconds, oldest first.
    buckets: VecDeque<(u64, u64)>,
}

const THROUGHPUT_SECONDS: u64 = 60;

impl Throughput {
    pub fn new(origin: Instant) -> Throughput {
        Throughput { origin, buckets: VecDeque::new() }
    }

    pub fn record(&mut self, now: Instant, tokens: u64) {
        let sec = now.saturating_duration_since(self.origin).as_secs();
        match self.buckets.back_mut() {
            Some((s, n)) if *s == sec => *n += tokens,
            _ => self.buckets.push_back((sec, tokens)),
        }
        while self.buckets.front().is_some_and(|(s, _)| s + THROUGHPUT_SECONDS < sec) {
            self.buckets.pop_front();
        }
    }

    /// One value per second of the last `width` seconds up to `now`, zeros where idle.
    pub fn series(&self, now: Instant, width: usize) -> Vec<u64> {
        let end = now.saturating_duration_since(self.origin).as_secs();
        let start = end.saturating_sub(width.saturating_sub(1) as u64);
        let mut out = vec![0; width];
        for (s, n) in &self.buckets {
            if *s >= start && *s <= end {
                out[(*s - start) as usize] = *n;
            }
        }
        out
    }
}

/// Estimated prompt of the draft for one model of the room.
#[derive(Debug, Clone, PartialEq)]
pub struct DraftEstimate {
    pub model: String,
    pub tokens: u64,
    pub cost: Option<Decimal>,
}

/// What the sidebar shows besides the panes' own totals.
#[derive(Debug, Clone)]
pub struct SidebarData {
    pub quota: Vec<BucketStatus>,
    pub account: Option<AccountInfo>,
    /// Today's spend (UTC day): the ledger's before this process plus everything since, from
    /// the core's accounting (never changed by removing panes, `/new` or resuming).
    pub today: Decimal,
    /// Model ids to keep off the sidebar during a blind round (per-pane rows, draft estimates
    /// and quota buckets named after a model are hidden); empty otherwise.
    pub blind_models: Vec<String>,
    /// The room's totals, removed panes included.
    pub room_totals: crate::core::room::Totals,
    pub draft: Vec<DraftEstimate>,
    pub throughput: Throughput,
    pub store_problem: Option<String>,
}

impl SidebarData {
    pub fn new(now: Instant) -> SidebarData {
        SidebarData {
            quota: Vec::new(),
            account: None,
            today: Decimal::ZERO,
            room_totals: Default::default(),
            blind_models: Vec::new(),
            draft: Vec::new(),
            throughput: Throughput::new(now),
            store_problem: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Row {
    Text(Line<'static>),
    Gauge { label: String, ratio: f64, text: String, warn: bool },
    Spark,
}

/// What the sidebar shows, worked out before a frame is drawn: a frame that starts from the
/// last one keeps the sidebar it drew when the picture is the same.
#[derive(Debug, Clone, PartialEq)]
pub struct Picture {
    area: Rect,
    rows: Vec<Row>,
    series: Vec<u64>,
}

/// What about the sidebar changes other than its live figures: while this stays the same and
/// answers stream, the last picture may stand for a moment (`draw::prepare`).
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    area: Rect,
    pane_states: Vec<std::mem::Discriminant<crate::ui::pane::PaneState>>,
    draft: Vec<DraftEstimate>,
    theme: String,
    blind: usize,
    quota_buckets: usize,
    account: bool,
    store_problem: Option<String>,
}

impl Shape {
    pub fn of(area: Rect, panes: &[Pane], data: &SidebarData, theme: &Theme) -> Shape {
        Shape {
            area,
            pane_states: panes.iter().map(|p| std::mem::discriminant(&p.state)).collect(),
            draft: data.draft.clone(),
            theme: theme.name.clone(),
            blind: data.blind_models.len(),
            quota_buckets: data.quota.len(),
            account: data.account.is_some(),
            store_problem: data.store_problem.clone(),
        }
    }
}

pub fn picture(area: Rect, panes: &[Pane], data: &SidebarData, theme: &Theme, now_ms: i64, now: Instant) -> Picture {
    let inner = Block::default().borders(Borders::LEFT).inner(area);
    let rows = rows(panes, data, theme, now_ms, inner.width);
    let series = data.throughput.series(now, usize::from(inner.width.saturating_sub(1)));
    Picture { area, rows, series }
}

impl Picture {
    /// Where the sidebar is drawn.
    pub fn area(&self) -> Rect {
        self.area
    }
}

/// Draw `picture`. A retained frame whose sidebar rows are where the last frame drew them
/// (`reuse` with no scroll), and that drew `last` there, redraws only the rows that differ from
/// it: while answers stream the live figures change a few rows a few times a second, and
/// redrawing all of them cost the whole sidebar's cells twice (drawn, then compared).
pub fn draw(frame: &mut Frame<'_>, picture: &Picture, theme: &Theme, reuse: Option<&Reuse>, last: Option<&Picture>) {
    let in_place = reuse.filter(|r| r.rows_in_place()).zip(last.filter(|l| l.area == picture.area));
    let Some((reuse, last)) = in_place else {
        let block = Block::default().borders(Borders::LEFT).border_style(Style::default().fg(theme.ui.border));
        frame.render_widget(Clear, picture.area);
        frame.render_widget(block, picture.area);
        for placed in placements(picture) {
            draw_row(frame, picture, &placed, theme);
        }
        reuse.inspect(|r| r.touch(picture.area));
        return;
    };
    let (before, now) = (placements(last), placements(picture));
    let shown_already = |p: &Placed<'_>| {
        before.iter().any(|b| b == p) && (!matches!(p.row, Row::Spark) || last.series == picture.series)
    };
    for placed in now.iter().filter(|p| !shown_already(p)) {
        let rows = row_area(picture.area, placed.y, placed.height);
        frame.render_widget(Clear, rows);
        draw_row(frame, picture, placed, theme);
        reuse.touch(rows);
    }
    // Rows the last picture used that this one leaves blank.
    let used_now = |y: u16| now.iter().any(|p| (p.y..p.y + p.height).contains(&y));
    for y in before.iter().flat_map(|b| b.y..b.y + b.height).filter(|&y| !used_now(y)) {
        let row = row_area(picture.area, y, 1);
        frame.render_widget(Clear, row);
        reuse.touch(row);
    }
}

/// A row of a picture where it is drawn: from line `y`, `height` lines.
#[derive(Debug, PartialEq)]
struct Placed<'a> {
    y: u16,
    height: u16,
    row: &'a Row,
}

/// Where each row of `picture` goes, top to bottom, as far as the sidebar reaches.
fn placements(picture: &Picture) -> Vec<Placed<'_>> {
    let inner = Block::default().borders(Borders::LEFT).inner(picture.area);
    let mut y = inner.y;
    let mut placed = Vec::with_capacity(picture.rows.len());
    for row in &picture.rows {
        if y >= inner.bottom() {
            break;
        }
        let lines = match row {
            Row::Text(_) => 1,
            Row::Gauge { .. } => 2,
            Row::Spark => 3,
        };
        let height = lines.min(inner.bottom() - y);
        placed.push(Placed { y, height, row });
        y += height;
    }
    placed
}

/// Lines `y..y + height` of the sidebar in `area`, right of its border and the blank column.
fn row_area(area: Rect, y: u16, height: u16) -> Rect {
    let inner = Block::default().borders(Borders::LEFT).inner(area);
    Rect { x: inner.x + 1, y, width: inner.width.saturating_sub(1), height }
}

fn draw_row(frame: &mut Frame<'_>, picture: &Picture, placed: &Placed<'_>, theme: &Theme) {
    let ui = &theme.ui;
    let line_area = row_area(picture.area, placed.y, 1);
    match placed.row {
        Row::Text(line) => frame.render_widget(Paragraph::new(line.clone()), line_area),
        Row::Gauge { label, ratio, text, warn } => {
            let color = if *warn { ui.warning } else { ui.gauge };
            let gauge = LineGauge::default()
                .ratio(ratio.clamp(0.0, 1.0))
                .label(Line::from(Span::styled(label.as_str(), Style::default().fg(ui.fg))))
                .filled_style(Style::default().fg(color))
                .unfilled_style(Style::default().fg(ui.gauge_bg));
            // Without colours, filled and empty must differ by shape.
            let (filled, unfilled) = gauge_symbols(theme);
            let gauge = gauge.filled_symbol(filled).unfilled_symbol(unfilled);
            frame.render_widget(gauge, line_area);
            if placed.height > 1 {
                let sub = Rect { y: placed.y + 1, ..line_area };
                frame.render_widget(Paragraph::new(Span::styled(text.as_str(), Style::default().fg(ui.dim))), sub);
            }
        }
        Row::Spark => frame.render_widget(
            Sparkline::default().data(&picture.series).style(Style::default().fg(ui.sparkline)),
            Rect { height: placed.height, ..line_area },
        ),
    }
}

/// The gauge's filled and empty cells: one thin line told apart by colour, or, under `NO_COLOR`,
/// a solid bar over a dotted track.
pub fn gauge_symbols(theme: &Theme) -> (&'static str, &'static str) {
    if theme.markdown.no_color { ("█", "·") } else { ("─", "─") }
}

fn heading(text: &str, theme: &Theme) -> Row {
    Row::Text(Line::from(Span::styled(
        text.to_string(),
        Style::default().fg(theme.ui.accent).add_modifier(Modifier::BOLD),
    )))
}

fn kv(key: String, value: String, theme: &Theme, width: u16) -> Row {
    let room = usize::from(width.saturating_sub(2)).saturating_sub(value.chars().count() + 1);
    Row::Text(Line::from(vec![
        Span::styled(format!("{:<room$} ", present::shorten(&key, room)), Style::default().fg(theme.ui.fg)),
        Span::styled(value, Style::default().fg(theme.ui.fg).add_modifier(Modifier::BOLD)),
    ]))
}

/// A pane's row: its number stays whole however much of the model id has to go.
fn pane_kv(number: usize, model: &str, value: String, theme: &Theme, width: u16) -> Row {
    let label = number.to_string();
    let room = usize::from(width.saturating_sub(2)).saturating_sub(value.chars().count() + 1 + label.len() + 1);
    kv(format!("{label} {}", present::shorten(model, room)), value, theme, width)
}

fn rows(panes: &[Pane], data: &SidebarData, theme: &Theme, now_ms: i64, width: u16) -> Vec<Row> {
    let mut rows = Vec::new();
    let dim = Style::default().fg(theme.ui.dim);
    // Room totals, then one row per model.
    let room = &data.room_totals;
    let (cost, estimated, unknown) = (room.cost, room.estimated > 0, room.unknown);
    let mark = |est: bool, unknown: u32, v: Decimal| {
        format!("{}{}{}", if est { "~" } else { "" }, present::usd(v), if unknown > 0 { "+?" } else { "" })
    };
    rows.push(heading("Room", theme));
    rows.push(kv(format!("{} tok", room.tokens_text()), mark(estimated, unknown, cost), theme, width));
    let blind = !data.blind_models.is_empty();
    for (i, p) in panes.iter().enumerate().filter(|_| !blind) {
        let t = &p.totals;
        rows.push(pane_kv(i + 1, &p.model, mark(t.estimated > 0, t.unknown, t.cost), theme, width));
    }
    if estimated {
        rows.push(Row::Text(Line::from(Span::styled("~ estimated from model prices", dim))));
    }
    rows.push(Row::Text(Line::default()));
    rows.push(kv("Today".into(), present::usd(data.today), theme, width));
    if let Some(acct) = &data.account {
        if let Some(credits) = acct.credits_remaining {
            rows.push(kv("Credits left".into(), present::usd(credits), theme, width));
        }
        if let (Some(limit), Some(left)) = (acct.key_limit, acct.key_limit_remaining) {
            let reset = acct.key_limit_reset.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
            rows.push(kv(
                format!("Key limit{reset}"),
                format!("{} / {}", present::usd(left), present::usd(limit)),
                theme,
                width,
            ));
        }
    }

    if !data.quota.is_empty() {
        rows.push(Row::Text(Line::default()));
        rows.push(heading("Quota", theme));
        for b in data.quota.iter().filter(|b| !data.blind_models.iter().any(|m| b.bucket.contains(m.as_str()))) {
            let (ratio, figures) = match b.limit {
                Some(limit) if limit > 0 => (f64::from(b.used) / f64::from(limit), format!("{}/{limit}", b.used)),
                _ => (0.0, format!("{} used", b.used)),
            };
            let reset = b
                .resets_at_ms
                .filter(|&r| r > now_ms)
                .map(|r| format!(" · resets in {}", format_duration_ms(r - now_ms)))
                .unwrap_or_default();
            let warn = b.remaining.is_some_and(|r| r == 0) || ratio >= 0.8;
            rows.push(Row::Gauge {
                label: format!("{} {} ", short_bucket(&b.bucket), b.window),
                ratio,
                text: format!("{figures}{reset}"),
                warn,
            });
        }
    }

    if !data.draft.is_empty() && !blind {
        rows.push(Row::Text(Line::default()));
        rows.push(heading("Draft (estimate)", theme));
        for d in &data.draft {
            let cost = d.cost.map(|c| format!("~{}", present::usd(c))).unwrap_or_else(|| "price ?".into());
            rows.push(kv(format!("{} {} tok", d.model, present::tokens(d.tokens)), cost, theme, width));
        }
    }

    if let Some(problem) = &data.store_problem {
        rows.push(Row::Text(Line::default()));
        for line in crate::ui::wrap::plain(problem, width.saturating_sub(1), Style::default().fg(theme.ui.warning)) {
            rows.push(Row::Text(line));
        }
    }

    rows.push(Row::Text(Line::default()));
    rows.push(heading("Throughput (tok/s)", theme));
    rows.push(Row::Spark);
    rows
}

/// "openrouter:free" → "free", "gemini:gemini-2.0-flash" → "gemini-2.0-flash".
fn short_bucket(name: &str) -> String {
    let tail = name.rsplit(':').next().unwrap_or(name);
    present::shorten(tail, 16)
}

/// How long until the next visible change of a countdown, so the loop can sleep until then
/// instead of ticking.
pub fn next_countdown_change(data: &SidebarData, now_ms: i64) -> Option<Duration> {
    data.quota
        .iter()
        .filter_map(|b| b.resets_at_ms)
        .filter(|&r| r > now_ms)
        .map(|r| {
            let left = r - now_ms;
            // Countdowns show seconds under an hour, minutes above.
            let step = if left < 3_600_000 { 1_000 } else { 60_000 };
            Duration::from_millis(u64::try_from(left % step).unwrap_or(0).max(1) + 1)
        })
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throughput_series_buckets_by_second_and_forgets_old() {
        let t0 = Instant::now();
        let mut t = Throughput::new(t0);
        t.record(t0, 5);
        t.record(t0 + Duration::from_millis(500), 5);
        t.record(t0 + Duration::from_secs(2), 7);
        assert_eq!(t.series(t0 + Duration::from_secs(2), 3), [10, 0, 7]);
        t.record(t0 + Duration::from_secs(200), 1);
        assert_eq!(t.buckets.len(), 1);
        assert_eq!(t.series(t0, 0), Vec::<u64>::new());
    }

    /// Sidebars of one size whose rows differ in every way the live figures and the room can
    /// make them differ: a figure, the sparkline's data, a gauge, rows added, gone or kinds
    /// swapped, and more rows than fit.
    fn varied_pictures(area: Rect) -> Vec<Picture> {
        let text = |s: &str| {
            Row::Text(Line::from(Span::styled(s.to_string(), Style::default().fg(ratatui::style::Color::Yellow))))
        };
        let gauge =
            |ratio: f64, warn: bool| Row::Gauge { label: "free day".into(), ratio, text: "resets 3h".into(), warn };
        let picture = |rows: Vec<Row>, series: Vec<u64>| Picture { area, rows, series };
        vec![
            picture(
                vec![text("Room"), text("tokens 10"), gauge(0.5, false), Row::Spark, text("cost $0.01")],
                vec![1, 2, 3],
            ),
            picture(
                vec![text("Room"), text("tokens 12"), gauge(0.5, false), Row::Spark, text("cost $0.01")],
                vec![1, 2, 4],
            ),
            picture(
                vec![text("Room"), text("tokens 12"), gauge(0.9, true), Row::Spark, text("cost $0.02")],
                vec![1, 2, 4],
            ),
            picture(vec![text("Room"), Row::Spark], vec![5]),
            picture(vec![text("Room"), text("a"), text("b"), text("c"), Row::Spark, text("tokens 12")], vec![1, 2, 4]),
            picture(
                (0..9).map(|i| if i % 3 == 2 { gauge(0.1, false) } else { text(&format!("row {i}")) }).collect(),
                vec![],
            ),
            picture((0..9).map(|i| text(&format!("row {i}"))).chain([Row::Spark]).collect(), vec![9, 9]),
            picture(Vec::new(), Vec::new()),
        ]
    }

    #[test]
    fn a_sidebar_redrawn_in_place_equals_one_drawn_whole_and_says_where_it_drew() {
        use ratatui::Terminal;
        use ratatui::backend::TestBackend;
        use ratatui::buffer::Buffer;
        let theme = crate::ui::theme::load(&crate::ui::theme::names()[0], None, false).unwrap();
        let area = Rect::new(3, 0, 20, 12);
        let mut term = Terminal::new(TestBackend::new(24, 12)).unwrap();
        let mut drawn = |last: Option<&Picture>, picture: &Picture, start: Option<&Buffer>| {
            match start {
                Some(buffer) => *term.current_buffer_mut() = buffer.clone(),
                None => term.current_buffer_mut().reset(),
            }
            let reuse = last.map(|_| Reuse::default());
            draw(&mut term.get_frame(), picture, &theme, reuse.as_ref(), last);
            (term.current_buffer_mut().clone(), reuse.and_then(Reuse::touched_rows))
        };
        let pictures = varied_pictures(area);
        for (i, before) in pictures.iter().enumerate() {
            let (shown, _) = drawn(None, before, None);
            for (j, after) in pictures.iter().enumerate() {
                let (whole, _) = drawn(None, after, None);
                let (in_place, touched) = drawn(Some(before), after, Some(&shown));
                assert_eq!(in_place, whole, "picture {i} then {j}");
                let touched = touched.expect("the sidebar says which rows it drew");
                for y in 0..whole.area.height {
                    let row = |b: &Buffer| (0..b.area.width).map(|x| b[(x, y)].clone()).collect::<Vec<_>>();
                    let drew = touched.get(usize::from(y)).is_some_and(|c| c.0 < c.1);
                    assert!(drew || row(&shown) == row(&whole), "picture {i} then {j}: row {y} changed untouched");
                }
                if i == j {
                    assert!(touched.iter().all(|c| c.0 == c.1), "picture {i} again: nothing is redrawn");
                }
            }
        }
    }

    /// The gauge row of a sidebar holding one half-used bucket.
    fn gauge_row(no_color: bool) -> String {
        use ratatui::Terminal;
        use ratatui::backend::TestBackend;
        let theme = crate::ui::theme::load(&crate::ui::theme::names()[0], None, no_color).unwrap();
        let now = Instant::now();
        let mut data = SidebarData::new(now);
        data.quota.push(BucketStatus {
            bucket: "openrouter:free".into(),
            window: "minute",
            used: 10,
            limit: Some(20),
            remaining: Some(10),
            resets_at_ms: Some(30_000),
            used_source: crate::core::quota::FigureSource::Local,
            limit_source: crate::core::quota::FigureSource::Config,
        });
        let mut term = Terminal::new(TestBackend::new(30, 20)).unwrap();
        term.draw(|f| draw(f, &picture(f.area(), &[], &data, &theme, 0, now), &theme, None, None)).unwrap();
        let buf = term.backend().buffer();
        (0..buf.area.height)
            .map(|y| (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect::<String>())
            .find(|row| row.contains("free minute"))
            .unwrap()
    }

    #[test]
    fn gauges_without_colour_tell_filled_from_empty_by_shape() {
        let row = gauge_row(true);
        let filled = row.matches('█').count();
        let empty = row.matches('·').count();
        assert!(filled > 0 && empty > 0 && filled.abs_diff(empty) <= 1, "{row}");
        assert!(gauge_row(false).contains('─'));
    }
}
