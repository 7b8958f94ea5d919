//! Every recorded stream fixture replayed through the real SSE framing and normalizer, cut at
//! random byte boundaries (also inside UTF-8 characters), with LF and CRLF line endings:
//! the text, reasoning, tool calls, usage, cost and errors must come out exactly.

use std::str::FromStr;
use std::time::Duration;

use bytes::Bytes;
use roundtable::core::error::ErrorKind;
use roundtable::core::protocol::{EventKind, FinishReason};
use roundtable::core::provider::ProviderKind;
use roundtable::core::provider::StreamLimits;
use roundtable::core::provider::client::{BodyError, EventSink, Progress, StreamSource, consume_sse};
use roundtable::core::provider::normalize::StreamNormalizer;
use rust_decimal::Decimal;

struct Collect(Vec<EventKind>);

impl EventSink for Collect {
    async fn emit(&mut self, kind: EventKind) -> bool {
        self.0.push(kind);
        true
    }
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).expect("fixture exists")
}

fn crlf(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() * 11 / 10);
    for &b in body {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

/// Deterministic splitmix64 so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn random_chunks(body: &[u8], seed: u64) -> Vec<Bytes> {
    let mut rng = Rng(seed);
    let mut out = Vec::new();
    let mut i = 0;
    while i < body.len() {
        // Mostly tiny pieces (1..8 bytes) to hit every boundary kind, sometimes larger ones.
        let len =
            if rng.next().is_multiple_of(4) { 1 + (rng.next() % 64) as usize } else { 1 + (rng.next() % 8) as usize };
        let end = (i + len).min(body.len());
        out.push(Bytes::copy_from_slice(&body[i..end]));
        i = end;
    }
    out
}

struct Replayed {
    progress: Progress,
    result: Result<(), roundtable::core::error::CoreError>,
    events: Vec<EventKind>,
}

async fn replay_chunks(kind: ProviderKind, chunks: Vec<Bytes>, tail: Option<BodyError>) -> Replayed {
    let mut items: Vec<Result<Bytes, BodyError>> = chunks.into_iter().map(Ok).collect();
    if let Some(e) = tail {
        items.push(Err(e));
    }
    let mut normalizer = StreamNormalizer::new(kind);
    let mut progress = Progress::default();
    progress.start_clock();
    let mut sink = Collect(Vec::new());
    let source = StreamSource {
        label: "test",
        url: "http://test/",
        idle: Duration::from_secs(5),
        limits: StreamLimits::default(),
        read_slot: None,
    };
    let result =
        consume_sse(futures_util::stream::iter(items), &mut normalizer, &source, &mut progress, &mut sink).await;
    Replayed { progress, result, events: sink.0 }
}

/// The text and reasoning the events handed on, concatenated.
fn handed_on(events: &[EventKind]) -> (String, String) {
    let (mut text, mut reasoning) = (String::new(), String::new());
    for e in events {
        match e {
            EventKind::TextDelta(t) => text.push_str(t),
            EventKind::ReasoningDelta(t) => reasoning.push_str(t),
            _ => {}
        }
    }
    (text, reasoning)
}

