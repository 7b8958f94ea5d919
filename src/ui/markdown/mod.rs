//! Incremental markdown rendering of one message into wrapped ratatui lines, with
//! syntect-highlighted fenced code. A delta costs work proportional to the new text only.
//!
//! The source is split into top-level blocks (`blocks`). Settled blocks are rendered once per
//! (width, style generation) straight into the output vector; only the open last block is
//! rendered again when text arrives. An open column-0 code fence — the one block that commonly
//! grows large — is extended line by line instead: its finished lines stay in the output and
//! keep their highlighting state, so a delta re-highlights only the unfinished line.
//! Highlighting is kept per block across widths, so a resize only re-wraps.
//!
//! Rendering the same text always gives the same lines however it was chunked: the block split
//! is a pure function of the complete lines, and every cache is keyed on what it depends on.

mod blocks;
mod code;
mod controls;
mod lines;
mod paragraph;
mod refs;
mod render;
mod table;
mod wrap;

use std::collections::HashMap;

use ratatui::text::Line;

use self::blocks::{Block, BlockKind, Splitter};
use self::code::{CodeHighlight, LongLine, Tail};
use self::lines::is_closing_fence;
use self::refs::{Def, RefMap, Refs};
use crate::ui::theme::MarkdownStyle;

pub use self::wrap::str_width as display_width;

/// A fenced code block of a message, for "copy the Nth code block".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeBlock {
    pub lang: Option<String>,
    pub code: String,
}

/// One message's markdown, fed by deltas, rendered at a width on demand with caches.
#[derive(Debug, Default)]
pub struct MarkdownView {
    text: String,
    controls: controls::ControlStream,
    split: Splitter,
    /// Link reference definitions of each settled block (width-independent, found once).
    defs: Vec<Vec<Def>>,
    settled_refs: RefMap,
    /// Code highlighting per block (by index; the open block's is the last), shared by the
    /// caches because it depends on the syntax theme but not on the width: a resize re-wraps
    /// code without re-highlighting it.
    highlights: Vec<Vec<CodeHighlight>>,
    /// Renders for the two most recently used (width, generation) keys, most recent first: a
    /// message measured at one width and drawn at another does not re-render every frame.
    caches: Vec<Cache>,
}

/// How many (width, generation) renders a view keeps.
const CACHED_KEYS: usize = 2;

/// Rendered lines for one (width, generation), built block by block.
#[derive(Debug, Default)]
struct Cache {
    key: Option<(u16, u64)>,
    out: Vec<Line<'static>>,
    /// Settled blocks rendered into `out[..settled_len]`.
    blocks_done: usize,
    settled_len: usize,
    /// A rendered settled block looked a link label up in the message-wide map.
    uses_refs: bool,
    refs_hash: u64,
    /// Text length at the last render; `None` before the first.
    text_len: Option<usize>,
    open: OpenCache,
    /// Where the rows of code lines drawn plain for now sit in `out`: (block, line) to (first
    /// row, row count), so highlighting them later replaces just those rows.
    stand_ins: HashMap<(usize, usize), (usize, usize)>,
}

/// State kept for the open block between deltas.
#[derive(Debug, Default)]
struct OpenCache {
    /// Where the open block started when this state was made.
    start: usize,
    fence: Option<FenceState>,
    /// An open one-line paragraph: where it is rendered from again.
    paragraph: Option<paragraph::Cut>,
}

/// An open column-0 fence rendered line by line.
#[derive(Debug, Default)]
struct FenceState {
    /// Lines of `out` after `settled_len` that are final (separator, header, finished lines).
    stable: usize,
    /// Finished code lines already in `out`.
    lines_done: usize,
    /// The unfinished last line when it is plain: its final rows are among the stable lines.
    long: LongLine,
}

impl MarkdownView {
    pub fn new() -> Self {
        Self::default()
    }

    /// A view holding `text` already (a stored message).
    pub fn from_text(text: &str) -> Self {
        let mut view = Self::new();
        view.push_str(text);
        view
    }

