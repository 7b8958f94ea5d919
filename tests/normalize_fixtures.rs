//! Feeds every streaming fixture (and the non-streamed body) through the per-backend normalizer
//! and checks the exact results listed in `tests/fixtures/README` of the reference.

use std::path::PathBuf;
use std::str::FromStr;

use roundtable::core::error::ErrorKind;
use roundtable::core::protocol::{FinishReason, ToolCall, Usage};
use roundtable::core::provider::ProviderKind;
use roundtable::core::provider::normalize::{Piece, StreamNormalizer, pieces_from_completion};
use rust_decimal::Decimal;

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Test-only SSE splitter: `data:` lines joined per event, comments and `[DONE]` skipped.
fn events(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut data: Vec<&str> = Vec::new();
    for line in body.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)) {
        if line.is_empty() {
            if !data.is_empty() {
                out.push(data.join("\n"));
                data.clear();
            }
        } else if let Some(rest) = line.strip_prefix("data:") {
            data.push(rest.strip_prefix(' ').unwrap_or(rest));
        }
    }
    if !data.is_empty() {
        out.push(data.join("\n"));
    }
    out.retain(|d| d != "[DONE]");
    out
}

/// What a caller folds out of the pieces.
#[derive(Debug, Default)]
struct Folded {
    text: String,
    reasoning: String,
    finish: Option<(FinishReason, Option<String>)>,
    usage: Option<Usage>,
    generation_id: Option<String>,
    model: Option<String>,
    upstream_provider: Option<String>,
    errors: Vec<roundtable::core::error::CoreError>,
    fragments: usize,
    tool_calls: Vec<ToolCall>,
}

fn fold(pieces: impl IntoIterator<Item = Piece>, f: &mut Folded) {
    for p in pieces {
        match p {
            Piece::Meta { generation_id, model, upstream_provider } => {
                f.generation_id = f.generation_id.take().or(generation_id);
                f.model = f.model.take().or(model);
                f.upstream_provider = f.upstream_provider.take().or(upstream_provider);
            }
            Piece::Text(t) => f.text.push_str(&t),
            Piece::Reasoning(t) => f.reasoning.push_str(&t),
            Piece::ToolFragment { .. } => f.fragments += 1,
            Piece::Finish { reason, native } => {
                f.finish.get_or_insert((reason, native));
            }
            Piece::Usage(u) => f.usage = Some(u),
            Piece::Error(e) => f.errors.push(e),
        }
    }
}

fn run_events(kind: ProviderKind, events: &[String]) -> Folded {
    let mut n = StreamNormalizer::new(kind);
    let mut f = Folded::default();
    for e in events {
        let pieces = n.feed(e).unwrap_or_else(|err| panic!("{e}: {err}"));
        fold(pieces, &mut f);
    }
    f.tool_calls = n.tool_calls();
    f
}

