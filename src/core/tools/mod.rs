//! Tools the models of a room may call: the built-ins that need no setup (`calculator`,
//! `current_time`), the user's own commands from the config (`[[tools]]`) and the tools of MCP
//! servers (`[[mcp_servers]]`, named `server.tool`); their definitions as sent to models, the
//! checks a call must pass before it runs, and running it to a result. The tool loop itself
//! (asking, approving, feeding results back) is the router's.

pub mod calculator;
pub mod clock;
mod command;
pub mod mcp;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use command::{CommandSpec, MAX_OUTPUT};
pub use mcp::{McpConfigError, McpHub, McpServerConfig};

use crate::core::protocol::{ToolCall, ToolSpec};

/// Names of the built-in tools.
pub const CALCULATOR: &str = "calculator";
pub const CURRENT_TIME: &str = "current_time";

/// A user tool as written in the config file (`[[tools]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserToolConfig {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// JSON Schema of the arguments object: a TOML table, or the schema as a JSON string.
    #[serde(default = "empty_schema")]
    pub parameters: Value,
    /// Program and arguments (no shell unless you name one, e.g. ["sh", "-c", "…"]).
    pub command: Vec<String>,
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: f64,
    /// Working directory; the directory roundtable was started in when unset.
    #[serde(default)]
    pub cwd: Option<PathBuf>,
    /// Run without asking. Only for commands that cannot change or leak anything.
    #[serde(default)]
    pub safe: bool,
}

fn empty_schema() -> Value {
    serde_json::json!({"type": "object", "properties": {}})
}

fn default_timeout_secs() -> f64 {
    30.0
}

/// A `[[tools]]` entry that cannot be used; the message names it and says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tools entry \"{name}\": {problem}")]
pub struct ToolConfigError {
    pub name: String,
    pub problem: String,
}

/// Tool names the registry does not know, with the ones it does (for a usage error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Unknown tool{}: {}. Available tools: {}.", if .unknown.len() == 1 { "" } else { "s" }, .unknown.join(", "), .available.join(", "))]
pub struct UnknownTools {
    pub unknown: Vec<String>,
    pub available: Vec<String>,
}

/// What the registry tells about a tool.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolInfo {
    pub spec: ToolSpec,
    /// Runs without confirmation (the built-ins, user tools marked `safe`, MCP tools listed in
    /// their server's `safe_tools`).
    pub safe: bool,
    pub builtin: bool,
    /// The MCP server it comes from.
    pub server: Option<String>,
}

/// The result of one call, as fed back to the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolOutput {
    pub output: String,
    pub is_error: bool,
}

impl ToolOutput {
    pub fn ok(output: impl Into<String>) -> Self {
        Self { output: output.into(), is_error: false }
    }
    pub fn error(output: impl Into<String>) -> Self {
        Self { output: output.into(), is_error: true }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Runner {
    Calculator,
    CurrentTime,
    Command(CommandSpec),
}

#[derive(Debug, Clone, PartialEq)]
struct Tool {
    info: ToolInfo,
    runner: Runner,
}

/// Every tool this process can run. Cheap to clone; clones share the MCP servers.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolRegistry {
    tools: Arc<Vec<Tool>>,
    /// Environment variables user tools and MCP servers never see (the providers' API key variables).
    hidden_env: Arc<Vec<String>>,
    mcp: Arc<McpHub>,
}

impl Default for ToolRegistry {
    fn default() -> Self {
        Self::builtins()
    }
}

impl ToolRegistry {
    /// `calculator` and `current_time`.
    pub fn builtins() -> ToolRegistry {
        let builtin = |name: &str, description: &str, parameters: Value, runner| Tool {
            info: ToolInfo {
                spec: ToolSpec { name: name.to_owned(), description: description.to_owned(), parameters },
                safe: true,
                builtin: true,
                server: None,
            },
            runner,
        };
        ToolRegistry {
            tools: Arc::new(vec![
                builtin(CALCULATOR, calculator::DESCRIPTION, calculator::parameters(), Runner::Calculator),
                builtin(CURRENT_TIME, clock::DESCRIPTION, clock::parameters(), Runner::CurrentTime),
            ]),
            hidden_env: Arc::default(),
            mcp: Arc::default(),
        }
    }

