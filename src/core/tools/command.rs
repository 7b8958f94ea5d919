//! User tools from the config: a command that gets the call's arguments as JSON on stdin and
//! answers on stdout, run in its own process group with a timeout (the whole group is killed
//! when it runs over or the call is cancelled, so a shell script's children go too), a working
//! directory, capped output, and without the API keys in its environment.
//!
//! A descendant can leave the group (`setsid sleep 1001 &`, a daemonising script). Every run
//! therefore marks its command's environment with a unique `ROUNDTABLE_TOOL_RUN` value, which
//! every descendant inherits; when the run ends (finished, timed out or cancelled) each process
//! still carrying the mark is killed, wherever it went (Linux, where `/proc` shows it).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::ToolOutput;
use crate::core::sanitize::strip_controls;

/// Largest result passed back to the model; past it the output is cut and marked.
pub const MAX_OUTPUT: usize = 64 * 1024;
/// How much of stderr a failure quotes (its end, where the reason usually is).
const STDERR_TAIL: usize = 2000;
/// The environment variable that marks a run's processes.
const RUN_MARKER: &str = "ROUNDTABLE_TOOL_RUN";
/// After the command exits, how long something it left running may keep its output open.
const LEFTOVER_GRACE: Duration = Duration::from_millis(300);

/// How to run one user tool.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandSpec {
    /// Program and arguments; no shell is involved unless the user names one.
    pub argv: Vec<String>,
    pub timeout: Duration,
    pub cwd: Option<PathBuf>,
}

/// Run `spec` with `arguments` (JSON text) on stdin; `hidden_env` are removed from the child's
/// environment (the providers' API key variables).
pub async fn run(name: &str, spec: &CommandSpec, arguments: &str, hidden_env: &[String]) -> ToolOutput {
    let Some((program, args)) = spec.argv.split_first() else {
        return ToolOutput::error(format!("The tool {name} has no command configured."));
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A cancelled call drops this future: the child must not outlive it.
        .kill_on_drop(true);
    // Its own process group, so a timeout or a cancel reaches whatever the command started.
    #[cfg(unix)]
    cmd.process_group(0);
    if let Some(dir) = &spec.cwd {
        cmd.current_dir(dir);
    }
    for var in hidden_env {
        cmd.env_remove(var);
    }
    let marker = format!("{}-{}", std::process::id(), crate::core::store::new_id());
    cmd.env(RUN_MARKER, &marker);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return ToolOutput::error(format!(
                "The command of tool {name} could not be started ({program}: {e}). Tell the user to check the tool's command and cwd in the config."
            ));
        }
    };
    let group = ProcessGroup { id: child.id(), marker: Some(marker) };
    let stdin = child.stdin.take();
    let mut stdout = tokio::spawn(read_capped(child.stdout.take(), Keep::Head));
    let mut stderr = tokio::spawn(read_capped(child.stderr.take(), Keep::Tail));
    let work = async {
        // A command that never reads its input must not block us: write, then close.
        let write = async {
            if let Some(mut stdin) = stdin {
                let _ = stdin.write_all(arguments.as_bytes()).await;
                let _ = stdin.shutdown().await;
            }
        };
        let (_, status) = tokio::join!(write, child.wait());
        // Something the command left running may hold its output open: a moment, then it goes.
        let outputs = async { ((&mut stdout).await, (&mut stderr).await) };
        let (out, err) = match tokio::time::timeout(LEFTOVER_GRACE, outputs).await {
            Ok(pair) => pair,
            Err(_) => {
                group.kill();
                ((&mut stdout).await, (&mut stderr).await)
            }
        };
        let captured = |r: Result<Captured, tokio::task::JoinError>| r.unwrap_or(Captured::EMPTY);
        (captured(out), captured(err), status)
    };
    let finished = tokio::time::timeout(spec.timeout, work).await;
    let (out, err, status) = match finished {
        Ok(r) => r,
        Err(_) => {
            // The whole group: the command and anything it started. `group` also kills on drop
            // (a cancelled call), and the child on its own through `kill_on_drop`.
            group.kill();
            let _ = child.start_kill();
            let _ = tokio::time::timeout(Duration::from_secs(2), child.wait()).await;
            return ToolOutput::error(format!(
                "The tool {name} did not finish within {} s and was stopped.",
                spec.timeout.as_secs_f64()
            ));
        }
    };
    group.disarm();
    let status = match status {
        Ok(s) => s,
        Err(e) => return ToolOutput::error(format!("Waiting for the tool {name} failed: {e}.")),
    };
    if !status.success() {
        let code = status.code().map_or_else(|| "a signal".to_owned(), |c| format!("status {c}"));
        let tail = tail(&text(&err.bytes), STDERR_TAIL);
        let detail = if tail.trim().is_empty() { String::new() } else { format!(": {}", tail.trim()) };
        return ToolOutput::error(format!("The tool {name} failed (exit {code}){detail}"));
    }
    let mut output = text(&out.bytes);
    if out.truncated {
        output.push_str(&format!("\n[output cut at {} KiB]", MAX_OUTPUT / 1024));
    }
    ToolOutput { output, is_error: false }
}

struct Captured {
    bytes: Vec<u8>,
    truncated: bool,
}

impl Captured {
    const EMPTY: Captured = Captured { bytes: Vec::new(), truncated: false };
}

