//! What a supervisor does when a child exits: its strategy and each child's restart
//! type, as OTP names them.
//!
//! These are the runtime's own types: every value is one a supervisor acts on. The
//! Observer's wire types (`noex_agent::types`) carry an extra `Unknown` for values a
//! newer agent may send; the runtime converts into them and never reads them back.

use std::fmt;

use noex_agent::types as wire;

/// A supervisor's restart strategy (OTP's `strategy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// Restart only the child that exited.
    OneForOne,
    /// Restart every child when one exits.
    OneForAll,
    /// Restart the child that exited and every child started after it.
    RestForOne,
    /// Dynamic children of one template, each restarted on its own.
    SimpleOneForOne,
}

impl Strategy {
    /// OTP's name for it (`one_for_one`, ...), also its name on the wire.
    pub fn as_str(self) -> &'static str {
        wire::Strategy::from(self).as_str()
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl From<Strategy> for wire::Strategy {
    fn from(strategy: Strategy) -> Self {
        match strategy {
            Strategy::OneForOne => wire::Strategy::OneForOne,
            Strategy::OneForAll => wire::Strategy::OneForAll,
            Strategy::RestForOne => wire::Strategy::RestForOne,
            Strategy::SimpleOneForOne => wire::Strategy::SimpleOneForOne,
        }
    }
}

/// When a supervisor restarts a child (OTP's `restart`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum RestartType {
    /// Always restarted.
    #[default]
    Permanent,
    /// Restarted only after an abnormal exit (not `normal`, not `shutdown`).
    Transient,
    /// Never restarted.
    Temporary,
}

impl RestartType {
    /// OTP's name for it (`permanent`, ...), also its name on the wire.
    pub fn as_str(self) -> &'static str {
        wire::RestartType::from(self).as_str()
    }
}

impl fmt::Display for RestartType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl From<RestartType> for wire::RestartType {
    fn from(restart: RestartType) -> Self {
        match restart {
            RestartType::Permanent => wire::RestartType::Permanent,
            RestartType::Transient => wire::RestartType::Transient,
            RestartType::Temporary => wire::RestartType::Temporary,
        }
    }
}

/// Whether a child is a worker or a supervisor (OTP's `type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChildKind {
    /// A worker: a GenServer.
    Worker,
    /// A supervisor, with children of its own.
    Supervisor,
}

impl From<ChildKind> for wire::ChildKind {
    fn from(kind: ChildKind) -> Self {
        match kind {
            ChildKind::Worker => wire::ChildKind::Worker,
            ChildKind::Supervisor => wire::ChildKind::Supervisor,
        }
    }
}

/// One child as its supervisor lists it, in start order (OTP's `which_children`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildInfo {
    /// The id of its child spec.
    pub id: String,
    /// `None` while the child is not running (terminated, or between restarts).
    pub pid: Option<crate::Pid>,
    /// Running, restarting, or stopped (OTP's pid, `restarting` or `undefined`).
    pub status: ChildStatus,
    /// How many times the supervisor has restarted it (each attempt counts).
    pub restarts: u32,
    /// When the supervisor restarts it.
    pub restart: RestartType,
    /// Worker or supervisor.
    pub kind: ChildKind,
}

impl fmt::Display for ChildStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            ChildStatus::Running => "running",
            ChildStatus::Restarting => "restarting",
            ChildStatus::Stopped => "stopped",
        })
    }
}

/// Where a child is, as its supervisor sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChildStatus {
    /// An instance runs (its pid is in [`ChildInfo::pid`]).
    Running,
    /// Its restart failed and is being tried again (OTP's `restarting`).
    Restarting,
    /// Not running: terminated by `terminate_child`, a transient child that ended
    /// normally, or a child whose `init` returned `Ignore` (OTP's `undefined`).
    Stopped,
}

impl From<ChildInfo> for wire::ChildInfo {
    fn from(child: ChildInfo) -> Self {
        wire::ChildInfo {
            id: child.id,
            pid: child.pid,
            restart: child.restart.into(),
            kind: child.kind.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The runtime's names are OTP's, and the wire's: a client reads what the runtime
    /// means, value for value.
    #[test]
    fn every_runtime_value_keeps_its_otp_name_on_the_wire() {
        let strategies = [
            (Strategy::OneForOne, "one_for_one"),
            (Strategy::OneForAll, "one_for_all"),
            (Strategy::RestForOne, "rest_for_one"),
            (Strategy::SimpleOneForOne, "simple_one_for_one"),
        ];
        for (strategy, name) in strategies {
            assert_eq!(strategy.to_string(), name);
            assert_eq!(wire::Strategy::from(strategy).as_str(), name);
        }
        let restarts = [
            (RestartType::Permanent, "permanent"),
            (RestartType::Transient, "transient"),
            (RestartType::Temporary, "temporary"),
        ];
        for (restart, name) in restarts {
            assert_eq!(restart.to_string(), name);
            assert_eq!(wire::RestartType::from(restart).as_str(), name);
        }
        let statuses = [
            (ChildStatus::Running, "running"),
            (ChildStatus::Restarting, "restarting"),
            (ChildStatus::Stopped, "stopped"),
        ];
        for (status, name) in statuses {
            assert_eq!(status.to_string(), name);
        }
        assert_eq!(
            wire::ChildKind::from(ChildKind::Worker),
            wire::ChildKind::Worker
        );
        assert_eq!(
            wire::ChildKind::from(ChildKind::Supervisor),
            wire::ChildKind::Supervisor
        );
    }
}
