//! Reading the turn tree: the path of the current branch, the branches' tips, and the thread a
//! pane's model sees for a turn (the prompts it was sent, its own answers or adopted ones).

use std::collections::HashSet;

use super::Room;
use super::model::{Answer, AnswerState, Turn};
use crate::core::protocol::{ChatMessage, Role, TargetId, TurnId};

impl Room {
    pub fn turn(&self, id: TurnId) -> Option<&Turn> {
        self.turns.iter().find(|t| t.id == id)
    }

    /// The turns from the root to `leaf`, in order.
    pub fn path_to(&self, leaf: Option<TurnId>) -> Vec<&Turn> {
        let mut path = Vec::new();
        let mut at = leaf;
        let mut seen = HashSet::new();
        while let Some(id) = at {
            // A malformed log must not loop forever.
            if !seen.insert(id) {
                break;
            }
            let Some(turn) = self.turn(id) else { break };
            path.push(turn);
            at = turn.parent;
        }
        path.reverse();
        path
    }

    /// The current branch, root first.
    pub fn path(&self) -> Vec<&Turn> {
        self.path_to(self.head)
    }

    /// Turns with no children: one per branch, oldest first.
    pub fn branch_tips(&self) -> Vec<TurnId> {
        self.tips().map(|t| t.id).collect()
    }

    /// How many branches there are, without working out which is current: the status line
    /// asks every frame, and nearly every room has one.
    pub fn branch_count(&self) -> usize {
        self.tips().count()
    }

    fn tips(&self) -> impl Iterator<Item = &Turn> {
        let parents: HashSet<TurnId> = self.turns.iter().filter_map(|t| t.parent).collect();
        self.turns.iter().filter(move |t| !parents.contains(&t.id))
    }

    /// Which branch is current (1-based) and how many there are.
    pub fn branch_position(&self) -> (usize, usize) {
        let tips = self.branch_tips();
        let on_path: HashSet<TurnId> = self.path().iter().map(|t| t.id).collect();
        let at = tips.iter().position(|t| on_path.contains(t)).map_or(0, |i| i + 1);
        (at, tips.len())
    }

    /// The answer of `target` that stands for `turn` in threads and on screen: the latest attempt
    /// that ended with something to say, else the latest attempt.
    pub fn answer_for(&self, turn: TurnId, target: TargetId) -> Option<&Answer> {
        let attempts = self.answers.iter().filter(|a| a.key.turn == turn && a.key.target == target);
        let mut latest = None;
        let mut best = None;
        for a in attempts {
            latest = Some(a);
            if a.state.is_final() && !a.messages.is_empty() {
                best = Some(a);
            }
        }
        best.or(latest)
    }

    /// Every attempt of `target` at `turn`, oldest first.
    pub fn attempts(&self, turn: TurnId, target: TargetId) -> impl Iterator<Item = &Answer> {
        self.answers.iter().filter(move |a| a.key.turn == turn && a.key.target == target)
    }

    /// The messages `target`'s model is sent to answer `turn`: for every earlier turn on the
    /// path that went to it, the prompt and its answer (or the adopted one), then this turn's
    /// prompt. The system prompt is the pane's setting and is added by the provider layer.
    pub fn thread_for(&self, target: TargetId, turn: TurnId) -> Vec<ChatMessage> {
        self.thread_along(target, Some(turn), true)
    }

    /// What `target`'s model would be sent before a new prompt on the current branch (for the
    /// draft's estimate).
    pub fn context_for(&self, target: TargetId) -> Vec<ChatMessage> {
        self.thread_along(target, self.head, false)
    }

    fn thread_along(&self, target: TargetId, leaf: Option<TurnId>, leaf_unanswered: bool) -> Vec<ChatMessage> {
        let mut thread = Vec::new();
        for t in self.path_to(leaf) {
            if !t.addresses(target) {
                continue;
            }
            let mut prompt = ChatMessage::user(t.prompt.clone());
            prompt.attachments.clone_from(&t.attachments);
            thread.push(prompt);
            if leaf_unanswered && Some(t.id) == leaf {
                break;
            }
            if let Some(adopted) = self.adopted_text(t.id, target) {
                thread.push(ChatMessage::assistant(adopted));
                continue;
            }
            if let Some(a) = self.answer_for(t.id, target).filter(|a| a.state.is_final()) {
                thread.extend(a.messages.iter().cloned());
            }
        }
        thread
    }

    /// The text every pane but the source continues from when an answer to `turn` was adopted.
    fn adopted_text(&self, turn: TurnId, target: TargetId) -> Option<String> {
        let key = self.adoptions.iter().rev().find(|k| k.turn == turn)?;
        if key.target == target {
            return None;
        }
        let answer = self.answers.iter().find(|a| a.key == *key)?;
        Some(final_text(answer))
    }

    /// Whether `target` has an answer that is streaming or waiting to be sent.
    pub fn is_busy(&self, target: TargetId) -> bool {
        self.answers.iter().any(|a| a.key.target == target && (a.state.is_active() || a.state == AnswerState::Pending))
    }
}

/// What an answer finally said: its last assistant message, or all of its text.
pub fn final_text(answer: &Answer) -> String {
    answer
        .messages
        .iter()
        .rev()
        .find(|m| m.role == Role::Assistant && !m.content.is_empty())
        .map_or_else(|| answer.text.clone(), |m| m.content.clone())
}
