//! The routing core driving the real HTTP client against the simulator on loopback: fan-out,
//! cancellation, one model failing while the others finish, and every failure kind.

mod common;

use std::time::Duration;

use common::*;
use roundtable::core::error::ErrorKind;
use roundtable::core::protocol::{Command, CostSource, EventKind, FinishReason, TargetId, TurnId, TurnRequest};

#[tokio::test]
async fn fans_out_to_three_models_concurrently() {
    let sim = sim().await;
    let (core, mut events) = start_core(core_config(&sim.base_url()));
    let targets = vec![
        target(0, "a@tokens=120@tps=0@ttft=0", "Explain TCP slow start"),
        target(1, "openai/gpt-4o-mini@tokens=80@tps=0@ttft=0", "Explain TCP slow start"),
        target(2, "c@tokens=60@tps=400@ttft=50", "Explain TCP slow start"),
    ];
    let per = run_turn(&core, &mut events, targets).await;
    for (i, evs) in per.iter().enumerate() {
        assert!(matches!(evs.first(), Some(EventKind::Started { .. })), "target {i} starts: {evs:?}");
        let EventKind::Finished { reason, summary } = final_of(evs) else { panic!("target {i}: {:?}", final_of(evs)) };
        assert_eq!(reason, &Some(FinishReason::Stop));
        let deltas: String =
            evs.iter().filter_map(|e| if let EventKind::TextDelta(t) = e { Some(t.as_str()) } else { None }).collect();
        assert_eq!(deltas, summary.text, "deltas add up to the summary");
        assert!(!summary.text.is_empty());
        let usage = summary.usage.as_ref().expect("usage");
        assert!(usage.completion_tokens > 0);
        let cost = summary.cost.as_ref().expect("cost");
        assert_eq!(cost.source, CostSource::Reported);
        assert!(summary.generation_id.as_deref().is_some_and(|g| g.starts_with("gen-")));
        assert!(summary.timings.ttft_ms.is_some());
    }
    // The catalog model is priced from the simulator's catalog: 0.15/M prompt, 0.60/M completion.
    let EventKind::Finished { summary, .. } = final_of(&per[1]) else { unreachable!() };
    let u = summary.usage.as_ref().unwrap();
    let expected = rust_decimal::Decimal::new(15, 8) * rust_decimal::Decimal::from(u.prompt_tokens)
        + rust_decimal::Decimal::new(60, 8) * rust_decimal::Decimal::from(u.completion_tokens);
    assert_eq!(summary.cost.as_ref().unwrap().usd.unwrap().normalize(), expected.normalize());
    sim.shutdown().await;
}

#[tokio::test]
async fn cancel_one_target_keeps_partial_and_others_finish() {
    let sim = sim().await;
    let (core, mut events) = start_core(core_config(&sim.base_url()));
    let targets =
        vec![target(0, "slow@tokens=5000@tps=50@ttft=0", "hello"), target(1, "fast@tokens=50@tps=0@ttft=0", "hello")];
    core.send(Command::Submit(TurnRequest { turn: TurnId(7), targets, room: None, ..Default::default() }))
        .await
        .unwrap();
    // Wait for the slow one to produce some text, then cancel it alone.
    let mut per: Vec<Vec<EventKind>> = vec![Vec::new(), Vec::new()];
    let mut cancelled_sent = false;
    let mut finals = 0;
    while finals < 2 {
        let ev = tokio::time::timeout(Duration::from_secs(20), events.recv()).await.unwrap().unwrap();
        let roundtable::core::protocol::CoreEvent::Stream(ev) = ev else { continue };
        if ev.kind.is_final() {
            finals += 1;
        }
        let is_text = matches!(ev.kind, EventKind::TextDelta(_));
        per[ev.target.0 as usize].push(ev.kind);
        if is_text && ev.target == TargetId(0) && !cancelled_sent {
            cancelled_sent = true;
            core.send(Command::Cancel { turn: TurnId(7), target: Some(TargetId(0)) }).await.unwrap();
        }
    }
    let EventKind::Cancelled { summary } = final_of(&per[0]) else { panic!("{:?}", final_of(&per[0])) };
    assert!(!summary.text.is_empty(), "partial text kept");
    assert!(matches!(final_of(&per[1]), EventKind::Finished { .. }));
    // Cancelling something already finished is harmless and produces nothing more.
    core.send(Command::Cancel { turn: TurnId(7), target: None }).await.unwrap();
    assert!(no_stream_event(tokio::time::timeout(Duration::from_millis(300), events.recv()).await));
    sim.shutdown().await;
}

