//! Classifying one markdown source line the way CommonMark's block parser starts: indentation,
//! fence openers and closers, list markers, headings, thematic breaks, HTML block starts, and
//! the two lines that make a GFM table.

/// The text of a block-quote line after its `>` (and one space), if it is one.
pub(crate) fn quote_content(line: &str) -> Option<&str> {
    let (indent, rest) = indentation(line);
    let content = rest.strip_prefix('>').filter(|_| indent <= 3)?;
    Some(content.strip_prefix(' ').unwrap_or(content))
}

/// Leading indentation in columns (tabs to the next multiple of 4) and the text after it.
pub(crate) fn indentation(line: &str) -> (usize, &str) {
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

/// For a line starting with a bullet (`-`, `*`, `+`) or ordered (`1.`, `1)`) list marker
/// followed by a space or the end, the columns from the marker to the item's content (`- x`
/// → 2).
pub(crate) fn list_marker_width(rest: &str) -> Option<usize> {
    let b = rest.as_bytes();
    let after = match b.first() {
        Some(b'-' | b'*' | b'+') => 1,
        Some(b'0'..=b'9') => {
            let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
            if digits > 9 || !matches!(b.get(digits), Some(b'.' | b')')) {
                return None;
            }
            digits + 1
        }
        _ => return None,
    };
    if !matches!(b.get(after), None | Some(b' ' | b'\t')) {
        return None;
    }
    // One to four spaces separate marker and content; more means indented code (one counts).
    let spaces = b[after..].iter().take_while(|&&c| c == b' ').count();
    let blank = b[after..].iter().all(|c| matches!(c, b' ' | b'\t'));
    Some(after + if (1..=4).contains(&spaces) && !blank { spaces } else { 1 })
}

pub(crate) fn is_atx_heading(rest: &str) -> bool {
    let hashes = rest.bytes().take_while(|&b| b == b'#').count();
    (1..=6).contains(&hashes) && matches!(rest.as_bytes().get(hashes), None | Some(b' ' | b'\t'))
}

pub(crate) fn is_thematic_break(rest: &str) -> bool {
    let mut marks = rest.bytes().filter(|b| !matches!(b, b' ' | b'\t'));
    let Some(first) = marks.next() else { return false };
    let mut count = 1;
    for b in marks {
        if b != first {
            return false;
        }
        count += 1;
    }
    matches!(first, b'-' | b'*' | b'_') && count >= 3
}

/// Cells of a table's header row as pulldown-cmark counts them from its unescaped pipes (a
/// leading pipe and a trailing one open and close no cell); `None` without a pipe.
pub(crate) fn table_header_cells(rest: &str) -> Option<usize> {
    let (mut pipes, mut last_pipe, mut escaped) = (0, 0, false);
    for (i, b) in rest.bytes().enumerate() {
        match b {
            b'\\' => {
                escaped = true;
                continue;
            }
            b'|' if !escaped => {
                pipes += 1;
                last_pipe = i;
            }
            _ => {}
        }
        escaped = false;
    }
    if pipes == 0 {
        return None;
    }
    let leading = usize::from(rest.trim_start_matches([' ', '\t']).starts_with('|'));
    let trailing_cell = !rest[last_pipe + 1..].trim_matches([' ', '\t', '\r']).is_empty();
    Some(pipes - leading + usize::from(trailing_cell))
}

/// Columns of a table's delimiter row (`|---|:--:|`), scanned as pulldown-cmark does: only
/// spaces, `:`, `-` and `|`, at least one pipe and one hyphen, and a hyphen between any two pipes.
pub(crate) fn table_delimiter_columns(rest: &str) -> Option<usize> {
    let row = rest.trim_end_matches('\r');
    let (row, mut found_pipe) = match row.strip_prefix('|') {
        Some(after) => (after, true),
        None => (row, false),
    };
    let (mut columns, mut column_open, mut hyphen, mut hyphen_in_column) = (0, false, false, false);
    for b in row.bytes() {
        match b {
            b' ' => {}
            b':' => column_open = true,
            b'-' => {
                column_open = true;
                hyphen = true;
                hyphen_in_column = true;
            }
            b'|' if hyphen_in_column => {
                found_pipe = true;
                columns += 1;
                column_open = false;
                hyphen_in_column = false;
            }
            _ => return None,
        }
    }
    columns += usize::from(column_open);
    (found_pipe && hyphen).then_some(columns)
}

/// Whether a line's text (its indentation left out, however deep) ends a table, as
/// pulldown-cmark decides: whatever would interrupt a paragraph, and any list item.
pub(crate) fn interrupts_table(text: &str) -> bool {
    is_thematic_break(text)
        || is_atx_heading(text)
        || fence_opener(text).is_some()
        || text.starts_with('>')
        || list_marker_width(text).is_some()
        // Not `<!X` (type 4): pulldown-cmark lets no declaration interrupt a paragraph.
        || html_block_end(text, false).is_some_and(|end| end != ">")
}

/// Tag names that start a CommonMark type-6 HTML block.
const BLOCK_TAGS: &str = "address article aside base basefont blockquote body caption center col colgroup dd details \
    dialog dir div dl dt fieldset figcaption figure footer form frame frameset h1 h2 h3 h4 h5 h6 head header hr html \
    iframe legend li link main menu menuitem nav noframes ol optgroup option p param search section summary table \
    tbody td tfoot th thead title tr track ul";

/// For an HTML block start, what ends it: the end marker of CommonMark types 1–5 (their
/// content may hold blank lines that must not split), or `""` for types 6 and 7 (block-level
/// tags, lone tags), which end at a blank line but may hold fence-like lines that are HTML.
pub(crate) fn html_block_end(rest: &str, new_block: bool) -> Option<&'static str> {
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
    let name = lower.strip_prefix("</").or_else(|| lower.strip_prefix('<'))?;
    let len = name.bytes().take_while(u8::is_ascii_alphanumeric).count();
    let after = name.as_bytes().get(len);
    let ends_name = matches!(after, None | Some(b' ' | b'\t' | b'>')) || name[len..].starts_with("/>");
    if ends_name && BLOCK_TAGS.split_whitespace().any(|t| t == &name[..len]) {
        return Some("");
    }
    // Type 7: a lone complete tag on its line (`</pre>`, `<my-widget a="b">`), which cannot
    // interrupt a paragraph: only taken after a blank line or at a block's start.
    let line = rest.trim_end_matches([' ', '\t']);
    let tag = line.strip_prefix("</").or_else(|| line.strip_prefix('<')).unwrap_or_default();
    let name = tag.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'-').count();
    let lone_tag = new_block
        && line.ends_with('>')
        && tag.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && matches!(tag.as_bytes().get(name), Some(b'>' | b'/' | b' ' | b'\t'))
        && !tag.contains('<');
    lone_tag.then_some("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_rows() {
        assert_eq!(table_header_cells("| a | b |"), Some(2));
        assert_eq!(table_header_cells("a | b"), Some(2));
        assert_eq!(table_header_cells("a \\| b | c"), Some(2));
        assert_eq!(table_header_cells("no pipes"), None);
        assert_eq!(table_delimiter_columns("|---|:-:|"), Some(2));
        assert_eq!(table_delimiter_columns("--- | ---"), Some(2));
        assert_eq!(table_delimiter_columns("-|-"), Some(2));
        assert_eq!(table_delimiter_columns("---"), None, "a break or an underline");
        assert_eq!(table_delimiter_columns("|--||--|"), None, "two pipes without a hyphen between");
        assert_eq!(table_delimiter_columns("|-x-|"), None);
        assert!(interrupts_table("- item") && interrupts_table("```") && interrupts_table("<div>"));
        assert!(!interrupts_table("| 1 | 2 |") && !interrupts_table("</pre>") && !interrupts_table("<!DOCTYPE x>"));
    }

    #[test]
    fn markers() {
        assert_eq!(
            [list_marker_width("- x"), list_marker_width("12)   x"), list_marker_width("*")],
            [Some(2), Some(6), Some(2)]
        );
        assert_eq!(list_marker_width("-      x"), Some(2));
        assert!(
            [list_marker_width("-x"), list_marker_width("1234567890. x"), list_marker_width("a. x")]
                .iter()
                .all(Option::is_none)
        );
        assert_eq!(fence_opener("````md"), Some((b'`', 4)));
        assert_eq!(fence_opener("``` a`b"), None);
        assert_eq!(fence_opener("~~~ a`b"), Some((b'~', 3)));
        assert!(is_closing_fence("  ````  ", b'`', 3) && !is_closing_fence("```x", b'`', 3));
    }
}
