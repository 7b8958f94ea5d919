//! Attachments (issue 13): images (PNG, JPEG, WebP, GIF) and PDFs sent with a prompt as content
//! parts (§2.2). A turn stores each file by path and content fingerprint, once for all its
//! panes; the bytes are read again when a request is built and must still match.

use std::path::Path;

use base64::Engine as _;

use crate::core::protocol::Attachment;

/// Largest image sent. The reference gives no limit; base64 makes a request 4/3 the file's
/// size, and providers commonly cap images near 20 MB, so 10 MiB keeps well inside.
pub const MAX_IMAGE_BYTES: u64 = 10 * 1024 * 1024;
/// Largest PDF sent (the reference is silent here too).
pub const MAX_PDF_BYTES: u64 = 20 * 1024 * 1024;
/// Prompt tokens assumed per image for the pre-send estimate. The reference gives no figure;
/// providers count roughly 250–1,600 per image by size, so this is a middle guess.
pub const IMAGE_TOKENS_ESTIMATE: u64 = 1_000;

/// Check and describe the file at `path`; the error says what is wrong with it.
pub fn load(path: &Path) -> Result<Attachment, String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("Cannot attach {shown}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("Cannot attach {shown}: not a file"));
    }
    if meta.len() > MAX_PDF_BYTES {
        return Err(too_big(path, meta.len(), MAX_PDF_BYTES));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("Cannot attach {shown}: {e}"))?;
    let mime =
        sniff(&bytes).ok_or_else(|| format!("Cannot attach {shown}: only PNG, JPEG, WebP, GIF images and PDFs"))?;
    let limit = if mime == "application/pdf" { MAX_PDF_BYTES } else { MAX_IMAGE_BYTES };
    if bytes.len() as u64 > limit {
        return Err(too_big(path, bytes.len() as u64, limit));
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("attachment").to_string();
    Ok(Attachment {
        path: path.to_string_lossy().into_owned(),
        name,
        mime: mime.into(),
        bytes: bytes.len() as u64,
        fingerprint: fingerprint(&bytes),
    })
}

fn too_big(path: &Path, size: u64, limit: u64) -> String {
    format!("Cannot attach {}: {} KiB, more than the {} KiB sent", path.display(), size / 1024, limit / 1024)
}

/// The file type from its first bytes (names lie).
fn sniff(b: &[u8]) -> Option<&'static str> {
    Some(match b {
        [0x89, b'P', b'N', b'G', ..] => "image/png",
        [0xFF, 0xD8, 0xFF, ..] => "image/jpeg",
        [b'G', b'I', b'F', b'8', ..] => "image/gif",
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => "image/webp",
        [b'%', b'P', b'D', b'F', b'-', ..] => "application/pdf",
        _ => return None,
    })
}

/// FNV-1a over the bytes, hex: a fingerprint that notices a changed file (not a security hash).
fn fingerprint(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The catalog's input modality an attachment needs: `image`, or `file` for PDFs (§7.2).
pub fn modality(a: &Attachment) -> &'static str {
    if a.mime.starts_with("image/") { "image" } else { "file" }
}

/// Prompt tokens the attachments probably add (see [`IMAGE_TOKENS_ESTIMATE`]; a PDF is taken
/// at one token per 8 bytes, as its text is a fraction of the file).
pub fn estimate_tokens(attachments: &[Attachment]) -> u64 {
    attachments.iter().map(|a| if modality(a) == "image" { IMAGE_TOKENS_ESTIMATE } else { a.bytes.div_ceil(8) }).sum()
}

/// The file as a `data:` URL, read now; an error when it changed or went away since attached.
pub fn data_url(a: &Attachment) -> Result<String, String> {
    let bytes = std::fs::read(&a.path).map_err(|e| format!("{} can no longer be read: {e}", a.name))?;
    if fingerprint(&bytes) != a.fingerprint {
        return Err(format!("{} changed since it was attached", a.name));
    }
    Ok(format!("data:{};base64,{}", a.mime, base64::engine::general_purpose::STANDARD.encode(&bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_checked_by_content_and_size() {
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("dot.txt");
        std::fs::write(&png, b"\x89PNG\r\n\x1a\nrest").unwrap();
        let a = load(&png).unwrap();
        assert_eq!((a.mime.as_str(), a.name.as_str(), modality(&a)), ("image/png", "dot.txt", "image"));
        assert!(data_url(&a).unwrap().starts_with("data:image/png;base64,iVBORw0K"));
        std::fs::write(&png, b"\x89PNG\r\n\x1a\nchanged").unwrap();
        assert!(data_url(&a).unwrap_err().contains("changed since"));
        let text = dir.path().join("notes.png");
        std::fs::write(&text, b"just text").unwrap();
        assert!(load(&text).unwrap_err().contains("only PNG, JPEG, WebP, GIF images and PDFs"));
        let big = dir.path().join("big.png");
        let mut bytes = b"\x89PNG".to_vec();
        bytes.resize((MAX_IMAGE_BYTES + 1) as usize, 0);
        std::fs::write(&big, bytes).unwrap();
        assert!(load(&big).unwrap_err().contains("KiB sent"));
        assert!(load(&dir.path().join("missing.pdf")).unwrap_err().starts_with("Cannot attach"));
    }
}
