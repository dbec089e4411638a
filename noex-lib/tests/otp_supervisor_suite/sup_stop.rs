//! OTP group `sup_stop`: how a supervisor's shutdown stops its children.

use noex::supervisor::{ChildSpec, RestartType, Shutdown, SupervisorSpec};
use noex::{ExitReason, Pid, process};
use tokio::time::Instant;

use crate::child::*;
use crate::support::*;

/// OTP `sup_stop_infinity`: children with shutdown `infinity` (a supervisor and a
/// worker) are waited for and end with `shutdown` when their supervisor shuts down.
#[tokio::test(start_paused = true)]
async fn sup_stop_infinity_children_are_waited_for_and_end_with_shutdown() {
    let sup = start_sup(SupervisorSpec::one_for_one().max_restarts(2, hour())).await;
    let cpid1 = sup
        .start_child(
            ChildSpec::supervisor("child1", SupervisorSpec::one_for_one())
                .shutdown(Shutdown::Infinity),
        )
        .await
        .unwrap()
        .pid();
    let cpid2 = sup
        .start_child(sup1("child2").shutdown(Shutdown::Infinity))
        .await
        .unwrap()
        .pid();
    assert_eq!(
        shutdown_reasons(&sup, &[cpid1, cpid2]).await,
        [ExitReason::Shutdown, ExitReason::Shutdown]
    );
}

/// OTP `sup_stop_timeout`: at shutdown, a child that does not stop within its
/// shutdown time (1000 ms) is killed (`killed`); the other ends with `shutdown`.
#[tokio::test(start_paused = true)]
async fn sup_stop_timeout_an_unresponsive_child_is_killed_after_its_shutdown_time() {
    let sup = start_sup(SupervisorSpec::one_for_one().max_restarts(2, hour())).await;
    let cpid1 = sup.start_child(sup1("child1")).await.unwrap().pid();
    let cpid2 = sup.start_child(sup1("child2")).await.unwrap().pid();
    handle(cpid2).cast(Cmd::Hang).unwrap();
    let t0 = Instant::now();
    let reasons = shutdown_reasons(&sup, &[cpid1, cpid2]).await;
    assert_eq!(t0.elapsed().as_secs(), 1, "child2 was given its 1000 ms");
    assert_eq!(reasons, [ExitReason::Shutdown, ExitReason::Killed]);
}

/// OTP `sup_stop_timeout_dynamic`: the same for the dynamic children of a
/// `simple_one_for_one` supervisor.
#[tokio::test(start_paused = true)]
async fn sup_stop_timeout_dynamic_an_unresponsive_dynamic_child_is_killed() {
    let sup = start_sup(
        SupervisorSpec::simple_one_for_one(sup1("child").restart(RestartType::Temporary))
            .max_restarts(2, hour()),
    )
    .await;
    let cpid1 = sup.start_child_with(()).await.unwrap();
    let cpid2 = sup.start_child_with(()).await.unwrap();
    handle(cpid2).cast(Cmd::Hang).unwrap();
    assert_eq!(
        shutdown_reasons(&sup, &[cpid1, cpid2]).await,
        [ExitReason::Shutdown, ExitReason::Killed]
    );
}

/// OTP `sup_stop_brutal_kill`: at shutdown a `brutal_kill` child is killed
/// (`killed`), a 1000 ms one ends with `shutdown`.
#[tokio::test(start_paused = true)]
async fn sup_stop_brutal_kill_a_brutal_kill_child_is_killed() {
    let sup = start_sup(SupervisorSpec::one_for_one().max_restarts(2, hour())).await;
    let cpid1 = sup.start_child(sup1("child1")).await.unwrap().pid();
    let cpid2 = sup
        .start_child(sup1("child2").shutdown(Shutdown::BrutalKill))
        .await
        .unwrap()
        .pid();
    assert_eq!(
        shutdown_reasons(&sup, &[cpid1, cpid2]).await,
        [ExitReason::Shutdown, ExitReason::Killed]
    );
}

