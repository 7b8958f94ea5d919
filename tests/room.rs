//! The core's room as a reducer: commands in, router events in, requests and state out. Send,
//! add a pane mid-room, remove one, retry, adopt, branch, send to some panes, a busy pane's
//! queued prompt, and a stored room replayed equal to the live one. No network: the router's
//! events are made here.

use std::collections::HashMap;

use roundtable::core::protocol::{
    ChatMessage, Command, CoreEvent, Cost, CostSource, EventKind, FinishReason, ModelSettings, Role, StreamEvent,
    StreamSummary, TargetId, TurnId, Usage,
};
use roundtable::core::room::{AnswerState, DaySpend, Room, RoomSetup};
use roundtable::core::store::{self, Store};
use rust_decimal::Decimal;

fn usd(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn summary(text: &str, cost: &str, gen_id: &str) -> Box<StreamSummary> {
    Box::new(StreamSummary {
        text: text.into(),
        usage: Some(Usage { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15, ..Usage::default() }),
        cost: Some(Cost { usd: Some(usd(cost)), source: CostSource::Reported }),
        generation_id: Some(gen_id.into()),
        ..StreamSummary::default()
    })
}

fn event(turn: TurnId, target: TargetId, kind: EventKind) -> CoreEvent {
    CoreEvent::Stream(StreamEvent { turn, target, kind })
}

/// Stream `text` into the answer of (turn, target) and finish it with `cost`.
fn answer(room: &mut Room, turn: TurnId, target: TargetId, text: &str, cost: &str) -> Vec<Command> {
    room.on_event(&event(turn, target, EventKind::Started { provider: "openrouter".into(), model: "m".into() }));
    for chunk in text.as_bytes().chunks(7) {
        let piece = String::from_utf8_lossy(chunk).into_owned();
        room.on_event(&event(turn, target, EventKind::TextDelta(piece)));
    }
    let gen_id = format!("gen-{}-{}-{}", turn.0, target.0, room.answers.len());
    room.on_event(&event(
        turn,
        target,
        EventKind::Finished { reason: Some(FinishReason::Stop), summary: summary(text, cost, &gen_id) },
    ))
    .commands
}

/// The (target, thread) of every request in `commands`.
fn requests(commands: &[Command]) -> Vec<(TargetId, TurnId, Vec<ChatMessage>)> {
    commands
        .iter()
        .filter_map(|c| match c {
            Command::Submit(t) => Some(t.targets.iter().map(move |r| (r.target, t.turn, r.messages.clone()))),
            _ => None,
        })
        .flatten()
        .collect()
}

fn contents(thread: &[ChatMessage]) -> Vec<(Role, String)> {
    thread.iter().map(|m| (m.role, m.content.clone())).collect()
}

fn two_pane_room(setup: RoomSetup) -> (Room, TargetId, TargetId) {
    let mut room = Room::new(setup);
    let a = room.add_pane("vendor/a", ModelSettings::default());
    let b = room.add_pane("vendor/b", ModelSettings::default());
    (room, a, b)
}

#[test]
fn each_pane_is_sent_its_own_thread() {
    let (mut room, a, b) = two_pane_room(RoomSetup::default());
    let sent = requests(&room.send("first?", None).unwrap());
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|(_, _, thread)| contents(thread) == [(Role::User, "first?".into())]));
    answer(&mut room, TurnId(1), a, "A says one", "0.001");
    answer(&mut room, TurnId(1), b, "B says one", "0.002");
    let sent = requests(&room.send("second?", None).unwrap());
    let by_target: HashMap<TargetId, Vec<(Role, String)>> =
        sent.iter().map(|(t, _, thread)| (*t, contents(thread))).collect();
    assert_eq!(by_target[&a][1], (Role::Assistant, "A says one".into()), "each model sees its own answer");
    assert_eq!(by_target[&b][1], (Role::Assistant, "B says one".into()));
    assert_eq!(by_target[&a].len(), 3);
}

