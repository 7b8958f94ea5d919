//! Comparing the answers of one turn to decide between models: votes and what they say about
//! pairs of models (`vote`), the Bradley–Terry leaderboard over those votes (`rating`), and the
//! analyst request that asks one model to judge the others' answers (`analyst`).

pub mod analyst;
pub mod rating;
pub mod vote;

pub use analyst::{Analysis, AnalystAnswer, AnalystReply, AnalystRequest, parse_reply, supports_structured_output};
pub use rating::{FitOptions, MEANINGFUL_VOTES, ModelStanding, Standings, standings};
pub use vote::{PairOutcome, Vote, VoteChoice, VoteOutcome, blind_label, blind_order, parse_vote_arg};
