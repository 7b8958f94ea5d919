//! Snapshot tests of whole chatroom frames (TestBackend + insta) at 80x24 and 160x48 with 1, 2,
//! 4 and 6 panes: idle, mid-stream with an error, and with the picker, help and palette open.
//! The clock is frozen and colours are off, so frames are reproducible text.

use std::time::{Duration, Instant, SystemTime};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use roundtable::config::Config;
use roundtable::core::error::{CoreError, ErrorKind};
use roundtable::core::protocol::{
    CoreEvent, Cost, CostSource, EventKind, FinishReason, StreamEvent, StreamSummary, TargetId, Timings, TurnId, Usage,
};
use roundtable::core::quota::{BucketStatus, FigureSource};
use roundtable::ui::app::{App, AppInit};
use rust_decimal::Decimal;

const MODELS: [&str; 6] = [
    "openai/gpt-4o-mini",
    "anthropic/claude-haiku-4.5",
    "meta-llama/llama-3.3-70b-instruct:free",
    "google/gemini-2.5-flash",
    "mistralai/mistral-small-3.2-24b-instruct:free",
    "qwen/qwen3-coder:free",
];

const ANSWER: &str = "A **hash map** stores key–value pairs in an array of buckets.\n\n\
## How it works\n\n1. Hash the key.\n2. Pick the bucket: `hash % len`.\n3. Compare keys in the bucket.\n\n\
```rust\nlet mut m = std::collections::HashMap::new();\nm.insert(\"k\", 1);\n```\n\n\
Lookups are O(1) on average; 日本語 and emoji 🦀 take two columns.";

fn wall() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

fn app(n: usize) -> App {
    app_with(&MODELS[..n])
}

fn app_with(models: &[&str]) -> App {
    let config = Config::defaults();
    let models = models.iter().map(|m| m.to_string()).collect();
    let theme = roundtable::ui::theme::load("dark", None, true).unwrap();
    let mut app = App::new(AppInit {
        estimator: Some(roundtable::core::catalog::CatalogEstimator::new(
            roundtable::core::catalog::Catalog::snapshot(),
            config.prices.clone(),
            &config.providers,
        )),
        today_spend: Decimal::new(1234, 5),
        no_color: true,
        ..AppInit::new(models, theme, config.providers.clone(), std::env::temp_dir())
    });
    app.chrome.frozen_clock = Some((Instant::now(), wall()));
    let now_ms = roundtable::core::quota::system_time_ms(wall());
    app.on_core(CoreEvent::Quota(vec![
        bucket("openrouter:free", "minute", 3, 20, now_ms + 42_000),
        bucket("openrouter:free", "day", 17, 50, now_ms + 3 * 3_600_000 + 600_000),
    ]));
    app
}

fn bucket(name: &str, window: &'static str, used: u32, limit: u32, resets_at_ms: i64) -> BucketStatus {
    BucketStatus {
        bucket: name.into(),
        window,
        used,
        limit: Some(limit),
        remaining: Some(limit - used),
        resets_at_ms: Some(resets_at_ms),
        used_source: FigureSource::Local,
        limit_source: FigureSource::Config,
    }
}

fn stream(app: &mut App, target: u32, kind: EventKind) {
    app.on_core(CoreEvent::Stream(StreamEvent { turn: TurnId(1), target: TargetId(target), kind }));
}

fn summary(text: &str, reported: bool) -> Box<StreamSummary> {
    let usage = Usage { prompt_tokens: 24, completion_tokens: 96, total_tokens: 120, ..Usage::default() };
    let cost = if reported {
        Cost { usd: Some(Decimal::new(1_234, 8)), source: CostSource::Reported }
    } else {
        Cost { usd: Some(Decimal::new(5_678, 8)), source: CostSource::Estimated }
    };
    Box::new(StreamSummary {
        text: text.into(),
        usage: Some(usage),
        cost: Some(cost),
        timings: Timings { ttft_ms: Some(420), duration_ms: 2_420 },
        ..StreamSummary::default()
    })
}

