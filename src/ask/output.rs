//! How `ask` shows what happened: the JSON lines of `--json`, and for people each model's
//! answer (tool calls with folded results first), the live progress line, and the summary table.

use std::io::Write;
use std::time::Instant;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value, json};

use crate::core::error::CoreError;
use crate::core::protocol::{Cost, CostSource, EventKind, StreamEvent, StreamSummary, Usage};
use crate::core::sanitize::strip_controls;

/// What a pane showed besides its final answer, in order.
pub(super) enum Block {
    /// Text of an intermediate step (before its tool calls).
    Text(String),
    Notice(String),
    Call {
        id: String,
        name: String,
        arguments: String,
        denied: bool,
    },
    Result {
        id: String,
        output: String,
        is_error: bool,
    },
}

/// The final state of one model's stream, with the steps before it.
pub(super) struct Outcome {
    pub model: String,
    pub summary: StreamSummary,
    pub finish: Option<String>,
    pub error: Option<CoreError>,
    pub cancelled: bool,
}

/// Live state of one target while streaming.
#[derive(Default)]
pub(super) struct Live {
    pub tokens_seen: u64,
    pub chars: usize,
    pub started: bool,
    pub queued: bool,
    pub done: bool,
}

/// One `--json` line. Displays as compact JSON with the characters that some consumers take
/// for line breaks (U+0085 NEL, U+2028, U+2029) and every C1 and bidi control written as
/// `\uXXXX` escapes, so splitting the output on line breaks always yields whole objects and
/// nothing reorders or hides text when a line is shown.
pub(super) struct JsonLine(pub Value);

impl std::fmt::Display for JsonLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write_escaped(f, &self.0.to_string())
    }
}

/// The `delta` and `reasoning` lines, which are nearly all of a stream's lines: serialized from
/// borrowed fields (building a `Value` map per delta and dropping it was a quarter of
/// `ask --json`'s CPU in a profile), with the same escapes and the same key order as
/// `JsonLine`.
#[derive(serde::Serialize)]
pub(super) struct DeltaLine<'a> {
    model: &'a str,
    target: usize,
    text: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
}

impl std::fmt::Display for DeltaLine<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write_escaped(f, &serde_json::to_string(self).map_err(|_| std::fmt::Error)?)
    }
}

/// Writes the `--json` lines of deltas, the same bytes as `DeltaLine`, at a fraction of the
/// cost: what comes before the text (`{"model":…,"target":…,"text":`) is the same for every
/// delta of a target and is made once, and a text with nothing to escape (most of them) is
/// copied as it is. Serializing each line whole was 8% of a benchmark `ask --json`'s
/// instructions, mostly re-escaping the model name.
pub(super) struct DeltaWriter {
    prefixes: Vec<String>,
}

impl DeltaWriter {
    pub(super) fn new(models: &[String]) -> Self {
        let prefixes = models
            .iter()
            .enumerate()
            .map(|(i, m)| format!("{{\"model\":{},\"target\":{i},\"text\":", JsonLine(Value::String(m.clone()))))
            .collect();
        Self { prefixes }
    }

    /// Write the line (and its newline) of a text or reasoning delta; `None` for other events.
    pub(super) fn write(
        &self,
        out: &mut impl Write,
        models: &[String],
        idx: usize,
        kind: &EventKind,
    ) -> Option<std::io::Result<()>> {
        let line = delta_line(models.get(idx)?, idx, kind)?;
        let prefix = self.prefixes.get(idx)?;
        if !has_no_escapes(line.text) {
            return Some(writeln!(out, "{line}"));
        }
        Some((|| {
            out.write_all(prefix.as_bytes())?;
            if is_plain_json_text(line.text) {
                out.write_all(b"\"")?;
                out.write_all(line.text.as_bytes())?;
                out.write_all(b"\"")?;
            } else {
                serde_json::to_writer(&mut *out, line.text)?;
            }
            out.write_all(if line.kind == "delta" { b",\"type\":\"delta\"}\n" } else { b",\"type\":\"reasoning\"}\n" })
        })())
    }
}