    /// Appends raw model text. Terminal control sequences are stripped here, robustly to a
    /// sequence split across two deltas (its start is held back until it is complete).
    pub fn push_str(&mut self, delta: &str) {
        let clean = self.controls.push(delta);
        if clean.is_empty() {
            return;
        }
        self.text.push_str(&clean);
        self.split.feed(&self.text);
    }

    /// The sanitized source text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The message rendered at `width` columns (every line at most `width` display columns;
    /// nothing at width 0). Cached: calling again with no new text and the same width and style
    /// generation does no work.
    ///
    /// Colours that the background highlighter finished are swapped in here: call this for
    /// what is drawn, and `height` for what is only measured.
    pub fn lines(&mut self, width: u16, style: &MarkdownStyle) -> &[Line<'static>] {
        if width == 0 {
            return &[];
        }
        self.render(width, style);
        self.catch_up_code(style);
        &self.caches[0].out
    }

    /// The lines `lines` made at `width` for style generation `generation`, while the text is
    /// unchanged since: for reading them again without a mutable borrow (a frame drawn after
    /// its preparation). `None` when there is no such render.
    pub fn rendered(&self, width: u16, generation: u64) -> Option<&[Line<'static>]> {
        self.caches
            .iter()
            .find(|c| c.key == Some((width, generation)) && c.text_len == Some(self.text.len()))
            .map(|c| c.out.as_slice())
    }

    /// Number of rendered lines at `width` (renders if needed; highlighting does not change it).
    pub fn height(&mut self, width: u16, style: &MarkdownStyle) -> usize {
        if width == 0 {
            return 0;
        }
        self.render(width, style);
        self.caches[0].out.len()
    }

    /// Swap in the rows of code lines drawn plain whose colours have arrived, in every render.
    fn catch_up_code(&mut self, style: &MarkdownStyle) {
        for (block, hls) in self.highlights.iter_mut().enumerate() {
            let Some(hl) = hls.first_mut().filter(|h| h.pending()) else { continue };
            if let Some(changed) = hl.catch_up() {
                for cache in &mut self.caches {
                    cache.upgrade_code(block, changed.clone(), hl.lines(), style);
                }
            }
        }
    }

    /// The fenced code blocks, in order.
    pub fn code_blocks(&self) -> Vec<CodeBlock> {
        let open = self.split.open(self.text.len());
        let mut out = Vec::new();
        for block in self.split.settled().iter().chain(std::iter::once(&open)) {
            match block.kind {
                BlockKind::Fence { .. } => {
                    let (lang, code) = fence_parts(&self.text, block);
                    out.push(CodeBlock { lang, code: code.to_string() });
                }
                BlockKind::Markdown => {
                    use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag, TagEnd};
                    let mut current: Option<CodeBlock> = None;
                    for event in Parser::new_ext(&self.text[block.range.clone()], render::OPTIONS) {
                        match event {
                            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                                current = Some(CodeBlock { lang: code::lang_of(&info), code: String::new() });
                            }
                            Event::Text(t) => {
                                if let Some(c) = &mut current {
                                    c.code.push_str(&t);
                                }
                            }
                            Event::End(TagEnd::CodeBlock) => out.extend(current.take()),
                            _ => {}
                        }
                    }
                }
            }
        }
        out
    }

    fn render(&mut self, width: u16, style: &MarkdownStyle) {
        let key = (width, style.generation);
        match self.caches.iter().position(|c| c.key == Some(key)) {
            Some(i) => self.caches[..=i].rotate_right(1),
            None => {
                self.caches.truncate(CACHED_KEYS - 1);
                self.caches.insert(0, Cache { key: Some(key), ..Cache::default() });
            }
        }
        let text = self.text.as_str();
        let settled = self.split.settled();
        for block in &settled[self.defs.len()..] {
            let defs = match block.kind {
                BlockKind::Markdown => refs::defs_of(&text[block.range.clone()]),
                BlockKind::Fence { .. } => Vec::new(),
            };
            self.settled_refs.add(&defs);
            self.defs.push(defs);
        }
        let cache = &mut self.caches[0];
        if cache.text_len == Some(text.len()) {
            return;
        }
        let open = self.split.open(text.len());
        let open_defs = match open.kind {
            BlockKind::Markdown => refs::defs_of(&text[open.range.clone()]),
            BlockKind::Fence { .. } => Vec::new(),
        };
        let refs = Refs { settled: &self.settled_refs, open: &open_defs };
        // A definition arrived or changed: blocks that looked labels up may render differently.
        if cache.uses_refs && refs.hash() != cache.refs_hash {
            *cache = Cache { key: Some(key), ..Cache::default() };
        }
        cache.refs_hash = refs.hash();
        cache.text_len = Some(text.len());
        let width = usize::from(width);
        let hls = &mut self.highlights;
        if hls.len() <= settled.len() {
            hls.resize_with(settled.len() + 1, Vec::new);
        }
        for (i, block) in settled.iter().enumerate().skip(cache.blocks_done) {
            cache.render_settled(i, text, block, width, style, refs, &mut hls[i]);
        }
        cache.render_open(settled.len(), text, &open, width, style, refs, &mut hls[settled.len()]);
    }
}

