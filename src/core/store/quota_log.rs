//! The quota log shared by every roundtable process on the machine: one row per request sent
//! against a bucket, reserved atomically (BEGIN IMMEDIATE) so two processes can never both take
//! the last free slot, plus the quota state learned from servers (`/key`, 429 headers).

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

use super::schema::{self, ConnSettings};
use super::{DEFAULT_BUSY_TIMEOUT, StoreError, new_id};

/// One limit on a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaWindow {
    /// A sliding window: requests in the last `length` count (per-minute limits).
    Rolling { length: Duration, limit: u32 },
    /// A calendar window `[start_ms, end_ms)`, e.g. today in UTC or in America/Los_Angeles;
    /// see `daily_window`.
    Fixed { start_ms: i64, end_ms: i64, limit: u32 },
    /// A sliding window over the requests' estimated tokens (Gemini's tokens per minute). A
    /// request that alone exceeds `limit` is granted when the window is empty, never refused
    /// for ever.
    RollingTokens { length: Duration, limit: u64 },
}

impl QuotaWindow {
    pub fn per_minute(limit: u32) -> Self {
        Self::Rolling { length: Duration::from_secs(60), limit }
    }

    /// Today's window in the time zone `tz` (IANA name, e.g. `UTC`, `America/Los_Angeles`).
    pub fn daily(limit: u32, tz: &str, now_ms: i64) -> Option<Self> {
        daily_window(tz, now_ms).map(|(start_ms, end_ms)| Self::Fixed { start_ms, end_ms, limit })
    }
}

/// Start and end (unix ms) of the calendar day containing `now_ms` in time zone `tz`. Computed
/// from the zone's rules, so DST days in Los Angeles are 23 or 25 hours long, as Google's are.
pub fn daily_window(tz: &str, now_ms: i64) -> Option<(i64, i64)> {
    let zone = jiff::tz::TimeZone::get(tz).ok()?;
    let now = jiff::Timestamp::from_millisecond(now_ms).ok()?.to_zoned(zone);
    let start = now.start_of_day().ok()?;
    let end = now.tomorrow().ok()?.start_of_day().ok()?;
    Some((start.timestamp().as_millisecond(), end.timestamp().as_millisecond()))
}

/// Which limit refused a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum DeniedBy {
    /// Index into the `windows` passed to `try_reserve`.
    Window(usize),
    /// The server said to wait (a 429 recorded with `block_until`).
    Blocked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Reservation {
    /// A slot was taken; `id` can be given back with `release` if the request is never sent.
    Granted { id: i64 },
    /// No slot: retry at `next_free_at_ms` (the latest of the binding limits).
    Denied { by: DeniedBy, next_free_at_ms: i64 },
}

/// Quota values learned from a server for a bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuotaState {
    pub bucket: String,
    pub limit: Option<u32>,
    pub used: Option<u32>,
    /// Where the values came from, e.g. `key` (OpenRouter `/key`) or `429`.
    pub source: String,
    pub updated_at_ms: i64,
    pub blocked_until_ms: Option<i64>,
}

/// Log rows older than this are deleted at open: no window we track is longer than a day.
const KEEP_MS: i64 = 3 * 24 * 3600 * 1000;

/// A connection to the quota tables. Blocking: use it from `spawn_blocking` or a plain thread.
pub struct QuotaDb {
    conn: Connection,
    path: PathBuf,
    busy_timeout: Duration,
}

impl std::fmt::Debug for QuotaDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuotaDb").field("path", &self.path).finish_non_exhaustive()
    }
}

impl QuotaDb {
    pub fn open(path: &Path) -> Result<QuotaDb, StoreError> {
        Self::open_with(path, DEFAULT_BUSY_TIMEOUT)
    }

    pub fn open_with(path: &Path, busy_timeout: Duration) -> Result<QuotaDb, StoreError> {
        let conn = schema::open_write(path, ConnSettings { busy_timeout, max_pages: None })?;
        let db = QuotaDb { conn, path: path.to_path_buf(), busy_timeout };
        db.prune(super::now_ms() - KEEP_MS)?;
        Ok(db)
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |e| StoreError::from_sqlite(&self.path, &e, self.busy_timeout)
    }

