//! OTP group `restart_one_for_all`.

use noex::supervisor::SupervisorSpec;
use noex::{ExitReason, process};

use super::{CHILD2_FAILED_RESTART, escalation, other_child_fails_restart_setup};
use crate::child::*;
use crate::support::*;

/// OTP `one_for_all`: a crash restarts every child (the sibling ends with
/// `shutdown`; neither old pid is listed; counts `[2,2,0,2]`); the third restart
/// within the period exceeds intensity 2 and the supervisor exits.
#[tokio::test(start_paused = true)]
async fn one_for_all_restarts_every_child_until_the_intensity_is_exceeded() {
    let sup = start_sup(SupervisorSpec::one_for_all().max_restarts(2, hour())).await;
    let cpid1 = sup.start_child(sup1("child1")).await.unwrap().pid();
    let cpid2 = sup.start_child(sup1("child2")).await.unwrap().pid();
    let down2 = process::monitor(cpid2);

    end(cpid1, How::Abnormal).await;
    assert_eq!(
        within("child2's exit", down2).await.reason,
        ExitReason::Shutdown
    );
    let listed = pids(&sup).await;
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(Option::is_some), "{listed:?}");
    assert!(!listed.contains(&Some(cpid1)) && !listed.contains(&Some(cpid2)));
    assert_eq!(counts(&sup).await, count(2, 2, 0, 2));

    end(pid_of(&sup, "child2").await, How::Abnormal).await;
    end(pid_of(&sup, "child2").await, How::Abnormal).await;
    assert_eq!(sup_exit(&sup).await, gave_up(2, hour()));
}

/// OTP `one_for_all_escalation`: after a crash the group restart fails at child2
/// again and again; each retry terminates and restarts the whole group and counts
/// toward intensity 4, until the supervisor gives up; child2 ended with `shutdown`.
#[tokio::test(start_paused = true)]
async fn one_for_all_escalation_failing_group_restarts_count_until_the_supervisor_gives_up() {
    let log = escalation(SupervisorSpec::one_for_all(), "child2").await;
    let mut expected = vec![
        "start child1",
        "start child2",
        "stop child1 (died)",
        "stop child2 (shutdown)",
    ];
    for _ in 0..4 {
        expected.extend(["start child1", "failed child2", "stop child1 (shutdown)"]);
    }
    assert_eq!(log, expected);
}

/// OTP `one_for_all_other_child_fails_restart`: in a one_for_all group restart
/// where another child (child2) fails to start, the retry first terminates the
/// child already restarted (child1 ends with `shutdown`) before it starts anything
/// again, then starts the whole group. (OTP ends by letting the supervisor's
/// parent exit; here the supervisor is stopped.)
#[tokio::test(start_paused = true)]
async fn one_for_all_other_child_fails_restart_restarted_siblings_stop_before_the_retry() {
    let (sup, mut asks, log) = other_child_fails_restart_setup(SupervisorSpec::one_for_all()).await;
    let pid3 = ask(&mut asks, "child1").await;
    let down3 = process::monitor(pid3.pid);
    let pid3 = pid3.answer(Answer::Ok);
    ask(&mut asks, "child2").await.answer(Answer::StopNormal);

    let retry = ask(&mut asks, "child1").await;
    assert!(
        !process::is_alive(pid3),
        "child1 ({pid3}) was terminated before the retry started child1 again"
    );
    assert_eq!(
        within("child1's exit", down3).await.reason,
        ExitReason::Shutdown
    );
    let pid5 = retry.answer(Answer::Ok);
    let pid6 = ask(&mut asks, "child2").await.answer(Answer::Ok);
    assert_eq!(pids(&sup).await, [Some(pid5), Some(pid6)]);
    let mut expected = CHILD2_FAILED_RESTART.to_vec();
    expected.extend(["stop child1 (shutdown)", "start child1", "start child2"]);
    assert_eq!(take(&log), expected);
    stop_sup(&sup).await;
}