    /// The built-ins plus the config's user tools, each checked.
    pub fn with_user_tools(user: &[UserToolConfig]) -> Result<ToolRegistry, ToolConfigError> {
        let mut tools = (*Self::builtins().tools).clone();
        for t in user {
            let tool = user_tool(t)?;
            if tools.iter().any(|x| x.info.spec.name == t.name) {
                let what = if matches!(t.name.as_str(), CALCULATOR | CURRENT_TIME) {
                    "a built-in tool"
                } else {
                    "another entry"
                };
                return Err(problem(t, format!("the name is already used by {what}; pick another name")));
            }
            tools.push(tool);
        }
        Ok(ToolRegistry { tools: Arc::new(tools), hidden_env: Arc::default(), mcp: Arc::default() })
    }

    /// These MCP servers' tools too (checked here; nothing starts until a tool is enabled).
    pub fn with_mcp_servers(mut self, servers: Vec<McpServerConfig>) -> Result<ToolRegistry, McpConfigError> {
        mcp::check_all(&servers)?;
        self.mcp = Arc::new(McpHub::new(servers));
        Ok(self)
    }

    /// The MCP servers (shared by every clone of this registry).
    pub fn mcp(&self) -> &McpHub {
        &self.mcp
    }

    /// Start the MCP servers that `names` (as given to [`ToolRegistry::specs`]) need, so that
    /// their tools are known. The error names every server that failed and why.
    pub async fn prepare<S: AsRef<str>>(&self, names: &[S]) -> Result<(), String> {
        let mut servers: Vec<&str> = names.iter().filter_map(|n| self.mcp.server_of(n.as_ref().trim())).collect();
        servers.sort_unstable();
        servers.dedup();
        let starts = servers.iter().map(|s| self.mcp.start(s, &self.hidden_env));
        let errors: Vec<String> =
            futures_util::future::join_all(starts).await.into_iter().filter_map(Result::err).collect();
        if errors.is_empty() { Ok(()) } else { Err(errors.join("\n")) }
    }

    /// The MCP servers `names` (as given to [`ToolRegistry::specs`]) need, each once, in the
    /// order named.
    pub fn servers_for<S: AsRef<str>>(&self, names: &[S]) -> Vec<String> {
        let mut servers: Vec<String> = Vec::new();
        for server in names.iter().filter_map(|n| self.mcp.server_of(n.as_ref().trim())) {
            if !servers.iter().any(|s| s == server) {
                servers.push(server.to_owned());
            }
        }
        servers
    }

    /// The names among `names` whose MCP server is not running: not started yet, starting, or
    /// failed at its last start (what a request carries as `tools_to_start`).
    pub fn not_running<S: AsRef<str>>(&self, names: &[S]) -> Vec<String> {
        names
            .iter()
            .map(|n| n.as_ref().trim())
            .filter(|n| {
                self.mcp.server_of(n).is_some_and(|s| {
                    matches!(
                        self.mcp.status(s),
                        Some(
                            mcp::ServerStatus::NotStarted | mcp::ServerStatus::Starting | mcp::ServerStatus::Failed(_)
                        )
                    )
                })
            })
            .map(str::to_owned)
            .collect()
    }

    /// Start every enabled MCP server (for a full listing).
    pub async fn start_mcp_servers(&self) {
        self.mcp.start_all(&self.hidden_env).await;
    }

    /// Stop the MCP servers that were started (on exit).
    pub async fn shutdown(&self) {
        self.mcp.shutdown().await;
    }

    /// Remove these variables from user tools' environment (API key variables).
    pub fn hide_env(mut self, vars: impl IntoIterator<Item = String>) -> ToolRegistry {
        self.hidden_env = Arc::new(vars.into_iter().collect());
        self
    }

    /// Built-in and user tools, then the tools of the MCP servers that are running.
    pub fn list(&self) -> Vec<ToolInfo> {
        let local = self.tools.iter().map(|t| t.info.clone());
        local.chain(self.mcp.known_tools().iter().map(mcp::McpTool::info)).collect()
    }

