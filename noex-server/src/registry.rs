//! The connected clients: who they are and what they have done, for
//! `server.connections`, `server.stats` and each connection's line in `noex ps`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use noex::Pid;
use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::Notify;

use crate::outbox::Outbox;

/// One client, as the registry sees it.
pub(crate) struct Client {
    pub id: u64,
    pub remote: SocketAddr,
    pub connected_at_ms: u64,
    pub pid: Mutex<Option<Pid>>,
    pub user_id: Mutex<Option<String>>,
    pub messages_in: AtomicU64,
    pub store_subscriptions: AtomicUsize,
    pub event_subscriptions: AtomicUsize,
    pub outbox: Arc<Outbox>,
}

impl Client {
    pub(crate) fn info(&self) -> ConnectionInfo {
        // Read once: a struct literal keeps a guard until its end.
        let user_id = self.user_id.lock().clone();
        let pid = *self.pid.lock();
        ConnectionInfo {
            id: self.id,
            pid: pid.map(|pid| pid.to_string()),
            remote_address: self.remote.to_string(),
            authenticated: user_id.is_some(),
            user_id,
            connected_at: self.connected_at_ms,
            messages_in: self.messages_in.load(Ordering::Relaxed),
            messages_out: self.outbox.sent.load(Ordering::Relaxed),
            store_subscriptions: self.store_subscriptions.load(Ordering::Relaxed),
            event_subscriptions: self.event_subscriptions.load(Ordering::Relaxed),
            buffered_bytes: self.outbox.buffered_bytes(),
            dropped_events: self.outbox.dropped_events.load(Ordering::Relaxed),
        }
    }

    /// Its line in `noex ps`: `ws 127.0.0.1:53122 alice: 12 in, 30 out, 2 subscriptions`.
    pub(crate) fn describe(&self) -> String {
        let info = self.info();
        let who = info.user_id.as_deref().unwrap_or("anonymous");
        format!(
            "ws {} {who}: {} in, {} out, {} subscriptions",
            info.remote_address,
            info.messages_in,
            info.messages_out,
            info.store_subscriptions + info.event_subscriptions
        )
    }
}

/// A connected client, as `server.connections` and [`Server::connections`](crate::Server::connections) report it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionInfo {
    /// Its number, from 1, never reused by a server.
    pub id: u64,
    /// Its process (`<0.42>`), once started.
    pub pid: Option<String>,
    /// Where it connects from.
    pub remote_address: String,
    /// Who it logged in as.
    pub user_id: Option<String>,
    /// Whether it has logged in.
    pub authenticated: bool,
    /// When it connected, in milliseconds since the Unix epoch.
    pub connected_at: u64,
    /// Messages it sent.
    pub messages_in: u64,
    /// Messages written to it.
    pub messages_out: u64,
    /// Its live store subscriptions.
    pub store_subscriptions: usize,
    /// Its other subscriptions (rules, events, the Observer's lifecycle events).
    pub event_subscriptions: usize,
    /// Bytes waiting to be written to it.
    pub buffered_bytes: usize,
    /// Events dropped because it was behind.
    pub dropped_events: u64,
}

#[derive(Default)]
pub(crate) struct Registry {
    clients: Mutex<BTreeMap<u64, Arc<Client>>>,
    next_id: AtomicU64,
    pub accepted: AtomicU64,
    emptied: Notify,
}

impl Registry {
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub(crate) fn add(&self, client: Arc<Client>) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
        self.clients.lock().insert(client.id, client);
    }

    pub(crate) fn remove(&self, id: u64) {
        let mut clients = self.clients.lock();
        clients.remove(&id);
        if clients.is_empty() {
            self.emptied.notify_waiters();
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.clients.lock().len()
    }

    pub(crate) fn clients(&self) -> Vec<Arc<Client>> {
        self.clients.lock().values().cloned().collect()
    }

    /// Until every client has gone.
    pub(crate) async fn until_empty(&self) {
        loop {
            let emptied = self.emptied.notified();
            if self.len() == 0 {
                return;
            }
            emptied.await;
        }
    }
}
