//! A room, owned by the core: its panes and their settings, the tree of turns, every answer
//! with its figures, tool calls, errors and adoptions. The chatroom and `ask` drive it with
//! commands (send, add/remove a pane, settings, retry, adopt, stop, branch) and feed it the
//! router's events; it builds every request's thread, persists each change as it happens and
//! gives the totals. What is on screen, what `--resume` restores, what `rooms show` prints and
//! what an export contains come from the same data: a reopened room is its records replayed.

pub mod accounting;
mod model;
mod open;
mod settings;
mod thread;

use std::collections::HashMap;
use std::time::Instant;

pub use accounting::{DaySpend, StepFigures, Totals};
pub use model::{
    Analysis, Answer, AnswerEnd, AnswerError, AnswerKey, AnswerState, BlindRound, FinalState, Footer, Notice, PaneSpec,
    Record, RoomVote, ToolExchange, Turn,
};
pub use open::{load, open_stored};
pub use settings::{SettingsError, describe_settings, validate_settings};
pub use thread::final_text;

use crate::core::protocol::{
    ChatMessage, Command, CoreEvent, Cost, EventKind, ModelSettings, StreamEvent, StreamSummary, TargetId,
    TargetRequest, ToolPolicy, TurnId, TurnRequest, Usage,
};
use crate::core::sanitize::strip_controls;
use crate::core::store::{MessageState, RoomId, Store, now_ms};
use crate::core::tools::ToolRegistry;

/// The target id of analysis requests (`/analyze`): never a pane's.
pub const ANALYST_TARGET: TargetId = TargetId(u32::MAX);

/// What a room is made with.
#[derive(Clone, Default)]
pub struct RoomSetup {
    /// Where the room is persisted; `None` keeps it in memory.
    pub store: Option<Store>,
    pub tools: ToolRegistry,
    pub policy: ToolPolicy,
    /// Today's spend, shared by every room of the process.
    pub spend: DaySpend,
    /// A room made by `ask` (listed as headless).
    pub headless: bool,
}

/// A refused room command: the message says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RoomError(pub String);

/// What a core event did to the room.
#[derive(Debug, Default)]
pub struct Applied {
    /// The answer it changed.
    pub answer: Option<AnswerKey>,
    /// The answer ended (its figures, footer and state are final).
    pub ended: bool,
    /// Requests to send now (a prompt that waited for this pane's previous answer).
    pub commands: Vec<Command>,
}

/// Totals per pane, per model and for the whole room (removed panes included).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoomTotals {
    pub panes: HashMap<TargetId, Totals>,
    pub models: Vec<(String, Totals)>,
    pub room: Totals,
}

pub struct Room {
    /// The stored room; `None` until the first prompt (an untouched room leaves no trace).
    pub id: Option<RoomId>,
    pub title: String,
    pub headless: bool,
    pub panes: Vec<PaneSpec>,
    pub turns: Vec<Turn>,
    pub answers: Vec<Answer>,
    /// Adopted answers, in order; the latest one per turn counts.
    pub adoptions: Vec<AnswerKey>,
    pub notices: Vec<Notice>,
    /// The turn the next prompt follows: the tip of the current branch.
    pub head: Option<TurnId>,
    /// Bumped by every change that is not streamed text (panes, turns, states, figures), so a
    /// face knows when to rebuild what it derived.
    pub revision: u64,
    /// Files to send with the next prompt (`attach`); the turn keeps them once sent.
    pub attachments: Vec<crate::core::protocol::Attachment>,
    /// The current or last blind round.
    pub blind: Option<BlindRound>,
    /// Votes cast in this room, oldest first.
    pub votes: Vec<RoomVote>,
    /// The tag the next vote is filed under (`/tag`).
    pub tag: Option<String>,
    /// Analyses of turns' answers, oldest first.
    pub analyses: Vec<Analysis>,
    log: Vec<Record>,
    persisted: usize,
    setup: RoomSetup,
    /// The answer streaming for each (turn, pane) the router knows.
    live: HashMap<(TurnId, TargetId), usize>,
    next_turn: u64,
    next_target: u32,
}

impl Room {
    pub fn new(setup: RoomSetup) -> Room {
        Room {
            id: None,
            title: String::new(),
            headless: setup.headless,
            panes: Vec::new(),
            turns: Vec::new(),
            answers: Vec::new(),
            adoptions: Vec::new(),
            notices: Vec::new(),
            head: None,
            revision: 0,
            attachments: Vec::new(),
            blind: None,
            votes: Vec::new(),
            tag: None,
            analyses: Vec::new(),
            log: Vec::new(),
            persisted: 0,
            setup,
            live: HashMap::new(),
            next_turn: 1,
            next_target: 0,
        }
    }

    /// A stored room, rebuilt from its records. `partial` holds the text saved for answers that
    /// were still streaming when their process ended (by message id).
    pub fn replay(
        setup: RoomSetup,
        id: RoomId,
        title: String,
        records: Vec<Record>,
        partial: &HashMap<crate::core::store::MessageId, (String, String)>,
    ) -> Room {
        let mut room = Room::new(setup);
        room.id = Some(id);
        room.title = title;
        for r in &records {
            room.apply(r);
        }
        room.persisted = records.len();
        room.log = records;
        room.live.clear();
        for a in &mut room.answers {
            match a.state {
                AnswerState::Pending => {
                    a.state = AnswerState::Cancelled;
                    a.finish = Some("never sent".into());
                }
                ref s if !s.is_final() => {
                    if let Some((text, reasoning)) = a.message.and_then(|m| partial.get(&m)) {
                        a.text.clone_from(text);
                        a.reasoning.clone_from(reasoning);
                    }
                    a.state = AnswerState::Interrupted;
                    if !a.text.is_empty() {
                        a.messages = vec![ChatMessage::assistant(a.text.clone())];
                    }
                }
                _ => {}
            }
        }
        room.revision += 1;
        room
    }