    /// Names `specs` accepts: every known tool, and `server.*` for each enabled MCP server.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.list().into_iter().map(|t| t.spec.name).collect();
        for (config, status) in self.mcp.statuses() {
            if status != mcp::ServerStatus::Disabled {
                names.push(format!("{}{}*", config.name, mcp::SEPARATOR));
            }
        }
        names
    }

    /// A tool by the name users write, or (for MCP tools) the name models see.
    pub fn get(&self, name: &str) -> Option<ToolInfo> {
        self.find(name).map(|t| t.info.clone()).or_else(|| self.mcp.find(name).map(|t| t.info()))
    }

    fn find(&self, name: &str) -> Option<&Tool> {
        self.tools.iter().find(|t| t.info.spec.name == name)
    }

    /// Whether `name` runs without confirmation.
    pub fn is_safe(&self, name: &str) -> bool {
        self.get(name).is_some_and(|t| t.safe)
    }

    /// The definitions to send for `names` (what a room or `ask --tools` enables), in order,
    /// without duplicates. `server.*` stands for every tool of an MCP server. MCP tools are
    /// sent as the server describes them, under the name models accept (`server__tool`); those
    /// of a server not running are left out: start it first ([`ToolRegistry::prepare`]; a
    /// room's request names them in `tools_to_start`, and the router starts them).
    pub fn specs<S: AsRef<str>>(&self, names: &[S]) -> Result<Vec<ToolSpec>, UnknownTools> {
        let mut out: Vec<ToolSpec> = Vec::new();
        let mut unknown = Vec::new();
        let add = |spec: ToolSpec, out: &mut Vec<ToolSpec>| {
            if !out.iter().any(|s| s.name == spec.name) {
                out.push(spec);
            }
        };
        for name in names.iter().map(|n| n.as_ref().trim()).filter(|n| !n.is_empty()) {
            if let Some(t) = self.find(name) {
                add(t.info.spec.clone(), &mut out);
            } else if let Some(server) = self.mcp.server_of(name) {
                let status = self.mcp.status(server);
                let tools = match &status {
                    Some(mcp::ServerStatus::Running(tools)) => tools.as_slice(),
                    _ => &[],
                };
                let wildcard = name.ends_with(".*");
                let matching: Vec<&mcp::McpTool> = tools.iter().filter(|t| wildcard || t.full_name == name).collect();
                let running = matches!(status, Some(mcp::ServerStatus::Running(_)));
                if running && matching.is_empty() && !wildcard {
                    unknown.push(name.to_owned());
                }
                for t in matching {
                    add(t.wire_spec.clone(), &mut out);
                }
            } else {
                unknown.push(name.to_owned());
            }
        }
        if unknown.is_empty() { Ok(out) } else { Err(UnknownTools { unknown, available: self.names() }) }
    }

    /// Whether `call` may run: it names a tool offered in this conversation that this registry
    /// can run, and its arguments are a JSON object with the required members of the right
    /// types. The error is the message the model gets back.
    pub fn check(&self, call: &ToolCall, offered: &[ToolSpec]) -> Result<(), String> {
        let offered_names = || offered.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ");
        let shown: String = call.name.chars().take(80).collect();
        let Some(spec) = offered.iter().find(|t| t.name == call.name) else {
            return Err(format!(
                "There is no tool named \"{shown}\" here. The tools you can call are: {}.",
                offered_names()
            ));
        };
        if self.find(&call.name).is_none() && self.mcp.find(&call.name).is_none() {
            return Err(format!("The tool \"{shown}\" is not available on this machine; answer without it."));
        }
        let args = parse_arguments(&call.arguments)?;
        check_against_schema(&args, &spec.parameters)
    }

