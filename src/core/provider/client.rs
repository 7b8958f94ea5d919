//! The one streaming HTTP client shared by every backend: sends the request, applies the
//! connect / first-byte / idle timeouts, frames SSE with the linear framer of `sse`, feeds the
//! per-backend normalizer and reports progress through an [`EventSink`].

use std::time::Instant;

use futures_util::StreamExt;
use reqwest::header::{CONTENT_TYPE, HeaderMap};

use super::errors::{ErrorContext, classify_http_error};
use super::normalize::{Piece, StreamNormalizer, pieces_from_completion};
use super::request::{BodyParts, ToolChoice, build_body};
use super::sse::{FrameError, SseFramer};
use super::{ProvidersConfig, ResolvedModel, StreamLimits, Timeouts};
use crate::core::error::{CoreError, ErrorKind};
use crate::core::protocol::{EventKind, FinishReason, StreamSummary, TargetRequest, ToolCall};
use crate::core::sanitize::strip_controls;

/// Largest error body we read; anything past it is irrelevant to the message.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// Largest non-streamed completion body we accept.
const MAX_JSON_BODY: usize = 32 * 1024 * 1024;

/// Where a stream reports its non-final events. Returns `false` when nobody listens any more.
pub trait EventSink: Send {
    fn emit(&mut self, kind: EventKind) -> impl Future<Output = bool> + Send;
}

/// Build the shared HTTP client. Installs the `ring` crypto provider for rustls once.
pub fn build_http_client(timeouts: &Timeouts) -> Result<reqwest::Client, CoreError> {
    build_client(timeouts, true)
}

/// A client for servers that are all reached over plain `http://` (every provider on loopback
/// or a LAN, as with `--base-url http://…`): it does not load the system's root certificates,
/// which was 5% of a benchmark `ask`'s instructions for nothing. An `https://` URL fails with it.
pub fn build_plain_http_client(timeouts: &Timeouts) -> Result<reqwest::Client, CoreError> {
    build_client(timeouts, false)
}

fn build_client(timeouts: &Timeouts, tls_roots: bool) -> Result<reqwest::Client, CoreError> {
    // Installing twice is an error we can ignore: another caller already did it.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder()
        .connect_timeout(timeouts.connect)
        .user_agent(concat!("roundtable/", env!("CARGO_PKG_VERSION")))
        .pool_idle_timeout(std::time::Duration::from_secs(90))
        .tcp_nodelay(true);
    if !tls_roots {
        builder = builder.tls_certs_only(Vec::<reqwest::Certificate>::new());
    }
    builder.build().map_err(|e| CoreError::new(ErrorKind::Config, format!("Could not set up the HTTP client: {e}")))
}

/// The state of one stream as it progresses; kept by the caller so that a cancel (which drops
/// the streaming future) still has the partial answer.
#[derive(Debug, Default)]
pub struct Progress {
    pub summary: StreamSummary,
    pub finish: Option<FinishReason>,
    started: Option<Instant>,
    /// Whether any answer token arrived (a retry after this would duplicate text).
    pub produced_output: bool,
    /// Bytes of text, reasoning and tool-call arguments so far, held to `max_answer_bytes`.
    pub answer_bytes: usize,
    /// Text of the current read not handed on yet.
    held: HeldText,
}

impl Progress {
    /// Mark the moment the request is sent; timings count from here.
    pub fn start_clock(&mut self) {
        self.started = Some(Instant::now());
    }

    fn mark_first_token(&mut self) {
        if self.summary.timings.ttft_ms.is_none() {
            self.summary.timings.ttft_ms = Some(self.elapsed_ms());
        }
        self.produced_output = true;
    }

    fn elapsed_ms(&self) -> u64 {
        self.started.map(|t| u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)).unwrap_or(0)
    }

    /// Close the clock: the duration covers the whole request.
    pub fn stop_clock(&mut self) {
        self.summary.timings.duration_ms = self.elapsed_ms();
    }

    /// Hand on the text a stream read but had not handed on yet (it holds a read's text until
    /// the read is done): for a caller that dropped the stream (a cancel), so that the answer
    /// shown and stored is all of the answer kept in `summary`.
    pub async fn hand_on_held<S: EventSink>(&mut self, sink: &mut S) {
        self.held.hand_on(sink).await;
    }
}

