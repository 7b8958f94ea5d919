//! The quota limiter shared by every concurrent stream (and, through the store, every
//! process): which bucket a request draws from, its per-minute, per-day and tokens-per-minute
//! limits, pacing ("queued until T"), refusals before sending, and what 429s and `GET /key`
//! teach it. The counts themselves live in a `backend`.

mod backend;

pub use backend::{Entry, LearnedDay, MemoryBackend, QuotaBackend, Reservation, SqliteBackend, Windows, decide};

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::core::error::{CoreError, ErrorKind};
use crate::core::provider::{ProviderKind, ResolvedModel};

/// The bucket every OpenRouter `:free` request draws from: limits are per account, shared by
/// all free models.
pub const OPENROUTER_FREE: &str = "openrouter:free";
const MINUTE: Duration = Duration::from_secs(60);
/// A server counts a request from when it arrives, which may be later than when it was admitted
/// here (connecting, a proxy's queue); a request released exactly one window after the first
/// can then arrive a few milliseconds inside the server's rolling minute. Each per-minute slot
/// is therefore held one thirtieth of the window longer (2 s of a minute).
const PACING_MARGIN_DIVISOR: u32 = 30;
/// Figures from `GET /key` older than this no longer tell how much of the day is left.
const DAY_FIGURES_STALE_MS: i64 = 10 * 60 * 1000;

/// When a bucket's day ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum DayReset {
    /// 00:00 UTC (OpenRouter).
    #[default]
    Utc,
    /// 00:00 America/Los_Angeles (Google's RPD).
    Pacific,
}

/// Limits of one bucket; `None` means unlimited in that dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Limits {
    pub per_minute: Option<u32>,
    pub per_day: Option<u32>,
    #[serde(default)]
    pub day_reset: DayReset,
    /// Input tokens per rolling minute (Gemini's TPM). Each request is charged its estimated
    /// prompt tokens plus its `max_tokens`, if set, before it is sent.
    #[serde(default)]
    pub tokens_per_minute: Option<u32>,
}

/// Where a limit figure came from, shown by `roundtable quota`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FigureSource {
    Config,
    /// `GET /key` `free_model_daily_requests`.
    Server,
    /// Headers or body of a 429.
    RateLimitResponse,
    /// Counted locally from requests sent.
    Local,
}

/// Limits per bucket from the config file (`[quota]`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct QuotaConfig {
    /// OpenRouter's free pool per minute (20 today).
    pub openrouter_free_per_minute: u32,
    /// OpenRouter's free pool per day (50, or 1000 after buying 10 credits); replaced by the
    /// account's real figure from `GET /key` when a key is set.
    pub openrouter_free_per_day: u32,
    /// Limits per model spec (`gemini:gemini-2.5-flash`) or per provider name (`openai`).
    #[serde(default)]
    pub limits: BTreeMap<String, Limits>,
}

/// The bucket a request draws from and its limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub name: String,
    pub limits: Limits,
}

/// What the server told us about a bucket, newest wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Learned {
    day_limit: Option<u32>,
    /// Server's count of today's requests and when it was read.
    day_used: Option<(u32, i64)>,
    /// No request before this (a 429 said so).
    blocked_until_ms: Option<i64>,
    blocked_daily: bool,
}

/// One bucket's figures for `roundtable quota` and the sidebar.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BucketStatus {
    pub bucket: String,
    pub window: &'static str,
    pub used: u32,
    pub limit: Option<u32>,
    pub remaining: Option<u32>,
    /// Unix ms of the next reset (end of the day, or when the minute window frees).
    pub resets_at_ms: Option<i64>,
    pub used_source: FigureSource,
    pub limit_source: FigureSource,
}

/// The limiter. Cheap to clone; all state behind one mutex held briefly.
#[derive(Clone)]
pub struct Limiter {
    config: Arc<QuotaConfig>,
    backend: Arc<dyn QuotaBackend>,
    learned: Arc<Mutex<HashMap<String, Learned>>>,
    clock: Clock,
    /// Length of the "minute" window: 60 s except in tests that need fast pacing.
    minute: Duration,
    /// Buckets whose server-learned state was already read from the backend.
    loaded: Arc<Mutex<HashSet<String>>>,
}

