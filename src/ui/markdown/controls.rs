//! Streaming control-sequence stripping: wraps the stateless `core::sanitize::strip_controls` so
//! an escape sequence split across two deltas is removed as a whole. A trailing sequence that may
//! still continue is held back (in a compressed form) until the next delta completes it.

use crate::core::sanitize::strip_controls;

const ESC: char = '\u{1b}';

/// Where the scanner is at the end of a delta; mirrors the state machine of `strip_controls`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Ground,
    /// After a lone `ESC`: the next character decides the sequence.
    Escape,
    /// CSI parameters and intermediates (`ESC [` or `U+009B`).
    Csi,
    /// nF intermediates (`ESC (`): an optional final byte follows.
    Nf,
    /// OSC (`ends_at_bel`) or DCS/SOS/PM/APC body, until its terminator.
    Str {
        ends_at_bel: bool,
    },
    /// An `ESC` inside a string: it ends the string and swallows the next character.
    StrEscape,
}

/// Holds back the tail of the stream that might be the start of a control sequence.
#[derive(Debug, Default, Clone)]
pub(crate) struct ControlStream {
    /// The held-back sequence, reduced to what decides how the rest is stripped: its
    /// introducer (and a pending `ESC` inside a string). Bodies and parameters are dropped
    /// as they arrive because their content never reaches the output.
    held: String,
}

impl ControlStream {
    /// Sanitizes `delta` in the context of what came before; returns the text that is final.
    pub(crate) fn push(&mut self, delta: &str) -> String {
        let mut raw = std::mem::take(&mut self.held);
        raw.push_str(delta);
        if let Some((start, state)) = incomplete_tail(&raw) {
            self.held = compress(&raw[start..], state);
            raw.truncate(start);
        }
        strip_controls(&raw).into_owned()
    }
}

/// The byte offset where an unfinished control sequence starts at the end of `s`, with the
/// state it is in; `None` when `s` ends in ground state.
fn incomplete_tail(s: &str) -> Option<(usize, State)> {
    // Fast path: no introducer at all means ground throughout.
    if !s.contains([ESC, '\u{9b}', '\u{9d}', '\u{90}', '\u{98}', '\u{9e}', '\u{9f}']) {
        return None;
    }
    let mut state = State::Ground;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        state = match state {
            State::Ground => {
                start = i;
                introducer(c)
            }
            State::Escape => match c {
                '[' => State::Csi,
                ']' => State::Str { ends_at_bel: true },
                'P' | 'X' | '^' | '_' => State::Str { ends_at_bel: false },
                ' '..='/' => State::Nf,
                // Two-character sequence: complete.
                '0'..='~' => State::Ground,
                // A lone ESC is dropped and `c` is processed as ordinary input.
                _ => {
                    start = i;
                    introducer(c)
                }
            },
            State::Csi => match c {
                '0'..='?' | ' '..='/' => State::Csi,
                '@'..='~' => State::Ground,
                _ => {
                    start = i;
                    introducer(c)
                }
            },
            State::Nf => match c {
                ' '..='/' => State::Nf,
                '0'..='~' => State::Ground,
                _ => {
                    start = i;
                    introducer(c)
                }
            },
            State::Str { ends_at_bel } => match c {
                '\u{9c}' | '\u{18}' | '\u{1a}' => State::Ground,
                '\u{7}' if ends_at_bel => State::Ground,
                ESC => State::StrEscape,
                _ => state,
            },
            State::StrEscape => State::Ground,
        };
    }
    (state != State::Ground).then_some((start, state))
}

/// The state a ground-state character leads to.
fn introducer(c: char) -> State {
    match c {
        ESC => State::Escape,
        '\u{9b}' => State::Csi,
        '\u{9d}' => State::Str { ends_at_bel: true },
        '\u{90}' | '\u{98}' | '\u{9e}' | '\u{9f}' => State::Str { ends_at_bel: false },
        _ => State::Ground,
    }
}

/// The shortest text that puts `strip_controls` in the same state as `tail` did.
fn compress(tail: &str, state: State) -> String {
    let mut chars = tail.chars();
    let first = chars.next().unwrap_or(ESC);
    let mut out = String::new();
    out.push(first);
    if first == ESC {
        // Keep the character that chose the sequence kind (`[`, `]`, `P`, an nF intermediate).
        if let Some(second) = chars.next() {
            out.push(second);
        }
    }
    if state == State::StrEscape {
        out.push(ESC);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn chunked(parts: &[&str]) -> String {
        let mut stream = ControlStream::default();
        parts.iter().map(|p| stream.push(p)).collect()
    }

    #[test]
    fn split_sequences_are_removed_whole() {
        assert_eq!(chunked(&["red\u{1b}", "[31mtext"]), "redtext");
        assert_eq!(chunked(&["a\u{1b}[3", "1", ";4", "m", "b"]), "ab");
        assert_eq!(chunked(&["\u{1b}]0;ti", "tle\u{7}after"]), "after");
        assert_eq!(chunked(&["\u{1b}]52;c;abc\u{1b}", "\\ok"]), "ok");
        assert_eq!(chunked(&["x\u{1b}", "(", "Bok"]), "xok");
        assert_eq!(chunked(&["\u{9b}3", "1mz"]), "z");
        assert_eq!(chunked(&["end\u{1b}"]), "end");
    }

    #[test]
    fn held_text_is_small() {
        let mut stream = ControlStream::default();
        stream.push("\u{1b}]0;");
        for _ in 0..1000 {
            assert_eq!(stream.push("payload payload"), "");
        }
        assert!(stream.held.len() <= 4);
        assert_eq!(stream.push("\u{7}visible"), "visible");
    }

    fn control_text() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just("\u{1b}".to_owned()),
                Just("[".to_owned()),
                Just("]".to_owned()),
                Just("(".to_owned()),
                Just("P".to_owned()),
                Just("\u{7}".to_owned()),
                Just("\u{9b}".to_owned()),
                Just("\u{9c}".to_owned()),
                Just("\u{9d}".to_owned()),
                Just("\\".to_owned()),
                Just("\u{18}".to_owned()),
                "[\\x00-\\x7f]{1,3}",
                "[a-zé🎉 ;0-9]{1,4}",
            ],
            0..24,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn any_chunking_matches_whole(s in control_text(), cuts in proptest::collection::vec(0usize..64, 0..6)) {
            let bounds: Vec<usize> = s.char_indices().map(|(i, _)| i).chain([s.len()]).collect();
            let mut points: Vec<usize> = cuts.iter().map(|c| bounds[c % bounds.len()]).collect();
            points.sort_unstable();
            let mut parts = Vec::new();
            let mut last = 0;
            for p in points {
                parts.push(&s[last..p]);
                last = p;
            }
            parts.push(&s[last..]);
            prop_assert_eq!(chunked(&parts), strip_controls(&s).into_owned());
        }
    }
}
