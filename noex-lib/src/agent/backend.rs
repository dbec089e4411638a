//! The runtime as the agent sees it: snapshots, events, kill and restart.

use std::time::Duration;

use crate::future::BoxFuture;
use noex_agent::backend::Backend;
use noex_agent::protocol::{ActionOutcome, ErrorBody, ErrorCode, ProcessRef};
use noex_agent::rows::{Envelope, RowsWriter};
use noex_agent::table::{TableMemory, TableQuery, TableView};
use noex_agent::text::{STORED_TEXT_LIMIT, clip};
use noex_agent::types::{
    EventKind, LifecycleEvent, Pid, ProcessTree, RestartType, Snapshot, Strategy,
};
use tokio::sync::broadcast;

use crate::ExitReason;
use crate::clock::now_ms;
use crate::error::SupervisorError;
use crate::process::{CellRef, ProcessCell, ProcessKind, processes};
use crate::supervisor::supervisor_at;
use crate::sys::SysError;
use crate::{events, observer};

/// How long `kill` waits to report the new pid of the restarted process.
const RESTART_WAIT: Duration = Duration::from_secs(3);
/// How long `state` waits for a process to answer between two of its messages.
const STATE_WAIT: Duration = Duration::from_secs(2);
/// A state's text, as sent: a state can be large, and the agent's memory is bounded.
const STATE_LIMIT: usize = 16 * 1024;

pub(crate) struct RuntimeBackend;

impl Backend for RuntimeBackend {
    fn snapshot(&self) -> Snapshot {
        observer::snapshot()
    }

    fn snapshot_rows(&self, rows: &mut RowsWriter) -> Envelope {
        observer::snapshot_rows(rows)
    }

    fn tree(&self) -> ProcessTree {
        observer::process_tree()
    }

    /// Read from the process table: no snapshot is built.
    fn table(&self, query: &TableQuery, memory: &mut TableMemory) -> TableView {
        super::table::table(query, memory)
    }

    /// The process and its supervisor alone, read from the process table.
    fn process_view(&self, pid: Pid) -> Option<Snapshot> {
        let cell = processes().get(pid)?;
        let (mut servers, mut supervisors) = (Vec::new(), Vec::new());
        match cell.kind {
            ProcessKind::Server => servers.push(cell.server_info(&mut Default::default())),
            // Its own children are not what an action on it checks.
            ProcessKind::Supervisor => {
                let none = |_: &crate::process::ListedChild| false;
                supervisors.extend(cell.supervisor_info_listing(none).map(|(info, _)| info));
            }
        }
        // Its supervisor listing it alone: what a kill or restart checks (its restart
        // type), without a copy of a million siblings.
        if let Some(parent) = cell.parent().and_then(|parent| processes().get(parent)) {
            let listed = |child: &crate::process::ListedChild| child.pid == Some(pid);
            supervisors.extend(parent.supervisor_info_listing(listed).map(|(info, _)| info));
        }
        Some(Snapshot {
            taken_at_ms: now_ms(),
            app: observer::app_name(),
            os_pid: std::process::id(),
            uptime_ms: processes().uptime().as_millis() as u64,
            process_count: (servers.len() + supervisors.len()) as u64,
            total_messages: servers.iter().map(|s| s.messages).sum(),
            memory_rss_bytes: None,
            servers,
            supervisors,
        })
    }

    fn subscribe(
        &self,
        history: usize,
    ) -> (Vec<LifecycleEvent>, broadcast::Receiver<LifecycleEvent>) {
        events::hub().subscribe_with_history(history)
    }

