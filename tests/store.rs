//! The SQLite store: persistence across restarts, streaming appends, exact ledger sums, failure
//! handling (corrupt, read-only, locked, full) and cross-process quota reservations.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use roundtable::core::error::{CoreError, ErrorKind};
use roundtable::core::protocol::{Cost, CostSource, StreamSummary, TargetId, Timings, ToolCall, TurnId, Usage};
use roundtable::core::store::{
    self, DeniedBy, GroupBy, LedgerEntry, MessageState, QuotaDb, QuotaState, QuotaWindow, RequestStatus, Reservation,
    Store, StoreError, StoreOptions,
};
use rust_decimal::Decimal;

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn db(dir: &tempfile::TempDir) -> PathBuf {
    store::db_path(dir.path())
}

fn summary(cost: Option<&str>, source: CostSource) -> StreamSummary {
    StreamSummary {
        usage: Some(Usage { prompt_tokens: 100, completion_tokens: 20, total_tokens: 120, ..Usage::default() }),
        cost: Some(Cost { usd: cost.map(dec), source }),
        timings: Timings { ttft_ms: Some(300), duration_ms: 1500 },
        served_model: Some("served".into()),
        ..StreamSummary::default()
    }
}

#[test]
fn data_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = db(&dir);
    let (room, user, answer);
    {
        let s = Store::open(&path).unwrap();
        room = s.create_room("first room", &["a/one".into(), "b/two".into()], false);
        user = s.add_user_message(room, TurnId(1), "hello?");
        answer = s.begin_answer(room, TurnId(1), TargetId(1), "b/two");
        s.append_answer(answer, "Hi ", "thinking…");
        s.append_answer(answer, "there.", "");
        let call = ToolCall { id: "c1".into(), name: "f".into(), arguments: "{}".into(), thought_signature: None };
        s.finish_answer(answer, MessageState::Done, &[call]);
        let entry = LedgerEntry::new(store::now_ms(), "openrouter", "b/two")
            .with_summary(&summary(Some("0.00012"), CostSource::Reported))
            .with_status(RequestStatus::Ok)
            .in_room(room, TurnId(1), TargetId(1));
        s.record_request(entry);
        // Dropping the last handle commits what is queued.
    }
    let t = store::last_room(&path).unwrap().expect("a room");
    assert_eq!(t.room.id, room);
    assert_eq!(t.room.title, "first room");
    assert_eq!(t.room.models, vec!["a/one".to_owned(), "b/two".to_owned()]);
    assert_eq!(t.messages.len(), 2);
    assert_eq!(t.messages[0].id, user);
    assert_eq!(t.messages[0].target, None);
    assert_eq!(t.messages[0].content, "hello?");
    let a = &t.messages[1];
    assert_eq!((a.id, a.target, a.state), (answer, Some(TargetId(1)), MessageState::Done));
    assert_eq!((a.content.as_str(), a.reasoning.as_str()), ("Hi there.", "thinking…"));
    assert_eq!(a.tool_calls.len(), 1);
    assert_eq!(t.for_target(TargetId(0)).count(), 1);
    assert_eq!(store::spend_since(&path, 0).unwrap(), dec("0.00012"));

    // Reopening migrates nothing and keeps writing.
    let s = Store::open(&path).unwrap();
    let room2 = s.create_room("second", &[], false);
    s.flush().unwrap();
    assert_eq!(store::last_room(&path).unwrap().unwrap().room.id, room2);
    assert_eq!(store::load_room(&path, room).unwrap().unwrap().messages.len(), 2);
    assert!(store::load_room(&path, store::RoomId(42)).unwrap().is_none());
}

#[test]
fn cancelled_and_crashed_streams_keep_their_partial_text() {
    let dir = tempfile::tempdir().unwrap();
    let path = db(&dir);
    let s = Store::open(&path).unwrap();
    let room = s.create_room("r", &["m".into()], false);
    s.add_user_message(room, TurnId(1), "q");
    let cancelled = s.begin_answer(room, TurnId(1), TargetId(0), "m");
    let crashed = s.begin_answer(room, TurnId(1), TargetId(1), "m");
    let mut expect = String::new();
    for i in 0..5000 {
        let d = format!("{i} ");
        s.append_answer(cancelled, &d, "");
        s.append_answer(crashed, &d, "");
        expect.push_str(&d);
    }
    s.finish_answer(cancelled, MessageState::Cancelled, &[]);
    // No flush: the writer must write the deltas on its own within ~200 ms.
    std::thread::sleep(Duration::from_millis(700));
    let t = store::load_room(&path, room).unwrap().unwrap();
    let get = |id| t.messages.iter().find(|m| m.id == id).unwrap();
    assert_eq!(get(cancelled).state, MessageState::Cancelled);
    assert_eq!(get(cancelled).content, expect);
    assert_eq!(get(crashed).state, MessageState::Streaming);
    assert_eq!(get(crashed).content, expect);
    assert!(s.health().is_none());
}

