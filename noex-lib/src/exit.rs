//! Why a process ended. Supervisors decide on restarts from this, as OTP does.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use crate::error::MaxRestartsExceededError;

/// The reason a process exited.
///
/// `Normal`, `Shutdown`, `ShutdownWith` and `MaxRestartsExceeded` are clean exits:
/// a `transient` child is not restarted after them, and they are reported as
/// `terminated`, not `crashed`. Every other reason is abnormal, i.e. a crash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExitReason {
    /// The process finished its work.
    Normal,
    /// Its supervisor (or whoever started it) asked it to stop.
    Shutdown,
    /// OTP's `{shutdown, Term}`: a clean stop that says why.
    ShutdownWith(Arc<str>),
    /// It was killed without running `terminate` (brutal kill, `noex kill`, or the
    /// exit of a process it was linked to).
    Killed,
    /// It crashed: a panic in a handler, or a stop with an error.
    Error(Arc<str>),
    /// A supervisor gave up after too many restarts. OTP's supervisor exits with
    /// `shutdown` then; this is that shutdown, saying why, and every rule treats it
    /// as `Shutdown`.
    MaxRestartsExceeded(MaxRestartsExceededError),
    /// Not a way to exit: the process was not alive when it was monitored or linked
    /// (OTP's `noproc`), as a [`Down`](crate::process::Down) or
    /// [`Exit`](crate::process::Exit) message tells.
    NoProc,
}

impl ExitReason {
    /// An error reason from any message.
    pub fn error(message: impl Into<String>) -> Self {
        ExitReason::Error(Arc::from(message.into()))
    }

    /// A clean stop that says why (OTP's `{shutdown, Term}`).
    pub fn shutdown_with(why: impl Into<String>) -> Self {
        ExitReason::ShutdownWith(Arc::from(why.into()))
    }

    /// `Shutdown` in any of its forms.
    pub fn is_shutdown(&self) -> bool {
        matches!(
            self,
            ExitReason::Shutdown | ExitReason::ShutdownWith(_) | ExitReason::MaxRestartsExceeded(_)
        )
    }

    /// Abnormal exits are crashes: supervisors restart `transient` children after them.
    pub fn is_abnormal(&self) -> bool {
        !(matches!(self, ExitReason::Normal) || self.is_shutdown())
    }
}

/// An exit reason as it is written: a fixed word, or a word with a text after it.
enum Written<'a> {
    Word(&'static str),
    ShutdownWith(&'a dyn fmt::Display),
    Text(&'a str),
}

impl ExitReason {
    fn written(&self) -> Written<'_> {
        match self {
            ExitReason::Normal => Written::Word("normal"),
            ExitReason::Shutdown => Written::Word("shutdown"),
            ExitReason::Killed => Written::Word("killed"),
            ExitReason::NoProc => Written::Word("noproc"),
            ExitReason::ShutdownWith(why) => Written::ShutdownWith(why),
            ExitReason::MaxRestartsExceeded(error) => Written::ShutdownWith(error),
            ExitReason::Error(message) => Written::Text(message),
        }
    }

    /// As shown, without an allocation for the one-word reasons: every exit
    /// publishes its reason, and most exits are `normal`.
    pub(crate) fn text(&self) -> Cow<'static, str> {
        match self.written() {
            Written::Word(word) => Cow::Borrowed(word),
            Written::ShutdownWith(_) | Written::Text(_) => Cow::Owned(self.to_string()),
        }
    }
}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.written() {
            Written::Word(word) => f.write_str(word),
            Written::ShutdownWith(why) => write!(f, "shutdown: {why}"),
            Written::Text(text) => f.write_str(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn normal_and_every_shutdown_are_clean_everything_else_is_a_crash() {
        let gave_up = ExitReason::MaxRestartsExceeded(MaxRestartsExceededError {
            max_restarts: 1,
            within: Duration::from_secs(5),
        });
        for clean in [
            ExitReason::Normal,
            ExitReason::Shutdown,
            ExitReason::shutdown_with("draining"),
            gave_up.clone(),
        ] {
            assert!(!clean.is_abnormal(), "{clean}");
            // What `noex events` and the dashboard read from the text on the wire.
            assert!(
                noex_agent::types::is_normal_exit(&clean.to_string()),
                "{clean}"
            );
        }
        for crash in [
            ExitReason::Killed,
            ExitReason::error("boom"),
            ExitReason::NoProc,
        ] {
            assert!(crash.is_abnormal(), "{crash}");
            assert!(!crash.is_shutdown(), "{crash}");
            assert!(
                !noex_agent::types::is_normal_exit(&crash.to_string()),
                "{crash}"
            );
        }
        assert_eq!(
            gave_up.to_string(),
            "shutdown: max restarts exceeded: more than 1 restart in 5s"
        );
    }
}
