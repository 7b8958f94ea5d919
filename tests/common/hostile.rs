//! A small hostile upstream on loopback: it answers every request with a scripted raw HTTP
//! response (any status, headers and body, cut or endless), and records what it was sent.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the client sent.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: String,
    pub body: Vec<u8>,
}

impl Request {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }
}

/// How to answer.
pub enum Reply {
    /// These bytes (status line, headers, body), then close.
    Raw(Vec<u8>),
    /// The head, then `chunk` again and again until the client goes away.
    Endless { head: Vec<u8>, chunk: Vec<u8> },
}

/// `HTTP/1.1 <status>` with these headers and body, closing the connection after it.
pub fn http(status: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let mut out = format!("HTTP/1.1 {status}\r\nconnection: close\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(body);
    Reply::Raw(out.into_bytes())
}

/// A 200 event stream with this body.
pub fn sse(body: &str) -> Reply {
    http("200 OK", &[("content-type", "text/event-stream")], body)
}

/// One `data:` event with a content delta (and a finish reason when given).
pub fn delta(text: &str, finish: Option<&str>) -> String {
    let chunk = serde_json::json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "m",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}]});
    format!("data: {chunk}\n\n")
}

type Script = Arc<dyn Fn(&Request, usize) -> Reply + Send + Sync>;

pub struct Hostile {
    pub port: u16,
    seen: Arc<Mutex<Vec<Request>>>,
}

impl Hostile {
    /// Serve `script(request, n)` for the n-th request (0-based).
    pub async fn start(script: impl Fn(&Request, usize) -> Reply + Send + Sync + 'static) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let port = listener.local_addr().expect("addr").port();
        let seen: Arc<Mutex<Vec<Request>>> = Arc::default();
        let script: Script = Arc::new(script);
        let log = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (script, log) = (Arc::clone(&script), Arc::clone(&log));
                tokio::spawn(async move { serve(socket, script, log).await });
            }
        });
        Hostile { port, seen }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    /// Requests so far.
    pub fn requests(&self) -> Vec<Request> {
        self.seen.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Requests to paths containing `part`.
    pub fn count(&self, part: &str) -> usize {
        self.requests().iter().filter(|r| r.path.contains(part)).count()
    }
}

async fn serve(mut socket: TcpStream, script: Script, log: Arc<Mutex<Vec<Request>>>) {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match socket.read(&mut tmp).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length").then(|| v.trim().parse::<usize>().ok()).flatten()
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        match socket.read(&mut tmp).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
        }
    }
    let mut first = head.lines().next().unwrap_or("").split_whitespace();
    let request = Request {
        method: first.next().unwrap_or("").to_owned(),
        path: first.next().unwrap_or("").to_owned(),
        headers: head.clone(),
        body: buf[head_end..head_end + length].to_vec(),
    };
    let n = {
        let mut seen = log.lock().expect("log");
        seen.push(request.clone());
        seen.len() - 1
    };
    match script(&request, n) {
        Reply::Raw(bytes) => {
            let _ = socket.write_all(&bytes).await;
            let _ = socket.shutdown().await;
        }
        Reply::Endless { head, chunk } => {
            if socket.write_all(&head).await.is_err() {
                return;
            }
            if chunk.is_empty() {
                // Silence: hold the connection open until the client gives up.
                let mut sink = [0u8; 64];
                while matches!(socket.read(&mut sink).await, Ok(n) if n > 0) {}
                return;
            }
            while socket.write_all(&chunk).await.is_ok() {}
        }
    }
}
