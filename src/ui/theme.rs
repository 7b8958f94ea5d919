//! Colour themes: `themes/*.toml` embedded in the binary, overridable by a file of the same
//! name in the config dir; `NO_COLOR` honoured. The syntax-highlighting theme follows the UI theme.
//!
//! A theme file has an optional `inherits = "<theme>"` (start from that theme, else from plain
//! terminal defaults), a `[ui]` table of colours and a `[markdown]` table of styles
//! (`{ fg, bg, modifiers }`) plus `syntax_theme`. Colours are `"#rrggbb"`, `"#rgb"`, an ANSI name
//! (`red`, `light-blue`, `dark-gray`, `reset`) or a 256-colour index. Unknown keys are errors,
//! so a typo is reported instead of silently ignored.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use serde::{Deserialize, Deserializer};

use crate::ui::highlight::SYNTAX_THEMES;

/// Embedded themes, in display order.
const EMBEDDED: [(&str, &str); 8] = [
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    ("catppuccin-mocha", include_str!("../../themes/catppuccin-mocha.toml")),
    ("gruvbox-dark", include_str!("../../themes/gruvbox-dark.toml")),
    ("nord", include_str!("../../themes/nord.toml")),
    ("tokyo-night", include_str!("../../themes/tokyo-night.toml")),
    ("solarized-dark", include_str!("../../themes/solarized-dark.toml")),
    ("solarized-light", include_str!("../../themes/solarized-light.toml")),
];

/// How deep `inherits` chains may go (a cycle is reported before this).
const MAX_INHERITS: usize = 8;

/// Colours of the chrome: borders, headers, sidebar, gauges, input, badges.
#[derive(Debug, Clone, PartialEq)]
pub struct UiColors {
    pub bg: Color,
    pub fg: Color,
    /// Secondary text: footers, hints, timestamps.
    pub dim: Color,
    pub accent: Color,
    pub border: Color,
    pub border_focused: Color,
    pub title: Color,
    /// The user's prompts in the transcript.
    pub user: Color,
    pub error: Color,
    pub warning: Color,
    pub success: Color,
    pub selection_bg: Color,
    pub gauge: Color,
    pub gauge_bg: Color,
    pub sparkline: Color,
    pub badge_fg: Color,
    pub badge_bg: Color,
    /// Words an answer diff (`/diff`) finds only in the second answer.
    pub diff_inserted: Color,
    /// Words an answer diff finds only in the first answer.
    pub diff_deleted: Color,
}

/// Styles the markdown renderer uses; `syntax_theme` names a syntect theme.
#[derive(Debug, Clone, PartialEq)]
pub struct MarkdownStyle {
    pub text: Style,
    /// Levels 1, 2 and 3-6.
    pub heading: [Style; 3],
    pub emphasis: Style,
    pub strong: Style,
    pub strikethrough: Style,
    /// Inline code; when it has no colour the renderer keeps the backticks visible.
    pub code_inline: Style,
    /// Code block panel: its background fills the block's lines.
    pub code_block: Style,
    pub link: Style,
    /// The `(url)` shown after a link's text.
    pub link_url: Style,
    pub quote: Style,
    pub list_marker: Style,
    pub table_border: Style,
    pub table_header: Style,
    pub rule: Style,
    pub syntax_theme: String,
    /// No colours at all (`NO_COLOR`): code highlighting keeps only bold/italic/underline.
    pub no_color: bool,
    /// Changes whenever any style changes, so caches keyed on it re-render. `load` sets it;
    /// after editing fields by hand call [`MarkdownStyle::refresh_generation`].
    pub generation: u64,
}

impl Default for MarkdownStyle {
    /// Plain terminal text: modifiers only, no colours.
    fn default() -> Self {
        let bold = Style::default().add_modifier(Modifier::BOLD);
        let dim = Style::default().add_modifier(Modifier::DIM);
        let mut style = Self {
            text: Style::default(),
            heading: [bold.add_modifier(Modifier::UNDERLINED), bold, bold],
            emphasis: Style::default().add_modifier(Modifier::ITALIC),
            strong: bold,
            strikethrough: Style::default().add_modifier(Modifier::CROSSED_OUT),
            code_inline: Style::default(),
            code_block: Style::default(),
            link: Style::default().add_modifier(Modifier::UNDERLINED),
            link_url: dim,
            quote: dim,
            list_marker: Style::default(),
            table_border: dim,
            table_header: bold,
            rule: dim,
            syntax_theme: "base16-ocean.dark".to_string(),
            no_color: true,
            generation: 0,
        };
        style.refresh_generation();
        style
    }
}