/// Replays `name` under many chunkings and both line endings; checks all agree, returns one.
async fn replay_all_ways(kind: ProviderKind, name: &str) -> Replayed {
    let body = fixture(name);
    let whole = replay_chunks(kind, vec![Bytes::from(body.clone())], None).await;
    // Read at once, a run of text (or reasoning) events is handed on as one delta.
    let same_kind_in_a_row = whole.events.windows(2).any(|w| {
        matches!(w, [EventKind::TextDelta(_), EventKind::TextDelta(_)])
            || matches!(w, [EventKind::ReasoningDelta(_), EventKind::ReasoningDelta(_)])
    });
    assert!(!same_kind_in_a_row, "{name}: one read gave two deltas in a row: {:?}", whole.events);
    for seed in 0..40u64 {
        for variant in [body.clone(), crlf(&body)] {
            let r = replay_chunks(kind, random_chunks(&variant, seed), None).await;
            let (text, reasoning) = handed_on(&r.events);
            assert_eq!(
                (&text, &reasoning),
                (&r.progress.summary.text, &r.progress.summary.reasoning),
                "{name} seed {seed}"
            );
            assert_eq!(r.progress.summary.text, whole.progress.summary.text, "{name} seed {seed}");
            assert_eq!(r.progress.summary.reasoning, whole.progress.summary.reasoning, "{name} seed {seed}");
            assert_eq!(r.progress.summary.tool_calls, whole.progress.summary.tool_calls, "{name} seed {seed}");
            assert_eq!(r.progress.summary.usage, whole.progress.summary.usage, "{name} seed {seed}");
            assert_eq!(r.progress.finish, whole.progress.finish, "{name} seed {seed}");
            assert_eq!(r.result.is_ok(), whole.result.is_ok(), "{name} seed {seed}");
        }
    }
    whole
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

#[tokio::test]
async fn openrouter_basic() {
    let r = replay_all_ways(ProviderKind::Openrouter, "openrouter-stream-basic.sse").await;
    r.result.unwrap();
    let s = &r.progress.summary;
    assert_eq!(s.text, "Hello! How can I help you today?");
    assert_eq!(r.progress.finish, Some(FinishReason::Stop));
    let u = s.usage.as_ref().unwrap();
    assert_eq!((u.prompt_tokens, u.completion_tokens, u.total_tokens), (12, 9, 21));
    assert_eq!(u.reported_cost, Some(dec("0.0000072")));
    assert_eq!(s.upstream_provider.as_deref(), Some("OpenAI"));
    assert!(s.timings.ttft_ms.is_some());
    assert!(r.events.iter().any(|e| matches!(e, EventKind::Served { .. })));
}

#[tokio::test]
async fn openrouter_keepalive_and_documented_usage_chunk() {
    let r = replay_all_ways(ProviderKind::Openrouter, "openrouter-stream-with-usage-and-keepalive.sse").await;
    r.result.unwrap();
    let s = &r.progress.summary;
    assert_eq!(
        s.text,
        "Short wavelengths (blue and violet) scatter far more strongly off air molecules (Rayleigh scattering), so blue light reaches your eyes from every direction of the sky."
    );
    assert_eq!(s.native_finish_reason.as_deref(), Some("end_turn"));
    let u = s.usage.as_ref().unwrap();
    assert_eq!((u.prompt_tokens, u.cached_tokens, u.completion_tokens), (2100, 1800, 40));
    assert_eq!(u.reported_cost, Some(dec("0.00068")));
}

#[tokio::test]
async fn openrouter_midstream_error_keeps_partial_text() {
    let r = replay_all_ways(ProviderKind::Openrouter, "openrouter-stream-midstream-error.sse").await;
    let e = r.result.unwrap_err();
    assert_eq!(e.status, Some(502));
    assert_eq!(r.progress.summary.text, "Here is a three-step plan:\n\n1. Measure the");
    assert!(r.progress.summary.usage.is_none());
}

#[tokio::test]
async fn openrouter_parallel_tool_calls() {
    let r = replay_all_ways(ProviderKind::Openrouter, "openrouter-stream-tool-call.sse").await;
    r.result.unwrap();
    let calls = &r.progress.summary.tool_calls;
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].id, "call_Qw3eRt5yUi7oPa9sDf1gHj2k");
    assert_eq!(calls[0].name, "get_weather");
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
    assert_eq!(r.progress.finish, Some(FinishReason::ToolCalls));
    let u = r.progress.summary.usage.as_ref().unwrap();
    assert_eq!((u.prompt_tokens, u.completion_tokens), (88, 41));
    assert_eq!(u.reported_cost, Some(dec("0.0000378")));
}

#[tokio::test]
async fn openrouter_reasoning() {
    let r = replay_all_ways(ProviderKind::Openrouter, "openrouter-stream-reasoning.sse").await;
    r.result.unwrap();
    let s = &r.progress.summary;
    assert_eq!(s.text, "There are **3** r's in \"strawberry\".");
    assert!(s.reasoning.starts_with("The user asks how many r's are in"), "{}", s.reasoning);
    assert!(s.reasoning.ends_with("That is 3."), "{}", s.reasoning);
    let u = s.usage.as_ref().unwrap();
    assert_eq!((u.reasoning_tokens, u.completion_tokens), (41, 58));
    assert_eq!(u.reported_cost, Some(Decimal::ZERO));
}

