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

use futures_util::future::BoxFuture;
use noex::Pid;
use serde_json::{Map, Value, json};

use crate::auth::Session;
use crate::gateway::Gateway;
use crate::outbox::Outbox;
use crate::protocol::{EVENT_CHANNEL, ErrorCode, OpError, SUBSCRIPTION_CHANNEL, push};
use crate::registry::Client;
use crate::subscriptions::{Subscribed, Subscriptions};

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

    /// A new subscription whose pushes come from `task` (a `Subscribed::store` or
    /// `Subscribed::events` kind), started once the reply, which names it, is queued.
    fn subscribe_with<F>(
        &mut self,
        kind: fn(String, BoxFuture<'static, ()>) -> Subscribed,
        task: impl FnOnce(Pusher) -> F,
    ) -> Value
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let id = self.subscription_id();
        let pusher = Pusher {
            outbox: self.client.outbox.clone(),
            id: id.clone(),
        };
        self.subscribed(kind(id.clone(), Box::pin(task(pusher))));
        json!({"subscriptionId": id})
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

/// A subscription's way to its client: pushes on its id.
pub(crate) struct Pusher {
    outbox: Arc<Outbox>,
    id: String,
}

impl Pusher {
    /// A query's new result (a slow client gets the latest only).
    fn result(&self, data: Value) {
        let text = push(SUBSCRIPTION_CHANNEL, &self.id, data).to_string();
        self.outbox.push_result(&self.id, text);
    }

    /// An event (dropped for a client that is behind).
    fn event(&self, data: Value) {
        self.outbox
            .push_event(push(EVENT_CHANNEL, &self.id, data).to_string());
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