    /// Every record so far (tests compare a live room with its replay).
    pub fn records(&self) -> &[Record] {
        &self.log
    }

    /// Panes that are in the room now.
    pub fn live_panes(&self) -> impl Iterator<Item = &PaneSpec> {
        self.panes.iter().filter(|p| !p.removed)
    }

    pub fn pane(&self, target: TargetId) -> Option<&PaneSpec> {
        self.panes.iter().find(|p| p.target == target)
    }

    pub fn answer(&self, key: AnswerKey) -> Option<&Answer> {
        self.answers.iter().find(|a| a.key == key)
    }

    /// The answer streaming (or waiting to be sent) in `target`'s pane, if any.
    pub fn active_answer(&self, target: TargetId) -> Option<&Answer> {
        self.answers.iter().find(|a| a.key.target == target && a.state.is_active())
    }

    /// Whether any pane is streaming or has a prompt waiting.
    pub fn is_streaming(&self) -> bool {
        self.answers.iter().any(|a| a.state.is_active() || a.state == AnswerState::Pending)
    }

    // ---- commands ------------------------------------------------------------------------

    /// Add a pane for `model`; it joins the conversation from the next prompt on.
    pub fn add_pane(&mut self, model: &str, settings: ModelSettings) -> TargetId {
        let target = TargetId(self.next_target);
        let tools = self.live_panes().next().map(|p| p.tools.clone()).unwrap_or_default();
        self.record(Record::PaneAdded {
            pane: PaneSpec { target, model: model.to_owned(), settings, tools, removed: false },
        });
        if !self.turns.is_empty() {
            self.notice(Some(target), format!("{model} joined the room"));
        }
        target
    }

    /// Remove a pane: its stream stops; its answers stay in the room's history and its spend in
    /// the totals.
    pub fn remove_pane(&mut self, target: TargetId) -> Result<Vec<Command>, RoomError> {
        self.live_pane(target)?;
        let commands = self.stop(Some(target));
        self.record(Record::PaneRemoved { target });
        Ok(commands)
    }

    /// Replace a pane's settings (checked first; nothing changes on error).
    pub fn set_settings(
        &mut self,
        target: TargetId,
        settings: ModelSettings,
        max_output: Option<u64>,
    ) -> Result<(), RoomError> {
        self.live_pane(target)?;
        validate_settings(&settings, max_output).map_err(|e| RoomError(e.to_string()))?;
        let described = describe_settings(&settings);
        self.record(Record::PaneSettings { target, settings });
        let text = if described.is_empty() { "settings back to defaults".to_string() } else { described };
        self.notice(Some(target), text);
        Ok(())
    }

    /// The tools offered to `target`'s model (checked against the registry).
    pub fn set_tools(&mut self, target: TargetId, tools: Vec<String>) -> Result<(), RoomError> {
        self.live_pane(target)?;
        self.setup.tools.specs(&tools).map_err(|e| RoomError(e.to_string()))?;
        self.record(Record::PaneTools { target, tools });
        Ok(())
    }

    pub fn rename(&mut self, title: &str) {
        let title: String = strip_controls(title).trim().chars().take(120).collect();
        self.record(Record::Renamed { title });
    }

    /// Send `prompt` to `to` (every pane when `None`) as the next turn of the current branch.
    /// Idle panes get it at once; a busy pane when its answer ends.
    pub fn send(&mut self, prompt: &str, to: Option<Vec<TargetId>>) -> Result<Vec<Command>, RoomError> {
        let parent = self.head;
        self.send_after(parent, prompt, to)
    }

    /// Edit and resend: `prompt` replaces turn `edited`, as a new branch beside it (the earlier
    /// branch stays and can be switched back to).
    pub fn send_branch(
        &mut self,
        edited: TurnId,
        prompt: &str,
        to: Option<Vec<TargetId>>,
    ) -> Result<Vec<Command>, RoomError> {
        let parent = self.turn(edited).ok_or_else(|| RoomError(format!("There is no turn {}", edited.0)))?.parent;
        if self.is_streaming() {
            return Err(RoomError("Wait for the answers to end (or press Esc) before starting a branch".into()));
        }
        self.send_after(parent, prompt, to)
    }

    fn send_after(
        &mut self,
        parent: Option<TurnId>,
        prompt: &str,
        to: Option<Vec<TargetId>>,
    ) -> Result<Vec<Command>, RoomError> {
        if prompt.trim().is_empty() {
            return Err(RoomError("The prompt is empty".into()));
        }
        let targets: Vec<TargetId> = match &to {
            None => self.live_panes().map(|p| p.target).collect(),
            Some(list) => {
                for t in list {
                    self.live_pane(*t)?;
                }
                list.clone()
            }
        };
        if targets.is_empty() {
            return Err(RoomError("Add a model first: Ctrl+N opens the picker, or type /add MODEL".into()));
        }
        self.materialize(prompt);
        let turn = TurnId(self.next_turn);
        let to = to.map(|mut t| {
            t.sort();
            t.dedup();
            t
        });
        let attachments = std::mem::take(&mut self.attachments);
        self.record(Record::TurnAdded {
            turn: Turn { id: turn, parent, prompt: prompt.to_owned(), attachments, targets: to, at_ms: now_ms() },
        });
        self.record(Record::HeadMoved { head: Some(turn) });
        if let (Some(store), Some(room)) = (&self.setup.store, self.id) {
            store.add_user_message(room, turn, prompt);
        }
        let mut commands = Vec::new();
        for target in targets {
            let key = AnswerKey { turn, target, attempt: 0 };
            if self.is_busy(target) {
                let model = self.pane(target).map(|p| p.model.clone()).unwrap_or_default();
                self.record(Record::AnswerBegun { key, model, message: None, pending: true });
            } else {
                commands.extend(self.begin(key));
            }
        }
        Ok(commands)
    }

