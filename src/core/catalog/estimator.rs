//! The router's cost estimator: OpenRouter models priced from the catalog, everything else from
//! the config's price table; cheap to clone and updated in place when a refresh lands. It also
//! answers the router's capability questions (does a model take `tools`?) from the same catalog.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use rust_decimal::Decimal;

use super::pricing::{PriceTable, Pricing, cost};
use super::{Catalog, ModelInfo};
use crate::core::protocol::Usage;
use crate::core::provider::{ProviderKind, ProvidersConfig};
use crate::core::router::{CostEstimator, ModelCapabilities};

/// Shared, swappable prices. Clones share state; `set_catalog`/`set_prices` are seen by all.
#[derive(Clone)]
pub struct CatalogEstimator {
    inner: Arc<Inner>,
}

struct Inner {
    catalog: RwLock<Arc<Catalog>>,
    prices: RwLock<Arc<PriceTable>>,
    kinds: BTreeMap<String, ProviderKind>,
}

impl std::fmt::Debug for CatalogEstimator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogEstimator")
            .field("models", &self.catalog().models.len())
            .field("price_entries", &self.prices().0.len())
            .field("providers", &self.inner.kinds)
            .finish()
    }
}

impl CatalogEstimator {
    /// `providers` tells which configured name is which kind (the catalog prices only OpenRouter).
    pub fn new(catalog: Catalog, prices: PriceTable, providers: &ProvidersConfig) -> Self {
        let kinds = providers.providers.iter().map(|(name, p)| (name.clone(), p.kind)).collect();
        Self::with_kinds(catalog, prices, kinds)
    }

    /// For tests and tools that have no `ProvidersConfig` at hand.
    pub fn with_kinds(catalog: Catalog, prices: PriceTable, kinds: BTreeMap<String, ProviderKind>) -> Self {
        CatalogEstimator {
            inner: Arc::new(Inner {
                catalog: RwLock::new(Arc::new(catalog)),
                prices: RwLock::new(Arc::new(prices)),
                kinds,
            }),
        }
    }

    /// Replace the catalog (a background refresh landed).
    pub fn set_catalog(&self, catalog: Catalog) {
        // A poisoned lock only means a reader panicked; the Arc inside is still whole.
        *self.inner.catalog.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(catalog);
    }

    /// Replace the price table (config reloaded).
    pub fn set_prices(&self, prices: PriceTable) {
        *self.inner.prices.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(prices);
    }

    /// The current catalog; cheap (an `Arc` clone), so readers never hold the lock.
    pub fn catalog(&self) -> Arc<Catalog> {
        Arc::clone(&self.inner.catalog.read().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn prices(&self) -> Arc<PriceTable> {
        Arc::clone(&self.inner.prices.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// The catalog entry of an OpenRouter model (for the pre-send estimate and model pickers).
    pub fn model(&self, id: &str) -> Option<ModelInfo> {
        self.catalog().get(id).cloned()
    }

    /// The catalog entry of `model` served by the provider named `provider`: only OpenRouter's
    /// models have one (the catalog is OpenRouter's), so direct and local providers get `None`.
    pub fn entry_for(&self, provider: &str, model: &str) -> Option<ModelInfo> {
        match self.inner.kinds.get(provider)? {
            ProviderKind::Openrouter => self.catalog().get(model).cloned(),
            _ => None,
        }
    }

    /// The most tokens `model` may write (the catalog's top provider limit), when known.
    pub fn max_output_tokens(&self, provider: &str, model: &str) -> Option<u64> {
        match self.inner.kinds.get(provider)? {
            ProviderKind::Openrouter => self.catalog().get(model)?.max_completion_tokens,
            _ => None,
        }
    }

    /// The prices that apply to `model` served by the provider named `provider`.
    pub fn pricing_for(&self, provider: &str, model: &str) -> Option<Pricing> {
        match self.inner.kinds.get(provider)? {
            ProviderKind::Openrouter => match self.catalog().get(model) {
                Some(m) => Some(m.pricing.clone()),
                // `:free` variants cost nothing even when the catalog is too old to list them.
                None if model.ends_with(":free") => Some(Pricing::per_token(Decimal::ZERO, Decimal::ZERO)),
                None => self.prices().lookup(provider, model).cloned(),
            },
            // Direct and local providers: only what the config prices. A local server is free
            // only when configured so (`[prices."ollama:*"]` at zero); otherwise unknown.
            ProviderKind::Gemini | ProviderKind::Openai | ProviderKind::OpenaiCompatible => {
                self.prices().lookup(provider, model).cloned()
            }
        }
    }
}

impl ModelCapabilities for CatalogEstimator {
    /// Only OpenRouter's catalog lists `supported_parameters`; an id it does not list (a new
    /// model, a directive of the simulator) is unknown rather than unsupported.
    fn supports_tools(&self, provider: &str, model: &str) -> Option<bool> {
        match self.inner.kinds.get(provider)? {
            ProviderKind::Openrouter => self.catalog().get(model).map(ModelInfo::supports_tools),
            _ => None,
        }
    }

    fn input_modalities(&self, provider: &str, model: &str) -> Option<Vec<String>> {
        let entry = self.entry_for(provider, model)?;
        (!entry.input_modalities.is_empty()).then_some(entry.input_modalities)
    }
}

impl CostEstimator for CatalogEstimator {
    fn estimate(&self, provider: &str, model: &str, usage: &Usage) -> Option<Decimal> {
        cost(&self.pricing_for(provider, model)?, usage)
    }
}
