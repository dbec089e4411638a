//! OTP group `restart_one_for_one`.

use noex::supervisor::SupervisorSpec;

use super::{CHILD1_RETRIED_ALONE, escalation};
use crate::child::*;
use crate::support::*;

/// OTP `one_for_one`: a crashed child is restarted, its sibling untouched (counts
/// `[2,2,0,2]`); the third restart within the period exceeds intensity 2 and the
/// supervisor exits (`shutdown`).
#[tokio::test(start_paused = true)]
async fn one_for_one_restarts_only_the_crashed_child_until_the_intensity_is_exceeded() {
    let sup = start_sup(SupervisorSpec::one_for_one().max_restarts(2, hour())).await;
    let cpid1 = sup.start_child(sup1("child1")).await.unwrap().pid();
    let cpid2 = sup.start_child(sup1("child2")).await.unwrap().pid();

    end(cpid1, How::Abnormal).await;
    let children = which(&sup).await;
    assert_eq!(children.len(), 2);
    assert_eq!(children[1], ("child2".to_string(), Some(cpid2), W));
    assert!(
        children[0].1.is_some_and(|pid| pid != cpid1),
        "child1 restarted"
    );
    assert_eq!(counts(&sup).await, count(2, 2, 0, 2));

    end(cpid2, How::Abnormal).await;
    let pid4 = pid_of(&sup, "child2").await;
    end(pid4, How::Abnormal).await;
    assert_eq!(sup_exit(&sup).await, gave_up(2, hour()));
}

/// OTP `one_for_one_escalation`: a child whose restarts keep failing is retried,
/// every attempt counting toward intensity 4; at the 5th restart the supervisor
/// gives up, stops its other child (`shutdown`) and exits (`shutdown`). So exactly
/// four failed restarts are attempted.
#[tokio::test(start_paused = true)]
async fn one_for_one_escalation_failing_restarts_count_until_the_supervisor_gives_up() {
    let log = escalation(SupervisorSpec::one_for_one(), "child1").await;
    assert_eq!(log, CHILD1_RETRIED_ALONE);
}