    /// Ask `target` again for its latest answer on this branch (a new attempt; the earlier one
    /// stays).
    pub fn retry(&mut self, target: TargetId) -> Result<Vec<Command>, RoomError> {
        self.live_pane(target)?;
        if self.is_busy(target) {
            return Err(RoomError("That pane is still streaming; stop it first (Ctrl+X)".into()));
        }
        let turn = self
            .path()
            .iter()
            .rev()
            .find(|t| t.addresses(target) && self.answer_for(t.id, target).is_some())
            .map(|t| t.id)
            .ok_or_else(|| RoomError("Nothing to retry yet".into()))?;
        let attempt = self.attempts(turn, target).map(|a| a.key.attempt + 1).max().unwrap_or(0);
        Ok(self.begin(AnswerKey { turn, target, attempt }))
    }

    /// Every other pane's thread continues from `target`'s latest answer.
    pub fn adopt(&mut self, target: TargetId) -> Result<String, RoomError> {
        let pane = self.live_pane(target)?.clone();
        if self.is_busy(target) {
            return Err(RoomError("Wait for the answer to finish before adopting it".into()));
        }
        let key = self
            .path()
            .iter()
            .rev()
            .find_map(|t| self.answer_for(t.id, target).filter(|a| !final_text(a).is_empty()))
            .map(|a| a.key)
            .ok_or_else(|| RoomError("Nothing to adopt yet".into()))?;
        self.record(Record::Adopted { key });
        let others: Vec<TargetId> = self.live_panes().map(|p| p.target).filter(|t| *t != target).collect();
        for t in others {
            self.notice(Some(t), format!("adopted {}'s answer as this model's answer", pane.model));
        }
        Ok(pane.model)
    }

    /// Stop `target`'s stream (every pane's when `None`); prompts waiting for it are dropped.
    pub fn stop(&mut self, target: Option<TargetId>) -> Vec<Command> {
        let mut commands = Vec::new();
        let mut pending = Vec::new();
        for a in &self.answers {
            if target.is_some_and(|t| t != a.key.target) {
                continue;
            }
            if a.state.is_active() {
                commands.push(Command::Cancel { turn: a.key.turn, target: Some(a.key.target) });
            } else if a.state == AnswerState::Pending {
                pending.push(a.key);
            }
        }
        for key in pending {
            let end = AnswerEnd {
                state: FinalState::Cancelled,
                text: String::new(),
                reasoning: String::new(),
                tools: Vec::new(),
                notices: Vec::new(),
                citations: Vec::new(),
                step: None,
                finish: Some("never sent".into()),
                error: None,
                served_model: None,
                upstream_provider: None,
                ttft_ms: None,
                tokens_per_second: None,
                answered: false,
                messages: Vec::new(),
            };
            self.record(Record::AnswerEnded { key, end: Box::new(end) });
        }
        commands
    }

    /// Continue from another branch: `tip` (or the newest tip under it) becomes the head.
    pub fn switch_branch(&mut self, tip: TurnId) -> Result<(), RoomError> {
        if self.is_streaming() {
            return Err(RoomError("Wait for the answers to end (or press Esc) before switching branches".into()));
        }
        let tips = self.branch_tips();
        let leaf = tips
            .iter()
            .rev()
            .find(|t| self.path_to(Some(**t)).iter().any(|p| p.id == tip))
            .copied()
            .ok_or_else(|| RoomError(format!("There is no turn {}", tip.0)))?;
        self.record(Record::HeadMoved { head: Some(leaf) });
        Ok(())
    }

    /// Switch to the next (`by` = 1) or previous (-1) branch, wrapping around.
    pub fn cycle_branch(&mut self, by: isize) -> Result<(usize, usize), RoomError> {
        let tips = self.branch_tips();
        if tips.len() < 2 {
            return Err(RoomError(
                "This room has one branch: edit an earlier prompt (/edit N) to start another".into(),
            ));
        }
        let (at, n) = self.branch_position();
        let next = (at.max(1) as isize - 1 + by).rem_euclid(n as isize) as usize;
        self.switch_branch(tips[next])?;
        Ok(self.branch_position())
    }

    // ---- comparing ----------------------------------------------------------------------

    /// Start a blind round: until a vote, the panes are "Model A", "Model B", … in an order
    /// shuffled by `seed`.
    pub fn start_blind(&mut self, seed: u64) {
        self.record(Record::BlindStarted { seed });
    }

    /// Whether a blind round hides the names now.
    pub fn is_blind(&self) -> bool {
        self.blind.is_some_and(|b| !b.revealed)
    }

