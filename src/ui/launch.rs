//! Starting the chatroom: config and UI settings, demo mode on the in-process simulator when
//! there is no API key (or `--demo`), `--resume`, the core, the terminal, then the loop.

use std::io;
use std::path::PathBuf;

use crossterm::event::{Event, EventStream};
use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot};

use crate::config::Config;
use crate::core::provider::ApiKey;
use crate::core::store::{db_path, spend_since};
use crate::paths::Paths;
use crate::sim::{SimConfig, SimServer};
use crate::ui::app::{App, AppInit};
use crate::ui::event_loop::{self, Host, LoopIo};
use crate::ui::settings::UiSettings;
use crate::ui::terminal;

/// Models of the demo room: one paid, one reasoning-sized, one `:free` so the quota gauges move.
pub const DEMO_MODELS: &[&str] =
    &["openai/gpt-4o-mini", "anthropic/claude-haiku-4.5", "meta-llama/llama-3.3-70b-instruct:free"];
pub const DEMO_PROMPT: &str = "Explain how a hash map works, with a short code example.";
const DEMO_KEY: &str = "sk-or-v1-demo-simulated";

pub struct LaunchOptions {
    pub models: Vec<String>,
    pub base_url: Option<String>,
    pub demo: bool,
    /// `--resume`: `Some(None)` reopens the last chatroom room, `Some(Some(id))` that room.
    pub resume: Option<Option<crate::core::store::RoomId>>,
    /// `--blind`: start with a blind round.
    pub blind: bool,
}

/// Exit code: 0 on a normal quit, 1 when the terminal failed, 2 for configuration problems.
pub fn run(opts: LaunchOptions, paths: &Paths) -> i32 {
    limit_malloc_arenas();
    // Two runtimes, each on one thread: the core's (every upstream connection, the simulator in
    // demo mode, MCP servers) on a thread of its own, and the chatroom loop's on this one. The
    // loop sleeps until its next frame slot many times a second; on the core's runtime each
    // such timer woke a worker to re-arm the timer and the worker then woke this thread, two
    // context switches a frame. The core's work is a wake-up per received packet and a little
    // parsing (`ask` runs the same core on one thread); one thread takes several panes' packets
    // per wake-up (six panes ~15% less CPU per token than on two work-stealing workers; one
    // pane the same within the runs' spread).
    // While paced streams wait for their read slot, the core's thread rests until it rather than
    // waking for each packet (see `pacing::rest_until_slot`); while streamed text waits for its
    // frame slot, the loop's thread likewise (`event_loop::rest_until_gate`).
    let one_thread =
        |rest: fn()| tokio::runtime::Builder::new_current_thread().enable_all().on_thread_park(rest).build();
    let core_runtime = one_thread(crate::core::provider::pacing::rest_until_slot);
    let runtimes = core_runtime.and_then(|core| Ok((core, one_thread(event_loop::rest_until_gate)?)));
    let (core_runtime, loop_runtime) = match runtimes {
        Ok(pair) => pair,
        Err(e) => {
            eprintln!("roundtable: could not start the async runtime: {e}");
            return 1;
        }
    };
    let core_handle = core_runtime.handle().clone();
    let (stop_core, core_stopped) = tokio::sync::oneshot::channel::<()>();
    let core_thread = std::thread::Builder::new().name("roundtable-core".into()).spawn(move || {
        core_runtime.block_on(async {
            let _ = core_stopped.await;
        });
        core_runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    });
    let core_thread = match core_thread {
        Ok(thread) => thread,
        Err(e) => {
            eprintln!("roundtable: could not start the core's thread: {e}");
            return 1;
        }
    };
    let code = loop_runtime.block_on(run_async(opts, paths, core_handle));
    loop_runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    let _ = stop_core.send(());
    crate::core::provider::pacing::wake_resting_core();
    let _ = core_thread.join();
    code
}

