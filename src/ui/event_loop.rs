//! The chatroom loop: `select!` over terminal events, core events, background results, a frame
//! deadline and a quit signal. Ready events are drained before drawing; a frame is drawn only
//! when something changed, at most `max_fps` times a second; nothing here awaits disk or network.

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::time::{Duration, Instant};

use crossterm::event::Event;
use ratatui::Terminal;
use ratatui::backend::{Backend, ClearType};
use tokio::sync::mpsc;

use crate::core::protocol::{Command, CoreEvent};
use crate::core::provider::pacing::Rest;
use crate::core::router::CoreHandle;
use crate::ui::app::{App, Background, Effect};
use crate::ui::app_input::plain_char;
use crate::ui::frames::{FrameFigures, FrameMode, FrameWriter};
use crate::ui::{draw, highlight, sidebar};

/// Spinner and rate refresh while something streams.
const ANIMATION_INTERVAL: Duration = Duration::from_millis(100);
/// Frames per second at most for what streams in (keystrokes are drawn at once, up to
/// `max_fps`). Every frame costs the whole process (the core reads at the same slots: at a
/// model's pace its CPU follows the frames nearly in proportion), and text growing 13 times a
/// second reads as smoothly as 15: it is aichat's cadence (it gathers for 50 ms, waits up to
/// 25 ms for a key, then prints: a print every 77–80 ms), so the two show a stream alike.
const STREAM_FPS: u32 = 13;
/// Streamed events a frame drawn for a keystroke (one that did more than edit the draft) takes
/// first: a model's pace leaves fewer between two frames; a flood leaves hundreds, whose
/// rendering would delay what the key did.
const INPUT_FRAME_EVENTS: usize = 64;
/// How long a line break that comes amid typed characters waits for the next key: one that
/// follows at once is a paste's (see `take_terminal_events`). Nobody types a character and
/// Enter this close together, so typing never waits for it.
const PASTE_GAP: Duration = Duration::from_millis(10);
/// Events handled per wake-up before a frame gets a chance (keeps input responsive under load).
const DRAIN_LIMIT: usize = 512;

/// What only the real terminal can do; tests substitute a recorder.
pub trait Host: Send {
    /// Put text on the clipboard the terminal's way (OSC 52). Returns false when it could not.
    fn copy(&mut self, text: &str) -> bool;
    fn set_mouse_capture(&mut self, on: bool);
    /// Run `$EDITOR` on the draft, blocking; the terminal is handed over meanwhile.
    fn edit(&mut self, draft: &str) -> Result<String, String>;
    fn begin_frame(&mut self) {}
    fn end_frame(&mut self) {}
    /// Whether to also try a local clipboard tool.
    fn local_clipboard(&self) -> bool {
        true
    }
}

/// The loop's thread's rest while what streams in waits for its frame slot.
static LOOP_REST: Rest = Rest::new();

