//! The cost ledger: one row per upstream request (tokens, exact decimal cost, timings, outcome),
//! and the usage queries over it. Costs are summed as decimals in Rust, never as SQL REAL.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;

use rusqlite::{Connection, params};
use rust_decimal::Decimal;
use serde::Serialize;

use super::{LedgerId, RoomId, StoreError, open_read, read_err};
use crate::core::error::{CoreError, ErrorKind};
use crate::core::protocol::{Cost, CostSource, StreamSummary, TargetId, Timings, TurnId, Usage};
use crate::core::provider::MAX_PLAUSIBLE_TOKENS;
use crate::core::room::accounting::saturating_usd;
use crate::core::room::{StepFigures, Totals};

/// Outcome of a request. `Pending` lets a caller record the request when it is sent, so a crash
/// mid-stream still leaves a row (and the spend is not silently under-counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestStatus {
    Pending,
    Ok,
    Error,
    Cancelled,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Ok => "ok",
            Self::Error => "error",
            Self::Cancelled => "cancelled",
        }
    }

    /// The stored text back (anything unknown reads as pending: the request never finished).
    fn parse(s: &str) -> Self {
        match s {
            "ok" => Self::Ok,
            "error" => Self::Error,
            "cancelled" => Self::Cancelled,
            _ => Self::Pending,
        }
    }
}

/// One upstream request as recorded in the ledger. Token counts are `None` when unknown.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerEntry {
    pub started_at_ms: i64,
    /// Configured provider name (`openrouter`, `gemini`, …).
    pub provider: String,
    /// The model id sent upstream.
    pub requested_model: String,
    pub served_model: Option<String>,
    pub upstream_provider: Option<String>,
    pub generation_id: Option<String>,
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    pub cached_tokens: Option<u64>,
    pub reasoning_tokens: Option<u64>,
    pub cost_usd: Option<Decimal>,
    pub cost_source: CostSource,
    pub ttft_ms: Option<u64>,
    pub duration_ms: Option<u64>,
    pub status: RequestStatus,
    pub error_kind: Option<ErrorKind>,
    pub http_status: Option<u16>,
    pub room_id: Option<RoomId>,
    pub turn: Option<TurnId>,
    pub target: Option<TargetId>,
    /// Tools this request's answer called (a tool step), each once, in call order.
    pub tools: Vec<String>,
    /// Web searches, attachments and cache savings (`ledger_extras`).
    pub extras: LedgerExtras,
}

/// What a request's extras weighed and cost (issue 13), kept beside its ledger row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LedgerExtras {
    /// `usage.server_tool_use.web_search_requests`.
    pub web_search_requests: u64,
    /// The searches at the catalog's `web_search` price (the upstream does not itemise them).
    pub web_search_cost_usd: Option<Decimal>,
    /// Files sent with the request (every message's: a thread re-sends earlier turns' files).
    pub attachments: u64,
    pub attachment_bytes: u64,
    /// Prompt tokens the files were estimated at before sending (`core::attach::estimate_tokens`).
    pub attachment_tokens: u64,
    /// What prompt caching saved, and whether that is the upstream's figure or an estimate.
    pub cache_discount_usd: Option<Decimal>,
    pub cache_discount_reported: bool,
}

impl LedgerExtras {
    fn is_empty(&self) -> bool {
        *self == LedgerExtras::default()
    }

    /// The files of a request's messages.
    pub fn with_attachments<'a>(
        mut self,
        files: impl IntoIterator<Item = &'a crate::core::protocol::Attachment>,
    ) -> Self {
        let files: Vec<_> = files.into_iter().cloned().collect();
        self.attachments = files.len() as u64;
        self.attachment_bytes = files.iter().map(|a| a.bytes).fold(0, u64::saturating_add);
        self.attachment_tokens = crate::core::attach::estimate_tokens(&files);
        self
    }
}