/// Wall-clock source; tests may shift it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Clock {
    pub offset_ms: i64,
}

impl Clock {
    pub fn now_ms(&self) -> i64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        now + self.offset_ms
    }
}

/// Outcome of asking for a slot.
#[derive(Debug, Clone, PartialEq)]
pub enum Admission {
    Go,
    Wait { until_ms: i64, reason: String },
    Refuse(CoreError),
}

impl Limiter {
    pub fn new(config: QuotaConfig, backend: Arc<dyn QuotaBackend>) -> Limiter {
        Limiter {
            config: Arc::new(config),
            backend,
            learned: Arc::default(),
            clock: Clock::default(),
            minute: MINUTE,
            loaded: Arc::default(),
        }
    }

    /// Shorten the per-minute window (tests and the demo's fast pacing).
    pub fn with_minute(mut self, minute: Duration) -> Limiter {
        self.minute = minute;
        self
    }

    pub fn with_clock(mut self, clock: Clock) -> Limiter {
        self.clock = clock;
        self
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The window each per-minute slot is held for: the minute plus the margin.
    fn paced_minute(&self) -> Duration {
        self.minute + self.minute / PACING_MARGIN_DIVISOR
    }

    /// Whether the server's figures for `bucket`'s day (from `GET /key`, this process or an
    /// earlier one) are known and recent; when not, a daily cap cannot be checked before
    /// sending.
    pub fn day_figures_fresh(&self, bucket: &Bucket) -> bool {
        let now = self.now_ms();
        let (day_start, _) = day_bounds(bucket.limits.day_reset, now);
        self.learned(&bucket.name).day_used.is_some_and(|(_, at)| at >= day_start && now - at < DAY_FIGURES_STALE_MS)
    }

    /// The bucket a model draws from, if any.
    pub fn bucket_for(&self, resolved: &ResolvedModel) -> Option<Bucket> {
        let spec = format!("{}:{}", resolved.provider_name, resolved.upstream_model);
        if let Some(limits) = self.config.limits.get(&spec).or_else(|| self.config.limits.get(&resolved.upstream_model))
        {
            return Some(Bucket { name: spec, limits: *limits });
        }
        if resolved.provider.kind == ProviderKind::Openrouter && is_openrouter_free(&resolved.upstream_model) {
            return Some(self.openrouter_free_bucket());
        }
        self.config
            .limits
            .get(&resolved.provider_name)
            .map(|limits| Bucket { name: resolved.provider_name.clone(), limits: *limits })
    }

    fn learned(&self, bucket: &str) -> Learned {
        self.load_learned(bucket);
        self.learned.lock().map(|m| m.get(bucket).copied().unwrap_or_default()).unwrap_or_default()
    }

    /// Once per bucket: what an earlier process learned from the server today (its `GET /key`
    /// figures), so a restart does not forget that other apps used the account.
    fn load_learned(&self, bucket: &str) {
        let first = self.loaded.lock().map(|mut l| l.insert(bucket.to_owned())).unwrap_or(false);
        if !first {
            return;
        }
        match self.backend.learned_day(bucket) {
            Ok(Some(day)) => self.update_learned(bucket, |l| {
                // A fresher figure learned in this process wins.
                if l.day_used.is_none_or(|(_, at)| at < day.at_ms) {
                    l.day_limit = Some(day.limit);
                    l.day_used = Some((day.used, day.at_ms));
                }
            }),
            Ok(None) => {}
            Err(e) => tracing::info!(bucket, error = %e, "could not read learned quota state"),
        }
    }

    fn update_learned(&self, bucket: &str, f: impl FnOnce(&mut Learned)) {
        if let Ok(mut m) = self.learned.lock() {
            f(m.entry(bucket.to_owned()).or_default());
        }
    }

    fn windows(&self, bucket: &Bucket, now_ms: i64) -> Windows {
        let (day_start_ms, day_end_ms) = day_bounds(bucket.limits.day_reset, now_ms);
        let learned = self.learned(&bucket.name);
        // The server's count covers requests made elsewhere (other apps on the account); the
        // local log covers what happened since it was read.
        let day_offset = match learned.day_used {
            Some((server_used, read_at)) if read_at >= day_start_ms => {
                // Two reads: requests may land between them, so never subtract below zero.
                let local_before = self
                    .backend
                    .used_since(&bucket.name, day_start_ms)
                    .unwrap_or(0)
                    .saturating_sub(self.backend.used_since(&bucket.name, read_at).unwrap_or(0));
                server_used.saturating_sub(local_before)
            }
            _ => 0,
        };
        Windows {
            minute_start_ms: now_ms - i64::try_from(self.paced_minute().as_millis()).unwrap_or(62_000),
            day_start_ms,
            day_end_ms,
            day_offset,
        }
    }

    /// Ask for a slot for one request of `model` (its spec as the user wrote it, for messages)
    /// estimated at `tokens` (counted against `tokens_per_minute` only).
    pub fn admit(&self, bucket: &Bucket, model: &str, tokens: u64) -> Admission {
        let now = self.now_ms();
        let learned = self.learned(&bucket.name);
        if let Some(until) = learned.blocked_until_ms.filter(|&u| u > now) {
            if learned.blocked_daily {
                return Admission::Refuse(daily_refusal(bucket, model, until));
            }
            return Admission::Wait {
                until_ms: until,
                reason: format!("{} rate limit: the server asked to wait", bucket.name),
            };
        }
        let windows = self.windows(bucket, now);
        match self.backend.try_reserve(&bucket.name, &bucket.limits, windows, now, tokens) {
            Ok(Reservation::Granted) => Admission::Go,
            Ok(Reservation::WaitTokens { next_free_ms }) => Admission::Wait {
                until_ms: next_free_ms,
                reason: format!(
                    "{} allows {} input tokens per minute; waiting for room for ~{tokens} more",
                    bucket.name,
                    bucket.limits.tokens_per_minute.unwrap_or(0)
                ),
            },
            Ok(Reservation::WaitMinute { next_free_ms }) => Admission::Wait {
                until_ms: next_free_ms,
                reason: format!(
                    "{} allows {} requests per minute; waiting for a slot",
                    bucket.name,
                    bucket.limits.per_minute.unwrap_or(0)
                ),
            },
            Ok(Reservation::DailyExhausted { reset_ms }) => Admission::Refuse(daily_refusal(bucket, model, reset_ms)),
            Err(e) => {
                // A quota database problem must not stop streaming: send, and say so in the log.
                tracing::warn!(bucket = %bucket.name, error = %e, "quota backend failed; sending unthrottled");
                Admission::Go
            }
        }
    }

    /// A 429 taught us something: block the bucket until its reset.
    pub fn learn_from_error(&self, bucket: &Bucket, error: &CoreError) {
        let until = error.retry_at.map(system_time_ms);
        match error.kind {
            ErrorKind::RateLimitDaily => {
                let now = self.now_ms();
                let reset = until.unwrap_or_else(|| day_bounds(bucket.limits.day_reset, now).1);
                self.update_learned(&bucket.name, |l| {
                    l.blocked_until_ms = Some(reset);
                    l.blocked_daily = true;
                });
                // The day is used up: kept in the backend as the server's figures, so the next
                // process refuses before sending (with the reset time) instead of asking again.
                if let Some(limit) = self.learned(&bucket.name).day_limit.or(bucket.limits.per_day) {
                    self.update_learned(&bucket.name, |l| {
                        l.day_limit = Some(limit);
                        l.day_used = Some((limit, now));
                    });
                    let day = LearnedDay { limit, used: limit, at_ms: now };
                    if let Err(e) = self.backend.save_learned_day(&bucket.name, day) {
                        tracing::info!(error = %e, "could not keep the daily limit a 429 reported");
                    }
                }
            }
            ErrorKind::RateLimitMinute => {
                let until = until.unwrap_or_else(|| self.now_ms() + 60_000);
                self.update_learned(&bucket.name, |l| {
                    l.blocked_until_ms = Some(until);
                    l.blocked_daily = false;
                });
            }
            _ => {}
        }
    }

    /// `GET /key` `free_model_daily_requests {used, limit}`. Kept in the backend too, so the
    /// next process starts from it (blocking I/O with the SQLite backend).
    pub fn learn_free_daily(&self, used: u32, limit: u32) {
        let now = self.now_ms();
        self.load_learned(OPENROUTER_FREE);
        self.update_learned(OPENROUTER_FREE, |l| {
            l.day_limit = Some(limit);
            l.day_used = Some((used, now));
        });
        if let Err(e) = self.backend.save_learned_day(OPENROUTER_FREE, LearnedDay { limit, used, at_ms: now }) {
            tracing::info!(error = %e, "could not keep the learned free-tier figures");
        }
    }

    /// Figures for every bucket known from config, traffic or the server.
    pub fn status(&self, buckets: &[Bucket]) -> Vec<BucketStatus> {
        let now = self.now_ms();
        let mut out = Vec::new();
        for bucket in buckets {
            let learned = self.learned(&bucket.name);
            let w = self.windows(bucket, now);
            if let Some(limit) = bucket.limits.per_day {
                let local = self.backend.used_since(&bucket.name, w.day_start_ms).unwrap_or(0);
                let used = local.saturating_add(w.day_offset);
                let used = if learned.blocked_daily && learned.blocked_until_ms.is_some_and(|u| u > now) {
                    used.max(limit)
                } else {
                    used
                };
                out.push(BucketStatus {
                    bucket: bucket.name.clone(),
                    window: "day",
                    used,
                    limit: Some(limit),
                    remaining: Some(limit.saturating_sub(used)),
                    resets_at_ms: Some(w.day_end_ms),
                    used_source: if w.day_offset > 0 { FigureSource::Server } else { FigureSource::Local },
                    limit_source: if learned.day_limit.is_some() { FigureSource::Server } else { FigureSource::Config },
                });
            }
            if let Some(limit) = bucket.limits.per_minute {
                let used = self.backend.used_since(&bucket.name, w.minute_start_ms).unwrap_or(0);
                let oldest = self.backend.oldest_since(&bucket.name, w.minute_start_ms).ok().flatten();
                let window_ms = now - w.minute_start_ms;
                out.push(BucketStatus {
                    bucket: bucket.name.clone(),
                    window: "minute",
                    used,
                    limit: Some(limit),
                    remaining: Some(limit.saturating_sub(used)),
                    resets_at_ms: oldest.map(|o| o + window_ms),
                    used_source: FigureSource::Local,
                    limit_source: FigureSource::Config,
                });
            }
            if let Some(limit) = bucket.limits.tokens_per_minute {
                let used = self.backend.tokens_since(&bucket.name, w.minute_start_ms).unwrap_or(0);
                let used = u32::try_from(used).unwrap_or(u32::MAX);
                let oldest = self.backend.oldest_since(&bucket.name, w.minute_start_ms).ok().flatten();
                out.push(BucketStatus {
                    bucket: bucket.name.clone(),
                    window: "minute (tokens)",
                    used,
                    limit: Some(limit),
                    remaining: Some(limit.saturating_sub(used)),
                    resets_at_ms: oldest.map(|o| o + (now - w.minute_start_ms)),
                    used_source: FigureSource::Local,
                    limit_source: FigureSource::Config,
                });
            }
        }
        out
    }

    /// The buckets worth showing even before any traffic.
    /// OpenRouter's shared `:free` pool: the configured per-minute rate and the daily cap the
    /// account has (learned from `GET /key`, else the config's).
    fn openrouter_free_bucket(&self) -> Bucket {
        let learned = self.learned(OPENROUTER_FREE);
        Bucket {
            name: OPENROUTER_FREE.to_owned(),
            limits: Limits {
                per_minute: Some(self.config.openrouter_free_per_minute),
                per_day: Some(learned.day_limit.unwrap_or(self.config.openrouter_free_per_day)),
                day_reset: DayReset::Utc,
                tokens_per_minute: None,
            },
        }
    }

    pub fn configured_buckets(&self) -> Vec<Bucket> {
        let mut out = vec![self.openrouter_free_bucket()];
        for (name, limits) in &self.config.limits {
            out.push(Bucket { name: name.clone(), limits: *limits });
        }
        out
    }
}

/// `:free` variants and the free router draw from the shared free pool.
pub fn is_openrouter_free(model: &str) -> bool {
    let base = model.split('@').next().unwrap_or(model);
    base.ends_with(":free") || base == "openrouter/free"
}

fn daily_refusal(bucket: &Bucket, model: &str, reset_ms: i64) -> CoreError {
    let when = format_reset(reset_ms);
    let alternative = if bucket.name == OPENROUTER_FREE {
        let paid = model.replacen(":free", "", 1);
        format!(
            " Use the paid twin {paid} now, or wait. Buying 10 credits once raises the free cap to 1000 requests/day."
        )
    } else {
        " Use another model or provider meanwhile.".to_owned()
    };
    CoreError::new(
        ErrorKind::QuotaExhausted,
        format!(
            "Daily quota of {} reached ({} requests/day); not sent. It resets {when}.{alternative}",
            bucket.name,
            bucket.limits.per_day.unwrap_or(0)
        ),
    )
    .with_retry_at(UNIX_EPOCH + Duration::from_millis(u64::try_from(reset_ms).unwrap_or(0)))
}

/// "at 00:00 UTC (in 3h 12m)".
pub fn format_reset(reset_ms: i64) -> String {
    let now = Clock::default().now_ms();
    let when = jiff::Timestamp::from_millisecond(reset_ms)
        .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|_| "later".into());
    format!("at {when} (in {})", format_duration_ms(reset_ms - now))
}

