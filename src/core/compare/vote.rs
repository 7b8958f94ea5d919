//! A vote on one turn's answers (best pane, tie, or "all bad") and the pairwise outcomes it
//! stands for, which is what the Bradley–Terry fit consumes.

use serde::{Deserialize, Serialize};

use crate::core::protocol::TurnId;
use crate::core::store::RoomId;

/// What the voter said about the answers of a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "pane")]
pub enum VoteOutcome {
    /// The answer of this pane (an index into `Vote::models`) was the best.
    Best(usize),
    /// The answers were equally good.
    Tie,
    /// Every answer was bad.
    AllBad,
}

impl VoteOutcome {
    /// The stored text of the outcome's kind (`best`, `tie`, `bad`).
    pub fn kind_str(self) -> &'static str {
        match self {
            Self::Best(_) => "best",
            Self::Tie => "tie",
            Self::AllBad => "bad",
        }
    }
}

/// One vote, as recorded: the room and turn it ends (absent for votes from elsewhere), the prompt,
/// the models of the panes in pane order, the outcome, whether the round was blind, a tag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vote {
    pub room: Option<RoomId>,
    pub turn: Option<TurnId>,
    pub prompt: String,
    /// Model of each pane, in pane order; `VoteOutcome::Best` indexes this.
    pub models: Vec<String>,
    pub outcome: VoteOutcome,
    pub blind: bool,
    pub tag: Option<String>,
    pub at_ms: i64,
}

/// One pairwise result: `first` beat `second`, or they tied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairOutcome {
    pub first: String,
    pub second: String,
    pub tie: bool,
}

impl Vote {
    /// The pairs this vote stands for.
    ///
    /// * Best = X among N models: X beats each of the N−1 others (the others are not ordered
    ///   among themselves, so no pair between them).
    /// * Tie: every pair ties.
    /// * All bad: every pair ties as well. "All bad" says nothing about which is better, like a
    ///   tie, and LMArena's ratings count "both bad" as a tie too; it pulls the models' ratings
    ///   together instead of leaving the vote unused. The leaderboard still counts these votes
    ///   apart (`ModelStanding::all_bad`).
    ///
    /// Two panes of the same model (different settings) make no pair with each other: a model
    /// cannot beat itself in a rating of models. A `Best` index out of range gives no pairs.
    pub fn pairs(&self) -> Vec<PairOutcome> {
        let mut out = Vec::new();
        match self.outcome {
            VoteOutcome::Best(best) => {
                let Some(winner) = self.models.get(best) else { return out };
                for (i, other) in self.models.iter().enumerate() {
                    if i != best && other != winner {
                        out.push(PairOutcome { first: winner.clone(), second: other.clone(), tie: false });
                    }
                }
            }
            VoteOutcome::Tie | VoteOutcome::AllBad => {
                for (i, a) in self.models.iter().enumerate() {
                    for b in &self.models[i + 1..] {
                        if a != b {
                            out.push(PairOutcome { first: a.clone(), second: b.clone(), tie: true });
                        }
                    }
                }
            }
        }
        out
    }

    /// The model the vote chose, if it chose one.
    pub fn winner(&self) -> Option<&str> {
        match self.outcome {
            VoteOutcome::Best(i) => self.models.get(i).map(String::as_str),
            _ => None,
        }
    }
}

/// What `/vote ARG` names: a blind label's letter (`A`, `b`, `AA`: a position in the blind
/// order), a pane number (`1`-based, as the room shows them), a tie or "all bad".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoteChoice {
    /// Position in the blind order (0 = "Model A").
    Label(usize),
    /// Pane index, 0-based (the user typed index + 1).
    Pane(usize),
    Tie,
    AllBad,
}

/// Parse the argument of `/vote`: `A`…`Z`, `AA`… (letters, any case), `1`, `2`… , `tie`, `bad`
/// (also `all-bad`, `allbad`, `none`). The message of an error is for the user.
pub fn parse_vote_arg(arg: &str) -> Result<VoteChoice, String> {
    let a = arg.trim();
    let lower = a.to_ascii_lowercase();
    match lower.as_str() {
        "tie" | "=" | "draw" => return Ok(VoteChoice::Tie),
        "bad" | "all-bad" | "allbad" | "all bad" | "none" => return Ok(VoteChoice::AllBad),
        _ => {}
    }
    let usage = || format!("Cannot vote for {a:?}: use a pane letter (A, B, …), a pane number, tie or bad.");
    if !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit()) {
        let n: usize = a.parse().map_err(|_| usage())?;
        return n.checked_sub(1).map(VoteChoice::Pane).ok_or_else(usage);
    }
    let letters = lower.strip_prefix("model ").unwrap_or(&lower).trim();
    if !letters.is_empty() && letters.len() <= 3 && letters.bytes().all(|b| b.is_ascii_lowercase()) {
        // Bijective base 26: A = 1 … Z = 26, AA = 27; position = value - 1.
        let value = letters.bytes().fold(0usize, |acc, b| acc * 26 + usize::from(b - b'a' + 1));
        return Ok(VoteChoice::Label(value - 1));
    }
    Err(usage())
}

