//! Children start in order and stop in reverse order; a child that fails to start
//! stops the ones before it; how a child is stopped (`brutal_kill`, a timeout).

use std::time::Duration;

use noex::supervisor::{self, ChildSpec, Shutdown, SupervisorSpec};
use noex::{CallError, ExitReason, StartError};

use crate::support::within;
use crate::worker::*;

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
async fn brutal_kill_shutdown_does_not_run_terminate() {
    let log = log();
    let sup = supervisor::start(
        SupervisorSpec::one_for_one()
            .child(worker("brutal", "a", &log).shutdown(Shutdown::BrutalKill)),
    )
    .await
    .unwrap();
    let child = server("brutal", "a");
    take(&log);
    sup.terminate_child("a").await.unwrap();
    assert_eq!(
        within("the child's end", child.wait()).await,
        ExitReason::Killed
    );
    assert!(take(&log).is_empty(), "killed, so terminate did not run");
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
    assert_eq!(
        hung.await.unwrap(),
        Err(CallError::Exited {
            pid: stuck.pid(),
            reason: ExitReason::Killed
        }),
        "the call it was stuck in is told why"
    );
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
async fn a_supervisor_tells_its_name_and_a_system_one_is_marked_so_with_its_children() {
    let named = supervisor::start(SupervisorSpec::one_for_one().name("sup.named").child(
        ChildSpec::supervisor("sys.inner", SupervisorSpec::one_for_one().system(true)),
    ))
    .await
    .unwrap();
    assert_eq!(named.name().as_deref(), Some("sup.named"));
    let system = supervisor::start(
        SupervisorSpec::one_for_one()
            .system(true)
            .child(ChildSpec::worker("sys.child", || crate::support::Idle)),
    )
    .await
    .unwrap();
    assert_eq!(system.name(), None);
    let snapshot = noex::observer::snapshot();
    let marked = |pid| {
        snapshot
            .supervisors
            .iter()
            .find(|supervisor| supervisor.pid == pid)
            .map(|supervisor| supervisor.system)
    };
    assert_eq!(marked(system.pid()), Some(true));
    assert_eq!(marked(named.pid()), Some(false));
    let inner = snapshot
        .supervisors
        .iter()
        .find(|supervisor| supervisor.child_id.as_deref() == Some("sys.inner"))
        .unwrap();
    assert!(inner.system, "a child supervisor whose spec says system");
    let child = snapshot
        .servers
        .iter()
        .find(|server| server.child_id.as_deref() == Some("sys.child"))
        .unwrap();
    assert!(
        child.system,
        "a system supervisor's children are system too"
    );
}
