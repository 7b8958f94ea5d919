//! Syntax highlighting of code lines with syntect: the shared syntax and theme sets (loaded once),
//! fence-language lookup, and a line-at-a-time highlighter whose state can be kept between lines
//! so a growing code block never re-parses the lines it already highlighted.

use std::cell::Cell;
use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, OnceLock, mpsc};

use ratatui::style::{Color, Modifier, Style};
use syntect::highlighting::{FontStyle, HighlightIterator, HighlightState, Highlighter, Theme, ThemeSet};
use syntect::parsing::{ParseState, ScopeStack, SyntaxReference, SyntaxSet};

/// Names of the syntect themes bundled in the binary (`ThemeSet::load_defaults`), so theme files
/// can be validated without loading the set. A test keeps this list in step with syntect.
pub const SYNTAX_THEMES: [&str; 7] = [
    "InspiredGitHub",
    "Solarized (dark)",
    "Solarized (light)",
    "base16-eighties.dark",
    "base16-mocha.dark",
    "base16-ocean.dark",
    "base16-ocean.light",
];

/// Lines longer than this are shown unhighlighted: regex highlighting is superlinear on very long
/// lines (minified JSON), and an unfinished line is re-highlighted on every delta.
pub const MAX_HIGHLIGHT_BYTES: usize = 1024;

thread_local! {
    /// Whether code drawn on this thread may be highlighted in the background (set by the
    /// chatroom loop around each frame; tests and exports highlight in place).
    static BACKGROUND: Cell<bool> = const { Cell::new(false) };
}

/// Let code rendered on this thread from now on be highlighted off it (see [`LineQueue`]).
/// Regex highlighting costs up to milliseconds a line, which six streaming panes cannot afford
/// inside a frame; code is drawn plain and its rows are swapped when the colours arrive (code
/// wraps by width alone, so nothing moves).
pub fn set_background(on: bool) {
    BACKGROUND.with(|b| b.set(on));
}

pub(crate) fn background() -> bool {
    BACKGROUND.with(Cell::get)
}

/// Signalled when background highlighting has finished lines to draw.
pub fn results_ready() -> &'static tokio::sync::Notify {
    static READY: OnceLock<tokio::sync::Notify> = OnceLock::new();
    READY.get_or_init(tokio::sync::Notify::new)
}

/// The lines of one code block, highlighted in order on the background thread.
#[derive(Debug)]
pub(crate) struct LineQueue {
    job: Arc<Mutex<Job>>,
}

#[derive(Debug)]
struct Job {
    /// Out while the worker highlights a line with it.
    hl: Option<LineHighlighter>,
    todo: VecDeque<String>,
    done: Vec<Vec<Piece>>,
    /// In the worker's queue (or being worked on).
    queued: bool,
    /// The block has been drawn (not only measured): only then is it worth highlighting, so a
    /// resumed room colours what is on screen first and never spends time on what is not.
    wanted: bool,
    /// The block is gone (or restarted): skip the rest.
    dropped: bool,
}

/// Lines highlighted per turn of a job before other blocks get theirs.
const LINES_PER_TURN: usize = 16;

fn lock(job: &Mutex<Job>) -> std::sync::MutexGuard<'_, Job> {
    job.lock().unwrap_or_else(|p| p.into_inner())
}

fn worker() -> Option<&'static mpsc::Sender<Arc<Mutex<Job>>>> {
    static WORKER: OnceLock<Option<mpsc::Sender<Arc<Mutex<Job>>>>> = OnceLock::new();
    WORKER
        .get_or_init(|| {
            let (tx, rx) = mpsc::channel::<Arc<Mutex<Job>>>();
            let spawned = std::thread::Builder::new().name("roundtable-highlight".into()).spawn(move || {
                for job in rx {
                    work_on(&job);
                }
            });
            spawned.ok().map(|_| tx)
        })
        .as_ref()
}

