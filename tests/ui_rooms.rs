//! Flow tests of the room features in the real chatroom loop against the simulator: sending to
//! some panes (`@2 …`), a busy pane's queued prompt, editing a prompt into a branch and
//! switching back, and the room browser (list, search, open).

mod common;

use std::time::Duration;

use common::ui::{SharedBackend, key, type_text, wait_for};
use crossterm::event::{KeyCode, KeyModifiers};
use roundtable::core::router;
use roundtable::core::store::Store;
use roundtable::ui::app::{App, AppInit};
use tokio::sync::{mpsc, oneshot};

struct Running {
    keys: mpsc::Sender<std::io::Result<crossterm::event::Event>>,
    backend: SharedBackend,
    quit: oneshot::Sender<()>,
    looped: tokio::task::JoinHandle<App>,
}

async fn start(models: &[&str], store: Option<Store>, base_url: &str) -> Running {
    let config = common::config_for(base_url);
    let mut core_config = common::core_config(base_url);
    core_config.store = store.clone();
    let (core, core_events) = router::start(core_config).unwrap();
    let theme = roundtable::ui::theme::load("dark", None, true).unwrap();
    let app = App::new(AppInit {
        no_color: true,
        store,
        ..AppInit::new(
            models.iter().map(|m| m.to_string()).collect(),
            theme,
            config.providers.clone(),
            std::env::temp_dir(),
        )
    });
    let common::ui::RunningLoop { keys, backend, quit, looped } =
        common::ui::spawn_loop(app, (160, 40), 256, core, core_events);
    Running { keys, backend, quit, looped }
}

async fn send(r: &Running, text: &str) {
    type_text(&r.keys, text).await;
    key(&r.keys, KeyCode::Enter, KeyModifiers::NONE).await;
}

