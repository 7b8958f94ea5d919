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
use crate::ui::keymap::ACTIONS;
use crate::ui::picker::Picker;
use crate::ui::theme::Theme;

pub fn help(frame: &mut Frame<'_>, area: Rect, app: &App, scroll: u16) {
    let rect = centered(area, 86, area.height.saturating_sub(4));
    let inner = popup(frame, rect, "Help · any key closes · ↑/↓ scroll", &app.theme);
    let ui = &app.theme.ui;
    let key_style = Style::default().fg(ui.accent).add_modifier(Modifier::BOLD);
    let mut lines = vec![Line::from(Span::styled("Keys", Style::default().add_modifier(Modifier::BOLD)))];
    for (_, action, _, help) in ACTIONS {
        let keys = app.keymap.keys_for(*action).join(", ");
        lines.push(Line::from(vec![Span::styled(format!("{keys:>22}  "), key_style), Span::raw(*help)]));
    }
    lines.push(Line::from(vec![
        Span::styled(format!("{:>22}  ", "wheel / click"), key_style),
        Span::raw("scroll the pane under the mouse / focus it"),
    ]));
    lines.push(Line::default());
    lines.push(Line::from(Span::styled("Sending", Style::default().add_modifier(Modifier::BOLD))));
    for (form, help) in crate::ui::commands::SEND_FORMS {
        lines.push(Line::from(vec![Span::styled(format!("{form:>22}  "), key_style), Span::raw(*help)]));
    }
    lines.push(Line::default());
    lines.push(Line::from(Span::styled("Commands", Style::default().add_modifier(Modifier::BOLD))));
    for c in COMMANDS {
        lines.push(Line::from(vec![
            Span::styled(format!("{:>22}  ", format!("/{} {}", c.name, c.args).trim_end()), key_style),
            Span::raw(c.help),
        ]));
    }
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(
        "Keys can be changed in the [ui.keys] table of the config file (roundtable paths shows where).",
        Style::default().fg(ui.dim),
    )));
    let max_scroll = (lines.len() as u16).saturating_sub(inner.height);
    frame.render_widget(Paragraph::new(lines).scroll((scroll.min(max_scroll), 0)), inner);
}

pub fn palette(frame: &mut Frame<'_>, input: Rect, app: &App) {
    let matches = commands::completions(app.input.first_line());
    if matches.is_empty() {
        return;
    }
    let h = (matches.len() as u16 + 2).min(input.y).min(12);
    if h < 3 {
        return;
    }
    let w = input.width.min(72);
    let rect = Rect { x: input.x, y: input.y - h, width: w, height: h };
    let inner = popup(frame, rect, "Commands · Tab completes · Enter runs", &app.theme);
    let ui = &app.theme.ui;
    let selected = app.palette_index.min(matches.len() - 1);
    // Keep the selection visible when the list is longer than the popup.
    let first = selected.saturating_sub(usize::from(inner.height).saturating_sub(1));
    let lines: Vec<Line> = matches
        .iter()
        .enumerate()
        .skip(first)
        .map(|(i, c)| {
            let style = if i == selected { Style::default().bg(ui.selection_bg).fg(ui.fg) } else { Style::default() };
            Line::from(vec![
                Span::styled(format!("/{:<8}", c.name), style.add_modifier(Modifier::BOLD)),
                Span::styled(format!(" {:<16}", c.args), style.fg(ui.dim)),
                Span::styled(format!(" {}", c.help), style),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

pub fn picker(frame: &mut Frame<'_>, area: Rect, p: &Picker, theme: &Theme) {
    let rect = centered(area, 100, area.height.saturating_sub(4).max(8));
    let title = format!("Add a model · {} of {} · {}", p.rows.len(), p.total, p.filter_summary());
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
    let keys = "Enter add · Ctrl+F free · Ctrl+T tools · Ctrl+K min context · Ctrl+P max price · Esc close";
    let hint_area = Rect { y: inner.bottom() - 1, height: 1, ..inner };
    frame.render_widget(Paragraph::new(Span::styled(keys, Style::default().fg(ui.dim))), hint_area);
    let list = Rect { y: inner.y + 1, height: inner.height - 2, ..inner };
    let rows = usize::from(list.height);
    let first = p.selected.saturating_sub(rows.saturating_sub(1));
    let id_w = usize::from(list.width).saturating_sub(36).clamp(10, 60);
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
            Line::from(vec![
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
