//! The built-in simulator of the OpenRouter API, for tests, benchmarks and the demo mode.
//!
//! [`SimServer::start`] serves on loopback under `/api/v1`:
//!
//! * `POST /chat/completions` — streaming (SSE in OpenRouter's observed style: keep-alive
//!   comments, `provider` before `model`, `role` in every delta, finish chunk, usage chunk with a
//!   decimal `cost`, `[DONE]`) and non-streaming JSON. Requires `Authorization: Bearer <key>`.
//!   Answers are deterministic markdown (same model and last user message → same bytes, apart
//!   from ids and timestamps). Every response carries `X-Generation-Id`.
//! * `GET /models` (the embedded catalog), `GET /key` (live `free_model_daily_requests`),
//!   `GET /credits`, `GET /generation?id=` (404 until `generation_lag` after the end).
//!
//! Requests to `:free` ids count per key against `free_per_minute` (fixed wall-clock minute)
//! and `free_daily_limit` (UTC day); refusals are the real 429 bodies and `X-RateLimit-*`
//! headers with epoch-millisecond resets.
//!
//! # Model directives
//!
//! Any model id is accepted. Directives follow the id after `@` and combine, e.g.
//! `a@tokens=20000@tps=0@ttft=0` or `openai/gpt-4o-mini@429-rpm`; the served `model` is the id
//! without them. Catalog ids use catalog prices, `:free` ids cost 0, others $1/M in, $2/M out.
//!
//! | Directive | Effect |
//! |---|---|
//! | `tokens=N` | answer length in tokens (default 150–600 from the name hash) |
//! | `tps=X` | tokens per second, `0` = unlimited (default 40–160) |
//! | `ttft=MS` | time to first token (default 150–900 ms) |
//! | `401` `402` `402-key` `403` `404-policy` `404-tools` `400-model` | OpenRouter error bodies: bad key, no credits, key limit, moderation, data policy, no tool endpoints, model not found |
//! | `429-rpm` `429-day` | free-tier 429 bodies and headers (reset = next minute / next 00:00 UTC) |
//! | `429-upstream` `500` `502` `503` | provider rate limit (with `Retry-After`), internal, provider error, overloaded |
//! | `html` `empty` `garbage` | 502 HTML page, 500 empty body, 500 non-JSON bytes |
//! | `midstream` | some tokens, then an error chunk with `finish_reason:"error"`, no `[DONE]` (non-stream: a 200 body whose choice carries `error`) |
//! | `stall` | some tokens, then silence with the connection open (until the client leaves or the server stops) |
//! | `drop` | some tokens, then the connection is cut inside a JSON object |
//! | `json` | non-streamed JSON even when `stream:true` was asked |
//! | `reasoning` | `delta.reasoning` + `reasoning_details` before the content; before tool calls, a signed block that must come back with them (else Anthropic's 400) |
//! | `nousage` `nodone` `crlf` | no usage chunk / no `[DONE]` / CRLF line endings |
//! | `call=NAME` | calls the offered tool NAME once (with arguments from its schema and the prompt), then answers from the result: NAME as offered, `server.tool` for an MCP tool (offered as `server__tool`), the MCP tool's bare name, `server.*` (that server's first tool) or `*` (the first tool offered); a NAME not offered is called anyway, as a confused model would |
//! | `tools` `tools-parallel` `tools-chain` `tools-bad-args` `tools-unknown` `tools-gemini` `tools-loop` | scripted tool calls (only when the request offers `tools`): one call, two parallel calls, call → call → text, malformed arguments (then a correct call), a tool not offered, Gemini style (whole calls without `index`, with thought signatures), a call every round until `tool_choice: "none"` |
//!
//! A request with `response_format` `json_schema` is answered with JSON valid for its schema
//! (every property; enums, `const`, array and number bounds honoured), `json_object` with a small
//! JSON object; reasoning and tool directives still apply.
//!
//! Calls use the offered tools the prompt asks for, with arguments from the prompt where it
//! says them ("What time is it in Tokyo, and what is 17*23?" → `current_time
//! {"timezone":"Asia/Tokyo"}` and `calculator {"expression":"17*23"}`), else the offered tools
//! in order with arguments from their schemas. Without a directive, catalog models whose
//! `supported_parameters` list `tools` do the same (all relevant calls at once, or a plain
//! answer when no tool fits), and catalog models without `tools` answer 404 "No endpoints found
//! that support tool use", as OpenRouter does. `tool_choice` `"none"` and a named function are
//! honoured. When the last message is a `tool` result (and the script is done) the answer is
//! built from the results. `midstream`/`stall`/`drop` apply to text answers only.
//! Limits: `ttft` ≤ 1 h, `tokens` ≤ 2,000,000, `tps` ≥ 0.01 unless 0.