/// How a single request attempt ended (cancellation is decided by the caller).
#[derive(Debug)]
pub enum Outcome {
    Finished,
    Failed(CoreError),
}

/// Send one request and stream it to the end. Non-final events go to `sink`; the final state
/// is left in `progress`.
pub async fn stream_once<S: EventSink>(
    http: &reqwest::Client,
    config: &ProvidersConfig,
    resolved: &ResolvedModel,
    request: &TargetRequest,
    tool_choice: ToolChoice,
    progress: &mut Progress,
    sink: &mut S,
) -> Outcome {
    match stream_inner(http, config, resolved, request, tool_choice, progress, sink).await {
        Ok(()) => Outcome::Finished,
        Err(e) => Outcome::Failed(e),
    }
}

async fn stream_inner<S: EventSink>(
    http: &reqwest::Client,
    config: &ProvidersConfig,
    resolved: &ResolvedModel,
    request: &TargetRequest,
    tool_choice: ToolChoice,
    progress: &mut Progress,
    sink: &mut S,
) -> Result<(), CoreError> {
    let provider = &resolved.provider;
    let key = config.api_key(&resolved.provider_name, provider)?;
    let mut body = build_body(&BodyParts {
        kind: provider.kind,
        upstream_model: &resolved.upstream_model,
        messages: &request.messages,
        settings: &request.settings,
        tools: &request.tools,
        tool_choice,
    });
    let url = chat_url(&provider.base_url);
    let label = resolved.server_label();
    let timeouts = config.timeouts;

    sink.emit(EventKind::Started { provider: resolved.provider_name.clone(), model: resolved.upstream_model.clone() })
        .await;
    progress.start_clock();
    let response = loop {
        let mut builder = http.post(&url).json(&body).header("Accept", "text/event-stream");
        if let Some(key) = &key {
            builder = builder.bearer_auth(key.expose());
        }
        if provider.kind == super::ProviderKind::Openrouter {
            builder = builder
                .header("HTTP-Referer", &config.identity.referer)
                .header("X-Title", &config.identity.title)
                .header("X-OpenRouter-Title", &config.identity.title);
        }
        for (name, value) in &provider.headers {
            builder = builder.header(name, value);
        }
        let response = match tokio::time::timeout(timeouts.first_byte, builder.send()).await {
            Err(_) => {
                return Err(CoreError::new(
                    ErrorKind::Timeout,
                    format!(
                        "No response from {label} within {}s. The provider may be overloaded: retry, or raise timeouts.first_byte_secs.",
                        timeouts.first_byte.as_secs()
                    ),
                ));
            }
            Ok(Err(e)) => return Err(transport_error(&label, &url, &e)),
            Ok(Ok(r)) => r,
        };
        if response.status().is_success() {
            break response;
        }
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let error_body = read_capped(response, MAX_ERROR_BODY, timeouts).await.unwrap_or_default();
        // `stream_options.include_usage` brings the token counts from most servers; the few
        // that refuse the field get the request again without it.
        if status == 400
            && contains_ignore_case(&error_body, b"stream_options")
            && let Some(fields) = body.as_object_mut()
            && fields.remove("stream_options").is_some()
        {
            tracing::info!(server = %label, "the server refused stream_options; sending without it");
            continue;
        }
        let ctx = ErrorContext {
            provider_name: &resolved.provider_name,
            kind: provider.kind,
            model: &resolved.upstream_model,
            api_key_env: provider.api_key_env.as_deref(),
            base_url: Some(&provider.base_url),
        };
        return Err(classify_http_error(&ctx, status, &headers, &error_body));
    };
    let headers = response.headers().clone();

    let generation_id =
        headers.get("x-generation-id").and_then(|v| v.to_str().ok()).map(|s| strip_controls(s).into_owned());
    if generation_id.is_some() {
        progress.summary.generation_id.clone_from(&generation_id);
    }
    sink.emit(EventKind::Connected { generation_id }).await;

    let mut normalizer = StreamNormalizer::new(provider.kind);
    let source = StreamSource {
        label: &label,
        url: &url,
        idle: timeouts.idle,
        limits: config.limits,
        read_slot: config.read_slot,
    };
    if is_html(&headers) {
        let page = read_capped(response, MAX_HTML_PEEK, timeouts).await.unwrap_or_default();
        return Err(html_error(&label, &url, &page));
    }
    if is_event_stream(&headers) {
        stream_sse(response, &mut normalizer, &source, progress, sink).await?;
    } else {
        // A JSON body where a stream was asked for: some servers ignore `stream: true`.
        let body = read_capped(response, MAX_JSON_BODY, timeouts).await?;
        if body.trim_ascii().is_empty() {
            return Err(incomplete(&label, false, false));
        }
        let pieces = pieces_from_completion(provider.kind, &body)?;
        let mut failure = None;
        let mut calls: std::collections::BTreeMap<usize, ToolCall> = std::collections::BTreeMap::new();
        for piece in pieces {
            if let Piece::ToolFragment { slot, id, name, arguments } = &piece {
                let call = calls.entry(*slot).or_insert_with(|| ToolCall {
                    id: String::new(),
                    name: String::new(),
                    arguments: String::new(),
                    thought_signature: None,
                });
                if call.id.is_empty() {
                    call.id = id.clone().unwrap_or_else(|| format!("call_{slot}"));
                }
                if call.name.is_empty() {
                    call.name = name.clone().unwrap_or_default();
                }
                call.arguments.push_str(arguments);
            }
            if let Some(e) = apply_piece(piece, progress, sink).await {
                failure.get_or_insert(e);
            }
        }
        progress.hand_on_held(sink).await;
        progress.summary.tool_calls = calls.into_values().collect();
        if let Some(e) = failure {
            return Err(e);
        }
        if progress.answer_bytes > config.limits.max_answer_bytes {
            return Err(too_large(&label, config.limits.max_answer_bytes));
        }
        if progress.finish.is_none() {
            return Err(incomplete(&label, progress.produced_output, true));
        }
    }
    Ok(())
}

