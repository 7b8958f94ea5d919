//! The terminal chatroom: everything that draws or reads the terminal lives under here, outside
//! the core (a test keeps ratatui, crossterm, the textarea crate and syntect out of `src/core`).

pub mod highlight;
pub mod markdown;
pub mod theme;
