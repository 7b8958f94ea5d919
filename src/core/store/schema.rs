//! The database schema (versioned migrations) and how a writable connection is opened: corrupt
//! files are detected before anything is written, then WAL, busy timeout and foreign keys.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use rusqlite_migration::{M, Migrations};

use super::StoreError;

/// Append-only list: never edit a shipped migration, add a new one. `IF NOT EXISTS` everywhere so
/// two processes racing to create a fresh file both succeed (see `migrate`).
const MIGRATIONS: &[M<'static>] = &[
    M::up(
        r#"
CREATE TABLE IF NOT EXISTS rooms (
    id          INTEGER PRIMARY KEY,
    title       TEXT    NOT NULL,
    models      TEXT    NOT NULL DEFAULT '[]',   -- JSON array; index = target id
    created_at  INTEGER NOT NULL,                -- unix ms
    updated_at  INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS turns (
    room_id     INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    turn        INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (room_id, turn)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS messages (
    id           INTEGER PRIMARY KEY,
    room_id      INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    turn         INTEGER NOT NULL,
    target       INTEGER,                        -- NULL for the shared user turn
    role         TEXT    NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
    model        TEXT,
    content      TEXT    NOT NULL DEFAULT '',
    reasoning    TEXT    NOT NULL DEFAULT '',
    tool_calls   TEXT,                           -- JSON array of ToolCall
    tool_call_id TEXT,
    state        TEXT    NOT NULL CHECK (state IN ('streaming', 'done', 'error', 'cancelled')),
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_room ON messages(room_id, turn, target);

-- No foreign key to rooms: the ledger is the money record and must be written even when the
-- room row could not be.
CREATE TABLE IF NOT EXISTS ledger (
    id                INTEGER PRIMARY KEY,
    started_at        INTEGER NOT NULL,          -- unix ms
    provider          TEXT    NOT NULL,
    requested_model   TEXT    NOT NULL,
    served_model      TEXT,
    upstream_provider TEXT,
    generation_id     TEXT,
    prompt_tokens     INTEGER,
    completion_tokens INTEGER,
    cached_tokens     INTEGER,
    reasoning_tokens  INTEGER,
    cost_usd          TEXT,                      -- exact decimal string, never REAL; NULL = unknown
    cost_source       TEXT    NOT NULL CHECK (cost_source IN ('reported', 'estimated', 'unknown')),
    ttft_ms           INTEGER,
    duration_ms       INTEGER,
    status            TEXT    NOT NULL CHECK (status IN ('pending', 'ok', 'error', 'cancelled')),
    error_kind        TEXT,
    http_status       INTEGER,
    room_id           INTEGER,
    turn              INTEGER,
    target            INTEGER
);
CREATE INDEX IF NOT EXISTS ledger_started ON ledger(started_at);
CREATE INDEX IF NOT EXISTS ledger_generation ON ledger(generation_id) WHERE generation_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS quota_log (
    id     INTEGER PRIMARY KEY,
    bucket TEXT    NOT NULL,
    at_ms  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS quota_log_bucket_at ON quota_log(bucket, at_ms);

CREATE TABLE IF NOT EXISTS quota_state (
    bucket           TEXT PRIMARY KEY,
    limit_value      INTEGER,
    used             INTEGER,
    source           TEXT    NOT NULL,
    updated_at       INTEGER NOT NULL,
    blocked_until_ms INTEGER
);
"#,
    ),
    // Estimated tokens per logged request, for tokens-per-minute limits (Gemini's TPM). Racing
    // processes: the loser's ALTER fails on the duplicate column and its retry in `migrate`
    // finds the version already bumped.
    M::up("ALTER TABLE quota_log ADD COLUMN tokens INTEGER NOT NULL DEFAULT 0;"),
    // Rooms owned by the core: every change of a room is a record (replayed to reopen it),
    // streamed text goes in chunks (a write costs the delta, not the message), finished
    // messages are indexed for full-text search, and `ask`'s rooms are marked headless.
    M::up(
        r#"
ALTER TABLE rooms ADD COLUMN headless INTEGER NOT NULL DEFAULT 0;
CREATE TABLE IF NOT EXISTS room_log (
    id       INTEGER PRIMARY KEY,                 -- client-generated, increasing: replay order
    room_id  INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    at       INTEGER NOT NULL,                    -- unix ms
    record   TEXT    NOT NULL                     -- JSON of core::room::Record
);
CREATE INDEX IF NOT EXISTS room_log_room ON room_log(room_id, id);
CREATE TABLE IF NOT EXISTS message_chunks (
    message_id INTEGER NOT NULL,
    seq        INTEGER NOT NULL,
    content    TEXT    NOT NULL DEFAULT '',
    reasoning  TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (message_id, seq)
) WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS message_fts USING fts5(
    content, room_id UNINDEXED, turn UNINDEXED, target UNINDEXED, message_id UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO message_fts (content, room_id, turn, target, message_id)
    SELECT content, room_id, turn, target, id FROM messages WHERE state != 'streaming' AND content != '';
"#,
    ),
    // Votes on a turn's answers (issue 10): the leaderboard's input. `models` is the JSON list of
    // the panes' models in pane order, `best` indexes it; `pairs` is derived, for other tools.
    M::up(
        r#"
CREATE TABLE IF NOT EXISTS votes (
    id          INTEGER PRIMARY KEY,
    room_id     INTEGER,                         -- NULL for votes from outside a room
    turn        INTEGER,
    prompt      TEXT    NOT NULL DEFAULT '',
    models      TEXT    NOT NULL DEFAULT '[]',
    outcome     TEXT    NOT NULL CHECK (outcome IN ('best', 'tie', 'bad')),
    best        INTEGER,
    pairs       TEXT    NOT NULL DEFAULT '[]',
    blind       INTEGER NOT NULL DEFAULT 0,
    tag         TEXT,
    created_at  INTEGER NOT NULL                 -- unix ms
);
CREATE INDEX IF NOT EXISTS votes_created ON votes(created_at);
"#,
    ),
    // The tools each tool step called (comma-separated names as the models saw them), beside
    // its ledger row: a table of its own, so the migration is idempotent in any order.
    M::up("CREATE TABLE IF NOT EXISTS ledger_tools (ledger_id INTEGER PRIMARY KEY, tools TEXT NOT NULL);"),
    // What a request was for: NULL for an answer, 'analysis' for an analyst's comparison
    // (`/analyze`, `ask --analyze`), so reports can tell them apart.
    M::up("ALTER TABLE ledger ADD COLUMN purpose TEXT;"),
    // Issue 13: what a request's extras weighed and cost, beside its ledger row (a row only for
    // requests that had any): web searches (`usage.server_tool_use.web_search_requests`) and
    // their cost at the catalog price (the upstream does not itemise it), the files attached
    // with their bytes and estimated prompt tokens, and what prompt caching saved. Costs are
    // exact decimal strings, as in `ledger`. A table of its own, so the migration is idempotent.
    M::up(
        r#"
CREATE TABLE IF NOT EXISTS ledger_extras (
    ledger_id            INTEGER PRIMARY KEY,
    web_search_requests  INTEGER NOT NULL DEFAULT 0,
    web_search_cost_usd  TEXT,
    attachments          INTEGER NOT NULL DEFAULT 0,
    attachment_bytes     INTEGER NOT NULL DEFAULT 0,
    attachment_tokens    INTEGER NOT NULL DEFAULT 0,  -- an estimate (core::attach::estimate_tokens)
    cache_discount_usd   TEXT,
    cache_discount_reported INTEGER NOT NULL DEFAULT 0  -- 1: the upstream's figure; 0: estimated
);
"#,
    ),
];

/// Schema version this build writes.
pub(crate) fn latest_version() -> usize {
    MIGRATIONS.len()
}

/// How a writable connection is set up.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnSettings {
    pub busy_timeout: Duration,
    /// Cap on the database size in pages (`PRAGMA max_page_count`); exceeding it is reported as
    /// a full disk, which is also how the full-disk path is tested.
    pub max_pages: Option<u64>,
}

/// Open (creating if needed) a writable connection to `path`, refusing corrupt files and files
/// from a newer schema without writing a byte to them, then migrate to the latest schema.
pub(crate) fn open_write(path: &Path, settings: ConnSettings) -> Result<Connection, StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::from_io(dir, &e))?;
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| err(path, settings, &e))?;
    // SQLite silently falls back to read-only when the file is write-protected; the writer
    // would then fail on every batch, so say so now.
    if conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(false) {
        return Err(StoreError::ReadOnly { path: path.display().to_string() });
    }
    prepare(conn, path, settings)
}

/// A private in-memory database (tests, `--no-history`).
pub(crate) fn open_memory(settings: ConnSettings) -> Result<Connection, StoreError> {
    let path = Path::new(":memory:");
    let conn = Connection::open_in_memory().map_err(|e| err(path, settings, &e))?;
    prepare(conn, path, settings)
}

fn err(path: &Path, settings: ConnSettings, e: &rusqlite::Error) -> StoreError {
    StoreError::from_sqlite(path, e, settings.busy_timeout)
}

fn prepare(mut conn: Connection, path: &Path, settings: ConnSettings) -> Result<Connection, StoreError> {
    let e = |x: rusqlite::Error| err(path, settings, &x);
    conn.busy_timeout(settings.busy_timeout).map_err(e)?;
    // Read-only checks first: the first read of a garbage file fails with NOTADB, and
    // quick_check catches damaged pages in a file whose header still looks right.
    check_integrity(&conn, path, settings)?;
    let found: usize =
        conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0)).map_err(e)?.try_into().unwrap_or(0);
    if found > latest_version() {
        return Err(StoreError::TooNew { path: path.display().to_string(), found, known: latest_version() });
    }
    // WAL: readers (usage, quota) never block the writer and vice versa; NORMAL sync is durable
    // across application crashes, which is what matters for chat history.
    set_wal(&conn).map_err(e)?;
    conn.pragma_update(None, "synchronous", "NORMAL").map_err(e)?;
    conn.pragma_update(None, "foreign_keys", true).map_err(e)?;
    if let Some(pages) = settings.max_pages {
        let _: i64 = conn
            .pragma_update_and_check(None, "max_page_count", i64::try_from(pages).unwrap_or(i64::MAX), |r| r.get(0))
            .map_err(e)?;
    }
    migrate(&mut conn, path, settings)?;
    Ok(conn)
}

