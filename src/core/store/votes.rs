//! Votes on the answers of a turn (`roundtable leaderboard`'s input): the SQL the writer thread
//! runs to record one, reading them back with filters, and the per-model averages of cost and
//! latency of answers that the leaderboard shows beside the ratings.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;

use rusqlite::{Connection, params};
use rust_decimal::Decimal;
use serde::Serialize;

use super::{RoomId, StoreError, open_read, read_err};
use crate::core::compare::{Vote, VoteOutcome};
use crate::core::protocol::TurnId;

/// Row id of a vote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct VoteId(pub i64);

/// Which votes to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VoteFilter {
    /// Only votes with this tag.
    pub tag: Option<String>,
    /// Only votes cast in blind rounds.
    pub blind_only: bool,
}

/// Insert a vote. The pairs it stands for are stored too (as JSON `[winner, loser, "win"|"tie"]`
/// triples) for anyone reading the table with other tools; reading back recomputes them from
/// the outcome, so the two never disagree within roundtable.
pub(crate) fn insert(conn: &Connection, id: VoteId, v: &Vote) -> rusqlite::Result<()> {
    let models = serde_json::to_string(&v.models).unwrap_or_else(|_| "[]".into());
    let pairs: Vec<(String, String, &str)> =
        v.pairs().into_iter().map(|p| (p.first, p.second, if p.tie { "tie" } else { "win" })).collect();
    let pairs = serde_json::to_string(&pairs).unwrap_or_else(|_| "[]".into());
    let best = match v.outcome {
        VoteOutcome::Best(i) => Some(i64::try_from(i).unwrap_or(i64::MAX)),
        _ => None,
    };
    conn.prepare_cached(
        "INSERT INTO votes (id, room_id, turn, prompt, models, outcome, best, pairs, blind, tag, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        id.0,
        v.room.map(|r| r.0),
        v.turn.map(|t| i64::try_from(t.0).unwrap_or(i64::MAX)),
        v.prompt,
        models,
        v.outcome.kind_str(),
        best,
        pairs,
        v.blind,
        v.tag,
        v.at_ms,
    ])?;
    Ok(())
}

/// The votes that pass `filter`, oldest first. Rows that cannot be understood (a models column
/// that is not a JSON list, a best pane out of range) are skipped with a warning in the log.
pub fn read_votes(path: &Path, filter: &VoteFilter) -> Result<Vec<(VoteId, Vote)>, StoreError> {
    let conn = open_read(path)?;
    let map = read_err(path);
    // A database last opened for writing by an older roundtable has no votes table yet (reads
    // never migrate): no votes, not an error.
    let has_table: bool = conn
        .query_row("SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'votes')", [], |r| {
            r.get(0)
        })
        .map_err(&map)?;
    if !has_table {
        return Ok(Vec::new());
    }
    let mut stmt = conn
        .prepare(
            "SELECT id, room_id, turn, prompt, models, outcome, best, blind, tag, created_at FROM votes
             WHERE (?1 IS NULL OR tag = ?1) AND (?2 = 0 OR blind = 1)
             ORDER BY created_at, id",
        )
        .map_err(&map)?;
    let mut rows = stmt.query(params![filter.tag, filter.blind_only]).map_err(&map)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(&map)? {
        let id = VoteId(r.get(0).map_err(&map)?);
        let models_raw: String = r.get(4).map_err(&map)?;
        let Ok(models) = serde_json::from_str::<Vec<String>>(&models_raw) else {
            tracing::warn!(vote = id.0, "vote row with unreadable models; skipped");
            continue;
        };
        let kind: String = r.get(5).map_err(&map)?;
        let best: Option<i64> = r.get(6).map_err(&map)?;
        let outcome = match (kind.as_str(), best.and_then(|b| usize::try_from(b).ok())) {
            ("best", Some(i)) if i < models.len() => VoteOutcome::Best(i),
            ("tie", _) => VoteOutcome::Tie,
            ("bad", _) => VoteOutcome::AllBad,
            _ => {
                tracing::warn!(vote = id.0, outcome = %kind, "vote row with an unreadable outcome; skipped");
                continue;
            }
        };
        let vote = Vote {
            room: r.get::<_, Option<i64>>(1).map_err(&map)?.map(RoomId),
            turn: r.get::<_, Option<i64>>(2).map_err(&map)?.and_then(|t| u64::try_from(t).ok()).map(TurnId),
            prompt: r.get(3).map_err(&map)?,
            models,
            outcome,
            blind: r.get(7).map_err(&map)?,
            tag: r.get(8).map_err(&map)?,
            at_ms: r.get(9).map_err(&map)?,
        };
        out.push((id, vote));
    }
    Ok(out)
}

