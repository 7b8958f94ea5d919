//! Paced benchmark: the real `roundtable` binary in a pseudo-terminal, streaming from the
//! simulator (a separate `roundtable sim` process, loopback only) at a real model's pace:
//! one pane at 50 and 200 tok/s, six panes at 100 tok/s. Prints, per run, the chatroom's CPU
//! per 1,000 tokens, bytes written to the terminal per 1,000 tokens, frames drawn, peak RSS and
//! start-up to the first drawn frame, and the same figures for aichat on the same stream when
//! it is installed (`AICHAT=path`, or `aichat` on the PATH). Prints figures; asserts nothing.
//!
//! Run with `cargo bench --bench paced` (`PACED_QUICK=1` for shorter streams, `BIN=path` to
//! measure another build of roundtable).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

const COLS: u16 = 200;
const ROWS: u16 = 50;
/// What a run may take at most before it is reported as stuck (liveness, not a figure).
const LIVENESS: Duration = Duration::from_secs(300);
/// Quiet time after the first frame, so start-up work (catalog, warm-up) is not counted.
const SETTLE: Duration = Duration::from_millis(1500);
const BEGIN_SYNC: &[u8] = b"\x1b[?2026h";

struct Scenario {
    name: &'static str,
    panes: usize,
    tps: u32,
    tokens: u32,
    /// The sidebar shows (the default). Hidden, the bytes its rows cost after every scroll
    /// (terminals scroll whole rows) show by difference.
    sidebar: bool,
    /// Alternating roundtable/aichat runs (one pane with the sidebar only).
    pairs: usize,
}

fn main() {
    let quick = std::env::var_os("PACED_QUICK").is_some();
    let scale = |tokens: u32| if quick { tokens / 5 } else { tokens };
    let scenarios = [
        Scenario { name: "1 pane, 50 tok/s", panes: 1, tps: 50, tokens: scale(1_500), sidebar: true, pairs: 1 },
        Scenario { name: "1 pane, 200 tok/s", panes: 1, tps: 200, tokens: scale(5_000), sidebar: true, pairs: 3 },
        Scenario { name: "  sidebar hidden", panes: 1, tps: 200, tokens: scale(5_000), sidebar: false, pairs: 1 },
        Scenario { name: "6 panes, 100 tok/s", panes: 6, tps: 100, tokens: scale(3_000), sidebar: true, pairs: 1 },
    ];
    // BIN=path measures another build (before/after figures) with the same harness.
    let bin = std::env::var_os("BIN").map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_roundtable")), PathBuf::from);
    let port = free_port();
    let sim = Sim::start(&bin, port);
    let aichat = aichat_path();
    println!("paced benchmark at {COLS}x{ROWS}: the chatroom in a pty, streams from `roundtable sim` on loopback");
    println!("roundtable: {}", bin.display());
    println!("(CPU = user+sys of the client process for the stream; bytes = what it wrote to the terminal)");
    println!("(ask = `roundtable ask` on the same stream, output discarded: the network, parsing and core");
    println!(" without a chatroom; curl = the raw stream received and discarded: what any client pays)");
    println!("(threads = the chatroom's CPU per thread over the stream, to the microsecond: drawing = the");
    println!(" loop, core = network and routing, high = the highlighter, stor = the store's writer)");
    match &aichat {
        Some(p) => println!("aichat: {}", p.display()),
        None => println!("aichat: not found (set AICHAT=path to compare)"),
    }
    println!();
    println!(
        "{:<20} {:<11} {:>9} {:>11} {:>12} {:>8} {:>9} {:>9} {:>10}",
        "scenario", "client", "CPU s", "CPU s/1k", "bytes/1k", "frames", "peak RSS", "start-up", "wall s"
    );
    for s in &scenarios {
        let r = run_roundtable(&bin, port, s);
        print_row(s, "roundtable", &r);
        if s.panes == 1 && s.sidebar {
            if let Some(aichat) = &aichat {
                // The machine's pace drifts by a third within minutes, and a single pair's
                // ratio with it: alternate more pairs where the goal is set, and give the median.
                let mut ratios = Vec::with_capacity(s.pairs);
                let mut r = r;
                for pair in 0..s.pairs {
                    if pair > 0 {
                        r = run_roundtable(&bin, port, s);
                        print_row(s, "roundtable", &r);
                    }
                    let a = run_aichat(aichat, port, s);
                    print_row(s, "aichat", &a);
                    ratios.push(ratio(&r, &a));
                }
                if ratios.len() > 1 {
                    ratios.sort_by(f64::total_cmp);
                    let shown: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
                    println!(
                        "{:<20}   CPU per 1k tokens against aichat's: median {:.2} of {} alternating pairs ({})",
                        "",
                        ratios[ratios.len() / 2],
                        ratios.len(),
                        shown.join(", ")
                    );
                }
            }
            // What the same stream costs without a chatroom: the floor under both clients.
            print_row(s, "ask", &run_ask(&bin, port, s));
            if let Some(r) = run_curl(port, s) {
                print_row(s, "curl", &r);
            }
        }
    }
    drop(sim);
}

