//! OTP group `restart_rest_for_one`.

use noex::supervisor::SupervisorSpec;
use noex::{ExitReason, process};

use super::{CHILD2_FAILED_RESTART, escalation, other_child_fails_restart_setup};
use crate::child::*;
use crate::support::*;

/// OTP `rest_for_one`: a crash restarts the child and those started after it (child3
/// ends with `shutdown`; child1 keeps its pid; counts `[3,3,0,3]`); the third
/// restart within the period exceeds intensity 2 and the supervisor exits.
#[tokio::test(start_paused = true)]
async fn rest_for_one_restarts_the_crashed_child_and_the_later_ones() {
    let sup = start_sup(SupervisorSpec::rest_for_one().max_restarts(2, hour())).await;
    let cpid1 = sup.start_child(sup1("child1")).await.unwrap().pid();
    let cpid2 = sup.start_child(sup1("child2")).await.unwrap().pid();
    let cpid3 = sup.start_child(sup1("child3")).await.unwrap().pid();
    assert_eq!(counts(&sup).await, count(3, 3, 0, 3));
    let down3 = process::monitor(cpid3);

    end(cpid2, How::Abnormal).await;
    assert_eq!(
        within("child3's exit", down3).await.reason,
        ExitReason::Shutdown
    );
    let listed = pids(&sup).await;
    assert_eq!(listed.len(), 3);
    assert_eq!(counts(&sup).await, count(3, 3, 0, 3));
    assert_eq!(listed[0], Some(cpid1));
    assert!(!listed.contains(&Some(cpid2)) && !listed.contains(&Some(cpid3)));
    assert!(listed.iter().all(Option::is_some));

    end(pid_of(&sup, "child3").await, How::Abnormal).await;
    assert_eq!(pid_of(&sup, "child1").await, cpid1);
    end(pid_of(&sup, "child2").await, How::Abnormal).await;
    assert_eq!(sup_exit(&sup).await, gave_up(2, hour()));
}

/// OTP `rest_for_one_escalation`: child2's restarts keep failing; each retry starts
/// again from child2 (child1, restarted once, is left running), counting toward
/// intensity 4, until the supervisor gives up; child2 ended with `shutdown`.
#[tokio::test(start_paused = true)]
async fn rest_for_one_escalation_failing_restarts_count_until_the_supervisor_gives_up() {
    let log = escalation(SupervisorSpec::rest_for_one(), "child2").await;
    assert_eq!(
        log,
        [
            "start child1",
            "start child2",
            "stop child1 (died)",
            "stop child2 (shutdown)",
            "start child1",
            "failed child2",
            "failed child2",
            "failed child2",
            "failed child2",
            "stop child1 (shutdown)",
        ]
    );
}

/// OTP `rest_for_one_other_child_fails_restart`: when child2 fails to start during
/// the restart that child1's crash caused, the retry starts from child2: the next
/// start is child2's, and child1 (already restarted) is left running. (OTP ends by
/// letting the supervisor's parent exit; here the supervisor is stopped.)
#[tokio::test(start_paused = true)]
async fn rest_for_one_other_child_fails_restart_the_retry_starts_from_the_failed_child() {
    let (sup, mut asks, log) =
        other_child_fails_restart_setup(SupervisorSpec::rest_for_one()).await;
    let pid3 = ask(&mut asks, "child1").await.answer(Answer::Ok);
    ask(&mut asks, "child2").await.answer(Answer::StopNormal);
    let pid5 = ask(&mut asks, "child2").await.answer(Answer::Ok);
    assert_eq!(
        pids(&sup).await,
        [Some(pid3), Some(pid5)],
        "child1 was not restarted again"
    );
    let mut expected = CHILD2_FAILED_RESTART.to_vec();
    expected.push("start child2");
    assert_eq!(take(&log), expected);
    stop_sup(&sup).await;
}