impl MarkdownStyle {
    /// Inline code is shown in backticks: without a colour it would be invisible.
    pub fn code_in_ticks(&self) -> bool {
        self.code_inline.fg.is_none() && self.code_inline.bg.is_none()
    }

    /// Recomputes `generation` from the styles (a hash, so equal styles share caches).
    pub fn refresh_generation(&mut self) {
        let mut h = DefaultHasher::new();
        (self.text, self.heading, self.emphasis, self.strong, self.strikethrough, self.code_inline).hash(&mut h);
        (self.code_block, self.link, self.link_url, self.quote, self.list_marker).hash(&mut h);
        (self.table_border, self.table_header, self.rule, &self.syntax_theme, self.no_color).hash(&mut h);
        self.generation = h.finish();
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    pub ui: UiColors,
    pub markdown: MarkdownStyle,
}

#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    #[error("no theme named {name:?}; available: {available}")]
    Unknown { name: String, available: String },
    #[error("theme file {path} is not valid: {message}")]
    Invalid { path: String, message: String },
}

/// Names of the embedded themes, in display order.
pub fn names() -> Vec<String> {
    EMBEDDED.iter().map(|(name, _)| name.to_string()).collect()
}

/// Embedded names, then the user's own themes (`<config_dir>/themes/*.toml`) in name order.
pub fn available(config_dir: Option<&Path>) -> Vec<String> {
    let mut out = names();
    let mut user: Vec<String> = config_dir
        .and_then(|dir| std::fs::read_dir(dir.join("themes")).ok())
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let stem = path.file_stem()?.to_str()?;
            (path.extension()? == "toml" && valid_name(stem)).then(|| stem.to_string())
        })
        .filter(|name| !out.contains(name))
        .collect();
    user.sort();
    user.dedup();
    out.extend(user);
    out
}

/// Loads `name`: the user's `<config_dir>/themes/<name>.toml` when present, else the embedded
/// one. `no_color` (from `NO_COLOR`) drops every colour and keeps only modifiers.
pub fn load(name: &str, config_dir: Option<&Path>, no_color: bool) -> Result<Theme, ThemeError> {
    let mut theme = resolve(name, config_dir, &mut Vec::new())?;
    if no_color {
        strip_colors(&mut theme);
    }
    theme.markdown.no_color = no_color;
    theme.markdown.refresh_generation();
    // Distinct themes get distinct generations even when their styles coincide (two palettes
    // under NO_COLOR), so a theme switch always reads as one.
    let mut h = DefaultHasher::new();
    (theme.markdown.generation, &theme.name).hash(&mut h);
    theme.markdown.generation = h.finish();
    Ok(theme)
}

