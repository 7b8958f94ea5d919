//! Exports the room as Markdown (readable, one section per turn with every model's answer) or
//! JSON (each pane's thread and totals), built from the in-memory transcript.

use serde_json::json;

use crate::ui::app::App;
use crate::ui::pane::{Entry, Outcome};
use crate::ui::pane_view::footer_text;

pub fn markdown(app: &App) -> String {
    let mut out = String::from("# roundtable room\n\n");
    let models: Vec<&str> = app.panes.iter().map(|p| p.model.as_str()).collect();
    out.push_str(&format!("Models: {}\n", models.join(", ")));
    // Turns in order; the user prompt once, then each pane's answer for that turn.
    let mut turns: Vec<_> = app
        .panes
        .iter()
        .flat_map(|p| p.entries.iter())
        .filter_map(|e| match e {
            Entry::User { turn, body } => Some((*turn, body.text().to_string())),
            _ => None,
        })
        .collect();
    turns.sort_by_key(|(t, _)| *t);
    turns.dedup_by_key(|(t, _)| *t);
    for (turn, prompt) in turns {
        out.push_str(&format!("\n## You\n\n{prompt}\n"));
        for p in &app.panes {
            for e in &p.entries {
                if let Entry::Answer(a) = e
                    && a.turn == turn
                {
                    out.push_str(&format!("\n### {}\n\n{}\n", p.model, a.body.text()));
                    if let Outcome::Failed(m) = &a.outcome {
                        out.push_str(&format!("\n> error: {m}\n"));
                    }
                    if let Some(f) = &a.footer {
                        out.push_str(&format!("\n_{}_\n", footer_text(f).trim_start_matches("── ")));
                    }
                }
            }
        }
    }
    out
}

pub fn json(app: &App) -> String {
    let panes: Vec<_> = app
        .panes
        .iter()
        .map(|p| {
            json!({
                "model": p.model,
                "served_model": p.served_model,
                "upstream_provider": p.upstream,
                "settings": p.settings,
                "thread": p.thread,
                "totals": {
                    "requests": p.totals.requests,
                    "prompt_tokens": p.totals.prompt_tokens,
                    "completion_tokens": p.totals.completion_tokens,
                    "cost_usd": p.totals.cost.to_string(),
                    "cost_estimated": p.totals.estimated,
                    "requests_without_cost": p.totals.unknown,
                },
            })
        })
        .collect();
    let doc = json!({ "room": app.room.map(|r| r.0), "panes": panes });
    serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".into())
}
