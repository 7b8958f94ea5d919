//! Splits a growing message into top-level blocks that can be rendered independently, by
//! scanning complete lines once. A block is settled when the next one starts; only the open
//! (last) block changes as text arrives.
//!
//! Splits happen only where CommonMark guarantees a fresh top-level block: before a non-indented
//! line that follows a blank line (unless it continues a list), before a column-0 code fence,
//! and after that fence's closing line. Where the scan is unsure (HTML blocks, fences inside
//! list items), it does not split, which only makes the open block larger. The scan is a pure
//! function of the complete lines, so streaming and whole-text splits always agree.

use std::ops::Range;

use super::lines::{
    fence_opener, html_block_end, indentation, interrupts_table, is_atx_heading, is_closing_fence, is_thematic_break,
    list_marker_width, quote_content, table_delimiter_columns, table_header_cells,
};

/// What a block holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BlockKind {
    /// Anything else, rendered by the markdown parser.
    Markdown,
    /// A column-0 fenced code block; the code starts at `body` and the info string is on the
    /// opening line before it.
    Fence { body: usize, ch: u8, len: usize },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Block {
    pub range: Range<usize>,
    pub kind: BlockKind,
}

/// A fence being scanned.
#[derive(Debug, Clone, Copy)]
struct OpenFence {
    ch: u8,
    len: usize,
    /// Opened at column 0, so it is a block of its own.
    top_level: bool,
    body: usize,
    /// Inside a list item whose content starts at this column: a non-blank line indented less
    /// ends the item and with it the fence.
    item_indent: Option<usize>,
}

#[derive(Debug, Default)]
pub(crate) struct Splitter {
    /// Bytes of the text consumed as complete lines.
    scanned: usize,
    /// Bytes searched for a newline (so a long unfinished line is not searched again).
    searched: usize,
    settled: Vec<Block>,
    open_start: usize,
    open_has_content: bool,
    fence: Option<OpenFence>,
    /// End marker of an HTML block that may contain blank lines (`-->`, `</pre>`, …).
    html_end: Option<&'static str>,
    prev_blank: bool,
    /// The previous line is paragraph text that the next line could continue (a lone HTML tag
    /// cannot interrupt it).
    para: bool,
    /// That paragraph is in a block quote (a list item line ends the quote instead).
    quote_para: bool,
    /// The paragraph is a table (outside lists and quotes): its rows continue it up to a line
    /// whose text, however indented, would interrupt a paragraph; that line is read afresh
    /// (`\t- x` after a table is indented code, not a row nor a lazy line).
    table: bool,
    /// The previous line could be a table's header, with this many cells: paragraph text
    /// outside lists and quotes that started the paragraph or starts with `|`.
    header_cells: Option<usize>,
    /// A fence opened on a block-quote line: it runs while the lines continue the quote.
    quote_fence: Option<(u8, usize)>,
    /// The previous line was a list marker with nothing after it: a blank line next ends that
    /// item (an item starts with at most one blank line).
    empty_item: bool,
    /// Content columns of the open list items, outermost first. While any is open, a list
    /// item after a blank line continues the list instead of starting a block.
    items: Vec<usize>,
}

impl Splitter {
    /// Scans the complete lines of `text` not seen yet. `text` must extend the previous one.
    pub(crate) fn feed(&mut self, text: &str) {
        let bytes = text.as_bytes();
        while let Some(nl) = bytes[self.searched..].iter().position(|&b| b == b'\n') {
            let end = self.searched + nl;
            self.line(text, self.scanned, end);
            self.scanned = end + 1;
            self.searched = end + 1;
        }
        self.searched = bytes.len();
        self.settle_before_tail(&text[self.scanned..]);
    }

    /// Splits before the unfinished last line when its first character already decides it:
    /// after a blank line, a non-indented line starts a new block unless it may be an item of
    /// the list before. When the line completes, `line` reaches the same decision and, the
    /// block being empty by then, does nothing, so early and late splits agree.
    fn settle_before_tail(&mut self, tail: &str) {
        let Some(first) = tail.bytes().next() else { return };
        let maybe_item = matches!(first, b'-' | b'*' | b'+' | b'0'..=b'9');
        let in_html_or_fence = self.fence.is_some() || self.html_end.is_some();
        if self.prev_blank
            && self.open_has_content
            && !in_html_or_fence
            && !matches!(first, b' ' | b'\t')
            && (self.items.is_empty() || !maybe_item)
        {
            self.settle(self.scanned);
        }
    }

    pub(crate) fn settled(&self) -> &[Block] {
        &self.settled
    }

    /// The open block: from the last split to the end of `text`.
    pub(crate) fn open(&self, text_len: usize) -> Block {
        let kind = match self.fence {
            Some(f) if f.top_level => BlockKind::Fence { body: f.body, ch: f.ch, len: f.len },
            _ => BlockKind::Markdown,
        };
        Block { range: self.open_start.min(text_len)..text_len, kind }
    }

