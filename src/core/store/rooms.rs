//! Chat rooms, their turns and messages: the SQL the writer thread runs for them, and loading a
//! room back (for `--resume` and the history view).

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::ledger::RoomRequest;
use super::{MessageId, RoomId, StoreError, open_read, read_err};
use crate::core::protocol::{Role, TargetId, ToolCall, TurnId};

/// Lifecycle of a message. `Streaming` rows found after a crash hold the partial answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageState {
    Streaming,
    Done,
    Error,
    Cancelled,
}

impl MessageState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Streaming => "streaming",
            Self::Done => "done",
            Self::Error => "error",
            Self::Cancelled => "cancelled",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "done" => Self::Done,
            "error" => Self::Error,
            "cancelled" => Self::Cancelled,
            _ => Self::Streaming,
        }
    }
}

pub(crate) fn role_str(r: Role) -> &'static str {
    match r {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    }
}

fn parse_role(s: &str) -> Role {
    match s {
        "system" => Role::System,
        "user" => Role::User,
        "tool" => Role::Tool,
        _ => Role::Assistant,
    }
}

/// A room's header.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoomInfo {
    pub id: RoomId,
    pub title: String,
    /// Model of each target (pane), indexed by `TargetId`.
    pub models: Vec<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// One stored message. `target` is `None` for the user turn shared by all panes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredMessage {
    pub id: MessageId,
    pub turn: TurnId,
    pub target: Option<TargetId>,
    pub role: Role,
    pub model: Option<String>,
    pub content: String,
    pub reasoning: String,
    pub tool_calls: Vec<ToolCall>,
    pub tool_call_id: Option<String>,
    pub state: MessageState,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// A room and all its messages, ordered by turn, then the user turn before the answers, then
/// target, then creation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoomTranscript {
    pub room: RoomInfo,
    pub messages: Vec<StoredMessage>,
    /// The room's ledger rows, in the order they were sent (tokens, cost and timings per step).
    pub requests: Vec<RoomRequest>,
}

impl RoomTranscript {
    /// The messages one pane sees: shared user turns plus that target's own messages.
    pub fn for_target(&self, target: TargetId) -> impl Iterator<Item = &StoredMessage> {
        self.messages.iter().filter(move |m| m.target.is_none() || m.target == Some(target))
    }
}

pub(crate) fn create_room(
    conn: &Connection,
    id: RoomId,
    title: &str,
    models: &[String],
    headless: bool,
    at: i64,
) -> rusqlite::Result<()> {
    let models = serde_json::to_string(models).unwrap_or_else(|_| "[]".into());
    conn.prepare_cached(
        "INSERT INTO rooms (id, title, models, headless, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
    )?
    .execute(params![id.0, title, models, headless, at])?;
    Ok(())
}

/// A room's title and current models changed.
pub(crate) fn update_room(
    conn: &Connection,
    id: RoomId,
    title: &str,
    models: &[String],
    at: i64,
) -> rusqlite::Result<()> {
    let models = serde_json::to_string(models).unwrap_or_else(|_| "[]".into());
    conn.prepare_cached("UPDATE rooms SET title = ?2, models = ?3, updated_at = max(updated_at, ?4) WHERE id = ?1")?
        .execute(params![id.0, title, models, at])?;
    Ok(())
}

/// A new message row (and its turn, and the room's activity time).
pub(crate) struct NewMessage {
    pub id: MessageId,
    pub room: RoomId,
    pub turn: TurnId,
    pub target: Option<TargetId>,
    pub role: Role,
    pub model: Option<String>,
    pub content: String,
    pub tool_call_id: Option<String>,
    pub state: MessageState,
    pub at: i64,
}

pub(crate) fn insert_message(conn: &Connection, m: &NewMessage) -> rusqlite::Result<()> {
    let turn = i64::try_from(m.turn.0).unwrap_or(i64::MAX);
    conn.prepare_cached("INSERT OR IGNORE INTO turns (room_id, turn, created_at) VALUES (?1, ?2, ?3)")?
        .execute(params![m.room.0, turn, m.at])?;
    conn.prepare_cached(
        "INSERT INTO messages (id, room_id, turn, target, role, model, content, tool_call_id, state, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
    )?
    .execute(params![
        m.id.0,
        m.room.0,
        turn,
        m.target.map(|t| t.0),
        role_str(m.role),
        m.model,
        m.content,
        m.tool_call_id,
        m.state.as_str(),
        m.at
    ])?;
    conn.prepare_cached("UPDATE rooms SET updated_at = max(updated_at, ?2) WHERE id = ?1")?
        .execute(params![m.room.0, m.at])?;
    if m.state != MessageState::Streaming {
        index_message(conn, m.id)?;
    }
    Ok(())
}