    /// The blind label of every live pane while a blind round hides the names.
    pub fn blind_labels(&self) -> Option<HashMap<TargetId, String>> {
        let round = self.blind.filter(|b| !b.revealed)?;
        let live: Vec<TargetId> = self.live_panes().map(|p| p.target).collect();
        let order = crate::core::compare::blind_order(live.len(), round.seed);
        Some(
            order
                .iter()
                .enumerate()
                .map(|(position, pane)| (live[*pane], crate::core::compare::blind_label(position)))
                .collect(),
        )
    }

    /// File the next vote under `tag` (`None` clears it).
    pub fn set_tag(&mut self, tag: Option<String>) {
        self.tag = tag.map(|t| strip_controls(&t).trim().to_owned()).filter(|t| !t.is_empty());
    }

    /// Vote on the answers of the latest turn: the best pane (`Label` in a blind round,
    /// `Pane` by number), a tie or all bad. Stored for the leaderboard; a blind round ends and
    /// the names are revealed. Returns what to tell the user.
    pub fn vote(&mut self, choice: crate::core::compare::VoteChoice) -> Result<String, RoomError> {
        use crate::core::compare::{Vote, VoteChoice, VoteOutcome};
        let turn = self.head.ok_or_else(|| RoomError("Nothing to vote on yet: send a prompt first".into()))?;
        if self.is_streaming() {
            return Err(RoomError("Wait for every answer to end before voting".into()));
        }
        let panes: Vec<PaneSpec> =
            self.live_panes().filter(|p| self.turn(turn).is_some_and(|t| t.addresses(p.target))).cloned().collect();
        if panes.len() < 2 {
            return Err(RoomError("A vote compares two answers or more: this turn went to one pane".into()));
        }
        let blind = self.is_blind();
        let labels = self.blind_labels();
        let index_of = |target: TargetId| panes.iter().position(|p| p.target == target);
        let outcome = match choice {
            VoteChoice::Tie => VoteOutcome::Tie,
            VoteChoice::AllBad => VoteOutcome::AllBad,
            VoteChoice::Pane(i) => {
                let target = self.live_panes().nth(i).map(|p| p.target);
                let at = target.and_then(index_of).ok_or_else(|| RoomError(format!("There is no pane {}", i + 1)))?;
                VoteOutcome::Best(at)
            }
            VoteChoice::Label(position) => {
                let wanted = crate::core::compare::blind_label(position);
                let target = labels
                    .as_ref()
                    .and_then(|l| l.iter().find(|(_, label)| **label == wanted).map(|(t, _)| *t))
                    .ok_or_else(|| RoomError(format!("There is no {wanted} in this round")))?;
                VoteOutcome::Best(index_of(target).ok_or_else(|| RoomError(format!("{wanted} did not answer")))?)
            }
        };
        let models: Vec<String> = panes.iter().map(|p| p.model.clone()).collect();
        let prompt = self.turn(turn).map(|t| t.prompt.clone()).unwrap_or_default();
        if let Some(store) = &self.setup.store {
            store.record_vote(Vote {
                room: self.id,
                turn: Some(turn),
                prompt,
                models: models.clone(),
                outcome,
                blind,
                tag: self.tag.clone(),
                at_ms: now_ms(),
            });
        }
        let said = match outcome {
            VoteOutcome::Best(i) => format!("best: {}", models[i]),
            VoteOutcome::Tie => "a tie".to_string(),
            VoteOutcome::AllBad => "all bad".to_string(),
        };
        let reveal = labels.map(|l| {
            let mut pairs: Vec<(String, String)> =
                l.into_iter().filter_map(|(t, label)| Some((label, self.pane(t)?.model.clone()))).collect();
            pairs.sort();
            pairs.into_iter().map(|(label, model)| format!("{label} = {model}")).collect::<Vec<_>>().join(" · ")
        });
        let tag = self.tag.clone();
        self.record(Record::Voted { turn, outcome, models, blind, tag });
        let kind = if blind { "blind vote" } else { "vote" };
        self.notice(None, format!("{kind}: {said}"));
        Ok(match reveal {
            Some(r) => format!("Voted {said}. Revealed: {r}"),
            None => format!("Voted {said}"),
        })
    }

    /// Ask `model` to compare the answers of the latest turn: where they agree, contradict each
    /// other, errors, and which is best (JSON by schema when `structured`). Blind labels stand in
    /// for the models during a blind round. Returns the request to send and its estimated
    /// prompt tokens.
    pub fn analyze(&mut self, model: &str, structured: bool) -> Result<(Vec<Command>, u64), RoomError> {
        use crate::core::compare::{AnalystAnswer, AnalystRequest};
        let turn = self.head.ok_or_else(|| RoomError("Nothing to analyse yet: send a prompt first".into()))?;
        if self.is_streaming() {
            return Err(RoomError("Wait for every answer to end before asking for an analysis".into()));
        }
        let labels = self.blind_labels();
        let mut answers: Vec<(TargetId, String, String)> = self
            .live_panes()
            .filter_map(|p| {
                let a = self.answer_for(turn, p.target)?;
                let text = final_text(a);
                (!text.trim().is_empty()).then(|| (p.target, p.model.clone(), text))
            })
            .collect();
        if answers.len() < 2 {
            return Err(RoomError("An analysis compares two answers or more: this turn has fewer".into()));
        }
        if let Some(l) = &labels {
            answers.sort_by_key(|(t, _, _)| l.get(t).cloned().unwrap_or_default());
        }
        let pairs: Vec<(String, String)> = answers.iter().map(|(_, m, t)| (m.clone(), t.clone())).collect();
        let labelled = AnalystAnswer::label_all(&pairs, labels.is_some());
        let prompt = self.turn(turn).map(|t| t.prompt.clone()).unwrap_or_default();
        let request = AnalystRequest::build(&prompt, &labelled, structured);
        let tokens = request.estimated_prompt_tokens();
        self.record(Record::AnalysisBegun { turn, model: model.to_owned(), structured });
        self.live.remove(&(turn, ANALYST_TARGET));
        let settings = ModelSettings { response_format: request.response_format.clone(), ..ModelSettings::default() };
        let target = TargetRequest {
            target: ANALYST_TARGET,
            model: model.to_owned(),
            messages: request.messages,
            settings,
            tools: Vec::new(),
            tools_to_start: Vec::new(),
        };
        let submit =
            TurnRequest { turn, targets: vec![target], room: self.id.map(|r| r.0), tool_policy: ToolPolicy::default() };
        Ok((vec![Command::Submit(submit)], tokens))
    }