thread_local! {
    /// Until when the loop's wait may rest: set just before the wait while streamed text is held
    /// for its frame slot, taken by the first park of the loop's thread or after the wait.
    static REST_UNTIL: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// For the loop runtime's `on_thread_park`: while what streams in waits for its frame slot,
/// block until the slot (or an earlier deadline) rather than in the runtime's own wait. That
/// wait took two wake-ups a frame: tokio's timer wheel keeps a timer more than 64 ms away on a
/// coarser level and wakes the thread where it moves down a level, then again when it is due.
/// Until the slot nothing else needs the loop at once but keystrokes, which end the rest
/// (`hand_to_loop`); a background result or a quit signal waits for the slot, one frame at most.
pub fn rest_until_gate() {
    if let Some(until) = REST_UNTIL.with(Cell::take) {
        LOOP_REST.rest_until_timer(until.into());
    }
}

/// Block the calling thread in the loop's rest until `until`, or until a terminal event is
/// handed over (`hand_to_loop`).
pub fn rest_loop_until(until: tokio::time::Instant) {
    LOOP_REST.rest_until(until);
}

/// Hands a terminal event to the loop, ending the rest of the loop's thread (`rest_until_gate`):
/// keystrokes are drawn at once. Fails when the loop has ended.
pub async fn hand_to_loop<T>(tx: &mpsc::Sender<T>, item: T) -> Result<(), mpsc::error::SendError<T>> {
    let sent = tx.send(item).await;
    LOOP_REST.wake();
    sent
}

/// Figures the benchmark reads.
#[derive(Debug, Default, Clone)]
pub struct LoopStats {
    pub frames: u64,
    pub frame_times: Vec<Duration>,
    pub wakeups: u64,
    pub core_events: u64,
    /// Rows the terminal scrolled instead of having them rewritten.
    pub scrolled_rows: u64,
    /// Frames that started from the last one and drew only what changed.
    pub retained_frames: u64,
}

pub struct LoopIo {
    /// Terminal events, forwarded by a task that owns crossterm's `EventStream` (polling that
    /// stream with a throwaway waker loses wake-ups, so the loop never polls it directly).
    pub events: mpsc::Receiver<io::Result<Event>>,
    pub core_events: mpsc::Receiver<CoreEvent>,
    pub core: CoreHandle,
    pub max_fps: u32,
    pub record_frame_times: bool,
}

/// How far apart frames for streamed text are: `1 / STREAM_FPS`, or longer under a lower
/// `max_fps`. The core reads streams at the same slots (`ProvidersConfig::read_slot`).
pub fn stream_interval(max_fps: u32) -> Duration {
    let frame_interval = Duration::from_secs_f64(1.0 / f64::from(max_fps.clamp(1, 240)));
    frame_interval.max(Duration::from_secs_f64(1.0 / f64::from(STREAM_FPS)))
}

pub async fn run<B, Q>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    io: LoopIo,
    host: &mut (dyn Host + Send),
    quit_signal: Q,
) -> io::Result<LoopStats>
where
    B: Backend,
    Q: Future<Output = ()>,
{
    let LoopIo { mut events, mut core_events, core, max_fps, record_frame_times } = io;
    let stream_interval = stream_interval(max_fps);
    let (bg_tx, mut bg_rx) = mpsc::unbounded_channel::<Background>();
    let commands = spawn_command_forwarder(core.clone());
    let mut stats = LoopStats::default();
    let mut painter = Painter::default();
    // The last frame that drew the panes: what streams in is drawn a slot after it.
    let mut last_draw: Option<Instant> = None;
    let mut next_animation = Instant::now();
    let mut terminal_open = true;
    // A keystroke is drawn at once rather than at the next frame slot, so typing stays
    // immediate while streams fill the frame budget.
    let mut input_waiting = false;
    // The keys waiting to be drawn only edited the draft: their frame leaves the panes as they
    // are, so the echo costs the input box's rows however much streams in.
    let mut draft_keys = false;
    // Something besides the draft changed and is not drawn yet (a frame for draft keys leaves
    // it for the next frame slot).
    let mut undrawn = false;
    // The last wake-up for core events left some in the channel.
    let mut core_busy = false;
    // When a character last went into the draft (a paste's line breaks are told by it).
    let mut typed_at: Option<Instant> = None;
    tokio::pin!(quit_signal);

    loop {
        let now = Instant::now();
        if app.animating() && now >= next_animation {
            app.chrome.tick += 1;
            app.dirty = true;
            undrawn = true;
            next_animation = now + ANIMATION_INTERVAL;
        }
        // Keystrokes are drawn at once; what streams in is drawn at most STREAM_FPS times a
        // second: text that grows 13 times a second reads smoothly, and each frame that takes a
        // new line costs a scroll and the repair of the rows beside it.
        let frame_due = input_waiting || last_draw.is_none_or(|t| now.duration_since(t) >= stream_interval);
        let draft_frame = input_waiting && draft_keys;
        if app.dirty && frame_due && !draft_frame {
            // What streamed in since the last frame goes into this one: a frame that the
            // spinner or a key (one that did more than edit the draft) brought forward would
            // otherwise show the old text and the next one, a slot later, the new. For a key
            // only a little of it, so a flood never delays what the key did.
            let limit = if input_waiting { INPUT_FRAME_EVENTS } else { DRAIN_LIMIT };
            core_busy = take_core_events(app, &mut core_events, &mut stats, limit);
        }
        input_waiting = false;
        draft_keys = false;
        if app.dirty && frame_due {
            let started = Instant::now();
            host.begin_frame();
            if std::mem::take(&mut app.repaint) {
                repaint_all(terminal)?;
                painter.cleared();
            }
            // Code is highlighted off this thread; its colours arrive through `results_ready`.
            highlight::set_background(true);
            let drawn = if draft_frame { painter.paint_draft(terminal, app) } else { painter.paint(terminal, app) };
            highlight::set_background(false);
            let drawn = drawn?;
            stats.scrolled_rows += u64::from(drawn.scrolled_rows);
            stats.retained_frames += u64::from(drawn.retained);
            host.end_frame();
            if drawn.panes_kept {
                // The panes' news keeps its frame slot, which this frame does not move (typing
                // faster than the slots come must not hold the streams' text back).
                app.dirty = undrawn;
            } else {
                app.dirty = false;
                undrawn = false;
                last_draw = Some(started);
            }
            stats.frames += 1;
            if record_frame_times {
                stats.frame_times.push(started.elapsed());
            }
        }
        // Sleep until the next thing that changes the screen by itself, or forever when idle.
        let deadline = next_deadline(app, last_draw, stream_interval, next_animation);
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d.into()).await,
                None => std::future::pending().await,
            }
        };
        // What streams in cannot be drawn before the next frame slot, so until then the loop
        // does not wake for each token (a wake-up per token costs more than handling it); the
        // events wait in the channel and are taken together. Not when the last wake-up found
        // the channel busy: then every wake-up drains, so a flood never backs up the core; and
        // not when nothing streams, where a frame (a countdown's) would cost a second wake-up.
        let core_gate = last_draw
            .map(|t| t + stream_interval)
            .filter(|gate| !core_busy && app.is_streaming() && *gate > Instant::now());
        let gate_sleep = async {
            match core_gate {
                Some(g) => tokio::time::sleep_until(g.into()).await,
                None => std::future::pending().await,
            }
        };
        // While what streams in waits for its frame slot, only a keystroke needs the loop
        // before the slot or the deadline: its thread rests until then (`rest_until_gate`).
        if let Some(gate) = core_gate {
            let until = deadline.map_or(gate, |d| d.min(gate));
            REST_UNTIL.with(|r| r.set(Some(until)));
        }
        tokio::select! {
            ev = events.recv(), if terminal_open => match ev {
                Some(Ok(ev)) => {
                    input_waiting = true;
                    undrawn |= app.dirty;
                    app.chrome.draft_edits_only = true;
                    take_terminal_events(app, terminal, &mut painter, ev, &mut events, &mut typed_at).await?;
                    draft_keys = app.chrome.draft_edits_only;
                }
                Some(Err(e)) => return Err(e),
                None => terminal_open = false,
            },
            ev = core_events.recv(), if core_gate.is_none() => match ev {
                Some(ev) => {
                    app.on_core(ev);
                    stats.core_events += 1;
                    core_busy = take_core_events(app, &mut core_events, &mut stats, DRAIN_LIMIT);
                }
                None => {
                    app.set_status(crate::ui::app::Level::Error, "The routing core stopped; restart roundtable");
                }
            },
            Some(bg) = bg_rx.recv() => app.on_background(bg),
            // Highlighted code lines arrived from the background thread (taken at the frame
            // slot, like streamed text: the notification keeps until then).
            () = highlight::results_ready().notified(), if core_gate.is_none() => app.dirty = true,
            // A deadline passed: a frame is due, a spinner advances or a countdown changes.
            () = sleep => app.dirty = true,
            // The frame slot came: what streamed in meanwhile is taken on the next turn.
            () = gate_sleep => {}
            () = &mut quit_signal => app.quit = true,
        }
        // Only the select's own wait rests (a paste's short wait for its next key must not).
        REST_UNTIL.with(Cell::take);
        stats.wakeups += 1;
        perform_effects(app, host, &core, &commands, &bg_tx);
        if app.quit {
            break;
        }
    }
    shutdown(&core, &mut core_events, app).await;
    Ok(stats)
}

