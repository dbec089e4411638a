//! A graceful stop over a real socket: the notice with the grace period, then 1001 for
//! those still connected, and no new clients.

mod support;

use std::time::Duration;

use serde_json::json;
use support::{connect, server, store};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_notice_carries_the_grace_period_then_close_1001() {
    let server = std::sync::Arc::new(server(support::config().store(store().await)).await);
    let mut client = connect(&server).await;
    client.ok("store.buckets", json!({})).await;
    let stopping = {
        let server = server.clone();
        tokio::spawn(async move { server.stop(Duration::from_millis(200)).await })
    };
    let notice = client.next_message().await.expect("the notice");
    assert_eq!(
        notice,
        json!({"type": "system", "event": "shutdown", "gracePeriodMs": 200})
    );
    // Still connected when the grace period ends: closed as going away.
    assert_eq!(client.close_code().await, Some(1001));
    drop(client);
    tokio::time::timeout(support::PATIENCE, stopping)
        .await
        .expect("the stop ends")
        .unwrap();
    assert!(!server.is_running());
    assert_eq!(server.connection_count(), 0);
    // Its socket is closed: a client is refused at once, not left waiting.
    support::until("a stopped server refuses clients", || {
        std::net::TcpStream::connect(server.local_addr()).is_err()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_leave_in_the_grace_period_end_it_early() {
    let server = std::sync::Arc::new(server(support::config()).await);
    let mut client = connect(&server).await;
    let stopping = {
        let server = server.clone();
        // Far longer than the test waits: the client's leaving ends it.
        tokio::spawn(async move { server.stop(Duration::from_secs(3_600)).await })
    };
    let notice = client.next_message().await.expect("the notice");
    assert_eq!(notice["gracePeriodMs"], 3_600_000);
    client.close().await;
    tokio::time::timeout(support::PATIENCE, stopping)
        .await
        .expect("the stop ends once every client has gone")
        .unwrap();
    assert!(!server.is_running());
}
