//! Strips terminal control sequences from text that came from models or servers, so nothing an
//! upstream sends can move the cursor, retitle the window, write the clipboard (OSC 52), hide
//! text, or reorder it with Unicode bidi overrides when it is printed to a terminal.

use std::borrow::Cow;

const ESC: char = '\u{1b}';
const BEL: char = '\u{07}';
/// CAN and SUB abort any escape sequence in progress (ECMA-48), so they end ours too.
const CAN: char = '\u{18}';
const SUB: char = '\u{1a}';
/// 8-bit String Terminator.
const ST8: char = '\u{9c}';

/// Removes ANSI/VT escape sequences (CSI, OSC, DCS/SOS/PM/APC strings, two-character `ESC x`
/// and nF sequences), C0 controls except `\n` and `\t` (so `\r\n` becomes `\n`), DEL, and C1
/// controls U+0080–U+009F including the sequences the 8-bit introducers start, and the Unicode
/// bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069: "Trojan Source"
/// reordering, where text displays in a different order than it reads). The plain direction
/// marks U+200E/U+200F only affect neutral characters next to them and stay.
///
/// Returns the input borrowed when there is nothing to remove, which is the common case for
/// streamed deltas. The function is stateless: a sequence split across two calls loses its
/// introducer in the first call and shows its printable tail in the second, which is harmless.
pub fn strip_controls(s: &str) -> Cow<'_, str> {
    match first_suspect(s.as_bytes()) {
        None => Cow::Borrowed(s),
        Some(first) => Cow::Owned(strip_from(s, first)),
    }
}

/// Byte offset of the first character to remove, scanning bytes rather than decoding chars.
/// C1 controls U+0080–U+009F are encoded in UTF-8 as `0xC2 0x80..=0x9F`, so Latin-1 text such
/// as `©` (`0xC2 0xA9`) stays on the fast path; the bidi controls are `0xE2 0x80 0xAA..=0xAE`
/// and `0xE2 0x81 0xA6..=0xA9`, so other punctuation (`…` is `0xE2 0x80 0xA6`) stays there too.
#[inline]
fn first_suspect(b: &[u8]) -> Option<usize> {
    b.iter().enumerate().position(|(i, &c)| {
        (c < 0x20 && c != b'\n' && c != b'\t')
            || c == 0x7f
            || (c == 0xc2 && b.get(i + 1).is_some_and(|n| (0x80..=0x9f).contains(n)))
            || (c == 0xe2 && is_bidi_tail(b.get(i + 1).copied(), b.get(i + 2).copied()))
    })
}

#[inline]
fn is_bidi_tail(b1: Option<u8>, b2: Option<u8>) -> bool {
    match (b1, b2) {
        (Some(0x80), Some(t)) => (0xaa..=0xae).contains(&t),
        (Some(0x81), Some(t)) => (0xa6..=0xa9).contains(&t),
        _ => false,
    }
}

/// Bidi embeddings/overrides (LRE RLE PDF LRO RLO) and isolates (LRI RLI FSI PDI).
fn is_bidi_control(c: char) -> bool {
    matches!(c as u32, 0x202a..=0x202e | 0x2066..=0x2069)
}

fn is_forbidden(c: char) -> bool {
    let c = c as u32;
    (c < 0x20 && c != u32::from(b'\n') && c != u32::from(b'\t'))
        || (0x7f..=0x9f).contains(&c)
        || char::from_u32(c).is_some_and(is_bidi_control)
}

/// The kind of control string whose body runs until a terminator.
#[derive(Clone, Copy, PartialEq, Eq)]
enum StringKind {
    /// OSC: ends at BEL or ST.
    Osc,
    /// DCS, SOS, PM, APC: end at ST only.
    Other,
}

