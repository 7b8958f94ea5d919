//! Logging to a file in the data dir (never the terminal, which belongs to the UI or to
//! `ask`'s output). Filter with `ROUNDTABLE_LOG` (tracing's env-filter syntax).

use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// Start logging to `file`. Returns the guard that flushes on drop, or `None` when the file
/// cannot be opened (logging is then off: never a reason to fail the command).
pub fn init(file: &Path) -> Option<WorkerGuard> {
    let dir = file.parent()?;
    std::fs::create_dir_all(dir).ok()?;
    let handle = std::fs::OpenOptions::new().create(true).append(true).open(file).ok()?;
    // A small queue: the default preallocates room for 128k lines (4 MB of the chatroom's
    // memory) for a log that writes a few lines a minute. When full, lines are dropped rather
    // than blocking the caller.
    let (writer, guard) =
        tracing_appender::non_blocking::NonBlockingBuilder::default().buffered_lines_limit(1024).finish(handle);
    // HTTP internals stay at warn: their debug output could include request headers.
    let filter = EnvFilter::try_from_env("ROUNDTABLE_LOG")
        .unwrap_or_else(|_| EnvFilter::new("roundtable=info,warn"))
        .add_directive("hyper=warn".parse().ok()?)
        .add_directive("reqwest=warn".parse().ok()?);
    let writer = move || Redacting(writer.clone());
    tracing_subscriber::fmt().with_writer(writer).with_ansi(false).with_env_filter(filter).try_init().ok()?;
    Some(guard)
}

/// Removes the configured API keys from every log line (an upstream may echo a key back in a
/// message that gets logged). The formatter writes one whole line per call, so a key is never
/// split across two writes.
struct Redacting<W>(W);

impl<W: std::io::Write> std::io::Write for Redacting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let clean = crate::core::sanitize::redact_secrets(&text);
        self.0.write_all(clean.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}
