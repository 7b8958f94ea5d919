//! The real binary, run as separate processes against the simulator: two `ask` runs share one
//! quota count and one ledger through the SQLite database in the data dir, as two terminals on
//! one machine would.

mod common;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use roundtable::core::store::{self, GroupBy};
use roundtable::sim::{SimConfig, SimServer};

/// `roundtable <args>` with every directory inside `home` and the test key.
fn command(home: &Path, base_url: &str, args: &[&str]) -> tokio::process::Command {
    common::binary(home, base_url, args)
}

async fn output(mut cmd: tokio::process::Command) -> Output {
    tokio::time::timeout(Duration::from_secs(60), cmd.output()).await.expect("the binary finishes").expect("runs")
}

fn text(o: &Output) -> String {
    format!("stdout:\n{}\nstderr:\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[tokio::test]
async fn two_ask_processes_share_the_free_quota_count_and_the_ledger() {
    let sim = SimServer::start(SimConfig::default(), 0).await.unwrap();
    let base = sim.base_url();
    let home = tempfile::tempdir().unwrap();
    let model = "meta-llama/llama-3.3-70b-instruct:free@tokens=8@tps=0@ttft=0";
    // Two processes at once, like two terminals.
    let first = command(home.path(), &base, &["ask", "--json", "-m", model, "first question"]);
    let second = command(home.path(), &base, &["ask", "--json", "-m", model, "second question"]);
    let (a, b) = tokio::join!(output(first), output(second));
    assert!(a.status.success(), "{}", text(&a));
    assert!(b.status.success(), "{}", text(&b));
    assert_eq!(sim.stats().free_requests, 2);

    let quota = output(command(home.path(), &base, &["quota", "--json"])).await;
    assert!(quota.status.success(), "{}", text(&quota));
    let v: serde_json::Value = serde_json::from_slice(&quota.stdout).expect("quota --json is JSON");
    let bucket = |window: &str| {
        v["buckets"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|b| b["bucket"] == "openrouter:free" && b["window"] == window)
            .cloned()
            .unwrap_or_else(|| panic!("no {window} row: {v}"))
    };
    assert_eq!(bucket("day")["used"], 2, "{v}");
    assert_eq!(bucket("minute")["used"], 2, "both counted in the shared log: {v}");
    assert_eq!(v["account"]["free_daily_used"], 2, "the server agrees: {v}");

    let db = store::db_path(&home.path().join("data"));
    let rows = store::usage_summary(&db, 0, GroupBy::Model).unwrap();
    let row = rows.iter().find(|r| r.group == model).unwrap_or_else(|| panic!("{rows:?}"));
    assert_eq!((row.requests, row.errors), (2, 0), "{row:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn ask_with_tools_prints_calls_and_results_and_refuses_unknown_tools() {
    let sim = SimServer::start(
        SimConfig {
            default_tokens: Some(20),
            default_tps: Some(0.0),
            default_ttft_ms: Some(0),
            ..SimConfig::default()
        },
        0,
    )
    .await
    .unwrap();
    let base = sim.base_url();
    let home = tempfile::tempdir().unwrap();
    let prompt = "What time is it in Tokyo, and what is 17*23?";

    // An unknown tool is a usage error that lists the real ones; nothing is sent.
    let o = output(command(home.path(), &base, &["ask", "--tools", "calculator,weather", "-m", "a", prompt])).await;
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("Unknown tool: weather. Available tools: calculator, current_time."), "{err}");
    assert_eq!(sim.stats().chat_requests, 0);

    // JSON lines: the calls and results of the loop, then the answer.
    let args = ["ask", "--json", "--tools", "calculator,current_time", "-m", "openai/gpt-4o-mini", prompt];
    let o = output(command(home.path(), &base, &args)).await;
    assert!(o.status.success(), "{}", text(&o));
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&o.stdout).lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
    let of = |t: &str| lines.iter().filter(|l| l["type"] == t).cloned().collect::<Vec<_>>();
    let calls = of("tool_call");
    assert_eq!(calls.len(), 2, "{lines:?}");
    assert_eq!(
        (calls[0]["name"].as_str(), calls[0]["arguments"].as_str()),
        (Some("calculator"), Some(r#"{"expression":"17*23"}"#))
    );
    assert_eq!(calls[0]["needs_confirmation"], false);
    let results = of("tool_result");
    assert_eq!((results[0]["output"].as_str(), results[0]["is_error"].as_bool()), (Some("391"), Some(false)));
    assert_eq!(results[0]["id"], calls[0]["id"]);
    assert_eq!(of("step").len(), 1);
    assert_eq!(of("done").len(), 1);

    // A user tool that is not marked safe: denied without --yes (and the model is told), run with it.
    std::fs::create_dir_all(home.path().join("config")).unwrap();
    std::fs::write(
        home.path().join("config/config.toml"),
        r#"
[[tools]]
name = "weather"
description = "Weather for a city"
command = ["cat"]
parameters = { type = "object", properties = { city = { type = "string" } }, required = ["city"] }
"#,
    )
    .unwrap();
    let args = ["ask", "--tools", "weather", "-m", "openai/gpt-4o-mini", "What is the weather in Oslo?"];
    let o = output(command(home.path(), &base, &args)).await;
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("⚙ weather {\"city\":\"Oslo\"}"), "{out}");
    assert!(out.contains("denied: weather is not marked safe; run ask with --yes"), "{out}");
    assert!(out.contains("The user declined"), "the model's answer says so: {out}");
    let mut with_yes = args.to_vec();
    with_yes.insert(1, "--yes");
    let o = output(command(home.path(), &base, &with_yes)).await;
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("  → {\"city\":\"Oslo\"}"), "{out}");
    assert!(!out.contains("denied"), "{out}");
    assert!(out.contains("(2 steps)"), "the table counts both steps: {out}");
    sim.shutdown().await;
}

#[tokio::test]
async fn usage_and_quota_read_the_demo_history_with_demo() {
    let sim = SimServer::start(SimConfig::default(), 0).await.unwrap();
    let base = sim.base_url();
    let home = tempfile::tempdir().unwrap();
    // A demo session's request, recorded where the demo keeps its history.
    let mut demo_ask = command(home.path(), &base, &["ask", "-m", "google/gemma-3-27b-it:free@tokens=8@tps=0", "hi"]);
    demo_ask.env("ROUNDTABLE_DATA_DIR", home.path().join("data").join("demo"));
    let o = output(demo_ask).await;
    assert!(o.status.success(), "{}", text(&o));

    let usage = |demo: bool| {
        let mut args = vec!["usage"];
        args.extend(demo.then_some("--demo"));
        command(home.path(), &base, &args)
    };
    let real = output(usage(false)).await;
    assert!(String::from_utf8_lossy(&real.stdout).contains("No usage recorded yet"), "{}", text(&real));
    let demo = output(usage(true)).await;
    assert!(String::from_utf8_lossy(&demo.stdout).contains("google/gemma-3-27b-it:free"), "{}", text(&demo));

    let mut quota = command(home.path(), &base, &["quota", "--demo", "--json"]);
    quota.env_remove("OPENROUTER_API_KEY");
    let o = output(quota).await;
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", text(&o)));
    let day = v["buckets"].as_array().unwrap().iter().find(|b| b["window"] == "day").unwrap().clone();
    assert_eq!(day["used"], 1, "{v}");
    sim.shutdown().await;
}
