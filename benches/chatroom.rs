//! Chatroom benchmark: the real event loop and drawing code with six panes holding ~50,000-token
//! transcripts while six synthetic streams arrive at 2,000 tokens/s each. Prints figures (frame
//! time, CPU per 1,000 tokens, keystroke-to-screen latency, peak memory, idle wake-ups) beside
//! the issue's targets; never asserts on timing. Run with `cargo bench --bench chatroom`.
//!
//! The routing core is started (the loop needs a `CoreHandle`) but never sent a request: the
//! benchmark owns the core-event channel and feeds it `TextDelta`s itself, so the figures cover
//! the UI only (plus the cost of the synthetic producer, measured separately and printed).

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::{Backend, ClearType, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Rect, Size};
use ratatui::{Terminal, TerminalOptions, Viewport};
use roundtable::config::Config;
use roundtable::core::protocol::{
    CoreEvent, Cost, CostSource, EventKind, FinishReason, StreamEvent, StreamSummary, TargetId, Timings, TurnId, Usage,
};
use roundtable::core::quota::{BucketStatus, FigureSource};
use roundtable::core::router::{self, CoreConfig, CoreHandle};
use roundtable::ui::app::{App, AppInit};
use roundtable::ui::event_loop::{self, Host, LoopIo, LoopStats};
use roundtable::ui::tty::Tty;
use tokio::sync::{Notify, mpsc, oneshot};

const PANES: usize = 6;
/// Transcript already in each pane before the measurement, in (≈4-byte) tokens.
const HISTORY_TOKENS: usize = 50_000;
/// The history is this many earlier turns.
const HISTORY_TURNS: usize = 10;
const TOKENS_PER_SECOND: f64 = 2_000.0;
const STREAM_FOR: Duration = Duration::from_secs(5);
const IDLE_FOR: Duration = Duration::from_secs(5);
const KEY_PROBES: usize = 20;
const WIDTH: u16 = 240;
const HEIGHT: u16 = 60;
/// The chatroom's default frame cap (`[ui] max_fps`).
const MAX_FPS: u32 = 60;
const BYTES_PER_TOKEN: usize = 4;

fn main() {
    // The loop on this thread, as in the chatroom (src/ui/launch.rs); the synthetic producers on
    // two workers. The core is started but never sent a request, so the shape of its runtime
    // (one thread of its own in the chatroom) does not matter here.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(bench());
}

