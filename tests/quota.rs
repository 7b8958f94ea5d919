//! The shared quota limiter against the simulator's real free-tier enforcement: pacing many
//! concurrent `:free` requests with zero 429s, refusing past the daily cap before sending, and
//! learning the account's figures from `GET /key`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use roundtable::core::error::ErrorKind;
use roundtable::core::protocol::{CoreEvent, EventKind};
use roundtable::core::quota::{Limiter, MemoryBackend, QuotaBackend, QuotaConfig};
use roundtable::core::sim::{SimConfig, SimServer};

fn quota_config() -> QuotaConfig {
    QuotaConfig { openrouter_free_per_minute: 20, openrouter_free_per_day: 50, limits: Default::default() }
}

async fn wait_for_account(events: &mut tokio::sync::mpsc::Receiver<CoreEvent>) {
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(10), events.recv()).await.unwrap().unwrap();
        if matches!(ev, CoreEvent::Account(_)) {
            return;
        }
    }
}

#[tokio::test]
async fn twenty_five_free_requests_are_paced_with_zero_429s() {
    let window = Duration::from_millis(1500);
    let sim = SimServer::start(SimConfig { free_window: window, ..SimConfig::default() }, 0).await.unwrap();
    let backend: Arc<dyn QuotaBackend> = Arc::new(MemoryBackend::default());
    let mut cfg = core_config(&sim.base_url());
    cfg.limiter = Some(Limiter::new(quota_config(), backend).with_minute(window));
    let (core, mut events) = start_core(cfg);
    wait_for_account(&mut events).await;
    let targets = (0..25)
        .map(|i| target(i, &format!("meta-llama/llama-3.2-3b-instruct:free@tokens=20@tps=0@ttft=0#{i}"), "hi"))
        .collect();
    let per = run_turn(&core, &mut events, targets).await;
    let finished = per.iter().filter(|e| matches!(final_of(e), EventKind::Finished { .. })).count();
    let queued = per.iter().filter(|e| e.iter().any(|k| matches!(k, EventKind::Queued { .. }))).count();
    assert_eq!(finished, 25, "{:?}", per.iter().map(|e| final_of(e)).collect::<Vec<_>>());
    assert!(queued >= 5, "at least five waited for a slot, {queued} did");
    let stats = sim.stats();
    assert_eq!(stats.status_429, 0, "{stats:?}");
    assert_eq!(stats.free_requests, 25);
    sim.shutdown().await;
}

#[tokio::test]
async fn past_the_daily_cap_requests_are_refused_before_sending() {
    let sim = sim().await;
    sim.set_free_used(TEST_KEY, 48);
    let mut cfg = core_config(&sim.base_url());
    cfg.limiter = Some(Limiter::new(quota_config(), Arc::new(MemoryBackend::default())));
    let (core, mut events) = start_core(cfg);
    // The core reads GET /key at start and learns 48 of 50 are used today.
    wait_for_account(&mut events).await;
    let targets = (0..4).map(|i| target(i, "google/gemma-3-27b-it:free@tokens=10@tps=0@ttft=0", "hi")).collect();
    let per = run_turn(&core, &mut events, targets).await;
    let mut sent = 0;
    let mut refused = Vec::new();
    for evs in &per {
        match final_of(evs) {
            EventKind::Finished { .. } => sent += 1,
            EventKind::Failed { error, .. } => refused.push(error.clone()),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(sent, 2);
    assert_eq!(refused.len(), 2);
    for e in &refused {
        assert_eq!(e.kind, ErrorKind::QuotaExhausted, "{e:?}");
        assert!(e.message.contains("resets at"), "{}", e.message);
        assert!(e.message.contains("paid twin google/gemma-3-27b-it@"), "suggests the paid twin: {}", e.message);
        assert!(e.retry_at.is_some());
    }
    assert_eq!(sim.stats().chat_requests, 2, "refused requests never reached the server");
    assert_eq!(sim.stats().status_429, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn quota_events_report_used_limit_and_reset() {
    let sim = sim().await;
    sim.set_free_used(TEST_KEY, 10);
    let mut cfg = core_config(&sim.base_url());
    cfg.limiter = Some(Limiter::new(quota_config(), Arc::new(MemoryBackend::default())));
    let (_core, mut events) = start_core(cfg);
    let status = loop {
        let ev = tokio::time::timeout(Duration::from_secs(10), events.recv()).await.unwrap().unwrap();
        if let CoreEvent::Quota(s) = ev
            && s.iter().any(|b| b.window == "day" && b.used == 10)
        {
            break s;
        }
    };
    let day = status.iter().find(|b| b.window == "day").unwrap();
    assert_eq!((day.used, day.limit, day.remaining), (10, Some(50), Some(40)));
    assert!(day.resets_at_ms.is_some());
    sim.shutdown().await;
}
