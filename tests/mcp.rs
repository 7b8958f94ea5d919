//! MCP tools: the client against an MCP server built for these tests and run in-process
//! (rmcp's server side, over Streamable HTTP on loopback), scripted stdio servers that
//! misbehave on purpose (tests/fixtures/mcp/fake_server.sh), and the real binary: `ask` with
//! two simulated models calling an MCP tool, and `roundtable tools` listing it all.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::response::IntoResponse;
use rmcp::ServerHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ErrorData, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use roundtable::core::protocol::{EventKind, ToolCall};
use roundtable::core::tools::mcp::ServerStatus;
use roundtable::core::tools::{McpServerConfig, ToolOutput, ToolRegistry};
use roundtable::sim::{SimConfig, SimServer};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// A weather service: `forecast` (text; an `isError` result for Atlantis) and `radar` (text
/// and an image).
#[derive(Clone)]
struct Weather;

fn schema(v: Value) -> Arc<serde_json::Map<String, Value>> {
    Arc::new(v.as_object().cloned().unwrap_or_default())
}

impl ServerHandler for Weather {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let city = json!({"type": "object", "properties": {"city": {"type": "string", "description": "City name"}}, "required": ["city"]});
        Ok(ListToolsResult::with_all_items(vec![
            Tool::new("forecast", "Tomorrow's weather for a city", schema(city)),
            Tool::new("radar", "The current radar picture", schema(json!({"type": "object", "properties": {}}))),
        ]))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let city = request.arguments.as_ref().and_then(|a| a.get("city")).and_then(Value::as_str).unwrap_or_default();
        let result = match request.name.as_ref() {
            "forecast" if city == "Atlantis" => {
                CallToolResult::error(vec![ContentBlock::text("Atlantis is under water: no forecast")])
            }
            "forecast" => CallToolResult::success(vec![ContentBlock::text(format!("{city}: sunny, 21 °C"))]),
            "radar" => CallToolResult::success(vec![
                ContentBlock::text("radar picture:"),
                ContentBlock::image("iVBORw0KGgo=", "image/png"),
            ]),
            other => return Err(ErrorData::invalid_params(format!("Unknown tool: {other}"), None)),
        };
        Ok(result.into())
    }
}

/// The weather service on loopback; the counter counts MCP sessions (one per client start).
async fn serve_weather(sessions: Arc<AtomicUsize>) -> (String, CancellationToken) {
    serve_weather_behind(None, sessions).await
}

/// The weather service, answering only requests with `Authorization: Bearer TOKEN` when a
/// token is given (401 otherwise).
async fn serve_weather_behind(token: Option<&'static str>, sessions: Arc<AtomicUsize>) -> (String, CancellationToken) {
    let stop = CancellationToken::new();
    let service = StreamableHttpService::new(
        move || {
            sessions.fetch_add(1, Ordering::SeqCst);
            Ok(Weather)
        },
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default().with_cancellation_token(stop.child_token()),
    );
    let router = axum::Router::new().nest_service("/mcp", service);
    let router = match token {
        Some(token) => router.layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| async move {
                let sent = request.headers().get("authorization").and_then(|v| v.to_str().ok());
                if sent == Some(format!("Bearer {token}").as_str()) {
                    next.run(request).await
                } else {
                    axum::http::StatusCode::UNAUTHORIZED.into_response()
                }
            },
        )),
        None => router,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("loopback port");
    let addr = listener.local_addr().expect("address");
    let until = stop.clone();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).with_graceful_shutdown(until.cancelled_owned()).await;
    });
    (format!("http://{addr}/mcp"), stop)
}

fn server(toml_text: &str) -> McpServerConfig {
    toml::from_str(toml_text).expect("a valid [[mcp_servers]] entry")
}

fn registry(servers: Vec<McpServerConfig>) -> ToolRegistry {
    ToolRegistry::builtins().with_mcp_servers(servers).expect("entries pass the checks")
}

fn names(specs: &[roundtable::core::protocol::ToolSpec]) -> Vec<&str> {
    specs.iter().map(|s| s.name.as_str()).collect()
}

fn call(name: &str, arguments: &str) -> ToolCall {
    ToolCall { id: "c1".into(), name: name.into(), arguments: arguments.into(), thought_signature: None }
}

