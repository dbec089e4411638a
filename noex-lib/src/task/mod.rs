//! Futures run as processes (Elixir's `Task` and `Task.Supervisor`).
//!
//! A task runs one future in a process of its own: it has a pid, shows in `noex ps`
//! and `noex tree`, can be killed (at the future's next `.await`), and a panic in it
//! is its crash, an exit with [`ExitReason::Error`](crate::ExitReason::Error). Its
//! owner gets the result through the [`Task`] handle: [`Task::await_timeout`] (a
//! timeout kills the task), [`Task::yield_timeout`] (a timeout leaves it running),
//! or [`Task::shutdown`].
//!
//! Elixir's `Task.async/1` links the task to its caller. Here that is
//! [`Task::async_linked`], from inside a process (it takes the caller's
//! [`Context`](crate::gen_server::Context)): a crash of either ends the other, as
//! every link does. [`spawn`] is `Task.async` from outside any process, where there
//! is no caller to link to. For tasks that must not take their caller down, start
//! them under a [`TaskSupervisor`] with [`TaskSupervisor::async_nolink`]; for side
//! effects nobody waits for, [`TaskSupervisor::start_child`].
//!
//! Background jobs under a task supervisor, in an application's tree:
//!
//! ```
//! use std::time::Duration;
//! use noex::supervisor::{self, SupervisorSpec};
//! use noex::task::{TaskError, TaskSupervisor, TaskSupervisorOptions};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # // As a doc test, leave no agent socket behind (`NOEX_AGENT=off`); one thread, so sound.
//! # unsafe { std::env::set_var("NOEX_AGENT", "off") }
//! let app = supervisor::start(SupervisorSpec::one_for_one().child(
//!     TaskSupervisor::child_spec("jobs", TaskSupervisorOptions::new().name("jobs")),
//! ))
//! .await?;
//! let jobs = TaskSupervisor::lookup("jobs")?;
//!
//! // A job whose result is wanted, and one that fails: its crash reaches only its awaiter.
//! let report = jobs.async_nolink(async { 6 * 7 }).await?;
//! let broken = jobs.async_nolink(async { panic!("disk full") }).await?;
//! assert_eq!(report.await_timeout(Duration::from_secs(1)).await?, 42);
//! match broken.await_result().await {
//!     Err(TaskError::Exited { reason, .. }) => assert!(reason.to_string().contains("disk full")),
//!     other => panic!("{other:?}"),
//! }
//!
//! // Fire and forget; stopping the application stops whatever still runs.
//! jobs.start_child(async { tokio::time::sleep(Duration::from_secs(60)).await }).await?;
//! assert_eq!(jobs.children().await?.len(), 1);
//! app.stop().await?;
//! # Ok(()) }
//! ```
//!
//! Where Rust and Elixir differ: an `await` that times out returns
//! [`TaskError::Timeout`] instead of exiting the caller (the task is killed all the
//! same), and a crashed task gives [`TaskError::Exited`] instead of exiting the
//! caller (a linked caller that does not trap exits is ended by the link anyway).
//! The handle is the right to the result: whoever holds it awaits (Elixir checks
//! that the awaiter is the task's owner; here the handle may be moved to another
//! process, and the link stays with the process that started the task). Dropping a
//! handle detaches the task (see [`Task`]). A future cannot trap exits: a `Shutdown` exit, from
//! [`Task::shutdown`] or a supervisor, ends it at its next `.await`.

mod handle;
mod process;
mod supervisor;

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

pub use handle::{DEFAULT_AWAIT_TIMEOUT, DEFAULT_SHUTDOWN_GRACE, Task, TaskError, child_spec};
pub use supervisor::{TaskSupervisor, TaskSupervisorOptions};

/// Run `future` as a task, linked to nobody: Elixir's `Task.async/1` from outside
/// any process. From inside one, [`Task::async_linked`] links it to the caller as
/// Elixir does.
///
/// # Panics
///
/// Outside a tokio runtime, as `tokio::spawn`.
pub fn spawn<T: Send + 'static>(future: impl Future<Output = T> + Send + 'static) -> Task<T> {
    let (sender, result) = oneshot::channel();
    Task::new(
        process::start(process::job(future, sender), None),
        result,
        None,
    )
}

/// Wait for several tasks at once, at most `timeout` in all (Elixir's
/// `Task.yield_many/2`): for each task, in order, its result or `None` if it has
/// none yet. The tasks that gave `None` keep running; yield them again, or
/// [`Task::shutdown`] them.
pub async fn yield_many<T: Send + 'static>(
    tasks: &mut [Task<T>],
    timeout: Duration,
) -> Vec<Option<Result<T, TaskError>>> {
    let deadline = Instant::now().checked_add(timeout);
    let mut results = Vec::with_capacity(tasks.len());
    // One deadline for all: waiting for one task is no time lost for the others,
    // and once it has passed each is still asked once.
    for task in tasks {
        let left = match deadline {
            Some(deadline) => deadline.saturating_duration_since(Instant::now()),
            None => Duration::MAX,
        };
        results.push(task.yield_timeout(left).await);
    }
    results
}

/// The results of several tasks, in order, all within `timeout` (Elixir's
/// `Task.await_many/2`). The first task that fails, or the timeout, ends the
/// wait with its error, and every task not yet awaited is killed, as the caller's
/// exit would kill them in Elixir.
pub async fn await_many<T: Send + 'static>(
    tasks: Vec<Task<T>>,
    timeout: Duration,
) -> Result<Vec<T>, TaskError> {
    let deadline = Instant::now().checked_add(timeout);
    let mut results = Vec::with_capacity(tasks.len());
    let mut tasks = tasks.into_iter();
    while let Some(task) = tasks.next() {
        let left = match deadline {
            Some(deadline) => deadline.saturating_duration_since(Instant::now()),
            None => Duration::MAX,
        };
        let outcome = match task.await_timeout(left).await {
            // Each timed out against the whole wait, not its own share of it.
            Err(TaskError::Timeout { pid, .. }) => Err(TaskError::Timeout { pid, timeout }),
            outcome => outcome,
        };
        match outcome {
            Ok(value) => results.push(value),
            Err(error) => {
                tasks.for_each(Task::kill_now);
                return Err(error);
            }
        }
    }
    Ok(results)
}
