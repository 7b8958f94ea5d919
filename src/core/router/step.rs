//! One model request of a target (a "step"; a tool loop makes several): quota admission, the
//! streamed attempt, bounded retries of transient failures before any output, pricing, and the
//! ledger row of every attempt that left.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

use super::target::TargetCtx;
use super::{ChannelSink, CoreConfig, RetryPolicy, Shared, publish_quota};
use crate::core::error::{CoreError, ErrorKind};
use crate::core::protocol::{Cost, CostSource, EventKind, StreamSummary, TargetRequest, Usage};
use crate::core::provider::ResolvedModel;
use crate::core::provider::client::{EventSink, Outcome, Progress, stream_once};
use crate::core::provider::request::ToolChoice;
use crate::core::quota::{Admission, Bucket, Limiter};
use crate::core::store::{LedgerEntry, LedgerExtras, LedgerId, RequestStatus, RoomId, now_ms};

/// How a step ended.
pub(super) struct StepResult {
    /// `None` when cancelled (while queued, waiting to retry, or streaming).
    pub outcome: Option<Outcome>,
    /// The last attempt's state; its summary is settled (clock stopped, cost priced).
    pub progress: Progress,
    /// The last attempt's ledger row, when it left and a store is configured.
    pub ledger: Option<(LedgerId, LedgerEntry)>,
    /// Whether the last attempt went to the upstream (a quota refusal, or a cancel while
    /// queued, never does).
    pub sent: bool,
}

/// Stream one request, retrying transient failures that happened before any output.
pub(super) async fn run_step(
    shared: &Arc<Shared>,
    ctx: &TargetCtx,
    resolved: &ResolvedModel,
    request: &TargetRequest,
    tool_choice: ToolChoice,
    cancel: &CancellationToken,
    sink: &mut ChannelSink,
) -> StepResult {
    let providers = &shared.config.providers;
    let limiter = shared.config.limiter.clone();
    let bucket = limiter.as_ref().and_then(|l| l.bucket_for(resolved));
    let attachments = LedgerExtras::default().with_attachments(request.messages.iter().flat_map(|m| &m.attachments));
    let ledger = Ledger { shared, ctx, provider: &resolved.provider_name, model: &request.model, attachments };
    let mut progress = Progress::default();
    let mut attempt = 0;
    let mut sent = false;
    let mut row = None;
    let outcome = loop {
        if let (Some(limiter), Some(bucket)) = (&limiter, &bucket) {
            super::await_day_figures(shared, limiter, bucket).await;
            let tokens = if bucket.limits.tokens_per_minute.is_some() { estimate_tokens(request) } else { 0 };
            match admit(limiter, bucket, &request.model, tokens, cancel, sink).await {
                Ok(true) => {}
                Ok(false) => break None,
                Err(refusal) => break Some(Outcome::Failed(refusal)),
            }
            tokio::spawn(publish_quota(Arc::clone(shared)));
        }
        let attempt_started_ms = now_ms();
        // The request may be billed from the moment it leaves: its row exists before the
        // answer, so a process killed mid-stream leaves a trace (marked interrupted later).
        let pending = ledger.begin(attempt_started_ms);
        let mut watch =
            PendingSink { inner: sink, ledger: &ledger, pending: pending.as_ref(), started_ms: attempt_started_ms };
        let result = tokio::select! {
            biased;
            () = cancel.cancelled() => None,
            outcome = async {
                match shared.http.get().await {
                    Ok(http) => stream_once(http, providers, resolved, request, tool_choice, &mut progress, &mut watch).await,
                    Err(e) => Outcome::Failed(e),
                }
            } => Some(outcome),
        };
        if result.is_none() {
            // The stream was dropped mid-read: what it read is in the summary, so show it too.
            progress.hand_on_held(&mut watch).await;
        }
        if let (Some(Outcome::Failed(e)), Some(limiter), Some(bucket)) = (&result, &limiter, &bucket) {
            limiter.learn_from_error(bucket, e);
        }
        match result {
            Some(Outcome::Failed(e)) if should_retry(&e, &progress, attempt, shared.config.retry) => {
                progress.stop_clock();
                ledger.record(pending, attempt_started_ms, &progress.summary, Err(&e));
                attempt += 1;
                let wait = retry_wait(&e, attempt, shared.config.retry);
                let until = release_at(wait);
                sink.emit(EventKind::Queued { until, reason: e.message.clone() }).await;
                tracing::info!(model = %request.model, kind = ?e.kind, wait_ms = wait.as_millis() as u64, "retrying");
                tokio::select! {
                    biased;
                    () = cancel.cancelled() => break None,
                    () = sleep_until(until) => {}
                }
                progress = Progress::default();
            }
            other => {
                settle(&mut progress, &shared.config, resolved);
                let status = match &other {
                    None => Ok(RequestStatus::Cancelled),
                    Some(Outcome::Finished) => Ok(RequestStatus::Ok),
                    Some(Outcome::Failed(e)) => Err(e),
                };
                row = ledger.record(pending, attempt_started_ms, &progress.summary, status);
                sent = true;
                break other;
            }
        }
    };
    // Refused by the quota limiter, or cancelled while queued or waiting to retry: the loop
    // ended before settling.
    if progress.summary.cost.is_none() {
        settle(&mut progress, &shared.config, resolved);
    }
    StepResult { outcome, progress, ledger: row, sent }
}

