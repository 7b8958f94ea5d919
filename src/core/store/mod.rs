//! The SQLite store: one `roundtable.db` per data dir holding the cost ledger, the chat rooms,
//! the votes on answers and the cross-process quota log. Writes go through a dedicated thread
//! (`writer`) so a slow or broken disk never stalls a stream; reads open their own short-lived
//! read-only connection.

mod ledger;
mod quota_log;
mod room_log;
mod rooms;
mod schema;
mod votes;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::ErrorCode;

pub use ledger::{
    GroupBy, InterruptedRequest, LedgerEntry, LedgerExtras, RequestStatus, RoomRequest, UsageRow, interrupt_stale,
    spend_since, usage_summary,
};
pub use quota_log::{DeniedBy, QuotaDb, QuotaState, QuotaWindow, Reservation, daily_window};
pub use room_log::{RoomListing, SearchHit, StoredRoom, last_room_id, list_rooms, load_room_records, search_rooms};
pub use rooms::{MessageState, RoomInfo, RoomTranscript, StoredMessage, last_room, load_room};
pub use votes::{AnswerAverages, VoteFilter, VoteId, answer_averages, read_votes};
pub use writer::{Store, StoreOptions};

/// File name of the database inside the data dir.
pub const DB_FILE_NAME: &str = "roundtable.db";

/// How long a statement waits for another process's write lock before giving up.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The database path for a data dir.
pub fn db_path(data_dir: &Path) -> PathBuf {
    data_dir.join(DB_FILE_NAME)
}

/// Row id of a ledger entry (one upstream request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct LedgerId(pub i64);

/// Row id of a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct RoomId(pub i64);

/// Row id of a message (a user turn or one pane's answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct MessageId(pub i64);

/// Everything that can go wrong with the database. Every message says what happened and what to
/// do; `Clone` so the writer can hand the last failure to the UI through `Store::health`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error(
        "The database at {path} is corrupt or is not a roundtable database; it was left untouched. \
         Move it away to start a new one (roundtable keeps running without saving history meanwhile)."
    )]
    Corrupt { path: String },
    #[error(
        "The database at {path} is locked by another process (waited {waited_ms} ms). Close other \
         roundtable instances or tools holding it open; writes are retried meanwhile."
    )]
    Locked { path: String, waited_ms: u64 },
    #[error(
        "The database at {path} cannot be written: the file or its directory is read-only. Fix the \
         permissions or set ROUNDTABLE_DATA_DIR to a writable directory."
    )]
    ReadOnly { path: String },
    #[error(
        "The disk holding the database at {path} is full (or the database reached its size cap). \
         Free some space; roundtable keeps streaming but history is not saved until then."
    )]
    DiskFull { path: String },
    #[error(
        "Could not open the database at {path}: {detail}. Check that the directory exists and is \
         writable, or set ROUNDTABLE_DATA_DIR."
    )]
    CannotOpen { path: String, detail: String },
    #[error("No database at {path} yet: nothing has been recorded.")]
    Missing { path: String },
    #[error(
        "The database at {path} was written by a newer roundtable (schema version {found}, this \
         build knows {known}); it was left untouched. Upgrade roundtable or move the file away."
    )]
    TooNew { path: String, found: usize, known: usize },
    #[error("The database writer has stopped, so history is no longer saved. Restart roundtable.")]
    Closed,
    #[error("Database error at {path}: {detail}.")]
    Other { path: String, detail: String },
}

impl StoreError {
    /// Classify a SQLite error into a user-facing one. `waited` is the busy timeout in force.
    pub(crate) fn from_sqlite(path: &Path, err: &rusqlite::Error, waited: Duration) -> StoreError {
        let path_s = path.display().to_string();
        match err.sqlite_error_code() {
            Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => StoreError::Corrupt { path: path_s },
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                StoreError::Locked { path: path_s, waited_ms: u64::try_from(waited.as_millis()).unwrap_or(u64::MAX) }
            }
            Some(ErrorCode::ReadOnly | ErrorCode::PermissionDenied) => StoreError::ReadOnly { path: path_s },
            Some(ErrorCode::DiskFull) => StoreError::DiskFull { path: path_s },
            Some(ErrorCode::CannotOpen) if dir_is_read_only(path) => StoreError::ReadOnly { path: path_s },
            Some(ErrorCode::CannotOpen) => StoreError::CannotOpen { path: path_s, detail: err.to_string() },
            _ => StoreError::Other { path: path_s, detail: err.to_string() },
        }
    }

    /// Errors that may clear up by themselves (another process lets go, space is freed), so the
    /// writer keeps the batch and retries instead of dropping it.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Locked { .. } | StoreError::DiskFull { .. } | StoreError::ReadOnly { .. })
    }

    fn from_io(path: &Path, err: &std::io::Error) -> StoreError {
        let path_s = path.display().to_string();
        match err.kind() {
            std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
                StoreError::ReadOnly { path: path_s }
            }
            std::io::ErrorKind::StorageFull => StoreError::DiskFull { path: path_s },
            _ => StoreError::CannotOpen { path: path_s, detail: err.to_string() },
        }
    }
}

/// Whether the directory of `path` refuses new files: SQLite reports that case as a generic
/// "unable to open", which would hide the actual fix (permissions).
fn dir_is_read_only(path: &Path) -> bool {
    let Some(dir) = path.parent() else { return false };
    let probe = dir.join(format!(".roundtable-probe-{}", std::process::id()));
    match std::fs::OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            false
        }
        Err(e) => matches!(e.kind(), std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem),
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A fresh row id, generated client-side so callers never wait for the database: the time in ms
/// in the high bits (rows sort by creation), a per-process salt in the low bits (two processes
/// starting in the same millisecond do not collide), and strictly increasing within a process.
pub fn new_id() -> i64 {
    static LAST: AtomicI64 = AtomicI64::new(0);
    static SALT: OnceLock<i64> = OnceLock::new();
    let salt = *SALT.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        h.write_i64(now_ms());
        (h.finish() & 0x3ff) as i64
    });
    let candidate = (now_ms() << 20) | (salt << 10);
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = candidate.max(last + 1);
        match LAST.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

/// Open a read-only connection for a query; a missing file is `Missing`, not an empty database.
pub(crate) fn open_read(path: &Path) -> Result<rusqlite::Connection, StoreError> {
    if !path.exists() {
        return Err(StoreError::Missing { path: path.display().to_string() });
    }
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = rusqlite::Connection::open_with_flags(path, flags)
        .map_err(|e| StoreError::from_sqlite(path, &e, DEFAULT_BUSY_TIMEOUT))?;
    conn.busy_timeout(DEFAULT_BUSY_TIMEOUT).map_err(|e| StoreError::from_sqlite(path, &e, DEFAULT_BUSY_TIMEOUT))?;
    Ok(conn)
}

/// Map a rusqlite error on a read connection.
pub(crate) fn read_err(path: &Path) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |e| StoreError::from_sqlite(path, &e, DEFAULT_BUSY_TIMEOUT)
}
