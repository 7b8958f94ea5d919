//! Where roundtable keeps its config, data (database, log) and cache, with env overrides.

use std::path::PathBuf;

/// The three directories, resolved once at start-up.
#[derive(Debug, Clone)]
pub struct Paths {
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
    pub cache_dir: PathBuf,
}

impl Paths {
    /// Platform directories (via `directories`), each overridable by `ROUNDTABLE_CONFIG_DIR`,
    /// `ROUNDTABLE_DATA_DIR` and `ROUNDTABLE_CACHE_DIR`.
    pub fn resolve() -> Paths {
        let project = directories::ProjectDirs::from("", "", "roundtable");
        let fallback = std::env::temp_dir().join("roundtable");
        let pick = |var: &str, platform: Option<PathBuf>, leaf: &str| -> PathBuf {
            std::env::var_os(var)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or(platform)
                .unwrap_or_else(|| fallback.join(leaf))
        };
        Paths {
            config_dir: pick("ROUNDTABLE_CONFIG_DIR", project.as_ref().map(|p| p.config_dir().to_path_buf()), "config"),
            data_dir: pick("ROUNDTABLE_DATA_DIR", project.as_ref().map(|p| p.data_dir().to_path_buf()), "data"),
            cache_dir: pick("ROUNDTABLE_CACHE_DIR", project.as_ref().map(|p| p.cache_dir().to_path_buf()), "cache"),
        }
    }

    /// The demo's paths: its history and quota counts live in `<data dir>/demo`, apart from the
    /// real ledger; `usage --demo`, `quota --demo` (and any command reading history) look there.
    pub fn demo(&self) -> Paths {
        Paths { data_dir: self.data_dir.join("demo"), ..self.clone() }
    }

    pub fn config_file(&self) -> PathBuf {
        self.config_dir.join("config.toml")
    }

    pub fn log_file(&self) -> PathBuf {
        self.data_dir.join("roundtable.log")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_keeps_its_data_apart() {
        let p = Paths { config_dir: "/c".into(), data_dir: "/d".into(), cache_dir: "/k".into() };
        let demo = p.demo();
        assert_eq!(demo.data_dir, PathBuf::from("/d/demo"));
        assert_eq!((demo.config_dir, demo.cache_dir), (p.config_dir, p.cache_dir));
    }
}
