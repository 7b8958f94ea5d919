//! The shared quota limiter against the simulator's real free-tier enforcement: pacing many
//! concurrent `:free` requests with zero 429s, refusing past the daily cap before sending, and
//! learning the account's figures from `GET /key`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use roundtable::core::error::ErrorKind;
use roundtable::core::protocol::{CoreEvent, EventKind};
use roundtable::core::quota::{Admission, Limiter, MemoryBackend, QuotaBackend, QuotaConfig, SqliteBackend};
use roundtable::sim::{SimConfig, SimServer};

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

#[test]
fn every_bucket_of_the_shared_database_says_when_its_next_slot_frees() {
    let dir = tempfile::tempdir().unwrap();
    let backend: Arc<dyn QuotaBackend> = Arc::new(SqliteBackend::open(&dir.path().join("quota.db")).unwrap());
    let limiter = Limiter::new(quota_config(), backend);
    let bucket = limiter.configured_buckets().remove(0);
    for _ in 0..3 {
        assert_eq!(limiter.admit(&bucket, "google/gemma-3-27b-it:free", 10), Admission::Go);
    }
    let now = limiter.now_ms();
    let status = limiter.status(&[bucket]);
    assert_eq!(status.len(), 2, "{status:?}");
    for b in &status {
        assert_eq!(b.used, 3, "{b:?}");
        let at = b.resets_at_ms.unwrap_or_else(|| panic!("no reset time for the {} window", b.window));
        assert!(at > now, "{b:?}");
    }
    let minute = status.iter().find(|b| b.window == "minute").unwrap();
    assert!(minute.resets_at_ms.unwrap() <= now + 60_000, "{minute:?}");
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

#[tokio::test]
async fn gemini_tokens_per_minute_queue_requests_until_the_minute_has_room() {
    use roundtable::core::quota::{DayReset, Limits};
    // The bucket is keyed by the plain model spec, so the answer's shape comes from defaults.
    let fast = SimConfig {
        default_tokens: Some(10),
        default_tps: Some(0.0),
        default_ttft_ms: Some(0),
        ..SimConfig::default()
    };
    let sim = SimServer::start(fast, 0).await.unwrap();
    let window = Duration::from_millis(800);
    let mut quota = quota_config();
    quota.limits.insert(
        "gemini:gemini-2.5-flash".into(),
        Limits { per_minute: None, per_day: None, day_reset: DayReset::Pacific, tokens_per_minute: Some(400) },
    );
    let limiter = Limiter::new(quota, Arc::new(MemoryBackend::default())).with_minute(window);
    let mut cfg = core_config(&sim.base_url());
    cfg.limiter = Some(limiter.clone());
    let (core, mut events) = start_core(cfg);
    // ~60 prompt tokens + max_tokens 200 each: two fit in 400, the third must wait.
    let prompt = "Explain the difference between TCP congestion control and flow control. ".repeat(3);
    let targets = (0..3)
        .map(|i| {
            let mut t = target(i, "gemini:gemini-2.5-flash", &prompt);
            t.settings.max_tokens = Some(150);
            t
        })
        .collect();
    let per = run_turn(&core, &mut events, targets).await;
    assert!(per.iter().all(|e| matches!(final_of(e), EventKind::Finished { .. })), "{per:?}");
    let reasons: Vec<&str> = per
        .iter()
        .flatten()
        .filter_map(|k| if let EventKind::Queued { reason, .. } = k { Some(reason.as_str()) } else { None })
        .collect();
    assert!(!reasons.is_empty(), "one request waited for token room");
    assert!(reasons.iter().all(|r| r.contains("400 input tokens per minute")), "{reasons:?}");
    // The bucket shows the tokens charged this minute.
    let buckets = limiter.configured_buckets();
    let status = limiter.status(&buckets);
    let tokens = status.iter().find(|b| b.window == "minute (tokens)").expect("tokens row");
    assert_eq!(tokens.limit, Some(400));
    sim.shutdown().await;
}

#[test]
fn limiter_counts_and_learned_figures_survive_a_restart() {
    use roundtable::core::quota::{Admission, Clock, FigureSource, OPENROUTER_FREE, SqliteBackend};
    let dir = tempfile::tempdir().unwrap();
    let path = roundtable::core::store::db_path(dir.path());
    let config = roundtable::config::Config::defaults();
    let resolved = config.providers.resolve("meta-llama/llama-3.3-70b-instruct:free").unwrap();
    {
        // Requests a few seconds before the server's figures were read (its count includes them).
        let earlier = Limiter::new(quota_config(), Arc::new(SqliteBackend::open(&path).unwrap()))
            .with_clock(Clock { offset_ms: -5_000 });
        let bucket = earlier.bucket_for(&resolved).expect("the free bucket");
        for _ in 0..3 {
            assert_eq!(earlier.admit(&bucket, "m:free", 0), Admission::Go);
        }
        // The server says 40 of 1000 are used today (other apps on the account, and ours).
        let limiter = Limiter::new(quota_config(), Arc::new(SqliteBackend::open(&path).unwrap()));
        limiter.learn_free_daily(40, 1000);
    }
    // A new process: a fresh limiter over the same database.
    let limiter = Limiter::new(quota_config(), Arc::new(SqliteBackend::open(&path).unwrap()));
    let status = limiter.status(&limiter.configured_buckets());
    let day = status.iter().find(|b| b.bucket == OPENROUTER_FREE && b.window == "day").unwrap();
    assert_eq!((day.used, day.limit), (40, Some(1000)), "{day:?}");
    assert_eq!((day.used_source, day.limit_source), (FigureSource::Server, FigureSource::Server));
    let minute = status.iter().find(|b| b.bucket == OPENROUTER_FREE && b.window == "minute").unwrap();
    assert_eq!(minute.used, 3, "the local log survived too");
    // Without the server's figures a restart still sees the local count.
    let other = tempfile::tempdir().unwrap();
    let path = roundtable::core::store::db_path(other.path());
    {
        let limiter = Limiter::new(quota_config(), Arc::new(SqliteBackend::open(&path).unwrap()));
        let bucket = limiter.bucket_for(&resolved).unwrap();
        assert_eq!(limiter.admit(&bucket, "m:free", 0), Admission::Go);
        assert_eq!(limiter.admit(&bucket, "m:free", 0), Admission::Go);
    }
    let limiter = Limiter::new(quota_config(), Arc::new(SqliteBackend::open(&path).unwrap()));
    let status = limiter.status(&limiter.configured_buckets());
    let day = status.iter().find(|b| b.bucket == OPENROUTER_FREE && b.window == "day").unwrap();
    assert_eq!((day.used, day.limit, day.used_source), (2, Some(50), FigureSource::Local));
}
