//! Tools from MCP (Model Context Protocol) servers: the `[[mcp_servers]]` entries, and one
//! shared connection per server for the whole process, started on first use (when a room or
//! `ask` enables one of its tools), restarted on the next use after a crash, and shut down on
//! exit. Its tools are offered to models as the server describes them, named `server.tool`.

mod connect;
mod content;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use rmcp::model::{CallToolRequestParams, ErrorCode};
use rmcp::service::{Peer, RoleClient, ServiceError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ToolInfo, ToolOutput};
use crate::core::protocol::ToolSpec;
use crate::core::sanitize::{redact_secrets, register_secret, strip_controls};

pub use content::to_output as result_to_output;

/// Separates the server from the tool in the names users write (`everything.echo`).
pub const SEPARATOR: char = '.';
/// Separates them in the names models see: OpenAI and Anthropic accept only letters, digits,
/// `_` and `-` in function names, so `everything.echo` goes out as `everything__echo`.
pub const WIRE_SEPARATOR: &str = "__";
/// Longest function name the providers accept.
const MAX_WIRE_NAME: usize = 64;

/// An MCP server as written in the config file (`[[mcp_servers]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpServerConfig {
    /// Prefix of its tools' names (`name.tool`).
    pub name: String,
    /// Program to start for a stdio server (no shell is involved).
    #[serde(default)]
    pub command: Option<String>,
    #[serde(default)]
    pub args: Vec<String>,
    /// Variables set for the server. It inherits the rest of roundtable's environment except
    /// the providers' API key variables.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Working directory of a stdio server; where roundtable runs when unset.
    #[serde(default)]
    pub cwd: Option<PathBuf>,
    /// Endpoint of a remote server (Streamable HTTP) instead of a command.
    #[serde(default)]
    pub url: Option<String>,
    /// HTTP headers sent with every request to a remote server, e.g. `Authorization = "Bearer
    /// ${MCP_TOKEN}"`. `${VAR}` is replaced by the environment variable VAR when the server
    /// starts, so secrets can stay out of the config file. The values are never logged or listed.
    #[serde(default)]
    pub headers: Headers,
    /// Limit for starting (initialize and the tool list) and for each call.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: f64,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// Tools that run without asking, by their name on the server (`echo`) or in full
    /// (`everything.echo`).
    #[serde(default)]
    pub safe_tools: Vec<String>,
}

fn default_timeout_secs() -> f64 {
    60.0
}

/// The `headers` of an `[[mcp_servers]]` entry. Their values are secrets: `Debug` shows the
/// names only.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Headers(pub BTreeMap<String, String>);

impl std::fmt::Debug for Headers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.0.keys().map(|k| (k, "[hidden]"))).finish()
    }
}

impl Headers {
    pub fn names(&self) -> Vec<String> {
        self.0.keys().cloned().collect()
    }

    /// Why a header cannot be sent as written (checked with the config, before any value is
    /// read from the environment). Never quotes a value.
    fn problem(&self) -> Option<String> {
        for (name, value) in &self.0 {
            if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Some(format!("headers: \"{name}\" is not a valid HTTP header name"));
            }
            if RESERVED_HEADERS.iter().any(|r| name.eq_ignore_ascii_case(r)) {
                return Some(format!("headers: {name} is set by the MCP client itself; leave it out"));
            }
            if let Err(e) = expand_env(value, |_| Some(String::new())) {
                return Some(format!("headers: the value of {name} {e}"));
            }
        }
        None
    }

    /// The headers with `${VAR}` replaced from `lookup`; each value (and each variable's
    /// value) is registered as a secret, so no message or log line can carry it.
    pub fn resolve(&self, lookup: impl Fn(&str) -> Option<String>) -> Result<Vec<(String, String)>, String> {
        let mut out = Vec::with_capacity(self.0.len());
        for (name, value) in &self.0 {
            let resolved = expand_env(value, |var| {
                let v = lookup(var);
                if let Some(v) = &v {
                    register_secret(v);
                }
                v
            })
            .map_err(|e| format!("the value of header {name} {e}"))?;
            register_secret(&resolved);
            // "Bearer <token>": the token alone is the secret too.
            if let Some((_, rest)) = resolved.split_once(' ') {
                register_secret(rest);
            }
            out.push((name.clone(), resolved));
        }
        Ok(out)
    }
}

