//! Fan-out of turns to per-target tasks, cancellation, bounded retries, and the event channel.
//! Each target streams in its own tokio task, so one slow or failing model never delays the
//! others; every target ends with exactly one final event, cancelled or not.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::core::error::{CoreError, ErrorKind};
use crate::core::protocol::{
    Command, CoreEvent, Cost, CostSource, EventKind, StreamEvent, StreamSummary, TargetId, TargetRequest, TurnId, Usage,
};
use crate::core::provider::client::{EventSink, Outcome, Progress, build_http_client, stream_once};
use crate::core::provider::{ProviderKind, ProvidersConfig};
use crate::core::quota::{Admission, Bucket, Limiter};
use crate::core::store::{LedgerEntry, RequestStatus, RoomId, Store, now_ms};

/// Capacity of the event channel: enough for bursts of deltas from many panes, small enough
/// that a stalled consumer applies back-pressure instead of growing memory without bound.
pub const EVENT_CHANNEL_CAPACITY: usize = 4096;
const COMMAND_CHANNEL_CAPACITY: usize = 256;

/// Prices a request when the provider did not report its cost.
pub trait CostEstimator: Send + Sync {
    /// `provider` is the configured provider name, `model` the id that served the request.
    fn estimate(&self, provider: &str, model: &str, usage: &Usage) -> Option<rust_decimal::Decimal>;
}

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
}

impl CoreConfig {
    pub fn new(providers: ProvidersConfig) -> CoreConfig {
        CoreConfig { providers, estimator: None, limiter: None, retry: RetryPolicy::default(), store: None }
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

/// The consumer's end of the command channel.
#[derive(Clone, Debug)]
pub struct CoreHandle {
    tx: mpsc::Sender<Command>,
}

/// The core has shut down and takes no more commands.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the routing core has stopped")]
pub struct CoreStopped;

impl CoreHandle {
    pub async fn send(&self, command: Command) -> Result<(), CoreStopped> {
        self.tx.send(command).await.map_err(|_| CoreStopped)
    }

    /// For the UI loop, which never awaits: fails only when the queue is full or the core is gone.
    pub fn try_send(&self, command: Command) -> Result<(), CoreStopped> {
        self.tx.try_send(command).map_err(|_| CoreStopped)
    }
}

struct Shared {
    http: reqwest::Client,
    config: CoreConfig,
    events: mpsc::Sender<CoreEvent>,
    /// Last `GET /key` refresh (unix ms), to keep refreshes to one per interval.
    account_refreshed_ms: std::sync::atomic::AtomicI64,
}

/// Refresh the account figures at most this often while requests flow.
const ACCOUNT_REFRESH_MS: i64 = 20_000;

/// Start the core on the current tokio runtime.
pub fn start(config: CoreConfig) -> Result<(CoreHandle, mpsc::Receiver<CoreEvent>), CoreError> {
    let http = build_http_client(&config.providers.timeouts)?;
    let (cmd_tx, cmd_rx) = mpsc::channel(COMMAND_CHANNEL_CAPACITY);
    let (ev_tx, ev_rx) = mpsc::channel(EVENT_CHANNEL_CAPACITY);
    let shared = Arc::new(Shared { http, config, events: ev_tx, account_refreshed_ms: 0.into() });
    tokio::spawn(refresh_account(Arc::clone(&shared), true));
    tokio::spawn(publish_quota(Arc::clone(&shared)));
    tokio::spawn(route(shared, cmd_rx));
    Ok((CoreHandle { tx: cmd_tx }, ev_rx))
}

async fn route(shared: Arc<Shared>, mut commands: mpsc::Receiver<Command>) {
    let root = CancellationToken::new();
    let mut live: HashMap<(TurnId, TargetId), CancellationToken> = HashMap::new();
    let mut tasks: JoinSet<(TurnId, TargetId)> = JoinSet::new();
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                Some(Command::Submit(turn)) => {
                    for target in turn.targets {
                        let key = (turn.turn, target.target);
                        let token = root.child_token();
                        // A resubmitted target replaces (and cancels) the one still running.
                        if let Some(old) = live.insert(key, token.clone()) {
                            old.cancel();
                        }
                        tasks.spawn(run_target(Arc::clone(&shared), turn.turn, turn.room, target, token));
                    }
                }
                Some(Command::Cancel { turn, target }) => {
                    for (key, token) in &live {
                        if key.0 == turn && target.is_none_or(|t| t == key.1) {
                            token.cancel();
                        }
                    }
                }
                Some(Command::Shutdown) | None => break,
            },
            Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                if let Ok(key) = joined {
                    live.remove(&key);
                }
            }
        }
    }
    // Shutdown: cancel everything and let every task deliver its final event.
    root.cancel();
    while tasks.join_next().await.is_some() {}
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

