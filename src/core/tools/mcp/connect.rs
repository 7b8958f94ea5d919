//! Opening one MCP connection: a stdio server started as a child process (its stderr kept,
//! the end of it quoted when the server fails, never printed over the terminal), or a remote
//! server over Streamable HTTP; the MCP handshake; and closing it again.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use reqwest::header::{HeaderName, HeaderValue};
use rmcp::ServiceExt;
use rmcp::model::{ClientCapabilities, ClientConfig, Implementation};
use rmcp::service::{Peer, RoleClient, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use tokio::io::AsyncReadExt;

use super::McpServerConfig;
use crate::core::sanitize::strip_controls;

/// How much of a server's stderr is kept (its end, where the reason usually is).
const STDERR_TAIL: usize = 2000;
/// After a failure, how long the server's last words may take to arrive.
const STDERR_GRACE: Duration = Duration::from_millis(300);
/// Closing: stdin first, a signal if the server lingers, then a kill; this bounds the wait.
const CLOSE_LIMIT: Duration = Duration::from_secs(8);

/// Who we are, in the handshake.
#[derive(Debug, Clone)]
struct Client;

impl rmcp::ClientHandler for Client {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(ClientCapabilities::default(), Implementation::new("roundtable", env!("CARGO_PKG_VERSION")))
    }
}

/// A live connection to one server.
#[derive(Debug)]
pub struct Connection {
    service: RunningService<RoleClient, Client>,
    stderr: Option<StderrTail>,
}

impl Connection {
    pub fn peer(&self) -> Peer<RoleClient> {
        self.service.peer().clone()
    }

    /// False once the server has exited or its pipe or session broke.
    pub fn is_alive(&self) -> bool {
        !self.service.is_closed() && !self.service.peer().is_transport_closed()
    }

    /// `error`, with the end of the server's stderr when it has something to say.
    pub async fn failure_detail(&self, error: &str) -> String {
        match &self.stderr {
            Some(tail) => with_stderr(error, tail).await,
            None => error.to_owned(),
        }
    }

    /// Close the session; a stdio server gets EOF on stdin, then SIGTERM, then a kill.
    pub async fn close(mut self) {
        let _ = self.service.close_with_timeout(CLOSE_LIMIT).await;
    }
}

/// Start or reach the server and complete the MCP handshake (the caller bounds the time).
pub async fn open(config: &McpServerConfig, hidden_env: &[String]) -> Result<Connection, String> {
    let name = &config.name;
    if let Some(url) = &config.url {
        // reqwest is built without a default TLS provider; the providers' client installs the
        // same one, whichever comes first.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let headers = http_headers(config)?;
        let transport = StreamableHttpClientTransport::from_config(
            StreamableHttpClientTransportConfig::with_uri(url.as_str()).custom_headers(headers),
        );
        let service = Client
            .serve(transport)
            .await
            .map_err(|e| format!("The MCP server {name} at {url} did not complete the MCP handshake: {e}."))?;
        return Ok(Connection { service, stderr: None });
    }
    let program = config.command.as_deref().unwrap_or_default();
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(&config.args);
    for var in hidden_env {
        cmd.env_remove(var);
    }
    // Explicit variables win, even one with an API key's name: the user wrote it for this server.
    cmd.envs(&config.env);
    if let Some(dir) = &config.cwd {
        cmd.current_dir(dir);
    }
    // Its own process group: Ctrl-C in the terminal is roundtable's to handle, and the server
    // is stopped by closing it, not by the signal reaching it half-way through a call.
    #[cfg(unix)]
    cmd.process_group(0);
    let (transport, stderr) = TokioChildProcess::builder(cmd).stderr(Stdio::piped()).spawn().map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::NotFound {
            " Is it installed and on PATH? Check command and cwd in its [[mcp_servers]] entry."
        } else {
            " Check command and cwd in its [[mcp_servers]] entry."
        };
        format!("The MCP server {name} could not be started ({program}: {e}).{hint}")
    })?;
    let tail = StderrTail::drain(stderr);
    match Client.serve(transport).await {
        Ok(service) => Ok(Connection { service, stderr: Some(tail) }),
        Err(e) => {
            let detail = with_stderr(&e.to_string(), &tail).await;
            Err(format!("The MCP server {name} did not complete the MCP handshake: {detail}"))
        }
    }
}

/// The entry's `headers`, their `${VAR}`s read from the environment now (values registered as
/// secrets). The error names the header and the variable, never a value.
fn http_headers(config: &McpServerConfig) -> Result<HashMap<HeaderName, HeaderValue>, String> {
    let name = &config.name;
    let resolved = config
        .headers
        .resolve(|var| std::env::var(var).ok())
        .map_err(|e| format!("The MCP server {name} was not contacted: {e}."))?;
    let mut headers = HashMap::with_capacity(resolved.len());
    for (header, value) in resolved {
        let key = HeaderName::from_bytes(header.as_bytes())
            .map_err(|_| format!("The MCP server {name}: \"{header}\" is not a valid HTTP header name."))?;
        let mut value = HeaderValue::from_str(&value).map_err(|_| {
            format!(
                "The MCP server {name} was not contacted: the value of header {header} has characters a header cannot carry (a line break?)."
            )
        })?;
        value.set_sensitive(true);
        headers.insert(key, value);
    }
    Ok(headers)
}

/// The end of a child's stderr, read continuously so the child never blocks on a full pipe.
#[derive(Debug, Clone)]
struct StderrTail {
    text: Arc<StdMutex<String>>,
    closed: tokio::sync::watch::Receiver<bool>,
}

impl StderrTail {
    fn drain(stderr: Option<tokio::process::ChildStderr>) -> StderrTail {
        let text = Arc::new(StdMutex::new(String::new()));
        let (done, closed) = tokio::sync::watch::channel(false);
        let kept = text.clone();
        tokio::spawn(async move {
            if let Some(mut pipe) = stderr {
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = pipe.read(&mut buf).await {
                    if let Ok(mut t) = kept.lock() {
                        t.push_str(&String::from_utf8_lossy(&buf[..n]));
                        if t.len() > 2 * STDERR_TAIL {
                            let mut cut = t.len() - STDERR_TAIL;
                            while !t.is_char_boundary(cut) {
                                cut += 1;
                            }
                            t.drain(..cut);
                        }
                    }
                }
            }
            let _ = done.send(true);
        });
        StderrTail { text, closed }
    }

    /// The last lines, once the pipe has closed or a moment has passed.
    async fn last_words(&self) -> String {
        let mut closed = self.closed.clone();
        let _ = tokio::time::timeout(STDERR_GRACE, closed.wait_for(|c| *c)).await;
        let text = self.text.lock().map(|t| t.clone()).unwrap_or_default();
        let count = text.chars().count();
        let tail: String = text.chars().skip(count.saturating_sub(STDERR_TAIL)).collect();
        strip_controls(tail.trim()).into_owned()
    }
}

async fn with_stderr(error: &str, tail: &StderrTail) -> String {
    let words = tail.last_words().await;
    if words.is_empty() { error.to_owned() } else { format!("{error}; its stderr ends with: {words}") }
}
