//! MCP tools in the real chatroom loop against the simulator: `/tools fake.*` starts the
//! server in the background, both panes' models call its tools, the safe one runs at once and
//! the other asks first; after `y` both answer from the results.

mod common;

use std::path::Path;
use std::time::Duration;

use common::ui::{RecordingHost, SharedBackend, key, type_text, wait_for};
use crossterm::event::{KeyCode, KeyModifiers};
use ratatui::Terminal;
use roundtable::core::router;
use roundtable::core::tools::mcp::ServerStatus;
use roundtable::core::tools::{McpServerConfig, ToolRegistry};
use roundtable::ui::app::{App, AppInit};
use roundtable::ui::event_loop::{self, LoopIo};
use tokio::sync::{mpsc, oneshot};

fn fake_server() -> McpServerConfig {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mcp/fake_server.sh");
    McpServerConfig {
        name: "fake".into(),
        command: Some("sh".into()),
        args: vec![script.display().to_string(), "ok".into()],
        env: [("FAKE_VAR".to_owned(), "set".to_owned())].into(),
        cwd: None,
        url: None,
        headers: Default::default(),
        timeout_secs: 10.0,
        enabled: true,
        safe_tools: vec!["hello".into()],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_panes_call_an_mcp_server_s_tools_with_confirmation() {
    let sim = common::sim().await;
    let base = sim.base_url();
    let tools = ToolRegistry::builtins().with_mcp_servers(vec![fake_server()]).unwrap();
    let mut core_config = common::core_config(&base);
    core_config.tools = tools.clone();
    let (core, core_events) = router::start(core_config).unwrap();
    let theme = roundtable::ui::theme::load("dark", None, true).unwrap();
    let models = ["a@call=fake.hello@tokens=20@tps=0@ttft=0", "b@call=fake.env@tokens=20@tps=0@ttft=0"];
    let mut app = App::new(AppInit {
        no_color: true,
        tools: tools.clone(),
        ..AppInit::new(
            models.iter().map(|m| m.to_string()).collect(),
            theme,
            common::config_for(&base).providers,
            std::env::temp_dir(),
        )
    });
    let backend = SharedBackend::new(160, 40);
    let mut terminal = Terminal::new(backend.clone()).unwrap();
    let (keys, events) = mpsc::channel(256);
    let (quit, quit_rx) = oneshot::channel::<()>();
    let looped = tokio::spawn(async move {
        let mut host = RecordingHost::default();
        let io = LoopIo { events, core_events, core, max_fps: 60, record_frame_times: false };
        event_loop::run(&mut terminal, &mut app, io, &mut host, async {
            let _ = quit_rx.await;
        })
        .await
        .unwrap();
        app
    });
    let send = |text: &'static str| {
        let keys = keys.clone();
        async move {
            type_text(&keys, text).await;
            key(&keys, KeyCode::Enter, KeyModifiers::NONE).await;
        }
    };

    send("/tools fake.*").await;
    wait_for(&backend, "the tools enabled", 10, |s| s.contains("Tools for this room: fake.*")).await;
    // The server starts in the background; the prompt goes once its tools are known.
    for _ in 0..100 {
        if matches!(tools.mcp().status("fake"), Some(ServerStatus::Running(_))) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(matches!(tools.mcp().status("fake"), Some(ServerStatus::Running(_))), "{:?}", tools.mcp().status("fake"));

    send("Hi").await;
    let screen = wait_for(&backend, "the confirmation", 20, |s| s.contains("run it? y = once")).await;
    assert!(screen.contains("fake__env"), "{screen}");
    // Meanwhile the safe tool runs without asking.
    wait_for(&backend, "the safe tool's answer", 20, |s| s.contains("Hello, example!") && s.contains("✓ done")).await;
    key(&keys, KeyCode::Char('y'), KeyModifiers::NONE).await;
    let screen =
        wait_for(&backend, "both answers", 20, |s| s.matches("✓ done").count() >= 2 && s.contains("key hidden")).await;
    assert!(screen.contains("FAKE_VAR=set"), "{screen}");

    quit.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), looped).await.unwrap().unwrap();
    tools.shutdown().await;
    sim.shutdown().await;
}
