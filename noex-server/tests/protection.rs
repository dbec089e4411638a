//! What protects the server from its clients, over a real socket: the rate limit, the
//! heartbeat, backpressure and the slow reader, the message size, the origin check,
//! and auth off loopback. Timing tests use short intervals and wait for the event,
//! never for a time.

mod support;

use std::time::Duration;

use noex_server::{BackpressureConfig, OriginPolicy};
use serde_json::json;
use support::{Client, connect, server, store};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_exceeded_is_rate_limited_with_retry_after() {
    let server = server(
        support::config()
            .store(store().await)
            .rate_limit(3, Duration::from_secs(60)),
    )
    .await;
    let mut client = connect(&server).await;
    for _ in 0..3 {
        client.ok("store.buckets", json!({})).await;
    }
    let reply = client.request("store.buckets", json!({})).await;
    assert_eq!(reply["code"], "RATE_LIMITED");
    let retry_after = reply["details"]["retryAfterMs"].as_u64().unwrap();
    assert!(retry_after > 0 && retry_after <= 60_000, "{reply}");
    // The limit is per client address: a second client from the same address shares it.
    let mut other = connect(&server).await;
    assert_eq!(
        other.error_code("store.buckets", json!({})).await,
        "RATE_LIMITED"
    );
    let stats = server.stats();
    assert!(stats.rate_limit_enabled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_client_is_closed_with_4001() {
    let server = server(
        support::config()
            .store(store().await)
            .heartbeat(Duration::from_millis(50), Duration::from_millis(50)),
    )
    .await;
    let mut client = connect(&server).await;
    // Reads (and so sees the ping), never answers it.
    let mut pinged = false;
    let code = loop {
        match tokio::time::timeout(
            support::PATIENCE,
            futures_util::StreamExt::next(&mut client.socket),
        )
        .await
        .expect("closed in time")
        {
            Some(Ok(Message::Text(text))) => {
                let message: serde_json::Value = serde_json::from_str(&text).unwrap();
                assert_eq!(message["type"], "ping", "{message}");
                assert!(message["timestamp"].as_u64().unwrap() > 0);
                pinged = true;
            }
            Some(Ok(Message::Close(frame))) => break frame.map(|f| u16::from(f.code)),
            other => panic!("unexpected {other:?}"),
        }
    };
    assert!(pinged, "a ping came before the close");
    assert_eq!(code, Some(4001));
    support::until("the silent client is gone", || {
        server.connection_count() == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pong_keeps_a_client_connected() {
    let server = server(
        support::config()
            .store(store().await)
            .heartbeat(Duration::from_millis(50), Duration::from_millis(50)),
    )
    .await;
    let mut client = connect(&server).await;
    // Several rounds: without the pongs the first timeout would close it.
    let mut pings = 0;
    while pings < 6 {
        let message = client
            .next_message()
            .await
            .expect("no close while answering");
        assert_eq!(message["type"], "ping");
        pings += 1;
        client
            .send_text(&json!({"type": "pong", "timestamp": message["timestamp"]}).to_string())
            .await;
    }
    client.ok("store.buckets", json!({})).await;
    assert_eq!(server.connection_count(), 1);
}

/// A reply as large as `bytes`: a `logs` record holding that much.
async fn big_record(client: &mut Client, bytes: usize) {
    client
        .ok(
            "store.insert",
            json!({"bucket": "logs", "data": {"blob": "x".repeat(bytes)}}),
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_behind_on_its_replies_is_answered_backpressure() {
    let limits = BackpressureConfig {
        max_buffered_bytes: 1024 * 1024,
        high_water_mark: 0.5,
    };
    let server = server(support::config().store(store().await).backpressure(limits)).await;
    let mut client = connect(&server).await;
    big_record(&mut client, 32 * 1024).await;
    // Ask for large replies without reading them, one at a time, until the server
    // holds more than the high-water mark for this client: the socket's buffers have
    // filled, and its writer waits. (One at a time, so that the mark is passed only
    // when the writer is stuck, not merely late by a reply or two.)
    //
    // The kernel may still take some of what is held (its buffers grow), so a probe
    // counts only if the server held more than the mark when it answered it. A
    // connection serves its requests in order: once a second small request after the
    // probe is being served, the probe was answered, and since then the server only
    // added the two small replies. If it still holds the mark and more than those
    // two, it held more than the mark at the probe. Otherwise, fill and ask again.
    let above_the_mark = limits.max_buffered_bytes / 2 + 2 * 1024;
    let mut served = support::only_connection(&server).messages_in;
    let probe = loop {
        while support::only_connection(&server).buffered_bytes < above_the_mark {
            client.send("store.all", json!({"bucket": "logs"})).await;
            served += 1;
            support::until("the request is served", || {
                support::only_connection(&server).messages_in >= served
            })
            .await;
        }
        let probe = client.send("store.count", json!({"bucket": "logs"})).await;
        client.send("store.count", json!({"bucket": "logs"})).await;
        served += 2;
        support::until("the probe is answered", || {
            support::only_connection(&server).messages_in >= served
        })
        .await;
        if support::only_connection(&server).buffered_bytes >= above_the_mark {
            break probe;
        }
    };
    let reply = client.reply_to(probe).await;
    assert_eq!(reply["code"], "BACKPRESSURE", "{reply}");
    // Read up, and the client is served again.
    assert_eq!(client.ok("store.count", json!({"bucket": "logs"})).await, 1);
    assert_eq!(server.connection_count(), 1, "behind is not closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_reader_is_closed_with_4002_and_the_server_stays_up() {
    let limits = BackpressureConfig {
        max_buffered_bytes: 64 * 1024,
        high_water_mark: 0.5,
    };
    let store = store().await;
    // Each result of `all-users` about 24 KiB: under the high-water mark, so a client
    // that reads gets every one.
    let users = store.bucket("users").unwrap();
    for n in 0..3 {
        users
            .insert(&json!({"name": format!("{n}-{}", "y".repeat(8 * 1024))}))
            .await
            .unwrap();
    }
    let server = server(support::config().store(store.clone()).backpressure(limits)).await;
    let mut reader = connect(&server).await;
    for _ in 0..20 {
        reader
            .ok("store.subscribe", json!({"query": "all-users"}))
            .await;
    }
    let mut bystander = connect(&server).await;
    // The reader reads no more; every insert pushes the bucket to each of its 20
    // subscriptions, until the socket's buffers are full and what the server holds
    // for it overflows.
    let mut n = 3;
    support::until_async("the slow reader is closed", || {
        n += 1;
        let users = users.clone();
        let server = &server;
        async move {
            users.insert(&json!({"name": "small"})).await.unwrap();
            // Paced, so each insert's pushes are made before the next.
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            server.connection_count() == 1
        }
    })
    .await;
    // Its close frame (4002) waits behind the megabytes it did not read, for a
    // while only: a client that has not read them by then sees its socket end
    // without it. (`a_reply_larger_than_the_buffer_closes_with_4002` reads the code.)
    let code = reader.close_code().await;
    assert!(matches!(code, Some(4002) | None), "{code:?}");
    assert_eq!(
        bystander
            .ok("store.count", json!({"bucket": "users"}))
            .await,
        n
    );
    let mut fresh = connect(&server).await;
    fresh.ok("store.buckets", json!({})).await;
    support::until("the reader's subscriptions ended", || {
        store.stats().subscriptions == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_that_does_not_fit_behind_another_closes_with_4002() {
    let limits = BackpressureConfig {
        max_buffered_bytes: 16 * 1024,
        high_water_mark: 0.5,
    };
    let server = server(support::config().store(store().await).backpressure(limits)).await;
    let mut client = connect(&server).await;
    big_record(&mut client, 8 * 1024).await;
    big_record(&mut client, 8 * 1024).await;
    // One reply larger than the limit is written when nothing waits before it (a large
    // application's snapshot); a client that asks again and again without reading is
    // behind once the socket's buffers are full (megabytes on loopback).
    for _ in 0..4096 {
        client.send("store.all", json!({"bucket": "logs"})).await;
    }
    assert_eq!(client.close_code().await, Some(4002));
    support::until("the client is gone", || server.connection_count() == 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_message_closes_with_1009() {
    let server = server(
        support::config()
            .store(store().await)
            .max_message_bytes(4 * 1024),
    )
    .await;
    let mut client = connect(&server).await;
    let fits = json!({"bucket": "logs", "data": {"blob": "x".repeat(3 * 1024)}});
    client.ok("store.insert", fits).await;
    let huge = json!({"id": 99, "type": "store.insert", "bucket": "logs", "data": {"blob": "x".repeat(8 * 1024)}});
    client.send_text(&huge.to_string()).await;
    assert_eq!(client.close_code().await, Some(1009));
    support::until("the client is gone", || server.connection_count() == 0).await;
    let mut fresh = connect(&server).await;
    assert_eq!(
        fresh.ok("store.count", json!({"bucket": "logs"})).await,
        1,
        "the huge insert did not run"
    );
}

async fn connect_from(server: &noex_server::Server, origin: &str) -> Result<(), u16> {
    let mut request = support::url(server).into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Origin", origin.parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Ok(_) => Ok(()),
        Err(tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
        Err(other) => panic!("{other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_origin_is_refused_with_403() {
    let server = server(support::config()).await;
    assert_eq!(connect_from(&server, "http://evil.example").await, Err(403));
    let own = format!("http://{}", server.local_addr());
    assert_eq!(connect_from(&server, &own).await, Ok(()), "its own page");
    support::until("its own page's client is accepted, the other not", || {
        server.stats().connections.accepted == 1
    })
    .await;

    let allowing = support::server(
        support::config().origins(OriginPolicy::Allow(vec!["https://ops.example.com".into()])),
    )
    .await;
    assert_eq!(
        connect_from(&allowing, "https://ops.example.com").await,
        Ok(())
    );
    assert_eq!(
        connect_from(&allowing, "https://other.example").await,
        Err(403)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_max_connections_the_upgrade_is_refused_with_503() {
    let server = server(support::config().max_connections(1)).await;
    let _first = connect(&server).await;
    match tokio_tungstenite::connect_async(support::url(&server)).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 503),
        other => panic!("a second client was not refused: {:?}", other.map(|_| ())),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_loopback_without_auth_is_refused_at_start() {
    let refused = noex_server::start(support::config().bind("0.0.0.0:0".parse().unwrap())).await;
    match refused {
        Err(noex_server::ServerError::AuthRequired(address)) => {
            assert_eq!(address.to_string(), "0.0.0.0:0")
        }
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("a server without auth listens off loopback"),
    }
    let on_loopback = noex_server::start(support::config()).await;
    assert!(on_loopback.is_ok(), "loopback needs no auth");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_requests_is_served_in_order() {
    let server = server(support::config().store(store().await)).await;
    let mut client = connect(&server).await;
    let mut last = 0;
    for n in 0..2_000 {
        last = client
            .send("store.insert", json!({"bucket": "logs", "data": {"n": n}}))
            .await;
    }
    let reply = client.reply_to(last).await;
    assert_eq!(reply["data"]["n"], 1_999);
    let earlier: Vec<u64> = client
        .pushes
        .iter()
        .map(|reply| reply["id"].as_u64().unwrap())
        .collect();
    assert_eq!(earlier, (1..last).collect::<Vec<_>>(), "replies in order");
    assert_eq!(
        client.ok("store.count", json!({"bucket": "logs"})).await,
        2_000
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_client_still_sending_reads_its_close_code() {
    let server = server(
        support::config()
            .store(store().await)
            .heartbeat(Duration::from_millis(50), Duration::from_millis(50)),
    )
    .await;
    let mut client = connect(&server).await;
    // A flood, and no pong: the heartbeat closes it while it sends.
    for n in 1..=20_000u64 {
        let request = json!({"id": n, "type": "store.count", "bucket": "users"});
        let sent = futures_util::SinkExt::send(
            &mut client.socket,
            Message::Text(request.to_string().into()),
        )
        .await;
        if sent.is_err() {
            break;
        }
    }
    assert_eq!(client.close_code().await, Some(4001));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_closed_all_the_same() {
    let limits = BackpressureConfig {
        max_buffered_bytes: 256 * 1024,
        high_water_mark: 0.5,
    };
    let server = server(support::config().store(store().await).backpressure(limits)).await;
    let mut client = connect(&server).await;
    big_record(&mut client, 32 * 1024).await;
    // Large replies it never reads, until the socket's buffers are full and the
    // server's writer waits on it, holding the rest.
    let mut served = support::only_connection(&server).messages_in;
    while support::only_connection(&server).buffered_bytes < limits.max_buffered_bytes / 2 {
        client.send("store.all", json!({"bucket": "logs"})).await;
        served += 1;
        support::until("the request is served", || {
            support::only_connection(&server).messages_in >= served
        })
        .await;
    }
    // Then requests, each answered BACKPRESSURE, until those answers overflow what
    // the server holds for it: it is closed (4002), though its writer is stuck.
    for _ in 0..4_000 {
        client.send("store.count", json!({"bucket": "logs"})).await;
    }
    support::until("the client that never reads is gone", || {
        server.connection_count() == 0
    })
    .await;
    drop(client);
}
