//! OTP cases `child_adm`, `child_adm_simple` and `extra_return`: administering
//! children by id and by pid.

use std::fmt::Debug;

use noex::registry::{self, LookupError};
use noex::supervisor::SupervisorSpec;
use noex::{ChildNotFoundError, ExitReason, SupervisorError, process};

use crate::child::*;
use crate::support::*;

/// OTP's `{error, not_found}`.
fn assert_not_found<T: Debug>(result: Result<T, SupervisorError>) {
    assert_matches!(result, Err(SupervisorError::ChildNotFound(_)));
}

/// OTP's `{error, noproc}` (noex: `NotRunning`): the supervisor is not there.
fn assert_noproc<T: Debug>(result: Result<T, SupervisorError>) {
    assert_matches!(result, Err(SupervisorError::NotRunning(_)));
}

/// `terminate_child("child1")`: ok, and child1 (watched by `down`) ends with `shutdown`.
async fn terminate_child1(sup: &noex::SupervisorRef, down: process::Monitor) {
    within("terminate_child", sup.terminate_child("child1"))
        .await
        .unwrap();
    assert_eq!(
        within("child1's exit", down).await.reason,
        ExitReason::Shutdown
    );
}

/// OTP `child_adm`: start / terminate / restart / delete by id and every error they
/// answer: `already_started` (with the pid), `not_found`, `already_present`,
/// `running`; `terminate_child` is idempotent; a supervisor that is not there
/// (`noproc`) fails every call; a pid is not an id (`terminate_child(Sup, Pid)` on
/// a non-simple supervisor is `{error, not_found}` and the child keeps running).
/// The hibernation check does not map (no hibernation). The `noproc` calls go to a
/// supervisor that has stopped (noex: `NotRunning`) and to an unregistered name.
#[tokio::test(start_paused = true)]
async fn child_adm_start_terminate_restart_delete_by_id_and_their_errors() {
    let child = || sup1("child1");
    let sup = start_sup(
        SupervisorSpec::one_for_one()
            .max_restarts(2, hour())
            .child(child()),
    )
    .await;
    let gone = start_sup(SupervisorSpec::one_for_one()).await;
    stop_sup(&gone).await;
    assert_matches!(
        registry::lookup_supervisor(&n("child_adm", "foo")),
        Err(LookupError::NotRegistered(_))
    );

    let cpid = pid_of(&sup, "child1").await;
    assert_only_child1(&sup, Some(cpid)).await;
    let down = process::monitor(cpid);

    assert_matches!(
        sup.start_child(child()).await,
        Err(SupervisorError::AlreadyStarted { ref id, pid }) if id == "child1" && pid == cpid
    );
    assert_matches!(
        sup.terminate_child("hej").await,
        Err(SupervisorError::ChildNotFound(ChildNotFoundError { ref id })) if id == "hej"
    );
    assert_noproc(gone.terminate_child("child1").await);

    terminate_child1(&sup, down).await;
    assert_only_child1(&sup, None).await;
    within("terminate_child", sup.terminate_child("child1"))
        .await
        .unwrap();

    assert_matches!(
        sup.start_child(child()).await,
        Err(SupervisorError::AlreadyPresent { ref id }) if id == "child1"
    );
    let cpid2 = sup.restart_child("child1").await.unwrap();
    assert_only_child1(&sup, Some(cpid2)).await;
    assert_matches!(
        sup.restart_child("child1").await,
        Err(SupervisorError::Running { ref id }) if id == "child1"
    );
    assert_not_found(sup.restart_child("child2").await);

    assert_matches!(
        sup.delete_child("child1").await,
        Err(SupervisorError::Running { ref id }) if id == "child1"
    );
    assert_matches!(
        sup.delete_child("hej").await,
        Err(SupervisorError::ChildNotFound(ChildNotFoundError { ref id })) if id == "hej"
    );
    assert_noproc(gone.delete_child("child1").await);

    within("terminate_child", sup.terminate_child("child1"))
        .await
        .unwrap();
    sup.delete_child("child1").await.unwrap();
    assert_not_found(sup.restart_child("child1").await);
    assert_children(&sup, &[], count(0, 0, 0, 0)).await;

    assert_noproc(gone.start_child(child()).await);
    let cpid3 = sup.start_child(child()).await.unwrap().pid();
    assert_only_child1(&sup, Some(cpid3)).await;

    // (OTP's step 14, before step 13.)
    assert_noproc(gone.children().await);
    assert_noproc(gone.count_children().await);

    // A pid is not an id on a non-simple supervisor.
    assert_not_found(sup.terminate_child(cpid3).await);
    assert_only_child1(&sup, Some(cpid3)).await;
    stop_sup(&sup).await;
}

