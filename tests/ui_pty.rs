//! End to end: the real `roundtable` binary in a pseudo-terminal, in demo mode on its in-process
//! simulator (loopback only), its screen read back through a vt100 parser.
//!
//! Waits here are liveness waits with generous limits, never timing assertions; a guard kills
//! the child whenever a test fails so nothing hangs. `UI_PTY_SHOW=1 cargo test --test ui_pty --
//! --nocapture` prints the screen at every step.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};

/// How long the app may take to reach a screen (a cold, loaded CI box streams slowly).
const LIVENESS: Duration = Duration::from_secs(90);
/// How long the app may take to exit after Ctrl+Q.
const EXIT_WAIT: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(100);

const LEAVE_ALT_SCREEN: &[u8] = b"\x1b[?1049l";
/// What of each demo model's id its pane header shows at 120 columns (ids are cut in the middle).
const DEMO_MODELS: [&str; 3] = ["gpt-4o-mini", "haiku-4.5", "3-70b:free"];
/// The start of the demo prompt: short enough not to wrap in a pane.
const DEMO_PROMPT_START: &str = "Explain how a hash map";

/// The three directories roundtable uses, inside one temporary directory.
struct Dirs {
    root: tempfile::TempDir,
}

impl Dirs {
    fn new() -> Dirs {
        Dirs { root: tempfile::tempdir().expect("temporary directory") }
    }

    fn path(&self) -> &Path {
        self.root.path()
    }
}

/// A running `roundtable` in a pty. Dropping it kills the child if it is still running.
struct Session {
    child: Box<dyn Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    parser: Arc<Mutex<vt100::Parser>>,
    /// Every byte the app wrote, for checks on raw escape sequences.
    raw: Arc<Mutex<Vec<u8>>>,
    reader: Option<JoinHandle<()>>,
    // Kept open for the session's lifetime: closing the master hangs the child up.
    _master: Box<dyn MasterPty + Send>,
}

impl Session {
    fn spawn(dirs: &Dirs, cols: u16, rows: u16, args: &[&str]) -> Session {
        Session::spawn_with(dirs, cols, rows, args, &[])
    }

