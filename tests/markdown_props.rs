//! Properties of the incremental markdown renderer: any chunking of a message into deltas, with
//! renders at any widths in between, ends with exactly the lines of rendering the whole text
//! at once; and no rendered line is ever wider than the width.

use proptest::prelude::*;
use ratatui::text::Line;
use roundtable::ui::markdown::{MarkdownView, display_width};
use roundtable::ui::theme::{self, MarkdownStyle};

fn style() -> MarkdownStyle {
    theme::load("dark", None, false).expect("embedded dark theme").markdown
}

fn width_of(line: &Line<'_>) -> usize {
    line.spans.iter().map(|s| display_width(&s.content)).sum()
}

fn check_widths(lines: &[Line<'_>], width: u16) -> Result<(), TestCaseError> {
    for line in lines {
        prop_assert!(width_of(line) <= usize::from(width), "width {}: {:?}", width, line);
        prop_assert!(line.width() <= usize::from(width), "str width {}: {:?}", width, line);
    }
    Ok(())
}

/// Feeds `text` in pieces cut at `cuts` (char boundaries), rendering at `widths` in between.
fn chunked_view(text: &str, cuts: &[usize], widths: &[u16], st: &MarkdownStyle) -> MarkdownView {
    let bounds: Vec<usize> = text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
    let mut points: Vec<usize> = cuts.iter().map(|c| bounds[c % bounds.len()]).collect();
    points.sort_unstable();
    points.dedup();
    let mut view = MarkdownView::new();
    let mut last = 0;
    for (i, p) in points.into_iter().chain([text.len()]).enumerate() {
        view.push_str(&text[last..p]);
        last = p;
        if let Some(&w) = widths.get(i % widths.len().max(1)) {
            view.lines(w, st);
        }
    }
    view
}

const WORDS: &[&str] = &[
    "the",
    "model",
    "answer",
    "is",
    "a",
    "list",
    "of",
    "things",
    "with",
    "some",
    "words",
    "and",
    "more",
    "日本語",
    "中文字符",
    "🎉",
    "👨‍👩‍👧",
    "e\u{301}",
    "Supercalifragilisticexpialidocious",
    "x",
    "—",
    "…",
    "`code`",
    "`let x = 1`",
    "*emph*",
    "**strong**",
    "~~gone~~",
    "[link](https://example.com/a/b)",
    "<https://auto.example>",
    "[ref][r]",
    "\\",
    "\u{1b}[31m",
    "\u{1b}]0;title\u{7}",
    "\t",
    "&amp;",
];

fn words(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(WORDS), 1..max).prop_map(|w| w.join(" "))
}

const CODE: &[&str] = &[
    "fn main() {",
    "    let s = \"str\"; // comment",
    "}",
    "def f(x):",
    "    return x * 2  # 日本",
    "{\"key\": [1, 2.5, null, \"v\"]}",
    "\tindented\twith tabs",
    "",
    "    ",
    "/* open comment",
    "close */",
    "x = '''multi",
    "line'''",
    "very_long_identifier_name_that_goes_on_and_on_and_on_beyond_any_width = 1",
];

fn fence() -> impl Strategy<Value = String> {
    (
        proptest::sample::select(&["rust", "python", "json", "", "nosuchlang", "py title=x", "rust,ignore"][..]),
        proptest::collection::vec(proptest::sample::select(CODE), 0..6),
        proptest::sample::select(&["```", "~~~", "````"][..]),
        any::<bool>(),
        0usize..3,
    )
        .prop_map(|(lang, lines, fence, closed, indent)| {
            let pad = " ".repeat(indent);
            let mut s = format!("{pad}{fence}{lang}\n");
            for l in lines {
                s.push_str(&pad);
                s.push_str(l);
                s.push('\n');
            }
            if closed {
                s.push_str(&format!("{pad}{fence}\n"));
            }
            s
        })
}

fn list() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        (
            0usize..3,
            proptest::sample::select(&["- ", "* ", "1. ", "2) ", "- [ ] ", "- [x] "][..]),
            words(8),
            any::<bool>(),
        ),
        1..5,
    )
    .prop_map(|items| {
        items
            .into_iter()
            .map(|(depth, marker, text, loose)| {
                format!("{}{marker}{text}\n{}", "  ".repeat(depth), if loose { "\n" } else { "" })
            })
            .collect()
    })
}

