//! `--resume` rebuilds what the live room showed: a room streamed through the real core against
//! the simulator (a tool loop, a model without tools, a failing model) is stored, read back,
//! and the resumed panes carry the same answers, tool calls, footers and totals.

mod common;

use std::sync::Arc;
use std::time::Duration;

use roundtable::core::catalog::{Catalog, CatalogEstimator, PriceTable};
use roundtable::core::protocol::{Command, CoreEvent};
use roundtable::core::router::{self, BackfillPolicy};
use roundtable::core::store::{self, Store};
use roundtable::sim::{SimConfig, SimServer};
use roundtable::ui::app::{App, AppInit, Effect};
use roundtable::ui::pane::{Entry, Outcome, Pane};
use roundtable::ui::pane_view::footer_text;

const MODELS: [&str; 4] = [
    "openai/gpt-4o-mini",
    "google/gemma-3-27b-it:free",
    "broken/model@500",
    "flaky/model@midstream@tokens=400@tps=0@ttft=0",
];

fn app(models: Vec<String>, store: Option<Store>, resume: Option<store::StoredRoom>, base_url: &str) -> App {
    let config = common::config_for(base_url);
    let theme = roundtable::ui::theme::load("dark", None, true).unwrap();
    App::new(AppInit {
        store,
        resume,
        no_color: true,
        ..AppInit::new(models, theme, config.providers.clone(), std::env::temp_dir())
    })
}

/// What a pane shows, in comparable form: per answer its text, outcome, tool calls with
/// results, and footer line; then the pane's totals.
fn shown(pane: &Pane) -> (Vec<String>, String) {
    let answers = pane
        .entries
        .iter()
        .filter_map(|e| match e {
            Entry::Answer(a) => Some(format!(
                "{:?} | {:?} | {:?} | {}",
                a.body.text(),
                a.outcome,
                a.tools.iter().map(|t| (&t.name, &t.arguments, t.result.as_ref().map(|r| &r.0))).collect::<Vec<_>>(),
                a.footer.as_ref().map(footer_text).unwrap_or_default()
            )),
            _ => None,
        })
        .collect();
    (answers, format!("{:?}", pane.totals))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_room_shows_the_same_answers_tool_calls_footers_and_totals() {
    let fast = SimConfig {
        default_tokens: Some(60),
        default_tps: Some(0.0),
        default_ttft_ms: Some(0),
        generation_lag: Duration::from_millis(50),
        ..SimConfig::default()
    };
    let sim = SimServer::start(fast, 0).await.expect("simulator");
    let dir = tempfile::tempdir().unwrap();
    let path = store::db_path(dir.path());
    let st = Store::open(&path).unwrap();
    let mut cfg = common::core_config(&sim.base_url());
    cfg.store = Some(st.clone());
    cfg.backfill = BackfillPolicy { attempts: 10, interval: Duration::from_millis(100) };
    let providers = cfg.providers.clone();
    cfg.capabilities = Some(Arc::new(CatalogEstimator::new(Catalog::snapshot(), PriceTable::default(), &providers)));
    let (core, mut events) = router::start(cfg).unwrap();

    let mut live = app(MODELS.iter().map(|m| m.to_string()).collect(), Some(st.clone()), None, &sim.base_url());
    live.run_command_line("/tools calculator,current_time");
    for prompt in ["What time is it in Tokyo, and what is 17*23?", "And in Paris?"] {
        live.start_turn(prompt);
        for effect in live.effects.drain(..) {
            if let Effect::Core(cmd) = effect {
                core.send(cmd).await.unwrap();
            }
        }
        let mut finals = 0;
        while finals < MODELS.len() {
            let event = tokio::time::timeout(Duration::from_secs(30), events.recv()).await.unwrap().unwrap();
            if let CoreEvent::Stream(e) = &event
                && e.kind.is_final()
            {
                finals += 1;
            }
            live.on_core(event);
        }
    }
    // Costs fetched after a stream (the failed one's, from /generation) arrive before `Stopped`.
    core.send(Command::Shutdown).await.unwrap();
    loop {
        let event = tokio::time::timeout(Duration::from_secs(30), events.recv()).await.unwrap().unwrap();
        if matches!(event, CoreEvent::Stopped) {
            break;
        }
        live.on_core(event);
    }
    tokio::task::spawn_blocking({
        let st = st.clone();
        move || st.flush().unwrap()
    })
    .await
    .unwrap();

    let transcript = tokio::task::spawn_blocking(move || {
        roundtable::core::room::load(&path, None, true).unwrap().expect("a stored room")
    })
    .await
    .unwrap();
    let resumed = app(Vec::new(), None, Some(transcript), &sim.base_url());
    assert_eq!(resumed.view.panes.len(), MODELS.len());
    for (before, after) in live.view.panes.iter().zip(&resumed.view.panes) {
        let (live_answers, live_totals) = shown(before);
        let (resumed_answers, resumed_totals) = shown(after);
        assert_eq!(live_answers.len(), 2, "{}: one answer per turn live: {live_answers:#?}", before.model);
        assert_eq!(resumed_answers.len(), 2, "{}: one answer per turn resumed: {resumed_answers:#?}", after.model);
        // The room is replayed from its records: everything matches exactly, finish reasons and
        // error messages included.
        assert_eq!(live_answers, resumed_answers, "{}", before.model);
        assert_eq!(live_totals, resumed_totals, "{}: totals", before.model);
        assert_eq!(before.upstream, after.upstream, "{}: upstream provider", before.model);
    }

    // The tool model's resumed answer has both calls with their results, and its footer.
    let tool_pane = &resumed.view.panes[0];
    let Some(Entry::Answer(first)) = tool_pane.entries.get(1) else { panic!("no answer") };
    let names: Vec<&str> = first.tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["calculator", "current_time"]);
    assert_eq!(first.tools[0].result.as_ref().map(|r| r.0.as_str()), Some("391"));
    assert!(first.footer.as_ref().is_some_and(|f| f.usage.is_some() && f.cost.usd.is_some()));
    // Turn 1 was a tool call and an answer (two ledger rows); turn 2 needed no tool (one).
    assert_eq!(tool_pane.totals.requests, 3, "one request per step");

    // The failing models say why, from the ledger.
    let failed: Vec<&Outcome> = resumed.view.panes[2]
        .entries
        .iter()
        .filter_map(|e| if let Entry::Answer(a) = e { Some(&a.outcome) } else { None })
        .collect();
    assert!(failed.iter().all(|o| matches!(o, Outcome::Failed(m) if !m.is_empty())), "the error is said: {failed:?}");
    let flaky = &resumed.view.panes[3];
    let Some(Entry::Answer(partial)) = flaky.entries.get(1) else { panic!("no answer") };
    assert!(!partial.body.text().is_empty(), "the partial text before the mid-stream error is kept");
    assert!(matches!(&partial.outcome, Outcome::Failed(m) if !m.is_empty()), "{:?}", partial.outcome);
    sim.shutdown().await;
}
