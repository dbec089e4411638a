//! What a gateway is started with: [`ServerConfig`] and its parts.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use noex::event_bus::EventBus;
use noex_store::Store;
use serde_json::Value;

use crate::audit::AuditConfig;
use crate::auth::AuthConfig;
use crate::rules::RulesEngine;

/// How many requests a client may make in a sliding window (noex's RateLimiter).
/// The key is the session's user once logged in, the client's IP address before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// Requests per window.
    pub max_requests: u32,
    /// The window.
    pub window: Duration,
}

/// The server's `ping` every `interval`; a client that has not answered with `pong`
/// within `timeout` is closed with code 4001.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeartbeatConfig {
    /// How often to ping.
    pub interval: Duration,
    /// How long to wait for the pong.
    pub timeout: Duration,
}

impl Default for HeartbeatConfig {
    fn default() -> Self {
        HeartbeatConfig {
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(10),
        }
    }
}

/// How much a client that reads slowly may have waiting to be written to it.
///
/// Above `high_water_mark × max_buffered_bytes`, pushes are held back (a query's
/// newest result replaces the one held; events are dropped and counted) and requests
/// are answered with BACKPRESSURE; at `max_buffered_bytes` the client is closed with
/// code 4002.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BackpressureConfig {
    /// The most bytes waiting for one client.
    pub max_buffered_bytes: usize,
    /// The fraction of it where holding back begins.
    pub high_water_mark: f64,
}

impl Default for BackpressureConfig {
    fn default() -> Self {
        BackpressureConfig {
            max_buffered_bytes: 1024 * 1024,
            high_water_mark: 0.8,
        }
    }
}

/// Which browser pages may open a WebSocket (their `Origin` header). Clients that
/// send no `Origin` (programs, not browsers) are not concerned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum OriginPolicy {
    /// Pages served by this server only: the `Origin`'s host is the `Host` asked for.
    #[default]
    SameOrigin,
    /// These origins (`https://ops.example.com`) and this server's own pages.
    Allow(Vec<String>),
    /// Any page: only for a server whose every operation needs a token.
    Any,
}

/// Everything a gateway is started with. Only the address has a default worth
/// changing; the rest is what the seed's server does.
///
/// ```
/// use noex_server::ServerConfig;
///
/// let config = ServerConfig::new().bind("127.0.0.1:0".parse().unwrap());
/// # let _ = config;
/// ```
#[derive(Clone)]
pub struct ServerConfig {
    pub(crate) name: String,
    pub(crate) bind: SocketAddr,
    pub(crate) store: Option<Store>,
    pub(crate) rules: Option<Arc<dyn RulesEngine>>,
    pub(crate) event_bus: Option<EventBus<Value>>,
    pub(crate) auth: Option<AuthConfig>,
    pub(crate) rate_limit: Option<RateLimitConfig>,
    pub(crate) heartbeat: HeartbeatConfig,
    pub(crate) backpressure: BackpressureConfig,
    pub(crate) max_message_bytes: usize,
    pub(crate) max_connections: usize,
    pub(crate) max_subscriptions: usize,
    pub(crate) origins: OriginPolicy,
    pub(crate) audit: AuditConfig,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig::new()
    }
}

impl ServerConfig {
    /// `noex-server` on `127.0.0.1:8080`, no store, no auth.
    pub fn new() -> ServerConfig {
        ServerConfig {
            name: "noex-server".into(),
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 8080)),
            store: None,
            rules: None,
            event_bus: None,
            auth: None,
            rate_limit: None,
            heartbeat: HeartbeatConfig::default(),
            backpressure: BackpressureConfig::default(),
            max_message_bytes: 1024 * 1024,
            max_connections: 10_000,
            max_subscriptions: 1_000,
            origins: OriginPolicy::default(),
            audit: AuditConfig::default(),
        }
    }

    /// The server's name: its supervisor's, and its processes' prefix (`noex-server/connections`).
    pub fn name(mut self, name: impl Into<String>) -> ServerConfig {
        self.name = name.into();
        self
    }

    /// Where to listen (port 0: any free port, see [`Server::local_addr`](crate::Server::local_addr)).
    /// An address other than loopback needs [`ServerConfig::auth`].
    pub fn bind(mut self, address: SocketAddr) -> ServerConfig {
        self.bind = address;
        self
    }

    /// The store `store.*` serves.
    pub fn store(mut self, store: Store) -> ServerConfig {
        self.store = Some(store);
        self
    }

    /// The rules engine `rules.*` serves; without, they answer RULES_NOT_AVAILABLE.
    pub fn rules(mut self, rules: impl RulesEngine) -> ServerConfig {
        self.rules = Some(Arc::new(rules));
        self
    }

    /// The application's EventBus `events.*` serves; without, the server starts one
    /// of its own (`NAME/events`).
    pub fn event_bus(mut self, bus: EventBus<Value>) -> ServerConfig {
        self.event_bus = Some(bus);
        self
    }

    /// Clients log in with a token and run what their permissions allow.
    pub fn auth(mut self, auth: AuthConfig) -> ServerConfig {
        self.auth = Some(auth);
        self
    }

    /// At most `max_requests` per `window` per client.
    pub fn rate_limit(mut self, max_requests: u32, window: Duration) -> ServerConfig {
        self.rate_limit = Some(RateLimitConfig {
            max_requests,
            window,
        });
        self
    }

    /// Ping every `interval`; close (4001) a client silent for `timeout` after a ping.
    pub fn heartbeat(mut self, interval: Duration, timeout: Duration) -> ServerConfig {
        self.heartbeat = HeartbeatConfig { interval, timeout };
        self
    }

    /// How much may wait for a slow client (see [`BackpressureConfig`]).
    pub fn backpressure(mut self, backpressure: BackpressureConfig) -> ServerConfig {
        self.backpressure = backpressure;
        self
    }

    /// The largest message a client may send (default 1 MiB); a larger one closes
    /// the connection with 1009.
    pub fn max_message_bytes(mut self, bytes: usize) -> ServerConfig {
        self.max_message_bytes = bytes;
        self
    }

    /// The most clients at once (default 10,000); beyond, the upgrade is refused with 503.
    pub fn max_connections(mut self, connections: usize) -> ServerConfig {
        self.max_connections = connections;
        self
    }

    /// The most subscriptions one client may hold (default 1,000).
    pub fn max_subscriptions(mut self, subscriptions: usize) -> ServerConfig {
        self.max_subscriptions = subscriptions;
        self
    }

    /// Which browser pages may connect (default: this server's own).
    pub fn origins(mut self, origins: OriginPolicy) -> ServerConfig {
        self.origins = origins;
        self
    }

    /// What the audit log keeps (default: 10,000 entries of admin and write operations).
    pub fn audit(mut self, audit: AuditConfig) -> ServerConfig {
        self.audit = audit;
        self
    }
}
