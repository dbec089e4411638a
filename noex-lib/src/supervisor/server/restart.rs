//! Restarts: what a supervisor does when a child exits (OTP's `restart_child`,
//! `do_restart`, `restart/2`, `restart_multiple_children`, `try_again_restart`).

use std::sync::Arc;

use noex_agent::text::{STORED_TEXT_LIMIT, clip};
use noex_agent::types::EventKind;

use super::{Position, Started, SupervisorServer};
use crate::ExitReason;
use crate::error::{MaxRestartsExceededError, StartError};
use crate::gen_server::Context;
use crate::process::Exit;
use crate::supervisor::{ChildStatus, RestartType, Strategy};

/// A restart to try again, sent by the supervisor to itself (OTP's
/// `{try_again_restart, Id}` cast), so the requests that came meanwhile are
/// served between attempts.
pub(super) struct TryAgain(pub(super) Arc<str>);

impl SupervisorServer {
    /// A child exited (its link's exit signal, trapped): OTP's `restart_child` and
    /// `do_restart`.
    pub(super) async fn on_exit(&mut self, exit: Exit, ctx: &mut Context<Self>) {
        // Not a running child: an exit this supervisor caused, or of a process
        // linked to it that it does not supervise.
        let Some(at) = self.find_running(exit.pid) else {
            return;
        };
        let (restart, id) = {
            let mut table = self.table();
            table.stop(at);
            let child = table.get_mut(at);
            if exit.reason.is_abnormal() {
                child.last_error = Some(clip(&exit.reason.to_string(), STORED_TEXT_LIMIT).into());
            }
            let restart = match child.spec.restart {
                RestartType::Permanent => true,
                RestartType::Transient => exit.reason.is_abnormal(),
                RestartType::Temporary => false,
            };
            (restart, child.id.clone())
        };
        if restart {
            self.restart(id, ctx).await;
        } else {
            self.del_child(at);
        }
        self.announce_changes();
    }

    /// OTP's `restart/2`: count the restart against the intensity, then restart by
    /// the strategy; a start that fails is tried again through the mailbox.
    pub(super) async fn restart(&mut self, id: Arc<str>, ctx: &mut Context<Self>) {
        if self.window.record(tokio::time::Instant::now()) {
            if let Ok(at) = self.find(&id) {
                self.del_child(at);
            }
            self.give_up(ctx);
            return;
        }
        let Ok(at) = self.find(&id) else {
            return;
        };
        let failed = match self.spec.strategy {
            Strategy::OneForAll => self.restart_group(0).await,
            Strategy::RestForOne => self.restart_group(at).await,
            _ => self.restart_one(at).await,
        };
        if let Some(failed) = failed {
            let _ = ctx.myself().send_info(TryAgain(failed));
        }
    }

    /// One child (one_for_one, simple_one_for_one). Returns the id to try again.
    pub(super) async fn restart_one(&mut self, at: Position) -> Option<Arc<str>> {
        let attempt = self.count_attempt(at);
        match self.start_child_at(at, attempt).await {
            Ok(Started::Running(_)) => {
                self.restarted(at, attempt);
                None
            }
            // A dynamic child that ignores its restart is dropped, as in OTP.
            Ok(Started::Ignored) => {
                if self.is_simple() {
                    self.remove(at);
                }
                None
            }
            Err(error) => Some(self.restart_failed(at, &error)),
        }
    }

    /// OTP's `restart_multiple_children`: stop the children from `from` on (in
    /// reverse start order; temporary ones are dropped), then start every one left
    /// in start order, until one fails. Returns the id of the one that failed.
    pub(super) async fn restart_group(&mut self, from: Position) -> Option<Arc<str>> {
        let positions = self.table().positions_from(from);
        for at in positions.into_iter().rev() {
            self.terminate_at(at).await;
            if self.table().get(at).spec.restart == RestartType::Temporary {
                self.remove(at);
            }
        }
        // No temporary child is left to start: a child that ignores its start stays
        // stopped (OTP's `start_children` drops only temporary ones).
        let positions = self.table().positions_from(from);
        for at in positions {
            let attempt = self.count_attempt(at);
            match self.start_child_at(at, attempt).await {
                Ok(Started::Running(_)) => self.restarted(at, attempt),
                Ok(Started::Ignored) => {}
                Err(error) => return Some(self.restart_failed(at, &error)),
            }
        }
        None
    }

    /// Count one more restart attempt of child `at`; returns its number.
    fn count_attempt(&mut self, at: Position) -> u32 {
        let mut table = self.table();
        let child = table.get_mut(at);
        child.restarts += 1;
        child.restarts
    }

    pub(super) fn restart_failed(&mut self, at: Position, error: &StartError) -> Arc<str> {
        let mut table = self.table();
        table.set_restarting(at);
        let child = table.get_mut(at);
        tracing::warn!(child = %child.id, %error, "restart failed; trying again");
        child.last_error = Some(clip(&error.to_string(), STORED_TEXT_LIMIT).into());
        child.id.clone()
    }

    pub(super) fn restarted(&mut self, at: Position, attempt: u32) {
        let running = {
            let mut table = self.table();
            table.child_restarts += 1;
            table.get(at).running().cloned()
        };
        if let Some(cell) = running {
            cell.emit(EventKind::Restarted { attempt });
        }
    }

    /// OTP's `try_again_restart`: only if the child is still waiting for it.
    ///
    /// It yields first: an Erlang supervisor retrying a failing start shares its
    /// scheduler with the processes that may want to stop it, and so must this one,
    /// or a start that fails at once would spend the intensity before anyone else
    /// could run.
    pub(super) async fn try_again(&mut self, id: Arc<str>, ctx: &mut Context<Self>) {
        tokio::task::yield_now().await;
        if let Ok(at) = self.find(&id)
            && self.table().get(at).status() == ChildStatus::Restarting
        {
            self.restart(id, ctx).await;
            self.announce_changes();
        }
    }

    /// Too many restarts: stop with a shutdown that says why. `terminate` stops
    /// the children, and the parent acts by this supervisor's restart type.
    pub(super) fn give_up(&mut self, ctx: &mut Context<Self>) {
        let error = MaxRestartsExceededError {
            max_restarts: self.spec.max_restarts,
            within: self.spec.within,
        };
        tracing::error!(supervisor = %self.cell().pid, %error, "supervisor giving up");
        self.cell().emit(EventKind::MaxRestartsExceeded {
            max_restarts: error.max_restarts,
            within_ms: error.within.as_millis() as u64,
        });
        ctx.stop(ExitReason::MaxRestartsExceeded(error));
    }
}
