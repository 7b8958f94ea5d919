//! Fan-out of turns to per-target tasks, cancellation, and the event channel. Each target runs
//! in its own tokio task (`target`), so one slow or failing model never delays the others;
//! every target ends with exactly one final event, cancelled or not.

mod backfill;
mod step;
mod target;
mod tool_calls;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::core::error::CoreError;
use crate::core::protocol::{Command, CoreEvent, EventKind, StreamEvent, TargetId, ToolDecision, TurnId, Usage};
use crate::core::provider::client::{EventSink, build_http_client};
use crate::core::provider::{ProviderKind, ProvidersConfig};
use crate::core::quota::Limiter;
use crate::core::store::Store;
use crate::core::tools::ToolRegistry;

/// Capacity of the event channel: enough for bursts of deltas from many panes, small enough
/// that a stalled consumer applies back-pressure instead of growing memory without bound.
pub const EVENT_CHANNEL_CAPACITY: usize = 4096;
const COMMAND_CHANNEL_CAPACITY: usize = 256;

/// Prices a request when the provider did not report its cost.
pub trait CostEstimator: Send + Sync {
    /// `provider` is the configured provider name, `model` the id that served the request.
    fn estimate(&self, provider: &str, model: &str, usage: &Usage) -> Option<rust_decimal::Decimal>;
}

/// What the catalog knows about a model's features.
pub trait ModelCapabilities: Send + Sync {
    /// `Some(false)` when the model is known not to accept `tools`; `None` when nothing is
    /// known (providers without a catalog), in which case tools are sent and a refusal is
    /// handled when it comes.
    fn supports_tools(&self, provider: &str, model: &str) -> Option<bool>;
    /// The model's input modalities (`text`, `image`, `file`, …), when the catalog knows them.
    fn input_modalities(&self, _provider: &str, _model: &str) -> Option<Vec<String>> {
        None
    }
}

/// Tool loops' default length: rounds of tool calls per target and turn before the model must
/// answer in text.
pub const DEFAULT_TOOL_STEP_LIMIT: u32 = 8;

/// What the core needs at start.
#[derive(Clone)]
pub struct CoreConfig {
    pub providers: ProvidersConfig,
    pub estimator: Option<Arc<dyn CostEstimator>>,
    /// Paces and refuses requests against quota buckets; `None` sends everything at once.
    pub limiter: Option<Limiter>,
    pub retry: RetryPolicy,
    /// Where every request is recorded in the ledger; `None` runs without persistence.
    pub store: Option<Store>,
    /// How a missing cost is fetched from OpenRouter's `GET /generation` after a stream.
    pub backfill: BackfillPolicy,
    /// The tools calls may run (built-ins and the config's user tools).
    pub tools: ToolRegistry,
    /// Rounds of tool calls per target and turn unless the turn's `ToolPolicy` says otherwise.
    pub tool_step_limit: u32,
    /// Which models take `tools`; `None` sends them to every model that is offered tools.
    pub capabilities: Option<Arc<dyn ModelCapabilities>>,
    /// Requests an earlier process left in flight (now marked interrupted): their cost is
    /// fetched from OpenRouter's `GET /generation` when their generation id is known.
    pub interrupted: Vec<crate::core::store::InterruptedRequest>,
}

impl CoreConfig {
    pub fn new(providers: ProvidersConfig) -> CoreConfig {
        CoreConfig {
            providers,
            estimator: None,
            limiter: None,
            retry: RetryPolicy::default(),
            store: None,
            backfill: BackfillPolicy::default(),
            tools: ToolRegistry::builtins(),
            tool_step_limit: DEFAULT_TOOL_STEP_LIMIT,
            capabilities: None,
            interrupted: Vec::new(),
        }
    }
}

/// Automatic retries of transient failures (5xx, per-minute and upstream 429s) that happened
/// before any output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_retries: u32,
    /// Never sleep longer than this for one retry, whatever the server says.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_retries: 2, max_wait: Duration::from_secs(65) }
    }
}

