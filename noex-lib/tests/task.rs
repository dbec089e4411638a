//! `noex::task`, against what Elixir's `Task` and `Task.Supervisor` document: a task
//! is a process that runs one function and hands its result to its owner; `await`
//! gives the result or the task's exit, and on timeout the task goes; `yield` leaves
//! it running; `shutdown` stops it but keeps a result that came meanwhile; a linked
//! task and its caller end each other; `async_nolink` tasks reach their caller only
//! through the handle; a task supervisor's tasks are temporary children under it.

mod support;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use noex::gen_server::{self, Context, GenServer, Reply, ReplyTo, StartOptions};
use noex::observer::{self, TreeNode};
use noex::process;
use noex::supervisor::{self, SupervisorSpec};
use noex::task::{self, Task, TaskError, TaskSupervisor, TaskSupervisorOptions};
use noex::{ExitReason, Pid};
use support::{eventually, within};
use tokio::sync::oneshot;

const LONG: Duration = Duration::from_secs(3600);

/// A future that waits for `release`, then tells `done` it ran to its end.
async fn held(release: oneshot::Receiver<()>, done: oneshot::Sender<()>) -> u32 {
    let _ = release.await;
    let _ = done.send(());
    1
}

/// A pair of signals: the release a test fires, and the end it watches for.
struct Held {
    release: oneshot::Sender<()>,
    done: oneshot::Receiver<()>,
}

fn held_task() -> (Held, impl Future<Output = u32>) {
    let (release, release_rx) = oneshot::channel();
    let (done_tx, done) = oneshot::channel();
    (Held { release, done }, held(release_rx, done_tx))
}

impl Held {
    /// Release the task; whether it then ran to its end (false: it had been killed).
    async fn release_and_see_it_finish(self) -> bool {
        let _ = self.release.send(());
        within("the task's end or its kill", self.done)
            .await
            .is_ok()
    }
}

fn reason_of(error: TaskError) -> ExitReason {
    match error {
        TaskError::Exited { reason, .. } => reason,
        other => panic!("expected an exit, got {other:?}"),
    }
}

// ---- Task: await, yield, shutdown ----

