//! How an application ended, and the exit code that tells the operating system.

use std::fmt;
use std::process::{ExitCode, Termination};
use std::time::Duration;

use crate::{ExitReason, StartError};

/// The operating system's signals that stop an application.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Signal {
    /// `SIGTERM`: what `kill`, systemd and Kubernetes send to stop a service.
    Sigterm,
    /// `SIGINT`: Ctrl-C in a terminal.
    Sigint,
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Signal::Sigterm => "SIGTERM",
            Signal::Sigint => "SIGINT",
        })
    }
}

/// What asked a running application to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StopCause {
    /// A signal from outside the process.
    Signal(Signal),
    /// [`StopHandle::stop`](super::StopHandle::stop) or
    /// [`RunningApplication::stop`](super::RunningApplication::stop), from inside.
    Request,
}

impl fmt::Display for StopCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopCause::Signal(signal) => write!(f, "{signal}"),
            StopCause::Request => f.write_str("a stop request"),
        }
    }
}

/// How an application ended: what `main` returns.
///
/// It is a [`Termination`], so `main` can return it as it is; its
/// [exit code](AppExit::exit_code) is 0 for a clean stop and 1 for every other end,
/// and for those it logs why first (a `tracing` error: install a subscriber, as
/// the `application` example does, to see it).
#[derive(Debug)]
#[must_use = "an application's exit says whether it stopped cleanly"]
pub enum AppExit {
    /// Asked to stop, it stopped its tree within the grace period. Exit code 0.
    Stopped {
        /// What asked it to stop.
        by: StopCause,
    },
    /// The root supervisor ended without being asked: it gave up after too many
    /// restarts ([`ExitReason::MaxRestartsExceeded`]), or something outside the
    /// application stopped or killed it. As a *permanent* OTP application's end
    /// stops the node, the application ends with it. Exit code 1.
    GaveUp {
        /// Why the root supervisor ended.
        reason: ExitReason,
    },
    /// The tree did not stop within the grace period: what was left was killed.
    /// Exit code 1.
    GraceExceeded {
        /// The grace period it was given.
        grace: Duration,
        /// The ids of the root's children still running when it ran out, in start
        /// order (each killed with its own children).
        killed: Vec<String>,
    },
    /// A second signal came during the graceful stop: the tree was killed at once.
    /// Exit code 1.
    Forced {
        /// The signal that cut the stop short.
        by: Signal,
    },
    /// The root supervisor did not start (a child's `init` failed): nothing runs.
    /// Exit code 1.
    StartFailed(StartError),
}

impl AppExit {
    /// The exit code for the operating system: 0 ([`ExitCode::SUCCESS`]) for
    /// [`AppExit::Stopped`], 1 ([`ExitCode::FAILURE`]) for every other end — the
    /// tree gave up, the stop needed force, or the application never started.
    pub fn exit_code(&self) -> ExitCode {
        if self.is_clean() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }

    /// Whether the application stopped as asked, its tree stopped in full.
    pub fn is_clean(&self) -> bool {
        matches!(self, AppExit::Stopped { .. })
    }
}

impl fmt::Display for AppExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppExit::Stopped { by } => write!(f, "stopped by {by}"),
            AppExit::GaveUp { reason } => write!(f, "the supervision tree ended: {reason}"),
            AppExit::GraceExceeded { grace, killed } => write!(
                f,
                "the tree did not stop within {grace:?}; killed {}",
                if killed.is_empty() {
                    "what was left".to_string()
                } else {
                    killed.join(", ")
                }
            ),
            AppExit::Forced { by } => write!(f, "a second {by} stopped the tree at once"),
            AppExit::StartFailed(error) => write!(f, "the application did not start: {error}"),
        }
    }
}

impl From<StartError> for AppExit {
    fn from(error: StartError) -> Self {
        AppExit::StartFailed(error)
    }
}

impl Termination for AppExit {
    fn report(self) -> ExitCode {
        if !self.is_clean() {
            tracing::error!(exit = %self, "the application ended uncleanly");
        }
        self.exit_code()
    }
}
