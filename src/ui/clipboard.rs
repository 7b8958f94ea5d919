//! Copying: the OSC 52 sequence (works over SSH and in most terminals) and, beside it, the
//! local clipboard tool when one is installed (wl-copy, xclip, xsel, pbcopy).

use base64::Engine;

/// Terminals cap OSC 52 payloads (often near 100 KB); larger copies go to the local tool only.
pub const OSC52_MAX_BYTES: usize = 74_000;

pub fn osc52_sequence(text: &str) -> String {
    format!("\u{1b}]52;c;{}\u{07}", base64::engine::general_purpose::STANDARD.encode(text))
}

/// Local clipboard commands to try, in order.
const TOOLS: &[(&str, &[&str])] = &[
    ("wl-copy", &[]),
    ("xclip", &["-selection", "clipboard"]),
    ("xsel", &["--clipboard", "--input"]),
    ("pbcopy", &[]),
];

/// Pipe `text` into the first local clipboard tool that runs. Returns its name.
pub async fn copy_local(text: String) -> Result<&'static str, String> {
    use tokio::io::AsyncWriteExt;
    for (name, args) in TOOLS {
        let spawned = tokio::process::Command::new(name)
            .args(*args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        let Ok(mut child) = spawned else { continue };
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(text.as_bytes()).await;
        }
        let waited = tokio::time::timeout(std::time::Duration::from_secs(3), child.wait()).await;
        if matches!(waited, Ok(Ok(status)) if status.success()) {
            return Ok(name);
        }
    }
    Err("no local clipboard tool (wl-copy, xclip, xsel, pbcopy)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn osc52_wraps_base64() {
        assert_eq!(osc52_sequence("hi"), "\u{1b}]52;c;aGk=\u{7}");
    }
}