#[tokio::test]
async fn task_await_returns_value() {
    let task = task::spawn(async { 6 * 7 });
    assert_eq!(task.await_result().await, Ok(42));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tasks_on_many_threads_each_return_their_own_value() {
    let tasks = (0..500_u64)
        .map(|n| {
            task::spawn(async move {
                tokio::task::yield_now().await;
                n * 2
            })
        })
        .collect();
    let results = task::await_many(tasks, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(results, (0..500).map(|n| n * 2).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn task_is_a_process_that_ends_normally_after_its_result() {
    let task = task::spawn(async {
        tokio::time::sleep(Duration::from_millis(10)).await;
        "done"
    });
    let pid = task.pid();
    assert!(
        observer::snapshot().servers.iter().any(|s| s.pid == pid),
        "a running task is a row in the Observer"
    );
    let down = process::monitor(pid);
    assert_eq!(task.await_result().await, Ok("done"));
    assert_eq!(
        within("the task's exit", down).await.reason,
        ExitReason::Normal
    );
}

#[tokio::test(start_paused = true)]
async fn task_await_timeout_kills_task() {
    let task = task::spawn(tokio::time::sleep(LONG));
    let down = process::monitor(task.pid());
    let timeout = Duration::from_millis(100);
    let error = task.await_timeout(timeout).await.unwrap_err();
    assert!(matches!(error, TaskError::Timeout { timeout: t, .. } if t == timeout));
    assert!(error.to_string().contains("did not finish"), "{error}");
    assert_eq!(
        within("the task's kill", down).await.reason,
        ExitReason::Killed
    );
}

// On two threads: the task's end and its awaiter race, and the awaiter must still
// get the reason, not a result channel merely closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_crash_reaches_awaiter_as_exit() {
    let task = task::spawn(async {
        tokio::task::yield_now().await;
        if true {
            panic!("ledger out of balance");
        }
        0
    });
    let reason = reason_of(task.await_result().await.unwrap_err());
    assert!(
        matches!(&reason, ExitReason::Error(message) if message.contains("ledger out of balance")),
        "{reason:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn task_yield_returns_none_and_task_keeps_running() {
    let (held, future) = held_task();
    let mut task = task::spawn(future);
    assert!(
        task.yield_timeout(Duration::from_millis(50))
            .await
            .is_none()
    );
    assert!(task.is_running());
    let _ = held.release.send(());
    assert_eq!(
        task.yield_timeout(Duration::from_secs(1)).await,
        Some(Ok(1))
    );
}

#[tokio::test(start_paused = true)]
async fn task_yield_then_await_gets_the_result() {
    let (held, future) = held_task();
    let mut task = task::spawn(future);
    assert!(task.yield_timeout(Duration::ZERO).await.is_none());
    let _ = held.release.send(());
    assert_eq!(task.await_result().await, Ok(1));
}

#[tokio::test]
async fn task_result_is_taken_once() {
    let mut task = task::spawn(async { 3 });
    let pid = task.pid();
    assert_eq!(
        task.yield_timeout(Duration::from_secs(5)).await,
        Some(Ok(3))
    );
    assert_eq!(
        task.await_result().await,
        Err(TaskError::Taken { pid }),
        "a second await has no result to give"
    );
}

#[tokio::test(start_paused = true)]
async fn task_shutdown_returns_result_if_finished() {
    let task = task::spawn(async { 7 });
    within("the task's end", process::monitor(task.pid())).await;
    assert_eq!(task.shutdown(Duration::from_secs(5)).await, Some(Ok(7)));
}

#[tokio::test(start_paused = true)]
async fn task_shutdown_kills_running_task() {
    let (held, future) = held_task();
    let task = task::spawn(future);
    let down = process::monitor(task.pid());
    let before = tokio::time::Instant::now();
    assert_eq!(task.shutdown(Duration::from_secs(5)).await, None);
    assert!(
        before.elapsed() < Duration::from_secs(5),
        "the Shutdown exit ends a future at once, without waiting out the grace"
    );
    assert_eq!(down.await.reason, ExitReason::Shutdown);
    assert!(!held.release_and_see_it_finish().await, "the future ran on");
}

#[tokio::test(start_paused = true)]
async fn task_brutal_kill_kills_running_task() {
    let task = task::spawn(tokio::time::sleep(LONG));
    let down = process::monitor(task.pid());
    assert_eq!(task.brutal_kill().await, None);
    assert_eq!(down.await.reason, ExitReason::Killed);
}

#[tokio::test]
async fn task_shutdown_of_a_crashed_task_gives_its_exit() {
    let task = task::spawn(async {
        if true {
            panic!("gone");
        }
    });
    within("the crash", process::monitor(task.pid())).await;
    let reason = reason_of(
        task.shutdown(Duration::from_secs(5))
            .await
            .unwrap()
            .unwrap_err(),
    );
    assert!(
        matches!(&reason, ExitReason::Error(m) if m.contains("gone")),
        "{reason:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn dropping_a_task_detaches_it() {
    let (held, future) = held_task();
    let task = task::spawn(future);
    let pid = task.pid();
    drop(task);
    assert!(process::is_alive(pid));
    assert!(
        held.release_and_see_it_finish().await,
        "the task was stopped by its drop"
    );
}

#[tokio::test(start_paused = true)]
async fn yield_many_gives_each_task_s_result_or_none() {
    let (held, future) = held_task();
    let mut tasks = vec![
        task::spawn(async { 10 }),
        task::spawn(future),
        task::spawn(async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            30
        }),
    ];
    let results = task::yield_many(&mut tasks, Duration::from_millis(100)).await;
    assert_eq!(results, vec![Some(Ok(10)), None, Some(Ok(30))]);
    assert!(
        tasks[1].is_running(),
        "the task that gave None keeps running"
    );
    let _ = held.release.send(());
    let held_task = tasks.swap_remove(1);
    assert_eq!(held_task.await_result().await, Ok(1));
}

#[tokio::test(start_paused = true)]
async fn await_many_returns_results_in_order() {
    let tasks = (0..5_u64)
        .map(|n| {
            task::spawn(async move {
                tokio::time::sleep(Duration::from_millis(50 - n * 10)).await;
                n
            })
        })
        .collect();
    assert_eq!(
        task::await_many(tasks, Duration::from_secs(1)).await,
        Ok(vec![0, 1, 2, 3, 4])
    );
}

#[tokio::test(start_paused = true)]
async fn await_many_kills_the_rest_when_one_fails() {
    let waiting = task::spawn(async {
        tokio::time::sleep(LONG).await;
        0
    });
    let waiting_down = process::monitor(waiting.pid());
    let failing = task::spawn(async {
        if true {
            panic!("one failed");
        }
        0
    });
    let error = task::await_many(vec![failing, waiting], Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(matches!(reason_of(error), ExitReason::Error(_)));
    assert_eq!(
        within("the kill", waiting_down).await.reason,
        ExitReason::Killed
    );
}

// ---- Linked tasks ----

type BoxedJob = Pin<Box<dyn Future<Output = u32> + Send>>;

/// A process that starts tasks and waits for them.
#[derive(Default)]
struct Owner {
    tasks: Vec<Task<u32>>,
}

enum OwnerCall {
    /// Start a task linked to the owner, keep it, answer its pid.
    Linked(BoxedJob, ReplyTo<Pid>),
    /// Start a linked task and await it at most this long.
    AwaitLinked(BoxedJob, Duration, ReplyTo<Result<u32, TaskError>>),
    /// Start a task under the supervisor, not linked, and await it.
    AwaitNoLink(TaskSupervisor, BoxedJob, ReplyTo<Result<u32, TaskError>>),
    /// Start a task under the supervisor, linked to the owner; answer its pid.
    SupervisedLinked(TaskSupervisor, BoxedJob, ReplyTo<Pid>),
}

impl GenServer for Owner {
    type Call = OwnerCall;
    type Cast = ();
    type Reply = ();

    async fn handle_call(&mut self, call: OwnerCall, ctx: &mut Context<Self>) -> Reply<()> {
        match call {
            OwnerCall::Linked(job, reply) => {
                let task = Task::async_linked(ctx, job);
                reply.reply(task.pid());
                self.tasks.push(task);
            }
            OwnerCall::AwaitLinked(job, timeout, reply) => {
                let task = Task::async_linked(ctx, job);
                reply.reply(task.await_timeout(timeout).await);
            }
            OwnerCall::AwaitNoLink(tasks, job, reply) => {
                let task = tasks.async_nolink(job).await.unwrap();
                reply.reply(task.await_result().await);
            }
            OwnerCall::SupervisedLinked(tasks, job, reply) => {
                let task = tasks.async_linked(ctx, job).await.unwrap();
                reply.reply(task.pid());
                self.tasks.push(task);
            }
        }
        Reply::Now(())
    }
}

async fn start_owner() -> noex::ServerRef<Owner> {
    gen_server::start(Owner::default(), StartOptions::new())
        .await
        .unwrap()
}

fn crashing(after: Duration, message: &'static str) -> BoxedJob {
    Box::pin(async move {
        tokio::time::sleep(after).await;
        panic!("{message}")
    })
}

#[tokio::test(start_paused = true)]
async fn linked_task_crash_kills_caller() {
    let owner = start_owner().await;
    let crash = crashing(Duration::from_millis(10), "linked task failed");
    owner
        .request(|reply| OwnerCall::Linked(crash, reply))
        .await
        .unwrap();
    let reason = within("the caller's exit", owner.wait()).await;
    assert!(
        matches!(&reason, ExitReason::Error(m) if m.contains("linked task failed")),
        "{reason:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn caller_exit_kills_linked_task() {
    let owner = start_owner().await;
    let (held, future) = held_task();
    let pid = owner
        .request(|reply| OwnerCall::Linked(Box::pin(future), reply))
        .await
        .unwrap();
    let down = process::monitor(pid);
    owner.stop(ExitReason::Shutdown).await.unwrap();
    assert_eq!(
        within("the task's end", down).await.reason,
        ExitReason::Shutdown
    );
    assert!(!held.release_and_see_it_finish().await);
}

#[tokio::test(start_paused = true)]
async fn caller_normal_exit_leaves_linked_task_running() {
    let owner = start_owner().await;
    let (held, future) = held_task();
    owner
        .request(|reply| OwnerCall::Linked(Box::pin(future), reply))
        .await
        .unwrap();
    owner.stop(ExitReason::Normal).await.unwrap();
    assert!(
        held.release_and_see_it_finish().await,
        "a normal exit signal does not end a linked process"
    );
}

#[tokio::test(start_paused = true)]
async fn linked_task_await_timeout_kills_the_task_not_the_caller() {
    let owner = start_owner().await;
    let (held, future) = held_task();
    let outcome = owner
        .request(|reply| {
            OwnerCall::AwaitLinked(Box::pin(future), Duration::from_millis(100), reply)
        })
        .await
        .unwrap();
    assert!(
        matches!(outcome, Err(TaskError::Timeout { .. })),
        "{outcome:?}"
    );
    assert!(
        !held.release_and_see_it_finish().await,
        "the task was not killed"
    );
    assert!(owner.is_running(), "the task's kill reached its caller");
    owner.stop(ExitReason::Normal).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn async_nolink_crash_does_not_kill_caller() {
    let tasks = TaskSupervisor::start(TaskSupervisorOptions::new())
        .await
        .unwrap();
    let owner = start_owner().await;
    let crash = crashing(Duration::from_millis(10), "unlinked task failed");
    let outcome = owner
        .request(|reply| OwnerCall::AwaitNoLink(tasks.clone(), crash, reply))
        .await
        .unwrap();
    let reason = reason_of(outcome.unwrap_err());
    assert!(matches!(&reason, ExitReason::Error(m) if m.contains("unlinked task failed")));
    assert!(owner.is_running());
    owner.stop(ExitReason::Normal).await.unwrap();
    assert!(tasks.supervisor_ref().is_running());
    tasks.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn supervised_linked_task_crash_kills_caller() {
    let tasks = TaskSupervisor::start(TaskSupervisorOptions::new())
        .await
        .unwrap();
    let owner = start_owner().await;
    let crash = crashing(Duration::from_millis(10), "supervised task failed");
    owner
        .request(|reply| OwnerCall::SupervisedLinked(tasks.clone(), crash, reply))
        .await
        .unwrap();
    let reason = within("the caller's exit", owner.wait()).await;
    assert!(matches!(&reason, ExitReason::Error(m) if m.contains("supervised task failed")));
    tasks.stop().await.unwrap();
}

// ---- Task supervisor ----

#[tokio::test(start_paused = true)]
async fn task_supervisor_children_listed_and_temporary_not_restarted() {
    let tasks = TaskSupervisor::start(TaskSupervisorOptions::new())
        .await
        .unwrap();
    let (crash_now, crash_signal) = oneshot::channel::<()>();
    let crashing = tasks
        .start_child(async move {
            let _ = crash_signal.await;
            panic!("temporary task failed");
        })
        .await
        .unwrap();
    let staying = tasks.start_child(tokio::time::sleep(LONG)).await.unwrap();
    let mut children = tasks.children().await.unwrap();
    children.sort();
    assert_eq!(children, vec![crashing, staying]);

    let _ = crash_now.send(());
    within("the crash", process::monitor(crashing)).await;
    eventually("the crashed task leaves its supervisor", || async {
        (tasks.children().await.unwrap() == vec![staying]).then_some(())
    })
    .await;
    let count = tasks.supervisor_ref().count_children().await.unwrap();
    assert_eq!(count.active, 1, "a temporary task is not restarted");

    tasks.terminate_child(staying).await.unwrap();
    assert!(!process::is_alive(staying));
    assert_eq!(tasks.children().await.unwrap(), Vec::<Pid>::new());
    tasks.stop().await.unwrap();
}

fn supervisor_node(nodes: &[TreeNode], pid: Pid) -> Option<&TreeNode> {
    nodes.iter().find_map(|node| match node {
        TreeNode::Supervisor { info, .. } if info.pid == pid => Some(node),
        TreeNode::Supervisor { children, .. } => supervisor_node(children, pid),
        _ => None,
    })
}

#[tokio::test(start_paused = true)]
async fn task_supervisor_tasks_show_in_observer_under_it() {
    let app = supervisor::start(
        SupervisorSpec::one_for_one().child(TaskSupervisor::child_spec(
            "tasks",
            TaskSupervisorOptions::new().name("observed-tasks"),
        )),
    )
    .await
    .unwrap();
    let tasks = TaskSupervisor::lookup("observed-tasks").unwrap();
    let fire_and_forget = tasks.start_child(tokio::time::sleep(LONG)).await.unwrap();
    let awaited = tasks
        .async_nolink(async {
            tokio::time::sleep(LONG).await;
            1
        })
        .await
        .unwrap();

    let tree = observer::process_tree();
    let Some(TreeNode::Supervisor { children, .. }) = supervisor_node(&tree.roots, tasks.pid())
    else {
        panic!("the task supervisor is not in the tree: {tree:?}");
    };
    let under_it: Vec<Pid> = children.iter().filter_map(TreeNode::pid).collect();
    assert_eq!(under_it, vec![fire_and_forget, awaited.pid()]);
    assert!(
        supervisor_node(&tree.roots, app.pid()).is_some_and(|app| matches!(app,
            TreeNode::Supervisor { children, .. } if children.iter().any(|c| c.pid() == Some(tasks.pid())))),
        "the task supervisor sits under the application's supervisor"
    );
    app.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn task_supervisor_stop_ends_running_tasks_at_once() {
    let tasks = TaskSupervisor::start(TaskSupervisorOptions::new())
        .await
        .unwrap();
    let (held, future) = held_task();
    let pid = tasks.start_child(future).await.unwrap();
    let down = process::monitor(pid);
    let before = tokio::time::Instant::now();
    tasks.stop().await.unwrap();
    assert!(
        before.elapsed() < Duration::from_secs(5),
        "the stop waited out a shutdown timeout the future could not use"
    );
    assert!(within("the task's end", down).await.reason.is_abnormal());
    assert!(!held.release_and_see_it_finish().await);
}

#[tokio::test(start_paused = true)]
async fn task_supervisor_lookup_of_another_supervisor_refuses_tasks() {
    let plain = supervisor::start(SupervisorSpec::one_for_one().name("not-a-task-supervisor"))
        .await
        .unwrap();
    let tasks = TaskSupervisor::lookup("not-a-task-supervisor").unwrap();
    assert!(tasks.start_child(async {}).await.is_err());
    plain.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn task_child_spec_runs_once_under_a_supervisor_as_a_temporary_child() {
    let (ran, mut runs) = tokio::sync::mpsc::unbounded_channel();
    let app = supervisor::start(SupervisorSpec::one_for_one().child(task::child_spec(
        "warm-up",
        move || {
            let ran = ran.clone();
            async move {
                let _ = ran.send(());
                panic!("warm-up failed");
            }
        },
    )))
    .await
    .unwrap();
    within("the task's run", runs.recv()).await;
    // A temporary child that ends leaves its supervisor, spec and all (OTP).
    eventually("the task's exit", || async {
        app.child_info("warm-up")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    assert_eq!(app.count_children().await.unwrap().active, 0);
    assert!(
        runs.try_recv().is_err(),
        "a temporary task is not restarted"
    );
    app.stop().await.unwrap();
}