/// The schedule of `GET /generation` lookups after an OpenRouter stream that ended without a
/// reported cost. The record appears only some time after the stream (404 until then; 500 ms
/// was observed to be too short, ~1 s apart for 3–5 tries works), so each try waits `interval`
/// first. `attempts: 0` turns back-fill off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackfillPolicy {
    pub attempts: u32,
    pub interval: Duration,
}

impl Default for BackfillPolicy {
    fn default() -> Self {
        Self { attempts: 5, interval: Duration::from_secs(1) }
    }
}

/// The consumer's end of the command channel.
#[derive(Clone, Debug)]
pub struct CoreHandle {
    tx: mpsc::Sender<Command>,
    /// The runtime the core runs on, where work a consumer starts for it belongs (an MCP
    /// server's connection): the chatroom's own loop runs on a runtime of its own.
    runtime: tokio::runtime::Handle,
}

/// The core has shut down and takes no more commands.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the routing core has stopped")]
pub struct CoreStopped;

impl CoreHandle {
    pub async fn send(&self, command: Command) -> Result<(), CoreStopped> {
        let sent = self.tx.send(command).await.map_err(|_| CoreStopped);
        crate::core::provider::pacing::wake_resting_core();
        sent
    }

    /// For the UI loop, which never awaits: fails only when the queue is full or the core is gone.
    pub fn try_send(&self, command: Command) -> Result<(), CoreStopped> {
        let sent = self.tx.try_send(command).map_err(|_| CoreStopped);
        crate::core::provider::pacing::wake_resting_core();
        sent
    }

    /// The core's runtime (see the field).
    pub fn runtime(&self) -> &tokio::runtime::Handle {
        &self.runtime
    }
}

struct Shared {
    http: LazyHttp,
    config: CoreConfig,
    events: mpsc::Sender<CoreEvent>,
    /// Last `GET /key` refresh (unix ms), to keep refreshes to one per interval.
    account_refreshed_ms: std::sync::atomic::AtomicI64,
    /// Cost back-fills still polling `/generation`; shutdown waits for them (they are bounded).
    backfills: TaskTracker,
    /// Tools the user approved with `ToolDecision::AlwaysForTool`, for the rest of the process.
    always_allowed: Mutex<HashSet<String>>,
    /// Becomes `true` once the start-up `GET /key` has answered (or failed): a `:free` request
    /// whose day figures are unknown waits for it, so a daily cap is checked before sending.
    account_ready: tokio::sync::watch::Receiver<bool>,
}

/// The HTTP client, built on first use on a runtime worker: loading the system's root
/// certificates takes tens of milliseconds, which must not delay the chatroom's first frame.
struct LazyHttp {
    timeouts: crate::core::provider::Timeouts,
    /// Every provider is plain `http://`: no root certificates are loaded.
    plain: bool,
    client: tokio::sync::OnceCell<reqwest::Client>,
}

impl LazyHttp {
    async fn get(&self) -> Result<&reqwest::Client, CoreError> {
        self.client
            .get_or_try_init(|| async {
                if self.plain {
                    crate::core::provider::client::build_plain_http_client(&self.timeouts)
                } else {
                    build_http_client(&self.timeouts)
                }
            })
            .await
    }
}

/// Longest wait for the start-up `GET /key` before a `:free` request goes out anyway.
const ACCOUNT_WAIT: Duration = Duration::from_secs(5);

/// Refresh the account figures at most this often while requests flow.
const ACCOUNT_REFRESH_MS: i64 = 20_000;