/// `text` goes into a JSON string as it is: no quote, backslash or control character.
fn is_plain_json_text(text: &str) -> bool {
    // Whole blocks without an early exit, so the check is vectorized.
    text.as_bytes()
        .chunks(32)
        .all(|block| !block.iter().fold(false, |hit, &b| hit | (b < 0x20) | (b == b'"') | (b == b'\\')))
}

/// The characters that `--json` writes as `\uXXXX` although JSON allows them raw.
fn needs_escape(c: char) -> bool {
    matches!(c as u32, 0x80..=0x9f | 0x2028 | 0x2029 | 0x200e | 0x200f | 0x061c | 0x202a..=0x202e | 0x2066..=0x2069)
}

/// No character of `text` is one that `write_escaped` rewrites. All of them are outside ASCII,
/// and an ASCII check runs a word at a time.
fn has_no_escapes(text: &str) -> bool {
    text.is_ascii() || !text.chars().any(needs_escape)
}

/// The `--json` line of a text or reasoning delta, or `None` for any other event.
pub(super) fn delta_line<'a>(model: &'a str, idx: usize, kind: &'a EventKind) -> Option<DeltaLine<'a>> {
    let (text, kind) = match kind {
        EventKind::TextDelta(t) => (t, "delta"),
        EventKind::ReasoningDelta(t) => (t, "reasoning"),
        _ => return None,
    };
    Some(DeltaLine { model, target: idx, text, kind })
}

/// Compact JSON text with the line-breaking and bidi characters escaped (see `JsonLine`).
fn write_escaped(f: &mut std::fmt::Formatter<'_>, text: &str) -> std::fmt::Result {
    // These can only occur inside JSON strings, where an escape means the same character.
    if has_no_escapes(text) {
        return f.write_str(text);
    }
    for c in text.chars() {
        if needs_escape(c) {
            write!(f, "\\u{:04x}", c as u32)?;
        } else {
            write!(f, "{c}")?;
        }
    }
    Ok(())
}

/// One `--json` line for an event, or `None` for events scripts do not need.
pub(super) fn json_line(model: &str, idx: usize, event: &StreamEvent, denied: bool) -> Option<JsonLine> {
    let v = match &event.kind {
        EventKind::Started { provider, model: upstream } => {
            json!({"type": "start", "model": model, "target": idx, "provider": provider, "upstream_model": upstream})
        }
        EventKind::Queued { until, reason } => {
            let until = jiff::Timestamp::try_from(*until).map(|t| t.to_string()).unwrap_or_default();
            json!({"type": "queued", "model": model, "target": idx, "until": until, "reason": reason})
        }
        EventKind::Served { model: served, upstream_provider } => {
            json!({"type": "served", "model": model, "target": idx, "served_model": served, "upstream_provider": upstream_provider})
        }
        EventKind::TextDelta(t) => json!({"type": "delta", "model": model, "target": idx, "text": t}),
        EventKind::ReasoningDelta(t) => json!({"type": "reasoning", "model": model, "target": idx, "text": t}),
        EventKind::Notice { message } => json!({"type": "notice", "model": model, "target": idx, "message": message}),
        EventKind::ToolsUnsupported { message } => {
            json!({"type": "tools_unsupported", "model": model, "target": idx, "message": message})
        }
        EventKind::StepFinished { summary } => {
            let mut v = summary_json(model, idx, summary);
            v["type"] = json!("step");
            v["tool_calls"] = json!(summary.tool_calls.len());
            v["citations"] = json!(summary.citations);
            v
        }
        EventKind::ToolCall { call, needs_confirmation } => {
            json!({"type": "tool_call", "model": model, "target": idx, "id": call.id, "name": call.name,
                   "arguments": call.arguments, "needs_confirmation": needs_confirmation, "denied": denied})
        }
        EventKind::ToolResult { call_id, name, output, is_error } => {
            json!({"type": "tool_result", "model": model, "target": idx, "id": call_id, "name": name,
                   "output": output, "is_error": is_error})
        }
        EventKind::Finished { reason, summary } => {
            let mut v = summary_json(model, idx, summary);
            v["type"] = json!("done");
            v["finish_reason"] = json!(reason.as_ref().map(|r| r.as_str()));
            v["citations"] = json!(summary.citations);
            v
        }
        EventKind::Failed { error, summary } => {
            let mut v = summary_json(model, idx, summary);
            v["type"] = json!("error");
            v["status"] = json!(error.status);
            v["kind"] = json!(error.kind);
            v["message"] = json!(error.message);
            v["upstream_message"] = json!(error.upstream_message);
            v["retry_at"] =
                json!(error.retry_at.and_then(|t| jiff::Timestamp::try_from(t).ok()).map(|t| t.to_string()));
            v
        }
        EventKind::Cancelled { summary } => {
            let mut v = summary_json(model, idx, summary);
            v["type"] = json!("cancelled");
            v
        }
        EventKind::Connected { .. } | EventKind::ToolCallDelta { .. } | EventKind::Usage(_) => return None,
    };
    Some(JsonLine(v))
}