/// One turn of a job: up to `LINES_PER_TURN` lines, then back of the queue if more are left.
fn work_on(job: &Arc<Mutex<Job>>) {
    for _ in 0..LINES_PER_TURN {
        let next = next_line(&mut lock(job));
        let Some((line, mut hl)) = next else {
            lock(job).queued = false;
            results_ready().notify_one();
            return;
        };
        let pieces = hl.line(&line);
        let mut j = lock(job);
        j.hl = Some(hl);
        j.done.push(pieces);
    }
    results_ready().notify_one();
    match worker() {
        Some(tx) => {
            let _ = tx.send(Arc::clone(job));
        }
        None => lock(job).queued = false,
    }
}

/// The next line to highlight and the highlighter (taken out while the worker uses it), unless
/// the block is gone or done.
fn next_line(j: &mut Job) -> Option<(String, LineHighlighter)> {
    if j.dropped || j.todo.is_empty() {
        return None;
    }
    let hl = j.hl.take()?;
    match j.todo.pop_front() {
        Some(line) => Some((line, hl)),
        None => {
            j.hl = Some(hl);
            None
        }
    }
}

impl LineQueue {
    pub(crate) fn new(hl: LineHighlighter) -> LineQueue {
        let job =
            Job { hl: Some(hl), todo: VecDeque::new(), done: Vec::new(), queued: false, wanted: false, dropped: false };
        LineQueue { job: Arc::new(Mutex::new(job)) }
    }

    /// Queue a complete line (with its newline); it is highlighted once the block is drawn.
    pub(crate) fn push(&self, line: String) {
        let mut j = lock(&self.job);
        j.todo.push_back(line);
        self.schedule(&mut j);
    }

    /// The lines highlighted since the last call, in order. Calling this marks the block as
    /// drawn, so its queued lines get highlighted.
    pub(crate) fn take_done(&self) -> Vec<Vec<Piece>> {
        let mut j = lock(&self.job);
        j.wanted = true;
        self.schedule(&mut j);
        std::mem::take(&mut j.done)
    }

    fn schedule(&self, j: &mut Job) {
        if j.wanted
            && !j.queued
            && !j.todo.is_empty()
            && let Some(tx) = worker()
        {
            j.queued = true;
            let _ = tx.send(Arc::clone(&self.job));
        }
    }
}

impl Drop for LineQueue {
    fn drop(&mut self) {
        let mut j = lock(&self.job);
        j.dropped = true;
        j.todo.clear();
    }
}

static SYNTAXES: OnceLock<SyntaxSet> = OnceLock::new();
static THEMES: OnceLock<ThemeSet> = OnceLock::new();

fn syntaxes() -> &'static SyntaxSet {
    SYNTAXES.get_or_init(SyntaxSet::load_defaults_newlines)
}

fn themes() -> &'static ThemeSet {
    THEMES.get_or_init(ThemeSet::load_defaults)
}

/// Load the syntax and theme sets (tens of milliseconds; not the regexes). Called on a
/// background thread at start so the first code fence does not stall a frame looking its
/// language up; calling it again is free.
pub fn preload() {
    syntaxes();
    themes();
}

/// `preload`, then compile the common languages' regexes by highlighting a few lines of each
/// (for benchmarks that measure frames without first-use costs).
pub fn warm_up() {
    preload();
    // syntect compiles each regex on first use (up to ~40 ms for a language's first block in a
    // debug build); highlighting a few typical lines of the common languages does it here.
    const SAMPLES: [(&str, &str); 6] = [
        ("rust", "use std::io;\n#[derive(Debug)]\npub fn f<'a>(x: &'a str) -> Option<u8> { let s = \"s\"; // c\n"),
        ("python", "import os\n@dec\ndef f(x: int) -> str:\n    return f\"{x}\" if x else 'n'  # c\n"),
        ("json", "{\"a\": [1, 2.5e3, true, null], \"b\": {\"c\": \"d\"}}\n"),
        ("js", "const f = async (x) => { return `t${x}`; }; // c\n"),
        ("bash", "for f in *.rs; do echo \"$f\" | grep -v x; done # c\n"),
        ("c", "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 1); return 0; }\n"),
    ];
    for (lang, code) in SAMPLES {
        if let Some(mut hl) = LineHighlighter::new(lang, "base16-ocean.dark", false) {
            for line in code.split_inclusive('\n') {
                hl.line(line);
            }
        }
    }
}