    /// Take one slot of `bucket` at `now_ms` if every window has room, atomically across
    /// processes: counting and inserting happen under one write lock.
    pub fn try_reserve(
        &mut self,
        bucket: &str,
        windows: &[QuotaWindow],
        now_ms: i64,
    ) -> Result<Reservation, StoreError> {
        self.try_reserve_tokens(bucket, windows, now_ms, 0)
    }

    /// `try_reserve` for a request estimated at `tokens` (checked against `RollingTokens`).
    pub fn try_reserve_tokens(
        &mut self,
        bucket: &str,
        windows: &[QuotaWindow],
        now_ms: i64,
        tokens: u64,
    ) -> Result<Reservation, StoreError> {
        let path = self.path.clone();
        let timeout = self.busy_timeout;
        let map = move |e: rusqlite::Error| StoreError::from_sqlite(&path, &e, timeout);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(&map)?;
        let blocked: Option<i64> = tx
            .query_row("SELECT blocked_until_ms FROM quota_state WHERE bucket = ?1", [bucket], |r| r.get(0))
            .optional()
            .map_err(&map)?
            .flatten();
        if let Some(until) = blocked.filter(|u| *u > now_ms) {
            return Ok(Reservation::Denied { by: DeniedBy::Blocked, next_free_at_ms: until });
        }
        let mut denied: Option<(usize, i64)> = None;
        for (i, w) in windows.iter().enumerate() {
            if let QuotaWindow::RollingTokens { length, limit } = *w {
                let lo = now_ms - duration_ms(length) + 1;
                if let Some(next) = tokens_wait(&tx, bucket, lo, limit, tokens, length).map_err(&map)?
                    && denied.is_none_or(|(_, n)| next > n)
                {
                    denied = Some((i, next));
                }
                continue;
            }
            // Rolling: a row exactly `length` old has left the window.
            let (lo, hi, limit) = match *w {
                QuotaWindow::Rolling { length, limit } => (now_ms - duration_ms(length) + 1, i64::MAX, limit),
                QuotaWindow::Fixed { start_ms, end_ms, limit } => (start_ms, end_ms, limit),
                QuotaWindow::RollingTokens { .. } => continue,
            };
            let count: i64 = tx
                .prepare_cached("SELECT count(*) FROM quota_log WHERE bucket = ?1 AND at_ms >= ?2 AND at_ms < ?3")
                .and_then(|mut s| s.query_row(params![bucket, lo, hi], |r| r.get(0)))
                .map_err(&map)?;
            if count < i64::from(limit) {
                continue;
            }
            let next = match *w {
                QuotaWindow::Rolling { length, limit } => {
                    // Enough of the oldest rows must expire to get back under the limit.
                    let offset = count - i64::from(limit);
                    let at: Option<i64> = tx
                        .prepare_cached(
                            "SELECT at_ms FROM quota_log WHERE bucket = ?1 AND at_ms >= ?2
                             ORDER BY at_ms LIMIT 1 OFFSET ?3",
                        )
                        .and_then(|mut s| s.query_row(params![bucket, lo, offset], |r| r.get(0)).optional())
                        .map_err(&map)?;
                    at.unwrap_or(now_ms) + duration_ms(length)
                }
                QuotaWindow::Fixed { end_ms, .. } => end_ms,
                QuotaWindow::RollingTokens { .. } => continue,
            };
            if denied.is_none_or(|(_, n)| next > n) {
                denied = Some((i, next));
            }
        }
        if let Some((i, next)) = denied {
            return Ok(Reservation::Denied { by: DeniedBy::Window(i), next_free_at_ms: next });
        }
        let id = new_id();
        let tokens = i64::try_from(tokens).unwrap_or(i64::MAX);
        tx.execute(
            "INSERT INTO quota_log (id, bucket, at_ms, tokens) VALUES (?1, ?2, ?3, ?4)",
            params![id, bucket, now_ms, tokens],
        )
        .map_err(&map)?;
        tx.commit().map_err(&map)?;
        Ok(Reservation::Granted { id })
    }

    /// Give back a slot whose request was never sent.
    pub fn release(&self, id: i64) -> Result<(), StoreError> {
        self.conn.execute("DELETE FROM quota_log WHERE id = ?1", [id]).map_err(self.err())?;
        Ok(())
    }

