//! MCP tools in the real chatroom loop against the simulator: `/tools fake.*` starts the
//! server in the background, both panes' models call its tools, the safe one runs at once and
//! the other asks first; after `y` both answer from the results. A prompt sent while the server
//! is still starting waits for it (the panes say so); a server that cannot start is named in
//! the room with its error, and the panes answer without its tools.

mod common;

use std::path::Path;
use std::time::Duration;

use common::ui::{Keys, SharedBackend, key, type_text, wait_for};
use crossterm::event::{KeyCode, KeyModifiers};
use roundtable::core::router;
use roundtable::core::tools::mcp::ServerStatus;
use roundtable::core::tools::{McpServerConfig, ToolRegistry};
use roundtable::sim::SimServer;
use roundtable::ui::app::{App, AppInit};
use tokio::sync::oneshot;

fn fake_server(args: &[&str]) -> McpServerConfig {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mcp/fake_server.sh");
    McpServerConfig {
        name: "fake".into(),
        command: Some("sh".into()),
        args: std::iter::once(script.display().to_string()).chain(args.iter().map(|a| (*a).to_owned())).collect(),
        env: [("FAKE_VAR".to_owned(), "set".to_owned())].into(),
        cwd: None,
        url: None,
        headers: Default::default(),
        timeout_secs: 10.0,
        enabled: true,
        safe_tools: vec!["hello".into()],
    }
}

/// A chatroom with these MCP servers and models, run by the real event loop on a test screen.
struct Room {
    sim: SimServer,
    tools: ToolRegistry,
    keys: Keys,
    backend: SharedBackend,
    quit: oneshot::Sender<()>,
    looped: tokio::task::JoinHandle<App>,
}

impl Room {
    async fn open(servers: Vec<McpServerConfig>, models: &[&str]) -> Room {
        let sim = common::sim().await;
        let base = sim.base_url();
        let tools = ToolRegistry::builtins().with_mcp_servers(servers).unwrap();
        let mut core_config = common::core_config(&base);
        core_config.tools = tools.clone();
        let (core, core_events) = router::start(core_config).unwrap();
        let theme = roundtable::ui::theme::load("dark", None, true).unwrap();
        let app = App::new(AppInit {
            no_color: true,
            tools: tools.clone(),
            ..AppInit::new(
                models.iter().map(|m| m.to_string()).collect(),
                theme,
                common::config_for(&base).providers,
                std::env::temp_dir(),
            )
        });
        // Wide enough that the notices fit on a line of each pane.
        let common::ui::RunningLoop { keys, backend, quit, looped } =
            common::ui::spawn_loop(app, (240, 40), 256, core, core_events);
        Room { sim, tools, keys, backend, quit, looped }
    }

    async fn send(&self, text: &str) {
        type_text(&self.keys, text).await;
        key(&self.keys, KeyCode::Enter, KeyModifiers::NONE).await;
    }

    async fn wait_for(&self, what: &str, cond: impl Fn(&str) -> bool) -> String {
        wait_for(&self.backend, what, 20, cond).await
    }

    async fn close(self) {
        self.quit.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(10), self.looped).await.unwrap().unwrap();
        self.tools.shutdown().await;
        self.sim.shutdown().await;
    }
}

const MODELS: [&str; 2] = ["a@call=fake.hello@tokens=20@tps=0@ttft=0", "b@call=fake.env@tokens=20@tps=0@ttft=0"];

/// Both panes called the server's tools: the safe one ran, the other asked and ran after `y`.
async fn both_answer_from_the_tools(room: &Room) {
    let screen = room.wait_for("the confirmation", |s| s.contains("run it? y = once")).await;
    assert!(screen.contains("fake__env"), "{screen}");
    // Meanwhile the safe tool runs without asking.
    room.wait_for("the safe tool's answer", |s| s.contains("Hello, example!") && s.contains("✓ done")).await;
    key(&room.keys, KeyCode::Char('y'), KeyModifiers::NONE).await;
    let screen = room.wait_for("both answers", |s| s.matches("✓ done").count() >= 2 && s.contains("key hidden")).await;
    assert!(screen.contains("FAKE_VAR=set"), "{screen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_panes_call_an_mcp_server_s_tools_with_confirmation() {
    let room = Room::open(vec![fake_server(&["ok"])], &MODELS).await;
    room.send("/tools fake.*").await;
    room.wait_for("the tools enabled", |s| s.contains("Tools for this room: fake.*")).await;
    room.wait_for("the server up", |s| s.contains("MCP server fake is ready: 3 tools")).await;
    assert!(matches!(room.tools.mcp().status("fake"), Some(ServerStatus::Running(_))));
    room.send("Hi").await;
    both_answer_from_the_tools(&room).await;
    room.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_sent_while_the_server_starts_waits_for_its_tools() {
    let dir = tempfile::tempdir().unwrap();
    let gate = dir.path().join("up");
    let room = Room::open(vec![fake_server(&["gated", &gate.display().to_string()])], &MODELS).await;
    room.send("/tools fake.*").await;
    room.wait_for("the start announced", |s| s.contains("Tools for this room: fake.* · starting MCP server fake…"))
        .await;
    // The server cannot be up yet (it answers once the gate exists): the prompt waits for it.
    room.send("Hi").await;
    let screen = room
        .wait_for("both panes waiting", |s| s.matches("Starting MCP server fake… (this answer waits").count() == 2)
        .await;
    assert!(!screen.contains("✓ done"), "nothing answered before the server was up: {screen}");
    assert!(!matches!(room.tools.mcp().status("fake"), Some(ServerStatus::Running(_))));
    std::fs::write(&gate, "").unwrap();
    both_answer_from_the_tools(&room).await;
    room.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_fails_to_start_is_named_and_the_panes_go_on_without_it() {
    let broken = McpServerConfig { command: Some("/nonexistent/mcp-server".into()), ..fake_server(&["ok"]) };
    let room = Room::open(vec![broken], &MODELS).await;
    room.send("/tools fake.*").await;
    let screen = room.wait_for("the failure", |s| s.contains("MCP server fake did not start; the panes say why")).await;
    // The room's notice names the server, the error and what to do.
    for part in [
        "The MCP server fake could not be started (/nonexistent/mcp-server",
        "once that is fixed, /tools again retries",
    ] {
        assert!(screen.contains(part), "{part}: {screen}");
    }
    room.send("Hi").await;
    let screen = room.wait_for("both answers", |s| s.matches("✓ done").count() >= 2).await;
    assert_eq!(screen.matches("answer goes on without the tools of fake;").count(), 2, "{screen}");
    assert!(!screen.contains("run it?"), "no tool was offered: {screen}");
    room.close().await;
}
