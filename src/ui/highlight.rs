//! Syntax highlighting of code lines with syntect: the shared syntax and theme sets (loaded once),
//! fence-language lookup, and a line-at-a-time highlighter whose state can be kept between lines
//! so a growing code block never re-parses the lines it already highlighted.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;

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

static SYNTAXES: OnceLock<SyntaxSet> = OnceLock::new();
static THEMES: OnceLock<ThemeSet> = OnceLock::new();

fn syntaxes() -> &'static SyntaxSet {
    SYNTAXES.get_or_init(SyntaxSet::load_defaults_newlines)
}

fn themes() -> &'static ThemeSet {
    THEMES.get_or_init(ThemeSet::load_defaults)
}

/// Loads the syntax and theme sets (tens of milliseconds). Call it on a background thread at
/// start so the first code block does not stall a frame; calling it again is free.
pub fn warm_up() {
    syntaxes();
    themes();
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
    parse: ParseState,
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
        Some(Self { parse: ParseState::new(syntax), state, highlighter, no_color, failed: false })
    }

    /// Highlights a complete line (with its `\n`) and advances the state past it.
    pub fn line(&mut self, line: &str) -> Vec<Piece> {
        if self.is_plain(line) {
            // Skipping a long line keeps the state from before it: wrong for a string that spans
            // it, right for everything else, and deterministic either way.
            return plain(line);
        }
        match highlight(&mut self.parse, &mut self.state, &self.highlighter, line, self.no_color) {
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
        let (mut parse, mut state) = (self.parse.clone(), self.state.clone());
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
    fn pieces_reassemble_the_line() {
        let mut hl = LineHighlighter::new("python", "InspiredGitHub", false).expect("python");
        let line = "def f(x): return x  # done\n";
        let text: String = hl.line(line).into_iter().map(|(t, _)| t).collect();
        assert_eq!(text, line);
    }
}
