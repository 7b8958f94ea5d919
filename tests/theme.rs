//! Theme loading: every embedded theme is valid, a user file overrides or adds a theme, broken
//! files are reported with their path and the problem, and `NO_COLOR` leaves no colour behind.

use std::path::Path;

use ratatui::style::{Color, Modifier, Style};
use roundtable::ui::theme::{self, Theme, ThemeError};

fn user_theme(dir: &Path, name: &str, body: &str) {
    std::fs::create_dir_all(dir.join("themes")).expect("themes dir");
    std::fs::write(dir.join("themes").join(format!("{name}.toml")), body).expect("write theme");
}

fn styles(theme: &Theme) -> Vec<Style> {
    let m = &theme.markdown;
    let mut out = vec![m.text, m.emphasis, m.strong, m.strikethrough, m.code_inline, m.code_block, m.link];
    out.extend([m.link_url, m.quote, m.list_marker, m.table_border, m.table_header, m.rule]);
    out.extend(m.heading);
    out
}

fn invalid_message(result: Result<Theme, ThemeError>) -> (String, String) {
    match result {
        Err(ThemeError::Invalid { path, message }) => (path, message),
        other => panic!("expected an invalid-theme error, got {other:?}"),
    }
}

#[test]
fn embedded_themes_load_with_distinct_generations() {
    let names = theme::names();
    for required in ["dark", "light", "catppuccin-mocha", "gruvbox-dark", "nord", "tokyo-night"] {
        assert!(names.iter().any(|n| n == required), "{required} missing from {names:?}");
    }
    let mut generations = Vec::new();
    for name in &names {
        let t = theme::load(name, None, false).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&t.name, name);
        assert!(!t.markdown.no_color);
        assert!(roundtable::ui::highlight::SYNTAX_THEMES.contains(&t.markdown.syntax_theme.as_str()));
        generations.push(t.markdown.generation);
        generations.push(theme::load(name, None, true).expect("no-colour variant").markdown.generation);
    }
    let mut unique = generations.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), generations.len(), "generations collide");
    // Loading the same theme twice gives the same generation, so caches survive a reload.
    assert_eq!(theme::load("nord", None, false).unwrap().markdown.generation, generations[8]);
}

#[test]
fn no_color_drops_every_colour() {
    for name in theme::names() {
        let t = theme::load(&name, None, true).expect("theme");
        assert!(t.markdown.no_color);
        let ui = &t.ui;
        for c in [ui.bg, ui.fg, ui.dim, ui.accent, ui.border, ui.border_focused, ui.title, ui.user, ui.error] {
            assert_eq!(c, Color::Reset, "{name}");
        }
        for c in
            [ui.warning, ui.success, ui.selection_bg, ui.gauge, ui.gauge_bg, ui.sparkline, ui.badge_fg, ui.badge_bg]
        {
            assert_eq!(c, Color::Reset, "{name}");
        }
        for s in styles(&t) {
            assert_eq!((s.fg, s.bg, s.underline_color), (None, None, None), "{name}");
        }
        // Modifiers stay, so headings and links still stand out.
        assert!(t.markdown.heading[0].add_modifier.contains(Modifier::BOLD), "{name}");
        assert!(t.markdown.link.add_modifier.contains(Modifier::UNDERLINED), "{name}");
    }
}

#[test]
fn user_file_overrides_embedded_theme() {
    let dir = tempfile::tempdir().expect("tempdir");
    user_theme(dir.path(), "dark", "inherits = \"dark\"\n[markdown]\nheading1 = { fg = \"#ff0000\" }\n");
    let t = theme::load("dark", Some(dir.path()), false).expect("override");
    assert_eq!(t.markdown.heading[0], Style::default().fg(Color::Rgb(255, 0, 0)));
    // Everything else comes from the embedded dark theme it inherits.
    let embedded = theme::load("dark", None, false).expect("embedded");
    assert_eq!(t.ui, embedded.ui);
    assert_eq!(t.markdown.heading[1], embedded.markdown.heading[1]);
    assert_ne!(t.markdown.generation, embedded.markdown.generation);
}

