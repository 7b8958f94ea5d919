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
    Command, CoreEvent, Cost, CostSource, EventKind, ModelSettings, StreamSummary, TargetId, TargetRequest, TurnId, Usage,
};
use crate::core::provider::client::{EventSink, Outcome, Progress, build_http_client, stream_once};
use crate::core::provider::ProvidersConfig;

/// Capacity of the event channel: enough for bursts of deltas from many panes, small enough
/// that a stalled consumer applies back-pressure instead of growing memory without bound.
pub const EVENT_CHANNEL_CAPACITY: usize = 4096;
const COMMAND_CHANNEL_CAPACITY: usize = 256;
/// Automatic retries of transient failures that happened before any output.
const MAX_RETRIES: u32 = 2;
/// Never sleep longer than this for one retry, whatever the server says.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(65);

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
}

/// Start the core on the current tokio runtime.
pub fn start(config: CoreConfig) -> Result<(CoreHandle, mpsc::Receiver<CoreEvent>), CoreError> {
    let http = build_http_client(&config.providers.timeouts)?;
    let (cmd_tx, cmd_rx) = mpsc::channel(COMMAND_CHANNEL_CAPACITY);
    let (ev_tx, ev_rx) = mpsc::channel(EVENT_CHANNEL_CAPACITY);
    let shared = Arc::new(Shared { http, config, events: ev_tx });
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
                        tasks.spawn(run_target(Arc::clone(&shared), turn.turn, target, token));
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
        self.tx.send(CoreEvent { turn: self.turn, target: self.target, kind }).await.is_ok()
    }
}

async fn run_target(
    shared: Arc<Shared>,
    turn: TurnId,
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
            let outcome = loop {
                let result = tokio::select! {
                    biased;
                    () = cancel.cancelled() => None,
                    outcome = stream_once(&shared.http, providers, &resolved, &request, &mut progress, &mut sink) => Some(outcome),
                };
                match result {
                    Some(Outcome::Failed(e)) if should_retry(&e, &progress, attempt) => {
                        attempt += 1;
                        let wait = retry_wait(&e, attempt);
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
                    other => break other,
                }
            };
            progress.stop_clock();
            let mut summary = progress.summary;
            summary.cost = Some(cost_of(&shared.config, &resolved.provider_name, &resolved.upstream_model, &summary));
            let summary = Box::new(summary);
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

fn should_retry(e: &CoreError, progress: &Progress, attempt: u32) -> bool {
    // After output a retry would duplicate text; the user retries by hand.
    !progress.produced_output
        && attempt < MAX_RETRIES
        && matches!(e.kind, ErrorKind::RateLimitMinute | ErrorKind::RateLimitUpstream | ErrorKind::Server)
}

fn retry_wait(e: &CoreError, attempt: u32) -> Duration {
    let backoff = Duration::from_millis(500 * 2u64.pow(attempt));
    let told = e.retry_at.and_then(|at| at.duration_since(SystemTime::now()).ok());
    told.unwrap_or(backoff).min(MAX_RETRY_WAIT)
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

impl ModelSettings {
    /// `self` with every field that `over` sets replaced by `over`'s value.
    pub fn overlay(&self, over: &ModelSettings) -> ModelSettings {
        ModelSettings {
            temperature: over.temperature.or(self.temperature),
            top_p: over.top_p.or(self.top_p),
            max_tokens: over.max_tokens.or(self.max_tokens),
            seed: over.seed.or(self.seed),
            stop: over.stop.clone().or_else(|| self.stop.clone()),
            reasoning_effort: over.reasoning_effort.clone().or_else(|| self.reasoning_effort.clone()),
            system: over.system.clone().or_else(|| self.system.clone()),
            provider: over.provider.clone().or_else(|| self.provider.clone()),
            fallbacks: if over.fallbacks.is_empty() { self.fallbacks.clone() } else { over.fallbacks.clone() },
        }
    }
}
