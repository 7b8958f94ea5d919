//! Cost back-fill from OpenRouter's `GET /generation?id=…` for a request whose stream ended
//! without a reported cost (no usage chunk, a cut or cancelled stream): the record appears only
//! a while after the stream, so it is polled on the configured schedule; when it arrives the
//! ledger row is rewritten and consumers get `CoreEvent::CostSettled`. The target's final event
//! never waits for this: it carries the estimate (or "unknown") meanwhile.

use std::sync::Arc;

use super::Shared;
use super::step::StepResult;
use super::target::TargetCtx;
use crate::core::account::fetch_generation;
use crate::core::protocol::{CoreEvent, Cost, CostSource, StreamSummary};
use crate::core::provider::{ProviderKind, ResolvedModel, is_openrouter_host};
use crate::core::store::{LedgerEntry, LedgerId};

/// Start a back-fill for `step` when OpenRouter served it and did not report its cost.
pub(super) fn spawn_if_needed(shared: &Arc<Shared>, ctx: &TargetCtx, resolved: &ResolvedModel, step: &StepResult) {
    let summary = &step.progress.summary;
    let reported = summary.cost.as_ref().is_some_and(|c| c.source == CostSource::Reported);
    let Some(generation_id) = summary.generation_id.clone() else { return };
    // Only OpenRouter keeps `/generation` records: another server behind `--base-url` (LiteLLM,
    // a local server) never will, and waiting for one would delay every result for nothing.
    // OpenRouter's generation ids start with `gen-`, which also tells a simulator or proxy of it.
    let speaks_openrouter = is_openrouter_host(&resolved.provider.base_url) || generation_id.starts_with("gen-");
    if reported
        || !step.sent
        || resolved.provider.kind != ProviderKind::Openrouter
        || !speaks_openrouter
        || shared.config.backfill.attempts == 0
    {
        return;
    }
    let job = Job {
        ctx: *ctx,
        resolved: resolved.clone(),
        generation_id,
        summary: summary.clone(),
        ledger: step.ledger.clone(),
    };
    shared.backfills.spawn(run(Arc::clone(shared), job));
}

struct Job {
    ctx: TargetCtx,
    resolved: ResolvedModel,
    generation_id: String,
    summary: StreamSummary,
    ledger: Option<(LedgerId, LedgerEntry)>,
}

async fn run(shared: Arc<Shared>, mut job: Job) {
    let providers = &shared.config.providers;
    let Ok(Some(key)) = providers.api_key(&job.resolved.provider_name, &job.resolved.provider) else { return };
    let policy = shared.config.backfill;
    for _ in 0..policy.attempts {
        tokio::time::sleep(policy.interval).await;
        let base = &job.resolved.provider.base_url;
        let Ok(http) = shared.http.get().await else { return };
        match fetch_generation(http, base, &key, &job.resolved.provider_name, &job.generation_id).await {
            Ok(Some(generation)) => {
                let cost = Cost { usd: Some(generation.cost), source: CostSource::Reported };
                // The stream's own counts, when it had them, are the request's; the record
                // only adds the cost. Without them the record's native counts stand in.
                let usage = match job.summary.usage.take() {
                    Some(mut u) => {
                        u.reported_cost = Some(generation.cost);
                        u
                    }
                    None => generation.usage,
                };
                job.summary.usage = Some(usage.clone());
                job.summary.cost = Some(cost.clone());
                if let (Some(store), Some((id, entry))) = (&shared.config.store, job.ledger) {
                    store.update_request(id, entry.with_summary(&job.summary));
                }
                let event = CoreEvent::CostSettled {
                    turn: job.ctx.turn,
                    target: job.ctx.target,
                    generation_id: job.generation_id,
                    cost,
                    usage: Some(usage),
                };
                let _ = shared.events.send(event).await;
                return;
            }
            // Not recorded yet: the usual lag.
            Ok(None) => {}
            Err(e) if e.kind.is_transient() => {}
            Err(e) => {
                tracing::info!(kind = ?e.kind, "cost back-fill gave up: {}", e.message);
                return;
            }
        }
    }
    tracing::info!(generation = %job.generation_id, "cost back-fill: no record after every try");
}

/// Costs of requests an earlier process left in flight: their records exist long since, so
/// each is fetched once; the ledger row gets the reported cost. Shutdown waits for these too
/// (each is one bounded request).
pub(super) fn spawn_for_interrupted(shared: &Arc<Shared>) {
    let providers = &shared.config.providers;
    for row in &shared.config.interrupted {
        let (Some(generation_id), Some(provider)) = (&row.generation_id, providers.providers.get(&row.provider)) else {
            continue;
        };
        let speaks_openrouter = is_openrouter_host(&provider.base_url) || generation_id.starts_with("gen-");
        if provider.kind != ProviderKind::Openrouter || !speaks_openrouter {
            continue;
        }
        let Ok(Some(key)) = providers.api_key(&row.provider, provider) else { continue };
        let (shared, row, base, generation_id) =
            (Arc::clone(shared), row.clone(), provider.base_url.clone(), generation_id.clone());
        shared.clone().backfills.spawn(async move {
            let Ok(http) = shared.http.get().await else { return };
            match fetch_generation(http, &base, &key, &row.provider, &generation_id).await {
                Ok(Some(generation)) => {
                    if let Some(store) = &shared.config.store {
                        store.update_cost(row.id, generation.cost, CostSource::Reported);
                    }
                }
                Ok(None) => tracing::info!(generation = %generation_id, "no record of an interrupted request"),
                Err(e) => tracing::info!(kind = ?e.kind, "cost of an interrupted request: {}", e.message),
            }
        });
    }
}