impl Cache {
    #[allow(clippy::too_many_arguments)] // the render state is threaded through explicitly instead of a borrowed struct of mut fields
    fn render_settled(
        &mut self,
        index: usize,
        text: &str,
        block: &Block,
        width: usize,
        st: &MarkdownStyle,
        refs: Refs<'_>,
        hl: &mut Vec<CodeHighlight>,
    ) {
        // State built while this block was open carries over when it belongs to this block.
        let open = std::mem::take(&mut self.open);
        let reuse = open.start == block.range.start;
        match block.kind {
            BlockKind::Fence { .. } => {
                let fence = if reuse { open.fence } else { None };
                self.extend_fence(index, text, block, width, st, fence.unwrap_or_default(), hl);
            }
            BlockKind::Markdown => {
                let rendered = render::render(&text[block.range.clone()], width, st, refs, hl);
                self.uses_refs |= rendered.uses_refs;
                self.out.truncate(self.settled_len);
                self.append(rendered.lines);
            }
        }
        self.settled_len = self.out.len();
        self.blocks_done += 1;
        self.open.start = block.range.end;
    }

    #[allow(clippy::too_many_arguments)] // the render state is threaded through explicitly instead of a borrowed struct of mut fields
    fn render_open(
        &mut self,
        index: usize,
        text: &str,
        block: &Block,
        width: usize,
        st: &MarkdownStyle,
        refs: Refs<'_>,
        hl: &mut Vec<CodeHighlight>,
    ) {
        if self.open.start != block.range.start {
            self.open = OpenCache { start: block.range.start, ..OpenCache::default() };
        }
        match block.kind {
            BlockKind::Fence { .. } => {
                let fence = self.open.fence.take().unwrap_or_default();
                let fence = self.extend_fence(index, text, block, width, st, fence, hl);
                self.open.fence = Some(fence);
            }
            BlockKind::Markdown => {
                let src = &text[block.range.clone()];
                let cut = paragraph::Cut::resume(self.open.paragraph.take(), src)
                    .filter(|cut| self.settled_len + cut.rows <= self.out.len());
                let (rows, from) = cut.map_or((0, 0), |cut| (cut.rows, cut.at));
                self.out.truncate(self.settled_len + rows);
                let rendered = render::render(&src[from..], width, st, refs, hl);
                let count = rendered.lines.len();
                self.append(rendered.lines);
                let first = self.out.len() - count;
                let code_ticks = st.code_in_ticks();
                self.open.paragraph =
                    cut.map(|cut| cut.advance(src, &self.out[first..], first - self.settled_len, code_ticks));
            }
        }
    }

