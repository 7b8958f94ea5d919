//! The core's rest until a read slot (`pacing::rest_until`) ends early when work is handed over:
//! a command, or a keystroke that the core's runtime forwards; the chatroom loop's rest until its
//! frame slot (`event_loop::rest_loop_until`) ends when a terminal event is handed to it. In a
//! process of its own, so no other test hands work over meanwhile.

use std::sync::mpsc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use roundtable::core::provider::pacing::{WakesRestingCore, rest_until, wake_resting_core};
use roundtable::ui::event_loop::{hand_to_loop, rest_loop_until};
use tokio::time::Instant;

/// Rest on another thread with the slot `far` ahead, run `hand_over`, and return whether the
/// rest ended well before the slot.
fn rest_ends_early(hand_over: impl FnOnce()) -> bool {
    rest_ends_early_in(rest_until, hand_over)
}

/// As `rest_ends_early`, for the rest that `rest` takes.
fn rest_ends_early_in(rest: fn(Instant), hand_over: impl FnOnce()) -> bool {
    let far = Duration::from_secs(60);
    let (done_tx, done) = mpsc::channel();
    let (resting_tx, resting) = mpsc::channel();
    std::thread::spawn(move || {
        resting_tx.send(()).unwrap();
        rest(Instant::now() + far);
        done_tx.send(()).unwrap();
    });
    resting.recv().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    assert!(done.try_recv().is_err(), "the rest lasts until the slot when nothing is handed over");
    hand_over();
    done.recv_timeout(far / 2).is_ok()
}

#[test]
fn a_rest_ends_when_a_command_or_a_forwarded_key_comes() {
    assert!(rest_ends_early(wake_resting_core), "a command ends the rest");
    // The key's stream is polled (and waits) before the rest starts, as the forwarder's is.
    let (tx, rx) = futures_channel_like();
    let mut keys = WakesRestingCore(rx);
    let waker = futures_util::task::noop_waker();
    assert!(matches!(std::pin::Pin::new(&mut keys).poll_next(&mut Context::from_waker(&waker)), Poll::Pending));
    assert!(rest_ends_early(move || tx.send(1).unwrap()), "a key ends the rest");
}

/// An unbounded channel whose receiver is a `Stream`.
fn futures_channel_like()
-> (tokio::sync::mpsc::UnboundedSender<u32>, tokio_stream::wrappers::UnboundedReceiverStream<u32>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    (tx, tokio_stream::wrappers::UnboundedReceiverStream::new(rx))
}

#[test]
fn the_loops_rest_ends_when_a_terminal_event_is_handed_to_it() {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<u32>(4);
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let handed = rest_ends_early_in(rest_loop_until, move || {
        runtime.block_on(hand_to_loop(&tx, 7)).unwrap();
    });
    assert!(handed, "a terminal event ends the loop's rest");
    assert_eq!(rx.try_recv().ok(), Some(7), "and reaches the loop");
}
