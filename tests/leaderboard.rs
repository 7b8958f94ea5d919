//! Votes through the store's writer, read back with filters, ranked by `roundtable leaderboard`
//! with the ledger's averages; and the binary's own output on such a database.

use std::path::PathBuf;

use roundtable::core::compare::{Vote, VoteOutcome};
use roundtable::core::protocol::{Cost, CostSource, StreamSummary, TargetId, Timings, TurnId};
use roundtable::core::store::{self, LedgerEntry, RequestStatus, Store, VoteFilter};
use roundtable::leaderboard_cmd::Leaderboard;

fn vote(models: &[&str], outcome: VoteOutcome, blind: bool, tag: Option<&str>) -> Vote {
    Vote {
        room: None,
        turn: Some(TurnId(1)),
        prompt: "Explain TCP slow start".into(),
        models: models.iter().map(|m| (*m).to_owned()).collect(),
        outcome,
        blind,
        tag: tag.map(str::to_owned),
        at_ms: store::now_ms(),
    }
}

fn answer(model: &str, provider: &str, cost: &str, duration_ms: u64, source: CostSource) -> LedgerEntry {
    let summary = StreamSummary {
        cost: Some(Cost { usd: Some(cost.parse().unwrap()), source }),
        timings: Timings { ttft_ms: Some(100), duration_ms },
        ..StreamSummary::default()
    };
    LedgerEntry::new(store::now_ms(), provider, model).with_summary(&summary).with_status(RequestStatus::Ok)
}

/// Ten blind votes on three models (a wins 6, b wins 2, c wins 1, one tie), two open votes
/// tagged "code", and ledger rows for their answers.
fn seeded_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = store::db_path(dir.path());
    let s = Store::open(&path).unwrap();
    let three = ["x/a", "gemini:b", "x/c"];
    let room = s.create_room("r", &three.map(String::from), false);
    for (i, best) in [0, 0, 1, 0, 2, 0, 1, 0, 0].into_iter().enumerate() {
        let mut v = vote(&three, VoteOutcome::Best(best), true, None);
        v.room = Some(room);
        v.turn = Some(TurnId(i as u64 + 1));
        s.record_vote(v);
    }
    s.record_vote(vote(&three, VoteOutcome::Tie, true, None));
    s.record_vote(vote(&["x/a", "x/c"], VoteOutcome::Best(1), false, Some("code")));
    s.record_vote(vote(&["x/a", "x/c"], VoteOutcome::AllBad, false, Some("code")));
    s.record_request(answer("x/a", "openrouter", "0.002", 1000, CostSource::Reported));
    s.record_request(answer("x/a", "openrouter", "0.004", 3000, CostSource::Reported));
    s.record_request(answer("b", "gemini", "0.001", 500, CostSource::Estimated));
    let failed = answer("x/c", "openrouter", "9", 9, CostSource::Reported).with_status(RequestStatus::Error);
    s.record_request(failed.in_room(room, TurnId(1), TargetId(2)));
    s.flush().unwrap();
    (dir, path)
}

#[test]
fn votes_come_back_with_their_fields_and_filters() {
    let (_dir, path) = seeded_db();
    let all = store::read_votes(&path, &VoteFilter::default()).unwrap();
    assert_eq!(all.len(), 12);
    assert_eq!(all[0].1.outcome, VoteOutcome::Best(0));
    assert!(all[0].1.room.is_some() && all[0].1.blind);
    assert_eq!(all[0].1.models, ["x/a", "gemini:b", "x/c"]);
    assert_eq!(all[9].1.outcome, VoteOutcome::Tie);
    let blind = store::read_votes(&path, &VoteFilter { blind_only: true, tag: None }).unwrap();
    assert_eq!(blind.len(), 10);
    let code = store::read_votes(&path, &VoteFilter { tag: Some("code".into()), blind_only: false }).unwrap();
    assert_eq!(code.iter().map(|(_, v)| v.outcome).collect::<Vec<_>>(), [VoteOutcome::Best(1), VoteOutcome::AllBad]);
    assert!(store::read_votes(&path, &VoteFilter { tag: Some("code".into()), blind_only: true }).unwrap().is_empty());
}

