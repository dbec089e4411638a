//! Looking into live processes (OTP's `sys`): a server's state, as it chooses to
//! show it, replaced in place for a fix at 3 a.m., and its statistics.
//!
//! A state is shown only by a server that opts in through
//! [`GenServer::format_status`] (OTP's `format_status`): a state can hold secrets,
//! so by default nothing shows it, from inside the application or outside (`noex
//! state <target>`, the dashboard's details). Requests are handled between two
//! messages, as OTP's system messages are: a server busy in a long handler answers
//! when that handler returns, or the request times out.
//!
//! ```
//! use noex::gen_server::{self, Context, GenServer, Reply, StartOptions};
//!
//! #[derive(Debug)]
//! struct Counter {
//!     value: u64,
//! }
//!
//! impl GenServer for Counter {
//!     type Call = ();
//!     type Cast = ();
//!     type Reply = u64;
//!
//!     async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<u64> {
//!         Reply::Now(self.value)
//!     }
//!
//!     // Opting in: nothing secret here.
//!     fn format_status(&self) -> Option<String> {
//!         Some(format!("{self:?}"))
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # // As a doc test, leave no agent socket behind (`NOEX_AGENT=off`); one thread, so sound.
//! # unsafe { std::env::set_var("NOEX_AGENT", "off") }
//! let counter = gen_server::start(Counter { value: 1 }, StartOptions::new()).await?;
//! assert_eq!(noex::sys::get_state(&counter).await?, "Counter { value: 1 }");
//! noex::sys::replace_state(&counter, |counter| counter.value = 41).await?;
//! assert_eq!(counter.call(()).await?, 41);
//! # Ok(()) }
//! ```

use std::time::Duration;

use crate::Pid;
use crate::error::ServerNotRunningError;
use crate::gen_server::shared::{Envelope, SystemMessage};
use crate::gen_server::{DEFAULT_CALL_TIMEOUT, GenServer, ServerRef};
use crate::process::processes;

/// Why a `sys` request did not get its answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SysError {
    /// The process is not running (or ended before it answered).
    #[error(transparent)]
    NotRunning(#[from] ServerNotRunningError),
    /// The server does not show its state: its `format_status` answers `None`
    /// (the default, since a state can hold secrets).
    #[error(
        "process {pid} does not show its state (its GenServer::format_status is not implemented)"
    )]
    NotShown {
        /// The process asked.
        pid: Pid,
    },
    /// The function given to [`replace_state`] panicked; the server goes on.
    #[error("the function replacing the state of {pid} panicked; the server goes on")]
    ReplaceFailed {
        /// The process asked.
        pid: Pid,
    },
    /// No answer within the timeout: the server is busy in a long handler.
    #[error("process {pid} did not answer within {timeout:?} (busy in a handler)")]
    Timeout {
        /// The process asked.
        pid: Pid,
        /// How long the request waited.
        timeout: Duration,
    },
}

/// The state of `server` as its [`GenServer::format_status`] shows it (OTP's
/// `sys:get_state/1`, 5 s timeout).
pub async fn get_state<S: GenServer>(server: &ServerRef<S>) -> Result<String, SysError> {
    get_status(server.pid(), DEFAULT_CALL_TIMEOUT).await
}

/// The state of any process by pid, as [`get_state`] gives it, waiting at most
/// `timeout`. A supervisor shows none.
pub async fn get_status(pid: Pid, timeout: Duration) -> Result<String, SysError> {
    let not_running = || SysError::NotRunning(ServerNotRunningError { pid });
    let cell = processes().get(pid).ok_or_else(not_running)?;
    let answer = cell.format_status().ok_or_else(not_running)?;
    match tokio::time::timeout(timeout, answer).await {
        Ok(Ok(Some(text))) => Ok(text),
        Ok(Ok(None)) => Err(SysError::NotShown { pid }),
        Ok(Err(_)) => Err(not_running()),
        Err(_) => Err(SysError::Timeout { pid, timeout }),
    }
}

/// Changes the state of `server` in place, between two messages (OTP's
/// `sys:replace_state/2`, 5 s timeout). Only for a server that shows its state
/// ([`GenServer::format_status`] answers `Some`): one that keeps its state to itself
/// keeps it from this too. If `replace` panics the server goes on, its state as
/// `replace` left it.
pub async fn replace_state<S: GenServer>(
    server: &ServerRef<S>,
    replace: impl FnOnce(&mut S) + Send + 'static,
) -> Result<(), SysError> {
    let pid = server.pid();
    let (answer, replaced) = oneshot::channel();
    let message: SystemMessage<S> = Box::new(move |state: &mut S| {
        if state.format_status().is_none() {
            let _ = answer.send(false);
            return;
        }
        replace(state);
        let _ = answer.send(true);
    });
    server
        .send_envelope(Envelope::System(message))
        .map_err(|_| SysError::NotRunning(ServerNotRunningError { pid }))?;
    match tokio::time::timeout(DEFAULT_CALL_TIMEOUT, replaced).await {
        Ok(Ok(true)) => Ok(()),
        Ok(Ok(false)) => Err(SysError::NotShown { pid }),
        // Dropped unanswered: `replace` panicked (or the server ended meanwhile).
        Ok(Err(_)) if server.is_running() => Err(SysError::ReplaceFailed { pid }),
        Ok(Err(_)) => Err(SysError::NotRunning(ServerNotRunningError { pid })),
        Err(_) => Err(SysError::Timeout {
            pid,
            timeout: DEFAULT_CALL_TIMEOUT,
        }),
    }
}

/// What a process has done so far (OTP's `sys:statistics/2`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statistics {
    /// When it started, in milliseconds since the Unix epoch.
    pub started_at_ms: u64,
    /// Messages handled (calls, casts, infos).
    pub messages: u64,
    /// Messages waiting in its mailbox.
    pub queue_len: u64,
    /// Time spent in handlers.
    pub busy: Duration,
    /// Restarts of its child before this instance.
    pub restarts: u32,
}

/// The statistics of the process `pid`, if it is running. Read from the counters
/// every process keeps, so no message is sent.
pub fn statistics(pid: Pid) -> Option<Statistics> {
    let cell = processes().get(pid)?;
    Some(Statistics {
        started_at_ms: cell.started_at_ms,
        messages: cell.counters.handled(),
        queue_len: cell.queue_len(),
        busy: Duration::from_nanos(cell.counters.busy_ns()),
        restarts: cell.restarts,
    })
}