/// Close the clock and price the request: the summary is final after this.
fn settle(progress: &mut Progress, config: &CoreConfig, resolved: &ResolvedModel) {
    progress.stop_clock();
    progress.summary.cost = Some(cost_of(config, &resolved.provider_name, &resolved.upstream_model, &progress.summary));
    price_extras(config, &resolved.provider_name, &resolved.upstream_model, &mut progress.summary);
}

/// The parts of the cost the upstream does not itemise, from the catalog prices (§10.2): what
/// the web searches cost, and what cached prompt tokens saved when the upstream did not say.
fn price_extras(config: &CoreConfig, provider: &str, upstream_model: &str, summary: &mut StreamSummary) {
    let model = summary.served_model.clone().unwrap_or_else(|| upstream_model.to_owned());
    let Some(est) = config.estimator.as_ref() else { return };
    let Some(usage) = summary.usage.as_mut() else { return };
    let price = |u: &Usage| est.estimate(provider, &model, u);
    let estimated = |usd: rust_decimal::Decimal| Some(Cost { usd: Some(usd), source: CostSource::Estimated });
    if usage.web_search_requests > 0 {
        let searches = Usage { web_search_requests: usage.web_search_requests, ..Usage::default() };
        // The difference keeps the per-request fee and the discount factor out of the figure.
        if let (Some(with), Some(without)) = (price(&searches), price(&Usage::default())) {
            // A catalog without a `web_search` price says nothing of it: no figure rather than $0.
            usage.web_search_cost = with.checked_sub(without).filter(|d| !d.is_zero()).and_then(estimated);
        }
    }
    if usage.cache_discount.is_none() && (usage.cached_tokens > 0 || usage.cache_write_tokens > 0) {
        let uncached = Usage { cached_tokens: 0, cache_write_tokens: 0, ..usage.clone() };
        if let (Some(full), Some(billed)) = (price(&uncached), price(usage)) {
            usage.cache_discount = full.checked_sub(billed).map(|d| d.normalize()).and_then(estimated);
        }
    }
}

fn should_retry(e: &CoreError, progress: &Progress, attempt: u32, policy: RetryPolicy) -> bool {
    // After output a retry would duplicate text; the user retries by hand.
    !progress.produced_output
        && attempt < policy.max_retries
        && matches!(e.kind, ErrorKind::RateLimitMinute | ErrorKind::RateLimitUpstream | ErrorKind::Server)
}

/// When a request held back for `wait` is released: rounded up to a whole second, so the
/// instant `ask` shows ("waiting until 14:03:12"), the `until` of `--json` and the moment the
/// request really leaves are one and the same (rounding up only adds to the pacing margin).
fn release_at(wait: Duration) -> SystemTime {
    let at = SystemTime::now() + wait;
    match at.duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()) {
        Ok(0) | Err(_) => at,
        Ok(nanos) => at + Duration::from_nanos(u64::from(1_000_000_000 - nanos)),
    }
}

/// Sleep until a wall-clock instant (never before it: the timer rounds up to the millisecond).
async fn sleep_until(at: SystemTime) {
    tokio::time::sleep(at.duration_since(SystemTime::now()).unwrap_or_default()).await;
}

fn retry_wait(e: &CoreError, attempt: u32, policy: RetryPolicy) -> Duration {
    let backoff = Duration::from_millis(500 * 2u64.pow(attempt));
    let told = e.retry_at.and_then(|at| at.duration_since(SystemTime::now()).ok());
    told.unwrap_or(backoff).min(policy.max_wait)
}

fn cost_of(config: &CoreConfig, provider: &str, upstream_model: &str, summary: &StreamSummary) -> Cost {
    let model = summary.served_model.as_deref().unwrap_or(upstream_model);
    let estimate = |usage: &Usage| config.estimator.as_ref().and_then(|est| est.estimate(provider, model, usage));
    let Some(usage) = &summary.usage else {
        // Without counts only a model priced at zero has a known cost: nothing, whatever it used.
        let probe = Usage { prompt_tokens: 1_000_000, completion_tokens: 1_000_000, ..Usage::default() };
        return match estimate(&probe) {
            Some(usd) if usd.is_zero() => Cost { usd: Some(usd), source: CostSource::Estimated },
            _ => Cost::UNKNOWN,
        };
    };
    if let Some(usd) = usage.reported_cost {
        return Cost { usd: Some(usd), source: CostSource::Reported };
    }
    estimate(usage).map_or(Cost::UNKNOWN, |usd| Cost { usd: Some(usd), source: CostSource::Estimated })
}

