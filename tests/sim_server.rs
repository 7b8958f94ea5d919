//! Loopback tests of the OpenRouter simulator (`roundtable::sim`).

use std::str::FromStr;
use std::time::Duration;

use roundtable::sim::{SimConfig, SimServer};
use rust_decimal::Decimal;
use serde_json::{Value, json};

const KEY: &str = "sk-or-v1-test0000000000000000000000000000";

async fn start(config: SimConfig) -> SimServer {
    match SimServer::start(config, 0).await {
        Ok(s) => s,
        Err(e) => panic!("sim start: {e}"),
    }
}

fn client() -> reqwest::Client {
    // reqwest is built with `rustls-no-provider`: install ring once (plain http needs none of it).
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

fn body(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "messages": [
        {"role": "system", "content": "Be helpful."},
        {"role": "user", "content": "How do I speed up a slow SQL query?"}]})
}

async fn post(sim: &SimServer, key: Option<&str>, body: &Value) -> reqwest::Response {
    let mut rb = client()
        .post(format!("{}/chat/completions", sim.base_url()))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(k) = key {
        rb = rb.header("authorization", format!("Bearer {k}"));
    }
    rb.send().await.expect("send")
}

async fn get(sim: &SimServer, path: &str, key: Option<&str>) -> (u16, Value) {
    let mut rb = client().get(format!("{}{path}", sim.base_url()));
    if let Some(k) = key {
        rb = rb.header("authorization", format!("Bearer {k}"));
    }
    let resp = rb.send().await.expect("send");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("text");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// `data:` payloads of an SSE body, `[DONE]` excluded.
fn events(sse: &str) -> Vec<Value> {
    sse.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).expect("chunk is JSON"))
        .collect()
}

fn content(evs: &[Value]) -> String {
    evs.iter().filter_map(|e| e["choices"][0]["delta"]["content"].as_str()).collect()
}

/// The raw text of the `"cost":` number in the usage chunk (no float round trip).
fn raw_cost(sse: &str) -> Decimal {
    let i = sse.find("\"usage\":").expect("usage");
    let rest = &sse[i..];
    let j = rest.find("\"cost\":").expect("cost") + 7;
    let end = rest[j..].find(',').expect("comma") + j;
    Decimal::from_str(&rest[j..end]).expect("decimal cost")
}

fn normalize(sse: &str, id: &str) -> String {
    let s = sse.replace(id, "ID");
    let mut out = String::new();
    for part in s.split("\"created\":") {
        if out.is_empty() && !s.starts_with("\"created\":") {
            out.push_str(part);
        } else {
            out.push_str("\"created\":N");
            out.push_str(part.trim_start_matches(|c: char| c.is_ascii_digit()));
        }
    }
    out
}

