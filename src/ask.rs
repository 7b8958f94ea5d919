//! `roundtable ask`: stream one prompt to several models at once through the routing core and
//! print their answers (or JSON lines) and a per-model summary.

use std::io::{IsTerminal, Read, Write};
use std::time::{Duration, Instant};

use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value, json};

use crate::config::Config;
use crate::core::error::CoreError;
use crate::core::protocol::{
    ChatMessage, Command, CoreEvent, Cost, CostSource, EventKind, ModelSettings, StreamEvent, StreamSummary, TargetId,
    TargetRequest, TurnId, TurnRequest, Usage,
};
use crate::core::router;
use crate::core::sanitize::strip_controls;
use crate::core::store::{MessageId, MessageState, Store};
use crate::paths::Paths;

/// What `ask` needs, already parsed.
pub struct AskOptions {
    pub models: Vec<String>,
    pub system: Option<String>,
    pub settings: ModelSettings,
    pub json: bool,
    pub prompt: String,
}

/// Longest wait after the answers for costs that arrive late (the core bounds it too).
const SETTLE_WAIT: Duration = Duration::from_secs(15);

/// Exit codes: every model succeeded, some failed, usage error.
pub const EXIT_OK: i32 = 0;
pub const EXIT_FAILED: i32 = 1;
pub const EXIT_USAGE: i32 = 2;

/// The prompt from the arguments, or standard input when none was given.
pub fn read_prompt(args: &[String]) -> Result<String, String> {
    let prompt = if args.is_empty() {
        let mut stdin = std::io::stdin();
        if stdin.is_terminal() {
            return Err("No prompt: pass it as an argument (roundtable ask -m MODEL \"question\") or pipe it on standard input.".into());
        }
        let mut buf = String::new();
        stdin.read_to_string(&mut buf).map_err(|e| format!("Could not read the prompt from standard input: {e}"))?;
        buf
    } else {
        args.join(" ")
    };
    if prompt.trim().is_empty() {
        return Err("The prompt is empty: give a question to ask.".into());
    }
    Ok(prompt)
}

/// The final state of one model's stream.
struct Outcome {
    model: String,
    summary: StreamSummary,
    finish: Option<String>,
    error: Option<CoreError>,
    cancelled: bool,
}

/// Live state of one target while streaming.
#[derive(Default)]
struct Live {
    tokens_seen: u64,
    chars: usize,
    started: bool,
    queued: bool,
    done: bool,
}