fn contains_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
}

/// `POST {base}/chat/completions`, tolerating a trailing slash (Gemini's base ends in `/`).
pub fn chat_url(base: &str) -> String {
    format!("{}/chat/completions", base.trim_end_matches('/'))
}

fn is_html(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.trim_start().to_ascii_lowercase().starts_with("text/html"))
}

fn is_event_stream(headers: &HeaderMap) -> bool {
    match headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) {
        Some(ct) => {
            let ct = ct.to_ascii_lowercase();
            // Some local servers label their stream as text/plain or omit it; only a clear
            // JSON label switches to the non-streamed path.
            !ct.starts_with("application/json")
        }
        None => true,
    }
}

/// Why the byte stream of a body stopped early.
#[derive(Debug)]
pub enum BodyError {
    /// The connection failed or was cut (the text says how).
    Transport(String),
    /// No bytes for longer than the idle timeout.
    Idle,
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Transport(e) => f.write_str(e),
            Self::Idle => f.write_str("idle timeout"),
        }
    }
}

async fn stream_sse<S: EventSink>(
    response: reqwest::Response,
    normalizer: &mut StreamNormalizer,
    source: &StreamSource<'_>,
    progress: &mut Progress,
    sink: &mut S,
) -> Result<(), CoreError> {
    // The idle timeout applies to raw bytes, so keep-alive comments count as traffic.
    let bytes = tokio_stream::StreamExt::timeout(response.bytes_stream(), source.idle).map(|item| match item {
        Ok(Ok(b)) => Ok(b),
        Ok(Err(e)) => Err(BodyError::Transport(error_chain(&e))),
        Err(_) => Err(BodyError::Idle),
    });
    consume_sse(bytes, normalizer, source, progress, sink).await
}