#[test]
fn ledger_sums_are_exact_and_flag_estimates() {
    let dir = tempfile::tempdir().unwrap();
    let path = db(&dir);
    let s = Store::open(&path).unwrap();
    let day1 = 1_790_000_000_000; // 2026-09-21 UTC
    let day2 = day1 + 86_400_000;
    let e = |at, provider: &str, model: &str| LedgerEntry::new(at, provider, model).with_status(RequestStatus::Ok);
    s.record_request(e(day1, "openrouter", "a").with_summary(&summary(Some("0.1"), CostSource::Reported)));
    s.record_request(e(day1, "openrouter", "a").with_summary(&summary(Some("0.2"), CostSource::Reported)));
    let est = s.record_request(e(day2, "gemini", "b").with_summary(&summary(Some("0.0000001"), CostSource::Estimated)));
    let pending = s.record_request(LedgerEntry::new(day2, "gemini", "b"));
    let err = CoreError::new(ErrorKind::RateLimitDaily, "daily cap").with_status(429);
    s.record_request(e(day2, "local", "c").with_error(&err));
    // Never sent (no key), never reached a server, or never answered for all anyone knows.
    let no_key = CoreError::missing_key("openai", "OPENAI_API_KEY");
    s.record_request(e(day2, "openai", "d").with_error(&no_key));
    s.record_request(e(day2, "openai", "d").with_error(&CoreError::new(ErrorKind::Connect, "refused")));
    s.record_request(e(day2, "openai", "e").with_error(&CoreError::new(ErrorKind::Timeout, "no first byte")));
    // A mid-stream error the upstream coded 429, after the first token: the model was answering.
    let mut cut = LedgerEntry::new(day2, "openai", "f").with_status(RequestStatus::Ok);
    cut.ttft_ms = Some(400);
    let mid = CoreError::new(ErrorKind::RateLimitUpstream, "pool exhausted").with_status(429);
    s.record_request(cut.with_error(&mid));
    s.flush().unwrap();

    let by_model = store::usage_summary(&path, 0, GroupBy::Model).unwrap();
    assert_eq!(by_model.iter().map(|r| r.group.as_str()).collect::<Vec<_>>(), ["a", "b", "d", "c", "e", "f"]);
    assert_eq!(by_model[0].cost_usd, dec("0.3"));
    assert_eq!((by_model[0].requests, by_model[0].prompt_tokens, by_model[0].estimated), (2, 200, false));
    assert_eq!((by_model[1].requests, by_model[1].unknown_cost, by_model[1].estimated), (2, 1, true));
    // Refused with an HTTP error: it used nothing and costs nothing, as the room counts it.
    assert_eq!((by_model[3].errors, by_model[3].unknown_cost, by_model[3].cost_usd), (1, 0, dec("0")));
    // Refused before it left this machine, or before it reached a server: the same.
    let d = &by_model[2];
    assert_eq!((d.requests, d.errors, d.unknown_cost, d.unknown_tokens, d.cost_usd), (2, 2, 0, 0, dec("0")));
    // A timeout may have been sent and answered upstream: its cost is not known.
    assert_eq!((by_model[4].errors, by_model[4].unknown_cost), (1, 1));
    assert_eq!((by_model[5].errors, by_model[5].unknown_cost, by_model[5].cost_usd), (1, 1, dec("0")));
    assert_eq!(store::spend_since(&path, 0).unwrap(), dec("0.3000001"));
    assert_eq!(store::spend_since(&path, day2).unwrap(), dec("0.0000001"));

    // Back-fill: the estimate becomes a reported cost; the pending request completes.
    s.update_cost(est, dec("0.00000015"), CostSource::Reported);
    s.update_request(pending, e(day2, "gemini", "b").with_summary(&summary(Some("0.5"), CostSource::Reported)));
    s.flush().unwrap();
    let by_day = store::usage_summary(&path, 0, GroupBy::Day).unwrap();
    assert_eq!(by_day.iter().map(|r| r.group.as_str()).collect::<Vec<_>>(), ["2026-09-21", "2026-09-22"]);
    assert_eq!(by_day[1].cost_usd, dec("0.50000015"));
    assert!(!by_day[1].estimated);
    let by_provider = store::usage_summary(&path, 0, GroupBy::Provider).unwrap();
    assert_eq!(by_provider[0].group, "gemini");
    let json = serde_json::to_value(&by_provider).unwrap();
    assert_eq!(json[0]["cost_usd"], "0.50000015");
}

