//! `rules.*`: the plugged-in rules engine.

use serde_json::{Value, json};

use super::fields::Fields;
use super::{Op, Subscribed};
use crate::protocol::{ErrorCode, OpError};

pub(super) async fn run(op: &mut Op<'_>) -> Result<Value, OpError> {
    let Some(engine) = op.gateway.config.rules.clone() else {
        return Err(OpError::new(
            ErrorCode::RulesNotAvailable,
            "no rules engine is configured on this server",
        ));
    };
    let fields = Fields(op.fields);
    Ok(match op.kind {
        "rules.emit" => {
            let topic = fields.str("topic")?.to_string();
            let data = fields.opt_value("data").cloned().unwrap_or(Value::Null);
            let correlation = fields.opt_str("correlationId")?.map(str::to_string);
            engine.emit(topic, data, correlation).await?
        }
        "rules.setFact" => {
            let key = fields.str("key")?.to_string();
            let value = fields.value("value")?.clone();
            serde_json::to_value(engine.set_fact(key, value).await?).unwrap_or(Value::Null)
        }
        "rules.getFact" => engine
            .get_fact(fields.str("key")?.to_string())
            .await?
            .unwrap_or(Value::Null),
        "rules.deleteFact" => {
            let deleted = engine.delete_fact(fields.str("key")?.to_string()).await?;
            json!({"deleted": deleted})
        }
        "rules.queryFacts" => {
            let facts = engine
                .query_facts(fields.str("pattern")?.to_string())
                .await?;
            serde_json::to_value(facts).unwrap_or(Value::Null)
        }
        "rules.getAllFacts" => {
            serde_json::to_value(engine.all_facts().await?).unwrap_or(Value::Null)
        }
        "rules.stats" => engine.stats().await?,
        "rules.subscribe" => {
            op.check_room()?;
            let mut events = engine.subscribe(fields.str("pattern")?.to_string()).await?;
            op.subscribe_with(Subscribed::events, |pusher| async move {
                while let Some(event) = events.recv().await {
                    pusher.event(json!({"topic": event.topic, "event": event.event}));
                }
            })
        }
        "rules.unsubscribe" => op.unsubscribe().await?,
        _ => return Err(super::store::unknown(op.kind)),
    })
}
