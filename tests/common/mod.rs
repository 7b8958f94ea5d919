//! Shared test helpers: a simulator on loopback and a core configured to use it.
#![allow(dead_code, reason = "each test crate uses a different subset")]

pub mod hostile;
pub mod ui;

use std::time::Duration;

use roundtable::config::Config;
use roundtable::core::protocol::{
    ChatMessage, Command, CoreEvent, EventKind, ModelSettings, StreamEvent, TargetId, TargetRequest, TurnId,
    TurnRequest,
};
use roundtable::core::provider::ApiKey;
use roundtable::core::router::{self, CoreConfig, CoreHandle, RetryPolicy};
use roundtable::sim::{SimConfig, SimServer};
use tokio::sync::mpsc;

pub const TEST_KEY: &str = "sk-or-v1-test-0123456789abcdef";

pub async fn sim() -> SimServer {
    SimServer::start(SimConfig { generation_lag: Duration::from_millis(50), ..SimConfig::default() }, 0)
        .await
        .expect("simulator starts on loopback")
}

/// The default config with every provider pointed at `base_url` and a fixed test key.
pub fn config_for(base_url: &str) -> Config {
    let mut config = Config::defaults();
    config.override_base_url(base_url);
    for p in config.providers.providers.values_mut() {
        p.fixed_key = Some(ApiKey::new(TEST_KEY.into()));
    }
    config.providers.timeouts.idle = Duration::from_secs(2);
    config.providers.timeouts.first_byte = Duration::from_secs(5);
    config
}

pub fn core_config(base_url: &str) -> CoreConfig {
    let mut c = CoreConfig::new(config_for(base_url).providers);
    c.retry = RetryPolicy { max_retries: 0, max_wait: Duration::from_secs(1) };
    c
}

pub fn target(i: u32, model: &str, prompt: &str) -> TargetRequest {
    TargetRequest {
        target: TargetId(i),
        model: model.into(),
        messages: vec![ChatMessage::user(prompt)],
        settings: ModelSettings::default(),
        tools: vec![],
        tools_to_start: vec![],
    }
}

/// Submit one turn and collect every stream event until each target has its final event.
pub async fn run_turn(
    core: &CoreHandle,
    events: &mut mpsc::Receiver<CoreEvent>,
    targets: Vec<TargetRequest>,
) -> Vec<Vec<EventKind>> {
    let n = targets.len();
    core.send(Command::Submit(TurnRequest { turn: TurnId(1), targets, room: None, ..Default::default() }))
        .await
        .unwrap();
    collect(events, n).await
}

pub async fn collect(events: &mut mpsc::Receiver<CoreEvent>, n: usize) -> Vec<Vec<EventKind>> {
    let mut per: Vec<Vec<EventKind>> = vec![Vec::new(); n];
    let mut finals = 0;
    while finals < n {
        let ev = tokio::time::timeout(Duration::from_secs(30), events.recv())
            .await
            .expect("events keep coming")
            .expect("core alive");
        if let CoreEvent::Stream(StreamEvent { target, kind, .. }) = ev {
            if kind.is_final() {
                finals += 1;
            }
            per[target.0 as usize].push(kind);
        }
    }
    per
}

pub fn final_of(events: &[EventKind]) -> &EventKind {
    events.iter().find(|e| e.is_final()).expect("a final event")
}

pub fn start_core(cfg: CoreConfig) -> (CoreHandle, mpsc::Receiver<CoreEvent>) {
    router::start(cfg).expect("core starts")
}

/// `roundtable --base-url BASE <args>` (the real binary) with every directory inside `home`, the
/// test key, and no other provider's key from the environment.
pub fn binary(home: &std::path::Path, base_url: &str, args: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_roundtable"));
    cmd.arg("--base-url").arg(base_url).args(args);
    cmd.env("ROUNDTABLE_DATA_DIR", home.join("data"))
        .env("ROUNDTABLE_CONFIG_DIR", home.join("config"))
        .env("ROUNDTABLE_CACHE_DIR", home.join("cache"))
        .env("OPENROUTER_API_KEY", TEST_KEY)
        .env_remove("GEMINI_API_KEY")
        .env_remove("OPENAI_API_KEY")
        .kill_on_drop(true);
    cmd
}
