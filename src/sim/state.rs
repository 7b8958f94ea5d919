//! Shared server state: config, the sim clock, free-tier counters, served generations and
//! stats. One std `Mutex`, held only for short bookkeeping and never across an `.await`.

use std::collections::{HashMap, VecDeque};

use axum::body::Bytes;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use rust_decimal::Decimal;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::limits::FreeLimits;
use super::util::Rng;
use super::{SimConfig, SimStats};

/// One served generation, for `GET /generation`.
#[derive(Clone, Debug)]
pub struct GenRecord {
    pub model: String,
    pub provider: &'static str,
    pub streamed: bool,
    pub created_ms: i64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub reasoning_tokens: u64,
    /// Prompt tokens read from the cache, and what that saved.
    pub cached_tokens: u64,
    pub cache_discount: Decimal,
    pub cost: Decimal,
    pub finish_reason: String,
    pub native_finish_reason: String,
    /// Set when the response is complete (or abandoned); visible after `generation_lag`.
    pub finished: Option<Instant>,
    pub cancelled: bool,
    pub latency_ms: u64,
    pub generation_ms: u64,
}

#[derive(Debug, Default)]
pub struct Inner {
    pub limits: FreeLimits,
    pub stats: SimStats,
    pub generations: HashMap<String, GenRecord>,
    /// USD spent per key.
    pub spend: HashMap<String, Decimal>,
    pub total_spend: Decimal,
    /// The latest chat-completions request bodies as sent (at most [`KEPT_BODIES`]), for tests
    /// that check what a client asked for.
    pub bodies: VecDeque<Bytes>,
    /// Prompt caches of sticky sessions: per (session id, model), the message hashes of the
    /// last request (at most [`KEPT_SESSIONS`] sessions; then they are all forgotten).
    pub prompt_caches: HashMap<(String, String), Vec<u64>>,
}

/// How many sessions' prompt caches the simulator keeps.
pub const KEPT_SESSIONS: usize = 4096;

/// How many request bodies the simulator keeps.
pub const KEPT_BODIES: usize = 64;

pub struct Shared {
    pub config: SimConfig,
    pub stop: CancellationToken,
    inner: Mutex<Inner>,
    wall_start_ms: i64,
    start: Instant,
    ids: AtomicU64,
    id_seed: u64,
}

impl Shared {
    pub fn new(config: SimConfig) -> Shared {
        let free_window = config.free_window;
        let wall_start_ms = jiff::Timestamp::now().as_millisecond();
        Shared {
            config,
            stop: CancellationToken::new(),
            inner: Mutex::new(Inner { limits: FreeLimits::with_window(free_window), ..Inner::default() }),
            wall_start_ms,
            start: Instant::now(),
            ids: AtomicU64::new(0),
            id_seed: wall_start_ms as u64 ^ u64::from(std::process::id()).rotate_left(32),
        }
    }

    /// Poison-tolerant lock: a panic elsewhere must not take the simulator down.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Epoch milliseconds on the sim clock: wall time at start plus tokio time elapsed, so
    /// tests with a paused tokio clock can move through minutes and days.
    pub fn now_ms(&self) -> i64 {
        self.wall_start_ms + self.start.elapsed().as_millis() as i64
    }

    /// `gen-<unix secs>-<20 alnum>`, unique per server.
    pub fn new_generation_id(&self) -> String {
        let n = self.ids.fetch_add(1, Ordering::Relaxed);
        let mut rng = Rng::new(self.id_seed ^ n.wrapping_mul(0x2545_F491_4F6C_DD1D));
        format!("gen-{}-{}", self.now_ms() / 1000, rng.alnum(20))
    }
}