/// The syntect syntax for a fence's language token (`rust`, `py`, `sh`, `c++`, …), if any.
pub fn find_syntax(lang: &str) -> Option<&'static SyntaxReference> {
    let token = lang.trim().to_ascii_lowercase();
    // Common fence names that are neither an extension nor a syntax name in syntect's set.
    let token = match token.as_str() {
        "" | "text" | "txt" | "plain" | "plaintext" | "console" | "output" => return None,
        "shell" | "zsh" | "shell-session" | "sh-session" | "ksh" => "bash",
        "typescript" | "ts" | "tsx" | "jsx" | "mjs" | "cjs" | "node" => "js",
        "jsonc" | "json5" | "jsonl" | "ndjson" => "json",
        "golang" => "go",
        "c++" | "hpp" | "cc" => "cpp",
        "c#" | "csharp" => "cs",
        "py3" | "python3" => "py",
        "yml" => "yaml",
        "rs" => "rust",
        other => other,
    };
    let set = syntaxes();
    set.find_syntax_by_token(token).filter(|s| s.name != "Plain Text")
}

/// Maps a syntect style to a ratatui one; without colour only the font style survives.
fn to_ratatui(style: syntect::highlighting::Style, no_color: bool) -> Style {
    let mut out = Style::default();
    let fg = style.foreground;
    if !no_color && fg.a > 0 {
        out = out.fg(Color::Rgb(fg.r, fg.g, fg.b));
    }
    let mut modifier = Modifier::empty();
    if style.font_style.contains(FontStyle::BOLD) {
        modifier |= Modifier::BOLD;
    }
    if style.font_style.contains(FontStyle::ITALIC) {
        modifier |= Modifier::ITALIC;
    }
    if style.font_style.contains(FontStyle::UNDERLINE) {
        modifier |= Modifier::UNDERLINED;
    }
    out.add_modifier(modifier)
}

/// Highlights one code block line by line, keeping syntect's parse and highlight state between
/// lines. Pieces come back with styles relative to the code-block style (the caller patches).
pub struct LineHighlighter {
    syntax: &'static SyntaxReference,
    /// Made on the first line: making it deserializes the language's grammar (milliseconds, once
    /// per language), which then happens on the thread that highlights, not the one that draws.
    parse: Option<ParseState>,
    state: HighlightState,
    highlighter: Highlighter<'static>,
    no_color: bool,
    /// Set after syntect reported an error (or panicked): the rest of the block stays plain.
    failed: bool,
}

impl std::fmt::Debug for LineHighlighter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineHighlighter").field("failed", &self.failed).finish_non_exhaustive()
    }
}

/// One highlighted piece of a line.
pub type Piece = (String, Style);

impl LineHighlighter {
    /// A highlighter for `lang` with the syntect theme `theme` (falling back to
    /// base16-ocean.dark); `None` when the language is unknown, so the code stays plain.
    pub fn new(lang: &str, theme: &str, no_color: bool) -> Option<Self> {
        let syntax = find_syntax(lang)?;
        let set = themes();
        let theme: &'static Theme = set.themes.get(theme).or_else(|| set.themes.get("base16-ocean.dark"))?;
        let highlighter = Highlighter::new(theme);
        let state = HighlightState::new(&highlighter, ScopeStack::new());
        Some(Self { syntax, parse: None, state, highlighter, no_color, failed: false })
    }

