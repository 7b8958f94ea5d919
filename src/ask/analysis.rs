//! `ask --analyze MODEL`: after the answers, an analyst model compares them (agreements,
//! contradictions, errors, the best answer) through the room; its text streams to stdout, or as
//! `analysis_delta` lines and one `analysis` object with `--json`.

use std::io::Write;

use rust_decimal::prelude::ToPrimitive;
use serde_json::json;
use tokio::sync::mpsc;

use crate::core::compare::{AnalystReply, parse_reply};
use crate::core::protocol::{CoreEvent, EventKind};
use crate::core::room::{ANALYST_TARGET, Room, Totals};
use crate::core::router::CoreHandle;

/// Ask `model` for the analysis and stream it; false when it could not be had.
pub(super) async fn run(
    room: &mut Room,
    core: &CoreHandle,
    events: &mut mpsc::Receiver<CoreEvent>,
    out: &mut impl Write,
    model: &str,
    structured: bool,
    json: bool,
) -> bool {
    let (commands, tokens) = match room.analyze(model, structured) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("roundtable: no analysis: {e}");
            return false;
        }
    };
    if !json {
        let form = if structured { "structured" } else { "plain text" };
        let _ = writeln!(out, "── analysis by {model} ({form}, ~{tokens} prompt tokens) ──");
    }
    for c in commands {
        if core.send(c).await.is_err() {
            eprintln!("roundtable: the routing core stopped before the analysis could be sent.");
            return false;
        }
    }
    let turn = room.head.unwrap_or_default();
    while let Some(event) = events.recv().await {
        let CoreEvent::Stream(ev) = &event else { continue };
        if ev.target != ANALYST_TARGET {
            continue;
        }
        if let EventKind::TextDelta(t) = &ev.kind {
            if json {
                let _ = writeln!(out, "{}", json!({"type": "analysis_delta", "model": model, "text": t}));
            } else {
                let _ = write!(out, "{}", crate::core::sanitize::strip_controls(t));
            }
        }
        let last = ev.kind.is_final();
        room.on_event(&event);
        let _ = out.flush();
        if last {
            break;
        }
    }
    let Some(a) = room.analysis_of(turn) else { return false };
    let figures = Totals::of(&a.steps);
    let step = a.steps.last();
    let parsed = match parse_reply(&a.text) {
        AnalystReply::Structured(p) => Some(p),
        _ => None,
    };
    if json {
        let cost = step.and_then(|s| s.cost.clone());
        let v = json!({"type": "analysis", "model": model, "text": a.text,
            "structured": parsed, "usage": step.and_then(|s| s.usage.clone()),
            "cost_usd": cost.as_ref().and_then(|c| c.usd).and_then(|d| d.to_f64()),
            "cost_usd_exact": cost.as_ref().and_then(|c| c.usd).map(|d| d.normalize().to_string()),
            "cost_source": cost.map(|c| c.source), "error": a.error});
        let _ = writeln!(out, "{v}");
    } else {
        if let Some(p) = &parsed {
            let _ = writeln!(out, "\n\n{}", p.to_text());
        }
        if let Some(e) = &a.error {
            let _ = writeln!(out, "\n✗ analysis failed: {}", e.message);
        }
        let _ = writeln!(out, "\n(analysis: {} · {})\n", model, crate::present::usd(figures.cost));
    }
    a.error.is_none()
}
