//! The real `ask` binary against a hostile or merely different upstream (written here, on
//! loopback): streams cut without a finish reason, empty answers, HTML pages, endless answers
//! and lines, garbled or impossible usage, a server that is not OpenRouter behind `--base-url`,
//! rate-limit headers of other servers, and API keys echoed back.

mod common;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use common::hostile::{Hostile, Reply, Request, delta, http, sse};
use serde_json::Value;

const KEY: &str = "CANARYNONSK-0123456789abcdefSECRET";

/// `roundtable ask` (or another command) with every directory inside `home`, against `base`.
fn command(home: &Path, base: &str, args: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_roundtable"));
    cmd.arg("--base-url").arg(base).args(args);
    cmd.env("ROUNDTABLE_DATA_DIR", home.join("data"))
        .env("ROUNDTABLE_CONFIG_DIR", home.join("config"))
        .env("ROUNDTABLE_CACHE_DIR", home.join("cache"))
        .env("OPENROUTER_API_KEY", KEY)
        .env_remove("GEMINI_API_KEY")
        .env_remove("OPENAI_API_KEY")
        .env_remove("ROUNDTABLE_LOG")
        .kill_on_drop(true);
    cmd
}

async fn run(home: &Path, base: &str, args: &[&str]) -> Output {
    let cmd = command(home, base, args);
    run_cmd(cmd).await
}

async fn run_cmd(mut cmd: tokio::process::Command) -> Output {
    tokio::time::timeout(Duration::from_secs(90), cmd.output()).await.expect("the binary finishes").expect("runs")
}

fn text(o: &Output) -> String {
    format!("stdout:\n{}\nstderr:\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn lines(o: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&o.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

fn last_of(o: &Output, kind: &str) -> Value {
    lines(o).into_iter().rev().find(|v| v["type"] == kind).unwrap_or_else(|| panic!("no {kind} line: {}", text(o)))
}

fn home_with_config(config: &str) -> tempfile::TempDir {
    let home = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(home.path().join("config")).expect("config dir");
    std::fs::write(home.path().join("config/config.toml"), config).expect("config file");
    home
}

/// Serves `chat` for chat completions and a 404 for anything else (`/key`, `/generation`).
async fn upstream(chat: impl Fn(&Request, usize) -> Reply + Send + Sync + 'static) -> Hostile {
    Hostile::start(move |r, n| {
        if r.path.contains("/chat/completions") {
            chat(r, n)
        } else {
            http("404 Not Found", &[("content-type", "application/json")], r#"{"error":{"message":"not found"}}"#)
        }
    })
    .await
}

/// Item 1: `[DONE]` after half an answer and no finish reason is incomplete, not done.
#[tokio::test]
async fn a_stream_without_finish_reason_is_incomplete() {
    let server =
        upstream(|_, _| sse(&format!("{}{}data: [DONE]\n\n", delta("The answer is", None), delta(" cut", None)))).await;
    let home = tempfile::tempdir().unwrap();
    let o = run(home.path(), &server.base_url(), &["ask", "--json", "-m", "m", "q"]).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let e = last_of(&o, "error");
    assert_eq!(e["kind"], "incomplete", "{e}");
    assert!(lines(&o).iter().all(|v| v["type"] != "done"), "{}", text(&o));
    let o = run(home.path(), &server.base_url(), &["ask", "-m", "m", "q"]).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("The answer is cut") && out.contains("partial answer above"), "{out}");
    // An empty stream (the context did not fit, answered with 200 and nothing) likewise.
    let server = upstream(|_, _| sse("")).await;
    let o = run(home.path(), &server.base_url(), &["ask", "-m", "m", "q"]).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("no answer arrived"), "{out}");
    assert!(!out.contains("partial answer"), "nothing was received: {out}");
}

/// Item 2: an idle timeout before the first token says no answer arrived.
#[tokio::test]
async fn silence_before_any_token_says_no_answer_arrived() {
    let server = upstream(|_, _| Reply::Endless {
        head: b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n".to_vec(),
        chunk: Vec::new(),
    })
    .await;
    let home = home_with_config("[timeouts]\nidle_secs = 1\n");
    let o = run(home.path(), &server.base_url(), &["ask", "-m", "m", "q"]).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("no answer arrived"), "{out}");
    assert!(!out.contains("partial answer is kept"), "{out}");
}

