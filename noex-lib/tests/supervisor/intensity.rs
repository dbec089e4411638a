//! The restart intensity: exceeding it stops the children and the supervisor,
//! which its parent sees as a `shutdown`; OTP's defaults.

use std::time::Duration;

use noex::events::{self, EventKind};
use noex::supervisor::{self, ChildSpec, RestartType, Shutdown, SupervisorSpec};
use noex::{ExitReason, MaxRestartsExceededError, observer, process, registry};

use crate::support::{Idle, within};
use crate::worker::*;

/// OTP's `shutdown` of a supervisor that reached its intensity, saying why.
fn gave_up(max_restarts: u32, within: Duration) -> ExitReason {
    ExitReason::MaxRestartsExceeded(MaxRestartsExceededError {
        max_restarts,
        within,
    })
}

#[tokio::test]
async fn exceeding_intensity_stops_every_child_then_the_supervisor() {
    let log = log();
    let sup = supervisor::start(
        SupervisorSpec::one_for_one()
            .max_restarts(2, Duration::from_secs(5))
            .child(worker("intens", "a", &log))
            .child(worker("intens", "b", &log)),
    )
    .await
    .unwrap();
    crash_and_settle(&sup, "intens", "a").await;
    crash_and_settle(&sup, "intens", "a").await;
    assert!(sup.is_running(), "two restarts are within the limit");
    take(&log);
    let _ = server("intens", "a").call(Order::Crash).await;
    let reason = within("the supervisor gives up", sup.wait()).await;
    assert_eq!(reason, gave_up(2, Duration::from_secs(5)));
    assert_eq!(take(&log), ["stop a (a crashed)", "stop b (shutdown)"]);
    assert!(!registry::is_registered("intens.b"));
}

/// OTP (supervisor.erl, `restart/2`): a supervisor that reaches its intensity
/// terminates with reason `shutdown`; its parent gets that exit and acts by the
/// child's restart type: a permanent child supervisor is restarted, once.
#[tokio::test]
async fn a_supervisor_over_its_limit_exits_with_shutdown_and_its_parent_restarts_it() {
    let log = log();
    let inner = SupervisorSpec::one_for_one()
        .max_restarts(0, Duration::from_secs(5))
        .name("esc.inner")
        .child(worker("esc", "a", &log));
    let outer = supervisor::start(
        SupervisorSpec::one_for_one()
            .child(ChildSpec::supervisor("inner", inner))
            .child(worker("esc", "sibling", &log)),
    )
    .await
    .unwrap();
    let inner_before = registry::whereis("esc.inner").unwrap();
    let sibling_before = registry::whereis("esc.sibling").unwrap();
    let down = process::monitor(inner_before);
    let mut stream = events::subscribe();
    let _ = server("esc", "a").call(Order::Crash).await;

    // The exit its parent is signalled: a shutdown (noex says why), not a crash.
    let reason = within("the inner supervisor's exit", down).await.reason;
    assert_eq!(reason, gave_up(0, Duration::from_secs(5)));
    assert!(reason.is_shutdown() && !reason.is_abnormal(), "{reason:?}");

    // What the parent did with it, as the event stream tells: the inner supervisor
    // terminated (with that reason, no crash), then the parent restarted it.
    let (ended, restarted) = within("the parent's restart of the inner supervisor", async {
        let mut ended = Vec::new();
        loop {
            let event = stream.recv().await.expect("no lag");
            if event.pid == inner_before {
                ended.push(event.kind.clone());
            }
            if event.parent == Some(outer.pid())
                && matches!(event.kind, EventKind::Restarted { .. })
            {
                break (ended, event);
            }
        }
    })
    .await;
    assert!(
        ended.contains(&EventKind::Terminated {
            reason: "shutdown: max restarts exceeded: more than 0 restarts in 5s".into()
        }) && !ended
            .iter()
            .any(|kind| matches!(kind, EventKind::Crashed { .. })),
        "{ended:?}"
    );
    assert_eq!(restarted.child_id.as_deref(), Some("inner"));
    assert_eq!(restarted.kind, EventKind::Restarted { attempt: 1 });
    let inner_after = restarted.pid;
    assert_ne!(inner_after, inner_before);
    assert_eq!(registry::whereis("esc.inner"), Some(inner_after));
    assert_eq!(
        outer.child_info("inner").await.unwrap().unwrap().pid,
        Some(inner_after)
    );
    let counted = observer::snapshot()
        .supervisors
        .into_iter()
        .find(|sup| sup.pid == outer.pid())
        .unwrap()
        .child_restarts;
    assert_eq!(counted, 1, "the parent counts one restart");
    assert_eq!(
        registry::whereis("esc.sibling"),
        Some(sibling_before),
        "one_for_one parent: the sibling is untouched"
    );
    // The restarted inner supervisor started its worker again.
    assert!(server("esc", "a").is_running());
}

