//! Against a real, published MCP server: the reference "everything" server from npm
//! (`@modelcontextprotocol/server-everything`), which `.ci/run` installs and names in
//! `ROUNDTABLE_MCP_EVERYTHING`. In CI (`ROUNDTABLE_REQUIRE_MCP_EVERYTHING=1`) a failed install
//! fails this test with the reason; elsewhere, without the server, the test says it was
//! skipped and how to run it.

mod common;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use roundtable::core::tools::{McpServerConfig, ToolRegistry};
use roundtable::sim::{SimConfig, SimServer};
use serde_json::Value;

/// The server's executable, or `None` (after saying why) when this machine has none.
fn everything_server() -> Option<String> {
    let required = std::env::var_os("ROUNDTABLE_REQUIRE_MCP_EVERYTHING").is_some();
    if let Ok(reason) = std::env::var("ROUNDTABLE_MCP_EVERYTHING_ERROR") {
        panic!("The MCP reference server could not be installed by .ci/run, so it was not tested: {reason}");
    }
    match std::env::var("ROUNDTABLE_MCP_EVERYTHING") {
        Ok(path) if Path::new(&path).exists() => Some(path),
        Ok(path) => panic!("ROUNDTABLE_MCP_EVERYTHING names {path}, which does not exist: the install did not work"),
        Err(_) if required => {
            panic!("ROUNDTABLE_MCP_EVERYTHING is not set: .ci/run did not install the MCP reference server")
        }
        Err(_) => {
            eprintln!(
                "SKIPPED: the MCP reference server is not installed here. Run .ci/run, or `npm install \
                 @modelcontextprotocol/server-everything` and set ROUNDTABLE_MCP_EVERYTHING to its \
                 node_modules/.bin/mcp-server-everything."
            );
            None
        }
    }
}

fn config(command: &str) -> McpServerConfig {
    McpServerConfig {
        name: "everything".into(),
        command: Some(command.into()),
        args: vec![],
        env: Default::default(),
        cwd: None,
        url: None,
        headers: Default::default(),
        timeout_secs: 60.0,
        enabled: true,
        safe_tools: vec!["echo".into()],
    }
}

#[tokio::test]
async fn the_reference_server_s_tools_work_through_the_registry() {
    let Some(command) = everything_server() else { return };
    let tools = ToolRegistry::builtins().with_mcp_servers(vec![config(&command)]).unwrap();
    tools.prepare(&["everything.*"]).await.expect("the reference server starts");
    let specs = tools.specs(&["everything.*"]).unwrap();
    let echo = specs.iter().find(|s| s.name == "everything__echo").expect("echo is offered");
    assert_eq!(echo.parameters["required"][0], "message");
    assert!(tools.is_safe("everything.echo") && !tools.is_safe("everything.get-sum"));

    let out = tools.run("everything.echo", r#"{"message":"side by side"}"#).await;
    assert!(!out.is_error && out.output.contains("side by side"), "{out:?}");
    let out = tools.run("everything__get-sum", r#"{"a":2,"b":3}"#).await;
    assert!(!out.is_error && out.output.contains('5'), "{out:?}");
    // Images become a placeholder with their type and size.
    let out = tools.run("everything__get-tiny-image", "{}").await;
    assert!(!out.is_error && out.output.contains("[image: image/png, "), "{out:?}");
    // Embedded resources become their text.
    let out = tools.run("everything__get-resource-reference", r#"{"resourceId":1,"resourceType":"Text"}"#).await;
    assert!(!out.is_error && out.output.contains("[resource "), "{out:?}");
    tools.shutdown().await;
}

async fn output(mut cmd: tokio::process::Command) -> Output {
    tokio::time::timeout(Duration::from_secs(120), cmd.output()).await.expect("the binary finishes").expect("runs")
}

#[tokio::test]
async fn ask_with_two_models_calling_the_reference_server() {
    let Some(command) = everything_server() else { return };
    let sim = SimServer::start(
        SimConfig {
            default_tokens: Some(20),
            default_tps: Some(0.0),
            default_ttft_ms: Some(0),
            ..SimConfig::default()
        },
        0,
    )
    .await
    .unwrap();
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join("config")).unwrap();
    let toml = format!("[[mcp_servers]]\nname = \"everything\"\ncommand = {command:?}\nsafe_tools = [\"echo\"]\n");
    std::fs::write(home.path().join("config/config.toml"), toml).unwrap();
    let run = |args: &[&str]| {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_roundtable"));
        cmd.arg("--base-url").arg(sim.base_url()).args(args);
        cmd.env("ROUNDTABLE_DATA_DIR", home.path().join("data"))
            .env("ROUNDTABLE_CONFIG_DIR", home.path().join("config"))
            .env("ROUNDTABLE_CACHE_DIR", home.path().join("cache"))
            .env("OPENROUTER_API_KEY", common::TEST_KEY)
            .kill_on_drop(true);
        cmd
    };
    let o = output(run(&["tools", "--json"])).await;
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let echo = v["tools"].as_array().unwrap().iter().find(|t| t["name"] == "everything.echo").cloned();
    assert_eq!(echo.map(|e| e["source"].clone()), Some(Value::from("mcp:everything")), "{v}");

    let args = [
        "ask",
        "--yes",
        "--json",
        "--tools",
        "everything.*",
        "-m",
        "a@call=everything.echo",
        "-m",
        "b@call=everything.get-env",
        "Hello from two panes",
    ];
    let o = output(run(&args)).await;
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&o.stderr));
    let results: Vec<Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["type"] == "tool_result")
        .collect();
    assert_eq!(results.len(), 2, "{stdout}");
    let text = |i: usize| results[i]["output"].as_str().unwrap_or_default().to_owned();
    let (echo, env) = if text(0).contains("Hello from two panes") { (text(0), text(1)) } else { (text(1), text(0)) };
    assert!(echo.contains("Hello from two panes"), "{stdout}");
    assert!(env.contains("PATH"), "the server's environment: {env}");
    assert!(!env.contains(common::TEST_KEY), "the API key must not reach the server: {env}");
    sim.shutdown().await;
}
