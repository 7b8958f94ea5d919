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

/// Issue 11 item 9: "queued until" (the text `ask` prints, HH:MM:SS) and the `until` of the
/// event (`--json`) name the same instant, the one the request is really released at: a whole
/// second, and the request starts no earlier.
#[tokio::test]
async fn a_queued_request_is_released_at_the_whole_second_it_announced() {
    let window = Duration::from_millis(1500);
    let sim = SimServer::start(SimConfig { free_window: window, ..SimConfig::default() }, 0).await.unwrap();
    let backend: Arc<dyn QuotaBackend> = Arc::new(MemoryBackend::default());
    let mut cfg = core_config(&sim.base_url());
    cfg.limiter = Some(Limiter::new(quota_config(), backend).with_minute(window));
    let (core, mut events) = start_core(cfg);
    wait_for_account(&mut events).await;
    let n = 22;
    let targets = (0..n)
        .map(|i| target(i, &format!("meta-llama/llama-3.2-3b-instruct:free@tokens=5@tps=0@ttft=0#{i}"), "hi"))
        .collect();
    core.send(roundtable::core::protocol::Command::Submit(roundtable::core::protocol::TurnRequest {
        turn: roundtable::core::protocol::TurnId(1),
        targets,
        room: None,
        ..Default::default()
    }))
    .await
    .unwrap();
    let mut announced: Vec<Option<std::time::SystemTime>> = vec![None; n as usize];
    let mut checked = 0;
    let mut finals = 0;
    while finals < n {
        let ev = tokio::time::timeout(Duration::from_secs(30), events.recv()).await.unwrap().unwrap();
        let CoreEvent::Stream(ev) = ev else { continue };
        let slot = &mut announced[ev.target.0 as usize];
        match ev.kind {
            EventKind::Queued { until, .. } => {
                let sub = until.duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
                assert_eq!(sub, 0, "until is the whole second shown as HH:MM:SS: {until:?}");
                *slot = Some(until);
            }
            EventKind::Started { .. } => {
                if let Some(until) = slot.take() {
                    assert!(std::time::SystemTime::now() >= until, "released before the announced {until:?}");
                    checked += 1;
                }
            }
            ref k if k.is_final() => finals += 1,
            _ => {}
        }
    }
    assert!(checked >= 2, "two requests over the limit waited, {checked} did");
    assert_eq!(sim.stats().status_429, 0);
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
    // A slot is held a thirtieth of the minute past it (the pacing margin).
    assert!(minute.resets_at_ms.unwrap() <= now + 62_000, "{minute:?}");
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

/// Issue 11 item 9: a slot of the per-minute window is held a margin past the minute, so a
/// queued request never reaches a server that counts a rolling minute from arrival too early.
#[test]
fn minute_slots_free_a_margin_after_the_minute() {
    use roundtable::core::quota::Admission;
    let config = roundtable::config::Config::defaults();
    let resolved = config.providers.resolve("meta-llama/llama-3.3-70b-instruct:free").unwrap();
    let limiter = Limiter::new(quota_config(), Arc::new(MemoryBackend::default()));
    let bucket = limiter.bucket_for(&resolved).unwrap();
    let first = limiter.now_ms();
    for _ in 0..20 {
        assert_eq!(limiter.admit(&bucket, "m:free", 0), Admission::Go);
    }
    match limiter.admit(&bucket, "m:free", 0) {
        Admission::Wait { until_ms, .. } => {
            assert!(until_ms >= first + 61_000, "released {} ms after the first", until_ms - first);
            assert!(until_ms <= first + 65_000, "released {} ms after the first", until_ms - first);
        }
        other => panic!("{other:?}"),
    }
}

/// Issue 11 item 10: without waiting for anything, a fresh process with 45 of 50 used today
/// sends 5 of 8 `:free` requests and refuses 3 before sending.
#[tokio::test]
async fn the_daily_cap_is_checked_before_the_first_request_of_a_process() {
    let sim = sim().await;
    sim.set_free_used(TEST_KEY, 45);
    let mut cfg = core_config(&sim.base_url());
    cfg.limiter = Some(Limiter::new(quota_config(), Arc::new(MemoryBackend::default())));
    let (core, mut events) = start_core(cfg);
    let targets = (0..8).map(|i| target(i, "google/gemma-3-27b-it:free@tokens=5@tps=0@ttft=0", "hi")).collect();
    let per = run_turn(&core, &mut events, targets).await;
    let refused = per
        .iter()
        .filter(|e| matches!(final_of(e), EventKind::Failed { error, .. } if error.kind == ErrorKind::QuotaExhausted))
        .count();
    assert_eq!(refused, 3, "{:?}", per.iter().map(|e| final_of(e)).collect::<Vec<_>>());
    assert_eq!(sim.stats().chat_requests, 5);
    assert_eq!(sim.stats().status_429, 0, "{:?}", sim.stats());
    sim.shutdown().await;
}

/// Issue 11 item 10: what a daily 429 teaches is kept, so the next process refuses before
/// sending, with the reset time.
#[test]
fn a_daily_429_is_remembered_by_the_next_process() {
    use roundtable::core::error::CoreError;
    use roundtable::core::quota::{Admission, SqliteBackend};
    let dir = tempfile::tempdir().unwrap();
    let path = roundtable::core::store::db_path(dir.path());
    let config = roundtable::config::Config::defaults();
    let resolved = config.providers.resolve("meta-llama/llama-3.3-70b-instruct:free").unwrap();
    {
        let limiter = Limiter::new(quota_config(), Arc::new(SqliteBackend::open(&path).unwrap()));
        let bucket = limiter.bucket_for(&resolved).unwrap();
        assert_eq!(limiter.admit(&bucket, "m:free", 0), Admission::Go);
        let daily = CoreError::new(ErrorKind::RateLimitDaily, "free-models-per-day");
        limiter.learn_from_error(&bucket, &daily);
    }
    let limiter = Limiter::new(quota_config(), Arc::new(SqliteBackend::open(&path).unwrap()));
    let bucket = limiter.bucket_for(&resolved).unwrap();
    match limiter.admit(&bucket, "m:free", 0) {
        Admission::Refuse(e) => {
            assert_eq!(e.kind, ErrorKind::QuotaExhausted, "{e:?}");
            assert!(e.message.contains("resets at") && e.retry_at.is_some(), "{}", e.message);
        }
        other => panic!("the next process sent again: {other:?}"),
    }
}
