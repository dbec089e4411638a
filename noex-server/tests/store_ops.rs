//! The seed's `store.*` operations over a real socket: each answers with the result
//! the seed documents.

mod support;

use serde_json::{Value, json};
use support::{Client, connect, server, store};

async fn insert_user(client: &mut Client, name: &str, credits: i64) -> Value {
    client
        .ok(
            "store.insert",
            json!({"bucket": "users", "data": {"name": name, "credits": credits}}),
        )
        .await
}

fn names(records: &Value) -> Vec<&str> {
    let mut names: Vec<&str> = records
        .as_array()
        .expect("an array of records")
        .iter()
        .map(|record| record["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_store_operation_answers_as_the_seed_documents() {
    let server = server(support::config().store(store().await)).await;
    let mut client = connect(&server).await;

    let alice = insert_user(&mut client, "Alice", 10).await;
    let bob = insert_user(&mut client, "Bob", 20).await;
    let carol = insert_user(&mut client, "Carol", 30).await;
    assert_eq!(alice["role"], "user", "the schema's default is applied");
    assert_eq!(alice["_version"], 1);
    let alice_id = alice["id"].clone();

    let got = client
        .ok("store.get", json!({"bucket": "users", "key": alice_id}))
        .await;
    assert_eq!(got, alice);
    let missing = client
        .ok("store.get", json!({"bucket": "users", "key": "nobody"}))
        .await;
    assert_eq!(missing, Value::Null, "a missing key is null, not an error");

    let updated = client
        .ok(
            "store.update",
            json!({"bucket": "users", "key": alice_id, "data": {"credits": 15}}),
        )
        .await;
    assert_eq!(updated["credits"], 15);
    assert_eq!(updated["name"], "Alice", "fields not given are kept");
    assert_eq!(updated["_version"], 2);

    let all = client.ok("store.all", json!({"bucket": "users"})).await;
    assert_eq!(names(&all), ["Alice", "Bob", "Carol"]);

    let rich = client
        .ok(
            "store.where",
            json!({"bucket": "users", "filter": {"credits": {"$gte": 20}}}),
        )
        .await;
    assert_eq!(names(&rich), ["Bob", "Carol"]);

    let found = client
        .ok(
            "store.findOne",
            json!({"bucket": "users", "filter": {"name": "Bob"}}),
        )
        .await;
    assert_eq!(found["id"], bob["id"]);
    let none = client
        .ok(
            "store.findOne",
            json!({"bucket": "users", "filter": {"name": "Zed"}}),
        )
        .await;
    assert_eq!(none, Value::Null);

    assert_eq!(
        client.ok("store.count", json!({"bucket": "users"})).await,
        3
    );
    assert_eq!(
        client
            .ok(
                "store.count",
                json!({"bucket": "users", "filter": {"credits": {"$lt": 20}}}),
            )
            .await,
        1
    );

    let first = client
        .ok("store.first", json!({"bucket": "users", "n": 2}))
        .await;
    let last = client
        .ok("store.last", json!({"bucket": "users", "n": 2}))
        .await;
    assert_eq!(first.as_array().unwrap().len(), 2);
    assert_eq!(last.as_array().unwrap().len(), 2);
    assert_ne!(first, last, "first and last of three differ");

    let page = client
        .ok("store.paginate", json!({"bucket": "users", "limit": 2}))
        .await;
    assert_eq!(page["records"].as_array().unwrap().len(), 2);
    assert_eq!(page["hasMore"], true);
    let rest = client
        .ok(
            "store.paginate",
            json!({"bucket": "users", "limit": 2, "after": page["nextCursor"]}),
        )
        .await;
    assert_eq!(rest["records"].as_array().unwrap().len(), 1);
    assert_eq!(rest["hasMore"], false);
    let mut paged: Vec<Value> = page["records"].as_array().unwrap().clone();
    paged.extend(rest["records"].as_array().unwrap().iter().cloned());
    assert_eq!(names(&Value::Array(paged)), ["Alice", "Bob", "Carol"]);

    assert_eq!(
        client
            .ok("store.sum", json!({"bucket": "users", "field": "credits"}))
            .await,
        65.0
    );
    assert_eq!(
        client
            .ok("store.avg", json!({"bucket": "users", "field": "credits"}))
            .await
            .as_f64()
            .unwrap(),
        65.0 / 3.0
    );
    assert_eq!(
        client
            .ok("store.min", json!({"bucket": "users", "field": "credits"}))
            .await,
        15
    );
    assert_eq!(
        client
            .ok(
                "store.max",
                json!({"bucket": "users", "field": "credits", "filter": {"name": {"$ne": "Carol"}}}),
            )
            .await,
        20
    );

    let buckets = client.ok("store.buckets", json!({})).await;
    for bucket in ["users", "accounts", "logs"] {
        assert!(
            buckets.as_array().unwrap().contains(&json!(bucket)),
            "{bucket} in {buckets}"
        );
    }
    let stats = client.ok("store.stats", json!({})).await;
    let users = stats["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|bucket| bucket["name"] == "users")
        .unwrap();
    assert_eq!(users["records"], 3);

    let deleted = client
        .ok(
            "store.delete",
            json!({"bucket": "users", "key": carol["id"]}),
        )
        .await;
    assert_eq!(deleted["deleted"], true);
    let again = client
        .ok(
            "store.delete",
            json!({"bucket": "users", "key": carol["id"]}),
        )
        .await;
    assert_eq!(again["deleted"], false, "deleting twice is not an error");

    let cleared = client.ok("store.clear", json!({"bucket": "users"})).await;
    assert_eq!(cleared["cleared"], 2);
    assert_eq!(
        client.ok("store.count", json!({"bucket": "users"})).await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_applies_every_operation_and_answers_each_in_order() {
    let server = server(support::config().store(store().await)).await;
    let mut client = connect(&server).await;
    let user = insert_user(&mut client, "Alice", 500).await;
    let done = client
        .ok(
            "store.transaction",
            json!({"operations": [
                {"op": "get", "bucket": "users", "key": user["id"]},
                {"op": "update", "bucket": "users", "key": user["id"], "data": {"credits": 400}},
                {"op": "insert", "bucket": "logs", "data": {"action": "credit_update"}},
                {"op": "count", "bucket": "logs"},
                {"op": "where", "bucket": "users", "filter": {"credits": 400}},
                {"op": "findOne", "bucket": "users", "filter": {"name": "Alice"}},
            ]}),
        )
        .await;
    let results = done["results"].as_array().unwrap();
    assert_eq!(results.len(), 6);
    assert_eq!(results[0]["credits"], 500, "the get saw the record before");
    assert_eq!(results[1]["credits"], 400);
    assert_eq!(results[2]["action"], "credit_update");
    assert_eq!(results[3], 1, "a count sees the transaction's own insert");
    assert_eq!(results[4].as_array().unwrap().len(), 1);
    assert_eq!(results[5]["credits"], 400);
    let stored = client
        .ok("store.get", json!({"bucket": "users", "key": user["id"]}))
        .await;
    assert_eq!(stored["credits"], 400);
    assert_eq!(client.ok("store.count", json!({"bucket": "logs"})).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_transaction_writes_nothing() {
    let server = server(support::config().store(store().await)).await;
    let mut client = connect(&server).await;
    let code = client
        .error_code(
            "store.transaction",
            json!({"operations": [
                {"op": "insert", "bucket": "logs", "data": {"action": "first"}},
                {"op": "update", "bucket": "users", "key": "nobody", "data": {"credits": 1}},
            ]}),
        )
        .await;
    assert_eq!(code, "NOT_FOUND");
    assert_eq!(
        client.ok("store.count", json!({"bucket": "logs"})).await,
        0,
        "the insert before the failing update is not applied"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsubscribed_query_pushes_no_more() {
    let server = server(support::config().store(store().await)).await;
    let mut client = connect(&server).await;
    let gone = client
        .ok("store.subscribe", json!({"query": "all-users"}))
        .await["subscriptionId"]
        .clone();
    assert_eq!(client.next_push().await["subscriptionId"], gone);
    let kept = client
        .ok("store.subscribe", json!({"query": "all-users"}))
        .await["subscriptionId"]
        .clone();
    assert_eq!(client.next_push().await["subscriptionId"], kept);
    let reply = client
        .ok("store.unsubscribe", json!({"subscriptionId": gone}))
        .await;
    assert_eq!(reply["unsubscribed"], true);
    insert_user(&mut client, "Dora", 1).await;
    // The change reaches both queries at once: once the kept one has pushed, a push
    // of the other would have come too.
    let push = client.next_push().await;
    assert_eq!(push["subscriptionId"], kept);
    assert_eq!(push["data"][0]["name"], "Dora");
    client.ok("store.count", json!({"bucket": "users"})).await;
    assert!(
        client.pushes.iter().all(|m| m["subscriptionId"] != gone),
        "no push after unsubscribe: {:?}",
        client.pushes
    );
    assert_eq!(server.stats().connections.total_store_subscriptions, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_subscriptions_end_with_its_connection() {
    let store = store().await;
    let server = server(support::config().store(store.clone())).await;
    let mut client = connect(&server).await;
    for _ in 0..3 {
        client
            .ok("store.subscribe", json!({"query": "all-users"}))
            .await;
    }
    assert_eq!(store.stats().subscriptions, 3);
    assert_eq!(support::only_connection(&server).store_subscriptions, 3);
    client.close().await;
    support::until("the store's subscriptions ended with the client", || {
        store.stats().subscriptions == 0
    })
    .await;
    support::until("the registry dropped the client", || {
        server.connection_count() == 0
    })
    .await;
}
