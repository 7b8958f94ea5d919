//! The write side of the store: a `Store` handle whose methods only enqueue (never block, never
//! fail), and the OS thread that owns the write connection, coalesces streaming appends and
//! commits batches in transactions, retrying when the disk or a lock lets go.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{Connection, TransactionBehavior};
use rust_decimal::Decimal;

use super::ledger::{self, LedgerEntry};
use super::room_log;
use super::rooms::{self, MessageState, NewMessage};
use super::schema::{self, ConnSettings};
use super::votes::{self, VoteId};
use super::{DEFAULT_BUSY_TIMEOUT, LedgerId, MessageId, RoomId, StoreError, new_id, now_ms};
use crate::core::compare::Vote;
use crate::core::protocol::{CostSource, Role, TargetId, ToolCall, TurnId};

/// Tuning of the writer. The defaults suit the app; tests shorten the timeouts.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// How long one statement waits for another process's lock.
    pub busy_timeout: Duration,
    /// Streaming deltas are written at least this often (and on finish/flush). Half a second
    /// loses at most that much of an answer to a crash; each commit costs the writer a
    /// transaction and a page or two of the write-ahead log, 200 ms apart a tenth of the
    /// chatroom's CPU at a fast model's pace for 1 KB/s of text.
    pub append_flush_interval: Duration,
    /// Wait after a failed batch before retrying it.
    pub retry_after: Duration,
    /// Queued writes kept while the database is failing; beyond this they are dropped (and the
    /// loss reported) so a long outage cannot eat all memory.
    pub max_backlog: usize,
    /// Optional cap on the database size in pages; exceeding it behaves like a full disk.
    pub max_pages: Option<u64>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
            append_flush_interval: Duration::from_millis(500),
            retry_after: Duration::from_secs(1),
            max_backlog: 100_000,
            max_pages: None,
        }
    }
}

enum Op {
    Ledger { id: LedgerId, entry: Box<LedgerEntry> },
    Cost { id: LedgerId, usd: Decimal, source: CostSource },
    Room { id: RoomId, title: String, models: Vec<String>, headless: bool, at: i64 },
    RoomUpdate { id: RoomId, title: String, models: Vec<String>, at: i64 },
    RoomRecord { id: i64, room: RoomId, record: String, at: i64 },
    RoomDelete { id: RoomId },
    Message(Box<NewMessage>),
    Append { id: MessageId, text: String, reasoning: String, at: i64 },
    Finish { id: MessageId, state: MessageState, tool_calls: Option<String>, at: i64 },
    Vote { id: VoteId, vote: Box<Vote> },
}

enum Msg {
    Op(Op),
    /// Deltas were parked in `PendingAppends` after it was empty: the writer has a deadline again.
    Wake,
    Flush(Waiter),
    Shutdown,
}

/// Where a flush is answered once what was queued before it is committed (or not).
type Waiter = SyncSender<Result<(), StoreError>>;

/// Streamed deltas not yet taken by the writer, coalesced per message: (text, reasoning).
/// They are shared with the writer instead of sent to it, so that a delta costs a lock and a
/// copy: a message per delta woke the writer thread for each one, and that ping-pong of two
/// threads was up to a third of a benchmark `ask`'s CPU (thousands of context switches).
#[derive(Default)]
struct PendingAppends {
    by_message: HashMap<MessageId, (String, String)>,
    /// When the first of them arrived (they are written at most `append_flush_interval` later).
    since: Option<Instant>,
    /// While deltas stream, the writer looks at them again by this time without being told, so
    /// the first delta parked after a commit need not wake it (that was every other wake-up of
    /// the writer while an answer streamed). `None`: it must be woken.
    watched_until: Option<Instant>,
}

struct Inner {
    tx: Sender<Msg>,
    appends: Arc<Mutex<PendingAppends>>,
    /// Messages sent to the writer thread (each may wake it).
    #[cfg(test)]
    sent: std::sync::atomic::AtomicU64,
    health: Arc<Mutex<Option<StoreError>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    path: Option<PathBuf>,
}