/// Pane 0 done (reported cost), pane 1 done (estimated), pane 2 failed, the rest mid-stream.
fn midstream(app: &mut App) {
    app.start_turn("Explain how a hash map works, with a short code example.");
    app.effects.clear();
    let n = app.view.panes.len() as u32;
    for t in 0..n {
        stream(
            app,
            t,
            EventKind::Served { model: MODELS[t as usize].into(), upstream_provider: Some("Simulated".into()) },
        );
        let text = if t == 2 { "Partial answer before the" } else { ANSWER };
        let cut = if t >= 3 { ANSWER.len() / 2 } else { text.len() };
        let mut at = 0;
        while at < cut {
            let mut end = (at + 7).min(cut);
            while !text.is_char_boundary(end) {
                end += 1;
            }
            stream(app, t, EventKind::TextDelta(text[at..end].to_string()));
            at = end;
        }
    }
    if n > 0 {
        stream(app, 0, EventKind::Finished { reason: Some(FinishReason::Stop), summary: summary(ANSWER, true) });
    }
    if n > 1 {
        stream(app, 1, EventKind::Finished { reason: Some(FinishReason::Stop), summary: summary(ANSWER, false) });
    }
    if n > 2 {
        let error = CoreError::new(
            ErrorKind::RateLimitDaily,
            "Free-model daily limit reached (50/day); resets at 00:00 UTC. Use the paid model meta-llama/llama-3.3-70b-instruct instead.",
        );
        stream(app, 2, EventKind::Failed { error, summary: Box::default() });
    }
}

fn render(app: &mut App, w: u16, h: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    roundtable::ui::draw::prepare(app, ratatui::layout::Rect::new(0, 0, w, h));
    terminal.draw(|f| roundtable::ui::draw::draw(f, app)).unwrap();
    let buf = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..buf.area.height {
        let line: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[test]
fn idle_and_midstream_rooms() {
    for (w, h) in [(80, 24), (160, 48)] {
        for n in [1, 2, 4, 6] {
            let mut idle = app(n);
            insta::assert_snapshot!(format!("idle_{n}_panes_{w}x{h}"), render(&mut idle, w, h));
            let mut busy = app(n);
            midstream(&mut busy);
            insta::assert_snapshot!(format!("midstream_{n}_panes_{w}x{h}"), render(&mut busy, w, h));
        }
    }
}

#[test]
fn overlays() {
    for (w, h) in [(80, 24), (160, 48)] {
        let mut a = app(2);
        midstream(&mut a);
        a.on_key(KeyEvent::new(KeyCode::Char('n'), KeyModifiers::CONTROL));
        for c in "llama".chars() {
            a.on_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        }
        insta::assert_snapshot!(format!("picker_{w}x{h}"), render(&mut a, w, h));

        let mut a = app(2);
        a.on_key(KeyEvent::new(KeyCode::F(1), KeyModifiers::NONE));
        insta::assert_snapshot!(format!("help_{w}x{h}"), render(&mut a, w, h));

        let mut a = app(2);
        a.on_key(KeyEvent::new(KeyCode::Char('/'), KeyModifiers::NONE));
        a.on_key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::NONE));
        insta::assert_snapshot!(format!("palette_{w}x{h}"), render(&mut a, w, h));
    }
}

#[test]
fn tiny_terminals_never_panic() {
    let mut a = app(6);
    midstream(&mut a);
    for w in 0..70 {
        for h in 0..20 {
            render(&mut a, w, h);
        }
    }
    assert!(render(&mut a, 40, 10).contains("too small"));
}

#[test]
fn the_palette_shows_the_selected_commands_whole_help() {
    let mut a = app(2);
    for c in "/ad".chars() {
        a.on_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    }
    // "add panes for models (no argument: open the picker)" was cut at "(no argument: open the".
    let screen = render(&mut a, 60, 15);
    assert!(screen.contains("open the") && screen.contains("picker)"), "{screen}");
}