#[test]
fn a_pane_added_mid_room_sees_the_prompts_and_a_removed_one_keeps_its_spend() {
    let spend = DaySpend::new(0, Decimal::ZERO);
    let (mut room, a, b) = two_pane_room(RoomSetup { spend: spend.clone(), ..RoomSetup::default() });
    room.send("q1", None).unwrap();
    answer(&mut room, TurnId(1), a, "a1", "0.01");
    answer(&mut room, TurnId(1), b, "b1", "0.02");
    let c = room.add_pane("vendor/c", ModelSettings::default());
    assert!(room.notices.iter().any(|n| n.text.contains("vendor/c joined")));
    let sent = requests(&room.send("q2", None).unwrap());
    let c_thread = sent.iter().find(|(t, _, _)| *t == c).map(|(_, _, th)| contents(th)).unwrap();
    assert_eq!(c_thread, [(Role::User, "q1".into()), (Role::User, "q2".into())]);

    let today = spend.total();
    assert_eq!(today, usd("0.03"));
    // Removing a pane while it streams stops it; its spend stays in the room and today.
    let stop = room.remove_pane(b).unwrap();
    assert!(matches!(stop.as_slice(), [Command::Cancel { target: Some(t), .. }] if *t == b));
    room.on_event(&event(TurnId(2), b, EventKind::Cancelled { summary: Box::default() }));
    assert_eq!(room.live_panes().count(), 2);
    assert_eq!(room.totals().room.cost, usd("0.03"));
    assert_eq!(spend.total(), today, "removing a pane never changes today's spend");
    assert!(room.send("q3", Some(vec![b])).is_err(), "a removed pane takes no prompts");
}

#[test]
fn retry_asks_again_without_the_earlier_answer_and_keeps_it() {
    let (mut room, a, _b) = two_pane_room(RoomSetup::default());
    room.send("q1", None).unwrap();
    answer(&mut room, TurnId(1), a, "first try", "0.01");
    let sent = requests(&room.retry(a).unwrap());
    assert_eq!(sent.len(), 1);
    assert_eq!(contents(&sent[0].2), [(Role::User, "q1".into())]);
    assert!(room.retry(a).is_err(), "a pane that is streaming is not retried twice");
    answer(&mut room, TurnId(1), a, "second try", "0.01");
    let attempts: Vec<String> = room.attempts(TurnId(1), a).map(|x| x.text.clone()).collect();
    assert_eq!(attempts, ["first try", "second try"]);
    assert_eq!(room.answer_for(TurnId(1), a).unwrap().text, "second try");
    assert_eq!(room.totals().panes[&a].requests, 2, "both attempts count");
}

#[test]
fn an_adopted_answer_is_every_other_pane_s_answer() {
    let (mut room, a, b) = two_pane_room(RoomSetup::default());
    room.send("q1", None).unwrap();
    answer(&mut room, TurnId(1), a, "A's fine answer", "0");
    answer(&mut room, TurnId(1), b, "B's poor answer", "0");
    room.adopt(a).unwrap();
    let sent = requests(&room.send("q2", None).unwrap());
    for (_, _, thread) in &sent {
        assert_eq!(thread[1].content, "A's fine answer");
    }
    assert!(room.notices.iter().any(|n| n.target == Some(b) && n.text.contains("adopted vendor/a")));
}

#[test]
fn an_edited_prompt_makes_a_branch_and_the_earlier_one_stays() {
    let (mut room, a, b) = two_pane_room(RoomSetup::default());
    for (i, q) in ["q1", "q2"].iter().enumerate() {
        room.send(q, None).unwrap();
        let turn = TurnId(i as u64 + 1);
        answer(&mut room, turn, a, &format!("a{}", i + 1), "0");
        answer(&mut room, turn, b, &format!("b{}", i + 1), "0");
    }
    assert_eq!(room.branch_count(), 1, "a room without edits has one branch");
    let sent = requests(&room.send_branch(TurnId(2), "q2 edited", None).unwrap());
    assert_eq!(
        contents(&sent[0].2),
        [(Role::User, "q1".into()), (Role::Assistant, "a1".into()), (Role::User, "q2 edited".into())]
    );
    let new_turn = sent[0].1;
    assert_eq!(room.turn(new_turn).unwrap().parent, Some(TurnId(1)));
    answer(&mut room, new_turn, a, "a2'", "0");
    answer(&mut room, new_turn, b, "b2'", "0");
    assert_eq!(room.branch_position(), (2, 2));
    assert_eq!(room.branch_count(), 2);
    let path: Vec<u64> = room.path().iter().map(|t| t.id.0).collect();
    assert_eq!(path, [1, new_turn.0]);
    room.cycle_branch(-1).unwrap();
    let path: Vec<u64> = room.path().iter().map(|t| t.id.0).collect();
    assert_eq!(path, [1, 2], "the earlier branch can be reopened");
    let sent = requests(&room.send("q3", Some(vec![a])).unwrap());
    assert_eq!(contents(&sent[0].2)[3], (Role::Assistant, "a2".into()), "q3 follows the earlier branch");
}