impl LedgerEntry {
    /// A request just sent: status `Pending`, cost unknown.
    pub fn new(started_at_ms: i64, provider: impl Into<String>, requested_model: impl Into<String>) -> Self {
        Self {
            started_at_ms,
            provider: provider.into(),
            requested_model: requested_model.into(),
            served_model: None,
            upstream_provider: None,
            generation_id: None,
            prompt_tokens: None,
            completion_tokens: None,
            cached_tokens: None,
            reasoning_tokens: None,
            cost_usd: None,
            cost_source: CostSource::Unknown,
            ttft_ms: None,
            duration_ms: None,
            status: RequestStatus::Pending,
            error_kind: None,
            http_status: None,
            room_id: None,
            turn: None,
            target: None,
            tools: Vec::new(),
            extras: LedgerExtras::default(),
        }
    }

    /// Fill tokens, cost, timings and serving details from a final event's summary.
    pub fn with_summary(mut self, s: &StreamSummary) -> Self {
        if let Some(u) = &s.usage {
            self.prompt_tokens = Some(u.prompt_tokens);
            // Hidden (billed but uncounted) tokens are the model's thinking: they are output the
            // provider bills, so they count as completion tokens (as in the rooms' accounting,
            // so `usage`, the sidebar and `ask` agree) and as reasoning.
            self.completion_tokens = Some(u.completion_tokens.saturating_add(u.hidden_tokens));
            self.cached_tokens = Some(u.cached_tokens);
            self.reasoning_tokens = Some(u.reasoning_tokens.saturating_add(u.hidden_tokens));
            self.extras.web_search_requests = u.web_search_requests;
            self.extras.web_search_cost_usd = u.web_search_cost.as_ref().and_then(|c| c.usd);
            self.extras.cache_discount_usd = u.cache_discount.as_ref().and_then(|c| c.usd);
            self.extras.cache_discount_reported =
                u.cache_discount.as_ref().is_some_and(|c| c.source == CostSource::Reported);
        }
        if let Some(c) = &s.cost {
            self.cost_usd = c.usd;
            self.cost_source = if c.usd.is_some() { c.source } else { CostSource::Unknown };
        }
        self.ttft_ms = s.timings.ttft_ms;
        self.duration_ms = Some(s.timings.duration_ms);
        self.served_model = s.served_model.clone().or(self.served_model);
        self.upstream_provider = s.upstream_provider.clone().or(self.upstream_provider);
        self.generation_id = s.generation_id.clone().or(self.generation_id);
        for call in &s.tool_calls {
            if !self.tools.contains(&call.name) {
                self.tools.push(call.name.clone());
            }
        }
        self
    }

    pub fn with_status(mut self, status: RequestStatus) -> Self {
        self.status = status;
        self
    }

    /// Mark as failed with the error's kind and HTTP status.
    pub fn with_error(mut self, e: &CoreError) -> Self {
        self.status = RequestStatus::Error;
        self.error_kind = Some(e.kind);
        self.http_status = e.status;
        self
    }

    pub fn in_room(mut self, room: RoomId, turn: TurnId, target: TargetId) -> Self {
        self.room_id = Some(room);
        self.turn = Some(turn);
        self.target = Some(target);
        self
    }
}

pub(crate) fn cost_source_str(s: CostSource) -> &'static str {
    match s {
        CostSource::Reported => "reported",
        CostSource::Estimated => "estimated",
        CostSource::Unknown => "unknown",
    }
}

fn parse_cost_source(s: &str) -> CostSource {
    match s {
        "reported" => CostSource::Reported,
        "estimated" => CostSource::Estimated,
        _ => CostSource::Unknown,
    }
}

fn int(v: Option<u64>) -> Option<i64> {
    v.map(|x| i64::try_from(x).unwrap_or(i64::MAX))
}

fn kind_str(k: ErrorKind) -> Option<String> {
    serde_json::to_value(k).ok().and_then(|v| v.as_str().map(str::to_owned))
}

