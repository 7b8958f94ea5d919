//! An open paragraph rendered again from its last lines only: the rows before a cut are final,
//! so a delta costs the few lines it can still change, not the whole paragraph.
//!
//! Why: while a model writes a paragraph, that paragraph is the open block, and every frame
//! rendered all of it again (parse, inline layout, wrapping): the largest single cost of a frame
//! at 200 tok/s. Most of it cannot change any more.
//!
//! When the rows before a cut are final: the paragraph is one line of source so far (a line
//! break may make it a heading, a table or a list), it starts with a letter (so it is a
//! paragraph), everything before the cut means what it will mean whatever text comes next, and
//! the cut is the start of a wrapped line whose first word is complete (a space follows it) and
//! plain. Such a word never moves back up a line: the wrap is greedy, and the one word that may
//! (one that grows wider than a line starts on the line before when there is room) is the last,
//! still growing. So the lines above the cut keep their text, and the text from the cut on,
//! rendered on its own, is what the whole paragraph renders from that line on.
//!
//! What "means what it will mean" allows: plain ASCII text (no character that may open or close
//! a link, HTML, an entity, an escape, strikethrough or a table cell); closed code spans (an
//! open one may still be closed); and `*`/`**` emphasis that CommonMark pairs one way only (see
//! `emphasis`), with plain text and closed code spans inside: a closing delimiter is paired
//! with an opener before it without looking further, and a pair of runs of one length uses both
//! up, so text yet to come finds no delimiter before the cut to pair with. Anything else ends
//! the search for a cut; so does a cut inside markup. The word at a cut must be plain as well,
//! or closing its markup later would narrow it, and it might then fit on the line before.
//!
//! The walk also compares what it expects each line to show with what the renderer drew, byte
//! for byte (code without its backticks, emphasis without its delimiters), and stops at the
//! first difference. A test streams random prose and markup and compares every render with a
//! render of the whole text so far; another streams paragraphs whose markup closes after a
//! wrap.

use ratatui::text::Line;

/// Where an open paragraph is rendered from again.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Cut {
    /// Rows of the block's output (after the settled blocks, the separating blank line among
    /// them) that stay as they are.
    pub rows: usize,
    /// Where in the block's source rendering starts again.
    pub at: usize,
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
    /// `code_ticks`: inline code is shown in backticks (when the style gives it no colour).
    pub(super) fn advance(self, src: &str, lines: &[Line<'_>], rows_before: usize, code_ticks: bool) -> Cut {
        let mut shown = Shown { bytes: src.as_bytes(), pos: self.at, inside: Inside::Text, code_ticks };
        let (mut rows, mut at) = (rows_before, self.at);
        'lines: for (i, line) in lines.iter().enumerate() {
            shown.skip_spaces();
            if i > 0 && shown.at_plain_word() {
                (rows, at) = (rows_before + i, shown.pos);
            }
            // The line's text is what the source shows from here, byte for byte.
            for span in &line.spans {
                for &byte in span.content.as_bytes() {
                    if shown.next() != Some(byte) {
                        break 'lines;
                    }
                }
            }
        }
        Cut { rows, at, seen: src.len() }
    }
}

/// Where the walk over the source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Inside {
    Text,
    /// Between the delimiters of a closed emphasis pair: its closer of `len` starts at `closer`.
    Emphasis {
        closer: usize,
        len: usize,
    },
    /// In a closed code span's content, which ends at `end`; its closing run ends at `after`.
    /// `tick`: a closing backtick is still to be shown.
    Code {
        end: usize,
        after: usize,
        in_emphasis: Option<(usize, usize)>,
        tick: bool,
    },
}

/// The text a paragraph's source shows, byte by byte, as far as it is final: markup that is
/// settled (see the module's note) shows its content; anything else ends it.
struct Shown<'s> {
    bytes: &'s [u8],
    /// Starts outside any markup.
    pos: usize,
    inside: Inside,
    /// Inline code is shown in single backticks.
    code_ticks: bool,
}