/// Nothing more for any target: silence, or only quota/account notices.
fn no_stream_event<E>(r: Result<Option<roundtable::core::protocol::CoreEvent>, E>) -> bool {
    !matches!(r, Ok(Some(roundtable::core::protocol::CoreEvent::Stream(_))))
}

#[tokio::test]
async fn one_failing_model_does_not_break_the_others() {
    let sim = sim().await;
    let (core, mut events) = start_core(core_config(&sim.base_url()));
    let targets = vec![
        target(0, "ok@tokens=40@tps=0@ttft=0", "hi"),
        target(1, "bad@401", "hi"),
        target(2, "cut@drop@tokens=400@tps=2000@ttft=0", "hi"),
        target(3, "mid@midstream@tokens=400@tps=0@ttft=0", "hi"),
    ];
    let per = run_turn(&core, &mut events, targets).await;
    assert!(matches!(final_of(&per[0]), EventKind::Finished { .. }));
    let EventKind::Failed { error, .. } = final_of(&per[1]) else { panic!() };
    assert_eq!((error.kind, error.status), (ErrorKind::Unauthorized, Some(401)));
    assert!(error.message.contains("OPENROUTER_API_KEY"), "{}", error.message);
    assert!(!error.message.contains(TEST_KEY));
    let EventKind::Failed { error, summary } = final_of(&per[2]) else { panic!("{:?}", final_of(&per[2])) };
    assert_eq!(error.kind, ErrorKind::StreamDropped, "{error:?}");
    assert!(!summary.text.is_empty(), "partial text kept on a dropped connection");
    let EventKind::Failed { error, summary } = final_of(&per[3]) else { panic!() };
    assert!(error.status.is_some(), "{error:?}");
    assert!(!summary.text.is_empty(), "partial text kept on a mid-stream error");
    sim.shutdown().await;
}