async fn run_target(
    shared: Arc<Shared>,
    turn: TurnId,
    room: Option<i64>,
    mut request: TargetRequest,
    cancel: CancellationToken,
) -> (TurnId, TargetId) {
    let target = request.target;
    let mut sink = ChannelSink { tx: shared.events.clone(), turn, target };
    let providers = &shared.config.providers;
    request.settings = providers.settings_for(&request.model).overlay(&request.settings);

    let final_kind = match providers.resolve(&request.model) {
        Err(error) => EventKind::Failed { error, summary: Box::default() },
        Ok(resolved) => {
            let mut progress = Progress::default();
            let mut attempt = 0;
            let limiter = shared.config.limiter.clone();
            let bucket = limiter.as_ref().and_then(|l| l.bucket_for(&resolved));
            let outcome = loop {
                if let (Some(limiter), Some(bucket)) = (&limiter, &bucket) {
                    match admit(limiter, bucket, &request.model, &cancel, &mut sink).await {
                        Ok(true) => {}
                        Ok(false) => break None,
                        Err(refusal) => break Some(Outcome::Failed(refusal)),
                    }
                    tokio::spawn(publish_quota(Arc::clone(&shared)));
                }
                let attempt_started_ms = now_ms();
                let result = tokio::select! {
                    biased;
                    () = cancel.cancelled() => None,
                    outcome = stream_once(&shared.http, providers, &resolved, &request, &mut progress, &mut sink) => Some(outcome),
                };
                if let (Some(Outcome::Failed(e)), Some(limiter), Some(bucket)) = (&result, &limiter, &bucket) {
                    limiter.learn_from_error(bucket, e);
                }
                let ledger = Ledger {
                    shared: &shared,
                    room,
                    turn,
                    target,
                    provider: &resolved.provider_name,
                    model: &request.model,
                };
                match result {
                    Some(Outcome::Failed(e)) if should_retry(&e, &progress, attempt, shared.config.retry) => {
                        progress.stop_clock();
                        ledger.record(attempt_started_ms, &progress.summary, Err(&e));
                        attempt += 1;
                        let wait = retry_wait(&e, attempt, shared.config.retry);
                        let until = SystemTime::now() + wait;
                        sink.emit(EventKind::Queued { until, reason: e.message.clone() }).await;
                        tracing::info!(model = %request.model, kind = ?e.kind, wait_ms = wait.as_millis() as u64, "retrying");
                        tokio::select! {
                            biased;
                            () = cancel.cancelled() => break None,
                            () = tokio::time::sleep(wait) => {}
                        }
                        progress = Progress::default();
                    }
                    other => {
                        settle(&mut progress, &shared.config, &resolved.provider_name, &resolved.upstream_model);
                        let status = match &other {
                            None => Ok(RequestStatus::Cancelled),
                            Some(Outcome::Finished) => Ok(RequestStatus::Ok),
                            Some(Outcome::Failed(e)) => Err(e),
                        };
                        // A request refused by the quota limiter never left: no ledger row.
                        let sent = !matches!(&other, Some(Outcome::Failed(e)) if e.kind == ErrorKind::QuotaExhausted);
                        if sent {
                            ledger.record(attempt_started_ms, &progress.summary, status);
                        }
                        break other;
                    }
                }
            };
            if bucket.is_some() {
                tokio::spawn(publish_quota(Arc::clone(&shared)));
                if resolved.provider.kind == ProviderKind::Openrouter {
                    tokio::spawn(refresh_account(Arc::clone(&shared), false));
                }
            }
            // Cancelled while queued or waiting to retry: the loop ended before settling.
            if progress.summary.cost.is_none() {
                settle(&mut progress, &shared.config, &resolved.provider_name, &resolved.upstream_model);
            }
            let summary = Box::new(progress.summary);
            match outcome {
                None => EventKind::Cancelled { summary },
                Some(Outcome::Finished) => EventKind::Finished { reason: progress.finish, summary },
                Some(Outcome::Failed(error)) => {
                    tracing::warn!(model = %request.model, kind = ?error.kind, status = ?error.status, "stream failed");
                    EventKind::Failed { error, summary }
                }
            }
        }
    };
    sink.emit(final_kind).await;
    (turn, target)
}