    /// Brings a fence's lines in `out` up to date: finished lines are appended once and kept,
    /// the unfinished last line is redrawn.
    #[allow(clippy::too_many_arguments)] // the render state is threaded through explicitly instead of a borrowed struct of mut fields
    fn extend_fence(
        &mut self,
        index: usize,
        text: &str,
        block: &Block,
        width: usize,
        st: &MarkdownStyle,
        mut fence: FenceState,
        hl: &mut Vec<CodeHighlight>,
    ) -> FenceState {
        let (lang, code) = fence_parts(text, block);
        if hl.is_empty() {
            hl.push(CodeHighlight::default());
        }
        let hl = &mut hl[0];
        // A top-level fence's code only grows (its unfinished line may be dropped as a closer).
        let tail = hl.update(lang.as_deref(), code, st, true, true);
        self.out.truncate(self.settled_len + fence.stable);
        if fence.stable == 0
            && let Some(header) = code::header(lang.as_deref(), width, st)
        {
            self.append(vec![header]);
        }
        let mut lines = Vec::new();
        let mut stand_ins = Vec::new();
        let finished = hl.lines().get(fence.lines_done..).unwrap_or_default();
        for (i, line) in finished.iter().enumerate() {
            let start = lines.len();
            code::render_line(line, width, st, &mut lines);
            if i == 0 && fence.long.rows > 0 {
                // The line that was long and unfinished: its first rows are in `out` already.
                // (It was plain, and a line that long stays plain, so it is never upgraded.)
                lines.drain(start..(start + fence.long.rows).min(lines.len()));
            } else if fence.lines_done + i >= hl.highlighted() {
                stand_ins.push((fence.lines_done + i, start, lines.len() - start));
            }
        }
        if !finished.is_empty() {
            fence.long = LongLine::default();
        }
        let drawn = lines.len();
        self.append(lines);
        let base = self.out.len() - drawn;
        for (line, start, rows) in stand_ins {
            self.stand_ins.insert((index, line), (base + start, rows));
        }
        fence.lines_done = hl.lines().len();
        let BlockKind::Fence { ch, .. } = block.kind else { return fence };
        match tail {
            // A plain unfinished line keeps the rows it will keep, so a long one (minified
            // JSON) is not redrawn whole on every delta; unless it may still turn out to be
            // the closing fence and vanish.
            Tail::Plain(line) if !may_close(line, ch) => {
                let (mut stable, mut open) = (Vec::new(), Vec::new());
                fence.long.extend(line, width, st, &mut stable, &mut open);
                self.append(stable);
                fence.stable = self.out.len() - self.settled_len;
                self.append(open);
            }
            tail => {
                fence.stable = self.out.len() - self.settled_len;
                let mut lines = Vec::new();
                tail.render(width, st, &mut lines);
                self.append(lines);
            }
        }
        fence
    }

    /// Swap the rows of code lines `changed` of block `block`, drawn plain before, for their
    /// highlighted rows. Code wraps by its text and the width alone (never its colours), so the
    /// row count cannot change; if it did anyway, this render is dropped and made again.
    fn upgrade_code(
        &mut self,
        block: usize,
        changed: std::ops::Range<usize>,
        lines: &[Vec<crate::ui::highlight::Piece>],
        st: &MarkdownStyle,
    ) {
        let Some((width, generation)) = self.key else { return };
        if generation != st.generation {
            // Drawn with another style: it is re-rendered whole if that style comes back.
            *self = Cache::default();
            return;
        }
        for line in changed {
            let Some((row, count)) = self.stand_ins.remove(&(block, line)) else { continue };
            let mut rows = Vec::new();
            code::render_line(&lines[line], usize::from(width), st, &mut rows);
            if rows.len() != count || row + count > self.out.len() {
                *self = Cache { key: self.key, ..Cache::default() };
                return;
            }
            self.out.splice(row..row + count, rows);
        }
    }

    /// Appends the lines of the block being built, separated by a blank line from the blocks
    /// before it when this block adds its first lines.
    fn append(&mut self, lines: Vec<Line<'static>>) {
        if lines.is_empty() {
            return;
        }
        if self.out.len() == self.settled_len && self.settled_len > 0 {
            self.out.push(Line::default());
        }
        self.out.extend(lines);
    }
}