impl Drop for Inner {
    /// The last handle going away commits what is queued, so a clean exit loses nothing.
    fn drop(&mut self) {
        let _ = self.tx.send(Msg::Shutdown);
        let handle = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}

/// Handle to the store's writer thread. Cheap to clone; every write method returns at once.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.inner.path).finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Store {
    /// Open (creating directories and file as needed) and migrate the database at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Self::open_with(path, StoreOptions::default())
    }

    pub fn open_with(path: &Path, opts: StoreOptions) -> Result<Store, StoreError> {
        let conn = schema::open_write(path, settings(&opts))?;
        Self::start(conn, path.to_path_buf(), Some(path.to_path_buf()), opts)
    }

    /// A private in-memory database; the read functions cannot see it (tests of the write path).
    pub fn open_in_memory() -> Result<Store, StoreError> {
        let opts = StoreOptions::default();
        let conn = schema::open_memory(settings(&opts))?;
        Self::start(conn, PathBuf::from(":memory:"), None, opts)
    }

    fn start(conn: Connection, label: PathBuf, path: Option<PathBuf>, opts: StoreOptions) -> Result<Store, StoreError> {
        let (tx, rx) = mpsc::channel();
        let health = Arc::new(Mutex::new(None));
        let shared_appends = Arc::new(Mutex::new(PendingAppends::default()));
        let writer = Writer {
            conn,
            path: label.clone(),
            opts,
            health: Arc::clone(&health),
            backlog: Vec::new(),
            shared_appends: Arc::clone(&shared_appends),
            appends: HashMap::new(),
            first_append: None,
            retry_at: None,
        };
        let thread = std::thread::Builder::new()
            .name("roundtable-store".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| StoreError::Other { path: label.display().to_string(), detail: e.to_string() })?;
        Ok(Store {
            inner: Arc::new(Inner {
                tx,
                appends: shared_appends,
                #[cfg(test)]
                sent: std::sync::atomic::AtomicU64::new(0),
                health,
                thread: Mutex::new(Some(thread)),
                path,
            }),
        })
    }

    /// The database file, `None` for an in-memory store.
    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    fn send(&self, op: Op) {
        self.send_msg(Msg::Op(op));
    }

    fn send_msg(&self, msg: Msg) {
        #[cfg(test)]
        self.inner.sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if self.inner.tx.send(msg).is_err() {
            *lock(&self.inner.health) = Some(StoreError::Closed);
        }
    }

    /// Record an upstream request; returns its id at once (for `update_request`/`update_cost`).
    pub fn record_request(&self, entry: LedgerEntry) -> LedgerId {
        let id = LedgerId(new_id());
        self.update_request(id, entry);
        id
    }

    /// Replace the whole row `id` (e.g. a pending request that has now finished).
    pub fn update_request(&self, id: LedgerId, entry: LedgerEntry) {
        self.send(Op::Ledger { id, entry: Box::new(entry) });
    }

    /// Back-fill the cost of a request.
    pub fn update_cost(&self, id: LedgerId, usd: Decimal, source: CostSource) {
        self.send(Op::Cost { id, usd, source });
    }

    /// A new room whose panes stream `models`; `headless` for rooms made by `ask`.
    pub fn create_room(&self, title: &str, models: &[String], headless: bool) -> RoomId {
        let id = RoomId(new_id());
        self.send(Op::Room { id, title: title.to_owned(), models: models.to_vec(), headless, at: now_ms() });
        id
    }

    /// The room's title and current models (for listings).
    pub fn update_room(&self, room: RoomId, title: &str, models: &[String]) {
        self.send(Op::RoomUpdate { id: room, title: title.to_owned(), models: models.to_vec(), at: now_ms() });
    }

    /// One change of a room, as JSON (`core::room::Record`), kept in order for replay.
    pub fn append_room_record(&self, room: RoomId, record: &impl serde::Serialize) {
        match serde_json::to_string(record) {
            Ok(record) => self.send(Op::RoomRecord { id: new_id(), room, record, at: now_ms() }),
            Err(e) => tracing::error!(error = %e, "a room record could not be serialised"),
        }
    }

    /// Delete a room with its messages and records (the ledger keeps its rows).
    pub fn delete_room(&self, room: RoomId) {
        self.send(Op::RoomDelete { id: room });
    }

    /// The user prompt of a turn, shared by all panes.
    pub fn add_user_message(&self, room: RoomId, turn: TurnId, text: &str) -> MessageId {
        self.add(room, turn, None, Role::User, None, text, None, MessageState::Done)
    }

    /// A tool result fed back to one pane's model.
    pub fn add_tool_result(
        &self,
        room: RoomId,
        turn: TurnId,
        target: TargetId,
        tool_call_id: &str,
        text: &str,
    ) -> MessageId {
        self.add(room, turn, Some(target), Role::Tool, None, text, Some(tool_call_id.to_owned()), MessageState::Done)
    }

    /// Start one pane's answer; fill it with `append_answer`, close it with `finish_answer`.
    pub fn begin_answer(&self, room: RoomId, turn: TurnId, target: TargetId, model: &str) -> MessageId {
        let model = Some(model.to_owned());
        self.add(room, turn, Some(target), Role::Assistant, model, "", None, MessageState::Streaming)
    }

    #[allow(clippy::too_many_arguments)] // mirrors the columns of a message row
    fn add(
        &self,
        room: RoomId,
        turn: TurnId,
        target: Option<TargetId>,
        role: Role,
        model: Option<String>,
        text: &str,
        tool_call_id: Option<String>,
        state: MessageState,
    ) -> MessageId {
        let id = MessageId(new_id());
        let m = NewMessage {
            id,
            room,
            turn,
            target,
            role,
            model,
            content: text.to_owned(),
            tool_call_id,
            state,
            at: now_ms(),
        };
        self.send(Op::Message(Box::new(m)));
        id
    }

    /// Add streamed text and/or reasoning to an answer. Coalesced by the writer.
    pub fn append_answer(&self, msg: MessageId, text_delta: &str, reasoning_delta: &str) {
        if text_delta.is_empty() && reasoning_delta.is_empty() {
            return;
        }
        let mut pending = lock(&self.inner.appends);
        let slot = pending.by_message.entry(msg).or_default();
        slot.0.push_str(text_delta);
        slot.1.push_str(reasoning_delta);
        if pending.since.is_none() {
            pending.since = Some(Instant::now());
            if pending.watched_until.is_none() {
                drop(pending);
                self.send_msg(Msg::Wake);
            }
        }
    }

    /// Close an answer (done, error or cancelled), keeping whatever text it has.
    pub fn finish_answer(&self, msg: MessageId, state: MessageState, tool_calls: &[ToolCall]) {
        let tool_calls = if tool_calls.is_empty() { None } else { serde_json::to_string(tool_calls).ok() };
        self.send(Op::Finish { id: msg, state, tool_calls, at: now_ms() });
    }

    /// Record a vote on a turn's answers; returns its id at once.
    pub fn record_vote(&self, vote: Vote) -> VoteId {
        let id = VoteId(new_id());
        self.send(Op::Vote { id, vote: Box::new(vote) });
        id
    }

    /// Block until everything queued so far is committed (tests, shutdown). Do not call from an
    /// async task directly: use `spawn_blocking`.
    pub fn flush(&self) -> Result<(), StoreError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.inner.tx.send(Msg::Flush(tx)).map_err(|_| StoreError::Closed)?;
        rx.recv().unwrap_or(Err(StoreError::Closed))
    }

    /// The current write problem, if any, for the UI to show. Cleared once a retried batch
    /// commits; a failure that lost writes stays until the next successful commit.
    pub fn health(&self) -> Option<StoreError> {
        lock(&self.inner.health).clone()
    }
}

