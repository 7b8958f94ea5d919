//! Helpers for chatroom tests: a terminal backend the test can read while the loop draws, a
//! host that records clipboard copies, and key feeding.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::{Backend, ClearType, TestBackend, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Size};
use roundtable::ui::event_loop::Host;
use tokio::sync::mpsc;

/// A `TestBackend` behind a shared lock, so a test reads the screen while the loop owns the
/// terminal.
#[derive(Clone)]
pub struct SharedBackend(pub Arc<Mutex<TestBackend>>);

impl SharedBackend {
    pub fn new(width: u16, height: u16) -> SharedBackend {
        SharedBackend(Arc::new(Mutex::new(TestBackend::new(width, height))))
    }

    pub fn resize(&self, width: u16, height: u16) {
        self.0.lock().unwrap().resize(width, height);
    }

    /// The screen as text, one line per row.
    pub fn screen(&self) -> String {
        let backend = self.0.lock().unwrap();
        let buf = backend.buffer();
        let mut out = String::new();
        for y in 0..buf.area.height {
            for x in 0..buf.area.width {
                out.push_str(buf[(x, y)].symbol());
            }
            out.push('\n');
        }
        out
    }
}

impl Backend for SharedBackend {
    type Error = std::convert::Infallible;

    fn draw<'a, I>(&mut self, content: I) -> Result<(), Self::Error>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        self.0.lock().unwrap().draw(content)
    }
    fn hide_cursor(&mut self) -> Result<(), Self::Error> {
        self.0.lock().unwrap().hide_cursor()
    }
    fn show_cursor(&mut self) -> Result<(), Self::Error> {
        self.0.lock().unwrap().show_cursor()
    }
    fn get_cursor_position(&mut self) -> Result<Position, Self::Error> {
        self.0.lock().unwrap().get_cursor_position()
    }
    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> Result<(), Self::Error> {
        self.0.lock().unwrap().set_cursor_position(position)
    }
    fn clear(&mut self) -> Result<(), Self::Error> {
        self.0.lock().unwrap().clear()
    }
    fn clear_region(&mut self, clear_type: ClearType) -> Result<(), Self::Error> {
        self.0.lock().unwrap().clear_region(clear_type)
    }
    fn size(&self) -> Result<Size, Self::Error> {
        self.0.lock().unwrap().size()
    }
    fn window_size(&mut self) -> Result<WindowSize, Self::Error> {
        self.0.lock().unwrap().window_size()
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
    fn scroll_region_up(&mut self, region: std::ops::Range<u16>, amount: u16) -> Result<(), Self::Error> {
        self.0.lock().unwrap().scroll_region_up(region, amount)
    }
    fn scroll_region_down(&mut self, region: std::ops::Range<u16>, amount: u16) -> Result<(), Self::Error> {
        self.0.lock().unwrap().scroll_region_down(region, amount)
    }
}

/// Records what the app copies; never touches a real clipboard.
#[derive(Clone, Default)]
pub struct RecordingHost {
    pub copied: Arc<Mutex<Vec<String>>>,
}

impl Host for RecordingHost {
    fn copy(&mut self, text: &str) -> bool {
        self.copied.lock().unwrap().push(text.to_string());
        true
    }
    fn set_mouse_capture(&mut self, _on: bool) {}
    fn edit(&mut self, draft: &str) -> Result<String, String> {
        Ok(format!("{draft} (edited)"))
    }
    fn local_clipboard(&self) -> bool {
        false
    }
}

pub type Keys = mpsc::Sender<std::io::Result<Event>>;

pub async fn key(keys: &Keys, code: KeyCode, mods: KeyModifiers) {
    keys.send(Ok(Event::Key(KeyEvent::new(code, mods)))).await.unwrap();
}

pub async fn type_text(keys: &Keys, text: &str) {
    for c in text.chars() {
        key(keys, KeyCode::Char(c), KeyModifiers::NONE).await;
    }
}

/// Wait (up to `secs`, a liveness bound, not a timing assertion) until the screen satisfies
/// `cond`; panics with the screen when it never does.
pub async fn wait_for(backend: &SharedBackend, what: &str, secs: u64, cond: impl Fn(&str) -> bool) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let screen = backend.screen();
        if cond(&screen) {
            return screen;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}; screen:\n{screen}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A chatroom loop running on its own task: keys go in, the screen is read off the backend,
/// and `quit` ends it (the task then gives the app back).
pub struct RunningLoop {
    pub keys: Keys,
    pub backend: SharedBackend,
    pub quit: tokio::sync::oneshot::Sender<()>,
    pub looped: tokio::task::JoinHandle<roundtable::ui::app::App>,
}

/// Run `app`'s chatroom loop at `width`x`height` with a recording host, on the core that sends
/// `core_events`; the key queue holds `key_capacity` events.
pub fn spawn_loop(
    mut app: roundtable::ui::app::App,
    (width, height): (u16, u16),
    key_capacity: usize,
    core: roundtable::core::router::CoreHandle,
    core_events: mpsc::Receiver<roundtable::core::protocol::CoreEvent>,
) -> RunningLoop {
    let backend = SharedBackend::new(width, height);
    let mut terminal = ratatui::Terminal::new(backend.clone()).unwrap();
    let (keys, events) = mpsc::channel(key_capacity);
    let (quit, quit_rx) = tokio::sync::oneshot::channel::<()>();
    let looped = tokio::spawn(async move {
        let mut host = RecordingHost::default();
        let io =
            roundtable::ui::event_loop::LoopIo { events, core_events, core, max_fps: 60, record_frame_times: false };
        roundtable::ui::event_loop::run(&mut terminal, &mut app, io, &mut host, async {
            let _ = quit_rx.await;
        })
        .await
        .unwrap();
        app
    });
    RunningLoop { keys, backend, quit, looped }
}
