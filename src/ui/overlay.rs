//! Popups drawn over the room: the help overlay (keys and commands), the `/` command palette
//! above the input, and the model picker.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::present;
use crate::ui::app::App;
use crate::ui::commands::{self, COMMANDS};
use crate::ui::draw::{centered, popup};
use crate::ui::keymap::help_rows;
use crate::ui::picker::Picker;
use crate::ui::theme::Theme;

pub fn help(frame: &mut Frame<'_>, area: Rect, app: &App, scroll: u16) {
    let rect = centered(area, 94, area.height.saturating_sub(4));
    let inner = popup(frame, rect, "Help · any key closes · ↑/↓ scroll", &app.services.theme);
    let ui = &app.services.theme.ui;
    let key_style = Style::default().fg(ui.accent).add_modifier(Modifier::BOLD);
    let mut lines = vec![Line::from(Span::styled("Keys", Style::default().add_modifier(Modifier::BOLD)))];
    // The same rows as the README's keys table (keymap::help_rows), then how to send, then the
    // commands, in one column layout.
    let commands: Vec<(String, &str)> =
        COMMANDS.iter().map(|c| (format!("/{} {}", c.name, c.args).trim_end().to_string(), c.help)).collect();
    let sending: Vec<(String, &str)> =
        crate::ui::commands::SEND_FORMS.iter().map(|(form, help)| (form.to_string(), *help)).collect();
    let sections = [("", help_rows(&app.services.keymap)), ("Sending", sending), ("Commands", commands)];
    let widest = sections.iter().flat_map(|(_, rows)| rows).map(|(k, _)| k.chars().count()).max().unwrap_or(0);
    let key_w = widest.min(usize::from(inner.width) / 3);
    let help_w = inner.width.saturating_sub(key_w as u16 + 2).max(1);
    let indent = " ".repeat(key_w + 2);
    for (title, rows) in &sections {
        if !title.is_empty() {
            lines.push(Line::default());
            lines.push(Line::from(Span::styled(*title, Style::default().add_modifier(Modifier::BOLD))));
        }
        for (keys, help) in rows {
            // Keys too long for the column get a line of their own; the help wraps, never cut.
            let mut help_lines = crate::ui::wrap::plain(help, help_w, Style::default()).into_iter();
            let first = help_lines.next().unwrap_or_default();
            if keys.chars().count() > key_w {
                lines.push(Line::from(Span::styled(keys.clone(), key_style)));
                lines.push(Line::from([vec![Span::raw(indent.clone())], first.spans].concat()));
            } else {
                lines.push(Line::from(
                    [vec![Span::styled(format!("{keys:>key_w$}  "), key_style)], first.spans].concat(),
                ));
            }
            for more in help_lines {
                lines.push(Line::from([vec![Span::raw(indent.clone())], more.spans].concat()));
            }
        }
    }
    lines.push(Line::default());
    lines.extend(crate::ui::wrap::plain(
        "Keys can be changed in the [ui.keys] table of the config file (roundtable paths shows where).",
        inner.width,
        Style::default().fg(ui.dim),
    ));
    let max_scroll = (lines.len() as u16).saturating_sub(inner.height);
    frame.render_widget(Paragraph::new(lines).scroll((scroll.min(max_scroll), 0)), inner);
}