fn strip_from(s: &str, first: usize) -> String {
    let mut out = String::with_capacity(s.len());
    out.push_str(&s[..first]);
    let mut chars = s[first..].chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ESC => match chars.peek().copied() {
                Some('[') => {
                    chars.next();
                    skip_csi(&mut chars);
                }
                Some(']') => {
                    chars.next();
                    skip_string(&mut chars, StringKind::Osc);
                }
                Some('P' | 'X' | '^' | '_') => {
                    chars.next();
                    skip_string(&mut chars, StringKind::Other);
                }
                // nF sequences (`ESC ( B` selects a charset): intermediates then one final.
                Some(' '..='/') => {
                    while chars.next_if(|c| matches!(c, ' '..='/')).is_some() {}
                    chars.next_if(|c| matches!(c, '0'..='~'));
                }
                // Two-character sequences: `ESC 7`, `ESC c` (full reset), `ESC =`, …
                Some('0'..='~') => {
                    chars.next();
                }
                // A lone ESC (end of text, or followed by text) is dropped by itself.
                _ => {}
            },
            '\u{9b}' => skip_csi(&mut chars),
            '\u{9d}' => skip_string(&mut chars, StringKind::Osc),
            '\u{90}' | '\u{98}' | '\u{9e}' | '\u{9f}' => skip_string(&mut chars, StringKind::Other),
            c if is_forbidden(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// Skips a CSI body: parameter bytes `0x30–0x3F`, intermediate bytes `0x20–0x2F`, then one final
/// byte `0x40–0x7E`. Anything else ends the sequence early and is processed as ordinary input,
/// so a malformed sequence cannot swallow the text after it.
fn skip_csi(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while chars.next_if(|c| matches!(c, '0'..='?' | ' '..='/')).is_some() {}
    chars.next_if(|c| matches!(c, '@'..='~'));
}

/// Skips an OSC/DCS/SOS/PM/APC body up to and including its terminator (ST as `ESC \` or
/// U+009C; BEL for OSC). CAN/SUB abort it. An unterminated string runs to the end of the text,
/// as it would on a terminal, because showing its payload (often a clipboard or title write)
/// is exactly what must not happen.
fn skip_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, kind: StringKind) {
    while let Some(c) = chars.next() {
        match c {
            ST8 | CAN | SUB => return,
            BEL if kind == StringKind::Osc => return,
            ESC => {
                // `ESC \` is ST; any other ESC also ends the string (xterm behaviour), and the
                // character after it is dropped with it.
                chars.next();
                return;
            }
            _ => {}
        }
    }
}

/// The API keys this process holds (read from the environment or set by the program), so that
/// any text leaving the process (messages, `--json`, logs) can have them removed, whatever
/// their shape: a key need not look like `sk-…` to be secret.
static SECRETS: std::sync::RwLock<Vec<String>> = std::sync::RwLock::new(Vec::new());

/// Shortest value treated as a key: shorter ones would redact ordinary words.
const MIN_SECRET_LEN: usize = 8;

/// Remember `secret` so [`redact_secrets`] removes it from text.
pub fn register_secret(secret: &str) {
    let secret = secret.trim();
    if secret.len() < MIN_SECRET_LEN {
        return;
    }
    if let Ok(mut secrets) = SECRETS.write()
        && !secrets.iter().any(|s| s == secret)
    {
        secrets.push(secret.to_owned());
    }
}

/// `text` with every registered key replaced by `[redacted key]`; borrowed when none occurs.
pub fn redact_secrets(text: &str) -> Cow<'_, str> {
    let Ok(secrets) = SECRETS.read() else { return Cow::Borrowed(text) };
    if !secrets.iter().any(|s| text.contains(s.as_str())) {
        return Cow::Borrowed(text);
    }
    let mut out = text.to_owned();
    for s in secrets.iter() {
        out = out.replace(s.as_str(), "[redacted key]");
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_keys_are_redacted_whatever_their_shape() {
        register_secret("CANARYNONSK-0123456789abcdef");
        register_secret("short");
        let text = "bad key CANARYNONSK-0123456789abcdef (short)";
        assert_eq!(redact_secrets(text), "bad key [redacted key] (short)");
        assert!(matches!(redact_secrets("nothing here"), Cow::Borrowed(_)));
    }
    use proptest::prelude::*;

    fn strip(s: &str) -> String {
        strip_controls(s).into_owned()
    }

    #[test]
    fn plain_text_is_borrowed() {
        for s in ["", "hello", "tab\tand\nnewline", "unicode: é ü © ½ 日本 🎉", "\u{a0}nbsp"] {
            assert!(matches!(strip_controls(s), Cow::Borrowed(_)), "{s:?}");
            assert_eq!(strip(s), s);
        }
    }

    #[test]
    fn bidi_overrides_and_isolates_are_removed_direction_marks_kept() {
        // "Trojan Source": an RLO makes `admin"` display reversed; the isolates hide a comment.
        assert_eq!(strip("access\u{202e}nimda\u{202c} ok"), "accessnimda ok");
        for c in
            ['\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}']
        {
            assert_eq!(strip(&format!("a{c}b")), "ab", "U+{:04X}", c as u32);
        }
        // LRM/RLM only nudge neutral characters; Arabic and Hebrew text needs them.
        for s in ["x\u{200e}y", "\u{5e9}\u{5dc}\u{5d5}\u{5dd}\u{200f}!"] {
            assert!(matches!(strip_controls(s), Cow::Borrowed(_)), "{s:?}");
        }
        // Neighbouring code points in the same UTF-8 blocks stay on the fast path.
        for s in ["…", "‥ ‧ \u{2028}", "\u{2065}\u{206a}", "– — ‘ ’ “ ” • ‰ ‹ ›"] {
            assert!(matches!(strip_controls(s), Cow::Borrowed(_)), "{s:?}");
        }
        // Mixed with escapes and at the very end of the text.
        assert_eq!(strip("\u{1b}[31m\u{2067}red\u{2069}\u{1b}[0m"), "red");
        assert_eq!(strip("end\u{202e}"), "end");
    }

    #[test]
    fn latin1_lead_byte_is_kept_on_slow_path() {
        assert_eq!(strip("© 2026\u{1b}[0m"), "© 2026");
    }

    #[test]
    fn csi_sequences() {
        assert_eq!(strip("\u{1b}[31mred\u{1b}[0m"), "red");
        assert_eq!(strip("a\u{1b}[2Jb\u{1b}[1;1Hc"), "abc");
        assert_eq!(strip("\u{1b}[?25lhidden cursor"), "hidden cursor");
        assert_eq!(strip("x\u{1b}[38;5;196my"), "xy");
        // Unterminated CSI at the end drops only the introducer and parameters.
        assert_eq!(strip("end\u{1b}[12"), "end");
        // A CSI interrupted by a newline keeps the newline and the text after it.
        assert_eq!(strip("a\u{1b}[12\nb"), "a\nb");
    }

    #[test]
    fn osc_and_other_strings() {
        assert_eq!(strip("\u{1b}]0;evil title\u{7}after"), "after");
        assert_eq!(strip("\u{1b}]52;c;aGVsbG8=\u{1b}\\after"), "after");
        assert_eq!(strip("\u{1b}]8;;https://x\u{1b}\\link\u{1b}]8;;\u{1b}\\"), "link");
        assert_eq!(strip("\u{1b}Pq#0;2;0;0;0\u{1b}\\ok"), "ok");
        assert_eq!(strip("\u{1b}_apc payload\u{9c}ok"), "ok");
        assert_eq!(strip("\u{1b}^pm\u{1b}\\ok"), "ok");
        assert_eq!(strip("\u{1b}Xsos\u{1b}\\ok"), "ok");
        // BEL does not end a DCS, only ST does.
        assert_eq!(strip("\u{1b}Pa\u{7}b\u{1b}\\ok"), "ok");
        // Unterminated OSC runs to the end.
        assert_eq!(strip("ok\u{1b}]0;never ends"), "ok");
        // CAN aborts.
        assert_eq!(strip("\u{1b}]0;x\u{18}ok"), "ok");
    }

    #[test]
    fn two_char_and_nf_sequences() {
        assert_eq!(strip("\u{1b}cclear"), "clear");
        assert_eq!(strip("\u{1b}7saved\u{1b}8"), "saved");
        assert_eq!(strip("\u{1b}(Bascii"), "ascii");
        assert_eq!(strip("\u{1b}#8x"), "x");
        assert_eq!(strip("lone\u{1b}"), "lone");
        assert_eq!(strip("\u{1b}é"), "é");
    }

    #[test]
    fn c0_del_and_carriage_returns() {
        assert_eq!(strip("line1\r\nline2\r\n"), "line1\nline2\n");
        assert_eq!(strip("50%\r60%"), "50%60%");
        assert_eq!(strip("bell\u{7} back\u{8}space del\u{7f} nul\u{0}"), "bell backspace del nul");
        assert_eq!(strip("keep\ttabs\nand newlines"), "keep\ttabs\nand newlines");
    }

    #[test]
    fn c1_controls_and_8bit_sequences() {
        assert_eq!(strip("a\u{85}b\u{80}c\u{9f}"), "abc");
        assert_eq!(strip("\u{9b}31mred\u{9b}0m"), "red");
        assert_eq!(strip("\u{9d}0;title\u{9c}rest"), "rest");
        assert_eq!(strip("\u{90}dcs\u{9c}rest"), "rest");
        assert_eq!(strip("stray\u{9c}st"), "strayst");
    }

    fn forbidden_free(s: &str) -> bool {
        !s.chars().any(is_forbidden)
    }

    proptest! {
        #[test]
        fn output_has_no_forbidden_chars(s in "(?s).{0,64}") {
            let out = strip_controls(&s);
            prop_assert!(forbidden_free(&out), "{:?} -> {:?}", s, out);
        }

        #[test]
        fn control_heavy_input_is_clean(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just("\u{1b}".to_owned()), Just("[".to_owned()), Just("]".to_owned()),
                    Just("\u{7}".to_owned()), Just("\u{9b}".to_owned()), Just("\u{9c}".to_owned()),
                    Just("\r".to_owned()), Just("\n".to_owned()), Just("\\".to_owned()),
                    "[\\x00-\\x7f]{1,3}", "[\\u{80}-\\u{9f}]", "[a-zé🎉 ;0-9]{1,4}",
                    "[\\u{2026}-\\u{202f}\\u{2060}-\\u{206f}]",
                ],
                0..32,
            )
        ) {
            let s = parts.concat();
            let out = strip_controls(&s);
            prop_assert!(forbidden_free(&out), "{:?} -> {:?}", s, out);
        }

        #[test]
        fn clean_text_is_unchanged(s in "[^\\x00-\\x08\\x0b-\\x1f\\x7f-\\u{9f}\\u{202a}-\\u{202e}\\u{2066}-\\u{2069}]{0,64}") {
            prop_assert!(matches!(strip_controls(&s), Cow::Borrowed(b) if b == s));
        }
    }
}
