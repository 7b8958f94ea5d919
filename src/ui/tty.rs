//! The terminal backend: turns a frame's cell updates into as few bytes as the terminal needs
//! and sends the frame in one write, wrapped in a synchronized update unless it is small.
//!
//! Why not ratatui's crossterm backend: at a real model's pace most of a frame is a few cells,
//! and that backend spends more bytes on the way there than on the cells. It forgets the colours
//! after every frame and sets them again, resets four attributes one sequence each, moves the
//! cursor with a full position even one cell to the right, writes a run of blanks one space at
//! a time, and flushes the cursor change on its own. Here the pen (colours and attributes) is
//! kept across frames, a change of pen is one SGR sequence, short moves are relative, runs of
//! blanks are erased (ECH/EL), and a frame is one `write`.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use ratatui::backend::{Backend, ClearType, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Size};
use ratatui::style::{Color, Modifier};
use unicode_width::UnicodeWidthStr;

/// A run of at least this many blank cells of one style is erased rather than written.
const ERASE_RUN: usize = 8;
/// A frame up to this size that scrolls nothing goes out without the synchronized-update
/// markers: one `write` that small reaches the terminal in one read, so it cannot be seen half
/// done, and at a model's pace most frames are a few words (the markers were a fifth of them).
const SMALL_FRAME: usize = 512;
const BEGIN_SYNC: &[u8] = b"\x1b[?2026h";
const END_SYNC: &[u8] = b"\x1b[?2026l";
/// Attributes whose look shows on a blank cell: an erased cell cannot carry them.
const VISIBLE_ON_BLANK: Modifier = Modifier::UNDERLINED
    .union(Modifier::REVERSED)
    .union(Modifier::CROSSED_OUT)
    .union(Modifier::SLOW_BLINK)
    .union(Modifier::RAPID_BLINK)
    .union(Modifier::HIDDEN);

/// Colours and attributes the terminal writes with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pen {
    fg: Color,
    bg: Color,
    underline: Color,
    modifier: Modifier,
}

impl Pen {
    const DEFAULT: Pen =
        Pen { fg: Color::Reset, bg: Color::Reset, underline: Color::Reset, modifier: Modifier::empty() };

    fn of(cell: &Cell) -> Pen {
        Pen { fg: cell.fg, bg: cell.bg, underline: cell.underline_color, modifier: cell.modifier }
    }
}

/// How many colours the terminal shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorDepth {
    /// 24-bit colour: RGB is sent as it is.
    TrueColor,
    /// The 256-colour palette: RGB (syntax themes, `#rrggbb` in a theme) is sent as its nearest
    /// palette colour, which every 256-colour terminal shows right.
    Palette256,
}

impl ColorDepth {
    /// The depth the environment announces: terminals that take 24-bit colour say so with
    /// `COLORTERM=truecolor` (or `24bit`); the others may show an RGB sequence as the wrong
    /// colour or none, so without that word RGB goes out as the palette's nearest (as bat,
    /// delta and tmux do).
    pub fn from_colorterm(colorterm: Option<&str>) -> ColorDepth {
        match colorterm.map(str::trim) {
            Some(v) if v.eq_ignore_ascii_case("truecolor") || v.eq_ignore_ascii_case("24bit") => ColorDepth::TrueColor,
            _ => ColorDepth::Palette256,
        }
    }
}

pub struct Tty<W: Write> {
    out: W,
    depth: ColorDepth,
    /// The frame being made, after the synchronized-update opening; written out whole by
    /// `flush`.
    frame: Vec<u8>,
    /// Where the frame's own bytes start in `frame`.
    start: usize,
    /// The frame so far scrolled rows or cleared the screen: seen half done, it would show
    /// rows moved and not yet mended, or a blank screen.
    sync_needed: bool,
    /// The terminal's pen as this backend left it; `None` when unknown.
    pen: Option<Pen>,
    /// Where the terminal's cursor is; `None` when unknown.
    cursor: Option<Position>,
    cursor_shown: Option<bool>,
    /// The size to report instead of asking the terminal (tests).
    fixed_size: Option<Size>,
    /// The size the terminal reported, until it says it changed.
    known_size: std::cell::Cell<Option<Size>>,
}