    fn kill(
        &self,
        pid: Pid,
        reason: Option<String>,
    ) -> BoxFuture<'static, Result<ActionOutcome, ErrorBody>> {
        Box::pin(async move {
            let cell = live(pid)?;
            let outcome = outcome_for(&cell);
            // Subscribed before the kill, so the restart cannot slip by unseen.
            let mut events = events::hub().subscribe();
            // The reason comes from a client: it is clipped like any stored text.
            let reason = reason.map(|text| ExitReason::error(clip(&text, STORED_TEXT_LIMIT)));
            cell.kill(reason.unwrap_or(ExitReason::Killed));
            let Some(parent) = cell.parent() else {
                return Ok(outcome);
            };
            let child_id = cell.child_id.as_deref().map(str::to_string);
            let new_pid = tokio::time::timeout(RESTART_WAIT, async {
                loop {
                    match events.recv().await {
                        Ok(event) if event.parent == Some(parent) && event.child_id == child_id => {
                            match event.kind {
                                EventKind::Restarted { .. } => return Some(event.pid),
                                EventKind::ChildRemoved => return None,
                                _ => {}
                            }
                        }
                        Ok(event)
                            if event.pid == parent
                                && matches!(event.kind, EventKind::MaxRestartsExceeded { .. }) =>
                        {
                            return None;
                        }
                        Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                        Err(broadcast::error::RecvError::Closed) => return None,
                    }
                }
            })
            .await
            .ok()
            .flatten();
            Ok(ActionOutcome { new_pid, ..outcome })
        })
    }

    /// OTP has no "restart a running child": it is `terminate_child`, then
    /// `restart_child` (which starts it with a fresh state and an empty mailbox).
    fn state(&self, pid: Pid) -> BoxFuture<'static, Result<String, ErrorBody>> {
        Box::pin(async move {
            let label = process_ref(&*live(pid)?).label();
            match crate::sys::get_status(pid, STATE_WAIT).await {
                Ok(text) => Ok(clip(&text, STATE_LIMIT).into_owned()),
                Err(SysError::NotShown { .. }) => Err(ErrorBody::new(
                    ErrorCode::NotShown,
                    format!("{label} does not show its state"),
                )),
                Err(SysError::NotRunning(_)) => Err(ErrorBody::new(
                    ErrorCode::NotFound,
                    format!("{label} has ended"),
                )),
                Err(error) => Err(ErrorBody::new(ErrorCode::Failed, error.to_string())),
            }
        })
    }

    fn restart(&self, pid: Pid) -> BoxFuture<'static, Result<ActionOutcome, ErrorBody>> {
        Box::pin(async move {
            let cell = live(pid)?;
            let outcome = outcome_for(&cell);
            let label = outcome.target.label();
            let (Some(parent), Some(child_id)) = (cell.parent(), cell.child_id.clone()) else {
                return Err(ErrorBody::new(
                    ErrorCode::NotSupervised,
                    format!("{label} has no supervisor to restart it"),
                ));
            };
            let supervisor = supervisor_at(parent).ok_or_else(|| {
                ErrorBody::new(
                    ErrorCode::NotSupervised,
                    format!("its supervisor {parent} has ended"),
                )
            })?;
            if let Some(why) = cannot_restart_in_place(parent, &child_id) {
                return Err(ErrorBody::new(
                    ErrorCode::NotSupervised,
                    format!("{label} {why}"),
                ));
            }
            let failed =
                |error: SupervisorError| ErrorBody::new(ErrorCode::Failed, error.to_string());
            supervisor
                .terminate_child(&*child_id)
                .await
                .map_err(failed)?;
            let new_pid = match supervisor.restart_child(&child_id).await {
                Ok(pid) => pid,
                // A sibling's group restart started it again in between.
                Err(SupervisorError::Running { .. }) => supervisor
                    .child_info(&child_id)
                    .await
                    .map_err(failed)?
                    .and_then(|child| child.pid)
                    .ok_or_else(|| {
                        failed(SupervisorError::Restarting {
                            id: child_id.to_string(),
                        })
                    })?,
                Err(error) => return Err(failed(error)),
            };
            Ok(ActionOutcome {
                new_pid: Some(new_pid),
                ..outcome
            })
        })
    }

    fn spawn_connection(&self, connection: BoxFuture<'static, ()>) {
        super::connection::spawn(connection);
    }
}

/// Why a child of supervisor `pid` cannot be restarted in place, if it cannot: its
/// supervisor forgets it once it stops (temporary), or restarts only by its policy
/// (dynamic).
fn cannot_restart_in_place(pid: Pid, child_id: &str) -> Option<&'static str> {
    let cell = processes().get(pid)?;
    let supervisor = cell.supervisor.as_ref()?;
    if supervisor.strategy == Strategy::SimpleOneForOne {
        return Some(
            "is a dynamic child (simple_one_for_one): it cannot be restarted in place; \
             kill it and its supervisor applies its restart type",
        );
    }
    let temporary = (supervisor.children.read().find(child_id))
        .is_some_and(|child| child.restart == RestartType::Temporary);
    temporary.then_some("is a temporary child: once stopped, its supervisor forgets it")
}

fn live(pid: Pid) -> Result<CellRef, ErrorBody> {
    processes().get(pid).ok_or_else(|| {
        ErrorBody::new(
            ErrorCode::NotFound,
            format!("process {pid} has already ended"),
        )
    })
}

fn process_ref(cell: &ProcessCell) -> ProcessRef {
    ProcessRef {
        pid: cell.pid,
        name: cell.name().map(|n| n.to_string()),
        child_id: cell.child_id.as_deref().map(str::to_string),
    }
}

fn outcome_for(cell: &ProcessCell) -> ActionOutcome {
    ActionOutcome {
        target: process_ref(cell),
        supervisor: cell
            .parent()
            .and_then(|parent| processes().get(parent))
            .map(|parent| process_ref(&parent)),
        new_pid: None,
    }
}