    /// Run a call that passed `check`. Never fails: problems become an error result.
    pub async fn run(&self, name: &str, arguments: &str) -> ToolOutput {
        let args = match parse_arguments(arguments) {
            Ok(a) => a,
            Err(e) => return ToolOutput::error(e),
        };
        let Some(tool) = self.find(name) else {
            return match self.mcp.find(name) {
                Some(t) => self.mcp.call(&t, args, &self.hidden_env).await,
                None => ToolOutput::error(format!("There is no tool named \"{name}\".")),
            };
        };
        let text = |key: &str| args.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
        match &tool.runner {
            Runner::Calculator => match calculator::evaluate(&text("expression")) {
                Ok(v) => ToolOutput::ok(v),
                Err(e) => ToolOutput::error(e),
            },
            Runner::CurrentTime => {
                // A model that leaves the zone out gets UTC rather than an error round trip.
                let zone = args.get("timezone").and_then(Value::as_str).unwrap_or("UTC");
                match clock::time_in(zone, jiff::Timestamp::now()) {
                    Ok(v) => ToolOutput::ok(v),
                    Err(e) => ToolOutput::error(e),
                }
            }
            Runner::Command(spec) => {
                let json = if arguments.trim().is_empty() { "{}" } else { arguments };
                command::run(name, spec, json, &self.hidden_env).await
            }
        }
    }
}

/// Arguments as a JSON object; an empty string counts as `{}` (some models send that for
/// tools without parameters).
fn parse_arguments(raw: &str) -> Result<serde_json::Map<String, Value>, String> {
    if raw.trim().is_empty() {
        return Ok(serde_json::Map::new());
    }
    match serde_json::from_str::<Value>(raw) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(format!(
            "The arguments must be a JSON object, not {}. Call the tool again with an object matching its parameters.",
            json_type(&other)
        )),
        Err(e) => {
            let excerpt: String = raw.chars().take(200).collect();
            Err(format!(
                "The arguments are not valid JSON ({e}): {excerpt}. Call the tool again with a JSON object matching its parameters."
            ))
        }
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The checks that catch what models get wrong: missing required members and wrong basic
/// types. (Not a full JSON Schema validator: the tool itself reports anything subtler.)
fn check_against_schema(args: &serde_json::Map<String, Value>, schema: &Value) -> Result<(), String> {
    let missing: Vec<&str> = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|k| !args.contains_key(*k))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "Missing required argument{}: {}.",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", ")
        ));
    }
    for (key, value) in args {
        let Some(expected) = schema["properties"][key]["type"].as_str() else { continue };
        let actual = json_type(value);
        let fits = expected == actual || (expected == "number" && actual == "integer");
        if !fits {
            return Err(format!("Argument \"{key}\" must be of type {expected}, not {actual}."));
        }
    }
    Ok(())
}

fn problem(t: &UserToolConfig, problem: impl Into<String>) -> ToolConfigError {
    ToolConfigError { name: t.name.clone(), problem: problem.into() }
}

