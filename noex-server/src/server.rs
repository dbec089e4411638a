//! A running gateway: its processes, its listener, and what it reports.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use noex::event_bus::{EventBus, EventBusOptions};
use noex::rate_limiter::{RateLimiter, RateLimiterOptions};
use noex::supervisor::{self, ChildSpec, RestartType, SupervisorRef, SupervisorSpec};
use serde::Serialize;
use serde_json::Value;

use crate::audit::AuditLog;
use crate::config::ServerConfig;
use crate::connection::{self, Connection};
use crate::listener::Listener;
use crate::protocol;
use crate::registry::{ConnectionInfo, Registry};

/// Why a gateway did not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Off loopback, every client must be known.
    #[error("{0} is not a loopback address: configure auth (ServerConfig::auth) to listen on it")]
    AuthRequired(SocketAddr),
    /// The address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// What the system said.
        source: std::io::Error,
    },
    /// Its processes did not start.
    #[error("cannot start the server's processes: {0}")]
    Start(String),
}

/// What every connection shares.
pub(crate) struct Gateway {
    pub config: ServerConfig,
    pub registry: Registry,
    pub audit: AuditLog,
    pub local_addr: SocketAddr,
    pub started: Instant,
    pub accepting: AtomicBool,
    pub bus: EventBus<Value>,
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

/// A running gateway. Dropping it leaves it running; [`Server::stop`] stops it.
pub struct Server {
    gateway: Arc<Gateway>,
    supervisor: SupervisorRef,
    /// The listening socket, closed by [`Server::stop`].
    socket: parking_lot::Mutex<Option<Arc<std::net::TcpListener>>>,
}

/// Start a gateway: its supervisor (named after the server), the connections'
/// `simple_one_for_one` supervisor, the rate limiter and event bus it needs, and the
/// listener.
///
/// ```no_run
/// # async fn run(store: noex_store::Store) -> Result<(), noex_server::ServerError> {
/// let server = noex_server::start(
///     noex_server::ServerConfig::new()
///         .store(store)
///         .bind("127.0.0.1:8080".parse().unwrap()),
/// )
/// .await?;
/// println!("listening on ws://{}", server.local_addr());
/// # Ok(()) }
/// ```
pub async fn start(config: ServerConfig) -> Result<Server, ServerError> {
    if !config.bind.ip().is_loopback() && config.auth.is_none() {
        return Err(ServerError::AuthRequired(config.bind));
    }
    let listener =
        std::net::TcpListener::bind(config.bind).map_err(|source| ServerError::Bind {
            address: config.bind,
            source,
        })?;
    listener
        .set_nonblocking(true)
        .map_err(|source| ServerError::Bind {
            address: config.bind,
            source,
        })?;
    let local_addr = listener.local_addr().map_err(|source| ServerError::Bind {
        address: config.bind,
        source,
    })?;
    let name = config.name.clone();
    let own_bus = config.event_bus.is_none();
    let bus_name = format!("{name}/events");
    let mut spec = SupervisorSpec::one_for_one().name(name.clone());
    if let Some(limit) = config.rate_limit {
        spec = spec.child(RateLimiter::child_spec(
            "rate-limiter",
            RateLimiterOptions::new(limit.max_requests, limit.window)
                .name(format!("{name}/rate-limiter")),
        ));
    }
    if own_bus {
        spec = spec.child(EventBus::<Value>::child_spec(
            "events",
            EventBusOptions::new().name(bus_name.clone()),
        ));
    }
    let template = ChildSpec::worker_with("connection", Connection::from_pending)
        .restart(RestartType::Temporary);
    spec = spec.child(ChildSpec::supervisor(
        "connections",
        SupervisorSpec::simple_one_for_one(template).name(format!("{name}/connections")),
    ));
    let supervisor = supervisor::start(spec)
        .await
        .map_err(|error| ServerError::Start(error.to_string()))?;
    let bus = match &config.event_bus {
        Some(bus) => bus.clone(),
        None => {
            EventBus::lookup(&bus_name).map_err(|error| ServerError::Start(error.to_string()))?
        }
    };
    let audit = AuditLog::new(config.audit.clone());
    let gateway = Arc::new(Gateway {
        config,
        registry: Registry::default(),
        audit,
        local_addr,
        started: Instant::now(),
        accepting: AtomicBool::new(true),
        bus,
    });
    // The server owns the socket; the listener's spec only borrows it, so that the
    // socket closes when the server stops even though the spec outlives it.
    let listener = Arc::new(listener);
    let borrowed = Arc::downgrade(&listener);
    let for_listener = gateway.clone();
    supervisor
        .start_child(
            ChildSpec::worker("listener", move || {
                Listener::new(for_listener.clone(), borrowed.clone())
            })
            .name(format!("{name}/listener")),
        )
        .await
        .map_err(|error| ServerError::Start(error.to_string()))?;
    tracing::info!(address = %local_addr, "noex-server listening");
    Ok(Server {
        gateway,
        supervisor,
        socket: parking_lot::Mutex::new(Some(listener)),
    })
}

impl Server {
    /// Where it listens (the real port when started on port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.gateway.local_addr
    }

    /// Clients connected now.
    pub fn connection_count(&self) -> usize {
        self.gateway.registry.len()
    }

    /// Whether it still accepts clients.
    pub fn is_running(&self) -> bool {
        self.gateway.accepting.load(Ordering::Relaxed) && self.supervisor.is_running()
    }

    /// The connected clients.
    pub fn connections(&self) -> Vec<ConnectionInfo> {
        self.gateway
            .registry
            .clients()
            .iter()
            .map(|client| client.info())
            .collect()
    }

    /// Its figures.
    pub fn stats(&self) -> ServerStats {
        self.gateway.stats()
    }

    /// Its audit log.
    pub fn audit(&self) -> &AuditLog {
        &self.gateway.audit
    }

    /// Stop: no new clients; every client gets the shutdown notice with the grace
    /// period, and those still connected when it ends are closed (1001). Then its
    /// processes stop.
    pub async fn stop(&self, grace: Duration) {
        self.gateway.accepting.store(false, Ordering::Relaxed);
        let notice = protocol::shutdown_notice(grace.as_millis() as u64).to_string();
        for client in self.gateway.registry.clients() {
            client.outbox.reply(notice.clone());
        }
        let _ = tokio::time::timeout(grace, self.gateway.registry.until_empty()).await;
        for client in self.gateway.registry.clients() {
            client.outbox.close(connection::outbox::CLOSE_SHUTDOWN);
        }
        // The close frames go out before the processes end.
        let _ =
            tokio::time::timeout(Duration::from_secs(2), self.gateway.registry.until_empty()).await;
        let _ = self.supervisor.stop().await;
        self.socket.lock().take();
    }
}