#[test]
fn six_free_models_keep_distinct_titles_at_60_columns() {
    let models = [
        "meta-llama/llama-3.3-70b-instruct:free",
        "meta-llama/llama-3.2-3b-instruct:free",
        "mistralai/mistral-small-3.2-24b-instruct:free",
        "google/gemma-3-27b-it:free",
        "qwen/qwen3-coder:free",
        "z-ai/glm-4.5-air:free",
    ];
    for (w, h) in [(60, 15), (200, 50)] {
        let mut a = app_with(&models);
        a.start_turn("hi");
        for t in 0..6 {
            let error = CoreError::new(ErrorKind::RateLimitDaily, "Free-model daily limit reached.");
            stream(&mut a, t, EventKind::Failed { error, summary: Box::default() });
        }
        let screen = render(&mut a, w, h);
        let mut titles = Vec::new();
        for line in screen.lines() {
            for (at, _) in line.match_indices('┌') {
                let title: String = line[at..].chars().skip(1).take_while(|c| *c != '┐').collect();
                let title = title.trim_matches('─').trim().to_string();
                // Pane titles start with the pane's number (the input box's does not).
                if title.starts_with(|c: char| c.is_ascii_digit()) {
                    titles.push(title);
                }
            }
        }
        assert_eq!(titles.len(), 6, "{screen}");
        let distinct: std::collections::HashSet<String> =
            titles.iter().map(|t| t.split_whitespace().nth(1).unwrap_or_default().to_string()).collect();
        assert_eq!(distinct.len(), 6, "{w}x{h}: {titles:?}\n{screen}");
    }
}

#[test]
fn layout_command_arranges_the_panes() {
    let rows_of_titles = |a: &mut App| {
        let screen = render(a, 200, 50);
        screen.lines().filter(|l| l.contains("┌ 1 ") || l.contains("┌ 2 ") || l.contains("┌ 3 ")).count()
    };
    let mut a = app(3);
    assert_eq!(rows_of_titles(&mut a), 1, "a grid: three across at 200 columns");
    for c in "/layout stacked".chars() {
        a.on_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    }
    a.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert_eq!(rows_of_titles(&mut a), 3, "stacked: one pane a row");
    for c in "/layout".chars() {
        a.on_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    }
    a.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    assert_eq!(rows_of_titles(&mut a), 1, "after stacked the cycle comes back to the grid");
}

#[test]
fn a_blind_round_shows_labels_only() {
    for (w, h) in [(80, 24), (160, 48)] {
        let mut a = app(4);
        // A fixed shuffle, so the frames are the same every run.
        a.room.start_blind(42);
        a.sync_view();
        midstream(&mut a);
        let screen = render(&mut a, w, h);
        for model in MODELS.iter().take(4) {
            let tail = model.rsplit('/').next().unwrap();
            let vendor = model.split('/').next().unwrap();
            for word in [*model, tail, vendor] {
                assert!(!screen.contains(word), "{word} is on screen in a blind round ({w}x{h}):\n{screen}");
            }
        }
        assert!(screen.contains("Model A") && screen.contains("Model B"), "{screen}");
        insta::assert_snapshot!(format!("blind_4_panes_{w}x{h}"), screen);
    }
}

#[test]
fn the_palette_lines_its_descriptions_up_whatever_the_names_and_arguments() {
    // "/leaderboard" and "[N|all] off|minimal|low|medium|high|default" once ran past their
    // columns and pushed their descriptions out of line with the rest.
    for typed in ["/", "/r", "/l", "/m"] {
        let mut a = app(2);
        for c in typed.chars() {
            a.on_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        }
        let screen = render(&mut a, 160, 48);
        let rows: Vec<&str> = screen
            .lines()
            .skip_while(|l| !l.contains("Commands · Tab completes"))
            .skip(1)
            .take_while(|l| l.starts_with("│/"))
            .collect();
        assert!(rows.len() >= 2, "{typed}: {screen}");
        // Where each row's description starts: the first word of its command's help.
        let column = |row: &str| {
            let name = row[4..].split(' ').next().unwrap_or_default();
            let spec = roundtable::ui::commands::COMMANDS.iter().find(|c| c.name == name)?;
            let first_word = spec.help.split(' ').next()?;
            let at = row.find(&format!(" {first_word}"))?;
            Some(row[..at].chars().count() + 1)
        };
        let columns: Vec<Option<usize>> = rows.iter().map(|r| column(r)).collect();
        let first = columns[0];
        assert!(first.is_some() && columns.iter().all(|c| *c == first), "{typed}: {columns:?}\n{}", rows.join("\n"));
        // Every row ends at the popup's border: nothing ran past it.
        let right = |row: &str| row.chars().collect::<Vec<char>>().iter().rposition(|c| *c == '│');
        assert!(rows.iter().all(|r| right(r) == right(rows[0])), "{typed}:\n{}", rows.join("\n"));
    }
}
