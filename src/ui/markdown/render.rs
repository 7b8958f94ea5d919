//! Renders one block of markdown into styled lines: walks pulldown-cmark events, keeps a stack of
//! containers (quotes, list items) that prefix each line, collects inline text and lays it out.

use std::cell::Cell;

use pulldown_cmark::{BrokenLink, CodeBlockKind, CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::code::{self, CodeHighlight};
use super::refs::Refs;
use super::table::Table;
use super::wrap::{Inline, fit_prefix, max_prefix, push_span, str_width, wrap};
use crate::ui::theme::MarkdownStyle;

/// The markdown dialect: CommonMark plus GitHub tables, strikethrough and task lists.
pub(crate) const OPTIONS: Options =
    Options::ENABLE_TABLES.union(Options::ENABLE_STRIKETHROUGH).union(Options::ENABLE_TASKLISTS);

const BULLETS: [&str; 3] = ["•", "◦", "▪"];
const QUOTE_BAR: &str = "│ ";

/// A rendered block.
pub(crate) struct Rendered {
    pub lines: Vec<Line<'static>>,
    /// A link label was looked up in the message-wide map, so the block depends on it.
    pub uses_refs: bool,
}

/// Renders `src` at `width` (≥ 1) columns. `memo` keeps code highlighting between renders of a
/// growing block: its entries are matched to the block's code blocks by position.
pub(crate) fn render(
    src: &str,
    width: usize,
    st: &MarkdownStyle,
    refs: Refs<'_>,
    memo: &mut Vec<CodeHighlight>,
) -> Rendered {
    let used = Cell::new(false);
    let callback = |link: BrokenLink<'_>| {
        used.set(true);
        refs.get(&link.reference).map(|(dest, title)| (CowStr::from(dest), CowStr::from(title)))
    };
    let parser = Parser::new_with_broken_link_callback(src, OPTIONS, Some(callback));
    let mut walker = Walker::new(width.max(1), st, memo);
    for event in parser {
        walker.event(event);
    }
    walker.flush_inline();
    Rendered { lines: walker.out, uses_refs: used.get() }
}

enum Container {
    Quote,
    Item { marker: String, width: usize },
}

struct Link {
    dest: String,
    text_start: usize,
    image: bool,
}

struct Walker<'a> {
    width: usize,
    st: &'a MarkdownStyle,
    out: Vec<Line<'static>>,
    containers: Vec<Container>,
    /// Containers below this index have shown their first line (list markers are drawn once).
    marked: usize,
    /// How many list items are open (the bullet shape follows the depth).
    items: usize,
    /// Per open list: the next item number (ordered) or `None` (bullets).
    lists: Vec<Option<u64>>,
    /// A blank line is due before the next content, prefixed as inside this many containers
    /// (those open when the block before it ended).
    pending_blank: Option<usize>,
    inline: Inline,
    styles: Vec<Style>,
    links: Vec<Link>,
    code: Option<(Option<String>, String)>,
    html: Option<String>,
    table: Option<Table>,
    row: Vec<Inline>,
    memo: &'a mut Vec<CodeHighlight>,
    code_index: usize,
}

impl<'a> Walker<'a> {
    fn new(width: usize, st: &'a MarkdownStyle, memo: &'a mut Vec<CodeHighlight>) -> Self {
        Self {
            width,
            st,
            out: Vec::new(),
            containers: Vec::new(),
            marked: 0,
            items: 0,
            lists: Vec::new(),
            pending_blank: None,
            inline: Inline::default(),
            styles: vec![st.text],
            links: Vec::new(),
            code: None,
            html: None,
            table: None,
            row: Vec::new(),
            memo,
            code_index: 0,
        }
    }

    fn style(&self) -> Style {
        self.styles.last().copied().unwrap_or(self.st.text)
    }

    fn push_style(&mut self, patch: Style) {
        self.styles.push(self.style().patch(patch));
    }

