//! The seed's error codes, each produced through a real socket. The codes that need
//! more than a request are elsewhere: UNAUTHORIZED and FORBIDDEN in `auth.rs`,
//! RATE_LIMITED and BACKPRESSURE in `protection.rs`.

mod support;

use serde_json::{Value, json};
use support::{connect, server, store};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_operation_is_unknown_operation() {
    let server = server(support::config().store(store().await)).await;
    let mut client = connect(&server).await;
    for kind in [
        "store.explode",
        "nothing",
        "observer.nope",
        "server.nope",
        "events.nope",
    ] {
        assert_eq!(
            client.error_code(kind, json!({"bucket": "users"})).await,
            "UNKNOWN_OPERATION",
            "{kind}"
        );
    }
    // Auth's operations are unknown where no auth is configured.
    assert_eq!(
        client.error_code("auth.login", json!({"token": "t"})).await,
        "UNKNOWN_OPERATION"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_id_is_invalid_request() {
    let server = server(support::config().store(store().await)).await;
    let mut client = connect(&server).await;
    client.send_text(r#"{"type": "store.buckets"}"#).await;
    let reply = client.next_message().await.unwrap();
    assert_eq!(reply["type"], "error");
    assert_eq!(reply["code"], "INVALID_REQUEST");
    assert!(reply.get("id").is_none(), "no id to echo: {reply}");

    client
        .send_text(r#"{"id": {"no": "objects"}, "type": "store.buckets"}"#)
        .await;
    assert_eq!(
        client.next_message().await.unwrap()["code"],
        "INVALID_REQUEST"
    );
    client.send_text("[1, 2, 3]").await;
    assert_eq!(
        client.next_message().await.unwrap()["code"],
        "INVALID_REQUEST"
    );
    // Still served.
    client.ok("store.buckets", json!({})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_type_is_invalid_request_and_echoes_the_id() {
    let server = server(support::config().store(store().await)).await;
    let mut client = connect(&server).await;
    client.send_text(r#"{"id": "abc"}"#).await;
    let reply = client.next_message().await.unwrap();
    assert_eq!(reply["code"], "INVALID_REQUEST");
    assert_eq!(reply["id"], "abc", "a string id is echoed as it came");
    assert!(!reply["message"].as_str().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_json_and_binary_frames_are_parse_errors_and_the_connection_stays() {
    let server = server(support::config().store(store().await)).await;
    let mut client = connect(&server).await;
    for text in ["{not json", "", "{\"id\": 1, \"type\": "] {
        client.send_text(text).await;
        let reply = client.next_message().await.unwrap();
        assert_eq!(reply["code"], "PARSE_ERROR", "{text:?}");
    }
    use futures_util::SinkExt;
    client
        .socket
        .send(tokio_tungstenite::tungstenite::Message::Binary(
            vec![0xff, 0x00].into(),
        ))
        .await
        .unwrap();
    assert_eq!(client.next_message().await.unwrap()["code"], "PARSE_ERROR");
    client.ok("store.buckets", json!({})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_violation_is_validation_error_with_field_and_rule() {
    let server = server(support::config().store(store().await)).await;
    let mut client = connect(&server).await;
    let reply = client
        .request(
            "store.insert",
            json!({"bucket": "users", "data": {"role": "admin"}}),
        )
        .await;
    assert_eq!(reply["code"], "VALIDATION_ERROR");
    assert_eq!(reply["details"]["field"], "name");
    assert_eq!(reply["details"]["rule"], "required");
    assert_eq!(reply["details"]["bucket"], "users");

    let reply = client
        .request(
            "store.insert",
            json!({"bucket": "accounts", "data": {"id": "a", "age": -1}}),
        )
        .await;
    assert_eq!(reply["code"], "VALIDATION_ERROR");
    assert_eq!(reply["details"]["field"], "age");
    assert_eq!(reply["details"]["rule"], "min");

    // A request's own field missing or of the wrong kind.
    for fields in [
        json!({"data": {"name": "x"}}),
        json!({"bucket": 7, "data": {"name": "x"}}),
        json!({"bucket": "users", "data": "not an object"}),
    ] {
        assert_eq!(
            client.error_code("store.insert", fields.clone()).await,
            "VALIDATION_ERROR",
            "{fields}"
        );
    }
    assert_eq!(
        client
            .error_code(
                "store.where",
                json!({"bucket": "users", "filter": {"$or": []}})
            )
            .await,
        "VALIDATION_ERROR",
        "an unsupported filter operator"
    );
    assert_eq!(
        client.ok("store.count", json!({"bucket": "users"})).await,
        0,
        "nothing was written"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_of_a_missing_key_is_not_found() {
    let server = server(support::config().store(store().await)).await;
    let mut client = connect(&server).await;
    let reply = client
        .request(
            "store.update",
            json!({"bucket": "users", "key": "nobody", "data": {"name": "x"}}),
        )
        .await;
    assert_eq!(reply["code"], "NOT_FOUND");
    assert_eq!(
        client.ok("store.count", json!({"bucket": "users"})).await,
        0,
        "an update does not insert"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsubscribe_unknown_is_not_found() {
    let server = server(support::config().store(store().await)).await;
    let mut client = connect(&server).await;
    for kind in [
        "store.unsubscribe",
        "events.unsubscribe",
        "observer.unsubscribe",
    ] {
        assert_eq!(
            client
                .error_code(kind, json!({"subscriptionId": "sub-404"}))
                .await,
            "NOT_FOUND",
            "{kind}"
        );
    }
    // One already ended is unknown too.
    let id = client
        .ok("store.subscribe", json!({"query": "all-users"}))
        .await["subscriptionId"]
        .clone();
    client
        .ok("store.unsubscribe", json!({"subscriptionId": id}))
        .await;
    assert_eq!(
        client
            .error_code("store.unsubscribe", json!({"subscriptionId": id}))
            .await,
        "NOT_FOUND"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_unique_value_or_key_is_already_exists() {
    let server = server(support::config().store(store().await)).await;
    let mut client = connect(&server).await;
    client
        .ok(
            "store.insert",
            json!({"bucket": "accounts", "data": {"id": "a", "email": "a@example.com"}}),
        )
        .await;
    assert_eq!(
        client
            .error_code(
                "store.insert",
                json!({"bucket": "accounts", "data": {"id": "b", "email": "a@example.com"}}),
            )
            .await,
        "ALREADY_EXISTS",
        "a unique field"
    );
    assert_eq!(
        client
            .error_code(
                "store.insert",
                json!({"bucket": "accounts", "data": {"id": "a", "email": "other@example.com"}}),
            )
            .await,
        "ALREADY_EXISTS",
        "the key"
    );
    assert_eq!(
        client
            .ok("store.count", json!({"bucket": "accounts"}))
            .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_version_update_is_conflict_and_writes_nothing() {
    let server = server(support::config().store(store().await)).await;
    let mut client = connect(&server).await;
    let user = client
        .ok(
            "store.insert",
            json!({"bucket": "users", "data": {"name": "Alice"}}),
        )
        .await;
    let key = user["id"].clone();
    client
        .ok(
            "store.update",
            json!({"bucket": "users", "key": key, "data": {"credits": 1}, "version": 1}),
        )
        .await;
    let reply = client
        .request(
            "store.update",
            json!({"bucket": "users", "key": key, "data": {"credits": 2}, "version": 1}),
        )
        .await;
    assert_eq!(reply["code"], "CONFLICT");
    assert_eq!(reply["details"]["expected"], 1);
    assert_eq!(reply["details"]["found"], 2);
    let stored = client
        .ok("store.get", json!({"bucket": "users", "key": key}))
        .await;
    assert_eq!(stored["credits"], 1);
    assert_eq!(stored["_version"], 2);
}

/// A transaction's reads are checked when it commits: a write in between (here a
/// writer on another thread that never stops) makes it CONFLICT, and then none of
/// its writes apply. The race is the writer's to win; the test tries until it has.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_conflict_is_conflict_and_writes_nothing() {
    let store = store().await;
    let server = server(support::config().store(store.clone())).await;
    let mut client = connect(&server).await;
    let users = store.bucket("users").unwrap();
    for n in 0..200 {
        users
            .insert(&json!({"name": format!("user-{n}")}))
            .await
            .unwrap();
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let users = users.clone();
        tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                users.insert(&json!({"name": "writer"})).await.unwrap();
                tokio::task::yield_now().await;
            }
        })
    };
    let mut conflict = None;
    for attempt in 0..2_000 {
        let reply = client
            .request(
                "store.transaction",
                json!({"operations": [
                    {"op": "where", "bucket": "users", "filter": {"role": "user"}},
                    {"op": "insert", "bucket": "logs", "data": {"attempt": attempt}},
                ]}),
            )
            .await;
        if reply["type"] == "error" {
            assert_eq!(reply["code"], "CONFLICT", "{reply}");
            conflict = Some(attempt);
            break;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.await.unwrap();
    let attempt = conflict.expect("a concurrent writer made a transaction conflict");
    let logged = client
        .ok(
            "store.where",
            json!({"bucket": "logs", "filter": {"attempt": attempt}}),
        )
        .await;
    assert_eq!(
        logged,
        json!([]),
        "the conflicting transaction wrote nothing"
    );
    assert_eq!(
        client.ok("store.count", json!({"bucket": "logs"})).await,
        attempt,
        "every transaction before it did write"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_bucket_is_bucket_not_defined() {
    let server = server(support::config().store(store().await)).await;
    let mut client = connect(&server).await;
    for (kind, fields) in [
        ("store.get", json!({"bucket": "nope", "key": 1})),
        ("store.insert", json!({"bucket": "nope", "data": {}})),
        ("store.all", json!({"bucket": "nope"})),
        (
            "store.transaction",
            json!({"operations": [{"op": "get", "bucket": "nope", "key": 1}]}),
        ),
    ] {
        assert_eq!(
            client.error_code(kind, fields).await,
            "BUCKET_NOT_DEFINED",
            "{kind}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_query_is_query_not_defined() {
    let store = store().await;
    let server = server(support::config().store(store.clone())).await;
    let mut client = connect(&server).await;
    assert_eq!(
        client
            .error_code("store.subscribe", json!({"query": "no-such-query"}))
            .await,
        "QUERY_NOT_DEFINED"
    );
    assert_eq!(store.stats().subscriptions, 0);
    assert_eq!(support::only_connection(&server).store_subscriptions, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_without_an_engine_are_rules_not_available() {
    let server = server(support::config().store(store().await)).await;
    let mut client = connect(&server).await;
    for (kind, fields) in [
        ("rules.emit", json!({"topic": "order.created", "data": {}})),
        ("rules.setFact", json!({"key": "k", "value": 1})),
        ("rules.getAllFacts", json!({})),
        ("rules.subscribe", json!({"pattern": "*"})),
        ("rules.stats", json!({})),
    ] {
        assert_eq!(
            client.error_code(kind, fields).await,
            "RULES_NOT_AVAILABLE",
            "{kind}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_store_is_internal_error_and_the_connection_stays() {
    let store = store().await;
    let server = server(support::config().store(store.clone())).await;
    let mut client = connect(&server).await;
    store.stop().await;
    let reply = client
        .request(
            "store.insert",
            json!({"bucket": "users", "data": {"name": "x"}}),
        )
        .await;
    assert_eq!(reply["code"], "INTERNAL_ERROR", "{reply}");
    assert_eq!(
        client.ok("server.stats", json!({})).await["connectionCount"],
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_operations_without_a_store_are_internal_error() {
    let server = server(support::config()).await;
    let mut client = connect(&server).await;
    assert_eq!(
        client.error_code("store.buckets", json!({})).await,
        "INTERNAL_ERROR"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_reply_carries_id_code_and_message() {
    let server = server(support::config().store(store().await)).await;
    let mut client = connect(&server).await;
    let reply = client
        .request("store.get", json!({"bucket": "nope", "key": 1}))
        .await;
    let mut fields: Vec<&str> = reply
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(fields, ["code", "id", "message", "type"], "{reply}");
    assert_eq!(reply["type"], "error");
    assert!(matches!(&reply["message"], Value::String(m) if m.contains("nope")));
}