/// Hands the app `first` and the terminal events already waiting (up to `DRAIN_LIMIT`).
/// Characters typed into the draft go in as one edit per run (see `App::types_into_draft`);
/// any other event ends the run first, so order and meaning are kept. A line break amid typed
/// characters that more typing follows at once (within `PASTE_GAP`) is a paste's, from a
/// terminal that does not bracket pastes: it goes into the draft rather than sending it, so a
/// pasted page is one prompt, not one per line. `typed_at` is when a character last went into
/// the draft, so a paste cut between two wake-ups is still seen as one.
async fn take_terminal_events<B: Backend>(
    app: &mut App,
    terminal: &mut Terminal<B>,
    painter: &mut Painter,
    first: Event,
    events: &mut mpsc::Receiver<io::Result<Event>>,
    typed_at: &mut Option<Instant>,
) -> io::Result<()> {
    let mut typed = String::new();
    let mut next = Some(first);
    let mut taken = 0;
    while let Some(ev) = next.take() {
        taken += 1;
        match &ev {
            Event::Key(key) if let Some(c) = app.types_into_draft(key) => typed.push(c),
            Event::Key(key)
                if app.sends_typed_draft(key)
                    && (!typed.is_empty() || typed_at.is_some_and(|t| t.elapsed() < PASTE_GAP)) =>
            {
                let following = match events.try_recv() {
                    Ok(ev) => Some(ev),
                    Err(mpsc::error::TryRecvError::Empty) => {
                        tokio::time::timeout(PASTE_GAP, events.recv()).await.ok().flatten()
                    }
                    Err(mpsc::error::TryRecvError::Disconnected) => None,
                }
                .transpose()?;
                if following.as_ref().is_some_and(|f| continues_paste(app, f)) {
                    typed.push('\n');
                } else {
                    flush_typed(app, &mut typed, typed_at);
                    handle_terminal(app, terminal, painter, ev)?;
                }
                // What followed is taken next, whatever it is (the limit only bounds a wake-up).
                next = following;
                continue;
            }
            _ => {
                flush_typed(app, &mut typed, typed_at);
                // A first character into an empty draft counts as typing too.
                let typing = matches!(&ev, Event::Key(k) if plain_char(k).is_some());
                handle_terminal(app, terminal, painter, ev)?;
                if typing {
                    *typed_at = Some(Instant::now());
                }
            }
        }
        if taken > DRAIN_LIMIT {
            break;
        }
        next = match events.try_recv() {
            Ok(Ok(ev)) => Some(ev),
            Ok(Err(e)) => return Err(e),
            Err(_) => None,
        };
    }
    flush_typed(app, &mut typed, typed_at);
    Ok(())
}