/// Headers the MCP client sets itself (rmcp refuses them as custom headers).
const RESERVED_HEADERS: [&str; 4] = ["accept", "mcp-session-id", "mcp-protocol-version", "last-event-id"];

/// `value` with every `${VAR}` replaced by `lookup(VAR)`; a `$` not followed by `{` is kept.
/// The error says what is wrong without quoting the value.
pub fn expand_env(value: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find("${") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let Some(end) = after.find('}') else {
            return Err("has a \"${\" without its closing \"}\"".into());
        };
        let var = &after[..end];
        if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err("names a variable with characters other than letters, digits and '_'".into());
        }
        match lookup(var) {
            Some(v) => out.push_str(&v),
            None => {
                return Err(format!(
                    "uses ${{{var}}}, but the environment variable {var} is not set; set it before starting roundtable"
                ));
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn enabled_by_default() -> bool {
    true
}

/// An `[[mcp_servers]]` entry that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("mcp_servers entry \"{name}\": {problem}")]
pub struct McpConfigError {
    pub name: String,
    pub problem: String,
}

impl McpServerConfig {
    /// The entry's problems, the first found, as the user must fix them.
    pub fn check(&self) -> Result<(), McpConfigError> {
        let fail = |problem: &str| Err(McpConfigError { name: self.name.clone(), problem: problem.to_owned() });
        let valid_name = !self.name.is_empty()
            && self.name.len() <= 32
            && self.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid_name {
            return fail("name must be 1-32 characters of letters, digits, '_' or '-' (it prefixes the tool names)");
        }
        match (&self.command, &self.url) {
            (Some(c), None) if c.trim().is_empty() => return fail("command is empty; name the program to start"),
            (Some(_), None) => {}
            (None, Some(u)) if !(u.starts_with("http://") || u.starts_with("https://")) => {
                return fail("url must start with http:// or https://");
            }
            (None, Some(_)) => {}
            (Some(_), Some(_)) => return fail("give either command (a local server) or url (a remote one), not both"),
            (None, None) => {
                return fail(
                    "give command (e.g. command = \"npx\", args = [\"-y\", \"…\"]) or url for a remote server",
                );
            }
        }
        if !(self.timeout_secs.is_finite() && self.timeout_secs > 0.0 && self.timeout_secs <= 3600.0) {
            return fail("timeout_secs must be between 0 and 3600 seconds");
        }
        if self.command.is_some() && !self.headers.0.is_empty() {
            return fail("headers are for remote servers (url); give a local server its secrets in env");
        }
        if let Some(problem) = self.headers.problem() {
            return fail(&problem);
        }
        Ok(())
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.timeout_secs)
    }

    fn is_safe(&self, tool: &str) -> bool {
        self.safe_tools.iter().any(|s| s == tool || *s == format!("{}{SEPARATOR}{tool}", self.name))
    }
}

/// Check a list of entries: each one, and that no two share a name.
pub fn check_all(servers: &[McpServerConfig]) -> Result<(), McpConfigError> {
    for (i, s) in servers.iter().enumerate() {
        s.check()?;
        if servers[..i].iter().any(|o| o.name == s.name) {
            return Err(McpConfigError {
                name: s.name.clone(),
                problem: "another entry has the same name; names must differ".into(),
            });
        }
    }
    Ok(())
}

/// The name models see for `tool` of `server`: only letters, digits, `_` and `-`, at most 64.
pub fn wire_name(server: &str, tool: &str) -> String {
    let clean: String =
        tool.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect();
    let mut name = format!("{server}{WIRE_SEPARATOR}{clean}");
    name.truncate(MAX_WIRE_NAME);
    name
}

/// One tool of a running server.
#[derive(Debug, Clone, PartialEq)]
pub struct McpTool {
    pub server: String,
    /// Its name on the server.
    pub tool: String,
    /// `server.tool`, the name users write.
    pub full_name: String,
    /// What models see (the spec's name is the wire name).
    pub wire_spec: ToolSpec,
    pub safe: bool,
}

impl McpTool {
    /// The registry's description: `spec.name` is the name users write.
    pub fn info(&self) -> ToolInfo {
        let mut spec = self.wire_spec.clone();
        spec.name.clone_from(&self.full_name);
        ToolInfo { spec, safe: self.safe, builtin: false, server: Some(self.server.clone()) }
    }
}

/// What is known of a server without waiting for it.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerStatus {
    /// Enabled but not needed yet.
    NotStarted,
    /// A start is under way (the last outcome, if any, is being replaced).
    Starting,
    /// `enabled = false` in the config.
    Disabled,
    Running(Vec<McpTool>),
    /// The last start failed; the next use tries again.
    Failed(String),
}

