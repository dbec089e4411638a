//! The Supervisor contract, one OTP rule per test.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use noex::gen_server::{Context, GenServer, Reply};
use noex::registry;
use noex::supervisor::{self, ChildSpec, RestartType, Shutdown, SupervisorSpec};
use noex::{ExitReason, Pid, ServerRef, StartError, SupervisorError, SupervisorRef};

mod support;
use support::Idle;

type Log = Arc<Mutex<Vec<String>>>;

/// A worker that logs its start and terminate, and crashes or exits on request.
struct Worker {
    id: String,
    log: Log,
    fail_init: bool,
    mailbox_seen: u32,
}

enum Order {
    Crash,
    Exit(ExitReason),
    Count,
    Hang,
}

impl GenServer for Worker {
    type Call = Order;
    type Cast = ();
    type Reply = u32;

    async fn init(&mut self, _: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        if self.fail_init {
            return Err(format!("{} refuses to start", self.id).into());
        }
        self.log.lock().unwrap().push(format!("start {}", self.id));
        Ok(())
    }

    async fn handle_call(&mut self, order: Order, ctx: &mut Context<Self>) -> Reply<u32> {
        match order {
            Order::Crash => panic!("{} crashed", self.id),
            Order::Exit(reason) => {
                ctx.stop(reason);
                Reply::Now(0)
            }
            Order::Count => Reply::Now(self.mailbox_seen),
            Order::Hang => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Reply::Now(0)
            }
        }
    }

    async fn handle_cast(&mut self, _: (), _: &mut Context<Self>) {
        self.mailbox_seen += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    async fn terminate(&mut self, reason: &ExitReason, _: &mut Context<Self>) {
        self.log
            .lock()
            .unwrap()
            .push(format!("stop {} ({reason})", self.id));
    }
}

fn worker(prefix: &str, id: &str, log: &Log) -> ChildSpec {
    let (name, id, log) = (format!("{prefix}.{id}"), id.to_string(), log.clone());
    ChildSpec::worker(id.clone(), move || Worker {
        id: id.clone(),
        log: log.clone(),
        fail_init: false,
        mailbox_seen: 0,
    })
    .name(name)
}

fn server(prefix: &str, id: &str) -> ServerRef<Worker> {
    registry::lookup::<Worker>(&format!("{prefix}.{id}")).unwrap()
}

fn log() -> Log {
    Arc::new(Mutex::new(Vec::new()))
}

fn take(log: &Log) -> Vec<String> {
    std::mem::take(&mut *log.lock().unwrap())
}

async fn pids(sup: &SupervisorRef) -> Vec<Option<Pid>> {
    sup.children()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.pid)
        .collect()
}

/// Crash a child and wait until the supervisor has reacted (its pid list changed).
async fn crash_and_settle(sup: &SupervisorRef, prefix: &str, id: &str) {
    let before = pids(sup).await;
    let _ = server(prefix, id).call(Order::Crash).await;
    settle(sup, &before).await;
}

