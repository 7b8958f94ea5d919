//! The catalog's disk cache and network refresh: `catalog-<provider>.json` in the cache dir (the
//! raw `/models` body; its mtime is the fetch time), a TTL, start-up loading that never blocks
//! or fails, and `GET {base}/models` with atomic cache writes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use jiff::Timestamp;

use super::{Catalog, CatalogSource};
use crate::core::error::{CoreError, ErrorKind};
use crate::core::provider::errors::{ErrorContext, classify_http_error};
use crate::core::provider::{ApiKey, ProviderKind};

/// How long a fetched catalog counts as fresh. Prices change rarely; a day keeps start-up quiet.
pub const DEFAULT_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// A `/models` body larger than this is not a model list (OpenRouter's is ~1–2 MB).
const MAX_BODY: usize = 64 * 1024 * 1024;
/// Whole-request limit for a fetch; callers that must stay snappy wrap a shorter timeout.
const FETCH_TIMEOUT: Duration = Duration::from_secs(30);
/// Stands in for the model name in error messages about the list request.
const LIST: &str = "(model list)";

/// `catalog-<provider>.json`, with the provider name reduced to safe file-name characters.
pub fn cache_file(cache_dir: &Path, provider: &str) -> PathBuf {
    let safe: String =
        provider.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    cache_dir.join(format!("catalog-{safe}.json"))
}

/// The cached catalog of `provider`, fresh or stale; `None` when absent, unreadable, corrupt or
/// empty (a corrupt file is left for the next successful refresh to replace).
pub fn read_cache(cache_dir: &Path, provider: &str) -> Option<Catalog> {
    let path = cache_file(cache_dir, provider);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!("catalog cache {} unreadable, ignoring it: {e}", path.display());
            return None;
        }
    };
    let fetched_at = std::fs::metadata(&path).and_then(|m| m.modified()).ok().and_then(to_timestamp);
    match Catalog::parse(&bytes) {
        Ok(c) if !c.models.is_empty() => Some(c.with_source(CatalogSource::Cache, fetched_at)),
        Ok(_) => {
            tracing::warn!("catalog cache {} lists no models, ignoring it", path.display());
            None
        }
        Err(e) => {
            tracing::warn!("catalog cache {} is corrupt, ignoring it: {e}", path.display());
            None
        }
    }
}

/// The OpenRouter catalog for start-up: the cache whatever its age, else the embedded snapshot.
/// Never touches the network and never fails; check `is_fresh` to decide on a background refresh.
pub fn load_for_start(cache_dir: &Path) -> Catalog {
    load_for_start_from(cache_dir, "openrouter")
}

/// [`load_for_start`] for a named provider's cache.
pub fn load_for_start_from(cache_dir: &Path, provider: &str) -> Catalog {
    read_cache(cache_dir, provider).unwrap_or_else(Catalog::snapshot)
}

/// Write the raw body atomically (temp file + rename), so a crash or a concurrent reader never
/// sees half a file.
pub fn write_cache(cache_dir: &Path, provider: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(cache_dir)?;
    let path = cache_file(cache_dir, provider);
    let tmp = path.with_extension(format!("json.tmp-{}", std::process::id()));
    let written = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map(|()| path)
}

/// `GET {base}/models` from OpenRouter (or any OpenAI-compatible server) and return the body.
pub async fn fetch(http: &reqwest::Client, base_url: &str, key: Option<&ApiKey>) -> Result<Vec<u8>, CoreError> {
    let ctx = ErrorContext {
        provider_name: host_of(base_url),
        kind: guess_kind(base_url),
        model: LIST,
        api_key_env: None,
        base_url: None,
    };
    fetch_with_context(http, base_url, key, &ctx).await
}

/// [`fetch`] with the caller's error context, so messages name the provider and key variable.
pub async fn fetch_with_context(
    http: &reqwest::Client,
    base_url: &str,
    key: Option<&ApiKey>,
    ctx: &ErrorContext<'_>,
) -> Result<Vec<u8>, CoreError> {
    let url = models_url(base_url);
    let mut req = http.get(&url).timeout(FETCH_TIMEOUT).header(reqwest::header::ACCEPT, "application/json");
    if let Some(k) = key {
        req = req.bearer_auth(k.expose());
    }
    let resp = req.send().await.map_err(|e| transport_error(ctx.provider_name, &url, &e))?;
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.map_err(|e| transport_error(ctx.provider_name, &url, &e))?;
    if !status.is_success() {
        return Err(classify_http_error(ctx, status.as_u16(), &headers, &body));
    }
    if body.len() > MAX_BODY {
        return Err(CoreError::new(
            ErrorKind::MalformedResponse,
            format!("The model list from {url} is implausibly large ({} bytes); ignoring it.", body.len()),
        ));
    }
    Ok(body.to_vec())
}

/// Fetch the live list, parse it and, when it holds models, cache it. A cache that cannot be
/// written (full disk, read-only dir) costs only a warning: the live list is still returned.
pub async fn refresh(
    http: &reqwest::Client,
    cache_dir: &Path,
    provider: &str,
    base_url: &str,
    key: Option<&ApiKey>,
) -> Result<Catalog, CoreError> {
    let ctx = ErrorContext {
        provider_name: provider,
        kind: guess_kind(base_url),
        model: LIST,
        api_key_env: None,
        base_url: None,
    };
    let bytes = fetch_with_context(http, base_url, key, &ctx).await?;
    let catalog = Catalog::parse(&bytes)?;
    if catalog.models.is_empty() {
        return Err(CoreError::new(
            ErrorKind::MalformedResponse,
            format!("The model list from {} had no usable entries; keeping the previous one.", models_url(base_url)),
        ));
    }
    if let Err(e) = write_cache(cache_dir, provider, &bytes) {
        tracing::warn!("could not cache the model list in {}: {e}", cache_dir.display());
    }
    Ok(catalog.with_source(CatalogSource::Live, Some(Timestamp::now())))
}

/// `{base}/models`, tolerating a trailing slash.
pub fn models_url(base: &str) -> String {
    format!("{}/models", base.trim_end_matches('/'))
}

/// Only used to word error messages; OpenRouter's messages differ from generic servers'.
fn guess_kind(base_url: &str) -> ProviderKind {
    if base_url.contains("openrouter.ai") { ProviderKind::Openrouter } else { ProviderKind::OpenaiCompatible }
}

fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?']).next().unwrap_or(rest)
}

fn to_timestamp(t: SystemTime) -> Option<Timestamp> {
    Timestamp::try_from(t).ok()
}

fn transport_error(provider: &str, url: &str, e: &reqwest::Error) -> CoreError {
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    let detail = crate::core::sanitize::strip_controls(&detail).into_owned();
    let (kind, msg) = if e.is_timeout() {
        (ErrorKind::Timeout, format!("Timed out fetching the model list from {provider} ({url})."))
    } else {
        (ErrorKind::Connect, format!("Could not fetch the model list from {provider} ({url}): {detail}."))
    };
    CoreError::new(kind, msg).with_upstream_message(detail)
}