fn settings(opts: &StoreOptions) -> ConnSettings {
    ConnSettings { busy_timeout: opts.busy_timeout, max_pages: opts.max_pages }
}

struct Writer {
    conn: Connection,
    path: PathBuf,
    opts: StoreOptions,
    health: Arc<Mutex<Option<StoreError>>>,
    /// Ops waiting to be committed, in order (a failed batch stays here for the retry).
    backlog: Vec<Op>,
    /// Deltas parked by the `Store` handles, not yet taken.
    shared_appends: Arc<Mutex<PendingAppends>>,
    /// Deltas taken from `shared_appends` whose messages may still be queued behind them in the
    /// channel, per message: (text, reasoning).
    appends: HashMap<MessageId, (String, String)>,
    first_append: Option<Instant>,
    retry_at: Option<Instant>,
}

/// The earlier of two optional times (either one when the other is missing).
fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Upper bound on messages drained into one transaction, so a flood cannot delay commits.
const MAX_BATCH: usize = 20_000;

impl Writer {
    fn run(mut self, rx: Receiver<Msg>) {
        let mut shutdown = false;
        while !shutdown {
            let first = match self.deadline() {
                Some(d) => match rx.recv_timeout(d.saturating_duration_since(Instant::now())) {
                    Ok(m) => Some(m),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => Some(Msg::Shutdown),
                },
                None => Some(rx.recv().unwrap_or(Msg::Shutdown)),
            };
            let mut waiters = Vec::new();
            self.drain(&rx, first, &mut waiters, &mut shutdown);
            let force = shutdown || !waiters.is_empty();
            let now = Instant::now();
            if force || self.appends_due().is_some_and(|t| now >= t) {
                // The messages of the parked deltas were queued before the deltas were parked:
                // take the deltas first, then everything queued, so each message exists before
                // its deltas are written.
                let streaming = self.take_shared_appends(None);
                self.watch_appends(streaming);
                let mut emptied = self.drain(&rx, None, &mut waiters, &mut shutdown);
                while force && !emptied {
                    emptied = self.drain(&rx, None, &mut waiters, &mut shutdown);
                }
                if emptied {
                    self.move_appends(None);
                }
            }
            if !self.backlog.is_empty() && (force || self.retry_at.is_none_or(|t| now >= t)) {
                self.commit();
            }
            let reply = if self.backlog.is_empty() {
                Ok(())
            } else {
                Err(lock(&self.health).clone().unwrap_or(StoreError::Closed))
            };
            for w in waiters {
                let _ = w.send(reply.clone());
            }
        }
    }