/// Start the core on the current tokio runtime.
pub fn start(config: CoreConfig) -> Result<(CoreHandle, mpsc::Receiver<CoreEvent>), CoreError> {
    config.providers.register_secrets();
    // A run whose providers are all plain `http://` (`--base-url http://…`) never needs the
    // system's root certificates: 5% of a benchmark `ask`'s instructions went to loading them.
    let plain = config.providers.providers.values().all(|p| p.base_url.starts_with("http://"));
    let http = LazyHttp { timeouts: config.providers.timeouts, plain, client: tokio::sync::OnceCell::new() };
    let (cmd_tx, cmd_rx) = mpsc::channel(COMMAND_CHANNEL_CAPACITY);
    let (ev_tx, ev_rx) = mpsc::channel(EVENT_CHANNEL_CAPACITY);
    let (account_done, account_ready) = tokio::sync::watch::channel(false);
    let shared = Arc::new(Shared {
        http,
        config,
        events: ev_tx,
        account_refreshed_ms: 0.into(),
        backfills: TaskTracker::new(),
        always_allowed: Mutex::default(),
        account_ready,
    });
    let first = Arc::clone(&shared);
    tokio::spawn(async move {
        refresh_account(first, true).await;
        let _ = account_done.send(true);
    });
    tokio::spawn(publish_quota(Arc::clone(&shared)));
    backfill::spawn_for_interrupted(&shared);
    tokio::spawn(route(shared, cmd_rx));
    Ok((CoreHandle { tx: cmd_tx, runtime: tokio::runtime::Handle::current() }, ev_rx))
}

/// A running target as the router sees it. `generation` tells a resubmitted target's task from
/// the one it replaced, so the old task ending does not forget the new one.
struct LiveTarget {
    generation: u64,
    cancel: CancellationToken,
    /// Where `Command::ToolDecision`s for this target go.
    decisions: mpsc::Sender<(String, ToolDecision)>,
}

/// Decisions a target may have queued: a consumer answers each waiting call once, so a few
/// suffice; beyond that they are dropped (and the call keeps waiting for one that fits).
const DECISION_CHANNEL_CAPACITY: usize = 64;

async fn route(shared: Arc<Shared>, mut commands: mpsc::Receiver<Command>) {
    let root = CancellationToken::new();
    let mut live: HashMap<(TurnId, TargetId), LiveTarget> = HashMap::new();
    let mut tasks: JoinSet<((TurnId, TargetId), u64)> = JoinSet::new();
    let mut next_generation = 0u64;
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                Some(Command::Submit(turn)) => {
                    for mut request in turn.targets {
                        keep_session(&mut request, turn.room);
                        let key = (turn.turn, request.target);
                        let cancel = root.child_token();
                        next_generation += 1;
                        let generation = next_generation;
                        let (decisions, decision_rx) = mpsc::channel(DECISION_CHANNEL_CAPACITY);
                        // A resubmitted target replaces (and cancels) the one still running.
                        let entry = LiveTarget { generation, cancel: cancel.clone(), decisions };
                        if let Some(old) = live.insert(key, entry) {
                            old.cancel.cancel();
                        }
                        let ctx = target::TargetCtx {
                            turn: turn.turn,
                            target: request.target,
                            room: turn.room,
                            policy: turn.tool_policy,
                        };
                        let shared = Arc::clone(&shared);
                        tasks.spawn(async move {
                            target::run_target(shared, ctx, request, cancel, decision_rx).await;
                            (key, generation)
                        });
                    }
                }
                Some(Command::Cancel { turn, target }) => {
                    for (key, t) in &live {
                        if key.0 == turn && target.is_none_or(|x| x == key.1) {
                            t.cancel.cancel();
                        }
                    }
                }
                Some(Command::ToolDecision { turn, target, call_id, decision }) => {
                    if let Some(t) = live.get(&(turn, target)) {
                        let _ = t.decisions.try_send((call_id, decision));
                    }
                }
                Some(Command::Shutdown) | None => break,
            },
            Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                if let Ok((key, generation)) = joined
                    && live.get(&key).is_some_and(|t| t.generation == generation)
                {
                    live.remove(&key);
                }
            }
        }
    }
    // Shutdown: cancel everything and let every task deliver its final event, then let the
    // (bounded) cost back-fills finish so the ledger gets the real figures.
    root.cancel();
    while tasks.join_next().await.is_some() {}
    shared.backfills.close();
    shared.backfills.wait().await;
    let _ = shared.events.send(CoreEvent::Stopped).await;
}