/// `{"type":"cost",…}`: a cost that arrived after the `done` (or `step`) line with the same
/// `generation_id`; it replaces that cost.
pub(super) fn cost_line(model: &str, idx: usize, generation_id: &str, cost: &Cost, usage: Option<&Usage>) -> JsonLine {
    JsonLine(json!({"type": "cost", "model": model, "target": idx, "generation_id": generation_id,
           "cost_usd": cost.usd.and_then(|d| d.to_f64()), "cost_usd_exact": cost.usd.map(|d| d.normalize().to_string()),
           "cost_source": cost.source, "usage": usage.map(usage_json)}))
}

fn usage_json(u: &Usage) -> Value {
    let exact = |c: &Option<Cost>| c.as_ref().and_then(|c| c.usd).map(|d| d.normalize().to_string());
    let mut v = json!({"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens, "total_tokens": u.total_tokens,
           "cached_tokens": u.cached_tokens, "reasoning_tokens": u.reasoning_tokens,
           "web_search_requests": u.web_search_requests});
    // Present only when there is something to say, so scripts can test for the key.
    if u.cache_write_tokens > 0 {
        v["cache_write_tokens"] = json!(u.cache_write_tokens);
    }
    if let Some(c) = &u.cache_discount {
        v["cache_discount_usd"] = json!(exact(&u.cache_discount));
        v["cache_discount_source"] = json!(c.source);
    }
    if u.web_search_cost.is_some() {
        v["web_search_cost_usd"] = json!(exact(&u.web_search_cost));
    }
    v
}

fn summary_json(model: &str, idx: usize, s: &StreamSummary) -> Value {
    let usage = s.usage.as_ref().map(usage_json);
    let (cost_usd, exact, source) = match &s.cost {
        Some(c) => (c.usd.and_then(|d| d.to_f64()), c.usd.map(|d| d.normalize().to_string()), c.source),
        None => (None, None, CostSource::Unknown),
    };
    let tps = s.usage.as_ref().and_then(|u| s.timings.tokens_per_second(u.completion_tokens));
    json!({
        "model": model, "target": idx, "usage": usage,
        "cost_usd": cost_usd, "cost_usd_exact": exact, "cost_source": source,
        "ttft_ms": s.timings.ttft_ms, "duration_ms": s.timings.duration_ms,
        "tokens_per_second": tps.map(|t| (t * 10.0).round() / 10.0),
        "served_model": s.served_model, "upstream_provider": s.upstream_provider,
        "generation_id": s.generation_id,
    })
}

const SPINNER: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

