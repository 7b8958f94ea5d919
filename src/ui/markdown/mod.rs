//! Incremental markdown rendering of one message into wrapped ratatui lines, with
//! syntect-highlighted fenced code. A delta costs work proportional to the new text only.
//!
//! CONTRACT STUB: the public API below is what the chatroom uses; the implementation is a
//! placeholder (plain text, no markdown) until the renderer lands.

use ratatui::style::Style;
use ratatui::text::{Line, Span};

use crate::ui::theme::MarkdownStyle;

/// A fenced code block of a message, for "copy the Nth code block".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeBlock {
    pub lang: Option<String>,
    pub code: String,
}

/// One message's markdown, fed by deltas, rendered at a width on demand with caches.
#[derive(Debug, Default)]
pub struct MarkdownView {
    text: String,
    rendered: Vec<Line<'static>>,
    rendered_width: u16,
    rendered_len: usize,
}

impl MarkdownView {
    pub fn new() -> Self {
        Self::default()
    }

    /// A view holding `text` already (a stored message).
    pub fn from_text(text: &str) -> Self {
        let mut view = Self::new();
        view.push_str(text);
        view
    }

    /// Appends raw model text. Terminal control sequences are stripped here, robustly to a
    /// sequence split across two deltas.
    pub fn push_str(&mut self, delta: &str) {
        self.text.push_str(&crate::core::sanitize::strip_controls(delta));
    }

    /// The sanitized source text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The message rendered at `width` columns (every line at most `width` display columns).
    /// Cached: calling again with no new text and the same width and style does no work.
    pub fn lines(&mut self, width: u16, _style: &MarkdownStyle) -> &[Line<'static>] {
        if width != self.rendered_width || self.rendered_len != self.text.len() {
            self.rendered =
                self.text.lines().map(|l| Line::from(Span::styled(l.to_string(), Style::default()))).collect();
            self.rendered_width = width;
            self.rendered_len = self.text.len();
        }
        &self.rendered
    }

    /// Number of rendered lines at `width` (renders if needed).
    pub fn height(&mut self, width: u16, style: &MarkdownStyle) -> usize {
        self.lines(width, style).len()
    }

    /// The fenced code blocks, in order.
    pub fn code_blocks(&self) -> Vec<CodeBlock> {
        Vec::new()
    }
}