    /// The latest analysis of `turn`, if any.
    pub fn analysis_of(&self, turn: TurnId) -> Option<&Analysis> {
        self.analyses.iter().rev().find(|a| a.turn == turn)
    }

    fn on_analysis(&mut self, ev: &StreamEvent) -> Applied {
        let Some(index) = self.analyses.iter().rposition(|a| a.turn == ev.turn && !a.state.is_final()) else {
            return Applied::default();
        };
        let now = Instant::now();
        let a = &mut self.analyses[index];
        let (state, summary, error) = match &ev.kind {
            EventKind::TextDelta(t) => {
                streaming(&mut a.state, now, t.len());
                a.text.push_str(t);
                return Applied::default();
            }
            EventKind::Finished { summary, .. } => (FinalState::Done, summary, None),
            EventKind::Failed { error, summary } => {
                let kind = serde_json::to_value(error.kind).ok().and_then(|v| v.as_str().map(str::to_owned));
                let e = AnswerError {
                    kind: kind.unwrap_or_else(|| "error".into()),
                    status: error.status,
                    message: strip_controls(&error.message).into_owned(),
                };
                (FinalState::Failed, summary, Some(e))
            }
            EventKind::Cancelled { summary } => (FinalState::Cancelled, summary, None),
            _ => return Applied::default(),
        };
        let step = match &ev.kind {
            EventKind::Failed { error, .. } => StepFigures::failed(summary, Some(error.kind)),
            _ => StepFigures::answered(summary),
        };
        self.setup.spend.add(step.known_cost());
        let text = a.text.clone();
        let turn = ev.turn;
        self.record(Record::AnalysisEnded { turn, state, text, step: Some(step), error });
        Applied { answer: None, ended: true, commands: Vec::new() }
    }

    // ---- events --------------------------------------------------------------------------

    /// Fold one of the router's events into the room.
    pub fn on_event(&mut self, event: &CoreEvent) -> Applied {
        match event {
            CoreEvent::Stream(ev) => self.on_stream(ev),
            CoreEvent::CostSettled { turn, target, generation_id, cost, usage } => {
                self.settle(*turn, *target, generation_id, cost, usage.as_ref())
            }
            _ => Applied::default(),
        }
    }

    fn on_stream(&mut self, ev: &StreamEvent) -> Applied {
        if ev.target == ANALYST_TARGET {
            return self.on_analysis(ev);
        }
        let Some(&index) = self.live.get(&(ev.turn, ev.target)) else { return Applied::default() };
        let key = self.answers[index].key;
        let mut applied = Applied { answer: Some(key), ..Applied::default() };
        let now = Instant::now();
        let store = self.setup.store.clone();
        let answer = &mut self.answers[index];
        match &ev.kind {
            EventKind::Queued { until, .. } => answer.state = AnswerState::Queued { until: *until },
            EventKind::Started { .. } => {
                if !matches!(answer.state, AnswerState::Waiting { .. }) {
                    answer.state = AnswerState::Waiting { since: now };
                }
            }
            EventKind::Connected { .. } | EventKind::Usage(_) | EventKind::ToolCallDelta { .. } => return applied,
            EventKind::Served { model, upstream_provider } => {
                answer.served_model = Some(strip_controls(model).into_owned());
                answer.upstream_provider = upstream_provider.as_deref().map(|p| strip_controls(p).into_owned());
            }
            EventKind::TextDelta(text) => {
                if streaming(&mut answer.state, now, text.len()) {
                    self.revision += 1;
                }
                let answer = &mut self.answers[index];
                answer.text.push_str(text);
                if let (Some(store), Some(msg)) = (&store, answer.message) {
                    store.append_answer(msg, text, "");
                }
                // Text alone changes nothing else: no revision bump.
                return applied;
            }
            EventKind::ReasoningDelta(text) => {
                if streaming(&mut answer.state, now, text.len()) {
                    self.revision += 1;
                }
                let answer = &mut self.answers[index];
                answer.reasoning.push_str(text);
                if let (Some(store), Some(msg)) = (&store, answer.message) {
                    store.append_answer(msg, "", text);
                }
                return applied;
            }
            EventKind::ToolsUnsupported { message } | EventKind::Notice { message } => {
                answer.notices.push(strip_controls(message).into_owned());
            }
            EventKind::StepFinished { summary } => {
                let mut msg = ChatMessage::assistant(summary.text.clone());
                msg.tool_calls.clone_from(&summary.tool_calls);
                msg.reasoning_details.clone_from(&summary.reasoning_details);
                answer.messages.push(msg);
                add_citations(&mut answer.citations, &summary.citations);
                if !answer.text.is_empty() && !answer.text.ends_with("\n\n") {
                    answer.text.push_str("\n\n");
                    if let (Some(store), Some(m)) = (&store, answer.message) {
                        store.append_answer(m, "\n\n", "");
                    }
                }
                note_timings(answer, summary);
                answer.state = AnswerState::Waiting { since: now };
                let step = StepFigures::answered(summary);
                self.setup.spend.add(step.known_cost());
                self.record(Record::StepDone { key, step });
            }
            EventKind::ToolCall { call, needs_confirmation } => {
                let mut call = call.clone();
                call.name = strip_controls(&call.name).into_owned();
                answer.tools.push(ToolExchange { call, result: None, needs_confirmation: *needs_confirmation });
                if *needs_confirmation {
                    answer.state = AnswerState::AwaitingTool;
                }
            }
            EventKind::ToolResult { call_id, output, is_error, .. } => {
                let shown = strip_controls(output).into_owned();
                for ex in answer.tools.iter_mut().filter(|x| &x.call.id == call_id) {
                    ex.result = Some((shown.clone(), *is_error));
                    ex.needs_confirmation = false;
                }
                let waiting = answer.tools.iter().any(|x| x.needs_confirmation && x.result.is_none());
                answer.messages.push(ChatMessage::tool_result(call_id.clone(), output.clone()));
                answer.state = if waiting { AnswerState::AwaitingTool } else { AnswerState::Waiting { since: now } };
            }
            EventKind::Finished { reason, summary } => {
                let finish = reason.as_ref().map(|r| r.as_str().to_owned());
                applied.ended = true;
                applied.commands = self.end(index, FinalState::Done, summary, finish, None);
            }
            EventKind::Failed { error, summary } => {
                let kind = serde_json::to_value(error.kind).ok().and_then(|v| v.as_str().map(str::to_owned));
                let error = AnswerError {
                    kind: kind.unwrap_or_else(|| "error".into()),
                    status: error.status,
                    message: strip_controls(&error.message).into_owned(),
                };
                applied.ended = true;
                applied.commands = self.end(index, FinalState::Failed, summary, None, Some(error));
            }
            EventKind::Cancelled { summary } => {
                applied.ended = true;
                applied.commands = self.end(index, FinalState::Cancelled, summary, Some("stopped".into()), None);
            }
        }
        self.revision += 1;
        applied
    }

