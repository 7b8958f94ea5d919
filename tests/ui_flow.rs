//! Flow tests: keys fed into the real chatroom loop, streaming from the in-process simulator
//! through the real core; assertions read the drawn screen.

mod common;

use std::time::Duration;

use common::ui::{RecordingHost, SharedBackend, key, type_text, wait_for};
use crossterm::event::{Event, KeyCode, KeyModifiers};
use ratatui::Terminal;
use roundtable::core::router;
use roundtable::ui::app::{App, AppInit};
use roundtable::ui::event_loop::{self, LoopIo};
use tokio::sync::{mpsc, oneshot};

fn app(models: &[&str], providers: roundtable::core::provider::ProvidersConfig, export_dir: std::path::PathBuf) -> App {
    let theme = roundtable::ui::theme::load("dark", None, true).unwrap();
    App::new(AppInit {
        no_color: true,
        ..AppInit::new(models.iter().map(|m| m.to_string()).collect(), theme, providers, export_dir)
    })
}

/// A chatroom on `models` (simulator directives) at `size`, running against the simulator.
async fn start_room(
    models: &[&str],
    size: (u16, u16),
    key_capacity: usize,
) -> (roundtable::sim::SimServer, tempfile::TempDir, common::ui::RunningLoop) {
    let sim = common::sim().await;
    let config = common::config_for(&sim.base_url());
    let (core, core_events) = router::start(common::core_config(&sim.base_url())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let app = app(models, config.providers.clone(), dir.path().to_path_buf());
    let running = common::ui::spawn_loop(app, size, key_capacity, core, core_events);
    (sim, dir, running)
}

fn count(screen: &str, needle: &str) -> usize {
    screen.matches(needle).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn type_send_cancel_scroll_zoom_copy_resize() {
    let sim = common::sim().await;
    let config = common::config_for(&sim.base_url());
    let (core, core_events) = router::start(common::core_config(&sim.base_url())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(
        &["fast/a@tokens=300@tps=0@ttft=0", "slow/b@tokens=20000@tps=200@ttft=0", "fast/c@tokens=40@tps=0@ttft=0"],
        config.providers.clone(),
        dir.path().to_path_buf(),
    );
    let backend = SharedBackend::new(150, 40);
    let mut terminal = Terminal::new(backend.clone()).unwrap();
    let (keys, events) = mpsc::channel(256);
    let (quit_tx, quit_rx) = oneshot::channel::<()>();
    let host = RecordingHost::default();
    let copied = host.copied.clone();
    let looped = tokio::spawn(async move {
        let mut host = host;
        let io = LoopIo { events, core_events, core, max_fps: 60, record_frame_times: false };
        let stats = event_loop::run(&mut terminal, &mut app, io, &mut host, async {
            let _ = quit_rx.await;
        })
        .await
        .unwrap();
        (app, stats)
    });

    // Type and send to three models.
    type_text(&keys, "Hello there").await;
    wait_for(&backend, "the draft", 10, |s| s.contains("Hello there")).await;
    key(&keys, KeyCode::Enter, KeyModifiers::NONE).await;
    let screen = wait_for(&backend, "two fast panes done", 30, |s| count(s, "✓ done") == 2).await;
    assert!(count(&screen, "▍You") >= 2, "the prompt shows in the panes:\n{screen}");
    let slow_header = screen.lines().next().unwrap_or("");
    assert!(
        ["tok/s", "streaming", "waiting"].iter().any(|s| slow_header.contains(s)),
        "the slow pane is still busy:\n{screen}"
    );

    wait_for(&backend, "the slow pane to stream", 30, |s| s.lines().next().is_some_and(|l| l.contains("tok/s"))).await;
    // Cancel the slow pane (focus it with Tab, then Ctrl+X): its partial answer stays.
    key(&keys, KeyCode::Tab, KeyModifiers::NONE).await;
    key(&keys, KeyCode::Char('x'), KeyModifiers::CONTROL).await;
    let screen = wait_for(&backend, "the slow pane stopped", 10, |s| s.contains("■ stopped")).await;
    assert_eq!(count(&screen, "✓ done"), 2);

    // Scroll the focused pane up: it stops following the bottom, so its footer scrolls away.
    let before = backend.screen();
    for _ in 0..3 {
        key(&keys, KeyCode::PageUp, KeyModifiers::NONE).await;
    }
    let after = wait_for(&backend, "the pane to scroll", 10, |s| *s != before).await;
    assert!(after.contains("▍You"), "scrolled back to the prompt:\n{after}");

    // Zoom the focused pane to full width and back.
    key(&keys, KeyCode::Char('z'), KeyModifiers::ALT).await;
    let zoomed = wait_for(&backend, "zoom", 10, |s| s.contains("ZOOM")).await;
    assert!(!zoomed.contains("┌ 1 ") && zoomed.contains("┌ 2 "), "only the zoomed pane shows:\n{zoomed}");
    key(&keys, KeyCode::Char('z'), KeyModifiers::ALT).await;
    wait_for(&backend, "unzoom", 10, |s| s.contains("┌ 1 ") && s.contains("┌ 2 ") && !s.contains("ZOOM")).await;

    // Copy the focused (slow, stopped) pane's answer.
    key(&keys, KeyCode::Char('c'), KeyModifiers::ALT).await;
    wait_for(&backend, "copy confirmation", 10, |s| s.contains("Copied")).await;
    let text = copied.lock().unwrap().last().cloned().expect("something was copied");
    assert!(!text.is_empty(), "the partial answer was copied");

    // Resize: everything reflows; too small shows a message instead of panicking.
    backend.resize(90, 30);
    keys.send(Ok(Event::Resize(90, 30))).await.unwrap();
    let screen = wait_for(&backend, "reflow at 90x30", 10, |s| {
        s.lines().next().is_some_and(|l| l.chars().count() == 90 && l.contains("┌ 1 "))
    })
    .await;
    assert!(screen.contains("┌ 2 "), "{screen}");
    backend.resize(40, 10);
    keys.send(Ok(Event::Resize(40, 10))).await.unwrap();
    wait_for(&backend, "too small", 10, |s| s.contains("too small")).await;
    backend.resize(120, 30);
    keys.send(Ok(Event::Resize(120, 30))).await.unwrap();
    wait_for(&backend, "back to normal", 10, |s| s.contains("┌ 2 ")).await;

    quit_tx.send(()).unwrap();
    let (app, stats) = tokio::time::timeout(Duration::from_secs(10), looped).await.unwrap().unwrap();
    assert!(stats.frames > 0);
    assert_eq!(app.view.panes.len(), 3);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_add_remove_and_errors_are_shown_inline() {
    let (sim, _dir, common::ui::RunningLoop { keys, backend, quit: quit_tx, looped }) =
        start_room(&["ok/a@tokens=30@tps=0@ttft=0"], (160, 40), 256).await;

    type_text(&keys, "/add bad/model@401").await;
    key(&keys, KeyCode::Enter, KeyModifiers::NONE).await;
    wait_for(&backend, "second pane", 10, |s| s.contains("bad/model@401")).await;
    type_text(&keys, "Does this work?").await;
    key(&keys, KeyCode::Enter, KeyModifiers::NONE).await;
    let screen = wait_for(&backend, "one done, one error", 30, |s| s.contains("✓ done") && s.contains("✗ error")).await;
    assert!(screen.to_lowercase().contains("key"), "the core's 401 message shows inline:\n{screen}");

    type_text(&keys, "/remove 2").await;
    key(&keys, KeyCode::Enter, KeyModifiers::NONE).await;
    wait_for(&backend, "the question before removing", 10, |s| s.contains("Remove pane bad/model@401?")).await;
    type_text(&keys, "y").await;
    wait_for(&backend, "pane removed", 10, |s| !s.contains("bad/model@401") || s.contains("Removed")).await;

    type_text(&keys, "/nonsense").await;
    key(&keys, KeyCode::Enter, KeyModifiers::NONE).await;
    wait_for(&backend, "unknown command message", 10, |s| s.contains("No command /nonsense")).await;

    quit_tx.send(()).unwrap();
    let app = tokio::time::timeout(Duration::from_secs(10), looped).await.unwrap().unwrap();
    assert_eq!(app.view.panes.len(), 1);
    sim.shutdown().await;
}

/// A host that records every frame the loop draws.
struct FrameRecorder {
    backend: SharedBackend,
    frames: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl roundtable::ui::event_loop::Host for FrameRecorder {
    fn copy(&mut self, _text: &str) -> bool {
        true
    }
    fn set_mouse_capture(&mut self, _on: bool) {}
    fn edit(&mut self, draft: &str) -> Result<String, String> {
        Ok(draft.to_string())
    }
    fn end_frame(&mut self) {
        self.frames.lock().unwrap().push(self.backend.screen());
    }
}

/// Typing while an answer streams: a keystroke that only edits the draft is drawn at once and
/// by itself (the panes stay as they were, so the echo costs the input box's rows however much
/// streams in), and typing faster than the frame slots come never holds the answer back: its
/// text still comes in at the slots.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_that_edit_the_draft_are_drawn_alone_and_never_hold_the_stream_back() {
    let sim = common::sim().await;
    let config = common::config_for(&sim.base_url());
    let (core, core_events) = router::start(common::core_config(&sim.base_url())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut app = app(&["slow/b@tokens=20000@tps=100@ttft=0"], config.providers.clone(), dir.path().to_path_buf());
    app.chrome.show_sidebar = false;
    let backend = SharedBackend::new(100, 30);
    let mut terminal = Terminal::new(backend.clone()).unwrap();
    let (keys, events) = mpsc::channel(256);
    let frames = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let host = FrameRecorder { backend: backend.clone(), frames: frames.clone() };
    let (quit_tx, quit_rx) = oneshot::channel::<()>();
    let looped = tokio::spawn(async move {
        let mut host = host;
        let io = LoopIo { events, core_events, core, max_fps: 60, record_frame_times: false };
        event_loop::run(&mut terminal, &mut app, io, &mut host, async {
            let _ = quit_rx.await;
        })
        .await
        .unwrap();
    });

    type_text(&keys, "Go").await;
    key(&keys, KeyCode::Enter, KeyModifiers::NONE).await;
    wait_for(&backend, "the answer to stream", 30, |s| s.lines().next().is_some_and(|l| l.contains("tok/s"))).await;
    // Type for 1.6 s, a key every 20 ms: two or three keys to each 50 ms frame slot.
    let first = frames.lock().unwrap().len();
    let typed: String = ('a'..='z').cycle().take(80).collect();
    for c in typed.chars() {
        key(&keys, KeyCode::Char(c), KeyModifiers::NONE).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let tail: String = typed.chars().rev().take(20).collect::<Vec<_>>().into_iter().rev().collect();
    wait_for(&backend, "the last keys", 10, |s| s.contains(&tail)).await;
    quit_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), looped).await.unwrap().unwrap();
    sim.shutdown().await;

    let frames = frames.lock().unwrap()[first..].to_vec();
    // The answer's rows lie between the pane's title row and its bottom border; the input box
    // and the status line below it.
    let body = |screen: &str| -> Vec<String> {
        screen.lines().skip(1).take_while(|r| !r.starts_with('└')).map(str::to_string).collect()
    };
    let below = |screen: &str| -> Vec<String> {
        screen.lines().skip_while(|r| !r.starts_with('└')).skip(1).map(str::to_string).collect()
    };
    let mut key_frames = 0;
    let mut body_changes = 0;
    for pair in frames.windows(2) {
        let (before, after) = (&pair[0], &pair[1]);
        let body_changed = body(before) != body(after);
        body_changes += usize::from(body_changed);
        if below(before) != below(after) {
            key_frames += 1;
            assert!(
                !body_changed,
                "a frame that drew a key also redrew the answer:\nbefore:\n{before}\nafter:\n{after}"
            );
        }
    }
    assert!(key_frames >= 40, "keys were drawn as they came: {key_frames} frames drew keys for 80 keys");
    // 1.6 s at 20 slots a second; a slot pushed back by every key would leave a few at most.
    assert!(body_changes >= 12, "the answer came in at its frame slots while keys were typed: {body_changes} changes");
}

/// A paste from a terminal that does not bracket pastes arrives as one key per character; the
/// keys that arrive together go into the draft as one edit each run (the textarea lays out the
/// whole draft again after every edit, so 300,000 single edits took minutes). Nothing is lost
/// or reordered, and a key that is not plain text still does its own thing in between.
/// A terminal that does not bracket pastes sends a pasted page as keys, its line breaks as
/// Enter. Amid characters that follow at once they are the draft's line breaks: the page is
/// sent once, by the Enter pressed after it, not once per line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paste_typed_key_by_key_keeps_its_line_breaks_and_is_sent_once() {
    let (sim, _dir, common::ui::RunningLoop { keys, backend, quit, looped }) =
        start_room(&["fast/a@tokens=10@tps=0@ttft=0"], (100, 30), 4096).await;

    let pasted = "x\nsecond line\n\nafter a blank line";
    for c in pasted.chars() {
        match c {
            '\n' => key(&keys, KeyCode::Enter, KeyModifiers::NONE).await,
            c => key(&keys, KeyCode::Char(c), KeyModifiers::NONE).await,
        }
    }
    wait_for(&backend, "the end of the paste", 10, |s| s.contains("after a blank line")).await;
    // A person's Enter, well after the last key, sends the draft.
    tokio::time::sleep(Duration::from_millis(100)).await;
    key(&keys, KeyCode::Enter, KeyModifiers::NONE).await;
    wait_for(&backend, "the answer", 30, |s| s.contains("stop")).await;
    quit.send(()).unwrap();
    let app = tokio::time::timeout(Duration::from_secs(10), looped).await.unwrap().unwrap();
    sim.shutdown().await;
    let prompts: Vec<&str> = app.room.turns.iter().map(|t| t.prompt.as_str()).collect();
    assert_eq!(prompts, [pasted], "one prompt, the whole paste");
    assert!(app.chrome.input.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paste_typed_key_by_key_goes_into_the_draft_in_runs() {
    let (sim, _dir, common::ui::RunningLoop { keys, backend, quit, looped }) =
        start_room(&["fast/a@tokens=10@tps=0@ttft=0"], (100, 30), 4096).await;

    let words: String = (0..2_000).map(|i| format!("w{i} ")).collect();
    let pasted = format!("{words}END-OF-PASTE");
    type_text(&keys, &pasted[..10_000]).await;
    // A word-left in the middle of the run moves the cursor; the rest is typed there.
    key(&keys, KeyCode::Left, KeyModifiers::CONTROL).await;
    key(&keys, KeyCode::End, KeyModifiers::NONE).await;
    type_text(&keys, &pasted[10_000..]).await;
    wait_for(&backend, "the end of the paste", 30, |s| s.contains("END-OF-PASTE")).await;
    quit.send(()).unwrap();
    let app = tokio::time::timeout(Duration::from_secs(10), looped).await.unwrap().unwrap();
    sim.shutdown().await;
    assert_eq!(app.chrome.input.text(), pasted);
    let edits = app.chrome.input.revision();
    assert!(edits < 1_000, "{} characters went in as {edits} edits", pasted.chars().count());
}
