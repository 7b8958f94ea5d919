//! `roundtable leaderboard`: the models ranked by the votes cast on their answers (Bradley–Terry
//! ratings with 95% bootstrap intervals), with their vote counts and the average cost and latency
//! of their answers from the ledger; as a table, JSON, or lines for the chatroom's overlay.

use std::collections::HashMap;
use std::io::Write;

use rust_decimal::Decimal;
use serde::Serialize;

use crate::core::compare::{FitOptions, MEANINGFUL_VOTES, ModelStanding, Standings, Vote, standings};
use crate::core::store::{self, AnswerAverages, StoreError, VoteFilter};
use crate::present;

const EXIT_OK: i32 = 0;
const EXIT_FAILED: i32 = 1;

#[derive(clap::Args, Debug, Default)]
pub struct LeaderboardArgs {
    /// Print one JSON object (ratings, intervals, counts, averages) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Only votes with this tag (as set with /tag in the room).
    #[arg(long, value_name = "T")]
    pub tag: Option<String>,
    /// Only votes cast in blind rounds.
    #[arg(long)]
    pub blind_only: bool,
}

/// One model's row: its standing and the averages of its answers in the ledger.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeaderRow {
    #[serde(flatten)]
    pub standing: ModelStanding,
    /// Successful answers of the model in the ledger (what the averages are over).
    pub answers: u64,
    /// Average cost of one answer, exact decimal string; absent when no cost is known.
    pub avg_cost_usd: Option<Decimal>,
    pub cost_estimated: bool,
    pub avg_latency_ms: Option<u64>,
    pub avg_ttft_ms: Option<u64>,
}

/// The whole leaderboard, as `--json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Leaderboard {
    /// Votes the ratings rest on.
    pub votes: usize,
    /// False below `min_votes`: the ratings are then not shown in the table.
    pub meaningful: bool,
    pub min_votes: usize,
    pub tag: Option<String>,
    pub blind_only: bool,
    pub models: Vec<LeaderRow>,
}

impl Leaderboard {
    /// Rank `votes`, joining each model's ledger averages (looked up as the room names the model:
    /// `provider:model` first, then the bare id).
    pub fn build(votes: &[Vote], averages: &HashMap<String, AnswerAverages>, filter: &VoteFilter) -> Leaderboard {
        let Standings { rows, votes, meaningful } = standings(votes, &FitOptions::default());
        let models = rows
            .into_iter()
            .map(|standing| {
                let avg = averages.get(&standing.model).cloned().unwrap_or_default();
                LeaderRow {
                    standing,
                    answers: avg.answers,
                    avg_cost_usd: avg.avg_cost_usd,
                    cost_estimated: avg.cost_estimated,
                    avg_latency_ms: avg.avg_duration_ms,
                    avg_ttft_ms: avg.avg_ttft_ms,
                }
            })
            .collect();
        Leaderboard {
            votes,
            meaningful,
            min_votes: MEANINGFUL_VOTES,
            tag: filter.tag.clone(),
            blind_only: filter.blind_only,
            models,
        }
    }

    /// Read the votes and the ledger at `path` and rank them. A database that does not exist yet
    /// is an empty leaderboard.
    pub fn load(path: &std::path::Path, filter: &VoteFilter) -> Result<Leaderboard, StoreError> {
        let (votes, averages) = match (store::read_votes(path, filter), store::answer_averages(path)) {
            (Ok(v), Ok(a)) => (v.into_iter().map(|(_, v)| v).collect::<Vec<_>>(), a),
            (Err(StoreError::Missing { .. }), _) => (Vec::new(), HashMap::new()),
            (Err(e), _) | (_, Err(e)) => return Err(e),
        };
        Ok(Leaderboard::build(&votes, &averages, filter))
    }

    /// The table as lines of text, for the terminal.
    pub fn lines(&self) -> Vec<String> {
        self.lines_within(usize::MAX)
    }

