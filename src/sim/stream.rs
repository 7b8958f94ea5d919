//! SSE chunk building in OpenRouter's observed style, and delivery: the whole response is built
//! up front as one `Bytes` with "due after N tokens" marks, then a task sends zero-copy slices
//! paced by ttft and tokens/second (batched when unlimited), and ends cleanly, stalls, or cuts
//! the connection.

use std::io;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use super::util::{escape_into, quoted};

pub const KEEPALIVE: &str = ": OPENROUTER PROCESSING";
/// Keep-alive comments repeat this often while a long ttft elapses.
pub const KEEPALIVE_EVERY: Duration = Duration::from_millis(1000);
/// Unlimited-speed streams are written in slices of about this size.
const BATCH_BYTES: usize = 64 * 1024;

/// End of a byte range of the script, due once `due` tokens have been generated.
#[derive(Clone, Copy, Debug)]
pub struct Mark {
    pub end: usize,
    pub due: u64,
}

#[derive(Clone, Debug, Default)]
pub struct Script {
    pub bytes: Bytes,
    pub marks: Vec<Mark>,
}

impl Script {
    /// A single block of bytes (non-stream JSON), due after `due` tokens.
    pub fn whole(body: String, due: u64) -> Script {
        let end = body.len();
        Script { bytes: Bytes::from(body), marks: vec![Mark { end, due }] }
    }
}

/// Builds chat.completion.chunk events sharing one id/provider/model/created prefix.
pub struct ScriptBuilder {
    /// `{"id":…,"provider":…,"model":…,"object":"chat.completion.chunk","created":N,`
    head: String,
    /// `,"system_fingerprint":"…"` or empty.
    fp_tail: String,
    nl: &'static str,
    buf: String,
    marks: Vec<Mark>,
    tokens: u64,
}

const ROLE: &str = "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":";
const OPEN_TAIL: &str = ",\"finish_reason\":null,\"native_finish_reason\":null,\"logprobs\":null}";

impl ScriptBuilder {
    pub fn new(id: &str, provider: &str, model: &str, created: i64, fingerprint: Option<&str>, crlf: bool) -> Self {
        let head = format!(
            "{{\"id\":{},\"provider\":{},\"model\":{},\"object\":\"chat.completion.chunk\",\"created\":{created},",
            quoted(id),
            quoted(provider),
            quoted(model)
        );
        let fp_tail = fingerprint.map(|f| format!(",\"system_fingerprint\":{}", quoted(f))).unwrap_or_default();
        ScriptBuilder {
            head,
            fp_tail,
            nl: if crlf { "\r\n" } else { "\n" },
            buf: String::new(),
            marks: Vec::new(),
            tokens: 0,
        }
    }

    fn close_event(&mut self, tokens: u64) {
        self.buf.push_str(self.nl);
        self.buf.push_str(self.nl);
        self.tokens += tokens;
        self.marks.push(Mark { end: self.buf.len(), due: self.tokens });
    }

    /// `data: {head"choices":[` … caller writes the choice … `]fp}` + blank line.
    fn choice_event(&mut self, tokens: u64, write_choice: impl FnOnce(&mut String)) {
        self.buf.push_str("data: ");
        self.buf.push_str(&self.head);
        self.buf.push_str("\"choices\":[");
        write_choice(&mut self.buf);
        self.buf.push(']');
        self.buf.push_str(&self.fp_tail);
        self.buf.push('}');
        self.close_event(tokens);
    }

    /// Content delta; `reasoning_nulls` adds `"reasoning":null,"reasoning_details":[]` as
    /// reasoning-capable models do.
    pub fn content(&mut self, text: &str, tokens: u64, reasoning_nulls: bool) {
        self.choice_event(tokens, |b| {
            b.push_str(ROLE);
            b.push('"');
            escape_into(b, text);
            b.push('"');
            if reasoning_nulls {
                b.push_str(",\"reasoning\":null,\"reasoning_details\":[]");
            }
            b.push('}');
            b.push_str(OPEN_TAIL);
        });
    }