/// Roundtable's CPU per token over aichat's, for one pair of runs on the same stream.
fn ratio(roundtable: &Figures, aichat: &Figures) -> f64 {
    roundtable.cpu.as_secs_f64() / aichat.cpu.as_secs_f64().max(1e-9)
}

#[derive(Default)]
struct Figures {
    cpu: Duration,
    /// Written to the terminal (`None`: the output was discarded, not drawn).
    bytes: Option<u64>,
    frames: Option<u64>,
    peak_rss_kib: u64,
    startup: Option<Duration>,
    wall: Duration,
    total_tokens: u64,
    note: String,
    /// CPU per thread name over the stream (the chatroom's own threads, from `schedstat`).
    threads: Vec<(String, Duration)>,
}

fn print_row(s: &Scenario, client: &str, r: &Figures) {
    let per_k = |v: f64| v * 1000.0 / r.total_tokens.max(1) as f64;
    println!(
        "{:<20} {:<11} {:>9.3} {:>11.4} {:>12} {:>8} {:>8.1}M {:>9} {:>10.1}{}",
        s.name,
        client,
        r.cpu.as_secs_f64(),
        per_k(r.cpu.as_secs_f64()),
        r.bytes.map_or("-".to_string(), |b| format!("{:.0}", per_k(b as f64))),
        r.frames.map_or("-".to_string(), |f| f.to_string()),
        r.peak_rss_kib as f64 / 1024.0,
        r.startup.map_or("-".to_string(), |d| format!("{:.0} ms", d.as_secs_f64() * 1000.0)),
        r.wall.as_secs_f64(),
        if r.note.is_empty() { String::new() } else { format!("  ({})", r.note) }
    );
    if !r.threads.is_empty() {
        let threads: Vec<String> =
            r.threads.iter().map(|(name, cpu)| format!("{name} {:.1} ms", cpu.as_secs_f64() * 1000.0)).collect();
        println!("{:<20}   threads: {}", "", threads.join(" · "));
    }
}

/// The simulator as its own process, so its CPU is never counted as the client's.
struct Sim(Child);

