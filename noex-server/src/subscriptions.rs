//! A client's live subscriptions: each a task pushing to its outbox (or an EventBus
//! subscription), ended with the subscription or the connection.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures_util::future::BoxFuture;
use noex::event_bus::Subscription;
use serde_json::Value;
use tokio::task::AbortHandle;

use crate::registry::Client;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Store,
    Event,
}

/// A subscription just made, started once its reply is queued (so the reply comes
/// before its first push).
pub(crate) struct Subscribed {
    id: String,
    kind: Kind,
    run: Option<BoxFuture<'static, ()>>,
    bus: Option<Subscription<Value>>,
}

impl Subscribed {
    pub(crate) fn store(id: String, run: BoxFuture<'static, ()>) -> Subscribed {
        Subscribed {
            id,
            kind: Kind::Store,
            run: Some(run),
            bus: None,
        }
    }

    pub(crate) fn events(id: String, run: BoxFuture<'static, ()>) -> Subscribed {
        Subscribed {
            id,
            kind: Kind::Event,
            run: Some(run),
            bus: None,
        }
    }

    /// An EventBus subscription, and the task that forwards what it receives.
    pub(crate) fn bus(
        id: String,
        subscription: Subscription<Value>,
        forward: BoxFuture<'static, ()>,
    ) -> Subscribed {
        Subscribed {
            id,
            kind: Kind::Event,
            run: Some(forward),
            bus: Some(subscription),
        }
    }
}

struct Live {
    kind: Kind,
    task: Option<AbortHandle>,
    bus: Option<Subscription<Value>>,
}

#[derive(Default)]
pub(crate) struct Subscriptions {
    live: HashMap<String, Live>,
    pending: Vec<(String, BoxFuture<'static, ()>)>,
    next: u64,
}

fn counter(client: &Client, kind: Kind) -> &std::sync::atomic::AtomicUsize {
    match kind {
        Kind::Store => &client.store_subscriptions,
        Kind::Event => &client.event_subscriptions,
    }
}

impl Subscriptions {
    pub(crate) fn next_id(&mut self) -> String {
        self.next += 1;
        format!("sub-{}", self.next)
    }

    pub(crate) fn len(&self) -> usize {
        self.live.len()
    }

    pub(crate) fn add(&mut self, subscribed: Subscribed, client: &Arc<Client>) {
        counter(client, subscribed.kind).fetch_add(1, Ordering::Relaxed);
        if let Some(run) = subscribed.run {
            self.pending.push((subscribed.id.clone(), run));
        }
        self.live.insert(
            subscribed.id,
            Live {
                kind: subscribed.kind,
                task: None,
                bus: subscribed.bus,
            },
        );
    }

    /// Start what was subscribed since the last call.
    pub(crate) fn start_pending(&mut self) {
        for (id, run) in self.pending.drain(..) {
            let task = tokio::spawn(run).abort_handle();
            if let Some(live) = self.live.get_mut(&id) {
                live.task = Some(task);
            }
        }
    }

    /// End one; whether it was there.
    pub(crate) async fn remove(&mut self, id: &str, client: &Arc<Client>) -> bool {
        let Some(live) = self.live.remove(id) else {
            return false;
        };
        self.pending.retain(|(pending, _)| pending != id);
        counter(client, live.kind).fetch_sub(1, Ordering::Relaxed);
        if let Some(task) = live.task {
            task.abort();
        }
        if let Some(bus) = live.bus {
            let _ = bus.unsubscribe().await;
        }
        client.outbox.forget(id);
        true
    }
}

impl Drop for Subscriptions {
    /// The connection has ended: every task goes with it (bus subscriptions end with
    /// its process, which they were tied to).
    fn drop(&mut self) {
        for live in self.live.values() {
            if let Some(task) = &live.task {
                task.abort();
            }
        }
    }
}