impl Shown<'_> {
    /// Steps over what shows nothing (a closing delimiter, the end of a code span).
    fn settle(&mut self) {
        loop {
            match self.inside {
                Inside::Emphasis { closer, len } if self.pos == closer => {
                    self.pos += len;
                    self.inside = Inside::Text;
                }
                Inside::Code { end, after, in_emphasis, tick: false } if self.pos == end => {
                    self.pos = after;
                    self.inside = match in_emphasis {
                        Some((closer, len)) => Inside::Emphasis { closer, len },
                        None => Inside::Text,
                    };
                }
                _ => return,
            }
        }
    }

    /// Steps over the spaces a wrapped line starts without.
    fn skip_spaces(&mut self) {
        loop {
            self.settle();
            if self.bytes.get(self.pos) != Some(&b' ') {
                return;
            }
            self.pos += 1;
        }
    }

    /// Whether a line starting here is a good cut: outside any markup, after a space, a
    /// complete plain word (a space follows) that starts with a letter.
    fn at_plain_word(&mut self) -> bool {
        self.settle();
        let (bytes, pos) = (self.bytes, self.pos);
        if self.inside != Inside::Text || pos == 0 || bytes[pos - 1] != b' ' {
            return false;
        }
        if !bytes.get(pos).is_some_and(u8::is_ascii_alphabetic) {
            return false;
        }
        match bytes[pos..].iter().position(|&b| b == b' ') {
            Some(len) => bytes[pos..pos + len].iter().all(|&b| plain(b)),
            None => false,
        }
    }

    /// The next byte shown, or `None` where the source is not (yet) known to show it.
    fn next(&mut self) -> Option<u8> {
        loop {
            self.settle();
            let byte = *self.bytes.get(self.pos)?;
            if let Inside::Code { end, tick, .. } = &mut self.inside {
                if self.pos == *end && *tick {
                    *tick = false;
                    return Some(b'`');
                }
                self.pos += 1;
                return Some(byte);
            }
            if plain(byte) {
                self.pos += 1;
                return Some(byte);
            }
            let in_emphasis = match self.inside {
                Inside::Emphasis { closer, len } => Some((closer, len)),
                _ => None,
            };
            match byte {
                b'`' => {
                    let (content, after) = code_span(self.bytes, self.pos)?;
                    self.pos = content.start;
                    self.inside = Inside::Code { end: content.end, after, in_emphasis, tick: self.code_ticks };
                    if self.code_ticks {
                        return Some(b'`');
                    }
                }
                b'*' if in_emphasis.is_none() => {
                    let (len, closer) = emphasis(self.bytes, self.pos)?;
                    self.pos += len;
                    self.inside = Inside::Emphasis { closer, len };
                }
                _ => return None,
            }
        }
    }
}

/// The length of the run of `byte` at `pos`.
fn run_len(bytes: &[u8], pos: usize, byte: u8) -> usize {
    bytes[pos..].iter().take_while(|&&b| b == byte).count()
}

/// A closed code span opening at `pos`: the range of what it shows (one space trimmed from each
/// end when both have one, as CommonMark does) and where its closing run ends. `None` when it
/// is not closed (yet), or holds anything beyond ASCII.
fn code_span(bytes: &[u8], pos: usize) -> Option<(std::ops::Range<usize>, usize)> {
    let len = run_len(bytes, pos, b'`');
    let start = pos + len;
    let mut at = start;
    while at < bytes.len() {
        match bytes[at] {
            b'`' => {
                let run = run_len(bytes, at, b'`');
                if run == len {
                    let content = &bytes[start..at];
                    let trim = content.len() >= 2
                        && content[0] == b' '
                        && content[content.len() - 1] == b' '
                        && content.iter().any(|&b| b != b' ');
                    let range = if trim { start + 1..at - 1 } else { start..at };
                    return Some((range, at + run));
                }
                at += run;
            }
            b if b.is_ascii_graphic() || b == b' ' => at += 1,
            _ => return None,
        }
    }
    None
}

/// The emphasis that the run of `*` at `pos` opens, when CommonMark pairs it with a closer
/// already in the text, one way only: its length and where the closer starts. The opener
/// follows a space and precedes a letter, a digit or a code span (so it opens and cannot
/// close); only plain text and closed code spans come before the closer, the next run of `*`,
/// which is as long and follows a letter or a digit (or a code span when a space or punctuation
/// follows it), so it closes. With nothing unpaired before the opener (the walk passes pairs
/// only), CommonMark pairs the two and uses both up. Checking that the renderer hid the
/// delimiters is not enough: other pairings can hide the same ones (`*a *b c*d*` pairs the
/// first with the last).
fn emphasis(bytes: &[u8], pos: usize) -> Option<(usize, usize)> {
    let len = run_len(bytes, pos, b'*');
    let first = *bytes.get(pos + len)?;
    if len > 2 || pos == 0 || bytes[pos - 1] != b' ' || !(first.is_ascii_alphanumeric() || first == b'`') {
        return None;
    }
    let mut at = pos + len;
    while at < bytes.len() {
        match bytes[at] {
            b'`' => at = code_span(bytes, at)?.1,
            b'*' => {
                let before = bytes[at - 1];
                let follows = *bytes.get(at + len)?;
                let closes = run_len(bytes, at, b'*') == len
                    && (before.is_ascii_alphanumeric()
                        || (before == b'`' && (follows == b' ' || follows.is_ascii_punctuation())));
                return closes.then_some((len, at));
            }
            b if plain(b) => at += 1,
            _ => return None,
        }
    }
    None
}