mod answer;
mod chat;
mod failures;
mod limits;
mod model;
mod request;
mod server;
mod state;
mod stream;
mod structured;
mod tools;
mod util;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use state::Shared;

/// Simulator settings; `Default` matches OpenRouter's free tier (20/min, 50/day).
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub free_daily_limit: u32,
    pub free_per_minute: u32,
    /// The per-minute window (60 s; tests of pacing shorten it).
    pub free_window: Duration,
    /// Delay after a generation ends before `/generation` finds it.
    pub generation_lag: Duration,
    /// Overrides the per-model default answer length (directives still win).
    pub default_tokens: Option<u32>,
    /// Overrides the per-model default speed; 0 = unlimited.
    pub default_tps: Option<f64>,
    pub default_ttft_ms: Option<u64>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            free_daily_limit: 50,
            free_per_minute: 20,
            free_window: Duration::from_secs(60),
            generation_lag: Duration::from_secs(1),
            default_tokens: None,
            default_tps: None,
            default_ttft_ms: None,
        }
    }
}

/// Counters since start.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Every HTTP request, any route.
    pub requests: u64,
    pub chat_requests: u64,
    /// Chat requests to `:free` ids (each counts against the free limits).
    pub free_requests: u64,
    /// Chat requests answered 200.
    pub ok_responses: u64,
    /// Chat requests answered with an error status (any cause).
    pub error_responses: u64,
    /// Errors forced by a failure directive.
    pub directive_errors: u64,
    /// All 429 responses sent (limiter and directives).
    pub status_429: u64,
    /// 429 free-models-per-min from the free-tier limiter.
    pub rate_limited_rpm: u64,
    /// 429 free-models-per-day from the free-tier limiter.
    pub rate_limited_daily: u64,
    /// Responses delivered to the end (including scripted mid-stream errors).
    pub completed: u64,
    /// Responses abandoned by the client before the end.
    pub cancelled: u64,
    /// Responses ended by `stall`/`drop` directives or server shutdown.
    pub interrupted: u64,
    pub completion_tokens_sent: u64,
    pub in_flight: u64,
    pub max_in_flight: u64,
}

/// A running simulator.
pub struct SimServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl SimServer {
    /// Bind on 127.0.0.1:port (0 = any free port) and serve in a spawned tokio task.
    pub async fn start(config: SimConfig, port: u16) -> std::io::Result<SimServer> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(config));
        let app = server::router(shared.clone());
        let stop = shared.stop.clone();
        // Each event leaves when it is written, as from streaming servers (Go's and Node's HTTP
        // servers and Python's asyncio set TCP_NODELAY by default): with Nagle's algorithm a
        // chunk waited for the client's ACK of the one before, so events came in bursts set by
        // the client's reads, not by the model's pace.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!("simulator: TCP_NODELAY not set: {e}");
            }
        });
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(stop.cancelled_owned());
            if let Err(e) = serve.await {
                tracing::warn!("simulator stopped: {e}");
            }
        });
        Ok(SimServer { addr, shared, task: Some(task) })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// e.g. "http://127.0.0.1:43123/api/v1"
    pub fn base_url(&self) -> String {
        format!("http://{}/api/v1", self.addr)
    }

    /// Presets today's count of `:free` requests for `key` (the Bearer value).
    pub fn set_free_used(&self, key: &str, used: u32) {
        let now = self.shared.now_ms();
        self.shared.lock().limits.set_used(key, used, now);
    }

    /// The latest chat-completions request bodies (oldest first; unparsable ones as `null`).
    pub fn request_bodies(&self) -> Vec<serde_json::Value> {
        let g = self.shared.lock();
        g.bodies.iter().map(|b| serde_json::from_slice(b).unwrap_or(serde_json::Value::Null)).collect()
    }

    pub fn stats(&self) -> SimStats {
        self.shared.lock().stats.clone()
    }

    /// Stops accepting, cuts open streams, and waits (briefly) for connections to close.
    pub async fn shutdown(mut self) {
        self.shared.stop.cancel();
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), task).await.is_err() {
                abort.abort();
            }
        }
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        self.shared.stop.cancel();
    }
}

/// Serve until ctrl-c (for `roundtable sim --port P`): prints the base URL on stdout first.
pub async fn run_until_ctrl_c(config: SimConfig, port: u16) -> std::io::Result<()> {
    let server = SimServer::start(config, port).await?;
    println!("{}", server.base_url());
    let result = tokio::signal::ctrl_c().await;
    server.shutdown().await;
    result
}