/// Who a stream comes from and the bounds it is held to.
#[derive(Debug, Clone, Copy)]
pub struct StreamSource<'a> {
    /// How messages name the server (`openrouter`, `llamacpp at localhost:8080`).
    pub label: &'a str,
    /// The URL the request went to, for messages about what answered.
    pub url: &'a str,
    pub idle: std::time::Duration,
    pub limits: StreamLimits,
    /// Read at most once a slot when nothing is waiting (see `ProvidersConfig::read_slot`).
    pub read_slot: Option<std::time::Duration>,
}

/// Largest part of an HTML page read to find its title.
const MAX_HTML_PEEK: usize = 64 * 1024;

/// Frame an SSE byte stream into events and fold them into `progress`. Public so that tests can
/// replay recorded streams cut at arbitrary byte boundaries without a socket.
pub async fn consume_sse<B, S>(
    bytes: B,
    normalizer: &mut StreamNormalizer,
    source: &StreamSource<'_>,
    progress: &mut Progress,
    sink: &mut S,
) -> Result<(), CoreError>
where
    B: futures_util::Stream<Item = Result<bytes::Bytes, BodyError>>,
    S: EventSink,
{
    let label = source.label;
    let mut bytes = std::pin::pin!(bytes);
    let mut framer = SseFramer::new(source.limits.max_line_bytes);
    let mut events: Vec<String> = Vec::new();
    let mut done = false;
    let mut failure: Option<CoreError> = None;
    let mut html: Option<Vec<u8>> = None;
    // What a paced read found already waiting, taken on the next turn.
    let mut ahead = None;
    let mut pacer = source.read_slot.map(super::pacing::Pacer::new);
    'read: loop {
        let item = match ahead.take() {
            Some(item) => item,
            None => bytes.next().await,
        };
        let chunk = match item {
            None => {
                framer.finish(&mut events);
                None
            }
            Some(Ok(chunk)) => Some(chunk),
            Some(Err(BodyError::Idle)) => {
                failure = Some(if progress.produced_output {
                    CoreError::new(
                        ErrorKind::Timeout,
                        format!(
                            "{label} went silent for {}s mid-answer; the partial answer is kept. Retry, or raise timeouts.idle_secs.",
                            source.idle.as_secs()
                        ),
                    )
                } else {
                    CoreError::new(
                        ErrorKind::Timeout,
                        format!(
                            "{label} sent no answer for {}s, so the request was given up; no answer arrived. Retry, or raise timeouts.idle_secs.",
                            source.idle.as_secs()
                        ),
                    )
                });
                break;
            }
            Some(Err(BodyError::Transport(e))) => {
                // A cut after the finish chunk loses at most the usage chunk: the answer is whole.
                if progress.finish.is_none() {
                    failure = Some(dropped(label, progress.produced_output, Some(&e)));
                }
                break;
            }
        };
        if let Some(page) = &mut html {
            match &chunk {
                Some(c) if page.len() < MAX_HTML_PEEK => {
                    page.extend_from_slice(&c[..c.len().min(MAX_HTML_PEEK - page.len())]);
                    continue;
                }
                _ => break,
            }
        }
        let Some(chunk) = chunk else {
            // The body ended: deliver what the framer completed, then stop.
            for data in events.drain(..) {
                if let Some(stop) = handle_event(&data, normalizer, source, progress, sink).await {
                    match stop {
                        Stop::Done => done = true,
                        Stop::Failed(e) => failure = Some(e),
                    }
                    break;
                }
            }
            break;
        };
        // A server that floods keeps every read ready, so this loop would never pause on its own:
        // give the runtime a turn per chunk, so a cancel (Ctrl+C) is seen at once.
        tokio::task::consume_budget().await;
        if let Err(e) = framer.push(&chunk, &mut events) {
            failure = Some(frame_error(label, &e));
        }
        // A web page where an event stream was expected (a login wall, a proxy's error page).
        if framer.first_byte() == Some(b'<') && !progress.produced_output && progress.summary.generation_id.is_none() {
            html = Some(chunk.to_vec());
            failure = None;
            continue;
        }
        for data in events.drain(..) {
            if let Some(stop) = handle_event(&data, normalizer, source, progress, sink).await {
                match stop {
                    Stop::Done => done = true,
                    Stop::Failed(e) => {
                        failure.get_or_insert(e);
                    }
                }
                break 'read;
            }
        }
        if failure.is_some() {
            break;
        }
        match &mut pacer {
            Some(pacer) => {
                // What is already here is taken at once, so a fast server is read at full speed;
                // only when nothing is waiting may the next read wait for the slot.
                pacer.chunk_read();
                match super::pacing::next_if_waiting(&mut bytes).await {
                    Some(item) => ahead = Some(item),
                    None => {
                        progress.hand_on_held(sink).await;
                        pacer.pause().await;
                    }
                }
            }
            None => progress.hand_on_held(sink).await,
        }
    }
    progress.hand_on_held(sink).await;
    progress.summary.tool_calls = normalizer.tool_calls();
    progress.summary.reasoning_details = normalizer.reasoning_details();
    progress.summary.citations = normalizer.citations();
    if let Some(page) = html {
        return Err(html_error(label, source.url, &page));
    }
    if let Some(e) = failure {
        return Err(e);
    }
    if progress.finish.is_none() {
        return Err(incomplete(label, progress.produced_output, done));
    }
    Ok(())
}

