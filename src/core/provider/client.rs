//! The one streaming HTTP client shared by every backend: sends the request, applies the
//! connect / first-byte / idle timeouts, frames SSE with `eventsource-stream`, feeds the
//! per-backend normalizer and reports progress through an [`EventSink`].

use std::time::Instant;

use eventsource_stream::{EventStreamError, Eventsource};
use futures_util::StreamExt;
use reqwest::header::{CONTENT_TYPE, HeaderMap};

use super::errors::{ErrorContext, classify_http_error};
use super::normalize::{Piece, StreamNormalizer, pieces_from_completion};
use super::request::{BodyParts, ToolChoice, build_body};
use super::{ProvidersConfig, ResolvedModel, Timeouts};
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
    // Installing twice is an error we can ignore: another caller already did it.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .connect_timeout(timeouts.connect)
        .user_agent(concat!("roundtable/", env!("CARGO_PKG_VERSION")))
        .pool_idle_timeout(std::time::Duration::from_secs(90))
        .tcp_nodelay(true)
        .build()
        .map_err(|e| CoreError::new(ErrorKind::Config, format!("Could not set up the HTTP client: {e}")))
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
    let body = build_body(&BodyParts {
        kind: provider.kind,
        upstream_model: &resolved.upstream_model,
        messages: &request.messages,
        settings: &request.settings,
        tools: &request.tools,
        tool_choice,
    });
    let url = chat_url(&provider.base_url);
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
    let timeouts = config.timeouts;

    sink.emit(EventKind::Started { provider: resolved.provider_name.clone(), model: resolved.upstream_model.clone() })
        .await;
    progress.start_clock();
    let response = match tokio::time::timeout(timeouts.first_byte, builder.send()).await {
        Err(_) => {
            return Err(CoreError::new(
                ErrorKind::Timeout,
                format!(
                    "No response from {} within {}s. The provider may be overloaded: retry, or raise timeouts.first_byte_secs.",
                    resolved.provider_name,
                    timeouts.first_byte.as_secs()
                ),
            ));
        }
        Ok(Err(e)) => return Err(transport_error(&resolved.provider_name, &url, &e)),
        Ok(Ok(r)) => r,
    };

    let status = response.status().as_u16();
    let headers = response.headers().clone();
    if !response.status().is_success() {
        let body = read_capped(response, MAX_ERROR_BODY, timeouts).await.unwrap_or_default();
        let ctx = ErrorContext {
            provider_name: &resolved.provider_name,
            kind: provider.kind,
            model: &resolved.upstream_model,
            api_key_env: provider.api_key_env.as_deref(),
        };
        return Err(classify_http_error(&ctx, status, &headers, &body));
    }

    let generation_id =
        headers.get("x-generation-id").and_then(|v| v.to_str().ok()).map(|s| strip_controls(s).into_owned());
    if generation_id.is_some() {
        progress.summary.generation_id.clone_from(&generation_id);
    }
    sink.emit(EventKind::Connected { generation_id }).await;

    let mut normalizer = StreamNormalizer::new(provider.kind);
    if is_event_stream(&headers) {
        stream_sse(response, &mut normalizer, resolved, progress, sink, timeouts).await?;
    } else {
        // A JSON body where a stream was asked for: some servers ignore `stream: true`.
        let body = read_capped(response, MAX_JSON_BODY, timeouts).await?;
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
        progress.summary.tool_calls = calls.into_values().collect();
        if let Some(e) = failure {
            return Err(e);
        }
    }
    Ok(())
}

/// `POST {base}/chat/completions`, tolerating a trailing slash (Gemini's base ends in `/`).
pub fn chat_url(base: &str) -> String {
    format!("{}/chat/completions", base.trim_end_matches('/'))
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
    resolved: &ResolvedModel,
    progress: &mut Progress,
    sink: &mut S,
    timeouts: Timeouts,
) -> Result<(), CoreError> {
    // The idle timeout applies to raw bytes, so keep-alive comments count as traffic.
    let bytes = tokio_stream::StreamExt::timeout(response.bytes_stream(), timeouts.idle).map(|item| match item {
        Ok(Ok(b)) => Ok(b),
        Ok(Err(e)) => Err(BodyError::Transport(error_chain(&e))),
        Err(_) => Err(BodyError::Idle),
    });
    consume_sse(bytes, normalizer, &resolved.provider_name, timeouts.idle, progress, sink).await
}

