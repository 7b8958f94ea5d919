//! The real binary, run as separate processes against the simulator: two `ask` runs share one
//! quota count and one ledger through the SQLite database in the data dir, as two terminals on
//! one machine would.

mod common;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use common::TEST_KEY;
use roundtable::core::sim::{SimConfig, SimServer};
use roundtable::core::store::{self, GroupBy};

/// `roundtable <args>` with every directory inside `home` and the test key.
fn command(home: &Path, base_url: &str, args: &[&str]) -> tokio::process::Command {
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