#[tokio::test]
async fn stream_shape_cost_and_determinism() {
    let sim = start(SimConfig::default()).await;
    let req = body("openai/gpt-4o-mini@ttft=0@tps=0@tokens=300", true);
    let mut bodies = Vec::new();
    for _ in 0..2 {
        let resp = post(&sim, Some(KEY), &req).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        let id = resp.headers()["x-generation-id"].to_str().expect("ascii").to_string();
        let parts: Vec<&str> = id.splitn(3, '-').collect();
        assert_eq!(parts[0], "gen");
        assert!(parts[1].parse::<u64>().is_ok());
        assert!(parts[2].len() == 20 && parts[2].chars().all(|c| c.is_ascii_alphanumeric()));
        let text = resp.text().await.expect("body");
        assert!(text.starts_with(": OPENROUTER PROCESSING\n\n"));
        assert!(text.ends_with("data: [DONE]\n\n"));
        let evs = events(&text);
        for e in &evs {
            assert_eq!(e["id"], id.as_str());
            assert_eq!(e["object"], "chat.completion.chunk");
            assert_eq!(e["model"], "openai/gpt-4o-mini");
            if let Some(c) = e["choices"].as_array().and_then(|c| c.first()) {
                assert_eq!(c["delta"]["role"], "assistant");
            }
        }
        assert!(text.contains("{\"id\":\"gen-") && text.contains("\"provider\":\"OpenAI\",\"model\":"));
        let finish = &evs[evs.len() - 2]["choices"][0];
        assert_eq!(finish["finish_reason"], "stop");
        assert_eq!(finish["delta"]["content"], "");
        let usage = &evs[evs.len() - 1]["usage"];
        assert_eq!(usage["completion_tokens"], 300);
        let prompt = usage["prompt_tokens"].as_u64().expect("prompt tokens");
        assert_eq!(usage["total_tokens"].as_u64(), Some(prompt + 300));
        assert_eq!(usage["is_byok"], false);
        assert_eq!(usage["prompt_tokens_details"]["cached_tokens"], 0);
        assert_eq!(usage["completion_tokens_details"]["reasoning_tokens"], 0);
        let expected = Decimal::from(prompt) * Decimal::from_str("0.00000015").expect("d")
            + Decimal::from(300u32) * Decimal::from_str("0.0000006").expect("d");
        assert_eq!(raw_cost(&text), expected);
        let answer = content(&evs);
        assert!(answer.contains("```"), "has a code block");
        bodies.push(normalize(&text, &id));
    }
    assert_eq!(bodies[0], bodies[1], "same request, same bytes");
    sim.shutdown().await;
}

#[tokio::test]
async fn non_stream_json_directive_and_max_tokens() {
    let sim = start(SimConfig { default_ttft_ms: Some(0), default_tps: Some(0.0), ..SimConfig::default() }).await;
    for (model, stream) in [("anthropic/claude-haiku-4.5@tokens=50", false), ("b@json@tokens=50", true)] {
        let resp = post(&sim, Some(KEY), &body(model, stream)).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "application/json");
        assert!(resp.headers().contains_key("x-generation-id"));
        let v: Value = serde_json::from_str(&resp.text().await.expect("text")).expect("json");
        assert_eq!(v["object"], "chat.completion");
        assert_eq!(v["choices"][0]["finish_reason"], "stop");
        assert_eq!(v["usage"]["completion_tokens"], 50);
        assert!(v["choices"][0]["message"]["content"].as_str().is_some_and(|c| !c.is_empty()));
    }
    let mut req = body("a@tokens=100", true);
    req["max_tokens"] = json!(7);
    let text = post(&sim, Some(KEY), &req).await.text().await.expect("text");
    let evs = events(&text);
    assert_eq!(evs[evs.len() - 2]["choices"][0]["finish_reason"], "length");
    assert_eq!(evs[evs.len() - 1]["usage"]["completion_tokens"], 7);
    sim.shutdown().await;
}

#[tokio::test]
async fn auth_and_bad_json() {
    let sim = start(SimConfig::default()).await;
    let resp = post(&sim, None, &body("a", false)).await;
    assert_eq!(resp.status(), 401);
    let v: Value = serde_json::from_str(&resp.text().await.expect("t")).expect("json");
    assert_eq!(v, json!({"error": {"message": "No auth credentials found", "code": 401}}));
    let resp = client()
        .post(format!("{}/chat/completions", sim.base_url()))
        .header("authorization", format!("Bearer {KEY}"))
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 400);
    let v: Value = serde_json::from_str(&resp.text().await.expect("t")).expect("json");
    assert_eq!(v["error"]["code"], 400);
    assert_eq!(get(&sim, "/key", None).await.0, 401);
    sim.shutdown().await;
}