#[tokio::test]
async fn every_http_failure_is_typed_with_status() {
    let sim = sim().await;
    let (core, mut events) = start_core(core_config(&sim.base_url()));
    let cases: &[(&str, ErrorKind, Option<u16>)] = &[
        ("x@401", ErrorKind::Unauthorized, Some(401)),
        ("x@402", ErrorKind::PaymentRequired, Some(402)),
        ("x@402-key", ErrorKind::PaymentRequired, Some(402)),
        ("x@403", ErrorKind::Moderation, Some(403)),
        ("x@404-policy", ErrorKind::DataPolicy, Some(404)),
        ("x@404-tools", ErrorKind::NoToolEndpoints, Some(404)),
        ("x@400-model", ErrorKind::ModelNotFound, Some(400)),
        ("x:free@429-rpm", ErrorKind::RateLimitMinute, Some(429)),
        ("x:free@429-day", ErrorKind::RateLimitDaily, Some(429)),
        ("x@429-upstream", ErrorKind::RateLimitUpstream, Some(429)),
        ("x@500", ErrorKind::Server, Some(500)),
        ("x@502", ErrorKind::Server, Some(502)),
        ("x@503", ErrorKind::Server, Some(503)),
        ("x@html", ErrorKind::Server, Some(502)),
        ("x@empty", ErrorKind::Server, Some(500)),
        ("x@garbage", ErrorKind::Server, Some(500)),
    ];
    let targets = cases.iter().enumerate().map(|(i, (m, _, _))| target(i as u32, m, "hi")).collect();
    let per = run_turn(&core, &mut events, targets).await;
    for ((model, kind, status), evs) in cases.iter().zip(&per) {
        let EventKind::Failed { error, .. } = final_of(evs) else { panic!("{model}: {:?}", final_of(evs)) };
        assert_eq!((error.kind, error.status), (*kind, *status), "{model}: {}", error.message);
        assert!(!error.message.is_empty());
        if matches!(kind, ErrorKind::RateLimitMinute | ErrorKind::RateLimitDaily) {
            assert!(error.retry_at.is_some(), "{model}: reset time known");
        }
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn stall_hits_the_idle_timeout_and_json_body_is_accepted() {
    let sim = sim().await;
    let mut cfg = core_config(&sim.base_url());
    cfg.providers.timeouts.idle = Duration::from_millis(700);
    let (core, mut events) = start_core(cfg);
    let targets = vec![target(0, "s@stall@tokens=400@tps=0@ttft=0", "hi"), target(1, "j@json@tokens=30", "hi")];
    let per = run_turn(&core, &mut events, targets).await;
    let EventKind::Failed { error, summary } = final_of(&per[0]) else { panic!("{:?}", final_of(&per[0])) };
    assert_eq!(error.kind, ErrorKind::Timeout);
    assert!(!summary.text.is_empty());
    let EventKind::Finished { summary, .. } = final_of(&per[1]) else { panic!("{:?}", final_of(&per[1])) };
    assert!(!summary.text.is_empty());
    assert!(summary.usage.is_some());
    sim.shutdown().await;
}

#[tokio::test]
async fn missing_key_names_the_variable_and_unknown_server_is_a_connect_error() {
    let mut config = roundtable::config::Config::defaults();
    // Nothing listens on port 9 of loopback.
    config.override_base_url("http://127.0.0.1:9/api/v1");
    config.providers.providers.get_mut("openrouter").unwrap().api_key_env = Some("ROUNDTABLE_TEST_UNSET_KEY".into());
    config.providers.providers.get_mut("ollama").unwrap().key_optional = true;
    let (core, mut events) = start_core(roundtable::core::router::CoreConfig::new(config.providers));
    let per = run_turn(&core, &mut events, vec![target(0, "a", "hi"), target(1, "ollama:llama3.2", "hi")]).await;
    let EventKind::Failed { error, .. } = final_of(&per[0]) else { panic!() };
    assert_eq!(error.kind, ErrorKind::MissingKey);
    assert!(error.message.contains("ROUNDTABLE_TEST_UNSET_KEY"));
    let EventKind::Failed { error, .. } = final_of(&per[1]) else { panic!() };
    assert_eq!(error.kind, ErrorKind::Connect, "{error:?}");
}

#[tokio::test]
async fn transient_server_errors_are_retried_a_bounded_number_of_times() {
    let sim = sim().await;
    let mut cfg = core_config(&sim.base_url());
    cfg.retry = roundtable::core::router::RetryPolicy { max_retries: 2, max_wait: Duration::from_millis(50) };
    let (core, mut events) = start_core(cfg);
    let per = run_turn(&core, &mut events, vec![target(0, "x@502", "hi")]).await;
    let queued = per[0].iter().filter(|e| matches!(e, EventKind::Queued { .. })).count();
    assert_eq!(queued, 2, "two retries announced: {:?}", per[0]);
    assert!(matches!(final_of(&per[0]), EventKind::Failed { .. }));
    assert_eq!(sim.stats().chat_requests, 3);
    sim.shutdown().await;
}

#[tokio::test]
async fn shutdown_cancels_everything_with_final_events() {
    let sim = sim().await;
    let (core, mut events) = start_core(core_config(&sim.base_url()));
    let targets = vec![target(0, "a@tokens=5000@tps=20@ttft=0", "hi"), target(1, "b@tokens=5000@tps=20@ttft=0", "hi")];
    core.send(Command::Submit(TurnRequest { turn: TurnId(1), targets, room: None, ..Default::default() }))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    core.send(Command::Shutdown).await.unwrap();
    let per = collect(&mut events, 2).await;
    assert!(per.iter().all(|evs| matches!(final_of(evs), EventKind::Cancelled { .. })));
    sim.shutdown().await;
}
