//! Turning an MCP `tools/call` result into the text a model reads: text blocks as they are,
//! images and audio as a placeholder with their type and size (models get no binary through a
//! tool message), embedded resources as their text (or a placeholder for binary ones), links as
//! their URI, `structuredContent` when there is nothing else, and `isError` as a tool error.

use serde_json::Value;

use super::super::{MAX_OUTPUT, ToolOutput};
use crate::core::sanitize::strip_controls;

/// The model's view of a result, given as the JSON the server sent (so that block types this
/// client does not know yet still come through as a placeholder rather than failing the call).
pub fn to_output(result: &Value) -> ToolOutput {
    let blocks = result["content"].as_array().map(Vec::as_slice).unwrap_or_default();
    let mut parts: Vec<String> = blocks.iter().map(block_text).collect();
    if parts.iter().all(|p| p.trim().is_empty()) {
        parts.clear();
        if let Some(structured) = result.get("structuredContent").filter(|v| !v.is_null()) {
            parts.push(structured.to_string());
        }
    }
    let mut output = strip_controls(&parts.join("\n")).into_owned();
    if output.len() > MAX_OUTPUT {
        let mut cut = MAX_OUTPUT;
        while !output.is_char_boundary(cut) {
            cut -= 1;
        }
        output.truncate(cut);
        output.push_str(&format!("\n[output cut at {} KiB]", MAX_OUTPUT / 1024));
    }
    let is_error = result["isError"].as_bool().unwrap_or(false);
    if is_error && output.trim().is_empty() {
        output = "The tool reported an error without a message.".to_owned();
    } else if !is_error && output.trim().is_empty() {
        output = "(the tool returned no content)".to_owned();
    }
    ToolOutput { output, is_error }
}

fn block_text(block: &Value) -> String {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    match block["type"].as_str().unwrap_or_default() {
        "text" => text(&block["text"]),
        kind @ ("image" | "audio") => binary_placeholder(kind, &block["mimeType"], &block["data"]),
        "resource" => {
            let r = &block["resource"];
            let uri = r["uri"].as_str().unwrap_or("(no uri)");
            match r.get("text").and_then(Value::as_str) {
                Some(t) => format!("[resource {uri}]\n{t}"),
                None => format!("[resource {uri}: {}]", binary_placeholder("binary", &r["mimeType"], &r["blob"])),
            }
        }
        "resource_link" => {
            let uri = block["uri"].as_str().unwrap_or("(no uri)");
            let name = block["name"].as_str().unwrap_or_default();
            let mime = block["mimeType"].as_str().map(|m| format!(", {m}")).unwrap_or_default();
            format!("[link to resource {name} {uri}{mime}]")
        }
        other => format!("[{} content not shown]", if other.is_empty() { "unknown" } else { other }),
    }
}

/// `[image: image/png, 12.3 KiB]`: what the block is, without its bytes.
fn binary_placeholder(kind: &str, mime: &Value, base64_data: &Value) -> String {
    let mime = mime.as_str().unwrap_or("unknown type");
    let encoded = base64_data.as_str().map_or(0, |d| d.trim_end_matches('=').len());
    // Four base64 characters carry three bytes.
    let bytes = encoded * 3 / 4;
    let size = if bytes < 1024 { format!("{bytes} B") } else { format!("{:.1} KiB", bytes as f64 / 1024.0) };
    format!("[{kind}: {mime}, {size}]")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn text_images_resources_and_errors() {
        let out = to_output(&json!({"content": [
            {"type": "text", "text": "sum: 3"},
            {"type": "image", "mimeType": "image/png", "data": "iVBORw0KGgoAAAANSUhEUg=="},
            {"type": "resource", "resource": {"uri": "test://static/1", "mimeType": "text/plain", "text": "hello"}},
            {"type": "resource", "resource": {"uri": "test://bin", "mimeType": "application/pdf", "blob": "AAAA"}},
            {"type": "resource_link", "uri": "test://2", "name": "two"},
            {"type": "hologram"}
        ]}));
        assert!(!out.is_error);
        assert_eq!(
            out.output,
            "sum: 3\n[image: image/png, 16 B]\n[resource test://static/1]\nhello\n\
             [resource test://bin: [binary: application/pdf, 3 B]]\n[link to resource two test://2]\n\
             [hologram content not shown]"
        );
        let err = to_output(&json!({"content": [{"type": "text", "text": "no such city"}], "isError": true}));
        assert_eq!(err, ToolOutput::error("no such city"));
        assert!(to_output(&json!({"isError": true})).output.contains("without a message"));
        let structured = to_output(&json!({"content": [], "structuredContent": {"t": 21}}));
        assert_eq!(structured.output, r#"{"t":21}"#);
        let controls = to_output(&json!({"content": [{"type": "text", "text": "a\u{1b}[2Jb"}]}));
        assert!(!controls.output.contains('\u{1b}'), "{:?}", controls.output);
    }
}
