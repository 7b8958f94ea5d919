//! Free-tier request limits per key, as OpenRouter enforces them for `:free` ids: a fixed
//! per-minute window (resets on the wall-clock minute, like the observed `X-RateLimit-Reset`
//! values) and a daily cap resetting at 00:00 UTC.

use std::collections::HashMap;

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;

#[derive(Clone, Copy, Debug, Default)]
struct KeyCount {
    day: i64,
    day_used: u32,
    minute: i64,
    minute_used: u32,
}

/// Outcome of counting one `:free` request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    PerMinute { limit: u32, reset_ms: i64 },
    Daily { limit: u32, reset_ms: i64 },
}

#[derive(Debug)]
pub struct FreeLimits {
    keys: HashMap<String, KeyCount>,
    /// Length of the "minute" window: 60 s, shortened only by tests of pacing.
    window_ms: i64,
}

impl Default for FreeLimits {
    fn default() -> Self {
        FreeLimits { keys: HashMap::new(), window_ms: MINUTE_MS }
    }
}

pub fn next_minute_ms(now_ms: i64) -> i64 {
    next_window_ms(now_ms, MINUTE_MS)
}

/// End of the fixed window of `window_ms` containing `now_ms` (a minute unless a test shortens it).
pub fn next_window_ms(now_ms: i64, window_ms: i64) -> i64 {
    let w = window_ms.max(1);
    (now_ms.div_euclid(w) + 1) * w
}

pub fn next_midnight_ms(now_ms: i64) -> i64 {
    (now_ms.div_euclid(DAY_MS) + 1) * DAY_MS
}

impl FreeLimits {
    fn entry(&mut self, key: &str, now_ms: i64) -> &mut KeyCount {
        let window = self.window_ms;
        let c = self.keys.entry(key.to_string()).or_default();
        let (day, minute) = (now_ms.div_euclid(DAY_MS), now_ms.div_euclid(window.max(1)));
        if c.day != day {
            c.day = day;
            c.day_used = 0;
        }
        if c.minute != minute {
            c.minute = minute;
            c.minute_used = 0;
        }
        c
    }

    /// Counts one request unless a limit is already reached. Requests refused here are not
    /// counted, so a client that keeps retrying does not push its own reset further away.
    pub fn check_and_count(&mut self, key: &str, now_ms: i64, per_minute: u32, daily: u32) -> Verdict {
        let c = self.entry(key, now_ms);
        if c.day_used >= daily {
            return Verdict::Daily { limit: daily, reset_ms: next_midnight_ms(now_ms) };
        }
        if c.minute_used >= per_minute {
            return Verdict::PerMinute { limit: per_minute, reset_ms: next_window_ms(now_ms, self.window_ms) };
        }
        c.day_used += 1;
        c.minute_used += 1;
        Verdict::Allowed
    }

    pub fn with_window(window: std::time::Duration) -> FreeLimits {
        FreeLimits { keys: HashMap::new(), window_ms: i64::try_from(window.as_millis()).unwrap_or(MINUTE_MS).max(1) }
    }

    pub fn set_used(&mut self, key: &str, used: u32, now_ms: i64) {
        self.entry(key, now_ms).day_used = used;
    }

    pub fn used_today(&mut self, key: &str, now_ms: i64) -> u32 {
        self.entry(key, now_ms).day_used
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minute_then_day() {
        let mut l = FreeLimits::default();
        let t = 1_787_651_400_000 + 1_000;
        for _ in 0..20 {
            assert_eq!(l.check_and_count("k", t, 20, 50), Verdict::Allowed);
        }
        assert_eq!(l.check_and_count("k", t, 20, 50), Verdict::PerMinute { limit: 20, reset_ms: 1_787_651_460_000 });
        // Other keys are independent; the next minute opens the window again.
        assert_eq!(l.check_and_count("other", t, 20, 50), Verdict::Allowed);
        assert_eq!(l.check_and_count("k", t + 60_000, 20, 50), Verdict::Allowed);
        l.set_used("k", 50, t + 60_000);
        assert_eq!(
            l.check_and_count("k", t + 60_000, 20, 50),
            Verdict::Daily { limit: 50, reset_ms: 1_787_702_400_000 }
        );
        assert_eq!(l.used_today("k", t + DAY_MS), 0);
    }
}
