//! Why a process ended. Supervisors decide on restarts from this, as OTP does.

use std::fmt;
use std::sync::Arc;

use crate::error::MaxRestartsExceededError;

/// The reason a process exited.
///
/// `Normal` and `Shutdown` are clean exits: a `transient` child is not restarted
/// after them. Every other reason is abnormal, i.e. a crash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExitReason {
    /// The process finished its work.
    Normal,
    /// Its supervisor (or whoever started it) asked it to stop.
    Shutdown,
    /// It was killed without running `terminate` (brutal kill, or `noex kill`).
    Killed,
    /// It crashed: a panic in a handler, or a stop with an error.
    Error(Arc<str>),
    /// A supervisor gave up after too many restarts.
    MaxRestartsExceeded(MaxRestartsExceededError),
}

impl ExitReason {
    /// An error reason from any message.
    pub fn error(message: impl Into<String>) -> Self {
        ExitReason::Error(Arc::from(message.into()))
    }

    /// Abnormal exits are crashes: supervisors restart `transient` children after them.
    pub fn is_abnormal(&self) -> bool {
        !matches!(self, ExitReason::Normal | ExitReason::Shutdown)
    }
}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitReason::Normal => f.write_str("normal"),
            ExitReason::Shutdown => f.write_str("shutdown"),
            ExitReason::Killed => f.write_str("killed"),
            ExitReason::Error(message) => f.write_str(message),
            ExitReason::MaxRestartsExceeded(error) => write!(f, "{error}"),
        }
    }
}