/// OTP `sup_stop_brutal_kill_dynamic`: every dynamic `brutal_kill` child is killed
/// at shutdown, and the supervisor ends with `shutdown`.
#[tokio::test(start_paused = true)]
async fn sup_stop_brutal_kill_dynamic_every_dynamic_child_is_killed() {
    let sup = start_sup(
        SupervisorSpec::simple_one_for_one(
            sup1("child")
                .restart(RestartType::Temporary)
                .shutdown(Shutdown::BrutalKill),
        )
        .max_restarts(2, hour()),
    )
    .await;
    let mut children = Vec::new();
    for _ in 0..10 {
        children.push(sup.start_child_with(()).await.unwrap());
    }
    assert_eq!(
        shutdown_reasons(&sup, &children).await,
        vec![ExitReason::Killed; 10]
    );
}

/// OTP `sup_stop_race`: while the supervisor shuts down (its last child, child_z,
/// takes 1 s to stop), 12 children of every restart type exit on their own with
/// `normal`, `shutdown`, `{shutdown, test}` or `other`; the shutdown completes
/// (`shutdown`), child_z and child_a end with `shutdown`, and each of the 12 with
/// its own reason.
#[tokio::test(start_paused = true)]
async fn sup_stop_race_children_exiting_during_the_shutdown_do_not_block_it() {
    let sup = start_sup(SupervisorSpec::one_for_one().max_restarts(2, hour())).await;
    let child_a = sup
        .start_child(sup1("child_a").restart(RestartType::Temporary))
        .await
        .unwrap()
        .pid();
    let reasons = [
        ExitReason::Normal,
        ExitReason::Shutdown,
        ExitReason::shutdown_with("test"),
        ExitReason::error("other"),
    ];
    let mut racers = Vec::new();
    for restart in [
        RestartType::Temporary,
        RestartType::Transient,
        RestartType::Permanent,
    ] {
        for reason in &reasons {
            let id = format!("child-{restart}-{reason}");
            let pid = sup
                .start_child(worker(&id, Child::new(&id).on_stop(reason.clone())).restart(restart))
                .await
                .unwrap()
                .pid();
            racers.push((pid, reason.clone(), process::monitor(pid)));
        }
    }
    let child_z = sup
        .start_child(
            worker("child_z", Child::new("child_z").terminate_delay(ms(1000)))
                .restart(RestartType::Temporary)
                .shutdown(Shutdown::Timeout(ms(2000))),
        )
        .await
        .unwrap()
        .pid();
    let (down_a, down_z) = (process::monitor(child_a), process::monitor(child_z));
    let racing: Vec<Pid> = racers.iter().map(|(pid, _, _)| *pid).collect();
    let stopper = tokio::spawn(async move {
        tokio::time::sleep(ms(200)).await;
        for pid in racing {
            handle(pid).cast(Cmd::Stop).unwrap();
        }
    });
    stop_sup(&sup).await;
    stopper.await.unwrap();
    assert_eq!(
        within("child_z's exit", down_z).await.reason,
        ExitReason::Shutdown
    );
    for (pid, reason, down) in racers {
        assert_eq!(
            within("a racing child's exit", down).await.reason,
            reason,
            "{pid}"
        );
    }
    assert_eq!(
        within("child_a's exit", down_a).await.reason,
        ExitReason::Shutdown
    );
}

/// OTP `sup_stop_non_shutdown_exit_dynamic` (in part): for each restart type, a
/// `simple_one_for_one` supervisor finishes its shutdown (`shutdown`) although a
/// child, told to shut down, exits with another reason. OTP's children call
/// `exit(Reason)` in `terminate` (normal, shutdown, {shutdown,test}, other); a noex
/// child's reason can only be changed there by a panic, so the ported children end
/// with `shutdown` and with `Error("terminate panicked: other")`.
#[tokio::test(start_paused = true)]
async fn sup_stop_non_shutdown_exit_dynamic_the_shutdown_completes_whatever_children_exit_with() {
    for restart in [
        RestartType::Temporary,
        RestartType::Transient,
        RestartType::Permanent,
    ] {
        let sup = start_sup(
            SupervisorSpec::simple_one_for_one(
                template("child")
                    .restart(restart)
                    .shutdown(Shutdown::Timeout(ms(5000))),
            )
            .max_restarts(2, hour()),
        )
        .await;
        let plain = sup.start_child_with(Child::new("shutdown")).await.unwrap();
        let other = sup
            .start_child_with(Child::new("other").terminate_panic("other"))
            .await
            .unwrap();
        assert_eq!(
            shutdown_reasons(&sup, &[plain, other]).await,
            [
                ExitReason::Shutdown,
                ExitReason::error("terminate panicked: other")
            ],
            "{restart}"
        );
    }
}
