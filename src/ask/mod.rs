//! `roundtable ask`: stream one prompt to several models at once through the routing core and
//! print their answers (or JSON lines) and a per-model summary. The conversation is a core room
//! (marked headless), so it is stored, searchable and can be reopened in the chatroom; the
//! summary adds up with the room's accounting. With `--tools` the models that can use tools
//! run them (safe ones only, unless `--yes`).

mod analysis;
mod output;

use std::collections::HashSet;
use std::io::{IsTerminal, Read, Write};
use std::time::{Duration, Instant};

use rust_decimal::prelude::ToPrimitive;
use serde_json::json;

use crate::config::Config;
use crate::core::protocol::{ChatMessage, Command, CoreEvent, EventKind, ModelSettings, ToolDecision, ToolPolicy};
use crate::core::room::{DaySpend, Room, RoomSetup};
use crate::core::router;
use crate::paths::Paths;

use output::{Block, Live, Outcome};

/// What `ask` needs, already parsed.
pub struct AskOptions {
    pub models: Vec<String>,
    pub system: Option<String>,
    pub settings: ModelSettings,
    pub json: bool,
    pub prompt: String,
    /// Tools the models may call (names from the registry); empty = none.
    pub tools: Vec<String>,
    /// Run tools that are not marked safe too (otherwise their calls are denied).
    pub yes: bool,
    /// Files sent with the prompt (`--attach`), already checked.
    pub attachments: Vec<crate::core::protocol::Attachment>,
    /// After the answers, this analyst model compares them (`--analyze`).
    pub analyze: Option<String>,
}

/// Longest wait after the answers for costs that arrive late (the core bounds it too).
const SETTLE_WAIT: Duration = Duration::from_secs(15);

/// Exit codes: every model succeeded, some failed, usage error.
pub const EXIT_OK: i32 = 0;
pub const EXIT_FAILED: i32 = 1;
pub const EXIT_USAGE: i32 = 2;

/// The key every provider gets in demo mode (the simulator accepts any; shaped like a real one so
/// it is scrubbed from output like one).
const DEMO_KEY: &str = "sk-or-v1-demo-simulated";

/// `ask --demo`: start the built-in simulator on loopback in this process and point every
/// provider at it with a demo key, as the chatroom's demo mode does.
pub async fn start_demo(config: &mut Config) -> Result<crate::sim::SimServer, String> {
    let sim = crate::sim::SimServer::start(crate::sim::SimConfig::default(), 0)
        .await
        .map_err(|e| format!("the demo simulator could not start on loopback: {e}"))?;
    config.override_base_url(&sim.base_url());
    for p in config.providers.providers.values_mut() {
        p.fixed_key = Some(crate::core::provider::ApiKey::new(DEMO_KEY.to_string()));
    }
    Ok(sim)
}

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

/// One model's pane: what streams in, what it showed, and how it ended.
#[derive(Default)]
struct Pane {
    live: Live,
    blocks: Vec<Block>,
    /// Calls `ask` denied (not safe, no `--yes`).
    denied: HashSet<String>,
    /// The `response_format` this model was asked for (`--json-schema`), when it takes it.
    format: Option<serde_json::Value>,
    outcome: Option<Outcome>,
    /// Sources cited by the steps so far (a tool loop makes several), each URL once.
    citations: Vec<crate::core::protocol::Citation>,
}