async fn bench() {
    println!(
        "roundtable chatroom benchmark: {PANES} panes at {WIDTH}x{HEIGHT}, markdown transcripts of ~{HISTORY_TOKENS} tokens each,"
    );
    println!(
        "{PANES} streams at {TOKENS_PER_SECOND} tok/s each for {}s (1 token = one {BYTES_PER_TOKEN}-byte TextDelta), max_fps {MAX_FPS}\n",
        STREAM_FOR.as_secs()
    );
    let mem_start = memory();

    // The synthetic producer alone, drained by a trivial consumer: the harness's own share.
    let harness_cpu_per_k = producer_baseline().await;

    // Loopback only: even with a key in the environment, the core's start-up account refresh
    // must not reach the internet.
    let mut config = Config::defaults();
    config.override_base_url("http://127.0.0.1:9/api/v1");
    let (core, _unused_core_events) = router::start(CoreConfig::new(config.providers.clone())).expect("core");
    let export = std::env::temp_dir().join("roundtable-bench-exports");
    let models: Vec<String> = (0..PANES).map(|i| format!("bench/model-{}", i + 1)).collect();
    let theme = roundtable::ui::theme::load("dark", None, false).expect("theme");
    let mut app = App::new(AppInit {
        tools: config.tools.clone(),
        ..AppInit::new(models, theme, config.providers.clone(), export)
    });

    // What the chatroom does at start-up, off the UI thread: load syntect's sets and compile the
    // common languages' regexes, so the first code block does not stall a frame.
    let warm_started = Instant::now();
    roundtable::ui::highlight::warm_up();
    let warm_time = warm_started.elapsed();
    let mem_warm = memory();

    let fill_started = Instant::now();
    prefill(&mut app);
    let fill_time = fill_started.elapsed();
    let mem_filled = memory();
    let history_bytes: usize = app
        .view
        .panes
        .iter()
        .map(|p| app.room.context_for(p.target).iter().map(|m| m.content.len()).sum::<usize>())
        .sum();

    let probe = Arc::new(Probe::default());
    let backend = ProbeBackend { inner: Tty::with_size(io::sink(), WIDTH, HEIGHT), probe: Arc::clone(&probe) };
    let viewport = Viewport::Fixed(Rect::new(0, 0, WIDTH, HEIGHT));
    let mut terminal = Terminal::with_options(backend, TerminalOptions { viewport }).expect("terminal");
    let frame_starts = Arc::new(Mutex::new(Vec::<Instant>::new()));
    let frames_done = Arc::new(AtomicU64::new(0));
    let frame_cpu = Arc::new(Mutex::new(Vec::<Duration>::new()));
    let mut host = BenchHost {
        frame_starts: Arc::clone(&frame_starts),
        frames_done: Arc::clone(&frames_done),
        frame_cpu: Arc::clone(&frame_cpu),
        cpu_at_begin: Duration::ZERO,
    };

    // Run 1: the streams, with keystrokes typed meanwhile.
    let turn = TurnId(app.next_turn());
    app.start_turn("Now compare them all once more, in depth, with code.");
    app.effects.clear();
    let targets: Vec<TargetId> = app.view.panes.iter().map(|p| p.target).collect();
    let (core_tx, core_rx) = mpsc::channel(router::EVENT_CHANNEL_CAPACITY);
    let (key_tx, key_rx) = mpsc::channel(1024);
    let (quit_tx, quit_rx) = oneshot::channel::<()>();
    let driver = {
        let probe = Arc::clone(&probe);
        tokio::spawn(async move {
            // Let the first frame (cold render caches) finish before the clock starts.
            while frames_done.load(Ordering::Relaxed) == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            let cpu0 = cpu_time();
            let started = Instant::now();
            let typing = tokio::spawn(type_probes(key_tx.clone(), Arc::clone(&probe), 'А', Duration::from_millis(200)));
            let sent = produce(&core_tx, turn, &targets, true).await;
            let stream_time = started.elapsed();
            let cpu = cpu_time() - cpu0;
            let stream_end = Instant::now();
            let latencies = typing.await.expect("typing task");
            tokio::time::sleep(Duration::from_millis(500)).await;
            let _ = quit_tx.send(());
            StreamRun { started, stream_end, stream_time, sent, cpu, latencies }
        })
    };
    let io =
        LoopIo { events: key_rx, core_events: core_rx, core: core.clone(), max_fps: MAX_FPS, record_frame_times: true };
    let stats1 = run_loop(&mut terminal, &mut app, io, &mut host, quit_rx).await;
    let streamed = driver.await.expect("driver");
    let starts1 = std::mem::take(&mut *frame_starts.lock().unwrap());
    let cpu1 = std::mem::take(&mut *frame_cpu.lock().unwrap());

    // Run 2: idle, nothing arrives: count the loop's wake-ups.
    let (stats2, idle_cpu) = idle_run(&mut terminal, &mut app, &mut host, &core).await;
    // Run 2b: idle again with a quota countdown in the sidebar (a daily bucket resetting in
    // 45 minutes, so its countdown shows seconds): expect about one wake-up and one frame a second.
    app.on_core(CoreEvent::Quota(vec![countdown_bucket()]));
    let (stats2b, _) = idle_run(&mut terminal, &mut app, &mut host, &core).await;
    frame_starts.lock().unwrap().clear();
    frame_cpu.lock().unwrap().clear();

    // Run 3: keystrokes into the idle room.
    let (_core_tx, core_rx) = mpsc::channel(router::EVENT_CHANNEL_CAPACITY);
    let (key_tx, key_rx) = mpsc::channel(1024);
    let (quit_tx, quit_rx) = oneshot::channel::<()>();
    let typing = {
        let probe = Arc::clone(&probe);
        tokio::spawn(async move {
            let latencies = type_probes(key_tx, probe, 'α', Duration::from_millis(100)).await;
            let _ = quit_tx.send(());
            latencies
        })
    };
    let io = LoopIo { events: key_rx, core_events: core_rx, core, max_fps: MAX_FPS, record_frame_times: true };
    let stats3 = run_loop(&mut terminal, &mut app, io, &mut host, quit_rx).await;
    let idle_latencies = typing.await.expect("typing task");
    let mem_end = memory();

    // Frames of run 1 that started inside the streaming window.
    let window = streamed.started..streamed.stream_end;
    let mut stream_frames: Vec<Duration> =
        starts1.iter().zip(&stats1.frame_times).filter(|(s, _)| window.contains(*s)).map(|(_, d)| *d).collect();
    stream_frames.sort();
    let mut stream_frame_cpu: Vec<Duration> =
        starts1.iter().zip(&cpu1).filter(|(s, _)| window.contains(*s)).map(|(_, d)| *d).collect();
    stream_frame_cpu.sort();
    let first_frame = stats1.frame_times.first().copied().unwrap_or_default();
    let tokens = streamed.sent * PANES as u64;
    let achieved = tokens as f64 / streamed.stream_time.as_secs_f64();
    let cpu_per_k = streamed.cpu.as_secs_f64() / (tokens as f64 / 1000.0);
    let idle_wakeups = stats2.wakeups.saturating_sub(1); // the last one is the quit signal
    let wake_rate = idle_wakeups as f64 / IDLE_FOR.as_secs_f64();

    println!("setup");
    println!(
        "  syntax highlighting warm-up (highlight::warm_up, as at start-up): {}; RSS {} -> {}",
        ms(warm_time),
        kib(mem_start.rss),
        kib(mem_warm.rss)
    );
    println!(
        "  prefill: {HISTORY_TURNS} turns x {PANES} panes, {:.1} MB of transcript text in {:.2}s; RSS -> {}",
        history_bytes as f64 / 1e6,
        fill_time.as_secs_f64(),
        kib(mem_filled.rss)
    );
    println!("  first frame over the full transcripts (cold render caches): {}", ms(first_frame));
    println!(
        "  streamed {} tokens ({} per pane) in {:.2}s = {:.0} tok/s delivered (target {:.0}); {} core events, {} frames in run 1",
        tokens,
        streamed.sent,
        streamed.stream_time.as_secs_f64(),
        achieved,
        TOKENS_PER_SECOND * PANES as f64,
        stats1.core_events,
        stats1.frames
    );
    println!();
    row("figure", "measured", "target (issue)");
    println!("{}", "-".repeat(84));
    row("frame time while streaming, median", ms(pct(&stream_frames, 50.0)), "");
    row("frame time while streaming, p90", ms(pct(&stream_frames, 90.0)), "");
    row("frame time while streaming, p99", ms(pct(&stream_frames, 99.0)), "<= 4 ms");
    row("frame time while streaming, max", ms(stream_frames.last().copied().unwrap_or_default()), "");
    row("  its CPU time on the drawing thread, median", ms(pct(&stream_frame_cpu, 50.0)), "");
    row("  its CPU time on the drawing thread, p99", ms(pct(&stream_frame_cpu, 99.0)), "");
    row(
        "frames drawn while streaming",
        format!("{} ({:.0}/s)", stream_frames.len(), stream_frames.len() as f64 / streamed.stream_time.as_secs_f64()),
        &format!("<= {MAX_FPS}/s"),
    );
    row("CPU-seconds per 1,000 streamed tokens", format!("{cpu_per_k:.4}"), "<= 0.02");
    row("  of which the synthetic producer (approx.)", format!("{harness_cpu_per_k:.4}"), "");
    row(
        "CPU while streaming (whole process)",
        format!("{:.0}% of a core", 100.0 * streamed.cpu.as_secs_f64() / streamed.stream_time.as_secs_f64()),
        "",
    );
    row("keystroke-to-screen while streaming, median", ms(pct(&streamed.latencies, 50.0)), "<= 16 ms");
    row("keystroke-to-screen while streaming, max", ms(pct(&streamed.latencies, 100.0)), "<= 16 ms");
    row("keystroke-to-screen when idle, median", ms(pct(&idle_latencies, 50.0)), "<= 16 ms");
    row("keystroke-to-screen when idle, max", ms(pct(&idle_latencies, 100.0)), "<= 16 ms");
    row("peak memory (VmHWM)", kib(mem_end.hwm), "");
    row("idle wake-ups per second", format!("{wake_rate:.2} ({idle_wakeups} in {}s)", IDLE_FOR.as_secs()), "0");
    row("idle frames drawn", format!("{}", stats2.frames), "");
    row("idle CPU", format!("{:.3} s in {}s", idle_cpu.as_secs_f64(), IDLE_FOR.as_secs()), "");
    row(
        "idle with a seconds countdown: wake-ups/s",
        format!("{:.2}", stats2b.wakeups.saturating_sub(1) as f64 / IDLE_FOR.as_secs_f64()),
        "~1 (countdown ticks)",
    );
    row(
        "idle with a seconds countdown: frames/s",
        format!("{:.2}", stats2b.frames.saturating_sub(1) as f64 / IDLE_FOR.as_secs_f64()),
        "~1 (countdown ticks)",
    );
    println!("{}", "-".repeat(84));
    println!(
        "keystroke probes: {} while streaming ({} missed), {} idle ({} missed); run 3 drew {} frames",
        streamed.latencies.len(),
        KEY_PROBES - streamed.latencies.len(),
        idle_latencies.len(),
        KEY_PROBES - idle_latencies.len(),
        stats3.frames
    );
    println!();
    println!("method:");
    println!("  frame time = LoopStats.frame_times (terminal.draw: layout, widgets, diff, escape sequences into");
    println!(
        "    io::sink through the chatroom's terminal backend), for frames that started inside the stream window."
    );
    println!("  frame CPU time = the drawing thread's run time over the same frames (/proc/thread-self/schedstat):");
    println!("    wall time above it is time the thread was preempted on this machine's cores.");
    println!("  CPU = sum of /proc/self/task/*/schedstat run time (every thread of the process) over the stream");
    println!("    window, divided by the tokens delivered; the producer's own share was measured alone beforehand.");
    println!("  keystroke-to-screen = from sending a KeyEvent (a unique character) into the loop's terminal-event");
    println!("    channel to the flush of the first frame whose cell diff contains that character; it excludes");
    println!("    crossterm's stdin parsing and the terminal emulator.");
    println!(
        "  idle wake-ups = LoopStats.wakeups over {}s with no input and no stream, minus the quit wake-up.",
        IDLE_FOR.as_secs()
    );
    println!("  the markdown renderer in this build is whatever src/ui/markdown is at the time of the run.");
}

