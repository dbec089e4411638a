//! Child administration: `start_child`, `terminate_child`, `restart_child`,
//! `delete_child`, `child` and `count_children`, and their errors.

use noex::SupervisorError;
use noex::registry;
use noex::supervisor::{self, SupervisorSpec};

use crate::worker::*;

#[tokio::test]
async fn dynamic_children_start_terminate_restart_and_delete() {
    let log = log();
    let sup = supervisor::start(SupervisorSpec::one_for_one().child(worker("dyn", "a", &log)))
        .await
        .unwrap();
    let pid = sup
        .start_child(worker("dyn", "b", &log))
        .await
        .unwrap()
        .pid();
    assert_eq!(registry::whereis("dyn.b"), Some(pid));
    let duplicate = sup.start_child(worker("dyn", "b", &log)).await.unwrap_err();
    assert!(
        matches!(duplicate, SupervisorError::AlreadyStarted { ref id, pid: running } if id == "b" && running == pid),
        "{duplicate:?}"
    );

    sup.terminate_child("b").await.unwrap();
    assert_eq!(sup.child_info("b").await.unwrap().unwrap().pid, None);
    let count = sup.count_children().await.unwrap();
    assert_eq!(
        (count.specs, count.active, count.workers, count.supervisors),
        (2, 1, 2, 0)
    );

    let restarted = sup.restart_child("b").await.unwrap();
    assert_ne!(restarted, pid);
    assert_eq!(registry::whereis("dyn.b"), Some(restarted));
    // Counted on the child as its first restart (though not toward the intensity).
    let restarts = noex::observer::snapshot()
        .servers
        .iter()
        .find(|server| server.pid == restarted)
        .map(|server| server.restarts);
    assert_eq!(restarts, Some(1));

    assert!(matches!(
        sup.delete_child("b").await,
        Err(SupervisorError::Running { .. })
    ));
    sup.terminate_child("b").await.unwrap();
    sup.delete_child("b").await.unwrap();
    assert!(sup.child_info("b").await.unwrap().is_none());
    assert!(!registry::is_registered("dyn.b"));
    let missing = sup.terminate_child("nope").await.unwrap_err();
    assert!(matches!(missing, SupervisorError::ChildNotFound(e) if e.id == "nope"));
    assert!(matches!(
        sup.restart_child("nope").await,
        Err(SupervisorError::ChildNotFound(_))
    ));
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