/// Set when the terminal reports a resize (or another program had it), so the next size
/// question goes to the terminal.
static SIZE_CHANGED: AtomicBool = AtomicBool::new(false);

/// The terminal's size may have changed (a resize event, `$EDITOR` had the screen).
pub fn size_changed() {
    SIZE_CHANGED.store(true, Ordering::Relaxed);
}

impl<W: Write> Tty<W> {
    /// The real terminal: size from the terminal, frames synchronized.
    pub fn new(out: W) -> Tty<W> {
        let mut frame = Vec::with_capacity(16 * 1024);
        frame.extend_from_slice(BEGIN_SYNC);
        Tty {
            out,
            depth: ColorDepth::TrueColor,
            start: frame.len(),
            sync_needed: false,
            frame,
            pen: None,
            cursor: None,
            cursor_shown: None,
            fixed_size: None,
            known_size: std::cell::Cell::new(None),
        }
    }

    /// A terminal of a fixed size (tests and benchmarks that feed a terminal emulator).
    pub fn with_size(out: W, width: u16, height: u16) -> Tty<W> {
        Tty { fixed_size: Some(Size::new(width, height)), ..Tty::new(out) }
    }

    /// Send colours at `depth` (a new `Tty` sends RGB as it is).
    pub fn with_depth(self, depth: ColorDepth) -> Tty<W> {
        Tty { depth, ..self }
    }

    pub fn writer(&self) -> &W {
        &self.out
    }

    /// Someone else wrote to the terminal (another program had it): nothing about its pen or
    /// cursor can be assumed.
    pub fn forget_state(&mut self) {
        self.known_size.set(None);
        self.pen = None;
        self.cursor = None;
        self.cursor_shown = None;
    }

    /// Moves the cursor with the shortest sequence that gets it there: from a known place,
    /// a step right (CUF) or a new line (CR LF) costs a few bytes where a full position
    /// costs up to ten, and a frame of streamed text makes many such moves.
    fn move_to(&mut self, x: u16, y: u16) {
        let Some(width) = self.screen_width() else {
            return self.move_absolute(x, y);
        };
        // One past the last column is where a full row leaves the cursor (pending wrap): CR
        // still works from there; steps counted from that column would be one off.
        let (here, exact) = match self.cursor {
            Some(c) if c.x < width => (c, true),
            Some(c) if c.x == width => (c, false),
            _ => return self.move_absolute(x, y),
        };
        if exact && here == (Position { x, y }) {
            return;
        }
        // LF moves straight down without scrolling: between frames the margins are the whole
        // screen and the row below exists. In raw mode the tty adds no CR to it, so the
        // column stays.
        let down = y == here.y + 1;
        let mut best = (absolute_len(x, y), Way::Absolute);
        let mut consider = |len: usize, way: Way| {
            if len < best.0 {
                best = (len, way);
            }
        };
        if y == here.y || down {
            let prefix = usize::from(down);
            if exact && x >= here.x {
                consider(prefix + step_len(x - here.x), Way::Right);
            }
            if exact && x < here.x {
                consider(prefix + step_len(here.x - x), Way::Left);
            }
            consider(1 + prefix + step_len(x), Way::LineStart);
        }
        match best.1 {
            Way::Absolute => return self.move_absolute(x, y),
            Way::LineStart => {
                self.frame.push(b'\r');
                if down {
                    self.frame.push(b'\n');
                }
                self.step(x, b'C');
            }
            Way::Right => {
                if down {
                    self.frame.push(b'\n');
                }
                self.step(x - here.x, b'C');
            }
            Way::Left => {
                if down {
                    self.frame.push(b'\n');
                }
                self.step(here.x - x, b'D');
            }
        }
        self.cursor = Some(Position { x, y });
    }

    fn move_absolute(&mut self, x: u16, y: u16) {
        let _ = write!(self.frame, "\x1b[{};{}H", y + 1, x + 1);
        self.cursor = Some(Position { x, y });
    }

    /// CUF (`C`) or CUB (`D`) by `by` columns.
    fn step(&mut self, by: u16, direction: u8) {
        match by {
            0 => {}
            1 => self.frame.extend_from_slice(&[0x1b, b'[', direction]),
            _ => {
                let _ = write!(self.frame, "\x1b[{by}");
                self.frame.push(direction);
            }
        }
    }

