//! OTP cases `count_children`, `count_children_supervisor` and
//! `count_restarting_children`.

use noex::supervisor::{ChildKind, ChildSpec, RestartType, SupervisorSpec};
use noex::{ExitReason, Pid, process};

use crate::child::*;
use crate::support::*;

/// The two `count_children*` cases: a `simple_one_for_one` supervisor (2/3600) of
/// `template`, a temporary child of `kind`, counts its dynamic children:
/// `[1,1000,…]`, then `[1,2000,…]`, the 1000 or 2000 active children counted as
/// supervisors or as workers (and listed: as many, all of `kind`; asking again
/// gives the same), and `[1,0,0,0]` once every child is killed (`exit(Pid,
/// kill)`).
async fn dynamic_children_are_counted<S>(template: ChildSpec<S>, kind: ChildKind) {
    let active = |n: usize| {
        if kind == S {
            count(1, n, n, 0)
        } else {
            count(1, n, 0, n)
        }
    };
    let sup = start_sup(SupervisorSpec::simple_one_for_one(template).max_restarts(2, hour())).await;
    for _ in 0..1000 {
        sup.start_child_with(()).await.unwrap();
    }
    assert_eq!(which(&sup).await.len(), 1000);
    assert_eq!(counts(&sup).await, active(1000));
    for _ in 0..1000 {
        sup.start_child_with(()).await.unwrap();
    }
    assert_eq!(counts(&sup).await, active(2000));
    let children = which(&sup).await;
    assert_eq!(children.len(), 2000);
    assert!(children.iter().all(|(_, _, listed)| *listed == kind));
    assert_eq!(which(&sup).await, children);
    assert_eq!(counts(&sup).await, active(2000));
    let signaller = signaller().await;
    for (_, pid, _) in children {
        let pid = pid.expect("running");
        let down = process::monitor(pid);
        signaller.call((pid, ExitReason::Killed)).await.unwrap();
        assert_eq!(
            within("the killed child's exit", down).await.reason,
            ExitReason::Killed
        );
    }
    assert_eq!(counts(&sup).await, active(0));
    stop_sup(&sup).await;
}

/// OTP `count_children`: a `simple_one_for_one` supervisor of workers counts its
/// dynamic children: `[1,1000,0,1000]`, then `[1,2000,0,2000]` (and lists as many;
/// asking again gives the same), and `[1,0,0,0]` once every child is killed.
#[tokio::test(start_paused = true)]
async fn count_children_counts_the_dynamic_workers() {
    dynamic_children_are_counted(sup1("child").restart(RestartType::Temporary), W).await;
}

/// OTP `count_children_supervisor`: the same with a supervisor template: the
/// dynamic children count as supervisors, `[1,1000,1000,0]`, `[1,2000,2000,0]`,
/// then `[1,0,0,0]`.
#[tokio::test(start_paused = true)]
async fn count_children_supervisor_counts_the_dynamic_supervisors() {
    dynamic_children_are_counted(
        ChildSpec::supervisor("child", SupervisorSpec::one_for_one())
            .restart(RestartType::Temporary),
        S,
    )
    .await;
}

/// OTP `count_restarting_children`: dynamic children whose restart keeps failing
/// (2 s per attempt) are not active but still counted as workers
/// (`[1,1,0,3]`); once their restarts succeed, `[1,3,0,3]`; terminating the
/// children one by one by pid counts down to `[1,0,0,0]`. (OTP sleeps; the test
/// here waits for the start attempts themselves.)
#[tokio::test(start_paused = true)]
async fn count_restarting_children_are_not_active_but_still_counted() {
    let mut deadlock = Deadlock::new();
    let sup = start_sup(
        SupervisorSpec::simple_one_for_one(deadlock.child("child")).max_restarts(20, secs(10)),
    )
    .await;
    assert_eq!(counts(&sup).await, count(1, 0, 0, 0));
    let mut first = Vec::new();
    for n in 1..=3 {
        first.push(sup.start_child_with(()).await.unwrap());
        assert_eq!(counts(&sup).await, count(1, n, 0, n));
    }
    deadlock.drain_notes();

    for pid in first {
        crash_with_error(pid).await;
        assert!(deadlock.next_note().await.started, "restarted");
    }
    assert_eq!(counts(&sup).await, count(1, 3, 0, 3));
    let second: Vec<Pid> = pids(&sup).await.into_iter().map(Option::unwrap).collect();
    assert_eq!(second.len(), 3);

    deadlock.fail_starts();
    for &pid in &second[..2] {
        crash_with_error(pid).await;
    }
    // A failed restart of each of the two.
    assert!(!deadlock.next_note().await.started);
    assert!(!deadlock.next_note().await.started);
    assert_eq!(counts(&sup).await, count(1, 1, 0, 3));

    deadlock.let_starts_succeed();
    let mut restarted = 0;
    while restarted < 2 {
        if deadlock.next_note().await.started {
            restarted += 1;
        }
    }
    assert_eq!(counts(&sup).await, count(1, 3, 0, 3));

    within("terminate_child", sup.terminate_child(second[2]))
        .await
        .unwrap();
    assert_eq!(counts(&sup).await, count(1, 2, 0, 2));
    let rest: Vec<Pid> = pids(&sup).await.into_iter().map(Option::unwrap).collect();
    assert_eq!(rest.len(), 2);
    within("terminate_child", sup.terminate_child(rest[0]))
        .await
        .unwrap();
    assert_eq!(counts(&sup).await, count(1, 1, 0, 1));
    within("terminate_child", sup.terminate_child(rest[1]))
        .await
        .unwrap();
    assert_eq!(counts(&sup).await, count(1, 0, 0, 0));
    stop_sup(&sup).await;
}
