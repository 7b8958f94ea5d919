//! Read pacing: when whoever shows a stream does so only at frame slots, fast streams are read
//! at those slots too, so what arrives between two is taken in one run of the core's tasks
//! rather than one per chunk. The slots are one grid for the process, so every stream of a room
//! is read together.

use std::cell::Cell;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use tokio::time::Instant;

/// Chunks a slot, of every paced stream on this thread together, at which pacing pays: the
/// slot's timer wakes the thread once for all of them, and the kernel still wakes it for each
/// packet, so below this (one pane at 50 tok/s is 3.8 chunks a 77 ms slot) streams are read as
/// they come, as before; six panes at 100 tok/s, or one at 200, are paced.
const CHUNKS_WORTH_PACING: u64 = 4;

thread_local! {
    /// Chunks read by paced streams on this thread (the chatroom's core runs on one thread, so
    /// all of its streams).
    static CHUNKS_READ: Cell<u64> = const { Cell::new(0) };
}

fn chunks_read() -> u64 {
    CHUNKS_READ.with(Cell::get)
}

/// Decides, about once a slot, whether the streams come fast enough to be read at the slots.
#[derive(Debug)]
pub struct Pacer {
    slot: Duration,
    window_start: Instant,
    chunks_at_start: u64,
    fast: bool,
}

impl Pacer {
    pub fn new(slot: Duration) -> Self {
        Self { slot, window_start: Instant::now(), chunks_at_start: chunks_read(), fast: false }
    }

    /// A chunk was read.
    pub fn chunk_read(&mut self) {
        CHUNKS_READ.with(|c| c.set(c.get().wrapping_add(1)));
    }

    /// After a chunk, with nothing else waiting: wait for the next slot before reading again
    /// when the streams are fast; otherwise return at once (the next read waits on the
    /// network). Whether they are is decided from the chunks a slot over the last slot or more,
    /// so a window holds whole batches whether they were read as they came or at the slots.
    pub async fn pause(&mut self) {
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(self.window_start);
        if elapsed >= self.slot {
            let total = chunks_read();
            let in_window = total.saturating_sub(self.chunks_at_start);
            self.fast =
                u128::from(in_window) * self.slot.as_nanos() >= u128::from(CHUNKS_WORTH_PACING) * elapsed.as_nanos();
            self.window_start = now;
            self.chunks_at_start = total;
        }
        if self.fast {
            wait_for_slot(self.slot).await;
        }
    }
}

/// The grid's origin: the first time any stream paced itself.
static EPOCH: OnceLock<Instant> = OnceLock::new();

/// The first point of the grid (`slot` apart, through `epoch`) after `now`.
fn next_slot(epoch: Instant, now: Instant, slot: Duration) -> Instant {
    let slot_nanos = i128::try_from(slot.as_nanos()).unwrap_or(i128::MAX).max(1);
    let since_epoch = if now >= epoch {
        i128::try_from((now - epoch).as_nanos()).unwrap_or(i128::MAX)
    } else {
        -i128::try_from((epoch - now).as_nanos()).unwrap_or(i128::MAX)
    };
    let to_next = slot_nanos - since_epoch.rem_euclid(slot_nanos);
    now + Duration::from_nanos(u64::try_from(to_next).unwrap_or(u64::MAX))
}

/// Sleep until the next slot of the process's grid.
async fn wait_for_slot(slot: Duration) {
    let now = Instant::now();
    let epoch = *EPOCH.get_or_init(|| now);
    let at = next_slot(epoch, now, slot);
    SLOT_AWAITED.with(|s| s.set(Some(at)));
    tokio::time::sleep_until(at).await;
}

