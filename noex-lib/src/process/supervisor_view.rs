//! What a supervisor publishes about its children, for the Observer and for handles
//! that wait for a child's restart: kept in the supervisor's cell, read without
//! asking the supervisor.

use std::sync::Arc;

use noex_agent::types::{ChildInfo, ChildKind, Intensity, RestartType, Strategy};
use tokio::sync::Notify;

use crate::Pid;
use crate::start_order::StartOrder;
use crate::sync::Mutex;

/// What a supervisor publishes about itself for the Observer; updated by the
/// supervisor whenever its children change, read without asking it.
pub(crate) struct SupervisorView {
    pub(crate) strategy: Strategy,
    pub(crate) intensity: Intensity,
    pub(crate) state: Mutex<SupervisorViewState>,
    /// Woken whenever the children change: handles to a child wait here for its
    /// restart.
    pub(crate) changed: Notify,
}

#[derive(Default)]
pub(crate) struct SupervisorViewState {
    /// By their place in start order: a change touches one entry, not the list.
    pub(crate) children: StartOrder<PublishedChild>,
    /// Restarts the supervisor has performed on its children (all time).
    pub(crate) child_restarts: u32,
}

/// One child as the Observer shows it; the id is shared with the supervisor's own table.
pub(crate) struct PublishedChild {
    pub(crate) id: Arc<str>,
    pub(crate) pid: Option<Pid>,
    pub(crate) restart: RestartType,
    pub(crate) kind: ChildKind,
}

impl PublishedChild {
    pub(super) fn to_wire(&self) -> ChildInfo {
        ChildInfo {
            id: self.id.to_string(),
            pid: self.pid,
            restart: self.restart,
            kind: self.kind,
        }
    }
}
