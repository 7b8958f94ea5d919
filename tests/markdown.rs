//! Rendering of representative markdown (snapshots at widths 20/40/80, committed under
//! `tests/snapshots`), code block extraction, control-sequence stripping across deltas, styles
//! with and without colour, and robustness at extreme widths and sizes.

use ratatui::style::{Color, Modifier};
use ratatui::text::Line;
use roundtable::ui::markdown::{CodeBlock, MarkdownView, display_width};
use roundtable::ui::theme::{self, MarkdownStyle};

const DOC: &str = r#"# Streaming answers

Models reply in *markdown*: **bold**, ~~struck~~, `inline code`, a [link](https://example.com/docs) and
an autolink <https://example.org>. A line ending in a backslash\
breaks hard.

## Lists

- first item
- second item, long enough that it has to wrap onto a hanging indent
  - nested bullet
  - [x] finished task
  - [ ] open task
- third

1. one
2. two

   with a second paragraph
10. ten

> A quote that is long enough to wrap inside its bar.
>
> > And a nested one.

| Provider | Tokens | Cost |
|:---------|-------:|:----:|
| openrouter | 1,024 | $0.002 |
| gemini | 99 | free |

---

```rust
fn main() {
	println!("tabs and 日本語");
}
```

```
no language
```

CJK: 日本語の文章はスペースなしで折り返します。Emoji 🎉👨‍👩‍👧 too.
Averyveryveryveryveryveryverylongwordwithoutanyspacesatall.
"#;

fn plain(lines: &[Line<'_>]) -> String {
    lines.iter().map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect::<String>() + "\n").collect()
}

fn render(text: &str, width: u16, style: &MarkdownStyle) -> Vec<Line<'static>> {
    MarkdownView::from_text(text).lines(width, style).to_vec()
}