struct StreamRun {
    started: Instant,
    stream_end: Instant,
    stream_time: Duration,
    /// Tokens sent per pane.
    sent: u64,
    cpu: Duration,
    latencies: Vec<Duration>,
}

async fn run_loop(
    terminal: &mut Terminal<ProbeBackend>,
    app: &mut App,
    io: LoopIo,
    host: &mut BenchHost,
    quit: oneshot::Receiver<()>,
) -> LoopStats {
    // The loop ends by setting `app.quit`; the benchmark runs it several times on one app.
    app.quit = false;
    event_loop::run(terminal, app, io, host, async {
        let _ = quit.await;
    })
    .await
    .expect("the chatroom loop")
}

/// Let the loop sit idle for `IDLE_FOR`; returns its figures and the process CPU meanwhile.
async fn idle_run(
    terminal: &mut Terminal<ProbeBackend>,
    app: &mut App,
    host: &mut BenchHost,
    core: &CoreHandle,
) -> (LoopStats, Duration) {
    let (_core_tx, core_rx) = mpsc::channel(router::EVENT_CHANNEL_CAPACITY);
    let (_key_tx, key_rx) = mpsc::channel(1024);
    let (quit_tx, quit_rx) = oneshot::channel::<()>();
    let cpu0 = cpu_time();
    tokio::spawn(async move {
        tokio::time::sleep(IDLE_FOR).await;
        let _ = quit_tx.send(());
    });
    let io =
        LoopIo { events: key_rx, core_events: core_rx, core: core.clone(), max_fps: MAX_FPS, record_frame_times: true };
    let stats = run_loop(terminal, app, io, host, quit_rx).await;
    (stats, cpu_time() - cpu0)
}