    /// An answer's final event: its last request's figures, its end record, and the next
    /// prompt this pane was waiting to answer.
    fn end(
        &mut self,
        index: usize,
        state: FinalState,
        summary: &StreamSummary,
        finish: Option<String>,
        error: Option<AnswerError>,
    ) -> Vec<Command> {
        let structured = self.structured_notice(index, state);
        let answer = &mut self.answers[index];
        let key = answer.key;
        self.live.remove(&(key.turn, key.target));
        note_timings(answer, summary);
        let sent = *summary != StreamSummary::default();
        let nothing_known = !StepFigures::priced(summary);
        let step = match state {
            // A stop during a tool run: the step's figures were counted with `StepDone`.
            FinalState::Cancelled if !sent && !answer.steps.is_empty() => None,
            FinalState::Cancelled if !sent && nothing_known => Some(StepFigures::bare(summary)),
            FinalState::Failed => {
                let kind = error.as_ref().and_then(|e| crate::core::error::ErrorKind::from_name(&e.kind));
                Some(StepFigures::failed(summary, kind))
            }
            FinalState::Done | FinalState::Cancelled => Some(StepFigures::answered(summary)),
        };
        // Figures go under the answer when a model answered it (even one cut off after its first
        // token, whose cost is then unknown), not under a request refused before that.
        let answered = match state {
            FinalState::Done => true,
            FinalState::Cancelled => sent,
            FinalState::Failed => step.as_ref().is_some_and(|s| s.cost.is_some()),
        };
        if state == FinalState::Done || !summary.text.is_empty() || !summary.tool_calls.is_empty() {
            let mut msg = ChatMessage::assistant(summary.text.clone());
            if state == FinalState::Done {
                msg.tool_calls.clone_from(&summary.tool_calls);
                msg.reasoning_details.clone_from(&summary.reasoning_details);
            }
            if !msg.content.is_empty() || !msg.tool_calls.is_empty() {
                answer.messages.push(msg);
            }
        }
        if let Some(s) = &step {
            self.setup.spend.add(s.known_cost());
        }
        add_citations(&mut answer.citations, &summary.citations);
        answer.notices.extend(structured);
        let end = AnswerEnd {
            state,
            text: answer.text.clone(),
            reasoning: answer.reasoning.clone(),
            tools: answer.tools.clone(),
            notices: answer.notices.clone(),
            citations: answer.citations.clone(),
            step,
            finish,
            error,
            served_model: answer.served_model.clone(),
            upstream_provider: answer.upstream_provider.clone(),
            ttft_ms: answer.ttft_ms,
            tokens_per_second: answer.tokens_per_second,
            answered,
            messages: answer.messages.clone(),
        };
        if let (Some(store), Some(msg)) = (&self.setup.store, answer.message) {
            let stored = match state {
                FinalState::Done => MessageState::Done,
                FinalState::Failed => MessageState::Error,
                FinalState::Cancelled => MessageState::Cancelled,
            };
            store.finish_answer(msg, stored, &[]);
        }
        self.record(Record::AnswerEnded { key, end: Box::new(end) });
        self.next_pending(key.target)
    }

