//! The restart intensity: exceeding it stops the children and the supervisor,
//! which its parent sees as a `shutdown`; OTP's defaults.

use std::time::Duration;

use noex::ExitReason;
use noex::registry;
use noex::supervisor::{self, ChildSpec, RestartType, Shutdown, SupervisorSpec};

use crate::support::Idle;
use crate::worker::*;

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
    let reason = sup.wait().await;
    assert_eq!(
        reason,
        ExitReason::MaxRestartsExceeded(noex::MaxRestartsExceededError {
            max_restarts: 2,
            within: Duration::from_secs(5)
        })
    );
    assert_eq!(take(&log), ["stop a (a crashed)", "stop b (shutdown)"]);
    assert!(!registry::is_registered("intens.b"));
}

#[tokio::test]
/// OTP: a supervisor that reaches its intensity exits with `shutdown`, and its
/// parent acts by that child's restart type: a permanent one is restarted.
async fn a_supervisor_over_its_limit_escalates_to_its_parent_as_a_shutdown() {
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
    let before = pids(&outer).await;
    let _ = server("esc", "a").call(Order::Crash).await;
    settle(&outer, &before).await;
    let inner_after = registry::whereis("esc.inner").expect("inner supervisor restarted");
    assert_ne!(inner_after, inner_before);
    assert_eq!(
        registry::whereis("esc.sibling"),
        Some(sibling_before),
        "one_for_one parent"
    );
    let restarted = outer.child("inner").await.unwrap().unwrap();
    assert_eq!(restarted.pid, Some(inner_after));
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
    let mut events = noex::events::subscribe();
    let _ = server("esc-t", "a").call(Order::Crash).await;
    let reason = inner.wait().await;
    assert!(reason.is_shutdown() && !reason.is_abnormal(), "{reason:?}");
    assert_eq!(pids(&outer).await, vec![None], "kept, not restarted");
    assert!(outer.is_running());
    let inner_exit = loop {
        let event = events.recv().await.unwrap();
        if event.pid == inner.pid()
            && matches!(
                event.kind,
                noex::events::EventKind::Terminated { .. }
                    | noex::events::EventKind::Crashed { .. }
            )
        {
            break event.kind;
        }
    };
    assert_eq!(
        inner_exit,
        noex::events::EventKind::Terminated {
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
    assert!(matches!(
        sup.wait().await,
        ExitReason::MaxRestartsExceeded(noex::MaxRestartsExceededError {
            max_restarts: 1,
            ..
        })
    ));
}
