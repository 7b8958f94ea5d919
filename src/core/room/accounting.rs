//! The one accounting of the house: the figures of each request behind an answer (a tool loop
//! makes several), totals of requests, tokens and cost per answer, pane, model and room, costs
//! settled after the stream, and today's spend. The chatroom's sidebar, `ask`'s table, `usage`
//! and `rooms` all add up with these functions, so they agree with each other and the ledger.

use std::sync::{Arc, Mutex};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::core::error::ErrorKind;
use crate::core::protocol::{Cost, CostSource, StreamSummary, Usage};

/// Totals of some requests (an answer, a pane, a model, a room).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Totals {
    pub requests: u32,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost: Decimal,
    /// Requests whose cost is an estimate.
    pub estimated: u32,
    /// Some requests have no known cost.
    pub unknown: u32,
    /// Requests the provider answered without reporting token counts (shown as unknown, not 0).
    #[serde(default)]
    pub tokens_unknown: u32,
}

impl Totals {
    /// Tokens in and out, "1.2k", or with "+?" when some requests reported none ("?" when none did).
    pub fn tokens_text(&self) -> String {
        let known = self.prompt_tokens.saturating_add(self.completion_tokens);
        match (self.tokens_unknown, known) {
            (0, n) => short_count(n),
            (_, 0) => "?".into(),
            (_, n) => format!("{}+?", short_count(n)),
        }
    }
}

/// "812", "12.3k", "1.20M" (the core's own copy of the faces' token format, for `tokens_text`).
pub fn short_count(n: u64) -> String {
    match n {
        0..=999 => n.to_string(),
        1_000..=99_999 => format!("{:.1}k", n as f64 / 1_000.0),
        100_000..=999_999 => format!("{}k", n / 1_000),
        _ => format!("{:.2}M", n as f64 / 1_000_000.0),
    }
}

impl Totals {
    /// Count one request with its tokens and cost (`None` cost counts as unknown).
    pub fn add(&mut self, usage: Option<&Usage>, cost: Option<&Cost>) {
        self.requests += 1;
        if let Some(u) = usage {
            self.add_tokens(u);
        }
        self.add_cost(cost.unwrap_or(&Cost::UNKNOWN));
    }

    /// Completion tokens include a provider's hidden thinking tokens (Gemini): they are billed.
    /// Sums saturate: an absurd count reported upstream must never wrap a total.
    fn add_tokens(&mut self, u: &Usage) {
        self.prompt_tokens = self.prompt_tokens.saturating_add(u.prompt_tokens);
        self.completion_tokens =
            self.completion_tokens.saturating_add(u.completion_tokens.saturating_add(u.hidden_tokens));
    }

    /// Add another set of totals into this one.
    pub fn merge(&mut self, other: &Totals) {
        self.requests += other.requests;
        self.prompt_tokens = self.prompt_tokens.saturating_add(other.prompt_tokens);
        self.completion_tokens = self.completion_tokens.saturating_add(other.completion_tokens);
        self.cost = saturating_usd(self.cost, other.cost);
        self.estimated += other.estimated;
        self.unknown += other.unknown;
        self.tokens_unknown += other.tokens_unknown;
    }

    /// The totals of some requests' figures.
    pub fn of<'a>(steps: impl IntoIterator<Item = &'a StepFigures>) -> Totals {
        let mut t = Totals::default();
        for s in steps {
            s.add_to(&mut t);
        }
        t
    }

    fn add_cost(&mut self, cost: &Cost) {
        match cost.usd {
            Some(v) => {
                self.cost = saturating_usd(self.cost, v);
                self.estimated += u32::from(cost.source == CostSource::Estimated);
            }
            None => self.unknown += 1,
        }
    }

    fn remove_cost(&mut self, cost: &Cost) {
        match cost.usd {
            Some(v) => {
                self.cost -= v;
                if cost.source == CostSource::Estimated {
                    self.estimated = self.estimated.saturating_sub(1);
                }
            }
            None => self.unknown = self.unknown.saturating_sub(1),
        }
    }
}

/// A sum of money that saturates (`Decimal` addition panics on overflow): a corrupt figure
/// must never end the program or wrap a total.
pub fn saturating_usd(a: Decimal, b: Decimal) -> Decimal {
    a.checked_add(b).unwrap_or(if b.is_sign_negative() { Decimal::MIN } else { Decimal::MAX })
}

/// One request behind an answer, as it is counted in the totals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepFigures {
    pub generation_id: Option<String>,
    /// Tokens counted; `None` when the request reported none (yet).
    pub usage: Option<Usage>,
    /// Cost counted; `None` when the request failed before the provider answered, so only the
    /// request itself was counted.
    pub cost: Option<Cost>,
}

impl StepFigures {
    /// The figures of a request whose provider answered (even without figures).
    pub fn answered(summary: &StreamSummary) -> StepFigures {
        StepFigures {
            generation_id: summary.generation_id.clone(),
            usage: summary.usage.clone(),
            cost: Some(summary.cost.clone().unwrap_or(Cost::UNKNOWN)),
        }
    }

