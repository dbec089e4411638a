#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod audit;
pub mod auth;
mod clock;
mod config;
mod connection;
mod dashboard;
mod gateway;
mod http;
mod listener;
mod ops;
mod outbox;
pub mod protocol;
mod registry;
pub mod rules;
mod server;
mod subscriptions;

pub use audit::AuditLog;
pub use audit::{AuditConfig, AuditEntry, AuditOutcome, AuditQuery, AuditRecord, AuditTier};
pub use auth::{AuthConfig, Permissions, RolePermissions, Session, StaticTokens, TokenValidator};
pub use config::{
    BackpressureConfig, HeartbeatConfig, OriginPolicy, RateLimitConfig, ServerConfig,
};
pub use gateway::{ConnectionTotals, ServerStats};
pub use protocol::{ErrorCode, OpError, PROTOCOL_VERSION};
pub use registry::ConnectionInfo;
pub use rules::{BuiltinRules, RulesEngine, RulesOptions};
pub use server::{Server, ServerError, start};