/// The process group of a running tool command (its id is the command's pid) and the mark of
/// its run. Killed when dropped unless disarmed, so a cancelled call leaves nothing running.
struct ProcessGroup {
    id: Option<u32>,
    marker: Option<String>,
}

impl ProcessGroup {
    #[allow(unsafe_code)] // libc::killpg has no safe wrapper in std; it only sends a signal
    fn kill(&self) {
        #[cfg(unix)]
        if let Some(id) = self.id.and_then(|id| libc::pid_t::try_from(id).ok()) {
            // SAFETY: killpg only sends a signal; a group that is already gone gives ESRCH.
            unsafe {
                libc::killpg(id, libc::SIGKILL);
            }
        }
        if let Some(marker) = &self.marker {
            kill_marked(marker);
        }
    }

    /// The command finished and its output closed: only what left its group may be left.
    fn disarm(mut self) {
        self.id = None;
        if let Some(marker) = self.marker.take() {
            kill_marked(&marker);
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Kill every process whose environment carries this run's mark: the descendants that left the
/// process group. Passes go on while one finds something, since one may fork while the others
/// are killed; and while a live process shows no environment at all: that is one in the middle
/// of `exec` (its old memory gone, the new not yet readable), as a detached child of a script
/// that exits at once can be at the moment its run ends.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)] // libc::kill has no safe wrapper in std; it only sends a signal
fn kill_marked(marker: &str) {
    const MAX_PASSES: usize = 20;
    let needle = format!("{RUN_MARKER}={marker}\0");
    let me = std::process::id();
    for _ in 0..MAX_PASSES {
        let mut again = false;
        let Ok(entries) = std::fs::read_dir("/proc") else { return };
        for entry in entries.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
            if pid == me {
                continue;
            }
            let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else { continue };
            if environ.is_empty() {
                again |= is_exec_window(pid);
            } else if environ.windows(needle.len()).any(|w| w == needle.as_bytes())
                && let Ok(pid) = libc::pid_t::try_from(pid)
            {
                // SAFETY: kill only sends a signal; a process already gone gives ESRCH.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
                again = true;
            }
        }
        if !again {
            return;
        }
        std::thread::yield_now();
    }
}

/// Whether a process with an empty environment may be one between two programs: not a zombie
/// and not a kernel thread (those have none for good).
#[cfg(target_os = "linux")]
fn is_exec_window(pid: u32) -> bool {
    const PF_KTHREAD: u64 = 0x0020_0000;
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    // "pid (comm) state ppid pgrp session tty_nr tpgid flags ...": comm may hold anything.
    let Some((_, rest)) = stat.rsplit_once(')') else { return false };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first().copied().unwrap_or("Z");
    let flags = fields.get(6).and_then(|f| f.parse::<u64>().ok()).unwrap_or(PF_KTHREAD);
    state != "Z" && state != "X" && flags & PF_KTHREAD == 0
}

#[cfg(not(target_os = "linux"))]
fn kill_marked(_marker: &str) {}

/// Which part of a long output to keep.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Keep {
    /// The beginning (a result).
    Head,
    /// The end (stderr: the real error is usually last).
    Tail,
}

/// Read everything (so the child never blocks on a full pipe) but keep at most `MAX_OUTPUT`.
async fn read_capped<R: AsyncRead + Unpin>(pipe: Option<R>, keep: Keep) -> Captured {
    let mut kept = Vec::new();
    let mut truncated = false;
    let Some(mut pipe) = pipe else { return Captured { bytes: kept, truncated } };
    let mut buf = [0u8; 8192];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) if keep == Keep::Head => {
                let room = MAX_OUTPUT.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
                truncated |= n > room;
            }
            Ok(n) => {
                kept.extend_from_slice(&buf[..n]);
                // Drop the front in large steps, so the work stays linear in the output.
                if kept.len() > 2 * MAX_OUTPUT {
                    kept.drain(..kept.len() - MAX_OUTPUT);
                    truncated = true;
                }
            }
        }
    }
    if kept.len() > MAX_OUTPUT {
        kept.drain(..kept.len() - MAX_OUTPUT);
        truncated = true;
    }
    Captured { bytes: kept, truncated }
}

/// Output as text for the model and the screen: lossy UTF-8, no terminal controls.
fn text(bytes: &[u8]) -> String {
    strip_controls(&String::from_utf8_lossy(bytes)).into_owned()
}

fn tail(s: &str, max: usize) -> String {
    let count = s.chars().count();
    if count <= max { s.to_owned() } else { format!("…{}", s.chars().skip(count - max).collect::<String>()) }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::is_exec_window;

    /// A live process may be between two programs; a zombie (which has no environment for
    /// good) is not, so `kill_marked` does not spin on one.
    #[test]
    fn only_a_live_user_process_can_be_caught_mid_exec() {
        assert!(is_exec_window(std::process::id()));
        // Kernel threads have no environment either (kthreadd is pid 2 where the host's are seen).
        if std::fs::read_to_string("/proc/2/stat").is_ok_and(|s| s.contains("(kthreadd)")) {
            assert!(!is_exec_window(2), "a kernel thread");
        }
        let mut child = std::process::Command::new("true").spawn().expect("spawn true");
        let pid = child.id();
        // Not waited for yet: once it exits it stays a zombie.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z ")) {
            assert!(std::time::Instant::now() < deadline, "the child did not exit");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(!is_exec_window(pid), "a zombie has no environment for good");
        child.wait().expect("reap");
        assert!(!is_exec_window(pid), "a process that is gone is not mid-exec");
    }
}