/// A daily free-tier bucket, partly used, resetting in 45 minutes.
fn countdown_bucket() -> BucketStatus {
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    BucketStatus {
        bucket: "openrouter:free".into(),
        window: "day",
        used: 12,
        limit: Some(50),
        remaining: Some(38),
        resets_at_ms: Some(now_ms + 45 * 60 * 1000),
        used_source: FigureSource::Local,
        limit_source: FigureSource::Config,
    }
}

/// Feed `HISTORY_TURNS` finished turns into every pane, as the core would have.
fn prefill(app: &mut App) {
    let per_turn = HISTORY_TOKENS * BYTES_PER_TOKEN / HISTORY_TURNS;
    let mut rng = Rng(0x5eed_1234_abcd_9876);
    for t in 0..HISTORY_TURNS {
        let turn = TurnId(app.next_turn());
        app.start_turn(&format!("Question {}: {}", t + 1, sentence(&mut rng, 14)));
        app.effects.clear();
        let targets: Vec<TargetId> = app.view.panes.iter().map(|p| p.target).collect();
        for target in targets {
            let text = markdown(&mut rng, per_turn);
            // Deltas of a few hundred bytes: the render caches see many appends, as in a stream.
            for chunk in chunks(&text, 256) {
                app.on_core(stream(turn, target, EventKind::TextDelta(chunk.to_string())));
            }
            app.on_core(stream(turn, target, finished(text, 3_000)));
        }
    }
    app.effects.clear();
}