/// The process's MCP servers, shared by every pane (cheap to clone through `Arc`).
#[derive(Debug, Default)]
pub struct McpHub {
    servers: Vec<Arc<Server>>,
}

impl PartialEq for McpHub {
    fn eq(&self, other: &Self) -> bool {
        self.servers.len() == other.servers.len()
            && self.servers.iter().zip(&other.servers).all(|(a, b)| a.config == b.config)
    }
}

#[derive(Debug)]
struct Server {
    config: McpServerConfig,
    /// The live connection, `None` before first use and after a crash. An async mutex: panes
    /// asking at once wait for the one start instead of starting the server twice.
    conn: tokio::sync::Mutex<Option<connect::Connection>>,
    /// The last start's outcome, readable without waiting (for listings and names).
    status: StdMutex<ServerStatus>,
    /// Start attempts finished so far: a caller that waited for another's attempt takes its
    /// outcome, failure included, instead of starting the server once more.
    attempts: AtomicU64,
}

impl McpHub {
    /// The hub for these (already checked) entries; nothing starts yet.
    pub fn new(servers: Vec<McpServerConfig>) -> McpHub {
        let servers = servers
            .into_iter()
            .map(|config| {
                let status = if config.enabled { ServerStatus::NotStarted } else { ServerStatus::Disabled };
                Arc::new(Server {
                    config,
                    conn: tokio::sync::Mutex::new(None),
                    status: StdMutex::new(status),
                    attempts: AtomicU64::new(0),
                })
            })
            .collect();
        McpHub { servers }
    }

    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }

    /// Configured server names, in config order.
    pub fn server_names(&self) -> Vec<String> {
        self.servers.iter().map(|s| s.config.name.clone()).collect()
    }

    pub fn status(&self, server: &str) -> Option<ServerStatus> {
        self.server(server).map(|s| s.status())
    }

    /// Every configured server with what is known of it now.
    pub fn statuses(&self) -> Vec<(McpServerConfig, ServerStatus)> {
        self.servers.iter().map(|s| (s.config.clone(), s.status())).collect()
    }

    /// Tools of the servers that are running, in config order.
    pub fn known_tools(&self) -> Vec<McpTool> {
        self.servers
            .iter()
            .flat_map(|s| match s.status() {
                ServerStatus::Running(tools) => tools,
                _ => Vec::new(),
            })
            .collect()
    }

    /// A running server's tool by the name users write (`server.tool`) or the one models see.
    pub fn find(&self, name: &str) -> Option<McpTool> {
        let server = self.servers.iter().find(|s| {
            let n = &s.config.name;
            name.strip_prefix(n.as_str())
                .is_some_and(|rest| rest.starts_with(SEPARATOR) || rest.starts_with(WIRE_SEPARATOR))
        })?;
        match server.status() {
            ServerStatus::Running(tools) => tools.into_iter().find(|t| t.full_name == name || t.wire_spec.name == name),
            _ => None,
        }
    }

    /// The server a user's tool name belongs to (`server.tool` or `server.*`), if configured.
    pub fn server_of(&self, name: &str) -> Option<&str> {
        let (server, _) = name.split_once(SEPARATOR)?;
        self.server(server).map(|s| s.config.name.as_str())
    }

    fn server(&self, name: &str) -> Option<&Arc<Server>> {
        self.servers.iter().find(|s| s.config.name == name)
    }

    /// Start `server` unless it runs already. The error says what went wrong for the user.
    pub async fn start(&self, server: &str, hidden_env: &[String]) -> Result<Vec<McpTool>, String> {
        let Some(s) = self.server(server) else {
            return Err(format!("There is no MCP server named \"{server}\" in the config."));
        };
        s.ensure(hidden_env).await.map(|_| match s.status() {
            ServerStatus::Running(tools) => tools,
            _ => Vec::new(),
        })
    }

    /// Start every enabled server (for `roundtable tools`), concurrently.
    pub async fn start_all(&self, hidden_env: &[String]) {
        let starts = self.servers.iter().filter(|s| s.config.enabled).map(|s| s.ensure(hidden_env));
        futures_util::future::join_all(starts).await;
    }

    /// Call `tool` (a running server's tool, as found by [`McpHub::find`]). Never fails: a
    /// server that is gone, silent or confused becomes an error result the model reads.
    pub async fn call(
        &self,
        tool: &McpTool,
        arguments: serde_json::Map<String, Value>,
        hidden_env: &[String],
    ) -> ToolOutput {
        let Some(server) = self.server(&tool.server) else {
            return ToolOutput::error(format!("The MCP server {} is no longer configured.", tool.server));
        };
        let started = Instant::now();
        let mut output = server.call(&tool.tool, arguments, hidden_env).await;
        // A server may echo what it was sent, a header's secret included.
        if let Cow::Owned(clean) = redact_secrets(&output.output) {
            output.output = clean;
        }
        let outcome = if output.is_error { "error" } else { "ok" };
        // Never the arguments: they may hold anything, secrets included.
        tracing::info!(
            server = %tool.server,
            tool = %tool.tool,
            duration_ms = started.elapsed().as_millis() as u64,
            outcome,
            "mcp tool call"
        );
        output
    }

    /// Close every running server (its stdin, then a signal if it lingers); for exit.
    pub async fn shutdown(&self) {
        let closes = self.servers.iter().map(|s| async {
            let conn = s.conn.lock().await.take();
            if let Some(conn) = conn {
                conn.close().await;
                tracing::info!(server = %s.config.name, "mcp server stopped");
            }
        });
        futures_util::future::join_all(closes).await;
    }
}