/// Whether more text could make `line` a closing fence of `ch` (it is one so far).
fn may_close(line: &str, ch: u8) -> bool {
    let (indent, rest) = lines::indentation(line);
    indent <= 3 && rest.trim_start_matches(char::from(ch)).trim_start_matches([' ', '\t']).is_empty()
}

/// The language and code of a column-0 fence block: the code runs from the line after the
/// opener to the closing fence, or to the end without a trailing line that already closes it.
fn fence_parts<'t>(text: &'t str, block: &Block) -> (Option<String>, &'t str) {
    let BlockKind::Fence { body, ch, len } = block.kind else {
        return (None, "");
    };
    let body = body.min(block.range.end);
    let opener = text[block.range.start..body].trim_end_matches('\n');
    let info = opener.trim_start_matches(char::from(ch));
    let region = &text[body..block.range.end];
    // The last line: the closing fence of a settled block, or an unfinished line of an open one
    // (an open block's finished lines never close it, or it would have been settled). Only a
    // line of fence characters and blanks can close, so the scan back stops at anything else
    // and a long unfinished line costs nothing here.
    let trimmed = region.strip_suffix('\n').unwrap_or(region);
    let run = trimmed.bytes().rev().take_while(|&b| b == ch || b == b' ' || b == b'\t').count();
    let last = trimmed.len() - run;
    let line_start = last == 0 || trimmed.as_bytes()[last - 1] == b'\n';
    let code = if line_start && is_closing_fence(&trimmed[last..], ch, len) { &region[..last] } else { region };
    (code::lang_of(info), code)
}

#[cfg(test)]
mod tests {
    //! Splitting must not change what the markdown means: rendering block by block gives the
    //! lines of rendering the whole message as one block (with fidelity edge cases of
    //! CommonMark containers, HTML blocks and fences in the mix).
    use super::*;
    use proptest::prelude::*;