    /// One SGR sequence taking the terminal's pen to `to`.
    fn set_pen(&mut self, to: Pen) {
        if self.pen == Some(to) {
            return;
        }
        let mut params: Vec<u8> = Vec::with_capacity(32);
        let from = match self.pen {
            Some(pen) => pen,
            None => {
                params.push(b'0');
                Pen::DEFAULT
            }
        };
        let push = |params: &mut Vec<u8>, code: &str| {
            if !params.is_empty() {
                params.push(b';');
            }
            params.extend_from_slice(code.as_bytes());
        };
        if from.modifier != to.modifier {
            let removed = from.modifier - to.modifier;
            let mut added = to.modifier - from.modifier;
            // 22 ends both bold and dim, 25 both blinks: what stays is set again.
            if removed.intersects(Modifier::BOLD | Modifier::DIM) {
                push(&mut params, "22");
                added |= to.modifier & (Modifier::BOLD | Modifier::DIM);
            }
            if removed.intersects(Modifier::SLOW_BLINK | Modifier::RAPID_BLINK) {
                push(&mut params, "25");
                added |= to.modifier & (Modifier::SLOW_BLINK | Modifier::RAPID_BLINK);
            }
            for (flag, off) in [
                (Modifier::ITALIC, "23"),
                (Modifier::UNDERLINED, "24"),
                (Modifier::REVERSED, "27"),
                (Modifier::HIDDEN, "28"),
                (Modifier::CROSSED_OUT, "29"),
            ] {
                if removed.contains(flag) {
                    push(&mut params, off);
                }
            }
            for (flag, on) in [
                (Modifier::BOLD, "1"),
                (Modifier::DIM, "2"),
                (Modifier::ITALIC, "3"),
                (Modifier::UNDERLINED, "4"),
                (Modifier::SLOW_BLINK, "5"),
                (Modifier::RAPID_BLINK, "6"),
                (Modifier::REVERSED, "7"),
                (Modifier::HIDDEN, "8"),
                (Modifier::CROSSED_OUT, "9"),
            ] {
                if added.contains(flag) {
                    push(&mut params, on);
                }
            }
        }
        for (old, new, base) in [(from.fg, to.fg, 38u8), (from.bg, to.bg, 48), (from.underline, to.underline, 58)] {
            if old != new {
                if !params.is_empty() {
                    params.push(b';');
                }
                color_params(&mut params, new, base, self.depth);
            }
        }
        if !params.is_empty() {
            self.frame.extend_from_slice(b"\x1b[");
            self.frame.extend_from_slice(&params);
            self.frame.push(b'm');
        }
        self.pen = Some(to);
    }

    /// Back to the terminal's default colours: blank cells that an erase or a scroll brings in
    /// take the current background.
    fn default_pen(&mut self) {
        if self.pen != Some(Pen::DEFAULT) {
            self.frame.extend_from_slice(b"\x1b[0m");
            self.pen = Some(Pen::DEFAULT);
        }
    }

    fn screen_width(&self) -> Option<u16> {
        self.size().ok().map(|s| s.width)
    }
}

/// SGR parameters for one colour, written as crossterm writes it (so a cell looks the same as
/// it did through crossterm: palette colours as `5;N`, which terminals never brighten for bold).
fn color_params(params: &mut Vec<u8>, color: Color, base: u8, depth: ColorDepth) {
    let _ = match color {
        Color::Reset => write!(params, "{}", base + 1),
        Color::Rgb(r, g, b) if depth == ColorDepth::Palette256 => write!(params, "{base};5;{}", nearest_256(r, g, b)),
        Color::Rgb(r, g, b) => write!(params, "{base};2;{r};{g};{b}"),
        Color::Indexed(i) => write!(params, "{base};5;{i}"),
        named => write!(params, "{base};5;{}", named_index(named)),
    };
}

