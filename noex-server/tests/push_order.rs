//! A subscription's reply comes before its first push, however busy the source.

mod support;

use noex::event_bus::{EventBus, EventBusOptions};
use serde_json::{Value, json};
use support::{connect, server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_subscribe_reply_comes_before_its_first_push() {
    support::agent_off();
    let bus = EventBus::<Value>::start(EventBusOptions::new())
        .await
        .unwrap();
    let server = server(support::config().event_bus(bus.clone())).await;
    let publisher = tokio::spawn(async move {
        for n in 0u64.. {
            if bus.publish("tick", json!(n)).is_err() {
                break;
            }
            tokio::task::yield_now().await;
        }
    });
    let mut client = connect(&server).await;
    for round in 0..20 {
        let id = 1000 + round;
        let request = json!({"id": id, "type": "events.subscribe", "pattern": "tick"});
        client.send_text(&request.to_string()).await;
        // Nothing of this subscription may come before its reply names it.
        loop {
            let message = client.next_message().await.unwrap();
            if message["id"] == json!(id) {
                assert_eq!(message["type"], "result");
                break;
            }
            assert_ne!(
                message["type"], "push",
                "a push before its subscription's reply"
            );
        }
        let subscription = client.pushes.len();
        let _ = subscription;
        let reply = client.next_push().await;
        assert_eq!(reply["channel"], "event");
        let id = reply["subscriptionId"].clone();
        client
            .ok("events.unsubscribe", json!({"subscriptionId": id}))
            .await;
        // Pushes of the ended subscription already on the wire are skipped.
        while client.pushes.iter().any(|m| m["type"] == "push") {
            client.pushes.retain(|m| m["type"] != "push");
        }
        drain_pushes(&mut client).await;
    }
    publisher.abort();
}

/// Read until a reply, dropping the pushes before it.
async fn drain_pushes(client: &mut support::Client) {
    client.ok("server.stats", json!({})).await;
    client.pushes.clear();
}
