//! The runtime as the agent sees it: snapshots, events, kill and restart.

use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use noex_agent::backend::Backend;
use noex_agent::protocol::{ActionOutcome, ErrorBody, ErrorCode, ProcessRef};
use noex_agent::types::{EventKind, LifecycleEvent, Pid, ProcessTree, Snapshot};
use tokio::sync::broadcast;

use crate::ExitReason;
use crate::observer;
use crate::process::{CellRef, ProcessCell};
use crate::runtime::runtime;
use crate::supervisor::live_supervisors;

/// How long `kill` waits to report the new pid of the restarted process.
const RESTART_WAIT: Duration = Duration::from_secs(3);

pub(crate) struct RuntimeBackend;

impl Backend for RuntimeBackend {
    fn snapshot(&self) -> Snapshot {
        observer::snapshot()
    }

    fn tree(&self) -> ProcessTree {
        observer::process_tree()
    }

    fn subscribe(
        &self,
        history: usize,
    ) -> (Vec<LifecycleEvent>, broadcast::Receiver<LifecycleEvent>) {
        runtime().events.subscribe_with_history(history)
    }

    fn kill(
        &self,
        pid: Pid,
        reason: Option<String>,
    ) -> BoxFuture<'static, Result<ActionOutcome, ErrorBody>> {
        async move {
            let cell = live(pid)?;
            let outcome = outcome_for(&cell);
            // Subscribed before the kill, so the restart cannot slip by unseen.
            let mut events = runtime().events.subscribe();
            cell.kill(reason.map(ExitReason::error).unwrap_or(ExitReason::Killed));
            let Some(parent) = cell.parent else {
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
        }
        .boxed()
    }

    fn restart(&self, pid: Pid) -> BoxFuture<'static, Result<ActionOutcome, ErrorBody>> {
        async move {
            let cell = live(pid)?;
            let outcome = outcome_for(&cell);
            let (Some(parent), Some(child_id)) = (cell.parent, cell.child_id.clone()) else {
                return Err(ErrorBody::new(
                    ErrorCode::NotSupervised,
                    format!("{} has no supervisor to restart it", outcome.target.label()),
                ));
            };
            let supervisor = live_supervisors()
                .get(&parent)
                .map(|entry| entry.value().clone())
                .ok_or_else(|| {
                    ErrorBody::new(
                        ErrorCode::NotSupervised,
                        format!("its supervisor {parent} has ended"),
                    )
                })?;
            let new_pid = supervisor
                .restart_child(&child_id)
                .await
                .map_err(|error| ErrorBody::new(ErrorCode::Failed, error.to_string()))?;
            Ok(ActionOutcome {
                new_pid: Some(new_pid),
                ..outcome
            })
        }
        .boxed()
    }

    fn spawn_connection(&self, connection: BoxFuture<'static, ()>) {
        super::connection::spawn(connection);
    }
}

fn live(pid: Pid) -> Result<CellRef, ErrorBody> {
    runtime().processes.get(pid).ok_or_else(|| {
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
            .parent
            .and_then(|parent| runtime().processes.get(parent))
            .map(|parent| process_ref(&parent)),
        new_pid: None,
    }
}