#[test]
fn a_prompt_to_some_panes_and_a_busy_pane_s_queued_prompt() {
    let (mut room, a, b) = two_pane_room(RoomSetup::default());
    let sent = requests(&room.send("only for a", Some(vec![a])).unwrap());
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, a);
    // a is still streaming: the next prompt goes to b at once and waits for a.
    let sent = requests(&room.send("for both", None).unwrap());
    assert_eq!(sent.iter().map(|s| s.0).collect::<Vec<_>>(), [b]);
    assert_eq!(contents(&sent[0].2), [(Role::User, "for both".into())], "b never saw the prompt for a");
    let waiting = room.answers.iter().find(|x| x.key.target == a && x.key.turn == TurnId(2)).unwrap();
    assert_eq!(waiting.state, AnswerState::Pending);
    let next = requests(&answer(&mut room, TurnId(1), a, "a's answer", "0"));
    assert_eq!(next.len(), 1, "a's queued prompt goes out when its answer ends");
    assert_eq!(
        contents(&next[0].2),
        [(Role::User, "only for a".into()), (Role::Assistant, "a's answer".into()), (Role::User, "for both".into())]
    );
}

#[test]
fn settings_are_checked_and_a_stop_drops_waiting_prompts() {
    let (mut room, a, _b) = two_pane_room(RoomSetup::default());
    let hot = ModelSettings { temperature: Some(9.0), ..ModelSettings::default() };
    assert!(room.set_settings(a, hot, None).is_err());
    assert_eq!(room.pane(a).unwrap().settings, ModelSettings::default(), "nothing changes on error");
    let ok = ModelSettings { temperature: Some(0.3), system: Some("be brief".into()), ..ModelSettings::default() };
    room.set_settings(a, ok.clone(), None).unwrap();
    let sent = room.send("q", None).unwrap();
    let Command::Submit(t) = &sent[0] else { panic!() };
    assert_eq!(t.targets[0].settings, ok, "the pane's settings go with its request");
    room.send("q again", None).unwrap();
    let commands = room.stop(None);
    assert_eq!(commands.len(), 2, "both streaming panes are cancelled");
    assert!(room.answers.iter().all(|x| x.state != AnswerState::Pending), "waiting prompts are dropped");
}

#[test]
fn a_stored_room_replays_equal_to_the_live_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = store::db_path(dir.path());
    let st = Store::open(&path).unwrap();
    let spend = DaySpend::new(0, Decimal::ZERO);
    let setup = RoomSetup { store: Some(st.clone()), spend: spend.clone(), ..RoomSetup::default() };
    let (mut room, a, b) = two_pane_room(setup);
    room.send("q1", None).unwrap();
    answer(&mut room, TurnId(1), a, "# a1\nsome text", "0.001");
    room.on_event(&event(TurnId(1), b, EventKind::TextDelta("half an ans".into())));
    let error = roundtable::core::error::CoreError::new(
        roundtable::core::error::ErrorKind::StreamDropped,
        "The connection closed mid-answer",
    );
    room.on_event(&event(TurnId(1), b, EventKind::Failed { error, summary: Box::default() }));
    let c = room.add_pane("vendor/c", ModelSettings { max_tokens: Some(100), ..ModelSettings::default() });
    room.retry(b).unwrap();
    answer(&mut room, TurnId(1), b, "b1 again", "0.002");
    room.adopt(a).unwrap();
    room.send("q2", Some(vec![a, c])).unwrap();
    answer(&mut room, TurnId(2), a, "a2", "0.003");
    answer(&mut room, TurnId(2), c, "c2", "0.004");
    room.on_event(&CoreEvent::CostSettled {
        turn: TurnId(2),
        target: c,
        generation_id: format!("gen-2-{}-{}", c.0, room.answers.len()),
        cost: Cost { usd: Some(usd("0.005")), source: CostSource::Reported },
        usage: None,
    });
    room.remove_pane(c).unwrap();
    let id = room.id.expect("stored at the first prompt");
    st.flush().unwrap();

    let stored = roundtable::core::room::load(&path, None, false).unwrap().unwrap();
    assert_eq!(stored.id, id);
    let before = spend.total();
    let replayed =
        roundtable::core::room::open_stored(RoomSetup { spend: spend.clone(), ..RoomSetup::default() }, stored);
    assert_eq!(spend.total(), before, "reopening a room never counts its spend again");
    assert_eq!(replayed.panes, room.panes);
    assert_eq!(replayed.turns, room.turns);
    assert_eq!(replayed.adoptions, room.adoptions);
    assert_eq!(replayed.notices, room.notices);
    assert_eq!(replayed.title, "q1");
    assert_eq!(replayed.answers.len(), room.answers.len());
    for (l, r) in room.answers.iter().zip(&replayed.answers) {
        assert_eq!((l.key, &l.text, &l.state, &l.finish, &l.error), (r.key, &r.text, &r.state, &r.finish, &r.error));
        assert_eq!(l.steps, r.steps, "{:?}", l.key);
        assert_eq!(l.messages, r.messages, "{:?}", l.key);
        assert_eq!(l.footer(), r.footer(), "{:?}", l.key);
    }
    assert_eq!(replayed.totals(), room.totals());
    assert_eq!(replayed.totals().room.cost, usd("0.011"), "0.001 + 0.002 + 0.003 + 0.005 settled (0.004 replaced)");
    assert_eq!(before, usd("0.011"), "today counted the settled cost's difference");
    assert_eq!(replayed.context_for(a), room.context_for(a));

    // Found by search, listed with its figures.
    let hits = store::search_rooms(&path, "again", 10).unwrap();
    assert!(hits.iter().any(|h| h.room == id && h.snippet.contains("[again]")), "{hits:?}");
    let rooms = store::list_rooms(&path, 10).unwrap();
    assert_eq!(rooms[0].turns, 2);
}