/// Theme names double as file names, so they are kept to a safe alphabet.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Where a theme comes from, for messages and cycle detection.
#[derive(Debug, Clone, PartialEq)]
enum Source {
    User(PathBuf),
    Embedded(&'static str),
}

impl Source {
    fn describe(&self) -> String {
        match self {
            Source::User(path) => path.display().to_string(),
            Source::Embedded(name) => format!("<embedded>/themes/{name}.toml"),
        }
    }
}

fn find(name: &str, config_dir: Option<&Path>) -> Option<Source> {
    if !valid_name(name) {
        return None;
    }
    if let Some(path) = config_dir.map(|d| d.join("themes").join(format!("{name}.toml")))
        && path.is_file()
    {
        return Some(Source::User(path));
    }
    EMBEDDED.iter().find(|(n, _)| *n == name).map(|(n, _)| Source::Embedded(n))
}

fn resolve(name: &str, config_dir: Option<&Path>, chain: &mut Vec<Source>) -> Result<Theme, ThemeError> {
    let Some(source) = find(name, config_dir) else {
        return Err(ThemeError::Unknown { name: name.to_string(), available: available(config_dir).join(", ") });
    };
    let invalid = |message: String| ThemeError::Invalid { path: source.describe(), message };
    if chain.contains(&source) || chain.len() >= MAX_INHERITS {
        let path: Vec<String> = chain.iter().chain([&source]).map(Source::describe).collect();
        return Err(invalid(format!("`inherits` loops: {}", path.join(" -> "))));
    }
    let text = match &source {
        Source::User(path) => std::fs::read_to_string(path).map_err(|e| invalid(format!("cannot read it: {e}")))?,
        Source::Embedded(n) => EMBEDDED.iter().find(|(e, _)| e == n).map_or("", |(_, t)| t).to_string(),
    };
    let file: ThemeFile = toml::from_str(&text).map_err(|e| invalid(e.to_string().trim_end().to_string()))?;
    let base = match &file.inherits {
        Some(parent) => {
            chain.push(source.clone());
            // A user file inheriting its own name means the embedded theme it overrides.
            let dir = if parent == name { None } else { config_dir };
            let base = resolve(parent, dir, chain).map_err(|e| match e {
                ThemeError::Unknown { name, available } => {
                    invalid(format!("`inherits`: no theme named {name:?}; available: {available}"))
                }
                other => other,
            })?;
            chain.pop();
            base
        }
        None => fallback(),
    };
    let mut theme = file.apply(base).map_err(invalid)?;
    theme.name = name.to_string();
    Ok(theme)
}

/// Plain terminal defaults that a file without `inherits` starts from.
fn fallback() -> Theme {
    let ui = UiColors {
        bg: Color::Reset,
        fg: Color::Reset,
        dim: Color::DarkGray,
        accent: Color::Cyan,
        border: Color::DarkGray,
        border_focused: Color::Cyan,
        title: Color::Reset,
        user: Color::Green,
        error: Color::Red,
        warning: Color::Yellow,
        success: Color::Green,
        selection_bg: Color::Blue,
        gauge: Color::Cyan,
        gauge_bg: Color::DarkGray,
        sparkline: Color::Magenta,
        badge_fg: Color::Black,
        badge_bg: Color::Yellow,
        diff_inserted: Color::Green,
        diff_deleted: Color::Red,
    };
    Theme { name: String::new(), ui, markdown: MarkdownStyle { no_color: false, ..MarkdownStyle::default() } }
}

fn strip_colors(theme: &mut Theme) {
    let ui = &mut theme.ui;
    for c in [
        &mut ui.bg,
        &mut ui.fg,
        &mut ui.dim,
        &mut ui.accent,
        &mut ui.border,
        &mut ui.border_focused,
        &mut ui.title,
        &mut ui.user,
        &mut ui.error,
        &mut ui.warning,
        &mut ui.success,
        &mut ui.selection_bg,
        &mut ui.gauge,
        &mut ui.gauge_bg,
        &mut ui.sparkline,
        &mut ui.badge_fg,
        &mut ui.badge_bg,
        &mut ui.diff_inserted,
        &mut ui.diff_deleted,
    ] {
        *c = Color::Reset;
    }
    let md = &mut theme.markdown;
    let [h1, h2, h3] = &mut md.heading;
    for s in [
        &mut md.text,
        h1,
        h2,
        h3,
        &mut md.emphasis,
        &mut md.strong,
        &mut md.strikethrough,
        &mut md.code_inline,
        &mut md.code_block,
        &mut md.link,
        &mut md.link_url,
        &mut md.quote,
        &mut md.list_marker,
        &mut md.table_border,
        &mut md.table_header,
        &mut md.rule,
    ] {
        s.fg = None;
        s.bg = None;
        s.underline_color = None;
    }
}

/// A colour as written in a theme file.
struct ColorSpec(Color);

impl<'de> Deserialize<'de> for ColorSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_color(&s).map(ColorSpec).map_err(serde::de::Error::custom)
    }
}

pub(crate) fn parse_color(s: &str) -> Result<Color, String> {
    let t = s.trim();
    let short_hex = t.len() == 4 && t.starts_with('#') && t[1..].bytes().all(|b| b.is_ascii_hexdigit());
    if short_hex {
        let d = |i: usize| u8::from_str_radix(&t[i..=i], 16).map_or(0, |v| v * 17);
        return Ok(Color::Rgb(d(1), d(2), d(3)));
    }
    if matches!(t.to_ascii_lowercase().as_str(), "default" | "none") {
        return Ok(Color::Reset);
    }
    Color::from_str(t).map_err(|_| {
        format!(
            "unknown colour {s:?}: use \"#rrggbb\", an ANSI name (black, red, green, yellow, blue, magenta, cyan, \
             gray, dark-gray, light-red … light-cyan, white, reset) or an index 0-255"
        )
    })
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
enum ModifierName {
    Bold,
    Dim,
    Italic,
    #[serde(alias = "underline")]
    Underlined,
    Reversed,
    #[serde(alias = "strikethrough", alias = "crossed_out")]
    CrossedOut,
}

/// A style as written in a theme file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StyleSpec {
    fg: Option<ColorSpec>,
    bg: Option<ColorSpec>,
    #[serde(default)]
    modifiers: Vec<ModifierName>,
}