    fn settle(&mut self, at: usize) {
        let kind = match self.fence {
            Some(f) if f.top_level => BlockKind::Fence { body: f.body, ch: f.ch, len: f.len },
            _ => BlockKind::Markdown,
        };
        self.settled.push(Block { range: self.open_start..at, kind });
        self.open_start = at;
        self.open_has_content = false;
        self.fence = None;
    }

    fn line(&mut self, text: &str, start: usize, end: usize) {
        let line = &text[start..end];
        let blank = line.trim_matches([' ', '\t']).is_empty();
        if let Some((ch, len)) = self.quote_fence {
            match quote_content(line) {
                Some(content) => {
                    if is_closing_fence(content, ch, len) {
                        self.quote_fence = None;
                    }
                    self.prev_blank = false;
                    self.para = false;
                    return;
                }
                // The quote ended, and its fence with it; the line is read afresh.
                None => self.quote_fence = None,
            }
        }
        if let Some(fence) = self.fence
            && fence.item_indent.is_some_and(|i| !blank && indentation(line).0 < i)
        {
            // The list item ended, and its fence with it; the line is read afresh.
            self.fence = None;
        }
        if let Some(fence) = self.fence {
            if is_closing_fence(line, fence.ch, fence.len) {
                if fence.top_level {
                    // Nothing continues a top-level fence: the next line starts a new block.
                    self.settle(end + 1);
                } else {
                    self.fence = None;
                }
                self.prev_blank = false;
            }
            self.para = false;
            return;
        }
        if let Some(marker) = self.html_end {
            if marker.is_empty() && blank {
                // An HTML block of block-level tags ends at a blank line, which is handled below.
                self.html_end = None;
            } else {
                if !marker.is_empty() && line.contains(marker) {
                    self.html_end = None;
                }
                self.prev_blank = false;
                self.para = false;
                return;
            }
        }
        if blank {
            if !self.open_has_content {
                // Leading blank lines render nothing; starting the block after them lets a fence
                // that follows begin its own block.
                self.open_start = end + 1;
            }
            self.prev_blank = true;
            self.para = false;
            self.table = false;
            self.header_cells = None;
            if std::mem::take(&mut self.empty_item)
                && let Some(last) = self.items.last_mut()
            {
                // Closed to content, but the list stays open for a sibling item.
                *last = usize::MAX;
            }
            return;
        }
        if self.table && interrupts_table(line.trim_start_matches([' ', '\t'])) {
            self.para = false;
            self.table = false;
        }
        let (indent, rest) = indentation(line);
        if self.table
            || self.header_cells.is_some_and(|cells| indent <= 3 && table_delimiter_columns(rest) == Some(cells))
        {
            // A table's row, or its delimiter row under the header: the table goes on.
            self.table = true;
            self.header_cells = None;
            self.open_has_content = true;
            self.prev_blank = false;
            return;
        }
        let col0 = indent == 0;
        // Structure (markers, fences, HTML) counts within three columns of the content column
        // of the innermost list item the line reaches; deeper it is indented code or text.
        let container = self.items.iter().rev().find(|&&c| c <= indent).copied().unwrap_or(0);
        let structural = indent - container <= 3;
        let opener = if structural { fence_opener(rest) } else { None };
        let html = if structural && opener.is_none() { html_block_end(rest, !self.para) } else { None };
        // A `===` or `---` underline makes a heading of a paragraph in the same container;
        // lazily (less indented than the item it would continue, or after a quote) it is text.
        let underline = rest.trim_end_matches([' ', '\t']);
        let same_level = !self.quote_para && self.items.last().is_none_or(|&c| indent >= c);
        let setext = self.para
            && same_level
            && structural
            && !underline.is_empty()
            && (underline.bytes().all(|b| b == b'=') || underline.bytes().all(|b| b == b'-'));
        // `* * *` is a thematic break, not an item.
        let mut item = if structural && !setext && !is_thematic_break(rest) { list_marker_width(rest) } else { None };
        if let Some(w) = item
            && self.para
            && !self.quote_para
            && self.items.is_empty()
        {
            // Starting a list inside a paragraph takes a non-empty item, and `1` if ordered;
            // otherwise the line just continues the paragraph.
            let empty = rest[w.min(rest.len())..].trim().is_empty();
            let ordered_not_one =
                rest.as_bytes()[0].is_ascii_digit() && !rest.starts_with("1.") && !rest.starts_with("1)");
            if empty || ordered_not_one {
                item = None;
            }
        }
        let block_start = setext
            || opener.is_some()
            || html.is_some()
            || item.is_some()
            || is_atx_heading(rest)
            || is_thematic_break(rest)
            || (structural && rest.starts_with('>'));
        // A lazy continuation line extends the paragraph and keeps every container open.
        let lazy = self.para && !self.prev_blank && !block_start;
        let was_in_list = !self.items.is_empty();
        if !lazy {
            // Items whose content column the line does not reach are closed.
            while self.items.last().is_some_and(|&c| c > indent) {
                self.items.pop();
            }
        }
        let split = col0 && (opener.is_some() || (self.prev_blank && !(was_in_list && item.is_some())));
        if split && self.open_has_content {
            self.settle(start);
        }
        if let Some(width) = item {
            self.items.push(indent + width);
        }
        // Container markers with nothing after them (`1. `, `>`) hold no paragraph.
        let empty_marker = item.is_some_and(|w| rest[w.min(rest.len())..].trim().is_empty()) || rest.trim_end() == ">";
        self.empty_item = item.is_some() && empty_marker;
        let mut para = if lazy {
            true
        } else if structural {
            !(setext || is_atx_heading(rest) || is_thematic_break(rest) || empty_marker)
        } else {
            self.para
        };
        self.quote_para = if lazy { self.quote_para } else { structural && rest.starts_with('>') };
        // A fence may also start right after an item's marker or a quote's `>`.
        let item_fence = item.and_then(|w| Some((fence_opener(rest.get(w..)?)?, indent + w)));
        let quote_fence = if structural { quote_content(rest).and_then(fence_opener) } else { None };
        if let Some((ch, len)) = opener {
            let item_indent = self.items.last().copied();
            self.fence = Some(OpenFence { ch, len, top_level: col0, body: end + 1, item_indent });
            para = false;
        } else if let Some(((ch, len), content)) = item_fence {
            self.fence = Some(OpenFence { ch, len, top_level: false, body: end + 1, item_indent: Some(content) });
            para = false;
        } else if quote_fence.is_some() {
            self.quote_fence = quote_fence;
            para = false;
        } else if let Some(marker) = html {
            if marker.is_empty() || !rest[1..].contains(marker) {
                self.html_end = Some(marker);
            }
            para = false;
        }
        self.para = para;
        let top_level_text = para && self.items.is_empty() && !self.quote_para && indent <= 3;
        self.header_cells =
            if top_level_text && (!lazy || rest.starts_with('|')) { table_header_cells(rest) } else { None };
        self.open_has_content = true;
        self.prev_blank = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> Vec<&str> {
        let mut s = Splitter::default();
        s.feed(text);
        let mut out: Vec<&str> = s.settled().iter().map(|b| &text[b.range.clone()]).collect();
        out.push(&text[s.open(text.len()).range]);
        out
    }

    #[test]
    fn paragraphs_split_at_blank_lines() {
        assert_eq!(split("a\nb\n\nc\n"), ["a\nb\n\n", "c\n"]);
        assert_eq!(split("\n\na\n\n\nb"), ["a\n\n\n", "b"]);
    }

    #[test]
    fn lists_continue_across_blank_lines() {
        assert_eq!(split("- a\n\n- b\n\nafter\n"), ["- a\n\n- b\n\n", "after\n"]);
        assert_eq!(split("1. a\n\n   more\n2. b\n"), ["1. a\n\n   more\n2. b\n"]);
    }

    #[test]
    fn fences_are_blocks_of_their_own() {
        assert_eq!(
            split("text\n```rust\nfn x() {}\n\n\nmore\n```\nafter\n"),
            ["text\n", "```rust\nfn x() {}\n\n\nmore\n```\n", "after\n"]
        );
        let mut s = Splitter::default();
        s.feed("intro\n\n```py\nx = 1\n");
        assert!(matches!(s.open(20).kind, BlockKind::Fence { body: 13, ch: b'`', len: 3 }));
        // An indented fence (in a list item) is not split out but still protects blank lines.
        assert_eq!(split("- a\n  ```\n  x\n\ny\n  ```\n"), ["- a\n  ```\n  x\n\ny\n  ```\n"]);
    }

    #[test]
    fn a_table_ends_where_pulldown_cmark_ends_it() {
        // After a table, a tab-indented list item is indented code (not a row, nor text that
        // continues a paragraph), so the lone tag next starts an HTML block holding the fence.
        let text = "| a | b |\n|---|---|\n| 1 | 2 |\n\t- tabbed\n</pre>\n```\nunclosed\n";
        assert_eq!(split(text), [text]);
        // Rows go on until such a line; a fence ends the table and is a block of its own.
        assert_eq!(split("a | b\n- | -\nx\n```\ncode\n```\n"), ["a | b\n- | -\nx\n", "```\ncode\n```\n", ""]);
        // Without the header's cell count it is no table: the tab line continues the paragraph.
        let text = "a | b\n|---|---|---|\n\t- x\n</pre>\n```\ny\n";
        assert_eq!(split(text), ["a | b\n|---|---|---|\n\t- x\n</pre>\n", "```\ny\n"]);
    }

    #[test]
    fn html_comments_hold_blank_lines() {
        assert_eq!(split("<!--\n\nhidden\n-->\n\nafter"), ["<!--\n\nhidden\n-->\n\n", "after"]);
    }
}