#[test]
fn a_room_whose_process_died_mid_stream_reopens_with_the_saved_text() {
    let dir = tempfile::tempdir().unwrap();
    let path = store::db_path(dir.path());
    let st = Store::open(&path).unwrap();
    let (mut room, a, _b) = two_pane_room(RoomSetup { store: Some(st.clone()), ..RoomSetup::default() });
    room.send("q1", None).unwrap();
    room.on_event(&event(TurnId(1), a, EventKind::TextDelta("partial ".into())));
    room.on_event(&event(TurnId(1), a, EventKind::TextDelta("words".into())));
    st.flush().unwrap();
    drop(room);
    let stored = roundtable::core::room::load(&path, None, false).unwrap().unwrap();
    let replayed = roundtable::core::room::open_stored(RoomSetup::default(), stored);
    let answer = replayed.answer_for(TurnId(1), a).unwrap();
    assert_eq!(answer.state, AnswerState::Interrupted);
    assert_eq!(answer.text, "partial words");
    assert!(!replayed.is_streaming(), "nothing is left waiting after a reopen");
}

/// A request refused before any model answered costs nothing and shows no figures; one cut off
/// after its first token may have been billed: its cost is unknown (counted as such in the
/// totals) and its figures go under the answer.
#[test]
fn a_failure_costs_nothing_only_when_no_model_answered() {
    use roundtable::core::error::{CoreError, ErrorKind};
    use roundtable::core::protocol::Timings;
    let (mut room, a, b) = two_pane_room(RoomSetup::default());
    room.send("q", None).unwrap();
    let no_key = CoreError::missing_key("openai", "OPENAI_API_KEY");
    room.on_event(&event(TurnId(1), a, EventKind::Failed { error: no_key, summary: Box::default() }));
    room.on_event(&event(TurnId(1), b, EventKind::TextDelta("half an ans".into())));
    let cut = Box::new(StreamSummary {
        text: "half an ans".into(),
        timings: Timings { ttft_ms: Some(420), duration_ms: 2_000 },
        ..StreamSummary::default()
    });
    let dropped = CoreError::new(ErrorKind::StreamDropped, "The connection closed mid-answer");
    room.on_event(&event(TurnId(1), b, EventKind::Failed { error: dropped, summary: cut }));

    let of = |t: TargetId| room.answers.iter().find(|x| x.key.target == t).unwrap();
    assert_eq!(of(a).footer(), None, "no model answered: nothing to show under it");
    let footer = of(b).footer().expect("the model answered before the stream was cut");
    assert_eq!((footer.cost, footer.ttft_ms), (Cost::UNKNOWN, Some(420)));
    let totals = room.totals();
    assert_eq!((totals.panes[&a].requests, totals.panes[&a].unknown), (1, 0));
    assert_eq!((totals.panes[&b].requests, totals.panes[&b].unknown), (1, 1));
    assert_eq!(totals.room.cost, Decimal::ZERO);
}