/// The same shutdown is a normal exit for a transient child supervisor: its parent
/// does not restart it (OTP's `do_restart(shutdown, ...)`), and nothing crashed.
#[tokio::test]
async fn a_transient_supervisor_that_gives_up_is_not_restarted_by_its_parent() {
    let log = log();
    let inner = SupervisorSpec::one_for_one()
        .max_restarts(0, Duration::from_secs(5))
        .name("esc-t.inner")
        .child(worker("esc-t", "a", &log));
    let outer = supervisor::start(
        SupervisorSpec::one_for_one()
            .child(ChildSpec::supervisor("inner", inner).restart(RestartType::Transient)),
    )
    .await
    .unwrap();
    let inner = registry::lookup_supervisor("esc-t.inner").unwrap();
    let mut stream = events::subscribe();
    let _ = server("esc-t", "a").call(Order::Crash).await;
    let reason = within("the inner supervisor gives up", inner.wait()).await;
    assert_eq!(reason, gave_up(0, Duration::from_secs(5)));
    // Its exit signal is queued at the parent before `wait` returns: the parent
    // has handled it when it answers.
    assert_eq!(pids(&outer).await, vec![None], "kept, not restarted");
    assert!(outer.is_running());
    let inner_exit = within("the inner supervisor's exit event", async {
        loop {
            let event = stream.recv().await.expect("no lag");
            if event.pid == inner.pid()
                && matches!(
                    event.kind,
                    EventKind::Terminated { .. } | EventKind::Crashed { .. }
                )
            {
                break event.kind;
            }
        }
    })
    .await;
    assert_eq!(
        inner_exit,
        EventKind::Terminated {
            reason: "shutdown: max restarts exceeded: more than 0 restarts in 5s".into()
        }
    );
}

/// OTP's defaults: intensity 1 in 5 s; a worker's shutdown 5 s, a supervisor's
/// infinity.
#[test]
fn defaults_are_otps_intensity_one_in_five_seconds_and_shutdown_five_seconds_or_infinity() {
    assert_eq!(supervisor::DEFAULT_MAX_RESTARTS, 1);
    assert_eq!(supervisor::DEFAULT_RESTART_WINDOW, Duration::from_secs(5));
    assert_eq!(
        supervisor::DEFAULT_WORKER_SHUTDOWN,
        Shutdown::Timeout(Duration::from_secs(5))
    );
    let worker = format!("{:?}", ChildSpec::worker("w", || Idle));
    assert!(worker.contains("shutdown: Timeout(5s)"), "{worker}");
    let nested = format!(
        "{:?}",
        ChildSpec::supervisor("s", SupervisorSpec::one_for_one())
    );
    assert!(nested.contains("shutdown: Infinity"), "{nested}");
}

/// A second restart within 5 s exceeds the default intensity.
#[tokio::test(start_paused = true)]
async fn the_default_intensity_gives_up_at_the_second_restart_within_five_seconds() {
    let log = log();
    let sup = supervisor::start(SupervisorSpec::one_for_one().child(worker("dflt", "a", &log)))
        .await
        .unwrap();
    crash_and_settle(&sup, "dflt", "a").await;
    assert!(sup.is_running(), "one restart is allowed");
    tokio::time::advance(Duration::from_secs(6)).await;
    crash_and_settle(&sup, "dflt", "a").await;
    assert!(sup.is_running(), "the first restart left the window");
    let _ = server("dflt", "a").call(Order::Crash).await;
    assert_eq!(
        within("the supervisor gives up", sup.wait()).await,
        gave_up(1, Duration::from_secs(5))
    );
}