impl StyleSpec {
    fn style(&self) -> Style {
        let mut style =
            Style { fg: self.fg.as_ref().map(|c| c.0), bg: self.bg.as_ref().map(|c| c.0), ..Style::default() };
        for m in &self.modifiers {
            style = style.add_modifier(match m {
                ModifierName::Bold => Modifier::BOLD,
                ModifierName::Dim => Modifier::DIM,
                ModifierName::Italic => Modifier::ITALIC,
                ModifierName::Underlined => Modifier::UNDERLINED,
                ModifierName::Reversed => Modifier::REVERSED,
                ModifierName::CrossedOut => Modifier::CROSSED_OUT,
            });
        }
        style
    }
}

/// Declares the file schema for a set of fields and how to lay it over a base value.
macro_rules! overlay {
    (
        $raw:ident { $($field:ident),* $(,)? } $(extra { $($xf:ident: $xt:ty),* $(,)? })?
        => $target:ty, $spec:ty, |$v:ident| $conv:expr
    ) => {
        #[derive(Deserialize, Default)]
        #[serde(deny_unknown_fields)]
        struct $raw {
            $($field: Option<$spec>,)*
            $($($xf: $xt,)*)?
        }
        impl $raw {
            fn apply(&self, target: &mut $target) {
                $(if let Some($v) = &self.$field { target.$field = $conv; })*
            }
        }
    };
}

overlay!(UiFile {
    bg, fg, dim, accent, border, border_focused, title, user, error, warning, success, selection_bg, gauge,
    gauge_bg, sparkline, badge_fg, badge_bg, diff_inserted, diff_deleted,
} => UiColors, ColorSpec, |v| v.0);

overlay!(MarkdownFile {
    text, emphasis, strong, strikethrough, code_inline, code_block, link, link_url, quote, list_marker,
    table_border, table_header, rule,
} extra {
    heading1: Option<StyleSpec>, heading2: Option<StyleSpec>, heading3: Option<StyleSpec>,
    syntax_theme: Option<String>,
} => MarkdownStyle, StyleSpec, |v| v.style());

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    inherits: Option<String>,
    #[serde(default)]
    ui: UiFile,
    #[serde(default)]
    markdown: MarkdownFile,
}

impl ThemeFile {
    fn apply(&self, mut theme: Theme) -> Result<Theme, String> {
        self.ui.apply(&mut theme.ui);
        let md = &self.markdown;
        md.apply(&mut theme.markdown);
        for (i, spec) in [&md.heading1, &md.heading2, &md.heading3].into_iter().enumerate() {
            if let Some(spec) = spec {
                theme.markdown.heading[i] = spec.style();
            }
        }
        if let Some(name) = &md.syntax_theme {
            if !SYNTAX_THEMES.contains(&name.as_str()) {
                return Err(format!(
                    "markdown.syntax_theme: unknown syntax theme {name:?}; available: {}",
                    SYNTAX_THEMES.join(", ")
                ));
            }
            theme.markdown.syntax_theme = name.clone();
        }
        Ok(theme)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_parse() {
        assert_eq!(parse_color("#1e1e2e"), Ok(Color::Rgb(0x1e, 0x1e, 0x2e)));
        assert_eq!(parse_color("#fff"), Ok(Color::Rgb(255, 255, 255)));
        assert_eq!(parse_color("light-blue"), Ok(Color::LightBlue));
        assert_eq!(parse_color("dark-gray"), Ok(Color::DarkGray));
        assert_eq!(parse_color("235"), Ok(Color::Indexed(235)));
        assert_eq!(parse_color("reset"), Ok(Color::Reset));
        assert!(parse_color("#12345").is_err() && parse_color("rde").is_err() && parse_color("#ggg").is_err());
    }

    #[test]
    fn names_are_safe() {
        assert!(valid_name("tokyo-night") && valid_name("my_theme.v2"));
        assert!(!valid_name("../etc/passwd") && !valid_name(".hidden") && !valid_name("a/b") && !valid_name(""));
    }
}