/// Send one-token deltas to every target at `TOKENS_PER_SECOND` each for `STREAM_FOR`, then
/// finish them. Returns the tokens sent per target.
async fn produce(tx: &mpsc::Sender<CoreEvent>, turn: TurnId, targets: &[TargetId], finish: bool) -> u64 {
    let mut rng = Rng(0xfeed_beef_0000_0001);
    let total = (TOKENS_PER_SECOND * STREAM_FOR.as_secs_f64()) as usize;
    let texts: Vec<String> = targets.iter().map(|_| markdown(&mut rng, total * BYTES_PER_TOKEN + 64)).collect();
    for &target in targets {
        let started = EventKind::Started { provider: "bench".into(), model: "bench".into() };
        let _ = tx.send(stream(turn, target, started)).await;
    }
    let started = Instant::now();
    let mut sent = 0usize;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    while sent < total {
        tick.tick().await;
        let due = ((started.elapsed().as_secs_f64() * TOKENS_PER_SECOND) as usize).min(total);
        while sent < due {
            let at = sent * BYTES_PER_TOKEN;
            for (i, &target) in targets.iter().enumerate() {
                let delta = texts[i][at..at + BYTES_PER_TOKEN].to_string();
                if tx.send(stream(turn, target, EventKind::TextDelta(delta))).await.is_err() {
                    return sent as u64;
                }
            }
            sent += 1;
        }
    }
    if finish {
        for (i, &target) in targets.iter().enumerate() {
            let text = texts[i][..sent * BYTES_PER_TOKEN].to_string();
            let _ = tx.send(stream(turn, target, finished(text, sent as u64))).await;
        }
    }
    sent as u64
}

/// CPU-seconds per 1,000 tokens of the producer alone, into a consumer that drops the events.
async fn producer_baseline() -> f64 {
    let (tx, mut rx) = mpsc::channel(router::EVENT_CHANNEL_CAPACITY);
    let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let targets: Vec<TargetId> = (0..PANES as u32).map(TargetId).collect();
    let cpu0 = cpu_time();
    let sent = produce(&tx, TurnId(1), &targets, false).await;
    let cpu = cpu_time() - cpu0;
    drop(tx);
    let _ = drain.await;
    cpu.as_secs_f64() / ((sent as usize * PANES) as f64 / 1000.0)
}

