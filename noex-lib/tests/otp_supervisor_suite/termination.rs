//! OTP groups `normal_termination`, `shutdown_termination` and
//! `abnormal_termination`: what each restart type does after each kind of exit.

use noex::supervisor::{RestartType, SupervisorSpec};
use noex::{Pid, SupervisorRef};

use crate::child::*;
use crate::support::*;

/// The common setup of the restart-type cases: a one_for_one 2/3600 supervisor
/// and child1 of the given restart type.
async fn restart_type_setup(restart: RestartType) -> (SupervisorRef, Pid) {
    let sup = start_sup(SupervisorSpec::one_for_one().max_restarts(2, hour())).await;
    let cpid1 = sup
        .start_child(sup1("child1").restart(restart))
        .await
        .unwrap()
        .pid();
    (sup, cpid1)
}

/// OTP `permanent_normal`: a permanent child that exits `normal` is restarted
/// (counts `[1,1,0,1]`).
#[tokio::test(start_paused = true)]
async fn permanent_normal_a_permanent_child_is_restarted_after_a_normal_exit() {
    let (sup, cpid1) = restart_type_setup(RestartType::Permanent).await;
    end(cpid1, How::Normal).await;
    assert_child1_restarted(&sup, cpid1).await;
    stop_sup(&sup).await;
}

/// OTP `transient_normal`: a transient child that exits `normal` is not restarted;
/// its spec is kept (`[child1 undefined]`, counts `[1,0,0,1]`).
#[tokio::test(start_paused = true)]
async fn transient_normal_a_transient_child_is_not_restarted_its_spec_is_kept() {
    let (sup, cpid1) = restart_type_setup(RestartType::Transient).await;
    end(cpid1, How::Normal).await;
    assert_only_child1(&sup, None).await;
    stop_sup(&sup).await;
}

/// OTP `temporary_normal`: a temporary child that exits `normal` is not restarted
/// and its spec is removed (`[]`, counts `[0,0,0,0]`).
#[tokio::test(start_paused = true)]
async fn temporary_normal_a_temporary_child_is_not_restarted_its_spec_is_removed() {
    let (sup, cpid1) = restart_type_setup(RestartType::Temporary).await;
    end(cpid1, How::Normal).await;
    assert_children(&sup, &[], count(0, 0, 0, 0)).await;
    stop_sup(&sup).await;
}

/// OTP `permanent_shutdown`: a permanent child that exits `shutdown`, and then
/// `{shutdown, some_info}`, is restarted each time (counts `[1,1,0,1]`).
#[tokio::test(start_paused = true)]
async fn permanent_shutdown_a_permanent_child_is_restarted_after_a_shutdown_exit() {
    let (sup, cpid1) = restart_type_setup(RestartType::Permanent).await;
    end(cpid1, How::Shutdown).await;
    let cpid2 = assert_child1_restarted(&sup, cpid1).await;

    end(cpid2, How::ShutdownWith("some_info")).await;
    assert_child1_restarted(&sup, cpid2).await;
    stop_sup(&sup).await;
}

/// OTP `transient_shutdown`: a transient child that exits `shutdown` is not
/// restarted, its spec kept; `restart_child` starts it; after
/// `{shutdown, some_info}` it is again not restarted (counts `[1,0,0,1]`).
#[tokio::test(start_paused = true)]
async fn transient_shutdown_a_transient_child_is_not_restarted_its_spec_is_kept() {
    let (sup, cpid1) = restart_type_setup(RestartType::Transient).await;
    end(cpid1, How::Shutdown).await;
    assert_only_child1(&sup, None).await;

    let cpid2 = sup.restart_child("child1").await.unwrap();
    end(cpid2, How::ShutdownWith("some_info")).await;
    assert_only_child1(&sup, None).await;
    stop_sup(&sup).await;
}

/// OTP `temporary_shutdown`: a temporary child that exits `shutdown` is removed;
/// `start_child` with the same spec works again; after `{shutdown, some_info}` it
/// is removed again (counts `[0,0,0,0]`).
#[tokio::test(start_paused = true)]
async fn temporary_shutdown_a_temporary_child_is_not_restarted_its_spec_is_removed() {
    let (sup, cpid1) = restart_type_setup(RestartType::Temporary).await;
    end(cpid1, How::Shutdown).await;
    assert_children(&sup, &[], count(0, 0, 0, 0)).await;

    let cpid2 = sup
        .start_child(sup1("child1").restart(RestartType::Temporary))
        .await
        .unwrap()
        .pid();
    end(cpid2, How::ShutdownWith("some_info")).await;
    assert_children(&sup, &[], count(0, 0, 0, 0)).await;
    stop_sup(&sup).await;
}

/// OTP `permanent_abnormal`: a permanent child that crashes (`died`) is restarted.
#[tokio::test(start_paused = true)]
async fn permanent_abnormal_a_permanent_child_is_restarted_after_a_crash() {
    let (sup, cpid1) = restart_type_setup(RestartType::Permanent).await;
    end(cpid1, How::Abnormal).await;
    assert_child1_restarted(&sup, cpid1).await;
    stop_sup(&sup).await;
}

/// OTP `transient_abnormal`: a transient child that crashes (`died`) is restarted.
#[tokio::test(start_paused = true)]
async fn transient_abnormal_a_transient_child_is_restarted_after_a_crash() {
    let (sup, cpid1) = restart_type_setup(RestartType::Transient).await;
    end(cpid1, How::Abnormal).await;
    assert_child1_restarted(&sup, cpid1).await;
    stop_sup(&sup).await;
}

/// OTP `temporary_abnormal`: a temporary child that crashes is not restarted and
/// its spec is removed (`[]`, counts `[0,0,0,0]`).
#[tokio::test(start_paused = true)]
async fn temporary_abnormal_a_temporary_child_is_not_restarted_its_spec_is_removed() {
    let (sup, cpid1) = restart_type_setup(RestartType::Temporary).await;
    end(cpid1, How::Abnormal).await;
    assert_children(&sup, &[], count(0, 0, 0, 0)).await;
    stop_sup(&sup).await;
}
