//! The terminal chatroom: everything that draws or reads the terminal lives under here, outside
//! the core (a test keeps ratatui, crossterm, the textarea crate and syntect out of `src/core`).

pub mod app;
pub mod app_input;
pub mod cells;
pub mod clipboard;
pub mod commands;
pub mod diff_view;
pub mod draw;
pub mod event_loop;
pub mod export;
pub mod frames;
pub mod highlight;
pub mod input;
pub mod keymap;
pub mod launch;
pub mod layout;
pub mod markdown;
pub mod overlay;
pub mod pane;
pub mod pane_view;
pub mod picker;
pub mod rooms_view;
pub mod settings;
pub mod sidebar;
pub mod terminal;
pub mod theme;
pub mod tty;
pub mod wrap;