pub(super) fn draw_progress(models: &[String], live: &[&Live], started: Instant) {
    let frame = SPINNER[(started.elapsed().as_millis() / 100) as usize % SPINNER.len()];
    let parts: Vec<String> = models
        .iter()
        .zip(live)
        .filter(|(_, l)| !l.done)
        .map(|(m, l)| {
            let state = if l.queued {
                "queued".to_owned()
            } else if l.tokens_seen > 0 {
                format!("~{} tok", l.tokens_seen)
            } else if l.started {
                "waiting".to_owned()
            } else {
                "starting".to_owned()
            };
            format!("{}: {state}", short(m, 24))
        })
        .collect();
    let mut line = format!("{frame} {}", parts.join(" │ "));
    let width = terminal_width();
    if line.chars().count() > width {
        line = line.chars().take(width.saturating_sub(1)).collect::<String>() + "…";
    }
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\r\x1b[2K{line}");
    let _ = err.flush();
}

/// A request waits for a rate-limit slot or a retry: say until when, in text mode too, so a
/// long wait never looks like a hang.
pub(super) fn print_queued(model: &str, until: std::time::SystemTime, reason: &str) {
    let when = jiff::Timestamp::try_from(until)
        .map(|t| t.to_zoned(jiff::tz::TimeZone::system()).strftime("%H:%M:%S").to_string())
        .unwrap_or_else(|_| "later".into());
    let secs = until.duration_since(std::time::SystemTime::now()).map(|d| d.as_secs_f64().ceil() as u64).unwrap_or(0);
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "\r\x1b[2K{}: waiting until {when} ({secs}s): {}", short(model, 40), strip_controls(reason));
}

pub(super) fn clear_progress() {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\r\x1b[2K");
    let _ = err.flush();
}

fn terminal_width() -> usize {
    std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).filter(|w| *w > 10).unwrap_or(100)
}

pub(super) fn short(s: &str, max: usize) -> String {
    if s.chars().count() <= max { s.to_owned() } else { s.chars().take(max - 1).collect::<String>() + "…" }
}

/// A tool result folded to its first line (at most 100 characters), with how much is hidden.
fn fold(output: &str) -> String {
    let output = output.trim();
    let mut lines = output.lines();
    let first = lines.next().unwrap_or("");
    let more = lines.count();
    let mut shown = short(first, 100);
    if more > 0 {
        shown.push_str(&format!("  (+{more} more line{})", if more == 1 { "" } else { "s" }));
    }
    shown
}

pub(super) fn print_answer(out: &mut impl Write, o: &Outcome, blocks: &[Block]) {
    let served = match (&o.summary.served_model, &o.summary.upstream_provider) {
        (Some(m), Some(p)) if m != &o.model => format!(" → {m} via {p}"),
        (Some(m), None) if m != &o.model => format!(" → {m}"),
        (_, Some(p)) => format!(" via {p}"),
        _ => String::new(),
    };
    let title = format!("━━ {}{served} ", o.model);
    let rule = "━".repeat(72usize.saturating_sub(title.chars().count()).max(4));
    let _ = writeln!(out, "{title}{rule}");
    for block in blocks {
        match block {
            Block::Text(t) => {
                let t = strip_controls(t.trim());
                if !t.is_empty() {
                    let _ = writeln!(out, "{t}");
                }
            }
            Block::Notice(m) => {
                let _ = writeln!(out, "ℹ {}", strip_controls(m));
            }
            // Each call with its result under it (the results arrive after the whole batch).
            Block::Call { id, name, arguments, denied } => {
                let args = strip_controls(arguments);
                let _ = writeln!(out, "⚙ {} {}", strip_controls(name), short(&args, 160));
                if *denied {
                    let _ = writeln!(out, "  ✗ denied: {name} is not marked safe; run ask with --yes to allow it");
                    continue;
                }
                let result = blocks.iter().find_map(|b| match b {
                    Block::Result { id: rid, output, is_error, .. } if rid == id => Some((output, *is_error)),
                    _ => None,
                });
                if let Some((output, is_error)) = result {
                    let mark = if is_error { "✗" } else { "→" };
                    let _ = writeln!(out, "  {mark} {}", fold(&strip_controls(output)));
                }
            }
            Block::Result { .. } => {}
        }
    }
    if !o.summary.reasoning.is_empty() {
        let _ = writeln!(out, "[reasoning]\n{}\n[/reasoning]", strip_controls(o.summary.reasoning.trim_end()));
    }
    let text = strip_controls(&o.summary.text);
    if !text.is_empty() {
        let _ = writeln!(out, "{}", text.trim_end());
    }
    for line in crate::present::room::citation_lines(&o.summary.citations) {
        let _ = writeln!(out, "{line}");
    }
    if let Some(e) = &o.error {
        let partial = if o.summary.text.is_empty() { "" } else { "\n(partial answer above)" };
        let _ = writeln!(out, "✗ {}{partial}", e.message);
    } else if o.cancelled {
        let _ = writeln!(out, "✗ cancelled");
    } else if is_cut(o) {
        let _ = writeln!(
            out,
            "✂ cut: the answer reached its token limit (finish_reason \"length\"); raise --max-tokens, or the server's own limit, for the rest."
        );
    }
    let _ = writeln!(out);
}