/// Insert a run of typed characters (one edit) and note when, once per run rather than per key.
fn flush_typed(app: &mut App, typed: &mut String, typed_at: &mut Option<Instant>) {
    if !typed.is_empty() {
        app.type_into_draft(&std::mem::take(typed));
        *typed_at = Some(Instant::now());
    }
}

/// Whether `ev`, right behind a line break amid typing, carries a paste on: a character for
/// the draft or another line break.
fn continues_paste(app: &App, ev: &Event) -> bool {
    matches!(ev, Event::Key(key) if app.types_into_draft(key).is_some() || app.sends_typed_draft(key))
}

/// Hands the app the core events already waiting, up to `limit`; true when that left some in
/// the channel.
fn take_core_events(
    app: &mut App,
    core_events: &mut mpsc::Receiver<CoreEvent>,
    stats: &mut LoopStats,
    limit: usize,
) -> bool {
    for _ in 0..limit {
        match core_events.try_recv() {
            Ok(ev) => {
                app.on_core(ev);
                stats.core_events += 1;
            }
            Err(_) => return false,
        }
    }
    !core_events.is_empty()
}

/// Draws frames for the loop (and for tests, which drive the same path): prepares the app,
/// then lets the frame writer start from the last frame when the layout allows, scrolling a
/// following pane's rows in the terminal when that is cheaper than rewriting them.
#[derive(Default)]
pub struct Painter {
    /// What the terminal shows.
    frames: FrameWriter,
    /// The layout of the last frame, to tell whether the next may start from it.
    last_layout: Option<draw::LayoutKey>,
    /// The sidebar the last frame drew.
    last_sidebar: Option<crate::ui::sidebar::Picture>,
    /// The input box as the last frame drew it.
    last_input: Option<crate::ui::input::InputView>,
    /// The status line as the last frame drew it.
    last_status: Option<draw::StatusView>,
}

