//! An open paragraph of plain prose rendered again from its last line only: the rows before it
//! are final, so a delta costs the few lines it can still change, not the whole paragraph.
//!
//! Why: while a model writes a paragraph, that paragraph is the open block, and every frame
//! rendered all of it again (parse, inline layout, wrapping): the largest single cost of a frame
//! at 200 tok/s. Most of it cannot change any more.
//!
//! When the rows before a cut are final: the paragraph is one line of source so far (a line
//! break may make it a heading, a table or a list), it starts with a letter (so it is a
//! paragraph), everything before the cut is plain text (no character that may open or close
//! emphasis, code, a link or HTML, whose meaning text yet to come may change), and the cut is
//! the start of a wrapped line whose first word is complete (a space follows it). Such a word
//! never moves back up a line: the wrap is greedy, and the one word that may (one that grows
//! wider than a line starts on the line before when there is room) is the last, still growing.
//! So the lines above the cut keep their text, and the text from the cut on, rendered on its
//! own, is what the whole paragraph renders from that line on. A test streams random text and
//! compares every render with a render of the whole text so far.

use ratatui::text::Line;

/// Where an open paragraph is rendered from again.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Cut {
    /// Rows of the block's output (after the settled blocks, the separating blank line among
    /// them) that stay as they are.
    pub rows: usize,
    /// Where in the block's source rendering starts again.
    pub at: usize,
    /// The block's source before this is known to be plain text.
    plain_until: usize,
    /// Plain text ends at `plain_until`: no cut past it.
    plain_ends: bool,
    /// Source length at the last render (what came after is checked for line breaks).
    seen: usize,
}

/// Characters that mean the same whatever follows them in a paragraph (outside a block's first
/// column): not `* _ ` [ ] ! < > & \ ~ |`, nor anything beyond ASCII (wide characters break
/// lines differently).
fn plain(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b" .,;:?'\"()/-+=%@#^{}".contains(&byte)
}

impl Cut {
    /// The cut to render the open block `src` from, given the last one: `None` renders it whole
    /// (and the caller makes no cut), for a block that is not (or no longer) a one-line paragraph.
    pub(super) fn resume(last: Option<Cut>, src: &str) -> Option<Cut> {
        let bytes = src.as_bytes();
        if !bytes.first().is_some_and(u8::is_ascii_alphabetic) {
            return None;
        }
        let cut = last.unwrap_or_default();
        if cut.seen > bytes.len() || bytes[cut.seen..].contains(&b'\n') {
            return None;
        }
        Some(cut)
    }

    /// The cut for the next render, after `src[self.at..]` was rendered into `lines` (which
    /// follow `rows_before` rows of the block's output): the last line start in it that makes a
    /// good cut (see the module's note), or this cut again.
    pub(super) fn advance(mut self, src: &str, lines: &[Line<'_>], rows_before: usize) -> Cut {
        let bytes = src.as_bytes();
        self.seen = bytes.len();
        let (mut rows, mut at) = (rows_before, self.at);
        let mut pos = self.at;
        'lines: for (i, line) in lines.iter().enumerate() {
            while bytes.get(pos) == Some(&b' ') {
                pos += 1;
            }
            if i > 0 {
                if self.starts_plain_word(bytes, pos) {
                    (rows, at) = (rows_before + i, pos);
                } else if self.plain_ends && pos >= self.plain_until {
                    break;
                }
            }
            // The line's text is the source's from here (plain text is shown as written).
            for span in &line.spans {
                if !src[pos..].starts_with(span.content.as_ref()) {
                    break 'lines;
                }
                pos += span.content.len();
            }
        }
        Cut { rows, at, ..self }
    }

    /// Whether a line starting at `pos` is a good cut: after a space, a complete word (a space
    /// follows) that starts with a letter, with plain text from the block's start to its end.
    /// Extends what is known to be plain as far as it looks.
    fn starts_plain_word(&mut self, bytes: &[u8], pos: usize) -> bool {
        if pos == 0 || bytes.get(pos - 1) != Some(&b' ') || !bytes.get(pos).is_some_and(u8::is_ascii_alphabetic) {
            return false;
        }
        let Some(word_end) = bytes[pos..].iter().position(|&b| b == b' ').map(|n| pos + n) else { return false };
        while self.plain_until < word_end && !self.plain_ends {
            if plain(bytes[self.plain_until]) {
                self.plain_until += 1;
            } else {
                self.plain_ends = true;
            }
        }
        self.plain_until >= word_end
    }
}
