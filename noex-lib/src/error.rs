//! The errors of the runtime. Each says what happened and carries the numbers.

use std::time::Duration;

use crate::type_names::article;
use crate::{ExitReason, Pid};

/// Boxed error returned by `init` and carried by [`InitializationError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A `call` got no reply within its timeout. A reply that comes later is dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("call to {pid} timed out after {timeout:?}")]
pub struct CallTimeoutError {
    /// The server that was called.
    pub pid: Pid,
    /// The timeout the call was given.
    pub timeout: Duration,
}

/// The server is not running (it never started, or it has exited).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("server {pid} is not running")]
pub struct ServerNotRunningError {
    /// The process that is not running.
    pub pid: Pid,
}

/// A [`NamedRef`](crate::gen_server::NamedRef) found no server of its type to send to.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UnresolvedError {
    /// Nothing runs under the name (or as the child) now: it was never started, it
    /// has stopped, or its supervisor is restarting it and did not finish in time.
    #[error("no process runs as {target}{}", waited_text(*.waited))]
    NotFound {
        /// What the handle names: `"pool-1"`, or `child "pool-1" of <0.3>`.
        target: String,
        /// How long the call waited for one to come up; `None` for a cast.
        waited: Option<Duration>,
    },
    /// The process there is of another type, told as a reader writes it:
    /// `"pool-1" is <0.7>, a Worker server, not a Counter`.
    #[error(
        "{target} is {pid}, {} {registered}, not {} {expected}",
        article(.registered),
        article(.expected)
    )]
    WrongType {
        /// What the handle names.
        target: String,
        /// The process found there: `Worker server`, `supervisor`, or a built-in
        /// service's handle type.
        registered: String,
        /// The server type the handle was made for, without module paths.
        expected: String,
        /// The process found there.
        pid: Pid,
    },
    /// The supervisor the handle reaches the child through has ended.
    #[error("{target}: its supervisor {supervisor} has ended")]
    SupervisorEnded {
        /// What the handle names.
        target: String,
        /// The supervisor.
        supervisor: Pid,
    },
}

fn waited_text(waited: Option<Duration>) -> String {
    match waited {
        Some(waited) => format!(" (waited {waited:?} for it to come up)"),
        None => String::new(),
    }
}

/// Why a `call` failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// No reply came within the call's timeout (OTP's `timeout` exit).
    #[error(transparent)]
    Timeout(#[from] CallTimeoutError),
    /// The server was not running when the call was made (OTP's `noproc`).
    #[error(transparent)]
    NotRunning(#[from] ServerNotRunningError),
    /// The server exited before it replied: it crashed handling this call, or the
    /// call was still queued, or its reply was deferred. The caller learns it the
    /// moment the server exits, as OTP's caller does through its monitor.
    #[error("server {pid} exited before replying: {reason}")]
    Exited {
        /// The server that was called.
        pid: Pid,
        /// The reason the server exited with.
        reason: ExitReason,
    },
    /// The server dropped the reply handle without answering, and lives on.
    #[error("server {pid} dropped the call without replying")]
    NoReply {
        /// The server that was called.
        pid: Pid,
    },
    /// A handle by name or by child ([`NamedRef`](crate::gen_server::NamedRef)) found
    /// no server of its type to call within the call's timeout.
    #[error(transparent)]
    Unresolved(#[from] UnresolvedError),
    /// A server called itself from its own handler — or a child called the
    /// supervisor starting it, from its `init`, which runs in the supervisor's task:
    /// the call could never be answered, so it fails at once (OTP's `calling_self`).
    #[error("server {pid} called itself: the call could never be answered")]
    CallingSelf {
        /// The server that was called: the caller itself.
        pid: Pid,
    },
    /// The call would close a cycle of processes each calling the next — the
    /// caller, the server it called, and on until one that is calling the caller —
    /// so none of them could ever answer. It fails at once instead of waiting out
    /// its timeout (OTP's calls in such a cycle each time out).
    #[error("deadlock: {}", cycle_text(cycle))]
    Deadlock {
        /// The processes in the cycle, the caller first: each is calling the next,
        /// and the last is calling the caller.
        cycle: Vec<Pid>,
    },
}

/// `<0.1> -> <0.2> -> <0.1>`: the cycle, closed.
fn cycle_text(cycle: &[Pid]) -> String {
    let mut text = String::new();
    for pid in cycle.iter().chain(cycle.first()) {
        if !text.is_empty() {
            text.push_str(" -> ");
        }
        text.push_str(&pid.to_string());
    }
    text + " (each calling the next)"
}

/// Why a `stop` did not end the server with the reason asked for.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StopError {
    /// The server was not running when the stop was asked for.
    #[error(transparent)]
    NotRunning(#[from] ServerNotRunningError),
    /// The server ended, but with another reason than the one asked for (its
    /// `terminate` panicked, or it was killed meanwhile), as OTP's `stop/3` reports.
    #[error("server {pid} exited with another reason: {reason}")]
    Exited {
        /// The server that was stopped.
        pid: Pid,
        /// The reason it actually exited with.
        reason: ExitReason,
    },
}

/// `init` failed (returned an error or panicked); the server never ran.
#[derive(Debug, thiserror::Error)]
#[error("{type_name} failed to initialize: {reason}")]
pub struct InitializationError {
    /// The Rust type name of the server that failed to start.
    pub type_name: &'static str,
    /// What went wrong: the error's message, the panic's message, or
    /// "killed during init".
    pub reason: String,
    /// The error `init` returned; `None` if it panicked or was killed.
    #[source]
    pub source: Option<BoxError>,
}

/// The name is taken by another process.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("name {name:?} is already registered to {pid}")]
pub struct AlreadyRegisteredError {
    /// The name that was asked for.
    pub name: String,
    /// The process that holds the name.
    pub pid: Pid,
}

/// No process is registered under the name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no process is registered as {name:?}")]
pub struct NotRegisteredError {
    /// The name that was looked up.
    pub name: String,
}

/// Why a process could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// `init` returned an error, panicked or was killed.
    #[error(transparent)]
    Initialization(#[from] InitializationError),
    /// The name the process was to be registered under is taken (OTP
    /// `{already_started, Pid}`).
    #[error(transparent)]
    AlreadyRegistered(#[from] AlreadyRegisteredError),
    /// The parent the new process was to be linked to is not running, or the new
    /// process exited before it could be registered.
    #[error(transparent)]
    NotRunning(#[from] ServerNotRunningError),
    /// A child of a supervisor failed to start, so the supervisor did not start.
    #[error("child {child_id:?} failed to start: {source}")]
    Child {
        /// The id of the child that failed.
        child_id: String,
        /// Why the child failed to start.
        #[source]
        source: Box<StartError>,
    },
    /// A `simple_one_for_one` template was given an argument of another type.
    #[error(
        "child {child_id:?} was started with an argument of the wrong type (expected {expected})"
    )]
    BadArgument {
        /// The id of the template.
        child_id: String,
        /// The Rust type name of the argument the template takes.
        expected: &'static str,
    },
    /// `init` did not finish within the start's timeout
    /// ([`StartOptions::timeout`](crate::StartOptions::timeout)); the process was
    /// killed (OTP's `{error, timeout}`).
    #[error(
        "{type_name} did not finish init within {timeout:?} (its start timeout); it was killed"
    )]
    Timeout {
        /// The Rust type name of the server.
        type_name: &'static str,
        /// The start's timeout.
        timeout: std::time::Duration,
    },
    /// `init` returned [`Ignore`](crate::gen_server::Ignore): the server chose not to
    /// run, and is not an error for a supervisor (OTP's `ignore`).
    #[error("{type_name} chose not to start (init returned Ignore)")]
    Ignored {
        /// The Rust type name of the server.
        type_name: &'static str,
    },
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
    /// The child id that is taken.
    pub id: String,
}

