//! A whole room as Markdown (turns with every answer nested under them, a model's own headings
//! demoted below the turn's) and as JSON: what `/export` writes and `rooms show` prints, from
//! the same core room.

use serde_json::{Value, json};

use crate::core::protocol::{Citation, Cost, TurnId, Usage};
use crate::core::room::{Answer, AnswerState, Footer, Room, Totals, final_text};
use crate::core::sanitize::strip_controls;

/// The footer line under an answer: "120 → 340 tok · $0.0012 · ttft 850 ms · 42 tok/s · stop".
pub fn footer_text(f: &Footer) -> String {
    let mut parts = Vec::new();
    if let Some(u) = &f.usage {
        parts.push(format!("{} → {} tok", super::tokens(u.prompt_tokens), super::tokens(u.completion_tokens)));
        if u.reasoning_tokens > 0 {
            parts.push(format!("{} reasoning", super::tokens(u.reasoning_tokens)));
        }
        parts.extend(cached_text(u));
        parts.extend(searches_text(u));
    } else {
        parts.push("tokens ?".into());
    }
    let cost = super::cost(&f.cost);
    parts.push(if f.cost.source == crate::core::protocol::CostSource::Estimated {
        format!("{cost} est.")
    } else {
        cost
    });
    if let Some(t) = f.ttft_ms {
        parts.push(format!("ttft {}", super::millis(t)));
    }
    if let Some(r) = f.tokens_per_second {
        parts.push(super::rate(r));
    }
    if let Some(finish) = &f.finish {
        parts.push(super::finish(finish));
    }
    parts.join(" · ")
}

/// Cached prompt tokens and what caching saved, where the upstream reported cached tokens:
/// "1.2k cached, saved ~$0.0009" (`~`: estimated from catalog prices), "300 cached, cache
/// writes cost $0.0002" when writing the cache cost more than reading it saved.
pub fn cached_text(u: &Usage) -> Option<String> {
    if u.cached_tokens == 0 && u.cache_write_tokens == 0 {
        return None;
    }
    let mut text = format!("{} cached", super::tokens(u.cached_tokens));
    match u.cache_discount.as_ref().and_then(|c| c.usd.map(|usd| (usd, c))) {
        Some((usd, c)) if usd.is_sign_negative() && !usd.is_zero() => {
            let extra = Cost { usd: Some(-usd), source: c.source };
            text.push_str(&format!(", cache writes cost {}", super::cost(&extra)));
        }
        Some((usd, c)) if !usd.is_zero() => text.push_str(&format!(", saved {}", super::cost(c))),
        _ => {}
    }
    Some(text)
}

/// The web searches of a request and what they cost: "1 web search ~$0.01".
pub fn searches_text(u: &Usage) -> Option<String> {
    if u.web_search_requests == 0 {
        return None;
    }
    let mut text = searches(u.web_search_requests);
    if let Some(c) = u.web_search_cost.as_ref().filter(|c| c.usd.is_some()) {
        text.push_str(&format!(" {}", super::cost(c)));
    }
    Some(text)
}

/// "1 web search", "3 web searches".
pub fn searches(n: u64) -> String {
    if n == 1 { "1 web search".into() } else { format!("{n} web searches") }
}

/// The numbered references under an answer: "[1] Title — https://…" (control-stripped: they
/// come from the server).
pub fn citation_lines(citations: &[Citation]) -> Vec<String> {
    citations
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let url = strip_controls(&c.url);
            match c.title.as_deref().map(strip_controls).filter(|t| !t.trim().is_empty()) {
                Some(title) => format!("[{}] {title} — {url}", i + 1),
                None => format!("[{}] {url}", i + 1),
            }
        })
        .collect()
}

/// Demote every ATX heading of a model's answer by `by` levels (capped at 6), outside code
/// fences, so an answer's `#` never outranks the turn it sits under.
fn demote_headings(text: &str, by: usize) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut fence: Option<String> = None;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let marker: String = trimmed.chars().take_while(|c| *c == '`' || *c == '~').collect();
        if marker.len() >= 3 && (marker.chars().all(|c| c == '`') || marker.chars().all(|c| c == '~')) {
            match &fence {
                None => fence = Some(marker.clone()),
                Some(open) if marker.starts_with(open.as_str()) => fence = None,
                Some(_) => {}
            }
            out.push_str(line);
            continue;
        }
        let hashes = trimmed.chars().take_while(|c| *c == '#').count();
        let is_heading = fence.is_none()
            && (1..=6).contains(&hashes)
            && trimmed[hashes..].starts_with([' ', '\t', '\n'])
            && line.len() - trimmed.len() <= 3;
        if is_heading {
            let level = (hashes + by).min(6);
            out.push_str(&"#".repeat(level));
            out.push_str(&trimmed[hashes..]);
        } else {
            out.push_str(line);
        }
    }
    out
}