    /// A finished answer of a pane that asked for JSON (`response_format`) which is not what
    /// it asked for: the notice saying what is wrong.
    fn structured_notice(&self, index: usize, state: FinalState) -> Option<String> {
        let answer = &self.answers[index];
        let format = self.pane(answer.key.target)?.settings.response_format.as_ref()?;
        if state != FinalState::Done {
            return None;
        }
        crate::core::structured::check(format, &answer.text).err().map(|why| format!("Not the JSON asked for: {why}"))
    }

    /// Start the oldest prompt waiting for `target`, if any.
    fn next_pending(&mut self, target: TargetId) -> Vec<Command> {
        let next =
            self.answers.iter().find(|a| a.key.target == target && a.state == AnswerState::Pending).map(|a| a.key);
        match next {
            Some(key) if !self.pane(target).is_some_and(|p| p.removed) => self.begin(key),
            _ => Vec::new(),
        }
    }

    fn settle(
        &mut self,
        turn: TurnId,
        target: TargetId,
        generation_id: &str,
        cost: &Cost,
        usage: Option<&Usage>,
    ) -> Applied {
        let found = self.answers.iter().find(|a| {
            a.key.turn == turn
                && a.key.target == target
                && a.steps.iter().any(|s| s.generation_id.as_deref() == Some(generation_id))
        });
        let Some(key) = found.map(|a| a.key) else { return Applied::default() };
        let before = self.answer(key).map(|a| Totals::of(&a.steps).cost).unwrap_or_default();
        self.record(Record::CostSettled {
            key,
            generation_id: generation_id.to_owned(),
            cost: cost.clone(),
            usage: usage.cloned(),
        });
        let after = self.answer(key).map(|a| Totals::of(&a.steps).cost).unwrap_or_default();
        self.setup.spend.add(after - before);
        Applied { answer: Some(key), ended: true, commands: Vec::new() }
    }

    // ---- totals --------------------------------------------------------------------------

    /// Totals per pane, per model and for the room, over every answer ever given in it (an
    /// analysis counts in the room's and its model's totals, in no pane's).
    pub fn totals(&self) -> RoomTotals {
        let mut t = RoomTotals::default();
        for a in &self.analyses {
            let analysis = Totals::of(&a.steps);
            match t.models.iter_mut().find(|(m, _)| *m == a.model) {
                Some((_, m)) => m.merge(&analysis),
                None => t.models.push((a.model.clone(), analysis.clone())),
            }
            t.room.merge(&analysis);
        }
        for a in &self.answers {
            let answer = Totals::of(&a.steps);
            t.panes.entry(a.key.target).or_default().merge(&answer);
            match t.models.iter_mut().find(|(m, _)| *m == a.model) {
                Some((_, m)) => m.merge(&answer),
                None => t.models.push((a.model.clone(), answer.clone())),
            }
            t.room.merge(&answer);
        }
        t
    }

    /// Today's spend across every room of the process and the ledger before it.
    pub fn spend_today(&self) -> rust_decimal::Decimal {
        self.setup.spend.total()
    }

    pub fn tools(&self) -> &ToolRegistry {
        &self.setup.tools
    }

    // ---- internals -----------------------------------------------------------------------

    fn live_pane(&self, target: TargetId) -> Result<&PaneSpec, RoomError> {
        self.pane(target).filter(|p| !p.removed).ok_or_else(|| RoomError(format!("There is no pane {}", target.0 + 1)))
    }

    /// Start answer `key` now: its stored message and the request for the router.
    fn begin(&mut self, key: AnswerKey) -> Vec<Command> {
        let Some(pane) = self.pane(key.target).cloned() else { return Vec::new() };
        let message = match (&self.setup.store, self.id) {
            (Some(store), Some(room)) => Some(store.begin_answer(room, key.turn, key.target, &pane.model)),
            _ => None,
        };
        self.record(Record::AnswerBegun { key, model: pane.model.clone(), message, pending: false });
        let tools = self.setup.tools.specs(&pane.tools).unwrap_or_default();
        let request = TargetRequest {
            target: key.target,
            model: pane.model.clone(),
            messages: self.thread_for(key.target, key.turn),
            settings: pane.settings.clone(),
            tools,
            tools_to_start: self.setup.tools.not_running(&pane.tools),
        };
        let turn = TurnRequest {
            turn: key.turn,
            targets: vec![request],
            room: self.id.map(|r| r.0),
            tool_policy: self.setup.policy,
        };
        vec![Command::Submit(turn)]
    }

    /// A notice for every pane at this point of the conversation (the room's tools, say).
    pub fn note(&mut self, text: String) {
        self.notice(None, text);
    }

    fn notice(&mut self, target: Option<TargetId>, text: String) {
        self.record(Record::Notice { notice: Notice { after: self.head, target, text } });
    }

    /// Store the room the first time it has something to keep.
    fn materialize(&mut self, first_prompt: &str) {
        if self.title.is_empty() {
            let first = first_prompt.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            let title: String = strip_controls(first).trim().chars().take(80).collect();
            self.title = if self.headless { format!("ask: {title}") } else { title };
        }
        if self.id.is_some() {
            return;
        }
        let Some(store) = &self.setup.store else { return };
        let models: Vec<String> = self.live_panes().map(|p| p.model.clone()).collect();
        self.id = Some(store.create_room(&self.title, &models, self.headless));
        self.flush_records();
    }

    /// Apply a change, keep it, and persist it when the room is stored.
    fn record(&mut self, record: Record) {
        self.apply(&record);
        self.log.push(record);
        self.flush_records();
    }