fn table() -> impl Strategy<Value = String> {
    (1usize..4, proptest::collection::vec(proptest::collection::vec(words(3), 4), 0..4)).prop_map(|(cols, rows)| {
        let mut s = String::new();
        s.push_str(&format!("|{}|\n", (0..cols).map(|i| format!(" h{i} ")).collect::<Vec<_>>().join("|")));
        s.push_str(&format!("|{}|\n", [":---", "---:", ":-:", "---"][..cols].join("|")));
        for row in rows {
            s.push_str(&format!("| {} |\n", row[..cols].join(" | ")));
        }
        s
    })
}

fn block() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => words(20).prop_map(|w| format!("{w}\n")),
        1 => (1usize..7, words(6)).prop_map(|(n, w)| format!("{} {w}\n", "#".repeat(n))),
        2 => list(),
        3 => fence(),
        1 => table(),
        1 => (1usize..3, words(10)).prop_map(|(n, w)| format!("{} {w}\n", ">".repeat(n))),
        1 => Just("---\n".to_string()),
        1 => Just("\n".to_string()),
        1 => Just("[r]: https://ref.example \"Title\"\n".to_string()),
        1 => Just("<!--\n\ncomment\n-->\n".to_string()),
        1 => Just("    indented code\n\n    more\n".to_string()),
        1 => "(?s).{0,30}",
    ]
}

fn message() -> impl Strategy<Value = String> {
    proptest::collection::vec((block(), proptest::sample::select(&["", "\n", "\n\n"][..])), 0..8)
        .prop_map(|blocks| blocks.into_iter().map(|(b, sep)| b + sep).collect())
}

/// Prose as a model streams it: mostly plain words (some longer than a narrow line, some with
/// digits or punctuation that may start a block at a line's start), now and then inline markup,
/// wide characters, double spaces or a line break, so that an open paragraph is rendered again
/// from its last lines, and that stops being right when such text comes.
const PLAIN: &[&str] = &[
    "the",
    "model",
    "answer",
    "is",
    "a",
    "of",
    "with",
    "words",
    "I",
    "x",
    "2019.",
    "1)",
    "-",
    "+",
    "#",
    "=",
    "e.g.",
    "(see",
    "this)",
    "\"quoted\"",
    "it's",
    "50%",
    "a/b",
    "key:",
    "Supercalifragilisticexpialidocious",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
];
const MARKUP: &[&str] = &[
    "*emph",
    "emph*",
    "**bold**",
    "`code",
    "span`",
    "[link",
    "](https://x.y)",
    "_under_",
    "~~gone~~",
    "<b>",
    "&amp;",
    "\\",
    "日本語",
    "🎉",
    " ",
    "  ",
    "\n",
    "\n\n",
    "\n===",
    "\n- item",
    "\n| a |",
];

/// Inline markup as models write it, and its near misses: code spans (closed, open, with runs of
/// other lengths inside, padded, holding delimiters or tags), `*`/`**` emphasis (closed, open,
/// intraword, of mismatched lengths, around code, before punctuation), escapes and underscores.
const INLINE: &[&str] = &[
    "**bold**",
    "**bold**,",
    "**two words**",
    "**bold**!",
    "**bold**:",
    "*em*",
    "*em*.",
    "(*em*)",
    "`code`",
    "`code`,",
    "`a b`",
    "` padded `",
    "` `",
    "``x`y``",
    "`` ` ``",
    "`",
    "``",
    "**",
    "*",
    "**`c`**",
    "*`c`*",
    "**`c`**.",
    "(`x`)",
    "`*`",
    "`**`",
    "`<a>`",
    "`a_b`",
    "x**y",
    "a*b*c",
    "**open",
    "close**",
    "*open",
    "close*",
    "`open",
    "close`",
    "***x***",
    "**x*",
    "*x**",
    "_x_",
    "\\*",
    "[x]",
    "`日本`",
    "**é**",
];

/// A paragraph-like line of `PLAIN` words with one in `1 + plain_weight` of them from `odd`.
fn prose_with(plain_weight: u32, odd: &'static [&'static str]) -> impl Strategy<Value = String> {
    let word = prop_oneof![plain_weight => proptest::sample::select(PLAIN), 1 => proptest::sample::select(odd)];
    (
        proptest::sample::select(&["Then", "So", "", "1. ", "- ", "# ", "> ", "[r]: "][..]),
        proptest::collection::vec(word, 1..120),
    )
        .prop_map(|(start, words)| format!("{start}{}", words.join(" ")))
}

