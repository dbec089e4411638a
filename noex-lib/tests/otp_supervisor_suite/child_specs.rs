//! OTP cases `child_specs`, `child_specs_map`, `sup_flags` and
//! `multiple_restarts`: which specs and flags are valid, and the restart period.

use std::time::Duration;

use noex::supervisor::{self, ChildSpec, RestartType, Shutdown, SupervisorSpec};
use noex::{DuplicateChildError, ExitReason, SpecError, StartError};

use crate::child::*;
use crate::support::*;

/// OTP `child_specs` (in part): duplicate ids are refused
/// (`{duplicate_child_name, child}`); a `simple_one_for_one` supervisor takes one
/// spec, its template, not more (`bad_start_spec`; noex's template is a required
/// argument, so "no spec" cannot be written); every combination of restart type,
/// shutdown (0, 1000 ms, infinity, brutal_kill) and kind is valid — shutdown 0
/// included. OTP checks them with `check_childspecs`; here the supervisor starts
/// with all of them and stops.
#[tokio::test(start_paused = true)]
async fn child_specs_duplicate_ids_are_refused_and_every_valid_spec_is_accepted() {
    assert_matches!(
        supervisor::start(
            SupervisorSpec::one_for_one()
                .max_restarts(2, hour())
                .child(sup1("child"))
                .child(sup1("child"))
        )
        .await,
        Err(StartError::InvalidSpec(SpecError::DuplicateChild(DuplicateChildError { ref id }))) if id == "child"
    );
    assert_matches!(
        supervisor::start(
            SupervisorSpec::simple_one_for_one(sup1("child1"))
                .max_restarts(2, hour())
                .child(sup1("child2"))
        )
        .await,
        Err(StartError::InvalidSpec(
            SpecError::SimpleOneForOneWithChildren
        ))
    );

    let mut spec = SupervisorSpec::one_for_one().max_restarts(2, hour());
    let mut combinations = 0;
    for restart in [
        RestartType::Permanent,
        RestartType::Transient,
        RestartType::Temporary,
    ] {
        for shutdown in [
            Shutdown::Timeout(Duration::ZERO),
            Shutdown::Timeout(ms(1000)),
            Shutdown::Infinity,
            Shutdown::BrutalKill,
        ] {
            for kind in [S, W] {
                let id = format!("child-{combinations}");
                let child = if kind == S {
                    ChildSpec::supervisor(&id, SupervisorSpec::one_for_one())
                } else {
                    sup1(&id).erase()
                };
                spec = spec.child(child.restart(restart).shutdown(shutdown));
                combinations += 1;
            }
        }
    }
    let sup = start_sup(spec).await;
    assert_eq!(counts(&sup).await, count(24, 24, 12, 12));
    stop_sup(&sup).await;
}

/// OTP `child_specs_map` (in part): of the map-spec checks only those without
/// `significant` map — duplicate ids are refused, and so is a
/// `simple_one_for_one` supervisor given more than its one spec.
#[tokio::test(start_paused = true)]
async fn child_specs_map_duplicate_ids_and_a_second_simple_spec_are_refused() {
    let cs0 = || ChildSpec::worker("child", || Child::new("child"));
    assert_matches!(
        supervisor::start(SupervisorSpec::one_for_one().children([cs0(), cs0()])).await,
        Err(StartError::InvalidSpec(SpecError::DuplicateChild(DuplicateChildError { ref id }))) if id == "child"
    );
    assert_matches!(
        supervisor::start(SupervisorSpec::simple_one_for_one(cs0()).children([cs0()])).await,
        Err(StartError::InvalidSpec(
            SpecError::SimpleOneForOneWithChildren
        ))
    );
    let sup = start_sup(SupervisorSpec::one_for_one().children([cs0()])).await;
    assert_eq!(which(&sup).await.len(), 1);
    stop_sup(&sup).await;
}

/// OTP `sup_flags` (in part): a period of 0 is refused (`{invalid_period, 0}`), in
/// the tuple form `{one_for_one, 2, 0}` and in the map form `#{period => 0}`
/// (default intensity); the default flags are intensity 1, period 5 s
/// (`?default_flags`), and a supervisor with them starts and stops with
/// `shutdown`.
#[tokio::test(start_paused = true)]
async fn sup_flags_a_zero_period_is_refused() {
    assert_matches!(
        supervisor::start(SupervisorSpec::one_for_one().max_restarts(2, Duration::ZERO)).await,
        Err(StartError::InvalidSpec(SpecError::ZeroPeriod))
    );
    assert_matches!(
        supervisor::start(
            SupervisorSpec::one_for_one()
                .max_restarts(supervisor::DEFAULT_MAX_RESTARTS, Duration::ZERO)
        )
        .await,
        Err(StartError::InvalidSpec(SpecError::ZeroPeriod))
    );
    assert_eq!(supervisor::DEFAULT_MAX_RESTARTS, 1);
    assert_eq!(supervisor::DEFAULT_RESTART_WINDOW, secs(5));
    let sup = start_sup(SupervisorSpec::one_for_one()).await;
    stop_sup(&sup).await;
}

/// OTP `multiple_restarts`: with intensity 1 per 1 s, restarts 2.1 s apart never
/// exceed the intensity: after four crashes the supervisor still serves
/// `terminate_child` and `delete_child`. (noex's period is a `Duration`; OTP's is
/// whole seconds.)
#[tokio::test(start_paused = true)]
async fn multiple_restarts_spaced_beyond_the_period_never_exceed_the_intensity() {
    let sup = start_sup(SupervisorSpec::one_for_one().max_restarts(1, secs(1))).await;
    let mut pid = sup
        .start_child(sup1("child1").shutdown(Shutdown::BrutalKill))
        .await
        .unwrap()
        .pid();
    end(pid, How::Abnormal).await;
    for _ in 0..3 {
        tokio::time::advance(ms(2100)).await;
        let next = pid_of(&sup, "child1").await;
        assert_ne!(next, pid, "restarted");
        pid = next;
        end(pid, How::Abnormal).await;
    }
    assert_ne!(pid_of(&sup, "child1").await, pid, "restarted");
    within("terminate_child", sup.terminate_child("child1"))
        .await
        .unwrap();
    sup.delete_child("child1").await.unwrap();
    assert!(sup.is_running());
    sup.kill();
    assert_eq!(sup_exit(&sup).await, ExitReason::Killed);
}