/// Type `KEY_PROBES` distinct characters (from `first` on), `gap` apart, each time measuring
/// from the send to the flush of the first frame that draws it. Missed probes are left out.
async fn type_probes(
    keys: mpsc::Sender<io::Result<Event>>,
    probe: Arc<Probe>,
    first: char,
    gap: Duration,
) -> Vec<Duration> {
    let mut out = Vec::new();
    for i in 0..KEY_PROBES {
        tokio::time::sleep(gap).await;
        let c = char::from_u32(first as u32 + i as u32).expect("probe character");
        let waiter = probe.expect(c);
        let sent = Instant::now();
        let key = KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
        if keys.send(Ok(Event::Key(key))).await.is_err() {
            break;
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while tokio::time::timeout_at(deadline, waiter.notified()).await.is_ok() {
            if let Some(seen) = probe.seen() {
                out.push(seen.saturating_duration_since(sent));
                break;
            }
        }
    }
    out.sort();
    out
}

/// What the backend looks for in frame diffs, and when it first flushed a frame showing it.
#[derive(Default)]
struct Probe {
    state: Mutex<ProbeState>,
    notify: Arc<Notify>,
}

#[derive(Default)]
struct ProbeState {
    want: Option<String>,
    drawn: bool,
    seen: Option<Instant>,
}

impl Probe {
    fn expect(&self, c: char) -> Arc<Notify> {
        *self.state.lock().unwrap() = ProbeState { want: Some(c.to_string()), drawn: false, seen: None };
        Arc::clone(&self.notify)
    }

    fn seen(&self) -> Option<Instant> {
        self.state.lock().unwrap().seen
    }
}

/// ratatui's crossterm backend writing into `io::sink()` (so escape-sequence generation is
/// paid), with a probe on the cells it is given; reports the fixed viewport size.
struct ProbeBackend {
    inner: Tty<io::Sink>,
    probe: Arc<Probe>,
}

impl Backend for ProbeBackend {
    type Error = io::Error;

    fn draw<'a, I>(&mut self, content: I) -> Result<(), Self::Error>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        let mut state = self.probe.state.lock().unwrap();
        match state.want.clone().filter(|_| !state.drawn) {
            Some(want) => {
                let mut drawn = false;
                let result = self.inner.draw(content.inspect(|(_, _, cell)| drawn |= cell.symbol() == want));
                state.drawn = drawn;
                result
            }
            None => self.inner.draw(content),
        }
    }
    fn hide_cursor(&mut self) -> Result<(), Self::Error> {
        self.inner.hide_cursor()
    }
    fn show_cursor(&mut self) -> Result<(), Self::Error> {
        self.inner.show_cursor()
    }
    fn get_cursor_position(&mut self) -> Result<Position, Self::Error> {
        Ok(Position::ORIGIN)
    }
    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> Result<(), Self::Error> {
        self.inner.set_cursor_position(position)
    }
    fn clear(&mut self) -> Result<(), Self::Error> {
        self.inner.clear()
    }
    fn clear_region(&mut self, clear_type: ClearType) -> Result<(), Self::Error> {
        self.inner.clear_region(clear_type)
    }
    fn size(&self) -> Result<Size, Self::Error> {
        Ok(Size::new(WIDTH, HEIGHT))
    }
    fn window_size(&mut self) -> Result<WindowSize, Self::Error> {
        Ok(WindowSize { columns_rows: Size::new(WIDTH, HEIGHT), pixels: Size::new(0, 0) })
    }
    fn scroll_region_up(&mut self, region: std::ops::Range<u16>, amount: u16) -> Result<(), Self::Error> {
        self.inner.scroll_region_up(region, amount)
    }
    fn scroll_region_down(&mut self, region: std::ops::Range<u16>, amount: u16) -> Result<(), Self::Error> {
        self.inner.scroll_region_down(region, amount)
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        let result = self.inner.flush();
        let mut state = self.probe.state.lock().unwrap();
        if state.drawn && state.seen.is_none() {
            state.seen = Some(Instant::now());
            self.probe.notify.notify_one();
        }
        result
    }
}

