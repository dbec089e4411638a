//! Any text frame, sent to a real gateway over a real socket: every reply is one of the
//! protocol's messages, a request's reply echoes its id, and the server keeps serving
//! (a closed connection is replaced by a new one that gets its welcome).
#![no_main]

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use libfuzzer_sys::fuzz_target;
use noex_server::{BuiltinRules, ServerConfig};
use noex_store::{BucketDef, Field, Generated, Store, StoreOptions};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::runtime::Runtime;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

struct Harness {
    runtime: Runtime,
    url: String,
    socket: Mutex<Option<Socket>>,
}

const PATIENCE: Duration = Duration::from_secs(10);
const KINDS: [&str; 6] = ["result", "error", "push", "ping", "system", "welcome"];

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        // SAFETY: before any thread of ours starts.
        unsafe { std::env::set_var("NOEX_AGENT", "off") }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let url = runtime.block_on(async {
            let store = Store::start(StoreOptions::new("store")).await.unwrap();
            store
                .define_bucket(
                    "users",
                    BucketDef::new("id")
                        .field("id", Field::string().generated(Generated::Uuid))
                        .field("name", Field::string().required())
                        .field("age", Field::integer().min(0.0).index()),
                )
                .await
                .unwrap();
            store
                .define_query("all-users", |ctx, _| {
                    Ok(serde_json::to_value(ctx.bucket("users")?.all()).unwrap())
                })
                .unwrap();
            let rules = BuiltinRules::start("rules").await.unwrap();
            let server = noex_server::start(
                ServerConfig::new()
                    .bind("127.0.0.1:0".parse().unwrap())
                    .store(store)
                    .rules(rules)
                    .max_message_bytes(64 * 1024),
            )
            .await
            .unwrap();
            let url = format!("ws://{}/", server.local_addr());
            std::mem::forget(server);
            url
        });
        Harness {
            runtime,
            url,
            socket: Mutex::new(None),
        }
    })
}

async fn connect(url: &str) -> Socket {
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("the server accepts a new client");
    let welcome = next(&mut socket).await.expect("a welcome");
    assert_eq!(welcome["type"], "welcome");
    socket
}

/// The next JSON message; `None` once the server has closed.
async fn next(socket: &mut Socket) -> Option<Value> {
    loop {
        let message = tokio::time::timeout(PATIENCE, socket.next())
            .await
            .expect("the server answers in time")?;
        match message {
            Ok(Message::Text(text)) => {
                return Some(serde_json::from_str(&text).expect("the server writes JSON"));
            }
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let harness = harness();
    let text = String::from_utf8_lossy(data).into_owned();
    let expected_id = serde_json::from_str::<Value>(&text).ok().and_then(|value| {
        let id = value.get("id")?;
        let usable = (id.is_number() || id.is_string()) && value.get("type")?.is_string();
        usable.then(|| id.clone())
    });
    let mut slot = harness.socket.lock().unwrap();
    harness.runtime.block_on(async {
        let mut socket = match slot.take() {
            Some(socket) => socket,
            None => connect(&harness.url).await,
        };
        let sentinel = json!({"id": "sentinel", "type": "server.stats"});
        let sent = socket.send(Message::Text(text.into())).await.is_ok()
            && socket
                .send(Message::Text(sentinel.to_string().into()))
                .await
                .is_ok();
        let mut first_reply = None;
        let mut open = sent;
        while open {
            let Some(message) = next(&mut socket).await else {
                open = false;
                break;
            };
            let kind = message["type"].as_str().unwrap_or_default().to_string();
            assert!(KINDS.contains(&kind.as_str()), "unknown message {message}");
            if kind == "result" || kind == "error" {
                if message["id"] == "sentinel" {
                    break;
                }
                first_reply.get_or_insert(message);
            } else if kind == "ping" {
                let pong = json!({"type": "pong"}).to_string();
                let _ = socket.send(Message::Text(pong.into())).await;
            }
        }
        if let (Some(id), Some(reply), true) = (expected_id, &first_reply, open) {
            assert_eq!(reply["id"], id, "the reply echoes the request's id");
        }
        if open {
            *slot = Some(socket);
        } else {
            // The server closed this client (the fuzzer killed its connection, say): a
            // new client is still served.
            *slot = Some(connect(&harness.url).await);
        }
    });
});
