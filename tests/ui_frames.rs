//! Frames drawn the chatroom's incremental way (started from the last frame, only changed rows
//! drawn, a following pane's rows scrolled by the terminal) must look exactly like the same
//! state drawn from scratch: no stale cell after streaming, scrolling back, the "new below"
//! marker, a selection, an overlay, zoom, a theme change or a resize. Checked cell for cell
//! (symbol and colours) on ratatui's TestBackend, and on the real escape sequences (scroll
//! regions included) as a vt100 terminal shows them.

use std::io::Write;
use std::sync::{Arc, Mutex};

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier};
use ratatui::{Terminal, TerminalOptions, Viewport};
use roundtable::config::Config;
use roundtable::core::protocol::{
    CoreEvent, Cost, CostSource, EventKind, FinishReason, StreamEvent, StreamSummary, TargetId, Timings, TurnId, Usage,
};
use roundtable::ui::app::{App, AppInit};
use roundtable::ui::event_loop::Painter;
use roundtable::ui::settings::DEFAULT_SCROLL_JUMP;
use roundtable::ui::tty::Tty;

const MODELS: [&str; 3] = ["openai/gpt-4o-mini", "anthropic/claude-haiku-4.5", "google/gemini-2.5-flash"];

/// A long markdown answer: paragraphs, a list, a code block, wide characters.
fn answer(seed: usize) -> String {
    let mut s = String::new();
    for i in 0..12 {
        s.push_str(&format!(
            "Paragraph {i} of answer {seed}: a **hash map** keeps keys in buckets, and 日本語 takes two \
             columns, as does 🦀. It grows when the load factor passes a limit, rehashing every key.\n\n"
        ));
        if i % 4 == 1 {
            s.push_str("1. Hash the key.\n2. Pick the bucket.\n3. Compare the keys.\n\n");
        }
        if i % 4 == 3 {
            s.push_str("```rust\nlet mut m = std::collections::HashMap::new();\nm.insert(\"k\", 1);\n```\n\n");
        }
    }
    s
}

fn app(panes: usize) -> App {
    let config = Config::defaults();
    let models = MODELS[..panes].iter().map(|m| m.to_string()).collect();
    // Colours on: the comparison covers styles, not only text.
    let theme = roundtable::ui::theme::load("dark", None, false).unwrap();
    let mut app = App::new(AppInit { ..AppInit::new(models, theme, config.providers.clone(), std::env::temp_dir()) });
    let now = std::time::Instant::now();
    app.chrome.frozen_clock =
        Some((now, std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000)));
    app
}

fn stream(app: &mut App, target: u32, kind: EventKind) {
    app.on_core(CoreEvent::Stream(StreamEvent { turn: TurnId(1), target: TargetId(target), kind }));
}

fn key(app: &mut App, code: KeyCode, mods: KeyModifiers) {
    app.on_terminal(Event::Key(KeyEvent::new(code, mods)));
    app.effects.clear();
}

fn command(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c), KeyModifiers::NONE);
    }
    key(app, KeyCode::Enter, KeyModifiers::NONE);
}

/// What both checks share: paint the app incrementally, then compare with a fresh drawing.
trait Screen {
    fn paint(&mut self, app: &mut App);
    /// A frame for keys that only edited the draft (the panes are left as they were).
    fn paint_draft(&mut self, app: &mut App);
    /// Panics (naming `step`) unless the screen equals `fresh`.
    fn check(&mut self, fresh: &Buffer, step: &str);
    fn resize(&mut self, _w: u16, _h: u16) -> bool {
        false
    }
    fn size(&self) -> (u16, u16);
}

/// The same app state drawn from scratch into a blank buffer.
fn fresh(app: &mut App, w: u16, h: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    roundtable::ui::draw::prepare(app, Rect::new(0, 0, w, h));
    terminal.draw(|f| roundtable::ui::draw::draw(f, app)).unwrap();
    terminal.backend().buffer().clone()
}

fn text(buf: &Buffer) -> String {
    let w = usize::from(buf.area.width);
    buf.content.chunks(w).map(|r| r.iter().map(|c| c.symbol()).collect::<String>() + "\n").collect()
}

