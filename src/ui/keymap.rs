//! Named actions and the keys bound to them: defaults, plus `[ui.keys]` overrides from the
//! config file (`newline = ["alt+enter", "ctrl+j"]`).

use std::collections::HashMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Everything a key can do outside plain text editing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Send,
    Newline,
    StopAll,
    StopFocused,
    Retry,
    FocusNext,
    FocusPrev,
    PageUp,
    PageDown,
    LineUp,
    LineDown,
    ScrollTop,
    ScrollBottom,
    Zoom,
    SyncScroll,
    Help,
    Palette,
    AddModel,
    CopyAnswer,
    SelectMode,
    Adopt,
    EditDraft,
    HistoryPrev,
    HistoryNext,
    ToggleSidebar,
    ToggleMouse,
    CycleTheme,
    Clear,
    Interrupt,
    Quit,
    Rooms,
    EditLastPrompt,
    BranchPrev,
    BranchNext,
}

/// (config name, action, default keys, what the help overlay says).
pub const ACTIONS: &[(&str, Action, &[&str], &str)] = &[
    ("send", Action::Send, &["enter"], "send the draft to every model (@2 TEXT: pane 2 only)"),
    ("newline", Action::Newline, &["alt+enter", "ctrl+j"], "insert a newline in the draft"),
    ("stop_all", Action::StopAll, &["esc"], "stop every streaming pane (closes a popup first)"),
    ("stop_focused", Action::StopFocused, &["ctrl+x"], "stop the focused pane"),
    ("retry", Action::Retry, &["ctrl+r"], "retry the focused pane's last answer"),
    ("focus_next", Action::FocusNext, &["tab", "alt+right"], "focus the next pane"),
    ("focus_prev", Action::FocusPrev, &["backtab", "alt+left"], "focus the previous pane"),
    ("page_up", Action::PageUp, &["pageup"], "scroll the focused pane up a page"),
    ("page_down", Action::PageDown, &["pagedown"], "scroll the focused pane down a page"),
    ("line_up", Action::LineUp, &["shift+up", "alt+up"], "scroll the focused pane up a line"),
    ("line_down", Action::LineDown, &["shift+down", "alt+down"], "scroll the focused pane down a line"),
    ("scroll_top", Action::ScrollTop, &["ctrl+home"], "jump to the top of the focused pane"),
    ("scroll_bottom", Action::ScrollBottom, &["ctrl+end"], "jump to the bottom and follow the stream"),
    ("zoom", Action::Zoom, &["alt+z", "f11"], "zoom the focused pane to full width and back"),
    ("sync_scroll", Action::SyncScroll, &["alt+s"], "scroll all panes together"),
    ("help", Action::Help, &["f1"], "this help"),
    ("palette", Action::Palette, &["ctrl+p"], "command palette (or type / in the input)"),
    ("add_model", Action::AddModel, &["ctrl+n"], "add a model from the catalog"),
    ("copy", Action::CopyAnswer, &["alt+c"], "copy the focused answer (/copy N for its Nth code block)"),
    ("select", Action::SelectMode, &["alt+v"], "keyboard selection in the focused pane"),
    ("adopt", Action::Adopt, &["alt+a"], "adopt the focused answer into every pane's thread"),
    // Ctrl+E is readline's end of line in the draft; Ctrl+G opens the editor instead (as in
    // Claude Code; Alt+E edits the last prompt).
    ("edit", Action::EditDraft, &["ctrl+g"], "edit the draft in $EDITOR"),
    ("history_prev", Action::HistoryPrev, &["ctrl+up"], "previous prompt from history"),
    ("history_next", Action::HistoryNext, &["ctrl+down"], "next prompt from history"),
    ("sidebar", Action::ToggleSidebar, &["f2"], "show or hide the sidebar"),
    ("mouse", Action::ToggleMouse, &["f3"], "toggle mouse capture (off: the terminal's own selection)"),
    ("theme", Action::CycleTheme, &["f4"], "next colour theme"),
    ("clear", Action::Clear, &["ctrl+l"], "clear the panes (the room's history stays saved)"),
    ("interrupt", Action::Interrupt, &["ctrl+c"], "stop streaming; quit when nothing streams"),
    ("quit", Action::Quit, &["ctrl+q"], "quit"),
    ("rooms", Action::Rooms, &["ctrl+o"], "browse earlier rooms: search, open, rename, delete"),
    ("edit_prompt", Action::EditLastPrompt, &["alt+e"], "edit the last prompt; sending it starts a branch"),
    ("branch_prev", Action::BranchPrev, &["alt+["], "switch to the previous branch of the room"),
    ("branch_next", Action::BranchNext, &["alt+]"], "switch to the next branch of the room"),
];

