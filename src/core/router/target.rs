//! One target of a turn, start to end: resolve its provider, run its step(s), and deliver its
//! one final event.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::step::run_step;
use super::{ChannelSink, Shared, backfill, publish_quota, refresh_account};
use crate::core::protocol::{EventKind, TargetId, TargetRequest, TurnId};
use crate::core::provider::ProviderKind;
use crate::core::provider::client::{EventSink, Outcome};
use crate::core::provider::request::ToolChoice;

/// Which pane of which turn a task serves, and the stored room it belongs to.
#[derive(Debug, Clone, Copy)]
pub(super) struct TargetCtx {
    pub turn: TurnId,
    pub target: TargetId,
    pub room: Option<i64>,
}

pub(super) async fn run_target(
    shared: Arc<Shared>,
    ctx: TargetCtx,
    mut request: TargetRequest,
    cancel: CancellationToken,
) {
    let mut sink = ChannelSink { tx: shared.events.clone(), turn: ctx.turn, target: ctx.target };
    let providers = &shared.config.providers;
    request.settings = providers.settings_for(&request.model).overlay(&request.settings);
    let resolved = match providers.resolve(&request.model) {
        Ok(r) => r,
        Err(error) => {
            sink.emit(EventKind::Failed { error, summary: Box::default() }).await;
            return;
        }
    };
    let step = run_step(&shared, &ctx, &resolved, &request, ToolChoice::Auto, &cancel, &mut sink).await;
    backfill::spawn_if_needed(&shared, &ctx, &resolved, &step);
    if shared.config.limiter.as_ref().and_then(|l| l.bucket_for(&resolved)).is_some() {
        tokio::spawn(publish_quota(Arc::clone(&shared)));
        if resolved.provider.kind == ProviderKind::Openrouter {
            tokio::spawn(refresh_account(Arc::clone(&shared), false));
        }
    }
    let summary = Box::new(step.progress.summary);
    let final_kind = match step.outcome {
        None => EventKind::Cancelled { summary },
        Some(Outcome::Finished) => EventKind::Finished { reason: step.progress.finish, summary },
        Some(Outcome::Failed(error)) => {
            tracing::warn!(model = %request.model, kind = ?error.kind, status = ?error.status, "stream failed");
            EventKind::Failed { error, summary }
        }
    };
    sink.emit(final_kind).await;
}