struct Cells {
    terminal: Terminal<WideAware>,
    painter: Painter,
}

/// TestBackend with two traits of real terminals that ratatui's diff relies on: writing a
/// narrow character over the left half of a wide one erases its right half too, and a wide
/// character's right half holds nothing else. (TestBackend keeps whatever that cell held before,
/// which no terminal shows, and which shows again once the wide character is gone.)
struct WideAware(TestBackend);

impl ratatui::backend::Backend for WideAware {
    type Error = std::convert::Infallible;

    fn draw<'a, I>(&mut self, content: I) -> Result<(), Self::Error>
    where
        I: Iterator<Item = (u16, u16, &'a ratatui::buffer::Cell)>,
    {
        let width = |c: &ratatui::buffer::Cell| unicode_width::UnicodeWidthStr::width(c.symbol());
        let mut cells: Vec<(u16, u16, ratatui::buffer::Cell)> = Vec::new();
        for (x, y, cell) in content {
            cells.push((x, y, cell.clone()));
            let area = self.0.buffer().area;
            let covered_before = width(&self.0.buffer()[(x, y)]) > 1;
            if x + 1 < area.width && (covered_before || width(cell) > 1) {
                cells.push((x + 1, y, ratatui::buffer::Cell::EMPTY));
            }
        }
        self.0.draw(cells.iter().map(|(x, y, c)| (*x, *y, c)))
    }
    fn hide_cursor(&mut self) -> Result<(), Self::Error> {
        self.0.hide_cursor()
    }
    fn show_cursor(&mut self) -> Result<(), Self::Error> {
        self.0.show_cursor()
    }
    fn get_cursor_position(&mut self) -> Result<ratatui::layout::Position, Self::Error> {
        self.0.get_cursor_position()
    }
    fn set_cursor_position<P: Into<ratatui::layout::Position>>(&mut self, position: P) -> Result<(), Self::Error> {
        self.0.set_cursor_position(position)
    }
    fn clear(&mut self) -> Result<(), Self::Error> {
        self.0.clear()
    }
    fn clear_region(&mut self, clear_type: ratatui::backend::ClearType) -> Result<(), Self::Error> {
        self.0.clear_region(clear_type)
    }
    fn size(&self) -> Result<ratatui::layout::Size, Self::Error> {
        self.0.size()
    }
    fn window_size(&mut self) -> Result<ratatui::backend::WindowSize, Self::Error> {
        self.0.window_size()
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
    fn scroll_region_up(&mut self, region: std::ops::Range<u16>, amount: u16) -> Result<(), Self::Error> {
        self.0.scroll_region_up(region, amount)
    }
    fn scroll_region_down(&mut self, region: std::ops::Range<u16>, amount: u16) -> Result<(), Self::Error> {
        self.0.scroll_region_down(region, amount)
    }
}

impl Screen for Cells {
    fn paint(&mut self, app: &mut App) {
        self.painter.paint(&mut self.terminal, app).unwrap();
    }
    fn paint_draft(&mut self, app: &mut App) {
        self.painter.paint_draft(&mut self.terminal, app).unwrap();
    }
    fn check(&mut self, fresh: &Buffer, step: &str) {
        let shown = self.terminal.backend().0.buffer();
        assert_eq!(shown.area, fresh.area, "{step}: sizes differ");
        for (i, (a, b)) in shown.content.iter().zip(&fresh.content).enumerate() {
            let (x, y) = (i % usize::from(fresh.area.width), i / usize::from(fresh.area.width));
            if covered_by_wide(fresh, x as u16, y as u16) {
                continue;
            }
            assert!(
                a.symbol() == b.symbol() && a.fg == b.fg && a.bg == b.bg && a.modifier == b.modifier,
                "{step}: cell ({x},{y}) shows {a:?}, a fresh frame has {b:?}\nshown:\n{}\nfresh:\n{}",
                text(shown),
                text(fresh)
            );
        }
    }
    fn resize(&mut self, w: u16, h: u16) -> bool {
        // No `forget`: a size change alone must make the next frame fresh.
        self.terminal.backend_mut().0.resize(w, h);
        true
    }
    fn size(&self) -> (u16, u16) {
        let a = self.terminal.backend().0.buffer().area;
        (a.width, a.height)
    }
}

/// The bytes the chatroom's terminal backend writes, fed to a vt100 terminal.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Vt {
    terminal: Terminal<Tty<Sink>>,
    sink: Sink,
    parser: vt100::Parser,
    painter: Painter,
    area: Rect,
    /// Scroll sequences seen, so the test knows the scrolling path was exercised.
    scrolls: usize,
}

impl Vt {
    fn new(w: u16, h: u16) -> Vt {
        let sink = Sink::default();
        let area = Rect::new(0, 0, w, h);
        let terminal = Terminal::with_options(
            Tty::with_size(sink.clone(), w, h),
            TerminalOptions { viewport: Viewport::Fixed(area) },
        )
        .unwrap();
        Vt { terminal, sink, parser: vt100::Parser::new(h, w, 0), painter: Painter::default(), area, scrolls: 0 }
    }

