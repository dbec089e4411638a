#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod audit;
pub mod auth;
pub mod protocol;
pub mod rules;

pub use audit::AuditLog;
pub use audit::{AuditConfig, AuditEntry, AuditOutcome, AuditQuery, AuditRecord, AuditTier};
pub use auth::{AuthConfig, Permissions, RolePermissions, Session, StaticTokens, TokenValidator};
pub use protocol::{ErrorCode, OpError, PROTOCOL_VERSION};
pub use rules::{BuiltinRules, RulesEngine};
