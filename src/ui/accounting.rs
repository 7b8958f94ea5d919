//! What a pane has spent: running totals of requests, tokens and cost, the figures of each
//! request behind an answer (a tool loop makes several), and costs settled after the stream,
//! so the sidebar always agrees with the ledger.

use rust_decimal::Decimal;

use crate::core::protocol::{Cost, CostSource, StreamSummary, Usage};

/// Running totals of a pane (sidebar rows).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Totals {
    pub requests: u32,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost: Decimal,
    /// Requests whose cost is an estimate.
    pub estimated: u32,
    /// Some requests have no known cost.
    pub unknown: u32,
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

    fn add_tokens(&mut self, u: &Usage) {
        self.prompt_tokens += u.prompt_tokens;
        self.completion_tokens += u.completion_tokens + u.hidden_tokens;
    }

    fn add_cost(&mut self, cost: &Cost) {
        match cost.usd {
            Some(v) => {
                self.cost += v;
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

/// One request behind an answer, as it is counted in the totals.
#[derive(Debug, Clone, PartialEq)]
pub struct StepFigures {
    pub generation_id: Option<String>,
    /// Tokens counted; `None` when the request reported none (yet).
    pub usage: Option<Usage>,
    /// Cost counted; `None` when the request failed before the provider answered, so only the
    /// request itself was counted.
    pub cost: Option<Cost>,
}

impl StepFigures {
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
