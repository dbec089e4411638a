//! The requests a supervisor answers (`start_child`, `terminate_child`,
//! `restart_child`, `delete_child`, `which_children`, `count_children`), with OTP's
//! answers and errors.

use std::sync::Arc;

use noex_agent::types::EventKind;

use super::{Position, Started, SupervisorServer};
use crate::Pid;
use crate::error::{ChildNotFoundError, StartError, SupervisorError};
use crate::process::is_alive;
use crate::supervisor::spec::ChildArg;
use crate::supervisor::{ChildCount, ChildInfo, ChildKind, ChildRef, ChildSpec, ChildStatus};

impl SupervisorServer {
    pub(super) fn unsupported(&self, operation: &'static str) -> SupervisorError {
        SupervisorError::Unsupported {
            operation,
            strategy: self.spec.strategy.as_str(),
        }
    }

    pub(super) async fn start_child(&mut self, spec: ChildSpec) -> Result<Pid, SupervisorError> {
        if self.is_simple() {
            return Err(self.unsupported("start_child with a spec (use start_child_with)"));
        }
        if let Ok(at) = self.find(&spec.id) {
            let table = self.table();
            let child = table.get(at);
            return Err(match child.running() {
                Some(cell) => SupervisorError::AlreadyStarted {
                    id: spec.id,
                    pid: cell.pid,
                },
                None => SupervisorError::AlreadyPresent { id: spec.id },
            });
        }
        let id: Arc<str> = Arc::from(spec.id.as_str());
        let started = self.add_child(Arc::new(spec), id.clone(), None).await;
        self.added(&id, started)
    }

    pub(super) async fn start_child_with(&mut self, arg: ChildArg) -> Result<Pid, SupervisorError> {
        let Some(template) = self.spec.template.clone() else {
            return Err(self.unsupported("start_child_with"));
        };
        let id = self.table().next_numbered_id(&template.id);
        let started = self.add_child(template, id.clone(), Some(arg)).await;
        self.added(&id, started)
    }

    pub(super) fn added(
        &mut self,
        id: &str,
        started: Result<Started, StartError>,
    ) -> Result<Pid, SupervisorError> {
        self.announce_changes();
        match started? {
            Started::Running(pid) => {
                if let Some(cell) = crate::process::processes().get(pid) {
                    cell.emit(EventKind::ChildAdded);
                }
                Ok(pid)
            }
            Started::Ignored => Err(SupervisorError::Ignored { id: id.to_string() }),
        }
    }

    pub(super) async fn terminate_child(&mut self, child: ChildRef) -> Result<(), SupervisorError> {
        let at = match child {
            ChildRef::Id(id) => self.find(&id)?,
            // By pid: only the children of a simple_one_for_one supervisor (OTP's
            // `find_child`), whose pid is their only name there.
            ChildRef::Pid(pid) if self.is_simple() => match self.find_dynamic(pid) {
                Some(at) => at,
                // One that has already ended has nothing left to stop.
                None if !is_alive(pid) => return Ok(()),
                None => return Err(not_found(pid)),
            },
            ChildRef::Pid(pid) => return Err(not_found(pid)),
        };
        self.terminate_at(at).await;
        self.del_child(at);
        self.announce_changes();
        Ok(())
    }

    /// A dynamic child by its pid: the running one, or one whose restart from that
    /// pid is pending (OTP's `{restarting, Pid}`).
    pub(super) fn find_dynamic(&self, pid: Pid) -> Option<Position> {
        let table = self.table();
        table
            .find_pid(pid)
            .filter(|&at| table.get(at).status() != ChildStatus::Stopped)
    }

    /// Start a stopped child again; a manual restart does not count toward the
    /// intensity. As OTP: a running or restarting child is an error.
    pub(super) async fn restart_child(&mut self, id: &str) -> Result<Pid, SupervisorError> {
        let at = self.stopped_child(id, "restart_child")?;
        let attempt = self.table().get(at).restarts + 1;
        let started = self.start_child_at(at, attempt).await;
        let result = match started {
            Ok(Started::Running(pid)) => {
                self.table().get_mut(at).restarts = attempt;
                self.restarted(at, attempt);
                Ok(pid)
            }
            Ok(Started::Ignored) => Err(SupervisorError::Ignored { id: id.into() }),
            Err(error) => Err(error.into()),
        };
        self.announce_changes();
        result
    }

    /// The child `id` for `restart_child` and `delete_child`, which act on a stopped
    /// child only: OTP's `running`, `restarting`, `not_found` and (for
    /// simple_one_for_one) `simple_one_for_one` answers otherwise.
    fn stopped_child(
        &self,
        id: &str,
        operation: &'static str,
    ) -> Result<Position, SupervisorError> {
        if self.is_simple() {
            return Err(self.unsupported(operation));
        }
        let at = self.find(id)?;
        match self.table().get(at).status() {
            ChildStatus::Running => Err(SupervisorError::Running { id: id.into() }),
            ChildStatus::Restarting => Err(SupervisorError::Restarting { id: id.into() }),
            ChildStatus::Stopped => Ok(at),
        }
    }

    pub(super) async fn delete_child(&mut self, id: &str) -> Result<(), SupervisorError> {
        let at = self.stopped_child(id, "delete_child")?;
        self.remove(at);
        self.announce_changes();
        Ok(())
    }

    pub(super) fn children_info(&self) -> Vec<ChildInfo> {
        self.table()
            .iter()
            .map(|child| ChildInfo {
                id: child.id.to_string(),
                pid: child.running().map(|cell| cell.pid),
                status: child.status(),
                restarts: child.restarts,
                restart: child.spec.restart,
                kind: child.spec.kind,
            })
            .collect()
    }

    /// OTP's `count_children`: a `simple_one_for_one` supervisor has one spec, its
    /// template, and counts its children by the template's kind.
    pub(super) fn count(&self) -> ChildCount {
        let table = self.table();
        let active = (table.iter())
            .filter(|child| child.running().is_some())
            .count();
        let mut count = ChildCount {
            specs: table.len(),
            active,
            ..ChildCount::default()
        };
        if let Some(template) = self.spec.template.as_ref().filter(|_| self.is_simple()) {
            count.specs = 1;
            match template.kind {
                ChildKind::Supervisor => count.supervisors = table.len(),
                _ => count.workers = table.len(),
            }
            return count;
        }
        for child in table.iter() {
            match child.spec.kind {
                ChildKind::Supervisor => count.supervisors += 1,
                _ => count.workers += 1,
            }
        }
        count
    }
}

fn not_found(pid: Pid) -> SupervisorError {
    ChildNotFoundError {
        id: pid.to_string(),
    }
    .into()
}
