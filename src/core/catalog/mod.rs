//! The model catalog: OpenRouter's `GET /models` list parsed leniently into typed entries with
//! exact prices, id lookup (including dated permaslugs), and the embedded snapshot fallback.
//! Submodules own prices and cost (`pricing`), the on-disk cache and refresh (`cache`) and the
//! router's cost estimator (`estimator`).

pub mod cache;
pub mod estimator;
pub mod pricing;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::core::error::{CoreError, ErrorKind};

pub use cache::{DEFAULT_TTL, fetch, load_for_start, refresh};
pub use estimator::CatalogEstimator;
pub use pricing::{
    PriceOverride, PriceTable, Pricing, Rates, cost, estimate_prompt_cost, estimate_prompt_tokens, estimate_send_cost,
    estimate_tool_tokens,
};

/// The catalog shipped in the binary so a first start (or an offline one) still has prices.
const SNAPSHOT_JSON: &str = include_str!("../../../assets/catalog-snapshot.json");
/// When the embedded snapshot was taken; update together with `assets/catalog-snapshot.json`.
pub const SNAPSHOT_DATE: &str = "2026-08-25T00:00:00Z";

/// One entry of the catalog.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelInfo {
    /// Routable id incl. variant (`openai/gpt-oss-120b:free`).
    pub id: String,
    /// Permanent slug, no `:free` suffix, possibly dated; equals `id` when the API omits it.
    pub canonical_slug: String,
    pub name: String,
    /// Unix seconds when the model was added.
    pub created: Option<i64>,
    pub description: String,
    pub context_length: Option<u64>,
    /// The top provider's context limit, which can be smaller than `context_length`.
    pub top_provider_context_length: Option<u64>,
    pub max_completion_tokens: Option<u64>,
    pub pricing: Pricing,
    pub supported_parameters: Vec<String>,
    /// `text+image->text`.
    pub modality: Option<String>,
    pub input_modalities: Vec<String>,
    pub output_modalities: Vec<String>,
    pub tokenizer: Option<String>,
    /// Deprecation date, `YYYY-MM-DD`.
    pub expiration_date: Option<String>,
    pub knowledge_cutoff: Option<String>,
    /// Present only on reasoning models; whether reasoning cannot be turned off.
    pub reasoning_mandatory: Option<bool>,
    /// The efforts the catalog lists for a reasoning model (`reasoning.supported_efforts`);
    /// empty when it lists none (then any effort is passed through).
    pub reasoning_efforts: Vec<String>,
    pub is_moderated: bool,
}

impl ModelInfo {
    /// `:free` variant, or both token prices zero.
    pub fn is_free(&self) -> bool {
        self.id.ends_with(":free") || self.pricing.is_zero()
    }

    pub fn supports_tools(&self) -> bool {
        self.supported_parameters.iter().any(|p| p == "tools")
    }

    pub fn supports_reasoning(&self) -> bool {
        self.reasoning_mandatory.is_some()
            || self.supported_parameters.iter().any(|p| p == "reasoning" || p == "include_reasoning")
    }

    /// Why `effort` (`none` turns reasoning off) cannot be asked of this model, if it cannot:
    /// the model does not reason, cannot stop reasoning, or the catalog lists other efforts.
    pub fn reasoning_refusal(&self, effort: &str) -> Option<String> {
        let id = &self.id;
        if !self.supports_reasoning() {
            return Some(format!("{id} does not reason (the catalog lists no reasoning for it)"));
        }
        if effort == "none" {
            return (self.reasoning_mandatory == Some(true))
                .then(|| format!("{id} always reasons; it cannot be turned off"));
        }
        if !self.reasoning_efforts.is_empty() && !self.reasoning_efforts.iter().any(|e| e == effort) {
            return Some(format!("{id} offers reasoning efforts {} only", self.reasoning_efforts.join(", ")));
        }
        None
    }

    pub fn supports_images(&self) -> bool {
        self.input_modalities.iter().any(|m| m == "image")
    }