/// Item 3: an HTML page with status 200 is named as such, with its title and the URL.
#[tokio::test]
async fn an_html_page_is_reported_with_its_title_and_url() {
    let page = "<!DOCTYPE html><html><head><title>Sign in · Corporate Proxy</title></head><body>Log in</body></html>";
    for content_type in ["text/html; charset=utf-8", "text/event-stream"] {
        let server = upstream(move |_, _| http("200 OK", &[("content-type", content_type)], page)).await;
        let home = tempfile::tempdir().unwrap();
        let o = run(home.path(), &server.base_url(), &["ask", "--json", "-m", "m", "q"]).await;
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        let e = last_of(&o, "error");
        let message = e["message"].as_str().unwrap_or_default();
        assert!(message.contains("HTML page") && message.contains("Sign in · Corporate Proxy"), "{e}");
        assert!(message.contains(&format!("127.0.0.1:{}/v1/chat/completions", server.port)), "{e}");
        assert_ne!(e["kind"], "stream_dropped", "{e}");
    }
}

/// Item 12: an endless answer stops at the configured size with its own kind, text kept.
#[tokio::test]
async fn an_endless_answer_stops_at_the_limit() {
    let chunk = delta(&"x".repeat(1000), None).into_bytes();
    let server = upstream(move |_, _| Reply::Endless {
        head: b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n".to_vec(),
        chunk: chunk.clone(),
    })
    .await;
    let home = home_with_config("[limits]\nmax_answer_bytes = 100000\n");
    let o = run(home.path(), &server.base_url(), &["ask", "--json", "-m", "m", "q"]).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let e = last_of(&o, "error");
    assert_eq!(e["kind"], "answer_too_large", "{e}");
    let kept: usize =
        lines(&o).iter().filter(|v| v["type"] == "delta").map(|v| v["text"].as_str().map_or(0, str::len)).sum();
    assert!((100_000..=102_000).contains(&kept), "the text up to the limit is kept: {kept}");
}