#[test]
fn corrupt_file_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = db(&dir);
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 7 + 13) as u8).collect();
    std::fs::write(&path, &garbage).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("corrupt") && msg.contains("left untouched") && msg.contains("Move it away"), "{msg}");
    assert!(matches!(QuotaDb::open(&path).unwrap_err(), StoreError::Corrupt { .. }));
    assert!(matches!(store::usage_summary(&path, 0, GroupBy::Model).unwrap_err(), StoreError::Corrupt { .. }));
    assert_eq!(std::fs::read(&path).unwrap(), garbage);
    assert!(!path.with_extension("db-wal").exists());
}

#[test]
fn damaged_pages_are_caught_by_quick_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = db(&dir);
    {
        let s = Store::open(&path).unwrap();
        for i in 0..200 {
            s.record_request(LedgerEntry::new(i, "p", format!("model-{i}-{}", "x".repeat(200))));
        }
        s.flush().unwrap();
    }
    // Valid header, garbage in the middle of the file.
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 16 * 4096, "{}", bytes.len());
    for b in &mut bytes[8 * 4096..12 * 4096] {
        *b = 0x5a;
    }
    std::fs::write(&path, &bytes).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
}

/// The start-up check reads every page but does not re-tokenize the history to compare it with
/// the search index (that made every start cost time in proportion to the whole history): a
/// search index out of step with its stored text does not refuse the database.
#[test]
fn start_up_check_does_not_rebuild_the_search_index() {
    let dir = tempfile::tempdir().unwrap();
    let path = db(&dir);
    drop(Store::open(&path).unwrap());
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute(
            "INSERT INTO message_fts (content, room_id, turn, target, message_id) VALUES ('alpha beta', 1, 0, 0, 1)",
            [],
        )
        .unwrap();
        // The index says "alpha beta", the stored text now says otherwise: only a full
        // re-tokenization of the stored text can tell.
        conn.execute("UPDATE message_fts_content SET c0 = 'gamma delta'", []).unwrap();
    }
    Store::open(&path).unwrap();
    QuotaDb::open(&path).unwrap();
}

/// Makes `p` unwritable even for root (`chattr +i`) and undoes it on drop.
struct Immutable(PathBuf);

impl Immutable {
    fn set(p: &Path) -> Option<Immutable> {
        let ok = std::process::Command::new("chattr").arg("+i").arg(p).status().is_ok_and(|s| s.success());
        ok.then(|| Immutable(p.to_path_buf()))
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = std::process::Command::new("chattr").arg("-i").arg(&self.0).status();
    }
}

fn can_write_in(dir: &Path) -> bool {
    let probe = dir.join("probe");
    let ok = std::fs::write(&probe, b"x").is_ok();
    let _ = std::fs::remove_file(probe);
    ok
}

#[test]
fn read_only_directory_and_file_give_a_clear_error() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    // Root ignores permission bits: fall back to the immutable attribute.
    let _guard = if can_write_in(&ro) { Immutable::set(&ro) } else { None };
    if !can_write_in(&ro) {
        let err = Store::open(&ro.join("roundtable.db")).unwrap_err();
        assert!(matches!(err, StoreError::ReadOnly { .. }), "{err:?}");
        assert!(err.to_string().contains("read-only") && err.to_string().contains("ROUNDTABLE_DATA_DIR"), "{err}");
        let err = Store::open(&ro.join("sub/roundtable.db")).unwrap_err();
        assert!(matches!(err, StoreError::ReadOnly { .. }), "{err:?}");
    } else {
        eprintln!("skipped read-only directory check: cannot make a directory read-only here");
    }
    drop(_guard);
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();

    // An existing database file that cannot be written.
    let path = dir.path().join("file").join("roundtable.db");
    drop(Store::open(&path).unwrap());
    for ext in ["db-wal", "db-shm"] {
        let _ = std::fs::remove_file(path.with_extension(ext));
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
    let _guard = if can_write_in_file(&path) { Immutable::set(&path) } else { None };
    if !can_write_in_file(&path) {
        let err = Store::open(&path).unwrap_err();
        assert!(matches!(err, StoreError::ReadOnly { .. }), "{err:?}");
    } else {
        eprintln!("skipped read-only file check: cannot make a file read-only here");
    }
}