    /// Parse one `data[]` entry; any type mismatch or missing required key rejects the entry.
    pub fn from_value(v: &Value) -> Result<ModelInfo, String> {
        let raw = RawModel::deserialize(v).map_err(|e| e.to_string())?;
        let id = raw.id.trim().to_owned();
        if id.is_empty() {
            return Err("empty id".into());
        }
        let pricing = Pricing::from_value(&raw.pricing).map_err(|e| format!("{id}: {e}"))?;
        let arch = raw.architecture.unwrap_or_default();
        let top = raw.top_provider.unwrap_or_default();
        Ok(ModelInfo {
            canonical_slug: raw.canonical_slug.filter(|s| !s.is_empty()).unwrap_or_else(|| id.clone()),
            name: raw.name.filter(|s| !s.is_empty()).unwrap_or_else(|| id.clone()),
            created: raw.created,
            description: raw.description.unwrap_or_default(),
            context_length: raw.context_length,
            top_provider_context_length: top.context_length,
            max_completion_tokens: top.max_completion_tokens,
            pricing,
            supported_parameters: raw.supported_parameters.unwrap_or_default(),
            modality: arch.modality,
            input_modalities: arch.input_modalities.unwrap_or_default(),
            output_modalities: arch.output_modalities.unwrap_or_default(),
            tokenizer: arch.tokenizer,
            expiration_date: raw.expiration_date.filter(|s| !s.is_empty()),
            knowledge_cutoff: raw.knowledge_cutoff.filter(|s| !s.is_empty()),
            reasoning_mandatory: raw
                .reasoning
                .as_ref()
                .map(|r| r.get("mandatory").and_then(Value::as_bool).unwrap_or(false)),
            reasoning_efforts: raw
                .reasoning
                .as_ref()
                .and_then(|r| r.get("supported_efforts"))
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                .unwrap_or_default(),
            is_moderated: top.is_moderated.unwrap_or(false),
            id,
        })
    }
}

/// The wire shape, every field optional or nullable so unknown/missing keys never fail.
#[derive(Deserialize)]
struct RawModel {
    id: String,
    canonical_slug: Option<String>,
    name: Option<String>,
    created: Option<i64>,
    description: Option<String>,
    context_length: Option<u64>,
    architecture: Option<RawArch>,
    pricing: Value,
    top_provider: Option<RawTop>,
    supported_parameters: Option<Vec<String>>,
    expiration_date: Option<String>,
    knowledge_cutoff: Option<String>,
    reasoning: Option<Value>,
}

#[derive(Deserialize, Default)]
struct RawArch {
    modality: Option<String>,
    input_modalities: Option<Vec<String>>,
    output_modalities: Option<Vec<String>>,
    tokenizer: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawTop {
    context_length: Option<u64>,
    max_completion_tokens: Option<u64>,
    is_moderated: Option<bool>,
}

/// Where a catalog came from, for the "source: … age" notes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CatalogSource {
    Live,
    Cache,
    Snapshot,
}

/// The whole model list.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    pub models: Vec<ModelInfo>,
    /// When the list was fetched from upstream (snapshot: when it was taken).
    pub fetched_at: Option<Timestamp>,
    pub source: CatalogSource,
    /// Entries that could not be understood and were left out.
    pub skipped: usize,
}

impl Catalog {
    /// Parse a `GET /models` body. Only a body that is not a model list at all is an error;
    /// bad entries are skipped and counted. The result is marked live with no fetch time: the
    /// caller sets `source`/`fetched_at` when it knows better.
    pub fn parse(bytes: &[u8]) -> Result<Catalog, CoreError> {
        let data = data_array(bytes)?;
        let mut models = Vec::with_capacity(data.len());
        let mut skipped = 0;
        for entry in &data {
            match ModelInfo::from_value(entry) {
                Ok(m) => models.push(m),
                Err(e) => {
                    tracing::debug!("catalog: skipping a model entry: {e}");
                    skipped += 1;
                }
            }
        }
        if skipped > 0 {
            tracing::warn!("catalog: skipped {skipped} malformed model entries");
        }
        Ok(Catalog { models, fetched_at: None, source: CatalogSource::Live, skipped })
    }