#[test]
fn user_can_add_a_theme() {
    let dir = tempfile::tempdir().expect("tempdir");
    user_theme(
        dir.path(),
        "mine",
        "inherits = \"nord\"\n[ui]\naccent = \"light-magenta\"\n[markdown]\nsyntax_theme = \"InspiredGitHub\"\n\
         link = { fg = \"#abc\", modifiers = [\"underline\", \"bold\"] }\n",
    );
    std::fs::write(dir.path().join("themes/notes.txt"), "not a theme").expect("write");
    let t = theme::load("mine", Some(dir.path()), false).expect("user theme");
    assert_eq!(t.name, "mine");
    assert_eq!(t.ui.accent, Color::LightMagenta);
    assert_eq!(t.ui.bg, theme::load("nord", None, false).unwrap().ui.bg);
    assert_eq!(t.markdown.syntax_theme, "InspiredGitHub");
    assert_eq!(t.markdown.link.fg, Some(Color::Rgb(0xaa, 0xbb, 0xcc)));
    assert!(t.markdown.link.add_modifier.contains(Modifier::UNDERLINED | Modifier::BOLD));
    let available = theme::available(Some(dir.path()));
    assert_eq!(available.last().map(String::as_str), Some("mine"));
    assert_eq!(available.len(), theme::names().len() + 1);
}

#[test]
fn broken_user_files_are_clear_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        ("syntax", "[ui\nbg = 1", "TOML parse error"),
        ("typo", "[markdown]\nheadin1 = { fg = \"red\" }\n", "headin1"),
        ("colour", "[ui]\naccent = \"purplish\"\n", "unknown colour \"purplish\""),
        ("modifier", "[markdown]\nlink = { modifiers = [\"blink\"] }\n", "blink"),
        ("syntect", "[markdown]\nsyntax_theme = \"Monokai\"\n", "unknown syntax theme \"Monokai\""),
        ("parent", "inherits = \"nope\"\n", "no theme named \"nope\""),
        ("loop-a", "inherits = \"loop-b\"\n", "loops"),
        ("loop-b", "inherits = \"loop-a\"\n", "loops"),
        ("wrongtype", "[ui]\naccent = 5\n", "accent"),
    ];
    for (name, body, _) in cases {
        user_theme(dir.path(), name, body);
    }
    for (name, _, expected) in cases {
        let (path, message) = invalid_message(theme::load(name, Some(dir.path()), false));
        assert!(path.ends_with(".toml"), "{name}: {path}");
        assert!(message.contains(expected), "{name}: {message}");
    }
    // The error names the file.
    let (path, _) = invalid_message(theme::load("colour", Some(dir.path()), false));
    assert_eq!(Path::new(&path), dir.path().join("themes/colour.toml"));
}

#[test]
fn unknown_names_list_what_exists() {
    for name in ["no-such-theme", "../dark", "", "dark/../../x"] {
        match theme::load(name, None, false) {
            Err(ThemeError::Unknown { available, .. }) => assert!(available.contains("dark"), "{available}"),
            other => panic!("{name:?}: {other:?}"),
        }
    }
}

#[test]
fn unreadable_user_file_is_invalid_not_missing() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("themes")).expect("dir");
    std::fs::write(dir.path().join("themes/bin.toml"), [0xff, 0xfe, 0x00]).expect("write");
    let (_, message) = invalid_message(theme::load("bin", Some(dir.path()), false));
    assert!(message.contains("cannot read"), "{message}");
}

#[test]
fn every_theme_colours_answer_diffs_and_no_color_drops_them() {
    for name in theme::names() {
        let t = theme::load(&name, None, false).expect("theme");
        assert_ne!(t.ui.diff_inserted, t.ui.diff_deleted, "{name}: inserted and deleted words look alike");
        let file = std::fs::read_to_string(format!("{}/themes/{name}.toml", env!("CARGO_MANIFEST_DIR"))).unwrap();
        assert!(file.contains("\ndiff_inserted = ") && file.contains("\ndiff_deleted = "), "{name} sets both keys");
        let plain = theme::load(&name, None, true).expect("no-colour variant");
        assert_eq!((plain.ui.diff_inserted, plain.ui.diff_deleted), (Color::Reset, Color::Reset), "{name}");
    }
}
