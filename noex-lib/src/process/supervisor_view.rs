//! What a supervisor shows of itself, for the Observer and for handles that wait
//! for a child's restart: kept in the supervisor's cell, read without asking the
//! supervisor. Its children are the supervisor's own table, read under its lock:
//! a copy kept for the Observer cost a supervisor of a million children 50 MB.

use std::sync::Arc;

use noex_agent::types::{ChildInfo, ChildKind, Intensity, RestartType, Strategy};
use tokio::sync::Notify;

use crate::Pid;

pub(crate) struct SupervisorView {
    pub(crate) strategy: Strategy,
    pub(crate) intensity: Intensity,
    pub(crate) children: Arc<dyn Children>,
    /// Woken whenever the children change: handles to a child wait here for its
    /// restart.
    pub(crate) changed: Notify,
}

/// A supervisor's table of children, shared with its cell.
pub(crate) trait Children: Send + Sync {
    /// The table, locked until the returned reader is dropped: the supervisor
    /// waits meanwhile, so read and let go.
    fn read(&self) -> Box<dyn ChildrenReader + '_>;
}

/// The children of a supervisor, locked for reading.
pub(crate) trait ChildrenReader {
    fn len(&self) -> usize;
    /// Restarts the supervisor has performed on its children (all time).
    fn child_restarts(&self) -> u32;
    /// In start order.
    fn iter(&self) -> Box<dyn ExactSizeIterator<Item = ListedChild<'_>> + '_>;
    fn find(&self, id: &str) -> Option<ListedChild<'_>>;
}

/// One child as the Observer shows it.
#[derive(Clone, Copy)]
pub(crate) struct ListedChild<'a> {
    pub(crate) id: &'a str,
    /// The running instance's.
    pub(crate) pid: Option<Pid>,
    pub(crate) restart: RestartType,
    pub(crate) kind: ChildKind,
}

impl ListedChild<'_> {
    pub(super) fn to_wire(self) -> ChildInfo {
        ChildInfo {
            id: self.id.to_string(),
            pid: self.pid,
            restart: self.restart,
            kind: self.kind,
        }
    }
}
