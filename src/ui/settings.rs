//! The chatroom's own settings, read from the `[ui]` table of the user's config file (the core
//! ignores that table): theme, sidebar, mouse capture, tick rate, colour depth and key overrides.

use std::path::Path;

use serde::Deserialize;

use crate::ui::keymap::Keymap;
use crate::ui::tty::ColorDepth;

/// A following pane moves up by a quarter of its rows when its text reaches the bottom: a
/// terminal scroll (and the repair of the rows beside the pane that it moves) every few lines
/// instead of every line, and text that stands still for a few seconds at a time to read.
pub const DEFAULT_SCROLL_JUMP: u8 = 25;
/// More than half would leave more blank than text.
const MAX_SCROLL_JUMP: u8 = 50;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct UiTable {
    theme: String,
    sidebar: bool,
    mouse: bool,
    max_fps: u32,
    scroll_regions: bool,
    /// Read wide so that a negative or huge value gets the message below, not serde's.
    scroll_jump: i64,
    colors: String,
    keys: toml::Table,
}

impl Default for UiTable {
    fn default() -> Self {
        UiTable {
            theme: "dark".into(),
            sidebar: true,
            mouse: true,
            max_fps: 60,
            scroll_regions: true,
            scroll_jump: DEFAULT_SCROLL_JUMP.into(),
            colors: "auto".into(),
            keys: toml::Table::new(),
        }
    }
}

/// Resolved UI settings.
#[derive(Debug, Clone)]
pub struct UiSettings {
    pub theme: String,
    pub sidebar: bool,
    pub mouse: bool,
    /// Upper bound on frames per second (1..=240).
    pub max_fps: u32,
    /// Let the terminal scroll a following pane's rows instead of rewriting them.
    pub scroll_regions: bool,
    /// How far a following pane moves when its text reaches the bottom, in percent of its rows
    /// (0: a line at a time).
    pub scroll_jump: u8,
    /// The colour depth to send; `None` asks the environment (`COLORTERM`).
    pub colors: Option<ColorDepth>,
    pub keymap: Keymap,
}

impl UiSettings {
    /// The colour depth frames are sent at: the setting, else what `COLORTERM` announces.
    pub fn color_depth(&self) -> ColorDepth {
        self.colors.unwrap_or_else(|| ColorDepth::from_colorterm(std::env::var("COLORTERM").ok().as_deref()))
    }
}

impl Default for UiSettings {
    fn default() -> Self {
        UiSettings {
            theme: "dark".into(),
            sidebar: true,
            mouse: true,
            max_fps: 60,
            scroll_regions: true,
            scroll_jump: DEFAULT_SCROLL_JUMP,
            colors: None,
            keymap: Keymap::default(),
        }
    }
}

impl UiSettings {
    /// Read `[ui]` from the config file at `path`; a missing file gives the defaults. Errors
    /// name the file and the key so the user knows what to fix.
    pub fn load(path: &Path) -> Result<UiSettings, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text).map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(UiSettings::default()),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    pub fn parse(text: &str) -> Result<UiSettings, String> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| e.message().to_string())?;
        let ui: UiTable = match table.get("ui") {
            Some(v) => ui_table(v)?,
            None => UiTable::default(),
        };
        let mut overrides = Vec::new();
        for (name, value) in ui.keys {
            let keys = match value {
                toml::Value::String(s) => vec![s],
                toml::Value::Array(items) => items
                    .into_iter()
                    .map(|v| v.as_str().map(str::to_owned).ok_or_else(|| format!("[ui.keys] {name}: keys are strings")))
                    .collect::<Result<_, _>>()?,
                _ => return Err(format!("[ui.keys] {name}: give a key (\"ctrl+j\") or a list of keys")),
            };
            overrides.push((name, keys));
        }
        let Some(scroll_jump) = u8::try_from(ui.scroll_jump).ok().filter(|&j| j <= MAX_SCROLL_JUMP) else {
            return Err(format!(
                "[ui] scroll_jump = {}: give the percentage of a pane's rows it moves up by when its text reaches the bottom, from 0 (a line at a time) to {MAX_SCROLL_JUMP}",
                ui.scroll_jump
            ));
        };
        let colors = match ui.colors.as_str() {
            "auto" => None,
            "truecolor" | "24bit" => Some(ColorDepth::TrueColor),
            "256" => Some(ColorDepth::Palette256),
            other => {
                return Err(format!(
                    "[ui] colors = {other:?}: give \"auto\" (ask COLORTERM), \"truecolor\" or \"256\""
                ));
            }
        };
        Ok(UiSettings {
            theme: ui.theme,
            sidebar: ui.sidebar,
            mouse: ui.mouse,
            max_fps: ui.max_fps.clamp(1, 240),
            scroll_regions: ui.scroll_regions,
            scroll_jump,
            colors,
            keymap: Keymap::with_overrides(&overrides)?,
        })
    }
}