impl Sim {
    fn start(bin: &Path, port: u16) -> Sim {
        let child = Command::new(bin)
            .args(["sim", "--port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the simulator");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(30), "the simulator did not start listening");
            std::thread::sleep(Duration::from_millis(50));
        }
        Sim(child)
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

fn model_spec(s: &Scenario, pane: usize) -> String {
    format!("bench/model-{}@tokens={}@tps={}@ttft=0", pane + 1, s.tokens, s.tps)
}

/// A program in a pty whose output is counted and parsed as a terminal would.
struct PtyRun {
    child: Box<dyn portable_pty::Child + Send + Sync>,
    writer: Arc<Mutex<Box<dyn Write + Send>>>,
    parser: Arc<Mutex<vt100::Parser>>,
    bytes: Arc<AtomicU64>,
    first_frame: Arc<Mutex<Option<Instant>>>,
    _master: Box<dyn portable_pty::MasterPty + Send>,
}

impl PtyRun {
    fn spawn(cmd: CommandBuilder) -> PtyRun {
        let pair = native_pty_system()
            .openpty(PtySize { rows: ROWS, cols: COLS, pixel_width: 0, pixel_height: 0 })
            .expect("open a pty");
        let child = pair.slave.spawn_command(cmd).expect("spawn in the pty");
        drop(pair.slave);
        let master = pair.master;
        let mut reader = master.try_clone_reader().expect("pty reader");
        let writer = Arc::new(Mutex::new(master.take_writer().expect("pty writer")));
        let parser = Arc::new(Mutex::new(vt100::Parser::new(ROWS, COLS, 0)));
        let bytes = Arc::new(AtomicU64::new(0));
        let first_frame = Arc::new(Mutex::new(None));
        {
            let (parser, bytes, first_frame, answers) =
                (Arc::clone(&parser), Arc::clone(&bytes), Arc::clone(&first_frame), Arc::clone(&writer));
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 64 * 1024];
                // A marker split across two reads is still seen. (A first frame paints the
                // whole screen, so it is synchronized: its opening marker tells it came.)
                let mut carry: Vec<u8> = Vec::new();
                loop {
                    match reader.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            bytes.fetch_add(n as u64, Ordering::Relaxed);
                            carry.extend_from_slice(&buf[..n]);
                            if carry.windows(BEGIN_SYNC.len()).any(|w| w == BEGIN_SYNC) {
                                first_frame.lock().unwrap().get_or_insert_with(Instant::now);
                            }
                            let keep = carry.len().min(BEGIN_SYNC.len() - 1);
                            carry.drain(..carry.len() - keep);
                            let mut parser = parser.lock().unwrap();
                            parser.process(&buf[..n]);
                            // Answer what a terminal is asked (aichat waits for these).
                            let reply = terminal_replies(&buf[..n], parser.screen().cursor_position());
                            if !reply.is_empty() {
                                let mut w = answers.lock().unwrap();
                                let _ = w.write_all(&reply);
                                let _ = w.flush();
                            }
                        }
                    }
                }
            });
        }
        PtyRun { child, writer, parser, bytes, first_frame, _master: master }
    }

    fn screen(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    fn send(&mut self, text: &str) {
        let mut w = self.writer.lock().unwrap();
        w.write_all(text.as_bytes()).expect("write to the pty");
        w.flush().expect("flush the pty");
    }

    fn pid(&self) -> u32 {
        self.child.process_id().expect("child pid")
    }

    fn wait_until(&mut self, what: &str, ready: impl Fn(&PtyRun) -> bool) {
        let started = Instant::now();
        while !ready(self) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the client exited ({status:?}) while waiting for {what}; screen:\n{}", self.screen());
            }
            assert!(started.elapsed() < LIVENESS, "stuck waiting for {what}; screen:\n{}", self.screen());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for PtyRun {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Replies to the queries a program may send its terminal: cursor position (`CSI 6n`),
/// primary device attributes (`CSI c`), foreground and background colour (OSC 10/11).
fn terminal_replies(out: &[u8], (row, col): (u16, u16)) -> Vec<u8> {
    let text = String::from_utf8_lossy(out);
    let mut reply = Vec::new();
    for _ in 0..text.matches("\x1b[6n").count() {
        reply.extend_from_slice(format!("\x1b[{};{}R", row + 1, col + 1).as_bytes());
    }
    for _ in 0..text.matches("\x1b[c").count() {
        reply.extend_from_slice(b"\x1b[?62;22c");
    }
    if text.contains("\x1b]10;?") {
        reply.extend_from_slice(b"\x1b]10;rgb:dddd/dddd/dddd\x1b\\");
    }
    if text.contains("\x1b]11;?") {
        reply.extend_from_slice(b"\x1b]11;rgb:1111/1111/1111\x1b\\");
    }
    reply
}

/// user+sys of a live process, including its threads that already ended.
fn process_cpu(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at ") ".
    let after = stat.rsplit_once(") ").map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name and state.
    let hz = 100u64; // USER_HZ on Linux
    Duration::from_millis((ticks(11) + ticks(12)) * 1000 / hz)
}

/// CPU run time of each live thread of a process, in nanoseconds, by thread id (with its name):
/// `schedstat` counts what the scheduler ran, not 10 ms ticks, so a thread's few milliseconds show.
fn thread_cpu(pid: u32) -> Vec<(String, String, u64)> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return Vec::new() };
    tasks
        .flatten()
        .filter_map(|task| {
            let path = task.path();
            let tid = task.file_name().to_string_lossy().into_owned();
            // The main thread draws; the others are named `roundtable-<what>` (cut to 15 bytes).
            let comm = std::fs::read_to_string(path.join("comm")).ok()?;
            let name = if tid == pid.to_string() {
                "drawing".to_string()
            } else {
                comm.trim().trim_start_matches("roundtable-").to_string()
            };
            let ran = std::fs::read_to_string(path.join("schedstat")).ok()?.split_whitespace().next()?.parse().ok()?;
            Some((tid, name, ran))
        })
        .collect()
}

/// What each thread ran between two `thread_cpu` readings, summed by name (a thread that started
/// in between counts from zero), busiest first; threads that ran under a millisecond are left out.
fn thread_cpu_since(before: &[(String, String, u64)], after: &[(String, String, u64)]) -> Vec<(String, Duration)> {
    let mut by_name: Vec<(String, Duration)> = Vec::new();
    for (tid, name, ran) in after {
        let start = before.iter().find(|(t, ..)| t == tid).map_or(0, |(.., r)| *r);
        let spent = Duration::from_nanos(ran.saturating_sub(start));
        match by_name.iter_mut().find(|(n, _)| n == name) {
            Some((_, total)) => *total += spent,
            None => by_name.push((name.clone(), spent)),
        }
    }
    by_name.retain(|(_, cpu)| *cpu >= Duration::from_millis(1));
    by_name.sort_by_key(|(_, cpu)| std::cmp::Reverse(*cpu));
    by_name
}

fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn run_roundtable(bin: &Path, port: u16, s: &Scenario) -> Figures {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut cmd = CommandBuilder::new(bin);
    cmd.args(["--base-url", &format!("http://127.0.0.1:{port}/api/v1")]);
    for pane in 0..s.panes {
        cmd.args(["-m", &model_spec(s, pane)]);
    }
    cmd.cwd(dir.path());
    cmd.env("ROUNDTABLE_DATA_DIR", dir.path().join("data"));
    cmd.env("ROUNDTABLE_CONFIG_DIR", dir.path().join("config"));
    if !s.sidebar {
        std::fs::create_dir_all(dir.path().join("config")).expect("config dir");
        std::fs::write(dir.path().join("config").join("config.toml"), "[ui]\nsidebar = false\n").expect("config");
    }
    cmd.env("ROUNDTABLE_CACHE_DIR", dir.path().join("cache"));
    cmd.env("OPENROUTER_API_KEY", "sk-or-v1-bench");
    cmd.env("TERM", "xterm-256color");
    cmd.env_remove("NO_COLOR");
    let spawned = Instant::now();
    let mut run = PtyRun::spawn(cmd);
    run.wait_until("the first frame", |r| r.first_frame.lock().unwrap().is_some());
    let startup = run.first_frame.lock().unwrap().map(|t| t.duration_since(spawned));
    std::thread::sleep(SETTLE);
    let pid = run.pid();
    let (cpu0, bytes0, threads0) = (process_cpu(pid), run.bytes.load(Ordering::Relaxed), thread_cpu(pid));
    let sent = Instant::now();
    run.send("Explain how a hash map works, with code\r");
    let panes = s.panes;
    run.wait_until("every answer's footer", |r| r.screen().matches("tok/s · stop").count() >= panes);
    let wall = sent.elapsed();
    let threads = thread_cpu_since(&threads0, &thread_cpu(pid));
    let figures = Figures {
        cpu: process_cpu(pid).saturating_sub(cpu0),
        threads,
        bytes: Some(run.bytes.load(Ordering::Relaxed) - bytes0),
        frames: None,
        peak_rss_kib: peak_rss_kib(pid),
        startup,
        wall,
        total_tokens: u64::from(s.tokens) * s.panes as u64,
        note: String::new(),
    };
    run.send("\x11");
    let quit = Instant::now();
    while matches!(run.child.try_wait(), Ok(None)) && quit.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    // Small frames go out without synchronized-update markers, so frames are counted by the
    // chatroom itself (its closing log line: the whole session's, start-up's few included).
    let log = std::fs::read_to_string(dir.path().join("data").join("roundtable.log")).unwrap_or_default();
    let frames = log
        .lines()
        .rev()
        .find(|l| l.contains("chatroom closed"))
        .and_then(|l| l.split_whitespace().find_map(|w| w.strip_prefix("frames=")))
        .and_then(|n| n.parse().ok());
    Figures { frames, ..figures }
}

fn aichat_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("AICHAT") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join("aichat")).find(|p| p.is_file())
}

/// `roundtable ask` on the same stream with its output discarded, timed by GNU time (start-up
/// included): what the network, the stream's parsing and the core cost without the chatroom.
fn run_ask(bin: &Path, port: u16, s: &Scenario) -> Figures {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut cmd = Command::new(bin);
    cmd.args(["--base-url", &format!("http://127.0.0.1:{port}/api/v1"), "ask", "-m", &model_spec(s, 0)])
        .arg("Explain how a hash map works, with code")
        .env("ROUNDTABLE_DATA_DIR", dir.path().join("data"))
        .env("ROUNDTABLE_CONFIG_DIR", dir.path().join("config"))
        .env("ROUNDTABLE_CACHE_DIR", dir.path().join("cache"))
        .env("OPENROUTER_API_KEY", "sk-or-v1-bench");
    timed(cmd, s).unwrap_or_else(|| panic!("`roundtable ask` could not be timed (is /usr/bin/time installed?)"))
}