/// Insert or fully replace the row `id` (a request recorded as pending, then completed).
pub(crate) fn upsert(conn: &Connection, id: LedgerId, e: &LedgerEntry) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO ledger (id, started_at, provider, requested_model, served_model, upstream_provider,
             generation_id, prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, cost_usd,
             cost_source, ttft_ms, duration_ms, status, error_kind, http_status, room_id, turn, target, purpose)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)
         ON CONFLICT(id) DO UPDATE SET started_at = excluded.started_at, provider = excluded.provider,
             requested_model = excluded.requested_model, served_model = excluded.served_model,
             upstream_provider = excluded.upstream_provider, generation_id = excluded.generation_id,
             prompt_tokens = excluded.prompt_tokens, completion_tokens = excluded.completion_tokens,
             cached_tokens = excluded.cached_tokens, reasoning_tokens = excluded.reasoning_tokens,
             cost_usd = excluded.cost_usd, cost_source = excluded.cost_source, ttft_ms = excluded.ttft_ms,
             duration_ms = excluded.duration_ms, status = excluded.status, error_kind = excluded.error_kind,
             http_status = excluded.http_status, room_id = excluded.room_id, turn = excluded.turn,
             target = excluded.target, purpose = excluded.purpose",
    )?;
    stmt.execute(params![
        id.0,
        e.started_at_ms,
        e.provider,
        e.requested_model,
        e.served_model,
        e.upstream_provider,
        e.generation_id,
        int(e.prompt_tokens),
        int(e.completion_tokens),
        int(e.cached_tokens),
        int(e.reasoning_tokens),
        e.cost_usd.map(|d| d.normalize().to_string()),
        cost_source_str(if e.cost_usd.is_some() { e.cost_source } else { CostSource::Unknown }),
        int(e.ttft_ms),
        int(e.duration_ms),
        e.status.as_str(),
        e.error_kind.and_then(kind_str),
        e.http_status,
        e.room_id.map(|r| r.0),
        int(e.turn.map(|t| t.0)),
        e.target.map(|t| t.0),
        // The room's analyses go out on a target no pane has.
        e.target.filter(|t| *t == crate::core::room::ANALYST_TARGET).map(|_| "analysis"),
    ])?;
    upsert_tools(conn, id, &e.tools)?;
    upsert_extras(conn, id, &e.extras)
}

/// A request's web searches, attachments and cache savings, beside its ledger row
/// (`ledger_extras`); requests without any get no row (one written while it was pending goes).
fn upsert_extras(conn: &Connection, id: LedgerId, x: &LedgerExtras) -> rusqlite::Result<()> {
    if x.is_empty() {
        conn.prepare_cached("DELETE FROM ledger_extras WHERE ledger_id = ?1")?.execute([id.0])?;
        return Ok(());
    }
    let usd = |d: Option<Decimal>| d.map(|d| d.normalize().to_string());
    let mut stmt = conn.prepare_cached(
        "INSERT OR REPLACE INTO ledger_extras (ledger_id, web_search_requests, web_search_cost_usd, attachments,
             attachment_bytes, attachment_tokens, cache_discount_usd, cache_discount_reported)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    stmt.execute(params![
        id.0,
        int(Some(x.web_search_requests)),
        usd(x.web_search_cost_usd),
        int(Some(x.attachments)),
        int(Some(x.attachment_bytes)),
        int(Some(x.attachment_tokens)),
        usd(x.cache_discount_usd),
        x.cache_discount_reported,
    ])?;
    Ok(())
}

/// The tools a tool step called, beside its ledger row (`ledger_tools`).
fn upsert_tools(conn: &Connection, id: LedgerId, tools: &[String]) -> rusqlite::Result<()> {
    if tools.is_empty() {
        return Ok(());
    }
    let mut stmt = conn.prepare_cached(
        "INSERT INTO ledger_tools (ledger_id, tools) VALUES (?1, ?2)
         ON CONFLICT(ledger_id) DO UPDATE SET tools = excluded.tools",
    )?;
    stmt.execute(params![id.0, tools.join(",")])?;
    Ok(())
}

/// Back-fill the cost of a request (e.g. from OpenRouter's `/generation`).
pub(crate) fn update_cost(conn: &Connection, id: LedgerId, usd: Decimal, source: CostSource) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached("UPDATE ledger SET cost_usd = ?1, cost_source = ?2 WHERE id = ?3")?;
    stmt.execute(params![usd.normalize().to_string(), cost_source_str(source), id.0])?;
    Ok(())
}