/// What each key of `[ui]` takes, for a message about a value of the wrong kind.
const UI_KEYS: &str = "theme = a theme's name (\"dark\", \"light\"…), sidebar, mouse and scroll_regions = true or false, \
max_fps = frames a second (1 to 240), scroll_jump = 0 to 50, colors = \"auto\", \"truecolor\" or \"256\", and key \
overrides in [ui.keys]";

/// The `[ui]` table read from `value`. serde's message for a value of the wrong kind names the
/// kind, not the key ("invalid type: string \"fast\", expected u32"): the key is found by
/// reading each one alone, and the message says what every key takes.
fn ui_table(value: &toml::Value) -> Result<UiTable, String> {
    value.clone().try_into().map_err(|e: toml::de::Error| {
        let wrong = value.as_table().and_then(|table| {
            table.iter().find(|&(key, v)| {
                let alone = toml::Table::from_iter([(key.clone(), v.clone())]);
                toml::Value::Table(alone).try_into::<UiTable>().is_err()
            })
        });
        match wrong {
            Some((key, v)) => format!("[ui] {key} = {v}: {}; [ui] takes {UI_KEYS}", e.message()),
            None => format!("[ui]: {}; [ui] takes {UI_KEYS}", e.message()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::keymap::Action;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    #[test]
    fn reads_the_ui_table_and_ignores_the_rest() {
        let s = UiSettings::parse(
            "default_provider = \"x\"\n[ui]\ntheme = \"light\"\nsidebar = false\n[ui.keys]\nsend = \"ctrl+s\"\n",
        )
        .unwrap();
        assert_eq!(s.theme, "light");
        assert!(!s.sidebar);
        let ctrl_s = KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL);
        assert_eq!(s.keymap.action(&ctrl_s), Some(Action::Send));
    }

    #[test]
    fn the_colour_depth_is_asked_of_the_environment_unless_set() {
        assert_eq!(UiSettings::parse("").unwrap().colors, None);
        assert_eq!(UiSettings::parse("[ui]\ncolors = \"256\"").unwrap().colors, Some(ColorDepth::Palette256));
        assert_eq!(UiSettings::parse("[ui]\ncolors = \"truecolor\"").unwrap().colors, Some(ColorDepth::TrueColor));
        let forced = UiSettings::parse("[ui]\ncolors = \"truecolor\"").unwrap();
        assert_eq!(forced.color_depth(), ColorDepth::TrueColor, "the setting wins over the environment");
        let wrong = UiSettings::parse("[ui]\ncolors = \"16m\"").unwrap_err();
        assert!(wrong.contains("colors") && wrong.contains("truecolor"), "{wrong}");
    }

    #[test]
    fn mistakes_are_named() {
        assert!(UiSettings::parse("[ui]\nthem = \"x\"").unwrap_err().contains("them"));
        assert!(UiSettings::parse("[ui.keys]\nsend = 3").unwrap_err().contains("send"));
        assert!(UiSettings::parse("not toml [").is_err());
        assert_eq!(UiSettings::parse("").unwrap().max_fps, 60);
        // A value of the wrong kind: the key, the value, and what it takes.
        let fps = UiSettings::parse("[ui]\ntheme = \"dark\"\nmax_fps = \"fast\"").unwrap_err();
        assert!(fps.starts_with("[ui] max_fps = \"fast\": ") && fps.contains("1 to 240"), "{fps}");
        let sidebar = UiSettings::parse("[ui]\nsidebar = \"no\"").unwrap_err();
        assert!(sidebar.starts_with("[ui] sidebar = \"no\": ") && sidebar.contains("true or false"), "{sidebar}");
    }

    #[test]
    fn the_scroll_jump_is_a_percentage_up_to_half_the_pane() {
        assert_eq!(UiSettings::parse("").unwrap().scroll_jump, DEFAULT_SCROLL_JUMP);
        assert_eq!(UiSettings::parse("[ui]\nscroll_jump = 0").unwrap().scroll_jump, 0);
        let wrong = UiSettings::parse("[ui]\nscroll_jump = 80").unwrap_err();
        assert!(wrong.contains("scroll_jump") && wrong.contains("50"), "{wrong}");
        let negative = UiSettings::parse("[ui]\nscroll_jump = -1").unwrap_err();
        assert!(negative.contains("scroll_jump = -1") && negative.contains("from 0"), "{negative}");
    }
}