impl Painter {
    /// What the terminal shows may not be the last frame (a resize may have reflowed it).
    pub fn forget(&mut self) {
        self.frames.forget();
        self.last_layout = None;
    }

    /// The screen was cleared: the next frame sends every cell.
    pub fn cleared(&mut self) {
        self.frames.cleared();
        self.last_layout = None;
    }

    /// Draw a frame of the whole app.
    pub fn paint<B: Backend>(&mut self, terminal: &mut Terminal<B>, app: &mut App) -> io::Result<FrameFigures> {
        self.paint_frame(terminal, app, false)
    }

    /// Draw a frame for keystrokes that only edited the draft: the panes stay as the last frame
    /// drew them (what streamed in since waits for its frame slot), so the echo costs the input
    /// box's rows, not the panes'. A frame that cannot start from the last one (the layout
    /// changed) draws everything; `FrameFigures::panes_kept` tells which it was.
    pub fn paint_draft<B: Backend>(&mut self, terminal: &mut Terminal<B>, app: &mut App) -> io::Result<FrameFigures> {
        self.paint_frame(terminal, app, true)
    }

    fn paint_frame<B: Backend>(
        &mut self,
        terminal: &mut Terminal<B>,
        app: &mut App,
        keep_panes: bool,
    ) -> io::Result<FrameFigures> {
        let error = |e: B::Error| io::Error::other(e.to_string());
        terminal.autoresize().map_err(error)?;
        let area = terminal.get_frame().area();
        draw::prepare_chrome(app, area);
        // A frame starts from the last one when nothing but pane contents, the sidebar, the
        // input and the status line can have changed; then only changed rows are drawn.
        let key = draw::layout_key(app);
        let retain = key.may_retain(self.last_layout.as_ref()) && self.frames.can_retain(area);
        let panes_kept = keep_panes && retain;
        if !panes_kept {
            draw::prepare_panes(app);
        }
        let hints = if app.chrome.scroll_regions && !panes_kept { draw::scroll_hints(app) } else { Vec::new() };
        let mode = if retain {
            let sidebar_unchanged = self.last_sidebar.is_some() && self.last_sidebar == app.chrome.sidebar_picture;
            let input_unchanged = self.last_input.as_ref() == Some(&app.chrome.input.view());
            let status_unchanged = self.last_status.is_some() && self.last_status == app.chrome.status_view;
            let scroll = if panes_kept { None } else { draw::plan_scroll(app, &hints) };
            FrameMode::Retained { scroll, sidebar_unchanged, input_unchanged, status_unchanged, panes_kept }
        } else {
            FrameMode::Fresh { hints: &hints }
        };
        let last_sidebar = self.last_sidebar.as_ref();
        let drawn =
            self.frames.draw(terminal, mode, |f, reuse| draw::draw_with(f, app, reuse, last_sidebar)).map_err(error)?;
        if !drawn.panes_kept {
            draw::frame_done(app);
        }
        self.last_layout = Some(key);
        self.last_sidebar.clone_from(&app.chrome.sidebar_picture);
        self.last_input = Some(app.chrome.input.view());
        self.last_status.clone_from(&app.chrome.status_view);
        Ok(drawn)
    }
}

