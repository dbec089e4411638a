//! Operations by group: each reads its request's fields and answers with a result or
//! an [`OpError`].

mod auth;
mod events;
mod fields;
mod observer;
mod rules;
mod server;
mod store;

use std::sync::Arc;

use noex::Pid;
use serde_json::{Map, Value, json};

use crate::auth::Session;
use crate::connection::subscriptions::{Subscribed, Subscriptions};
use crate::protocol::{ErrorCode, OpError};
use crate::registry::Client;
use crate::server::Gateway;

pub(crate) use fields::Fields;

/// One request being served, with what it may touch of its connection.
pub(crate) struct Op<'a> {
    pub kind: &'a str,
    pub fields: &'a Map<String, Value>,
    pub gateway: &'a Arc<Gateway>,
    pub client: &'a Arc<Client>,
    pub pid: Pid,
    pub session: &'a mut Option<Session>,
    pub subscriptions: &'a mut Subscriptions,
}

impl Op<'_> {
    fn subscription_id(&mut self) -> String {
        self.subscriptions.next_id()
    }

    /// A client holds a bounded number of subscriptions.
    fn check_room(&self) -> Result<(), OpError> {
        let max = self.gateway.config.max_subscriptions;
        if self.subscriptions.len() >= max {
            return Err(OpError::invalid(format!(
                "too many subscriptions: a client may hold {max}"
            )));
        }
        Ok(())
    }

    fn subscribed(&mut self, subscribed: Subscribed) {
        self.subscriptions.add(subscribed, self.client);
    }

    async fn unsubscribe(&mut self) -> Result<Value, OpError> {
        let id = Fields(self.fields).str("subscriptionId")?.to_string();
        if self.subscriptions.remove(&id, self.client).await {
            Ok(json!({"unsubscribed": true}))
        } else {
            Err(OpError::new(
                ErrorCode::NotFound,
                format!(
                    "no subscription {}",
                    noex_agent::text::clip(&id, noex_agent::text::ECHOED_TEXT_LIMIT)
                ),
            ))
        }
    }
}

/// What an operation acts on, for permissions and the audit log.
pub(crate) fn resource(fields: &Map<String, Value>) -> Option<&str> {
    ["bucket", "query", "target", "topic", "pattern", "key"]
        .iter()
        .find_map(|name| fields.get(*name).and_then(Value::as_str))
}

pub(crate) async fn run(op: &mut Op<'_>) -> Result<Value, OpError> {
    let group = op.kind.split_once('.').map_or("", |(group, _)| group);
    match group {
        "store" => match op.gateway.config.store.clone() {
            Some(store) => store::run(op, &store).await,
            None => Err(OpError::new(
                ErrorCode::InternalError,
                "this server serves no store",
            )),
        },
        "rules" => rules::run(op).await,
        "auth" => auth::run(op).await,
        "observer" => observer::run(op).await,
        "events" => events::run(op).await,
        "server" | "audit" => server::run(op),
        _ => Err(store::unknown(op.kind)),
    }
}
