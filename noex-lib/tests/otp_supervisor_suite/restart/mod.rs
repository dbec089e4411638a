//! The restart strategies: OTP groups `restart_one_for_one`,
//! `restart_one_for_all`, `restart_simple_one_for_one` and `restart_rest_for_one`,
//! and what their cases share.

mod one_for_all;
mod one_for_one;
mod rest_for_one;
mod simple_one_for_one;

use noex::supervisor::{Strategy, SupervisorSpec};
use noex::{ExitReason, SupervisorRef, process, supervisor};
use tokio::sync::mpsc;

use crate::child::*;
use crate::support::*;

/// The `*_escalation` cases: a supervisor of `spec` with intensity 4 per hour
/// starts child1 and child2 (as dynamic children of its template when `spec` is
/// `simple_one_for_one`), child `failing` failing every start after its first;
/// child1 crashes (`died`). Asserts that child2 ends with `shutdown` and that the
/// supervisor gives up (intensity 4, OTP's `shutdown`); returns the log of the
/// children's starts and stops.
async fn escalation(spec: SupervisorSpec, failing: &str) -> Vec<String> {
    let log = log();
    let dynamic = spec.strategy() == Strategy::SimpleOneForOne;
    let sup = start_sup(spec.max_restarts(4, hour())).await;
    let mut started = Vec::new();
    for id in ["child1", "child2"] {
        let mut child = Child::new(id).log(&log);
        if id == failing {
            child = child.start(Start::error_after_first());
        }
        let pid = if dynamic {
            sup.start_child_with(child).await
        } else {
            sup.start_child(worker(id, child)).await.map(|c| c.pid())
        };
        started.push(pid.unwrap());
    }
    let down2 = process::monitor(started[1]);
    end(started[0], How::Abnormal).await;
    assert_eq!(
        within("child2's exit", down2).await.reason,
        ExitReason::Shutdown
    );
    assert_eq!(sup_exit(&sup).await, gave_up(4, hour()));
    take(&log)
}

/// The log of an escalation in which child1, restarted alone (one_for_one,
/// simple_one_for_one), fails its restart four times before the supervisor gives
/// up and stops child2.
const CHILD1_RETRIED_ALONE: [&str; 8] = [
    "start child1",
    "start child2",
    "stop child1 (died)",
    "failed child1",
    "failed child1",
    "failed child1",
    "failed child1",
    "stop child2 (shutdown)",
];

/// The log of the `*_other_child_fails_restart` cases up to the failed start of
/// child2 in the restart that child1's exit caused (that exit, an exit signal,
/// runs no `terminate` and logs nothing).
const CHILD2_FAILED_RESTART: [&str; 5] = [
    "start child1",
    "start child2",
    "stop child2 (shutdown)",
    "start child1",
    "failed child2",
];

/// The start of the `*_other_child_fails_restart` cases: a supervisor of `spec`
/// with intensity 3 per hour and the children child1 and child2, each of which
/// asks the test before it starts (`supervisor_3`) and logs; both are answered
/// `ok`; then child1 is sent the exit signal `die`. Returns the supervisor, the
/// asks still to answer (the restart's first is child1's) and the log.
async fn other_child_fails_restart_setup(
    spec: SupervisorSpec,
) -> (SupervisorRef, mpsc::UnboundedReceiver<Ask>, Log) {
    let log = log();
    let (asks_tx, mut asks) = mpsc::unbounded_channel();
    let child = |id: &str| {
        worker(
            id,
            Child::new(id)
                .start(Start::AskTest(asks_tx.clone()))
                .log(&log),
        )
    };
    let starting = tokio::spawn(supervisor::start(
        spec.max_restarts(3, hour())
            .child(child("child1"))
            .child(child("child2")),
    ));
    let pid1 = ask(&mut asks, "child1").await.answer(Answer::Ok);
    ask(&mut asks, "child2").await.answer(Answer::Ok);
    let sup = within("the supervisor's start", starting)
        .await
        .unwrap()
        .unwrap();
    exit_signal(pid1, ExitReason::error("die")).await;
    (sup, asks, log)
}