/// Append coalesced deltas to a streaming message as a new chunk: the cost of a write is the
/// delta's, not the message's (rewriting `content || ?` grew quadratically with long answers).
pub(crate) fn append(conn: &Connection, id: MessageId, text: &str, reasoning: &str, _at: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO message_chunks (message_id, seq, content, reasoning)
         VALUES (?1, (SELECT coalesce(max(seq), 0) + 1 FROM message_chunks WHERE message_id = ?1), ?2, ?3)",
    )?
    .execute(params![id.0, text, reasoning])?;
    Ok(())
}

/// Close a message: its chunks are folded into it once, and its final text is indexed for search.
pub(crate) fn finish(
    conn: &Connection,
    id: MessageId,
    state: MessageState,
    tool_calls: Option<&str>,
    at: i64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE messages SET
            content = content || coalesce((SELECT group_concat(content, '' ORDER BY seq) FROM message_chunks WHERE message_id = ?1), ''),
            reasoning = reasoning || coalesce((SELECT group_concat(reasoning, '' ORDER BY seq) FROM message_chunks WHERE message_id = ?1), ''),
            state = ?2, tool_calls = coalesce(?3, tool_calls), updated_at = ?4
         WHERE id = ?1",
    )?
    .execute(params![id.0, state.as_str(), tool_calls, at])?;
    conn.prepare_cached("DELETE FROM message_chunks WHERE message_id = ?1")?.execute([id.0])?;
    index_message(conn, id)
}

/// Make a message findable by `rooms search`.
fn index_message(conn: &Connection, id: MessageId) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO message_fts (content, room_id, turn, target, message_id)
         SELECT content, room_id, turn, target, id FROM messages WHERE id = ?1 AND content != ''",
    )?
    .execute([id.0])?;
    Ok(())
}

/// The most recently active room, if any.
pub fn last_room(path: &Path) -> Result<Option<RoomTranscript>, StoreError> {
    let conn = open_read(path)?;
    let id: Option<i64> = conn
        .query_row("SELECT id FROM rooms ORDER BY updated_at DESC, id DESC LIMIT 1", [], |r| r.get(0))
        .optional()
        .map_err(read_err(path))?;
    match id {
        Some(id) => read_room(&conn, path, RoomId(id)),
        None => Ok(None),
    }
}

/// One room by id; `None` when it does not exist.
pub fn load_room(path: &Path, room: RoomId) -> Result<Option<RoomTranscript>, StoreError> {
    let conn = open_read(path)?;
    read_room(&conn, path, room)
}

pub(crate) fn read_room(conn: &Connection, path: &Path, room: RoomId) -> Result<Option<RoomTranscript>, StoreError> {
    let map = read_err(path);
    let info = conn
        .query_row("SELECT title, models, created_at, updated_at FROM rooms WHERE id = ?1", [room.0], |r| {
            let models: String = r.get(1)?;
            Ok(RoomInfo {
                id: room,
                title: r.get(0)?,
                models: serde_json::from_str(&models).unwrap_or_default(),
                created_at_ms: r.get(2)?,
                updated_at_ms: r.get(3)?,
            })
        })
        .optional()
        .map_err(&map)?;
    let Some(info) = info else { return Ok(None) };
    let mut stmt = conn
        .prepare(
            "SELECT id, turn, target, role, model,
                    content || coalesce((SELECT group_concat(c.content, '' ORDER BY seq) FROM message_chunks c WHERE c.message_id = messages.id), ''),
                    reasoning || coalesce((SELECT group_concat(c.reasoning, '' ORDER BY seq) FROM message_chunks c WHERE c.message_id = messages.id), ''),
                    tool_calls, tool_call_id, state, created_at, updated_at
             FROM messages WHERE room_id = ?1 ORDER BY turn, target IS NOT NULL, target, id",
        )
        .map_err(&map)?;
    let messages = stmt
        .query_map([room.0], |r| {
            let role: String = r.get(3)?;
            let state: String = r.get(9)?;
            let calls: Option<String> = r.get(7)?;
            Ok(StoredMessage {
                id: MessageId(r.get(0)?),
                turn: TurnId(u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0)),
                target: r.get::<_, Option<u32>>(2)?.map(TargetId),
                role: parse_role(&role),
                model: r.get(4)?,
                content: r.get(5)?,
                reasoning: r.get(6)?,
                tool_calls: calls.and_then(|c| serde_json::from_str(&c).ok()).unwrap_or_default(),
                tool_call_id: r.get(8)?,
                state: MessageState::parse(&state),
                created_at_ms: r.get(10)?,
                updated_at_ms: r.get(11)?,
            })
        })
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(&map)?;
    let requests = super::ledger::room_requests(conn, room).map_err(&map)?;
    Ok(Some(RoomTranscript { room: info, messages, requests }))
}