    /// Requests logged against `bucket` since `since_ms`.
    pub fn quota_used(&self, bucket: &str, since_ms: i64) -> Result<u32, StoreError> {
        let n: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM quota_log WHERE bucket = ?1 AND at_ms >= ?2",
                params![bucket, since_ms],
                |r| r.get(0),
            )
            .map_err(self.err())?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// The oldest request logged against `bucket` since `since_ms`: when it leaves a rolling
    /// window, the window's next slot frees.
    pub fn quota_oldest(&self, bucket: &str, since_ms: i64) -> Result<Option<i64>, StoreError> {
        self.conn
            .query_row(
                "SELECT min(at_ms) FROM quota_log WHERE bucket = ?1 AND at_ms >= ?2",
                params![bucket, since_ms],
                |r| r.get(0),
            )
            .map_err(self.err())
    }

    /// Estimated tokens logged against `bucket` since `since_ms`.
    pub fn quota_tokens(&self, bucket: &str, since_ms: i64) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row(
                "SELECT coalesce(sum(tokens), 0) FROM quota_log WHERE bucket = ?1 AND at_ms >= ?2",
                params![bucket, since_ms],
                |r| r.get(0),
            )
            .map_err(self.err())?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Store values learned from the server (replaces the bucket's row).
    pub fn set_quota_state(&self, s: &QuotaState) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO quota_state (bucket, limit_value, used, source, updated_at, blocked_until_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(bucket) DO UPDATE SET limit_value = excluded.limit_value, used = excluded.used,
                     source = excluded.source, updated_at = excluded.updated_at,
                     blocked_until_ms = excluded.blocked_until_ms",
                params![s.bucket, s.limit, s.used, s.source, s.updated_at_ms, s.blocked_until_ms],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Refuse reservations of `bucket` until `until_ms` (a 429 told us so), keeping the other
    /// learned values and never shortening an existing block.
    pub fn block_until(&self, bucket: &str, until_ms: i64, source: &str, now_ms: i64) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO quota_state (bucket, source, updated_at, blocked_until_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(bucket) DO UPDATE SET source = excluded.source, updated_at = excluded.updated_at,
                     blocked_until_ms = max(coalesce(blocked_until_ms, 0), excluded.blocked_until_ms)",
                params![bucket, source, now_ms, until_ms],
            )
            .map_err(self.err())?;
        Ok(())
    }

    pub fn quota_state(&self, bucket: &str) -> Result<Option<QuotaState>, StoreError> {
        self.conn
            .query_row(
                "SELECT limit_value, used, source, updated_at, blocked_until_ms FROM quota_state WHERE bucket = ?1",
                [bucket],
                |r| {
                    Ok(QuotaState {
                        bucket: bucket.to_owned(),
                        limit: r.get(0)?,
                        used: r.get(1)?,
                        source: r.get(2)?,
                        updated_at_ms: r.get(3)?,
                        blocked_until_ms: r.get(4)?,
                    })
                },
            )
            .optional()
            .map_err(self.err())
    }

    /// Delete log rows older than `before_ms`.
    pub fn prune(&self, before_ms: i64) -> Result<usize, StoreError> {
        self.conn.execute("DELETE FROM quota_log WHERE at_ms < ?1", [before_ms]).map_err(self.err())
    }
}

/// When a request of `tokens` fits a token window that starts at `lo`: `None` when it fits
/// now, else the moment enough of the oldest rows have left it.
fn tokens_wait(
    tx: &rusqlite::Transaction<'_>,
    bucket: &str,
    lo: i64,
    limit: u64,
    tokens: u64,
    length: Duration,
) -> rusqlite::Result<Option<i64>> {
    let mut stmt =
        tx.prepare_cached("SELECT at_ms, tokens FROM quota_log WHERE bucket = ?1 AND at_ms >= ?2 ORDER BY at_ms")?;
    let rows: Vec<(i64, u64)> = stmt
        .query_map(params![bucket, lo], |r| Ok((r.get::<_, i64>(0)?, u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0))))?
        .collect::<Result<_, _>>()?;
    let used: u64 = rows.iter().map(|r| r.1).sum();
    if used == 0 || used.saturating_add(tokens) <= limit {
        return Ok(None);
    }
    let mut left = used;
    for (at, k) in rows {
        left -= k;
        if left == 0 || left.saturating_add(tokens) <= limit {
            return Ok(Some(at + duration_ms(length)));
        }
    }
    Ok(None)
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}
