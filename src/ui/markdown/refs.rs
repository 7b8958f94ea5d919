//! Link reference definitions across blocks: a `[label]: url` line may sit in a different block
//! from the `[text][label]` that uses it, so blocks resolve unknown labels through a
//! message-wide map (first definition wins), and its hash tells caches when it changed.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use pulldown_cmark::Parser;

use super::render::OPTIONS;

/// One definition, label normalised.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Def {
    pub label: String,
    pub dest: String,
    pub title: String,
}

/// Case- and whitespace-insensitive label, as CommonMark matches them.
pub(crate) fn normalize(label: &str) -> String {
    label.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// The definitions in `src`, in source order.
pub(crate) fn defs_of(src: &str) -> Vec<Def> {
    // Every definition has `]:`; most blocks have none and skip the parse.
    if !src.contains("]:") {
        return Vec::new();
    }
    let parser = Parser::new_ext(src, OPTIONS);
    let mut defs: Vec<(usize, Def)> = parser
        .reference_definitions()
        .iter()
        .map(|(label, d)| {
            let title = d.title.as_deref().unwrap_or_default().to_string();
            (d.span.start, Def { label: normalize(label), dest: d.dest.to_string(), title })
        })
        .collect();
    defs.sort_by_key(|(start, _)| *start);
    defs.into_iter().map(|(_, d)| d).collect()
}

fn mix(hash: u64, def: &Def) -> u64 {
    let mut h = DefaultHasher::new();
    (hash, def).hash(&mut h);
    h.finish()
}

/// Definitions of the settled blocks, in block order.
#[derive(Debug, Default)]
pub(crate) struct RefMap {
    map: HashMap<String, (String, String)>,
    hash: u64,
}

impl RefMap {
    pub(crate) fn add(&mut self, defs: &[Def]) {
        for d in defs {
            if !self.map.contains_key(&d.label) {
                self.map.insert(d.label.clone(), (d.dest.clone(), d.title.clone()));
                self.hash = mix(self.hash, d);
            }
        }
    }
}

/// The message-wide view: settled definitions, then the open block's.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Refs<'a> {
    pub settled: &'a RefMap,
    pub open: &'a [Def],
}

impl Refs<'_> {
    pub(crate) fn get(&self, label: &str) -> Option<(String, String)> {
        let label = normalize(label);
        if let Some(found) = self.settled.map.get(&label) {
            return Some(found.clone());
        }
        self.open.iter().find(|d| d.label == label).map(|d| (d.dest.clone(), d.title.clone()))
    }

    /// Changes whenever any lookup could answer differently.
    pub(crate) fn hash(&self) -> u64 {
        self.open.iter().filter(|d| !self.settled.map.contains_key(&d.label)).fold(self.settled.hash, mix)
    }
}
