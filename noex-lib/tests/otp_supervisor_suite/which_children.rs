//! OTP cases `which_children` and `which_children_simple_one_for_one`.

use noex::Pid;
use noex::supervisor::{ChildInfo, ChildSpec, ChildStatus, RestartType, SupervisorSpec};

use crate::child::*;
use crate::support::*;

/// OTP `which_children` (in part): `which_children` lists every child, running or
/// not (OTP newest first, noex in start order), and `which_child(Id)` one of them
/// (noex: `child_info(id)`), `not_found` (`None`) for an unknown or deleted id. noex has
/// no `modules`.
#[tokio::test(start_paused = true)]
async fn which_children_lists_every_child_running_or_not() {
    // With no pid it is stopped (OTP's `undefined`); none of these has restarted.
    let info = |id: &str, pid: Option<Pid>| ChildInfo {
        id: id.to_string(),
        pid,
        status: match pid {
            Some(_) => ChildStatus::Running,
            None => ChildStatus::Stopped,
        },
        restarts: 0,
        restart: RestartType::Permanent,
        kind: W,
    };
    let sup = start_sup(SupervisorSpec::one_for_one()).await;
    assert_eq!(sup.children().await.unwrap(), []);
    assert_eq!(sup.child_info("childx").await.unwrap(), None);

    let c1 = sup
        .start_child(ChildSpec::worker("child1", || Child::new("child1")))
        .await
        .unwrap()
        .pid();
    assert_eq!(sup.children().await.unwrap(), [info("child1", Some(c1))]);
    assert_eq!(
        sup.child_info("child1").await.unwrap(),
        Some(info("child1", Some(c1)))
    );

    let c2 = sup
        .start_child(ChildSpec::worker("child2", || Child::new("child2")))
        .await
        .unwrap()
        .pid();
    assert_eq!(
        sup.children().await.unwrap(),
        [info("child1", Some(c1)), info("child2", Some(c2))]
    );
    assert_eq!(
        sup.child_info("child1").await.unwrap(),
        Some(info("child1", Some(c1)))
    );
    assert_eq!(
        sup.child_info("child2").await.unwrap(),
        Some(info("child2", Some(c2)))
    );

    within("terminate_child", sup.terminate_child("child1"))
        .await
        .unwrap();
    assert_eq!(
        sup.children().await.unwrap(),
        [info("child1", None), info("child2", Some(c2))]
    );
    assert_eq!(
        sup.child_info("child1").await.unwrap(),
        Some(info("child1", None))
    );

    sup.delete_child("child1").await.unwrap();
    assert_eq!(sup.children().await.unwrap(), [info("child2", Some(c2))]);
    assert_eq!(sup.child_info("child1").await.unwrap(), None);
    stop_sup(&sup).await;
}

/// OTP `which_children_simple_one_for_one` (in part): a `simple_one_for_one`
/// supervisor lists its dynamic children in start order (asserted by OTP for two
/// children), and a terminated one is no longer listed nor found. Intended
/// difference: noex's dynamic children have ids, so `which_child` is `child(id)`
/// (OTP takes the pid, and answers `{error, simple_one_for_one}` for a non-pid).
#[tokio::test(start_paused = true)]
async fn which_children_simple_one_for_one_lists_dynamic_children_in_start_order() {
    let sup = start_sup(SupervisorSpec::simple_one_for_one(
        ChildSpec::worker("child", || Child::new("child")).restart(RestartType::Temporary),
    ))
    .await;
    assert_eq!(sup.children().await.unwrap(), []);

    let c1 = sup.start_child_with(()).await.unwrap();
    let listed = sup.children().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].pid, listed[0].restart, listed[0].kind),
        (Some(c1), RestartType::Temporary, W)
    );
    let id1 = listed[0].id.clone();
    assert_eq!(sup.child_info(&id1).await.unwrap(), Some(listed[0].clone()));

    let c2 = sup.start_child_with(()).await.unwrap();
    assert_eq!(pids(&sup).await, [Some(c1), Some(c2)]);

    within("terminate_child", sup.terminate_child(c1))
        .await
        .unwrap();
    assert_eq!(pids(&sup).await, [Some(c2)]);
    assert_eq!(sup.child_info(&id1).await.unwrap(), None);
    stop_sup(&sup).await;
}
