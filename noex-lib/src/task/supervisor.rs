//! Elixir's `Task.Supervisor`: a supervisor of tasks started on demand.

use std::future::Future;

use super::Task;
use super::process::{Job, TaskProcess, detached_job, job};
use crate::error::{StartError, StopError, SupervisorError};
use crate::gen_server::{Context, GenServer, ServerRef};
use crate::registry::{self, LookupError};
use crate::supervisor::{self, ChildSpec, RestartType, Shutdown, SupervisorRef, SupervisorSpec};
use crate::sync::Mutex;
use crate::{ExitReason, Pid, ServerNotRunningError};

/// The id every task under a task supervisor shares, numbered per task (`task-3`).
const TASK_CHILD_ID: &str = "task";

/// What a task supervisor hands the template's factory: the task's process, taken
/// once (the argument is shared, the process is not).
type TaskArg = Mutex<Option<TaskProcess>>;

/// Options for [`TaskSupervisor::start`] and [`TaskSupervisor::child_spec`].
#[derive(Clone, Debug, Default)]
pub struct TaskSupervisorOptions {
    name: Option<String>,
}

impl TaskSupervisorOptions {
    /// The defaults: not registered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Register the supervisor under `name`, where [`TaskSupervisor::lookup`]
    /// finds it.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

/// A supervisor of tasks (Elixir's `Task.Supervisor`): tasks are started under it
/// on demand, each a temporary child (never restarted), and stopped with it. Its
/// tasks show in `noex tree` under it. Cheap to clone.
///
/// Built on a `simple_one_for_one` supervisor (Elixir's is a `DynamicSupervisor`,
/// the same thing). Its tasks are stopped by a kill ([`Shutdown::BrutalKill`]):
/// a future neither traps exits nor has a `terminate`, so the `Shutdown` exit an
/// Elixir task supervisor sends ends a task at once too.
#[derive(Clone, Debug)]
pub struct TaskSupervisor {
    supervisor: SupervisorRef,
}

impl TaskSupervisor {
    /// Start a task supervisor with no tasks (Elixir's `Task.Supervisor.start_link/1`).
    pub async fn start(options: TaskSupervisorOptions) -> Result<Self, StartError> {
        let supervisor = supervisor::start(Self::spec(options)).await?;
        Ok(TaskSupervisor { supervisor })
    }

    /// A supervisor child that runs a task supervisor: to put it in an
    /// application's tree (Elixir's `{Task.Supervisor, name: ...}`). Named through
    /// its options, so [`TaskSupervisor::lookup`] finds every instance.
    pub fn child_spec(id: impl Into<String>, options: TaskSupervisorOptions) -> ChildSpec {
        ChildSpec::supervisor(id, Self::spec(options))
    }

    fn spec(options: TaskSupervisorOptions) -> SupervisorSpec {
        let template = ChildSpec::worker_with(TASK_CHILD_ID, |arg: &TaskArg| {
            // Taken once: a temporary child is never started again from its argument.
            arg.lock().take().unwrap_or_else(TaskProcess::finished)
        })
        .restart(RestartType::Temporary)
        .shutdown(Shutdown::BrutalKill);
        let spec = SupervisorSpec::simple_one_for_one(template);
        match options.name {
            Some(name) => spec.name(name),
            None => spec,
        }
    }

    /// The task supervisor registered under `name`. A supervisor of another kind is
    /// found too, and refuses the tasks it is given
    /// ([`StartError::BadArgument`]).
    pub fn lookup(name: &str) -> Result<Self, LookupError> {
        registry::lookup_supervisor(name).map(|supervisor| TaskSupervisor { supervisor })
    }

    /// The supervisor itself.
    pub fn supervisor_ref(&self) -> &SupervisorRef {
        &self.supervisor
    }

    /// The supervisor's pid.
    pub fn pid(&self) -> Pid {
        self.supervisor.pid()
    }

    /// Run `future` as a task under this supervisor, not linked to the caller
    /// (Elixir's `Task.Supervisor.async_nolink/2`): a crash reaches the caller only
    /// through the handle, as [`TaskError::Exited`](super::TaskError::Exited).
    pub async fn async_nolink<T: Send + 'static>(
        &self,
        future: impl Future<Output = T> + Send + 'static,
    ) -> Result<Task<T>, SupervisorError> {
        self.start_task(future, None).await
    }

    /// Run `future` as a task under this supervisor, linked to the calling process
    /// as [`Task::async_linked`] is (Elixir's `Task.Supervisor.async/2`).
    pub fn async_linked<S: GenServer, T: Send + 'static>(
        &self,
        ctx: &Context<S>,
        future: impl Future<Output = T> + Send + 'static,
    ) -> impl Future<Output = Result<Task<T>, SupervisorError>> + Send + '_ {
        // Not an `async fn`: the context is read now, not held across the start (a
        // handler's future keeps `&mut Context`, which a shared borrow would not be).
        self.start_task(future, Some(ctx.pid()))
    }

    async fn start_task<T: Send + 'static>(
        &self,
        future: impl Future<Output = T> + Send + 'static,
        owner: Option<Pid>,
    ) -> Result<Task<T>, SupervisorError> {
        let (sender, result) = oneshot::channel();
        let (started, process) = oneshot::channel();
        let task = TaskProcess::new(job(future, sender), owner).reporting_to(started);
        let pid = self.start_process(task).await?;
        // `init` has sent it before the supervisor answered.
        let process: ServerRef<TaskProcess> = process
            .try_recv()
            .map_err(|_| ServerNotRunningError { pid })?;
        Ok(Task::new(process, result, owner))
    }

    /// Run `future` as a task under this supervisor, its result dropped (Elixir's
    /// `Task.Supervisor.start_child/2`): for side effects, fire and forget. Not
    /// linked to the caller.
    pub async fn start_child(
        &self,
        future: impl Future + Send + 'static,
    ) -> Result<Pid, SupervisorError> {
        self.start_process(TaskProcess::new(detached_job(future), None))
            .await
    }

    async fn start_process(&self, task: TaskProcess) -> Result<Pid, SupervisorError> {
        let arg: TaskArg = Mutex::new(Some(task));
        self.supervisor.start_child_with(arg).await
    }

    /// The pids of the tasks running now (Elixir's `Task.Supervisor.children/1`).
    pub async fn children(&self) -> Result<Vec<Pid>, SupervisorError> {
        let children = self.supervisor.children().await?;
        Ok(children.into_iter().filter_map(|child| child.pid).collect())
    }

    /// Kill the task `pid` and wait until it has ended (Elixir's
    /// `Task.Supervisor.terminate_child/2`). A task that has already ended is no
    /// error.
    pub async fn terminate_child(&self, pid: Pid) -> Result<(), SupervisorError> {
        self.supervisor.terminate_child(pid).await
    }

    /// Stop every task, then the supervisor.
    pub async fn stop(&self) -> Result<(), StopError> {
        self.supervisor.stop().await
    }

    /// Wait until the supervisor has ended, and tell why.
    pub async fn wait(&self) -> ExitReason {
        self.supervisor.wait().await
    }
}

impl TaskProcess {
    /// A task with nothing to run: what a template gives if asked twice.
    fn finished() -> Self {
        TaskProcess::new(Box::pin(async {}) as Job, None)
    }
}