    fn flush_records(&mut self) {
        let (Some(store), Some(room)) = (&self.setup.store, self.id) else { return };
        let panes_changed = self.log[self.persisted..]
            .iter()
            .any(|r| matches!(r, Record::PaneAdded { .. } | Record::PaneRemoved { .. } | Record::Renamed { .. }));
        for r in &self.log[self.persisted..] {
            store.append_room_record(room, r);
        }
        self.persisted = self.log.len();
        if panes_changed {
            let models: Vec<String> = self.live_panes().map(|p| p.model.clone()).collect();
            store.update_room(room, &self.title, &models);
        }
    }

    /// What a record does to the room; the same for live changes and for a replay.
    fn apply(&mut self, record: &Record) {
        self.revision += 1;
        match record {
            Record::PaneAdded { pane } => {
                self.next_target = self.next_target.max(pane.target.0 + 1);
                self.panes.push(pane.clone());
            }
            Record::PaneRemoved { target } => {
                if let Some(p) = self.panes.iter_mut().find(|p| p.target == *target) {
                    p.removed = true;
                }
            }
            Record::PaneSettings { target, settings } => {
                if let Some(p) = self.panes.iter_mut().find(|p| p.target == *target) {
                    p.settings = settings.clone();
                }
            }
            Record::PaneTools { target, tools } => {
                if let Some(p) = self.panes.iter_mut().find(|p| p.target == *target) {
                    p.tools.clone_from(tools);
                }
            }
            Record::TurnAdded { turn } => {
                self.next_turn = self.next_turn.max(turn.id.0 + 1);
                self.turns.push(turn.clone());
            }
            Record::HeadMoved { head } => self.head = *head,
            Record::AnswerBegun { key, model, message, pending } => {
                let state =
                    if *pending { AnswerState::Pending } else { AnswerState::Waiting { since: Instant::now() } };
                let index = match self.answers.iter().position(|a| a.key == *key) {
                    Some(i) => {
                        let a = &mut self.answers[i];
                        a.state = state;
                        a.message = *message;
                        i
                    }
                    None => {
                        self.answers.push(Answer::new(*key, model.clone(), state, *message));
                        self.answers.len() - 1
                    }
                };
                if !*pending {
                    self.live.insert((key.turn, key.target), index);
                }
            }
            Record::StepDone { key, step } => {
                if let Some(a) = self.answers.iter_mut().find(|a| a.key == *key) {
                    a.steps.push(step.clone());
                }
            }
            Record::AnswerEnded { key, end } => {
                if let Some(a) = self.answers.iter_mut().find(|a| a.key == *key) {
                    end.apply(a);
                }
            }
            Record::CostSettled { key, generation_id, cost, usage } => {
                if let Some(a) = self.answers.iter_mut().find(|a| a.key == *key)
                    && let Some(s) = a.steps.iter_mut().find(|s| s.generation_id.as_deref() == Some(generation_id))
                {
                    s.settle_figures(cost.clone(), usage.clone());
                }
            }
            Record::Adopted { key } => self.adoptions.push(*key),
            Record::Notice { notice } => self.notices.push(notice.clone()),
            Record::Renamed { title } => self.title.clone_from(title),
            Record::AnalysisBegun { turn, model, structured } => self.analyses.push(Analysis {
                turn: *turn,
                model: model.clone(),
                structured: *structured,
                text: String::new(),
                state: AnswerState::Waiting { since: Instant::now() },
                steps: Vec::new(),
                error: None,
            }),
            Record::AnalysisEnded { turn, state, text, step, error } => {
                if let Some(a) = self.analyses.iter_mut().rev().find(|a| a.turn == *turn) {
                    a.state = match state {
                        FinalState::Done => AnswerState::Done,
                        FinalState::Failed => AnswerState::Failed,
                        FinalState::Cancelled => AnswerState::Cancelled,
                    };
                    a.text.clone_from(text);
                    a.steps.extend(step.iter().cloned());
                    a.error.clone_from(error);
                }
            }
            Record::BlindStarted { seed } => self.blind = Some(BlindRound { seed: *seed, revealed: false }),
            Record::Voted { turn, outcome, models, blind, tag } => {
                if *blind && let Some(b) = &mut self.blind {
                    b.revealed = true;
                }
                self.votes.push(RoomVote {
                    turn: *turn,
                    outcome: *outcome,
                    models: models.clone(),
                    blind: *blind,
                    tag: tag.clone(),
                });
            }
        }
    }
}

/// Count streamed bytes; true when the answer just started streaming (a state change).
fn streaming(state: &mut AnswerState, now: Instant, bytes: usize) -> bool {
    match state {
        AnswerState::Streaming { chars, .. } => {
            *chars += bytes;
            false
        }
        _ => {
            *state = AnswerState::Streaming { first_token: now, chars: bytes };
            true
        }
    }
}

/// The last request's time to first token and rate, shown under the answer.
fn note_timings(answer: &mut Answer, summary: &StreamSummary) {
    if summary.timings.ttft_ms.is_some() {
        answer.ttft_ms = summary.timings.ttft_ms;
        answer.tokens_per_second =
            summary.usage.as_ref().and_then(|u| summary.timings.tokens_per_second(u.completion_tokens));
    }
}

/// Add a step's citations to an answer's, each URL once, in the order first cited.
pub fn add_citations(into: &mut Vec<crate::core::protocol::Citation>, from: &[crate::core::protocol::Citation]) {
    for c in from {
        if !into.iter().any(|seen| seen.url == c.url) {
            into.push(c.clone());
        }
    }
}