fn assert_fits(lines: &[Line<'_>], width: u16) {
    for line in lines {
        let w: usize = line.spans.iter().map(|s| display_width(&s.content)).sum();
        assert!(w <= usize::from(width), "width {width}: {w} columns in {line:?}");
    }
}

#[test]
fn snapshots_at_common_widths() {
    let st = MarkdownStyle::default();
    for width in [20u16, 40, 80] {
        let lines = render(DOC, width, &st);
        assert_fits(&lines, width);
        insta::assert_snapshot!(format!("doc_w{width}"), plain(&lines));
    }
}

#[test]
fn narrow_table_becomes_records() {
    let table = "| Name | Value | Notes |\n|---|---|---|\n| a | 1 | first |\n| b | 2 | second |\n";
    let lines = render(table, 12, &MarkdownStyle::default());
    assert_fits(&lines, 12);
    insta::assert_snapshot!("table_records_w12", plain(&lines));
}

#[test]
fn code_lines_wrap_at_words_and_mark_continued_rows() {
    let code = "```python\nresult = compute(alpha, beta, gamma)  # a comment\n```\n";
    let lines = render(code, 20, &MarkdownStyle::default());
    assert_fits(&lines, 20);
    insta::assert_snapshot!("code_w20", plain(&lines));
}

#[test]
fn extreme_widths_never_overflow() {
    let st = theme::load("catppuccin-mocha", None, false).expect("theme").markdown;
    for width in 1u16..=12 {
        assert_fits(&render(DOC, width, &st), width);
    }
    assert!(MarkdownView::from_text(DOC).lines(0, &st).is_empty());
    assert_fits(&render(DOC, u16::MAX, &st), u16::MAX);
    assert_eq!(MarkdownView::from_text(DOC).height(0, &st), 0);
}

#[test]
fn huge_inputs_do_not_panic() {
    let st = MarkdownStyle::default();
    let long_word = "x".repeat(100_000);
    assert_fits(&render(&long_word, 1, &st), 1);
    let nested = format!("{}deep\n", "> ".repeat(500));
    assert_fits(&render(&nested, 10, &st), 10);
    let list = format!("{}item\n", "- ".repeat(300));
    assert_fits(&render(&list, 7, &st), 7);
    let code = format!("```rust\n{}\n```\n", "let x = \"y\";".repeat(2_000));
    assert_fits(&render(&code, 80, &st), 80);
    let deep_list = format!("{}x\n", "- ".repeat(20_000));
    assert_fits(&render(&deep_list, 40, &st), 40);
    let staircase: String = (0..300).map(|i| format!("{}- step\n", "  ".repeat(i))).collect();
    assert_fits(&render(&staircase, 20, &st), 20);
    let wide_table = format!("|{}\n|{}\n", "a|".repeat(200), "-|".repeat(200));
    assert_fits(&render(&wide_table, 30, &st), 30);
}

#[test]
fn code_blocks_in_order() {
    let text = "intro\n```rust\nfn a() {}\n```\n- item\n\n  ~~~python title=x\n  print(1)\n  ~~~\n\n\
                ```json\n{\"open\": true}\n";
    let view = MarkdownView::from_text(text);
    assert_eq!(
        view.code_blocks(),
        vec![
            CodeBlock { lang: Some("rust".into()), code: "fn a() {}\n".into() },
            CodeBlock { lang: Some("python".into()), code: "print(1)\n".into() },
            CodeBlock { lang: Some("json".into()), code: "{\"open\": true}\n".into() },
        ]
    );
    // An unclosed fence at the end without its final newline yet.
    let view = MarkdownView::from_text("```\nabc");
    assert_eq!(view.code_blocks(), vec![CodeBlock { lang: None, code: "abc".into() }]);
}

#[test]
fn control_sequences_split_across_deltas_are_stripped() {
    let mut view = MarkdownView::new();
    for delta in ["red ", "\u{1b}", "[3", "1m", "text", "\u{1b}]0;ti", "tle", "\u{7}", " done\r\n"] {
        view.push_str(delta);
    }
    assert_eq!(view.text(), "red text done\n");
    let mut view = MarkdownView::new();
    view.push_str("\u{1b}]52;c;");
    view.push_str("aGVsbG8=");
    assert_eq!(view.text(), "");
    view.push_str("\u{1b}\\visible");
    assert_eq!(view.text(), "visible");
}

#[test]
fn links_show_their_url_once() {
    let st = MarkdownStyle::default();
    let text = plain(&render("[docs](https://d.rs) <https://a.b> [top](#top) <me@x.io>", 80, &st));
    assert_eq!(text, "docs (https://d.rs) https://a.b top me@x.io\n");
    let lines = render("[docs](https://d.rs)", 80, &st);
    let url = lines[0].spans.iter().find(|s| s.content.contains("https")).expect("url span");
    assert!(url.style.add_modifier.contains(Modifier::DIM));
}

#[test]
fn reference_links_resolve_across_blocks() {
    let st = MarkdownStyle::default();
    let text = "See [the spec][s].\n\nMore text.\n\n[s]: https://spec.commonmark.org\n";
    assert_eq!(plain(&render(text, 80, &st)), "See the spec (https://spec.commonmark.org).\n\nMore text.\n");
    // Streamed: the definition arrives after the block that uses it was settled.
    let mut view = MarkdownView::new();
    for part in text.split_inclusive('\n') {
        view.push_str(part);
        view.lines(80, &st);
    }
    assert_eq!(plain(view.lines(80, &st)), plain(&render(text, 80, &st)));
}

#[test]
fn no_color_has_no_colours_anywhere() {
    for name in theme::names() {
        let st = theme::load(&name, None, true).expect("theme").markdown;
        for line in render(DOC, 60, &st) {
            for span in &line.spans {
                assert_eq!((span.style.fg, span.style.bg), (None, None), "{name}: {span:?}");
            }
        }
    }
}

#[test]
fn colour_themes_highlight_code() {
    let st = theme::load("dark", None, false).expect("dark").markdown;
    let lines = render("```rust\nfn main() { let x = \"s\"; }\n```\n", 60, &st);
    let colours: Vec<Color> = lines.iter().flat_map(|l| &l.spans).filter_map(|s| s.style.fg).collect();
    assert!(colours.iter().any(|c| matches!(c, Color::Rgb(..))), "{lines:?}");
    // The panel background fills the line.
    assert!(lines.iter().all(|l| l.width() == 60));
    // An unknown language is plain but keeps the panel.
    let lines = render("```nosuchlang\nfn main() {}\n```\n", 60, &st);
    assert!(lines.iter().flat_map(|l| &l.spans).all(|s| !matches!(s.style.fg, Some(Color::Rgb(..)))));
}

#[test]
fn theme_switch_rerenders() {
    let dark = theme::load("dark", None, false).expect("dark").markdown;
    let plain_style = theme::load("dark", None, true).expect("dark").markdown;
    let mut view = MarkdownView::from_text("# Heading\n\n`code`");
    let coloured = view.lines(40, &dark).to_vec();
    let uncoloured = view.lines(40, &plain_style).to_vec();
    assert_ne!(coloured, uncoloured);
    assert_eq!(view.lines(40, &dark), &coloured[..]);
}

#[test]
fn repeated_calls_are_cached() {
    let st = MarkdownStyle::default();
    let mut view = MarkdownView::from_text(DOC);
    let first = view.lines(50, &st).as_ptr();
    assert_eq!(view.lines(50, &st).as_ptr(), first);
    assert_eq!(view.height(50, &st), view.lines(50, &st).len());
}

#[test]
fn br_tags_break_lines_in_table_cells() {
    let text = "| a | b |\n|---|---|\n| one<br>two | x<BR />y<br> |\n";
    let lines = render(text, 40, &MarkdownStyle::default());
    insta::assert_snapshot!("table_br", plain(&lines));
}

#[test]
fn views_can_move_between_threads() {
    fn assert_send<T: Send + Sync>() {}
    assert_send::<MarkdownView>();
    let mut view = MarkdownView::from_text("```rust\nfn main() {}\n");
    view.lines(40, &MarkdownStyle::default());
    std::thread::spawn(move || view.height(30, &MarkdownStyle::default())).join().expect("thread");
}

#[test]
fn alternating_widths_keep_both_renders() {
    let st = MarkdownStyle::default();
    let mut view = MarkdownView::new();
    for chunk in DOC.as_bytes().chunks(7) {
        view.push_str(std::str::from_utf8(chunk).unwrap_or(""));
        view.height(30, &st);
        view.lines(70, &st);
    }
    let whole = MarkdownView::from_text(view.text()).lines(30, &st).to_vec();
    assert_eq!(view.lines(30, &st), &whole[..]);
}

#[test]
fn background_highlighting_swaps_in_colours_without_moving_rows() {
    let st = theme::load("dark", None, false).expect("dark").markdown;
    let code: String = (0..40).map(|i| format!("    let value_{i} = compute(\"{i}\", {i}); // note {i}\n")).collect();
    let text = format!("Intro paragraph.\n\n```rust\nfn main() {{\n{code}}}\n```\n\nAfter the code.\n");
    let expected = render(&text, 50, &st);

    // As the chatroom draws: deltas arrive, code is queued for the background thread, and the
    // frames meanwhile show it plain, already wrapped where it will stay.
    roundtable::ui::highlight::set_background(true);
    let mut view = MarkdownView::new();
    let mut streamed_heights = Vec::new();
    for chunk in text.as_bytes().chunks(37) {
        view.push_str(std::str::from_utf8(chunk).unwrap());
        streamed_heights.push(view.height(50, &st));
        view.lines(50, &st);
        view.height(80, &st);
    }
    roundtable::ui::highlight::set_background(false);
    assert_eq!(view.height(50, &st), expected.len(), "plain stand-ins take the rows the colours will");
    assert_eq!(plain(view.lines(50, &st)), plain(&expected));

    // The colours arrive: the same rows, now highlighted, at both widths drawn.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while view.lines(50, &st) != &expected[..] {
        assert!(std::time::Instant::now() < deadline, "the background highlighter never finished");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(view.lines(80, &st), &render(&text, 80, &st)[..]);
    assert!(streamed_heights.windows(2).all(|w| w[0] <= w[1]), "rows never jump back: {streamed_heights:?}");
}