/// The blind order of a room's `panes`: `order[position] = pane index`, so "Model A" is pane
/// `order[0]`. A Fisher–Yates shuffle seeded per room (store the seed with the room so the
/// labels survive a reopen); every pane appears once.
pub fn blind_order(panes: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..panes).collect();
    let mut rng = super::rating::SplitMix64(seed);
    for i in (1..panes).rev() {
        order.swap(i, rng.below(i + 1));
    }
    order
}

/// The blind label of the pane at `index`: "Model A", "Model B", …, "Model Z", then "Model AA".
pub fn blind_label(index: usize) -> String {
    format!("Model {}", blind_letters(index))
}

/// Spreadsheet-style letters: 0 → A, 25 → Z, 26 → AA.
pub fn blind_letters(index: usize) -> String {
    let mut n = index;
    let mut letters = Vec::new();
    loop {
        letters.push(char::from(b'A' + (n % 26) as u8));
        if n < 26 {
            break;
        }
        n = n / 26 - 1;
    }
    letters.iter().rev().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vote(models: &[&str], outcome: VoteOutcome) -> Vote {
        Vote {
            room: None,
            turn: None,
            prompt: "p".into(),
            models: models.iter().map(|m| (*m).to_owned()).collect(),
            outcome,
            blind: true,
            tag: None,
            at_ms: 0,
        }
    }

    fn pair(a: &str, b: &str, tie: bool) -> PairOutcome {
        PairOutcome { first: a.into(), second: b.into(), tie }
    }

    #[test]
    fn best_beats_every_other_model_and_nothing_else() {
        let v = vote(&["a", "b", "c"], VoteOutcome::Best(1));
        assert_eq!(v.pairs(), vec![pair("b", "a", false), pair("b", "c", false)]);
        assert_eq!(v.winner(), Some("b"));
    }

    #[test]
    fn tie_and_all_bad_tie_every_pair() {
        let expected = vec![pair("a", "b", true), pair("a", "c", true), pair("b", "c", true)];
        assert_eq!(vote(&["a", "b", "c"], VoteOutcome::Tie).pairs(), expected);
        assert_eq!(vote(&["a", "b", "c"], VoteOutcome::AllBad).pairs(), expected);
    }

    #[test]
    fn same_model_twice_and_bad_index_make_no_pairs() {
        assert_eq!(vote(&["a", "a", "b"], VoteOutcome::Best(0)).pairs(), vec![pair("a", "b", false)]);
        assert_eq!(vote(&["a", "a"], VoteOutcome::Tie).pairs(), vec![]);
        assert_eq!(vote(&["a", "b"], VoteOutcome::Best(7)).pairs(), vec![]);
    }

    #[test]
    fn vote_arguments_parse() {
        assert_eq!(parse_vote_arg("A"), Ok(VoteChoice::Label(0)));
        assert_eq!(parse_vote_arg(" c "), Ok(VoteChoice::Label(2)));
        assert_eq!(parse_vote_arg("Model B"), Ok(VoteChoice::Label(1)));
        assert_eq!(parse_vote_arg("AA"), Ok(VoteChoice::Label(26)));
        assert_eq!(parse_vote_arg("2"), Ok(VoteChoice::Pane(1)));
        assert_eq!(parse_vote_arg("TIE"), Ok(VoteChoice::Tie));
        assert_eq!(parse_vote_arg("bad"), Ok(VoteChoice::AllBad));
        for wrong in ["", "0", "a1", "é", "abcd", "99999999999999999999999"] {
            let err = parse_vote_arg(wrong).unwrap_err();
            assert!(err.contains("pane letter"), "{wrong}: {err}");
        }
    }

    #[test]
    fn blind_order_is_a_seeded_permutation() {
        for panes in 0..8 {
            let mut order = blind_order(panes, 42);
            assert_eq!(order, blind_order(panes, 42), "same seed, same order");
            order.sort_unstable();
            assert_eq!(order, (0..panes).collect::<Vec<_>>());
        }
        let orders: std::collections::HashSet<Vec<usize>> = (0..50).map(|seed| blind_order(4, seed)).collect();
        assert!(orders.len() > 10, "seeds give different orders: {}", orders.len());
    }

    #[test]
    fn blind_labels_run_past_z() {
        assert_eq!(blind_label(0), "Model A");
        assert_eq!(blind_label(2), "Model C");
        assert_eq!(blind_letters(25), "Z");
        assert_eq!(blind_letters(26), "AA");
        assert_eq!(blind_letters(27), "AB");
        assert_eq!(blind_letters(26 + 26 * 26), "AAA");
    }
}