/// The palette colour nearest to an RGB one, among the 6×6×6 cube (16–231) and the grey ramp
/// (232–255); the first sixteen are left out, as each terminal's theme sets them its own way.
/// tmux's `colour_find_rgb`: the nearest cube level per channel, the nearest grey by the
/// average, then whichever of the two is closer.
fn nearest_256(r: u8, g: u8, b: u8) -> u8 {
    const LEVELS: [i32; 6] = [0x00, 0x5f, 0x87, 0xaf, 0xd7, 0xff];
    let to_cube = |v: i32| match v {
        0..48 => 0,
        48..114 => 1,
        _ => (v - 35) / 40,
    };
    let distance = |x: i32, y: i32, z: i32| {
        let (dr, dg, db) = (x - i32::from(r), y - i32::from(g), z - i32::from(b));
        dr * dr + dg * dg + db * db
    };
    let (qr, qg, qb) = (to_cube(i32::from(r)), to_cube(i32::from(g)), to_cube(i32::from(b)));
    let cube = 16 + 36 * qr + 6 * qg + qb;
    let cube_distance = distance(LEVELS[qr as usize], LEVELS[qg as usize], LEVELS[qb as usize]);
    let average = (i32::from(r) + i32::from(g) + i32::from(b)) / 3;
    let grey_step = if average > 238 { 23 } else { (average - 3).max(0) / 10 };
    let grey = 8 + 10 * grey_step;
    let index = if distance(grey, grey, grey) < cube_distance { 232 + grey_step } else { cube };
    // Both ranges end at 255.
    index as u8
}

/// Ways to the next cell: a full position, a return to the row's start (and a line feed when
/// the next row), or steps left or right (after a line feed when the next row).
#[derive(Clone, Copy)]
enum Way {
    Absolute,
    LineStart,
    Right,
    Left,
}

/// Bytes of CUP to (`x`, `y`).
fn absolute_len(x: u16, y: u16) -> usize {
    4 + digits(y + 1) + digits(x + 1)
}

/// Bytes of a CUF or CUB by `by`.
fn step_len(by: u16) -> usize {
    match by {
        0 => 0,
        1 => 3,
        _ => 3 + digits(by),
    }
}

/// Decimal digits of a 1-based screen coordinate.
fn digits(n: u16) -> usize {
    match n {
        0..10 => 1,
        10..100 => 2,
        100..1000 => 3,
        1000..10000 => 4,
        _ => 5,
    }
}

fn named_index(color: Color) -> u8 {
    match color {
        Color::Black => 0,
        Color::Red => 1,
        Color::Green => 2,
        Color::Yellow => 3,
        Color::Blue => 4,
        Color::Magenta => 5,
        Color::Cyan => 6,
        Color::Gray => 7,
        Color::DarkGray => 8,
        Color::LightRed => 9,
        Color::LightGreen => 10,
        Color::LightYellow => 11,
        Color::LightBlue => 12,
        Color::LightMagenta => 13,
        Color::LightCyan => 14,
        Color::White => 15,
        Color::Reset | Color::Rgb(..) | Color::Indexed(_) => 0,
    }
}

/// How many cells from `i` on continue a run of blanks of one erasable style on one row.
fn blank_run(cells: &[(u16, u16, &Cell)], i: usize) -> usize {
    let (x0, y0, first) = cells[i];
    if first.symbol() != " " || first.modifier.intersects(VISIBLE_ON_BLANK) {
        return 0;
    }
    let pen = Pen::of(first);
    let mut n = 1;
    while let Some(&(x, y, c)) = cells.get(i + n) {
        if y != y0 || usize::from(x) != usize::from(x0) + n || c.symbol() != " " || Pen::of(c) != pen {
            break;
        }
        n += 1;
    }
    n
}

impl<W: Write> Backend for Tty<W> {
    type Error = io::Error;

