//! Streaming cost of the markdown renderer (ignored by default; prints figures, asserts nothing
//! about time): ~200 KB of mixed markdown in 4-character deltas, rendering at width 80 after
//! each, with the time per delta reported per tenth of the message. Flat figures mean a delta
//! costs work proportional to the new text, not to the message so far.
//!
//! `cargo test --release --test markdown_bench -- --ignored --nocapture`

use std::time::{Duration, Instant};

use roundtable::ui::highlight;
use roundtable::ui::markdown::MarkdownView;
use roundtable::ui::theme;

/// A deterministic mix of what models write: prose, lists, code, tables, quotes, headings.
fn mixed_markdown(target_bytes: usize) -> String {
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    const PROSE: &[&str] = &[
        "The",
        "answer",
        "depends",
        "on",
        "how",
        "the",
        "cache",
        "is",
        "keyed,",
        "so",
        "**each**",
        "block",
        "renders",
        "*once*",
        "per",
        "width;",
        "see",
        "`lines()`",
        "and",
        "[the docs](https://docs.rs/ratatui)",
        "for",
        "更多",
        "細節",
        "🎉",
        "because",
        "streaming",
        "matters.",
    ];
    let mut out = String::new();
    let mut section = 0;
    while out.len() < target_bytes {
        match next(10) {
            0 => {
                section += 1;
                out.push_str(&format!("## Section {section}\n\n"));
            }
            1 | 2 => {
                for _ in 0..(3 + next(6)) {
                    out.push_str(&format!(
                        "- {}\n",
                        (0..6 + next(10)).map(|_| PROSE[next(PROSE.len())]).collect::<Vec<_>>().join(" ")
                    ));
                }
                out.push('\n');
            }
            3 | 4 => {
                let (lang, lines): (&str, &[&str]) = match next(3) {
                    0 => (
                        "rust",
                        &[
                            "fn handle(req: Request) -> Result<Response, Error> {",
                            "    let body = req.body()?; // parse",
                            "    Ok(Response::new(body.len()))",
                            "}",
                        ],
                    ),
                    1 => (
                        "python",
                        &["def handle(req):", "    body = req.body  # parse", "    return {'len': len(body)}", ""],
                    ),
                    _ => ("json", &["{", "  \"model\": \"gpt\",", "  \"tokens\": [1, 2, 3],", "  \"ok\": true", "}"]),
                };
                out.push_str(&format!("```{lang}\n"));
                for _ in 0..(2 + next(10)) {
                    for l in lines {
                        out.push_str(l);
                        out.push('\n');
                    }
                }
                out.push_str("```\n\n");
            }
            5 => {
                out.push_str("| Model | Tokens | Cost |\n|---|---:|---:|\n");
                for i in 0..(2 + next(8)) {
                    out.push_str(&format!("| model-{i} | {} | ${}.{:02} |\n", next(100_000), next(10), next(100)));
                }
                out.push('\n');
            }
            6 => out.push_str("> A quoted remark that runs on for a while, *as quotes do*, before it ends.\n\n"),
            _ => {
                out.push_str(&(0..40 + next(80)).map(|_| PROSE[next(PROSE.len())]).collect::<Vec<_>>().join(" "));
                out.push_str("\n\n");
            }
        }
    }
    out
}

/// Splits into ~4-byte deltas at char boundaries (a token is about four characters).
fn deltas(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let mut end = (start + 4).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        out.push(&text[start..end]);
        start = end;
    }
    out
}

#[test]
#[ignore = "measurement: run with --ignored --nocapture, preferably --release"]
fn streaming_cost_per_delta_stays_flat() {
    highlight::warm_up();
    let style = theme::load("dark", None, false).expect("dark theme").markdown;
    let text = mixed_markdown(200_000);
    let deltas = deltas(&text);
    let mut view = MarkdownView::new();
    let tenth = deltas.len().div_ceil(10);
    let mut window = Duration::ZERO;
    let mut worst = Duration::ZERO;
    let total = Instant::now();
    println!("{} bytes in {} deltas, width 80", text.len(), deltas.len());
    println!("{:>8} {:>12} {:>12} {:>10}", "upto", "mean µs", "worst µs", "lines");
    for (i, d) in deltas.iter().enumerate() {
        let t = Instant::now();
        view.push_str(d);
        let lines = view.lines(80, &style).len();
        let dt = t.elapsed();
        window += dt;
        worst = worst.max(dt);
        if (i + 1) % tenth == 0 || i + 1 == deltas.len() {
            let n = (i % tenth) + 1;
            println!(
                "{:>7}% {:>12.1} {:>12.1} {:>10}",
                (i + 1) * 100 / deltas.len(),
                window.as_secs_f64() * 1e6 / n as f64,
                worst.as_secs_f64() * 1e6,
                lines
            );
            window = Duration::ZERO;
            worst = Duration::ZERO;
        }
    }
    let elapsed = total.elapsed();
    println!(
        "total {:.3} s, {:.1} µs per delta",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / deltas.len() as f64
    );
    let t = Instant::now();
    let full = MarkdownView::from_text(&text).lines(80, &style).len();
    println!("one-shot render of the whole message: {:.1} ms ({full} lines)", t.elapsed().as_secs_f64() * 1e3);
    let t = Instant::now();
    view.lines(100, &style);
    println!("re-render at a new width: {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
}

#[test]
#[ignore = "measurement: run with --ignored --nocapture, preferably --release"]
fn streaming_one_long_code_line() {
    highlight::warm_up();
    let style = theme::load("dark", None, false).expect("dark theme").markdown;
    let line: String = (0..5_000).map(|i| format!("{{\"id\":{i},\"v\":[1,2]}},")).collect();
    let text = format!("```json\n{line}\n```\n");
    let deltas = deltas(&text);
    let mut view = MarkdownView::new();
    let tenth = deltas.len().div_ceil(10);
    let mut window = Duration::ZERO;
    println!("one {}-byte line of JSON in {} deltas, width 80", line.len(), deltas.len());
    for (i, d) in deltas.iter().enumerate() {
        let t = Instant::now();
        view.push_str(d);
        view.lines(80, &style);
        window += t.elapsed();
        if (i + 1) % tenth == 0 || i + 1 == deltas.len() {
            let n = (i % tenth) + 1;
            println!("{:>7}% {:>10.1} µs/delta", (i + 1) * 100 / deltas.len(), window.as_secs_f64() * 1e6 / n as f64);
            window = Duration::ZERO;
        }
    }
}