fn run(kind: ProviderKind, name: &str) -> Folded {
    run_events(kind, &events(&fixture(name)))
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn usage(prompt: u64, completion: u64, total: u64) -> Usage {
    Usage { prompt_tokens: prompt, completion_tokens: completion, total_tokens: total, ..Usage::default() }
}

#[test]
fn openrouter_basic() {
    let f = run(ProviderKind::Openrouter, "openrouter-stream-basic.sse");
    assert_eq!(f.text, "Hello! How can I help you today?");
    assert_eq!(f.reasoning, "");
    assert_eq!(f.finish, Some((FinishReason::Stop, Some("stop".into()))));
    assert_eq!(f.usage, Some(Usage { reported_cost: Some(dec("0.0000072")), ..usage(12, 9, 21) }));
    assert_eq!(f.generation_id.as_deref(), Some("gen-1787651400-Tq4mW8zR1cY6bN2kP0xL"));
    assert_eq!(f.model.as_deref(), Some("openai/gpt-4o-mini"));
    assert_eq!(f.upstream_provider.as_deref(), Some("OpenAI"));
    assert!(f.errors.is_empty() && f.tool_calls.is_empty());
}

#[test]
fn crlf_framing_gives_the_same_result() {
    let crlf = fixture("openrouter-stream-basic.sse").replace('\n', "\r\n");
    let f = run_events(ProviderKind::Openrouter, &events(&crlf));
    assert_eq!(f.text, "Hello! How can I help you today?");
    assert_eq!(f.usage.map(|u| u.total_tokens), Some(21));
}

#[test]
fn meta_is_emitted_once_per_change() {
    let mut n = StreamNormalizer::new(ProviderKind::Openrouter);
    let metas: usize = events(&fixture("openrouter-stream-basic.sse"))
        .iter()
        .flat_map(|e| n.feed(e).unwrap())
        .filter(|p| matches!(p, Piece::Meta { .. }))
        .count();
    assert_eq!(metas, 1);
}

#[test]
fn openrouter_keepalive_and_documented_usage_chunk() {
    let f = run(ProviderKind::Openrouter, "openrouter-stream-with-usage-and-keepalive.sse");
    assert_eq!(
        f.text,
        "Short wavelengths (blue and violet) scatter far more strongly off air molecules (Rayleigh scattering), so blue light reaches your eyes from every direction of the sky."
    );
    assert_eq!(f.finish, Some((FinishReason::Stop, Some("end_turn".into()))));
    assert_eq!(
        f.usage,
        Some(Usage { cached_tokens: 1800, reported_cost: Some(dec("0.00068")), ..usage(2100, 40, 2140) })
    );
}

#[test]
fn openrouter_midstream_error() {
    let f = run(ProviderKind::Openrouter, "openrouter-stream-midstream-error.sse");
    assert_eq!(f.text, "Here is a three-step plan:\n\n1. Measure the");
    assert_eq!(f.errors.len(), 1);
    let e = &f.errors[0];
    assert_eq!(e.kind, ErrorKind::MidStream);
    assert_eq!(e.status, Some(502));
    assert!(e.message.contains("partial answer"), "{}", e.message);
    assert_eq!(e.upstream_message.as_deref(), Some("Provider disconnected unexpectedly"));
    assert_eq!(f.finish, Some((FinishReason::Error, Some("error".into()))));
    assert_eq!(f.usage, None);
}

#[test]
fn openrouter_tool_calls() {
    let f = run(ProviderKind::Openrouter, "openrouter-stream-tool-call.sse");
    assert_eq!(f.text, "");
    assert_eq!(f.fragments, 7);
    assert_eq!(f.finish, Some((FinishReason::ToolCalls, Some("tool_calls".into()))));
    let calls = &f.tool_calls;
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].id, "call_Qw3eRt5yUi7oPa9sDf1gHj2k");
    assert_eq!(calls[0].name, "get_weather");
    assert_eq!(calls[0].arguments, r#"{"city":"Oslo"}"#);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&calls[0].arguments).unwrap(),
        serde_json::json!({"city": "Oslo"})
    );
    assert_eq!(calls[1].id, "call_Zx8cVb6nM4lK2jH0gF9dS7aP");
    assert_eq!(calls[1].name, "get_time");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&calls[1].arguments).unwrap(),
        serde_json::json!({"tz": "Europe/Oslo"})
    );
    assert!(calls.iter().all(|c| c.thought_signature.is_none()));
    assert_eq!(f.usage, Some(Usage { reported_cost: Some(dec("0.0000378")), ..usage(88, 41, 129) }));
}

#[test]
fn openrouter_reasoning_is_not_duplicated() {
    let f = run(ProviderKind::Openrouter, "openrouter-stream-reasoning.sse");
    assert_eq!(
        f.reasoning,
        "The user asks how many r's are in \"strawberry\". s-t-r-a-w-b-e-r-r-y: r at positions 3, 8, 9. That is 3."
    );
    assert_eq!(f.text, "There are **3** r's in \"strawberry\".");
    assert_eq!(f.usage, Some(Usage { reasoning_tokens: 41, reported_cost: Some(Decimal::ZERO), ..usage(14, 58, 72) }));
    assert_eq!(f.finish.map(|f| f.0), Some(FinishReason::Stop));
    assert_eq!(f.model.as_deref(), Some("z-ai/glm-4.5-air:free"));
}

