//! The core's rest until a read slot (`pacing::rest_until`) ends early when work is handed over:
//! a command, or a keystroke that the core's runtime forwards. In a process of its own, so no
//! other test hands work over meanwhile.

use std::sync::mpsc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use roundtable::core::provider::pacing::{WakesRestingCore, rest_until, wake_resting_core};
use tokio::time::Instant;

/// Rest on another thread with the slot `far` ahead, run `hand_over`, and return whether the
/// rest ended well before the slot.
fn rest_ends_early(hand_over: impl FnOnce()) -> bool {
    let far = Duration::from_secs(60);
    let (done_tx, done) = mpsc::channel();
    let (resting_tx, resting) = mpsc::channel();
    std::thread::spawn(move || {
        resting_tx.send(()).unwrap();
        rest_until(Instant::now() + far);
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
