//! Monitors, links, trapping exits and exit signals, as OTP's `erlang` module
//! documents them (monitor/2, demonitor/2, link/1, unlink/1, process_flag/2
//! trap_exit, exit/2); one rule per test.
//!
//! Just over 600 lines on purpose: links and monitors are one chapter of OTP's docs,
//! and their rules are read (and named in `otp_differences.rs`) together.

use std::time::Duration;

use noex::events::{self, EventKind};
use noex::gen_server::{self, Context, GenServer, Info, Reply, StartOptions};
use noex::process::{self, Down, Exit, MonitorRef};
use noex::registry;
use noex::supervisor::{self, ChildSpec, SupervisorSpec};
use noex::{ExitReason, Pid, ServerNotRunningError, ServerRef, SupervisorError};

mod support;
use support::{Idle, within};

/// A process that watches others and records what reaches its `handle_info`.
#[derive(Default)]
struct Watcher {
    seen: Vec<Seen>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    Down(Down),
    Exit(Exit),
}

enum Order {
    Monitor(Pid),
    Demonitor(MonitorRef),
    Link(Pid),
    Unlink(Pid),
    TrapExit(bool),
    Exit(Pid, ExitReason),
    /// Monitor `pid`, kill it and wait for it to end, then take the monitor back:
    /// its `Down` is queued by then.
    MonitorKillDemonitor(ServerRef<Idle>),
    Seen,
}

enum Answer {
    Monitor(MonitorRef),
    Demonitored(bool),
    Linked(Result<(), noex::ServerNotRunningError>),
    Seen(Vec<Seen>),
    Done,
}

impl GenServer for Watcher {
    type Call = Order;
    type Cast = ();
    type Reply = Answer;

    async fn handle_call(&mut self, order: Order, ctx: &mut Context<Self>) -> Reply<Answer> {
        Reply::Now(match order {
            Order::Monitor(pid) => Answer::Monitor(ctx.monitor(pid)),
            Order::Demonitor(monitor) => Answer::Demonitored(ctx.demonitor(monitor)),
            Order::Link(pid) => Answer::Linked(ctx.link(pid)),
            Order::Unlink(pid) => {
                ctx.unlink(pid);
                Answer::Done
            }
            Order::TrapExit(trap) => {
                ctx.trap_exit(trap);
                Answer::Done
            }
            Order::Exit(pid, reason) => {
                ctx.exit(pid, reason);
                Answer::Done
            }
            Order::MonitorKillDemonitor(target) => {
                let monitor = ctx.monitor(target.pid());
                target.kill();
                target.wait().await;
                Answer::Demonitored(ctx.demonitor(monitor))
            }
            Order::Seen => Answer::Seen(self.seen.clone()),
        })
    }

    async fn handle_info(&mut self, message: Info, _: &mut Context<Self>) {
        let message = match message.downcast::<Down>() {
            Ok(down) => return self.seen.push(Seen::Down(*down)),
            Err(message) => message,
        };
        if let Ok(exit) = message.downcast::<Exit>() {
            self.seen.push(Seen::Exit(*exit));
        }
    }
}

async fn watcher() -> ServerRef<Watcher> {
    gen_server::start(Watcher::default(), StartOptions::new())
        .await
        .unwrap()
}

async fn idle() -> ServerRef<Idle> {
    gen_server::start(Idle, StartOptions::new()).await.unwrap()
}

async fn ask(watcher: &ServerRef<Watcher>, order: Order) -> Answer {
    watcher.call(order).await.unwrap()
}

async fn monitor(watcher: &ServerRef<Watcher>, pid: Pid) -> MonitorRef {
    match ask(watcher, Order::Monitor(pid)).await {
        Answer::Monitor(monitor) => monitor,
        _ => unreachable!(),
    }
}

async fn seen(watcher: &ServerRef<Watcher>) -> Vec<Seen> {
    match ask(watcher, Order::Seen).await {
        Answer::Seen(seen) => seen,
        _ => unreachable!(),
    }
}