    /// Accept `first` and whatever is queued behind it, up to `MAX_BATCH`; true when the queue
    /// was left empty.
    fn drain(
        &mut self,
        rx: &Receiver<Msg>,
        first: Option<Msg>,
        waiters: &mut Vec<Waiter>,
        shutdown: &mut bool,
    ) -> bool {
        let mut next = first;
        let mut drained = 0;
        loop {
            if let Some(msg) = next.take() {
                match msg {
                    Msg::Op(op) => self.accept(op),
                    Msg::Wake => {}
                    Msg::Flush(w) => waiters.push(w),
                    Msg::Shutdown => *shutdown = true,
                }
                drained += 1;
            }
            if drained >= MAX_BATCH {
                return false;
            }
            match rx.try_recv() {
                Ok(m) => next = Some(m),
                Err(TryRecvError::Empty) => return true,
                Err(TryRecvError::Disconnected) => {
                    *shutdown = true;
                    return true;
                }
            }
        }
    }

    /// When the parked deltas (taken or not) are due to be written, or the writer promised to
    /// look at them.
    fn appends_due(&self) -> Option<Instant> {
        let shared = lock(&self.shared_appends);
        let due = earliest(self.first_append, shared.since).map(|t| t + self.opts.append_flush_interval);
        earliest(due, shared.watched_until)
    }

    /// After the parked deltas were taken: while they keep coming, promise to look again an
    /// interval from now (the handles then park the next first delta without waking the writer);
    /// once a look found none, stop, and the next one wakes it.
    fn watch_appends(&self, streaming: bool) {
        lock(&self.shared_appends).watched_until = streaming.then(|| Instant::now() + self.opts.append_flush_interval);
    }

    /// Move the parked deltas (all, or one message's) from the handles' side to the writer's;
    /// true when there were any.
    fn take_shared_appends(&mut self, only: Option<MessageId>) -> bool {
        let mut shared = lock(&self.shared_appends);
        let taken: Vec<(MessageId, (String, String))> = match only {
            Some(id) => shared.by_message.remove(&id).map(|d| (id, d)).into_iter().collect(),
            None => shared.by_message.drain().collect(),
        };
        if shared.by_message.is_empty()
            && let Some(since) = shared.since.take()
        {
            self.first_append = earliest(self.first_append, Some(since));
        }
        drop(shared);
        let any = !taken.is_empty();
        for (id, (text, reasoning)) in taken {
            self.first_append.get_or_insert_with(Instant::now);
            let slot = self.appends.entry(id).or_default();
            slot.0.push_str(&text);
            slot.1.push_str(&reasoning);
        }
        any
    }