    fn spawn_with(dirs: &Dirs, cols: u16, rows: u16, args: &[&str], env: &[(&str, &str)]) -> Session {
        let pty = native_pty_system();
        let pair = pty.openpty(PtySize { rows, cols, pixel_width: 0, pixel_height: 0 }).expect("open a pty");
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_roundtable"));
        cmd.args(args);
        cmd.cwd(dirs.path());
        cmd.env("ROUNDTABLE_DATA_DIR", dirs.path().join("data"));
        cmd.env("ROUNDTABLE_CONFIG_DIR", dirs.path().join("config"));
        cmd.env("ROUNDTABLE_CACHE_DIR", dirs.path().join("cache"));
        cmd.env("TERM", "xterm-256color");
        // No key: the chatroom starts in demo mode on the loopback simulator, never the internet.
        cmd.env_remove("OPENROUTER_API_KEY");
        cmd.env_remove("NO_COLOR");
        cmd.env_remove("VISUAL");
        for (key, value) in env {
            cmd.env(key, value);
        }
        let child = pair.slave.spawn_command(cmd).expect("spawn roundtable in the pty");
        // The child holds the slave now; ours must close so reads see EOF when the child exits.
        drop(pair.slave);
        let master = pair.master;
        let mut reader = master.try_clone_reader().expect("pty reader");
        let writer = master.take_writer().expect("pty writer");
        let parser = Arc::new(Mutex::new(vt100::Parser::new(rows, cols, 0)));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let reader = {
            let (parser, raw) = (Arc::clone(&parser), Arc::clone(&raw));
            std::thread::spawn(move || {
                let mut buf = [0u8; 16 * 1024];
                loop {
                    match reader.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            raw.lock().unwrap().extend_from_slice(&buf[..n]);
                            parser.lock().unwrap().process(&buf[..n]);
                        }
                    }
                }
            })
        };
        Session { child, writer, parser, raw, reader: Some(reader), _master: master }
    }

    fn screen(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    fn send(&mut self, bytes: &str) {
        self.writer.write_all(bytes.as_bytes()).expect("write to the pty");
        self.writer.flush().expect("flush the pty");
    }

    /// Poll the screen until `ready` holds; fails with the screen when the child exits or the
    /// liveness limit passes.
    fn wait_for(&mut self, what: &str, ready: impl Fn(&Session) -> bool) {
        let started = Instant::now();
        loop {
            if ready(self) {
                if std::env::var_os("UI_PTY_SHOW").is_some() {
                    eprintln!("--- reached {what}:\n{}", self.screen());
                }
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                // One last look: the final frame may have landed just before the exit.
                std::thread::sleep(POLL);
                if ready(self) {
                    return;
                }
                panic!("roundtable exited ({status:?}) while waiting for {what}; screen:\n{}", self.screen());
            }
            if started.elapsed() > LIVENESS {
                panic!("timed out after {LIVENESS:?} waiting for {what}; screen:\n{}", self.screen());
            }
            std::thread::sleep(POLL);
        }
    }

    /// Press Ctrl+Q, then require a successful exit, all output read, and the terminal restored.
    fn quit_cleanly(mut self) {
        self.send("\x11");
        let started = Instant::now();
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if started.elapsed() > EXIT_WAIT => {
                    panic!("roundtable did not exit within {EXIT_WAIT:?} of Ctrl+Q; screen:\n{}", self.screen())
                }
                Ok(None) => std::thread::sleep(POLL),
                Err(e) => panic!("waiting for roundtable: {e}"),
            }
        };
        assert!(status.success(), "roundtable exited with {status:?} after Ctrl+Q; screen:\n{}", self.screen());
        self.join_reader();
        let raw = self.raw.lock().unwrap().clone();
        assert!(
            raw.windows(LEAVE_ALT_SCREEN.len()).any(|w| w == LEAVE_ALT_SCREEN),
            "the terminal was not restored: no leave-alternate-screen sequence in {} bytes of output; last \
             bytes: {:?}",
            raw.len(),
            String::from_utf8_lossy(&raw[raw.len().saturating_sub(200)..])
        );
    }

    /// Wait (bounded) for the reader to see EOF, so every byte the child wrote is in `raw`.
    fn join_reader(&mut self) {
        let started = Instant::now();
        while self.reader.as_ref().is_some_and(|r| !r.is_finished()) && started.elapsed() < EXIT_WAIT {
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Some(r) = self.reader.take().filter(|r| r.is_finished()) {
            let _ = r.join();
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// Whether some pane shows a user turn (`▍You`, then the prompt on the next row, same column)
/// whose text starts with `text`. The simulator quotes prompts in its answers, so plain
/// `contains` would not tell the turn from the answer.
fn shows_user_turn(screen: &str, text: &str) -> bool {
    let rows: Vec<Vec<char>> = screen.lines().map(|l| l.chars().collect()).collect();
    let marker: Vec<char> = "▍You".chars().collect();
    let wanted: Vec<char> = text.chars().collect();
    rows.iter().enumerate().any(|(y, row)| {
        (0..row.len()).filter(|&x| row[x..].starts_with(&marker)).any(|x| {
            rows.get(y + 1).is_some_and(|next| {
                let body = next.get(x..).unwrap_or_default();
                let start = body.iter().position(|c| *c != ' ').unwrap_or(body.len());
                body[start..].starts_with(&wanted)
            })
        })
    })
}

fn all_done(s: &Session) -> bool {
    count(&s.screen(), "✓ done") >= 3
}

/// Start the demo room and wait for its three answers.
fn demo_room_answered(dirs: &Dirs) -> Session {
    let mut s = Session::spawn(dirs, 120, 40, &[]);
    s.wait_for("the DEMO badge and three finished panes", |s| s.screen().contains("DEMO") && all_done(s));
    let screen = s.screen();
    for model in DEMO_MODELS {
        assert!(screen.contains(model), "no pane header for {model}; screen:\n{screen}");
    }
    s
}

#[test]
fn demo_room_streams_takes_a_prompt_shows_help_and_quits_cleanly() {
    let dirs = Dirs::new();
    let mut s = demo_room_answered(&dirs);
    let screen = s.screen();
    assert!(count(&screen, "── in ") >= 3, "not every demo answer has its footer (`── in …`); screen:\n{screen}");

    // A prompt of our own: typed into the draft, then sent to every pane.
    s.send("What is Rust?");
    s.wait_for("the typed draft in the input box", |s| s.screen().contains("What is Rust?"));
    s.send("\r");
    s.wait_for("the prompt as a user turn in the panes", |s| shows_user_turn(&s.screen(), "What is Rust?"));
    // The turn started in the same update that put the prompt in the panes, so three `✓ done`
    // from here on belong to the new answers.
    s.wait_for("three finished panes for the new prompt", all_done);
    let screen = s.screen();
    assert!(count(&screen, "── in ") >= 3, "not every new answer has its footer (`── in …`); screen:\n{screen}");

    // Help opens on F1 and closes on Esc.
    let baseline = count(&s.screen(), "Help");
    s.send("\x1bOP");
    s.wait_for("the help popup", |s| count(&s.screen(), "Help") > baseline);
    s.send("\x1b");
    // A lone ESC is told apart from an escape sequence only when no byte follows it at once:
    // wait for the popup to close before the next key, or ESC + Ctrl+Q would read as Alt+Ctrl+Q.
    s.wait_for("the help popup to close", |s| count(&s.screen(), "Help") == baseline);

    s.quit_cleanly();
}

#[test]
fn resume_shows_the_previous_rooms_prompt() {
    let dirs = Dirs::new();
    demo_room_answered(&dirs).quit_cleanly();

    let mut s = Session::spawn(&dirs, 120, 40, &["--resume"]);
    s.wait_for("the resumed room", |s| s.screen().contains("Resumed room"));
    let screen = s.screen();
    assert!(screen.contains("DEMO"), "the resumed demo room has no DEMO badge; screen:\n{screen}");
    for model in DEMO_MODELS {
        assert!(screen.contains(model), "the resumed room has no pane for {model}; screen:\n{screen}");
    }
    // The status line names the room by its first prompt.
    assert!(
        screen.contains("Resumed room “Explain how a hash map"),
        "the status does not name the room; screen:\n{screen}"
    );
    // Panes follow the bottom of their transcript; Ctrl+Home shows the top, where the prompt is.
    s.send("\x1b[1;5H");
    s.wait_for("the previous prompt as a user turn", |s| shows_user_turn(&s.screen(), DEMO_PROMPT_START));
    s.quit_cleanly();
}

#[test]
fn a_tiny_terminal_says_too_small_and_still_quits() {
    let dirs = Dirs::new();
    let mut s = Session::spawn(&dirs, 50, 10, &[]);
    s.wait_for("the too-small message", |s| s.screen().contains("too small"));
    s.quit_cleanly();
}

#[test]
fn the_editor_gets_the_draft_and_the_room_comes_back_whole() {
    let dirs = Dirs::new();
    let editor = dirs.path().join("editor.sh");
    std::fs::write(&editor, "#!/bin/sh\nprintf ' and more from the editor' >> \"$1\"\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut s = Session::spawn_with(&dirs, 120, 40, &[], &[("EDITOR", editor.to_str().unwrap())]);
    s.wait_for("three finished demo panes", all_done);
    s.send("my draft");
    s.wait_for("the typed draft", |s| s.screen().contains("my draft"));
    // Ctrl+G (Ctrl+E is readline's end of line in the draft).
    s.send("\x07");
    // The draft goes to the editor as a whole line, so what the editor appends is a line of its
    // own: the file is the new draft as written.
    s.wait_for("the edited draft back in the input box", |s| {
        let screen = s.screen();
        screen.contains("my draft") && screen.contains(" and more from the editor") && screen.contains("Draft updated")
    });
    assert!(!s.screen().contains("my draft and more"), "the editor's line was joined to the draft:\n{}", s.screen());
    // The editor had the screen: the room is drawn again whole, not only what changed.
    let screen = s.screen();
    for model in DEMO_MODELS {
        assert!(screen.contains(model), "the pane of {model} was not redrawn after the editor; screen:\n{screen}");
    }
    assert!(count(&screen, "── in ") >= 3, "the answers were not redrawn after the editor; screen:\n{screen}");
    s.quit_cleanly();
}

/// A terminal without bracketed paste sends a paste as plain bytes, faster than they are read.
/// All of it must arrive without another key to nudge the reader (crossterm 0.29 stopped
/// reading with bytes still in the terminal's buffer until the next key press; `vendor/`).
#[test]
fn a_long_unbracketed_paste_arrives_whole_without_another_key() {
    let dirs = Dirs::new();
    let mut s = Session::spawn(&dirs, 120, 40, &[]);
    s.wait_for("three finished demo panes", all_done);
    let words: String = (0..6_000).map(|i| format!("w{i} ")).collect();
    let paste = format!("{words}END-OF-PASTE");
    // Written from a thread: a reader that stalls leaves the write blocked on a full terminal
    // buffer, and the liveness wait below must still report it.
    let mut writer = std::mem::replace(&mut s.writer, Box::new(std::io::sink()));
    let pasting = std::thread::spawn(move || {
        writer.write_all(paste.as_bytes()).expect("write the paste");
        writer.flush().expect("flush the paste");
        writer
    });
    s.wait_for("the end of the paste in the draft", |s| s.screen().contains("END-OF-PASTE"));
    s.writer = pasting.join().expect("the paste's writer");
    s.quit_cleanly();
}

/// A bracketed paste whose end marker never comes (dropped by a multiplexer, or hostile input)
/// made crossterm 0.29 keep every later byte as part of the paste: the room took no more keys
/// and looked frozen (`vendor/`). After a second without a byte the paste ends with what came,
/// and keys are keys again.
#[test]
fn a_paste_without_its_end_marker_lands_and_keys_work_after_it() {
    let dirs = Dirs::new();
    let mut s = Session::spawn(&dirs, 120, 40, &[]);
    s.wait_for("three finished demo panes", all_done);
    s.writer.write_all(b"\x1b[200~half of a paste").expect("write the paste's start");
    s.writer.flush().expect("flush the paste");
    s.wait_for("the unfinished paste in the draft", |s| s.screen().contains("half of a paste"));
    s.writer.write_all(b" then typed").expect("type after the paste");
    s.writer.flush().expect("flush the keys");
    s.wait_for("the keys typed after it", |s| s.screen().contains("half of a paste then typed"));
    s.quit_cleanly();
}
