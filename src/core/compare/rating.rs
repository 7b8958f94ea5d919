//! Bradley–Terry ratings over votes: the maximum-likelihood strengths of the models from their
//! pairwise outcomes (ties count as half a win to each side), on an Elo-like scale, with 95%
//! intervals from a seeded bootstrap over the votes.
//!
//! A model that never lost has no finite maximum-likelihood strength (its likelihood keeps
//! growing as its strength does). So every model also plays `prior_games` virtual drawn games
//! against a fixed anchor of average strength: a weak prior that keeps every rating finite and
//! pulls ratings backed by few votes towards the average, and vanishes in weight as real votes
//! accumulate. With `prior_games = 0` (the plain maximum likelihood, used by the tests with
//! known closed-form answers) strengths are clamped to `±MAX_LOG10_STRENGTH` as a guard instead.

use std::collections::BTreeMap;

use serde::Serialize;

use super::vote::{Vote, VoteOutcome};

/// Below this many votes (that compare at least two different models) the leaderboard says the
/// ranking is not yet meaningful instead of printing ratings with false precision.
pub const MEANINGFUL_VOTES: usize = 5;

/// The rating of an average model.
pub const BASE_RATING: f64 = 1000.0;

/// Rating points per factor of ten in strength (the Elo convention: 400 points = 10:1 odds).
pub const POINTS_PER_DECADE: f64 = 400.0;

/// Guard on strengths when no prior keeps them finite: 10^±6, i.e. ±2400 rating points.
const MAX_LOG10_STRENGTH: f64 = 6.0;

/// The fit stops when no strength moves by more than this (relative) in an iteration.
const TOLERANCE: f64 = 1e-10;

/// Cap on iterations of the fit; the prior makes it converge in far fewer.
const MAX_ITERATIONS: usize = 10_000;

/// How the ratings are computed.
#[derive(Debug, Clone, PartialEq)]
pub struct FitOptions {
    /// Virtual drawn games of every model against an average anchor (see the module doc).
    pub prior_games: f64,
    /// Bootstrap resamples of the votes for the 95% intervals; 0 gives no interval.
    pub bootstrap_rounds: usize,
    /// Seed of the resampling, so the same votes always give the same intervals.
    pub seed: u64,
}

impl Default for FitOptions {
    fn default() -> Self {
        Self { prior_games: 1.0, bootstrap_rounds: 200, seed: 0x5EED_0FB7 }
    }
}

/// One model's row of the leaderboard. Counts are per vote: `wins` votes chose this model,
/// `losses` votes chose another model, `ties` were ties, `all_bad` said every answer was bad.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelStanding {
    pub model: String,
    pub rating: f64,
    /// The 95% bootstrap interval of the rating.
    pub low: f64,
    pub high: f64,
    pub votes: u64,
    pub wins: u64,
    pub losses: u64,
    pub ties: u64,
    pub all_bad: u64,
}

/// The leaderboard: rows by rating, best first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Standings {
    pub rows: Vec<ModelStanding>,
    /// Votes that compared at least two different models (the ones the fit uses).
    pub votes: usize,
    /// Whether there are enough votes (`MEANINGFUL_VOTES`) for the ranking to mean anything.
    pub meaningful: bool,
}

/// Pairwise outcomes of one vote, as (first, second, score of first): 1 a win, ½ a tie.
type IndexedPairs = Vec<(usize, usize, f64)>;

