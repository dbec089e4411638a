//! Clients writing and subscribed while their connections and the store's processes
//! are killed at random: the gateway keeps serving, every acknowledged write is kept,
//! and when the clients are gone nothing of them is left (no connection, no
//! subscription).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use noex_agent::backend::Backend;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const CLIENTS: usize = 6;
const WRITES_PER_CLIENT: u64 = 60;
const KILLS: usize = 25;

/// Write until `WRITES_PER_CLIENT` inserts are acknowledged, reconnecting whenever the
/// connection is killed. Returns the writes sent without an answer (they may or may not
/// have been applied).
async fn writer(url: String, acknowledged: Arc<AtomicU64>) -> u64 {
    let mut done = 0;
    let mut unanswered = 0;
    let mut id = 0u64;
    'connect: while done < WRITES_PER_CLIENT {
        let (mut socket, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        let subscribe = json!({"id": "s", "type": "store.subscribe", "query": "all-users"});
        if socket
            .send(Message::Text(subscribe.to_string().into()))
            .await
            .is_err()
        {
            continue;
        }
        while done < WRITES_PER_CLIENT {
            id += 1;
            let insert = json!({"id": id, "type": "store.insert", "bucket": "users", "data": {"name": format!("u{id}")}});
            if socket
                .send(Message::Text(insert.to_string().into()))
                .await
                .is_err()
            {
                unanswered += 1;
                continue 'connect;
            }
            loop {
                let next = tokio::time::timeout(support::PATIENCE, socket.next())
                    .await
                    .expect("the gateway answers or closes in time");
                let Some(Ok(Message::Text(text))) = next else {
                    if !matches!(next, Some(Ok(_))) {
                        unanswered += 1;
                        continue 'connect;
                    }
                    continue;
                };
                let message: Value = serde_json::from_str(&text).unwrap();
                if message["id"] == json!(id) {
                    // The bucket's process may be down for a moment: an error is an
                    // answer too, and the write is tried again.
                    if message["type"] == "result" {
                        done += 1;
                        acknowledged.fetch_add(1, Ordering::Relaxed);
                    }
                    break;
                }
            }
        }
        let _ = socket.close(None).await;
    }
    unanswered
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_kills_under_load_lose_no_acknowledged_write_and_leave_nothing_behind() {
    let store = support::store().await;
    let server = support::server(support::config().store(store.clone())).await;
    let url = format!("ws://{}/", server.local_addr());
    let acknowledged = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (0..CLIENTS)
        .map(|_| tokio::spawn(writer(url.clone(), acknowledged.clone())))
        .collect();

    let backend = noex::agent::runtime_backend();
    let bucket = format!("{}/users", store.name());
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for kill in 0..KILLS {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let target = if kill % 5 == 4 {
            noex::registry::whereis(&bucket)
        } else {
            let connections = server.connections();
            connections
                .get(seed as usize % connections.len().max(1))
                .and_then(|c| c.pid.as_deref())
                .and_then(noex_agent::target::pid_form)
        };
        if let Some(pid) = target {
            let _ = backend.kill(pid, None).await;
        }
        tokio::task::yield_now().await;
    }

    let mut unanswered = 0;
    for writer in writers {
        unanswered += writer.await.unwrap();
    }
    let acknowledged = acknowledged.load(Ordering::Relaxed);
    assert_eq!(acknowledged, CLIENTS as u64 * WRITES_PER_CLIENT);
    let records = store.bucket("users").unwrap().len() as u64;
    assert!(
        (acknowledged..=acknowledged + unanswered).contains(&records),
        "{records} records for {acknowledged} acknowledged and {unanswered} unanswered writes"
    );
    // Every client has closed: its connection and its subscription are gone.
    let deadline = tokio::time::Instant::now() + support::PATIENCE;
    while server.connection_count() > 0 || store.stats().subscriptions > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "left behind: {} connections, {} subscriptions",
            server.connection_count(),
            store.stats().subscriptions
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // And a new client is served.
    let mut client = support::connect(&server).await;
    assert_eq!(
        client.ok("store.count", json!({"bucket": "users"})).await,
        json!(records)
    );
}
