//! A supervisor's children: in start order, found by id and by pid without a scan,
//! so a supervisor of a million children restarts one in the time it takes for
//! ten. The table is shared with the supervisor's cell, where the Observer reads
//! it under its lock.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::Arc;

use crate::Pid;
use crate::process::{CellRef, ChildrenReader, ListedChild, PidHasher};
use crate::start_order::StartOrder;
use crate::supervisor::ChildStatus;
use crate::supervisor::spec::{ChildArg, ChildSpec};
use crate::sync::{Mutex, MutexGuard};

/// A child's place in start order, from 0; never reused, so a restart keeps it and
/// a removal leaves the others where they were.
pub(super) type Position = u64;

pub(super) struct Child {
    /// Shared with the template by every child of a `simple_one_for_one` supervisor.
    pub(super) spec: Arc<ChildSpec>,
    pub(super) id: Arc<str>,
    /// The running instance (OTP's child `pid`).
    running: Option<CellRef>,
    /// The latest instance's pid, running or not, 0 before the first; by it the
    /// table finds the child. Kept here rather than read from the instance: listing
    /// a million children would touch a million cold cells.
    last_pid: u64,
    pub(super) last_error: Option<Box<str>>,
    pub(super) arg: Option<ChildArg>,
    /// Restarts of this child so far (each attempt counts).
    pub(super) restarts: u32,
    /// A restart failed; it is tried again through the mailbox (OTP's
    /// `{restarting, Pid}`). Never while running.
    restarting: bool,
}

impl Child {
    pub(super) fn new(spec: Arc<ChildSpec>, id: Arc<str>, arg: Option<ChildArg>) -> Self {
        Child {
            spec,
            id,
            running: None,
            last_pid: 0,
            last_error: None,
            arg,
            restarts: 0,
            restarting: false,
        }
    }

    pub(super) fn status(&self) -> ChildStatus {
        match (&self.running, self.restarting) {
            (Some(_), _) => ChildStatus::Running,
            (None, true) => ChildStatus::Restarting,
            (None, false) => ChildStatus::Stopped,
        }
    }

    pub(super) fn running(&self) -> Option<&CellRef> {
        self.running.as_ref()
    }

    /// The running instance's, without touching it.
    fn running_pid(&self) -> Option<Pid> {
        self.running.as_ref().map(|_| Pid(self.last_pid))
    }

    /// The latest instance's, running or not.
    pub(super) fn last_pid(&self) -> Option<Pid> {
        (self.last_pid != 0).then_some(Pid(self.last_pid))
    }

    /// Leave it stopped; returns the instance that was running, if one was.
    fn stop(&mut self) -> Option<CellRef> {
        self.restarting = false;
        self.running.take()
    }
}

#[derive(Default)]
pub(super) struct ChildTable {
    in_order: StartOrder<Child>,
    /// Every child but the numbered ones (see [`is_numbered`]), which are found by
    /// their number: at a million dynamic children the map cost ~50 bytes a child.
    by_id: HashMap<Arc<str>, Position>,
    /// Each child's latest pid: the running instance, or the one whose restart is
    /// pending (OTP's `{restarting, Pid}`).
    by_pid: HashMap<Pid, Position, BuildHasherDefault<PidHasher>>,
    next: Position,
    /// Restarts the supervisor has performed on its children (all time).
    pub(super) child_restarts: u32,
}

impl ChildTable {
    pub(super) fn len(&self) -> usize {
        self.in_order.len()
    }

    /// Add a child after every other.
    pub(super) fn push(&mut self, child: Child) -> Position {
        let position = self.next;
        self.next += 1;
        if !is_numbered(&child, position) {
            self.by_id.insert(child.id.clone(), position);
        }
        self.in_order.insert(position, child);
        position
    }

    pub(super) fn get(&self, position: Position) -> &Child {
        self.in_order
            .get(position)
            .expect("a position from this table")
    }

    pub(super) fn get_mut(&mut self, position: Position) -> &mut Child {
        self.in_order
            .get_mut(position)
            .expect("a position from this table")
    }

    /// The id of the next child pushed, numbered as a `simple_one_for_one`
    /// supervisor names its dynamic children (see [`is_numbered`]).
    pub(super) fn next_numbered_id(&self, spec_id: &str) -> Arc<str> {
        Arc::from(format!("{spec_id}-{}", self.next + 1))
    }

    pub(super) fn find(&self, id: &str) -> Option<Position> {
        if let Some(&at) = self.by_id.get(id) {
            return Some(at);
        }
        let (_, number) = id.rsplit_once('-')?;
        let at = number.parse::<Position>().ok()?.checked_sub(1)?;
        self.in_order
            .get(at)
            .is_some_and(|child| &*child.id == id)
            .then_some(at)
    }

    /// The child whose latest instance is `pid`, running or waiting for its restart.
    pub(super) fn find_pid(&self, pid: Pid) -> Option<Position> {
        self.by_pid.get(&pid).copied()
    }