impl Server {
    fn status(&self) -> ServerStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or(ServerStatus::NotStarted)
    }

    fn set_status(&self, status: ServerStatus) {
        if let Ok(mut s) = self.status.lock() {
            *s = status;
        }
    }

    /// The live connection's peer, starting the server first when needed.
    async fn ensure(&self, hidden_env: &[String]) -> Result<Peer<RoleClient>, String> {
        let name = &self.config.name;
        if !self.config.enabled {
            return Err(format!("The MCP server {name} is disabled in the config (enabled = false)."));
        }
        let attempts_before = self.attempts.load(Ordering::SeqCst);
        let mut conn = self.conn.lock().await;
        if let Some(c) = conn.as_ref().filter(|c| c.is_alive()) {
            return Ok(c.peer());
        }
        if self.attempts.load(Ordering::SeqCst) != attempts_before
            && let ServerStatus::Failed(e) = self.status()
        {
            // Another caller's start failed while this one waited for it: one failure is enough.
            return Err(e);
        }
        if let Some(old) = conn.take() {
            tracing::warn!(server = %name, "mcp server had stopped; starting it again");
            old.close().await;
        }
        let before = self.status();
        if !matches!(before, ServerStatus::Running(_)) {
            self.set_status(ServerStatus::Starting);
        }
        let started = Instant::now();
        let outcome = tokio::time::timeout(self.config.timeout(), self.start(hidden_env)).await;
        self.attempts.fetch_add(1, Ordering::SeqCst);
        match outcome {
            Ok(Ok((c, tools))) => {
                tracing::info!(server = %name, tools = tools.len(), ms = started.elapsed().as_millis() as u64, "mcp server started");
                let peer = c.peer();
                *conn = Some(c);
                self.set_status(ServerStatus::Running(tools));
                Ok(peer)
            }
            Ok(Err(e)) => {
                // The server's words may echo a header it was sent.
                let e = redact_secrets(&e).into_owned();
                tracing::warn!(server = %name, error = %e, "mcp server failed to start");
                self.set_status(ServerStatus::Failed(e.clone()));
                Err(e)
            }
            Err(_) => {
                let e = format!(
                    "The MCP server {name} did not finish starting (initialize and list its tools) within {} s; it was stopped. Check its command, or raise timeout_secs.",
                    self.config.timeout_secs
                );
                tracing::warn!(server = %name, "mcp server start timed out");
                self.set_status(ServerStatus::Failed(e.clone()));
                Err(e)
            }
        }
    }

    async fn start(&self, hidden_env: &[String]) -> Result<(connect::Connection, Vec<McpTool>), String> {
        let conn = connect::open(&self.config, hidden_env).await?;
        let listed = conn.peer().list_all_tools().await;
        let listed = match listed {
            Ok(l) => l,
            Err(e) => {
                let detail = conn.failure_detail(&e.to_string()).await;
                conn.close().await;
                return Err(format!(
                    "The MCP server {} started but listing its tools failed: {detail}",
                    self.config.name
                ));
            }
        };
        let mut tools: Vec<McpTool> = Vec::with_capacity(listed.len());
        for t in listed {
            let tool = t.name.to_string();
            let wire = wire_name(&self.config.name, &tool);
            if tools.iter().any(|o| o.wire_spec.name == wire) {
                tracing::warn!(server = %self.config.name, tool = %tool, "two MCP tools map to one name; the second is left out");
                continue;
            }
            let description = t.description.as_deref().map(|d| strip_controls(d).into_owned()).unwrap_or_default();
            let mut parameters = Value::Object((*t.input_schema).clone());
            // Providers reject function schemas without a top-level type.
            if let Some(obj) = parameters.as_object_mut() {
                obj.entry("type").or_insert_with(|| Value::from("object"));
            }
            tools.push(McpTool {
                server: self.config.name.clone(),
                full_name: format!("{}{SEPARATOR}{tool}", self.config.name),
                safe: self.config.is_safe(&tool),
                wire_spec: ToolSpec { name: wire, description, parameters },
                tool,
            });
        }
        Ok((conn, tools))
    }

    async fn call(&self, tool: &str, arguments: serde_json::Map<String, Value>, hidden_env: &[String]) -> ToolOutput {
        let name = &self.config.name;
        let peer = match self.ensure(hidden_env).await {
            Ok(p) => p,
            Err(e) => return ToolOutput::error(e),
        };
        let request = CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments);
        let secs = self.config.timeout_secs;
        match tokio::time::timeout(self.config.timeout(), peer.call_tool(request)).await {
            Err(_) => {
                ToolOutput::error(format!("The MCP server {name} did not answer the call to {tool} within {secs} s."))
            }
            Ok(Ok(result)) => match serde_json::to_value(&result) {
                Ok(json) => content::to_output(&json),
                Err(e) => ToolOutput::error(format!("The result of {name}.{tool} could not be read: {e}")),
            },
            Ok(Err(ServiceError::McpError(e))) => {
                let message: String = strip_controls(&e.message).chars().take(500).collect();
                let gone = matches!(e.code, ErrorCode::METHOD_NOT_FOUND | ErrorCode::INVALID_PARAMS)
                    && message.to_lowercase().contains("tool");
                if gone {
                    // The server may have changed its tools since it started: list them again next time.
                    self.forget_connection().await;
                }
                ToolOutput::error(format!("The MCP server {name} refused the call to {tool}: {message}"))
            }
            Ok(Err(e)) => {
                let detail = {
                    let conn = self.conn.lock().await;
                    match conn.as_ref() {
                        Some(c) => c.failure_detail(&e.to_string()).await,
                        None => e.to_string(),
                    }
                };
                // The connection is broken (crash, closed pipe, garbage on stdout): the next use
                // starts the server again.
                self.forget_connection().await;
                ToolOutput::error(format!(
                    "The MCP server {name} failed during the call to {tool} ({detail}); it will be started again on the next call."
                ))
            }
        }
    }

    /// Drop a broken connection; the next call starts the server again. The tools stay listed
    /// as last seen, so that calls keep reaching this server (and restart it).
    async fn forget_connection(&self) {
        let old = self.conn.lock().await.take();
        if let Some(old) = old {
            old.close().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str) -> McpServerConfig {
        McpServerConfig {
            name: name.into(),
            command: Some("npx".into()),
            args: vec![],
            env: BTreeMap::new(),
            cwd: None,
            url: None,
            headers: Headers::default(),
            timeout_secs: 10.0,
            enabled: true,
            safe_tools: vec!["echo".into(), "fs.read".into()],
        }
    }

    #[test]
    fn entries_are_checked() {
        assert_eq!(check_all(&[entry("fs"), entry("everything")]), Ok(()));
        let err = |e: McpServerConfig| e.check().unwrap_err().to_string();
        assert!(err(entry("has.dot")).contains("letters, digits"));
        assert!(err(McpServerConfig { command: None, ..entry("x") }).contains("give command"));
        assert!(err(McpServerConfig { url: Some("http://h/mcp".into()), ..entry("x") }).contains("not both"));
        assert!(err(McpServerConfig { command: None, url: Some("ftp://h".into()), ..entry("x") }).contains("http://"));
        assert!(err(McpServerConfig { timeout_secs: -1.0, ..entry("x") }).contains("timeout_secs"));
        let dup = check_all(&[entry("a"), entry("a")]).unwrap_err().to_string();
        assert!(dup.contains("same name"), "{dup}");
    }

    #[test]
    fn headers_take_variables_from_the_environment_and_hide_their_values() {
        let env = |var: &str| (var == "TOKEN").then(|| "s3cr3t-value-42".to_owned());
        assert_eq!(expand_env("Bearer ${TOKEN}", env).unwrap(), "Bearer s3cr3t-value-42");
        assert_eq!(expand_env("cost $5, ${TOKEN}!", env).unwrap(), "cost $5, s3cr3t-value-42!");
        let e = expand_env("Bearer ${MISSING}", env).unwrap_err();
        assert!(e.contains("environment variable MISSING is not set"), "{e}");
        assert!(expand_env("Bearer ${TOKEN", env).unwrap_err().contains("without its closing"));
        assert!(expand_env("${A B}", env).unwrap_err().contains("letters, digits"));

        let remote = |headers: &[(&str, &str)]| McpServerConfig {
            command: None,
            url: Some("https://h/mcp".into()),
            headers: Headers(headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()),
            ..entry("r")
        };
        assert_eq!(remote(&[("Authorization", "Bearer ${TOKEN}")]).check(), Ok(()));
        let err = |e: McpServerConfig| e.check().unwrap_err().to_string();
        assert!(err(remote(&[("Bad Name", "x")])).contains("not a valid HTTP header name"));
        assert!(err(remote(&[("Mcp-Session-Id", "x")])).contains("set by the MCP client itself"));
        assert!(err(remote(&[("X-Key", "${NOPE")])).contains("without its closing"));
        let local = McpServerConfig { headers: remote(&[("X-Key", "v")]).headers, ..entry("l") };
        assert!(err(local).contains("headers are for remote servers"));

        let config = remote(&[("Authorization", "Bearer literal-secret-token")]);
        let debug = format!("{config:?}");
        assert!(debug.contains("Authorization") && !debug.contains("literal-secret"), "{debug}");
        let resolved = config.headers.resolve(env).unwrap();
        assert_eq!(resolved, [("Authorization".to_owned(), "Bearer literal-secret-token".to_owned())]);
        assert_eq!(redact_secrets("401 for literal-secret-token"), "401 for [redacted key]");
    }

    #[test]
    fn names_and_safety() {
        assert_eq!(wire_name("everything", "echo"), "everything__echo");
        assert_eq!(wire_name("fs", "read.file/v2"), "fs__read_file_v2");
        assert_eq!(wire_name("s", &"x".repeat(100)).len(), 64);
        let e = entry("fs");
        assert!(e.is_safe("echo") && e.is_safe("read") && !e.is_safe("write"));
        let hub = McpHub::new(vec![entry("fs"), McpServerConfig { enabled: false, ..entry("off") }]);
        assert_eq!(hub.server_of("fs.*"), Some("fs"));
        assert_eq!(hub.server_of("nope.x"), None);
        assert_eq!(hub.status("fs"), Some(ServerStatus::NotStarted));
        assert_eq!(hub.status("off"), Some(ServerStatus::Disabled));
        assert!(hub.find("fs.read").is_none(), "not started: no tools known");
    }
}