/// A model's answers in the ledger, on average: what one cost (over the answers whose cost is
/// known) and how long one took.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AnswerAverages {
    /// Successful answers in the ledger.
    pub answers: u64,
    pub avg_cost_usd: Option<Decimal>,
    /// Some of the costs averaged are estimates from catalog prices.
    pub cost_estimated: bool,
    pub avg_ttft_ms: Option<u64>,
    pub avg_duration_ms: Option<u64>,
}

#[derive(Default)]
struct Sums {
    answers: u64,
    cost: Decimal,
    costed: u64,
    estimated: bool,
    ttft: u64,
    ttft_n: u64,
    duration: u64,
    duration_n: u64,
}

impl Sums {
    fn averages(&self) -> AnswerAverages {
        let avg = |sum: u64, n: u64| (n > 0).then(|| sum / n);
        AnswerAverages {
            answers: self.answers,
            avg_cost_usd: (self.costed > 0).then(|| (self.cost / Decimal::from(self.costed)).round_dp(10).normalize()),
            cost_estimated: self.estimated,
            avg_ttft_ms: avg(self.ttft, self.ttft_n),
            avg_duration_ms: avg(self.duration, self.duration_n),
        }
    }
}

/// Averages of the successful requests in the ledger, keyed by the model as a room names it:
/// both `provider:model` (e.g. `gemini:gemini-2.5-flash`) and the bare model id (requests of
/// every provider for it together, which is how OpenRouter's ids appear in rooms). Look up the
/// prefixed form first.
pub fn answer_averages(path: &Path) -> Result<HashMap<String, AnswerAverages>, StoreError> {
    let conn = open_read(path)?;
    let map = read_err(path);
    let mut stmt = conn
        .prepare(
            "SELECT provider, requested_model, cost_usd, cost_source, ttft_ms, duration_ms
             FROM ledger WHERE status = 'ok'",
        )
        .map_err(&map)?;
    let mut sums: HashMap<String, Sums> = HashMap::new();
    let mut rows = stmt.query([]).map_err(&map)?;
    while let Some(r) = rows.next().map_err(&map)? {
        let provider: String = r.get(0).map_err(&map)?;
        let model: String = r.get(1).map_err(&map)?;
        let cost = r.get::<_, Option<String>>(2).map_err(&map)?.and_then(|c| Decimal::from_str(&c).ok());
        let estimated = r.get::<_, String>(3).map_err(&map)? == "estimated";
        let ms = |i: usize| -> Result<Option<u64>, StoreError> {
            Ok(r.get::<_, Option<i64>>(i).map_err(&map)?.and_then(|v| u64::try_from(v).ok()))
        };
        let (ttft, duration) = (ms(4)?, ms(5)?);
        for key in [format!("{provider}:{model}"), model] {
            let s = sums.entry(key).or_default();
            s.answers += 1;
            if let Some(c) = cost {
                s.cost += c;
                s.costed += 1;
                s.estimated |= estimated;
            }
            if let Some(t) = ttft {
                s.ttft += t;
                s.ttft_n += 1;
            }
            if let Some(d) = duration {
                s.duration += d;
                s.duration_n += 1;
            }
        }
    }
    Ok(sums.into_iter().map(|(k, s)| (k, s.averages())).collect())
}