    /// The table as lines of text that fit `width` columns where the model ids can be shortened
    /// enough (down to 12 columns), for the chatroom's `/leaderboard` overlay.
    pub fn lines_within(&self, width: usize) -> Vec<String> {
        let full = self.lines_with_model_width(40);
        let widest = full.iter().map(|l| unicode_width::UnicodeWidthStr::width(l.as_str())).max().unwrap_or(0);
        let model_col = self.models.iter().map(|r| r.standing.model.chars().count().min(40)).max().unwrap_or(0).max(5);
        if widest <= width || model_col <= 12 {
            return full;
        }
        // The table's width less the model column's is fixed: give the model what is left.
        let fixed = widest - model_col;
        self.lines_with_model_width(width.saturating_sub(fixed).max(12))
    }

    fn lines_with_model_width(&self, model_width: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut scope = Vec::new();
        if self.blind_only {
            scope.push("blind rounds only".to_owned());
        }
        if let Some(t) = &self.tag {
            scope.push(format!("tag \"{t}\""));
        }
        let scope = if scope.is_empty() { String::new() } else { format!(" ({})", scope.join(", ")) };
        if self.models.is_empty() {
            out.push(format!("No votes yet{scope}. Vote on a turn's answers in the room (/vote) to rank models."));
            return out;
        }
        let plural = if self.votes == 1 { "" } else { "s" };
        out.push(format!("Leaderboard from {} vote{plural}{scope}", self.votes));
        if !self.meaningful {
            out.push(format!("Not yet meaningful: ratings are shown from {} votes on; counts so far:", self.min_votes));
        }
        out.push(String::new());
        let header =
            ["#", "model", "rating", "95% interval", "votes", "wins", "losses", "ties", "bad", "avg cost", "avg time"];
        let body: Vec<[String; 11]> = self
            .models
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let s = &r.standing;
                let (rank, rating, interval) = if self.meaningful {
                    (format!("{}", i + 1), format!("{:.0}", s.rating), format!("{:.0} – {:.0}", s.low, s.high))
                } else {
                    ("·".into(), "–".into(), "–".into())
                };
                let cost = match r.avg_cost_usd {
                    Some(c) if r.cost_estimated => format!("~{}", present::usd(c)),
                    Some(c) => present::usd(c),
                    None => "?".into(),
                };
                [
                    rank,
                    present::shorten(&s.model, model_width),
                    rating,
                    interval,
                    s.votes.to_string(),
                    s.wins.to_string(),
                    s.losses.to_string(),
                    s.ties.to_string(),
                    s.all_bad.to_string(),
                    cost,
                    r.avg_latency_ms.map_or_else(|| "?".into(), present::millis),
                ]
            })
            .collect();
        let width = |s: &str| unicode_width::UnicodeWidthStr::width(s);
        let mut widths = header.map(width);
        for row in &body {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(width(cell));
            }
        }
        let line = |cells: &[String]| -> String {
            let parts: Vec<String> = cells
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let pad = " ".repeat(widths[i].saturating_sub(width(c)));
                    if i == 1 { format!("{c}{pad}") } else { format!("{pad}{c}") }
                })
                .collect();
            parts.join("  ").trim_end().to_owned()
        };
        out.push(line(&header.map(String::from)));
        out.push(widths.iter().map(|w| "─".repeat(*w)).collect::<Vec<_>>().join("  "));
        out.extend(body.iter().map(|r| line(r)));
        out.push(String::new());
        out.push(
            "Wins, losses and ties count votes; \"bad\" votes said every answer was bad (counted as ties).".into(),
        );
        if self.models.iter().any(|r| r.cost_estimated) {
            out.push("~ average includes costs estimated from model prices (the catalog's or your config's).".into());
        }
        out
    }
}

pub fn run(paths: &crate::paths::Paths, args: LeaderboardArgs) -> i32 {
    let filter = VoteFilter { tag: args.tag.clone(), blind_only: args.blind_only };
    let board = match Leaderboard::load(&store::db_path(&paths.data_dir), &filter) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("roundtable: {e}");
            return EXIT_FAILED;
        }
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        return match serde_json::to_string_pretty(&board) {
            Ok(s) => {
                let _ = writeln!(out, "{s}");
                EXIT_OK
            }
            Err(e) => {
                eprintln!("roundtable: could not encode the leaderboard as JSON: {e}");
                EXIT_FAILED
            }
        };
    }
    for l in board.lines() {
        let _ = writeln!(out, "{l}");
    }
    EXIT_OK
}
