//! Terminal setup and restore: raw mode, alternate screen, bracketed paste, mouse capture,
//! synchronized updates; a panic hook and a guard make sure the terminal comes back.

use std::io::{self, Write};

use crossterm::event::{DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture};
use crossterm::terminal::{
    EndSynchronizedUpdate, EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use crossterm::{cursor, execute};
use ratatui::Terminal;

use crate::ui::tty::{ColorDepth, Tty};

/// Frames go through `Tty`, which writes each as one synchronized update.
pub type Tui = Terminal<Tty<FrameOut>>;

/// Where frames are written: on Unix the terminal's descriptor itself, not `Stdout`, whose line
/// buffering writes a frame that holds a line break in two `write`s (up to the last break, then
/// the rest), so the terminal, or a multiplexer between, takes and paints it in two. Everything
/// else written to the terminal goes through `Stdout` and is flushed at once, so the two never
/// interleave.
#[cfg(unix)]
pub type FrameOut = std::fs::File;
#[cfg(not(unix))]
pub type FrameOut = io::Stdout;

fn frame_out() -> io::Result<FrameOut> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        Ok(std::fs::File::from(io::stdout().as_fd().try_clone_to_owned()?))
    }
    #[cfg(not(unix))]
    {
        Ok(io::stdout())
    }
}

/// Restores the terminal when dropped, on every exit path.
pub struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        restore();
    }
}

pub fn setup(mouse: bool, depth: ColorDepth) -> io::Result<(Tui, Guard)> {
    install_panic_hook();
    enable_raw_mode()?;
    let guard = Guard;
    let mut out = io::stdout();
    execute!(out, EnterAlternateScreen, EnableBracketedPaste, cursor::Hide)?;
    if mouse {
        execute!(out, EnableMouseCapture)?;
    }
    let terminal = Terminal::new(Tty::new(frame_out()?).with_depth(depth))?;
    Ok((terminal, guard))
}

/// Best effort: every step runs even when an earlier one fails.
pub fn restore() {
    let mut out = io::stdout();
    let _ = execute!(
        out,
        EndSynchronizedUpdate,
        DisableMouseCapture,
        DisableBracketedPaste,
        LeaveAlternateScreen,
        cursor::Show
    );
    let _ = disable_raw_mode();
    let _ = out.flush();
}

/// Take the terminal back after a child program (`$EDITOR`) had it; `restore` hands it over.
pub fn resume(mouse: bool) -> io::Result<()> {
    enable_raw_mode()?;
    let mut out = io::stdout();
    execute!(out, EnterAlternateScreen, EnableBracketedPaste, cursor::Hide)?;
    if mouse {
        execute!(out, EnableMouseCapture)?;
    }
    Ok(())
}

pub fn set_mouse_capture(on: bool) -> io::Result<()> {
    if on { execute!(io::stdout(), EnableMouseCapture) } else { execute!(io::stdout(), DisableMouseCapture) }
}

/// Write an OSC 52 clipboard sequence straight to the terminal.
pub fn osc52(text: &str) -> io::Result<()> {
    let mut out = io::stdout();
    out.write_all(crate::ui::clipboard::osc52_sequence(text).as_bytes())?;
    out.flush()
}

fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
    }));
}