#[tokio::test]
async fn failure_directives() {
    let sim = start(SimConfig::default()).await;
    let cases: &[(&str, u16, &str)] = &[
        ("401", 401, "User not found."),
        ("402", 402, "Insufficient credits"),
        ("402-key", 402, "openrouter_key_limit"),
        ("403", 403, "\"reasons\":[\"violence\"]"),
        ("404-policy", 404, "matching your data policy"),
        ("404-tools", 404, "support tool use"),
        ("400-model", 400, "model_not_found"),
        ("429-rpm", 429, "free-models-per-min"),
        ("429-day", 429, "free-models-per-day"),
        ("429-upstream", 429, "temporarily rate-limited upstream"),
        ("500", 500, "Internal Server Error"),
        ("502", 502, "Provider returned error"),
        ("503", 503, "provider_overloaded"),
        ("html", 502, "<html>"),
        ("garbage", 500, "upstream_reset"),
    ];
    for &(d, status, needle) in cases {
        let resp = post(&sim, Some(KEY), &body(&format!("openai/gpt-4o@{d}"), true)).await;
        assert_eq!(resp.status().as_u16(), status, "{d}");
        assert!(resp.headers().contains_key("x-generation-id"));
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("t");
        assert!(text.contains(needle), "{d}: {text}");
        let parsed = serde_json::from_str::<Value>(&text);
        match d {
            "html" => assert!(headers["content-type"].to_str().is_ok_and(|c| c.starts_with("text/html"))),
            "garbage" => assert!(parsed.is_err()),
            _ => assert_eq!(parsed.expect("json")["error"]["code"].as_u64(), Some(u64::from(status)), "{d}"),
        }
        if d.starts_with("429-") && d != "429-upstream" {
            let reset: i64 = headers["x-ratelimit-reset"].to_str().expect("s").parse().expect("ms");
            let period = if d == "429-rpm" { 60_000 } else { 86_400_000 };
            assert_eq!(reset % period, 0, "{d}");
            assert!(reset > 1_700_000_000_000);
            assert_eq!(headers["x-ratelimit-remaining"], "0");
            assert!(text.contains(&format!("\"X-RateLimit-Reset\":\"{reset}\"")));
        }
        if d == "429-upstream" {
            assert_eq!(headers["retry-after"], "18");
        }
    }
    let resp = post(&sim, Some(KEY), &body("a@empty", false)).await;
    assert_eq!(resp.status(), 500);
    assert!(resp.bytes().await.expect("b").is_empty());
    let st = sim.stats();
    assert_eq!(st.directive_errors, cases.len() as u64 + 1);
    assert_eq!(st.rate_limited_rpm + st.rate_limited_daily, 0, "directives are not limiter 429s");
    assert_eq!(st.status_429, 3);
    sim.shutdown().await;
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

#[tokio::test]
async fn free_tier_per_minute_and_daily() {
    // The window is the wall-clock minute: keep the burst away from a boundary.
    if now_ms() % 60_000 > 50_000 {
        tokio::time::sleep(Duration::from_millis((60_000 - now_ms() % 60_000 + 100) as u64)).await;
    }
    let sim = start(SimConfig {
        default_ttft_ms: Some(0),
        default_tps: Some(0.0),
        default_tokens: Some(5),
        ..SimConfig::default()
    })
    .await;
    let free = body("meta-llama/llama-3.2-3b-instruct:free", false);
    for i in 0..20 {
        let resp = post(&sim, Some("k-rpm"), &free).await;
        assert_eq!(resp.status(), 200, "request {i}");
        let v: Value = serde_json::from_str(&resp.text().await.expect("t")).expect("json");
        assert_eq!(v["usage"]["cost"], 0);
    }
    let resp = post(&sim, Some("k-rpm"), &free).await;
    assert_eq!(resp.status(), 429);
    let reset: i64 = resp.headers()["x-ratelimit-reset"].to_str().expect("s").parse().expect("ms");
    assert_eq!(resp.headers()["x-ratelimit-limit"], "20");
    assert_eq!(reset % 60_000, 0);
    assert!(reset > now_ms() && reset <= now_ms() + 60_000);
    let v: Value = serde_json::from_str(&resp.text().await.expect("t")).expect("json");
    assert_eq!(v["error"]["message"], "Rate limit exceeded: free-models-per-min. ");
    assert_eq!(v["error"]["metadata"]["headers"]["X-RateLimit-Reset"], reset.to_string());
    // Paid models are not limited.
    assert_eq!(post(&sim, Some("k-rpm"), &body("openai/gpt-4o-mini", false)).await.status(), 200);

    let (status, key) = get(&sim, "/key", Some("k-day")).await;
    assert_eq!(status, 200);
    assert_eq!(key["data"]["free_model_daily_requests"], json!({"used": 0, "limit": 50, "remaining": 50}));
    sim.set_free_used("k-day", 49);
    assert_eq!(post(&sim, Some("k-day"), &free).await.status(), 200);
    let resp = post(&sim, Some("k-day"), &free).await;
    assert_eq!(resp.status(), 429);
    let reset: i64 = resp.headers()["x-ratelimit-reset"].to_str().expect("s").parse().expect("ms");
    assert_eq!(reset % 86_400_000, 0);
    let v: Value = serde_json::from_str(&resp.text().await.expect("t")).expect("json");
    assert_eq!(v["error"]["metadata"]["limit_source"], "openrouter_free_tier_daily");
    let (_, key) = get(&sim, "/key", Some("k-day")).await;
    assert_eq!(key["data"]["free_model_daily_requests"], json!({"used": 50, "limit": 50, "remaining": 0}));
    assert!(key["data"]["label"].as_str().is_some_and(|l| l.contains("...")));

    let st = sim.stats();
    assert_eq!((st.rate_limited_rpm, st.rate_limited_daily, st.status_429), (1, 1, 2));
    assert_eq!(st.free_requests, 23);
    sim.shutdown().await;
}

#[tokio::test]
async fn generation_lookup_after_lag() {
    let sim = start(SimConfig { generation_lag: Duration::from_millis(300), ..SimConfig::default() }).await;
    let resp = post(&sim, Some(KEY), &body("openai/gpt-4o-mini@ttft=0@tps=0@tokens=12", true)).await;
    let id = resp.headers()["x-generation-id"].to_str().expect("s").to_string();
    let text = resp.text().await.expect("t");
    let cost = raw_cost(&text);
    let (status, v) = get(&sim, &format!("/generation?id={id}"), Some(KEY)).await;
    assert_eq!(status, 404);
    assert_eq!(v["error"]["message"], "Generation not found");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (status, v) = get(&sim, &format!("/generation?id={id}"), Some(KEY)).await;
    assert_eq!(status, 200, "{v}");
    let d = &v["data"];
    assert_eq!(d["id"], id.as_str());
    assert_eq!(d["model"], "openai/gpt-4o-mini");
    assert_eq!(d["provider_name"], "OpenAI");
    assert_eq!(d["native_tokens_completion"], 12);
    assert_eq!(d["streamed"], true);
    assert_eq!(d["cancelled"], false);
    assert_eq!(Decimal::from_str(&d["total_cost"].to_string()).expect("d"), cost);
    assert_eq!(get(&sim, "/generation?id=gen-1-nope", Some(KEY)).await.0, 404);
    let (status, models) = get(&sim, "/models", None).await;
    assert_eq!(status, 200);
    assert!(models["data"].as_array().is_some_and(|m| m.len() > 10));
    let (status, credits) = get(&sim, "/credits", Some(KEY)).await;
    assert_eq!(status, 200);
    assert_eq!(Decimal::from_str(&credits["data"]["total_usage"].to_string()).expect("d"), cost);
    sim.shutdown().await;
}

#[tokio::test]
async fn drop_midstream_stall() {
    let sim = start(SimConfig::default()).await;
    let resp = post(&sim, Some(KEY), &body("a@ttft=0@tps=0@drop", true)).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.bytes().await.is_err(), "dropped connection must be a body error");

    let text = post(&sim, Some(KEY), &body("a@ttft=0@tps=0@midstream", true)).await.text().await.expect("t");
    assert!(!text.contains("[DONE]"));
    let evs = events(&text);
    let last = evs.last().expect("events");
    assert_eq!(last["error"]["code"], 502);
    assert_eq!(last["choices"][0]["finish_reason"], "error");
    assert!(!content(&evs).is_empty());

    let mut resp = post(&sim, Some(KEY), &body("a@ttft=0@tps=0@stall", true)).await;
    let mut got = Vec::new();
    let r = tokio::time::timeout(Duration::from_millis(300), async {
        while let Ok(Some(chunk)) = resp.chunk().await {
            got.extend_from_slice(&chunk);
        }
    })
    .await;
    assert!(r.is_err(), "stalled stream must not end");
    assert!(String::from_utf8_lossy(&got).contains("\"content\""));
    drop(resp);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let st = sim.stats();
    assert_eq!(st.interrupted, 2, "drop and stall (midstream is a completed delivery)");
    assert_eq!(st.in_flight, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn pacing_keepalive_and_framing_directives() {
    let sim = start(SimConfig::default()).await;
    let t0 = std::time::Instant::now();
    let text = post(&sim, Some(KEY), &body("x@ttft=1200@tps=100@tokens=20", true)).await.text().await.expect("t");
    let elapsed = t0.elapsed();
    assert!(elapsed >= Duration::from_millis(1300), "{elapsed:?}");
    assert!(text.starts_with(": OPENROUTER PROCESSING\n\n: OPENROUTER PROCESSING\n\ndata: "));

    let text = post(&sim, Some(KEY), &body("x@ttft=0@tps=0@tokens=10@crlf@nousage@nodone", true))
        .await
        .text()
        .await
        .expect("t");
    assert!(text.contains("\r\n\r\n") && !text.contains("[DONE]") && !text.contains("\"usage\""));
    assert!(!text.replace("\r\n", "").contains('\n') || text.contains("\\n"));

    let text = post(&sim, Some(KEY), &body("z-ai/glm-4.5-air:free@ttft=0@tps=0@reasoning@tokens=30", true))
        .await
        .text()
        .await
        .expect("t");
    let evs = events(&text);
    assert!(evs[0]["choices"][0]["delta"]["reasoning"].is_string());
    assert_eq!(evs[0]["choices"][0]["delta"]["reasoning_details"][0]["type"], "reasoning.text");
    let usage = &evs[evs.len() - 1]["usage"];
    let r = usage["completion_tokens_details"]["reasoning_tokens"].as_u64().expect("r");
    assert!(r > 0);
    assert_eq!(usage["completion_tokens"].as_u64(), Some(30 + r));
    sim.shutdown().await;
}

fn tool_body(model: &str, extra: Vec<Value>) -> Value {
    let mut messages = vec![json!({"role": "user", "content": "What is 17*23, and the time in Tokyo?"})];
    messages.extend(extra);
    json!({"model": model, "stream": true, "messages": messages, "tools": [
        {"type": "function", "function": {"name": "calculator", "parameters": {"type": "object",
            "properties": {"expression": {"type": "string"}}, "required": ["expression"]}}},
        {"type": "function", "function": {"name": "current_time", "parameters": {"type": "object",
            "properties": {"timezone": {"type": "string"}}, "required": ["timezone"]}}}]})
}

/// (index → (id, name, arguments)) accumulated from tool-call deltas.
fn calls(evs: &[Value]) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = Vec::new();
    for e in evs {
        for tc in e["choices"][0]["delta"]["tool_calls"].as_array().into_iter().flatten() {
            let idx = tc["index"].as_u64().map_or(out.len(), |i| i as usize);
            if out.len() <= idx {
                out.push(Default::default());
            }
            let slot = &mut out[idx];
            if let Some(id) = tc["id"].as_str() {
                slot.0 = id.to_string();
            }
            if let Some(n) = tc["function"]["name"].as_str() {
                slot.1 = n.to_string();
            }
            slot.2.push_str(tc["function"]["arguments"].as_str().unwrap_or(""));
        }
    }
    out
}

#[tokio::test]
async fn tool_scripts() {
    let sim = start(SimConfig { default_ttft_ms: Some(0), default_tps: Some(0.0), ..SimConfig::default() }).await;
    let text =
        post(&sim, Some(KEY), &tool_body("openai/gpt-4o-mini@tools-parallel", vec![])).await.text().await.expect("t");
    let evs = events(&text);
    let c = calls(&evs);
    assert_eq!(c.len(), 2);
    assert_eq!((c[0].1.as_str(), c[0].2.as_str()), ("calculator", r#"{"expression":"17*23"}"#));
    assert_eq!((c[1].1.as_str(), c[1].2.as_str()), ("current_time", r#"{"timezone":"Asia/Tokyo"}"#));
    assert_eq!(evs[evs.len() - 2]["choices"][0]["finish_reason"], "tool_calls");

    // Chain: call, tool result, second call, tool result, final text quoting both.
    let mut history = Vec::new();
    for (round, result) in ["391", "10:47 JST"].iter().enumerate() {
        let text = post(&sim, Some(KEY), &tool_body("m@tools-chain", history.clone())).await.text().await.expect("t");
        let c = calls(&events(&text));
        assert_eq!(c.len(), 1, "round {round}");
        history.push(json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": c[0].0, "type": "function", "function": {"name": c[0].1, "arguments": c[0].2}}]}));
        history.push(json!({"role": "tool", "tool_call_id": c[0].0, "content": result}));
    }
    let text = post(&sim, Some(KEY), &tool_body("m@tools-chain", history)).await.text().await.expect("t");
    let evs = events(&text);
    assert!(calls(&evs).is_empty());
    let answer = content(&evs);
    assert!(answer.contains("391") && answer.contains("10:47 JST"), "{answer}");

    let text = post(&sim, Some(KEY), &tool_body("m@tools-bad-args", vec![])).await.text().await.expect("t");
    assert!(serde_json::from_str::<Value>(&calls(&events(&text))[0].2).is_err());
    let text = post(&sim, Some(KEY), &tool_body("m@tools-unknown", vec![])).await.text().await.expect("t");
    let name = calls(&events(&text))[0].1.clone();
    assert!(name != "calculator" && name != "current_time");
    let text = post(&sim, Some(KEY), &tool_body("google/gemini-2.5-flash@tools-gemini", vec![]))
        .await
        .text()
        .await
        .expect("t");
    let evs = events(&text);
    let tc = evs.iter().find_map(|e| e["choices"][0]["delta"]["tool_calls"].get(0).cloned()).expect("call");
    assert!(tc.get("index").is_none());
    assert!(tc["extra_content"]["google"]["thought_signature"].is_string());
    assert_eq!(tc["function"]["arguments"], r#"{"expression":"17*23"}"#);
    // Without `tools` in the request the directive is ignored.
    let text = post(&sim, Some(KEY), &body("m@tools@tokens=20", true)).await.text().await.expect("t");
    assert!(calls(&events(&text)).is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn eight_big_unlimited_streams() {
    let sim = start(SimConfig::default()).await;
    let t0 = std::time::Instant::now();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let req = body(&format!("m{i}@tokens=20000@tps=0@ttft=0"), true);
        let url = format!("{}/chat/completions", sim.base_url());
        tasks.push(tokio::spawn(async move {
            let resp = client()
                .post(url)
                .header("authorization", format!("Bearer {KEY}"))
                .body(req.to_string())
                .send()
                .await
                .expect("send");
            resp.text().await.expect("text")
        }));
    }
    for t in tasks {
        let text = t.await.expect("join");
        let evs = events(&text);
        assert_eq!(evs[evs.len() - 1]["usage"]["completion_tokens"], 20000);
    }
    assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", t0.elapsed());
    let st = sim.stats();
    assert_eq!((st.completed, st.max_in_flight >= 1), (8, true));
    sim.shutdown().await;
}