    /// A delta carrying only `annotations` (a JSON array), after the answer's text.
    pub fn annotations(&mut self, annotations: &str) {
        self.choice_event(0, |b| {
            b.push_str(ROLE);
            b.push_str("\"\",\"annotations\":");
            b.push_str(annotations);
            b.push('}');
            b.push_str(OPEN_TAIL);
        });
    }

    pub fn reasoning(&mut self, text: &str, tokens: u64) {
        self.choice_event(tokens, |b| {
            b.push_str(ROLE);
            b.push_str("\"\",\"reasoning\":\"");
            escape_into(b, text);
            b.push_str("\",\"reasoning_details\":[{\"type\":\"reasoning.text\",\"text\":\"");
            escape_into(b, text);
            b.push_str("\",\"format\":\"unknown\",\"index\":0}]}");
            b.push_str(OPEN_TAIL);
        });
    }

    /// The closing fragment of a signed reasoning block (Anthropic's thinking via OpenRouter):
    /// no text, just the signature the client must pass back with the tool calls.
    pub fn reasoning_signature(&mut self, signature: &str) {
        self.choice_event(0, |b| {
            b.push_str(ROLE);
            b.push_str("\"\",\"reasoning\":null,\"reasoning_details\":[{\"type\":\"reasoning.text\",\"text\":\"\",\"signature\":\"");
            escape_into(b, signature);
            b.push_str("\",\"format\":\"anthropic-claude-v1\",\"index\":0}]}");
            b.push_str(OPEN_TAIL);
        });
    }

    /// First fragment of an incremental tool call (id, type, name, empty arguments).
    pub fn tool_header(&mut self, index: usize, id: &str, name: &str, tokens: u64) {
        self.choice_event(tokens, |b| {
            b.push_str(ROLE);
            b.push_str(&format!(
                "null,\"tool_calls\":[{{\"index\":{index},\"id\":{},\"type\":\"function\",\"function\":{{\"name\":{},\"arguments\":\"\"}}}}]}}",
                quoted(id),
                quoted(name)
            ));
            b.push_str(OPEN_TAIL);
        });
    }

    pub fn tool_args(&mut self, index: usize, fragment: &str, tokens: u64) {
        self.choice_event(tokens, |b| {
            b.push_str(ROLE);
            b.push_str(&format!(
                "null,\"tool_calls\":[{{\"index\":{index},\"function\":{{\"arguments\":{}}}}}]}}",
                quoted(fragment)
            ));
            b.push_str(OPEN_TAIL);
        });
    }

    /// Gemini style: the whole call in one chunk, no `index`, with a thought signature.
    pub fn gemini_call(&mut self, id: &str, name: &str, arguments: &str, signature: &str, tokens: u64) {
        self.choice_event(tokens, |b| {
            b.push_str(ROLE);
            b.push_str(&format!(
                "null,\"tool_calls\":[{{\"id\":{},\"type\":\"function\",\"function\":{{\"name\":{},\"arguments\":{}}},\"extra_content\":{{\"google\":{{\"thought_signature\":{}}}}}}}]}}",
                quoted(id),
                quoted(name),
                quoted(arguments),
                quoted(signature)
            ));
            b.push_str(OPEN_TAIL);
        });
    }

    pub fn finish(&mut self, finish: &str, native: &str, reasoning_nulls: bool) {
        self.choice_event(0, |b| {
            b.push_str(ROLE);
            b.push_str("\"\"");
            if reasoning_nulls {
                b.push_str(",\"reasoning\":null,\"reasoning_details\":[]");
            }
            b.push_str(&format!(
                "}},\"finish_reason\":{},\"native_finish_reason\":{},\"logprobs\":null}}",
                quoted(finish),
                quoted(native)
            ));
        });
    }

    /// Usage chunk: the observed one-empty-choice shape or the documented `choices:[]` shape.
    pub fn usage(&mut self, usage_json: &str, empty_choices: bool) {
        self.buf.push_str("data: ");
        self.buf.push_str(&self.head);
        self.buf.push_str("\"choices\":[");
        if !empty_choices {
            self.buf.push_str(ROLE);
            self.buf.push_str("\"\"}");
            self.buf.push_str(OPEN_TAIL);
        }
        self.buf.push_str("],\"usage\":");
        self.buf.push_str(usage_json);
        self.buf.push('}');
        self.close_event(0);
    }