#[test]
fn openai_include_usage() {
    let f = run(ProviderKind::Openai, "openai-stream-include-usage.sse");
    assert_eq!(f.text, "Hello! How can I help?");
    assert_eq!(f.finish, Some((FinishReason::Stop, None)));
    assert_eq!(f.usage, Some(usage(12, 6, 18)));
    assert_eq!(f.upstream_provider, None);
}

#[test]
fn gemini_hidden_thinking_tokens() {
    let f = run(ProviderKind::Gemini, "gemini-openai-compat-stream.sse");
    assert_eq!(
        f.text,
        "Rayleigh scattering: air molecules scatter short (blue) wavelengths much more than long (red) ones, so blue light reaches us from all directions."
    );
    assert_eq!(f.finish, Some((FinishReason::Stop, None)));
    assert_eq!(f.usage, Some(Usage { hidden_tokens: 372, ..usage(9, 31, 412) }));
    assert_eq!(f.generation_id.as_deref(), Some("HbP2aPz1Lq6Yw8TmRk3VnQs"));
}

#[test]
fn ollama_reasoning_and_usage() {
    let f = run(ProviderKind::OpenaiCompatible, "ollama-openai-compat-stream.sse");
    assert_eq!(f.reasoning, "User wants a greeting. Keep it short.");
    assert_eq!(f.text, "Hi there!");
    assert_eq!(f.usage, Some(usage(15, 19, 34)));
    assert_eq!(f.finish.map(|f| f.0), Some(FinishReason::Stop));
}

#[test]
fn nonstream_completion() {
    let body = fixture("openrouter-nonstream-response.json");
    let mut f = Folded::default();
    fold(pieces_from_completion(ProviderKind::Openrouter, body.as_bytes()).unwrap(), &mut f);
    assert_eq!(f.text, "Rayleigh scattering makes short blue wavelengths dominate skylight.");
    assert_eq!(f.finish, Some((FinishReason::Stop, Some("stop".into()))));
    assert_eq!(f.usage, Some(Usage { reported_cost: Some(dec("0.0000114")), ..usage(28, 12, 40) }));
    assert_eq!(f.upstream_provider.as_deref(), Some("Azure"));
    assert_eq!(f.generation_id.as_deref(), Some("gen-1787651234-Qm8ZtR2pLx0vK4aN7cWd"));
}