    /// The catalog embedded in the binary.
    pub fn snapshot() -> Catalog {
        match Catalog::parse(SNAPSHOT_JSON.as_bytes()) {
            Ok(mut c) => {
                c.source = CatalogSource::Snapshot;
                c.fetched_at = SNAPSHOT_DATE.parse().ok();
                c
            }
            // The asset is tested to parse; if it ever does not, run without prices rather than die.
            Err(e) => {
                tracing::error!("the embedded catalog snapshot is invalid: {e}");
                Catalog::empty(CatalogSource::Snapshot)
            }
        }
    }

    pub fn empty(source: CatalogSource) -> Catalog {
        Catalog { models: Vec::new(), fetched_at: None, source, skipped: 0 }
    }

    pub fn with_source(mut self, source: CatalogSource, fetched_at: Option<Timestamp>) -> Catalog {
        self.source = source;
        self.fetched_at = fetched_at;
        self
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.models.iter().map(|m| m.id.as_str())
    }

    /// Up to `n` listed ids closest to a mistyped `id` (edit distance over the whole id and over
    /// the part after the vendor), closest first.
    pub fn nearest(&self, id: &str, n: usize) -> Vec<&str> {
        let want = id.trim().to_lowercase();
        let tail = |s: &str| s.rsplit('/').next().unwrap_or(s).to_string();
        let mut scored: Vec<(usize, &str)> = self
            .ids()
            .map(|candidate| {
                let c = candidate.to_lowercase();
                let d = edit_distance(&want, &c).min(edit_distance(&tail(&want), &tail(&c)) + 1);
                (d, candidate)
            })
            .collect();
        scored.sort();
        let limit = want.chars().count() / 3 + 2;
        scored.into_iter().filter(|(d, _)| *d <= limit).take(n).map(|(_, id)| id).collect()
    }

    /// The entry for an id as sent or as returned in a response: the exact id; else the entry
    /// whose canonical slug it is (when every such entry has the same prices, so a `:free` twin
    /// cannot be confused with the paid model); else the same after dropping a date suffix
    /// (`qwen/qwen3.5-35b-a3b-20260224`) or a dynamic variant (`:nitro`, `:floor`, `:online`).
    pub fn get(&self, id: &str) -> Option<&ModelInfo> {
        let id = id.trim();
        self.get_direct(id)
            .or_else(|| strip_date_suffix(id).and_then(|base| self.get_direct(base)))
            .or_else(|| {
                let (base, variant) = id.rsplit_once(':')?;
                matches!(variant, "nitro" | "floor" | "online").then_some(())?;
                self.get(base)
            })
            // `model@preset/slug` (an OpenRouter preset applied to a model): the model's entry. The
            // reference is silent on presets; the id is sent unchanged and OpenRouter applies it.
            .or_else(|| {
                let (base, _preset) = id.split_once("@preset/")?;
                self.get(base)
            })
    }

    fn get_direct(&self, id: &str) -> Option<&ModelInfo> {
        if let Some(m) = self.models.iter().find(|m| m.id == id) {
            return Some(m);
        }
        let mut by_slug = self.models.iter().filter(|m| m.canonical_slug == id);
        let first = by_slug.next()?;
        if by_slug.all(|m| m.pricing == first.pricing) {
            // Prefer the entry routed under the slug itself, for stable names in reports.
            self.models.iter().find(|m| m.canonical_slug == id && m.id == id).or(Some(first))
        } else {
            None
        }
    }

    /// How old the list is at `now`; `None` when the fetch time is unknown.
    pub fn age(&self, now: Timestamp) -> Option<std::time::Duration> {
        let at = self.fetched_at?;
        let secs = now.as_second().saturating_sub(at.as_second()).max(0);
        Some(std::time::Duration::from_secs(secs.unsigned_abs()))
    }