/// The leaderboard of `votes`.
pub fn standings(votes: &[Vote], opts: &FitOptions) -> Standings {
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    for v in votes {
        for m in &v.models {
            index.entry(m.as_str()).or_insert(0);
        }
    }
    let names: Vec<&str> = index.keys().copied().collect();
    for (i, name) in names.iter().enumerate() {
        index.insert(name, i);
    }
    let n = names.len();
    let per_vote: Vec<IndexedPairs> = votes
        .iter()
        .map(|v| {
            v.pairs()
                .iter()
                .map(|p| (index[p.first.as_str()], index[p.second.as_str()], if p.tie { 0.5 } else { 1.0 }))
                .collect()
        })
        .filter(|pairs: &IndexedPairs| !pairs.is_empty())
        .collect();

    let ratings = to_ratings(&fit(n, per_vote.iter(), opts.prior_games));
    let mut samples: Vec<Vec<f64>> = vec![Vec::with_capacity(opts.bootstrap_rounds); n];
    if !per_vote.is_empty() {
        let mut rng = SplitMix64(opts.seed);
        for _ in 0..opts.bootstrap_rounds {
            let resample = (0..per_vote.len()).map(|_| &per_vote[rng.below(per_vote.len())]);
            for (i, r) in to_ratings(&fit(n, resample, opts.prior_games)).into_iter().enumerate() {
                samples[i].push(r);
            }
        }
    }

    let mut rows: Vec<ModelStanding> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let s = &mut samples[i];
            s.sort_by(f64::total_cmp);
            let (low, high) =
                if s.is_empty() { (ratings[i], ratings[i]) } else { (percentile(s, 0.025), percentile(s, 0.975)) };
            ModelStanding {
                model: (*name).to_owned(),
                rating: ratings[i],
                low,
                high,
                votes: 0,
                wins: 0,
                losses: 0,
                ties: 0,
                all_bad: 0,
            }
        })
        .collect();
    count_votes(votes, &index, &mut rows);
    rows.sort_by(|a, b| b.rating.total_cmp(&a.rating).then_with(|| a.model.cmp(&b.model)));
    Standings { rows, votes: per_vote.len(), meaningful: per_vote.len() >= MEANINGFUL_VOTES }
}

/// Per-vote counts; each model counts once per vote even when it had two panes.
fn count_votes(votes: &[Vote], index: &BTreeMap<&str, usize>, rows: &mut [ModelStanding]) {
    for v in votes {
        let winner = v.winner();
        if matches!(v.outcome, VoteOutcome::Best(_)) && winner.is_none() {
            continue; // a malformed vote (index out of range) says nothing
        }
        let mut seen = vec![false; rows.len()];
        for m in &v.models {
            let i = index[m.as_str()];
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            let row = &mut rows[i];
            row.votes += 1;
            match v.outcome {
                VoteOutcome::Best(_) if winner == Some(m.as_str()) => row.wins += 1,
                VoteOutcome::Best(_) => row.losses += 1,
                VoteOutcome::Tie => row.ties += 1,
                VoteOutcome::AllBad => row.all_bad += 1,
            }
        }
    }
}

/// Bradley–Terry strengths of `n` models by the minorise–maximise iteration (Hunter 2004):
/// `p_i ← W_i / Σ_j n_ij / (p_i + p_j)`, with the prior's virtual games against an anchor of
/// strength 1 added to both sides. Without a prior the scale is free, so the geometric mean is
/// held at 1. Strengths come back as natural logs.
fn fit<'a>(n: usize, votes: impl Iterator<Item = &'a IndexedPairs>, prior_games: f64) -> Vec<f64> {
    let mut score = vec![0.0; n * n]; // score[i*n+j]: what i scored against j
    let mut games = vec![0.0; n * n]; // symmetric
    for pairs in votes {
        for &(a, b, s) in pairs {
            score[a * n + b] += s;
            score[b * n + a] += 1.0 - s;
            games[a * n + b] += 1.0;
            games[b * n + a] += 1.0;
        }
    }
    let wins: Vec<f64> = (0..n).map(|i| score[i * n..(i + 1) * n].iter().sum::<f64>() + prior_games / 2.0).collect();
    let bound = MAX_LOG10_STRENGTH * std::f64::consts::LN_10;
    let mut strength = vec![1.0_f64; n];
    let mut next = vec![1.0_f64; n];
    for _ in 0..MAX_ITERATIONS {
        for i in 0..n {
            let mut denom = prior_games / (strength[i] + 1.0);
            for j in 0..n {
                let g = games[i * n + j];
                if g > 0.0 {
                    denom += g / (strength[i] + strength[j]);
                }
            }
            next[i] = if denom > 0.0 { wins[i] / denom } else { strength[i] };
        }
        if prior_games <= 0.0 {
            let mean_log = next.iter().map(|p| p.max(f64::MIN_POSITIVE).ln()).sum::<f64>() / n.max(1) as f64;
            for p in &mut next {
                *p /= mean_log.exp();
            }
        }
        let mut moved: f64 = 0.0;
        for (p, q) in strength.iter_mut().zip(&next) {
            let q = q.max(f64::MIN_POSITIVE).ln().clamp(-bound, bound).exp();
            moved = moved.max(((q - *p) / *p).abs());
            *p = q;
        }
        if moved < TOLERANCE {
            break;
        }
    }
    strength.iter().map(|p| p.ln()).collect()
}