/// Records when each frame starts; clipboard and editor do nothing.
struct BenchHost {
    frame_starts: Arc<Mutex<Vec<Instant>>>,
    frames_done: Arc<AtomicU64>,
    /// CPU time of the drawing thread per frame: the frame's work without time spent preempted.
    frame_cpu: Arc<Mutex<Vec<Duration>>>,
    cpu_at_begin: Duration,
}

impl Host for BenchHost {
    fn copy(&mut self, _text: &str) -> bool {
        true
    }
    fn set_mouse_capture(&mut self, _on: bool) {}
    fn edit(&mut self, draft: &str) -> Result<String, String> {
        Ok(draft.to_string())
    }
    fn begin_frame(&mut self) {
        self.frame_starts.lock().unwrap().push(Instant::now());
        self.cpu_at_begin = thread_cpu_time();
    }
    fn end_frame(&mut self) {
        self.frame_cpu.lock().unwrap().push(thread_cpu_time().saturating_sub(self.cpu_at_begin));
        self.frames_done.fetch_add(1, Ordering::Relaxed);
    }
    fn local_clipboard(&self) -> bool {
        false
    }
}

fn stream(turn: TurnId, target: TargetId, kind: EventKind) -> CoreEvent {
    CoreEvent::Stream(StreamEvent { turn, target, kind })
}

fn finished(text: String, completion_tokens: u64) -> EventKind {
    let usage =
        Usage { prompt_tokens: 1_200, completion_tokens, total_tokens: 1_200 + completion_tokens, ..Usage::default() };
    let summary = StreamSummary {
        text,
        usage: Some(usage),
        cost: Some(Cost { usd: Some(rust_decimal::Decimal::new(42, 5)), source: CostSource::Reported }),
        timings: Timings { ttft_ms: Some(180), duration_ms: 2_500 },
        ..StreamSummary::default()
    };
    EventKind::Finished { reason: Some(FinishReason::Stop), summary: Box::new(summary) }
}

fn chunks(text: &str, size: usize) -> impl Iterator<Item = &str> {
    // The generated text is ASCII, so any byte offset is a character boundary.
    (0..text.len()).step_by(size).map(move |at| &text[at..(at + size).min(text.len())])
}

/// xorshift64*: deterministic text without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const WORDS: &[&str] = &[
    "the",
    "a",
    "map",
    "hash",
    "bucket",
    "key",
    "value",
    "load",
    "factor",
    "probe",
    "chain",
    "resize",
    "memory",
    "cache",
    "line",
    "latency",
    "throughput",
    "stream",
    "token",
    "model",
    "answer",
    "prompt",
    "layer",
    "index",
    "query",
    "state",
    "stable",
    "simple",
    "fast",
    "each",
    "every",
    "which",
    "when",
    "while",
    "into",
    "over",
    "from",
    "keeps",
    "holds",
    "moves",
    "reads",
    "writes",
    "checks",
    "grows",
    "shrinks",
    "avoids",
    "allocation",
    "iterator",
    "borrow",
    "lifetime",
    "trait",
    "generic",
    "closure",
    "async",
    "await",
    "future",
    "executor",
    "channel",
    "buffer",
    "is",
    "and",
    "or",
    "so",
    "then",
    "but",
    "with",
    "per",
    "most",
    "often",
    "two",
    "many",
    "less",
    "more",
];
const CODE: &[&str] = &[
    "let mut map = HashMap::with_capacity(1024);",
    "for (key, value) in entries.iter() {",
    "    map.insert(key.clone(), value * 2);",
    "}",
    "fn lookup(map: &HashMap<String, u64>, key: &str) -> Option<u64> {",
    "    map.get(key).copied()",
    "let total: u64 = items.iter().filter(|x| **x > 10).sum();",
    "match state {",
    "    State::Ready => run(&mut queue).await?,",
    "    State::Busy { since } => wait(since),",
    "let bucket = (hash as usize) & (self.buckets.len() - 1);",
    "if self.len * 4 > self.buckets.len() * 3 { self.grow(); }",
    "println!(\"{} entries, {} buckets\", map.len(), map.capacity());",
];