#[tokio::test]
async fn an_http_server_s_tools_are_offered_as_described_and_called() {
    let sessions = Arc::new(AtomicUsize::new(0));
    let (url, stop) = serve_weather(sessions.clone()).await;
    let tools = registry(vec![server(&format!("name = \"weather\"\nurl = \"{url}\"\nsafe_tools = [\"forecast\"]"))]);
    assert!(tools.names().contains(&"weather.*".to_owned()));
    // Nothing starts before a tool is enabled.
    assert_eq!(tools.list().len(), 2);
    assert_eq!(sessions.load(Ordering::SeqCst), 0);

    tools.prepare(&["calculator", "weather.*"]).await.expect("the server starts");
    let specs = tools.specs(&["calculator", "weather.*"]).unwrap();
    assert_eq!(names(&specs), ["calculator", "weather__forecast", "weather__radar"]);
    assert_eq!(specs[1].description, "Tomorrow's weather for a city");
    assert_eq!(specs[1].parameters["properties"]["city"]["description"], "City name");
    assert_eq!(names(&tools.specs(&["weather.radar"]).unwrap()), ["weather__radar"]);
    let unknown = tools.specs(&["weather.tides"]).unwrap_err().to_string();
    assert!(unknown.contains("Unknown tool: weather.tides"), "{unknown}");

    assert!(tools.is_safe("weather.forecast") && tools.is_safe("weather__forecast"));
    assert!(!tools.is_safe("weather__radar"), "only safe_tools run without asking");
    let listed = tools.list();
    let radar = listed.iter().find(|t| t.spec.name == "weather.radar").expect("listed under its full name");
    assert_eq!(radar.server.as_deref(), Some("weather"));

    let offered = &specs;
    let e = tools.check(&call("weather__forecast", "{}"), offered).unwrap_err();
    assert_eq!(e, "Missing required argument: city.");
    assert_eq!(tools.check(&call("weather__forecast", r#"{"city":"Oslo"}"#), offered), Ok(()));

    assert_eq!(tools.run("weather__forecast", r#"{"city":"Oslo"}"#).await, ToolOutput::ok("Oslo: sunny, 21 °C"));
    assert_eq!(
        tools.run("weather__forecast", r#"{"city":"Atlantis"}"#).await,
        ToolOutput::error("Atlantis is under water: no forecast")
    );
    assert_eq!(tools.run("weather__radar", "").await, ToolOutput::ok("radar picture:\n[image: image/png, 8 B]"));
    assert_eq!(sessions.load(Ordering::SeqCst), 1, "one session for all of it");
    tools.shutdown().await;
    stop.cancel();
}

#[tokio::test]
async fn a_request_names_the_tools_whose_server_must_start_first_and_the_router_starts_it() {
    let sim = common::sim().await;
    let sessions = Arc::new(AtomicUsize::new(0));
    let (url, stop) = serve_weather(sessions.clone()).await;
    let tools = registry(vec![server(&format!("name = \"weather\"\nurl = \"{url}\"\nsafe_tools = [\"forecast\"]"))]);
    let enabled = ["calculator", "weather.forecast"];
    // A resumed room's first prompt: the server is not running, so its tools are not known…
    assert_eq!(names(&tools.specs(&enabled).unwrap()), ["calculator"]);
    assert_eq!(tools.not_running(&enabled), ["weather.forecast"]);
    assert_eq!(sessions.load(Ordering::SeqCst), 0, "asking for specs starts nothing");
    // …so the request says which to start, and the router starts it before the first step.
    let mut core_config = common::core_config(&sim.base_url());
    core_config.tools = tools.clone();
    let (core, mut events) = common::start_core(core_config);
    let mut request = common::target(0, "m@call=weather.forecast@tps=0@ttft=0", "Weather in Oslo?");
    request.tools = tools.specs(&enabled).unwrap();
    request.tools_to_start = tools.not_running(&enabled);
    let events = common::run_turn(&core, &mut events, vec![request]).await.remove(0);
    let notices: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            EventKind::Notice { message } => Some(message.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(notices, ["Starting MCP server weather… (this answer waits for its tools)"]);
    let called =
        events.iter().any(|e| matches!(e, EventKind::ToolCall { call, .. } if call.name == "weather__forecast"));
    assert!(called, "the model was offered the tool: {events:?}");
    assert!(matches!(common::final_of(&events), EventKind::Finished { .. }), "{events:?}");
    assert_eq!(sessions.load(Ordering::SeqCst), 1);
    assert!(tools.not_running(&enabled).is_empty());
    tools.shutdown().await;
    stop.cancel();
    sim.shutdown().await;
}

#[tokio::test]
async fn a_remote_server_gets_its_headers_and_their_values_stay_secret() {
    let sessions = Arc::new(AtomicUsize::new(0));
    let (url, stop) = serve_weather_behind(Some("canary-token-3141592653"), sessions.clone()).await;
    let entry = |name: &str, token: &str| {
        server(&format!("name = \"{name}\"\nurl = \"{url}\"\nheaders = {{ Authorization = \"Bearer {token}\" }}"))
    };
    let tools = registry(vec![
        entry("weather", "canary-token-3141592653"),
        entry("locked", "wrong-canary-2718281828"),
        server(&format!("name = \"open\"\nurl = \"{url}\"")),
    ]);
    tools.prepare(&["weather.*"]).await.expect("the token opens the door");
    assert_eq!(tools.run("weather.forecast", r#"{"city":"Oslo"}"#).await, ToolOutput::ok("Oslo: sunny, 21 °C"));
    for name in ["locked", "open"] {
        let e = tools.prepare(&[format!("{name}.*")]).await.unwrap_err();
        assert!(e.contains(&format!("The MCP server {name} at {url}")), "{e}");
        assert!(!e.contains("canary"), "no header value in errors: {e}");
    }
    // Debug output (what a log line could carry) names the headers, never their values.
    let debug = format!("{:?}", tools);
    assert!(debug.contains("Authorization") && !debug.contains("canary"), "{debug}");
    assert_eq!(sessions.load(Ordering::SeqCst), 1, "only the right token got a session");
    tools.shutdown().await;
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panes_share_one_server_started_once() {
    let sessions = Arc::new(AtomicUsize::new(0));
    let (url, stop) = serve_weather(sessions.clone()).await;
    let tools = registry(vec![server(&format!("name = \"weather\"\nurl = \"{url}\""))]);
    // Three panes enable the tools at the same moment, each through its own clone.
    let panes: Vec<ToolRegistry> = (0..3).map(|_| tools.clone()).collect();
    let starts = panes.iter().map(|p| p.prepare(&["weather.forecast"]));
    for r in futures_util::future::join_all(starts).await {
        r.expect("started");
    }
    let calls = panes.iter().map(|p| p.run("weather.forecast", r#"{"city":"Lima"}"#));
    for out in futures_util::future::join_all(calls).await {
        assert_eq!(out, ToolOutput::ok("Lima: sunny, 21 °C"));
    }
    assert_eq!(sessions.load(Ordering::SeqCst), 1);
    tools.shutdown().await;
    stop.cancel();
}

fn fake_server(mode: &str, extra: &[&str]) -> McpServerConfig {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mcp/fake_server.sh");
    let mut args = vec![script.display().to_string(), mode.to_owned()];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    McpServerConfig { args, timeout_secs: 5.0, ..server("name = \"fake\"\ncommand = \"sh\"") }
}

#[tokio::test]
async fn a_command_that_does_not_exist_is_a_clear_error() {
    let tools =
        registry(vec![McpServerConfig { command: Some("/nonexistent/mcp-server".into()), ..fake_server("ok", &[]) }]);
    let e = tools.prepare(&["fake.*"]).await.unwrap_err();
    assert!(e.contains("The MCP server fake could not be started (/nonexistent/mcp-server"), "{e}");
    assert!(e.contains("Is it installed and on PATH?"), "{e}");
    assert!(matches!(tools.mcp().status("fake"), Some(ServerStatus::Failed(m)) if m == e));
}

#[tokio::test]
async fn a_server_that_never_answers_initialize_times_out() {
    let tools = registry(vec![McpServerConfig { timeout_secs: 1.0, ..fake_server("silent", &[]) }]);
    let e = tools.prepare(&["fake.*"]).await.unwrap_err();
    assert!(e.contains("did not finish starting (initialize and list its tools) within 1 s"), "{e}");
}

#[tokio::test]
async fn a_crash_mid_call_fails_that_call_and_the_next_call_restarts_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("crashed");
    let tools = registry(vec![fake_server("crash-once", &[&marker.display().to_string()])]);
    tools.prepare(&["fake.hello"]).await.expect("starts");
    let out = tools.run("fake__hello", r#"{"name":"Ada"}"#).await;
    assert!(out.is_error, "{out:?}");
    assert!(out.output.contains("The MCP server fake failed during the call to hello"), "{out:?}");
    assert!(out.output.contains("fatal: out of cheese"), "its stderr is quoted: {out:?}");
    assert!(out.output.contains("started again on the next call"), "{out:?}");
    assert!(marker.exists());
    assert_eq!(tools.run("fake__hello", r#"{"name":"Ada"}"#).await, ToolOutput::ok("Hello, Ada!"));
    tools.shutdown().await;
}

#[tokio::test]
async fn a_malformed_message_fails_the_call_clearly() {
    let tools = registry(vec![McpServerConfig { timeout_secs: 2.0, ..fake_server("garbage", &[]) }]);
    tools.prepare(&["fake.*"]).await.expect("starts");
    let out = tools.run("fake.hello", r#"{"name":"Ada"}"#).await;
    assert!(out.is_error, "{out:?}");
    assert!(out.output.starts_with("The MCP server fake"), "{out:?}");
    tools.shutdown().await;
}

#[tokio::test]
async fn a_tool_that_went_away_is_an_error_for_the_model() {
    let tools = registry(vec![fake_server("ok", &[])]);
    tools.prepare(&["fake.*"]).await.expect("starts");
    let out = tools.run("fake__vanish", "{}").await;
    assert_eq!(out, ToolOutput::error("The MCP server fake refused the call to vanish: Unknown tool: vanish"));
    // The server is asked again next time, and still works.
    assert_eq!(tools.run("fake__hello", r#"{"name":"Bo"}"#).await, ToolOutput::ok("Hello, Bo!"));
    tools.shutdown().await;
}

/// `roundtable <args>` with every directory inside `home` and the simulator's test key.
fn binary(home: &Path, base_url: &str, args: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_roundtable"));
    cmd.arg("--base-url").arg(base_url).args(args);
    cmd.env("ROUNDTABLE_DATA_DIR", home.join("data"))
        .env("ROUNDTABLE_CONFIG_DIR", home.join("config"))
        .env("ROUNDTABLE_CACHE_DIR", home.join("cache"))
        .env("OPENROUTER_API_KEY", common::TEST_KEY)
        .env_remove("GEMINI_API_KEY")
        .env_remove("OPENAI_API_KEY")
        .kill_on_drop(true);
    cmd
}

async fn output(mut cmd: tokio::process::Command) -> Output {
    tokio::time::timeout(Duration::from_secs(60), cmd.output()).await.expect("the binary finishes").expect("runs")
}

fn text(o: &Output) -> String {
    format!("stdout:\n{}\nstderr:\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn write_config(home: &Path, body: &str) -> PathBuf {
    let dir = home.join("config");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.toml");
    std::fs::write(&path, body).unwrap();
    path
}

#[tokio::test]
async fn ask_gives_two_models_an_mcp_server_s_tools_and_tools_lists_them() {
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
    let base = sim.base_url();
    let home = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mcp/fake_server.sh");
    write_config(
        home.path(),
        &format!(
            r#"
[[mcp_servers]]
name = "fake"
command = "sh"
args = ["{}", "ok"]
env = {{ FAKE_VAR = "from-config" }}
safe_tools = ["hello"]

[[mcp_servers]]
name = "broken"
command = "/nonexistent/mcp-server"
"#,
            script.display()
        ),
    );

    // `tools` lists every tool with its source; the broken server with its error (exit 1).
    let o = output(binary(home.path(), &base, &["tools", "--json"])).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let tool = |name: &str| {
        v["tools"].as_array().into_iter().flatten().find(|t| t["name"] == name).cloned().unwrap_or(Value::Null)
    };
    assert_eq!(tool("calculator")["source"], "built-in");
    let hello = tool("fake.hello");
    assert_eq!((hello["source"].as_str(), hello["name_for_models"].as_str()), (Some("mcp:fake"), Some("fake__hello")));
    assert_eq!(hello["description"], "Greets someone");
    assert_eq!(hello["parameters"]["required"][0], "name");
    assert_eq!(
        (hello["runs_without_asking"].as_bool(), tool("fake.env")["runs_without_asking"].as_bool()),
        (Some(true), Some(false))
    );
    let broken = v["mcp_servers"].as_array().and_then(|s| s.iter().find(|s| s["name"] == "broken")).cloned();
    let broken = broken.unwrap_or(Value::Null);
    assert_eq!(broken["status"], "failed", "{v}");
    assert!(broken["error"].as_str().unwrap_or_default().contains("could not be started"), "{v}");
    let o = output(binary(home.path(), &base, &["tools"])).await;
    let listing = String::from_utf8_lossy(&o.stdout);
    assert!(listing.contains("fake.hello  (mcp:fake, runs without asking, models see fake__hello)"), "{listing}");
    assert!(
        listing.contains("broken  [/nonexistent/mcp-server]  FAILED: The MCP server broken could not be started"),
        "{listing}"
    );

    // Two models, each calling a tool of the server, answer from the results. `env` is not
    // safe: denied without --yes, run with it; the server never sees the API key.
    let args = ["ask", "--json", "--tools", "fake.*", "-m", "a@call=fake.hello", "-m", "b@call=fake.env", "Hi"];
    let o = output(binary(home.path(), &base, &args)).await;
    assert!(o.status.success(), "{}", text(&o));
    // The estimate before sending counts the tools' definitions (~190 characters), not just "Hi".
    let estimate = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["type"] == "estimate")
        .unwrap_or(Value::Null);
    assert!(estimate["prompt_tokens"].as_u64().is_some_and(|t| t > 40), "{estimate}");
    let results = |o: &Output| -> Vec<Value> {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|l| l["type"] == "tool_result")
            .collect()
    };
    let outputs: Vec<String> =
        results(&o).iter().map(|r| r["output"].as_str().unwrap_or_default().to_owned()).collect();
    assert!(outputs.contains(&"Hello, example!".to_owned()), "{}", text(&o));
    assert!(outputs.iter().any(|r| r.contains("declined")), "{}", text(&o));
    let mut with_yes = args.to_vec();
    with_yes.insert(1, "--yes");
    let o = output(binary(home.path(), &base, &with_yes)).await;
    assert!(o.status.success(), "{}", text(&o));
    let outputs: Vec<String> =
        results(&o).iter().map(|r| r["output"].as_str().unwrap_or_default().to_owned()).collect();
    assert!(outputs.contains(&"key hidden, FAKE_VAR=from-config".to_owned()), "{}", text(&o));
    let done = String::from_utf8_lossy(&o.stdout).lines().filter(|l| l.contains(r#""type":"done""#)).count();
    assert_eq!(done, 2, "both models answered: {}", text(&o));
    // The ledger rows of the tool steps name the tools.
    let db = roundtable::core::store::db_path(&home.path().join("data"));
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn.prepare("SELECT tools FROM ledger_tools ORDER BY ledger_id").unwrap();
    let named: Vec<String> = stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    assert!(named.iter().any(|t| t == "fake__hello") && named.iter().any(|t| t == "fake__env"), "{named:?}");

    // A server named in --tools that cannot start stops `ask` with its reason.
    let o = output(binary(home.path(), &base, &["ask", "--tools", "broken.*", "-m", "a", "Hi"])).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("The MCP server broken could not be started"), "{}", text(&o));
    sim.shutdown().await;
}

/// Every file under `dir`, read as text.
fn files_under(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push((path, String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
    out
}

#[tokio::test]
async fn header_values_come_from_the_environment_and_never_leave_the_process() {
    const TOKEN: &str = "canary-env-token-1618033988";
    let (url, stop) = serve_weather_behind(Some(TOKEN), Arc::new(AtomicUsize::new(0))).await;
    let home = tempfile::tempdir().unwrap();
    write_config(
        home.path(),
        &format!(
            r#"
[[mcp_servers]]
name = "weather"
url = "{url}"
headers = {{ Authorization = "Bearer ${{WEATHER_TOKEN}}" }}

[[mcp_servers]]
name = "unset"
url = "{url}"
headers = {{ Authorization = "Bearer ${{ROUNDTABLE_TEST_UNSET_TOKEN}}" }}
"#
        ),
    );
    let mut cmd = binary(home.path(), "http://127.0.0.1:9", &["tools", "--json"]);
    cmd.env("WEATHER_TOKEN", TOKEN).env_remove("ROUNDTABLE_TEST_UNSET_TOKEN").env("ROUNDTABLE_LOG", "trace");
    let o = output(cmd).await;
    assert_eq!(o.status.code(), Some(1), "the server without its variable failed: {}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let server = |name: &str| {
        v["mcp_servers"].as_array().into_iter().flatten().find(|s| s["name"] == name).cloned().unwrap_or(Value::Null)
    };
    let weather = server("weather");
    assert_eq!((weather["status"].as_str(), weather["tools"].as_u64()), (Some("running"), Some(2)), "{v}");
    assert_eq!(weather["headers"], json!(["Authorization"]), "names only");
    let unset = server("unset");
    assert_eq!(unset["status"], "failed", "{v}");
    let error = unset["error"].as_str().unwrap_or_default();
    assert!(error.contains("the environment variable ROUNDTABLE_TEST_UNSET_TOKEN is not set"), "{error}");
    assert!(!text(&o).contains(TOKEN), "{}", text(&o));
    let logged = files_under(home.path());
    assert!(logged.iter().any(|(_, t)| t.contains("mcp server started")), "a log was written: {logged:?}");
    for (path, contents) in logged {
        assert!(!contents.contains(TOKEN), "{} holds the header's value", path.display());
    }
    stop.cancel();
}
