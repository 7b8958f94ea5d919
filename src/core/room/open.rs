//! Opening a stored room: its records replayed; a room stored before records existed is turned
//! into records from its messages and ledger rows first, so both read back the same way.

use std::collections::HashMap;
use std::path::Path;

use super::model::{AnswerEnd, AnswerKey, FinalState, PaneSpec, Record, ToolExchange, Turn};
use super::{Room, RoomSetup, StepFigures};
use crate::core::protocol::{ChatMessage, Role, TargetId, TurnId};
use crate::core::store::{self, MessageState, RequestStatus, RoomId, StoreError, StoredRoom};

/// Rebuild a stored room as it was.
pub fn open_stored(setup: RoomSetup, stored: StoredRoom) -> Room {
    let mut records = Vec::with_capacity(stored.records.len());
    for raw in &stored.records {
        match serde_json::from_str::<Record>(raw) {
            Ok(r) => records.push(r),
            // A record from a newer roundtable: skip it rather than lose the room.
            Err(e) => tracing::warn!(room = stored.id.0, error = %e, "skipped a room record this build does not know"),
        }
    }
    let mut setup = setup;
    setup.headless = stored.headless;
    Room::replay(setup, stored.id, stored.title, records, &stored.partial)
}

/// Load room `id` (or the newest, chatroom rooms first when `chat_only`) from the database at
/// `path`, converting a room stored before records existed. Blocking: call off the UI thread.
pub fn load(path: &Path, id: Option<RoomId>, chat_only: bool) -> Result<Option<StoredRoom>, StoreError> {
    let id = match id {
        Some(id) => id,
        None => match store::last_room_id(path, chat_only)? {
            Some(id) => id,
            None => return Ok(None),
        },
    };
    let Some(mut stored) = store::load_room_records(path, id)? else { return Ok(None) };
    if stored.records.is_empty()
        && let Some(t) = store::load_room(path, id)?
    {
        stored.records = legacy_records(&t).iter().filter_map(|r| serde_json::to_string(r).ok()).collect();
    }
    Ok(Some(stored))
}

/// Records for a room written before rooms kept records: panes from its models, a turn per
/// user message, an answer per pane and turn (tool-loop steps folded in), figures from the
/// ledger.
fn legacy_records(t: &store::RoomTranscript) -> Vec<Record> {
    let mut out = Vec::new();
    for (i, model) in t.room.models.iter().enumerate() {
        let target = TargetId(u32::try_from(i).unwrap_or(u32::MAX));
        out.push(Record::PaneAdded {
            pane: PaneSpec {
                target,
                model: model.clone(),
                settings: Default::default(),
                tools: vec![],
                removed: false,
            },
        });
    }
    let mut ends: Vec<(AnswerKey, AnswerEnd)> = Vec::new();
    let mut parent: Option<TurnId> = None;
    for m in &t.messages {
        match (m.role, m.target) {
            (Role::User, None) => {
                out.push(Record::TurnAdded {
                    turn: Turn {
                        id: m.turn,
                        parent,
                        prompt: m.content.clone(),
                        attachments: Vec::new(),
                        targets: None,
                        at_ms: m.created_at_ms,
                    },
                });
                parent = Some(m.turn);
            }
            (Role::Assistant, Some(target)) => {
                let key = AnswerKey { turn: m.turn, target, attempt: 0 };
                if !ends.iter().any(|(k, _)| *k == key) {
                    ends.push((key, empty_end(&m.model.clone().unwrap_or_default())));
                }
                let Some((_, end)) = ends.iter_mut().find(|(k, _)| *k == key) else { continue };
                if !end.text.is_empty() && !m.content.is_empty() {
                    end.text.push_str("\n\n");
                }
                end.text.push_str(&m.content);
                end.reasoning.push_str(&m.reasoning);
                end.state = match m.state {
                    MessageState::Done => FinalState::Done,
                    MessageState::Cancelled => FinalState::Cancelled,
                    _ => FinalState::Failed,
                };
                end.tools.extend(m.tool_calls.iter().map(|c| ToolExchange {
                    call: c.clone(),
                    result: None,
                    needs_confirmation: false,
                }));
                let mut msg = ChatMessage::assistant(m.content.clone());
                msg.tool_calls.clone_from(&m.tool_calls);
                end.messages.push(msg);
            }
            (Role::Tool, Some(target)) => {
                let key = AnswerKey { turn: m.turn, target, attempt: 0 };
                if let Some((_, end)) = ends.iter_mut().find(|(k, _)| *k == key) {
                    if let Some(x) = end.tools.iter_mut().find(|x| Some(&x.call.id) == m.tool_call_id.as_ref()) {
                        x.result = Some((m.content.clone(), m.content.starts_with("Error: ")));
                    }
                    let mut msg = ChatMessage::new(Role::Tool, m.content.clone());
                    msg.tool_call_id.clone_from(&m.tool_call_id);
                    end.messages.push(msg);
                }
            }
            _ => {}
        }
    }
    // Figures: every ledger row but an answer's last is a tool-loop step.
    let mut last: HashMap<(TurnId, TargetId), usize> = HashMap::new();
    for (i, r) in t.requests.iter().enumerate() {
        last.insert((r.turn, r.target), i);
    }
    let mut steps: HashMap<(TurnId, TargetId), Vec<StepFigures>> = HashMap::new();
    for r in &t.requests {
        let step = r.figures();
        steps.entry((r.turn, r.target)).or_default().push(step);
    }
    out.push(Record::HeadMoved { head: parent });
    for (key, mut end) in ends {
        let model = t.room.models.get(key.target.0 as usize).cloned().unwrap_or_default();
        out.push(Record::AnswerBegun { key, model, message: None, pending: false });
        let mut figures = steps.remove(&(key.turn, key.target)).unwrap_or_default();
        end.step = figures.pop();
        end.answered = end.state != FinalState::Failed || end.step.as_ref().is_some_and(|s| s.cost.is_some());
        if end.state == FinalState::Cancelled {
            end.finish = Some("stopped".into());
        }
        if let Some(r) = last.get(&(key.turn, key.target)).and_then(|i| t.requests.get(*i)) {
            end.served_model.clone_from(&r.summary.served_model);
            end.upstream_provider.clone_from(&r.summary.upstream_provider);
            end.ttft_ms = r.summary.timings.ttft_ms;
            if r.status == RequestStatus::Error {
                let kind = r.error_kind.clone().unwrap_or_else(|| "error".into());
                let message = match r.http_status {
                    Some(s) => format!("this answer ended with an error: {} (HTTP {s})", kind.replace('_', " ")),
                    None => format!("this answer ended with an error: {}", kind.replace('_', " ")),
                };
                end.error = Some(super::AnswerError { kind, status: r.http_status, message });
            }
        }
        for step in figures {
            out.push(Record::StepDone { key, step });
        }
        out.push(Record::AnswerEnded { key, end: Box::new(end) });
    }
    out
}

fn empty_end(_model: &str) -> AnswerEnd {
    AnswerEnd {
        state: FinalState::Done,
        text: String::new(),
        reasoning: String::new(),
        tools: Vec::new(),
        notices: Vec::new(),
        citations: Vec::new(),
        step: None,
        finish: None,
        error: None,
        served_model: None,
        upstream_provider: None,
        ttft_ms: None,
        tokens_per_second: None,
        answered: false,
        messages: Vec::new(),
    }
}
