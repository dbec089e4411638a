//! The errors of the runtime. Each says what happened and carries the numbers.

use std::time::Duration;

use crate::{ExitReason, Pid};

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
    /// The server was not running when the call was made (OTP's `noproc`).
    #[error(transparent)]
    NotRunning(#[from] ServerNotRunningError),
    /// The server exited before it replied: it crashed handling this call, or the
    /// call was still queued, or its reply was deferred. The caller learns it the
    /// moment the server exits, as OTP's caller does through its monitor.
    #[error("server {pid} exited before replying: {reason}")]
    Exited { pid: Pid, reason: ExitReason },
    /// The server dropped the reply handle without answering, and lives on.
    #[error("server {pid} dropped the call without replying")]
    NoReply { pid: Pid },
    /// A server called itself from its own handler — or a child called the
    /// supervisor starting it, from its `init`, which runs in the supervisor's task:
    /// the call could never be answered, so it fails at once (OTP's `calling_self`).
    #[error("server {pid} called itself: the call could never be answered")]
    CallingSelf { pid: Pid },
}

/// Why a `stop` did not end the server with the reason asked for.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StopError {
    #[error(transparent)]
    NotRunning(#[from] ServerNotRunningError),
    /// The server ended, but with another reason than the one asked for (its
    /// `terminate` panicked, or it was killed meanwhile), as OTP's `stop/3` reports.
    #[error("server {pid} exited with another reason: {reason}")]
    Exited { pid: Pid, reason: ExitReason },
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
    /// `init` returned [`Ignore`](crate::gen_server::Ignore): the server chose not to
    /// run, and is not an error for a supervisor (OTP's `ignore`).
    #[error("{type_name} chose not to start (init returned Ignore)")]
    Ignored { type_name: &'static str },
    /// The supervisor's spec is not valid; nothing was started.
    #[error(transparent)]
    InvalidSpec(#[from] SpecError),
}

/// Why a supervisor spec was refused at start, as OTP's `init` checks do.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// Two children share an id (OTP `{duplicate_child_name, Id}`).
    #[error(transparent)]
    DuplicateChild(#[from] DuplicateChildError),
    /// The restart window must be longer than zero (OTP `{invalid_period, 0}`).
    #[error("the restart window must be longer than zero")]
    ZeroPeriod,
    /// A `simple_one_for_one` supervisor has exactly one child spec, its template
    /// (OTP `{bad_start_spec, ...}`).
    #[error("a simple_one_for_one supervisor takes its template only, not other children")]
    SimpleOneForOneWithChildren,
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
/// stopped every child and then itself, with this as its (shutdown) reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "max restarts exceeded: more than {max_restarts} restart{s} in {within:?}",
    s = if *max_restarts == 1 { "" } else { "s" }
)]
pub struct MaxRestartsExceededError {
    pub max_restarts: u32,
    pub within: Duration,
}

/// Why a supervisor operation failed. The variants are OTP's `{error, ...}` answers.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    #[error(transparent)]
    ChildNotFound(#[from] ChildNotFoundError),
    /// `start_child` with the id of a running child (OTP `{already_started, Pid}`).
    #[error("child {id:?} is already started as {pid}")]
    AlreadyStarted { id: String, pid: Pid },
    /// `start_child` with the id of a child that is not running; restart it with
    /// `restart_child`, or delete it first (OTP `already_present`).
    #[error("child {id:?} is already present (not running)")]
    AlreadyPresent { id: String },
    /// `restart_child` or `delete_child` of a running child (OTP `running`).
    #[error("child {id:?} is running")]
    Running { id: String },
    /// `restart_child` or `delete_child` of a child whose restart failed and will be
    /// tried again (OTP `restarting`).
    #[error("child {id:?} is being restarted")]
    Restarting { id: String },
    /// The child's `init` returned `Ignore`: it is not running. Its spec is kept,
    /// except in a `simple_one_for_one` supervisor and for a temporary child (OTP
    /// answers `{ok, undefined}`).
    #[error("child {id:?} chose not to start (init returned Ignore)")]
    Ignored { id: String },
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
            | CallError::Exited { pid, .. }
            | CallError::NoReply { pid }
            | CallError::CallingSelf { pid } => {
                SupervisorError::NotRunning(ServerNotRunningError { pid })
            }
        }
    }
}

/// Why a registration failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    /// The name is taken, or the process already has another name.
    #[error(transparent)]
    AlreadyRegistered(#[from] AlreadyRegisteredError),
    #[error(transparent)]
    NotRunning(#[from] ServerNotRunningError),
}

impl From<RegisterError> for StartError {
    fn from(error: RegisterError) -> Self {
        match error {
            RegisterError::AlreadyRegistered(e) => StartError::AlreadyRegistered(e),
            RegisterError::NotRunning(e) => StartError::NotRunning(e),
        }
    }
}