fn sentence(rng: &mut Rng, words: usize) -> String {
    let mut s = String::new();
    for i in 0..words {
        let w = rng.pick(WORDS);
        if i == 0 {
            let mut c = w.chars();
            if let Some(first) = c.next() {
                s.extend(first.to_uppercase());
                s.push_str(c.as_str());
            }
        } else {
            s.push(' ');
            match rng.below(12) {
                0 => {
                    s.push_str("**");
                    s.push_str(w);
                    s.push_str("**");
                }
                1 => {
                    s.push('`');
                    s.push_str(w);
                    s.push('`');
                }
                _ => s.push_str(w),
            }
        }
    }
    s.push('.');
    s
}

/// Realistic answer markdown (headings, paragraphs, lists, fenced code, tables) of about
/// `bytes` bytes, ASCII only.
fn markdown(rng: &mut Rng, bytes: usize) -> String {
    let mut out = String::with_capacity(bytes + 512);
    while out.len() < bytes {
        match rng.below(10) {
            0 => {
                out.push_str(&format!("## {}\n\n", sentence(rng, 3).trim_end_matches('.')));
            }
            1 | 2 => {
                let ordered = rng.below(2) == 0;
                for i in 0..3 + rng.below(4) {
                    let marker = if ordered { format!("{}. ", i + 1) } else { "- ".to_string() };
                    let n = 6 + rng.below(14);
                    out.push_str(&format!("{marker}**{}**: {}\n", rng.pick(WORDS), sentence(rng, n)));
                }
                out.push('\n');
            }
            3 => {
                out.push_str(if rng.below(2) == 0 { "```rust\n" } else { "```\n" });
                for _ in 0..4 + rng.below(12) {
                    out.push_str(rng.pick(CODE));
                    out.push('\n');
                }
                out.push_str("```\n\n");
            }
            4 => {
                out.push_str("| Option | Latency (ms) | Memory | Notes |\n|---|---:|---:|---|\n");
                for _ in 0..3 + rng.below(4) {
                    let (lat, mem) = (rng.below(900), rng.below(500));
                    out.push_str(&format!("| `{}` | {lat} | {mem} MB | {} |\n", rng.pick(WORDS), sentence(rng, 3)));
                }
                out.push('\n');
            }
            _ => {
                let sentences = 2 + rng.below(5);
                for i in 0..sentences {
                    if i > 0 {
                        out.push(' ');
                    }
                    let n = 8 + rng.below(18);
                    out.push_str(&sentence(rng, n));
                }
                out.push_str("\n\n");
            }
        }
    }
    out
}

/// CPU time of the calling thread (`/proc/thread-self/schedstat`, nanoseconds).
fn thread_cpu_time() -> Duration {
    let ns = std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()))
        .unwrap_or(0);
    Duration::from_nanos(ns)
}

/// CPU time of every thread of this process (`/proc/self/task/*/schedstat`, nanoseconds).
fn cpu_time() -> Duration {
    let mut ns = 0u64;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            if let Ok(s) = std::fs::read_to_string(task.path().join("schedstat")) {
                ns += s.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            }
        }
    }
    Duration::from_nanos(ns)
}

struct Memory {
    rss: u64,
    hwm: u64,
}

/// Resident and peak resident memory in KiB (`/proc/self/status`).
fn memory() -> Memory {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Memory { rss: field("VmRSS:"), hwm: field("VmHWM:") }
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn kib(k: u64) -> String {
    format!("{:.1} MiB", k as f64 / 1024.0)
}

fn row(name: &str, value: impl std::fmt::Display, target: &str) {
    println!("{name:<44} {value:>14}   {target}");
}