/// How `usage_summary` groups requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// The model id sent upstream.
    Model,
    /// The configured provider.
    Provider,
    /// The UTC calendar day the request started.
    Day,
}

/// Totals for one group. `cost_usd` sums the known costs exactly; `estimated` says some of it is
/// an estimate; `unknown_cost` counts requests whose cost is not known at all.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct UsageRow {
    pub group: String,
    pub requests: u64,
    pub errors: u64,
    pub cancelled: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cached_tokens: u64,
    pub reasoning_tokens: u64,
    pub cost_usd: Decimal,
    pub estimated: bool,
    pub unknown_cost: u64,
    /// Requests that may have used tokens but whose counts the server never reported (not
    /// included in the token sums).
    #[serde(default)]
    pub unknown_tokens: u64,
    /// Web searches run, and what they cost at the catalog's `web_search` price (part of
    /// `cost_usd`).
    pub web_search_requests: u64,
    pub web_search_cost_usd: Decimal,
    /// Files sent, their bytes, and the prompt tokens they were estimated at.
    pub attachments: u64,
    pub attachment_bytes: u64,
    pub attachment_tokens: u64,
    /// What prompt caching saved (estimated from catalog prices unless the upstream said).
    pub cache_discount_usd: Decimal,
}

impl UsageRow {
    /// Fold another row into this one (for totals). Sums saturate: a corrupt figure never wraps
    /// a total round to a small number.
    pub fn add(&mut self, o: &UsageRow) {
        self.requests = self.requests.saturating_add(o.requests);
        self.errors = self.errors.saturating_add(o.errors);
        self.cancelled = self.cancelled.saturating_add(o.cancelled);
        self.prompt_tokens = self.prompt_tokens.saturating_add(o.prompt_tokens);
        self.completion_tokens = self.completion_tokens.saturating_add(o.completion_tokens);
        self.cached_tokens = self.cached_tokens.saturating_add(o.cached_tokens);
        self.reasoning_tokens = self.reasoning_tokens.saturating_add(o.reasoning_tokens);
        self.cost_usd = saturating_usd(self.cost_usd, o.cost_usd);
        self.estimated |= o.estimated;
        self.unknown_cost = self.unknown_cost.saturating_add(o.unknown_cost);
        self.unknown_tokens = self.unknown_tokens.saturating_add(o.unknown_tokens);
        self.web_search_requests = self.web_search_requests.saturating_add(o.web_search_requests);
        self.web_search_cost_usd = saturating_usd(self.web_search_cost_usd, o.web_search_cost_usd);
        self.attachments = self.attachments.saturating_add(o.attachments);
        self.attachment_bytes = self.attachment_bytes.saturating_add(o.attachment_bytes);
        self.attachment_tokens = self.attachment_tokens.saturating_add(o.attachment_tokens);
        self.cache_discount_usd = saturating_usd(self.cache_discount_usd, o.cache_discount_usd);
    }
}

fn utc_day(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date().to_string())
        .unwrap_or_else(|_| "invalid date".into())
}

fn parse_cost(raw: Option<String>) -> Option<Decimal> {
    let raw = raw?;
    match Decimal::from_str(&raw) {
        // Rows written before impossible costs were refused may hold one: never let it drive a
        // total negative.
        Ok(d) if d.is_sign_negative() => {
            tracing::warn!(value = %raw, "ledger holds a negative cost; counting it as unknown");
            None
        }
        Ok(d) => Some(d),
        Err(_) => {
            tracing::warn!(value = %raw, "ledger holds a cost that is not a decimal; counting it as unknown");
            None
        }
    }
}

