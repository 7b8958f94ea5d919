//! Builds the routing core's configuration for a command: the store, the shared quota limiter
//! (SQLite-backed so processes count together), and the cost estimator with its catalog.

use std::sync::Arc;

use crate::config::Config;
use crate::core::catalog::{self, CatalogEstimator, DEFAULT_TTL};
use crate::core::provider::ProviderKind;
use crate::core::quota::{Limiter, MemoryBackend, QuotaBackend, SqliteBackend};
use crate::core::router::CoreConfig;
use crate::core::store::{Store, db_path};
use crate::paths::Paths;

/// The pieces a command runs with, plus warnings to show the user (persistence problems are
/// never fatal: the app keeps streaming).
pub struct Runtime {
    pub core: CoreConfig,
    pub store: Option<Store>,
    pub limiter: Limiter,
    pub estimator: CatalogEstimator,
    pub warnings: Vec<String>,
}

/// Open the store and quota log in the data dir and load the catalog from cache or snapshot.
/// Never touches the network; call [`refresh_catalog_in_background`] for that.
pub fn build(config: &Config, paths: &Paths) -> Runtime {
    config.providers.register_secrets();
    let mut warnings = config.warnings.clone();
    let db = db_path(&paths.data_dir);
    let mut interrupted = Vec::new();
    let store = match Store::open(&db) {
        Ok(s) => {
            // Requests a killed or crashed process left in flight are not in flight any more.
            match crate::core::store::interrupt_stale(&db, crate::core::store::now_ms()) {
                Ok(rows) => {
                    if !rows.is_empty() {
                        tracing::info!(rows = rows.len(), "marked requests of an earlier process as interrupted");
                    }
                    interrupted = rows;
                }
                Err(e) => tracing::warn!("could not mark interrupted requests: {e}"),
            }
            Some(s)
        }
        Err(e) => {
            warnings.push(format!("History and ledger are not being saved: {e}"));
            None
        }
    };
    let backend: Arc<dyn QuotaBackend> = match SqliteBackend::open(&db) {
        Ok(b) => Arc::new(b),
        Err(e) => {
            warnings.push(format!(
                "Quota counts are kept in memory only (not shared with other roundtable processes): {e}"
            ));
            Arc::new(MemoryBackend::default())
        }
    };
    let limiter = Limiter::new(config.quota.clone(), backend);
    let estimator =
        CatalogEstimator::new(catalog::load_for_start(&paths.cache_dir), config.prices.clone(), &config.providers);
    let mut core = CoreConfig::new(config.providers.clone());
    core.limiter = Some(limiter.clone());
    core.estimator = Some(Arc::new(estimator.clone()));
    core.store = store.clone();
    core.tools = config.tools.clone();
    core.tool_step_limit = config.tool_step_limit;
    core.capabilities = Some(Arc::new(estimator.clone()));
    core.interrupted = interrupted;
    Runtime { core, store, limiter, estimator, warnings }
}

/// Refresh OpenRouter's catalog when the cached one is stale; quietly keeps the old one on
/// any failure (no key, offline).
pub fn refresh_catalog_in_background(config: &Config, paths: &Paths, estimator: &CatalogEstimator) {
    let now = jiff::Timestamp::now();
    if estimator.catalog().is_fresh(DEFAULT_TTL, now) {
        return;
    }
    let Some((name, provider)) = config.providers.providers.iter().find(|(_, p)| p.kind == ProviderKind::Openrouter)
    else {
        return;
    };
    let key = config.providers.api_key(name, provider).ok().flatten();
    let (name, base, cache_dir, estimator) =
        (name.clone(), provider.base_url.clone(), paths.cache_dir.clone(), estimator.clone());
    tokio::spawn(async move {
        // A catalog on a plain `http://` server (a local one, or `--base-url http://…`) needs
        // no root certificates; loading them was 5% of a short benchmark `ask`'s instructions.
        let http = if base.starts_with("http://") {
            crate::core::provider::client::build_plain_http_client(&Default::default())
        } else {
            crate::core::provider::client::build_http_client(&Default::default())
        };
        let Ok(http) = http else { return };
        match catalog::refresh(&http, &cache_dir, &name, &base, key.as_ref()).await {
            Ok(fresh) => estimator.set_catalog(fresh),
            Err(e) => tracing::info!(error = %e, "catalog refresh failed; keeping the cached catalog"),
        }
    });
}