/// Item 13: a line that never ends is refused at the bound instead of buffered for ever.
#[tokio::test]
async fn a_line_without_newline_is_bounded() {
    let server = upstream(|_, _| Reply::Endless {
        head:
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\ndata: {\"choices\":[{\"delta\":{\"content\":\""
                .to_vec(),
        chunk: b"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy".to_vec(),
    })
    .await;
    let home = home_with_config("[limits]\nmax_answer_bytes = 100000\n");
    let o = run(home.path(), &server.base_url(), &["ask", "--json", "-m", "m", "q"]).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let e = last_of(&o, "error");
    assert_eq!(e["kind"], "malformed_response", "{e}");
    assert!(e["message"].as_str().unwrap_or_default().contains("without a line break"), "{e}");
}

/// Items 14 and 15: impossible usage is unknown, never stored; garbage after the finish does
/// not fail a complete answer.
#[tokio::test]
async fn impossible_or_garbled_usage_leaves_a_done_answer_with_unknown_cost() {
    let usage_chunks = [
        r#"data: {"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":5,"cost":NaN}}"#,
        r#"data: {"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":5,"cost":1e999}}"#,
        r#"data: {"choices":[],"usage":{"prompt_tokens":1e30,"completion_tokens":18446744073709551615,"cost":0.001}}"#,
        r#"data: {"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":5,"cost":-5.5}}"#,
    ];
    let home = tempfile::tempdir().unwrap();
    for chunk in usage_chunks {
        let body = format!("{}{chunk}\n\ndata: [DONE]\n\n", delta("Whole answer.", Some("stop")));
        let server = upstream(move |_, _| sse(&body)).await;
        let o = run(home.path(), &server.base_url(), &["ask", "--json", "-m", "m", "q"]).await;
        assert_eq!(o.status.code(), Some(0), "{chunk}: {}", text(&o));
        let done = last_of(&o, "done");
        assert!(done["cost_usd"].is_null() || done["cost_usd"].as_f64() >= Some(0.0), "{chunk}: {done}");
        if chunk.contains("1e30") {
            assert!(done["usage"].is_null(), "{done}");
        }
        if chunk.contains("-5.5") {
            assert_eq!(done["usage"]["prompt_tokens"], 10, "the counts stand: {done}");
            assert_eq!(done["cost_source"], "unknown", "{done}");
        }
    }
    let db = roundtable::core::store::db_path(&home.path().join("data"));
    let rows = roundtable::core::store::usage_summary(&db, 0, roundtable::core::store::GroupBy::Model).unwrap();
    assert!(rows.iter().all(|r| r.cost_usd >= rust_decimal::Decimal::ZERO), "{rows:?}");
    assert!(rows.iter().all(|r| r.prompt_tokens < 1_000_000), "{rows:?}");
    let o = run(home.path(), "http://127.0.0.1:9/v1", &["usage"]).await;
    assert!(o.status.success(), "{}", text(&o));
}

/// Item 6: a server that is not OpenRouter behind `--base-url` gets `stream_options` (so its
/// usage arrives), is never polled for `/generation`, and its errors name it by host.
#[tokio::test]
async fn another_server_gets_stream_options_and_no_backfill() {
    let server = upstream(|r, _| {
        if r.json().get("stream_options").is_none() {
            return sse(&delta("no usage asked for", Some("stop")));
        }
        let usage = r#"data: {"id":"chatcmpl-9","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}"#;
        sse(&format!("{}{usage}\n\ndata: [DONE]\n\n", delta("Hello.", Some("stop"))))
    })
    .await;
    let home = tempfile::tempdir().unwrap();
    let o = run(home.path(), &server.base_url(), &["ask", "--json", "-m", "m", "q"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let done = last_of(&o, "done");
    assert_eq!(done["usage"]["prompt_tokens"], 7, "{done}");
    assert_eq!(server.count("/generation"), 0, "no back-fill from a server that is not OpenRouter");
    // A server that refuses the field gets the request again without it.
    let server = upstream(|r, _| {
        if r.json().get("stream_options").is_some() {
            return http(
                "400 Bad Request",
                &[("content-type", "application/json")],
                r#"{"error":{"message":"Unrecognized request argument supplied: stream_options"}}"#,
            );
        }
        sse(&delta("Fine.", Some("stop")))
    })
    .await;
    let o = run(home.path(), &server.base_url(), &["ask", "--json", "-m", "m", "q"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(server.count("/chat/completions"), 2);
}

/// Items 7 and 17: a 429 whose `retry-after` says 1 s is waited out (and said so in text
/// mode), and a key echoed back by a 401 appears nowhere: not in text, `--json` or the log.
/// LiteLLM past a deployment's `rpm` (seen with scripts/try-real-servers.sh): a 429 with no
/// retry header at all; the message names the server as a sentence's subject and quotes it.
#[tokio::test]
async fn a_bare_429_from_another_server_reads_as_a_sentence() {
    let server = upstream(|_, _| {
        http(
            "429 Too Many Requests",
            &[("content-type", "application/json")],
            r#"{"error":{"message":"No deployments available for selected model.","type":"rate_limit_error","param":null,"code":"429"}}"#,
        )
    })
    .await;
    let home = tempfile::tempdir().unwrap();
    let o = run(home.path(), &server.base_url(), &["ask", "--json", "-m", "m", "q"]).await;
    let error = last_of(&o, "error");
    assert_eq!(error["kind"], "rate_limit_minute", "{}", text(&o));
    let message = error["message"].as_str().unwrap();
    let host = server.base_url().split("//").nth(1).unwrap().split('/').next().unwrap().to_owned();
    assert!(
        message.starts_with(&format!("The server at {host} is rate-limiting requests (No deployments available")),
        "{message}"
    );
}

#[tokio::test]
async fn retry_after_is_honoured_and_echoed_keys_are_redacted() {
    let chats = std::sync::atomic::AtomicUsize::new(0);
    let server = upstream(move |_, _| match chats.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
        0 => http(
            "429 Too Many Requests",
            &[("content-type", "application/json"), ("retry-after", "1")],
            r#"{"error":{"message":"rate limited","code":"429"}}"#,
        ),
        _ => sse(&delta("After the wait.", Some("stop"))),
    })
    .await;
    let home = tempfile::tempdir().unwrap();
    let o = run(home.path(), &server.base_url(), &["ask", "-m", "m", "q"]).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("waiting until") && out.contains("After the wait."), "{out}");

    let server = upstream(|r, _| {
        let echoed = r.headers.lines().find(|l| l.to_ascii_lowercase().starts_with("authorization")).unwrap_or("");
        let body = serde_json::json!({"error": {"message": format!("Invalid key: {echoed}"), "code": 401}});
        http("401 Unauthorized", &[("content-type", "application/json")], &body.to_string())
    })
    .await;
    let home = tempfile::tempdir().unwrap();
    for args in [&["ask", "-m", "m", "q"][..], &["ask", "--json", "-m", "m", "q"][..]] {
        let mut cmd = command(home.path(), &server.base_url(), args);
        cmd.env("ROUNDTABLE_LOG", "debug");
        let o = run_cmd(cmd).await;
        let out = text(&o);
        assert_eq!(o.status.code(), Some(1), "{out}");
        assert!(out.contains("Invalid key"), "{out}");
        assert!(!out.contains("CANARYNONSK"), "the key leaked: {out}");
    }
    for entry in walk(home.path()) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        assert!(!bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes()), "the key is in {}", entry.display());
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Item 16: a request is in the ledger from the moment it is sent; killing `ask` mid-stream
/// leaves it pending, and the next start marks it interrupted.
#[tokio::test]
async fn a_killed_ask_leaves_an_interrupted_ledger_row() {
    let first = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nx-generation-id: gen-killed-1\r\n\r\n{}",
        delta("Half an answer", None)
    );
    let server = upstream(move |_, _| Reply::Endless { head: first.clone().into_bytes(), chunk: Vec::new() }).await;
    let home = tempfile::tempdir().unwrap();
    let mut cmd = command(home.path(), &server.base_url(), &["ask", "--json", "-m", "m", "q"]);
    cmd.stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("ask starts");
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    let mut seen = Vec::new();
    loop {
        seen.push(line.clone());
        line.clear();
        let n = tokio::time::timeout(
            Duration::from_secs(30),
            tokio::io::AsyncBufReadExt::read_line(&mut stdout, &mut line),
        )
        .await
        .unwrap_or_else(|_| panic!("no delta line in time; so far {seen:?}"))
        .expect("read");
        assert!(n > 0, "ask ended before streaming");
        if line.contains("\"delta\"") {
            break;
        }
    }
    // Let the writer thread commit the generation id, then kill without any chance to clean up.
    tokio::time::sleep(Duration::from_millis(500)).await;
    child.start_kill().expect("SIGKILL");
    let _ = child.wait().await;

    let db = roundtable::core::store::db_path(&home.path().join("data"));
    let row = |db: &Path| -> (String, Option<String>, Option<String>) {
        let conn = rusqlite::Connection::open(db).unwrap();
        conn.query_row("SELECT status, error_kind, generation_id FROM ledger", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap()
    };
    assert_eq!(row(&db), ("pending".to_owned(), None, Some("gen-killed-1".to_owned())));
    let fine = upstream(|_, _| sse(&delta("ok", Some("stop")))).await;
    let o = run(home.path(), &fine.base_url(), &["ask", "--json", "-m", "other", "q"]).await;
    assert!(o.status.success(), "{}", text(&o));
    let conn = rusqlite::Connection::open(&db).unwrap();
    let killed: (String, Option<String>) = conn
        .query_row("SELECT status, error_kind FROM ledger WHERE requested_model = 'm'", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(killed, ("error".to_owned(), Some("interrupted".to_owned())));
}

/// Item 12: Ctrl+C (SIGINT) ends `ask` while a server floods one line that never ends (the
/// answer and line bounds set far away, so only the signal can stop it).
#[cfg(unix)]
#[tokio::test]
async fn sigint_ends_a_flooding_stream() {
    let server = upstream(|_, _| Reply::Endless {
        head:
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\ndata: {\"choices\":[{\"delta\":{\"content\":\""
                .to_vec(),
        chunk: vec![b'z'; 64 * 1024],
    })
    .await;
    let home = home_with_config("[limits]\nmax_answer_bytes = 4294967296\n");
    let mut cmd = command(home.path(), &server.base_url(), &["ask", "--json", "-m", "m", "q"]);
    cmd.stdout(std::process::Stdio::piped());
    let child = cmd.spawn().expect("ask starts");
    let pid = child.id().expect("pid");
    // Wait until the flood is under way.
    while server.count("/chat/completions") == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let status = std::process::Command::new("kill").args(["-INT", &pid.to_string()]).status().expect("kill runs");
    assert!(status.success());
    let o = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("ask ends after SIGINT")
        .expect("output");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(last_of(&o, "cancelled")["type"], "cancelled");
}

/// Item 16: the cost of a request a killed process left in flight is fetched on the next start
/// (OpenRouter keeps a record of it), so the ledger holds what was billed.
#[tokio::test]
async fn an_interrupted_request_gets_its_cost_on_the_next_start() {
    use roundtable::sim::{SimConfig, SimServer};
    let sim = SimServer::start(SimConfig { generation_lag: Duration::from_millis(50), ..SimConfig::default() }, 0)
        .await
        .expect("simulator");
    let home = tempfile::tempdir().unwrap();
    let slow = "openai/gpt-4o-mini@tokens=5000@tps=20@ttft=0";
    let mut cmd = command(home.path(), &sim.base_url(), &["ask", "--json", "-m", slow, "q"]);
    cmd.env("OPENROUTER_API_KEY", common::TEST_KEY).stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("ask starts");
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    while !line.contains("\"delta\"") {
        line.clear();
        let n = tokio::time::timeout(
            Duration::from_secs(30),
            tokio::io::AsyncBufReadExt::read_line(&mut stdout, &mut line),
        )
        .await
        .expect("a delta in time")
        .expect("read");
        assert!(n > 0, "ask ended before streaming");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    child.start_kill().expect("SIGKILL");
    let _ = child.wait().await;
    // The server notices the client is gone and records what it generated.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut again = command(home.path(), &sim.base_url(), &["ask", "--json", "-m", "openai/gpt-4o-mini@tokens=5", "q"]);
    again.env("OPENROUTER_API_KEY", common::TEST_KEY);
    let o = run_cmd(again).await;
    assert!(o.status.success(), "{}", text(&o));
    let db = roundtable::core::store::db_path(&home.path().join("data"));
    let conn = rusqlite::Connection::open(&db).unwrap();
    let (kind, cost, source): (Option<String>, Option<String>, String) = conn
        .query_row("SELECT error_kind, cost_usd, cost_source FROM ledger WHERE requested_model = ?1", [slow], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!(kind.as_deref(), Some("interrupted"));
    assert!(cost.is_some() && source == "reported", "cost {cost:?} from {source}");
    sim.shutdown().await;
}

/// Seen with llama.cpp's server (scripts/try-real-servers.sh): an answer stopped by
/// `max_tokens` (`finish_reason: "length"`) printed like a whole one. It is a success, but it
/// says it was cut, in the answer and in the table.
#[tokio::test]
async fn an_answer_stopped_at_the_token_limit_says_it_was_cut() {
    let server = upstream(|_, _| {
        sse(&format!(
            "{}{}data: [DONE]\n\n",
            delta("In the sleepy town of", None),
            delta(" Ravenshire", Some("length"))
        ))
    })
    .await;
    let home = tempfile::tempdir().unwrap();
    let o = run(home.path(), &server.base_url(), &["ask", "-m", "m", "--max-tokens", "8", "q"]).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("In the sleepy town of Ravenshire\n✂ cut: the answer reached its token limit"), "{out}");
    assert!(out.contains("cut (length)"), "{out}");
    let o = run(home.path(), &server.base_url(), &["ask", "--json", "-m", "m", "--max-tokens", "8", "q"]).await;
    assert_eq!(last_of(&o, "done")["finish_reason"], "length", "{}", text(&o));
    // A whole answer says nothing of the kind.
    let server = upstream(|_, _| sse(&format!("{}data: [DONE]\n\n", delta("Whole.", Some("stop"))))).await;
    let o = run(home.path(), &server.base_url(), &["ask", "-m", "m", "q"]).await;
    assert!(!text(&o).contains("cut"), "{}", text(&o));
}

/// Seen with llama.cpp's server: `--base-url` at a local server and no key set said to try
/// the built-in simulator with `--base-url`, which the user was already using. The message
/// names the server, and the keyless providers that reach a local server without a key.
#[tokio::test]
async fn a_missing_key_for_another_server_names_it_and_the_keyless_way() {
    let server = upstream(|_, _| sse(&delta("never asked", Some("stop")))).await;
    let home = tempfile::tempdir().unwrap();
    let mut cmd = command(home.path(), &server.base_url(), &["ask", "-m", "smollm2", "q"]);
    cmd.env_remove("OPENROUTER_API_KEY");
    let o = run_cmd(cmd).await;
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let host = format!("127.0.0.1:{}", server.port);
    assert!(out.contains(&format!("whose requests go to {host}")), "{out}");
    assert!(out.contains("OPENROUTER_API_KEY") && out.contains("-m llamacpp:MODEL"), "{out}");
    assert!(!out.contains("simulator"), "{out}");
    assert_eq!(server.count("/chat/completions"), 0);
}
