//! Who a client is and what it may do: a [`TokenValidator`] turns the token of
//! `auth.login` into a [`Session`]; [`Permissions`] decide per operation.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde::Serialize;

/// An authenticated client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    /// Who it is.
    pub user_id: String,
    /// What it is (`viewer`, `operator`, `admin`): what [`RolePermissions`] decide by.
    pub roles: Vec<String>,
    /// When the session ends, in milliseconds since the Unix epoch; `None`: never.
    pub expires_at: Option<u64>,
}

impl Session {
    /// Whether the session has ended at `now_ms`.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expires_at.is_some_and(|at| now_ms >= at)
    }
}

/// Turns a token into a session, or refuses it (`None`: UNAUTHORIZED).
pub trait TokenValidator: Send + Sync + 'static {
    /// The session `token` stands for, if any.
    fn validate(&self, token: String) -> BoxFuture<'_, Option<Session>>;
}

/// Whether a session may run an operation (`store.clear`) on a resource (a bucket, a
/// query, a process); `false` is FORBIDDEN.
pub trait Permissions: Send + Sync + 'static {
    /// May `session` run `operation` on `resource`?
    fn check(&self, session: &Session, operation: &str, resource: Option<&str>) -> bool;
}

/// How a gateway authenticates its clients.
#[derive(Clone)]
pub struct AuthConfig {
    pub(crate) validator: Arc<dyn TokenValidator>,
    pub(crate) required: bool,
    pub(crate) permissions: Option<Arc<dyn Permissions>>,
}

impl AuthConfig {
    /// Clients log in with a token `validator` accepts; until they do, only
    /// `auth.login` is served (see [`AuthConfig::required`]).
    pub fn new(validator: impl TokenValidator) -> AuthConfig {
        AuthConfig {
            validator: Arc::new(validator),
            required: true,
            permissions: None,
        }
    }

    /// Whether a client must log in before anything else (default: yes). When not, an
    /// anonymous client may run what the permissions allow a session with no roles.
    pub fn required(mut self, required: bool) -> AuthConfig {
        self.required = required;
        self
    }

    /// Decide per operation; without, a logged-in client may run everything.
    pub fn permissions(mut self, permissions: impl Permissions) -> AuthConfig {
        self.permissions = Some(Arc::new(permissions));
        self
    }
}

mod roles;
mod tokens;
pub(crate) use roles::OperationPattern;
pub use roles::{READ_OPERATIONS, RolePermissions};
pub use tokens::StaticTokens;