/// Switch to WAL, retrying while another connection holds the file: the switch needs an
/// exclusive lock and SQLite answers BUSY at once instead of calling the busy handler, so two
/// processes opening a fresh file together would otherwise fail (seen in CI).
fn set_wal(conn: &Connection) -> rusqlite::Result<()> {
    let give_up = std::time::Instant::now() + WAL_SWITCH_PATIENCE;
    let mut pause = Duration::from_millis(2);
    loop {
        match conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0)) {
            Ok(_) => return Ok(()),
            Err(e) if is_busy(&e) && std::time::Instant::now() < give_up => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(e) => return Err(e),
        }
    }
}

/// How long `set_wal` keeps trying; longer than any other opener holds the lock while migrating.
const WAL_SWITCH_PATIENCE: Duration = Duration::from_secs(10);

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
}

/// `PRAGMA quick_check` table by table over the ordinary tables (which include the search
/// index's own b-tree tables), never over a virtual table: on the FTS5 table a whole-file
/// quick_check re-tokenizes every stored message to compare it with the index, so every start
/// cost time in proportion to the whole history (72 M instructions for 17 MB, most of `ask`'s
/// CPU on a short run). Damaged pages anywhere in the file are still found.
fn check_integrity(conn: &Connection, path: &Path, settings: ConnSettings) -> Result<(), StoreError> {
    let e = |x: rusqlite::Error| err(path, settings, &x);
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL TABLE%'")
        .and_then(|mut stmt| stmt.query_map([], |r| r.get::<_, String>(0))?.collect())
        .map_err(e)?;
    let mut problems = Vec::new();
    for table in &tables {
        let pragma = format!("PRAGMA quick_check(\"{}\")", table.replace('"', "\"\""));
        let rows: Vec<String> = conn
            .prepare(&pragma)
            .and_then(|mut stmt| stmt.query_map([], |r| r.get::<_, String>(0))?.collect())
            .map_err(e)?;
        problems.extend(rows.into_iter().filter(|r| r != "ok"));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        tracing::error!(path = %path.display(), problems = ?problems.iter().take(5).collect::<Vec<_>>(), "database failed quick_check");
        Err(StoreError::Corrupt { path: path.display().to_string() })
    }
}

/// Migrate inside an IMMEDIATE transaction so two processes opening a fresh file serialize on
/// the write lock instead of failing on a stale read snapshot; if we lost the race, the winner's
/// migration is already there and a second attempt finds nothing to do.
fn migrate(conn: &mut Connection, path: &Path, settings: ConnSettings) -> Result<(), StoreError> {
    conn.set_transaction_behavior(TransactionBehavior::Immediate);
    let migrations = Migrations::from_slice(MIGRATIONS);
    let mut result = migrations.to_latest(conn);
    if result.is_err() {
        result = migrations.to_latest(conn);
    }
    conn.set_transaction_behavior(TransactionBehavior::Deferred);
    result.map_err(|m| match m {
        rusqlite_migration::Error::RusqliteError { err: x, .. } => err(path, settings, &x),
        other => StoreError::Other { path: path.display().to_string(), detail: format!("migration failed: {other}") },
    })
}