/// Usage since `since_ms`, grouped. Day groups come in date order; others by cost, then requests.
pub fn usage_summary(path: &Path, since_ms: i64, by: GroupBy) -> Result<Vec<UsageRow>, StoreError> {
    let conn = open_read(path)?;
    let map = read_err(path);
    let mut stmt = conn
        .prepare(
            "SELECT started_at, provider, requested_model, status, prompt_tokens, completion_tokens,
                    cached_tokens, reasoning_tokens, cost_usd, cost_source, error_kind, ttft_ms,
                    x.web_search_requests, x.web_search_cost_usd, x.attachments, x.attachment_bytes,
                    x.attachment_tokens, x.cache_discount_usd
             FROM ledger LEFT JOIN ledger_extras x ON x.ledger_id = ledger.id WHERE started_at >= ?1",
        )
        .map_err(&map)?;
    let mut groups: HashMap<String, (UsageRow, Totals)> = HashMap::new();
    let mut rows = stmt.query([since_ms]).map_err(&map)?;
    while let Some(r) = rows.next().map_err(&map)? {
        let key = match by {
            GroupBy::Model => r.get::<_, String>(2).map_err(&map)?,
            GroupBy::Provider => r.get::<_, String>(1).map_err(&map)?,
            GroupBy::Day => utc_day(r.get(0).map_err(&map)?),
        };
        // Counts past what any request can use are corrupt (older rows): left out, like unknown ones.
        let tok = |i: usize| -> Result<Option<u64>, StoreError> {
            Ok(r.get::<_, Option<i64>>(i)
                .map_err(&map)?
                .and_then(|v| u64::try_from(v).ok())
                .filter(|v| *v <= MAX_PLAUSIBLE_TOKENS))
        };
        let status: String = r.get(3).map_err(&map)?;
        let source = if r.get::<_, String>(9).map_err(&map)? == "estimated" {
            CostSource::Estimated
        } else {
            CostSource::Reported
        };
        let cost = parse_cost(r.get(8).map_err(&map)?).map(|usd| Cost { usd: Some(usd), source });
        let error_kind = r.get::<_, Option<String>>(10).map_err(&map)?;
        let ttft_ms = r.get::<_, Option<i64>>(11).map_err(&map)?.and_then(|v| u64::try_from(v).ok());
        let usage = match (tok(4)?, tok(5)?) {
            (Some(p), Some(c)) => Some(Usage {
                prompt_tokens: p,
                completion_tokens: c,
                cached_tokens: tok(6)?.unwrap_or(0),
                reasoning_tokens: tok(7)?.unwrap_or(0),
                ..Usage::default()
            }),
            _ => None,
        };
        let g = groups
            .entry(key.clone())
            .or_insert_with(|| (UsageRow { group: key, ..UsageRow::default() }, Totals::default()));
        let cached_tokens = usage.as_ref().map_or(0, |u| u.cached_tokens);
        let reasoning_tokens = usage.as_ref().map_or(0, |u| u.reasoning_tokens);
        // A request refused before any model answered it used nothing and costs nothing; any
        // other one may have used tokens nobody counted (the room counts them the same way).
        let summary =
            StreamSummary { usage, cost, timings: Timings { ttft_ms, duration_ms: 0 }, ..StreamSummary::default() };
        let figures = if status == "error" {
            StepFigures::failed(&summary, error_kind.as_deref().and_then(ErrorKind::from_name))
        } else {
            StepFigures::answered(&summary)
        };
        // Tokens and cost are added up by the house's one accounting, as the sidebar, `ask`
        // and `rooms` do; the ledger adds what only it knows.
        figures.add_to(&mut g.1);
        let mut row = UsageRow {
            errors: u64::from(status == "error"),
            cancelled: u64::from(status == "cancelled"),
            cached_tokens,
            reasoning_tokens,
            ..UsageRow::default()
        };
        read_extras(r, 12, &mut row).map_err(&map)?;
        g.0.add(&row);
    }
    let groups = groups.into_values().map(|(mut row, totals)| {
        row.requests = u64::from(totals.requests);
        row.prompt_tokens = totals.prompt_tokens;
        row.completion_tokens = totals.completion_tokens;
        row.cost_usd = totals.cost;
        row.estimated = totals.estimated > 0;
        row.unknown_cost = u64::from(totals.unknown);
        row.unknown_tokens = u64::from(totals.tokens_unknown);
        row
    });
    let mut out: Vec<UsageRow> = groups.collect();
    match by {
        GroupBy::Day => out.sort_by(|a, b| a.group.cmp(&b.group)),
        _ => out.sort_by(|a, b| {
            b.cost_usd.cmp(&a.cost_usd).then(b.requests.cmp(&a.requests)).then_with(|| a.group.cmp(&b.group))
        }),
    }
    Ok(out)
}