    /// Live or cached within `ttl`. The snapshot is never fresh: a refresh should replace it.
    pub fn is_fresh(&self, ttl: std::time::Duration, now: Timestamp) -> bool {
        match self.source {
            CatalogSource::Snapshot => false,
            CatalogSource::Live | CatalogSource::Cache => self.age(now).is_some_and(|a| a <= ttl),
        }
    }
}

/// The `data` array of an OpenAI-style list body.
fn data_array(bytes: &[u8]) -> Result<Vec<Value>, CoreError> {
    let malformed =
        |why: String| CoreError::new(ErrorKind::MalformedResponse, format!("The model list could not be read: {why}."));
    let v: Value = serde_json::from_slice(bytes).map_err(|e| malformed(format!("not JSON ({e})")))?;
    match v {
        Value::Object(mut o) => match o.remove("data") {
            Some(Value::Array(a)) => Ok(a),
            _ => Err(malformed("no `data` list in the response".into())),
        },
        _ => Err(malformed("the response is not a JSON object".into())),
    }
}

/// Model ids from a non-OpenRouter `GET {base}/models` (OpenAI, Ollama, llama.cpp, vLLM):
/// `{"data":[{"id":…,"object":"model"}]}`. No prices there; entries without an id are skipped.
pub fn parse_model_ids(bytes: &[u8]) -> Result<Vec<String>, CoreError> {
    let data = data_array(bytes)?;
    let mut ids: Vec<String> = data
        .iter()
        .filter_map(|e| e.get("id").and_then(Value::as_str))
        .map(|s| s.strip_prefix("models/").unwrap_or(s).trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// `base` when `id` ends in a release date, `-YYYYMMDD` or `-YYYY-MM-DD`. Shorter numeric
/// suffixes (`-0905`, `-0528`) are left alone: they are part of real ids.
pub fn strip_date_suffix(id: &str) -> Option<&str> {
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let plausible_year = |s: &str| s.starts_with("19") || s.starts_with("20");
    if let Some((base, tail)) = id.rsplit_once('-')
        && tail.len() == 8
        && digits(tail)
        && plausible_year(tail)
        && !base.is_empty()
    {
        return Some(base);
    }
    // Byte indexing below is safe: each slice starts or ends next to a checked ASCII `-`.
    if id.len() > 11 && id.is_char_boundary(id.len() - 11) {
        let (base, tail) = id.split_at(id.len() - 11);
        let b = tail.as_bytes();
        if b[0] == b'-'
            && b[5] == b'-'
            && b[8] == b'-'
            && digits(&tail[1..5])
            && digits(&tail[6..8])
            && digits(&tail[9..11])
            && plausible_year(&tail[1..5])
        {
            return Some(base);
        }
    }
    None
}

/// Levenshtein distance by characters (two rows).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = substitution.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod nearest_tests {
    use super::edit_distance;

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("gpt-4o-mni", "gpt-4o-mini"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}

#[cfg(test)]
mod reasoning_tests {
    use super::Catalog;

    #[test]
    fn reasoning_is_offered_only_as_the_catalog_lists_it() {
        let catalog = Catalog::snapshot();
        let get = |id| catalog.get(id).cloned().unwrap_or_else(|| panic!("{id} not in the snapshot"));
        let flash = get("google/gemini-2.5-flash");
        assert_eq!(flash.reasoning_refusal("minimal"), None);
        assert_eq!(flash.reasoning_refusal("none"), None);
        let claude = get("anthropic/claude-sonnet-4.5");
        assert!(claude.reasoning_refusal("minimal").is_some_and(|m| m.contains("high, medium, low")));
        assert!(get("openai/gpt-5-mini").reasoning_refusal("none").is_some_and(|m| m.contains("cannot be turned off")));
        assert!(get("openai/gpt-4o-mini").reasoning_refusal("high").is_some_and(|m| m.contains("does not reason")));
        // No efforts listed: any effort passes through.
        assert_eq!(get("x-ai/grok-4-fast").reasoning_refusal("low"), None);
    }
}
