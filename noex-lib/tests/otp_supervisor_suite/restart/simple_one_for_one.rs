//! OTP group `restart_simple_one_for_one`.

use std::time::Duration;

use noex::supervisor::{ChildSpec, RestartType, Shutdown, SupervisorSpec};
use noex::{ExitReason, Pid, SupervisorRef};

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{CHILD1_RETRIED_ALONE, escalation};
use crate::child::*;
use crate::support::*;

/// After `crashed`, one of two dynamic children, crashed: both are listed and
/// running, `sibling` among them, `crashed` no more (counts `[1,2,0,2]`). Returns
/// the listed pids.
async fn assert_crashed_child_restarted(
    sup: &SupervisorRef,
    crashed: Pid,
    sibling: Pid,
) -> Vec<Option<Pid>> {
    let listed = pids(sup).await;
    assert_eq!(listed.len(), 2);
    assert!(listed.contains(&Some(sibling)));
    assert!(!listed.contains(&Some(crashed)) && listed.iter().all(Option::is_some));
    assert_eq!(counts(sup).await, count(1, 2, 0, 2));
    listed
}

/// OTP `simple_one_for_one`: a crashed dynamic child is restarted, its sibling
/// untouched (counts `[1,2,0,2]`); the third restart within the period exceeds
/// intensity 2 and the supervisor exits with `shutdown`.
#[tokio::test(start_paused = true)]
async fn simple_one_for_one_restarts_only_the_crashed_child_until_the_intensity_is_exceeded() {
    let sup =
        start_sup(SupervisorSpec::simple_one_for_one(sup1("child")).max_restarts(2, hour())).await;
    let cpid1 = sup.start_child_with(()).await.unwrap();
    let cpid2 = sup.start_child_with(()).await.unwrap();

    end(cpid1, How::Abnormal).await;
    assert_crashed_child_restarted(&sup, cpid1, cpid2).await;

    end(cpid2, How::Abnormal).await;
    let first = pids(&sup).await[0].expect("running");
    end(first, How::Abnormal).await;
    assert_eq!(sup_exit(&sup).await, gave_up(2, hour()));
}

/// OTP `simple_one_for_one_shutdown`: dynamic children are shut down in parallel
/// under one shared timer: two that take 1 s and one that takes 5 s, shutdown
/// 2000 ms — the supervisor's shutdown takes at least 1 s and less than 5 s (OTP's
/// bounds; on the paused clock it is exactly the 2 s timer), the slow one killed.
#[tokio::test(start_paused = true)]
async fn simple_one_for_one_shutdown_dynamic_children_are_stopped_in_parallel() {
    let sup = start_sup(
        SupervisorSpec::simple_one_for_one(
            ChildSpec::worker_with("child", |delay: &Duration| {
                Child::new("child").terminate_delay(*delay)
            })
            .shutdown(Shutdown::Timeout(ms(2000))),
        )
        .max_restarts(2, hour()),
    )
    .await;
    let mut children = Vec::new();
    for delay in [ms(1000), ms(1000), ms(5000)] {
        children.push(sup.start_child_with(delay).await.unwrap());
    }
    let t0 = Instant::now();
    let reasons = shutdown_reasons(&sup, &children).await;
    let took = t0.elapsed();
    assert!(took >= secs(1) && took < secs(5), "{took:?}");
    assert_eq!(took.as_secs(), 2, "{took:?}");
    assert_eq!(
        reasons,
        [
            ExitReason::Shutdown,
            ExitReason::Shutdown,
            ExitReason::Killed
        ]
    );
}

/// OTP `simple_one_for_one_extra` (in part): a dynamic child is restarted with the
/// argument it was started with; then intensity 2 is exceeded as in
/// `simple_one_for_one`. OTP's start returns `{ok, Pid, extra_info}`; a noex start
/// returns the pid only, so the Info is not ported.
#[tokio::test(start_paused = true)]
async fn simple_one_for_one_extra_a_dynamic_child_is_restarted_with_its_argument() {
    let sup =
        start_sup(SupervisorSpec::simple_one_for_one(template("child")).max_restarts(2, hour()))
            .await;
    let cpid1 = sup
        .start_child_with(Child::new("extra_info-1"))
        .await
        .unwrap();
    let cpid2 = sup
        .start_child_with(Child::new("extra_info-2"))
        .await
        .unwrap();

    end(cpid1, How::Abnormal).await;
    let listed = assert_crashed_child_restarted(&sup, cpid1, cpid2).await;
    let restarted = listed[0].expect("running");
    assert_ne!(restarted, cpid1);
    assert_eq!(handle(restarted).call(()).await.unwrap(), "extra_info-1");

    end(cpid2, How::Abnormal).await;
    end(restarted, How::Abnormal).await;
    assert_eq!(sup_exit(&sup).await, gave_up(2, hour()));
}

/// OTP `simple_one_for_one_escalation`: a dynamic child whose restarts keep failing
/// is retried until intensity 4 is exceeded; the supervisor stops its other child
/// (`shutdown`) and exits. Exactly four failed restarts are attempted.
#[tokio::test(start_paused = true)]
async fn simple_one_for_one_escalation_failing_restarts_count_until_the_supervisor_gives_up() {
    let log = escalation(
        SupervisorSpec::simple_one_for_one(template("child")),
        "child1",
    )
    .await;
    assert_eq!(log, CHILD1_RETRIED_ALONE);
}

/// OTP `simple_one_for_one_restart_ignore`: for a transient and a permanent
/// template, a dynamic child killed is restarted with its arguments, twice; when
/// its restart returns `ignore`, it is dropped (`which_children` is `[]`); the
/// supervisor then shuts down with `shutdown`.
#[tokio::test(start_paused = true)]
async fn simple_one_for_one_restart_ignore_a_child_ignoring_its_restart_is_dropped() {
    for restart in [RestartType::Transient, RestartType::Permanent] {
        let (asks_tx, mut asks) = mpsc::unbounded_channel();
        let sup = start_sup(
            SupervisorSpec::simple_one_for_one(
                worker("child", Child::new("child1").start(Start::AskTest(asks_tx)))
                    .restart(restart),
            )
            .max_restarts(10, hour()),
        )
        .await;
        let starter = tokio::spawn({
            let sup = sup.clone();
            async move { sup.start_child_with(()).await }
        });
        let c1 = ask(&mut asks, "child1").await.answer(Answer::Ok);
        assert_eq!(
            within("the dynamic child's start", starter)
                .await
                .unwrap()
                .unwrap(),
            c1
        );
        assert_eq!(pids(&sup).await, [Some(c1)], "{restart}");

        end(c1, How::Kill).await;
        let c2 = ask(&mut asks, "child1").await.answer(Answer::Ok);
        assert_eq!(pids(&sup).await, [Some(c2)], "{restart}");

        end(c2, How::Kill).await;
        ask(&mut asks, "child1").await.answer(Answer::Ignore);
        assert_eq!(which(&sup).await, [], "{restart}");
        stop_sup(&sup).await;
    }
}