async fn run_async(opts: LaunchOptions, paths: &Paths, core_runtime: tokio::runtime::Handle) -> i32 {
    let mut config = match Config::load(&paths.config_file()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("roundtable: {e}");
            return 2;
        }
    };
    let settings = match UiSettings::load(&paths.config_file()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("roundtable: {e}");
            return 2;
        }
    };
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let theme = match crate::ui::theme::load(&settings.theme, Some(&paths.config_dir), no_color) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("roundtable: {e} (set [ui] theme in {})", paths.config_file().display());
            return 2;
        }
    };
    if let Some(url) = &opts.base_url {
        config.override_base_url(url);
    }
    // Text is shown at the frame slots, so the core reads the streams at them.
    config.providers.read_slot = Some(event_loop::stream_interval(settings.max_fps));
    let room_models = if opts.models.is_empty() { &config.default_models } else { &opts.models };
    let demo = opts.demo || (opts.base_url.is_none() && no_usable_provider(&config, room_models));
    // Loading the syntax definitions takes a moment; do it while the rest starts. Regexes are
    // compiled when a language is first highlighted (on the highlighter's thread), so memory
    // goes only to languages that appear.
    std::thread::spawn(crate::ui::highlight::preload);
    let mut paths = paths.clone();
    let mut sim = None;
    if demo {
        let started = core_runtime.spawn(SimServer::start(SimConfig::default(), 0)).await;
        match started.map_err(|e| std::io::Error::other(e.to_string())).and_then(|r| r) {
            Ok(server) => {
                config.override_base_url(&server.base_url());
                for p in config.providers.providers.values_mut() {
                    p.fixed_key = Some(ApiKey::new(DEMO_KEY.to_string()));
                }
                sim = Some(server);
            }
            Err(e) => {
                eprintln!("roundtable: the demo simulator could not start on loopback: {e}");
                return 1;
            }
        }
        // Simulated spend must not mix with the real ledger.
        paths = paths.demo();
    }
    // What the core starts now (its router, the catalog's refresh) runs on the core's runtime.
    let entered = core_runtime.enter();
    let rt = crate::runtime::build(&config, &paths);
    if !demo {
        crate::runtime::refresh_catalog_in_background(&config, &paths, &rt.estimator);
    }
    let db = db_path(&paths.data_dir);
    let day_start_ms = start_of_day_ms();
    let today_spend = spend_since(&db, day_start_ms).unwrap_or_default();
    let resume = match opts.resume {
        None => None,
        Some(id) => match crate::core::room::load(&db, id, true) {
            Ok(Some(room)) => Some(room),
            Ok(None) if id.is_some() => {
                eprintln!("roundtable: there is no room with that id; `roundtable rooms` lists them");
                return 2;
            }
            Ok(None) | Err(crate::core::store::StoreError::Missing { .. }) => {
                eprintln!("roundtable: no saved room to resume yet; starting a new one");
                None
            }
            Err(e) => {
                eprintln!("roundtable: {e}");
                return 1;
            }
        },
    };
    let resuming = resume.is_some();
    let models = if !opts.models.is_empty() {
        opts.models.clone()
    } else if demo {
        DEMO_MODELS.iter().map(|s| s.to_string()).collect()
    } else {
        config.default_models.clone()
    };
    let started = crate::core::router::start(rt.core.clone());
    drop(entered);
    let (core, core_events) = match started {
        Ok(pair) => pair,
        Err(e) => {
            eprintln!("roundtable: {}", e.message);
            return 1;
        }
    };
    let demo_hint = demo.then(|| {
        "Simulated answers: set OPENROUTER_API_KEY (or another provider's key) and restart for real models".to_string()
    });
    let mut app = App::new(AppInit {
        models,
        theme,
        keymap: settings.keymap.clone(),
        sidebar: settings.sidebar,
        mouse: settings.mouse,
        providers: config.providers.clone(),
        estimator: Some(rt.estimator.clone()),
        store: rt.store.clone(),
        demo: demo_hint,
        resume,
        today_spend,
        day_start_ms,
        config_dir: Some(paths.config_dir.clone()),
        export_dir: paths.data_dir.join("exports"),
        no_color,
        tools: config.tools.clone(),
        analyst: config.compare.analyst.clone(),
        warnings: rt.warnings.clone(),
    });
    app.chrome.scroll_regions = settings.scroll_regions;
    app.chrome.scroll_jump = settings.scroll_jump;
    if opts.blind {
        app.start_blind();
    }
    // The canned demo prompt only in a room the user did not choose (no -m, nothing resumed).
    if demo && !resuming && opts.models.is_empty() {
        // A new user sees every pane stream within seconds.
        app.start_turn(DEMO_PROMPT);
    }

    let (mut tui, guard) = match terminal::setup(settings.mouse, settings.color_depth()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!(
                "roundtable: this does not look like an interactive terminal ({e}); use `roundtable ask` in scripts"
            );
            return 1;
        }
    };
    let (events_tx, events) = mpsc::channel(1024);
    let forwarder = Some(spawn_event_forwarder(&core_runtime, events_tx.clone()));
    let io = LoopIo { events, core_events, core, max_fps: settings.max_fps, record_frame_times: false };
    let mut host = TerminalHost { mouse: settings.mouse, events_tx, forwarder, core_runtime };
    let result = event_loop::run(&mut tui, &mut app, io, &mut host, quit_signal()).await;
    drop(guard);
    if let Ok(stats) = &result {
        // What the session cost the screen: for a look at performance (the paced benchmark
        // reads the frame count here; a frame on the wire carries no marker of its own).
        tracing::info!(
            frames = stats.frames,
            retained_frames = stats.retained_frames,
            scrolled_rows = stats.scrolled_rows,
            wakeups = stats.wakeups,
            core_events = stats.core_events,
            "chatroom closed"
        );
    }
    config.tools.shutdown().await;
    if let Some(server) = sim {
        server.shutdown().await;
    }
    match result {
        Ok(_) => 0,
        Err(e) => {
            eprintln!("roundtable: terminal error: {e}");
            1
        }
    }
}

