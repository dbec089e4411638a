//! `rules.*` through a real socket, served by the built-in engine (BuiltinRules).

mod support;

use noex_server::BuiltinRules;
use serde_json::json;
use support::{connect, server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn facts_events_and_subscriptions_round_trip_as_the_seed_documents() {
    support::agent_off();
    let rules = BuiltinRules::start(&format!("rules-{}", std::process::id()))
        .await
        .unwrap();
    let server = server(support::config().rules(rules)).await;
    let mut client = connect(&server).await;

    let fact = client
        .ok(
            "rules.setFact",
            json!({"key": "user:1:tier", "value": "gold"}),
        )
        .await;
    assert_eq!(fact, json!({"key": "user:1:tier", "value": "gold"}));
    client
        .ok(
            "rules.setFact",
            json!({"key": "user:2:tier", "value": "silver"}),
        )
        .await;
    client
        .ok(
            "rules.setFact",
            json!({"key": "user:2:name", "value": "Bo"}),
        )
        .await;
    assert_eq!(
        client
            .ok("rules.getFact", json!({"key": "user:1:tier"}))
            .await,
        json!("gold")
    );
    let tiers = client
        .ok("rules.queryFacts", json!({"pattern": "user:*:tier"}))
        .await;
    assert_eq!(tiers.as_array().unwrap().len(), 2, "{tiers}");
    assert_eq!(
        client
            .ok("rules.deleteFact", json!({"key": "user:2:name"}))
            .await,
        json!({"deleted": true})
    );
    assert_eq!(
        client
            .ok("rules.getAllFacts", json!({}))
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let subscribed = client
        .ok("rules.subscribe", json!({"pattern": "order.*"}))
        .await;
    let id = subscribed["subscriptionId"].clone();
    client
        .ok("rules.emit", json!({"topic": "user.created", "data": {}}))
        .await;
    let emitted = client
        .ok(
            "rules.emit",
            json!({"topic": "order.created", "data": {"total": 5}, "correlationId": "c-1"}),
        )
        .await;
    assert_eq!(emitted["correlationId"], "c-1");
    let pushed = client.next_push().await;
    assert_eq!(pushed["channel"], "event");
    assert_eq!(pushed["subscriptionId"], id);
    // Only the matching topic reached the subscription.
    assert_eq!(pushed["data"]["topic"], "order.created");
    assert_eq!(pushed["data"]["event"]["data"]["total"], 5);

    assert_eq!(
        client
            .ok("rules.unsubscribe", json!({"subscriptionId": id}))
            .await,
        json!({"unsubscribed": true})
    );
    let stats = client.ok("rules.stats", json!({})).await;
    assert_eq!(stats["facts"], 2);
    assert_eq!(stats["events"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_without_an_engine_are_rules_not_available() {
    let server = server(support::config()).await;
    let mut client = connect(&server).await;
    for kind in [
        "rules.emit",
        "rules.getAllFacts",
        "rules.subscribe",
        "rules.stats",
    ] {
        let reply = client
            .request(kind, json!({"topic": "t", "pattern": "*"}))
            .await;
        assert_eq!(reply["code"], "RULES_NOT_AVAILABLE", "{kind}");
    }
}