/// Close the clock and price the request: the summary is final after this.
fn settle(progress: &mut Progress, config: &CoreConfig, provider: &str, upstream_model: &str) {
    progress.stop_clock();
    progress.summary.cost = Some(cost_of(config, provider, upstream_model, &progress.summary));
}

fn should_retry(e: &CoreError, progress: &Progress, attempt: u32, policy: RetryPolicy) -> bool {
    // After output a retry would duplicate text; the user retries by hand.
    !progress.produced_output
        && attempt < policy.max_retries
        && matches!(e.kind, ErrorKind::RateLimitMinute | ErrorKind::RateLimitUpstream | ErrorKind::Server)
}

fn retry_wait(e: &CoreError, attempt: u32, policy: RetryPolicy) -> Duration {
    let backoff = Duration::from_millis(500 * 2u64.pow(attempt));
    let told = e.retry_at.and_then(|at| at.duration_since(SystemTime::now()).ok());
    told.unwrap_or(backoff).min(policy.max_wait)
}

fn cost_of(config: &CoreConfig, provider: &str, upstream_model: &str, summary: &StreamSummary) -> Cost {
    let Some(usage) = &summary.usage else { return Cost::UNKNOWN };
    if let Some(usd) = usage.reported_cost {
        return Cost { usd: Some(usd), source: CostSource::Reported };
    }
    let model = summary.served_model.as_deref().unwrap_or(upstream_model);
    config
        .estimator
        .as_ref()
        .and_then(|est| est.estimate(provider, model, usage))
        .map_or(Cost::UNKNOWN, |usd| Cost { usd: Some(usd), source: CostSource::Estimated })
}

/// Wait for a quota slot. `Ok(true)` to send, `Ok(false)` when cancelled while queued,
/// `Err` when the daily cap refuses the request.
async fn admit(
    limiter: &Limiter,
    bucket: &Bucket,
    model: &str,
    cancel: &CancellationToken,
    sink: &mut ChannelSink,
) -> Result<bool, CoreError> {
    loop {
        let (l, b, m) = (limiter.clone(), bucket.clone(), model.to_owned());
        // The backend may be the SQLite store: keep its I/O off the async workers.
        let admission = tokio::task::spawn_blocking(move || l.admit(&b, &m)).await.unwrap_or(Admission::Go);
        match admission {
            Admission::Go => return Ok(true),
            Admission::Refuse(e) => return Err(e),
            Admission::Wait { until_ms, reason } => {
                let wait_ms = u64::try_from(until_ms - limiter.now_ms()).unwrap_or(0).max(1);
                let wait = Duration::from_millis(wait_ms);
                sink.emit(EventKind::Queued { until: SystemTime::now() + wait, reason }).await;
                tokio::select! {
                    biased;
                    () = cancel.cancelled() => return Ok(false),
                    () = tokio::time::sleep(wait) => {}
                }
            }
        }
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
    match crate::core::account::fetch(&shared.http, &provider.base_url, &key, name).await {
        Ok(info) => {
            if let (Some(limiter), Some(used), Some(limit)) =
                (&shared.config.limiter, info.free_daily_used, info.free_daily_limit)
            {
                limiter.learn_free_daily(used, limit);
            }
            let _ = shared.events.send(CoreEvent::Account(info)).await;
            publish_quota(shared).await;
        }
        Err(e) => tracing::info!(error = %e, "account refresh failed"),
    }
}

/// Writes ledger rows for one target's attempts.
struct Ledger<'a> {
    shared: &'a Shared,
    room: Option<i64>,
    turn: TurnId,
    target: TargetId,
    provider: &'a str,
    model: &'a str,
}

impl Ledger<'_> {
    fn record(&self, started_ms: i64, summary: &StreamSummary, status: Result<RequestStatus, &CoreError>) {
        let Some(store) = &self.shared.config.store else { return };
        let mut entry = LedgerEntry::new(started_ms, self.provider, self.model).with_summary(summary);
        entry = match status {
            Ok(s) => entry.with_status(s),
            Err(e) => entry.with_error(e),
        };
        if let Some(room) = self.room {
            entry = entry.in_room(RoomId(room), self.turn, self.target);
        }
        store.record_request(entry);
    }
}
