//! `rules.*` over a real socket, proxied to a rules engine of this file's own (so the
//! tests check the gateway's proxy, not an engine): facts, events pushed to matching
//! subscriptions, and the engine's errors as VALIDATION_ERROR and INTERNAL_ERROR.

mod support;

use std::collections::BTreeMap;

use futures_util::future::BoxFuture;
use noex_server::RulesEngine;
use noex_server::rules::{Fact, RulesError, RulesEvent};
use parking_lot::Mutex;
use serde_json::{Value, json};
use support::{connect, server};
use tokio::sync::mpsc;

/// Facts in a map; events to subscribers whose pattern is the topic or `prefix.*`.
/// An empty key is refused (Invalid); the key `boom` fails the engine.
#[derive(Default)]
struct Facts {
    facts: Mutex<BTreeMap<String, Value>>,
    subscribers: Mutex<Vec<(String, mpsc::Sender<RulesEvent>)>>,
}

fn matches(pattern: &str, topic: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => topic.starts_with(prefix),
        None => pattern == topic,
    }
}

fn checked(key: &str) -> Result<(), RulesError> {
    match key {
        "" => Err(RulesError::Invalid("a key is not empty".into())),
        "boom" => Err(RulesError::Engine("the engine broke".into())),
        _ => Ok(()),
    }
}

impl RulesEngine for Facts {
    fn emit(
        &self,
        topic: String,
        data: Value,
        correlation_id: Option<String>,
    ) -> BoxFuture<'_, Result<Value, RulesError>> {
        Box::pin(async move {
            let event = json!({"topic": topic, "data": data, "correlationId": correlation_id});
            for (pattern, sender) in self.subscribers.lock().iter() {
                if matches(pattern, &topic) {
                    let _ = sender.try_send(RulesEvent {
                        topic: topic.clone(),
                        event: event.clone(),
                    });
                }
            }
            Ok(event)
        })
    }

    fn set_fact(&self, key: String, value: Value) -> BoxFuture<'_, Result<Fact, RulesError>> {
        Box::pin(async move {
            checked(&key)?;
            self.facts.lock().insert(key.clone(), value.clone());
            Ok(Fact { key, value })
        })
    }

    fn get_fact(&self, key: String) -> BoxFuture<'_, Result<Option<Value>, RulesError>> {
        Box::pin(async move {
            checked(&key)?;
            Ok(self.facts.lock().get(&key).cloned())
        })
    }

    fn delete_fact(&self, key: String) -> BoxFuture<'_, Result<bool, RulesError>> {
        Box::pin(async move { Ok(self.facts.lock().remove(&key).is_some()) })
    }

    fn query_facts(&self, pattern: String) -> BoxFuture<'_, Result<Vec<Fact>, RulesError>> {
        Box::pin(async move {
            Ok(self
                .facts
                .lock()
                .iter()
                .filter(|(key, _)| matches(&pattern, key))
                .map(|(key, value)| Fact {
                    key: key.clone(),
                    value: value.clone(),
                })
                .collect())
        })
    }

    fn all_facts(&self) -> BoxFuture<'_, Result<Vec<Fact>, RulesError>> {
        self.query_facts("*".into())
    }

    fn subscribe(
        &self,
        pattern: String,
    ) -> BoxFuture<'_, Result<mpsc::Receiver<RulesEvent>, RulesError>> {
        Box::pin(async move {
            let (sender, receiver) = mpsc::channel(16);
            self.subscribers.lock().push((pattern, sender));
            Ok(receiver)
        })
    }

    fn stats(&self) -> BoxFuture<'_, Result<Value, RulesError>> {
        Box::pin(async move { Ok(json!({"facts": self.facts.lock().len()})) })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rules_operation_is_proxied_to_the_engine() {
    let server = server(support::config().rules(Facts::default())).await;
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
            json!({"key": "user:2:tier", "value": "free"}),
        )
        .await;
    assert_eq!(
        client
            .ok("rules.getFact", json!({"key": "user:1:tier"}))
            .await,
        "gold"
    );
    assert_eq!(
        client.ok("rules.getFact", json!({"key": "nope"})).await,
        Value::Null
    );
    let queried = client
        .ok("rules.queryFacts", json!({"pattern": "user:1*"}))
        .await;
    assert_eq!(queried.as_array().unwrap().len(), 1);
    assert_eq!(
        client
            .ok("rules.getAllFacts", json!({}))
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        client
            .ok("rules.deleteFact", json!({"key": "user:2:tier"}))
            .await,
        json!({"deleted": true})
    );
    assert_eq!(
        client.ok("rules.stats", json!({})).await,
        json!({"facts": 1})
    );

    let subscribed = client
        .ok("rules.subscribe", json!({"pattern": "order.*"}))
        .await;
    let id = subscribed["subscriptionId"].clone();
    let emitted = client
        .ok(
            "rules.emit",
            json!({"topic": "order.created", "data": {"n": 1}, "correlationId": "c-1"}),
        )
        .await;
    assert_eq!(emitted["correlationId"], "c-1");
    let push = client.next_push().await;
    assert_eq!(push["channel"], "event");
    assert_eq!(push["subscriptionId"], id);
    assert_eq!(push["data"]["topic"], "order.created");
    assert_eq!(push["data"]["event"]["data"], json!({"n": 1}));
    assert_eq!(server.stats().connections.total_event_subscriptions, 1);
    client
        .ok("rules.unsubscribe", json!({"subscriptionId": id}))
        .await;
    assert_eq!(server.stats().connections.total_event_subscriptions, 0);
    assert!(server.stats().rules_enabled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_s_errors_are_validation_and_internal_errors() {
    let server = server(support::config().rules(Facts::default())).await;
    let mut client = connect(&server).await;
    assert_eq!(
        client
            .error_code("rules.setFact", json!({"key": "boom", "value": 1}))
            .await,
        "INTERNAL_ERROR"
    );
    assert_eq!(
        client
            .error_code("rules.setFact", json!({"key": "k"}))
            .await,
        "VALIDATION_ERROR",
        "a value is required"
    );
    assert_eq!(
        client.error_code("rules.emit", json!({"data": 1})).await,
        "VALIDATION_ERROR",
        "a topic is required"
    );
    // Still served.
    client.ok("rules.stats", json!({})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_holds_at_most_max_subscriptions() {
    let server = server(
        support::config()
            .rules(Facts::default())
            .max_subscriptions(2),
    )
    .await;
    let mut client = connect(&server).await;
    client
        .ok("rules.subscribe", json!({"pattern": "a.*"}))
        .await;
    client
        .ok("events.subscribe", json!({"pattern": "b.*"}))
        .await;
    for (kind, fields) in [
        ("rules.subscribe", json!({"pattern": "c.*"})),
        ("events.subscribe", json!({"pattern": "c.*"})),
        ("observer.subscribe", json!({})),
    ] {
        assert_eq!(
            client.error_code(kind, fields).await,
            "VALIDATION_ERROR",
            "{kind}"
        );
    }
    assert_eq!(support::only_connection(&server).event_subscriptions, 2);
}
