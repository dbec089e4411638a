//! `events.*` and `server.*` over a real socket: the EventBus's publish and subscribe,
//! the server's figures and clients.

mod support;

use serde_json::json;
use support::{connect, server, store};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_event_is_pushed_to_every_matching_subscription_only() {
    let server = server(support::config()).await;
    let mut listener = connect(&server).await;
    let mut publisher = connect(&server).await;
    let orders = listener
        .ok("events.subscribe", json!({"pattern": "orders.*"}))
        .await["subscriptionId"]
        .clone();
    let users = listener
        .ok("events.subscribe", json!({"pattern": "users.*"}))
        .await["subscriptionId"]
        .clone();
    let published = publisher
        .ok(
            "events.publish",
            json!({"topic": "orders.created", "data": {"order": 7}}),
        )
        .await;
    assert_eq!(published["published"], true);
    let push = listener.next_push().await;
    assert_eq!(push["channel"], "event");
    assert_eq!(push["subscriptionId"], orders);
    assert_eq!(push["data"]["topic"], "orders.created");
    assert_eq!(push["data"]["event"], json!({"order": 7}));

    // Only the matching subscription: a later event on `users.*` is the next push.
    publisher
        .ok(
            "events.publish",
            json!({"topic": "users.joined", "data": 1}),
        )
        .await;
    let next = listener.next_push().await;
    assert_eq!(next["subscriptionId"], users);
    assert_eq!(next["data"]["topic"], "users.joined");

    listener
        .ok("events.unsubscribe", json!({"subscriptionId": orders}))
        .await;
    publisher
        .ok("events.publish", json!({"topic": "orders.paid"}))
        .await;
    publisher
        .ok("events.publish", json!({"topic": "users.left"}))
        .await;
    let after = listener.next_push().await;
    assert_eq!(
        after["data"]["topic"], "users.left",
        "no push for the ended subscription: {after}"
    );
    assert_eq!(
        publisher
            .error_code("events.publish", json!({"data": 1}))
            .await,
        "VALIDATION_ERROR",
        "a topic is required"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_application_s_own_bus_is_the_one_served() {
    support::agent_off();
    let bus = noex::event_bus::EventBus::<serde_json::Value>::start(
        noex::event_bus::EventBusOptions::new(),
    )
    .await
    .unwrap();
    let server = server(support::config().event_bus(bus.clone())).await;
    let mut client = connect(&server).await;
    client
        .ok("events.subscribe", json!({"pattern": "app.*"}))
        .await;
    bus.publish("app.started".to_string(), json!({"by": "the application"}))
        .unwrap();
    let push = client.next_push().await;
    assert_eq!(push["data"]["event"]["by"], "the application");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_stats_and_connections_describe_the_clients() {
    let server = server(support::config().store(store().await)).await;
    let mut first = connect(&server).await;
    let mut second = connect(&server).await;
    first
        .ok("store.subscribe", json!({"query": "all-users"}))
        .await;
    second
        .ok("events.subscribe", json!({"pattern": "x.*"}))
        .await;
    let stats = first.ok("server.stats", json!({})).await;
    assert_eq!(stats["name"], server.stats().name);
    assert_eq!(stats["port"], server.local_addr().port());
    assert_eq!(stats["connectionCount"], 2);
    assert_eq!(stats["authEnabled"], false);
    assert_eq!(stats["rateLimitEnabled"], false);
    assert_eq!(stats["rulesEnabled"], false);
    assert_eq!(stats["connections"]["active"], 2);
    assert_eq!(stats["connections"]["totalStoreSubscriptions"], 1);
    assert_eq!(stats["connections"]["totalEventSubscriptions"], 1);
    assert_eq!(stats["store"]["subscriptions"], 1);

    let connections = second.ok("server.connections", json!({})).await;
    let connections = connections.as_array().unwrap();
    assert_eq!(connections.len(), 2);
    assert_eq!(connections[0]["id"], 1);
    assert_eq!(connections[0]["storeSubscriptions"], 1);
    assert_eq!(connections[1]["eventSubscriptions"], 1);
    assert_eq!(connections[0]["authenticated"], false);
    assert!(
        connections[0]["remoteAddress"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:")
    );
    assert!(connections[0]["messagesIn"].as_u64().unwrap() >= 2);

    second.close().await;
    support::until("the closed client leaves the figures", || {
        server.stats().connection_count == 1
    })
    .await;
    let stats = first.ok("server.stats", json!({})).await;
    assert_eq!(stats["connections"]["totalEventSubscriptions"], 0);
    assert_eq!(stats["connections"]["accepted"], 2);
}
