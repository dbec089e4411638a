//! `events.*`: the application's EventBus (or the server's own), publish and subscribe.

use serde_json::{Value, json};

use super::fields::Fields;
use super::{Op, Subscribed};
use crate::protocol::{EVENT_CHANNEL, ErrorCode, OpError, push};

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
            let outbox = op.client.outbox.clone();
            let pushed_id = id.clone();
            let subscription = bus
                .subscribe(pattern, move |message: &Value, topic: &str| {
                    let data = json!({"topic": topic, "event": message});
                    outbox.push_event(push(EVENT_CHANNEL, &pushed_id, data).to_string());
                })
                .await
                .map_err(|_| stopped(()))?;
            // Gone with the connection, however it ends.
            subscription
                .unsubscribe_on_exit(op.pid)
                .await
                .map_err(|_| stopped(()))?;
            op.subscribed(Subscribed::bus(id.clone(), subscription));
            json!({"subscriptionId": id})
        }
        "events.unsubscribe" => op.unsubscribe().await?,
        _ => return Err(super::store::unknown(op.kind)),
    })
}