pub async fn run(config: Config, paths: &Paths, opts: AskOptions) -> i32 {
    let runtime = crate::runtime::build(&config, paths);
    for warning in &runtime.warnings {
        eprintln!("roundtable: {warning}");
    }
    crate::runtime::refresh_catalog_in_background(&config, paths, &runtime.estimator);
    let estimates = pre_send_estimates(&config, &runtime.estimator, &opts);
    let store = runtime.store.clone();
    let (core, mut events) = match router::start(runtime.core) {
        Ok(pair) => pair,
        Err(e) => {
            eprintln!("roundtable: {e}");
            return EXIT_FAILED;
        }
    };
    let turn = TurnId(1);
    let mut messages = Vec::new();
    if let Some(system) = &opts.system {
        messages.push(ChatMessage::system(system.clone()));
    }
    messages.push(ChatMessage::user(opts.prompt.clone()));
    let targets: Vec<TargetRequest> = opts
        .models
        .iter()
        .enumerate()
        .map(|(i, model)| TargetRequest {
            target: TargetId(u32::try_from(i).unwrap_or(u32::MAX)),
            model: model.clone(),
            messages: messages.clone(),
            settings: opts.settings.clone(),
            tools: Vec::new(),
        })
        .collect();
    // The conversation is stored as it streams, like a one-turn room.
    let room = store.as_ref().map(|st| {
        let title: String = opts.prompt.chars().take(60).collect();
        let room = st.create_room(&format!("ask: {}", title.trim()), &opts.models);
        st.add_user_message(room, turn, &opts.prompt);
        let answers: Vec<MessageId> = targets.iter().map(|t| st.begin_answer(room, turn, t.target, &t.model)).collect();
        (room, answers)
    });
    let room_id = room.as_ref().map(|(r, _)| r.0);
    if core.send(Command::Submit(TurnRequest { turn, targets, room: room_id })).await.is_err() {
        eprintln!("roundtable: the routing core stopped before the request could be sent.");
        return EXIT_FAILED;
    }

    let n = opts.models.len();
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    if opts.json {
        for (i, (model, (tokens, cost))) in opts.models.iter().zip(&estimates).enumerate() {
            let v = json!({"type": "estimate", "model": model, "target": i, "prompt_tokens": tokens,
                "prompt_cost_usd": cost.and_then(|c| c.to_f64()), "prompt_cost_usd_exact": cost.map(|c| c.normalize().to_string())});
            let _ = writeln!(out, "{v}");
        }
    } else {
        let parts: Vec<String> = opts
            .models
            .iter()
            .zip(&estimates)
            .map(|(m, (t, c))| {
                format!("{} ~{t} tok {}", short(m, 28), c.map_or("cost ?".into(), |c| format!("~{}", format_usd(c))))
            })
            .collect();
        eprintln!("Prompt estimate (heuristic, before sending): {}", parts.join(" · "));
    }
    let progress_line = !opts.json && std::io::stderr().is_terminal();
    let mut live: Vec<Live> = (0..n).map(|_| Live::default()).collect();
    let mut outcomes: Vec<Option<Outcome>> = (0..n).map(|_| None).collect();
    let mut remaining = n;
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let started_at = Instant::now();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut cancelling = false;

    while remaining > 0 {
        let event = tokio::select! {
            ev = events.recv() => match ev {
                Some(CoreEvent::Stream(ev)) => ev,
                Some(_) => continue,
                None => break,
            },
            _ = &mut ctrl_c, if !cancelling => {
                cancelling = true;
                let _ = core.send(Command::Cancel { turn, target: None }).await;
                continue;
            }
            _ = ticker.tick(), if progress_line => {
                draw_progress(&opts.models, &live, started_at);
                continue;
            }
        };
        let idx = event.target.0 as usize;
        if idx >= n {
            continue;
        }
        if opts.json
            && let Some(line) = json_line(&opts.models[idx], idx, &event)
        {
            let _ = writeln!(out, "{line}");
        }
        let is_final = event.kind.is_final();
        if let (Some(st), Some((_, answers))) = (&store, &room) {
            persist(st, answers[idx], &event.kind);
        }
        let l = &mut live[idx];
        match event.kind {
            EventKind::Started { .. } => l.started = true,
            EventKind::Queued { .. } => l.queued = true,
            EventKind::TextDelta(t) => {
                l.queued = false;
                l.chars += t.len();
                l.tokens_seen = (l.chars / 4) as u64;
            }
            EventKind::Usage(u) => l.tokens_seen = u.completion_tokens,
            EventKind::Finished { reason, summary } => {
                l.done = true;
                remaining -= 1;
                outcomes[idx] = Some(Outcome {
                    model: opts.models[idx].clone(),
                    summary: *summary,
                    finish: reason.map(|r| r.as_str().to_owned()),
                    error: None,
                    cancelled: false,
                });
            }
            EventKind::Failed { error, summary } => {
                l.done = true;
                remaining -= 1;
                outcomes[idx] = Some(Outcome {
                    model: opts.models[idx].clone(),
                    summary: *summary,
                    finish: None,
                    error: Some(error),
                    cancelled: false,
                });
            }
            EventKind::Cancelled { summary } => {
                l.done = true;
                remaining -= 1;
                outcomes[idx] = Some(Outcome {
                    model: opts.models[idx].clone(),
                    summary: *summary,
                    finish: None,
                    error: None,
                    cancelled: true,
                });
            }
            _ => {}
        }
        if is_final
            && !opts.json
            && let Some(o) = &outcomes[idx]
        {
            if progress_line {
                clear_progress();
            }
            print_answer(&mut out, o);
        }
        // Flush when the queue is momentarily empty: batches writes under load, stays live when idle.
        if events.is_empty() {
            let _ = out.flush();
        }
    }
    // Costs that the streams did not report are fetched after them (OpenRouter's
    // `/generation`); the core says `Stopped` once those are in, so the table and the ledger
    // show real figures. A second Ctrl-C leaves without waiting.
    let _ = core.send(Command::Shutdown).await;
    if !cancelling {
        let deadline = tokio::time::sleep(SETTLE_WAIT);
        tokio::pin!(deadline);
        loop {
            let ev = tokio::select! {
                ev = events.recv() => ev,
                () = &mut deadline => break,
                _ = &mut ctrl_c => break,
            };
            match ev {
                None | Some(CoreEvent::Stopped) => break,
                Some(CoreEvent::CostSettled { target, generation_id, cost, usage, .. }) => {
                    let idx = target.0 as usize;
                    let Some(Some(o)) = outcomes.get_mut(idx) else { continue };
                    if o.summary.generation_id.as_deref() == Some(generation_id.as_str()) {
                        o.summary.cost = Some(cost.clone());
                        if usage.is_some() {
                            o.summary.usage.clone_from(&usage);
                        }
                    }
                    if opts.json {
                        let _ = writeln!(
                            out,
                            "{}",
                            cost_line(&opts.models[idx], idx, &generation_id, &cost, usage.as_ref())
                        );
                    }
                }
                Some(_) => {}
            }
        }
    }
    let _ = out.flush();
    if let Some(st) = &store
        && let Err(e) = st.flush()
    {
        eprintln!("roundtable: the answers were not all saved: {e}");
    }
    if progress_line {
        clear_progress();
    }
    let outcomes: Vec<Outcome> = outcomes.into_iter().flatten().collect();
    if !opts.json {
        print_table(&mut out, &outcomes);
    }
    let _ = out.flush();
    if outcomes.len() == n && outcomes.iter().all(|o| o.error.is_none() && !o.cancelled) {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

/// Each target's estimated prompt tokens and prompt cost before sending (a heuristic token
/// count, priced from the catalog or the config's price table).
fn pre_send_estimates(
    config: &Config,
    estimator: &crate::core::catalog::CatalogEstimator,
    opts: &AskOptions,
) -> Vec<(u64, Option<rust_decimal::Decimal>)> {
    let mut messages = Vec::new();
    if let Some(system) = &opts.system {
        messages.push(ChatMessage::system(system.clone()));
    }
    messages.push(ChatMessage::user(opts.prompt.clone()));
    let tokens = crate::core::catalog::estimate_prompt_tokens(&messages);
    opts.models
        .iter()
        .map(|model| {
            let cost = config
                .providers
                .resolve(model)
                .ok()
                .and_then(|r| estimator.pricing_for(&r.provider_name, &r.upstream_model))
                .and_then(|p| crate::core::catalog::estimate_prompt_cost(&p, tokens));
            (tokens, cost)
        })
        .collect()
}

/// Stream deltas and final states into the stored conversation.
fn persist(store: &Store, message: MessageId, kind: &EventKind) {
    match kind {
        EventKind::TextDelta(t) => store.append_answer(message, t, ""),
        EventKind::ReasoningDelta(t) => store.append_answer(message, "", t),
        EventKind::Finished { summary, .. } => store.finish_answer(message, MessageState::Done, &summary.tool_calls),
        EventKind::Failed { summary, .. } => store.finish_answer(message, MessageState::Error, &summary.tool_calls),
        EventKind::Cancelled { summary } => store.finish_answer(message, MessageState::Cancelled, &summary.tool_calls),
        _ => {}
    }
}

fn json_line(model: &str, idx: usize, event: &StreamEvent) -> Option<Value> {
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
        EventKind::Finished { reason, summary } => {
            let mut v = summary_json(model, idx, summary);
            v["type"] = json!("done");
            v["finish_reason"] = json!(reason.as_ref().map(|r| r.as_str()));
            v
        }
        EventKind::Failed { error, summary } => {
            let mut v = summary_json(model, idx, summary);
            v["type"] = json!("error");
            v["status"] = json!(error.status);
            v["kind"] = json!(error.kind);
            v["message"] = json!(error.message);
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
    Some(v)
}

/// `{"type":"cost",…}`: a cost that arrived after the `done` line (it replaces that cost).
fn cost_line(model: &str, idx: usize, generation_id: &str, cost: &Cost, usage: Option<&Usage>) -> Value {
    json!({"type": "cost", "model": model, "target": idx, "generation_id": generation_id,
           "cost_usd": cost.usd.and_then(|d| d.to_f64()), "cost_usd_exact": cost.usd.map(|d| d.normalize().to_string()),
           "cost_source": cost.source, "usage": usage.map(usage_json)})
}

fn usage_json(u: &Usage) -> Value {
    json!({"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens, "total_tokens": u.total_tokens,
           "cached_tokens": u.cached_tokens, "reasoning_tokens": u.reasoning_tokens})
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

fn draw_progress(models: &[String], live: &[Live], started: Instant) {
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

fn clear_progress() {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\r\x1b[2K");
    let _ = err.flush();
}

fn terminal_width() -> usize {
    std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).filter(|w| *w > 10).unwrap_or(100)
}

fn short(s: &str, max: usize) -> String {
    if s.chars().count() <= max { s.to_owned() } else { s.chars().take(max - 1).collect::<String>() + "…" }
}

fn print_answer(out: &mut impl Write, o: &Outcome) {
    let served = match (&o.summary.served_model, &o.summary.upstream_provider) {
        (Some(m), Some(p)) if m != &o.model => format!(" → {m} via {p}"),
        (Some(m), None) if m != &o.model => format!(" → {m}"),
        (_, Some(p)) => format!(" via {p}"),
        _ => String::new(),
    };
    let title = format!("━━ {}{served} ", o.model);
    let rule = "━".repeat(72usize.saturating_sub(title.chars().count()).max(4));
    let _ = writeln!(out, "{title}{rule}");
    if !o.summary.reasoning.is_empty() {
        let _ = writeln!(out, "[reasoning]\n{}\n[/reasoning]", strip_controls(o.summary.reasoning.trim_end()));
    }
    let text = strip_controls(&o.summary.text);
    if !text.is_empty() {
        let _ = writeln!(out, "{}", text.trim_end());
    }
    if let Some(e) = &o.error {
        let partial = if o.summary.text.is_empty() { "" } else { "\n(partial answer above)" };
        let _ = writeln!(out, "✗ {}{partial}", e.message);
    } else if o.cancelled {
        let _ = writeln!(out, "✗ cancelled");
    }
    let _ = writeln!(out);
}

fn print_table(out: &mut impl Write, outcomes: &[Outcome]) {
    let header = ["model", "prompt", "completion", "cost (USD)", "ttft", "tok/s", "result"];
    let mut rows: Vec<[String; 7]> = Vec::new();
    let mut estimated = false;
    for o in outcomes {
        let s = &o.summary;
        let (p, c) = s
            .usage
            .as_ref()
            .map_or(("-".into(), "-".into()), |u| (u.prompt_tokens.to_string(), u.completion_tokens.to_string()));
        let cost = match &s.cost {
            Some(cost) => match (cost.usd, cost.source) {
                (Some(usd), CostSource::Estimated) => {
                    estimated = true;
                    format!("~{}", format_usd(usd))
                }
                (Some(usd), _) => format_usd(usd),
                (None, _) => "unknown".into(),
            },
            None => "unknown".into(),
        };
        let ttft = s.timings.ttft_ms.map_or("-".into(), |t| format!("{:.2}s", t as f64 / 1000.0));
        let tps = s
            .usage
            .as_ref()
            .and_then(|u| s.timings.tokens_per_second(u.completion_tokens))
            .map_or("-".into(), |t| format!("{t:.0}"));
        let result = if let Some(e) = &o.error {
            match e.status {
                Some(st) => format!("error {st} ({})", kind_name(e)),
                None => format!("error ({})", kind_name(e)),
            }
        } else if o.cancelled {
            "cancelled".into()
        } else {
            o.finish.clone().unwrap_or_else(|| "done".into())
        };
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
    if estimated {
        let _ = writeln!(out, "~ estimated from catalog prices; the provider did not report a cost.");
    }
}

fn kind_name(e: &CoreError) -> String {
    serde_json::to_value(e.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// Dollars with enough digits to show sub-cent costs exactly.
pub fn format_usd(usd: rust_decimal::Decimal) -> String {
    let n = usd.normalize();
    if n.is_zero() {
        return "$0".into();
    }
    if n.abs() >= rust_decimal::Decimal::new(1, 2) { format!("${:.4}", n.round_dp(4)) } else { format!("${n}") }
}
