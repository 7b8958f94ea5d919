//! Cost back-fill from OpenRouter's `GET /generation` (the simulator models its 404 lag): a
//! stream that ends without a cost finishes at once, then `CostSettled` brings the real cost
//! and the ledger row is rewritten; providers other than OpenRouter are never polled.

mod common;

use std::time::Duration;

use common::*;
use roundtable::core::protocol::{
    Command, CoreEvent, CostSource, EventKind, StreamEvent, TargetId, TurnId, TurnRequest,
};
use roundtable::core::router::BackfillPolicy;
use roundtable::core::store::{self, GroupBy, Store};
use roundtable::sim::{SimConfig, SimServer};

/// Events until `Stopped`, after asking the core to shut down once every target is final.
async fn run_to_stop(
    core: &roundtable::core::router::CoreHandle,
    events: &mut tokio::sync::mpsc::Receiver<CoreEvent>,
    targets: usize,
) -> Vec<CoreEvent> {
    let mut all = Vec::new();
    let mut finals = 0;
    let mut shut = false;
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(30), events.recv()).await.expect("events").expect("core");
        if let CoreEvent::Stream(StreamEvent { kind, .. }) = &ev
            && kind.is_final()
        {
            finals += 1;
        }
        let stopped = matches!(ev, CoreEvent::Stopped);
        all.push(ev);
        if stopped {
            return all;
        }
        if finals == targets && !shut {
            shut = true;
            core.send(Command::Shutdown).await.unwrap();
        }
    }
}

#[tokio::test]
async fn missing_cost_is_settled_from_generation_and_the_ledger_row_rewritten() {
    // A lag longer than one retry interval: the first lookups get 404 and are retried.
    let sim = SimServer::start(SimConfig { generation_lag: Duration::from_millis(250), ..SimConfig::default() }, 0)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = store::db_path(dir.path());
    let mut cfg = core_config(&sim.base_url());
    let st = Store::open(&path).unwrap();
    cfg.store = Some(st.clone());
    cfg.backfill = BackfillPolicy { attempts: 10, interval: Duration::from_millis(100) };
    let (core, mut events) = start_core(cfg);
    let targets = vec![
        target(0, "openai/gpt-4o-mini@nousage@tokens=30@tps=0@ttft=0", "hi"),
        target(1, "openai/gpt-4o-mini@tokens=30@tps=0@ttft=0", "hi"),
    ];
    core.send(Command::Submit(TurnRequest { turn: TurnId(3), targets, room: None, ..Default::default() }))
        .await
        .unwrap();
    let all = run_to_stop(&core, &mut events, 2).await;

    let final_pos = all
        .iter()
        .position(|e| matches!(e, CoreEvent::Stream(s) if s.target == TargetId(0) && s.kind.is_final()))
        .expect("target 0 final");
    let CoreEvent::Stream(StreamEvent { kind: EventKind::Finished { summary, .. }, .. }) = &all[final_pos] else {
        panic!("{:?}", all[final_pos])
    };
    assert!(summary.usage.is_none(), "the stream had no usage chunk");
    assert_eq!(summary.cost.as_ref().map(|c| c.source), Some(CostSource::Unknown), "final not delayed");
    let generation = summary.generation_id.clone().expect("generation id");

    let settled: Vec<_> = all
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match e {
            CoreEvent::CostSettled { turn, target, generation_id, cost, usage } => {
                Some((i, *turn, *target, generation_id.clone(), cost.clone(), usage.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(settled.len(), 1, "only the stream without a cost is back-filled: {settled:?}");
    let (pos, turn, target, gen_id, cost, usage) = settled.into_iter().next().unwrap();
    assert!(pos > final_pos, "settles after the final event");
    assert_eq!((turn, target, gen_id), (TurnId(3), TargetId(0), generation));
    assert_eq!(cost.source, CostSource::Reported);
    let usage = usage.expect("the record's token counts");
    assert_eq!(usage.completion_tokens, 30);
    // The simulator prices gpt-4o-mini at 0.15/M in, 0.60/M out.
    let expected = rust_decimal::Decimal::new(15, 8) * rust_decimal::Decimal::from(usage.prompt_tokens)
        + rust_decimal::Decimal::new(60, 8) * rust_decimal::Decimal::from(30);
    assert_eq!(cost.usd.map(|d| d.normalize()), Some(expected.normalize()));
    assert!(sim.stats().requests > 3, "lookups were retried through the 404 lag");

    // The ledger row now carries the settled cost and tokens: no unknown costs remain.
    let rows = tokio::task::spawn_blocking(move || {
        let _keep = dir;
        st.flush().unwrap();
        store::usage_summary(&path, 0, GroupBy::Model).unwrap()
    })
    .await
    .unwrap();
    let row = rows.iter().find(|r| r.group.contains("@nousage")).expect("row of the nousage request");
    assert_eq!(row.unknown_cost, 0, "{row:?}");
    assert_eq!(row.cost_usd.normalize(), expected.normalize());
    assert_eq!(row.completion_tokens, 30);
    assert!(!row.estimated);
    sim.shutdown().await;
}

#[tokio::test]
async fn reported_costs_and_other_providers_are_not_polled() {
    let sim = sim().await;
    let mut cfg = core_config(&sim.base_url());
    cfg.backfill = BackfillPolicy { attempts: 3, interval: Duration::from_millis(10) };
    let (core, mut events) = start_core(cfg);
    let targets = vec![
        target(0, "a@tokens=10@tps=0@ttft=0", "hi"),
        // An OpenAI-compatible provider (pointed at the simulator too): there is no
        // `/generation` to ask, so its unknown cost stays unknown.
        target(1, "ollama:b@nousage@tokens=10@tps=0@ttft=0", "hi"),
    ];
    core.send(Command::Submit(TurnRequest { turn: TurnId(1), targets, room: None, ..Default::default() }))
        .await
        .unwrap();
    let all = run_to_stop(&core, &mut events, 2).await;
    assert!(!all.iter().any(|e| matches!(e, CoreEvent::CostSettled { .. })));
    let generation_lookups = sim.stats().requests - sim.stats().chat_requests;
    // Only the account refresh (`/key`, `/credits`) besides the chats.
    assert!(generation_lookups <= 4, "{:?}", sim.stats());
    sim.shutdown().await;
}
