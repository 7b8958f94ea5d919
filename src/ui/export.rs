//! Exports the room (`/export`) from the core's room data, as `rooms show` prints it: Markdown
//! with answers nested under their turns, or the full room as JSON. Also where an export goes.

use std::path::{Path, PathBuf};

use crate::ui::app::App;

pub fn markdown(app: &App) -> String {
    crate::present::room::markdown(&app.room)
}

pub fn json(app: &App) -> String {
    serde_json::to_string_pretty(&crate::present::room::json(&app.room)).unwrap_or_else(|_| "{}".into())
}

/// Where a user-given export path points: `~` expanded to the home directory, relative paths
/// taken from the current directory, so the status line can say exactly where the file went.
pub fn resolve_path(raw: &str, home: Option<&Path>, cwd: &Path) -> PathBuf {
    let expanded = match (raw.strip_prefix("~/").or(if raw == "~" { Some("") } else { None }), home) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(raw),
    };
    if expanded.is_absolute() { expanded } else { cwd.join(expanded) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tilde_and_relative_paths_become_absolute() {
        let home = Path::new("/home/u");
        let cwd = Path::new("/work");
        assert_eq!(resolve_path("~/x.json", Some(home), cwd), PathBuf::from("/home/u/x.json"));
        assert_eq!(resolve_path("out/x.md", Some(home), cwd), PathBuf::from("/work/out/x.md"));
        assert_eq!(resolve_path("/tmp/x.md", Some(home), cwd), PathBuf::from("/tmp/x.md"));
        assert_eq!(resolve_path("~user/x", Some(home), cwd), PathBuf::from("/work/~user/x"));
    }
}