    /// Mid-stream error (§4.5): top-level `error` and a terminating choice.
    pub fn error(&mut self, code: u16, message: &str, error_type: &str, provider_code: &str) {
        self.buf.push_str("data: ");
        self.buf.push_str(&self.head);
        self.buf.push_str(&format!(
            "\"error\":{{\"code\":{code},\"message\":{},\"metadata\":{{\"error_type\":{},\"provider_code\":{}}}}},\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"\"}},\"finish_reason\":\"error\",\"native_finish_reason\":\"error\"}}]}}",
            quoted(message),
            quoted(error_type),
            quoted(provider_code)
        ));
        self.close_event(0);
    }

    pub fn done(&mut self) {
        self.buf.push_str("data: [DONE]");
        self.close_event(0);
    }

    /// Half of one more content event: the connection will be cut inside the JSON object.
    pub fn partial(&mut self, text: &str) {
        let start = self.buf.len();
        self.content(text, 0, false);
        let mut cut = start + (self.buf.len() - start) / 2;
        while !self.buf.is_char_boundary(cut) {
            cut -= 1;
        }
        self.buf.truncate(cut);
        self.marks.pop();
        self.marks.push(Mark { end: cut, due: self.tokens });
    }

    pub fn build(self) -> Script {
        Script { bytes: Bytes::from(self.buf), marks: self.marks }
    }
}

/// What happens after the last scripted byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    Close,
    /// Keep the connection open and silent until the client leaves or the server stops.
    Stall,
    /// Abort the connection (the client sees an incomplete body).
    Cut,
}

pub struct Delivery {
    /// Keep-alive comment event (SSE only), sent at once and every `KEEPALIVE_EVERY` of ttft.
    pub keepalive: Option<Bytes>,
    pub ttft: Duration,
    /// Tokens per second; 0 = unlimited.
    pub tps: f64,
    pub script: Script,
    pub ending: Ending,
}

#[derive(Clone, Copy, Debug)]
pub struct Outcome {
    /// The client went away before the end.
    pub cancelled: bool,
    /// The server shut down before the end.
    pub shutdown: bool,
    pub tokens_sent: u64,
    pub started: Instant,
    pub first_data: Option<Instant>,
    pub ended: Instant,
}

type Item = Result<Bytes, io::Error>;

enum Wake {
    Due,
    Closed,
    Shutdown,
}

async fn wait_until(tx: &mpsc::Sender<Item>, stop: &CancellationToken, at: Instant) -> Wake {
    tokio::select! {
        _ = sleep_until(at) => Wake::Due,
        _ = tx.closed() => Wake::Closed,
        _ = stop.cancelled() => Wake::Shutdown,
    }
}

async fn send(tx: &mpsc::Sender<Item>, stop: &CancellationToken, item: Item) -> Wake {
    tokio::select! {
        r = tx.send(item) => if r.is_ok() { Wake::Due } else { Wake::Closed },
        _ = stop.cancelled() => Wake::Shutdown,
    }
}

fn cut_error() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "simulated connection drop")
}

async fn produce(d: Delivery, tx: &mpsc::Sender<Item>, stop: &CancellationToken) -> Outcome {
    let started = Instant::now();
    let mut out =
        Outcome { cancelled: false, shutdown: false, tokens_sent: 0, started, first_data: None, ended: started };
    let wake = run(&d, tx, stop, &mut out).await;
    match wake {
        Wake::Closed => out.cancelled = true,
        // Server shutdown: cut instead of ending the body cleanly.
        Wake::Shutdown => {
            out.shutdown = true;
            let _ = tx.try_send(Err(cut_error()));
        }
        Wake::Due => {}
    }
    out.ended = Instant::now();
    out
}

