//! The suite's assertions and small helpers: durations, OTP's `which_children`
//! and `get_child_counts` in noex's terms, the checks several cases share, and
//! starting and stopping a supervisor as OTP's `start_link` / `terminate(Sup,
//! shutdown)` do.

use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use noex::supervisor::{self, ChildCount, ChildKind, SupervisorSpec};
use noex::{ExitReason, MaxRestartsExceededError, Pid, SupervisorError, SupervisorRef, process};

/// `assert!(matches!(..))` that shows the value when it does not match.
macro_rules! assert_matches {
    ($value:expr, $pattern:pat $(if $guard:expr)? $(,)?) => {
        match $value {
            $pattern $(if $guard)? => {}
            ref other => panic!(
                "expected {}, got {:?}",
                stringify!($pattern $(if $guard)?),
                other
            ),
        }
    };
}

pub(crate) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub(crate) fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// OTP's 3600 s restart period.
pub(crate) fn hour() -> Duration {
    secs(3600)
}

/// A registered name no other test uses.
pub(crate) fn n(test: &str, what: &str) -> String {
    format!("otp_supervisor_suite.{test}.{what}")
}

/// The exit reason of a `supervisor_1` child told `die`.
pub(crate) fn died() -> ExitReason {
    ExitReason::error("died")
}

/// OTP's `shutdown` of a supervisor that reached its intensity.
pub(crate) fn gave_up(max_restarts: u32, within: Duration) -> ExitReason {
    ExitReason::MaxRestartsExceeded(MaxRestartsExceededError {
        max_restarts,
        within,
    })
}

pub(crate) fn count(specs: usize, active: usize, supervisors: usize, workers: usize) -> ChildCount {
    ChildCount {
        specs,
        active,
        supervisors,
        workers,
    }
}

pub(crate) const W: ChildKind = ChildKind::Worker;
pub(crate) const S: ChildKind = ChildKind::Supervisor;

pub(crate) type Row = (String, Option<Pid>, ChildKind);

/// OTP's `which_children`, in noex's start order: (id, pid, kind).
pub(crate) async fn which(sup: &SupervisorRef) -> Vec<Row> {
    within("which_children", sup.children())
        .await
        .expect("which_children")
        .into_iter()
        .map(|c| (c.id, c.pid, c.kind))
        .collect()
}

pub(crate) fn rows(expected: &[(&str, Option<Pid>, ChildKind)]) -> Vec<Row> {
    expected
        .iter()
        .map(|(id, pid, kind)| (id.to_string(), *pid, *kind))
        .collect()
}

pub(crate) async fn pids(sup: &SupervisorRef) -> Vec<Option<Pid>> {
    which(sup)
        .await
        .into_iter()
        .map(|(_, pid, _)| pid)
        .collect()
}

/// The pid of child `id`, which must be running.
pub(crate) async fn pid_of(sup: &SupervisorRef, id: &str) -> Pid {
    within("which_child", sup.child_info(id))
        .await
        .expect("which_children")
        .unwrap_or_else(|| panic!("no child {id}"))
        .pid
        .unwrap_or_else(|| panic!("child {id} is not running"))
}

pub(crate) async fn counts(sup: &SupervisorRef) -> ChildCount {
    within("count_children", sup.count_children())
        .await
        .expect("count_children")
}

/// OTP's `which_children` and `get_child_counts` at once: the rows (in start
/// order) and the counts `[specs, active, supervisors, workers]`.
pub(crate) async fn assert_children(
    sup: &SupervisorRef,
    expected: &[(&str, Option<Pid>, ChildKind)],
    expected_counts: ChildCount,
) {
    assert_eq!(which(sup).await, rows(expected));
    assert_eq!(counts(sup).await, expected_counts);
}

/// OTP's checks of a supervisor whose only child is the worker child1: running as
/// `Some(pid)` (`[child1 Pid]`, counts `[1,1,0,1]`), or not running with `None`
/// (`[child1 undefined]`, counts `[1,0,0,1]`).
pub(crate) async fn assert_only_child1(sup: &SupervisorRef, pid: Option<Pid>) {
    let active = usize::from(pid.is_some());
    assert_children(
        sup,
        &[("child1", pid, ChildKind::Worker)],
        count(1, active, 0, 1),
    )
    .await;
}

/// child1, the supervisor's only child, was restarted after `old` exited: it runs
/// with a new pid (counts `[1,1,0,1]`), which is returned.
pub(crate) async fn assert_child1_restarted(sup: &SupervisorRef, old: Pid) -> Pid {
    let pid = pid_of(sup, "child1").await;
    assert_ne!(pid, old, "child1 restarted");
    assert_only_child1(sup, Some(pid)).await;
    pid
}

/// OTP's `{error, simple_one_for_one}`: a call by id that a `simple_one_for_one`
/// supervisor does not serve (noex: `Unsupported`).
pub(crate) fn assert_simple_one_for_one_error<T: Debug>(result: Result<T, SupervisorError>) {
    assert_matches!(
        result,
        Err(SupervisorError::Unsupported {
            strategy: "simple_one_for_one",
            ..
        })
    );
}

/// Await something the code under test must make happen, failing the test (OTP's
/// timetrap) instead of hanging it: the binary's shared guard.
pub(crate) use crate::shared::within;

pub(crate) async fn start_sup(spec: SupervisorSpec) -> SupervisorRef {
    within("the supervisor's start", supervisor::start(spec))
        .await
        .expect("the supervisor starts")
}

/// OTP's `terminate(Sup, shutdown)`: the supervisor ends with reason `shutdown`.
pub(crate) async fn stop_sup(sup: &SupervisorRef) {
    within("the supervisor's shutdown", sup.stop())
        .await
        .expect("the supervisor ends with reason shutdown");
    assert_eq!(
        within("the supervisor's exit", sup.wait()).await,
        ExitReason::Shutdown
    );
}

/// Shut the supervisor down as `stop_sup` does (it must end with `shutdown`) and
/// return how each of `children` ended, in the order given.
pub(crate) async fn shutdown_reasons(sup: &SupervisorRef, children: &[Pid]) -> Vec<ExitReason> {
    let downs: Vec<_> = children.iter().map(|&pid| process::monitor(pid)).collect();
    stop_sup(sup).await;
    let mut reasons = Vec::new();
    for down in downs {
        reasons.push(within("a child's exit", down).await.reason);
    }
    reasons
}

/// How the supervisor ended (OTP's `check_exit_reason(SupPid, R)`).
pub(crate) async fn sup_exit(sup: &SupervisorRef) -> ExitReason {
    within("the supervisor's exit", sup.wait()).await
}

pub(crate) type Log = Arc<Mutex<Vec<String>>>;

pub(crate) fn log() -> Log {
    Arc::default()
}

pub(crate) fn take(log: &Log) -> Vec<String> {
    std::mem::take(&mut *log.lock().unwrap_or_else(|e| e.into_inner()))
}