/// Clear the screen so that the next frame sends every cell: after another program had the
/// screen nothing on it can be trusted. (Not `Terminal::clear`: it asks the terminal for the
/// cursor position, and that answer would race the event reader.)
fn repaint_all<B: Backend>(terminal: &mut Terminal<B>) -> io::Result<()> {
    terminal.backend_mut().clear_region(ClearType::All).map_err(|e| io::Error::other(e.to_string()))
}

fn handle_terminal<B: Backend>(
    app: &mut App,
    terminal: &mut Terminal<B>,
    painter: &mut Painter,
    ev: Event,
) -> io::Result<()> {
    if let Event::Resize(..) = ev {
        // ratatui resizes on the next draw; clearing avoids stale cells on some terminals.
        terminal.autoresize().map_err(|e| io::Error::other(e.to_string()))?;
        // Even a resize back to the same size may have cleared or reflowed the screen.
        painter.forget();
    }
    app.on_terminal(ev);
    Ok(())
}

fn next_deadline(app: &App, last_draw: Option<Instant>, frame: Duration, animation: Instant) -> Option<Instant> {
    let mut deadline: Option<Instant> = None;
    let mut consider = |t: Instant| deadline = Some(deadline.map_or(t, |d| d.min(t)));
    if app.dirty {
        consider(last_draw.map_or_else(Instant::now, |t| t + frame));
    }
    if app.animating() {
        consider(spinner_wakeup(animation, last_draw, frame));
    }
    if app.chrome.show_sidebar
        && let Some(wait) = sidebar::next_countdown_change(&app.view.sidebar, crate::core::store::now_ms())
    {
        consider(Instant::now() + wait);
    }
    deadline
}

/// When the loop wakes for the spinner's next step (due at `animation`) while something
/// streams. While text streams in, the next frame slot wakes the loop anyway: the spinner
/// advances at the first slot after its time instead of waking the loop between two slots (ten
/// wake-ups a second, each costing more than the step). A slot already past (no text for a
/// while, as before the first token) leaves the spinner its own time.
fn spinner_wakeup(animation: Instant, last_draw: Option<Instant>, frame: Duration) -> Instant {
    last_draw.map_or(animation, |drawn| animation.max(drawn + frame))
}

/// Commands go through an unbounded queue to a task that awaits the core's bounded channel, so
/// the loop never waits on it and commands keep their order.
fn spawn_command_forwarder(core: CoreHandle) -> mpsc::UnboundedSender<Command> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Command>();
    tokio::spawn(async move {
        while let Some(cmd) = rx.recv().await {
            if core.send(cmd).await.is_err() {
                break;
            }
        }
    });
    tx
}