fn state_word(a: &Answer) -> &'static str {
    match a.state {
        AnswerState::Done => "done",
        AnswerState::Failed => "error",
        AnswerState::Cancelled => "stopped",
        AnswerState::Interrupted => "interrupted",
        AnswerState::Pending => "waiting",
        _ => "streaming",
    }
}

/// The room as Markdown: a heading per turn of the current branch, the prompt, then each
/// pane's answers under it with their figures and errors.
pub fn markdown(room: &Room) -> String {
    let title = if room.title.is_empty() { "roundtable room" } else { room.title.as_str() };
    let mut out = format!("# {}\n\n", title.replace('\n', " "));
    let models: Vec<String> =
        room.panes.iter().map(|p| if p.removed { format!("{} (removed)", p.model) } else { p.model.clone() }).collect();
    out.push_str(&format!("Models: {}\n", models.join(", ")));
    let (at, n) = room.branch_position();
    if n > 1 {
        out.push_str(&format!("Branch {at} of {n}\n"));
    }
    for turn in room.path() {
        out.push_str(&format!("\n## Turn {}\n\n{}\n", turn.id.0, turn.prompt.trim_end()));
        if let Some(files) = attachments_text(&turn.attachments) {
            out.push_str(&format!("\nAttached: {files}\n"));
        }
        for pane in &room.panes {
            for a in room.attempts(turn.id, pane.target) {
                let retry = if a.is_retry() { format!(" (retry {})", a.key.attempt) } else { String::new() };
                out.push_str(&format!("\n### {}{retry}\n\n", a.model));
                for x in &a.tools {
                    out.push_str(&format!("> tool call `{}` {}\n", x.call.name, x.call.arguments.replace('\n', " ")));
                    if let Some((result, is_error)) = &x.result {
                        let first: String = result.lines().next().unwrap_or("").chars().take(200).collect();
                        let kind = if *is_error { "error" } else { "result" };
                        out.push_str(&format!("> {kind}: {first}\n"));
                    }
                }
                if !a.tools.is_empty() {
                    out.push('\n');
                }
                let body = demote_headings(&a.text, 3);
                out.push_str(body.trim_end());
                out.push('\n');
                if !a.citations.is_empty() {
                    out.push_str("\nSources:\n\n");
                    for line in citation_lines(&a.citations) {
                        out.push_str(&format!("- {line}\n"));
                    }
                }
                if let Some(e) = &a.error {
                    out.push_str(&format!("\n> error ({}): {}\n", e.kind, e.message));
                } else if a.state == AnswerState::Interrupted {
                    out.push_str("\n> interrupted: roundtable closed while this answer streamed\n");
                }
                match a.footer() {
                    Some(f) => out.push_str(&format!("\n_{}_\n", footer_text(&f))),
                    None => out.push_str(&format!("\n_{}_\n", state_word(a))),
                }
            }
        }
    }
    let t = room.totals().room;
    out.push_str(&format!("\n---\n\nTotal: {} requests · {}\n", t.requests, totals_text(&t)));
    out
}

/// "img.png (image/png, 68 B, ~1,000 tok est.)" for each file sent with a turn; `None` for none.
fn attachments_text(files: &[crate::core::protocol::Attachment]) -> Option<String> {
    if files.is_empty() {
        return None;
    }
    let each: Vec<String> = files
        .iter()
        .map(|a| {
            let tokens = crate::core::attach::estimate_tokens(std::slice::from_ref(a));
            format!(
                "{} ({}, {}, ~{} tok est.)",
                strip_controls(&a.name),
                a.mime,
                super::bytes(a.bytes),
                super::tokens(tokens)
            )
        })
        .collect();
    Some(each.join(", "))
}

fn totals_text(t: &Totals) -> String {
    let mark = if t.estimated > 0 { "~" } else { "" };
    let unknown = if t.unknown > 0 { format!(" (+{} without a known cost)", t.unknown) } else { String::new() };
    format!(
        "{} → {} tok · {mark}{}{unknown}",
        super::tokens(t.prompt_tokens),
        super::tokens(t.completion_tokens),
        super::usd(t.cost)
    )
}

fn totals_json(t: &Totals) -> Value {
    json!({"requests": t.requests, "prompt_tokens": t.prompt_tokens, "completion_tokens": t.completion_tokens,
           "cost_usd": t.cost.normalize().to_string(), "cost_estimated_requests": t.estimated,
           "requests_without_cost": t.unknown})
}