/// glibc gives each thread that allocates its own arena, and each keeps its freed memory: with
/// the UI thread, two runtime workers, the highlighter and the store that is most of the
/// chatroom's resident memory. Two arenas cost no measurable speed here (one thread draws).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    // SAFETY: mallopt only sets an allocator tunable, and glibc serialises it internally.
    #[allow(unsafe_code)] // glibc's mallopt has no safe wrapper
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}

/// Demo mode is only for a room where no model can reach its provider: a keyless local server
/// (`llamacpp:…`, `ollama:…`) or any provider with its key set is a real room.
fn no_usable_provider(config: &Config, models: &[String]) -> bool {
    let providers = &config.providers;
    models.iter().all(|m| providers.resolve(m).and_then(|r| providers.api_key(&r.provider_name, &r.provider)).is_err())
}

fn start_of_day_ms() -> i64 {
    crate::core::quota::day_bounds(crate::core::quota::DayReset::Utc, crate::core::store::now_ms()).0
}

/// SIGTERM and SIGHUP end the loop so the terminal is restored and the store flushed.
async fn quit_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut hup)) = (signal(SignalKind::terminate()), signal(SignalKind::hangup())) else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = hup.recv() => {}
        }
    }
    #[cfg(not(unix))]
    std::future::pending::<()>().await
}

/// Reads crossterm's event stream in its own task and hands events to the loop.
struct Forwarder {
    stop: oneshot::Sender<()>,
    stopped: std::sync::mpsc::Receiver<()>,
}

/// On the core's runtime: `$EDITOR` blocks the loop's thread, and the forwarder must still run
/// to stop when asked.
fn spawn_event_forwarder(runtime: &tokio::runtime::Handle, tx: mpsc::Sender<io::Result<Event>>) -> Forwarder {
    let (stop, mut stop_rx) = oneshot::channel();
    let (stopped_tx, stopped) = std::sync::mpsc::channel();
    runtime.spawn(async move {
        // Keys are drawn at once, so one ends the core's rest until a read slot.
        let mut stream = crate::core::provider::pacing::WakesRestingCore(EventStream::new());
        loop {
            tokio::select! {
                _ = &mut stop_rx => break,
                ev = stream.next() => {
                    let Some(ev) = ev else { break };
                    if let Ok(Event::Resize(..)) = ev {
                        crate::ui::tty::size_changed();
                    }
                    if event_loop::hand_to_loop(&tx, ev).await.is_err() {
                        break;
                    }
                }
            }
        }
        // Dropping the stream wakes crossterm's reader thread and ends it, so nothing reads
        // the terminal behind the editor's back.
        drop(stream);
        let _ = stopped_tx.send(());
    });
    Forwarder { stop, stopped }
}