/// Frame an SSE byte stream into events and fold them into `progress`. Public so that tests can
/// replay recorded streams cut at arbitrary byte boundaries without a socket.
pub async fn consume_sse<B, S>(
    bytes: B,
    normalizer: &mut StreamNormalizer,
    provider_name: &str,
    idle: std::time::Duration,
    progress: &mut Progress,
    sink: &mut S,
) -> Result<(), CoreError>
where
    B: futures_util::Stream<Item = Result<bytes::Bytes, BodyError>>,
    S: EventSink,
{
    let mut events = std::pin::pin!(bytes.eventsource());
    let mut done = false;
    let mut failure: Option<CoreError> = None;
    while let Some(item) = events.next().await {
        let event = match item {
            Ok(ev) => ev,
            Err(EventStreamError::Transport(BodyError::Idle)) => {
                failure = Some(CoreError::new(
                    ErrorKind::Timeout,
                    format!(
                        "{provider_name} went silent for {}s mid-answer; the partial answer is kept. Retry, or raise timeouts.idle_secs.",
                        idle.as_secs()
                    ),
                ));
                break;
            }
            Err(EventStreamError::Transport(BodyError::Transport(e))) => {
                // A cut after the finish chunk loses at most the usage chunk: the answer is whole.
                if progress.finish.is_none() {
                    failure = Some(dropped(provider_name, Some(&e)));
                }
                break;
            }
            Err(EventStreamError::Utf8(_)) => {
                failure = Some(CoreError::new(
                    ErrorKind::MalformedResponse,
                    format!("{provider_name} sent a stream that is not valid UTF-8; the partial answer is kept."),
                ));
                break;
            }
            Err(EventStreamError::Parser(e)) => {
                failure = Some(CoreError::new(
                    ErrorKind::MalformedResponse,
                    format!("{provider_name} sent a malformed event stream ({e}); the partial answer is kept."),
                ));
                break;
            }
        };
        let data = event.data.trim();
        if data.is_empty() {
            continue;
        }
        if data == "[DONE]" {
            done = true;
            break;
        }
        let pieces = match normalizer.feed(data) {
            Ok(p) => p,
            Err(e) => {
                failure = Some(e);
                break;
            }
        };
        for piece in pieces {
            if let Some(e) = apply_piece(piece, progress, sink).await {
                failure.get_or_insert(e);
            }
        }
        if failure.is_some() {
            // The stream ends after a mid-stream error event, with or without [DONE].
            break;
        }
    }
    progress.summary.tool_calls = normalizer.tool_calls();
    progress.summary.reasoning_details = normalizer.reasoning_details();
    progress.summary.citations = normalizer.citations();
    if let Some(e) = failure {
        return Err(e);
    }
    if !done && progress.finish.is_none() {
        return Err(dropped(provider_name, None));
    }
    Ok(())
}

/// Fold one normalized piece into the progress and forward it. Returns a mid-stream error.
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
                sink.emit(EventKind::Served { model, upstream_provider: summary.upstream_provider.clone() }).await;
            }
        }
        Piece::Text(t) => {
            if t.is_empty() {
                return None;
            }
            progress.mark_first_token();
            progress.summary.text.push_str(&t);
            sink.emit(EventKind::TextDelta(t)).await;
        }
        Piece::Reasoning(t) => {
            if t.is_empty() {
                return None;
            }
            progress.mark_first_token();
            progress.summary.reasoning.push_str(&t);
            sink.emit(EventKind::ReasoningDelta(t)).await;
        }
        Piece::ToolFragment { slot, id, name, arguments } => {
            progress.mark_first_token();
            sink.emit(EventKind::ToolCallDelta { slot, id, name, arguments }).await;
        }
        Piece::Finish { reason, native } => {
            if progress.finish.is_none() {
                progress.finish = Some(reason);
                progress.summary.native_finish_reason = native;
            }
        }
        Piece::Usage(usage) => {
            summary.usage = Some(usage.clone());
            sink.emit(EventKind::Usage(usage)).await;
        }
        Piece::Error(e) => return Some(e),
    }
    None
}

fn dropped(provider: &str, detail: Option<&str>) -> CoreError {
    let mut e = CoreError::new(
        ErrorKind::StreamDropped,
        format!(
            "The connection to {provider} closed before the answer finished; the partial answer is kept. Retry to get the rest."
        ),
    );
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