    /// Highlights a complete line (with its `\n`) and advances the state past it.
    pub fn line(&mut self, line: &str) -> Vec<Piece> {
        if self.is_plain(line) {
            // Skipping a long line keeps the state from before it: wrong for a string that spans
            // it, right for everything else, and deterministic either way.
            return plain(line);
        }
        let parse = self.parse.get_or_insert_with(|| ParseState::new(self.syntax));
        match highlight(parse, &mut self.state, &self.highlighter, line, self.no_color) {
            Some(pieces) => pieces,
            None => {
                self.failed = true;
                plain(line)
            }
        }
    }

    /// Whether `line` comes back as one unstyled piece (too long, or after an error).
    pub fn is_plain(&self, line: &str) -> bool {
        self.failed || line.len() > MAX_HIGHLIGHT_BYTES
    }

    /// Highlights an unfinished last line without advancing the state, so it can be redone when
    /// more of it arrives.
    pub fn peek(&self, line: &str) -> Vec<Piece> {
        if self.is_plain(line) {
            return plain(line);
        }
        let mut parse = self.parse.clone().unwrap_or_else(|| ParseState::new(self.syntax));
        let mut state = self.state.clone();
        highlight(&mut parse, &mut state, &self.highlighter, line, self.no_color).unwrap_or_else(|| plain(line))
    }
}

fn plain(line: &str) -> Vec<Piece> {
    vec![(line.to_string(), Style::default())]
}

/// One line through syntect; `None` when it reports an error. A panic inside syntect is caught
/// so that no model output can bring the interface down.
fn highlight(
    parse: &mut ParseState,
    state: &mut HighlightState,
    highlighter: &Highlighter<'static>,
    line: &str,
    no_color: bool,
) -> Option<Vec<Piece>> {
    catch_unwind(AssertUnwindSafe(|| {
        let ops = parse.parse_line(line, syntaxes()).ok()?;
        let pieces = HighlightIterator::new(state, &ops, line, highlighter)
            .map(|(style, text)| (text.to_string(), to_ratatui(style, no_color)))
            .collect::<Vec<_>>();
        Some(pieces)
    }))
    .ok()
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_theme_names_match_syntect() {
        let mut names: Vec<&str> = themes().themes.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, SYNTAX_THEMES.to_vec());
    }

    #[test]
    fn fence_names_resolve() {
        for lang in ["rust", "rs", "python", "py", "json", "sh", "bash", "shell", "js", "ts", "c++", "go", "yaml"] {
            assert!(find_syntax(lang).is_some(), "{lang}");
        }
        for lang in ["", "text", "nonsense-language"] {
            assert!(find_syntax(lang).is_none(), "{lang}");
        }
    }

    #[test]
    fn no_color_highlighting_has_no_colours() {
        let mut hl = LineHighlighter::new("rust", "base16-ocean.dark", true).expect("rust");
        for line in ["fn main() {\n", "    let s = \"x\"; // c\n", "}\n"] {
            for (_, style) in hl.line(line) {
                assert_eq!((style.fg, style.bg), (None, None));
            }
        }
        let mut hl = LineHighlighter::new("rust", "base16-ocean.dark", false).expect("rust");
        assert!(hl.line("fn main() {}\n").iter().any(|(_, s)| s.fg.is_some()));
    }

    #[test]
    fn the_grammar_is_loaded_by_the_first_line_not_by_new() {
        // `new` runs on the drawing thread; the first line is highlighted on the worker.
        let mut hl = LineHighlighter::new("rust", "base16-ocean.dark", false).expect("rust");
        assert!(hl.parse.is_none());
        let line = "let x = \"s\"; // c\n";
        let peeked = hl.peek(line);
        assert!(hl.parse.is_none(), "peeking highlights a copy of the state");
        assert_eq!(hl.line(line), peeked);
        assert!(hl.parse.is_some());
    }

    #[test]
    fn pieces_reassemble_the_line() {
        let mut hl = LineHighlighter::new("python", "InspiredGitHub", false).expect("python");
        let line = "def f(x): return x  # done\n";
        let text: String = hl.line(line).into_iter().map(|(t, _)| t).collect();
        assert_eq!(text, line);
    }
}
