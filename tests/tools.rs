//! Tool calling across a room, against the simulator: tools only for models that can use them,
//! the loop per pane (parallel calls, chains, Gemini's whole calls with thought signatures),
//! approval of unsafe tools, every failure fed back to the model as an error result, the step
//! limit, and the steps in the ledger and the room.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use roundtable::core::catalog::{Catalog, CatalogEstimator, PriceTable};
use roundtable::core::protocol::{
    Command, CoreEvent, EventKind, FinishReason, StreamEvent, TargetRequest, ToolDecision, ToolPolicy, TurnId,
    TurnRequest,
};
use roundtable::core::room::{Room, RoomSetup};
use roundtable::core::router::{CoreConfig, CoreHandle};
use roundtable::core::store::{self, GroupBy, Store};
use roundtable::core::tools::{ToolRegistry, UserToolConfig};
use roundtable::sim::{SimConfig, SimServer};
use tokio::sync::mpsc::Receiver;

const PROMPT: &str = "What time is it in Tokyo, and what is 17*23?";

async fn fast_sim() -> SimServer {
    let cfg = SimConfig {
        default_tokens: Some(20),
        default_tps: Some(0.0),
        default_ttft_ms: Some(0),
        generation_lag: Duration::from_millis(50),
        ..SimConfig::default()
    };
    SimServer::start(cfg, 0).await.expect("simulator")
}

/// The core with the snapshot catalog answering "does this model take tools?".
fn with_catalog(mut cfg: CoreConfig) -> CoreConfig {
    let providers = cfg.providers.clone();
    cfg.capabilities = Some(Arc::new(CatalogEstimator::new(Catalog::snapshot(), PriceTable::default(), &providers)));
    cfg
}

fn tooled(i: u32, model: &str, prompt: &str, tools: &[&str], registry: &ToolRegistry) -> TargetRequest {
    let mut t = target(i, model, prompt);
    t.tools = registry.specs(tools).expect("known tools");
    t
}

async fn submit(core: &CoreHandle, turn: u64, targets: Vec<TargetRequest>, policy: ToolPolicy) {
    let request = TurnRequest { turn: TurnId(turn), targets, room: None, tool_policy: policy };
    core.send(Command::Submit(request)).await.unwrap();
}

fn tool_calls(evs: &[EventKind]) -> Vec<(String, String, bool)> {
    evs.iter()
        .filter_map(|e| match e {
            EventKind::ToolCall { call, needs_confirmation } => {
                Some((call.name.clone(), call.arguments.clone(), *needs_confirmation))
            }
            _ => None,
        })
        .collect()
}

fn tool_results(evs: &[EventKind]) -> Vec<(String, String, bool)> {
    evs.iter()
        .filter_map(|e| match e {
            EventKind::ToolResult { name, output, is_error, .. } => Some((name.clone(), output.clone(), *is_error)),
            _ => None,
        })
        .collect()
}

fn steps(evs: &[EventKind]) -> usize {
    evs.iter().filter(|e| matches!(e, EventKind::StepFinished { .. })).count()
}

/// The final event is the last one, and there is exactly one.
fn one_final_last(evs: &[EventKind]) -> &EventKind {
    assert_eq!(evs.iter().filter(|e| e.is_final()).count(), 1, "{evs:?}");
    let last = evs.last().expect("events");
    assert!(last.is_final(), "{evs:?}");
    last
}