async fn run(d: &Delivery, tx: &mpsc::Sender<Item>, stop: &CancellationToken, out: &mut Outcome) -> Wake {
    let first_data_at = out.started + d.ttft;
    if let Some(ka) = &d.keepalive {
        let mut next = out.started;
        while next < first_data_at {
            match send(tx, stop, Ok(ka.clone())).await {
                Wake::Due => {}
                other => return other,
            }
            next += KEEPALIVE_EVERY;
            match wait_until(tx, stop, next.min(first_data_at)).await {
                Wake::Due => {}
                other => return other,
            }
        }
        if d.ttft.is_zero() {
            // Even with no wait OpenRouter sends the comment before the first token.
            match send(tx, stop, Ok(ka.clone())).await {
                Wake::Due => {}
                other => return other,
            }
        }
    } else if let w @ (Wake::Closed | Wake::Shutdown) = wait_until(tx, stop, first_data_at).await {
        return w;
    }
    let gen_start = Instant::now();
    out.first_data = Some(gen_start);
    let marks = &d.script.marks;
    let (mut i, mut pos) = (0usize, 0usize);
    while i < marks.len() {
        let budget =
            if d.tps <= 0.0 { u64::MAX } else { (gen_start.elapsed().as_secs_f64() * d.tps + 1e-9).floor() as u64 };
        let mut j = i;
        while j < marks.len() && marks[j].due <= budget && (j == i || marks[j].end - pos <= BATCH_BYTES) {
            j += 1;
        }
        if j > i {
            let end = marks[j - 1].end;
            match send(tx, stop, Ok(d.script.bytes.slice(pos..end))).await {
                Wake::Due => {}
                other => return other,
            }
            out.tokens_sent = marks[j - 1].due;
            pos = end;
            i = j;
            continue;
        }
        let at = gen_start + Duration::from_secs_f64(marks[i].due as f64 / d.tps);
        match wait_until(tx, stop, at).await {
            Wake::Due => {}
            other => return other,
        }
    }
    match d.ending {
        Ending::Close => Wake::Due,
        Ending::Stall => {
            tokio::select! {
                _ = tx.closed() => Wake::Closed,
                _ = stop.cancelled() => Wake::Shutdown,
            }
        }
        Ending::Cut => {
            let _ = tx.send(Err(cut_error())).await;
            Wake::Due
        }
    }
}

/// Spawns the delivery task and returns the response body fed by it; `done` runs at the end.
pub fn body(d: Delivery, stop: CancellationToken, done: impl FnOnce(Outcome) + Send + 'static) -> Body {
    let (tx, rx) = mpsc::channel::<Item>(8);
    tokio::spawn(async move {
        let outcome = produce(d, &tx, &stop).await;
        done(outcome);
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    Body::from_stream(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_shapes_parse() {
        let mut b = ScriptBuilder::new("gen-1-x", "OpenAI", "openai/gpt-4o-mini", 1, Some("fp_1"), false);
        b.content("", 0, false);
        b.content("Hi \"there\"\n", 2, true);
        b.reasoning("think", 1);
        b.tool_header(0, "call_1", "calc", 3);
        b.tool_args(0, "{\"ex", 1);
        b.gemini_call("function-call-1", "calc", "{}", "sig", 4);
        b.finish("stop", "stop", false);
        b.usage("{\"prompt_tokens\":1}", true);
        b.usage("{\"prompt_tokens\":1}", false);
        b.error(502, "Provider disconnected unexpectedly", "provider_unavailable", "upstream_eof");
        b.done();
        let s = b.build();
        assert_eq!(s.marks.last().map(|m| m.due), Some(11));
        let text = String::from_utf8_lossy(&s.bytes).to_string();
        for line in text.lines().filter(|l| l.starts_with("data: {")) {
            let v: Result<serde_json::Value, _> = serde_json::from_str(&line[6..]);
            assert!(v.is_ok(), "{line}");
        }
        assert!(text.starts_with("data: {\"id\":\"gen-1-x\",\"provider\":\"OpenAI\",\"model\":"));
        assert!(text.ends_with("data: [DONE]\n\n"));
    }
}
