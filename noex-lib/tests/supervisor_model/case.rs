//! The generated case: the tree, its supervisors' configurations and the operations.

use noex::supervisor::RestartType;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Strat {
    OneForOne,
    OneForAll,
    RestForOne,
    SimpleOneForOne,
}

/// Why a child exits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reason {
    Normal,
    Shutdown,
    ShutdownWith,
    Killed,
    Crash,
    /// A supervisor that gave up: noex's `MaxRestartsExceeded`, OTP's `shutdown`.
    MaxRestarts,
}

impl Reason {
    /// `do_restart/3`'s `normal`, `shutdown` and `{shutdown, _}` clauses.
    pub(crate) fn is_shutdown(self) -> bool {
        matches!(
            self,
            Reason::Normal | Reason::Shutdown | Reason::ShutdownWith | Reason::MaxRestarts
        )
    }

    /// How the worker's `terminate` logs it.
    pub(crate) fn tag(self) -> &'static str {
        match self {
            Reason::Normal => "normal",
            Reason::Shutdown | Reason::MaxRestarts => "shutdown",
            Reason::ShutdownWith => "shutdown_with",
            Reason::Crash => "crash",
            Reason::Killed => "killed",
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct SupConfig {
    pub(crate) strategy: Strat,
    pub(crate) intensity: u32,
    pub(crate) period_ms: u64,
    /// Static workers (none for simple_one_for_one).
    pub(crate) workers: Vec<RestartType>,
}

#[derive(Clone, Debug)]
pub(crate) struct Case {
    pub(crate) root: SupConfig,
    pub(crate) nested: SupConfig,
    /// The child supervisor's restart type and place among the root's workers.
    pub(crate) nested_restart: RestartType,
    pub(crate) nested_position: usize,
    /// For a simple_one_for_one child supervisor: the template's restart type and
    /// how many children are added at the start.
    pub(crate) template: RestartType,
    pub(crate) dynamic: usize,
    pub(crate) ops: Vec<Op>,
}

#[derive(Clone, Debug)]
pub(crate) enum Op {
    /// Running children of one supervisor exit in one step (picks among them).
    Exit {
        nested: bool,
        picks: Vec<(usize, Reason)>,
    },
    /// A worker (picked among all ids) fails its next `times` inits.
    FailNext {
        pick: usize,
        times: u32,
    },
    /// `terminate_child` of any child (not on simple_one_for_one).
    Terminate {
        nested: bool,
        pick: usize,
    },
    /// `start_child` on a simple_one_for_one child supervisor.
    AddDynamic,
    Advance(Advance),
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Advance {
    /// A quarter of a supervisor's period, times `quarters`.
    By { nested: bool, quarters: u64 },
    /// To where the oldest restart in a supervisor's window is exactly `period`
    /// old (`past`: 1 ms later).
    ToWindowEdge { nested: bool, past: bool },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    Root,
    Nested,
}
