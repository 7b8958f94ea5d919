//! One target of a turn, start to end: resolve its provider, decide whether it may use tools,
//! run its steps (one, or a tool loop: step → calls → results → step …), and deliver its one
//! final event.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::step::{StepResult, run_step};
use super::{ChannelSink, Shared, backfill, publish_quota, refresh_account, tool_calls};
use crate::core::error::ErrorKind;
use crate::core::protocol::{ChatMessage, EventKind, Role, TargetId, TargetRequest, ToolDecision, ToolPolicy, TurnId};
use crate::core::provider::client::{EventSink, Outcome};
use crate::core::provider::request::ToolChoice;
use crate::core::provider::{ProviderKind, ResolvedModel};
use crate::core::tools::mcp::ServerStatus;

/// Which pane of which turn a task serves, the stored room it belongs to, and the turn's rules
/// for tool calls.
#[derive(Debug, Clone, Copy)]
pub(super) struct TargetCtx {
    pub turn: TurnId,
    pub target: TargetId,
    pub room: Option<i64>,
    pub policy: ToolPolicy,
}

pub(super) async fn run_target(
    shared: Arc<Shared>,
    ctx: TargetCtx,
    mut request: TargetRequest,
    cancel: CancellationToken,
    mut decisions: mpsc::Receiver<(String, ToolDecision)>,
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
    let offers_tools = !(request.tools.is_empty() && request.tools_to_start.is_empty());
    if offers_tools && supports_tools(&shared, &resolved) == Some(false) {
        let message = format!(
            "{} cannot use tools (the model catalog does not list tool support for it), so it answers without them.",
            request.model
        );
        sink.emit(EventKind::ToolsUnsupported { message }).await;
        request.tools.clear();
        request.tools_to_start.clear();
    }
    if !request.tools_to_start.is_empty() && !start_mcp_servers(&shared, &mut request, &cancel, &mut sink).await {
        sink.emit(EventKind::Cancelled { summary: Box::default() }).await;
        return;
    }
    if let Some(message) = drop_unreadable_attachments(&shared, &resolved, &mut request) {
        sink.emit(EventKind::Notice { message }).await;
    }
    let step_limit = ctx.policy.step_limit.unwrap_or(shared.config.tool_step_limit);
    let mut rounds = 0u32;
    let final_kind = loop {
        // Past the limit the model must answer with what it has.
        let choice = if rounds >= step_limit { ToolChoice::None } else { ToolChoice::Auto };
        let step = run_step(&shared, &ctx, &resolved, &request, choice, &cancel, &mut sink).await;
        backfill::spawn_if_needed(&shared, &ctx, &resolved, &step);
        if refused_tools(&step, &request, rounds) {
            let message = format!(
                "{} has no endpoint that supports tool use on {}, so it answers without tools.",
                request.model, resolved.provider_name
            );
            sink.emit(EventKind::ToolsUnsupported { message }).await;
            request.tools.clear();
            continue;
        }
        let calls = &step.progress.summary.tool_calls;
        let wants_tools = matches!(step.outcome, Some(Outcome::Finished)) && !calls.is_empty();
        if !(wants_tools && !request.tools.is_empty() && rounds < step_limit) {
            break final_event(step, &request.model);
        }
        let summary = step.progress.summary;
        let assistant = ChatMessage {
            role: Role::Assistant,
            content: summary.text.clone(),
            tool_calls: summary.tool_calls.clone(),
            tool_call_id: None,
            reasoning_details: summary.reasoning_details.clone(),
            attachments: Vec::new(),
        };
        sink.emit(EventKind::StepFinished { summary: Box::new(summary) }).await;
        let run = tool_calls::ToolRun { shared: &shared, ctx: &ctx, offered: &request.tools, cancel: &cancel };
        let Some(results) = run.run(&assistant.tool_calls, &mut decisions, &mut sink).await else {
            // The step's figures went out with `StepFinished`; nothing more to count.
            break EventKind::Cancelled { summary: Box::default() };
        };
        request.messages.push(assistant);
        request.messages.extend(results);
        rounds += 1;
    };
    if shared.config.limiter.as_ref().and_then(|l| l.bucket_for(&resolved)).is_some() {
        tokio::spawn(publish_quota(Arc::clone(&shared)));
        if resolved.provider.kind == ProviderKind::Openrouter {
            tokio::spawn(refresh_account(Arc::clone(&shared), false));
        }
    }
    sink.emit(final_kind).await;
}