    /// The child now runs as `cell`.
    pub(super) fn set_running(&mut self, position: Position, cell: CellRef) {
        let pid = cell.pid;
        let child = self.get_mut(position);
        let old = child.last_pid();
        child.last_pid = pid.id();
        child.restarting = false;
        child.running = Some(cell);
        if let Some(old) = old {
            self.by_pid.remove(&old);
        }
        self.by_pid.insert(pid, position);
    }

    /// Leave the child stopped; returns the instance that was running, if one was.
    pub(super) fn stop(&mut self, position: Position) -> Option<CellRef> {
        self.get_mut(position).stop()
    }

    /// A restart of the (stopped) child failed: it waits for the next attempt.
    pub(super) fn set_restarting(&mut self, position: Position) {
        let child = self.get_mut(position);
        debug_assert!(child.running.is_none(), "a running child is not restarting");
        child.restarting = true;
    }

    pub(super) fn remove(&mut self, position: Position) -> Child {
        let child = self
            .in_order
            .remove(position)
            .expect("a position from this table");
        self.by_id.remove(&child.id);
        if let Some(pid) = child.last_pid() {
            self.by_pid.remove(&pid);
        }
        child
    }

    /// The positions of the children started at or after `from`, in start order.
    pub(super) fn positions_from(&self, from: Position) -> Vec<Position> {
        self.in_order.positions_from(from).collect()
    }

    /// In start order.
    pub(super) fn iter(&self) -> impl Iterator<Item = &Child> {
        self.in_order.values()
    }

    /// Take every running child's instance, leaving all of them stopped.
    pub(super) fn stop_all(&mut self) -> Vec<CellRef> {
        self.in_order.values_mut().filter_map(Child::stop).collect()
    }
}

/// The Observer reads the table as the supervisor left it, under its lock.
impl crate::process::Children for Mutex<ChildTable> {
    fn read(&self) -> Box<dyn ChildrenReader + '_> {
        Box::new(self.lock())
    }
}

impl ChildrenReader for MutexGuard<'_, ChildTable> {
    fn len(&self) -> usize {
        ChildTable::len(self)
    }

    fn child_restarts(&self) -> u32 {
        self.child_restarts
    }

    fn iter(&self) -> Box<dyn ExactSizeIterator<Item = ListedChild<'_>> + '_> {
        Box::new(self.in_order.values().map(listed))
    }

    fn find(&self, id: &str) -> Option<ListedChild<'_>> {
        Some(listed(self.get(ChildTable::find(self, id)?)))
    }
}

fn listed(child: &Child) -> ListedChild<'_> {
    ListedChild {
        id: &child.id,
        pid: child.running_pid(),
        restart: child.spec.restart.into(),
        kind: child.spec.kind.into(),
    }
}

/// Whether the child's id is its spec's id and its number, `{spec}-{position + 1}`,
/// as a `simple_one_for_one` supervisor names its dynamic children.
fn is_numbered(child: &Child, position: Position) -> bool {
    (child.id.strip_prefix(child.spec.id.as_str()))
        .and_then(|rest| rest.strip_prefix('-'))
        .and_then(|number| number.parse::<Position>().ok())
        == Some(position + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supervisor::SupervisorSpec;

    fn child(id: &str) -> Child {
        let spec = ChildSpec::supervisor(id, SupervisorSpec::one_for_one());
        Child::new(Arc::new(spec), Arc::from(id), None)
    }

    #[test]
    fn removing_a_child_keeps_the_others_in_start_order_and_findable() {
        let mut table = ChildTable::default();
        let a = table.push(child("a"));
        let b = table.push(child("b"));
        let c = table.push(child("c"));
        table.remove(b);
        let ids: Vec<&str> = table.iter().map(|child| &*child.id).collect();
        assert_eq!(ids, ["a", "c"]);
        assert_eq!(table.find("a"), Some(a));
        assert_eq!(table.find("b"), None);
        assert_eq!(table.find("c"), Some(c));
        assert_eq!(table.positions_from(b), [c]);
    }

    #[test]
    fn numbered_children_are_found_by_id_without_the_id_map() {
        let template = Arc::new(ChildSpec::supervisor("idle", SupervisorSpec::one_for_one()));
        let numbered = |n: u64| Child::new(template.clone(), Arc::from(format!("idle-{n}")), None);
        let mut table = ChildTable::default();
        let first = table.push(numbered(1));
        let second = table.push(numbered(2));
        // Not its number: kept in the map.
        let odd = table.push(numbered(7));
        assert_eq!(table.by_id.len(), 1);
        assert_eq!(table.find("idle-1"), Some(first));
        assert_eq!(table.find("idle-2"), Some(second));
        assert_eq!(table.find("idle-7"), Some(odd));
        for absent in [
            "idle-3", "idle-02", "idle-0", "idle-", "idle", "other-1", "-1",
        ] {
            assert_eq!(table.find(absent), None, "{absent}");
        }
        table.remove(first);
        assert_eq!(table.find("idle-1"), None);
        assert_eq!(table.find("idle-2"), Some(second));
    }
}
