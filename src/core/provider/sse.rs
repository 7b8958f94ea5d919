//! Server-sent-events framing of a streamed body, in one linear pass: each byte is scanned once
//! and copied at most once, however the network splits the body, and a line without a line
//! break is refused once it passes a bound instead of growing memory (a hostile or broken
//! upstream can send megabytes with no newline).
//!
//! Only what chat-completion streams use is kept: `data:` fields joined by `\n` into one event
//! per blank line; comments (`: keep-alive`) and other fields (`event:`, `id:`, `retry:`) are
//! skipped. Lines end with `\n`, `\r\n` or `\r` (the SSE grammar).

/// Why framing stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// A line (or one event's joined data) grew past the bound without ending.
    LineTooLong { limit: usize },
    /// A line was not UTF-8.
    NotUtf8,
}

/// Incremental SSE framer. Feed it chunks as they arrive; it appends complete events' data to
/// the caller's vector.
#[derive(Debug)]
pub struct SseFramer {
    /// Bytes of the current, unfinished line (earlier lines are dropped as they complete).
    line: Vec<u8>,
    /// The data of the event being assembled.
    data: String,
    has_data: bool,
    /// A `\r` ended the last line: a `\n` right after it belongs to the same line ending.
    after_cr: bool,
    max_line: usize,
    /// Whether any byte other than whitespace arrived yet (to recognise an HTML page).
    seen_content: bool,
    /// The first non-whitespace byte of the body.
    first_byte: Option<u8>,
}

impl SseFramer {
    pub fn new(max_line: usize) -> Self {
        Self {
            line: Vec::new(),
            data: String::new(),
            has_data: false,
            after_cr: false,
            max_line,
            seen_content: false,
            first_byte: None,
        }
    }

    /// The first non-whitespace byte of the body, once one arrived.
    pub fn first_byte(&self) -> Option<u8> {
        self.first_byte
    }

    /// Frame one chunk; complete events' data go to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<String>) -> Result<(), FrameError> {
        if !self.seen_content
            && let Some(b) = chunk.iter().find(|b| !b.is_ascii_whitespace())
        {
            self.seen_content = true;
            self.first_byte = Some(*b);
        }
        let mut rest = chunk;
        if self.after_cr && rest.first() == Some(&b'\n') {
            rest = &rest[1..];
        }
        self.after_cr = false;
        // memchr scans a word (or a vector) at a time: a byte-at-a-time search here was the
        // framer's whole cost in a profile of `ask` (12 instructions a byte).
        while let Some(end) = memchr::memchr2(b'\n', b'\r', rest) {
            let (head, tail) = rest.split_at(end);
            let cr = tail[0] == b'\r';
            if self.line.is_empty() {
                self.take_line(head, out)?;
            } else {
                self.grow(head)?;
                let line = std::mem::take(&mut self.line);
                self.take_line(&line, out)?;
                self.line = line;
                self.line.clear();
            }
            rest = &tail[1..];
            if cr {
                if rest.first() == Some(&b'\n') {
                    rest = &rest[1..];
                } else if rest.is_empty() {
                    self.after_cr = true;
                }
            }
        }
        self.grow(rest)
    }

    /// The body ended cleanly: an event whose blank line never came is still delivered, but an
    /// unfinished line (no line break) is dropped, as the SSE grammar says.
    pub fn finish(&mut self, out: &mut Vec<String>) {
        self.line.clear();
        self.dispatch(out);
    }

    fn grow(&mut self, bytes: &[u8]) -> Result<(), FrameError> {
        if self.line.len() + bytes.len() > self.max_line {
            return Err(FrameError::LineTooLong { limit: self.max_line });
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    fn take_line(&mut self, line: &[u8], out: &mut Vec<String>) -> Result<(), FrameError> {
        if line.is_empty() {
            self.dispatch(out);
            return Ok(());
        }
        if line[0] == b':' {
            return Ok(());
        }
        let (name, value) = match memchr::memchr(b':', line) {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &[][..]),
        };
        if name != b"data" {
            return Ok(());
        }
        let value = std::str::from_utf8(value).map_err(|_| FrameError::NotUtf8)?;
        if self.data.len() + value.len() + 1 > self.max_line {
            return Err(FrameError::LineTooLong { limit: self.max_line });
        }
        if self.has_data {
            self.data.push('\n');
        }
        self.data.push_str(value);
        self.has_data = true;
        Ok(())
    }

    fn dispatch(&mut self, out: &mut Vec<String>) {
        if self.has_data {
            out.push(std::mem::take(&mut self.data));
            self.has_data = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(chunks: &[&[u8]]) -> Result<Vec<String>, FrameError> {
        let mut f = SseFramer::new(64);
        let mut out = Vec::new();
        for c in chunks {
            f.push(c, &mut out)?;
        }
        f.finish(&mut out);
        Ok(out)
    }

    #[test]
    fn line_endings_comments_and_fields() {
        let body = b": hi\r\nevent: x\ndata: a\rdata:b\r\n\r\ndata: c\n\ndata: tail-without-newline";
        assert_eq!(frame(&[body]).unwrap(), ["a\nb", "c"]);
        // Every split point gives the same events, a `\r\n` split between chunks included.
        for cut in 0..body.len() {
            assert_eq!(frame(&[&body[..cut], &body[cut..]]).unwrap(), ["a\nb", "c"], "cut {cut}");
        }
        // An event whose blank line never came is delivered at a clean end.
        assert_eq!(frame(&[b"data: last\n"]).unwrap(), ["last"]);
    }

    #[test]
    fn long_lines_are_refused_not_buffered() {
        let long = [b'x'; 65];
        assert_eq!(frame(&[b"data: ", &long]), Err(FrameError::LineTooLong { limit: 64 }));
        let many: Vec<&[u8]> = std::iter::repeat_n(&b"xxxxxxxxxx"[..], 7).collect();
        assert_eq!(frame(&many), Err(FrameError::LineTooLong { limit: 64 }));
        assert_eq!(frame(&[b"data: \xff\n\n"]), Err(FrameError::NotUtf8));
    }
}
