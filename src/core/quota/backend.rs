//! Where the limiter's counts live: the SQLite quota log shared by every process on the
//! machine, or an in-process log when no database is available; and the one reservation rule
//! both follow (daily cap refuses; per-minute requests and tokens wait).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use super::Limits;

/// A reservation answer from the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    Granted,
    /// The minute window is full: a slot frees at `next_free_ms`.
    WaitMinute {
        next_free_ms: i64,
    },
    /// The minute's token budget (Gemini TPM) has no room for this request until `next_free_ms`.
    WaitTokens {
        next_free_ms: i64,
    },
    /// The daily cap is reached: resets at `reset_ms`.
    DailyExhausted {
        reset_ms: i64,
    },
}

/// What the server last said about a bucket's day (`GET /key`), kept across restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LearnedDay {
    pub limit: u32,
    pub used: u32,
    /// Unix ms when the server said so.
    pub at_ms: i64,
}

/// Counts of requests per bucket, shared across processes by the store, or kept in memory when
/// no database is available.
pub trait QuotaBackend: Send + Sync {
    /// Atomically: if every window has room, record one request of `tokens` estimated tokens
    /// at `now_ms` and grant.
    fn try_reserve(
        &self,
        bucket: &str,
        limits: &Limits,
        window: Windows,
        now_ms: i64,
        tokens: u64,
    ) -> Result<Reservation, String>;
    /// Requests recorded in `bucket` since `since_ms`.
    fn used_since(&self, bucket: &str, since_ms: i64) -> Result<u32, String>;
    /// Estimated tokens recorded in `bucket` since `since_ms`.
    fn tokens_since(&self, _bucket: &str, _since_ms: i64) -> Result<u64, String> {
        Ok(0)
    }
    /// The oldest request recorded in `bucket` since `since_ms` (when the minute frees).
    fn oldest_since(&self, _bucket: &str, _since_ms: i64) -> Result<Option<i64>, String> {
        Ok(None)
    }
    /// Keep what the server said about `bucket`'s day, for the next process.
    fn save_learned_day(&self, _bucket: &str, _day: LearnedDay) -> Result<(), String> {
        Ok(())
    }
    fn learned_day(&self, _bucket: &str) -> Result<Option<LearnedDay>, String> {
        Ok(None)
    }
}

/// The SQLite quota log: counts shared by every process on this machine (two `ask` runs and a
/// chatroom draw from one pool, as OpenRouter counts them).
pub struct SqliteBackend {
    db: Mutex<crate::core::store::QuotaDb>,
}

impl SqliteBackend {
    pub fn open(path: &std::path::Path) -> Result<SqliteBackend, crate::core::store::StoreError> {
        Ok(SqliteBackend { db: Mutex::new(crate::core::store::QuotaDb::open(path)?) })
    }

    fn db(&self) -> Result<std::sync::MutexGuard<'_, crate::core::store::QuotaDb>, String> {
        self.db.lock().map_err(|_| "quota database lock poisoned".to_owned())
    }
}

/// `source` of the `quota_state` row written from `GET /key`.
const KEY_SOURCE: &str = "key";

impl QuotaBackend for SqliteBackend {
    fn try_reserve(
        &self,
        bucket: &str,
        limits: &Limits,
        w: Windows,
        now_ms: i64,
        tokens: u64,
    ) -> Result<Reservation, String> {
        use crate::core::store::{DeniedBy, QuotaWindow, Reservation as Db};
        let mut windows = Vec::with_capacity(3);
        let mut daily_index = None;
        let mut tokens_index = None;
        if let Some(day) = limits.per_day {
            daily_index = Some(windows.len());
            let limit = day.saturating_sub(w.day_offset);
            windows.push(QuotaWindow::Fixed { start_ms: w.day_start_ms, end_ms: w.day_end_ms, limit });
        }
        let minute = Duration::from_millis(u64::try_from(now_ms - w.minute_start_ms).unwrap_or(60_000));
        if let Some(per_minute) = limits.per_minute {
            windows.push(QuotaWindow::Rolling { length: minute, limit: per_minute });
        }
        if let Some(tpm) = limits.tokens_per_minute {
            tokens_index = Some(windows.len());
            windows.push(QuotaWindow::RollingTokens { length: minute, limit: u64::from(tpm) });
        }
        let mut db = self.db()?;
        match db.try_reserve_tokens(bucket, &windows, now_ms, tokens).map_err(|e| e.to_string())? {
            Db::Granted { .. } => Ok(Reservation::Granted),
            Db::Denied { by: DeniedBy::Window(i), next_free_at_ms } if Some(i) == daily_index => {
                Ok(Reservation::DailyExhausted { reset_ms: next_free_at_ms })
            }
            Db::Denied { by: DeniedBy::Window(i), next_free_at_ms } if Some(i) == tokens_index => {
                Ok(Reservation::WaitTokens { next_free_ms: next_free_at_ms })
            }
            Db::Denied { next_free_at_ms, .. } => Ok(Reservation::WaitMinute { next_free_ms: next_free_at_ms }),
        }
    }

