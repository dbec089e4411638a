//! A running gateway: its processes, its listener, and what it reports.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use noex::event_bus::{EventBus, EventBusOptions};
use noex::rate_limiter::{RateLimiter, RateLimiterOptions};
use noex::supervisor::{self, ChildSpec, RestartType, SupervisorRef, SupervisorSpec};
use parking_lot::Mutex;
use serde_json::Value;

use crate::audit::AuditLog;
use crate::config::ServerConfig;
use crate::connection::Connection;
use crate::gateway::{Gateway, ServerStats};
use crate::listener::Listener;
use crate::outbox;
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

/// A running gateway. Dropping it leaves it running; [`Server::stop`] stops it.
pub struct Server {
    gateway: Arc<Gateway>,
    supervisor: SupervisorRef,
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
        socket: Mutex::new(Some(listener)),
        serving: Mutex::new(None),
    });
    let for_listener = gateway.clone();
    supervisor
        .start_child(
            ChildSpec::worker("listener", move || Listener::new(for_listener.clone()))
                .name(format!("{name}/listener")),
        )
        .await
        .map_err(|error| ServerError::Start(error.to_string()))?;
    tracing::info!(address = %local_addr, "noex-server listening");
    Ok(Server {
        gateway,
        supervisor,
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
            client.outbox.close(outbox::CLOSE_SHUTDOWN);
        }
        // The close frames go out before the processes end.
        let _ =
            tokio::time::timeout(Duration::from_secs(2), self.gateway.registry.until_empty()).await;
        let _ = self.supervisor.stop().await;
        // The port is free when `stop` returns: the socket and the task serving it are gone.
        self.gateway.socket.lock().take();
        let serving = self.gateway.serving.lock().take();
        if let Some(serving) = serving {
            serving.abort();
            let _ = serving.await;
        }
    }
}
