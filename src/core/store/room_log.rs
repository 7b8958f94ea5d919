//! The rooms' history: each room's change records in order (to replay), the list of rooms with
//! their figures, full-text search over prompts and answers, renaming and deleting.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::{MessageId, RoomId, StoreError, open_read, read_err};
use crate::core::protocol::{TargetId, TurnId};

/// A stored room as it is replayed: its header, its records (JSON, oldest first), and the text
/// saved for answers that were still streaming when their process ended.
#[derive(Debug, Clone)]
pub struct StoredRoom {
    pub id: RoomId,
    pub title: String,
    pub headless: bool,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    /// The models of the room's panes as last saved (for rooms from before records existed).
    pub models: Vec<String>,
    pub records: Vec<String>,
    pub partial: HashMap<MessageId, (String, String)>,
}

/// One row of `roundtable rooms`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoomListing {
    pub id: RoomId,
    pub title: String,
    pub headless: bool,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub models: Vec<String>,
    pub turns: u64,
    /// From the ledger: requests, tokens and cost of the room's answers.
    pub requests: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Exact decimal string; requests without a known cost add nothing.
    pub cost_usd: rust_decimal::Decimal,
}

/// One hit of `roundtable rooms search`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchHit {
    pub room: RoomId,
    pub room_title: String,
    pub turn: TurnId,
    /// `None` for the prompt, the pane's target for an answer.
    pub target: Option<TargetId>,
    pub model: Option<String>,
    /// The matching text with the match between `[` and `]`.
    pub snippet: String,
    pub at_ms: i64,
}

pub(crate) fn append_record(conn: &Connection, id: i64, room: RoomId, at: i64, record: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT INTO room_log (id, room_id, at, record) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![id, room.0, at, record])?;
    conn.prepare_cached("UPDATE rooms SET updated_at = max(updated_at, ?2) WHERE id = ?1")?
        .execute(params![room.0, at])?;
    Ok(())
}

pub(crate) fn delete_room(conn: &Connection, room: RoomId) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM message_chunks WHERE message_id IN (SELECT id FROM messages WHERE room_id = ?1)")?
        .execute([room.0])?;
    conn.prepare_cached("DELETE FROM message_fts WHERE room_id = ?1")?.execute([room.0])?;
    // Messages, turns and records go with the room (ON DELETE CASCADE); the ledger keeps its
    // rows: it is the record of money spent.
    conn.prepare_cached("DELETE FROM rooms WHERE id = ?1")?.execute([room.0])?;
    Ok(())
}

/// The newest room's id (the chatroom's rooms only when `chat_only`).
pub fn last_room_id(path: &Path, chat_only: bool) -> Result<Option<RoomId>, StoreError> {
    let conn = open_read(path)?;
    let sql = if chat_only {
        "SELECT id FROM rooms WHERE headless = 0 ORDER BY updated_at DESC, id DESC LIMIT 1"
    } else {
        "SELECT id FROM rooms ORDER BY updated_at DESC, id DESC LIMIT 1"
    };
    conn.query_row(sql, [], |r| r.get(0)).optional().map(|id| id.map(RoomId)).map_err(read_err(path))
}

/// A room's header, records and unfinished texts; `None` when there is no such room.
pub fn load_room_records(path: &Path, room: RoomId) -> Result<Option<StoredRoom>, StoreError> {
    let conn = open_read(path)?;
    let map = read_err(path);
    let head = conn
        .query_row("SELECT title, headless, created_at, updated_at, models FROM rooms WHERE id = ?1", [room.0], |r| {
            let models: String = r.get(4)?;
            Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?, r.get(2)?, r.get(3)?, models))
        })
        .optional()
        .map_err(&map)?;
    let Some((title, headless, created_at_ms, updated_at_ms, models)) = head else { return Ok(None) };
    let mut stmt = conn.prepare("SELECT record FROM room_log WHERE room_id = ?1 ORDER BY id").map_err(&map)?;
    let records =
        stmt.query_map([room.0], |r| r.get(0)).and_then(|rows| rows.collect::<Result<_, _>>()).map_err(&map)?;
    let mut stmt = conn
        .prepare(
            "SELECT id,
                    content || coalesce((SELECT group_concat(c.content, '' ORDER BY seq) FROM message_chunks c WHERE c.message_id = messages.id), ''),
                    reasoning || coalesce((SELECT group_concat(c.reasoning, '' ORDER BY seq) FROM message_chunks c WHERE c.message_id = messages.id), '')
             FROM messages WHERE room_id = ?1 AND state = 'streaming'",
        )
        .map_err(&map)?;
    let partial = stmt
        .query_map([room.0], |r| Ok((MessageId(r.get(0)?), (r.get(1)?, r.get(2)?))))
        .and_then(|rows| rows.collect::<Result<_, _>>())
        .map_err(&map)?;
    Ok(Some(StoredRoom {
        id: room,
        title,
        headless,
        created_at_ms,
        updated_at_ms,
        models: serde_json::from_str(&models).unwrap_or_default(),
        records,
        partial,
    }))
}

