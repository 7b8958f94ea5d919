//! One pane's stored conversation for a turn, written from its events: the answer as it
//! streams, and for a tool loop each step's assistant message with its tool calls, each tool
//! result, and the next answer, in the order the model saw them. Used by every consumer
//! (chatroom, `ask`) so rooms read back the same however they were written.

use super::{MessageId, MessageState, RoomId, Store};
use crate::core::protocol::{EventKind, StreamSummary, TargetId, TurnId};

pub struct TranscriptRecorder {
    store: Store,
    room: RoomId,
    turn: TurnId,
    target: TargetId,
    model: String,
    /// The assistant message being written, if a step is open.
    current: Option<MessageId>,
}

impl TranscriptRecorder {
    /// Starts the pane's answer at once, so a pane that fails before sending still has its
    /// (empty, failed) message in the room.
    pub fn begin(store: &Store, room: RoomId, turn: TurnId, target: TargetId, model: &str) -> TranscriptRecorder {
        let current = Some(store.begin_answer(room, turn, target, model));
        TranscriptRecorder { store: store.clone(), room, turn, target, model: model.to_owned(), current }
    }

    fn open(&mut self) -> MessageId {
        match self.current {
            Some(id) => id,
            None => {
                let id = self.store.begin_answer(self.room, self.turn, self.target, &self.model);
                self.current = Some(id);
                id
            }
        }
    }

    fn close(&mut self, state: MessageState, summary: &StreamSummary) {
        let id = self.open();
        self.store.finish_answer(id, state, &summary.tool_calls);
        self.current = None;
    }

    /// Fold one of this pane's events into the room.
    pub fn record(&mut self, kind: &EventKind) {
        match kind {
            EventKind::TextDelta(t) => {
                let id = self.open();
                self.store.append_answer(id, t, "");
            }
            EventKind::ReasoningDelta(t) => {
                let id = self.open();
                self.store.append_answer(id, "", t);
            }
            // The next step of a tool loop answers in a new message, after the tool results.
            EventKind::Started { .. } => {
                self.open();
            }
            EventKind::StepFinished { summary } => self.close(MessageState::Done, summary),
            EventKind::ToolResult { call_id, output, .. } => {
                self.store.add_tool_result(self.room, self.turn, self.target, call_id, output);
            }
            EventKind::Finished { summary, .. } => self.close(MessageState::Done, summary),
            EventKind::Failed { summary, .. } => self.close(MessageState::Error, summary),
            EventKind::Cancelled { summary } => self.close(MessageState::Cancelled, summary),
            _ => {}
        }
    }
}