fn answer_json(a: &Answer) -> Value {
    let steps: Vec<Value> = a
        .steps
        .iter()
        .map(|s| {
            json!({"generation_id": s.generation_id, "usage": s.usage,
                   "cost_usd": s.cost.as_ref().and_then(|c| c.usd).map(|d| d.normalize().to_string()),
                   "cost_source": s.cost.as_ref().map(|c| c.source)})
        })
        .collect();
    let footer = a.footer();
    json!({
        "turn": a.key.turn.0, "pane": a.key.target.0, "attempt": a.key.attempt, "model": a.model,
        "state": state_word(a), "finish_reason": a.finish, "text": a.text, "final_text": final_text(a),
        "reasoning": a.reasoning,
        "error": a.error,
        "served_model": a.served_model, "upstream_provider": a.upstream_provider,
        "ttft_ms": a.ttft_ms, "tokens_per_second": a.tokens_per_second,
        "usage": footer.as_ref().and_then(|f| f.usage.clone()),
        "cost_usd": footer.as_ref().and_then(|f| f.cost.usd).map(|d| d.normalize().to_string()),
        "cost_source": footer.as_ref().map(|f| f.cost.source),
        "totals": totals_json(&Totals::of(&a.steps)),
        "steps": steps,
        "tool_calls": a.tools,
        "notices": a.notices,
        "citations": a.citations,
    })
}

/// The whole room as JSON: panes with settings, every turn (all branches) and every answer.
pub fn json(room: &Room) -> Value {
    let totals = room.totals();
    let panes: Vec<Value> = room
        .panes
        .iter()
        .map(|p| {
            json!({"pane": p.target.0, "model": p.model, "settings": p.settings, "tools": p.tools,
                   "removed": p.removed,
                   "totals": totals_json(&totals.panes.get(&p.target).cloned().unwrap_or_default())})
        })
        .collect();
    let path: Vec<u64> = room.path().iter().map(|t| t.id.0).collect();
    let turns: Vec<Value> = room
        .turns
        .iter()
        .map(|t| {
            let answers: Vec<Value> = room.answers.iter().filter(|a| a.key.turn == t.id).map(answer_json).collect();
            let files: Vec<Value> = t
                .attachments
                .iter()
                .map(|a| {
                    json!({"name": a.name, "path": a.path, "mime": a.mime, "bytes": a.bytes,
                           "estimated_tokens": crate::core::attach::estimate_tokens(std::slice::from_ref(a))})
                })
                .collect();
            json!({"turn": t.id.0, "parent": t.parent.map(|p| p.0), "prompt": t.prompt, "attachments": files,
                   "to_panes": t.targets.as_ref().map(|v| v.iter().map(|x| x.0).collect::<Vec<_>>()),
                   "at_ms": t.at_ms, "on_current_branch": path.contains(&t.id.0), "answers": answers})
        })
        .collect();
    let adoptions: Vec<Value> =
        room.adoptions.iter().map(|k| json!({"turn": k.turn.0, "pane": k.target.0, "attempt": k.attempt})).collect();
    let notices: Vec<Value> = room
        .notices
        .iter()
        .map(|n| json!({"after_turn": n.after.map(|t: TurnId| t.0), "pane": n.target.map(|t| t.0), "text": n.text}))
        .collect();
    json!({
        "id": room.id.map(|r| r.0), "title": room.title, "headless": room.headless,
        "head_turn": room.head.map(|t| t.0), "panes": panes, "turns": turns,
        "adoptions": adoptions, "notices": notices,
        "totals": totals_json(&totals.room),
        "models": totals.models.iter().map(|(m, t)| json!({"model": m, "totals": totals_json(t)})).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::{demote_headings, footer_text};
    use crate::core::protocol::{Cost, CostSource};
    use crate::core::room::Footer;

    #[test]
    fn an_answer_stopped_at_its_token_limit_says_it_was_cut() {
        let footer = |finish: &str| Footer {
            usage: None,
            cost: Cost { usd: None, source: CostSource::Unknown },
            ttft_ms: None,
            tokens_per_second: None,
            finish: Some(finish.into()),
        };
        assert!(footer_text(&footer("length")).ends_with("cut (length)"), "{}", footer_text(&footer("length")));
        assert!(footer_text(&footer("stop")).ends_with("· stop"));
        assert!(crate::ui::pane_view::footer_text(&footer("length")).ends_with("cut (length)"));
    }

    #[test]
    fn headings_are_demoted_outside_code() {
        let text = "# Title\ntext\n```md\n# not a heading\n```\n### Deep\n####### seven\n";
        assert_eq!(
            demote_headings(text, 3),
            "#### Title\ntext\n```md\n# not a heading\n```\n###### Deep\n####### seven\n"
        );
    }
}