/// Why the event loop stops before the body ends.
enum Stop {
    Done,
    Failed(CoreError),
}

/// One event's data: `[DONE]`, a chunk, or nothing.
async fn handle_event<S: EventSink>(
    data: &str,
    normalizer: &mut StreamNormalizer,
    source: &StreamSource<'_>,
    progress: &mut Progress,
    sink: &mut S,
) -> Option<Stop> {
    let data = data.trim();
    if data.is_empty() {
        return None;
    }
    if data == "[DONE]" {
        return Some(Stop::Done);
    }
    let pieces = match normalizer.feed(data) {
        Ok(p) => p,
        // After the finish the answer is whole: a garbled usage chunk only loses the counts.
        Err(e) if progress.finish.is_some() => {
            tracing::warn!(server = source.label, "ignored a malformed chunk after the answer finished: {}", e.message);
            return None;
        }
        Err(e) => return Some(Stop::Failed(e)),
    };
    let mut failure = None;
    for piece in pieces {
        if let Some(e) = apply_piece(piece, progress, sink).await {
            failure.get_or_insert(e);
        }
    }
    if failure.is_none() && progress.answer_bytes > source.limits.max_answer_bytes {
        failure = Some(too_large(source.label, source.limits.max_answer_bytes));
    }
    // The stream ends after a mid-stream error event, with or without [DONE].
    failure.map(Stop::Failed)
}

fn too_large(label: &str, limit: usize) -> CoreError {
    CoreError::new(
        ErrorKind::AnswerTooLarge,
        format!(
            "The answer from {label} passed the limit of {} MiB, so the stream was stopped; the text so far is kept. Raise limits.max_answer_bytes if you need longer answers.",
            limit / (1024 * 1024)
        ),
    )
}

fn frame_error(label: &str, e: &FrameError) -> CoreError {
    match e {
        FrameError::LineTooLong { limit } => CoreError::new(
            ErrorKind::MalformedResponse,
            format!(
                "{label} sent a stream line longer than {} MiB without a line break, so the stream was stopped; the partial answer is kept. The server or a proxy in front of it is misbehaving.",
                limit / (1024 * 1024)
            ),
        ),
        FrameError::NotUtf8 => CoreError::new(
            ErrorKind::MalformedResponse,
            format!("{label} sent a stream that is not valid UTF-8; the partial answer is kept."),
        ),
    }
}