/// OTP `child_adm_simple`: a `simple_one_for_one` supervisor has one spec and no
/// child to begin with (`[1,0,0,0]`); dynamic children are added and terminated by
/// pid (a dead one: `ok`; a live process that is not a child: `not_found`, left
/// alive); `restart_child` / `delete_child` are `{error, simple_one_for_one}`
/// (`Unsupported`); a missing supervisor is `noproc` (`NotRunning`).
/// Intended difference: noex's dynamic children have ids (`child-N`) that
/// `terminate_child` accepts, so an id is not OTP's `{error, simple_one_for_one}`:
/// `child1`, not an id of this supervisor, is `ChildNotFound`, nothing is stopped.
/// The "not hibernated" check does not map (no hibernation).
#[tokio::test(start_paused = true)]
async fn child_adm_simple_dynamic_children_are_added_and_terminated_by_pid() {
    let sup =
        start_sup(SupervisorSpec::simple_one_for_one(sup1("child")).max_restarts(2, hour())).await;
    let gone = start_sup(SupervisorSpec::simple_one_for_one(sup1("child"))).await;
    stop_sup(&gone).await;

    assert_eq!(which(&sup).await, []);
    assert_eq!(counts(&sup).await, count(1, 0, 0, 0));
    assert_noproc(gone.start_child_with(()).await);

    let cpid1 = sup.start_child_with(()).await.unwrap();
    assert_eq!(pids(&sup).await, [Some(cpid1)]);
    assert_eq!(counts(&sup).await, count(1, 1, 0, 1));
    let cpid2 = sup.start_child_with(()).await.unwrap();
    let listed = pids(&sup).await;
    assert_eq!(listed.len(), 2);
    assert!(listed.contains(&Some(cpid1)) && listed.contains(&Some(cpid2)));
    assert_eq!(counts(&sup).await, count(1, 2, 0, 2));

    assert_not_found(sup.terminate_child("child1").await);
    assert_eq!(counts(&sup).await, count(1, 2, 0, 2));

    within("terminate_child", sup.terminate_child(cpid1))
        .await
        .unwrap();
    assert_eq!(pids(&sup).await, [Some(cpid2)]);
    assert_eq!(counts(&sup).await, count(1, 1, 0, 1));
    assert!(!process::is_alive(cpid1));
    within("terminate_child", sup.terminate_child(cpid1))
        .await
        .unwrap();
    assert_eq!(pids(&sup).await, [Some(cpid2)]);
    assert_eq!(counts(&sup).await, count(1, 1, 0, 1));

    let no_child = signaller().await;
    assert_not_found(sup.terminate_child(no_child.pid()).await);
    assert!(no_child.is_running());

    assert_simple_one_for_one_error(sup.restart_child("child1").await);
    assert_simple_one_for_one_error(sup.delete_child("child1").await);
    stop_sup(&sup).await;
}

/// OTP `extra_return` (in part): the administration of a child started by the
/// supervisor's init — `not_found` for an unknown id, `running` for a running
/// child, `terminate_child` (reason `shutdown`, idempotent), `restart_child`,
/// `delete_child`, `start_child` again, and an automatic restart after `die`.
/// OTP's start returns `{ok, Pid, extra_return}` and the Info is passed through by
/// `restart_child` / `start_child`; a noex start returns the pid only.
#[tokio::test(start_paused = true)]
async fn extra_return_administration_of_a_child_started_with_the_supervisor() {
    let sup = start_sup(
        SupervisorSpec::one_for_one()
            .max_restarts(2, hour())
            .child(sup1("child1")),
    )
    .await;
    let cpid = pid_of(&sup, "child1").await;
    assert_eq!(which(&sup).await, rows(&[("child1", Some(cpid), W)]));
    let down = process::monitor(cpid);

    assert_not_found(sup.terminate_child("hej").await);
    assert_not_found(sup.delete_child("hej").await);
    assert_not_found(sup.restart_child("hej").await);
    assert_matches!(
        sup.delete_child("child1").await,
        Err(SupervisorError::Running { .. })
    );
    assert_matches!(
        sup.restart_child("child1").await,
        Err(SupervisorError::Running { .. })
    );
    assert_only_child1(&sup, Some(cpid)).await;

    terminate_child1(&sup, down).await;
    assert_only_child1(&sup, None).await;

    let cpid2 = sup.restart_child("child1").await.unwrap();
    assert_only_child1(&sup, Some(cpid2)).await;

    within("terminate_child", sup.terminate_child("child1"))
        .await
        .unwrap();
    within("terminate_child", sup.terminate_child("child1"))
        .await
        .unwrap();
    sup.delete_child("child1").await.unwrap();
    assert_not_found(sup.restart_child("child1").await);
    assert_children(&sup, &[], count(0, 0, 0, 0)).await;

    let cpid3 = sup.start_child(sup1("child1")).await.unwrap().pid();
    assert_only_child1(&sup, Some(cpid3)).await;

    end(cpid3, How::Abnormal).await;
    assert_child1_restarted(&sup, cpid3).await;
    stop_sup(&sup).await;
}
