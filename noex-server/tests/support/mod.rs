//! A real server on a free loopback port and a real WebSocket client for it.
#![allow(dead_code)]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use noex_server::{Server, ServerConfig};
use noex_store::{BucketDef, Field, Generated, Store, StoreOptions};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for a message that must come (a hang fails, it never passes).
pub const PATIENCE: Duration = Duration::from_secs(10);

pub fn agent_off() {
    // SAFETY: set before any process starts, the same value by every test of the binary.
    unsafe { std::env::set_var("NOEX_AGENT", "off") }
}

static NEXT_STORE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// A store with `users` (uuid key, name required, role defaulting to `user`, a
/// numeric `credits`), `accounts` (a given string key, a unique `email`, an `age`
/// of at least 0), `logs` (uuid key, any fields) and the query `all-users`.
pub async fn store() -> Store {
    agent_off();
    let n = NEXT_STORE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let store = Store::start(StoreOptions::new(format!(
        "store-{n}-{}",
        std::process::id()
    )))
    .await
    .unwrap();
    store
        .define_bucket(
            "users",
            BucketDef::new("id")
                .field("id", Field::string().generated(Generated::Uuid))
                .field("name", Field::string().required())
                .field("role", Field::string().default(json!("user")))
                .field("credits", Field::number().default(json!(0))),
        )
        .await
        .unwrap();
    store
        .define_bucket(
            "accounts",
            BucketDef::new("id")
                .field("id", Field::string().required())
                .field("email", Field::string().unique())
                .field("age", Field::integer().min(0.0)),
        )
        .await
        .unwrap();
    store
        .define_bucket(
            "logs",
            BucketDef::new("id").field("id", Field::string().generated(Generated::Uuid)),
        )
        .await
        .unwrap();
    store
        .define_query("all-users", |ctx, _params| {
            let users = ctx.bucket("users")?.all();
            Ok(serde_json::to_value(users).unwrap())
        })
        .unwrap();
    store
}

static NEXT_SERVER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// A config on a free port, with a name of its own.
pub fn config() -> ServerConfig {
    agent_off();
    let n = NEXT_SERVER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    ServerConfig::new()
        .name(format!("gw-{n}"))
        .bind("127.0.0.1:0".parse().unwrap())
}

pub async fn server(config: ServerConfig) -> Server {
    noex_server::start(config).await.unwrap()
}

pub struct Client {
    pub socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub welcome: Value,
    next_id: u64,
    /// Pushes and pings seen while waiting for a reply.
    pub pushes: Vec<Value>,
}

pub fn url(server: &Server) -> String {
    format!("ws://{}/", server.local_addr())
}

pub async fn connect(server: &Server) -> Client {
    let (socket, _) = tokio_tungstenite::connect_async(url(server)).await.unwrap();
    let mut client = Client {
        socket,
        welcome: Value::Null,
        next_id: 0,
        pushes: Vec::new(),
    };
    client.welcome = client.next_message().await.expect("a welcome");
    client
}

/// Wait until `condition` holds, checking every few milliseconds; panics (naming
/// `what`) when it has not held within [`PATIENCE`].
pub async fn until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not in time: {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// [`until`] for a condition that awaits: each check may act (write, say) too.
pub async fn until_async<F: std::future::Future<Output = bool>>(
    what: &str,
    mut condition: impl FnMut() -> F,
) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !condition().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not in time: {what}"
        );
    }
}

/// The one connected client of `server`, its figures.
pub fn only_connection(server: &Server) -> noex_server::ConnectionInfo {
    let connections = server.connections();
    assert_eq!(connections.len(), 1, "one client: {connections:?}");
    connections.into_iter().next().unwrap()
}

impl Client {
    /// Send `{id, type, ...fields}` without waiting for its reply; its id.
    pub async fn send(&mut self, kind: &str, fields: Value) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        let mut request = fields;
        request["id"] = id.into();
        request["type"] = kind.into();
        self.send_text(&request.to_string()).await;
        id
    }

    /// Close from the client's side and wait for the server's close.
    pub async fn close(mut self) {
        let _ = self.socket.close(None).await;
        while let Ok(Some(_)) = tokio::time::timeout(PATIENCE, self.socket.next()).await {}
    }

    pub async fn send_text(&mut self, text: &str) {
        self.socket.send(Message::Text(text.into())).await.unwrap();
    }

    /// The next JSON message, or `None` when the server closed.
    pub async fn next_message(&mut self) -> Option<Value> {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .expect("the server answered in time")?;
            match message {
                Ok(Message::Text(text)) => return Some(serde_json::from_str(&text).unwrap()),
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => continue,
            }
        }
    }

    /// The close frame's code, reading until the server closes.
    pub async fn close_code(&mut self) -> Option<u16> {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .expect("the server closed in time")?;
            match message {
                Ok(Message::Close(frame)) => return frame.map(|f| u16::from(f.code)),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    }

    /// Send `{id, type, ...fields}` and wait for the reply with that id.
    pub async fn request(&mut self, kind: &str, fields: Value) -> Value {
        let id = self.send(kind, fields).await;
        self.reply_to(id).await
    }

    pub async fn reply_to(&mut self, id: u64) -> Value {
        loop {
            let message = self.next_message().await.expect("a reply before the close");
            if message["id"] == json!(id) {
                return message;
            }
            self.pushes.push(message);
        }
    }

    /// `data` of a `result` reply; panics on an error reply.
    pub async fn ok(&mut self, kind: &str, fields: Value) -> Value {
        let reply = self.request(kind, fields).await;
        assert_eq!(reply["type"], "result", "{kind} failed: {reply}");
        reply["data"].clone()
    }

    /// The code of an `error` reply; panics on a result.
    pub async fn error_code(&mut self, kind: &str, fields: Value) -> String {
        let reply = self.request(kind, fields).await;
        assert_eq!(reply["type"], "error", "{kind} did not fail: {reply}");
        reply["code"].as_str().unwrap().to_string()
    }

    /// The next push (or one already seen), skipping pings.
    pub async fn next_push(&mut self) -> Value {
        if let Some(index) = self.pushes.iter().position(|m| m["type"] == "push") {
            return self.pushes.remove(index);
        }
        loop {
            let message = self.next_message().await.expect("a push before the close");
            if message["type"] == "push" {
                return message;
            }
        }
    }
}
