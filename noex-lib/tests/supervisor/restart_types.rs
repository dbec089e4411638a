//! Restart types: a permanent child is always restarted, a transient one only
//! after an abnormal exit, a temporary one never; and what a restarted child
//! starts with (an empty mailbox, its registered name).

use noex::ExitReason;
use noex::registry;
use noex::supervisor::{self, RestartType, SupervisorSpec};

use crate::support::within;
use crate::worker::*;

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
    assert_eq!(
        within("the child's stop", child.wait()).await,
        ExitReason::shutdown_with("draining")
    );
    // Its exit signal is queued at the supervisor before `wait` returns: the
    // supervisor has handled it when it answers.
    assert_eq!(pids(&sup).await, vec![None]);
    assert_eq!(sup.children().await.unwrap().len(), 1);
}