/// Natural-log strengths to ratings, centred so the models average `BASE_RATING`.
fn to_ratings(log_strengths: &[f64]) -> Vec<f64> {
    let n = log_strengths.len().max(1) as f64;
    let mean = log_strengths.iter().sum::<f64>() / n;
    log_strengths.iter().map(|l| BASE_RATING + POINTS_PER_DECADE * (l - mean) / std::f64::consts::LN_10).collect()
}

/// Linear interpolation between the closest ranks of sorted, non-empty `sorted`.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// SplitMix64 (Steele, Lea and Flood 2014): a tiny, well-mixed generator; the bootstrap needs
/// reproducible indices, not cryptographic randomness.
pub(super) struct SplitMix64(pub(super) u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform index below `n` (> 0), by Lemire's multiply-shift (bias below 2^-32 here).
    pub(super) fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next()) * n as u128) >> 64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vote(models: &[&str], outcome: VoteOutcome) -> Vote {
        Vote {
            room: None,
            turn: None,
            prompt: String::new(),
            models: models.iter().map(|m| (*m).to_owned()).collect(),
            outcome,
            blind: false,
            tag: None,
            at_ms: 0,
        }
    }

    /// `times` votes between `a` and `b` that `a` wins.
    fn wins(a: &str, b: &str, times: usize) -> Vec<Vote> {
        (0..times).map(|_| vote(&[a, b], VoteOutcome::Best(0))).collect()
    }

    fn plain_ml() -> FitOptions {
        FitOptions { prior_games: 0.0, bootstrap_rounds: 0, ..FitOptions::default() }
    }

    fn rating(s: &Standings, model: &str) -> f64 {
        s.rows.iter().find(|r| r.model == model).map(|r| r.rating).unwrap()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    #[test]
    fn two_models_three_to_one_gives_odds_of_three() {
        let mut votes = wins("a", "b", 3);
        votes.extend(wins("b", "a", 1));
        let s = standings(&votes, &plain_ml());
        let gap = rating(&s, "a") - rating(&s, "b");
        assert!(close(gap, 400.0 * 3f64.log10()), "gap {gap}");
        assert!(close(rating(&s, "a") + rating(&s, "b"), 2.0 * BASE_RATING));
        assert_eq!(s.rows[0].model, "a");
    }

    #[test]
    fn three_models_with_consistent_odds_recover_strengths_four_two_one() {
        // Strengths 4:2:1 satisfy every likelihood equation of these counts exactly.
        let mut votes = wins("a", "b", 2);
        votes.extend(wins("b", "a", 1));
        votes.extend(wins("b", "c", 2));
        votes.extend(wins("c", "b", 1));
        votes.extend(wins("a", "c", 4));
        votes.extend(wins("c", "a", 1));
        let s = standings(&votes, &plain_ml());
        let step = 400.0 * 2f64.log10();
        assert!(close(rating(&s, "a") - rating(&s, "b"), step), "{s:?}");
        assert!(close(rating(&s, "b") - rating(&s, "c"), step), "{s:?}");
        assert_eq!(s.rows.iter().map(|r| r.model.as_str()).collect::<Vec<_>>(), ["a", "b", "c"]);
    }

    #[test]
    fn ties_count_as_half_a_win() {
        // One win and one tie: 1.5 to 0.5, odds of three, as with three wins to one.
        let mut votes = wins("a", "b", 1);
        votes.push(vote(&["a", "b"], VoteOutcome::Tie));
        let s = standings(&votes, &plain_ml());
        assert!(close(rating(&s, "a") - rating(&s, "b"), 400.0 * 3f64.log10()), "{s:?}");
        let only_ties: Vec<Vote> = (0..4).map(|_| vote(&["a", "b", "c"], VoteOutcome::Tie)).collect();
        let s = standings(&only_ties, &FitOptions::default());
        for r in &s.rows {
            assert!(close(r.rating, BASE_RATING), "{r:?}");
            assert_eq!((r.votes, r.ties, r.wins, r.losses), (4, 4, 0, 0));
        }
    }

    #[test]
    fn a_model_with_no_losses_stays_finite_and_ahead() {
        let five = standings(&wins("a", "b", 5), &FitOptions::default());
        let fifty = standings(&wins("a", "b", 50), &FitOptions::default());
        let gap5 = rating(&five, "a") - rating(&five, "b");
        let gap50 = rating(&fifty, "a") - rating(&fifty, "b");
        assert!(gap5.is_finite() && gap5 > 0.0, "{five:?}");
        assert!(gap50 > gap5, "more wins, more confidence: {gap5} then {gap50}");
        assert!(gap50 < 1500.0, "the prior keeps it from running off: {gap50}");
        for r in five.rows.iter().chain(&fifty.rows) {
            assert!(r.low.is_finite() && r.high.is_finite() && r.low <= r.rating + 1e-9 && r.rating <= r.high + 1e-9);
        }
        // Even the plain maximum likelihood, which diverges here, comes back finite (guarded).
        let guarded = standings(&wins("a", "b", 5), &plain_ml());
        assert!(guarded.rows.iter().all(|r| r.rating.is_finite()), "{guarded:?}");
        assert!(rating(&guarded, "a") > rating(&guarded, "b"));
    }

    #[test]
    fn counts_follow_the_votes() {
        let votes = vec![
            vote(&["a", "b", "c"], VoteOutcome::Best(0)),
            vote(&["a", "b", "c"], VoteOutcome::Best(2)),
            vote(&["a", "b", "c"], VoteOutcome::Tie),
            vote(&["a", "b", "c"], VoteOutcome::AllBad),
            vote(&["a", "b"], VoteOutcome::Best(1)),
        ];
        let s = standings(&votes, &FitOptions::default());
        let row = |m: &str| s.rows.iter().find(|r| r.model == m).unwrap().clone();
        let a = row("a");
        assert_eq!((a.votes, a.wins, a.losses, a.ties, a.all_bad), (5, 1, 2, 1, 1));
        let c = row("c");
        assert_eq!((c.votes, c.wins, c.losses, c.ties, c.all_bad), (4, 1, 1, 1, 1));
        assert_eq!(s.votes, 5);
        assert!(s.meaningful);
    }

    #[test]
    fn too_few_votes_are_not_meaningful() {
        let s = standings(&wins("a", "b", MEANINGFUL_VOTES - 1), &FitOptions::default());
        assert!(!s.meaningful);
        assert!(standings(&wins("a", "b", MEANINGFUL_VOTES), &FitOptions::default()).meaningful);
        let empty = standings(&[], &FitOptions::default());
        assert!(empty.rows.is_empty() && !empty.meaningful);
    }

    #[test]
    fn bootstrap_is_reproducible_and_depends_on_the_seed() {
        let mut votes = wins("a", "b", 6);
        votes.extend(wins("b", "c", 4));
        votes.extend(wins("c", "a", 2));
        votes.push(vote(&["a", "c"], VoteOutcome::Tie));
        let opts = FitOptions::default();
        let first = standings(&votes, &opts);
        assert_eq!(first, standings(&votes, &opts));
        let other = standings(&votes, &FitOptions { seed: 7, ..opts });
        assert_ne!(
            first.rows.iter().map(|r| (r.low, r.high)).collect::<Vec<_>>(),
            other.rows.iter().map(|r| (r.low, r.high)).collect::<Vec<_>>()
        );
        for r in &first.rows {
            assert!(r.low < r.rating && r.rating < r.high, "a real interval around the fit: {r:?}");
        }
    }

    #[test]
    fn splitmix_matches_the_reference_sequence() {
        // First outputs for seed 0 from the reference implementation.
        let mut g = SplitMix64(0);
        assert_eq!(g.next(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(g.next(), 0x6E78_9E6A_A1B9_65F4);
    }
}