async fn settle(sup: &SupervisorRef, before: &[Option<Pid>]) {
    for _ in 0..400 {
        if sup.is_running() && pids(sup).await.as_slice() != before {
            return;
        }
        if !sup.is_running() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("supervisor did not react");
}

#[tokio::test]
async fn children_start_in_order_and_stop_in_reverse_order_running_terminate() {
    let log = log();
    let sup = supervisor::start(
        SupervisorSpec::one_for_one()
            .child(worker("order", "a", &log))
            .child(worker("order", "b", &log))
            .child(worker("order", "c", &log)),
    )
    .await
    .unwrap();
    assert_eq!(take(&log), ["start a", "start b", "start c"]);
    sup.stop().await.unwrap();
    assert_eq!(
        take(&log),
        [
            "stop c (shutdown)",
            "stop b (shutdown)",
            "stop a (shutdown)"
        ]
    );
    assert_eq!(sup.wait().await, ExitReason::Shutdown);
}

#[tokio::test]
async fn one_for_one_restarts_only_the_crashed_child() {
    let log = log();
    let sup = supervisor::start(
        SupervisorSpec::one_for_one()
            .child(worker("ofo", "a", &log))
            .child(worker("ofo", "b", &log))
            .child(worker("ofo", "c", &log)),
    )
    .await
    .unwrap();
    let before = pids(&sup).await;
    take(&log);
    crash_and_settle(&sup, "ofo", "b").await;
    let after = pids(&sup).await;
    assert_eq!(after[0], before[0]);
    assert_ne!(after[1], before[1]);
    assert_eq!(after[2], before[2]);
    assert_eq!(take(&log), ["stop b (b crashed)", "start b"]);
}

#[tokio::test]
async fn one_for_all_restarts_every_sibling_in_start_order() {
    let log = log();
    let sup = supervisor::start(
        SupervisorSpec::one_for_all()
            .child(worker("ofa", "a", &log))
            .child(worker("ofa", "b", &log))
            .child(worker("ofa", "c", &log)),
    )
    .await
    .unwrap();
    let before = pids(&sup).await;
    take(&log);
    crash_and_settle(&sup, "ofa", "b").await;
    let after = pids(&sup).await;
    assert!(
        after.iter().zip(&before).all(|(a, b)| a != b),
        "every child is new"
    );
    assert_eq!(
        take(&log),
        [
            "stop b (b crashed)",
            "stop c (shutdown)",
            "stop a (shutdown)",
            "start a",
            "start b",
            "start c"
        ]
    );
}

#[tokio::test]
async fn rest_for_one_restarts_only_the_later_children() {
    let log = log();
    let sup = supervisor::start(
        SupervisorSpec::rest_for_one()
            .child(worker("rfo", "a", &log))
            .child(worker("rfo", "b", &log))
            .child(worker("rfo", "c", &log)),
    )
    .await
    .unwrap();
    let before = pids(&sup).await;
    take(&log);
    crash_and_settle(&sup, "rfo", "b").await;
    let after = pids(&sup).await;
    assert_eq!(after[0], before[0], "earlier child untouched");
    assert_ne!(after[1], before[1]);
    assert_ne!(after[2], before[2]);
    assert_eq!(
        take(&log),
        [
            "stop b (b crashed)",
            "stop c (shutdown)",
            "start b",
            "start c"
        ]
    );
}

#[tokio::test]
async fn a_permanent_child_is_restarted_even_after_a_normal_exit() {
    let log = log();
    let sup = supervisor::start(SupervisorSpec::one_for_one().child(worker("perm", "a", &log)))
        .await
        .unwrap();
    let before = pids(&sup).await;
    server("perm", "a")
        .call(Order::Exit(ExitReason::Normal))
        .await
        .unwrap();
    settle(&sup, &before).await;
    assert!(pids(&sup).await[0].is_some());
    assert_eq!(sup.children().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_transient_child_that_exits_normally_is_not_restarted() {
    let log = log();
    let sup = supervisor::start(
        SupervisorSpec::one_for_one()
            .child(worker("trans-n", "a", &log).restart(RestartType::Transient)),
    )
    .await
    .unwrap();
    let before = pids(&sup).await;
    server("trans-n", "a")
        .call(Order::Exit(ExitReason::Normal))
        .await
        .unwrap();
    settle(&sup, &before).await;
    assert_eq!(pids(&sup).await, vec![None], "spec kept, not running");
}

#[tokio::test]
async fn a_transient_child_that_crashes_is_restarted() {
    let log = log();
    let sup = supervisor::start(
        SupervisorSpec::one_for_one()
            .child(worker("trans-c", "a", &log).restart(RestartType::Transient)),
    )
    .await
    .unwrap();
    crash_and_settle(&sup, "trans-c", "a").await;
    assert!(pids(&sup).await[0].is_some());
}

#[tokio::test]
async fn a_temporary_child_is_never_restarted_and_its_spec_is_removed() {
    let log = log();
    let sup = supervisor::start(
        SupervisorSpec::one_for_one()
            .child(worker("temp", "a", &log).restart(RestartType::Temporary))
            .child(worker("temp", "b", &log)),
    )
    .await
    .unwrap();
    let before = pids(&sup).await;
    let _ = server("temp", "a").call(Order::Crash).await;
    settle(&sup, &before).await;
    let children = sup.children().await.unwrap();
    assert_eq!(
        children.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["b"]
    );
}

#[tokio::test]
async fn a_temporary_sibling_taken_down_by_one_for_all_is_not_restarted() {
    let log = log();
    let sup = supervisor::start(
        SupervisorSpec::one_for_all()
            .child(worker("ofa-temp", "a", &log))
            .child(worker("ofa-temp", "t", &log).restart(RestartType::Temporary)),
    )
    .await
    .unwrap();
    take(&log);
    crash_and_settle(&sup, "ofa-temp", "a").await;
    let children = sup.children().await.unwrap();
    assert_eq!(
        children.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["a"]
    );
    assert_eq!(
        take(&log),
        ["stop a (a crashed)", "stop t (shutdown)", "start a"]
    );
}

#[tokio::test]
async fn exceeding_intensity_stops_every_child_then_the_supervisor() {
    let log = log();
    let sup = supervisor::start(
        SupervisorSpec::one_for_one()
            .max_restarts(2, Duration::from_secs(5))
            .child(worker("intens", "a", &log))
            .child(worker("intens", "b", &log)),
    )
    .await
    .unwrap();
    crash_and_settle(&sup, "intens", "a").await;
    crash_and_settle(&sup, "intens", "a").await;
    assert!(sup.is_running(), "two restarts are within the limit");
    take(&log);
    let _ = server("intens", "a").call(Order::Crash).await;
    let reason = sup.wait().await;
    assert_eq!(
        reason,
        ExitReason::MaxRestartsExceeded(noex::MaxRestartsExceededError {
            max_restarts: 2,
            within: Duration::from_secs(5)
        })
    );
    assert_eq!(take(&log), ["stop a (a crashed)", "stop b (shutdown)"]);
    assert!(!registry::is_registered("intens.b"));
}

#[tokio::test]
/// OTP: a supervisor that reaches its intensity exits with `shutdown`, and its
/// parent acts by that child's restart type: a permanent one is restarted.
async fn a_supervisor_over_its_limit_escalates_to_its_parent_as_a_shutdown() {
    let log = log();
    let inner = SupervisorSpec::one_for_one()
        .max_restarts(0, Duration::from_secs(5))
        .name("esc.inner")
        .child(worker("esc", "a", &log));
    let outer = supervisor::start(
        SupervisorSpec::one_for_one()
            .child(ChildSpec::supervisor("inner", inner))
            .child(worker("esc", "sibling", &log)),
    )
    .await
    .unwrap();
    let inner_before = registry::whereis("esc.inner").unwrap();
    let sibling_before = registry::whereis("esc.sibling").unwrap();
    let before = pids(&outer).await;
    let _ = server("esc", "a").call(Order::Crash).await;
    settle(&outer, &before).await;
    let inner_after = registry::whereis("esc.inner").expect("inner supervisor restarted");
    assert_ne!(inner_after, inner_before);
    assert_eq!(
        registry::whereis("esc.sibling"),
        Some(sibling_before),
        "one_for_one parent"
    );
    let restarted = outer.child("inner").await.unwrap().unwrap();
    assert_eq!(restarted.pid, Some(inner_after));
    // The restarted inner supervisor started its worker again.
    assert!(server("esc", "a").is_running());
}

/// The same shutdown is a normal exit for a transient child supervisor: its parent
/// does not restart it (OTP's `do_restart(shutdown, ...)`), and nothing crashed.
#[tokio::test]
async fn a_transient_supervisor_that_gives_up_is_not_restarted_by_its_parent() {
    let log = log();
    let inner = SupervisorSpec::one_for_one()
        .max_restarts(0, Duration::from_secs(5))
        .name("esc-t.inner")
        .child(worker("esc-t", "a", &log));
    let outer = supervisor::start(
        SupervisorSpec::one_for_one()
            .child(ChildSpec::supervisor("inner", inner).restart(RestartType::Transient)),
    )
    .await
    .unwrap();
    let inner = registry::lookup_supervisor("esc-t.inner").unwrap();
    let mut events = noex::events::subscribe();
    let _ = server("esc-t", "a").call(Order::Crash).await;
    let reason = inner.wait().await;
    assert!(reason.is_shutdown() && !reason.is_abnormal(), "{reason:?}");
    assert_eq!(pids(&outer).await, vec![None], "kept, not restarted");
    assert!(outer.is_running());
    let inner_exit = loop {
        let event = events.recv().await.unwrap();
        if event.pid == inner.pid()
            && matches!(
                event.kind,
                noex::events::EventKind::Terminated { .. }
                    | noex::events::EventKind::Crashed { .. }
            )
        {
            break event.kind;
        }
    };
    assert_eq!(
        inner_exit,
        noex::events::EventKind::Terminated {
            reason: "shutdown: max restarts exceeded: more than 0 restarts in 5s".into()
        }
    );
}

#[tokio::test]
async fn a_restarted_child_starts_with_an_empty_mailbox() {
    let log = log();
    let sup = supervisor::start(SupervisorSpec::one_for_one().child(worker("mbox", "a", &log)))
        .await
        .unwrap();
    let old = server("mbox", "a");
    for _ in 0..50 {
        old.cast(()).unwrap();
    }
    let before = pids(&sup).await;
    old.kill();
    settle(&sup, &before).await;
    let new = server("mbox", "a");
    assert_ne!(new.pid(), old.pid());
    assert_eq!(new.call(Order::Count).await.unwrap(), 0);
}

#[tokio::test]
async fn brutal_kill_shutdown_does_not_run_terminate() {
    let log = log();
    let sup = supervisor::start(
        SupervisorSpec::one_for_one()
            .child(worker("brutal", "a", &log).shutdown(Shutdown::BrutalKill)),
    )
    .await
    .unwrap();
    take(&log);
    sup.terminate_child("a").await.unwrap();
    assert!(take(&log).is_empty());
    assert_eq!(pids(&sup).await, vec![None]);
}

#[tokio::test(start_paused = true)]
async fn a_shutdown_timeout_asks_then_kills_a_child_that_does_not_stop() {
    let log = log();
    let sup = supervisor::start(SupervisorSpec::one_for_one().child(
        worker("timeout", "a", &log).shutdown(Shutdown::Timeout(Duration::from_millis(500))),
    ))
    .await
    .unwrap();
    let stuck = server("timeout", "a");
    let hung = {
        let stuck = stuck.clone();
        tokio::spawn(async move {
            stuck
                .call_timeout(Order::Hang, Duration::from_secs(7200))
                .await
        })
    };
    tokio::task::yield_now().await;
    take(&log);
    let began = tokio::time::Instant::now();
    sup.terminate_child("a").await.unwrap();
    let waited = began.elapsed();
    assert!(
        waited >= Duration::from_millis(500) && waited < Duration::from_millis(600),
        "{waited:?}"
    );
    assert!(take(&log).is_empty(), "killed, so terminate did not run");
    assert_eq!(stuck.wait().await, ExitReason::Killed);
    assert!(hung.await.unwrap().is_err());
}

#[tokio::test]
async fn dynamic_children_start_terminate_restart_and_delete() {
    let log = log();
    let sup = supervisor::start(SupervisorSpec::one_for_one().child(worker("dyn", "a", &log)))
        .await
        .unwrap();
    let pid = sup.start_child(worker("dyn", "b", &log)).await.unwrap();
    assert_eq!(registry::whereis("dyn.b"), Some(pid));
    let duplicate = sup.start_child(worker("dyn", "b", &log)).await.unwrap_err();
    assert!(
        matches!(duplicate, SupervisorError::AlreadyStarted { ref id, pid: running } if id == "b" && running == pid),
        "{duplicate:?}"
    );

    sup.terminate_child("b").await.unwrap();
    assert_eq!(sup.child("b").await.unwrap().unwrap().pid, None);
    let count = sup.count_children().await.unwrap();
    assert_eq!(
        (count.specs, count.active, count.workers, count.supervisors),
        (2, 1, 2, 0)
    );

    let restarted = sup.restart_child("b").await.unwrap();
    assert_ne!(restarted, pid);
    assert_eq!(registry::whereis("dyn.b"), Some(restarted));

    assert!(matches!(
        sup.delete_child("b").await,
        Err(SupervisorError::Running { .. })
    ));
    sup.terminate_child("b").await.unwrap();
    sup.delete_child("b").await.unwrap();
    assert!(sup.child("b").await.unwrap().is_none());
    assert!(!registry::is_registered("dyn.b"));
    let missing = sup.terminate_child("nope").await.unwrap_err();
    assert!(matches!(missing, SupervisorError::ChildNotFound(e) if e.id == "nope"));
    assert!(matches!(
        sup.restart_child("nope").await,
        Err(SupervisorError::ChildNotFound(_))
    ));
}

#[tokio::test]
async fn a_child_that_fails_to_start_stops_the_ones_started_before_it() {
    let log = log();
    let log2 = log.clone();
    let bad = ChildSpec::worker("bad", move || Worker {
        id: "bad".into(),
        log: log2.clone(),
        fail_init: true,
        mailbox_seen: 0,
    });
    let error = supervisor::start(
        SupervisorSpec::one_for_one()
            .child(worker("badstart", "a", &log))
            .child(bad)
            .child(worker("badstart", "c", &log)),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, StartError::Initialization(_)), "{error:?}");
    assert!(
        error.to_string().contains("bad refuses to start"),
        "{error}"
    );
    assert_eq!(take(&log), ["start a", "stop a (shutdown)"]);
}

#[tokio::test]
async fn simple_one_for_one_starts_children_from_a_template_with_arguments() {
    struct Conn(u32);
    impl GenServer for Conn {
        type Call = ();
        type Cast = ();
        type Reply = u32;
        async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<u32> {
            Reply::Now(self.0)
        }
    }
    let sup = supervisor::start(SupervisorSpec::simple_one_for_one(ChildSpec::worker_with(
        "conn",
        |port: &u32| Conn(*port),
    )))
    .await
    .unwrap();
    let first = sup.start_child_with(8080u32).await.unwrap();
    let second = sup.start_child_with(9090u32).await.unwrap();
    let children = sup.children().await.unwrap();
    assert_eq!(
        children.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["conn-1", "conn-2"]
    );
    assert_eq!(
        children.iter().map(|c| c.pid).collect::<Vec<_>>(),
        [Some(first), Some(second)]
    );
    let wrong = sup.start_child_with("not a port").await.unwrap_err();
    assert!(
        matches!(
            wrong,
            SupervisorError::Start(StartError::BadArgument { .. })
        ),
        "{wrong:?}"
    );
    let unsupported = sup.restart_child("conn-1").await.unwrap_err();
    assert!(matches!(unsupported, SupervisorError::Unsupported { .. }));
    sup.terminate_child("conn-1").await.unwrap();
    assert_eq!(
        sup.children().await.unwrap().len(),
        1,
        "a terminated dynamic child is removed"
    );
}

#[tokio::test]
async fn a_registered_name_follows_the_child_across_restarts() {
    let log = log();
    let sup = supervisor::start(SupervisorSpec::one_for_one().child(worker("rename", "a", &log)))
        .await
        .unwrap();
    let old = registry::whereis("rename.a").unwrap();
    crash_and_settle(&sup, "rename", "a").await;
    let new = registry::whereis("rename.a").unwrap();
    assert_ne!(old, new);
    assert_eq!(pids(&sup).await, vec![Some(new)]);
}

/// A worker whose next `fails` starts fail in `init`.
struct Fragile {
    fails: Arc<std::sync::atomic::AtomicU32>,
}

impl GenServer for Fragile {
    type Call = ();
    type Cast = ();
    type Reply = ();

    async fn init(&mut self, _: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        let left = self.fails.load(std::sync::atomic::Ordering::SeqCst);
        if left > 0 {
            self.fails
                .store(left - 1, std::sync::atomic::Ordering::SeqCst);
            return Err("not yet".into());
        }
        Ok(())
    }

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }
}

fn fragile(name: &str, fails: &Arc<std::sync::atomic::AtomicU32>) -> ChildSpec {
    let fails = fails.clone();
    ChildSpec::worker("a", move || Fragile {
        fails: fails.clone(),
    })
    .name(name)
}

/// Kill the running instance registered as `name`; returns once it has ended.
async fn kill_named(name: &str) {
    let server = registry::lookup::<Fragile>(name).unwrap();
    server.kill();
    server.wait().await;
}

/// OTP's `try_again_restart`: a restart whose start fails counts toward the
/// intensity and is tried again through the supervisor's own mailbox, so a request
/// that came meanwhile is answered between attempts, and sees the child restarting.
#[tokio::test(start_paused = true)]
async fn try_again_a_failed_restart_is_retried_through_the_mailbox() {
    let fails = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let sup = supervisor::start(
        SupervisorSpec::one_for_one()
            .max_restarts(10, Duration::from_secs(60))
            .child(fragile("try-again.retried", &fails)),
    )
    .await
    .unwrap();
    let mut events = noex::events::subscribe();
    fails.store(5, std::sync::atomic::Ordering::SeqCst);
    kill_named("try-again.retried").await;
    // The Exit is queued before this call: the first attempt has failed when it is
    // answered, and the retry is queued behind it.
    assert_eq!(sup.children().await.unwrap()[0].pid, None, "restarting");
    assert!(matches!(
        sup.restart_child("a").await,
        Err(SupervisorError::Restarting { ref id }) if id == "a"
    ));
    assert!(matches!(
        sup.delete_child("a").await,
        Err(SupervisorError::Restarting { .. })
    ));
    // Attempts 1 to 5 fail; the 6th starts it.
    let restarted = loop {
        let event = events.recv().await.unwrap();
        if event.parent == Some(sup.pid())
            && matches!(event.kind, noex::events::EventKind::Restarted { .. })
        {
            break event;
        }
    };
    assert!(matches!(
        restarted.kind,
        noex::events::EventKind::Restarted { attempt: 6 }
    ));
    assert_eq!(pids(&sup).await, vec![Some(restarted.pid)]);
    assert!(sup.is_running());
}

/// Each failed attempt counts toward the intensity: a child that never starts
/// exhausts it, and the supervisor gives up instead of looping.
#[tokio::test(start_paused = true)]
async fn try_again_attempts_count_toward_the_intensity() {
    let fails = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let sup = supervisor::start(
        SupervisorSpec::one_for_one()
            .max_restarts(3, Duration::from_secs(60))
            .child(fragile("try-again.counted", &fails)),
    )
    .await
    .unwrap();
    fails.store(u32::MAX, std::sync::atomic::Ordering::SeqCst);
    kill_named("try-again.counted").await;
    assert_eq!(
        sup.wait().await,
        ExitReason::MaxRestartsExceeded(noex::MaxRestartsExceededError {
            max_restarts: 3,
            within: Duration::from_secs(60)
        })
    );
    assert_eq!(
        fails.load(std::sync::atomic::Ordering::SeqCst),
        u32::MAX - 3,
        "three attempts, then the fourth restart exceeded the intensity"
    );
}

/// A child terminated while its restart is pending is left alone by the retry.
#[tokio::test(start_paused = true)]
async fn try_again_stops_once_the_child_is_terminated() {
    let fails = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let sup = supervisor::start(
        SupervisorSpec::one_for_one()
            .max_restarts(100, Duration::from_secs(60))
            .child(fragile("try-again.terminated", &fails)),
    )
    .await
    .unwrap();
    fails.store(u32::MAX, std::sync::atomic::Ordering::SeqCst);
    kill_named("try-again.terminated").await;
    sup.terminate_child("a").await.unwrap();
    let attempts = u32::MAX - fails.load(std::sync::atomic::Ordering::SeqCst);
    // Let any retry already queued run: none starts another attempt.
    for _ in 0..10 {
        sup.count_children().await.unwrap();
    }
    assert_eq!(
        u32::MAX - fails.load(std::sync::atomic::Ordering::SeqCst),
        attempts
    );
    assert_eq!(pids(&sup).await, vec![None]);
    assert!(sup.is_running());
    fails.store(0, std::sync::atomic::Ordering::SeqCst);
    assert!(
        sup.restart_child("a").await.is_ok(),
        "stopped, so restartable"
    );
}

/// OTP's `start_child` on a known id: `{error, {already_started, Pid}}` while it
/// runs, `{error, already_present}` once it does not.
#[tokio::test]
async fn start_child_of_a_known_id_is_already_started_or_already_present() {
    let log = log();
    let sup = supervisor::start(SupervisorSpec::one_for_one().child(worker("known", "a", &log)))
        .await
        .unwrap();
    let running = registry::whereis("known.a").unwrap();
    assert!(matches!(
        sup.start_child(worker("known", "a", &log)).await,
        Err(SupervisorError::AlreadyStarted { id, pid }) if id == "a" && pid == running
    ));
    sup.terminate_child("a").await.unwrap();
    assert!(matches!(
        sup.start_child(worker("known", "a", &log)).await,
        Err(SupervisorError::AlreadyPresent { id }) if id == "a"
    ));
}

/// OTP: `delete_child` and `restart_child` of a running child answer
/// `{error, running}`; the child goes on running.
#[tokio::test]
async fn delete_child_running_and_restart_child_running_are_errors() {
    let log = log();
    let sup = supervisor::start(SupervisorSpec::one_for_one().child(worker("running", "a", &log)))
        .await
        .unwrap();
    let pid = registry::whereis("running.a").unwrap();
    assert!(matches!(
        sup.delete_child("a").await,
        Err(SupervisorError::Running { id }) if id == "a"
    ));
    assert!(matches!(
        sup.restart_child("a").await,
        Err(SupervisorError::Running { id }) if id == "a"
    ));
    assert_eq!(pids(&sup).await, vec![Some(pid)], "untouched");
}

/// OTP: `delete_child`, `restart_child` and a `start_child` with a spec are not for
/// a simple_one_for_one supervisor (`{error, simple_one_for_one}`).
#[tokio::test]
async fn simple_one_for_one_refuses_delete_child_restart_child_and_specs() {
    let sup = supervisor::start(SupervisorSpec::simple_one_for_one(ChildSpec::worker_with(
        "dyn",
        |_: &()| Idle,
    )))
    .await
    .unwrap();
    sup.start_child_with(()).await.unwrap();
    for refused in [
        sup.delete_child("dyn-1").await.map(|_| ()),
        sup.restart_child("dyn-1").await.map(|_| ()),
        sup.start_child(ChildSpec::worker("x", || Idle))
            .await
            .map(|_| ()),
    ] {
        assert!(
            matches!(
                refused,
                Err(SupervisorError::Unsupported {
                    strategy: "simple_one_for_one",
                    ..
                })
            ),
            "{refused:?}"
        );
    }
    assert_eq!(sup.count_children().await.unwrap().active, 1);
}

/// OTP's defaults: intensity 1 in 5 s; a worker's shutdown 5 s, a supervisor's
/// infinity.
#[test]
fn defaults_are_otps_intensity_one_in_five_seconds_and_shutdown_five_seconds_or_infinity() {
    assert_eq!(supervisor::DEFAULT_MAX_RESTARTS, 1);
    assert_eq!(supervisor::DEFAULT_RESTART_WINDOW, Duration::from_secs(5));
    assert_eq!(
        supervisor::DEFAULT_WORKER_SHUTDOWN,
        Shutdown::Timeout(Duration::from_secs(5))
    );
    let worker = format!("{:?}", ChildSpec::worker("w", || Idle));
    assert!(worker.contains("shutdown: Timeout(5s)"), "{worker}");
    let nested = format!(
        "{:?}",
        ChildSpec::supervisor("s", SupervisorSpec::one_for_one())
    );
    assert!(nested.contains("shutdown: Infinity"), "{nested}");
}

/// A second restart within 5 s exceeds the default intensity.
#[tokio::test(start_paused = true)]
async fn the_default_intensity_gives_up_at_the_second_restart_within_five_seconds() {
    let log = log();
    let sup = supervisor::start(SupervisorSpec::one_for_one().child(worker("dflt", "a", &log)))
        .await
        .unwrap();
    crash_and_settle(&sup, "dflt", "a").await;
    assert!(sup.is_running(), "one restart is allowed");
    tokio::time::advance(Duration::from_secs(6)).await;
    crash_and_settle(&sup, "dflt", "a").await;
    assert!(sup.is_running(), "the first restart left the window");
    let _ = server("dflt", "a").call(Order::Crash).await;
    assert!(matches!(
        sup.wait().await,
        ExitReason::MaxRestartsExceeded(noex::MaxRestartsExceededError {
            max_restarts: 1,
            ..
        })
    ));
}

/// OTP's `do_restart({shutdown, _}, ...)`: a transient child that stops with a
/// shutdown that says why is not restarted; its spec is kept.
#[tokio::test]
async fn a_transient_child_stopping_with_a_shutdown_payload_is_not_restarted() {
    let log = log();
    let sup = supervisor::start(
        SupervisorSpec::one_for_one()
            .child(worker("trans-sw", "a", &log).restart(RestartType::Transient)),
    )
    .await
    .unwrap();
    let child = server("trans-sw", "a");
    let _ = child
        .call(Order::Exit(ExitReason::shutdown_with("draining")))
        .await;
    assert_eq!(child.wait().await, ExitReason::shutdown_with("draining"));
    assert_eq!(pids(&sup).await, vec![None]);
    assert_eq!(sup.children().await.unwrap().len(), 1);
}

/// OTP's `restart_multiple_children`: a group restart starts every non-temporary
/// child of the group, one stopped with `terminate_child` too.
#[tokio::test]
async fn one_for_all_restarts_every_non_temporary_child_even_one_that_was_stopped() {
    let log = log();
    let sup = supervisor::start(
        SupervisorSpec::one_for_all()
            .child(worker("ofa-all", "a", &log))
            .child(worker("ofa-all", "b", &log))
            .child(worker("ofa-all", "c", &log)),
    )
    .await
    .unwrap();
    sup.terminate_child("c").await.unwrap();
    take(&log);
    crash_and_settle(&sup, "ofa-all", "a").await;
    assert!(
        pids(&sup).await.iter().all(Option::is_some),
        "c was started again"
    );
    assert_eq!(
        take(&log),
        [
            "stop a (a crashed)",
            "stop b (shutdown)",
            "start a",
            "start b",
            "start c"
        ]
    );
}
