//! The model picker popup: fuzzy search over the catalog with filters (free only, tools,
//! minimum context, maximum price), showing price and context; Enter adds the model.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
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
    pub rows: Vec<PickerRow>,
    pub selected: usize,
    pub total: usize,
}

const CONTEXT_STEPS: [Option<u64>; 5] = [None, Some(32_000), Some(128_000), Some(200_000), Some(1_000_000)];
const PRICE_STEPS: [Option<i64>; 5] = [None, Some(10), Some(3), Some(1), Some(0)];

impl Picker {
    pub fn new(catalog: Option<&Catalog>) -> Picker {
        let mut p =
            Picker { query: String::new(), filters: Filters::default(), rows: Vec::new(), selected: 0, total: 0 };
        p.refresh(catalog);
        p
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
            KeyCode::Backspace => {
                self.query.pop();
            }
            KeyCode::Char(c) if !ctrl => self.type_str(&c.to_string()),
            _ => return PickerOutcome::Stay,
        }
        self.refresh(catalog);
        PickerOutcome::Stay
    }

    /// Recompute the rows for the query and filters: best fuzzy matches first.
    pub fn refresh(&mut self, catalog: Option<&Catalog>) {
        let Some(catalog) = catalog else {
            self.rows.clear();
            return;
        };
        self.total = catalog.models.len();
        let query = self.query.trim().to_lowercase();
        let mut scored: Vec<(i64, &ModelInfo)> = catalog
            .models
            .iter()
            .filter(|m| self.passes(m))
            .filter_map(|m| {
                if query.is_empty() {
                    return Some((0, m));
                }
                let by_id = fuzzy_score(&query, &m.id.to_lowercase());
                let by_name = fuzzy_score(&query, &m.name.to_lowercase()).map(|s| s - 5);
                by_id.max(by_name).map(|s| (s, m))
            })
            .collect();
        scored.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.id.cmp(&b.1.id)));
        self.rows = scored.into_iter().map(|(_, m)| row(m)).collect();
        self.selected = self.selected.min(self.rows.len().saturating_sub(1));
    }

    fn passes(&self, m: &ModelInfo) -> bool {
        let f = &self.filters;
        (!f.free_only || m.is_free())
            && (!f.tools_only || m.supports_tools())
            && f.min_context.is_none_or(|min| m.context_length.is_some_and(|c| c >= min))
            && f.max_price.is_none_or(|max| m.pricing.prompt_per_million().is_some_and(|p| p <= max))
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
        if parts.is_empty() { "no filters".into() } else { parts.join(" · ") }
    }
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
    }
}

/// Subsequence match with bonuses for consecutive characters and word starts; `None` when the
/// query's characters do not all appear in order.
pub fn fuzzy_score(query: &str, candidate: &str) -> Option<i64> {
    let mut score = 0i64;
    let mut last: Option<usize> = None;
    let chars: Vec<char> = candidate.chars().collect();
    let mut from = 0;
    for q in query.chars().filter(|c| !c.is_whitespace()) {
        let offset = chars[from..].iter().position(|&c| c == q)?;
        let at = from + offset;
        score += 10;
        if last.is_some_and(|l| l + 1 == at) {
            score += 15;
        }
        if at == 0 || matches!(chars[at - 1], '/' | '-' | ' ' | ':' | '.' | '_') {
            score += 10;
        }
        score -= offset as i64;
        last = Some(at);
        from = at + 1;
    }
    // Shorter candidates rank higher for the same matches.
    Some(score - (chars.len() as i64) / 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuzzy_prefers_contiguous_word_start_matches() {
        let a = fuzzy_score("gpt4o", "openai/gpt-4o").unwrap();
        let b = fuzzy_score("gpt4o", "openai/gpt-4-turbo-preview-with-o").unwrap_or(i64::MIN);
        assert!(a > b);
        assert!(fuzzy_score("xyz", "openai/gpt-4o").is_none());
        assert!(fuzzy_score("", "anything").is_some());
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