fn can_write_in_file(p: &Path) -> bool {
    std::fs::OpenOptions::new().append(true).open(p).is_ok()
}

fn fast_opts() -> StoreOptions {
    StoreOptions {
        busy_timeout: Duration::from_millis(100),
        retry_after: Duration::from_millis(50),
        ..StoreOptions::default()
    }
}

#[test]
fn a_locked_database_is_reported_and_retried_without_blocking_callers() {
    let dir = tempfile::tempdir().unwrap();
    let path = db(&dir);
    let s = Store::open_with(&path, fast_opts()).unwrap();
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let first = s.record_request(LedgerEntry::new(1, "p", "m"));
    let err = s.flush().unwrap_err();
    assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
    assert!(err.to_string().contains("locked by another process"), "{err}");
    assert!(matches!(s.health(), Some(StoreError::Locked { .. })));
    // Callers keep going while the lock is held: these return at once.
    let started = std::time::Instant::now();
    let room = s.create_room("during the outage", &[], false);
    let msg = s.begin_answer(room, TurnId(1), TargetId(0), "m");
    for _ in 0..1000 {
        s.append_answer(msg, "x", "");
    }
    assert!(started.elapsed() < Duration::from_millis(50), "{:?}", started.elapsed());
    other.execute_batch("COMMIT").unwrap();
    s.flush().unwrap();
    assert!(s.health().is_none());
    let rows = store::usage_summary(&path, 0, GroupBy::Model).unwrap();
    assert_eq!(rows[0].requests, 1);
    let t = store::load_room(&path, room).unwrap().unwrap();
    assert_eq!(t.messages[0].content.len(), 1000);
    let _ = first;
}

#[test]
fn a_full_disk_is_reported_and_the_store_keeps_accepting() {
    let dir = tempfile::tempdir().unwrap();
    let path = db(&dir);
    let s = Store::open_with(&path, StoreOptions { max_pages: Some(40), ..fast_opts() }).unwrap();
    let room = s.create_room("r", &[], false);
    s.flush().unwrap();
    let msg = s.begin_answer(room, TurnId(1), TargetId(0), "m");
    s.append_answer(msg, &"y".repeat(400_000), "");
    let err = s.flush().unwrap_err();
    assert!(matches!(err, StoreError::DiskFull { .. }), "{err:?}");
    assert!(err.to_string().contains("full"), "{err}");
    assert!(matches!(s.health(), Some(StoreError::DiskFull { .. })));
    s.record_request(LedgerEntry::new(1, "p", "m"));
    assert!(s.flush().is_err());
}