/// Wait for a quota slot. `Ok(true)` to send, `Ok(false)` when cancelled while queued,
/// `Err` when the daily cap refuses the request.
async fn admit(
    limiter: &Limiter,
    bucket: &Bucket,
    model: &str,
    tokens: u64,
    cancel: &CancellationToken,
    sink: &mut ChannelSink,
) -> Result<bool, CoreError> {
    loop {
        let (l, b, m) = (limiter.clone(), bucket.clone(), model.to_owned());
        // The backend may be the SQLite store: keep its I/O off the async workers.
        let admission = tokio::task::spawn_blocking(move || l.admit(&b, &m, tokens)).await.unwrap_or(Admission::Go);
        match admission {
            Admission::Go => return Ok(true),
            Admission::Refuse(e) => return Err(e),
            Admission::Wait { until_ms, reason } => {
                let wait_ms = u64::try_from(until_ms - limiter.now_ms()).unwrap_or(0).max(1);
                let until = release_at(Duration::from_millis(wait_ms));
                sink.emit(EventKind::Queued { until, reason }).await;
                tokio::select! {
                    biased;
                    () = cancel.cancelled() => return Ok(false),
                    () = sleep_until(until) => {}
                }
            }
        }
    }
}

/// What a request weighs against a tokens-per-minute limit: its estimated prompt (messages,
/// system prompt, tool definitions) plus the completion it may ask for.
fn estimate_tokens(request: &TargetRequest) -> u64 {
    let mut tokens = crate::core::catalog::estimate_prompt_tokens(&request.messages);
    if let Some(system) = &request.settings.system {
        tokens +=
            crate::core::catalog::estimate_prompt_tokens(&[crate::core::protocol::ChatMessage::system(system.clone())]);
    }
    tokens += crate::core::catalog::estimate_tool_tokens(&request.tools);
    tokens + u64::from(request.settings.max_tokens.unwrap_or(0))
}

/// Writes ledger rows for one target's attempts.
struct Ledger<'a> {
    shared: &'a Shared,
    ctx: &'a TargetCtx,
    provider: &'a str,
    model: &'a str,
    /// The files the request carries (known before it is sent).
    attachments: LedgerExtras,
}

impl Ledger<'_> {
    fn entry(&self, started_ms: i64) -> LedgerEntry {
        let mut entry = LedgerEntry::new(started_ms, self.provider, self.model);
        entry.extras = self.attachments.clone();
        if let Some(room) = self.ctx.room {
            entry = entry.in_room(RoomId(room), self.ctx.turn, self.ctx.target);
        }
        entry
    }

    /// The row of a request about to be sent, status `pending`.
    fn begin(&self, started_ms: i64) -> Option<LedgerId> {
        let store = self.shared.config.store.as_ref()?;
        Some(store.record_request(self.entry(started_ms)))
    }

    /// What is known mid-stream (the generation id, the serving model), for a row that may be
    /// left pending by a killed process.
    fn progress(&self, id: LedgerId, started_ms: i64, generation_id: Option<String>) {
        if let Some(store) = self.shared.config.store.as_ref() {
            let mut entry = self.entry(started_ms);
            entry.generation_id = generation_id;
            store.update_request(id, entry);
        }
    }

    /// The final state of the request's row (`pending` is its id when it was recorded at send).
    fn record(
        &self,
        pending: Option<LedgerId>,
        started_ms: i64,
        summary: &StreamSummary,
        status: Result<RequestStatus, &CoreError>,
    ) -> Option<(LedgerId, LedgerEntry)> {
        let store = self.shared.config.store.as_ref()?;
        let mut entry = self.entry(started_ms).with_summary(summary);
        if matches!(status, Err(e) if e.kind == ErrorKind::MissingKey) {
            // Refused before it left: the files were never sent.
            entry.extras = LedgerExtras::default();
        }
        entry = match status {
            Ok(s) => entry.with_status(s),
            Err(e) => entry.with_error(e),
        };
        let id = match pending {
            Some(id) => {
                store.update_request(id, entry.clone());
                id
            }
            None => store.record_request(entry.clone()),
        };
        Some((id, entry))
    }
}

/// Forwards a step's events and writes the generation id into the pending ledger row as soon as
/// the response headers bring it.
struct PendingSink<'a, 'b> {
    inner: &'a mut ChannelSink,
    ledger: &'a Ledger<'b>,
    pending: Option<&'a LedgerId>,
    started_ms: i64,
}

impl EventSink for PendingSink<'_, '_> {
    async fn emit(&mut self, kind: EventKind) -> bool {
        if let (EventKind::Connected { generation_id: Some(id) }, Some(row)) = (&kind, self.pending) {
            self.ledger.progress(*row, self.started_ms, Some(id.clone()));
        }
        self.inner.emit(kind).await
    }
}
