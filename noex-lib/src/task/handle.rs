//! The handle to a running task: await, yield, shut down.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use super::process::{self, TaskProcess, job};
use crate::gen_server::{Context, GenServer, ServerRef};
use crate::supervisor::{ChildSpec, RestartType, Shutdown};
use crate::{ExitReason, Pid};

/// How long [`Task::await_result`] waits: Elixir's default for `Task.await/2`
/// (5 s, as OTP's call timeout).
pub const DEFAULT_AWAIT_TIMEOUT: Duration = Duration::from_secs(5);

/// Elixir's default grace for `Task.shutdown/2` (5 s), to pass to
/// [`Task::shutdown`].
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Why a task gave no result.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TaskError {
    /// No result within the timeout; the task was killed (Elixir's `Task.await`
    /// exits with `:timeout`, and the caller's exit takes its linked task along).
    #[error("task {pid} did not finish within {timeout:?}, and was killed")]
    Timeout {
        /// The task.
        pid: Pid,
        /// How long the caller waited.
        timeout: Duration,
    },
    /// The task ended without a result: it panicked (the reason carries the panic's
    /// message), was killed, or was ended by the exit of a process it was linked to.
    #[error("task {pid} exited: {reason}")]
    Exited {
        /// The task.
        pid: Pid,
        /// The reason it exited with.
        reason: ExitReason,
    },
    /// The result was already taken by an earlier [`Task::yield_timeout`].
    #[error("task {pid}'s result was already taken")]
    Taken {
        /// The task.
        pid: Pid,
    },
}

/// A task: a future running as a process, whose result its owner awaits.
///
/// Started by [`spawn`](super::spawn), [`Task::async_linked`] or a
/// [`TaskSupervisor`](super::TaskSupervisor). Only the holder of this handle can
/// have the result: [`Task::await_timeout`] once, or [`Task::yield_timeout`] as
/// often as it takes.
///
/// **Dropping a `Task` detaches it**: the process runs to its end and its result
/// is dropped. In Elixir the task process does not depend on the `%Task{}` struct
/// either; its reply simply waits, unread, in the caller's mailbox. A linked task
/// still ends with its caller, and a supervised one with its supervisor; to stop a
/// task, [`Task::shutdown`] it.
#[must_use = "a task's result is only had by awaiting it; dropping the handle detaches the task"]
pub struct Task<T> {
    process: ServerRef<TaskProcess>,
    /// `None` once a yield has taken the result.
    result: Option<oneshot::Receiver<T>>,
    /// The process the task is linked to, unlinked before the task is shut down or
    /// killed here, so that the caller is not ended by an exit it asked for.
    owner: Option<Pid>,
}

impl<T> fmt::Debug for Task<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("pid", &self.process.pid())
            .field("owner", &self.owner)
            .finish()
    }
}

