//! The seed's protocol 1.0.0 over a real socket: the welcome, request and reply, the
//! error codes, pushes.

mod support;

use serde_json::json;
use support::{connect, server, store};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn welcome_announces_version_time_and_auth() {
    let server = server(support::config()).await;
    let client = connect(&server).await;
    assert_eq!(client.welcome["type"], "welcome");
    assert_eq!(client.welcome["version"], "1.0.0");
    assert_eq!(client.welcome["requiresAuth"], false);
    assert!(client.welcome["serverTime"].as_u64().unwrap() > 1_600_000_000_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insert_then_get_echoes_ids_and_applies_defaults() {
    let server = server(support::config().store(store().await)).await;
    let mut client = connect(&server).await;
    let inserted = client
        .ok(
            "store.insert",
            json!({"bucket": "users", "data": {"name": "Alice"}}),
        )
        .await;
    assert_eq!(inserted["name"], "Alice");
    assert_eq!(inserted["role"], "user");
    assert_eq!(inserted["_version"], 1);
    let got = client
        .ok(
            "store.get",
            json!({"bucket": "users", "key": inserted["id"]}),
        )
        .await;
    assert_eq!(got, inserted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_json_is_parse_error_and_the_connection_stays() {
    let server = server(support::config().store(store().await)).await;
    let mut client = connect(&server).await;
    client.send_text("{not json").await;
    let reply = client.next_message().await.unwrap();
    assert_eq!(reply["type"], "error");
    assert_eq!(reply["code"], "PARSE_ERROR");
    assert!(reply.get("id").is_none());
    assert_eq!(
        client.ok("store.buckets", json!({})).await,
        json!(["accounts", "logs", "users"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_result_comes_first_then_pushes_on_change() {
    let server = server(support::config().store(store().await)).await;
    let mut client = connect(&server).await;
    let subscribed = client
        .ok("store.subscribe", json!({"query": "all-users"}))
        .await;
    let id = subscribed["subscriptionId"].as_str().unwrap().to_string();
    let first = client.next_push().await;
    assert_eq!(first["channel"], "subscription");
    assert_eq!(first["subscriptionId"], id.as_str());
    assert_eq!(first["data"], json!([]));
    client
        .ok(
            "store.insert",
            json!({"bucket": "users", "data": {"name": "Bob"}}),
        )
        .await;
    let second = client.next_push().await;
    assert_eq!(second["data"][0]["name"], "Bob");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_larger_than_the_read_buffer_arrives_whole() {
    // The server reads with an 8 KiB buffer; a 100 KB name spans a dozen reads.
    let server = server(support::config().store(store().await)).await;
    let mut client = connect(&server).await;
    let name = "n".repeat(100_000);
    let inserted = client
        .ok(
            "store.insert",
            json!({"bucket": "users", "data": {"name": name}}),
        )
        .await;
    assert_eq!(inserted["name"].as_str().map(str::len), Some(100_000));
}
