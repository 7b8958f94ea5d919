//! One step's tool calls: each is checked (offered? known? arguments a JSON object with what
//! the schema requires?), announced, approved by the user when it must be, run (cancellable),
//! and its result announced and returned as the `tool` message for the next step.

use std::collections::HashMap;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::target::TargetCtx;
use super::{ChannelSink, Shared};
use crate::core::protocol::{ChatMessage, EventKind, ToolCall, ToolDecision, ToolSpec};
use crate::core::provider::client::EventSink;
use crate::core::sanitize::strip_controls;
use crate::core::tools::ToolOutput;

/// What the model reads when the user declined a call.
const DENIED: &str =
    "The user declined to run this tool call. Do not call it again; answer without it, or say what you would need.";

/// Decisions for calls not reached yet are kept; past this many (a confused consumer) the
/// oldest are forgotten.
const MAX_EARLY_DECISIONS: usize = 256;

pub(super) struct ToolRun<'a> {
    pub shared: &'a Shared,
    pub ctx: &'a TargetCtx,
    /// The tools offered in this conversation; only these may run.
    pub offered: &'a [ToolSpec],
    pub cancel: &'a CancellationToken,
}

impl ToolRun<'_> {
    /// Run `calls` in order. `None` when cancelled (while waiting for approval or running).
    pub async fn run(
        &self,
        calls: &[ToolCall],
        decisions: &mut mpsc::Receiver<(String, ToolDecision)>,
        sink: &mut ChannelSink,
    ) -> Option<Vec<ChatMessage>> {
        let registry = &self.shared.config.tools;
        let checks: Vec<Result<(), String>> = calls.iter().map(|c| registry.check(c, self.offered)).collect();
        // All calls first, so a pane shows a parallel batch at once.
        for (call, check) in calls.iter().zip(&checks) {
            let needs_confirmation = check.is_ok() && self.needs_confirmation(&call.name);
            sink.emit(EventKind::ToolCall { call: call.clone(), needs_confirmation }).await;
        }
        let mut early = HashMap::new();
        let mut messages = Vec::with_capacity(calls.len());
        for (call, check) in calls.iter().zip(checks) {
            let result = match check {
                Err(message) => ToolOutput::error(message),
                Ok(()) => {
                    // Asked again: an `AlwaysForTool` for an earlier call of this batch counts.
                    let approved = !self.needs_confirmation(&call.name)
                        || match wait_for_decision(&call.id, &mut early, decisions, self.cancel).await? {
                            ToolDecision::RunOnce => true,
                            ToolDecision::AlwaysForTool => {
                                if let Ok(mut set) = self.shared.always_allowed.lock() {
                                    set.insert(call.name.clone());
                                }
                                true
                            }
                            ToolDecision::Deny => false,
                        };
                    if approved {
                        tokio::select! {
                            biased;
                            () = self.cancel.cancelled() => return None,
                            out = registry.run(&call.name, &call.arguments) => out,
                        }
                    } else {
                        ToolOutput::error(DENIED)
                    }
                }
            };
            // OpenAI-style tool messages have no error flag: the text itself says so.
            let clean = strip_controls(&result.output);
            let output = if result.is_error { format!("Error: {clean}") } else { clean.into_owned() };
            let event = EventKind::ToolResult {
                call_id: call.id.clone(),
                name: call.name.clone(),
                output: output.clone(),
                is_error: result.is_error,
            };
            sink.emit(event).await;
            messages.push(ChatMessage::tool_result(call.id.clone(), output));
        }
        Some(messages)
    }

    fn needs_confirmation(&self, tool: &str) -> bool {
        !self.ctx.policy.auto_approve
            && !self.shared.config.tools.is_safe(tool)
            && !self.shared.always_allowed.lock().is_ok_and(|set| set.contains(tool))
    }
}

/// The decision for `call_id`, keeping decisions that arrive for other calls. `None` when the
/// target is cancelled first.
async fn wait_for_decision(
    call_id: &str,
    early: &mut HashMap<String, ToolDecision>,
    decisions: &mut mpsc::Receiver<(String, ToolDecision)>,
    cancel: &CancellationToken,
) -> Option<ToolDecision> {
    if let Some(d) = early.remove(call_id) {
        return Some(d);
    }
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => return None,
            next = decisions.recv() => match next {
                Some((id, d)) if id == call_id => return Some(d),
                Some((id, d)) => {
                    if early.len() >= MAX_EARLY_DECISIONS {
                        early.clear();
                    }
                    early.insert(id, d);
                }
                // The router is gone, which only happens at shutdown: wait for the cancel.
                None => {
                    cancel.cancelled().await;
                    return None;
                }
            },
        }
    }
}
