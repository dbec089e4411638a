//! OTP group `sup_start`: a supervisor starts and stops, and children whose start
//! returns `ignore` or an error.

use noex::registry;
use noex::supervisor::{ChildSpec, RestartType, SupervisorSpec};
use noex::{Pid, StartError, SupervisorError};

use crate::child::*;
use crate::support::*;

/// A start (`start_child`, `restart_child`) that failed with the child's own
/// error `reason`: noex's `SupervisorError::Start` carries the child's start
/// error (OTP wraps it with the child record, or for a dynamic child not at all).
fn assert_start_failed(result: Result<Pid, SupervisorError>, reason: &str) {
    assert_matches!(
        result,
        Err(SupervisorError::Start(StartError::Initialization(ref e))) if e.reason == reason
    );
}

/// The two `*_start_child_simple` ignore cases: under a `simple_one_for_one`
/// supervisor (2/3600) of `template`, whose first start returns `ignore`, the
/// first dynamic child is answered `{ok, undefined}` (`Ignored`) and not kept, the
/// next one starts and is the only one listed, counts `[1,1,0,1]`; then the
/// supervisor shuts down with `shutdown`.
async fn a_dynamic_child_ignoring_its_start_is_not_kept<S>(template: ChildSpec<S>) {
    let sup = start_sup(SupervisorSpec::simple_one_for_one(template).max_restarts(2, hour())).await;
    assert_matches!(
        sup.start_child_with(()).await,
        Err(SupervisorError::Ignored { .. })
    );
    let cpid2 = sup.start_child_with(()).await.unwrap();
    assert_eq!(pids(&sup).await, [Some(cpid2)]);
    assert_eq!(counts(&sup).await, count(1, 1, 0, 1));
    stop_sup(&sup).await;
}

/// OTP `sup_start_normal`: a supervisor starts (`{ok, Pid}`) and, sent `shutdown`
/// by its parent, ends with reason `shutdown`. (The parent's exit signal is
/// `SupervisorRef::stop`.)
#[tokio::test(start_paused = true)]
async fn sup_start_normal_a_supervisor_starts_and_stops_with_shutdown() {
    let name = n("sup_start_normal", "sup");
    let sup = start_sup(
        SupervisorSpec::one_for_one()
            .max_restarts(2, hour())
            .name(&name),
    )
    .await;
    assert_eq!(registry::whereis(&name), Some(sup.pid()));
    stop_sup(&sup).await;
    assert_eq!(registry::whereis(&name), None);
}

/// OTP `sup_start_ignore_child`: `start_child` of a permanent child whose start
/// returns `ignore` answers `{ok, undefined}` (noex: `Err(Ignored)`) and keeps the
/// spec, not running; the next child starts; `which_children` lists both
/// (`[child1 undefined, child2 CPid2]`), counts `[2,1,0,2]`.
#[tokio::test(start_paused = true)]
async fn sup_start_ignore_child_keeps_the_spec_not_running() {
    let sup = start_sup(SupervisorSpec::one_for_one().max_restarts(2, hour())).await;
    assert_matches!(
        sup.start_child(sup1_starting("child1", Start::ignore_first())).await,
        Err(SupervisorError::Ignored { ref id }) if id == "child1"
    );
    let cpid2 = sup.start_child(sup1("child2")).await.unwrap().pid();
    assert_children(
        &sup,
        &[("child1", None, W), ("child2", Some(cpid2), W)],
        count(2, 1, 0, 2),
    )
    .await;
    stop_sup(&sup).await;
}

/// OTP `sup_start_ignore_temporary_child`: a temporary child whose start returns
/// `ignore` while the supervisor starts is not kept: `which_children` is
/// `[child2 CPid2]`, counts `[1,1,0,1]`.
#[tokio::test(start_paused = true)]
async fn sup_start_ignore_temporary_child_is_not_kept() {
    let sup = start_sup(
        SupervisorSpec::one_for_one()
            .max_restarts(2, hour())
            .child(sup1_starting("child1", Start::ignore_first()).restart(RestartType::Temporary))
            .child(sup1("child2").restart(RestartType::Temporary)),
    )
    .await;
    let children = which(&sup).await;
    assert_eq!(children.len(), 1, "{children:?}");
    assert_eq!(children[0].0, "child2");
    assert!(children[0].1.is_some(), "child2 runs");
    assert_eq!(counts(&sup).await, count(1, 1, 0, 1));
    stop_sup(&sup).await;
}