/// The `ledger_extras` columns of a usage row from column `at` on (NULL when it has none).
fn read_extras(r: &rusqlite::Row<'_>, at: usize, row: &mut UsageRow) -> rusqlite::Result<()> {
    let count = |i: usize| -> rusqlite::Result<u64> {
        Ok(r.get::<_, Option<i64>>(at + i)?.and_then(|v| u64::try_from(v).ok()).unwrap_or(0))
    };
    row.web_search_requests = count(0)?;
    row.web_search_cost_usd = parse_cost(r.get(at + 1)?).unwrap_or_default();
    row.attachments = count(2)?;
    row.attachment_bytes = count(3)?;
    row.attachment_tokens = count(4)?;
    // A discount may be negative (cache writes cost more than they saved): not `parse_cost`.
    row.cache_discount_usd =
        r.get::<_, Option<String>>(at + 5)?.and_then(|s| Decimal::from_str(&s).ok()).unwrap_or_default();
    Ok(())
}

/// A ledger row left in flight by a process that ended, now marked interrupted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterruptedRequest {
    pub id: LedgerId,
    /// The configured provider name it went to.
    pub provider: String,
    /// Known when the response headers arrived before the process ended.
    pub generation_id: Option<String>,
}

/// A request in flight when its process ended (killed, crashed) stays `pending` for ever: mark
/// every pending row that started before `before_ms` (this process's start) as failed with the
/// kind `interrupted`, keeping what it knew (model, provider, generation id). Returns how many
/// rows changed, with the generation ids of the OpenRouter ones whose cost may still be
/// fetched. A request of another process still running is marked too, but its own final write
/// replaces the whole row when it finishes.
pub fn interrupt_stale(path: &Path, before_ms: i64) -> Result<Vec<InterruptedRequest>, StoreError> {
    let conn =
        rusqlite::Connection::open(path).map_err(|e| StoreError::from_sqlite(path, &e, super::DEFAULT_BUSY_TIMEOUT))?;
    let map = read_err(path);
    conn.busy_timeout(super::DEFAULT_BUSY_TIMEOUT).map_err(&map)?;
    let mut stmt = conn
        .prepare("SELECT id, provider, generation_id FROM ledger WHERE status = 'pending' AND started_at < ?1")
        .map_err(&map)?;
    let rows: Vec<InterruptedRequest> = stmt
        .query_map([before_ms], |r| {
            Ok(InterruptedRequest { id: LedgerId(r.get(0)?), provider: r.get(1)?, generation_id: r.get(2)? })
        })
        .map_err(&map)?
        .collect::<Result<_, _>>()
        .map_err(&map)?;
    if !rows.is_empty() {
        conn.execute(
            "UPDATE ledger SET status = 'error', error_kind = 'interrupted'
             WHERE status = 'pending' AND started_at < ?1",
            [before_ms],
        )
        .map_err(&map)?;
    }
    Ok(rows)
}

/// Total known spend since `since_ms`, exact.
pub fn spend_since(path: &Path, since_ms: i64) -> Result<Decimal, StoreError> {
    let conn = open_read(path)?;
    let map = read_err(path);
    let mut stmt =
        conn.prepare("SELECT cost_usd FROM ledger WHERE started_at >= ?1 AND cost_usd IS NOT NULL").map_err(&map)?;
    let mut rows = stmt.query([since_ms]).map_err(&map)?;
    let mut total = Decimal::ZERO;
    while let Some(r) = rows.next().map_err(&map)? {
        total = saturating_usd(total, parse_cost(r.get(0).map_err(&map)?).unwrap_or_default());
    }
    Ok(total)
}