thread_local! {
    /// The slot the streams paused last on this thread wait for.
    static SLOT_AWAITED: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// The runtime's timer resolution.
const TIMER_GRAIN: Duration = Duration::from_millis(1);

/// A thread's rest while it has nothing to do until a known time: a block on a condition
/// variable, which only a timeout or a call to `wake` ends. Blocked there, the thread's runtime
/// does not wake for what it would only leave waiting (packets that paced streams read at the
/// slot, a level change of tokio's timer wheel), so other threads that hand it work someone
/// waits on must `wake` it.
pub struct Rest {
    /// Set when work was handed over, so a rest that starts after the hand-over ends at once.
    handed_over: Mutex<bool>,
    signal: Condvar,
}

impl Rest {
    pub const fn new() -> Self {
        Self { handed_over: Mutex::new(false), signal: Condvar::new() }
    }

    /// Block until `until`, or until work is handed over (`wake`).
    pub fn rest_until(&self, until: Instant) {
        let mut handed_over = self.handed_over.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if std::mem::take(&mut *handed_over) {
                return;
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            handed_over = self.signal.wait_timeout(handed_over, left).unwrap_or_else(PoisonError::into_inner).0;
        }
    }

    /// Block until a runtime timer at `deadline` is due, or until work is handed over. tokio's
    /// timers go by whole milliseconds, rounded up: resting to the deadline itself can end just
    /// before the timer counts as due, and the runtime's wait would then take a wake-up of its
    /// own for the rest of that millisecond.
    pub fn rest_until_timer(&self, deadline: Instant) {
        self.rest_until(deadline + TIMER_GRAIN);
    }

    /// Work was handed over from another thread: a rest ends now, or the next one does not start.
    pub fn wake(&self) {
        *self.handed_over.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.signal.notify_all();
    }
}

impl Default for Rest {
    fn default() -> Self {
        Self::new()
    }
}

/// The core's thread's rest (see `rest_until_slot`).
static CORE_REST: Rest = Rest::new();

/// For the core runtime's `on_thread_park`: when the thread has nothing to do and paced streams
/// wait for a slot, block until it rather than in the runtime's own wait, which wakes the thread
/// for packets that the streams leave unread until the slot (and once more where tokio's timer
/// wheel moves the slot's timer down a level). Blocked here, the packets queue in the kernel
/// and the slot's wake-up finds them all. Timers and sockets are served when the rest ends, at
/// most one slot late, which is when paced text is shown anyway; commands from the chatroom end
/// the rest at once (`wake_resting_core`).
pub fn rest_until_slot() {
    if let Some(slot) = SLOT_AWAITED.with(Cell::take) {
        CORE_REST.rest_until_timer(slot);
    }
}

/// Block the calling thread in the core's rest until `until`, or until work is handed over
/// (`wake_resting_core`).
pub fn rest_until(until: Instant) {
    CORE_REST.rest_until(until);
}

/// Work was handed to the core from another thread: a rest (`rest_until_slot`) ends now, or
/// the next one does not start.
pub fn wake_resting_core() {
    CORE_REST.wake();
}

/// A stream whose items, when another thread makes them ready, also end the core's rest: for
/// what the core's runtime forwards and someone waits on at once (the chatroom's keystrokes).
pub struct WakesRestingCore<S>(pub S);

impl<S: Stream + Unpin> Stream for WakesRestingCore<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let waker = Waker::from(Arc::new(RestBreaker(cx.waker().clone())));
        Pin::new(&mut self.0).poll_next(&mut Context::from_waker(&waker))
    }
}

/// Wakes a task and ends the core's rest.
struct RestBreaker(Waker);

impl Wake for RestBreaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.wake_by_ref();
        wake_resting_core();
    }
}

