//! The real binary: `ask` makes a stored room that `rooms`, `rooms show`, `rooms search` and
//! `rooms rm` read back, and `ask --analyze` adds an analysis with its own cost.

mod common;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use roundtable::sim::{SimConfig, SimServer};
use serde_json::Value;

/// `roundtable <args>` with every directory inside `home` and the test key.
fn command(home: &Path, base_url: &str, args: &[&str]) -> tokio::process::Command {
    common::binary(home, base_url, args)
}

async fn run(home: &Path, base: &str, args: &[&str]) -> Output {
    let out = tokio::time::timeout(Duration::from_secs(60), command(home, base, args).output())
        .await
        .expect("the binary finishes")
        .expect("runs");
    assert!(
        out.status.success(),
        "roundtable {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn lines(o: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&o.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

#[tokio::test]
async fn an_ask_is_a_room_that_rooms_lists_shows_and_finds() {
    let sim = SimServer::start(SimConfig::default(), 0).await.unwrap();
    let base = sim.base_url();
    let home = tempfile::tempdir().unwrap();
    let (a, b) = ("openai/gpt-4o-mini@tokens=40@tps=0@ttft=0", "google/gemini-2.5-flash@tokens=30@tps=0@ttft=0");
    run(home.path(), &base, &["ask", "-m", a, "-m", b, "Explain TCP slow start"]).await;

    let listed = lines(&run(home.path(), &base, &["rooms", "--json"]).await);
    assert_eq!(listed.len(), 1, "{listed:?}");
    let room = &listed[0];
    assert_eq!(room["headless"], true);
    assert_eq!(room["turns"], 1);
    assert_eq!(room["requests"], 2);
    let id = room["id"].as_i64().unwrap().to_string();

    let shown: Value = serde_json::from_slice(&run(home.path(), &base, &["rooms", "show", &id, "--json"]).await.stdout)
        .expect("rooms show --json is JSON");
    let answers = shown["turns"][0]["answers"].as_array().unwrap();
    assert_eq!(answers.len(), 2);
    for answer in answers {
        assert_eq!(answer["finish_reason"], "stop", "{answer}");
        assert!(answer["usage"]["completion_tokens"].as_u64().unwrap() > 0, "{answer}");
        assert!(answer["cost_usd"].as_str().is_some(), "{answer}");
    }
    // A word from an answer (the simulator's answers start with the prompt's words).
    let text = answers[0]["text"].as_str().unwrap();
    let word = text.split(|c: char| !c.is_alphanumeric()).find(|w| w.len() >= 6).unwrap();
    let found = lines(&run(home.path(), &base, &["rooms", "search", word, "--json"]).await);
    assert!(found.iter().any(|h| h["room"].as_i64().map(|r| r.to_string()) == Some(id.clone())), "{found:?}");

    let md =
        String::from_utf8_lossy(&run(home.path(), &base, &["rooms", "show", "last", "--md"]).await.stdout).into_owned();
    assert!(md.contains("## Turn 1") && md.contains("### openai/gpt-4o-mini"), "{md}");

    run(home.path(), &base, &["rooms", "rm", &id]).await;
    assert!(lines(&run(home.path(), &base, &["rooms", "--json"]).await).is_empty(), "the room is gone");
    sim.shutdown().await;
}

#[tokio::test]
async fn ask_analyze_streams_an_analysis_with_its_cost() {
    let sim = SimServer::start(SimConfig::default(), 0).await.unwrap();
    let base = sim.base_url();
    let home = tempfile::tempdir().unwrap();
    let (a, b) = ("openai/gpt-4o-mini@tokens=40@tps=0@ttft=0", "google/gemini-2.5-flash@tokens=30@tps=0@ttft=0");
    let out =
        run(home.path(), &base, &["ask", "--json", "--analyze", "openai/gpt-4o-mini", "-m", a, "-m", b, "Why?"]).await;
    let events = lines(&out);
    assert!(events.iter().any(|e| e["type"] == "analysis_delta"), "the analysis streams");
    let analysis = events.iter().find(|e| e["type"] == "analysis").expect("an analysis object");
    assert!(analysis["cost_usd"].as_f64().is_some_and(|c| c > 0.0), "{analysis}");
    let best = analysis["structured"]["best"]["answer"].as_str().expect("a structured best answer");
    assert!(best == a || best == b, "the analyst names one of the answers: {best}");
    let usage: Value = serde_json::from_slice(&run(home.path(), &base, &["usage", "--json"]).await.stdout).unwrap();
    let rows = usage.as_array().expect("usage --json is an array of rows");
    let requests: u64 = rows.iter().filter_map(|r| r["requests"].as_u64()).sum();
    assert_eq!(requests, 3, "two answers and the analysis are ledger rows: {usage}");
    assert!(rows.iter().any(|r| r["group"] == "openai/gpt-4o-mini"), "the analyst's own row: {usage}");
    let db = rusqlite::Connection::open(home.path().join("data").join("roundtable.db")).unwrap();
    let marked: i64 = db.query_row("SELECT count(*) FROM ledger WHERE purpose = 'analysis'", [], |r| r.get(0)).unwrap();
    assert_eq!(marked, 1, "the analysis's ledger row is marked as analysis");
    sim.shutdown().await;
}