/// One request of a room as the ledger holds it: what a resumed room needs to show the footers
/// and totals it showed live. The summary carries tokens, cost, timings and serving details
/// (no text: that is in the messages).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoomRequest {
    pub turn: TurnId,
    pub target: TargetId,
    pub status: RequestStatus,
    pub error_kind: Option<String>,
    pub http_status: Option<u16>,
    pub summary: StreamSummary,
}

impl RoomRequest {
    /// This request's figures by the house's one accounting: a failed one by its error (see
    /// `StepFigures::failed`), one that ended otherwise without figures (stopped before it
    /// was sent) as a bare request.
    pub fn figures(&self) -> StepFigures {
        match self.status {
            RequestStatus::Error => {
                StepFigures::failed(&self.summary, self.error_kind.as_deref().and_then(ErrorKind::from_name))
            }
            RequestStatus::Ok => StepFigures::answered(&self.summary),
            _ if StepFigures::priced(&self.summary) => StepFigures::answered(&self.summary),
            _ => StepFigures::bare(&self.summary),
        }
    }
}

/// The ledger rows of `room`, in the order they were sent.
pub(crate) fn room_requests(conn: &Connection, room: RoomId) -> rusqlite::Result<Vec<RoomRequest>> {
    let mut stmt = conn.prepare(
        "SELECT turn, target, status, error_kind, http_status, prompt_tokens, completion_tokens,
                cached_tokens, reasoning_tokens, cost_usd, cost_source, ttft_ms, duration_ms,
                served_model, upstream_provider, generation_id,
                x.web_search_requests, x.web_search_cost_usd, x.cache_discount_usd, x.cache_discount_reported
         FROM ledger LEFT JOIN ledger_extras x ON x.ledger_id = ledger.id
         WHERE room_id = ?1 AND turn IS NOT NULL AND target IS NOT NULL
         ORDER BY started_at, id",
    )?;
    let rows = stmt.query_map([room.0], |r| {
        let count = |i: usize| -> rusqlite::Result<Option<u64>> {
            Ok(r.get::<_, Option<i64>>(i)?.and_then(|v| u64::try_from(v).ok()))
        };
        let (prompt, completion, cached, reasoning) = (count(5)?, count(6)?, count(7)?, count(8)?);
        let (searches, search_usd) = (count(16)?.unwrap_or(0), parse_cost(r.get(17)?));
        let discount = r.get::<_, Option<String>>(18)?.and_then(|s| Decimal::from_str(&s).ok());
        let discount_source =
            if r.get::<_, Option<bool>>(19)?.unwrap_or(false) { CostSource::Reported } else { CostSource::Estimated };
        let usage = (prompt.is_some() || completion.is_some()).then(|| {
            let (prompt, completion) = (prompt.unwrap_or(0), completion.unwrap_or(0));
            Usage {
                prompt_tokens: prompt,
                completion_tokens: completion,
                total_tokens: prompt + completion,
                cached_tokens: cached.unwrap_or(0),
                reasoning_tokens: reasoning.unwrap_or(0),
                web_search_requests: searches,
                web_search_cost: search_usd.map(|usd| Cost { usd: Some(usd), source: CostSource::Estimated }),
                cache_discount: discount.map(|usd| Cost { usd: Some(usd), source: discount_source }),
                ..Usage::default()
            }
        });
        let usd = parse_cost(r.get(9)?);
        // A cost without a figure is unknown whatever its row says.
        let source = if usd.is_some() { parse_cost_source(&r.get::<_, String>(10)?) } else { CostSource::Unknown };
        Ok(RoomRequest {
            turn: TurnId(u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0)),
            target: TargetId(r.get(1)?),
            status: RequestStatus::parse(&r.get::<_, String>(2)?),
            error_kind: r.get(3)?,
            http_status: r.get(4)?,
            summary: StreamSummary {
                usage,
                cost: Some(Cost { usd, source }),
                timings: Timings { ttft_ms: count(11)?, duration_ms: count(12)?.unwrap_or(0) },
                served_model: r.get(13)?,
                upstream_provider: r.get(14)?,
                generation_id: r.get(15)?,
                ..StreamSummary::default()
            },
        })
    })?;
    rows.collect()
}