#[test]
fn leaderboard_ranks_blind_votes_with_counts_and_averages() {
    let (_dir, path) = seeded_db();
    let board = Leaderboard::load(&path, &VoteFilter { blind_only: true, tag: None }).unwrap();
    assert!(board.meaningful);
    assert_eq!(board.votes, 10);
    let names: Vec<&str> = board.models.iter().map(|r| r.standing.model.as_str()).collect();
    assert_eq!(names, ["x/a", "gemini:b", "x/c"]);
    let a = &board.models[0];
    let counts = (a.standing.votes, a.standing.wins, a.standing.losses, a.standing.ties);
    assert_eq!(counts, (10, 6, 3, 1));
    assert!(a.standing.low < a.standing.rating && a.standing.rating < a.standing.high);
    assert_eq!(a.avg_cost_usd, Some("0.003".parse().unwrap()));
    assert_eq!(a.avg_latency_ms, Some(2000));
    let b = &board.models[1];
    assert_eq!((b.avg_cost_usd, b.cost_estimated), (Some("0.001".parse().unwrap()), true));
    let c = &board.models[2];
    assert_eq!((c.answers, c.avg_cost_usd), (0, None), "failed requests are not answers");

    let text = board.lines().join("\n");
    assert!(text.contains("Leaderboard from 10 votes (blind rounds only)"), "{text}");
    assert!(text.contains("$0.003 ") && text.contains("2.0 s") && text.contains("~$0.001"), "{text}");
    let json = serde_json::to_value(&board).unwrap();
    assert_eq!(json["models"][0]["model"], "x/a");
    assert_eq!(json["models"][0]["wins"], 6);
    assert_eq!(json["models"][0]["avg_cost_usd"], "0.003");
    assert!(json["models"][0]["low"].as_f64().unwrap() < json["models"][0]["high"].as_f64().unwrap());
}

#[test]
fn few_votes_say_the_ranking_is_not_yet_meaningful() {
    let (_dir, path) = seeded_db();
    let board = Leaderboard::load(&path, &VoteFilter { tag: Some("code".into()), blind_only: false }).unwrap();
    assert!(!board.meaningful);
    let text = board.lines().join("\n");
    assert!(text.contains("Not yet meaningful"), "{text}");
    assert!(!text.lines().any(|l| l.contains("x/a") && l.contains("1000")), "no rating printed: {text}");
    let empty = tempfile::tempdir().unwrap();
    let none = Leaderboard::load(&store::db_path(empty.path()), &VoteFilter::default()).unwrap();
    assert!(none.lines()[0].starts_with("No votes yet"), "{:?}", none.lines());
}

#[test]
fn the_overlay_lines_fit_a_narrow_room() {
    let long = ["meta-llama/llama-3.3-70b-instruct:free", "mistralai/mistral-small-3.2-24b-instruct"];
    let votes: Vec<Vote> = (0..6).map(|i| vote(&long, VoteOutcome::Best(i % 2), true, None)).collect();
    let board = Leaderboard::build(&votes, &std::collections::HashMap::new(), &VoteFilter::default());
    let table_width = |lines: &[String]| lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let rows = |lines: &[String]| lines.iter().filter(|l| l.contains(" – ")).count();
    let wide = board.lines();
    let rule = wide.iter().find(|l| l.contains('─')).unwrap().chars().count();
    let narrow = board.lines_within(rule - 10);
    let narrow_rule = narrow.iter().find(|l| l.contains('─')).unwrap().chars().count();
    assert!(narrow_rule <= rule - 10, "{narrow:#?}");
    assert_eq!(rows(&narrow), 2);
    assert!(narrow.iter().any(|l| l.contains("…")), "model ids shortened: {narrow:#?}");
    assert!(table_width(&wide) > 0);
}

#[test]
fn a_database_without_the_votes_table_has_no_votes() {
    let dir = tempfile::tempdir().unwrap();
    let path = store::db_path(dir.path());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE ledger (x INTEGER);").unwrap();
    drop(conn);
    assert!(store::read_votes(&path, &VoteFilter::default()).unwrap().is_empty());
}

#[test]
fn the_binary_prints_the_leaderboard() {
    let (dir, _path) = seeded_db();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_roundtable"))
        .args(["leaderboard", "--json", "--blind-only"])
        .env("ROUNDTABLE_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["votes"], 10);
    assert_eq!(json["models"].as_array().unwrap().len(), 3);
}