/// The answer stopped at a token limit (`max_tokens`, or the server's or model's own), not at
/// its end: a success all the same, but it must not read as a whole answer.
fn is_cut(o: &Outcome) -> bool {
    o.error.is_none() && !o.cancelled && o.finish.as_deref() == Some("length")
}

/// One model's totals over its steps (tool loops make several requests).
pub(super) struct Totals {
    pub prompt: Option<u64>,
    pub completion: Option<u64>,
    pub cost: Option<Decimal>,
    pub estimated: bool,
    pub steps: usize,
}

/// The table's figures from the room's accounting (`core::room::Totals`): a cost is a total
/// only when every step's cost is known; tokens show as unknown when no step reported any.
pub(super) fn totals(steps: &[crate::core::room::StepFigures]) -> Totals {
    let t = crate::core::room::Totals::of(steps);
    let reported = steps.iter().any(|s| s.usage.is_some());
    Totals {
        prompt: reported.then_some(t.prompt_tokens),
        completion: reported.then_some(t.completion_tokens),
        cost: (t.unknown == 0).then_some(t.cost),
        estimated: t.estimated > 0,
        steps: steps.len(),
    }
}

pub(super) fn print_table(out: &mut impl Write, rows_in: &[(&Outcome, Totals)]) {
    let header = ["model", "prompt", "completion", "cost (USD)", "ttft", "tok/s", "result"];
    let mut rows: Vec<[String; 7]> = Vec::new();
    let mut estimated = false;
    for (o, t) in rows_in {
        let s = &o.summary;
        let p = t.prompt.map_or("-".into(), |v| v.to_string());
        let c = t.completion.map_or("-".into(), |v| v.to_string());
        let cost = match t.cost {
            Some(usd) if t.estimated => {
                estimated = true;
                format!("~{}", crate::present::usd(usd))
            }
            Some(usd) => crate::present::usd(usd),
            None => "unknown".into(),
        };
        let ttft = s.timings.ttft_ms.map_or("-".into(), |t| format!("{:.2}s", t as f64 / 1000.0));
        let tps = s
            .usage
            .as_ref()
            .and_then(|u| s.timings.tokens_per_second(u.completion_tokens))
            .map_or("-".into(), |t| format!("{t:.0}"));
        let mut result = if let Some(e) = &o.error {
            match e.status {
                Some(st) => format!("error {st} ({})", kind_name(e)),
                None => format!("error ({})", kind_name(e)),
            }
        } else if o.cancelled {
            "cancelled".into()
        } else if is_cut(o) {
            "cut (length)".into()
        } else {
            o.finish.clone().unwrap_or_else(|| "done".into())
        };
        if t.steps > 1 {
            result.push_str(&format!(" ({} steps)", t.steps));
        }
        rows.push([short(&o.model, 40), p, c, cost, ttft, tps, result]);
    }
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line =
        |cells: &[String]| -> String {
            cells
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    if i == 0 || i == 6 { format!("{c:<w$}", w = widths[i]) } else { format!("{c:>w$}", w = widths[i]) }
                })
                .collect::<Vec<_>>()
                .join("  ")
        };
    let _ = writeln!(out, "{}", line(&header.map(String::from)).trim_end());
    let _ = writeln!(out, "{}", widths.iter().map(|w| "─".repeat(*w)).collect::<Vec<_>>().join("  "));
    for row in &rows {
        let _ = writeln!(out, "{}", line(row).trim_end());
    }
    // Cached prompt tokens, what caching saved and what the searches cost (the last step's).
    let mut itemised_estimate = false;
    for (o, _) in rows_in {
        let Some(u) = &o.summary.usage else { continue };
        let extras: Vec<String> =
            crate::present::room::cached_text(u).into_iter().chain(crate::present::room::searches_text(u)).collect();
        if !extras.is_empty() {
            let line = extras.join(" · ");
            itemised_estimate |= line.contains('~');
            let _ = writeln!(out, "{}: {}", short(&o.model, 40), line);
        }
    }
    if itemised_estimate {
        let _ = writeln!(
            out,
            "~ cache savings and search costs are priced from the catalog (the provider does not itemise them)."
        );
    }
    if estimated {
        let _ = writeln!(
            out,
            "~ estimated from the model's prices (catalog or config); the provider did not report a cost."
        );
    }
    if rows_in.iter().any(|(_, t)| t.steps > 1) {
        let _ = writeln!(out, "Tokens and cost add up every step of a tool loop; ttft and tok/s are the last step's.");
    }
}