/// The supervisor has no child with this id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no child with id {id:?}")]
pub struct ChildNotFoundError {
    /// The child id that was asked for.
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
    /// The most restarts the supervisor allows within `within` (OTP `intensity`).
    pub max_restarts: u32,
    /// The window the restarts are counted in (OTP `period`).
    pub within: Duration,
}

/// Why a supervisor operation failed. The variants are OTP's `{error, ...}` answers.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    /// The supervisor has no child with this id (OTP `not_found`).
    #[error(transparent)]
    ChildNotFound(#[from] ChildNotFoundError),
    /// `start_child` with the id of a running child (OTP `{already_started, Pid}`).
    #[error("child {id:?} is already started as {pid}")]
    AlreadyStarted {
        /// The child's id.
        id: String,
        /// The running child.
        pid: Pid,
    },
    /// `start_child` with the id of a child that is not running; restart it with
    /// `restart_child`, or delete it first (OTP `already_present`).
    #[error("child {id:?} is already present (not running)")]
    AlreadyPresent {
        /// The child's id.
        id: String,
    },
    /// `restart_child` or `delete_child` of a running child (OTP `running`).
    #[error("child {id:?} is running")]
    Running {
        /// The child's id.
        id: String,
    },
    /// `restart_child` or `delete_child` of a child whose restart failed and will be
    /// tried again (OTP `restarting`).
    #[error("child {id:?} is being restarted")]
    Restarting {
        /// The child's id.
        id: String,
    },
    /// The child's `init` returned `Ignore`: it is not running. Its spec is kept,
    /// except in a `simple_one_for_one` supervisor and for a temporary child (OTP
    /// answers `{ok, undefined}`).
    #[error("child {id:?} chose not to start (init returned Ignore)")]
    Ignored {
        /// The child's id.
        id: String,
    },
    /// The child failed to start (`start_child`, `restart_child`).
    #[error(transparent)]
    Start(#[from] StartError),
    /// The supervisor is not running, or exited before it answered.
    #[error(transparent)]
    NotRunning(#[from] ServerNotRunningError),
    /// A supervisor (or a child) reached through a handle by name was not found.
    #[error(transparent)]
    Unresolved(#[from] UnresolvedError),
    /// The call to the supervisor would close a cycle of processes each calling the
    /// next (see [`CallError::Deadlock`]).
    #[error("deadlock: {}", cycle_text(cycle))]
    Deadlock {
        /// The processes in the cycle, the caller first.
        cycle: Vec<Pid>,
    },
    /// The operation does not apply to this strategy (as in OTP, a
    /// `simple_one_for_one` child cannot be restarted by `restart_child`).
    #[error("{operation} is not supported by a {strategy} supervisor")]
    Unsupported {
        /// The operation that was asked for, such as `restart_child`.
        operation: &'static str,
        /// The supervisor's strategy, such as `simple_one_for_one`.
        strategy: &'static str,
    },
}

impl From<CallError> for SupervisorError {
    fn from(error: CallError) -> Self {
        // Supervisor calls have no timeout; any failure means the supervisor is gone.
        match error {
            CallError::NotRunning(e) => SupervisorError::NotRunning(e),
            CallError::Unresolved(e) => SupervisorError::Unresolved(e),
            CallError::Deadlock { cycle } => SupervisorError::Deadlock { cycle },
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
    /// The process to register is not running.
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