    /// Hand what the last frame wrote to the terminal model.
    fn take_bytes(&mut self) {
        let bytes = std::mem::take(&mut *self.sink.0.lock().unwrap());
        self.scrolls += String::from_utf8_lossy(&bytes).matches("S\x1b[r").count();
        self.parser.process(&bytes);
    }
}

fn vt_color(c: Color) -> vt100::Color {
    match c {
        Color::Reset => vt100::Color::Default,
        Color::Black => vt100::Color::Idx(0),
        Color::Red => vt100::Color::Idx(1),
        Color::Green => vt100::Color::Idx(2),
        Color::Yellow => vt100::Color::Idx(3),
        Color::Blue => vt100::Color::Idx(4),
        Color::Magenta => vt100::Color::Idx(5),
        Color::Cyan => vt100::Color::Idx(6),
        Color::Gray => vt100::Color::Idx(7),
        Color::DarkGray => vt100::Color::Idx(8),
        Color::LightRed => vt100::Color::Idx(9),
        Color::LightGreen => vt100::Color::Idx(10),
        Color::LightYellow => vt100::Color::Idx(11),
        Color::LightBlue => vt100::Color::Idx(12),
        Color::LightMagenta => vt100::Color::Idx(13),
        Color::LightCyan => vt100::Color::Idx(14),
        Color::White => vt100::Color::Idx(15),
        Color::Rgb(r, g, b) => vt100::Color::Rgb(r, g, b),
        Color::Indexed(i) => vt100::Color::Idx(i),
    }
}

impl Screen for Vt {
    fn paint(&mut self, app: &mut App) {
        self.painter.paint(&mut self.terminal, app).unwrap();
        self.take_bytes();
    }
    fn paint_draft(&mut self, app: &mut App) {
        self.painter.paint_draft(&mut self.terminal, app).unwrap();
        self.take_bytes();
    }
    fn check(&mut self, fresh: &Buffer, step: &str) {
        let screen = self.parser.screen();
        let w = fresh.area.width;
        for y in 0..fresh.area.height {
            let mut x = 0;
            while x < w {
                if covered_by_wide(fresh, x, y) {
                    x += 1;
                    continue;
                }
                let want = &fresh[(x, y)];
                let cell = screen.cell(y, x).expect("a cell inside the screen");
                let got = if cell.is_wide_continuation() { "" } else { cell.contents() };
                let want_symbol = if want.symbol() == " " && got.is_empty() { "" } else { want.symbol() };
                // A blank's colour and weight do not show; its background does.
                let blank = want_symbol.trim().is_empty();
                assert!(
                    got == want_symbol
                        && (blank || cell.fgcolor() == vt_color(want.fg))
                        && cell.bgcolor() == vt_color(want.bg)
                        && (blank || cell.bold() == want.modifier.contains(Modifier::BOLD))
                        && (blank || cell.italic() == want.modifier.contains(Modifier::ITALIC))
                        && (blank || cell.underline() == want.modifier.contains(Modifier::UNDERLINED))
                        && cell.inverse() == want.modifier.contains(Modifier::REVERSED),
                    "{step}: cell ({x},{y}) shows {got:?} fg {:?} bg {:?}, a fresh frame has {:?} fg {:?} bg {:?}\nshown:\n{}\nfresh:\n{}",
                    cell.fgcolor(),
                    cell.bgcolor(),
                    want.symbol(),
                    want.fg,
                    want.bg,
                    screen.contents(),
                    text(fresh)
                );
                x += 1;
            }
        }
    }
    fn size(&self) -> (u16, u16) {
        (self.area.width, self.area.height)
    }
}

/// The right half of a two-column character: a terminal shows the character there, whatever
/// the buffer's cell says (ratatui's diff skips it, and TestBackend keeps its old content).
fn covered_by_wide(buf: &Buffer, x: u16, y: u16) -> bool {
    x > 0 && unicode_width::UnicodeWidthStr::width(buf[(x - 1, y)].symbol()) > 1
}

/// Paint, then compare with a fresh drawing of the same state.
fn step(screen: &mut dyn Screen, app: &mut App, name: &str) {
    screen.paint(app);
    let (w, h) = screen.size();
    let fresh = fresh(app, w, h);
    screen.check(&fresh, name);
}

/// Stream `text` into `targets` in 7-byte deltas, painting after each and comparing every
/// `every` deltas.
fn pour(screen: &mut dyn Screen, app: &mut App, targets: &[u32], text: &str, every: usize, name: &str) {
    let mut at = 0;
    let mut n = 0;
    while at < text.len() {
        let mut end = (at + 7).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        for &t in targets {
            stream(app, t, EventKind::TextDelta(text[at..end].to_string()));
        }
        at = end;
        n += 1;
        if n % every == 0 {
            step(screen, app, &format!("{name}, delta {n}"));
        } else {
            screen.paint(app);
        }
    }
}

/// Stream `text` into `targets` without drawing.
fn pour_quietly(app: &mut App, targets: &[u32], text: &str) {
    for &t in targets {
        stream(app, t, EventKind::TextDelta(text.to_string()));
    }
}

fn finish(app: &mut App, target: u32, text: &str) {
    let usage = Usage { prompt_tokens: 24, completion_tokens: 960, total_tokens: 984, ..Usage::default() };
    let summary = Box::new(StreamSummary {
        text: text.into(),
        usage: Some(usage),
        cost: Some(Cost { usd: Some(rust_decimal::Decimal::new(1_234, 8)), source: CostSource::Reported }),
        timings: Timings { ttft_ms: Some(420), duration_ms: 2_420 },
        ..StreamSummary::default()
    });
    stream(app, target, EventKind::Finished { reason: Some(FinishReason::Stop), summary });
}

/// The whole walk: one pane streaming alone (the terminal scrolls it), then three panes at
/// once, with every kind of change between frames. `scroll_jump` is how far a following pane
/// moves (`[ui] scroll_jump`: 0 a line at a time, the default a quarter of its rows).
fn walk(screen: &mut dyn Screen, panes: usize, scroll_jump: u8) {
    let mut app = app(panes);
    app.chrome.scroll_jump = scroll_jump;
    step(screen, &mut app, "idle room");
    app.start_turn("Explain how a hash map works, with code");
    app.effects.clear();
    for t in 0..panes as u32 {
        stream(
            &mut app,
            t,
            EventKind::Served { model: MODELS[t as usize].into(), upstream_provider: Some("Sim".into()) },
        );
    }
    let a = answer(1);
    let half = a.len() / 2;
    let half = (half..a.len()).find(|&i| a.is_char_boundary(i)).unwrap_or(a.len());
    // Only pane 1 streams first: its rows scroll while the others stand still.
    pour(screen, &mut app, &[0], &a[..half], 5, "pane 1 alone");
    pour(screen, &mut app, &(0..panes as u32).collect::<Vec<_>>(), &a[half..], 5, "all panes");
    // Help over the panes, then gone.
    key(&mut app, KeyCode::F(1), KeyModifiers::NONE);
    step(screen, &mut app, "help open");
    key(&mut app, KeyCode::Esc, KeyModifiers::NONE);
    step(screen, &mut app, "help closed");
    // Scroll back while streaming: the "new below" marker appears over the last row.
    key(&mut app, KeyCode::PageUp, KeyModifiers::NONE);
    step(screen, &mut app, "paged up");
    pour(screen, &mut app, &[0], "More text arrives while the pane is scrolled back.\n\nAnd more.\n\n", 3, "unseen");
    key(&mut app, KeyCode::End, KeyModifiers::CONTROL);
    step(screen, &mut app, "back to the bottom");
    // A draft typed while the answers stream, and the focus moving (border colours change).
    for c in "a draft".chars() {
        key(&mut app, KeyCode::Char(c), KeyModifiers::NONE);
    }
    pour(screen, &mut app, &[0], "Text arrives under a draft.\n\n", 2, "a draft while streaming");
    // Only the cursor moves: the box changes all the same.
    key(&mut app, KeyCode::Left, KeyModifiers::NONE);
    pour(screen, &mut app, &[0], "Text arrives as the cursor moves.\n\n", 2, "cursor moved");
    key(&mut app, KeyCode::Right, KeyModifiers::NONE);
    key(&mut app, KeyCode::Tab, KeyModifiers::NONE);
    pour(screen, &mut app, &[0], "Text arrives after the focus moved.\n\n", 2, "focus moved");
    for _ in 0.."a draft".len() {
        key(&mut app, KeyCode::Backspace, KeyModifiers::NONE);
    }
    step(screen, &mut app, "draft gone");
    // Keys typed faster than the frame slots: each is drawn by itself, the panes wait for the
    // next whole frame, which must then show everything that streamed in meanwhile.
    for (i, c) in "typed fast".chars().enumerate() {
        pour_quietly(&mut app, &[0], &format!("Line {i} streams in between two keys.\n\n"));
        key(&mut app, KeyCode::Char(c), KeyModifiers::NONE);
        screen.paint_draft(&mut app);
        if i % 3 == 2 {
            step(screen, &mut app, "whole frame after frames for keys");
        }
    }
    for _ in 0.."typed fast".len() {
        key(&mut app, KeyCode::Backspace, KeyModifiers::NONE);
        screen.paint_draft(&mut app);
    }
    step(screen, &mut app, "fast draft gone");
    // The palette over the panes while typing a command, then a theme change.
    key(&mut app, KeyCode::Char('/'), KeyModifiers::NONE);
    step(screen, &mut app, "palette");
    key(&mut app, KeyCode::Char('t'), KeyModifiers::NONE);
    step(screen, &mut app, "palette narrowed");
    key(&mut app, KeyCode::Backspace, KeyModifiers::NONE);
    key(&mut app, KeyCode::Backspace, KeyModifiers::NONE);
    command(&mut app, "/theme light");
    step(screen, &mut app, "light theme");
    pour(screen, &mut app, &[0], &answer(2)[..600], 4, "after the theme change");
    // Zoom the focused pane and back.
    key(&mut app, KeyCode::Char('z'), KeyModifiers::ALT);
    step(screen, &mut app, "zoomed");
    pour(screen, &mut app, &[0], &answer(3)[..500], 4, "zoomed, streaming");
    key(&mut app, KeyCode::Char('z'), KeyModifiers::ALT);
    step(screen, &mut app, "unzoomed");
    // A smaller terminal, then streaming on.
    let (w, h) = screen.size();
    if screen.resize(w - 40, h - 10) {
        step(screen, &mut app, "resized");
        pour(screen, &mut app, &[0], &answer(4)[..500], 4, "resized, streaming");
    }
    for t in 0..panes as u32 {
        finish(&mut app, t, &a);
    }
    step(screen, &mut app, "finished");
}

#[test]
fn incremental_frames_equal_fresh_frames_cell_for_cell() {
    for (panes, jump) in [(1, 0), (1, DEFAULT_SCROLL_JUMP), (3, 0), (3, DEFAULT_SCROLL_JUMP)] {
        let mut screen = Cells {
            terminal: Terminal::new(WideAware(TestBackend::new(160, 48))).unwrap(),
            painter: Painter::default(),
        };
        walk(&mut screen, panes, jump);
    }
}

#[test]
fn the_escape_sequences_leave_a_real_terminal_equal_to_fresh_frames() {
    // A line at a time, then a quarter of the pane at a time (fewer scrolls of more rows).
    for (jump, at_least) in [(0, 10), (DEFAULT_SCROLL_JUMP, 3)] {
        let mut screen = Vt::new(160, 48);
        walk(&mut screen, 1, jump);
        assert!(
            screen.scrolls > at_least,
            "a pane streaming alone should be scrolled by the terminal ({} scrolls, jump {jump}%)",
            screen.scrolls
        );
        let mut screen = Vt::new(160, 48);
        walk(&mut screen, 3, jump);
    }
}

/// One pane streaming its first delta, on the real clock (live figures refresh by time).
fn streaming_on_the_real_clock() -> App {
    let mut app = app(1);
    app.chrome.frozen_clock = None;
    app.start_turn("Explain how a hash map works, with code");
    app.effects.clear();
    stream(&mut app, 0, EventKind::TextDelta("A hash map ".into()));
    app
}

/// While answers stream, the sidebar's live figures (the throughput sparkline) are worked out a
/// few times a second, not every frame; anything else about the sidebar changing (here a stream
/// ending) shows at once.
#[test]
fn the_sidebars_live_figures_refresh_a_few_times_a_second_while_streaming() {
    use roundtable::ui::draw::prepare;
    let area = Rect::new(0, 0, 160, 40);
    let mut app = streaming_on_the_real_clock();
    prepare(&mut app, area);
    let first = app.chrome.sidebar_picture.clone().expect("a sidebar at 160 columns");
    let side = app.chrome.regions.as_ref().and_then(|r| r.sidebar).expect("the sidebar's area");
    let picture_now = |app: &App| {
        roundtable::ui::sidebar::picture(
            side,
            &app.view.panes,
            &app.view.sidebar,
            &app.services.theme,
            0,
            std::time::Instant::now(),
        )
    };
    let mut last_now = picture_now(&app);
    for _ in 0..40 {
        stream(&mut app, 0, EventKind::TextDelta("keeps buckets of entries ".into()));
        last_now = picture_now(&app);
        prepare(&mut app, area);
    }
    assert_ne!(last_now, first, "the throughput figures grew with the deltas");
    assert_eq!(app.chrome.sidebar_picture.as_ref(), Some(&first), "kept between refreshes");

    // A quarter of a second later the figures are worked out again.
    if let Some((at, _)) = app.chrome.sidebar_sampled.as_mut() {
        *at -= std::time::Duration::from_millis(300);
    }
    prepare(&mut app, area);
    let refreshed = app.chrome.sidebar_picture.clone().unwrap();
    assert_ne!(refreshed, first);

    // The stream ends: the final figures show at once.
    stream(&mut app, 0, EventKind::TextDelta("and more ".into()));
    finish(&mut app, 0, "A hash map keeps buckets of entries and more ");
    prepare(&mut app, area);
    assert_ne!(app.chrome.sidebar_picture.as_ref(), Some(&refreshed), "a state change refreshes at once");
}

/// A streaming pane's header rate is worked out a few times a second too, not every frame.
#[test]
fn a_streaming_panes_rate_refreshes_a_few_times_a_second() {
    use roundtable::ui::draw::prepare;
    use roundtable::ui::pane::PaneState;
    let area = Rect::new(0, 0, 160, 40);
    let mut app = streaming_on_the_real_clock();
    // As if the first token came a second ago, so the header shows a rate rather than "streaming".
    if let PaneState::Streaming { first_token, .. } = &mut app.view.panes[0].state {
        *first_token -= std::time::Duration::from_secs(1);
    }
    prepare(&mut app, area);
    let shown = |app: &App| app.view.panes[0].rate_shown.as_ref().map(|(_, text)| text.clone()).unwrap();
    let first = shown(&app);
    assert!(first.contains("tok/s"), "{first}");
    for _ in 0..40 {
        stream(&mut app, 0, EventKind::TextDelta("keeps buckets of entries ".into()));
        prepare(&mut app, area);
    }
    assert_eq!(shown(&app), first, "kept between refreshes");
    if let Some((at, _)) = app.view.panes[0].rate_shown.as_mut() {
        *at -= std::time::Duration::from_millis(300);
    }
    prepare(&mut app, area);
    assert_ne!(shown(&app), first, "worked out again a quarter of a second later");
}