/// The stream ended (with `[DONE]` or at the end of the body) without a finish reason: the
/// server stopped generating without saying the answer was complete.
fn incomplete(label: &str, produced_output: bool, done: bool) -> CoreError {
    let how = if done { "ended the stream" } else { "closed the stream" };
    let message = if produced_output {
        format!(
            "{label} {how} without saying the answer was finished (no finish_reason): it was probably cut off; the partial answer is kept. Retry to get a whole answer."
        )
    } else {
        format!(
            "{label} {how} without sending any answer (no text and no finish_reason); no answer arrived. The prompt may not fit the model's context, or the server dropped the request: retry, or shorten the conversation."
        )
    };
    CoreError::new(ErrorKind::Incomplete, message)
}

/// An HTML page with a success status, where an answer was expected.
fn html_error(label: &str, url: &str, page: &[u8]) -> CoreError {
    let text = String::from_utf8_lossy(page);
    let title = html_title(&text).map(|t| format!(" (\"{t}\")")).unwrap_or_default();
    CoreError::new(
        ErrorKind::MalformedResponse,
        format!(
            "{label} answered {url} with an HTML page{title} instead of an answer: the base_url probably points at a web site, a login page or a proxy's error page. Check the base_url."
        ),
    )
}

/// The `<title>` of an HTML page, cleaned and short.
fn html_title(page: &str) -> Option<String> {
    let lower = page.to_ascii_lowercase();
    let open = lower.find("<title")?;
    let start = open + lower[open..].find('>')? + 1;
    let end = start + lower[start..].find("</title")?;
    let title: String = strip_controls(page.get(start..end)?).split_whitespace().collect::<Vec<_>>().join(" ");
    let title: String = title.chars().take(120).collect();
    (!title.is_empty()).then_some(title)
}

/// Text (or reasoning) read together, handed on as one event: a read that brings a dozen SSE
/// events gives the room, the store and the chatroom one delta, not a dozen. Held only until
/// the reader would wait for the network, emits anything else, or holds `MAX_HELD_BYTES`, so
/// nothing is handed on later than it was before or out of order.
#[derive(Debug, Default)]
struct HeldText {
    text: String,
    /// Whether `text` is reasoning rather than answer.
    reasoning: bool,
}

impl HeldText {
    async fn hold<S: EventSink>(&mut self, text: String, reasoning: bool, sink: &mut S) {
        if self.reasoning != reasoning {
            self.hand_on(sink).await;
            self.reasoning = reasoning;
        }
        if self.text.is_empty() {
            self.text = text;
        } else {
            self.text.push_str(&text);
        }
        if self.text.len() >= MAX_HELD_BYTES {
            self.hand_on(sink).await;
        }
    }

    /// Emit `kind` after the text held before it, so events keep their order.
    async fn emit_after<S: EventSink>(&mut self, kind: EventKind, sink: &mut S) {
        self.hand_on(sink).await;
        sink.emit(kind).await;
    }

    async fn hand_on<S: EventSink>(&mut self, sink: &mut S) {
        if self.text.is_empty() {
            return;
        }
        let text = std::mem::take(&mut self.text);
        sink.emit(if self.reasoning { EventKind::ReasoningDelta(text) } else { EventKind::TextDelta(text) }).await;
    }
}

/// A server that floods keeps the next read always waiting: what it sends is still handed on
/// in pieces of about this size as it is read.
pub(crate) const MAX_HELD_BYTES: usize = 8 * 1024;

