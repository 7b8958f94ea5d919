//! roundtable: one prompt, several models, side by side, with cost and quota in view.

pub mod ask;
pub mod cli;
pub mod config;
pub mod core;
pub mod leaderboard_cmd;
pub mod logging;
pub mod models_cmd;
pub mod paths;
pub mod present;
pub mod quota_cmd;
pub mod rooms_cmd;
pub mod runtime;
pub mod sim;
pub mod tools_cmd;
pub mod ui;
pub mod usage_cmd;