/// Check one `[[tools]]` entry and turn it into a runnable tool.
fn user_tool(t: &UserToolConfig) -> Result<Tool, ToolConfigError> {
    let valid_name = !t.name.is_empty()
        && t.name.len() <= 64
        && t.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid_name {
        return Err(problem(t, "name must be 1-64 characters of letters, digits, '_' or '-' (models require it)"));
    }
    if t.command.first().is_none_or(|p| p.trim().is_empty()) {
        return Err(problem(t, "command must name a program, e.g. command = [\"python3\", \"tools/weather.py\"]"));
    }
    if !(t.timeout_secs.is_finite() && t.timeout_secs > 0.0 && t.timeout_secs <= 3600.0) {
        return Err(problem(t, format!("timeout_secs must be between 0 and 3600 seconds (got {})", t.timeout_secs)));
    }
    let mut parameters = match &t.parameters {
        Value::String(s) => serde_json::from_str(s)
            .map_err(|e| problem(t, format!("parameters is a string but not valid JSON: {e}")))?,
        other => other.clone(),
    };
    let Some(obj) = parameters.as_object_mut() else {
        return Err(problem(
            t,
            "parameters must be a JSON Schema object, e.g. { type = \"object\", properties = { … } }",
        ));
    };
    // Providers reject function schemas without a top-level type.
    obj.entry("type").or_insert_with(|| Value::from("object"));
    let description = if t.description.trim().is_empty() {
        format!("Runs the user's command {}.", t.command[0])
    } else {
        t.description.clone()
    };
    Ok(Tool {
        info: ToolInfo {
            spec: ToolSpec { name: t.name.clone(), description, parameters },
            safe: t.safe,
            builtin: false,
            server: None,
        },
        runner: Runner::Command(CommandSpec {
            argv: t.command.clone(),
            timeout: Duration::from_secs_f64(t.timeout_secs),
            cwd: t.cwd.clone(),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, arguments: &str) -> ToolCall {
        ToolCall { id: "c".into(), name: name.into(), arguments: arguments.into(), thought_signature: None }
    }

    #[test]
    fn specs_and_unknown_names() {
        let r = ToolRegistry::builtins();
        let specs = r.specs(&["calculator", "current_time", "calculator"]).unwrap();
        assert_eq!(specs.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["calculator", "current_time"]);
        let err = r.specs(&["calculator", "weather"]).unwrap_err();
        assert_eq!(err.to_string(), "Unknown tool: weather. Available tools: calculator, current_time.");
        assert!(r.is_safe("calculator") && r.is_safe("current_time"));
    }

    #[test]
    fn checks_catch_what_models_get_wrong() {
        let r = ToolRegistry::builtins();
        let offered = r.specs(&["calculator"]).unwrap();
        assert_eq!(r.check(&call("calculator", r#"{"expression":"1+1"}"#), &offered), Ok(()));
        let e = r.check(&call("current_time", r#"{"timezone":"UTC"}"#), &offered).unwrap_err();
        assert!(e.contains("no tool named \"current_time\"") && e.contains("calculator"), "{e}");
        let e = r.check(&call("calculator", r#"{"expression":"1+"#), &offered).unwrap_err();
        assert!(e.contains("not valid JSON"), "{e}");
        let e = r.check(&call("calculator", "[1]"), &offered).unwrap_err();
        assert!(e.contains("JSON object, not array"), "{e}");
        let e = r.check(&call("calculator", "{}"), &offered).unwrap_err();
        assert_eq!(e, "Missing required argument: expression.");
        let e = r.check(&call("calculator", r#"{"expression":17}"#), &offered).unwrap_err();
        assert_eq!(e, "Argument \"expression\" must be of type string, not integer.");
    }

    #[tokio::test]
    async fn builtins_run() {
        let r = ToolRegistry::builtins();
        assert_eq!(r.run("calculator", r#"{"expression":"17*23"}"#).await, ToolOutput::ok("391"));
        let out = r.run("calculator", r#"{"expression":"2/0"}"#).await;
        assert!(out.is_error && out.output.contains("Division by zero"));
        let out = r.run("current_time", r#"{"timezone":"Asia/Tokyo"}"#).await;
        assert!(!out.is_error && out.output.contains("(UTC+09:00)"), "{out:?}");
        assert!(r.run("current_time", "").await.output.ends_with(", UTC"));
    }

    fn user(name: &str) -> UserToolConfig {
        UserToolConfig {
            name: name.into(),
            description: String::new(),
            parameters: empty_schema(),
            command: vec!["cat".into()],
            timeout_secs: 5.0,
            cwd: None,
            safe: false,
        }
    }

    #[test]
    fn user_tool_entries_are_checked() {
        assert!(ToolRegistry::with_user_tools(&[user("echo_json")]).is_ok());
        let err = |t: UserToolConfig| ToolRegistry::with_user_tools(&[t]).unwrap_err().to_string();
        assert!(err(user("calculator")).contains("built-in"));
        assert!(err(user("has space")).contains("letters, digits"));
        assert!(err(UserToolConfig { command: vec![], ..user("x") }).contains("command must name a program"));
        assert!(err(UserToolConfig { timeout_secs: 0.0, ..user("x") }).contains("timeout_secs"));
        assert!(err(UserToolConfig { parameters: Value::from("{nope"), ..user("x") }).contains("not valid JSON"));
        assert!(err(UserToolConfig { parameters: Value::from(3), ..user("x") }).contains("JSON Schema object"));
        let dup = ToolRegistry::with_user_tools(&[user("a"), user("a")]).unwrap_err().to_string();
        assert!(dup.contains("another entry"), "{dup}");
        let r = ToolRegistry::with_user_tools(&[UserToolConfig {
            parameters: Value::from(r#"{"properties":{"q":{"type":"string"}}}"#),
            ..user("search")
        }])
        .unwrap();
        let info = r.get("search").unwrap();
        assert_eq!(info.spec.parameters["type"], "object");
        assert!(!info.safe && !info.builtin);
        assert_eq!(info.spec.description, "Runs the user's command cat.");
    }
}