    /// When the loop must wake up without a message: pending appends or a retry.
    fn deadline(&self) -> Option<Instant> {
        let appends = self.appends_due();
        let retry = if self.backlog.is_empty() { None } else { Some(self.retry_at.unwrap_or_else(Instant::now)) };
        earliest(appends, retry)
    }

    fn accept(&mut self, op: Op) {
        match op {
            Op::Finish { id, .. } => {
                // The message's last deltas go in before its final state (they were all parked
                // before the finish was queued).
                self.take_shared_appends(Some(id));
                self.move_appends(Some(id));
                self.backlog.push(op);
            }
            other => self.backlog.push(other),
        }
    }

    /// Turn coalesced deltas into ops: all of them, or just one message's.
    fn move_appends(&mut self, only: Option<MessageId>) {
        let at = now_ms();
        match only {
            Some(id) => {
                if let Some((text, reasoning)) = self.appends.remove(&id) {
                    self.backlog.push(Op::Append { id, text, reasoning, at });
                }
            }
            None => {
                for (id, (text, reasoning)) in self.appends.drain() {
                    self.backlog.push(Op::Append { id, text, reasoning, at });
                }
            }
        }
        if self.appends.is_empty() {
            self.first_append = None;
        }
    }

    /// Commit the backlog in one transaction. A database-wide failure (lock, full disk,
    /// read-only, corruption) rolls back and keeps the batch for a retry; a failure of one op
    /// (a constraint) drops just that op.
    fn commit(&mut self) {
        match self.try_commit() {
            Ok(dropped) => {
                self.backlog.clear();
                self.retry_at = None;
                let mut health = lock(&self.health);
                match dropped {
                    Some(e) => *health = Some(e),
                    None => *health = None,
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, queued = self.backlog.len(), "store batch failed; will retry");
                if !e.is_transient() || self.backlog.len() > self.opts.max_backlog {
                    tracing::error!(error = %e, dropped = self.backlog.len(), "store dropped queued writes");
                    self.backlog.clear();
                }
                self.retry_at = Some(Instant::now() + self.opts.retry_after);
                *lock(&self.health) = Some(e);
            }
        }
    }

    /// `Ok(Some(e))` when the batch committed but some op failed on its own.
    fn try_commit(&mut self) -> Result<Option<StoreError>, StoreError> {
        let mut tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| classify_at(&self.path, &self.opts, &e))?;
        let mut dropped = None;
        for op in &self.backlog {
            let mut sp = tx.savepoint().map_err(|e| classify_at(&self.path, &self.opts, &e))?;
            match apply(&sp, op) {
                Ok(()) => sp.commit().map_err(|e| classify_at(&self.path, &self.opts, &e))?,
                Err(e) => {
                    let err = classify_at(&self.path, &self.opts, &e);
                    if err.is_transient() || matches!(err, StoreError::Corrupt { .. }) {
                        return Err(err);
                    }
                    tracing::error!(error = %e, "store write failed; that write was dropped");
                    let _ = sp.rollback();
                    dropped = Some(err);
                }
            }
        }
        tx.commit().map_err(|e| classify_at(&self.path, &self.opts, &e))?;
        Ok(dropped)
    }
}

fn classify_at(path: &Path, opts: &StoreOptions, e: &rusqlite::Error) -> StoreError {
    StoreError::from_sqlite(path, e, opts.busy_timeout)
}