pub async fn run(config: Config, paths: &Paths, opts: AskOptions) -> i32 {
    // MCP servers named by --tools start now, so that their tools can be offered.
    if let Err(e) = config.tools.prepare(&opts.tools).await {
        eprintln!("roundtable: {e}");
        return EXIT_FAILED;
    }
    if let Err(e) = config.tools.specs(&opts.tools) {
        eprintln!("roundtable: {e}");
        return EXIT_USAGE;
    }
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
    // The conversation is a room of the core's, stored as it streams like the chatroom's.
    let mut room = Room::new(RoomSetup {
        store: store.clone(),
        tools: config.tools.clone(),
        policy: ToolPolicy { auto_approve: opts.yes, step_limit: None },
        spend: DaySpend::default(),
        headless: true,
    });
    let mut settings = opts.settings.clone();
    if opts.system.is_some() {
        settings.system.clone_from(&opts.system);
    }
    let mut notices = Vec::with_capacity(opts.models.len());
    for model in &opts.models {
        let (settings, refused) = offered_settings(&config, &runtime.estimator, model, &settings);
        notices.push((refused, settings.response_format.clone()));
        let target = room.add_pane(model, settings);
        if let Err(e) = room.set_tools(target, opts.tools.clone()) {
            eprintln!("roundtable: {e}");
            return EXIT_USAGE;
        }
    }
    room.attachments.clone_from(&opts.attachments);
    let commands = match room.send(&opts.prompt, None) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("roundtable: {e}");
            return EXIT_USAGE;
        }
    };
    let turn = room.head.unwrap_or_default();
    let n = opts.models.len();
    let mut panes: Vec<Pane> = notices
        .into_iter()
        .map(|(refused, format)| Pane {
            blocks: refused.into_iter().map(Block::Notice).collect(),
            format,
            ..Pane::default()
        })
        .collect();
    for command in commands {
        if core.send(command).await.is_err() {
            eprintln!("roundtable: the routing core stopped before the request could be sent.");
            return EXIT_FAILED;
        }
    }

    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    if opts.json {
        for (i, (model, e)) in opts.models.iter().zip(&estimates).enumerate() {
            let exact = |c: Option<rust_decimal::Decimal>| c.map(|c| c.normalize().to_string());
            let v = json!({"type": "estimate", "model": model, "target": i, "prompt_tokens": e.tokens,
                "prompt_cost_usd": e.cost.and_then(|c| c.to_f64()), "prompt_cost_usd_exact": exact(e.cost),
                "attachment_tokens": e.attachment_tokens, "web_search_cost_usd_exact": exact(e.web_search_cost)});
            let _ = writeln!(out, "{}", output::JsonLine(v));
        }
        for (i, (model, pane)) in opts.models.iter().zip(&panes).enumerate() {
            for block in &pane.blocks {
                if let Block::Notice(message) = block {
                    let v = json!({"type": "notice", "model": model, "target": i, "message": message});
                    let _ = writeln!(out, "{v}");
                }
            }
        }
    } else {
        let parts: Vec<String> = opts
            .models
            .iter()
            .zip(&estimates)
            .map(|(m, e)| {
                let cost = e.cost.map_or("cost ?".into(), |c| format!("~{}", crate::present::usd(c)));
                let mut parts = Vec::new();
                if e.attachment_tokens > 0 {
                    parts.push(format!("files ~{} tok", e.attachment_tokens));
                }
                match e.web_search_cost {
                    Some(w) if !w.is_zero() => parts.push(format!("1 web search ~{}", crate::present::usd(w))),
                    Some(_) => parts.push("1 web search, not priced in the catalog".into()),
                    None => {}
                }
                let incl = if parts.is_empty() { String::new() } else { format!(" (incl. {})", parts.join(", ")) };
                format!("{} ~{} tok {cost}{incl}", output::short(m, 28), e.tokens)
            })
            .collect();
        eprintln!("Prompt estimate (heuristic, before sending): {}", parts.join(" · "));
    }
    let progress_line = !opts.json && std::io::stderr().is_terminal();
    let delta_writer = output::DeltaWriter::new(&opts.models);
    let mut remaining = n;
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let started_at = Instant::now();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut cancelling = false;
    // After Ctrl-C the answers end at once; should one not, `ask` leaves anyway a second later.
    let give_up = tokio::time::sleep(Duration::from_secs(86_400 * 365));
    tokio::pin!(give_up);

    while remaining > 0 {
        let event = tokio::select! {
            ev = events.recv() => match ev {
                Some(CoreEvent::Stream(ev)) => ev,
                // An account or quota event may be the last before a pause: what is buffered goes out.
                Some(_) => {
                    if events.is_empty() {
                        let _ = out.flush();
                    }
                    continue;
                }
                None => break,
            },
            _ = &mut ctrl_c, if !cancelling => {
                cancelling = true;
                give_up.as_mut().reset(tokio::time::Instant::now() + Duration::from_secs(1));
                let _ = core.send(Command::Cancel { turn, target: None }).await;
                continue;
            }
            () = &mut give_up, if cancelling => break,
            _ = ticker.tick(), if progress_line => {
                let live: Vec<&Live> = panes.iter().map(|p| &p.live).collect();
                output::draw_progress(&opts.models, &live, started_at);
                continue;
            }
        };
        let idx = event.target.0 as usize;
        let Some(pane) = panes.get_mut(idx) else { continue };
        let mut event = event;
        gather_citations(pane, &mut event.kind);
        // `ask` never prompts: a call that needs approval is denied (unless --yes, where none
        // needs it), and the model is told so.
        if let EventKind::ToolCall { call, needs_confirmation: true } = &event.kind {
            pane.denied.insert(call.id.clone());
            let decision = Command::ToolDecision {
                turn,
                target: event.target,
                call_id: call.id.clone(),
                decision: ToolDecision::Deny,
            };
            let _ = core.send(decision).await;
        }
        if opts.json {
            let denied = matches!(&event.kind, EventKind::ToolCall { call, .. } if pane.denied.contains(&call.id));
            // A failed write (a closed pipe) is ignored here as for every line: the answers are
            // still saved, and the exit code says how they ended.
            if delta_writer.write(&mut out, &opts.models, idx, &event.kind).is_none()
                && let Some(line) = output::json_line(&opts.models[idx], idx, &event, denied)
            {
                let _ = writeln!(out, "{line}");
            }
        }
        if !opts.json
            && let EventKind::Queued { until, reason } = &event.kind
        {
            output::print_queued(&opts.models[idx], *until, reason);
        }
        let is_final = event.kind.is_final();
        let model = opts.models[idx].clone();
        let event = CoreEvent::Stream(event);
        room.on_event(&event);
        let CoreEvent::Stream(event) = event else { continue };
        absorb(pane, model, event.kind);
        if is_final {
            remaining -= 1;
            if let Some(line) = check_structured(pane, idx, opts.json) {
                let _ = writeln!(out, "{line}");
            }
            if !opts.json
                && let Some(o) = &pane.outcome
            {
                if progress_line {
                    output::clear_progress();
                }
                output::print_answer(&mut out, o, &pane.blocks);
            }
        }
        // Flush when the queue is momentarily empty: batches writes under load, stays live when idle.
        if events.is_empty() {
            let _ = out.flush();
        }
    }
    let mut analysis_ok = true;
    if let Some(analyst) = opts.analyze.as_deref().filter(|_| !cancelling) {
        let _ = out.flush();
        let structured = config
            .providers
            .resolve(analyst)
            .ok()
            .and_then(|r| runtime.estimator.catalog().get(&r.upstream_model).cloned())
            .is_some_and(|info| crate::core::compare::supports_structured_output(&info));
        analysis_ok = analysis::run(&mut room, &core, &mut events, &mut out, analyst, structured, opts.json).await;
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
                Some(ev @ CoreEvent::CostSettled { .. }) => {
                    room.on_event(&ev);
                    let CoreEvent::CostSettled { target, generation_id, cost, usage, .. } = ev else { continue };
                    let idx = target.0 as usize;
                    if let Some(pane) = panes.get_mut(idx)
                        && let Some(o) = pane.outcome.as_mut()
                        && o.summary.generation_id.as_deref() == Some(generation_id.as_str())
                    {
                        o.summary.cost = Some(cost.clone());
                        if usage.is_some() {
                            o.summary.usage.clone_from(&usage);
                        }
                    }
                    if opts.json && idx < n {
                        let line = output::cost_line(&opts.models[idx], idx, &generation_id, &cost, usage.as_ref());
                        let _ = writeln!(out, "{line}");
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
        output::clear_progress();
    }
    // The table adds up with the room's accounting, as the chatroom's sidebar and `usage` do.
    let finished: Vec<(&Outcome, output::Totals)> = panes
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let target = crate::core::protocol::TargetId(u32::try_from(i).ok()?);
            let answer = room.answer_for(turn, target)?;
            p.outcome.as_ref().map(|o| (o, output::totals(&answer.steps)))
        })
        .collect();
    if !opts.json {
        output::print_table(&mut out, &finished);
    }
    let _ = out.flush();
    if analysis_ok && finished.len() == n && finished.iter().all(|(o, _)| o.error.is_none() && !o.cancelled) {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

/// A finished answer of a model asked for JSON: checked, shown indented when it is what was
/// asked for, with a notice when not; with `--json`, a `structured` line saying which.
fn check_structured(pane: &mut Pane, idx: usize, json: bool) -> Option<serde_json::Value> {
    let format = pane.format.as_ref()?;
    let o = pane.outcome.as_mut().filter(|o| o.error.is_none() && !o.cancelled)?;
    let checked = crate::core::structured::check(format, &o.summary.text);
    let line = match &checked {
        Ok(value) => json!({"type": "structured", "model": o.model, "target": idx, "valid": true, "value": value}),
        Err(why) => json!({"type": "structured", "model": o.model, "target": idx, "valid": false, "error": why}),
    };
    match checked {
        Ok(value) => {
            if let Ok(pretty) = serde_json::to_string_pretty(&value) {
                o.summary.text = pretty;
            }
        }
        Err(why) => pane.blocks.push(Block::Notice(format!("Not the JSON asked for: {why}"))),
    }
    json.then_some(line)
}

/// Keep every step's sources: a final event's summary then lists all of the answer's, each URL
/// once and numbered in the order first cited (as the room and the exports do), not only the
/// last step's.
fn gather_citations(pane: &mut Pane, kind: &mut EventKind) {
    match kind {
        EventKind::StepFinished { summary } => {
            crate::core::room::add_citations(&mut pane.citations, &summary.citations)
        }
        EventKind::Finished { summary, .. } | EventKind::Failed { summary, .. } | EventKind::Cancelled { summary } => {
            crate::core::room::add_citations(&mut pane.citations, &summary.citations);
            summary.citations.clone_from(&pane.citations);
        }
        _ => {}
    }
}

/// Fold one event into its pane.
fn absorb(pane: &mut Pane, model: String, kind: EventKind) {
    let l = &mut pane.live;
    match kind {
        EventKind::Started { .. } => l.started = true,
        EventKind::Queued { .. } => l.queued = true,
        EventKind::TextDelta(t) => {
            l.queued = false;
            l.chars += t.len();
            l.tokens_seen = (l.chars / 4) as u64;
        }
        EventKind::Usage(u) => l.tokens_seen = u.completion_tokens,
        EventKind::ToolsUnsupported { message } | EventKind::Notice { message } => {
            pane.blocks.push(Block::Notice(message));
        }
        EventKind::StepFinished { summary } => {
            pane.blocks.push(Block::Text(summary.text.clone()));
            l.chars = 0;
        }
        EventKind::ToolCall { call, .. } => {
            let denied = pane.denied.contains(&call.id);
            pane.blocks.push(Block::Call { id: call.id, name: call.name, arguments: call.arguments, denied });
        }
        EventKind::ToolResult { call_id, output, is_error, .. } => {
            pane.blocks.push(Block::Result { id: call_id, output, is_error });
        }
        EventKind::Finished { reason, summary } => {
            l.done = true;
            let finish = reason.map(|r| r.as_str().to_owned());
            pane.outcome = Some(Outcome { model, summary: *summary, finish, error: None, cancelled: false });
        }
        EventKind::Failed { error, summary } => {
            l.done = true;
            pane.outcome =
                Some(Outcome { model, summary: *summary, finish: None, error: Some(error), cancelled: false });
        }
        EventKind::Cancelled { summary } => {
            l.done = true;
            pane.outcome = Some(Outcome { model, summary: *summary, finish: None, error: None, cancelled: true });
        }
        _ => {}
    }
}

/// `settings` as `model` is offered them: what its catalog entry says it does not take is
/// dropped, each with a notice saying so. Models without a catalog entry (direct and local
/// providers, unlisted ids) get everything as asked.
fn offered_settings(
    config: &Config,
    estimator: &crate::core::catalog::CatalogEstimator,
    model: &str,
    settings: &ModelSettings,
) -> (ModelSettings, Vec<String>) {
    let mut settings = settings.clone();
    let mut notices = Vec::new();
    let resolved = config.providers.resolve(model).ok();
    if settings.web_search == Some(true)
        && let Some(why) = resolved
            .as_ref()
            .and_then(|r| crate::core::provider::request::web_search_refusal(r.provider.kind, &r.provider_name, model))
    {
        settings.web_search = None;
        notices.push(format!("{why}: asked without it"));
    }
    let entry = resolved.and_then(|r| estimator.entry_for(&r.provider_name, &r.upstream_model));
    let Some(entry) = entry else { return (settings, notices) };
    if let Some(why) = settings.response_format.as_ref().and_then(|f| crate::core::structured::refusal(&entry, f)) {
        settings.response_format = None;
        notices.push(format!("{why}: asked without it"));
    }
    if let Some(why) = settings.reasoning_effort.as_deref().and_then(|e| entry.reasoning_refusal(e)) {
        settings.reasoning_effort = None;
        notices.push(format!("{why}: asked without a reasoning effort"));
    }
    (settings, notices)
}

/// What sending will cost one target, before any output.
struct Estimate {
    /// Prompt tokens (a heuristic count), the attachments' estimated tokens included.
    tokens: u64,
    /// The prompt's cost with one web search when searching; `None` when the price is unknown.
    cost: Option<rust_decimal::Decimal>,
    attachment_tokens: u64,
    /// The search's share of `cost` (one search at the catalog's `web_search` price).
    web_search_cost: Option<rust_decimal::Decimal>,
}

/// Each target's estimated prompt tokens and prompt cost before sending (a heuristic token
/// count, priced from the catalog or the config's price table), with the attachments' tokens
/// and the web search's price included and also given apart.
fn pre_send_estimates(
    config: &Config,
    estimator: &crate::core::catalog::CatalogEstimator,
    opts: &AskOptions,
) -> Vec<Estimate> {
    let mut messages = Vec::new();
    if let Some(system) = &opts.system {
        messages.push(ChatMessage::system(system.clone()));
    }
    messages.push(ChatMessage::user(opts.prompt.clone()));
    // The tools' definitions are input too (a dozen MCP schemas are thousands of tokens).
    let offered = config.tools.specs(&opts.tools).unwrap_or_default();
    let text_tokens =
        crate::core::catalog::estimate_prompt_tokens(&messages) + crate::core::catalog::estimate_tool_tokens(&offered);
    opts.models
        .iter()
        .map(|model| {
            let resolved = config.providers.resolve(model).ok();
            // Only the files this model takes count (the router leaves the others out).
            let modalities = resolved
                .as_ref()
                .and_then(|r| estimator.entry_for(&r.provider_name, &r.upstream_model))
                .map(|e| e.input_modalities);
            let taken: Vec<_> = opts
                .attachments
                .iter()
                .filter(|a| {
                    modalities
                        .as_ref()
                        .is_none_or(|m| m.is_empty() || m.iter().any(|x| x == crate::core::attach::modality(a)))
                })
                .cloned()
                .collect();
            let attachment_tokens = crate::core::attach::estimate_tokens(&taken);
            let tokens = text_tokens + attachment_tokens;
            // Web search is priced only where it is sent (OpenRouter); `offered_settings` says so.
            let web = opts.settings.web_search == Some(true)
                && resolved
                    .as_ref()
                    .is_some_and(|r| r.provider.kind == crate::core::provider::ProviderKind::Openrouter);
            let pricing = resolved.and_then(|r| estimator.pricing_for(&r.provider_name, &r.upstream_model));
            let send = |web| pricing.as_ref().and_then(|p| crate::core::catalog::estimate_send_cost(p, tokens, web));
            let cost = send(web);
            let web_search_cost = if web { cost.zip(send(false)).and_then(|(a, b)| a.checked_sub(b)) } else { None };
            Estimate { tokens, cost, attachment_tokens, web_search_cost }
        })
        .collect()
}
