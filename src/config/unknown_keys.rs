//! Finds keys of the user's config file that nothing reads (a typo such as `[timeout]` or
//! `idle_sec` would otherwise be ignored in silence) and words a warning with the file, the
//! line and the nearest known key.

use std::path::Path;

/// What may appear at one place of the config.
enum Shape {
    /// A table with these keys.
    Table(&'static [(&'static str, Shape)]),
    /// A table whose keys are names chosen by the user, each holding `Shape`.
    Named(&'static Shape),
    /// An array of tables of this shape (`[[tools]]`).
    Tables(&'static [(&'static str, Shape)]),
    /// Any value (free-form tables such as `headers`, or a leaf).
    Any,
}

use Shape::{Any, Named, Table, Tables};

const PROVIDER: Shape =
    Table(&[("kind", Any), ("base_url", Any), ("api_key_env", Any), ("key_optional", Any), ("headers", Any)]);
const MODEL: Shape = Table(&[
    ("temperature", Any),
    ("top_p", Any),
    ("max_tokens", Any),
    ("seed", Any),
    ("stop", Any),
    ("reasoning_effort", Any),
    ("system", Any),
    ("provider", Any),
    ("fallbacks", Any),
]);
const PRICE: Shape = Table(&[
    ("prompt", Any),
    ("completion", Any),
    ("request", Any),
    ("input_cache_read", Any),
    ("input_cache_write", Any),
    ("internal_reasoning", Any),
    ("image", Any),
    ("web_search", Any),
    ("discount", Any),
    ("overrides", Any),
]);
const LIMITS: Shape = Table(&[("per_minute", Any), ("per_day", Any), ("day_reset", Any), ("tokens_per_minute", Any)]);

const ROOT: Shape = Table(&[
    ("default_provider", Any),
    ("default_models", Any),
    ("timeouts", Table(&[("connect_secs", Any), ("first_byte_secs", Any), ("idle_secs", Any)])),
    ("limits", Table(&[("max_answer_bytes", Any)])),
    ("app", Table(&[("referer", Any), ("title", Any)])),
    ("providers", Named(&PROVIDER)),
    ("models", Named(&MODEL)),
    ("prices", Named(&PRICE)),
    (
        "quota",
        Table(&[("openrouter_free_per_minute", Any), ("openrouter_free_per_day", Any), ("limits", Named(&LIMITS))]),
    ),
    ("tool_use", Table(&[("step_limit", Any)])),
    ("compare", Table(&[("analyst", Any)])),
    (
        "mcp_servers",
        Tables(&[
            ("name", Any),
            ("command", Any),
            ("args", Any),
            ("env", Any),
            ("cwd", Any),
            ("url", Any),
            ("headers", Any),
            ("timeout_secs", Any),
            ("enabled", Any),
            ("safe_tools", Any),
        ]),
    ),
    (
        "tools",
        Tables(&[
            ("name", Any),
            ("description", Any),
            ("parameters", Any),
            ("command", Any),
            ("timeout_secs", Any),
            ("cwd", Any),
            ("safe", Any),
        ]),
    ),
    (
        "ui",
        Table(&[
            ("theme", Any),
            ("sidebar", Any),
            ("mouse", Any),
            ("max_fps", Any),
            ("scroll_regions", Any),
            ("scroll_jump", Any),
            ("colors", Any),
            ("keys", Any),
        ]),
    ),
]);

/// One warning per unknown key of `user` (the text of `path`).
pub fn warnings(path: &Path, text: &str, user: &toml::Table) -> Vec<String> {
    let mut found = Vec::new();
    walk(&ROOT, &toml::Value::Table(user.clone()), &mut Vec::new(), &mut found);
    found
        .into_iter()
        .map(|(key_path, nearest)| {
            let line = line_of(text, &key_path).map(|l| format!(":{l}")).unwrap_or_default();
            let hint = nearest.map(|n| format!("; did you mean `{n}`?")).unwrap_or_default();
            format!("{}{line}: unknown key `{}` is ignored{hint}", path.display(), key_path.join("."))
        })
        .collect()
}

