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

pub fn draw(frame: &mut Frame<'_>, picture: &Picture, theme: &Theme) {
    let ui = &theme.ui;
    let area = picture.area;
    let block = Block::default().borders(Borders::LEFT).border_style(Style::default().fg(ui.border));
    let inner = block.inner(area);
    frame.render_widget(Clear, area);
    frame.render_widget(block, area);
    let mut y = inner.y;
    for row in &picture.rows {
        if y >= inner.bottom() {
            break;
        }
        let line_area = Rect { x: inner.x + 1, y, width: inner.width.saturating_sub(1), height: 1 };
        match row {
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
                y += 1;
                if y < inner.bottom() {
                    let sub = Rect { y, ..line_area };
                    frame.render_widget(Paragraph::new(Span::styled(text.as_str(), Style::default().fg(ui.dim))), sub);
                }
            }
            Row::Spark => {
                let h = 3.min(inner.bottom() - y);
                let spark_area = Rect { height: h, ..line_area };
                frame.render_widget(
                    Sparkline::default().data(&picture.series).style(Style::default().fg(ui.sparkline)),
                    spark_area,
                );
                y += h.saturating_sub(1);
            }
        }
        y += 1;
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
        term.draw(|f| draw(f, &picture(f.area(), &[], &data, &theme, 0, now), &theme)).unwrap();
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
