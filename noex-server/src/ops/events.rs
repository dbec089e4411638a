//! `events.*`: the application's EventBus (or the server's own), publish and subscribe.

use serde_json::{Value, json};

use super::fields::Fields;
use super::{Op, Subscribed};
use crate::protocol::{EVENT_CHANNEL, ErrorCode, OpError, push};

/// Events of one subscription waiting for its task.
const EVENTS_WAITING: usize = 256;

pub(super) async fn run(op: &mut Op<'_>) -> Result<Value, OpError> {
    let fields = Fields(op.fields);
    let bus = op.gateway.bus.clone();
    let stopped = |_| OpError::new(ErrorCode::InternalError, "the event bus has stopped");
    Ok(match op.kind {
        "events.publish" => {
            let topic = fields.str("topic")?;
            let data = fields.opt_value("data").cloned().unwrap_or(Value::Null);
            bus.publish(topic.to_string(), data)
                .map_err(|_| stopped(()))?;
            json!({"published": true})
        }
        "events.subscribe" => {
            op.check_room()?;
            let pattern = fields.str("pattern")?;
            let id = op.subscription_id();
            // Events go through a bounded channel to a task that starts once the reply
            // is queued, so the reply comes before the first push; a full channel drops
            // the event, as a client behind would.
            let (events, mut received) = tokio::sync::mpsc::channel::<String>(EVENTS_WAITING);
            let dropped = op.client.outbox.clone();
            let pushed_id = id.clone();
            let subscription = bus
                .subscribe(pattern, move |message: &Value, topic: &str| {
                    let data = json!({"topic": topic, "event": message});
                    let text = push(EVENT_CHANNEL, &pushed_id, data).to_string();
                    if events.try_send(text).is_err() {
                        dropped.count_dropped_event();
                    }
                })
                .await
                .map_err(|_| stopped(()))?;
            let outbox = op.client.outbox.clone();
            let forward = Box::pin(async move {
                while let Some(text) = received.recv().await {
                    outbox.push_event(text);
                }
            });
            // Gone with the connection, however it ends.
            subscription
                .unsubscribe_on_exit(op.pid)
                .await
                .map_err(|_| stopped(()))?;
            op.subscribed(Subscribed::bus(id.clone(), subscription, forward));
            json!({"subscriptionId": id})
        }
        "events.unsubscribe" => op.unsubscribe().await?,
        _ => return Err(super::store::unknown(op.kind)),
    })
}