    /// The figures of a request that produced nothing to price (failed before the provider
    /// answered): it counts as a request, with no tokens and no cost, not even an unknown one.
    pub fn bare(summary: &StreamSummary) -> StepFigures {
        StepFigures { generation_id: summary.generation_id.clone(), usage: None, cost: None }
    }

    /// The figures of a request that failed with an error of `kind` (`None` when unknown):
    /// `bare` when it was refused before any model answered it (no first token, no figures:
    /// see `ErrorKind::refused_before_answering`), else `answered`, so that a stream cut off
    /// after the model began counts as a cost not known, never as nothing.
    pub fn failed(summary: &StreamSummary, kind: Option<ErrorKind>) -> StepFigures {
        let refused = kind.is_some_and(ErrorKind::refused_before_answering) && summary.timings.ttft_ms.is_none();
        if refused && !StepFigures::priced(summary) {
            StepFigures::bare(summary)
        } else {
            StepFigures::answered(summary)
        }
    }

    /// Whether a request's summary carries figures: token counts or a known cost.
    pub fn priced(summary: &StreamSummary) -> bool {
        summary.usage.is_some() || summary.cost.as_ref().is_some_and(|c| c.usd.is_some())
    }

    /// Count these figures into `totals`.
    pub fn add_to(&self, totals: &mut Totals) {
        totals.requests += 1;
        match &self.usage {
            Some(u) => totals.add_tokens(u),
            // Answered (there is a cost, known or not) but no token counts: unknown, not zero.
            None if self.cost.is_some() => totals.tokens_unknown += 1,
            None => {}
        }
        if let Some(c) = &self.cost {
            totals.add_cost(c);
        }
    }

    /// The known cost of this request (zero when unknown).
    pub fn known_cost(&self) -> Decimal {
        self.cost.as_ref().and_then(|c| c.usd).unwrap_or_default()
    }

    /// Count a request whose figures are known now.
    pub fn count(totals: &mut Totals, summary: &StreamSummary) -> StepFigures {
        let cost = summary.cost.clone().unwrap_or(Cost::UNKNOWN);
        totals.add(summary.usage.as_ref(), Some(&cost));
        StepFigures { generation_id: summary.generation_id.clone(), usage: summary.usage.clone(), cost: Some(cost) }
    }

    /// Count a request that produced nothing to price (failed before the provider answered).
    pub fn count_bare(totals: &mut Totals, summary: &StreamSummary) -> StepFigures {
        totals.requests += 1;
        StepFigures { generation_id: summary.generation_id.clone(), usage: None, cost: None }
    }

    /// Swap in a cost (and tokens, if none were known) fetched after the stream; returns how much
    /// the known cost changed (for today's spend).
    pub fn settle_figures(&mut self, cost: Cost, usage: Option<Usage>) -> Decimal {
        let before = self.known_cost();
        self.cost = Some(cost);
        if self.usage.is_none() {
            self.usage = usage;
        }
        self.known_cost() - before
    }

    /// Swap in a cost (and tokens, if none were counted) fetched after the stream.
    pub fn settle(&mut self, totals: &mut Totals, cost: Cost, usage: Option<Usage>) {
        if let Some(old) = &self.cost {
            totals.remove_cost(old);
        }
        totals.add_cost(&cost);
        self.cost = Some(cost);
        if self.usage.is_none()
            && let Some(u) = usage
        {
            totals.add_tokens(&u);
            self.usage = Some(u);
        }
    }
}

/// Today's spend (UTC day, as `roundtable usage` counts it): what the ledger held when the
/// process started plus every cost counted live since. Shared by every room of a process, so
/// removing a pane, starting a new room or resuming an old one never changes it.
#[derive(Debug, Clone, Default)]
pub struct DaySpend {
    inner: Arc<Mutex<DayInner>>,
}

#[derive(Debug, Default)]
struct DayInner {
    day_start_ms: i64,
    before: Decimal,
    live: Decimal,
}