impl<T: Send + 'static> Task<T> {
    pub(crate) fn new(
        process: ServerRef<TaskProcess>,
        result: oneshot::Receiver<T>,
        owner: Option<Pid>,
    ) -> Self {
        Task {
            process,
            result: Some(result),
            owner,
        }
    }

    /// Run `future` as a task linked to the calling process (Elixir's
    /// `Task.async/1` called from a process): if the task crashes, the caller gets
    /// the exit signal as from any link (and, not trapping exits, ends with the
    /// task's reason); if the caller ends abnormally, the task is killed. A task
    /// that ends normally leaves its caller alone, and so does a caller that ends
    /// normally, as every link does.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, as `tokio::spawn`.
    pub fn async_linked<S: GenServer>(
        ctx: &Context<S>,
        future: impl Future<Output = T> + Send + 'static,
    ) -> Self {
        let (sender, result) = oneshot::channel();
        let owner = Some(ctx.pid());
        Task::new(process::start(job(future, sender), owner), result, owner)
    }

    /// The task's pid.
    pub fn pid(&self) -> Pid {
        self.process.pid()
    }

    /// Whether the task's process is still running (its result may be waiting
    /// even once it is not).
    pub fn is_running(&self) -> bool {
        self.process.is_running()
    }

    /// The task's result, waiting at most [`DEFAULT_AWAIT_TIMEOUT`] (Elixir's
    /// `Task.await/1`). See [`Task::await_timeout`].
    pub async fn await_result(self) -> Result<T, TaskError> {
        self.await_timeout(DEFAULT_AWAIT_TIMEOUT).await
    }

    /// The task's result, waiting at most `timeout` (Elixir's `Task.await/2`).
    ///
    /// A task that crashed gives [`TaskError::Exited`] with its reason (a panic's
    /// message in [`ExitReason::Error`]). Past `timeout` the task is killed and the
    /// error is [`TaskError::Timeout`]: where Elixir's caller exits, and its exit
    /// kills the linked task, here the caller goes on with the error, and the task
    /// is killed all the same (unlinked first, so its exit does not reach the
    /// caller). `Duration::MAX` waits as long as it takes.
    pub async fn await_timeout(mut self, timeout: Duration) -> Result<T, TaskError> {
        match self.yield_timeout(timeout).await {
            Some(outcome) => outcome,
            None => {
                let pid = self.pid();
                self.kill_now();
                Err(TaskError::Timeout { pid, timeout })
            }
        }
    }

    /// The task's result if it comes within `timeout`, `None` if not (Elixir's
    /// `Task.yield/2`). On `None` the task keeps running and can be yielded or
    /// awaited again; `Some` takes the result, after which the task has none to give
    /// ([`TaskError::Taken`]).
    pub async fn yield_timeout(&mut self, timeout: Duration) -> Option<Result<T, TaskError>> {
        let pid = self.pid();
        let Some(result) = self.result.as_mut() else {
            return Some(Err(TaskError::Taken { pid }));
        };
        let process = &self.process;
        let outcome = async move {
            match result.await {
                Ok(value) => Ok(value),
                // The sender went with the future: the task ended without a result.
                Err(_) => Err(TaskError::Exited {
                    pid,
                    reason: process.wait().await,
                }),
            }
        };
        // `tokio::time::timeout` polls the task first: a result already there is
        // taken even with a zero timeout.
        let outcome = tokio::time::timeout(timeout, outcome).await.ok()?;
        self.result = None;
        Some(outcome)
    }

    /// Stop the task and wait until it has ended (Elixir's `Task.shutdown/2`): it
    /// is unlinked from its caller, sent a `Shutdown` exit, and killed if it has not
    /// ended within `grace`.
    ///
    /// Returns the result if the task had finished meanwhile, `Some(Err(Exited))` if
    /// it had ended otherwise (crashed, killed by someone else), and `None` if this
    /// shutdown ended it. A task's future has no `terminate` to run and does not trap
    /// exits: the `Shutdown` ends it at its next `.await`, and `grace` only matters
    /// for a future that does not reach one.
    pub async fn shutdown(self, grace: Duration) -> Option<Result<T, TaskError>> {
        self.stop(ExitReason::Shutdown, Some(grace)).await
    }

    /// [`Task::shutdown`] with Elixir's `:brutal_kill`: killed at once.
    pub async fn brutal_kill(self) -> Option<Result<T, TaskError>> {
        self.stop(ExitReason::Killed, None).await
    }

    async fn stop(
        mut self,
        reason: ExitReason,
        grace: Option<Duration>,
    ) -> Option<Result<T, TaskError>> {
        let pid = self.pid();
        let Some(result) = self.result.take() else {
            return Some(Err(TaskError::Taken { pid }));
        };
        self.unlink_owner();
        let cell = self.process.cell();
        cell.kill(reason.clone());
        if let Some(grace) = grace
            && tokio::time::timeout(grace, cell.wait_exit()).await.is_err()
        {
            cell.kill(ExitReason::Killed);
        }
        let exited = cell.wait_exit().await;
        // A result sent before the exit is there now; none comes after it.
        if let Ok(value) = result.try_recv() {
            return Some(Ok(value));
        }
        // As Elixir: only the exit this shutdown sent means "stopped here"; any other
        // reason (a crash, someone else's kill) is the task's own exit.
        (exited != reason).then_some(Err(TaskError::Exited {
            pid,
            reason: exited,
        }))
    }

    /// Kill the task without waiting for its exit, unlinked first so that its exit
    /// does not reach its caller.
    pub(crate) fn kill_now(mut self) {
        self.unlink_owner();
        self.process.kill();
    }

    fn unlink_owner(&mut self) {
        if let Some(owner) = self.owner.take() {
            crate::process::unlink(self.process.cell(), owner);
        }
    }
}

/// A supervisor child that runs `make()`'s future as a task at every start
/// (Elixir's `{Task, fun}` child, `Task.start_link/1`). As in Elixir it is
/// `temporary` (not restarted, even after a crash); make it
/// [`transient`](RestartType::Transient) to have a crash restart it. It is
/// stopped by a kill ([`Shutdown::BrutalKill`]): a future neither traps exits nor
/// has a `terminate`, so a `Shutdown` exit would end it at once anyway.
pub fn child_spec<F, Fut>(id: impl Into<String>, make: F) -> ChildSpec
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
{
    ChildSpec::worker(id, move || {
        TaskProcess::new(process::detached_job(make()), None)
    })
    .restart(RestartType::Temporary)
    .shutdown(Shutdown::BrutalKill)
    .erase()
}