/// "3h 12m", "45s".
pub fn format_duration_ms(ms: i64) -> String {
    let s = (ms.max(0) + 999) / 1000;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

pub fn system_time_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Start and end (unix ms) of the quota day containing `now_ms`.
pub fn day_bounds(reset: DayReset, now_ms: i64) -> (i64, i64) {
    let zone = match reset {
        DayReset::Utc => jiff::tz::TimeZone::UTC,
        DayReset::Pacific => jiff::tz::TimeZone::get("America/Los_Angeles").unwrap_or(jiff::tz::TimeZone::UTC),
    };
    let Ok(ts) = jiff::Timestamp::from_millisecond(now_ms) else { return (now_ms, now_ms + 86_400_000) };
    let zoned = ts.to_zoned(zone);
    let start = zoned.start_of_day().map(|z| z.timestamp().as_millisecond()).unwrap_or(now_ms);
    let end = zoned
        .tomorrow()
        .and_then(|t| t.start_of_day())
        .map(|z| z.timestamp().as_millisecond())
        .unwrap_or(start + 86_400_000);
    (start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_bounds_utc_and_pacific() {
        // 2026-08-25T09:50:00Z
        let now = 1_787_651_400_000;
        let (s, e) = day_bounds(DayReset::Utc, now);
        assert_eq!(e, 1_787_702_400_000, "next 00:00 UTC");
        assert_eq!(e - s, 86_400_000);
        let (_, e) = day_bounds(DayReset::Pacific, now);
        // Midnight in Los Angeles (PDT, UTC-7) is 07:00 UTC.
        assert_eq!(e, 1_787_727_600_000);
    }

    #[test]
    fn free_detection() {
        assert!(is_openrouter_free("meta-llama/llama-3.2-3b-instruct:free"));
        assert!(is_openrouter_free("x:free@ttft=0"));
        assert!(!is_openrouter_free("openai/gpt-4o-mini"));
    }
}