/// curl receiving the same stream and discarding it: the floor any client pays for the packets
/// (their wake-ups and reads) before it parses or shows anything. `None` without curl.
fn run_curl(port: u16, s: &Scenario) -> Option<Figures> {
    let body = format!(
        r#"{{"model":"{}","stream":true,"messages":[{{"role":"user","content":"Explain how a hash map works, with code"}}]}}"#,
        model_spec(s, 0)
    );
    let mut cmd = Command::new("curl");
    cmd.args(["-sN", "-o", "/dev/null", "-H", "Authorization: Bearer sk-or-v1-bench"])
        .args(["-H", "Content-Type: application/json", "-d", &body])
        .arg(format!("http://127.0.0.1:{port}/api/v1/chat/completions"));
    timed(cmd, s)
}

/// Run `cmd` under GNU time with its output discarded; its CPU and peak RSS, start-up included.
fn timed(cmd: Command, s: &Scenario) -> Option<Figures> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let times = dir.path().join("time.txt");
    let started = Instant::now();
    let status = Command::new("/usr/bin/time")
        .args(["-f", "%U %S %M", "-o"])
        .arg(&times)
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .envs(cmd.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?;
    let wall = started.elapsed();
    let gnu = GnuTime::read(&times)?;
    Some(Figures {
        cpu: gnu.cpu,
        bytes: None,
        frames: None,
        peak_rss_kib: gnu.peak_rss_kib,
        startup: None,
        wall,
        total_tokens: u64::from(s.tokens),
        note: if status.success() { "incl. its start-up".into() } else { format!("FAILED: {status}") },
        threads: Vec::new(),
    })
}

/// What GNU time wrote with `-f "%U %S %M"`.
#[derive(Default)]
struct GnuTime {
    cpu: Duration,
    peak_rss_kib: u64,
    /// It noted a non-zero exit status.
    failed: bool,
}

impl GnuTime {
    fn read(path: &Path) -> Option<GnuTime> {
        let measured = std::fs::read_to_string(path).ok()?;
        let v: Vec<f64> = measured.lines().last()?.split_whitespace().filter_map(|x| x.parse().ok()).collect();
        Some(GnuTime {
            cpu: Duration::from_secs_f64(v.first()? + v.get(1)?),
            peak_rss_kib: v.get(2).copied().unwrap_or(0.0) as u64,
            // "Command exited with non-zero status N" comes on a line of its own first.
            failed: measured.lines().count() > 1,
        })
    }
}

/// aichat 0.30 in command mode on the same stream, timed by GNU time (it exits when done, so
/// its figures include its start-up: a conservative comparison for roundtable).
fn run_aichat(aichat: &Path, port: u16, s: &Scenario) -> Figures {
    let dir = tempfile::tempdir().expect("temporary directory");
    let model = model_spec(s, 0);
    let config = format!(
        "model: sim:{model}\nstream: true\nsave: false\nhighlight: true\nclients:\n  - type: openai-compatible\n    \
         name: sim\n    api_base: http://127.0.0.1:{port}/api/v1\n    api_key: sk-or-v1-bench\n    models:\n      - \
         name: '{model}'\n"
    );
    std::fs::write(dir.path().join("config.yaml"), config).expect("aichat config");
    let times = dir.path().join("time.txt");
    let mut cmd = CommandBuilder::new("/usr/bin/time");
    cmd.args(["-f", "%U %S %M", "-o"]);
    cmd.arg(&times);
    cmd.arg(aichat);
    cmd.arg("Explain how a hash map works, with code");
    cmd.cwd(dir.path());
    cmd.env("AICHAT_CONFIG_DIR", dir.path());
    cmd.env("TERM", "xterm-256color");
    cmd.env_remove("NO_COLOR");
    let started = Instant::now();
    let mut run = PtyRun::spawn(cmd);
    loop {
        match run.child.try_wait() {
            Ok(Some(_)) => break,
            _ if started.elapsed() > LIVENESS => panic!("aichat did not finish; screen:\n{}", run.screen()),
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    let wall = started.elapsed();
    // Let the reader take the last bytes.
    std::thread::sleep(Duration::from_millis(200));
    let gnu = GnuTime::read(&times).unwrap_or_default();
    Figures {
        cpu: gnu.cpu,
        bytes: Some(run.bytes.load(Ordering::Relaxed)),
        frames: None,
        peak_rss_kib: gnu.peak_rss_kib,
        startup: None,
        wall,
        total_tokens: u64::from(s.tokens),
        note: if gnu.failed {
            let screen = run.screen();
            format!("FAILED: {}", screen.trim().lines().take(3).collect::<Vec<_>>().join(" / "))
        } else {
            "incl. its start-up".into()
        },
        threads: Vec::new(),
    }
}