#[test]
fn two_stores_write_the_same_file_concurrently() {
    let dir = tempfile::tempdir().unwrap();
    let path = db(&dir);
    let barrier = Arc::new(Barrier::new(2));
    let handles: Vec<_> = (0..2)
        .map(|w| {
            let (path, barrier) = (path.clone(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                // Wait at the barrier before unwrapping: a thread that panicked first would
                // leave the other waiting for ever.
                let opened = Store::open(&path);
                barrier.wait();
                let s = opened.unwrap();
                for i in 0..500 {
                    s.record_request(LedgerEntry::new(i, format!("p{w}"), "m").with_status(RequestStatus::Ok));
                    if i % 50 == 0 {
                        s.flush().unwrap();
                    }
                }
                s.flush().unwrap();
                assert!(s.health().is_none());
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let rows = store::usage_summary(&path, 0, GroupBy::Provider).unwrap();
    assert_eq!(rows.iter().map(|r| r.requests).collect::<Vec<_>>(), [500, 500]);
}

#[test]
fn quota_reservations_are_atomic_across_connections() {
    let dir = tempfile::tempdir().unwrap();
    let path = db(&dir);
    let now = store::now_ms();
    let window = QuotaWindow::Fixed { start_ms: now - 1000, end_ms: now + 86_400_000, limit: 50 };
    let barrier = Arc::new(Barrier::new(3));
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let (path, barrier) = (path.clone(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                let opened = QuotaDb::open(&path);
                barrier.wait();
                let mut q = opened.unwrap();
                let mut granted = 0;
                for i in 0..40 {
                    match q.try_reserve("openrouter:free", &[window], now + i).unwrap() {
                        Reservation::Granted { .. } => granted += 1,
                        Reservation::Denied { by, next_free_at_ms } => {
                            assert_eq!((by, next_free_at_ms), (DeniedBy::Window(0), now + 86_400_000));
                        }
                    }
                }
                granted
            })
        })
        .collect();
    let total: u32 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(total, 50);
    let q = QuotaDb::open(&path).unwrap();
    assert_eq!(q.quota_used("openrouter:free", now - 1000).unwrap(), 50);
    assert_eq!(q.quota_used("other", 0).unwrap(), 0);
}

#[test]
fn rolling_windows_blocks_and_state() {
    let dir = tempfile::tempdir().unwrap();
    let mut q = QuotaDb::open(&db(&dir)).unwrap();
    let t0 = 1_790_000_000_000;
    let minute = QuotaWindow::per_minute(3);
    for i in 0..3 {
        assert!(matches!(q.try_reserve("b", &[minute], t0 + i * 1000).unwrap(), Reservation::Granted { .. }));
    }
    // The oldest of the three leaves the window 60 s after it was taken.
    let denied = q.try_reserve("b", &[minute], t0 + 10_000).unwrap();
    assert_eq!(denied, Reservation::Denied { by: DeniedBy::Window(0), next_free_at_ms: t0 + 60_000 });
    assert!(matches!(q.try_reserve("b", &[minute], t0 + 60_000).unwrap(), Reservation::Granted { .. }));
    let Reservation::Denied { .. } = q.try_reserve("b", &[minute], t0 + 60_001).unwrap() else { panic!() };
    // Releasing a slot frees it.
    let day = QuotaWindow::daily(100, "UTC", t0).unwrap();
    let Reservation::Granted { id } = q.try_reserve("c", &[minute, day], t0).unwrap() else { panic!() };
    q.release(id).unwrap();
    assert_eq!(q.quota_used("c", 0).unwrap(), 0);

    // A server-imposed block wins until it expires and is never shortened.
    q.block_until("c", t0 + 5000, "429", t0).unwrap();
    q.block_until("c", t0 + 1000, "429", t0).unwrap();
    let r = q.try_reserve("c", &[minute], t0 + 100).unwrap();
    assert_eq!(r, Reservation::Denied { by: DeniedBy::Blocked, next_free_at_ms: t0 + 5000 });
    assert!(matches!(q.try_reserve("c", &[minute], t0 + 5000).unwrap(), Reservation::Granted { .. }));
    let st = QuotaState {
        bucket: "c".into(),
        limit: Some(1000),
        used: Some(12),
        source: "key".into(),
        updated_at_ms: t0,
        blocked_until_ms: None,
    };
    q.set_quota_state(&st).unwrap();
    assert_eq!(q.quota_state("c").unwrap(), Some(st));
    assert_eq!(q.quota_state("none").unwrap(), None);
}

#[test]
fn token_windows_count_estimated_tokens_across_connections() {
    let dir = tempfile::tempdir().unwrap();
    let path = db(&dir);
    let mut a = QuotaDb::open(&path).unwrap();
    let mut b = QuotaDb::open(&path).unwrap();
    let t0 = store::now_ms();
    let tpm = QuotaWindow::RollingTokens { length: Duration::from_secs(60), limit: 1000 };
    assert!(matches!(a.try_reserve_tokens("g", &[tpm], t0, 700).unwrap(), Reservation::Granted { .. }));
    assert!(matches!(b.try_reserve_tokens("g", &[tpm], t0 + 1000, 200).unwrap(), Reservation::Granted { .. }));
    // 900 used: 300 more waits until the 700-token request leaves the minute.
    let r = a.try_reserve_tokens("g", &[tpm], t0 + 2000, 300).unwrap();
    assert_eq!(r, Reservation::Denied { by: DeniedBy::Window(0), next_free_at_ms: t0 + 60_000 });
    assert!(matches!(b.try_reserve_tokens("g", &[tpm], t0 + 2000, 100).unwrap(), Reservation::Granted { .. }));
    assert_eq!(a.quota_tokens("g", t0).unwrap(), 1000);
    assert_eq!(a.quota_used("g", t0).unwrap(), 3);
    // Alone in an empty minute even an oversized request is granted (never stuck for ever).
    assert!(matches!(a.try_reserve_tokens("g", &[tpm], t0 + 70_000, 5000).unwrap(), Reservation::Granted { .. }));
}

#[test]
fn a_database_from_before_token_counts_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = db(&dir);
    drop(QuotaDb::open(&path).unwrap());
    {
        // Roll the file back to schema 1: no `tokens` column.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "ALTER TABLE quota_log DROP COLUMN tokens; ALTER TABLE rooms DROP COLUMN headless; ALTER TABLE ledger DROP COLUMN purpose;
             DROP TABLE room_log; DROP TABLE message_chunks; DROP TABLE message_fts; PRAGMA user_version = 1;",
        )
        .unwrap();
        conn.execute("INSERT INTO quota_log (id, bucket, at_ms) VALUES (1, 'old', ?1)", [store::now_ms()]).unwrap();
    }
    let mut q = QuotaDb::open(&path).unwrap();
    assert_eq!(q.quota_used("old", 0).unwrap(), 1);
    assert_eq!(q.quota_tokens("old", 0).unwrap(), 0, "old rows count as zero tokens");
    let tpm = QuotaWindow::RollingTokens { length: Duration::from_secs(60), limit: 10 };
    assert!(matches!(q.try_reserve_tokens("old", &[tpm], store::now_ms(), 5).unwrap(), Reservation::Granted { .. }));
}

