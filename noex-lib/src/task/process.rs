//! The process behind every task: a GenServer whose one handler runs the task's
//! future, then stops with `Normal`.
//!
//! The future runs in `handle_continue`, right after `init`, so the task is a process
//! like any other: a pid, a row in `noex ps`, a place in its supervisor's tree. A
//! kill lands at the future's next `.await` (the process's task is aborted, the
//! future dropped there); a panic in it is the process's crash, `ExitReason::Error`
//! with the panic's message. The result goes to the [`Task`](super::Task) handle
//! through a oneshot channel, sent before the process exits.

use std::future::Future;

use crate::error::BoxError;
use crate::future::BoxFuture;
use crate::gen_server::{Context, GenServer, Info, Reply, ServerRef, spawn_unattached};
use crate::{ExitReason, Pid};

/// A task's future, its result already wired to the handle's channel.
pub(crate) type Job = BoxFuture<'static, ()>;

/// Wrap `future` so that its output goes to `result` (dropped if nobody waits).
pub(crate) fn job<F>(future: F, result: oneshot::Sender<F::Output>) -> Job
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    Box::pin(async move {
        let value = future.await;
        let _ = result.send(value);
    })
}

/// Wrap `future`, whose output nobody wants (a fire-and-forget task).
pub(crate) fn detached_job<F>(future: F) -> Job
where
    F: Future + Send + 'static,
{
    Box::pin(async move {
        future.await;
    })
}

/// The GenServer that runs one task. Its type name is what `noex ps` shows.
pub(crate) struct TaskProcess {
    job: Option<Job>,
    /// The process to link to before the future runs (a linked task's caller).
    owner: Option<Pid>,
    /// Where `init` sends the process's own reference: a task started by a
    /// supervisor is known to its starter only by pid, and may have ended before
    /// the starter could look it up.
    started: Option<oneshot::Sender<ServerRef<TaskProcess>>>,
}

/// The message that starts the future: asked for by `init`.
struct Run;

impl TaskProcess {
    pub(crate) fn new(job: Job, owner: Option<Pid>) -> Self {
        TaskProcess {
            job: Some(job),
            owner,
            started: None,
        }
    }

    /// Have `init` send this process's reference on `started`.
    pub(crate) fn reporting_to(mut self, started: oneshot::Sender<ServerRef<TaskProcess>>) -> Self {
        self.started = Some(started);
        self
    }
}

impl GenServer for TaskProcess {
    // A task takes no requests: it is busy with its future from start to end.
    type Call = ();
    type Cast = ();
    type Reply = ();

    fn type_name() -> &'static str {
        "Task"
    }

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), BoxError> {
        if let Some(started) = self.started.take() {
            let _ = started.send(ctx.myself());
        }
        // Linked before the future runs, as Elixir's `spawn_link`: the caller hears
        // of a crash however early it comes.
        if let Some(owner) = self.owner
            && ctx.link(owner).is_err()
        {
            // The caller has already ended: its exit would have ended the task at once.
            ctx.stop(ExitReason::NoProc);
            return Ok(());
        }
        ctx.continue_with(Run);
        Ok(())
    }

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }

    async fn handle_continue(&mut self, _: Info, ctx: &mut Context<Self>) {
        if let Some(job) = self.job.take() {
            job.await;
        }
        ctx.stop(ExitReason::Normal);
    }
}

/// Start a task's process outside any supervisor, linked to `owner` if given. No
/// `.await`, as Elixir's `Task.async` and `tokio::spawn`: the process has no name
/// and no parent, so nothing can refuse its start.
///
/// # Panics
///
/// Outside a tokio runtime, as `tokio::spawn`.
pub(crate) fn start(job: Job, owner: Option<Pid>) -> ServerRef<TaskProcess> {
    spawn_unattached(TaskProcess::new(job, owner))
}