fn kind_name(e: &CoreError) -> String {
    serde_json::to_value(e.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path for deltas writes exactly what the general one writes.
    #[test]
    fn delta_lines_are_the_json_lines_of_their_events() {
        for kind in
            [EventKind::TextDelta("say \"hi\"\n\u{2028}\u{85}é\\".into()), EventKind::ReasoningDelta("plain".into())]
        {
            let event = StreamEvent {
                turn: crate::core::protocol::TurnId(1),
                target: crate::core::protocol::TargetId(2),
                kind: kind.clone(),
            };
            let fast = delta_line("m/x", 2, &kind).unwrap().to_string();
            assert_eq!(fast, json_line("m/x", 2, &event, false).unwrap().to_string());
        }
        // Written straight to the output: the same bytes and a newline, escapes or not.
        for text in [
            "say \"hi\"\n\u{2028}\u{85}é\\",
            "plain",
            "caf\u{e9} \u{1b}[31m\u{7f}",
            "a\\b",
            "tab\there",
            "x".repeat(70).as_str(),
        ] {
            let kind = EventKind::TextDelta(text.into());
            let event = StreamEvent {
                turn: crate::core::protocol::TurnId(1),
                target: crate::core::protocol::TargetId(2),
                kind: kind.clone(),
            };
            for model in ["m/\u{202e}x \"q\"", "m/x"] {
                let models = ["other".to_owned(), String::new(), model.to_owned()];
                let mut written = Vec::new();
                DeltaWriter::new(&models).write(&mut written, &models, 2, &kind).unwrap().unwrap();
                let general = format!("{}\n", json_line(model, 2, &event, false).unwrap());
                assert_eq!(String::from_utf8(written).unwrap(), general);
            }
        }
        let models = ["m".to_owned()];
        let mut written = Vec::new();
        DeltaWriter::new(&models)
            .write(&mut written, &models, 0, &EventKind::ReasoningDelta("r".into()))
            .unwrap()
            .unwrap();
        assert_eq!(
            String::from_utf8(written).unwrap(),
            "{\"model\":\"m\",\"target\":0,\"text\":\"r\",\"type\":\"reasoning\"}\n"
        );
        assert!(
            DeltaWriter::new(&models)
                .write(&mut Vec::new(), &models, 0, &EventKind::Notice { message: "n".into() })
                .is_none()
        );
        assert!(delta_line("m", 0, &EventKind::Notice { message: "n".into() }).is_none());
    }

    #[test]
    fn json_lines_escape_line_separators_and_invisible_controls() {
        let v = json!({"text": "a\u{85}b\u{2028}c\u{2029}d\u{9b}e\u{202e}f\u{2067}g", "plain": "é…"});
        let line = JsonLine(v.clone()).to_string();
        assert_eq!(line.lines().count(), 1);
        for c in ['\u{85}', '\u{2028}', '\u{2029}', '\u{9b}', '\u{202e}', '\u{2067}'] {
            assert!(!line.contains(c), "{c:?} written raw: {line}");
        }
        assert!(line.contains("\\u2028") && line.contains("é…"), "{line}");
        let back: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(back, v, "the escapes mean the same text");
    }
}