pub fn palette(frame: &mut Frame<'_>, input: Rect, app: &App) {
    let matches = commands::completions(app.chrome.input.first_line());
    if matches.is_empty() {
        return;
    }
    let w = input.width.min(100);
    let selected = app.chrome.palette_index.min(matches.len() - 1);
    let ui = &app.services.theme.ui;
    // Columns as wide as the longest name and arguments listed (arguments up to a limit, cut
    // beyond it), so every description starts in the same column.
    let name_w = matches.iter().map(|c| c.name.chars().count() + 1).max().unwrap_or(0);
    let args_w = matches.iter().map(|c| c.args.chars().count()).max().unwrap_or(0).min(PALETTE_ARGS_MAX);
    // Rows cut their arguments and help to the popup; the selected command's whole text
    // follows underneath when its row had to cut it.
    let row_help_room = usize::from(w.saturating_sub(2)).saturating_sub(1 + name_w + 1 + args_w + 1);
    let chosen = matches[selected];
    let detail = if chosen.help.chars().count() > row_help_room || chosen.args.chars().count() > args_w {
        let text = format!("/{} {}: {}", chosen.name, chosen.args, chosen.help);
        crate::ui::wrap::plain(&text, w.saturating_sub(2), Style::default().fg(ui.fg))
    } else {
        Vec::new()
    };
    let wanted = matches.len() as u16 + detail.len() as u16 + 2;
    let h = wanted.min(input.y).min(12 + detail.len() as u16);
    if h < 3 {
        return;
    }
    let rect = Rect { x: input.x, y: input.y - h, width: w, height: h };
    let inner = popup(frame, rect, "Commands · Tab completes · Enter runs", &app.services.theme);
    // The help comes first when space is short: it is what the user is reading.
    let detail_h = (detail.len() as u16).min(inner.height.saturating_sub(1));
    let list = Rect { height: inner.height - detail_h, ..inner };
    // Keep the selection visible when the list is longer than the popup.
    let first = selected.saturating_sub(usize::from(list.height).saturating_sub(1));
    let lines: Vec<Line> = matches
        .iter()
        .enumerate()
        .skip(first)
        .map(|(i, c)| {
            let style = if i == selected { Style::default().bg(ui.selection_bg).fg(ui.fg) } else { Style::default() };
            Line::from(vec![
                Span::styled(format!("/{:<name_w$}", c.name), style.add_modifier(Modifier::BOLD)),
                Span::styled(format!(" {:<args_w$}", cut_end(c.args, args_w)), style.fg(ui.dim)),
                Span::styled(format!(" {}", cut_end(c.help, row_help_room)), style),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), list);
    if detail_h > 0 {
        let at = Rect { y: list.bottom(), height: detail_h, ..inner };
        frame.render_widget(Paragraph::new(detail), at);
    }
}

/// Widest argument column of the command palette: the few commands with long argument lists
/// are cut there (the selected one's whole text shows under the list).
const PALETTE_ARGS_MAX: usize = 22;

/// `text` within `max` columns, ending in `…` when cut.
fn cut_end(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

pub fn picker(frame: &mut Frame<'_>, area: Rect, p: &Picker, theme: &Theme) {
    let rect = centered(area, 100, area.height.saturating_sub(4).max(8));
    let title = format!("Add a model · {} of {} · {} · ● in the room", p.rows.len(), p.total, p.filter_summary());
    let inner = popup(frame, rect, &title, theme);
    if inner.height < 3 {
        return;
    }
    let ui = &theme.ui;
    let search = Line::from(vec![
        Span::styled("Search: ", Style::default().fg(ui.accent)),
        Span::raw(p.query.clone()),
        Span::styled("▏", Style::default().fg(ui.accent)),
    ]);
    frame.render_widget(Paragraph::new(search), Rect { height: 1, ..inner });
    let full = "Enter add · Ctrl+F free · Ctrl+T tools · Ctrl+K min context · Ctrl+P max price · Ctrl+S sort · Esc";
    // Narrow popups name the filter keys together rather than cut the sort key off.
    let keys = if full.chars().count() <= usize::from(inner.width) {
        full
    } else {
        "Enter add · Ctrl+F/T/K/P free, tools, context, price · Ctrl+S sort · Esc"
    };
    let hint_area = Rect { y: inner.bottom() - 1, height: 1, ..inner };
    frame.render_widget(Paragraph::new(Span::styled(keys, Style::default().fg(ui.dim))), hint_area);
    // The selected model's description under the list, when there is room for it.
    let description = p
        .rows
        .get(p.selected)
        .filter(|r| !r.description.is_empty() && inner.height >= 9)
        .map(|r| crate::ui::wrap::plain(&r.description, inner.width, Style::default().fg(ui.dim)))
        .unwrap_or_default();
    let desc_h = (description.len() as u16).min((inner.height - 3) / 3);
    if desc_h > 0 {
        let at = Rect { y: hint_area.y - desc_h, height: desc_h, ..inner };
        frame.render_widget(Paragraph::new(description), at);
    }
    let list = Rect { y: inner.y + 1, height: inner.height - 2 - desc_h, ..inner };
    let rows = usize::from(list.height);
    let first = p.selected.saturating_sub(rows.saturating_sub(1));
    let id_w = usize::from(list.width).saturating_sub(38).clamp(10, 60);
    let lines: Vec<Line> = p
        .rows
        .iter()
        .enumerate()
        .skip(first)
        .take(rows)
        .map(|(i, r)| {
            let style = if i == p.selected { Style::default().bg(ui.selection_bg).fg(ui.fg) } else { Style::default() };
            let price = if r.free {
                "free".to_string()
            } else {
                match (r.prompt_per_m, r.completion_per_m) {
                    (Some(a), Some(b)) => format!("${}/${} per M", a.normalize(), b.normalize()),
                    _ => "variable".to_string(),
                }
            };
            let ctx = r.context.map(|c| format!("{} ctx", present::tokens(c))).unwrap_or_default();
            let mark = if r.in_room { "● " } else { "  " };
            Line::from(vec![
                Span::styled(mark, style.fg(ui.success)),
                Span::styled(format!("{:<id_w$}", present::shorten(&r.id, id_w)), style.add_modifier(Modifier::BOLD)),
                Span::styled(format!(" {ctx:>9}"), style.fg(ui.dim)),
                Span::styled(format!(" {price:>18}"), style),
                Span::styled(if r.tools { " tools" } else { "      " }, style.fg(ui.accent)),
            ])
        })
        .collect();
    let body = if lines.is_empty() {
        vec![Line::from(Span::styled(
            "No model matches. Enter adds the typed id as is (for local servers); Esc closes.",
            Style::default().fg(ui.dim),
        ))]
    } else {
        lines
    };
    frame.render_widget(Paragraph::new(body), list);
}