#[tokio::test]
async fn openai_include_usage() {
    let r = replay_all_ways(ProviderKind::Openai, "openai-stream-include-usage.sse").await;
    r.result.unwrap();
    assert_eq!(r.progress.summary.text, "Hello! How can I help?");
    let u = r.progress.summary.usage.as_ref().unwrap();
    assert_eq!((u.prompt_tokens, u.completion_tokens, u.total_tokens), (12, 6, 18));
    assert_eq!(u.reported_cost, None);
}

#[tokio::test]
async fn gemini_usage_on_finish_chunk_and_hidden_thinking() {
    let r = replay_all_ways(ProviderKind::Gemini, "gemini-openai-compat-stream.sse").await;
    r.result.unwrap();
    assert_eq!(
        r.progress.summary.text,
        "Rayleigh scattering: air molecules scatter short (blue) wavelengths much more than long (red) ones, so blue light reaches us from all directions."
    );
    let u = r.progress.summary.usage.as_ref().unwrap();
    assert_eq!((u.prompt_tokens, u.completion_tokens, u.total_tokens, u.hidden_tokens), (9, 31, 412, 372));
}

#[tokio::test]
async fn ollama_reasoning_and_usage() {
    let r = replay_all_ways(ProviderKind::OpenaiCompatible, "ollama-openai-compat-stream.sse").await;
    r.result.unwrap();
    assert_eq!(r.progress.summary.reasoning, "User wants a greeting. Keep it short.");
    assert_eq!(r.progress.summary.text, "Hi there!");
    let u = r.progress.summary.usage.as_ref().unwrap();
    assert_eq!((u.prompt_tokens, u.completion_tokens, u.total_tokens), (15, 19, 34));
}

/// The body cut at every byte offset: never a panic; before the finish chunk the result is a
/// dropped-stream error whose partial text is a prefix of the full answer.
#[tokio::test]
async fn cut_at_every_byte() {
    for name in ["openrouter-stream-basic.sse", "openrouter-stream-reasoning.sse", "gemini-openai-compat-stream.sse"] {
        let body = fixture(name);
        let kind = if name.starts_with("gemini") { ProviderKind::Gemini } else { ProviderKind::Openrouter };
        let full = replay_chunks(kind, vec![Bytes::from(body.clone())], None).await;
        for cut in 0..body.len() {
            let r = replay_chunks(
                kind,
                vec![Bytes::copy_from_slice(&body[..cut])],
                Some(BodyError::Transport("connection reset".into())),
            )
            .await;
            assert!(full.progress.summary.text.starts_with(&r.progress.summary.text), "{name} cut {cut}");
            match &r.result {
                Ok(()) => assert!(r.progress.finish.is_some(), "{name} cut {cut}: ok without a finish"),
                Err(e) => assert_eq!(e.kind, ErrorKind::StreamDropped, "{name} cut {cut}: {e}"),
            }
        }
    }
}

/// A multi-byte character split across chunks arrives whole.
#[tokio::test]
async fn utf8_split_inside_a_character() {
    let body = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"héllo 🌍 世界\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
    let bytes = body.as_bytes();
    let globe = body.find('🌍').unwrap();
    let chunks = vec![
        Bytes::copy_from_slice(&bytes[..globe + 1]),
        Bytes::copy_from_slice(&bytes[globe + 1..globe + 3]),
        Bytes::copy_from_slice(&bytes[globe + 3..]),
    ];
    let r = replay_chunks(ProviderKind::Openrouter, chunks, None).await;
    r.result.unwrap();
    assert_eq!(r.progress.summary.text, "héllo 🌍 世界");
}

/// `[DONE]` missing after a finish chunk is still a clean end; garbage is a clear error.
#[tokio::test]
async fn missing_done_and_garbage() {
    let body = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"},\"finish_reason\":\"stop\"}]}\n\n";
    let r = replay_chunks(ProviderKind::Openrouter, vec![Bytes::from(body)], None).await;
    r.result.unwrap();
    let r = replay_chunks(ProviderKind::Openrouter, vec![Bytes::from("data: {not json\n\n")], None).await;
    let e = r.result.unwrap_err();
    assert_eq!(e.kind, ErrorKind::MalformedResponse);
    let r = replay_chunks(
        ProviderKind::Openrouter,
        vec![Bytes::from(": OPENROUTER PROCESSING\n\n")],
        Some(BodyError::Idle),
    )
    .await;
    assert_eq!(r.result.unwrap_err().kind, ErrorKind::Timeout);
}
