//! OTP cases `child_unlink` and `tree`.

use std::sync::{Arc, OnceLock};

use noex::registry;
use noex::supervisor::{ChildSpec, RestartType, SupervisorSpec};
use noex::{ExitReason, process};

use crate::child::*;
use crate::support::*;

/// OTP `child_unlink`: `terminate_child` of a child that unlinked itself from its
/// supervisor in init does not hang the supervisor (it waits on a monitor, not on
/// the exit signal that never comes): it returns within the 5 s the OTP test
/// waits, and the supervisor serves the next request. (OTP checks the supervisor's
/// message queue is empty; noex shows it by answering a call.)
#[tokio::test(start_paused = true)]
async fn child_unlink_terminate_child_does_not_hang_on_a_child_that_unlinked() {
    let sup_pid = Arc::new(OnceLock::new());
    let sup = start_sup(SupervisorSpec::one_for_one().max_restarts(2, hour())).await;
    sup_pid.set(sup.pid()).unwrap();
    let naughty = sup
        .start_child(worker(
            "naughty_child",
            Child::new("naughty_child").unlink_from(&sup_pid),
        ))
        .await
        .unwrap()
        .pid();
    let down = process::monitor(naughty);
    let terminating = tokio::spawn({
        let sup = sup.clone();
        async move { sup.terminate_child("naughty_child").await }
    });
    let terminated = tokio::time::timeout(secs(5), terminating)
        .await
        .expect("the supervisor hangs");
    terminated.unwrap().unwrap();
    assert_eq!(
        within("naughty_child's exit", down).await.reason,
        ExitReason::Shutdown
    );
    assert_eq!(counts(&sup).await, count(1, 0, 0, 1));
    stop_sup(&sup).await;
}

/// OTP `tree`: a one_for_all tree of three supervisors. A child crash in a nested
/// supervisor restarts only that child; a nested supervisor that exceeds its
/// intensity exits (`shutdown`), and the top restarts every child — including
/// supchild3, which had been stopped with `terminate_child` — with fresh
/// supervisors: supchild1 with its two static children, supchild2 without the
/// children added to the old one.
#[tokio::test(start_paused = true)]
async fn tree_a_nested_supervisor_giving_up_restarts_the_whole_one_for_all_tree() {
    let names = [
        n("tree", "supchild1"),
        n("tree", "supchild2"),
        n("tree", "supchild3"),
    ];
    // `{one_for_one, 4, 3600}`, registered.
    let middle = |i: usize| {
        SupervisorSpec::one_for_one()
            .max_restarts(4, hour())
            .name(&names[i])
    };
    let top = start_sup(SupervisorSpec::one_for_all().max_restarts(4, hour())).await;
    let sup1_pid = top
        .start_child(ChildSpec::supervisor(
            "supchild1",
            middle(0).child(sup1("child1")).child(sup1("child2")),
        ))
        .await
        .unwrap()
        .pid();
    let sup2_pid = top
        .start_child(ChildSpec::supervisor("supchild2", middle(1)))
        .await
        .unwrap()
        .pid();
    top.start_child(ChildSpec::supervisor("supchild3", middle(2)).restart(RestartType::Transient))
        .await
        .unwrap()
        .pid();

    within("terminate_child", top.terminate_child("supchild3"))
        .await
        .unwrap();
    assert_eq!(counts(&top).await, count(3, 2, 3, 0));

    let mid1 = registry::lookup_supervisor(&names[0]).unwrap();
    let mid2 = registry::lookup_supervisor(&names[1]).unwrap();
    assert_eq!((mid1.pid(), mid2.pid()), (sup1_pid, sup2_pid));
    let sup1_children = pids(&mid1).await;
    assert_eq!(sup1_children.len(), 2);
    assert!(sup1_children.iter().all(Option::is_some));
    assert_eq!(counts(&mid1).await, count(2, 2, 0, 2));
    assert_eq!(counts(&mid2).await, count(0, 0, 0, 0));

    let cpid3 = mid2
        .start_child(sup1_starting("child3", Start::error_after_first()))
        .await
        .unwrap()
        .pid();
    let cpid4 = mid2.start_child(sup1("child4")).await.unwrap().pid();
    assert_eq!(counts(&mid1).await, count(2, 2, 0, 2));
    assert_eq!(counts(&mid2).await, count(2, 2, 0, 2));

    end(cpid4, How::Abnormal).await;
    assert_eq!(pids(&mid1).await, sup1_children);
    assert_eq!(counts(&mid1).await, count(2, 2, 0, 2));
    let sup2_children = which(&mid2).await;
    assert_eq!(sup2_children[0], ("child3".to_string(), Some(cpid3), W));
    assert_eq!(sup2_children[1].0, "child4");
    assert!(sup2_children[1].1.is_some_and(|pid| pid != cpid4));
    assert_eq!(counts(&mid2).await, count(2, 2, 0, 2));

    let sup2_down = process::monitor(sup2_pid);
    end(cpid3, How::Abnormal).await;
    assert_eq!(
        within("supchild2 gives up", sup2_down).await.reason,
        gave_up(4, hour())
    );

    let tree = which(&top).await;
    assert_eq!(
        tree.iter()
            .map(|(id, _, kind)| (id.as_str(), *kind))
            .collect::<Vec<_>>(),
        [("supchild1", S), ("supchild2", S), ("supchild3", S)]
    );
    assert!(
        tree.iter().all(|(_, pid, _)| pid.is_some()),
        "every supervisor runs again, supchild3 included: {tree:?}"
    );
    assert_ne!(tree[0].1, Some(sup1_pid));
    assert_ne!(tree[1].1, Some(sup2_pid));
    assert_eq!(counts(&top).await, count(3, 3, 3, 0));

    let new_sup1 = registry::lookup_supervisor(&names[0]).unwrap();
    let new_sup2 = registry::lookup_supervisor(&names[1]).unwrap();
    let new_sup3 = registry::lookup_supervisor(&names[2]).unwrap();
    assert_eq!(
        which(&new_sup1)
            .await
            .iter()
            .map(|(id, pid, _)| (id.as_str(), pid.is_some()))
            .collect::<Vec<_>>(),
        [("child1", true), ("child2", true)]
    );
    assert_eq!(counts(&new_sup1).await, count(2, 2, 0, 2));
    assert_eq!(which(&new_sup2).await, []);
    assert_eq!(counts(&new_sup2).await, count(0, 0, 0, 0));
    assert_eq!(which(&new_sup3).await, []);
    assert_eq!(counts(&new_sup3).await, count(0, 0, 0, 0));
    stop_sup(&top).await;
}