async fn demonitored(watcher: &ServerRef<Watcher>, order: Order) -> bool {
    match ask(watcher, order).await {
        Answer::Demonitored(active) => active,
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn monitor_delivers_one_down_with_the_exit_reason() {
    let watcher = watcher().await;
    let target = idle().await;
    let monitor = monitor(&watcher, target.pid()).await;
    assert_eq!(monitor.target(), target.pid());
    let shown = monitor.to_string();
    assert!(
        shown.starts_with("#Ref<") && shown.ends_with('>'),
        "{shown}"
    );
    target
        .stop(ExitReason::shutdown_with("draining"))
        .await
        .unwrap();
    // Delivered before `stop` returned, so it is handled before this call.
    assert_eq!(
        seen(&watcher).await,
        [Seen::Down(Down {
            monitor,
            pid: target.pid(),
            reason: ExitReason::shutdown_with("draining"),
        })]
    );
}

#[tokio::test]
async fn monitor_of_a_process_that_is_not_alive_delivers_down_noproc_at_once() {
    let watcher = watcher().await;
    let target = idle().await;
    target.stop(ExitReason::Normal).await.unwrap();
    let monitor = monitor(&watcher, target.pid()).await;
    assert_eq!(
        seen(&watcher).await,
        [Seen::Down(Down {
            monitor,
            pid: target.pid(),
            reason: ExitReason::NoProc,
        })]
    );
}

#[tokio::test]
async fn two_monitors_on_one_process_each_deliver_their_own_down() {
    let watcher = watcher().await;
    let target = idle().await;
    let first = monitor(&watcher, target.pid()).await;
    let second = monitor(&watcher, target.pid()).await;
    assert_ne!(first, second);
    target.kill();
    within("the kill", target.wait()).await;
    let downs: Vec<MonitorRef> = seen(&watcher)
        .await
        .into_iter()
        .map(|seen| match seen {
            Seen::Down(down) => {
                assert_eq!(down.reason, ExitReason::Killed);
                down.monitor
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(downs.len(), 2);
    assert!(downs.contains(&first) && downs.contains(&second));
}

#[tokio::test]
async fn demonitor_before_the_exit_means_no_down() {
    let watcher = watcher().await;
    let target = idle().await;
    let monitor = monitor(&watcher, target.pid()).await;
    assert!(demonitored(&watcher, Order::Demonitor(monitor)).await);
    assert!(
        !demonitored(&watcher, Order::Demonitor(monitor)).await,
        "already taken back"
    );
    target.stop(ExitReason::Normal).await.unwrap();
    assert_eq!(seen(&watcher).await, []);
}

#[tokio::test]
async fn demonitor_flushes_a_down_already_queued() {
    let watcher = watcher().await;
    let target = idle().await;
    let active = demonitored(&watcher, Order::MonitorKillDemonitor(target.clone())).await;
    assert!(!active, "the target had ended: its Down was already queued");
    assert_eq!(seen(&watcher).await, [], "the queued Down was dropped");
}

#[tokio::test]
async fn a_monitor_from_outside_any_process_resolves_with_the_down() {
    let target = idle().await;
    let down = process::monitor(target.pid());
    let monitor = down.monitor_ref();
    target.kill();
    assert_eq!(
        within("the Down", down).await,
        Down {
            monitor,
            pid: target.pid(),
            reason: ExitReason::Killed
        }
    );
    let late = process::monitor(target.pid()).await;
    assert_eq!(late.reason, ExitReason::NoProc);
}

#[tokio::test]
async fn a_linked_process_that_crashes_takes_a_non_trapping_process_with_it() {
    let watcher = watcher().await;
    let target = idle().await;
    ask(&watcher, Order::Link(target.pid())).await;
    target.kill();
    assert_eq!(
        within("the linked process's end", watcher.wait()).await,
        ExitReason::Killed,
        "the exit signal carries the reason"
    );
}

#[tokio::test]
async fn link_is_bidirectional() {
    let watcher = watcher().await;
    let target = idle().await;
    ask(&watcher, Order::Link(target.pid())).await;
    watcher.kill();
    assert_eq!(
        within("the linked process's end", target.wait()).await,
        ExitReason::Killed
    );
}

#[tokio::test]
async fn a_normal_exit_of_a_linked_process_does_not_end_a_non_trapping_one() {
    let watcher = watcher().await;
    let target = idle().await;
    ask(&watcher, Order::Link(target.pid())).await;
    target.stop(ExitReason::Normal).await.unwrap();
    assert!(watcher.is_running());
    assert_eq!(seen(&watcher).await, []);
}

#[tokio::test]
async fn a_shutdown_of_a_linked_process_ends_a_non_trapping_one() {
    let watcher = watcher().await;
    let target = idle().await;
    ask(&watcher, Order::Link(target.pid())).await;
    target.stop(ExitReason::Shutdown).await.unwrap();
    assert_eq!(
        within("the linked process's end", watcher.wait()).await,
        ExitReason::Shutdown
    );
}

#[tokio::test]
async fn trap_exit_turns_exit_signals_into_exit_messages() {
    let watcher = watcher().await;
    ask(&watcher, Order::TrapExit(true)).await;
    let crashing = idle().await;
    let normal = idle().await;
    ask(&watcher, Order::Link(crashing.pid())).await;
    ask(&watcher, Order::Link(normal.pid())).await;
    crashing.kill();
    crashing.wait().await;
    normal.stop(ExitReason::Normal).await.unwrap();
    assert!(watcher.is_running());
    assert_eq!(
        seen(&watcher).await,
        [
            Seen::Exit(Exit {
                pid: crashing.pid(),
                reason: ExitReason::Killed
            }),
            Seen::Exit(Exit {
                pid: normal.pid(),
                reason: ExitReason::Normal
            }),
        ]
    );
}

#[tokio::test]
async fn unlink_removes_the_link_both_ways() {
    let watcher = watcher().await;
    let target = idle().await;
    ask(&watcher, Order::Link(target.pid())).await;
    ask(&watcher, Order::Unlink(target.pid())).await;
    target.kill();
    target.wait().await;
    assert!(
        watcher.is_running(),
        "the target's exit no longer reaches it"
    );
    let other = idle().await;
    ask(&watcher, Order::Link(other.pid())).await;
    ask(&watcher, Order::Unlink(other.pid())).await;
    watcher.kill();
    watcher.wait().await;
    assert!(other.is_running(), "nor does its exit reach the target");
}

/// OTP's link/1: a trapping caller gets `{'EXIT', Pid, noproc}`; a caller that does
/// not trap gets a `noproc` error (an exception in Erlang) and lives on.
#[tokio::test]
async fn link_to_a_process_that_is_not_alive_is_noproc() {
    let trapping = watcher().await;
    ask(&trapping, Order::TrapExit(true)).await;
    let dead = idle().await;
    dead.stop(ExitReason::Normal).await.unwrap();
    assert!(matches!(
        ask(&trapping, Order::Link(dead.pid())).await,
        Answer::Linked(Ok(()))
    ));
    assert_eq!(
        seen(&trapping).await,
        [Seen::Exit(Exit {
            pid: dead.pid(),
            reason: ExitReason::NoProc
        })]
    );
    let not_trapping = watcher().await;
    assert!(matches!(
        ask(&not_trapping, Order::Link(dead.pid())).await,
        Answer::Linked(Err(noex::ServerNotRunningError { pid })) if pid == dead.pid()
    ));
    assert!(not_trapping.is_running());
    assert_eq!(seen(&not_trapping).await, []);
}

/// A process whose `init` fails was never started as far as its supervisor knows
/// (the starter gets the error instead), but a process it linked to in `init` is
/// told of its exit.
#[tokio::test]
async fn a_failed_init_signals_the_processes_it_linked_to() {
    struct LinksThenFails(Pid);
    impl GenServer for LinksThenFails {
        type Call = ();
        type Cast = ();
        type Reply = ();
        async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
            ctx.link(self.0)?;
            Err("no".into())
        }
        async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
            Reply::Now(())
        }
    }
    let trapping = watcher().await;
    ask(&trapping, Order::TrapExit(true)).await;
    let failed = gen_server::start(LinksThenFails(trapping.pid()), StartOptions::new())
        .await
        .unwrap_err();
    assert!(
        matches!(failed, noex::StartError::Initialization(_)),
        "{failed:?}"
    );
    let seen = seen(&trapping).await;
    assert!(
        matches!(&seen[..], [Seen::Exit(Exit { reason, .. })] if *reason == ExitReason::error("init failed: no")),
        "{seen:?}"
    );
}

#[tokio::test]
async fn exit_killed_cannot_be_trapped() {
    let sender = watcher().await;
    let target = watcher().await;
    ask(&target, Order::TrapExit(true)).await;
    ask(&sender, Order::Exit(target.pid(), ExitReason::Killed)).await;
    assert_eq!(
        within("the killed process's end", target.wait()).await,
        ExitReason::Killed
    );
}

#[tokio::test]
async fn exit_to_a_trapping_process_is_an_exit_message() {
    let sender = watcher().await;
    let target = watcher().await;
    ask(&target, Order::TrapExit(true)).await;
    ask(
        &sender,
        Order::Exit(target.pid(), ExitReason::error("go away")),
    )
    .await;
    assert_eq!(
        seen(&target).await,
        [Seen::Exit(Exit {
            pid: sender.pid(),
            reason: ExitReason::error("go away")
        })]
    );
}

#[tokio::test]
async fn exit_normal_to_a_non_trapping_process_is_ignored_any_other_reason_ends_it() {
    let sender = watcher().await;
    let target = idle().await;
    ask(&sender, Order::Exit(target.pid(), ExitReason::Normal)).await;
    assert!(target.is_running());
    ask(
        &sender,
        Order::Exit(target.pid(), ExitReason::error("go away")),
    )
    .await;
    assert_eq!(
        within("the signalled process's end", target.wait()).await,
        ExitReason::error("go away")
    );
}

/// A worker with nothing to do but exist under a registered name.
struct Named;

impl GenServer for Named {
    type Call = ();
    type Cast = ();
    type Reply = ();

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }
}

fn named(id: &'static str, name: &'static str) -> ChildSpec<Named> {
    ChildSpec::worker(id, || Named).name(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_supervisor_reports_its_exit_only_after_its_children_are_gone() {
    let inner = SupervisorSpec::one_for_one()
        .name("sig.killed.inner")
        .child(named("a", "sig.killed.a"))
        .child(named("b", "sig.killed.b"));
    let sup = supervisor::start(
        SupervisorSpec::one_for_one()
            .name("sig.killed.sup")
            .child(ChildSpec::supervisor("inner", inner))
            .child(named("c", "sig.killed.c")),
    )
    .await
    .unwrap();
    let children: Vec<Pid> = [
        "sig.killed.inner",
        "sig.killed.a",
        "sig.killed.b",
        "sig.killed.c",
    ]
    .iter()
    .map(|name| registry::whereis(name).unwrap())
    .collect();
    let mut events = events::subscribe();
    let down = process::monitor(sup.pid());
    sup.kill();
    let down = within("the supervisor's Down", down).await;
    assert_eq!(down.reason, ExitReason::Killed);
    // When its exit is known, everything below it is gone, names included.
    for pid in &children {
        assert!(!process::is_alive(*pid), "{pid} outlived its supervisor");
    }
    for name in [
        "sig.killed.sup",
        "sig.killed.inner",
        "sig.killed.a",
        "sig.killed.c",
    ] {
        assert_eq!(registry::whereis(name), None, "{name} still registered");
    }
    // And the event stream tells it in that order: every child's end, then its own.
    // (The stream is the runtime's: other tests' processes end meanwhile.)
    let mut ended = Vec::new();
    while let Some(Ok(event)) = events.try_recv() {
        let ours = event.pid == sup.pid() || children.contains(&event.pid);
        if ours && matches!(event.kind, EventKind::Terminated { .. }) {
            ended.push(event.pid);
        }
    }
    assert_eq!(ended.last(), Some(&sup.pid()), "{ended:?}");
    for pid in &children {
        assert!(ended.contains(pid), "{pid} not reported in {ended:?}");
    }
    let inner_end = ended.iter().position(|p| *p == children[0]).unwrap();
    for grandchild in &children[1..3] {
        let at = ended.iter().position(|p| p == grandchild).unwrap();
        assert!(
            at < inner_end,
            "a grandchild ended after its supervisor: {ended:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_supervisor_is_restarted_with_its_named_children() {
    let inner = SupervisorSpec::one_for_one()
        .name("sig.restart.inner")
        .child(named("a", "sig.restart.a"))
        .child(named("b", "sig.restart.b"));
    let sup = supervisor::start(
        SupervisorSpec::one_for_one().child(ChildSpec::supervisor("inner", inner)),
    )
    .await
    .unwrap();
    let old_inner = registry::lookup_supervisor("sig.restart.inner").unwrap();
    let old_a = registry::whereis("sig.restart.a").unwrap();
    let mut events = events::subscribe();
    old_inner.kill();
    let new_inner = within("the restart of the killed supervisor", async {
        loop {
            let event = events.recv().await.expect("no lag");
            if event.parent == Some(sup.pid()) && matches!(event.kind, EventKind::Restarted { .. })
            {
                assert_eq!(event.kind, EventKind::Restarted { attempt: 1 });
                assert_eq!(event.child_id.as_deref(), Some("inner"));
                break event.pid;
            }
        }
    })
    .await;
    assert_ne!(new_inner, old_inner.pid());
    assert_eq!(registry::whereis("sig.restart.inner"), Some(new_inner));
    let new_a = registry::whereis("sig.restart.a").expect("its children started again");
    assert_ne!(new_a, old_a);
    assert!(registry::whereis("sig.restart.b").is_some());
    assert!(
        sup.is_running(),
        "one restart is within the default intensity"
    );
    let inner_children = supervisor::SupervisorRef::clone(
        &registry::lookup_supervisor("sig.restart.inner").unwrap(),
    )
    .children()
    .await
    .unwrap();
    assert!(inner_children.iter().all(|child| child.pid.is_some()));
    sup.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_supervisor_killed_during_a_child_shutdown_still_takes_that_child_down() {
    /// Its `terminate` says it began, then hangs for an hour.
    struct Stubborn(tokio::sync::mpsc::UnboundedSender<()>);
    impl GenServer for Stubborn {
        type Call = ();
        type Cast = ();
        type Reply = ();
        async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
            Reply::Now(())
        }
        async fn terminate(&mut self, _: &ExitReason, _: &mut Context<Self>) {
            let _ = self.0.send(());
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    }
    let (terminating_tx, mut terminating) = tokio::sync::mpsc::unbounded_channel();
    let sup = supervisor::start(
        SupervisorSpec::one_for_one().child(
            ChildSpec::worker("stubborn", move || Stubborn(terminating_tx.clone()))
                .name("sig.stubborn")
                .shutdown(supervisor::Shutdown::Infinity),
        ),
    )
    .await
    .unwrap();
    let child = registry::lookup::<Stubborn>("sig.stubborn").unwrap();
    let terminate_child = {
        let sup = sup.clone();
        tokio::spawn(async move { sup.terminate_child("stubborn").await })
    };
    // The supervisor now waits for its child's `terminate`, without end.
    within("the child's terminate begins", terminating.recv())
        .await
        .unwrap();
    sup.kill();
    // On the paused clock: a child left in its hour-long terminate would let the
    // guard's 10 s pass at once.
    assert_eq!(
        within("the child's end", child.wait()).await,
        ExitReason::Killed
    );
    assert_eq!(sup.wait().await, ExitReason::Killed);
    let outcome = terminate_child.await.unwrap();
    assert!(
        matches!(
            outcome,
            Err(SupervisorError::NotRunning(ServerNotRunningError { pid })) if pid == sup.pid()
        ),
        "the call to the killed supervisor is told it ended: {outcome:?}"
    );
}