/// Mouse gestures, listed with the keys.
const MOUSE: (&str, &str) = ("Wheel, click", "scroll the pane under the mouse / focus it");

/// Every row of the help overlay's key list: the actions with the keys `keymap` binds, the
/// mouse, then the draft's editing keys. The README's keys table is this list for the default
/// keymap (a test keeps them equal; `UPDATE_README=1 cargo test --lib keymap` rewrites it).
pub fn help_rows(keymap: &Keymap) -> Vec<(String, &'static str)> {
    let mut rows: Vec<(String, &'static str)> = ACTIONS
        .iter()
        .map(|(_, action, _, help)| {
            let keys: Vec<String> = keymap.keys_for(*action).iter().map(|k| display_name(k)).collect();
            (keys.join(", "), *help)
        })
        .collect();
    rows.push((MOUSE.0.to_string(), MOUSE.1));
    rows.extend(crate::ui::input::EDITING_KEYS.iter().map(|(k, h)| (k.to_string(), *h)));
    rows
}

/// "ctrl+shift+up" → "Ctrl+Shift+↑", as keys are written in the help and the README.
pub fn display_name(chord: &str) -> String {
    if chord.ends_with("++") {
        return format!("{}+", display_name(chord.trim_end_matches('+')));
    }
    chord
        .split('+')
        .map(|part| match part {
            "up" => "↑".to_string(),
            "down" => "↓".to_string(),
            "left" => "←".to_string(),
            "right" => "→".to_string(),
            "pageup" => "PgUp".to_string(),
            "pagedown" => "PgDn".to_string(),
            "esc" => "Esc".to_string(),
            p if p.chars().count() == 1 => p.to_uppercase(),
            p => {
                let mut c = p.chars();
                c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
            }
        })
        .collect::<Vec<_>>()
        .join("+")
}

/// The README's keys table for the default keymap, between its markers.
pub fn readme_table() -> String {
    let mut out = String::from("| key | does |\n|---|---|\n");
    for (keys, help) in help_rows(&Keymap::default()) {
        out.push_str(&format!("| {} | {} |\n", keys.replace('|', "\\|"), help.replace('|', "\\|")));
    }
    out
}

type Chord = (KeyCode, KeyModifiers);

#[derive(Debug, Clone)]
pub struct Keymap {
    bindings: HashMap<Chord, Action>,
}

impl Default for Keymap {
    fn default() -> Self {
        let mut bindings = HashMap::new();
        for (_, action, keys, _) in ACTIONS {
            for key in *keys {
                if let Ok(chord) = parse_chord(key) {
                    bindings.insert(chord, *action);
                }
            }
        }
        Keymap { bindings }
    }
}

impl Keymap {
    /// Defaults with `overrides` (action name → key list) replacing those actions' keys.
    pub fn with_overrides(overrides: &[(String, Vec<String>)]) -> Result<Keymap, String> {
        let mut map = Keymap::default();
        for (name, keys) in overrides {
            let Some((_, action, _, _)) = ACTIONS.iter().find(|(n, ..)| n == name) else {
                let known: Vec<&str> = ACTIONS.iter().map(|(n, ..)| *n).collect();
                return Err(format!("[ui.keys] has no action named {name:?}; known: {}", known.join(", ")));
            };
            map.bindings.retain(|_, a| a != action);
            for key in keys {
                let chord = parse_chord(key).map_err(|e| format!("[ui.keys] {name}: {e}"))?;
                map.bindings.insert(chord, *action);
            }
        }
        Ok(map)
    }

    pub fn action(&self, key: &KeyEvent) -> Option<Action> {
        self.bindings.get(&normalize(key.code, key.modifiers)).copied()
    }

    /// The keys bound to `action`, as written in config ("alt+enter"), for the help overlay.
    pub fn keys_for(&self, action: Action) -> Vec<String> {
        let mut keys: Vec<String> =
            self.bindings.iter().filter(|(_, a)| **a == action).map(|(c, _)| chord_name(*c)).collect();
        keys.sort();
        keys
    }
}

/// Shift is part of a character (`A`), not a separate modifier, for printable keys.
fn normalize(code: KeyCode, mods: KeyModifiers) -> Chord {
    let mods = mods & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
    match code {
        KeyCode::Char(c) if c.is_ascii_alphabetic() && mods.contains(KeyModifiers::CONTROL) => {
            (KeyCode::Char(c.to_ascii_lowercase()), mods - KeyModifiers::SHIFT)
        }
        KeyCode::Char(c) => (KeyCode::Char(c), mods - KeyModifiers::SHIFT),
        KeyCode::BackTab => (KeyCode::BackTab, mods - KeyModifiers::SHIFT),
        other => (other, mods),
    }
}

/// "ctrl+shift+up" → chord.
pub fn parse_chord(text: &str) -> Result<Chord, String> {
    let lower = text.trim().to_ascii_lowercase();
    let mut mods = KeyModifiers::NONE;
    let mut parts: Vec<&str> = lower.split('+').collect();
    // "ctrl++" means ctrl and the plus key.
    if lower.ends_with("++") {
        parts.pop();
        parts.pop();
        parts.push("+");
    }
    let Some(key) = parts.pop().filter(|k| !k.is_empty()) else {
        return Err(format!("{text:?} names no key"));
    };
    for m in parts {
        mods |= match m {
            "ctrl" | "control" | "c" => KeyModifiers::CONTROL,
            "alt" | "meta" | "m" | "option" => KeyModifiers::ALT,
            "shift" | "s" => KeyModifiers::SHIFT,
            other => return Err(format!("{text:?}: unknown modifier {other:?} (use ctrl, alt, shift)")),
        };
    }
    let code = match key {
        "enter" | "return" => KeyCode::Enter,
        "esc" | "escape" => KeyCode::Esc,
        "tab" => KeyCode::Tab,
        "backtab" => KeyCode::BackTab,
        "space" => KeyCode::Char(' '),
        "backspace" => KeyCode::Backspace,
        "delete" | "del" => KeyCode::Delete,
        "up" => KeyCode::Up,
        "down" => KeyCode::Down,
        "left" => KeyCode::Left,
        "right" => KeyCode::Right,
        "home" => KeyCode::Home,
        "end" => KeyCode::End,
        "pageup" | "pgup" => KeyCode::PageUp,
        "pagedown" | "pgdn" => KeyCode::PageDown,
        f if f.starts_with('f') && f.len() > 1 && f[1..].chars().all(|c| c.is_ascii_digit()) => {
            let n: u8 = f[1..].parse().map_err(|_| format!("{text:?}: no such function key"))?;
            if !(1..=24).contains(&n) {
                return Err(format!("{text:?}: function keys go from f1 to f24"));
            }
            KeyCode::F(n)
        }
        k if k.chars().count() == 1 => KeyCode::Char(k.chars().next().unwrap_or(' ')),
        other => return Err(format!("{text:?}: unknown key {other:?}")),
    };
    Ok(normalize(code, mods))
}

fn chord_name((code, mods): Chord) -> String {
    let mut s = String::new();
    for (flag, name) in [(KeyModifiers::CONTROL, "ctrl+"), (KeyModifiers::ALT, "alt+"), (KeyModifiers::SHIFT, "shift+")]
    {
        if mods.contains(flag) {
            s.push_str(name);
        }
    }
    match code {
        KeyCode::Enter => s.push_str("enter"),
        KeyCode::Esc => s.push_str("esc"),
        KeyCode::Tab => s.push_str("tab"),
        KeyCode::BackTab => s.push_str("shift+tab"),
        KeyCode::Up => s.push_str("up"),
        KeyCode::Down => s.push_str("down"),
        KeyCode::Left => s.push_str("left"),
        KeyCode::Right => s.push_str("right"),
        KeyCode::Home => s.push_str("home"),
        KeyCode::End => s.push_str("end"),
        KeyCode::PageUp => s.push_str("pageup"),
        KeyCode::PageDown => s.push_str("pagedown"),
        KeyCode::F(n) => s.push_str(&format!("f{n}")),
        KeyCode::Char(' ') => s.push_str("space"),
        KeyCode::Char(c) => s.push(c),
        other => s.push_str(&format!("{other:?}").to_ascii_lowercase()),
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    #[test]
    fn defaults_bind_send_and_both_newlines() {
        let map = Keymap::default();
        assert_eq!(map.action(&key(KeyCode::Enter, KeyModifiers::NONE)), Some(Action::Send));
        assert_eq!(map.action(&key(KeyCode::Enter, KeyModifiers::ALT)), Some(Action::Newline));
        assert_eq!(map.action(&key(KeyCode::Char('j'), KeyModifiers::CONTROL)), Some(Action::Newline));
        assert_eq!(
            map.action(&key(KeyCode::Char('J'), KeyModifiers::CONTROL | KeyModifiers::SHIFT)),
            Some(Action::Newline)
        );
        assert_eq!(map.action(&key(KeyCode::Char('a'), KeyModifiers::NONE)), None);
    }

    #[test]
    fn overrides_replace_an_actions_keys() {
        let map = Keymap::with_overrides(&[("newline".into(), vec!["shift+enter".into()])]).unwrap();
        assert_eq!(map.action(&key(KeyCode::Enter, KeyModifiers::SHIFT)), Some(Action::Newline));
        assert_eq!(map.action(&key(KeyCode::Enter, KeyModifiers::ALT)), None);
        assert_eq!(map.keys_for(Action::Newline), ["shift+enter"]);
    }

    #[test]
    fn no_default_key_is_bound_twice() {
        let mut seen = HashMap::new();
        for (name, _, keys, _) in ACTIONS {
            for key in *keys {
                let chord = parse_chord(key).unwrap();
                if let Some(other) = seen.insert(chord, *name) {
                    panic!("{key} is bound to both {other} and {name}");
                }
            }
        }
    }

    #[test]
    fn keys_are_written_for_people() {
        assert_eq!(display_name("ctrl+home"), "Ctrl+Home");
        assert_eq!(display_name("alt+left"), "Alt+←");
        assert_eq!(display_name("shift+tab"), "Shift+Tab");
        assert_eq!(display_name("f11"), "F11");
        assert_eq!(display_name("ctrl+l"), "Ctrl+L");
        assert_eq!(display_name("pageup"), "PgUp");
    }

    /// The README lists the same keys as F1. Run with `UPDATE_README=1` to rewrite its table.
    #[test]
    fn readme_keys_table_is_the_help_list() {
        const START: &str = "<!-- keys: generated from src/ui/keymap.rs, see readme_keys_table_is_the_help_list -->\n";
        const END: &str = "<!-- /keys -->";
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
        let readme = std::fs::read_to_string(path).unwrap();
        let (Some(a), Some(b)) = (readme.find(START), readme.find(END)) else {
            panic!("README.md lacks the keys table markers");
        };
        let current = &readme[a + START.len()..b];
        let wanted = readme_table();
        if current != wanted && std::env::var_os("UPDATE_README").is_some() {
            let updated = format!("{}{wanted}{}", &readme[..a + START.len()], &readme[b..]);
            std::fs::write(path, updated).unwrap();
            return;
        }
        assert_eq!(current, wanted, "README keys table differs from F1 (UPDATE_README=1 rewrites it)");
        for key in ["Ctrl+L", "Ctrl+Home", "Ctrl+End", "F11", "Alt+←", "Alt+→", "Ctrl+U"] {
            assert!(wanted.contains(key), "{key} missing");
        }
    }

    #[test]
    fn bad_overrides_say_what_is_wrong() {
        let err = Keymap::with_overrides(&[("nope".into(), vec![])]).unwrap_err();
        assert!(err.contains("no action named \"nope\""), "{err}");
        let err = Keymap::with_overrides(&[("send".into(), vec!["hyper+x".into()])]).unwrap_err();
        assert!(err.contains("unknown modifier"), "{err}");
        assert!(parse_chord("f99").is_err());
        assert!(parse_chord("").is_err());
    }
}