async fn stop(r: Running) -> App {
    r.quit.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), r.looped).await.unwrap().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_to_some_panes_and_a_queued_prompt_for_a_busy_one() {
    let sim = common::sim().await;
    let r = start(&["fast/a@tokens=20@tps=0@ttft=0", "slow/b@tokens=200@tps=50@ttft=0"], None, &sim.base_url()).await;
    send(&r, "@1 only the first pane").await;
    wait_for(&r.backend, "pane 1 answered", 20, |s| s.contains("✓ done")).await;
    let app_screen = r.backend.screen();
    assert_eq!(app_screen.matches("only the first pane").count(), 1, "pane 2 never got it:\n{app_screen}");

    send(&r, "@2 a long one").await;
    // In the panes' title row (the sidebar's throughput heading says tok/s all along).
    wait_for(&r.backend, "pane 2 streaming", 20, |s| {
        s.lines().next().is_some_and(|titles| titles.contains("tok/s") || titles.contains("streaming"))
    })
    .await;
    send(&r, "now both").await;
    let screen = wait_for(&r.backend, "the queued prompt", 20, |s| s.contains("next prompt queued")).await;
    assert_eq!(screen.matches("now both").count(), 2, "both panes show the prompt:\n{screen}");
    // Pane 1 answered at once; pane 2 answers when its long answer ends.
    wait_for(&r.backend, "pane 2 answers the queued prompt", 40, |s| {
        !s.contains("next prompt queued") && s.matches("✓ done").count() >= 2
    })
    .await;
    let app = stop(r).await;
    let b = app.room.panes[1].target;
    let thread = app.room.context_for(b);
    let prompts: Vec<&str> = thread
        .iter()
        .filter(|m| m.role == roundtable::core::protocol::Role::User)
        .map(|m| m.content.as_str())
        .collect();
    assert_eq!(prompts, ["a long one", "now both"], "pane 2's model never saw the prompt for pane 1");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_prompt_is_a_branch_and_the_browser_reopens_a_room() {
    let sim = common::sim().await;
    let dir = tempfile::tempdir().unwrap();
    let path = roundtable::core::store::db_path(dir.path());
    let store = Store::open(&path).unwrap();
    let r = start(&["fast/a@tokens=20@tps=0@ttft=0"], Some(store.clone()), &sim.base_url()).await;
    send(&r, "the zebra question").await;
    wait_for(&r.backend, "first answer", 20, |s| s.contains("✓ done")).await;
    send(&r, "second question").await;
    wait_for(&r.backend, "second answer", 20, |s| s.matches("· stop").count() >= 2).await;

    send(&r, "/edit 2").await;
    wait_for(&r.backend, "editing", 10, |s| s.contains("EDITING") && s.contains("Editing prompt 2")).await;
    type_text(&r.keys, " (edited)").await;
    key(&r.keys, KeyCode::Enter, KeyModifiers::NONE).await;
    let screen = wait_for(&r.backend, "the new branch", 20, |s| s.contains("BRANCH 2/2")).await;
    assert!(screen.contains("second question (edited)"));
    wait_for(&r.backend, "the branch's answer", 20, |s| s.matches("· stop").count() >= 2).await;
    send(&r, "/branch prev").await;
    let screen = wait_for(&r.backend, "back on branch 1", 10, |s| s.contains("BRANCH 1/2")).await;
    assert!(!screen.contains("(edited)"), "the earlier branch shows its own prompt:\n{screen}");

    // A second room, then the browser: search the first one and open it.
    send(&r, "/new").await;
    send(&r, "an unrelated prompt").await;
    wait_for(&r.backend, "second room answered", 20, |s| s.contains("✓ done") && !s.contains("zebra")).await;
    key(&r.keys, KeyCode::Char('o'), KeyModifiers::CONTROL).await;
    let screen = wait_for(&r.backend, "the room list", 10, |s| s.matches("turn(s)").count() >= 2).await;
    assert!(screen.contains("the zebra question"), "both rooms are listed:\n{screen}");
    type_text(&r.keys, "zebra").await;
    wait_for(&r.backend, "the search hit", 10, |s| s.contains("[zebra]")).await;
    key(&r.keys, KeyCode::Enter, KeyModifiers::NONE).await;
    let screen = wait_for(&r.backend, "the first room reopened", 10, |s| s.contains("Resumed room")).await;
    assert!(screen.contains("the zebra question"), "{screen}");
    let app = stop(r).await;
    assert_eq!(app.room.title, "the zebra question");
    assert_eq!(app.room.branch_tips().len(), 2, "the reopened room has both branches");
    sim.shutdown().await;
}

fn bare_app(models: &[&str]) -> App {
    let config = common::config_for("http://127.0.0.1:9/api/v1");
    let theme = roundtable::ui::theme::load("dark", None, true).unwrap();
    App::new(AppInit {
        no_color: true,
        estimator: Some(roundtable::core::catalog::CatalogEstimator::new(
            roundtable::core::catalog::Catalog::snapshot(),
            config.prices.clone(),
            &config.providers,
        )),
        ..AppInit::new(
            models.iter().map(|m| m.to_string()).collect(),
            theme,
            config.providers.clone(),
            std::env::temp_dir(),
        )
    })
}

fn status(app: &App) -> String {
    app.chrome.status.as_ref().map(|(_, t)| t.clone()).unwrap_or_default()
}

#[test]
fn a_mistyped_model_is_questioned_and_a_repeat_adds_it() {
    let mut app = bare_app(&["openai/gpt-4o-mini"]);
    app.run_command_line("/add openai/gpt-4o-mni");
    assert_eq!(app.view.panes.len(), 1, "not added on the first try");
    assert!(status(&app).contains("Did you mean openai/gpt-4o-mini"), "{}", status(&app));
    app.run_command_line("/add openai/gpt-4o-mni");
    assert_eq!(app.view.panes.len(), 2, "the same /add again adds it (catalogs go stale)");
    let started = bare_app(&["openai/gpt-4o-mni"]);
    assert!(status(&started).contains("Not in the model catalog"), "{}", status(&started));
}

#[test]
fn prompt_history_skips_commands_and_settings_are_checked() {
    let mut app = bare_app(&["openai/gpt-4o-mini", "openai/gpt-4o"]);
    app.chrome.input.set_text("a real prompt");
    app.submit_draft();
    app.chrome.input.set_text("/help");
    app.submit_draft();
    app.chrome.overlay = None;
    app.chrome.input.history_prev();
    assert_eq!(app.chrome.input.text(), "a real prompt", "Ctrl+Up walks prompts, not commands");
    app.chrome.input.set_text("");

    app.run_command_line("/max 7 100");
    assert!(status(&app).contains("no pane 7"), "{}", status(&app));
    app.run_command_line("/temp 9");
    assert!(status(&app).contains("out of range"), "{}", status(&app));
    app.run_command_line("/max 2 0");
    assert!(status(&app).contains("at least 1"), "{}", status(&app));
    assert!(app.room.panes.iter().all(|p| p.settings == Default::default()), "nothing changed on error");
    app.run_command_line("/temp 2 0.4");
    assert_eq!(app.room.panes[1].settings.temperature, Some(0.4));
    assert_eq!(app.room.panes[0].settings.temperature, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blind_round_names_no_model_until_the_vote() {
    let sim = common::sim().await;
    let dir = tempfile::tempdir().unwrap();
    let path = roundtable::core::store::db_path(dir.path());
    let store = Store::open(&path).unwrap();
    let models = ["openai/gpt-4o-mini", "google/gemini-2.5-flash", "meta-llama/llama-3.3-70b-instruct:free"];
    let r = start(&models, Some(store.clone()), &sim.base_url()).await;
    send(&r, "/blind").await;
    wait_for(&r.backend, "the blind labels", 10, |s| s.contains("Model A") && s.contains("Model C")).await;
    send(&r, "/tools calculator").await;
    send(&r, "What is 17*23?").await;
    // Every frame until the vote: no model id, no vendor, no model-specific figure.
    let forbidden = ["gpt-4o", "gemini", "llama", "openai", "google", "meta-", "OpenAI", "Google"];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut frames = 0;
    loop {
        let screen = r.backend.screen();
        frames += 1;
        for word in forbidden {
            assert!(!screen.contains(word), "“{word}” is on screen during a blind round:\n{screen}");
        }
        if screen.matches("✓ done").count() >= 3 && screen.contains("Blind round: vote") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the blind round never finished:\n{screen}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(frames > 3, "frames were checked while streaming");
    send(&r, "/vote B").await;
    let screen = wait_for(&r.backend, "the reveal", 10, |s| s.contains("Revealed:")).await;
    assert!(screen.contains("gpt-4o-mini") && screen.contains("gemini-2.5-flash"), "names are back:\n{screen}");
    let app = stop(r).await;
    assert_eq!(app.room.votes.len(), 1);
    assert!(app.room.votes[0].blind);
    store.flush().unwrap();
    let votes = roundtable::core::store::read_votes(&path, &Default::default()).unwrap();
    assert_eq!(votes.len(), 1, "the vote is stored for the leaderboard");
    sim.shutdown().await;
}

fn finish(app: &mut App, turn: u64, target: u32, text: &str) {
    use roundtable::core::protocol::{
        CoreEvent, EventKind, FinishReason, StreamEvent, StreamSummary, TargetId, TurnId,
    };
    let ev = |kind| CoreEvent::Stream(StreamEvent { turn: TurnId(turn), target: TargetId(target), kind });
    app.on_core(ev(EventKind::TextDelta(text.to_string())));
    let summary = Box::new(StreamSummary { text: text.to_string(), ..StreamSummary::default() });
    app.on_core(ev(EventKind::Finished { reason: Some(FinishReason::Stop), summary }));
}

#[test]
fn a_retried_answer_is_folded_and_synchronised_scrolling_lines_up_turns() {
    use roundtable::ui::pane::Entry;
    let mut app = bare_app(&["openai/gpt-4o-mini", "openai/gpt-4o"]);
    let long: String = (0..80).map(|i| format!("line {i} of a long answer\n\n")).collect();
    app.start_turn("q1");
    finish(&mut app, 1, 0, &long);
    finish(&mut app, 1, 1, "short");
    app.start_turn("q2");
    finish(&mut app, 2, 0, "first try at q2");
    finish(&mut app, 2, 1, &long);
    app.retry(0);
    let medium: String = (0..30).map(|i| format!("second try at q2, line {i}\n\n")).collect();
    finish(&mut app, 2, 0, &medium);
    let answers =
        |app: &App| app.view.panes[0].entries.iter().filter(|e| matches!(e, Entry::Answer(a) if a.turn.0 == 2)).count();
    assert_eq!(answers(&app), 1, "the replaced answer is folded");
    assert!(app.view.panes[0].entries.iter().any(|e| matches!(e, Entry::Notice(n) if n.contains("first try at q2"))));
    app.run_command_line("/attempts");
    assert_eq!(answers(&app), 2, "and reachable");

    roundtable::ui::draw::prepare(&mut app, ratatui::layout::Rect::new(0, 0, 120, 30));
    app.chrome.sync_scroll = true;
    app.chrome.focus = 1;
    for _ in 0..3 {
        app.act(roundtable::ui::keymap::Action::PageUp);
        roundtable::ui::draw::prepare(&mut app, ratatui::layout::Rect::new(0, 0, 120, 30));
    }
    let top_turn = |p: &roundtable::ui::pane::Pane| p.turn_at(p.scroll.top).map(|t| t.0);
    let (a, b) = (&app.view.panes[0], &app.view.panes[1]);
    assert_ne!(a.scroll.top, b.scroll.top, "the panes differ in length, so line offsets differ");
    assert_eq!(top_turn(a), top_turn(b), "but both show the same turn at the top");
}