/// The stream's next item if it is already here, without waiting on the network: `None` when
/// the stream would wait. hyper hands a body over one chunk at a time from a task of its own,
/// so "already here" means "within this turn of the runtime": the stream is polled first each
/// time the task wakes, and a yield (which resumes only after the runtime has run every task
/// that is ready, hyper's among them, and polled the sockets once without waiting) ends the
/// wait. One such poll per batch, not one per chunk.
pub async fn next_if_waiting<S: Stream + Unpin>(stream: &mut S) -> Option<Option<S::Item>> {
    tokio::select! {
        biased;
        item = stream.next() => Some(item),
        () = tokio::task::yield_now() => None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use bytes::Bytes;

    use super::*;
    use crate::core::protocol::EventKind;
    use crate::core::provider::client::{BodyError, EventSink, MAX_HELD_BYTES, Progress, StreamSource, consume_sse};
    use crate::core::provider::normalize::StreamNormalizer;
    use crate::core::provider::{ProviderKind, StreamLimits};

    #[test]
    fn the_next_slot_is_the_first_grid_point_after_now() {
        let epoch = Instant::now();
        let slot = Duration::from_millis(50);
        assert_eq!(next_slot(epoch, epoch, slot), epoch + slot);
        assert_eq!(next_slot(epoch, epoch + Duration::from_millis(49), slot), epoch + slot);
        assert_eq!(next_slot(epoch, epoch + slot, slot), epoch + slot * 2);
        assert_eq!(next_slot(epoch, epoch + Duration::from_millis(1234), slot), epoch + Duration::from_millis(1250));
        // Before the epoch (another runtime's clock in tests) the grid extends backwards.
        let later = epoch + Duration::from_secs(10);
        assert_eq!(next_slot(later, epoch + Duration::from_millis(1234), slot), epoch + Duration::from_millis(1250));
        assert_eq!(next_slot(later, epoch, slot), epoch + slot);
    }

    /// When each piece of text was handed on, by the runtime's (paused) clock.
    struct Handed(Vec<(Instant, String)>);

    impl EventSink for Handed {
        async fn emit(&mut self, kind: EventKind) -> bool {
            if let EventKind::TextDelta(text) = kind {
                self.0.push((Instant::now(), text));
            }
            true
        }
    }

    fn chunk(text: &str) -> Bytes {
        Bytes::from(format!("data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{text}\"}}}}]}}\n\n"))
    }

    fn finish() -> Bytes {
        Bytes::from_static(
            b"data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n",
        )
    }

    /// A socket's worth of chunks: each is readable from its time on, whether or not anyone
    /// reads then (as bytes wait in a receive buffer), so a late reader finds several ready.
    fn arriving(
        start: Instant,
        chunks: Vec<(Duration, Bytes)>,
    ) -> impl futures_util::Stream<Item = Result<Bytes, BodyError>> {
        futures_util::stream::unfold(chunks.into_iter(), move |mut rest| async move {
            let (at, bytes) = rest.next()?;
            if start + at > Instant::now() {
                tokio::time::sleep_until(start + at).await;
            }
            Some((Ok(bytes), rest))
        })
    }

    /// Streams `count` words, one every `gap` (the last followed by the finish chunk), and
    /// returns when each word arrived and when it was handed on, and the deltas it took.
    async fn stream_words(
        count: usize,
        gap: Duration,
        read_slot: Option<Duration>,
    ) -> (Vec<(Instant, Instant)>, Vec<String>) {
        let start = Instant::now();
        let mut chunks: Vec<(Duration, Bytes)> =
            (0..count).map(|i| (gap * u32::try_from(i).unwrap(), chunk(&format!("w{i} ")))).collect();
        chunks.push((gap * u32::try_from(count).unwrap(), finish()));
        let source = StreamSource {
            label: "test",
            url: "http://test/",
            idle: Duration::from_secs(60),
            limits: StreamLimits::default(),
            read_slot,
        };
        let mut normalizer = StreamNormalizer::new(ProviderKind::OpenaiCompatible);
        let mut progress = Progress::default();
        let mut handed = Handed(Vec::new());
        consume_sse(arriving(start, chunks), &mut normalizer, &source, &mut progress, &mut handed)
            .await
            .expect("the stream ends with its finish chunk");
        let words: Vec<String> = (0..count).map(|i| format!("w{i} ")).collect();
        assert_eq!(progress.summary.text, words.concat(), "every word, in order");
        // What was read together is handed on as one delta: each word's hand-over is its delta's.
        let handed_text: String = handed.0.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(handed_text, words.concat(), "every word handed on once, in order");
        let word_handed_at = handed.0.iter().flat_map(|(at, text)| text.split_inclusive(' ').map(move |_| *at));
        let timings = word_handed_at.enumerate().map(|(i, at)| (start + gap * u32::try_from(i).unwrap(), at)).collect();
        (timings, handed.0.into_iter().map(|(_, text)| text).collect())
    }

    #[tokio::test(start_paused = true)]
    async fn a_paced_stream_hands_on_what_arrived_at_the_slots_and_nothing_later_than_a_slot() {
        let slot = Duration::from_millis(50);
        let gap = Duration::from_millis(5);
        let (timings, deltas) = stream_words(200, gap, Some(slot)).await;
        let wakeups: BTreeSet<Instant> = timings.iter().map(|(_, handed)| *handed).collect();
        // 200 words over a second: the first slot's ten one by one (the pace is not known yet),
        // the rest at the slots after it, each slot's words as one delta.
        assert!(wakeups.len() <= 32, "{} hand-overs for 200 words over 1 s at 50 ms slots", wakeups.len());
        assert_eq!(deltas.len(), wakeups.len(), "one delta per hand-over");
        for (arrived, handed) in timings {
            assert!(handed >= arrived);
            assert!(handed - arrived <= slot + Duration::from_millis(1), "a word waited {:?}", handed - arrived);
        }

        // Unpaced, the same stream is handed on word by word.
        let (unpaced, _) = stream_words(200, gap, None).await;
        assert!(unpaced.iter().all(|(arrived, handed)| *handed - *arrived <= Duration::from_millis(1)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_stream_is_read_as_it_comes() {
        // 25 chunks a second: two a slot, not worth a timer's wake-up each slot.
        let (timings, _) = stream_words(50, Duration::from_millis(40), Some(Duration::from_millis(50))).await;
        assert!(timings.iter().all(|(arrived, handed)| *handed - *arrived <= Duration::from_millis(1)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_paced_stream_reads_what_is_already_waiting_without_waiting_for_a_slot() {
        // A flood: every word is there at once. Pacing must not spread it over slots.
        let (timings, deltas) = stream_words(1_000, Duration::ZERO, Some(Duration::from_millis(50))).await;
        let first = timings[0].1;
        assert!(timings.iter().all(|(_, handed)| *handed == first), "a flood was held back to the slots");
        assert_eq!(deltas.len(), 1, "what was read together is one delta");
    }

    #[tokio::test]
    async fn text_held_when_the_stream_is_dropped_is_handed_on_by_the_caller() {
        // A read's text is held while the reader looks for the next chunk; a cancel may drop
        // the stream right then, and the text is in the summary, so it must reach the sink too.
        let chunks =
            futures_util::stream::iter([Ok(chunk("all ")), Ok(chunk("of it"))]).chain(futures_util::stream::pending());
        let source = StreamSource {
            label: "test",
            url: "http://test/",
            idle: Duration::from_secs(60),
            limits: StreamLimits::default(),
            read_slot: Some(Duration::from_millis(50)),
        };
        let mut normalizer = StreamNormalizer::new(ProviderKind::OpenaiCompatible);
        let mut progress = Progress::default();
        let mut handed = Handed(Vec::new());
        let (cancel, cancelled) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move { cancel.send(()) });
        tokio::select! {
            biased;
            _ = cancelled => {}
            _ = consume_sse(chunks, &mut normalizer, &source, &mut progress, &mut handed) => panic!("the stream never ends"),
        }
        assert_eq!(progress.summary.text, "all of it");
        assert!(handed.0.is_empty(), "the read's text was still held when the stream was dropped");
        progress.hand_on_held(&mut handed).await;
        let text: String = handed.0.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(text, "all of it");
    }

    #[tokio::test(start_paused = true)]
    async fn a_flood_that_is_always_waiting_is_still_handed_on_in_pieces() {
        let (_, deltas) = stream_words(5_000, Duration::ZERO, Some(Duration::from_millis(50))).await;
        assert!(deltas.len() > 2, "{} deltas for {} bytes", deltas.len(), deltas.concat().len());
        assert!(deltas.iter().all(|d| d.len() < MAX_HELD_BYTES + 16), "a delta held more than the cap and one word");
    }
}