    fn used_since(&self, bucket: &str, since_ms: i64) -> Result<u32, String> {
        self.db()?.quota_used(bucket, since_ms).map_err(|e| e.to_string())
    }

    fn tokens_since(&self, bucket: &str, since_ms: i64) -> Result<u64, String> {
        self.db()?.quota_tokens(bucket, since_ms).map_err(|e| e.to_string())
    }

    fn oldest_since(&self, bucket: &str, since_ms: i64) -> Result<Option<i64>, String> {
        self.db()?.quota_oldest(bucket, since_ms).map_err(|e| e.to_string())
    }

    fn save_learned_day(&self, bucket: &str, day: LearnedDay) -> Result<(), String> {
        let db = self.db()?;
        // Keep a block another process recorded (the row holds both).
        let blocked = db.quota_state(bucket).map_err(|e| e.to_string())?.and_then(|s| s.blocked_until_ms);
        let state = crate::core::store::QuotaState {
            bucket: bucket.to_owned(),
            limit: Some(day.limit),
            used: Some(day.used),
            source: KEY_SOURCE.to_owned(),
            updated_at_ms: day.at_ms,
            blocked_until_ms: blocked,
        };
        db.set_quota_state(&state).map_err(|e| e.to_string())
    }

    fn learned_day(&self, bucket: &str) -> Result<Option<LearnedDay>, String> {
        let state = self.db()?.quota_state(bucket).map_err(|e| e.to_string())?;
        Ok(state
            .filter(|s| s.source == KEY_SOURCE)
            .and_then(|s| Some(LearnedDay { limit: s.limit?, used: s.used?, at_ms: s.updated_at_ms })))
    }
}

/// The windows a reservation checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    /// Start of the rolling minute.
    pub minute_start_ms: i64,
    /// Start of the current quota day.
    pub day_start_ms: i64,
    /// End of the current quota day (next reset).
    pub day_end_ms: i64,
    /// Extra requests to count as already used today (the server's count exceeds ours).
    pub day_offset: u32,
}

/// One logged request: when, and its estimated tokens.
pub type Entry = (i64, u64);

/// In-process backend: correct within one process only.
#[derive(Default)]
pub struct MemoryBackend {
    log: Mutex<HashMap<String, Vec<Entry>>>,
    learned: Mutex<HashMap<String, LearnedDay>>,
}

impl MemoryBackend {
    fn log(&self) -> Result<std::sync::MutexGuard<'_, HashMap<String, Vec<Entry>>>, String> {
        self.log.lock().map_err(|_| "quota log poisoned".to_owned())
    }
}

impl QuotaBackend for MemoryBackend {
    fn try_reserve(
        &self,
        bucket: &str,
        limits: &Limits,
        w: Windows,
        now_ms: i64,
        tokens: u64,
    ) -> Result<Reservation, String> {
        let mut log = self.log()?;
        let entries = log.entry(bucket.to_owned()).or_default();
        entries.retain(|&(t, _)| t >= w.day_start_ms.min(w.minute_start_ms));
        Ok(decide(entries, limits, w, now_ms, tokens))
    }
    fn used_since(&self, bucket: &str, since_ms: i64) -> Result<u32, String> {
        Ok(self.log()?.get(bucket).map_or(0, |v| count(v.iter().filter(|&&(t, _)| t >= since_ms))))
    }
    fn tokens_since(&self, bucket: &str, since_ms: i64) -> Result<u64, String> {
        Ok(self.log()?.get(bucket).map_or(0, |v| v.iter().filter(|&&(t, _)| t >= since_ms).map(|&(_, k)| k).sum()))
    }
    fn oldest_since(&self, bucket: &str, since_ms: i64) -> Result<Option<i64>, String> {
        Ok(self.log()?.get(bucket).and_then(|v| v.iter().map(|&(t, _)| t).filter(|&t| t >= since_ms).min()))
    }
    fn save_learned_day(&self, bucket: &str, day: LearnedDay) -> Result<(), String> {
        self.learned.lock().map_err(|_| "quota state poisoned".to_owned())?.insert(bucket.to_owned(), day);
        Ok(())
    }
    fn learned_day(&self, bucket: &str) -> Result<Option<LearnedDay>, String> {
        Ok(self.learned.lock().map_err(|_| "quota state poisoned".to_owned())?.get(bucket).copied())
    }
}

