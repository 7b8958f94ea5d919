//! `roundtable tools`: every tool the models can be given — built in, the config's commands,
//! and the tools of each MCP server (started for the listing, then stopped) — with where it
//! comes from, its description and schema, and whether it runs without asking. A server that
//! cannot start is listed with its error.

use std::io::Write;

use serde_json::{Value, json};

use crate::config::Config;
use crate::core::sanitize::strip_controls;
use crate::core::tools::ToolInfo;
use crate::core::tools::mcp::{McpServerConfig, ServerStatus, wire_name};

#[derive(clap::Args, Debug)]
pub struct ToolsArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Exit status: 0, or 1 when an enabled MCP server failed to start (it is listed with why).
pub async fn run(config: &Config, args: ToolsArgs) -> i32 {
    let tools = &config.tools;
    tools.start_mcp_servers().await;
    let listed = tools.list();
    let servers = tools.mcp().statuses();
    tools.shutdown().await;
    let failed = servers.iter().any(|(_, s)| matches!(s, ServerStatus::Failed(_)));
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        let v = json!({
            "tools": listed.iter().map(tool_json).collect::<Vec<_>>(),
            "mcp_servers": servers.iter().map(|(c, s)| server_json(c, s)).collect::<Vec<_>>(),
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&v).unwrap_or_default())
    } else {
        write!(out, "{}", text(&listed, &servers))
    };
    if written.is_err() {
        return 1;
    }
    i32::from(failed)
}

fn source(t: &ToolInfo) -> String {
    match (&t.server, t.builtin) {
        (Some(server), _) => format!("mcp:{server}"),
        (None, true) => "built-in".to_owned(),
        (None, false) => "command".to_owned(),
    }
}

fn model_name(t: &ToolInfo) -> String {
    match &t.server {
        Some(server) => wire_name(server, t.spec.name.strip_prefix(&format!("{server}.")).unwrap_or(&t.spec.name)),
        None => t.spec.name.clone(),
    }
}

fn tool_json(t: &ToolInfo) -> Value {
    json!({
        "name": t.spec.name,
        "name_for_models": model_name(t),
        "source": source(t),
        "description": t.spec.description,
        "parameters": t.spec.parameters,
        "runs_without_asking": t.safe,
    })
}

fn transport(c: &McpServerConfig) -> String {
    match (&c.url, &c.command) {
        (Some(url), _) => url.clone(),
        (None, Some(cmd)) => {
            std::iter::once(cmd.as_str()).chain(c.args.iter().map(String::as_str)).collect::<Vec<_>>().join(" ")
        }
        (None, None) => String::new(),
    }
}

fn server_json(c: &McpServerConfig, s: &ServerStatus) -> Value {
    let (status, error, count) = match s {
        ServerStatus::Running(tools) => ("running", None, tools.len()),
        ServerStatus::Failed(e) => ("failed", Some(e.as_str()), 0),
        ServerStatus::Disabled => ("disabled", None, 0),
        ServerStatus::NotStarted => ("not started", None, 0),
        ServerStatus::Starting => ("starting", None, 0),
    };
    // Header names only: their values are secrets.
    let headers = c.headers.names();
    json!({"name": c.name, "runs": transport(c), "headers": headers, "status": status, "error": error, "tools": count})
}

fn text(tools: &[ToolInfo], servers: &[(McpServerConfig, ServerStatus)]) -> String {
    let mut s = String::new();
    for t in tools {
        let ask = if t.safe { "runs without asking" } else { "asks first" };
        let alias = if t.server.is_some() { format!(", models see {}", model_name(t)) } else { String::new() };
        s.push_str(&format!("{}  ({}, {ask}{alias})\n", t.spec.name, source(t)));
        let description = strip_controls(t.spec.description.trim()).replace('\n', "\n    ");
        if !description.is_empty() {
            s.push_str(&format!("    {description}\n"));
        }
        s.push_str(&format!("    parameters: {}\n", t.spec.parameters));
    }
    if !servers.is_empty() {
        s.push_str("\nMCP servers:\n");
    }
    for (c, status) in servers {
        let state = match status {
            ServerStatus::Running(tools) => format!("running, {} tools", tools.len()),
            ServerStatus::Failed(e) => format!("FAILED: {e}"),
            ServerStatus::Disabled => "disabled (enabled = false)".to_owned(),
            ServerStatus::NotStarted => "not started".to_owned(),
            ServerStatus::Starting => "starting".to_owned(),
        };
        s.push_str(&format!("  {}  [{}]  {state}\n", c.name, transport(c)));
    }
    s
}
