//! The errors of the runtime. Each says what happened and carries the numbers.

use std::time::Duration;

use crate::Pid;

/// Boxed error returned by `init` and carried by [`InitializationError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A `call` got no reply within its timeout. A reply that comes later is dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("call to {pid} timed out after {timeout:?}")]
pub struct CallTimeoutError {
    pub pid: Pid,
    pub timeout: Duration,
}

/// The server is not running (it never started, or it has exited).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("server {pid} is not running")]
pub struct ServerNotRunningError {
    pub pid: Pid,
}

/// Why a `call` failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error(transparent)]
    Timeout(#[from] CallTimeoutError),
    #[error(transparent)]
    NotRunning(#[from] ServerNotRunningError),
    /// The handler panicked (or the server was killed) while handling this call.
    #[error("server {pid} crashed while handling the call: {reason}")]
    Crashed { pid: Pid, reason: String },
    /// The server dropped the reply handle without answering.
    #[error("server {pid} dropped the call without replying")]
    NoReply { pid: Pid },
}

/// `init` failed (returned an error or panicked); the server never ran.
#[derive(Debug, thiserror::Error)]
#[error("{type_name} failed to initialize: {reason}")]
pub struct InitializationError {
    pub type_name: &'static str,
    pub reason: String,
    #[source]
    pub source: Option<BoxError>,
}

/// The name is taken by another process.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("name {name:?} is already registered to {pid}")]
pub struct AlreadyRegisteredError {
    pub name: String,
    pub pid: Pid,
}

/// No process is registered under the name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no process is registered as {name:?}")]
pub struct NotRegisteredError {
    pub name: String,
}

/// Why a process could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Initialization(#[from] InitializationError),
    #[error(transparent)]
    AlreadyRegistered(#[from] AlreadyRegisteredError),
    #[error(transparent)]
    NotRunning(#[from] ServerNotRunningError),
    /// A child of a supervisor failed to start, so the supervisor did not start.
    #[error("child {child_id:?} failed to start: {source}")]
    Child {
        child_id: String,
        #[source]
        source: Box<StartError>,
    },
    /// A `simple_one_for_one` template was given an argument of another type.
    #[error(
        "child {child_id:?} was started with an argument of the wrong type (expected {expected})"
    )]
    BadArgument {
        child_id: String,
        expected: &'static str,
    },
}

/// A child with this id already exists under the supervisor.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a child with id {id:?} already exists")]
pub struct DuplicateChildError {
    pub id: String,
}

/// The supervisor has no child with this id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no child with id {id:?}")]
pub struct ChildNotFoundError {
    pub id: String,
}

/// More than `max_restarts` restarts happened within `within`: the supervisor
/// stopped every child and then itself, and its parent sees a crash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("max restarts exceeded: more than {max_restarts} restarts in {within:?}")]
pub struct MaxRestartsExceededError {
    pub max_restarts: u32,
    pub within: Duration,
}

/// Why a supervisor operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    #[error(transparent)]
    DuplicateChild(#[from] DuplicateChildError),
    #[error(transparent)]
    ChildNotFound(#[from] ChildNotFoundError),
    #[error(transparent)]
    Start(#[from] StartError),
    #[error(transparent)]
    NotRunning(#[from] ServerNotRunningError),
    /// The operation does not apply to this strategy (as in OTP, a
    /// `simple_one_for_one` child cannot be restarted by `restart_child`).
    #[error("{operation} is not supported by a {strategy} supervisor")]
    Unsupported {
        operation: &'static str,
        strategy: &'static str,
    },
}

impl From<CallError> for SupervisorError {
    fn from(error: CallError) -> Self {
        // Supervisor calls have no timeout; any failure means the supervisor is gone.
        match error {
            CallError::NotRunning(e) => SupervisorError::NotRunning(e),
            CallError::Timeout(CallTimeoutError { pid, .. })
            | CallError::Crashed { pid, .. }
            | CallError::NoReply { pid } => {
                SupervisorError::NotRunning(ServerNotRunningError { pid })
            }
        }
    }
}

impl From<crate::registry::RegisterError> for StartError {
    fn from(error: crate::registry::RegisterError) -> Self {
        match error {
            crate::registry::RegisterError::AlreadyRegistered(e) => {
                StartError::AlreadyRegistered(e)
            }
            crate::registry::RegisterError::NotRunning(e) => StartError::NotRunning(e),
        }
    }
}