    fn pop_style(&mut self) {
        if self.styles.len() > 1 {
            self.styles.pop();
        }
    }

    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(t) => self.text(&t),
            Event::Code(t) => {
                let style = self.style().patch(self.st.code_inline);
                if self.st.code_in_ticks() {
                    self.inline.push(&format!("`{t}`"), style);
                } else {
                    self.inline.push(&t, style);
                }
            }
            Event::Html(t) => self.text(&t),
            // Models put `<br>` in table cells for line breaks; other HTML shows as written.
            Event::InlineHtml(t) if is_br(&t) => self.inline.hard_break(),
            Event::InlineHtml(t) | Event::InlineMath(t) | Event::DisplayMath(t) => self.inline.push(&t, self.style()),
            Event::FootnoteReference(label) => self.inline.push(&format!("[^{label}]"), self.style()),
            Event::SoftBreak => self.inline.push(" ", self.style()),
            Event::HardBreak => self.inline.hard_break(),
            Event::Rule => {
                self.flush_inline();
                let (prefix, pw) = fit_prefix(self.prefix(true), self.width);
                let rule = vec![Span::styled("─".repeat(self.width - pw), self.st.rule)];
                self.emit(vec![rule], prefix);
                self.blank_after();
            }
            Event::TaskListMarker(done) => {
                if let Some(Container::Item { marker, width, .. }) =
                    self.containers.iter_mut().rev().find(|c| matches!(c, Container::Item { .. }))
                {
                    *marker = if done { "[x] " } else { "[ ] " }.to_string();
                    *width = 4;
                }
            }
        }
    }

    fn text(&mut self, t: &str) {
        if let Some((_, code)) = &mut self.code {
            code.push_str(t);
        } else if let Some(html) = &mut self.html {
            html.push_str(t);
        } else {
            self.inline.push(t, self.style());
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Emphasis => self.push_style(self.st.emphasis),
            Tag::Strong => self.push_style(self.st.strong),
            Tag::Strikethrough => self.push_style(self.st.strikethrough),
            Tag::Superscript | Tag::Subscript => self.push_style(Style::default()),
            Tag::Link { dest_url, .. } => {
                self.push_style(self.st.link);
                self.links.push(Link {
                    dest: dest_url.to_string(),
                    text_start: self.inline.text().len(),
                    image: false,
                });
            }
            Tag::Image { dest_url, .. } => {
                self.push_style(self.st.link);
                self.inline.push("[image: ", self.style());
                self.links.push(Link { dest: dest_url.to_string(), text_start: self.inline.text().len(), image: true });
            }
            Tag::TableCell => self.inline = Inline::default(),
            Tag::TableHead => {
                self.row.clear();
                self.push_style(self.st.table_header);
            }
            Tag::TableRow => self.row.clear(),
            block => {
                self.flush_inline();
                self.start_block(block);
            }
        }
    }

    fn start_block(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Heading { level, .. } => {
                let (n, i) = heading_index(level);
                self.push_style(self.st.heading[i]);
                self.inline.push(&format!("{} ", "#".repeat(n)), self.style());
            }
            Tag::BlockQuote(_) => {
                self.containers.push(Container::Quote);
                self.push_style(self.st.quote);
            }
            Tag::CodeBlock(kind) => {
                let lang = match kind {
                    CodeBlockKind::Fenced(info) => code::lang_of(&info),
                    CodeBlockKind::Indented => None,
                };
                self.code = Some((lang, String::new()));
            }
            Tag::HtmlBlock => self.html = Some(String::new()),
            Tag::List(start) => self.lists.push(start),
            Tag::Item => {
                let depth = self.items;
                self.items += 1;
                let marker = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        let m = format!("{n}. ");
                        *n = n.saturating_add(1);
                        m
                    }
                    _ => format!("{} ", BULLETS[depth % BULLETS.len()]),
                };
                let width = str_width(&marker);
                self.containers.push(Container::Item { marker, width });
            }
            Tag::Table(aligns) => self.table = Some(Table { aligns, ..Table::default() }),
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Emphasis | TagEnd::Strong | TagEnd::Strikethrough | TagEnd::Superscript | TagEnd::Subscript => {
                self.pop_style();
            }
            TagEnd::Link | TagEnd::Image => self.end_link(),
            TagEnd::TableCell => self.row.push(std::mem::take(&mut self.inline)),
            TagEnd::TableHead | TagEnd::TableRow => {
                if matches!(tag, TagEnd::TableHead) {
                    self.pop_style();
                }
                if let Some(table) = &mut self.table {
                    table.rows.push(std::mem::take(&mut self.row));
                    if matches!(tag, TagEnd::TableHead) {
                        table.header_rows = table.rows.len();
                    }
                }
            }
            block => {
                self.flush_inline();
                self.end_block(block);
            }
        }
    }

    fn end_block(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph => self.blank_after(),
            TagEnd::Heading(_) | TagEnd::BlockQuote(_) => {
                if matches!(tag, TagEnd::BlockQuote(_)) {
                    self.pop_container();
                }
                self.pop_style();
                self.blank_after();
            }
            TagEnd::CodeBlock => {
                if let Some((lang, text)) = self.code.take() {
                    let (prefix, pw) = fit_prefix(self.prefix(true), self.width);
                    if self.memo.len() <= self.code_index {
                        self.memo.resize_with(self.code_index + 1, CodeHighlight::default);
                    }
                    let cache = &mut self.memo[self.code_index];
                    self.code_index += 1;
                    let lines = code::render_block(lang.as_deref(), &text, self.width - pw, self.st, cache);
                    self.emit(lines.into_iter().map(|l| l.spans).collect(), prefix);
                }
                self.blank_after();
            }
            TagEnd::HtmlBlock => {
                if let Some(html) = self.html.take() {
                    let (prefix, pw) = fit_prefix(self.prefix(true), self.width);
                    let mut rows = Vec::new();
                    for line in html.lines() {
                        let mut inline = Inline::default();
                        inline.push(line, self.style().patch(self.st.link_url));
                        rows.extend(wrap(&inline, self.width - pw));
                    }
                    self.emit(rows, prefix);
                }
                self.blank_after();
            }
            TagEnd::List(_) => {
                self.lists.pop();
                // A nested list ends inside its item; only a list's own end spaces it out.
                if self.items == 0 {
                    self.blank_after();
                }
            }
            TagEnd::Item => {
                if self.marked < self.containers.len() {
                    // An empty item still shows its marker.
                    let (prefix, _) = fit_prefix(self.prefix(true), self.width);
                    self.emit(vec![Vec::new()], prefix);
                }
                self.pop_container();
                self.items = self.items.saturating_sub(1);
            }
            TagEnd::Table => {
                if let Some(table) = self.table.take() {
                    let (prefix, pw) = fit_prefix(self.prefix(true), self.width);
                    let lines = table.render(self.width - pw, self.st);
                    self.emit(lines.into_iter().map(|l| l.spans).collect(), prefix);
                }
                self.blank_after();
            }
            _ => {}
        }
    }

    fn end_link(&mut self) {
        self.pop_style();
        let Some(link) = self.links.pop() else { return };
        let shown = self.inline.text().get(link.text_start..).unwrap_or_default().trim().to_string();
        if link.image {
            self.inline.push("]", self.style().patch(self.st.link));
        }
        let dest = link.dest.trim();
        let redundant = dest == shown || dest.strip_prefix("mailto:") == Some(shown.as_str());
        if !dest.is_empty() && !redundant && !dest.starts_with('#') {
            self.inline.push(&format!(" ({dest})"), self.style().patch(self.st.link_url));
        }
    }

    /// The line prefix from the containers: quote bars, and list markers on an item's first line
    /// (`first`) or its hanging indent.
    fn prefix(&self, first: bool) -> Vec<Span<'static>> {
        self.prefix_upto(self.containers.len(), first)
    }

    fn prefix_upto(&self, depth: usize, first: bool) -> Vec<Span<'static>> {
        // Only the innermost containers that can be shown are built (`fit_prefix` clips the
        // rest), so deep nesting costs per line what fits on the line, not the depth.
        let budget = max_prefix(self.width);
        let mut start = depth.min(self.containers.len());
        let mut total = 0;
        while start > 0 && total <= budget {
            start -= 1;
            total += match &self.containers[start] {
                Container::Quote => str_width(QUOTE_BAR),
                Container::Item { width, .. } => *width,
            };
        }
        let mut spans = Vec::new();
        for (i, c) in self.containers.iter().enumerate().take(depth).skip(start) {
            match c {
                Container::Quote => push_span(&mut spans, QUOTE_BAR, self.st.quote),
                Container::Item { marker, .. } if first && i >= self.marked => {
                    push_span(&mut spans, marker, self.st.list_marker);
                }
                Container::Item { width, .. } => push_span(&mut spans, &" ".repeat(*width), self.st.text),
            }
        }
        spans
    }

    fn pop_container(&mut self) {
        self.containers.pop();
        self.marked = self.marked.min(self.containers.len());
    }

    /// Asks for a blank line before whatever comes next. One already due and not yet drawn
    /// keeps its depth when shallower: a block that drew nothing (an empty code block at the
    /// start of a quote) must not turn the blank before the quote into one of its own, which
    /// rendering the quote as a block of its own would not draw.
    fn blank_after(&mut self) {
        let depth = self.containers.len();
        self.pending_blank = Some(self.pending_blank.map_or(depth, |due| due.min(depth)));
    }

    /// Lays out the collected inline text as one paragraph.
    fn flush_inline(&mut self) {
        let inline = std::mem::take(&mut self.inline);
        if inline.is_blank() {
            return;
        }
        let (prefix, pw) = fit_prefix(self.prefix(true), self.width);
        let rows = wrap(&inline, self.width - pw);
        self.emit(rows, prefix);
    }

    /// Pushes content rows behind the container prefix (`first` for the first row), after a
    /// separating blank line if one is due.
    fn emit(&mut self, rows: Vec<Vec<Span<'static>>>, first: Vec<Span<'static>>) {
        if rows.is_empty() {
            return;
        }
        if let Some(depth) = self.pending_blank.take()
            && !self.out.is_empty()
        {
            let (mut blank, _) = fit_prefix(self.prefix_upto(depth, false), self.width);
            trim_end(&mut blank);
            self.out.push(Line::from(blank));
        }
        let (rest, _) = fit_prefix(self.prefix(false), self.width);
        for (i, row) in rows.into_iter().enumerate() {
            let mut spans = if i == 0 { first.clone() } else { rest.clone() };
            spans.extend(row);
            self.out.push(Line::from(spans));
        }
        self.marked = self.containers.len();
    }
}

fn is_br(html: &str) -> bool {
    let tag: String = html.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_lowercase();
    matches!(tag.as_str(), "<br>" | "<br/>")
}

fn heading_index(level: HeadingLevel) -> (usize, usize) {
    let n = level as usize;
    (n, n.clamp(1, 3) - 1)
}

/// Drops trailing spaces (a blank line inside a quote keeps only its bars).
fn trim_end(spans: &mut Vec<Span<'static>>) {
    while let Some(last) = spans.last_mut() {
        let trimmed = last.content.trim_end().len();
        if trimmed == 0 {
            spans.pop();
        } else {
            last.content.to_mut().truncate(trimmed);
            break;
        }
    }
}
