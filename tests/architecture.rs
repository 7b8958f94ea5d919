//! House rules that the compiler cannot check: the routing core never depends on terminal
//! or highlighting crates, and every module says what it owns.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("readable source dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn core_never_imports_terminal_or_highlighting_crates() {
    let core = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/core");
    let files = rust_files(&core);
    assert!(files.len() > 5, "expected the core sources under {}", core.display());
    let forbidden = ["ratatui", "crossterm", "ratatui_textarea", "tui_textarea", "syntect"];
    let mut offences = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("utf-8 source");
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for crate_name in forbidden {
                let used = code.contains(&format!("{crate_name}::"))
                    || code.contains(&format!("use {crate_name}"))
                    || code.contains(&format!("extern crate {crate_name}"));
                if used {
                    offences.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(offences.is_empty(), "src/core must not use terminal/highlighting crates:\n{}", offences.join("\n"));
}

#[test]
fn core_never_imports_the_faces_or_the_simulator() {
    let core = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/core");
    let forbidden = ["crate::ui", "crate::ask", "crate::sim", "crate::present", "crate::config", "crate::cli"];
    let mut offences = Vec::new();
    for file in rust_files(&core) {
        let text = std::fs::read_to_string(&file).expect("utf-8 source");
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for path in forbidden {
                if code.contains(&format!("{path}::")) || code.contains(&format!("use {path};")) {
                    offences.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(offences.is_empty(), "src/core must not import the faces or the simulator:\n{}", offences.join("\n"));
}

#[test]
fn every_allow_says_why() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut bare = Vec::new();
    for file in rust_files(&src) {
        let text = std::fs::read_to_string(&file).expect("utf-8 source");
        let lines: Vec<&str> = text.lines().collect();
        for (n, line) in lines.iter().enumerate() {
            if !line.trim_start().starts_with("#[allow(") {
                continue;
            }
            let reason_before = n > 0 && lines[n - 1].trim_start().starts_with("//");
            let reason_after = line.contains("//");
            if !(reason_before || reason_after) {
                bare.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(bare.is_empty(), "every #[allow] needs a comment saying why:\n{}", bare.join("\n"));
}

#[test]
fn every_module_starts_with_an_ownership_line() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let missing: Vec<String> = rust_files(&src)
        .into_iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            !text.trim_start().starts_with("//!")
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(missing.is_empty(), "modules without a `//!` line: {missing:?}");
}