/// Wait (bounded) for the start-up account figures when `bucket`'s day is not known yet.
async fn await_day_figures(shared: &Shared, limiter: &Limiter, bucket: &crate::core::quota::Bucket) {
    // Only OpenRouter's free pool has its day figures on the account (`GET /key`).
    if bucket.name != crate::core::quota::OPENROUTER_FREE || *shared.account_ready.borrow() {
        return;
    }
    let (l, b) = (limiter.clone(), bucket.clone());
    let fresh = tokio::task::spawn_blocking(move || l.day_figures_fresh(&b)).await.unwrap_or(true);
    if fresh {
        return;
    }
    let mut ready = shared.account_ready.clone();
    let _ = tokio::time::timeout(ACCOUNT_WAIT, ready.wait_for(|done| *done)).await;
}

/// Sends events for one target into the shared channel.
struct ChannelSink {
    tx: mpsc::Sender<CoreEvent>,
    turn: TurnId,
    target: TargetId,
}

impl EventSink for ChannelSink {
    async fn emit(&mut self, kind: EventKind) -> bool {
        self.tx.send(CoreEvent::Stream(StreamEvent { turn: self.turn, target: self.target, kind })).await.is_ok()
    }
}

/// Send every bucket's figures to consumers.
async fn publish_quota(shared: Arc<Shared>) {
    let Some(limiter) = shared.config.limiter.clone() else { return };
    let status = tokio::task::spawn_blocking(move || {
        let buckets = limiter.configured_buckets();
        limiter.status(&buckets)
    })
    .await;
    if let Ok(status) = status {
        let _ = shared.events.send(CoreEvent::Quota(status)).await;
    }
}

/// Read `GET /key` (and `/credits`) of the default OpenRouter provider, teach the limiter the
/// free-model daily figures, and publish them. Quietly does nothing without a key.
async fn refresh_account(shared: Arc<Shared>, at_start: bool) {
    use std::sync::atomic::Ordering;
    let now = crate::core::quota::Clock::default().now_ms();
    let last = shared.account_refreshed_ms.load(Ordering::Relaxed);
    if !at_start && now - last < ACCOUNT_REFRESH_MS {
        return;
    }
    shared.account_refreshed_ms.store(now, Ordering::Relaxed);
    let providers = &shared.config.providers;
    let Some((name, provider)) = providers.providers.iter().find(|(_, p)| p.kind == ProviderKind::Openrouter) else {
        return;
    };
    let Ok(Some(key)) = providers.api_key(name, provider) else { return };
    let http = match shared.http.get().await {
        Ok(http) => http,
        Err(e) => {
            tracing::warn!(error = %e.message, "no HTTP client for the account refresh");
            return;
        }
    };
    match crate::core::account::fetch(http, &provider.base_url, &key, name).await {
        Ok(info) => {
            if let (Some(limiter), Some(used), Some(limit)) =
                (shared.config.limiter.clone(), info.free_daily_used, info.free_daily_limit)
            {
                // Learning persists the figures in the quota database: keep that off the workers.
                let _ = tokio::task::spawn_blocking(move || limiter.learn_free_daily(used, limit)).await;
            }
            let _ = shared.events.send(CoreEvent::Account(info)).await;
            publish_quota(shared).await;
        }
        Err(e) => tracing::info!(error = %e, "account refresh failed"),
    }
}

/// Each pane of a stored room keeps one `session_id` (OpenRouter's sticky routing, §2.1: the
/// same provider keeps its prompt cache warm), the same on every turn and after a reopen; a
/// room that is not stored has no stable id to give, so its requests carry none.
fn keep_session(request: &mut crate::core::protocol::TargetRequest, room: Option<i64>) {
    if request.settings.session_id.is_none()
        && let Some(room) = room
    {
        request.settings.session_id = Some(format!("roundtable-room{room}-pane{}", request.target.0));
    }
}