impl DaySpend {
    /// Start from what the ledger says was spent since `day_start_ms`.
    pub fn new(day_start_ms: i64, before: Decimal) -> DaySpend {
        DaySpend { inner: Arc::new(Mutex::new(DayInner { day_start_ms, before, live: Decimal::ZERO })) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, DayInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A cost counted (or a settled cost's difference) now.
    pub fn add(&self, amount: Decimal) {
        if amount.is_zero() {
            return;
        }
        let mut d = self.lock();
        let now = crate::core::store::now_ms();
        if now >= d.day_start_ms + DAY_MS {
            // A new UTC day: yesterday's figures no longer count.
            d.day_start_ms += (now - d.day_start_ms) / DAY_MS * DAY_MS;
            d.before = Decimal::ZERO;
            d.live = Decimal::ZERO;
        }
        d.live += amount;
    }

    pub fn total(&self) -> Decimal {
        let d = self.lock();
        d.before + d.live
    }
}

const DAY_MS: i64 = 86_400_000;

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(s: &str) -> Cost {
        Cost { usd: Some(s.parse().unwrap()), source: CostSource::Reported }
    }

    fn usage(prompt: u64, completion: u64) -> Usage {
        Usage { prompt_tokens: prompt, completion_tokens: completion, ..Usage::default() }
    }

    #[test]
    fn settling_replaces_an_estimate_and_fills_missing_tokens() {
        let mut totals = Totals::default();
        let estimated = StreamSummary {
            usage: Some(usage(10, 5)),
            cost: Some(Cost { usd: Some("0.002".parse().unwrap()), source: CostSource::Estimated }),
            ..StreamSummary::default()
        };
        let mut a = StepFigures::count(&mut totals, &estimated);
        let mut b = StepFigures::count_bare(&mut totals, &StreamSummary::default());
        assert_eq!((totals.requests, totals.estimated, totals.cost.to_string()), (2, 1, "0.002".into()));

        a.settle(&mut totals, usd("0.0015"), Some(usage(99, 99)));
        assert_eq!((totals.estimated, totals.cost.to_string(), totals.prompt_tokens), (0, "0.0015".into(), 10));
        b.settle(&mut totals, usd("0.001"), Some(usage(7, 3)));
        assert_eq!(totals.cost.to_string(), "0.0025");
        assert_eq!((totals.prompt_tokens, totals.completion_tokens, totals.requests), (17, 8, 2));

        let mut c = StepFigures::count(&mut totals, &StreamSummary::default());
        assert_eq!(totals.unknown, 1);
        c.settle(&mut totals, usd("0.5"), None);
        assert_eq!((totals.unknown, totals.cost.to_string()), (0, "0.5025".into()));
    }
}

#[cfg(test)]
mod failed_requests {
    use super::*;
    use crate::core::protocol::Timings;

    fn ended(ttft_ms: Option<u64>, cost: Option<&str>) -> StreamSummary {
        StreamSummary {
            cost: cost.map(|c| Cost { usd: Some(c.parse().unwrap()), source: CostSource::Reported }),
            timings: Timings { ttft_ms, duration_ms: 900 },
            ..StreamSummary::default()
        }
    }

    #[test]
    fn only_a_request_refused_before_any_model_answered_costs_nothing() {
        let refused = |s: &StreamSummary, kind| StepFigures::failed(s, kind).cost.is_none();
        // Never left, never connected, refused by the server: nothing used.
        assert!(refused(&ended(None, None), Some(ErrorKind::MissingKey)));
        assert!(refused(&ended(None, None), Some(ErrorKind::Connect)));
        assert!(refused(&ended(None, None), Some(ErrorKind::RateLimitDaily)));
        // The same kind after the first token (a mid-stream error the upstream coded 429):
        // the model was answering, so the cost is unknown, not nothing.
        let cut = StepFigures::failed(&ended(Some(350), None), Some(ErrorKind::RateLimitUpstream));
        assert_eq!(cut.cost, Some(Cost::UNKNOWN));
        let mut totals = Totals::default();
        cut.add_to(&mut totals);
        assert_eq!((totals.requests, totals.unknown), (1, 1));
        // A stream cut off, a timeout (perhaps sent and answered upstream), an unknown kind.
        assert!(!refused(&ended(None, None), Some(ErrorKind::StreamDropped)));
        assert!(!refused(&ended(None, None), Some(ErrorKind::Timeout)));
        assert!(!refused(&ended(None, None), None));
        // A known cost is counted whatever the error.
        assert_eq!(StepFigures::failed(&ended(None, Some("0.25")), Some(ErrorKind::Server)).known_cost(), dec("0.25"));
    }

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn kinds_read_back_by_their_names() {
        assert_eq!(ErrorKind::from_name("missing_key"), Some(ErrorKind::MissingKey));
        assert_eq!(ErrorKind::from_name("rate_limit_upstream"), Some(ErrorKind::RateLimitUpstream));
        assert_eq!(ErrorKind::from_name("no such kind"), None);
    }
}

#[cfg(test)]
mod unknown_tokens {
    use super::*;

    #[test]
    fn unreported_token_counts_are_unknown_not_zero() {
        let answered_without_usage = StepFigures { generation_id: None, usage: None, cost: Some(Cost::UNKNOWN) };
        let t = Totals::of([&answered_without_usage]);
        assert_eq!(t.tokens_text(), "?");
        let with = StepFigures {
            generation_id: None,
            usage: Some(Usage { prompt_tokens: 10, completion_tokens: 5, ..Usage::default() }),
            cost: None,
        };
        assert_eq!(Totals::of([&with, &answered_without_usage]).tokens_text(), "15+?");
        assert_eq!(Totals::of([&with]).tokens_text(), "15");
        assert_eq!(
            Totals::of([&StepFigures::bare(&StreamSummary::default())]).tokens_text(),
            "0",
            "a bare request reported nothing to count"
        );
    }
}