/// Rooms, newest first, with their turn counts and the ledger's figures.
pub fn list_rooms(path: &Path, limit: usize) -> Result<Vec<RoomListing>, StoreError> {
    let conn = open_read(path)?;
    let map = read_err(path);
    let mut stmt = conn
        .prepare(
            "SELECT r.id, r.title, r.headless, r.created_at, r.updated_at, r.models,
                    (SELECT count(*) FROM turns t WHERE t.room_id = r.id)
             FROM rooms r ORDER BY r.updated_at DESC, r.id DESC LIMIT ?1",
        )
        .map_err(&map)?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut rooms: Vec<RoomListing> = stmt
        .query_map([limit], |r| {
            let models: String = r.get(5)?;
            Ok(RoomListing {
                id: RoomId(r.get(0)?),
                title: r.get(1)?,
                headless: r.get(2)?,
                created_at_ms: r.get(3)?,
                updated_at_ms: r.get(4)?,
                models: serde_json::from_str(&models).unwrap_or_default(),
                turns: r.get::<_, i64>(6)?.try_into().unwrap_or(0),
                requests: 0,
                prompt_tokens: 0,
                completion_tokens: 0,
                cost_usd: rust_decimal::Decimal::ZERO,
            })
        })
        .and_then(|rows| rows.collect::<Result<_, _>>())
        .map_err(&map)?;
    for room in &mut rooms {
        let figures = room_figures(&conn, room.id).map_err(&map)?;
        room.requests = figures.requests.into();
        room.prompt_tokens = figures.prompt_tokens;
        room.completion_tokens = figures.completion_tokens;
        room.cost_usd = figures.cost;
    }
    Ok(rooms)
}

/// Prompts and answers matching `query` (FTS5 syntax accepted; plain words are AND-ed), best
/// first. A query FTS5 cannot parse is searched as a phrase.
pub fn search_rooms(path: &Path, query: &str, limit: usize) -> Result<Vec<SearchHit>, StoreError> {
    let conn = open_read(path)?;
    match search_with(&conn, query, limit) {
        Ok(hits) => Ok(hits),
        Err(_) => {
            let phrase = format!("\"{}\"", query.replace('"', "\"\""));
            search_with(&conn, &phrase, limit).map_err(read_err(path))
        }
    }
}

fn search_with(conn: &Connection, query: &str, limit: usize) -> rusqlite::Result<Vec<SearchHit>> {
    let mut stmt = conn.prepare(
        "SELECT f.room_id, coalesce(r.title, ''), f.turn, f.target, m.model,
                snippet(message_fts, 0, '[', ']', '…', 12), coalesce(m.created_at, 0)
         FROM message_fts f
         LEFT JOIN rooms r ON r.id = f.room_id
         LEFT JOIN messages m ON m.id = f.message_id
         WHERE message_fts MATCH ?1
         ORDER BY rank LIMIT ?2",
    )?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    stmt.query_map(params![query, limit], |r| {
        Ok(SearchHit {
            room: RoomId(r.get(0)?),
            room_title: r.get(1)?,
            turn: TurnId(r.get::<_, i64>(2)?.try_into().unwrap_or(0)),
            target: r.get::<_, Option<u32>>(3)?.map(TargetId),
            model: r.get(4)?,
            snippet: r.get::<_, String>(5)?.replace('\n', " "),
            at_ms: r.get(6)?,
        })
    })?
    .collect()
}

/// A room's ledger rows added up with the house's one accounting function.
fn room_figures(conn: &Connection, room: RoomId) -> rusqlite::Result<crate::core::room::Totals> {
    use crate::core::room::{StepFigures, Totals};
    let steps: Vec<StepFigures> =
        super::ledger::room_requests(conn, room)?.iter().map(super::RoomRequest::figures).collect();
    Ok(Totals::of(&steps))
}