/// Start the MCP servers the request's `tools_to_start` need, waiting for them (the pane is told
/// why it waits), and offer their tools. A server that fails, or whose last start failed, is
/// named in a notice with its error, and the answer goes on without its tools. False when the
/// target was cancelled meanwhile.
async fn start_mcp_servers(
    shared: &Shared,
    request: &mut TargetRequest,
    cancel: &CancellationToken,
    sink: &mut ChannelSink,
) -> bool {
    let tools = &shared.config.tools;
    let names = std::mem::take(&mut request.tools_to_start);
    let without = |server: &str, error: &str| {
        format!(
            "{error} This answer goes on without the tools of {server}; once that is fixed, enabling them again (/tools) retries."
        )
    };
    let mut starting = Vec::new();
    for server in tools.servers_for(&names) {
        match tools.mcp().status(&server) {
            Some(ServerStatus::Failed(error)) => {
                sink.emit(EventKind::Notice { message: without(&server, &error) }).await;
            }
            Some(ServerStatus::NotStarted | ServerStatus::Starting) => starting.push(server),
            // Started by another pane meanwhile, or not to be started.
            _ => {}
        }
    }
    if !starting.is_empty() {
        let which = starting.join(", ");
        let s = if starting.len() == 1 { "" } else { "s" };
        let message = format!("Starting MCP server{s} {which}… (this answer waits for its tools)");
        sink.emit(EventKind::Notice { message }).await;
        let wildcards: Vec<[String; 1]> = starting.iter().map(|server| [format!("{server}.*")]).collect();
        let starts = wildcards.iter().map(|w| tools.prepare(w));
        let outcomes = tokio::select! {
            () = cancel.cancelled() => return false,
            outcomes = futures_util::future::join_all(starts) => outcomes,
        };
        for (server, outcome) in starting.iter().zip(outcomes) {
            if let Err(error) = outcome {
                sink.emit(EventKind::Notice { message: without(server, &error) }).await;
            }
        }
    }
    for name in &names {
        match tools.specs(std::slice::from_ref(name)) {
            Ok(specs) => {
                for spec in specs {
                    if !request.tools.iter().any(|t| t.name == spec.name) {
                        request.tools.push(spec);
                    }
                }
            }
            // The server is up but has no such tool.
            Err(unknown) => {
                sink.emit(EventKind::Notice { message: unknown.to_string() }).await;
            }
        }
    }
    true
}

/// Attachments the catalog says the model cannot take (its input modalities lack `image` or
/// `file`) are taken out of the request; the notice says which. Models the catalog does not
/// list get them as sent.
fn drop_unreadable_attachments(
    shared: &Shared,
    resolved: &ResolvedModel,
    request: &mut TargetRequest,
) -> Option<String> {
    let caps = shared.config.capabilities.as_ref()?;
    let modalities = caps.input_modalities(&resolved.provider_name, &resolved.upstream_model)?;
    let mut dropped = Vec::new();
    for m in &mut request.messages {
        m.attachments.retain(|a| {
            let ok = modalities.iter().any(|x| x == crate::core::attach::modality(a));
            if !ok {
                dropped.push(a.name.clone());
            }
            ok
        });
    }
    (!dropped.is_empty()).then(|| {
        format!(
            "{} takes {} only, so it gets the text without {}.",
            request.model,
            modalities.join(", "),
            dropped.join(", ")
        )
    })
}

fn supports_tools(shared: &Shared, resolved: &ResolvedModel) -> Option<bool> {
    shared.config.capabilities.as_ref()?.supports_tools(&resolved.provider_name, &resolved.upstream_model)
}

/// OpenRouter's 404 "No endpoints found that support tool use" on the first step: the same
/// situation as a catalog without `tools`, found out the hard way.
fn refused_tools(step: &StepResult, request: &TargetRequest, rounds: u32) -> bool {
    matches!(&step.outcome, Some(Outcome::Failed(e)) if e.kind == ErrorKind::NoToolEndpoints)
        && !request.tools.is_empty()
        && rounds == 0
        && !step.progress.produced_output
}

fn final_event(step: StepResult, model: &str) -> EventKind {
    let summary = Box::new(step.progress.summary);
    match step.outcome {
        None => EventKind::Cancelled { summary },
        Some(Outcome::Finished) => EventKind::Finished { reason: step.progress.finish, summary },
        Some(Outcome::Failed(error)) => {
            tracing::warn!(model = %model, kind = ?error.kind, status = ?error.status, "stream failed");
            EventKind::Failed { error, summary }
        }
    }
}