impl Forwarder {
    /// Stop reading the terminal, and wait (briefly) until nothing does.
    fn stop(self) {
        let _ = self.stop.send(());
        crate::core::provider::pacing::wake_resting_core();
        let _ = self.stopped.recv_timeout(std::time::Duration::from_secs(1));
    }
}

struct TerminalHost {
    mouse: bool,
    events_tx: mpsc::Sender<io::Result<Event>>,
    forwarder: Option<Forwarder>,
    core_runtime: tokio::runtime::Handle,
}

impl Host for TerminalHost {
    fn copy(&mut self, text: &str) -> bool {
        terminal::osc52(text).is_ok()
    }

    fn set_mouse_capture(&mut self, on: bool) {
        self.mouse = on;
        let _ = terminal::set_mouse_capture(on);
    }

    fn edit(&mut self, draft: &str) -> Result<String, String> {
        // The first of $VISUAL and $EDITOR that is set and not empty.
        let editor = ["VISUAL", "EDITOR"]
            .iter()
            .filter_map(|name| std::env::var(name).ok())
            .find(|e| !e.trim().is_empty())
            .unwrap_or_else(|| "vi".into());
        let path = write_draft(draft)?;
        // Stop reading the terminal so the editor gets every keystroke.
        if let Some(f) = self.forwarder.take() {
            f.stop();
        }
        terminal::restore();
        let mut words = editor.split_whitespace();
        let program = words.next().unwrap_or("vi");
        let status = std::process::Command::new(program).args(words).arg(&path).status();
        let resumed = terminal::resume(self.mouse);
        self.forwarder = Some(spawn_event_forwarder(&self.core_runtime, self.events_tx.clone()));
        let text = std::fs::read_to_string(&path);
        let _ = std::fs::remove_file(&path);
        resumed.map_err(|e| format!("Could not take the terminal back: {e}"))?;
        match status {
            Ok(s) if s.success() => text.map_err(|e| format!("Could not read the edited draft: {e}")),
            Ok(s) => Err(format!("{editor} exited with {s}; the draft is unchanged")),
            Err(e) => Err(format!("Could not run {editor} ({e}); set $EDITOR to your editor")),
        }
    }
}

/// The draft in a new private file in the temp dir: never an existing file or a link planted
/// there (created exclusively, readable by the user alone).
fn write_draft(draft: &str) -> Result<PathBuf, String> {
    use std::io::Write;
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let path = std::env::temp_dir().join(format!("roundtable-draft-{}-{nanos}.md", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    // A complete last line (editors add one anyway), so the file reads back as written.
    let contents = if draft.is_empty() || draft.ends_with('\n') { draft.to_string() } else { format!("{draft}\n") };
    let written = options.open(&path).and_then(|mut f| f.write_all(contents.as_bytes()));
    written.map_err(|e| format!("Could not write the draft to {}: {e}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keyless_local_model_is_a_real_room_not_the_demo() {
        let mut config = Config::defaults();
        for p in config.providers.providers.values_mut() {
            p.api_key_env = Some("ROUNDTABLE_TEST_UNSET_KEY_VARIABLE".into());
        }
        let models = |m: &[&str]| m.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(!no_usable_provider(&config, &models(&["llamacpp:smollm2-135m"])));
        assert!(!no_usable_provider(&config, &models(&["openai/gpt-4o-mini", "ollama:llama3.2:3b"])));
        assert!(no_usable_provider(&config, &models(&["openai/gpt-4o-mini", "gemini:gemini-2.5-flash"])));
        assert!(no_usable_provider(&config, &config.default_models));
    }
}
