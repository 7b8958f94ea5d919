//! Rate-limit classification: OpenRouter free per-minute and per-day caps, upstream pools,
//! capacity errors, Gemini quota failures, and the reset time of each.

use jiff::tz::TimeZone;
use serde_json::Value;

use super::body::{
    after_secs, fmt_in, fmt_utc_datetime, fmt_utc_time, next_midnight, parse_reset, parse_retry_after, str_of,
};
use super::{Decision, Facts};
use crate::core::error::ErrorKind;
use crate::core::provider::ProviderKind;

impl Facts<'_> {
    pub(super) fn rate_limit(&self, excerpt: Option<&str>) -> Decision {
        if let Some(d) = self.gemini_quota() {
            return d;
        }
        let avail = self.availability.and_then(|a| str_of(a.get("code")));
        if self.limit_source == Some("openrouter_free_tier_daily") || self.has("free-models-per-day") {
            return self.free_daily();
        }
        if self.has("free-models-per-min") {
            let limit = self.header("x-ratelimit-limit").and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(20);
            let at = self
                .header("x-ratelimit-reset")
                .and_then(|v| parse_reset(&v, self.now))
                .or_else(|| self.header("retry-after").and_then(|v| parse_retry_after(&v, self.now)))
                .or_else(|| after_secs(self.now, 60.0));
            let when = at.map(|t| format!("; retrying at {}", fmt_utc_time(t))).unwrap_or_default();
            return Decision {
                kind: ErrorKind::RateLimitMinute,
                message: format!(
                    "The OpenRouter free-model limit of {limit} requests/minute (shared by all :free models) was reached{when}."
                ),
                retry_at: at,
            };
        }
        if avail == Some("capacity_exhausted") {
            let fallbacks: Vec<&str> = self
                .availability
                .and_then(|a| a.get("fallback_models"))
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let at = self.retry_hint();
            let when =
                at.map(|t| format!("retry after {}", fmt_utc_time(t))).unwrap_or_else(|| "retry shortly".to_owned());
            let alt = if fallbacks.is_empty() {
                ", or pick another model".to_owned()
            } else {
                format!(", or use {}", fallbacks.join(" / "))
            };
            return Decision {
                kind: ErrorKind::RateLimitUpstream,
                message: format!("All providers for {} are at capacity: {when}{alt}.", self.model_ref()),
                retry_at: at,
            };
        }
        let upstream = self.has("provider returned error")
            || self.meta("raw").is_some()
            || self.limit_source.is_some_and(|s| s.starts_with("upstream"))
            || self.kind == ProviderKind::Openrouter;
        if upstream {
            let at = self.retry_hint();
            let who = str_of(self.meta("provider_name"))
                .map(|p| format!("The upstream provider {p}"))
                .unwrap_or_else(|| "The upstream provider".to_owned());
            let when =
                at.map(|t| format!("retry after {}", fmt_utc_time(t))).unwrap_or_else(|| "retry shortly".to_owned());
            return Decision {
                kind: ErrorKind::RateLimitUpstream,
                message: format!(
                    "{who} is rate-limiting {}{}: {when}, or pick another model.",
                    self.model_ref(),
                    self.detail(excerpt)
                ),
                retry_at: at,
            };
        }
        let at = self
            .header("x-ratelimit-reset")
            .and_then(|v| parse_reset(&v, self.now))
            .or_else(|| self.gemini_retry_delay())
            .or_else(|| self.retry_hint());
        let when = at
            .map(|t| format!("retry after {}", fmt_utc_time(t)))
            .unwrap_or_else(|| "wait a minute and retry".to_owned());
        Decision {
            kind: ErrorKind::RateLimitMinute,
            // The label is a subject ("OpenRouter", "The server at 127.0.0.1:4000"), as in the
            // other messages: "The server at … rate limit reached" did not read.
            message: format!("{} is rate-limiting requests{}: {when}.", self.label, self.detail(excerpt)),
            retry_at: at,
        }
    }

    pub(super) fn free_daily(&self) -> Decision {
        let at = self
            .header("x-ratelimit-reset")
            .and_then(|v| parse_reset(&v, self.now))
            .or_else(|| next_midnight(TimeZone::UTC, self.now));
        let high = self.has("high-balance");
        let limit = self.header("x-ratelimit-limit").and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(if high {
            1000
        } else {
            50
        });
        let resets = at
            .map(|t| format!("; it resets at {}{}", fmt_utc_datetime(t), fmt_in(self.now, t)))
            .unwrap_or_else(|| "; it resets at 00:00 UTC".to_owned());
        let twin = match self.model.strip_suffix(":free") {
            Some(paid) => format!(" Use the paid twin '{paid}' meanwhile"),
            None => " Use a paid model (the same id without :free) meanwhile".to_owned(),
        };
        let buy = if high { "." } else { ", or buy 10 credits once to raise the cap to 1000 free requests/day." };
        Decision {
            kind: ErrorKind::RateLimitDaily,
            message: format!(
                "The OpenRouter daily free-model limit of {limit} requests (shared by all :free models) is used up{resets}.{twin}{buy}"
            ),
            retry_at: at,
        }
    }

    /// Gemini quota failures: `quotaId` tells per-day (until midnight Pacific) from per-minute.
    pub(super) fn gemini_quota(&self) -> Option<Decision> {
        let violation =
            self.err?.get("details")?.as_array()?.iter().find_map(|d| d.get("violations")?.as_array()?.first())?;
        let quota_id = str_of(violation.get("quotaId"))?;
        let value = str_of(violation.get("quotaValue")).map(|v| format!(" of {v}")).unwrap_or_default();
        let model = str_of(violation.get("quotaDimensions").and_then(|d| d.get("model")))
            .map(|m| format!("'{m}'"))
            .unwrap_or_else(|| self.model_ref());
        if quota_id.contains("PerDay") {
            let at = TimeZone::get("America/Los_Angeles").ok().and_then(|tz| next_midnight(tz, self.now));
            let resets = at
                .map(|t| format!(" at midnight Pacific time, {}{}", fmt_utc_datetime(t), fmt_in(self.now, t)))
                .unwrap_or_else(|| " at midnight Pacific time".to_owned());
            return Some(Decision {
                kind: ErrorKind::RateLimitDaily,
                message: format!(
                    "The Gemini free-tier daily quota{value} requests for {model} is used up; it resets{resets}. Use another Gemini model (each has its own quota) or enable billing on the project."
                ),
                retry_at: at,
            });
        }
        let at = self.gemini_retry_delay().or_else(|| self.retry_hint());
        let what = if quota_id.contains("Token") { "input-tokens-per-minute" } else { "requests-per-minute" };
        let when =
            at.map(|t| format!("retrying at {}", fmt_utc_time(t))).unwrap_or_else(|| "retry in a minute".to_owned());
        Some(Decision {
            kind: ErrorKind::RateLimitMinute,
            message: format!("The Gemini free-tier {what} limit{value} for {model} was reached; {when}."),
            retry_at: at,
        })
    }
}
