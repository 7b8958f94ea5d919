//! User tools from the config: a command that gets the call's arguments as JSON on stdin and
//! answers on stdout, run with a timeout (the child is killed when it runs over or the call is
//! cancelled), a working directory, capped output, and without the API keys in its environment.

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
    if let Some(dir) = &spec.cwd {
        cmd.current_dir(dir);
    }
    for var in hidden_env {
        cmd.env_remove(var);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return ToolOutput::error(format!(
                "The command of tool {name} could not be started ({program}: {e}). Tell the user to check the tool's command and cwd in the config."
            ));
        }
    };
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let work = async {
        // A command that never reads its input must not block us: write, then close.
        let write = async {
            if let Some(mut stdin) = stdin {
                let _ = stdin.write_all(arguments.as_bytes()).await;
                let _ = stdin.shutdown().await;
            }
        };
        let (_, out, err, status) = tokio::join!(write, read_capped(stdout), read_capped(stderr), child.wait());
        (out, err, status)
    };
    let finished = tokio::time::timeout(spec.timeout, work).await;
    let (out, err, status) = match finished {
        Ok(r) => r,
        Err(_) => {
            // Dropping `work` closed the pipes; the child itself is killed here (and on drop).
            let _ = child.start_kill();
            let _ = tokio::time::timeout(Duration::from_secs(2), child.wait()).await;
            return ToolOutput::error(format!(
                "The tool {name} did not finish within {} s and was stopped.",
                spec.timeout.as_secs_f64()
            ));
        }
    };
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

/// Read everything (so the child never blocks on a full pipe) but keep at most `MAX_OUTPUT`.
async fn read_capped<R: AsyncRead + Unpin>(pipe: Option<R>) -> Captured {
    let mut kept = Vec::new();
    let mut truncated = false;
    let Some(mut pipe) = pipe else { return Captured { bytes: kept, truncated } };
    let mut buf = [0u8; 8192];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = MAX_OUTPUT.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
                truncated |= n > room;
            }
        }
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
