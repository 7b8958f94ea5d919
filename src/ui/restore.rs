//! Rebuilding a room from the store (`--resume`): panes, transcripts with their tool calls,
//! each model's thread, and the footers and totals the room showed live (from the ledger).

use std::collections::HashMap;

use crate::core::protocol::{ChatMessage, Role, TargetId, TurnId};
use crate::core::sanitize::strip_controls;
use crate::core::store::{MessageState, RequestStatus, RoomRequest, RoomTranscript, StoredMessage};
use crate::ui::app::{App, Level};
use crate::ui::markdown::MarkdownView;
use crate::ui::pane::{Answer, Entry, Outcome, Pane, ToolNote};

impl App {
    /// Rebuild panes, transcripts and threads from a stored room.
    pub(crate) fn restore(&mut self, t: RoomTranscript) {
        self.room = Some(t.room.id);
        for model in &t.room.models {
            self.add_pane(model.clone());
        }
        let mut max_turn = 0;
        for m in &t.messages {
            max_turn = max_turn.max(m.turn.0);
            let panes: Vec<usize> = match m.target {
                None => (0..self.panes.len()).collect(),
                Some(target) => self.panes.iter().position(|p| p.target == target).into_iter().collect(),
            };
            for i in panes {
                restore_message(&mut self.panes[i], m);
            }
        }
        restore_figures(&mut self.panes, &t.requests);
        self.next_turn = max_turn + 1;
        let title = t.room.title.clone();
        self.set_status(Level::Info, format!("Resumed room “{title}”"));
    }
}

fn restore_message(pane: &mut Pane, m: &StoredMessage) {
    match m.role {
        Role::User => {
            pane.entries.push(Entry::User { turn: m.turn, body: Box::new(MarkdownView::from_text(&m.content)) });
            pane.thread.push(ChatMessage::user(m.content.clone()));
        }
        Role::Assistant => {
            // A tool loop stores one assistant message per step; live they were one answer.
            let continues = matches!(pane.entries.last(), Some(Entry::Answer(a)) if a.turn == m.turn);
            if !continues {
                pane.entries.push(Entry::Answer(Box::new(Answer::new(m.turn))));
            }
            let Some(answer) = pane.answer_to(m.turn) else { return };
            if !answer.body.text().is_empty() && !m.content.is_empty() {
                answer.body.push_str("\n\n");
            }
            answer.body.push_str(&m.content);
            answer.reasoning_chars += m.reasoning.chars().count();
            answer.outcome = match m.state {
                MessageState::Done => Outcome::Done,
                MessageState::Cancelled => Outcome::Cancelled,
                MessageState::Error => Outcome::Failed("this answer ended with an error".into()),
                MessageState::Streaming => Outcome::Failed("interrupted: roundtable closed while streaming".into()),
            };
            answer.tools.extend(m.tool_calls.iter().map(|call| ToolNote {
                call_id: call.id.clone(),
                name: strip_controls(&call.name).into_owned(),
                arguments: call.arguments.clone(),
                result: None,
                needs_confirmation: false,
            }));
            if !m.content.is_empty() || !m.tool_calls.is_empty() {
                let mut msg = ChatMessage::assistant(m.content.clone());
                msg.tool_calls = m.tool_calls.clone();
                pane.thread.push(msg);
            }
        }
        Role::Tool => {
            if let Some(Entry::Answer(a)) = pane.entries.last_mut()
                && let Some(note) = a.tools.iter_mut().find(|n| Some(&n.call_id) == m.tool_call_id.as_ref())
            {
                // Error results are stored as the model got them: text starting "Error: ".
                let is_error = m.content.starts_with("Error: ");
                note.result = Some((strip_controls(&m.content).into_owned(), is_error));
            }
            let mut msg = ChatMessage::new(Role::Tool, m.content.clone());
            msg.tool_call_id = m.tool_call_id.clone();
            pane.thread.push(msg);
        }
        Role::System => {}
    }
}

/// Count every request in its pane's totals and put each answer's last step figures under it,
/// as the live room did. Failed answers get the ledger's error kind in place of a bare "error".
fn restore_figures(panes: &mut [Pane], requests: &[RoomRequest]) {
    let mut last_step: HashMap<(TurnId, TargetId), usize> = HashMap::new();
    for (k, r) in requests.iter().enumerate() {
        last_step.insert((r.turn, r.target), k);
    }
    for (k, r) in requests.iter().enumerate() {
        let Some(pane) = panes.iter_mut().find(|p| p.target == r.target) else { continue };
        let s = &r.summary;
        if s.served_model.is_some() {
            pane.served_model = s.served_model.as_deref().map(|m| strip_controls(m).into_owned());
        }
        if s.upstream_provider.is_some() {
            pane.upstream = s.upstream_provider.as_deref().map(|p| strip_controls(p).into_owned());
        }
        if last_step.get(&(r.turn, r.target)) != Some(&k) {
            pane.count_step(r.turn, s);
            continue;
        }
        let finish = (r.status == RequestStatus::Cancelled).then(|| "stopped".to_string());
        pane.count_final(r.turn, s, finish, r.status == RequestStatus::Ok);
        let Some(answer) = pane.answer_to(r.turn) else { continue };
        if r.status == RequestStatus::Error
            && let Outcome::Failed(message) = &mut answer.outcome
        {
            let kind = r.error_kind.as_deref().unwrap_or("error").replace('_', " ");
            *message = match r.http_status {
                Some(status) => format!("this answer ended with an error: {kind} (HTTP {status})"),
                None => format!("this answer ended with an error: {kind}"),
            };
        }
    }
}
