//! The model picker popup: fuzzy search over the catalog (nucleo's matcher) with filters (free
//! only, tools, minimum context, maximum price) and sorts (best match, price, context, newest),
//! showing price, context, the selected model's description and which models are already in the
//! room; Enter adds the model.

use std::collections::HashSet;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use nucleo_matcher::pattern::{CaseMatching, Normalization, Pattern};
use nucleo_matcher::{Config, Matcher, Utf32Str};
use rust_decimal::Decimal;

use crate::core::catalog::{Catalog, ModelInfo};

/// One row of the list.
#[derive(Debug, Clone, PartialEq)]
pub struct PickerRow {
    pub id: String,
    pub name: String,
    pub context: Option<u64>,
    /// USD per million prompt / completion tokens.
    pub prompt_per_m: Option<Decimal>,
    pub completion_per_m: Option<Decimal>,
    pub free: bool,
    pub tools: bool,
    /// A pane of the room already shows this model.
    pub in_room: bool,
    /// The catalog's description, control characters stripped.
    pub description: String,
    created: Option<i64>,
}

/// The order of the rows; Ctrl+S cycles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PickerSort {
    /// Best fuzzy match first (by id with an empty query).
    #[default]
    Match,
    /// Cheapest prompt price first.
    Price,
    /// Largest context first.
    Context,
    /// Most recently added first.
    Newest,
}