fn walk(shape: &Shape, value: &toml::Value, path: &mut Vec<String>, found: &mut Vec<(Vec<String>, Option<String>)>) {
    match (shape, value) {
        (Table(keys), toml::Value::Table(t)) => {
            for (k, v) in t {
                match keys.iter().find(|(name, _)| name == k) {
                    Some((_, inner)) => {
                        path.push(k.clone());
                        walk(inner, v, path, found);
                        path.pop();
                    }
                    None => {
                        let mut p = path.clone();
                        p.push(k.clone());
                        found.push((p, nearest(k, keys.iter().map(|(n, _)| *n))));
                    }
                }
            }
        }
        (Named(inner), toml::Value::Table(t)) => {
            for (k, v) in t {
                path.push(k.clone());
                walk(inner, v, path, found);
                path.pop();
            }
        }
        (Tables(keys), toml::Value::Array(items)) => {
            for item in items {
                walk(&Table(keys), item, path, found);
            }
        }
        _ => {}
    }
}

/// The known key closest to `key` by edit distance, when it is close enough to be a typo.
fn nearest<'a>(key: &str, known: impl Iterator<Item = &'a str>) -> Option<String> {
    let key = key.to_ascii_lowercase();
    known
        .map(|k| (distance(&key, k), k))
        .filter(|(d, k)| *d <= (k.len() / 3).max(2) || k.starts_with(&key) || key.starts_with(k))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.to_owned())
}

/// Levenshtein distance over characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The 1-based line where the last key of `path` is written: a `key =` line inside its table,
/// or a table header naming it.
fn line_of(text: &str, path: &[String]) -> Option<usize> {
    let key = path.last()?;
    let parent = &path[..path.len() - 1];
    let mut section: Vec<String> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if let Some(header) = line.strip_prefix('[') {
            let header = header.trim_start_matches('[');
            let name = header.split(']').next().unwrap_or("");
            section = name.split('.').map(|s| s.trim().trim_matches('"').to_owned()).collect();
            if section.last() == Some(key) && section.len() == path.len() {
                return Some(n + 1);
            }
            continue;
        }
        let Some((lhs, _)) = line.split_once('=') else { continue };
        let lhs: Vec<String> = lhs.split('.').map(|s| s.trim().trim_matches('"').to_owned()).collect();
        let full: Vec<&String> = section.iter().chain(lhs.iter()).collect();
        let matches_key = full.len() == path.len() && full.last() == Some(&key);
        let matches_parent = full.iter().zip(parent).all(|(a, b)| *a == b || parent.is_empty() || section.is_empty());
        if matches_key && matches_parent {
            return Some(n + 1);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn warn(text: &str) -> Vec<String> {
        let table: toml::Table = text.parse().unwrap();
        warnings(Path::new("/c/config.toml"), text, &table)
    }

    #[test]
    fn typos_are_named_with_line_and_nearest_key() {
        let w = warn("default_provider = \"openrouter\"\n[timeout]\nidle_secs = 5\n\n[timeouts]\nidle_sec = 5\n");
        assert_eq!(
            w,
            [
                "/c/config.toml:2: unknown key `timeout` is ignored; did you mean `timeouts`?",
                "/c/config.toml:6: unknown key `timeouts.idle_sec` is ignored; did you mean `idle_secs`?",
            ]
        );
        let w = warn(
            "[providers.mine]\nbase_url = \"http://x\"\napi_key = \"k\"\n[[tools]]\nname = \"t\"\ncomand = [\"x\"]\n",
        );
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains(":3: unknown key `providers.mine.api_key`") && w[0].contains("`api_key_env`"), "{w:?}");
        assert!(w[1].contains(":6: unknown key `tools.comand`") && w[1].contains("`command`"), "{w:?}");
    }

    #[test]
    fn known_and_free_form_keys_pass() {
        let text = "[ui.keys]\nnewline = [\"alt+enter\"]\n[providers.x.headers]\nX-Any = \"1\"\n[models.\"a/b\"]\nprovider = { sort = \"price\" }\n[quota.limits.openai]\nper_minute = 3\n";
        assert!(warn(text).is_empty(), "{:?}", warn(text));
        assert!(warn(crate::config::DEFAULT_CONFIG).is_empty(), "the documented defaults are all known");
    }
}