    fn draw<'a, I>(&mut self, content: I) -> io::Result<()>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        let cells: Vec<(u16, u16, &Cell)> = content.collect();
        let width = self.screen_width();
        let mut i = 0;
        while i < cells.len() {
            let (x, y, cell) = cells[i];
            let run = blank_run(&cells, i);
            if run >= ERASE_RUN {
                self.move_to(x, y);
                self.set_pen(Pen::of(cell));
                let end = x.saturating_add(run as u16);
                if width == Some(end) {
                    self.frame.extend_from_slice(b"\x1b[K");
                } else {
                    let _ = write!(self.frame, "\x1b[{run}X");
                }
                // ECH and EL leave the cursor where it was.
                i += run;
                continue;
            }
            self.move_to(x, y);
            self.set_pen(Pen::of(cell));
            let symbol = cell.symbol();
            self.frame.extend_from_slice(symbol.as_bytes());
            // Trust the advance of a one-column character; after anything else the terminal's
            // idea of its width may differ, so the next cell is placed absolutely.
            let advance = if symbol.len() == 1 { 1 } else { symbol.width() };
            self.cursor = (advance == 1).then_some(Position { x: x + 1, y });
            i += 1;
        }
        Ok(())
    }

    fn hide_cursor(&mut self) -> io::Result<()> {
        if self.cursor_shown != Some(false) {
            self.frame.extend_from_slice(b"\x1b[?25l");
            self.cursor_shown = Some(false);
        }
        Ok(())
    }

    fn show_cursor(&mut self) -> io::Result<()> {
        if self.cursor_shown != Some(true) {
            self.frame.extend_from_slice(b"\x1b[?25h");
            self.cursor_shown = Some(true);
        }
        Ok(())
    }

    fn get_cursor_position(&mut self) -> io::Result<Position> {
        match self.cursor {
            Some(p) => Ok(p),
            None => crossterm::cursor::position().map(|(x, y)| Position { x, y }),
        }
    }

    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> io::Result<()> {
        let p = position.into();
        self.move_to(p.x, p.y);
        Ok(())
    }

    fn clear(&mut self) -> io::Result<()> {
        self.clear_region(ClearType::All)
    }

    fn clear_region(&mut self, clear_type: ClearType) -> io::Result<()> {
        if clear_type == ClearType::All {
            // A whole clear starts over (after `$EDITOR`, say): whatever the terminal's pen and
            // cursor are now, they are set again.
            self.forget_state();
            self.sync_needed = true;
        }
        if self.pen != Some(Pen::DEFAULT) {
            self.frame.extend_from_slice(b"\x1b[0m");
            self.pen = Some(Pen::DEFAULT);
        }
        let code: &[u8] = match clear_type {
            ClearType::All => b"\x1b[2J",
            ClearType::AfterCursor => b"\x1b[J",
            ClearType::BeforeCursor => b"\x1b[1J",
            ClearType::CurrentLine => b"\x1b[2K",
            ClearType::UntilNewLine => b"\x1b[K",
        };
        self.frame.extend_from_slice(code);
        Ok(())
    }

    /// The terminal's size, asked of the terminal only after it changed: crossterm opens
    /// `/dev/tty` for every question, and ratatui asks before every frame.
    fn size(&self) -> io::Result<Size> {
        if let Some(s) = self.fixed_size {
            return Ok(s);
        }
        let known = self.known_size.get().filter(|_| !SIZE_CHANGED.swap(false, Ordering::Relaxed));
        if let Some(s) = known {
            return Ok(s);
        }
        let size = crossterm::terminal::size().map(|(w, h)| Size::new(w, h))?;
        self.known_size.set(Some(size));
        Ok(size)
    }

    fn window_size(&mut self) -> io::Result<WindowSize> {
        match self.fixed_size {
            Some(columns_rows) => Ok(WindowSize { columns_rows, pixels: Size::default() }),
            None => {
                let ws = crossterm::terminal::window_size()?;
                Ok(WindowSize { columns_rows: Size::new(ws.columns, ws.rows), pixels: Size::new(ws.width, ws.height) })
            }
        }
    }

    /// Writes the frame made so far in one go, as one synchronized update (mode 2026: the
    /// terminals that know it paint the frame once; the others ignore it) unless it is small
    /// and scrolls nothing.
    fn flush(&mut self) -> io::Result<()> {
        if self.frame.len() == self.start {
            return Ok(());
        }
        let synchronized = self.sync_needed || self.frame.len() - self.start > SMALL_FRAME;
        let result = if synchronized {
            self.frame.extend_from_slice(END_SYNC);
            self.out.write_all(&self.frame)
        } else {
            self.out.write_all(&self.frame[self.start..])
        };
        self.frame.truncate(self.start);
        self.sync_needed = false;
        if result.is_err() {
            // Part of the frame may be on the screen: nothing about the terminal is known.
            self.forget_state();
        }
        result?;
        self.out.flush()
    }

    fn scroll_region_up(&mut self, region: std::ops::Range<u16>, amount: u16) -> io::Result<()> {
        self.default_pen();
        let _ = write!(self.frame, "\x1b[{};{}r\x1b[{amount}S\x1b[r", region.start + 1, region.end);
        self.sync_needed = true;
        // Setting the margins homes the cursor.
        self.cursor = Some(Position { x: 0, y: 0 });
        Ok(())
    }

    fn scroll_region_down(&mut self, region: std::ops::Range<u16>, amount: u16) -> io::Result<()> {
        self.default_pen();
        let _ = write!(self.frame, "\x1b[{};{}r\x1b[{amount}T\x1b[r", region.start + 1, region.end);
        self.sync_needed = true;
        self.cursor = Some(Position { x: 0, y: 0 });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use ratatui::buffer::Buffer;
    use ratatui::style::Style;

    use super::*;

    const W: u16 = 30;
    const H: u16 = 6;

    /// A small deterministic generator: the test needs variety, not randomness.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    fn random_style(rng: &mut Rng) -> Style {
        let colors = [Color::Reset, Color::Cyan, Color::DarkGray, Color::Indexed(235), Color::Rgb(192, 197, 206)];
        let modifiers = [
            Modifier::empty(),
            Modifier::BOLD,
            Modifier::DIM,
            // (No bold with dim: vt100, like many terminals, keeps one intensity.)
            Modifier::ITALIC | Modifier::DIM,
            Modifier::UNDERLINED,
            Modifier::REVERSED,
            Modifier::BOLD | Modifier::ITALIC | Modifier::UNDERLINED,
        ];
        // From a reset style, so a patch replaces what the cell had (never bold with dim).
        Style::reset()
            .fg(colors[rng.next(colors.len() as u64) as usize])
            .bg(colors[rng.next(colors.len() as u64) as usize])
            .add_modifier(modifiers[rng.next(modifiers.len() as u64) as usize])
    }

    #[derive(Clone, Default)]
    struct Shared(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// What a vt100 terminal shows in one cell, blanks written or erased alike.
    fn look(screen: &vt100::Screen, x: u16, y: u16) -> String {
        let c = screen.cell(y, x).expect("a cell inside the screen");
        let contents = if c.contents().is_empty() { " " } else { c.contents() };
        format!(
            "{contents:?} fg {:?} bg {:?} b{} d{} i{} u{} r{} w{}",
            c.fgcolor(),
            c.bgcolor(),
            c.bold(),
            c.dim(),
            c.italic(),
            c.underline(),
            c.inverse(),
            c.is_wide_continuation()
        )
    }

    /// What a cell of `frame` looks like on a terminal, in `look`'s words; `None` for the
    /// right half of a wide character.
    fn meant(frame: &Buffer, x: u16, y: u16) -> Option<String> {
        if x > 0 && frame[(x - 1, y)].symbol().width() > 1 {
            return None;
        }
        let c = &frame[(x, y)];
        let color = |c: Color| match c {
            Color::Reset => vt100::Color::Default,
            Color::Rgb(r, g, b) => vt100::Color::Rgb(r, g, b),
            Color::Indexed(i) => vt100::Color::Idx(i),
            named => vt100::Color::Idx(named_index(named)),
        };
        let m = c.modifier;
        Some(format!(
            "{:?} fg {:?} bg {:?} b{} d{} i{} u{} r{} w{}",
            c.symbol(),
            color(c.fg),
            color(c.bg),
            m.contains(Modifier::BOLD),
            m.contains(Modifier::DIM),
            m.contains(Modifier::ITALIC),
            m.contains(Modifier::UNDERLINED),
            m.contains(Modifier::REVERSED),
            false
        ))
    }

    /// Frames of random changes (runs of blanks, short gaps, style changes of every kind,
    /// multi-byte characters), sent as ratatui's diff sends them, leave a terminal showing
    /// exactly the frame, as ratatui's own crossterm backend does.
    #[test]
    fn random_frames_look_as_they_do_through_crossterm() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut tty = Tty::with_size(Vec::new(), W, H);
        let written = Shared::default();
        let mut reference = ratatui::backend::CrosstermBackend::new(written.clone());
        let (mut ours, mut theirs) = (vt100::Parser::new(H, W, 0), vt100::Parser::new(H, W, 0));
        let area = ratatui::layout::Rect::new(0, 0, W, H);
        let mut shown = Buffer::empty(area);
        for round in 0..400 {
            let mut next = shown.clone();
            for _ in 0..rng.next(12) {
                let (x, y) = (rng.next(u64::from(W)) as u16, rng.next(u64::from(H)) as u16);
                let len = 1 + rng.next(14) as usize;
                let text = match rng.next(5) {
                    0 | 1 => " ".repeat(len),
                    // (No wide characters: where ratatui's diff leaves their halves to the
                    // terminal, vt100 and real terminals differ; the chatroom's own frames test
                    // covers them through this backend.)
                    2 => "─┐".repeat(len.div_ceil(2)),
                    3 => "│ ab".chars().cycle().take(len).collect(),
                    _ => "x".repeat(len),
                };
                next.set_stringn(x, y, &text, usize::from(W - x), random_style(&mut rng));
            }
            let diff = shown.diff(&next);
            tty.draw(diff.iter().copied()).unwrap();
            tty.hide_cursor().unwrap();
            tty.flush().unwrap();
            reference.draw(diff.iter().copied()).unwrap();
            ours.process(&std::mem::take(&mut tty.out));
            theirs.process(&std::mem::take(&mut *written.0.borrow_mut()));
            for y in 0..H {
                for x in 0..W {
                    let got = look(ours.screen(), x, y);
                    let meant = meant(&next, x, y);
                    let reference = look(theirs.screen(), x, y);
                    assert!(
                        meant.as_ref().is_none_or(|m| *m == got) && got == reference,
                        "round {round}, cell ({x},{y}) shows {got}, the frame has {meant:?}, crossterm shows \
                         {reference}; row was {:?}",
                        (0..W).map(|x| shown[(x, y)].symbol()).collect::<String>()
                    );
                }
            }
            shown = next;
        }
    }

    #[test]
    fn a_frame_is_one_synchronized_write_and_the_pen_is_kept_between_frames() {
        let mut tty = Tty::with_size(Vec::new(), W, H);
        let mut cell = Cell::EMPTY;
        cell.set_symbol("a").set_style(Style::default().fg(Color::Cyan));
        tty.draw([(0, 0, &cell)].into_iter()).unwrap();
        tty.flush().unwrap();
        let first = String::from_utf8(std::mem::take(&mut tty.out)).unwrap();
        assert_eq!(first, "\x1b[1;1H\x1b[0;38;5;6ma", "a small frame needs no synchronized update");
        tty.draw([(3, 0, &cell)].into_iter()).unwrap();
        tty.flush().unwrap();
        let second = String::from_utf8(std::mem::take(&mut tty.out)).unwrap();
        assert_eq!(second, "\x1b[2Ca", "same pen, a short step right");
        tty.flush().unwrap();
        assert!(tty.out.is_empty(), "an empty frame writes nothing");
        tty.scroll_region_up(1..H, 1).unwrap();
        tty.draw([(3, 0, &cell)].into_iter()).unwrap();
        tty.flush().unwrap();
        let scrolled = String::from_utf8(std::mem::take(&mut tty.out)).unwrap();
        assert!(
            scrolled.starts_with("\x1b[?2026h") && scrolled.ends_with("\x1b[?2026l"),
            "a frame that scrolls is one synchronized update: {scrolled:?}"
        );
        let mut tty = Tty::with_size(Vec::new(), 100, 20);
        let row = vec![cell.clone(); 100];
        let big: Vec<(u16, u16, &Cell)> =
            (0..20).flat_map(|y| row.iter().enumerate().map(move |(x, c)| (x as u16, y, c))).collect();
        tty.draw(big.into_iter()).unwrap();
        tty.flush().unwrap();
        let whole = String::from_utf8(std::mem::take(&mut tty.out)).unwrap();
        assert!(whole.len() > SMALL_FRAME && whole.starts_with("\x1b[?2026h") && whole.ends_with("\x1b[?2026l"));
        tty.draw([(3, 0, &cell)].into_iter()).unwrap();
        tty.flush().unwrap();
        assert!(!String::from_utf8(std::mem::take(&mut tty.out)).unwrap().contains("2026"), "small again");
    }

    #[test]
    fn the_cursor_takes_the_shortest_way() {
        let mut tty = Tty::with_size(Vec::new(), 200, 50);
        let mut cell = Cell::EMPTY;
        cell.set_symbol("a");
        let at = |x, y| (x, y, &cell);
        tty.draw(
            [at(5, 40), at(159, 40), at(0, 41), at(2, 41), at(1, 41), at(199, 41), at(3, 42), at(3, 44)].into_iter(),
        )
        .unwrap();
        tty.flush().unwrap();
        let written = String::from_utf8(std::mem::take(&mut tty.out)).unwrap();
        assert_eq!(
            written, "\x1b[41;6H\x1b[0ma\x1b[153Ca\r\na\x1b[Ca\x1b[2Da\x1b[197Ca\r\n\x1b[3Ca\x1b[45;4Ha",
            "a step right, a new line, a step left, a new line from one past the last column"
        );
        // Down a row from the middle of one: a line feed keeps the column.
        tty.draw([at(150, 10), at(152, 11), at(148, 12)].into_iter()).unwrap();
        tty.flush().unwrap();
        let written = String::from_utf8(std::mem::take(&mut tty.out)).unwrap();
        assert_eq!(written, "\x1b[11;151Ha\n\x1b[Ca\n\x1b[5Da");
    }

    /// The palette's own colours, as terminals define them (xterm's table).
    fn palette_rgb(index: u8) -> (u8, u8, u8) {
        const LEVELS: [u8; 6] = [0x00, 0x5f, 0x87, 0xaf, 0xd7, 0xff];
        match index {
            16..=231 => {
                let i = usize::from(index - 16);
                (LEVELS[i / 36], LEVELS[i / 6 % 6], LEVELS[i % 6])
            }
            232..=255 => {
                let v = 8 + 10 * (index - 232);
                (v, v, v)
            }
            _ => unreachable!("the first sixteen are themed"),
        }
    }

    #[test]
    fn every_palette_colour_is_its_own_nearest_and_others_go_to_a_close_one() {
        for index in 16..=255u8 {
            let (r, g, b) = palette_rgb(index);
            assert_eq!(nearest_256(r, g, b), index, "rgb({r},{g},{b})");
        }
        // base16-ocean's foreground, a syntect theme colour: a light grey-blue, not a cube corner.
        let (r, g, b) = palette_rgb(nearest_256(192, 197, 206));
        assert!(r.abs_diff(192) <= 20 && g.abs_diff(197) <= 20 && b.abs_diff(206) <= 20, "{r},{g},{b}");
        assert_eq!(nearest_256(0, 0, 0), 16);
        assert_eq!(nearest_256(255, 255, 255), 231);
        assert_eq!(nearest_256(250, 250, 250), 231, "past the grey ramp's top, white is nearer");
    }

    #[test]
    fn rgb_is_sent_as_rgb_only_to_a_terminal_that_says_it_takes_it() {
        assert_eq!(ColorDepth::from_colorterm(Some("truecolor")), ColorDepth::TrueColor);
        assert_eq!(ColorDepth::from_colorterm(Some("24bit")), ColorDepth::TrueColor);
        assert_eq!(ColorDepth::from_colorterm(Some("")), ColorDepth::Palette256);
        assert_eq!(ColorDepth::from_colorterm(None), ColorDepth::Palette256);
        let mut cell = Cell::EMPTY;
        cell.set_symbol("a").set_style(Style::default().fg(Color::Rgb(0xaf, 0x87, 0xff)).bg(Color::Indexed(235)));
        let frame = |depth| {
            let mut tty = Tty::with_size(Vec::new(), W, H).with_depth(depth);
            tty.draw([(0, 0, &cell)].into_iter()).unwrap();
            tty.flush().unwrap();
            String::from_utf8(tty.out).unwrap()
        };
        assert!(frame(ColorDepth::TrueColor).contains("\x1b[0;38;2;175;135;255;48;5;235ma"));
        assert!(frame(ColorDepth::Palette256).contains("\x1b[0;38;5;141;48;5;235ma"));
    }
}