impl PickerSort {
    fn next(self) -> PickerSort {
        match self {
            PickerSort::Match => PickerSort::Price,
            PickerSort::Price => PickerSort::Context,
            PickerSort::Context => PickerSort::Newest,
            PickerSort::Newest => PickerSort::Match,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PickerSort::Match => "best match",
            PickerSort::Price => "price",
            PickerSort::Context => "context",
            PickerSort::Newest => "newest",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filters {
    pub free_only: bool,
    pub tools_only: bool,
    pub min_context: Option<u64>,
    /// Maximum USD per million prompt tokens.
    pub max_price: Option<Decimal>,
}

pub enum PickerOutcome {
    Stay,
    Close,
    Add(String),
}

pub struct Picker {
    pub query: String,
    pub filters: Filters,
    pub sort: PickerSort,
    pub rows: Vec<PickerRow>,
    pub selected: usize,
    pub total: usize,
    in_room: HashSet<String>,
    matcher: Matcher,
}

const CONTEXT_STEPS: [Option<u64>; 5] = [None, Some(32_000), Some(128_000), Some(200_000), Some(1_000_000)];
const PRICE_STEPS: [Option<i64>; 5] = [None, Some(10), Some(3), Some(1), Some(0)];

impl Picker {
    pub fn new(catalog: Option<&Catalog>) -> Picker {
        let mut p = Picker {
            query: String::new(),
            filters: Filters::default(),
            sort: PickerSort::default(),
            rows: Vec::new(),
            selected: 0,
            total: 0,
            in_room: HashSet::new(),
            matcher: Matcher::new(Config::DEFAULT),
        };
        p.refresh(catalog);
        p
    }

    /// Mark the models the room's panes already show.
    pub fn with_room(mut self, models: impl IntoIterator<Item = String>) -> Picker {
        self.in_room = models.into_iter().collect();
        for row in &mut self.rows {
            row.in_room = self.in_room.contains(&row.id);
        }
        self
    }

    pub fn type_str(&mut self, s: &str) {
        self.query.push_str(s);
        self.selected = 0;
    }

    pub fn key(&mut self, key: KeyEvent, catalog: Option<&Catalog>) -> PickerOutcome {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Esc => return PickerOutcome::Close,
            KeyCode::Enter => {
                return match self.rows.get(self.selected) {
                    Some(row) => PickerOutcome::Add(row.id.clone()),
                    // A model id typed in full that the catalog does not list (local servers).
                    None if !self.query.trim().is_empty() => PickerOutcome::Add(self.query.trim().to_string()),
                    None => PickerOutcome::Stay,
                };
            }
            KeyCode::Up => self.selected = self.selected.saturating_sub(1),
            KeyCode::Down => self.selected = (self.selected + 1).min(self.rows.len().saturating_sub(1)),
            KeyCode::PageUp => self.selected = self.selected.saturating_sub(10),
            KeyCode::PageDown => self.selected = (self.selected + 10).min(self.rows.len().saturating_sub(1)),
            KeyCode::Char('f') if ctrl => self.filters.free_only = !self.filters.free_only,
            KeyCode::Char('t') if ctrl => self.filters.tools_only = !self.filters.tools_only,
            KeyCode::Char('k') if ctrl => {
                self.filters.min_context = next_step(&CONTEXT_STEPS, self.filters.min_context)
            }
            KeyCode::Char('p') if ctrl => {
                let steps: Vec<Option<Decimal>> = PRICE_STEPS.iter().map(|s| s.map(Decimal::from)).collect();
                self.filters.max_price = next_step(&steps, self.filters.max_price);
            }
            KeyCode::Char('s') if ctrl => self.sort = self.sort.next(),
            KeyCode::Backspace => {
                self.query.pop();
            }
            KeyCode::Char(c) if !ctrl => self.type_str(&c.to_string()),
            _ => return PickerOutcome::Stay,
        }
        self.refresh(catalog);
        PickerOutcome::Stay
    }

    /// Recompute the rows for the query, filters and sort.
    pub fn refresh(&mut self, catalog: Option<&Catalog>) {
        let Some(catalog) = catalog else {
            self.rows.clear();
            return;
        };
        self.total = catalog.models.len();
        let pattern = Pattern::parse(self.query.trim(), CaseMatching::Ignore, Normalization::Smart);
        let mut buf = Vec::new();
        let mut scored: Vec<(u32, &ModelInfo)> = Vec::new();
        let filters = self.filters.clone();
        for m in catalog.models.iter().filter(|m| passes(&filters, m)) {
            if pattern.atoms.is_empty() {
                scored.push((0, m));
                continue;
            }
            let by_id = pattern.score(Utf32Str::new(&m.id, &mut buf), &mut self.matcher);
            // The display name counts a little less than the id typed into `-m`.
            let by_name = pattern.score(Utf32Str::new(&m.name, &mut buf), &mut self.matcher).map(|s| s * 9 / 10);
            if let Some(score) = by_id.max(by_name) {
                scored.push((score, m));
            }
        }
        let price = |m: &ModelInfo| m.pricing.prompt_per_million().filter(|p| !p.is_sign_negative());
        scored.sort_by(|(sa, a), (sb, b)| {
            let by_sort = match self.sort {
                PickerSort::Match => sb.cmp(sa),
                // Unknown prices last, then cheapest first.
                PickerSort::Price => price(a).is_none().cmp(&price(b).is_none()).then(price(a).cmp(&price(b))),
                PickerSort::Context => b.context_length.cmp(&a.context_length),
                PickerSort::Newest => b.created.cmp(&a.created),
            };
            by_sort.then_with(|| sb.cmp(sa)).then_with(|| a.id.cmp(&b.id))
        });
        self.rows =
            scored.into_iter().map(|(_, m)| PickerRow { in_room: self.in_room.contains(&m.id), ..row(m) }).collect();
        self.selected = self.selected.min(self.rows.len().saturating_sub(1));
    }

    /// "free · tools · ≥128k ctx · ≤$3/M" for the popup title.
    pub fn filter_summary(&self) -> String {
        let f = &self.filters;
        let mut parts = Vec::new();
        if f.free_only {
            parts.push("free".to_string());
        }
        if f.tools_only {
            parts.push("tools".to_string());
        }
        if let Some(c) = f.min_context {
            parts.push(format!("≥{} ctx", crate::present::tokens(c)));
        }
        if let Some(p) = f.max_price {
            parts.push(format!("≤${p}/M in"));
        }
        if self.sort != PickerSort::Match {
            parts.push(format!("by {}", self.sort.name()));
        }
        if parts.is_empty() { "no filters".into() } else { parts.join(" · ") }
    }
}

fn passes(f: &Filters, m: &ModelInfo) -> bool {
    (!f.free_only || m.is_free())
        && (!f.tools_only || m.supports_tools())
        && f.min_context.is_none_or(|min| m.context_length.is_some_and(|c| c >= min))
        && f.max_price.is_none_or(|max| m.pricing.prompt_per_million().is_some_and(|p| p <= max))
}

fn next_step<T: Clone + PartialEq>(steps: &[Option<T>], current: Option<T>) -> Option<T> {
    let at = steps.iter().position(|s| *s == current).unwrap_or(0);
    steps[(at + 1) % steps.len()].clone()
}

fn row(m: &ModelInfo) -> PickerRow {
    PickerRow {
        id: m.id.clone(),
        name: crate::core::sanitize::strip_controls(&m.name).into_owned(),
        context: m.context_length,
        prompt_per_m: m.pricing.prompt_per_million(),
        completion_per_m: m.pricing.completion_per_million(),
        free: m.is_free(),
        tools: m.supports_tools(),
        in_room: false,
        description: crate::core::sanitize::strip_controls(&m.description).into_owned(),
        created: m.created,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(p: &mut Picker, text: &str, catalog: &Catalog) {
        for c in text.chars() {
            p.key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE), Some(catalog));
        }
    }

    #[test]
    fn fuzzy_matching_ranks_the_closest_id_first() {
        let catalog = Catalog::snapshot();
        let mut p = Picker::new(Some(&catalog));
        typed(&mut p, "gpt4omini", &catalog);
        assert_eq!(p.rows[0].id, "openai/gpt-4o-mini");
        let mut p = Picker::new(Some(&catalog));
        typed(&mut p, "zzzzqqq", &catalog);
        assert!(p.rows.is_empty());
    }

    #[test]
    fn rows_mark_models_in_the_room_and_carry_descriptions() {
        let catalog = Catalog::snapshot();
        let p = Picker::new(Some(&catalog)).with_room(["openai/gpt-4o-mini".to_string()]);
        let marked: Vec<&str> = p.rows.iter().filter(|r| r.in_room).map(|r| r.id.as_str()).collect();
        assert_eq!(marked, ["openai/gpt-4o-mini"]);
        assert!(p.rows.iter().any(|r| !r.description.is_empty()));
    }

    #[test]
    fn ctrl_s_sorts_by_price_context_and_age() {
        let catalog = Catalog::snapshot();
        let mut p = Picker::new(Some(&catalog));
        let ctrl_s = KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL);
        p.key(ctrl_s, Some(&catalog));
        assert_eq!(p.sort, PickerSort::Price);
        let prices: Vec<Decimal> =
            p.rows.iter().map_while(|r| r.prompt_per_m.filter(|d| !d.is_sign_negative())).collect();
        assert!(prices.len() > 10 && prices.is_sorted(), "{prices:?}");
        p.key(ctrl_s, Some(&catalog));
        let contexts: Vec<u64> = p.rows.iter().map_while(|r| r.context).collect();
        assert!(contexts.len() > 10 && contexts.is_sorted_by(|a, b| a >= b), "{contexts:?}");
        p.key(ctrl_s, Some(&catalog));
        let created: Vec<i64> = p.rows.iter().map_while(|r| r.created).collect();
        assert!(created.len() > 10 && created.is_sorted_by(|a, b| a >= b), "{created:?}");
        assert!(p.filter_summary().contains("by newest"));
        p.key(ctrl_s, Some(&catalog));
        assert_eq!(p.sort, PickerSort::Match);
    }

    #[test]
    fn filters_narrow_the_snapshot_catalog() {
        let catalog = Catalog::snapshot();
        let mut p = Picker::new(Some(&catalog));
        let all = p.rows.len();
        assert!(all > 10);
        p.key(KeyEvent::new(KeyCode::Char('f'), KeyModifiers::CONTROL), Some(&catalog));
        assert!(p.rows.iter().all(|r| r.free));
        assert!(p.rows.len() < all);
        p.key(KeyEvent::new(KeyCode::Char('t'), KeyModifiers::CONTROL), Some(&catalog));
        assert!(p.rows.iter().all(|r| r.free && r.tools));
        for c in "llama".chars() {
            p.key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE), Some(&catalog));
        }
        assert!(p.rows.iter().all(|r| r.id.contains("llama") || r.name.to_lowercase().contains("llama")));
        assert_eq!(p.filter_summary(), "free · tools");
    }
}