pub(super) fn count<I: Iterator>(it: I) -> u32 {
    u32::try_from(it.count()).unwrap_or(u32::MAX)
}

/// The reservation rule, shared by every backend: daily cap first (refuse), then the rolling
/// minute's requests and tokens (wait until enough old requests leave the window). A request
/// larger than the whole token budget goes alone into an empty window rather than never.
pub fn decide(entries: &mut Vec<Entry>, limits: &Limits, w: Windows, now_ms: i64, tokens: u64) -> Reservation {
    if let Some(day) = limits.per_day {
        let used = count(entries.iter().filter(|&&(t, _)| t >= w.day_start_ms)).saturating_add(w.day_offset);
        if used >= day {
            return Reservation::DailyExhausted { reset_ms: w.day_end_ms };
        }
    }
    let window_ms = now_ms - w.minute_start_ms;
    let mut in_window: Vec<Entry> = entries.iter().copied().filter(|&(t, _)| t >= w.minute_start_ms).collect();
    in_window.sort_unstable();
    let mut wait = None;
    if let Some(minute) = limits.per_minute
        && count(in_window.iter()) >= minute
    {
        // The slot frees when enough old requests leave the window.
        let excess = in_window.len() + 1 - minute as usize;
        let oldest = in_window.get(excess - 1).map_or(now_ms, |e| e.0);
        wait = Some(Reservation::WaitMinute { next_free_ms: oldest + window_ms + 1 });
    }
    if let Some(tpm) = limits.tokens_per_minute {
        let budget = u64::from(tpm);
        let used: u64 = in_window.iter().map(|e| e.1).sum();
        if used > 0 && used.saturating_add(tokens) > budget {
            let mut left = used;
            let mut frees_at = now_ms;
            for &(t, k) in &in_window {
                left -= k;
                frees_at = t + window_ms + 1;
                if left == 0 || left.saturating_add(tokens) <= budget {
                    break;
                }
            }
            let later =
                wait.is_none_or(|r| matches!(r, Reservation::WaitMinute { next_free_ms } if frees_at > next_free_ms));
            if later {
                wait = Some(Reservation::WaitTokens { next_free_ms: frees_at });
            }
        }
    }
    if let Some(r) = wait {
        return r;
    }
    entries.push((now_ms, tokens));
    Reservation::Granted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::quota::DayReset;

    fn w(now: i64) -> Windows {
        Windows {
            minute_start_ms: now - 60_000,
            day_start_ms: now - 3_600_000,
            day_end_ms: now + 3_600_000,
            day_offset: 0,
        }
    }

    #[test]
    fn minute_window_paces_and_day_refuses() {
        let limits =
            Limits { per_minute: Some(2), per_day: Some(3), day_reset: DayReset::Utc, tokens_per_minute: None };
        let mut log = Vec::new();
        let now = 10_000_000;
        assert_eq!(decide(&mut log, &limits, w(now), now, 0), Reservation::Granted);
        assert_eq!(decide(&mut log, &limits, w(now + 10), now + 10, 0), Reservation::Granted);
        match decide(&mut log, &limits, w(now + 20), now + 20, 0) {
            Reservation::WaitMinute { next_free_ms } => assert_eq!(next_free_ms, now + 60_001),
            other => panic!("{other:?}"),
        }
        assert_eq!(decide(&mut log, &limits, w(now + 60_001), now + 60_001, 0), Reservation::Granted);
        let r = decide(&mut log, &limits, w(now + 200_000), now + 200_000, 0);
        assert_eq!(r, Reservation::DailyExhausted { reset_ms: now + 200_000 + 3_600_000 });
    }

    #[test]
    fn token_budget_waits_for_old_requests_to_leave_the_minute() {
        let limits = Limits { tokens_per_minute: Some(1000), ..Limits::default() };
        let mut log = Vec::new();
        let now = 10_000_000;
        assert_eq!(decide(&mut log, &limits, w(now), now, 600), Reservation::Granted);
        assert_eq!(decide(&mut log, &limits, w(now + 5), now + 5, 300), Reservation::Granted);
        // 900 used: 200 more does not fit until the 600-token request leaves.
        assert_eq!(
            decide(&mut log, &limits, w(now + 10), now + 10, 200),
            Reservation::WaitTokens { next_free_ms: now + 60_001 }
        );
        // 100 still fits.
        assert_eq!(decide(&mut log, &limits, w(now + 20), now + 20, 100), Reservation::Granted);
        // Alone in an empty window, even an oversized request goes.
        assert_eq!(decide(&mut log, &limits, w(now + 70_000), now + 70_000, 5000), Reservation::Granted);
        assert!(matches!(decide(&mut log, &limits, w(now + 70_001), now + 70_001, 1), Reservation::WaitTokens { .. }));
    }
}