fn perform_effects(
    app: &mut App,
    host: &mut dyn Host,
    core: &CoreHandle,
    commands: &mpsc::UnboundedSender<Command>,
    bg: &mpsc::UnboundedSender<Background>,
) {
    for effect in std::mem::take(&mut app.effects) {
        match effect {
            Effect::Core(cmd) => {
                let _ = commands.send(cmd);
            }
            Effect::Clipboard(text) => {
                let chars = text.chars().count();
                let osc = text.len() <= crate::ui::clipboard::OSC52_MAX_BYTES && host.copy(&text);
                if host.local_clipboard() {
                    let bg = bg.clone();
                    tokio::spawn(async move {
                        let result = match crate::ui::clipboard::copy_local(text).await {
                            Ok(tool) => Ok(format!("Copied {chars} characters (terminal clipboard and {tool})")),
                            Err(_) if osc => Ok(format!("Copied {chars} characters (terminal clipboard, OSC 52)")),
                            Err(e) => Err(format!("Could not copy: {e}, and the text is too long for OSC 52")),
                        };
                        let _ = bg.send(Background::Copied(result));
                    });
                } else {
                    app.on_background(Background::Copied(Ok(format!("Copied {chars} characters"))));
                }
            }
            Effect::Editor(draft) => {
                // Blocks the loop's thread, which is what it should do while the editor has the
                // terminal: the core runs on its own runtime meanwhile.
                let result = host.edit(&draft);
                app.on_background(Background::EditorDone(result));
                app.dirty = true;
                app.repaint = true;
            }
            Effect::Export { path, contents, create_dirs } => {
                let bg = bg.clone();
                tokio::task::spawn_blocking(move || {
                    let result = write_export(&path, &contents, create_dirs).map(|()| path.clone()).map_err(|e| {
                        format!("Could not write {}: {e}. Give another path: /export md PATH", path.display())
                    });
                    let _ = bg.send(Background::Exported(result));
                });
            }
            Effect::MouseCapture(on) => host.set_mouse_capture(on),
            Effect::Leaderboard { width } => {
                let Some(path) = app.services.store.as_ref().and_then(|s| s.path()).map(|p| p.to_path_buf()) else {
                    app.on_background(Background::Leaderboard(Err(
                        "History is not saved in this session, so there are no votes to rank".into(),
                    )));
                    continue;
                };
                let bg = bg.clone();
                tokio::task::spawn_blocking(move || {
                    let filter = crate::core::store::VoteFilter::default();
                    let result = crate::leaderboard_cmd::Leaderboard::load(&path, &filter)
                        .map(|board| board.lines_within(width))
                        .map_err(|e| e.to_string());
                    let _ = bg.send(Background::Leaderboard(result));
                });
            }
            Effect::StartMcp(servers) => {
                for server in servers {
                    let (tools, bg) = (app.room.tools().clone(), bg.clone());
                    // On the core's runtime: the server's connection lives there, not on the
                    // thread that draws.
                    core.runtime().spawn(async move {
                        let result = tools.prepare(&[format!("{server}.*")]).await.map(|()| {
                            tools.list().iter().filter(|t| t.server.as_deref() == Some(server.as_str())).count()
                        });
                        let _ = bg.send(Background::McpStarted { server, result });
                    });
                }
            }
            Effect::Rooms(request) => {
                let Some(path) = app.services.store.as_ref().and_then(|s| s.path()).map(|p| p.to_path_buf()) else {
                    continue;
                };
                let store = app.services.store.clone();
                let bg = bg.clone();
                tokio::task::spawn_blocking(move || {
                    let reply = crate::ui::rooms_view::perform(&path, store.as_ref(), request);
                    let _ = bg.send(Background::Rooms(reply));
                });
            }
        }
    }
}

fn write_export(path: &std::path::Path, contents: &str, create_dirs: bool) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if create_dirs {
            std::fs::create_dir_all(dir)?;
        } else if !dir.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("the folder {} does not exist", dir.display()),
            ));
        }
    }
    std::fs::write(path, contents)
}

/// Stop every stream and give final events a moment to land in the store.
async fn shutdown(core: &CoreHandle, events: &mut mpsc::Receiver<CoreEvent>, app: &mut App) {
    let _ = core.try_send(Command::Shutdown);
    let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
    while app.is_streaming() {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(ev)) => app.on_core(ev),
            _ => break,
        }
    }
    if let Some(store) = &app.services.store {
        let _ = store.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spinner_steps_with_the_frame_slots_while_text_streams() {
        let t0 = Instant::now();
        let frame = Duration::from_millis(50);
        let ms = |n: u64| t0 + Duration::from_millis(n);
        // Due between the last frame and the next slot: waits for the slot.
        assert_eq!(spinner_wakeup(ms(20), Some(t0), frame), ms(50));
        // Due after the next slot: its own time (that slot wakes the loop anyway).
        assert_eq!(spinner_wakeup(ms(70), Some(t0), frame), ms(70));
        // No text for a while (the slot is long past), or nothing drawn yet: its own time.
        assert_eq!(spinner_wakeup(ms(1020), Some(t0), frame), ms(1020));
        assert_eq!(spinner_wakeup(ms(20), None, frame), ms(20));
    }
}