/// Fold one normalized piece into the progress and forward it (text through `progress.held`).
/// Returns a mid-stream error.
async fn apply_piece<S: EventSink>(piece: Piece, progress: &mut Progress, sink: &mut S) -> Option<CoreError> {
    let summary = &mut progress.summary;
    match piece {
        Piece::Meta { generation_id, model, upstream_provider } => {
            if summary.generation_id.is_none() {
                summary.generation_id = generation_id;
            }
            let mut changed = false;
            if summary.served_model.is_none()
                && let Some(m) = model.filter(|m| !m.is_empty())
            {
                summary.served_model = Some(strip_controls(&m).into_owned());
                changed = true;
            }
            if summary.upstream_provider.is_none()
                && let Some(p) = upstream_provider.filter(|p| !p.is_empty())
            {
                summary.upstream_provider = Some(strip_controls(&p).into_owned());
                changed = true;
            }
            if changed && let Some(model) = summary.served_model.clone() {
                let served = EventKind::Served { model, upstream_provider: summary.upstream_provider.clone() };
                progress.held.emit_after(served, sink).await;
            }
        }
        Piece::Text(t) => {
            if t.is_empty() {
                return None;
            }
            progress.mark_first_token();
            progress.answer_bytes += t.len();
            progress.summary.text.push_str(&t);
            progress.held.hold(t, false, sink).await;
        }
        Piece::Reasoning(t) => {
            if t.is_empty() {
                return None;
            }
            progress.mark_first_token();
            progress.answer_bytes += t.len();
            progress.summary.reasoning.push_str(&t);
            progress.held.hold(t, true, sink).await;
        }
        Piece::ToolFragment { slot, id, name, arguments } => {
            progress.mark_first_token();
            progress.answer_bytes += arguments.len();
            progress.held.emit_after(EventKind::ToolCallDelta { slot, id, name, arguments }, sink).await;
        }
        Piece::Finish { reason, native } => {
            if progress.finish.is_none() {
                progress.finish = Some(reason);
                progress.summary.native_finish_reason = native;
            }
        }
        Piece::Usage(usage) => {
            summary.usage = Some(usage.clone());
            progress.held.emit_after(EventKind::Usage(usage), sink).await;
        }
        Piece::Error(e) => return Some(e),
    }
    None
}

fn dropped(label: &str, produced_output: bool, detail: Option<&str>) -> CoreError {
    let message = if produced_output {
        format!(
            "The connection to {label} closed before the answer finished; the partial answer is kept. Retry to get the rest."
        )
    } else {
        format!("The connection to {label} closed before any answer arrived. Retry.")
    };
    let mut e = CoreError::new(ErrorKind::StreamDropped, message);
    if let Some(d) = detail {
        e = e.with_upstream_message(strip_controls(d).into_owned());
    }
    e
}

fn transport_error(provider: &str, url: &str, e: &reqwest::Error) -> CoreError {
    let detail = strip_controls(&error_chain(e)).into_owned();
    if e.is_timeout() {
        CoreError::new(
            ErrorKind::Timeout,
            format!("Timed out connecting to {provider} at {url}. Check the network or the base_url, or raise timeouts.connect_secs."),
        )
        .with_upstream_message(detail)
    } else if e.is_connect() {
        CoreError::new(
            ErrorKind::Connect,
            format!(
                "Could not connect to {provider} at {url}: {detail}. Is the server running and the base_url right?"
            ),
        )
        .with_upstream_message(detail)
    } else {
        CoreError::new(ErrorKind::Connect, format!("The request to {provider} at {url} failed: {detail}."))
            .with_upstream_message(detail)
    }
}

/// reqwest's top-level message is terse ("error sending request"); the causes say why.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// Read a whole body up to `cap` bytes, with the idle timeout between reads.
async fn read_capped(response: reqwest::Response, cap: usize, timeouts: Timeouts) -> Result<Vec<u8>, CoreError> {
    let mut out = Vec::new();
    let mut stream = std::pin::pin!(tokio_stream::StreamExt::timeout(response.bytes_stream(), timeouts.idle));
    while let Some(item) = stream.next().await {
        match item {
            Ok(Ok(chunk)) => {
                let room = cap.saturating_sub(out.len());
                out.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if out.len() >= cap {
                    break;
                }
            }
            Ok(Err(e)) => {
                return Err(CoreError::new(
                    ErrorKind::StreamDropped,
                    format!("The connection closed while reading the response: {}", strip_controls(&e.to_string())),
                ));
            }
            Err(_) => {
                return Err(CoreError::new(
                    ErrorKind::Timeout,
                    "The server stopped sending the response body. Retry, or raise timeouts.idle_secs.",
                ));
            }
        }
    }
    Ok(out)
}