fn prose() -> impl Strategy<Value = String> {
    prop_oneof![prose_with(30, MARKUP), prose_with(3, INLINE)]
}

/// `cases` cases, or `PROPTEST_CASES` (5000 for a deeper run); failures print their minimal
/// input, with no regression files outside this module's paths.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(cases),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Paragraphs whose markup is closed, or turns out to be, only after lines wrapped past it,
/// streamed a byte at a time at widths 1 to 16: every render is the whole text's render. Each
/// would go wrong if the paragraph cut trusted what may still change (an open code span or
/// emphasis, a cut inside emphasis, a cut word whose markup closes later and narrows it, a
/// delimiter after a code span that cannot close).
#[test]
fn markup_closed_after_a_wrap_renders_as_the_whole_text() {
    const TEXTS: &[&str] = &[
        "aaaa bb x**y more z** w w w w",
        "aaaa `bb cc dd ee` ff gg hh ii",
        "aaaa **bb cc dd** ee ff gg hh",
        "aaaa **bold words here** and more words",
        "aa `a` bb ``x` y`` cc dd ee ff gg",
        "Then `code`x and **b**`c` dd ee ff gg hh",
        "Word **`code`**x then more words y** z zz",
        "Word *`code`*. then more *words y* z zz",
        "aaaa **bb** cc dd ee ff gg hh ii jj",
        "So `a b` and ` c ` and `` ` `` then dd ee ff",
        // Pairs that hide the same delimiters as a wrong reading would.
        "Then the *open the the *open the the Supercalifragilistic a*b*c the",
        "Then x*open the the the *more the the a*b the the",
        "Then *a `c`*x the *b the the* the the",
        "Then *a [the the* the the](u) the",
        "Then *`c`*x the the the y* the z* the the",
    ];
    for no_color in [false, true] {
        let st = theme::load("dark", None, no_color).expect("embedded dark theme").markdown;
        for text in TEXTS {
            for width in 1..=16 {
                let mut view = MarkdownView::new();
                for end in 1..=text.len() {
                    view.push_str(&text[end - 1..end]);
                    let expected = MarkdownView::from_text(&text[..end]).lines(width, &st).to_vec();
                    assert_eq!(view.lines(width, &st), &expected[..], "{:?} at width {width}", &text[..end]);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(config(192))]

    /// Every render while a paragraph streams, not only the last, is the render of the whole
    /// text so far: an open paragraph is rendered again from its last lines only, past plain
    /// words, closed code spans and closed emphasis (with and without colours: without, inline
    /// code keeps its backticks).
    #[test]
    fn every_render_of_a_streaming_paragraph_is_the_whole_render(
        before in proptest::sample::select(&["", "Intro.\n\n", "# Head\n"][..]),
        text in prose(),
        steps in proptest::collection::vec(1usize..12, 1..400),
        width in prop_oneof![1 => 1u16..10, 4 => 10u16..=60],
        no_color in proptest::bool::weighted(0.2),
    ) {
        let st = theme::load("dark", None, no_color).expect("embedded dark theme").markdown;
        let text = format!("{before}{text}");
        let bounds: Vec<usize> = text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
        let mut view = MarkdownView::new();
        let (mut at, mut last) = (0, 0);
        for step in steps.iter().cycle() {
            at = (at + step).min(bounds.len() - 1);
            view.push_str(&text[last..bounds[at]]);
            last = bounds[at];
            let expected = MarkdownView::from_text(&text[..last]).lines(width, &st).to_vec();
            prop_assert_eq!(view.lines(width, &st), &expected[..], "{:?} at width {}", &text[..last], width);
            if last == text.len() {
                break;
            }
        }
    }
}

proptest! {
    // 96 cases keep the suite at a few seconds in debug.
    #![proptest_config(config(96))]

    #[test]
    fn chunked_equals_whole(
        text in message(),
        cuts in proptest::collection::vec(0usize..4096, 0..24),
        widths in proptest::collection::vec(1u16..=200, 1..4),
        width in 1u16..=200,
    ) {
        let st = style();
        let mut whole = MarkdownView::from_text(&text);
        let expected = whole.lines(width, &st).to_vec();
        check_widths(&expected, width)?;
        // Rendering at the final width between chunks, and at changing widths.
        for widths in [vec![width], widths] {
            let mut view = chunked_view(&text, &cuts, &widths, &st);
            prop_assert_eq!(view.text(), whole.text());
            prop_assert_eq!(view.lines(width, &st), &expected[..]);
            prop_assert_eq!(view.code_blocks(), whole.code_blocks());
        }
    }

    #[test]
    fn arbitrary_text_fits_and_matches(
        text in "(?s).{0,200}",
        cuts in proptest::collection::vec(0usize..256, 0..8),
        width in 1u16..=60,
    ) {
        let st = MarkdownStyle::default();
        let mut whole = MarkdownView::from_text(&text);
        let expected = whole.lines(width, &st).to_vec();
        check_widths(&expected, width)?;
        let mut view = chunked_view(&text, &cuts, &[width], &st);
        prop_assert_eq!(view.lines(width, &st), &expected[..]);
    }
}

/// A message exercising every construct, split in two at every char boundary.
#[test]
fn every_split_point() {
    let text = "# Title 🎉\n\nSome *text* with `code` and [a link](https://x.y/z) [ref][r].\n\n\
        - item\n  - nested 日本語\n\n- [x] loose\n\n\u{1b}[1mbold?\u{1b}[0m\n\n```rust\nfn main() {\n\tlet x = \"s\";\n}\n```\n\
        | a | b |\n|---|--:|\n| 1 | 2 |\n\n> quote\n> > deeper\n\n~~~python\ndef f():\n    pass\n~~~\n\n\
        [r]: https://ref.example\n\nend\u{1b}]0;t\u{7} of text ```\n```json\n{\"a\": 1}\n";
    let st = style();
    let widths = [9u16, 33, 80];
    let expected: Vec<Vec<Line<'static>>> =
        widths.iter().map(|&w| MarkdownView::from_text(text).lines(w, &st).to_vec()).collect();
    let bounds: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    for (n, &i) in bounds.iter().enumerate() {
        let k = n % widths.len();
        let mut view = MarkdownView::new();
        view.push_str(&text[..i]);
        view.lines(widths[k], &st);
        view.push_str(&text[i..]);
        assert_eq!(view.lines(widths[k], &st), &expected[k][..], "split at byte {i}");
    }
}

/// Characters arriving one at a time, rendering after each.
#[test]
fn char_by_char() {
    let text = "Intro\n\n```python\nimport os\nfor x in range(3):\n    print(x)  # 日本\n```\n\n| h |\n|---|\n| v |\n\n1. a\n\n2. b\n";
    let st = style();
    for width in [1u16, 2, 5, 40] {
        let mut view = MarkdownView::new();
        for c in text.chars() {
            view.push_str(c.encode_utf8(&mut [0; 4]));
            let lines = view.lines(width, &st);
            for line in lines {
                assert!(width_of(line) <= usize::from(width), "{width}: {line:?}");
            }
        }
        assert_eq!(view.lines(width, &st), MarkdownView::from_text(text).lines(width, &st));
    }
}

/// A code line far longer than is highlighted (minified JSON), streamed in small deltas: the
/// rows kept while it grows are the rows of the finished line.
#[test]
fn long_code_line_streams_like_whole() {
    let st = style();
    let line: String = (0..700).map(|i| format!("{{\"k{i}\":[{i},\"日本\",\tnull]}},")).collect();
    for (lang, width) in [("json", 80u16), ("", 7), ("nosuchlang", 1)] {
        let text = format!("```{lang}\n{line}\n``\n```\nafter\n");
        let mut view = MarkdownView::new();
        let mut start = 0;
        while start < text.len() {
            let mut end = (start + 97).min(text.len());
            while !text.is_char_boundary(end) {
                end += 1;
            }
            view.push_str(&text[start..end]);
            view.lines(width, &st);
            start = end;
        }
        assert_eq!(view.lines(width, &st), MarkdownView::from_text(&text).lines(width, &st), "{lang:?} at {width}");
    }
}

/// An unfinished line that grows into the closing fence disappears, even when it already
/// filled rows of a narrow pane.
#[test]
fn growing_closing_fence_vanishes() {
    let st = style();
    let text = "```\ncode\n`````\nafter\n";
    for width in [1u16, 3, 4] {
        let mut view = MarkdownView::new();
        for c in text.chars() {
            view.push_str(c.encode_utf8(&mut [0; 4]));
            view.lines(width, &st);
        }
        assert_eq!(view.lines(width, &st), MarkdownView::from_text(text).lines(width, &st), "width {width}");
    }
}
