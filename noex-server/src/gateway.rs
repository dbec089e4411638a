//! What every connection of a gateway shares, and the figures it reports.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use noex::event_bus::EventBus;
use noex::rate_limiter::RateLimiter;
use parking_lot::Mutex;
use serde::Serialize;
use serde_json::Value;
use tokio::task::JoinHandle;

use crate::audit::AuditLog;
use crate::config::ServerConfig;
use crate::registry::{ConnectionInfo, Registry};

/// What every connection shares.
pub(crate) struct Gateway {
    pub config: ServerConfig,
    pub registry: Registry,
    pub audit: AuditLog,
    pub local_addr: SocketAddr,
    pub started: Instant,
    pub accepting: AtomicBool,
    pub bus: EventBus<Value>,
    /// The listening socket, kept across the listener's restarts; `None` once stopped.
    pub socket: Mutex<Option<std::net::TcpListener>>,
    /// The listener's serving task, awaited by `stop` so the port is free when it returns.
    pub serving: Mutex<Option<JoinHandle<()>>>,
}

impl Gateway {
    pub(crate) fn connections_name(&self) -> String {
        format!("{}/connections", self.config.name)
    }

    pub(crate) fn limiter(&self) -> Option<RateLimiter> {
        self.config.rate_limit?;
        RateLimiter::lookup(&format!("{}/rate-limiter", self.config.name)).ok()
    }

    pub(crate) fn stats(&self) -> ServerStats {
        let clients = self.registry.clients();
        let infos: Vec<ConnectionInfo> = clients.iter().map(|client| client.info()).collect();
        ServerStats {
            name: self.config.name.clone(),
            address: self.local_addr.to_string(),
            port: self.local_addr.port(),
            connection_count: infos.len(),
            uptime_ms: self.started.elapsed().as_millis() as u64,
            auth_enabled: self.config.auth.is_some(),
            rate_limit_enabled: self.config.rate_limit.is_some(),
            rules_enabled: self.config.rules.is_some(),
            connections: ConnectionTotals {
                active: infos.len(),
                authenticated: infos.iter().filter(|info| info.authenticated).count(),
                total_store_subscriptions: infos.iter().map(|i| i.store_subscriptions).sum(),
                total_event_subscriptions: infos.iter().map(|i| i.event_subscriptions).sum(),
                messages_in: infos.iter().map(|i| i.messages_in).sum(),
                messages_out: infos.iter().map(|i| i.messages_out).sum(),
                accepted: self.registry.accepted.load(Ordering::Relaxed),
            },
            store: self.config.store.as_ref().map(|store| store.stats()),
        }
    }
}

/// A gateway's figures (`server.stats`).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerStats {
    /// The server's name.
    pub name: String,
    /// Where it listens.
    pub address: String,
    /// Its port.
    pub port: u16,
    /// Clients connected now.
    pub connection_count: usize,
    /// Since it started.
    pub uptime_ms: u64,
    /// Whether clients log in.
    pub auth_enabled: bool,
    /// Whether requests are rate limited.
    pub rate_limit_enabled: bool,
    /// Whether `rules.*` is served.
    pub rules_enabled: bool,
    /// The clients' totals.
    pub connections: ConnectionTotals,
    /// The store's figures, if it serves one.
    pub store: Option<noex_store::StoreStats>,
}

/// The connected clients' totals.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionTotals {
    /// Connected now.
    pub active: usize,
    /// Of which logged in.
    pub authenticated: usize,
    /// Live store subscriptions.
    pub total_store_subscriptions: usize,
    /// Live rules, events and lifecycle subscriptions.
    pub total_event_subscriptions: usize,
    /// Messages received from the clients connected now.
    pub messages_in: u64,
    /// Messages written to them.
    pub messages_out: u64,
    /// Clients accepted since the start.
    pub accepted: u64,
}