#[test]
fn daily_windows_follow_the_time_zone() {
    // 2026-11-01 is the day Los Angeles leaves DST: 25 hours, starting 07:00 UTC.
    let noon_utc = 1_793_491_200_000 + 12 * 3_600_000;
    let (start, end) = store::daily_window("America/Los_Angeles", noon_utc).unwrap();
    assert_eq!(start, 1_793_491_200_000 + 7 * 3_600_000);
    assert_eq!(end - start, 25 * 3_600_000);
    let (start, end) = store::daily_window("UTC", noon_utc).unwrap();
    assert_eq!((start, end - start), (1_793_491_200_000, 24 * 3_600_000));
    assert!(store::daily_window("Mars/Olympus", noon_utc).is_none());
}

#[test]
fn in_memory_store_accepts_writes() {
    let s = Store::open_in_memory().unwrap();
    let room = s.create_room("mem", &["m".into()], false);
    let m = s.begin_answer(room, TurnId(1), TargetId(0), "m");
    s.append_answer(m, "a", "b");
    s.finish_answer(m, MessageState::Error, &[]);
    s.flush().unwrap();
    assert!(s.health().is_none() && s.path().is_none());
}

#[test]
fn usage_command_exit_codes() {
    use clap::Parser;
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: roundtable::usage_cmd::UsageArgs,
    }
    let dir = tempfile::tempdir().unwrap();
    let paths = roundtable::paths::Paths {
        config_dir: dir.path().join("c"),
        data_dir: dir.path().join("d"),
        cache_dir: dir.path().join("k"),
    };
    let parse = |argv: &[&str]| Cli::try_parse_from(std::iter::once("usage").chain(argv.iter().copied())).unwrap().args;
    assert_eq!(roundtable::usage_cmd::run(&paths, parse(&[])), 0, "missing database is not an error");
    assert_eq!(roundtable::usage_cmd::run(&paths, parse(&["--since", "soon"])), 2);
    let s = Store::open(&store::db_path(&paths.data_dir)).unwrap();
    s.record_request(
        LedgerEntry::new(store::now_ms(), "p", "m").with_summary(&summary(Some("0.01"), CostSource::Estimated)),
    );
    s.flush().unwrap();
    for argv in [&["--by", "day"][..], &["--since", "7d", "--json"], &["--since", "2026-01-01", "--by", "provider"]] {
        assert_eq!(roundtable::usage_cmd::run(&paths, parse(argv)), 0, "{argv:?}");
    }
    drop(s);
    std::fs::write(store::db_path(&paths.data_dir), b"not a database at all, just some words").unwrap();
    assert_eq!(roundtable::usage_cmd::run(&paths, parse(&[])), 1);
}