fn final_text(evs: &[EventKind]) -> String {
    match one_final_last(evs) {
        EventKind::Finished { summary, .. } => summary.text.clone(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_room_of_three_where_one_model_cannot_use_tools() {
    let sim = fast_sim().await;
    let (core, mut events) = start_core(with_catalog(core_config(&sim.base_url())));
    let registry = ToolRegistry::builtins();
    let tools = ["calculator", "current_time"];
    let targets = vec![
        tooled(0, "openai/gpt-4o-mini", PROMPT, &tools, &registry),
        // Google's own endpoint: whole calls without `index`, thought signatures to echo back.
        tooled(1, "gemini:gemini-2.5-flash@tools-gemini", PROMPT, &tools, &registry),
        tooled(2, "google/gemma-3-27b-it:free", PROMPT, &tools, &registry),
    ];
    submit(&core, 1, targets, ToolPolicy::default()).await;
    let per = collect(&mut events, 3).await;

    for evs in &per[..2] {
        assert_eq!(steps(evs), 1, "{evs:?}");
        let calls = tool_calls(evs);
        let names: Vec<&str> = calls.iter().map(|c| c.0.as_str()).collect();
        assert_eq!(names, ["calculator", "current_time"]);
        assert_eq!(calls[0].1, r#"{"expression":"17*23"}"#);
        assert_eq!(calls[1].1, r#"{"timezone":"Asia/Tokyo"}"#);
        assert!(calls.iter().all(|c| !c.2), "built-ins never ask");
        let results = tool_results(evs);
        assert_eq!(results[0], ("calculator".into(), "391".into(), false));
        assert!(results[1].1.contains("JST (UTC+09:00)"), "{results:?}");
        // The loop went on: a second request answered from the results.
        assert_eq!(evs.iter().filter(|e| matches!(e, EventKind::Started { .. })).count(), 2);
        let text = final_text(evs);
        assert!(text.contains("17*23 = **391**") && text.contains("in Tokyo"), "{text}");
    }
    let step =
        per[0].iter().find_map(|e| if let EventKind::StepFinished { summary } = e { Some(summary) } else { None });
    let step = step.unwrap();
    assert_eq!(step.tool_calls.len(), 2);
    assert!(step.usage.is_some() && step.cost.as_ref().is_some_and(|c| c.usd.is_some()), "the step is priced");
    // Gemini's calls carried signatures, and the follow-up echoed them (else a 400).
    let gemini_calls: Vec<_> = per[1]
        .iter()
        .filter_map(|e| if let EventKind::ToolCall { call, .. } = e { Some(call) } else { None })
        .collect();
    assert!(gemini_calls.iter().all(|c| c.id.starts_with("function-call-") && c.thought_signature.is_some()));

    let gemma = &per[2];
    let EventKind::ToolsUnsupported { message } = &gemma[0] else { panic!("{gemma:?}") };
    assert!(message.contains("google/gemma-3-27b-it:free cannot use tools"), "{message}");
    assert!(tool_calls(gemma).is_empty());
    assert!(!final_text(gemma).is_empty(), "answers without tools");
    assert_eq!(sim.stats().status_429 + sim.stats().error_responses, 0, "{:?}", sim.stats());
    sim.shutdown().await;
}

#[tokio::test]
async fn openrouter_404_for_tool_use_is_the_same_clear_message() {
    let sim = fast_sim().await;
    // No catalog: the tools go out and the simulator answers like OpenRouter.
    let (core, mut events) = start_core(core_config(&sim.base_url()));
    let registry = ToolRegistry::builtins();
    let targets = vec![tooled(0, "google/gemma-3-27b-it:free", PROMPT, &["calculator"], &registry)];
    submit(&core, 1, targets, ToolPolicy::default()).await;
    let per = collect(&mut events, 1).await;
    let notice = per[0].iter().find_map(|e| match e {
        EventKind::ToolsUnsupported { message } => Some(message.clone()),
        _ => None,
    });
    let notice = notice.expect("a notice");
    assert!(notice.contains("no endpoint that supports tool use"), "{notice}");
    assert!(!final_text(&per[0]).is_empty());
    assert_eq!((sim.stats().chat_requests, sim.stats().error_responses), (2, 1));
    sim.shutdown().await;
}

#[tokio::test]
async fn scripted_models_chain_recover_from_bad_arguments_and_unknown_tools() {
    let sim = fast_sim().await;
    let (core, mut events) = start_core(core_config(&sim.base_url()));
    let registry = ToolRegistry::builtins();
    let tools = ["calculator", "current_time"];
    let targets = vec![
        tooled(0, "a@tools", PROMPT, &tools, &registry),
        tooled(1, "b@tools-parallel", PROMPT, &tools, &registry),
        tooled(2, "c@tools-chain", PROMPT, &tools, &registry),
        tooled(3, "d@tools-bad-args", PROMPT, &tools, &registry),
        tooled(4, "e@tools-unknown", PROMPT, &tools, &registry),
    ];
    submit(&core, 1, targets, ToolPolicy::default()).await;
    let per = collect(&mut events, 5).await;

    assert_eq!((steps(&per[0]), tool_calls(&per[0]).len()), (1, 1));
    assert_eq!((steps(&per[1]), tool_calls(&per[1]).len()), (1, 2));
    // Chain: call → result → call → result → answer.
    assert_eq!((steps(&per[2]), tool_calls(&per[2]).len()), (2, 2));
    let chain = final_text(&per[2]);
    assert!(chain.contains("391") && chain.contains("Tokyo"), "{chain}");

    // Malformed arguments: an error result, then the model calls again correctly.
    let results = tool_results(&per[3]);
    assert_eq!(results.len(), 2, "{results:?}");
    assert!(results[0].2 && results[0].1.starts_with("Error: The arguments are not valid JSON"), "{results:?}");
    assert_eq!(results[1], ("calculator".into(), "391".into(), false));
    assert!(final_text(&per[3]).contains("391"));

    // A tool that does not exist: an error result naming the real ones; the loop ends.
    let results = tool_results(&per[4]);
    assert_eq!(results.len(), 1);
    assert!(results[0].2 && results[0].1.contains("no tool named \"get_stock_price\""), "{results:?}");
    assert!(results[0].1.contains("calculator, current_time"));
    assert!(final_text(&per[4]).contains("None of the tools worked"));
    sim.shutdown().await;
}

#[tokio::test]
async fn the_step_limit_ends_a_model_that_keeps_calling_tools() {
    let sim = fast_sim().await;
    let (core, mut events) = start_core(core_config(&sim.base_url()));
    let registry = ToolRegistry::builtins();
    let targets = vec![tooled(0, "loop@tools-loop", "what is 2+2?", &["calculator"], &registry)];
    submit(&core, 1, targets, ToolPolicy { auto_approve: false, step_limit: Some(3) }).await;
    let per = collect(&mut events, 1).await;
    assert_eq!(steps(&per[0]), 3);
    // The fourth request told the model to answer in text, and it did.
    let EventKind::Finished { reason, summary } = one_final_last(&per[0]) else { panic!() };
    assert_eq!(reason, &Some(FinishReason::Stop));
    assert!(summary.tool_calls.is_empty() && !summary.text.is_empty());
    assert_eq!(sim.stats().chat_requests, 4);
    sim.shutdown().await;
}

fn user_tool(name: &str, command: &[&str], safe: bool, timeout_secs: f64) -> UserToolConfig {
    UserToolConfig {
        name: name.into(),
        description: format!("test tool {name}"),
        parameters: serde_json::json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
        command: command.iter().map(|s| s.to_string()).collect(),
        timeout_secs,
        cwd: None,
        safe,
    }
}

/// Events of one target until its final one, answering `ToolCall`s that need confirmation with
/// `decide` (or cancelling the target when it returns `None`).
async fn run_with_decisions(
    core: &CoreHandle,
    events: &mut Receiver<CoreEvent>,
    turn: u64,
    mut decide: impl FnMut(&str) -> Option<ToolDecision>,
) -> Vec<EventKind> {
    let mut out = Vec::new();
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(30), events.recv()).await.expect("events").expect("core");
        let CoreEvent::Stream(StreamEvent { turn: t, target, kind }) = ev else { continue };
        assert_eq!(t, TurnId(turn));
        if let EventKind::ToolCall { call, needs_confirmation: true } = &kind {
            let command = match decide(&call.name) {
                Some(decision) => Command::ToolDecision { turn: t, target, call_id: call.id.clone(), decision },
                None => Command::Cancel { turn: t, target: Some(target) },
            };
            core.send(command).await.unwrap();
        }
        let done = kind.is_final();
        out.push(kind);
        if done {
            return out;
        }
    }
}

#[tokio::test]
async fn unsafe_tools_wait_for_a_decision_and_a_denial_is_told_to_the_model() {
    let sim = fast_sim().await;
    let mut cfg = core_config(&sim.base_url());
    // `cat` answers with the arguments it got on stdin.
    cfg.tools = ToolRegistry::with_user_tools(&[user_tool("weather", &["cat"], false, 10.0)]).unwrap();
    let registry = cfg.tools.clone();
    let (core, mut events) = start_core(cfg);
    let ask = || tooled(0, "w@tools", "What is the weather in Oslo?", &["weather"], &registry);

    submit(&core, 1, vec![ask()], ToolPolicy::default()).await;
    let evs = run_with_decisions(&core, &mut events, 1, |_| Some(ToolDecision::Deny)).await;
    assert!(tool_calls(&evs)[0].2, "an unsafe tool asks first");
    let results = tool_results(&evs);
    assert!(results[0].2 && results[0].1.contains("The user declined"), "{results:?}");
    assert!(final_text(&evs).contains("declined"), "the model was told");

    submit(&core, 2, vec![ask()], ToolPolicy::default()).await;
    let evs = run_with_decisions(&core, &mut events, 2, |_| Some(ToolDecision::RunOnce)).await;
    assert_eq!(tool_results(&evs)[0], ("weather".into(), r#"{"city":"Oslo"}"#.into(), false));

    // Cancelling while the call waits ends the target with `Cancelled` and nothing runs.
    submit(&core, 3, vec![ask()], ToolPolicy::default()).await;
    let evs = run_with_decisions(&core, &mut events, 3, |_| None).await;
    assert!(matches!(one_final_last(&evs), EventKind::Cancelled { summary } if summary.usage.is_none()), "{evs:?}");
    assert!(tool_results(&evs).is_empty());

    // "Always" is remembered for the tool for the rest of the process.
    submit(&core, 4, vec![ask()], ToolPolicy::default()).await;
    let evs = run_with_decisions(&core, &mut events, 4, |_| Some(ToolDecision::AlwaysForTool)).await;
    assert!(!tool_results(&evs)[0].2);
    submit(&core, 5, vec![ask()], ToolPolicy::default()).await;
    let evs = run_with_decisions(&core, &mut events, 5, |_| panic!("no confirmation expected")).await;
    assert!(!tool_calls(&evs)[0].2);
    assert!(!tool_results(&evs)[0].2);
    sim.shutdown().await;
}

#[tokio::test]
async fn auto_approve_runs_unsafe_tools_and_command_failures_come_back_as_errors() {
    let sim = fast_sim().await;
    let mut cfg = core_config(&sim.base_url());
    cfg.tools = ToolRegistry::with_user_tools(&[
        user_tool("broken_weather", &["sh", "-c", "echo 'no API for that city' >&2; exit 3"], false, 10.0),
        user_tool("slow_weather", &["sh", "-c", "sleep 30"], false, 0.5),
    ])
    .unwrap();
    let registry = cfg.tools.clone();
    let (core, mut events) = start_core(cfg);
    let targets = vec![
        tooled(0, "a@tools", "weather in Oslo?", &["broken_weather"], &registry),
        tooled(1, "b@tools", "weather in Oslo?", &["slow_weather"], &registry),
    ];
    submit(&core, 1, targets, ToolPolicy { auto_approve: true, step_limit: None }).await;
    let per = collect(&mut events, 2).await;
    assert!(!tool_calls(&per[0])[0].2, "auto-approved: no confirmation");
    let broken = &tool_results(&per[0])[0];
    assert!(broken.2 && broken.1.contains("exit status 3") && broken.1.contains("no API for that city"), "{broken:?}");
    let slow = &tool_results(&per[1])[0];
    assert!(slow.2 && slow.1.contains("did not finish within 0.5 s"), "{slow:?}");
    for evs in &per {
        assert!(final_text(evs).contains("None of the tools worked"));
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn every_step_is_a_ledger_row_and_the_room_holds_calls_and_results() {
    let sim = fast_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let path = store::db_path(dir.path());
    let st = Store::open(&path).unwrap();
    let mut cfg = core_config(&sim.base_url());
    cfg.store = Some(st.clone());
    let (core, mut events) = start_core(cfg);
    let model = "openai/gpt-4o-mini";
    // The room of the core records the conversation, as both faces use it.
    let setup = RoomSetup { store: Some(st.clone()), tools: ToolRegistry::builtins(), ..RoomSetup::default() };
    let mut room = Room::new(setup);
    let target = room.add_pane(model, Default::default());
    room.set_tools(target, vec!["calculator".into(), "current_time".into()]).unwrap();
    for command in room.send(PROMPT, None).unwrap() {
        core.send(command).await.unwrap();
    }
    let per = collect(&mut events, 1).await;
    for kind in &per[0] {
        room.on_event(&CoreEvent::Stream(roundtable::core::protocol::StreamEvent {
            turn: TurnId(1),
            target,
            kind: kind.clone(),
        }));
    }
    let id = room.id.expect("the room was stored");
    let stored = tokio::task::spawn_blocking(move || {
        st.flush().unwrap();
        roundtable::core::room::load(&path, Some(id), false).unwrap().expect("room")
    })
    .await
    .unwrap();
    let reopened = roundtable::core::room::open_stored(RoomSetup::default(), stored);
    let answer = reopened.answer_for(TurnId(1), target).expect("the answer");
    let roles: Vec<String> = answer.messages.iter().map(|m| format!("{:?}", m.role)).collect();
    assert_eq!(roles, ["Assistant", "Tool", "Tool", "Assistant"]);
    let msgs = &answer.messages;
    assert_eq!(msgs[0].tool_calls.len(), 2);
    assert_eq!(msgs[1].tool_call_id.as_deref(), Some(msgs[0].tool_calls[0].id.as_str()));
    assert_eq!(msgs[1].content, "391");
    assert!(msgs[3].content.contains("391"));
    assert_eq!(answer.tools.len(), 2, "the calls are shown with their results");
    assert!(answer.tools.iter().all(|t| t.result.is_some()));
    // The next turn's thread carries the whole loop, as the model saw it.
    let thread: Vec<String> = reopened.context_for(target).iter().map(|m| format!("{:?}", m.role)).collect();
    assert_eq!(thread, ["User", "Assistant", "Tool", "Tool", "Assistant"]);

    let db = store::db_path(dir.path());
    let rows = store::usage_summary(&db, 0, GroupBy::Model).unwrap();
    let row = rows.iter().find(|r| r.group == model).unwrap();
    assert_eq!(row.requests, 2, "one ledger row per step: {row:?}");
    assert_eq!(row.unknown_cost, 0);
    // The ledger's total is the step's cost plus the final's.
    let (EventKind::StepFinished { summary: s1 }, EventKind::Finished { summary: s2, .. }) =
        (per[0].iter().find(|e| matches!(e, EventKind::StepFinished { .. })).unwrap(), one_final_last(&per[0]))
    else {
        panic!()
    };
    let sum = s1.cost.as_ref().unwrap().usd.unwrap() + s2.cost.as_ref().unwrap().usd.unwrap();
    assert_eq!(row.cost_usd.normalize(), sum.normalize());
    drop(dir);
    sim.shutdown().await;
}

#[tokio::test]
async fn cancelling_a_running_tool_stops_it_and_ends_the_target() {
    let sim = fast_sim().await;
    let mut cfg = core_config(&sim.base_url());
    cfg.tools = ToolRegistry::with_user_tools(&[user_tool("slow", &["sleep", "60"], true, 120.0)]).unwrap();
    let registry = cfg.tools.clone();
    let (core, mut events) = start_core(cfg);
    let targets = vec![tooled(0, "s@tools", "run slow for Oslo", &["slow"], &registry)];
    submit(&core, 9, targets, ToolPolicy::default()).await;
    let mut seen = Vec::new();
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(30), events.recv()).await.expect("events").expect("core");
        let CoreEvent::Stream(StreamEvent { kind, .. }) = ev else { continue };
        if matches!(kind, EventKind::ToolCall { .. }) {
            core.send(Command::Cancel { turn: TurnId(9), target: None }).await.unwrap();
        }
        let done = kind.is_final();
        seen.push(kind);
        if done {
            break;
        }
    }
    assert!(matches!(one_final_last(&seen), EventKind::Cancelled { .. }), "{seen:?}");
    assert!(tool_results(&seen).is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn user_tool_output_is_capped_cleaned_and_keys_stay_hidden() {
    let tools = ToolRegistry::with_user_tools(&[
        user_tool("big", &["sh", "-c", "yes abcdefgh | head -c 200000"], true, 10.0),
        user_tool("env", &["sh", "-c", "printf '%s\\033[31m!' \"${HOME:-hidden}\""], true, 10.0),
        user_tool("missing", &["/nonexistent/roundtable-tool"], true, 10.0),
        UserToolConfig { cwd: Some(std::env::temp_dir()), ..user_tool("where", &["pwd"], true, 10.0) },
    ])
    .unwrap()
    .hide_env(["HOME".to_owned()]);
    let big = tools.run("big", r#"{"city":"x"}"#).await;
    assert!(!big.is_error);
    assert!(big.output.len() < 70 * 1024 && big.output.ends_with("[output cut at 64 KiB]"), "{}", big.output.len());
    let env = tools.run("env", "{}").await;
    assert_eq!(env.output, "hidden!", "the variable is removed and the escape stripped");
    let missing = tools.run("missing", "{}").await;
    assert!(missing.is_error && missing.output.contains("could not be started"), "{missing:?}");
    let here = tools.run("where", "{}").await;
    let tmp = std::env::temp_dir().canonicalize().unwrap();
    assert_eq!(std::path::Path::new(here.output.trim()).canonicalize().unwrap(), tmp);
}

/// Whether process `pid` still runs (a zombie waiting for its parent to reap it does not).
#[cfg(target_os = "linux")]
fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| stat.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next()))
        .is_some_and(|state| state != 'Z' && state != 'X')
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_timeout_stops_everything_the_command_started() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("child.pid");
    // A shell that starts a long child in the background and waits for it.
    let script = format!("sleep 30 & echo $! > '{}'; wait", pidfile.display());
    let registry = ToolRegistry::with_user_tools(&[user_tool("spawner", &["sh", "-c", &script], true, 1.0)]).unwrap();
    let started = std::time::Instant::now();
    let out = registry.run("spawner", "{}").await;
    assert!(out.is_error && out.output.contains("did not finish within 1 s"), "{out:?}");
    assert!(started.elapsed() < Duration::from_secs(10), "the timeout held: {:?}", started.elapsed());
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    let pid = pid.trim();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while alive(pid) {
        assert!(std::time::Instant::now() < deadline, "the background child {pid} outlived the timed-out tool");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // A command that exits but leaves a child holding its output: the answer comes at once.
    let script = format!("echo done; sleep 30 & echo $! > '{}'", pidfile.display());
    let registry = ToolRegistry::with_user_tools(&[user_tool("leaver", &["sh", "-c", &script], true, 20.0)]).unwrap();
    let started = std::time::Instant::now();
    let out = registry.run("leaver", "{}").await;
    assert!(!out.is_error && out.output.contains("done"), "{out:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "waited for the leftover: {:?}", started.elapsed());
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while alive(pid.trim()) {
        assert!(std::time::Instant::now() < deadline, "the leftover child outlived the tool");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_thinking_model_gets_its_signed_reasoning_back_with_its_tool_calls() {
    let sim = fast_sim().await;
    let (core, mut events) = start_core(with_catalog(core_config(&sim.base_url())));
    let registry = ToolRegistry::builtins();
    // The simulator's thinking models sign their reasoning before calling tools and answer the
    // next step with Anthropic's 400 unless the signed block comes back (via OpenRouter's
    // `reasoning_details`, unmodified).
    let model = "anthropic/claude-sonnet-4.5@reasoning";
    let targets = vec![tooled(0, model, PROMPT, &["calculator", "current_time"], &registry)];
    submit(&core, 1, targets, ToolPolicy::default()).await;
    let per = collect(&mut events, 1).await;
    let evs = &per[0];
    let step = evs.iter().find_map(|e| if let EventKind::StepFinished { summary } = e { Some(summary) } else { None });
    let step = step.expect("a tool step");
    assert_eq!(step.reasoning_details.len(), 1, "{:?}", step.reasoning_details);
    let block = &step.reasoning_details[0];
    assert_eq!(block["text"], "I should use the tools for this. ", "fragments joined: {block}");
    assert!(block["signature"].as_str().is_some_and(|s| s.starts_with("EqQB")), "{block}");
    assert!(matches!(one_final_last(evs), EventKind::Finished { .. }), "{:?}", one_final_last(evs));
    assert!(final_text(evs).contains("391"), "{}", final_text(evs));
    assert_eq!(sim.stats().error_responses, 0, "{:?}", sim.stats());
    sim.shutdown().await;
}

/// Issue 11 item 18: a descendant that left the process group (`setsid`) ends with the run too.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_descendant_in_its_own_session_ends_with_the_tool() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("escaped.pid");
    for (name, script, timeout) in [
        // Times out while the escaped child runs on.
        ("escaper", format!("setsid sleep 1001 & echo $! > '{}'; sleep 30", pidfile.display()), 1.0),
        // Finishes at once, its escaped child detached from every pipe.
        (
            "detacher",
            format!("setsid sleep 1001 </dev/null >/dev/null 2>&1 & echo $! > '{}'; echo ok", pidfile.display()),
            20.0,
        ),
    ] {
        let registry =
            ToolRegistry::with_user_tools(&[user_tool(name, &["sh", "-c", &script], true, timeout)]).unwrap();
        let out = registry.run(name, "{}").await;
        assert_eq!(out.is_error, name == "escaper", "{out:?}");
        let pid = std::fs::read_to_string(&pidfile).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while alive(pid.trim()) {
            assert!(std::time::Instant::now() < deadline, "{name}: the setsid child {pid} outlived the tool");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Issue 11 item 18: a failing tool's long stderr is quoted from its end, where the error is.
#[tokio::test]
async fn a_long_stderr_keeps_its_tail() {
    let script = "yes 'noise line' | head -c 300000 >&2; echo 'FATAL: the real reason' >&2; exit 3";
    let registry = ToolRegistry::with_user_tools(&[user_tool("noisy", &["sh", "-c", script], true, 20.0)]).unwrap();
    let out = registry.run("noisy", "{}").await;
    assert!(out.is_error, "{out:?}");
    assert!(out.output.contains("FATAL: the real reason"), "{}", &out.output[..out.output.len().min(300)]);
}
