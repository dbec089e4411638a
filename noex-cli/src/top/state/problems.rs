//! Which lifecycle events are problems: what the event log marks, and all that its
//! "problems only" view (`e`) keeps.

use noex_agent::types::{EventKind, is_normal_exit};

use super::{App, LogEntry};

/// A kind of trouble an event tells of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    /// A crash, or any other abnormal exit (a kill included, as OTP counts it).
    Crash,
    /// A supervisor restarted a child.
    Restart,
    /// A supervisor exceeded its restart intensity and gave up.
    MaxRestarts,
}

impl Problem {
    /// The trouble `kind` tells of; `None` for routine events (starts, normal and
    /// shutdown exits, registrations).
    pub fn of(kind: &EventKind) -> Option<Problem> {
        match kind {
            EventKind::Crashed { .. } => Some(Problem::Crash),
            EventKind::Terminated { reason } if !is_normal_exit(reason) => Some(Problem::Crash),
            EventKind::Restarted { .. } => Some(Problem::Restart),
            EventKind::MaxRestartsExceeded { .. } => Some(Problem::MaxRestarts),
            _ => None,
        }
    }
}

impl LogEntry {
    /// Kept by the "problems only" view: problem events, lag notices (the events
    /// dropped may have been problems) and notes about the connection.
    pub fn is_problem_or_note(&self) -> bool {
        match self {
            LogEntry::Event(event) => Problem::of(&event.kind).is_some(),
            LogEntry::Lagged(_) | LogEntry::Note(_) => true,
        }
    }
}

impl App {
    /// `e`: show only the problems in the event log, or everything again.
    pub fn toggle_problems_only(&mut self) {
        self.problems_only = !self.problems_only;
        self.log_scroll = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crashes_abnormal_exits_restarts_and_giving_up_are_problems_and_the_rest_routine() {
        let exit = |reason: &str| EventKind::Terminated {
            reason: reason.to_string().into(),
        };
        assert_eq!(
            Problem::of(&EventKind::Crashed {
                error: "boom".into()
            }),
            Some(Problem::Crash)
        );
        assert_eq!(Problem::of(&exit("killed")), Some(Problem::Crash));
        assert_eq!(Problem::of(&exit("timeout")), Some(Problem::Crash));
        assert_eq!(
            Problem::of(&EventKind::Restarted { attempt: 1 }),
            Some(Problem::Restart)
        );
        assert_eq!(
            Problem::of(&EventKind::MaxRestartsExceeded {
                max_restarts: 3,
                within_ms: 5_000
            }),
            Some(Problem::MaxRestarts)
        );
        for routine in [
            EventKind::Started,
            exit("normal"),
            exit("shutdown"),
            exit("shutdown: draining"),
            EventKind::ChildAdded,
            EventKind::ChildRemoved,
        ] {
            assert_eq!(Problem::of(&routine), None, "{routine:?}");
        }
    }
}
