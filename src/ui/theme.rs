//! Colour themes: `themes/*.toml` embedded in the binary, overridable by a file of the same
//! name in the config dir; `NO_COLOR` honoured. The syntax-highlighting theme follows the UI theme.
//!
//! CONTRACT STUB: the public API below is what the chatroom uses; the implementation is a
//! placeholder until the theme loader lands.

use std::path::Path;

use ratatui::style::{Color, Modifier, Style};

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
}

/// Styles the markdown renderer uses; `syntax_theme` names a syntect theme.
#[derive(Debug, Clone, PartialEq)]
pub struct MarkdownStyle {
    pub text: Style,
    pub heading: [Style; 3],
    pub emphasis: Style,
    pub strong: Style,
    pub strikethrough: Style,
    pub code_inline: Style,
    pub code_block: Style,
    pub link: Style,
    pub quote: Style,
    pub list_marker: Style,
    pub table_border: Style,
    pub rule: Style,
    pub syntax_theme: String,
    /// Changes whenever any style changes, so caches keyed on it re-render.
    pub generation: u64,
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
    vec!["dark".to_string()]
}

/// Loads `name`: the user's `<config_dir>/themes/<name>.toml` when present, else the embedded
/// one. `no_color` (from `NO_COLOR`) drops every colour and keeps only modifiers.
pub fn load(name: &str, _config_dir: Option<&Path>, no_color: bool) -> Result<Theme, ThemeError> {
    if name != "dark" {
        return Err(ThemeError::Unknown { name: name.to_string(), available: names().join(", ") });
    }
    let c = |color: Color| if no_color { Color::Reset } else { color };
    let ui = UiColors {
        bg: Color::Reset,
        fg: c(Color::White),
        dim: c(Color::DarkGray),
        accent: c(Color::Cyan),
        border: c(Color::DarkGray),
        border_focused: c(Color::Cyan),
        title: c(Color::White),
        user: c(Color::Green),
        error: c(Color::Red),
        warning: c(Color::Yellow),
        success: c(Color::Green),
        selection_bg: c(Color::Blue),
        gauge: c(Color::Cyan),
        gauge_bg: c(Color::DarkGray),
        sparkline: c(Color::Magenta),
        badge_fg: c(Color::Black),
        badge_bg: c(Color::Yellow),
    };
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let markdown = MarkdownStyle {
        text: Style::default(),
        heading: [bold, bold, bold],
        emphasis: Style::default().add_modifier(Modifier::ITALIC),
        strong: bold,
        strikethrough: Style::default().add_modifier(Modifier::CROSSED_OUT),
        code_inline: Style::default().fg(c(Color::Yellow)),
        code_block: Style::default(),
        link: Style::default().add_modifier(Modifier::UNDERLINED),
        quote: Style::default().fg(c(Color::DarkGray)),
        list_marker: Style::default().fg(c(Color::Cyan)),
        table_border: Style::default().fg(c(Color::DarkGray)),
        rule: Style::default().fg(c(Color::DarkGray)),
        syntax_theme: "base16-ocean.dark".to_string(),
        generation: 0,
    };
    Ok(Theme { name: name.to_string(), ui, markdown })
}