fn apply(conn: &Connection, op: &Op) -> rusqlite::Result<()> {
    match op {
        Op::Ledger { id, entry } => ledger::upsert(conn, *id, entry),
        Op::Cost { id, usd, source } => ledger::update_cost(conn, *id, *usd, *source),
        Op::Room { id, title, models, headless, at } => rooms::create_room(conn, *id, title, models, *headless, *at),
        Op::RoomUpdate { id, title, models, at } => rooms::update_room(conn, *id, title, models, *at),
        Op::RoomRecord { id, room, record, at } => room_log::append_record(conn, *id, *room, *at, record),
        Op::RoomDelete { id } => room_log::delete_room(conn, *id),
        Op::Message(m) => rooms::insert_message(conn, m),
        Op::Append { id, text, reasoning, at } => rooms::append(conn, *id, text, reasoning, *at),
        Op::Finish { id, state, tool_calls, at } => rooms::finish(conn, *id, *state, tool_calls.as_deref(), *at),
        Op::Vote { id, vote } => votes::insert(conn, *id, vote),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store in a temporary directory with one answer begun: (directory, database, store,
    /// room, answer).
    fn store_with_answer(opts: StoreOptions) -> (tempfile::TempDir, PathBuf, Store, RoomId, MessageId) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let store = Store::open_with(&path, opts).unwrap();
        let room = store.create_room("r", &[], true);
        let msg = store.begin_answer(room, TurnId(1), TargetId(0), "m");
        (dir, path, store, room, msg)
    }

    /// Messages the handles sent the writer so far.
    fn sent(store: &Store) -> u64 {
        store.inner.sent.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Parks `count` deltas ("0 ", "1 ", …) `gap` apart; returns their text.
    fn park_deltas(store: &Store, msg: MessageId, count: usize, gap: Duration) -> String {
        let mut text = String::new();
        for i in 0..count {
            let delta = format!("{i} ");
            store.append_answer(msg, &delta, "");
            text.push_str(&delta);
            if !gap.is_zero() {
                std::thread::sleep(gap);
            }
        }
        text
    }

    /// A streamed delta must not be a message to the writer thread: each message may wake it,
    /// and a wake-up per delta was up to a third of a streaming `ask`'s CPU. The deltas still
    /// all arrive, in order, after their message and before its final state.
    #[test]
    fn deltas_are_parked_without_a_message_each() {
        let (_dir, path, store, room, msg) = store_with_answer(StoreOptions::default());
        let before = sent(&store);
        let expect = park_deltas(&store, msg, 1000, Duration::ZERO);
        let messages = sent(&store) - before;
        assert!(messages <= 2, "1000 deltas sent {messages} messages to the writer");
        store.finish_answer(msg, MessageState::Done, &[]);
        store.flush().unwrap();
        let transcript = super::super::load_room(&path, room).unwrap().unwrap();
        assert_eq!(transcript.messages[0].content, expect);
        assert_eq!(transcript.messages[0].state, MessageState::Done);
    }

    /// While an answer streams, the writer looks at the parked deltas every interval on its own:
    /// only the first delta wakes it, not the first after each commit. Once a look finds none,
    /// the next delta wakes it again, and every delta is written without a flush.
    #[test]
    fn a_streaming_answer_wakes_the_writer_once_not_once_a_commit() {
        let interval = Duration::from_millis(50);
        let (_dir, path, store, _room, msg) =
            store_with_answer(StoreOptions { append_flush_interval: interval, ..StoreOptions::default() });
        let before = sent(&store);
        // Deltas for about ten intervals: ten commits, each of which used to take a wake-up.
        let mut expect = park_deltas(&store, msg, 100, interval / 10);
        let streaming = sent(&store) - before;
        // One; two if this thread stalled for a whole interval somewhere (a loaded machine).
        assert!(streaming <= 2, "a steady stream sent {streaming} wake-ups to the writer");
        // Written by the writer's own looks, no flush asked for (waits for it, bounded).
        let written_all = |expect: &str| {
            let conn = rusqlite::Connection::open(&path).unwrap();
            let started = Instant::now();
            loop {
                let text: String = conn
                    .query_row(
                        "SELECT coalesce(group_concat(content, '' ORDER BY seq), '') FROM message_chunks",
                        [],
                        |r| r.get(0),
                    )
                    .unwrap();
                if text == expect || started.elapsed() > Duration::from_secs(10) {
                    return text == expect;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        };
        assert!(written_all(&expect), "every delta written within an interval or so");
        // Quiet: the writer's next look finds nothing and it stops watching (waited for,
        // bounded), and then the next delta wakes it.
        let started = Instant::now();
        while lock(&store.inner.appends).watched_until.is_some() && started.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(lock(&store.inner.appends).watched_until.is_none(), "still watching after a quiet while");
        let quiet = sent(&store);
        store.append_answer(msg, "last", "");
        expect.push_str("last");
        assert_eq!(sent(&store) - quiet, 1, "after a pause the next delta wakes the writer");
        assert!(written_all(&expect));
    }
}