/// OTP `sup_start_ignore_temporary_child_start_child`: `start_child` of a
/// temporary child that returns `ignore` answers `{ok, undefined}` (`Ignored`) and
/// keeps nothing: `which_children` is `[child2 CPid2]`, counts `[1,1,0,1]`.
#[tokio::test(start_paused = true)]
async fn sup_start_ignore_temporary_child_start_child_is_not_kept() {
    let sup = start_sup(SupervisorSpec::one_for_one().max_restarts(2, hour())).await;
    let child1 = sup1_starting("child1", Start::ignore_first()).restart(RestartType::Temporary);
    assert_matches!(
        sup.start_child(child1).await,
        Err(SupervisorError::Ignored { ref id }) if id == "child1"
    );
    let cpid2 = sup
        .start_child(sup1("child2").restart(RestartType::Temporary))
        .await
        .unwrap()
        .pid();
    assert_children(&sup, &[("child2", Some(cpid2), W)], count(1, 1, 0, 1)).await;
    stop_sup(&sup).await;
}

/// OTP `sup_start_ignore_temporary_child_start_child_simple`: a dynamic temporary
/// child that returns `ignore` is answered `{ok, undefined}` (`Ignored`) and not
/// kept; the next one starts; one child listed, counts `[1,1,0,1]`.
#[tokio::test(start_paused = true)]
async fn sup_start_ignore_temporary_child_start_child_simple_is_not_kept() {
    a_dynamic_child_ignoring_its_start_is_not_kept(
        sup1_starting("child1", Start::ignore_first()).restart(RestartType::Temporary),
    )
    .await;
}

/// OTP `sup_start_ignore_permanent_child_start_child_simple`: the same with a
/// permanent template (a dynamic child that ignores is never kept); then the
/// supervisor, sent `shutdown`, ends cleanly with reason `shutdown` (the suite's
/// regression check).
#[tokio::test(start_paused = true)]
async fn sup_start_ignore_permanent_child_start_child_simple_is_not_kept_and_the_supervisor_stops_cleanly()
 {
    a_dynamic_child_ignoring_its_start_is_not_kept(sup1_starting("child1", Start::ignore_first()))
        .await;
}

/// OTP `sup_start_child_returns_error`: a start that returns `{error, reason}`, or
/// an invalid value (here: a start that crashes with `error_reason`), makes
/// `start_child` fail with that reason, and nothing is kept (`which_children` is
/// `[]`). OTP wraps the reason with the child record; noex's
/// `SupervisorError::Start` carries the child's start error.
#[tokio::test(start_paused = true)]
async fn sup_start_child_returns_error_the_error_is_returned_and_no_spec_is_kept() {
    let sup = start_sup(SupervisorSpec::one_for_one().max_restarts(2, hour())).await;
    let child1 = sup1_starting("child1", Start::Fail("reason"));
    assert_start_failed(sup.start_child(child1).await.map(|c| c.pid()), "reason");
    let child2 = sup1_starting("child2", Start::Panic("error_reason"));
    assert_start_failed(
        sup.start_child(child2).await.map(|c| c.pid()),
        "error_reason",
    );
    assert_eq!(which(&sup).await, []);
    stop_sup(&sup).await;
}

/// OTP `sup_start_restart_child_returns_error`: `restart_child` of a stopped child
/// whose start now fails returns the start's error (`{error, {function_clause,
/// _}}`), and the spec stays, not running (`[child1 undefined]`).
#[tokio::test(start_paused = true)]
async fn sup_start_restart_child_returns_error_the_spec_stays_not_running() {
    let sup = start_sup(
        SupervisorSpec::one_for_one()
            .max_restarts(2, hour())
            .child(sup1_starting("child1", Start::error_after_first())),
    )
    .await;
    within("terminate_child", sup.terminate_child("child1"))
        .await
        .unwrap();
    assert_start_failed(sup.restart_child("child1").await, "function_clause");
    assert_eq!(which(&sup).await, rows(&[("child1", None, W)]));
    stop_sup(&sup).await;
}

/// OTP `sup_start_child_returns_error_simple`: a dynamic child whose start returns
/// `{error, reason}` (or an invalid value) makes `start_child` fail with that
/// reason (OTP: unwrapped), and nothing is kept (`which_children` is `[]`).
#[tokio::test(start_paused = true)]
async fn sup_start_child_returns_error_simple_the_error_is_returned_and_no_child_is_kept() {
    let sup =
        start_sup(SupervisorSpec::simple_one_for_one(template("child1")).max_restarts(2, hour()))
            .await;
    let child1 = Child::new("child1");
    let fail = child1.clone().start(Start::Fail("reason"));
    assert_start_failed(sup.start_child_with(fail).await, "reason");
    let crash = child1.start(Start::Panic("error_reason"));
    assert_start_failed(sup.start_child_with(crash).await, "error_reason");
    assert_eq!(which(&sup).await, []);
    stop_sup(&sup).await;
}
