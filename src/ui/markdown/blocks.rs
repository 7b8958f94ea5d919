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
    /// The latest top-level construct is a list, so a list item after a blank line continues it.
    in_list: bool,
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
            && !(self.in_list && maybe_item)
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
            return;
        }
        if let Some(marker) = self.html_end {
            if line.contains(marker) {
                self.html_end = None;
            }
            self.prev_blank = false;
            return;
        }
        if line.trim_matches([' ', '\t']).is_empty() {
            if !self.open_has_content {
                // Leading blank lines render nothing; starting the block after them lets a fence
                // that follows begin its own block.
                self.open_start = end + 1;
            }
            self.prev_blank = true;
            return;
        }
        let (indent, rest) = indentation(line);
        let col0 = indent == 0;
        let opener = if indent <= 3 { fence_opener(rest) } else { None };
        let list_item = col0 && is_list_marker(rest);
        let split = col0 && (opener.is_some() || (self.prev_blank && !(self.in_list && list_item)));
        if split && self.open_has_content {
            self.settle(start);
        }
        if col0 {
            if list_item {
                self.in_list = true;
            } else if self.prev_blank || starts_block(rest) || opener.is_some() {
                self.in_list = false;
            }
        }
        if let Some((ch, len)) = opener {
            self.fence = Some(OpenFence { ch, len, top_level: col0, body: end + 1 });
        } else if indent <= 3
            && let Some(marker) = html_block_end(rest)
            && !rest[1..].contains(marker)
        {
            self.html_end = Some(marker);
        }
        self.open_has_content = true;
        self.prev_blank = false;
    }
}

/// Leading indentation in columns (tabs to the next multiple of 4) and the text after it.
fn indentation(line: &str) -> (usize, &str) {
    let mut cols = 0;
    for (i, b) in line.bytes().enumerate() {
        match b {
            b' ' => cols += 1,
            b'\t' => cols += 4 - cols % 4,
            _ => return (cols, &line[i..]),
        }
    }
    (cols, "")
}

/// `(char, length)` when `rest` (indentation removed) opens a code fence.
pub(crate) fn fence_opener(rest: &str) -> Option<(u8, usize)> {
    let ch = *rest.as_bytes().first()?;
    if ch != b'`' && ch != b'~' {
        return None;
    }
    let len = rest.bytes().take_while(|&b| b == ch).count();
    // A backtick fence's info string may not contain backticks (that would be inline code).
    (len >= 3 && !(ch == b'`' && rest[len..].contains('`'))).then_some((ch, len))
}

/// Whether `line` closes a fence of `ch` repeated `len` times.
pub(crate) fn is_closing_fence(line: &str, ch: u8, len: usize) -> bool {
    let (indent, rest) = indentation(line);
    let run = rest.bytes().take_while(|&b| b == ch).count();
    indent <= 3 && run >= len && rest[run..].trim_matches([' ', '\t']).is_empty()
}

/// A bullet (`-`, `*`, `+`) or ordered (`1.`, `1)`) list marker followed by a space or the end.
fn is_list_marker(rest: &str) -> bool {
    let b = rest.as_bytes();
    let after = match b.first() {
        Some(b'-' | b'*' | b'+') => 1,
        Some(b'0'..=b'9') => {
            let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
            if digits > 9 || !matches!(b.get(digits), Some(b'.' | b')')) {
                return false;
            }
            digits + 1
        }
        _ => return false,
    };
    matches!(b.get(after), None | Some(b' ' | b'\t'))
}

/// Lines that start a new top-level construct and so end a list without a blank line.
fn starts_block(rest: &str) -> bool {
    rest.starts_with('#') || rest.starts_with('>') || rest.starts_with("***") || rest.starts_with("___")
}

/// For HTML blocks that run to an end marker rather than to a blank line (CommonMark types
/// 1–5), the marker; their content may contain blank lines that must not split.
fn html_block_end(rest: &str) -> Option<&'static str> {
    if !rest.starts_with('<') {
        return None;
    }
    let lower: String = rest.chars().take(12).collect::<String>().to_ascii_lowercase();
    if lower.starts_with("<!--") {
        return Some("-->");
    }
    if lower.starts_with("<?") {
        return Some("?>");
    }
    if lower.starts_with("<![cdata[") {
        return Some("]]>");
    }
    if lower.starts_with("<!") && lower.as_bytes().get(2).is_some_and(u8::is_ascii_alphabetic) {
        return Some(">");
    }
    for (tag, end) in [("pre", "</pre>"), ("script", "</script>"), ("style", "</style>"), ("textarea", "</textarea>")] {
        if let Some(after) = lower.strip_prefix('<').and_then(|l| l.strip_prefix(tag))
            && matches!(after.as_bytes().first(), None | Some(b' ' | b'\t' | b'>'))
        {
            return Some(end);
        }
    }
    None
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
    fn html_comments_hold_blank_lines() {
        assert_eq!(split("<!--\n\nhidden\n-->\n\nafter"), ["<!--\n\nhidden\n-->\n\n", "after"]);
    }

    #[test]
    fn markers() {
        assert!(is_list_marker("- x") && is_list_marker("12) x") && is_list_marker("*"));
        assert!(!is_list_marker("-x") && !is_list_marker("1234567890. x") && !is_list_marker("a. x"));
        assert_eq!(fence_opener("````md"), Some((b'`', 4)));
        assert_eq!(fence_opener("``` a`b"), None);
        assert_eq!(fence_opener("~~~ a`b"), Some((b'~', 3)));
        assert!(is_closing_fence("  ````  ", b'`', 3) && !is_closing_fence("```x", b'`', 3));
    }
}