    fn unsplit(text: &str, width: usize, st: &MarkdownStyle) -> Vec<Line<'static>> {
        let map = RefMap::default();
        render::render(text, width, st, Refs { settled: &map, open: &[] }, &mut Vec::new()).lines
    }

    /// Inputs the property below once found where streaming and whole rendering differed.
    #[test]
    fn split_matches_unsplit_where_it_once_did_not() {
        let st = MarkdownStyle::default();
        for text in [
            // A table ended by a tab-indented item: indented code, then an HTML block.
            "| a | b |\n|---|---|\n| 1 | 2 |\n\t- tabbed\n</pre>\n```\nunclosed\n",
            // A quote that starts with an empty code block, after a block.
            "~~~\ntilde\n~~~\n> ```\n> ```\n  > indented quote\n",
        ] {
            let text_of = |lines: &[Line<'_>]| -> Vec<String> {
                lines.iter().map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect()).collect()
            };
            let split = text_of(MarkdownView::from_text(text).lines(60, &st));
            assert_eq!(split, text_of(&unsplit(text, 60, &st)), "{text:?}");
        }
    }

    /// A paragraph streamed in `count` pieces made by `piece`, rendered at 40 columns after
    /// each: the view, once the cut is at most `slack` rows above the end (and well down).
    fn streamed_paragraph(
        st: &MarkdownStyle,
        count: usize,
        piece: impl Fn(usize) -> String,
        slack: usize,
    ) -> MarkdownView {
        let mut view = MarkdownView::from_text("Intro.\n\n");
        for i in 0..count {
            view.push_str(&piece(i));
            view.lines(40, st);
        }
        let cut = view.caches[0].open.paragraph.expect("a cut");
        let rows = view.lines(40, st).len();
        assert!(cut.rows + slack >= rows && cut.rows > 20, "rows {rows}, cut {cut:?}");
        view
    }

    /// A long paragraph of plain prose is rendered again from its last lines, not whole (the
    /// property tests check the lines; this, that the cut is made at all).
    #[test]
    fn a_streaming_plain_paragraph_is_rendered_again_from_its_last_lines() {
        let st = MarkdownStyle::default();
        let mut view = streamed_paragraph(&st, 200, |i| format!("word{i} "), 3);
        // A line break may make it something else: rendered whole again.
        view.push_str("\n");
        view.lines(40, &st);
        assert!(view.caches[0].open.paragraph.is_none());
    }

    /// And one with inline code and bold in it, as models write them, with colours and without
    /// (inline code keeps its backticks then).
    #[test]
    fn a_streaming_paragraph_with_code_and_bold_is_rendered_again_from_its_last_lines() {
        for no_color in [false, true] {
            let st = crate::ui::theme::load("dark", None, no_color).expect("embedded theme").markdown;
            let piece = |i| format!("word{i} the `code_{i}` and ` <T> ` **bold {i}**, then *this*. ");
            streamed_paragraph(&st, 100, piece, 8);
        }
    }

    const PIECES: &[&str] = &[
        "Para text here.\n",
        "\n",
        "- item\n",
        "- item two\n",
        "  - nested\n",
        "1. one\n",
        "2. two\n",
        "3) three\n",
        "   continued\n",
        "```rust\nfn x() {}\n```\n",
        "```\ncode\n\nmore\n```\n",
        "  ```\n  in item\n  ```\n",
        "> quote\n",
        "> > deep\n",
        "# Head\n",
        "---\n",
        "| a | b |\n|---|---|\n| 1 | 2 |\n",
        "a | b\n",
        "|---|---|\n",
        "- | -\n",
        "| row |\n",
        "  \\| not a cell |\n",
        "    indented\n",
        "<!-- c -->\n",
        "<div>\n",
        "</div>\n",
        "[r]: http://x\n",
        "see [r]\n",
        "text\n===\n",
        "* star\n",
        "+ plus\n",
        "- [ ] task\n",
        "\t- tabbed\n",
        "lazy continuation\n",
        "1. \n",
        "-\n",
        "~~~\ntilde\n~~~\n",
        "Setext\n---\n",
        "  > indented quote\n",
        "<details>\n",
        "<summary>x</summary>\n",
        "</details>\n",
        "* * *\n",
        "1. item\n\n   ```\n   code\n   ```\n",
        "- a\n\n  para\n",
        "```\nunclosed\n",
        "| x |\n",
        "\\\n",
        "<pre>\n",
        "</pre>\n",
        "   - three\n",
        "10. ten\n",
        "[link]\n",
        "<https://x>\n",
        "   ```\n",
        "````\n",
        "`` ` ``\n",
        "> - item\n",
        ">\n",
        "  - [x] nested task\n",
        "    code4\n",
        "- item\n  continuation\n",
        "1. x\n   - y\n",
        "***\n",
        "___\n",
        "  * two-space star\n",
        "     deep\n",
        "- ```\n",
        "1. ~~~\n",
        "> ```\n",
        "=\n",
        "-\n",
    ];

    proptest! {
        // DIAG_CASES=100000 for a deep run.
        #![proptest_config(ProptestConfig {
            cases: std::env::var("DIAG_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(2000),
            // Failures print their minimal input; no regression files outside this module's paths.
            failure_persistence: None,
            ..ProptestConfig::default()
        })]
        #[test]
        fn split_matches_unsplit(parts in proptest::collection::vec(proptest::sample::select(PIECES), 0..10)) {
            let text: String = parts.concat();
            let st = MarkdownStyle::default();
            let split = MarkdownView::from_text(&text).lines(60, &st).to_vec();
            let whole = unsplit(&text, 60, &st);
            let a: Vec<String> = split.iter().map(|l| l.spans.iter().map(|s| s.content.to_string()).collect()).collect();
            let b: Vec<String> = whole.iter().map(|l| l.spans.iter().map(|s| s.content.to_string()).collect()).collect();
            prop_assert_eq!(a, b, "{:?}", text);
        }
    }
}