#[test]
fn nonstream_tool_calls_and_error_in_200() {
    let body = br#"{"id":"x","choices":[{"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_a","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}},{"id":"","type":"function","function":{"name":"g","arguments":{"b":2}}}]},"finish_reason":"tool_calls"}]}"#;
    let pieces = pieces_from_completion(ProviderKind::Openai, body).unwrap();
    let frags: Vec<_> = pieces.iter().filter(|p| matches!(p, Piece::ToolFragment { .. })).collect();
    assert_eq!(frags.len(), 2);
    assert!(
        matches!(frags[1], Piece::ToolFragment { slot: 1, id: None, name: Some(n), arguments } if n == "g" && arguments == r#"{"b":2}"#)
    );

    let body = br#"{"error":{"code":429,"message":"Provider returned error","metadata":{"raw":"busy","provider_name":"Chutes","retry_after_seconds":5}}}"#;
    let pieces = pieces_from_completion(ProviderKind::Openrouter, body).unwrap();
    let [Piece::Error(e)] = pieces.as_slice() else { panic!("{pieces:?}") };
    assert_eq!(e.kind, ErrorKind::RateLimitUpstream);
    assert_eq!(e.status, Some(429));
    assert!(e.retry_at.is_some());

    let err = pieces_from_completion(ProviderKind::Openrouter, b"<html>oops</html>").unwrap_err();
    assert_eq!(err.kind, ErrorKind::MalformedResponse);
}

fn feed_one(kind: ProviderKind, data: &str) -> Vec<Piece> {
    StreamNormalizer::new(kind).feed(data).unwrap_or_else(|e| panic!("{data}: {e}"))
}

#[test]
fn midstream_error_code_int_or_string() {
    let int = feed_one(
        ProviderKind::Openrouter,
        r#"{"error":{"code":429,"message":"Provider returned error","metadata":{"raw":"rate-limited upstream","provider_name":"Venice"}},"choices":[{"index":0,"delta":{"content":""},"finish_reason":"error"}]}"#,
    );
    let Piece::Error(e) = &int[0] else { panic!("{int:?}") };
    assert_eq!((e.kind, e.status), (ErrorKind::RateLimitUpstream, Some(429)));
    assert!(matches!(int[1], Piece::Finish { reason: FinishReason::Error, .. }));

    let numeric_string = feed_one(ProviderKind::Openrouter, r#"{"error":{"code":"502","message":"Upstream gone"}}"#);
    let [Piece::Error(e)] = numeric_string.as_slice() else { panic!("{numeric_string:?}") };
    assert_eq!((e.kind, e.status), (ErrorKind::MidStream, Some(502)));

    let word =
        feed_one(ProviderKind::Openrouter, r#"{"error":{"code":"server_error","message":"The server had an error"}}"#);
    let [Piece::Error(e)] = word.as_slice() else { panic!("{word:?}") };
    assert_eq!((e.kind, e.status), (ErrorKind::MidStream, None));
    assert_eq!(e.upstream_message.as_deref(), Some("The server had an error"));
}

#[test]
fn empty_and_null_choices() {
    for data in [
        r#"{"id":"g","choices":[]}"#,
        r#"{"id":"g","choices":null,"usage":null}"#,
        r#"{"choices":[null]}"#,
        r#"{"choices":[{"delta":null,"finish_reason":null}]}"#,
        r#"{"choices":[{"delta":{"content":null,"tool_calls":null,"reasoning_details":null}}]}"#,
        r#"{}"#,
    ] {
        let pieces = feed_one(ProviderKind::Openrouter, data);
        assert!(pieces.iter().all(|p| matches!(p, Piece::Meta { .. })), "{data}: {pieces:?}");
    }
}

#[test]
fn gemini_indexless_tool_calls_keep_thought_signature() {
    let mut n = StreamNormalizer::new(ProviderKind::Gemini);
    let a = r#"{"choices":[{"delta":{"role":"assistant","tool_calls":[{"extra_content":{"google":{"thought_signature":"CiQB0e2Kb1sig=="}},"function":{"arguments":"{\"city\":\"Oslo\"}","name":"get_weather"},"id":"","type":"function"}]},"index":0}],"id":"abc","model":"gemini-2.5-flash","object":"chat.completion.chunk"}"#;
    let b = r#"{"choices":[{"delta":{"role":"assistant","tool_calls":[{"function":{"arguments":"{\"tz\":\"Europe/Oslo\"}","name":"get_time"},"id":"","type":"function"}]},"finish_reason":"stop","index":0}],"id":"abc","model":"gemini-2.5-flash","object":"chat.completion.chunk"}"#;
    let pa = n.feed(a).unwrap();
    let pb = n.feed(b).unwrap();
    assert!(pa.iter().any(|p| matches!(p, Piece::ToolFragment { slot: 0, .. })));
    assert!(pb.iter().any(|p| matches!(p, Piece::ToolFragment { slot: 1, .. })));
    let calls = n.tool_calls();
    assert_eq!(calls.len(), 2);
    assert_eq!((calls[0].id.as_str(), calls[0].name.as_str()), ("call_0", "get_weather"));
    assert_eq!(calls[0].thought_signature.as_deref(), Some("CiQB0e2Kb1sig=="));
    assert_eq!(calls[0].arguments, r#"{"city":"Oslo"}"#);
    assert_eq!((calls[1].id.as_str(), calls[1].name.as_str()), ("call_1", "get_time"));
    assert_eq!(calls[1].thought_signature, None);
}

#[test]
fn tool_calls_keyed_by_id_keep_first_name() {
    let mut n = StreamNormalizer::new(ProviderKind::OpenaiCompatible);
    for d in [
        r#"{"choices":[{"delta":{"tool_calls":[{"id":"t1","function":{"name":"search","arguments":"{\"q\":"}}]}}]}"#,
        r#"{"choices":[{"delta":{"tool_calls":[{"id":"t1","function":{"name":"other","arguments":"\"x\"}"}}]}}]}"#,
        r#"{"choices":[{"delta":{"tool_calls":[{"index":3,"id":"t2","function":{"name":"fetch","arguments":""}}]}}]}"#,
        r#"{"choices":[{"delta":{"tool_calls":[{"index":3,"id":"","function":{"arguments":"{}"}}]}}]}"#,
    ] {
        n.feed(d).unwrap();
    }
    let calls = n.tool_calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        (calls[0].id.as_str(), calls[0].name.as_str(), calls[0].arguments.as_str()),
        ("t1", "search", r#"{"q":"x"}"#)
    );
    assert_eq!((calls[1].id.as_str(), calls[1].name.as_str(), calls[1].arguments.as_str()), ("t2", "fetch", "{}"));
}

#[test]
fn llamacpp_reasoning_content() {
    let mut n = StreamNormalizer::new(ProviderKind::OpenaiCompatible);
    let mut f = Folded::default();
    for d in [
        r#"{"choices":[{"finish_reason":null,"index":0,"delta":{"role":"assistant","content":null}}],"created":1,"id":"chatcmpl-x","model":"qwen","object":"chat.completion.chunk"}"#,
        r#"{"choices":[{"finish_reason":null,"index":0,"delta":{"reasoning_content":"Think"}}],"id":"chatcmpl-x"}"#,
        r#"{"choices":[{"finish_reason":null,"index":0,"delta":{"reasoning_content":"ing.","reasoning":"ing."}}],"id":"chatcmpl-x"}"#,
        r#"{"choices":[{"finish_reason":null,"index":0,"delta":{"content":"Answer"}}],"id":"chatcmpl-x"}"#,
        r#"{"choices":[{"finish_reason":"stop","index":0,"delta":{}}],"id":"chatcmpl-x","timings":{"prompt_n":5}}"#,
        r#"{"choices":[],"id":"chatcmpl-x","usage":{"completion_tokens":7,"prompt_tokens":5,"total_tokens":12,"prompt_tokens_details":{"cached_tokens":2}}}"#,
    ] {
        fold(n.feed(d).unwrap(), &mut f);
    }
    assert_eq!(f.reasoning, "Thinking.");
    assert_eq!(f.text, "Answer");
    assert_eq!(f.usage, Some(Usage { cached_tokens: 2, ..usage(5, 7, 12) }));
}

#[test]
fn reasoning_details_only() {
    let p = feed_one(
        ProviderKind::Openrouter,
        r#"{"choices":[{"delta":{"content":"","reasoning":null,"reasoning_details":[{"type":"reasoning.summary","summary":"Plan: add."},{"type":"reasoning.encrypted","data":"xyz"},{"type":"reasoning.text","text":" Done."}]}}]}"#,
    );
    assert_eq!(p, vec![Piece::Reasoning("Plan: add.".into()), Piece::Reasoning(" Done.".into())]);
}

#[test]
fn cost_in_exponent_form_and_as_string() {
    for (raw, want) in
        [("7.2e-6", "0.0000072"), ("7.2E-6", "0.0000072"), ("\"0.00068\"", "0.00068"), ("0", "0"), ("1", "1")]
    {
        let p = feed_one(
            ProviderKind::Openrouter,
            &format!(
                r#"{{"choices":[],"usage":{{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2,"cost":{raw}}}}}"#
            ),
        );
        let [Piece::Usage(u)] = p.as_slice() else { panic!("{p:?}") };
        assert_eq!(u.reported_cost, Some(dec(want)), "{raw}");
    }
}

#[test]
fn gemini_array_error_in_stream() {
    let p = feed_one(
        ProviderKind::Gemini,
        r#"[{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}]"#,
    );
    let [Piece::Error(e)] = p.as_slice() else { panic!("{p:?}") };
    assert_eq!((e.kind, e.status), (ErrorKind::MidStream, Some(503)));
}

#[test]
fn malformed_json_is_an_error_with_excerpt() {
    let mut n = StreamNormalizer::new(ProviderKind::Openrouter);
    let err = n.feed("{\"choices\":[{\"delta\":{\"content\":\"Hel\u{1b}[31m").unwrap_err();
    assert_eq!(err.kind, ErrorKind::MalformedResponse);
    assert!(err.message.contains("not JSON"), "{}", err.message);
    assert!(err.message.contains("Hel"), "{}", err.message);
    assert!(!err.message.contains('\u{1b}'));
    let err = n.feed(": OPENROUTER PROCESSING").unwrap_err();
    assert_eq!(err.kind, ErrorKind::MalformedResponse);
    let err = n.feed(r#"{"choices":{"delta":1}}"#).unwrap_err();
    assert_eq!(err.kind, ErrorKind::MalformedResponse);
    assert_eq!(n.feed("  ").unwrap(), vec![]);
    // The normalizer keeps working after a bad payload.
    assert_eq!(n.feed(r#"{"choices":[{"delta":{"content":"ok"}}]}"#).unwrap(), vec![Piece::Text("ok".into())]);
}

#[test]
fn garbage_never_panics() {
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let samples: Vec<String> =
        ["openrouter-stream-tool-call.sse", "gemini-openai-compat-stream.sse", "openrouter-stream-reasoning.sse"]
            .iter()
            .flat_map(|f| events(&fixture(f)))
            .collect();
    for i in 0..3000 {
        let base = samples[i % samples.len()].as_bytes().to_vec();
        let mut bytes = base;
        for _ in 0..(next() % 4 + 1) {
            let at = (next() as usize) % bytes.len().max(1);
            match next() % 3 {
                0 if !bytes.is_empty() => bytes[at] = (next() % 128) as u8,
                1 => bytes.truncate(at),
                _ => bytes.insert(at, b"{}[]\",:0n"[(next() % 9) as usize]),
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        let mut n = StreamNormalizer::new(ProviderKind::Gemini);
        let _ = n.feed(&text);
        let _ = n.tool_calls();
        let _ = pieces_from_completion(ProviderKind::Openrouter, &bytes);
    }
}

/// Rough throughput check: `cargo test --release --test normalize_fixtures -- --ignored --nocapture`.
#[test]
#[ignore]
fn throughput() {
    let chunk = r#"{"id":"gen-1787651400-Tq4mW8zR1cY6bN2kP0xL","provider":"OpenAI","model":"openai/gpt-4o-mini","object":"chat.completion.chunk","created":1787651400,"choices":[{"index":0,"delta":{"role":"assistant","content":" you today\n"},"finish_reason":null,"native_finish_reason":null,"logprobs":null}],"system_fingerprint":"fp_5f1e8b2c3a"}"#;
    let mut n = StreamNormalizer::new(ProviderKind::Openrouter);
    let start = std::time::Instant::now();
    let mut text = 0;
    for _ in 0..160_000 {
        for p in n.feed(chunk).unwrap() {
            if let Piece::Text(t) = p {
                text += t.len();
            }
        }
    }
    let el = start.elapsed();
    println!("160k chunks in {el:?} ({:.2} µs/chunk), {text} bytes", el.as_secs_f64() * 1e6 / 160_000.0);
}
