//! OTP group `sup_start_map`: the defaults of a child spec given as a map.

use std::time::Duration;

use noex::registry;
use noex::supervisor::{self, ChildSpec, RestartType, Shutdown, SupervisorSpec};
use noex::{ExitReason, Pid, SupervisorRef, process};
use tokio::time::Instant;

use crate::child::*;
use crate::support::*;

/// `terminate_child(id)` once `hung` (child `id` itself, or a process it waits
/// for) has become unresponsive: how long the call took, and how child `id` ended.
async fn terminate_hung_child(sup: &SupervisorRef, id: &str, hung: Pid) -> (Duration, ExitReason) {
    let down = process::monitor(pid_of(sup, id).await);
    handle(hung).cast(Cmd::Hang).unwrap();
    let t0 = Instant::now();
    within("terminate_child", sup.terminate_child(id))
        .await
        .expect("terminate_child answers ok");
    let took = t0.elapsed();
    (
        took,
        within("the terminated child's exit", down).await.reason,
    )
}

/// OTP `sup_start_map` (in part): a child spec given only an id and a start is
/// `permanent`, a `worker`, with a shutdown of 5000 ms for a worker and `infinity`
/// for a supervisor; an unknown id is not found. noex has no `get_childspec` and
/// no `modules`: restart and kind are read from `children()`, and the shutdowns by
/// their effect — an unresponsive default worker is killed after exactly 5 s, and
/// a default supervisor child is waited for longer than that (its own child takes
/// 7 s to stop) and ends with `shutdown`, not killed.
#[tokio::test(start_paused = true)]
async fn sup_start_map_child_spec_defaults_are_permanent_worker_5s_and_infinity() {
    assert_eq!(
        supervisor::DEFAULT_WORKER_SHUTDOWN,
        Shutdown::Timeout(secs(5))
    );
    let inner = n("sup_start_map", "child3");
    let sup = start_sup(
        SupervisorSpec::one_for_one()
            .child(ChildSpec::worker("child1", || Child::new("child1")))
            .child(
                ChildSpec::worker("child2", || Child::new("child2")).shutdown(Shutdown::BrutalKill),
            )
            .child(ChildSpec::supervisor(
                "child3",
                SupervisorSpec::one_for_one().name(&inner).child(
                    ChildSpec::worker("slow", || Child::new("slow"))
                        .shutdown(Shutdown::Timeout(secs(7))),
                ),
            )),
    )
    .await;
    let children = sup.children().await.unwrap();
    let described: Vec<_> = children
        .iter()
        .map(|c| (c.id.as_str(), c.restart, c.kind))
        .collect();
    assert_eq!(
        described,
        [
            ("child1", RestartType::Permanent, W),
            ("child2", RestartType::Permanent, W),
            ("child3", RestartType::Permanent, S),
        ]
    );
    assert_eq!(
        sup.child_info("child4").await.unwrap(),
        None,
        "child4 not found"
    );

    // child1: the default worker shutdown, 5000 ms, then kill.
    let child1 = pid_of(&sup, "child1").await;
    let (took, reason) = terminate_hung_child(&sup, "child1", child1).await;
    assert_eq!(took.as_secs(), 5, "a worker's default shutdown is 5 s");
    assert_eq!(reason, ExitReason::Killed);

    // child2: brutal_kill.
    let child2 = pid_of(&sup, "child2").await;
    let (took, reason) = terminate_hung_child(&sup, "child2", child2).await;
    assert_eq!(took, Duration::ZERO);
    assert_eq!(reason, ExitReason::Killed);

    // child3: a supervisor's default shutdown is infinity.
    let slow = pid_of(&registry::lookup_supervisor(&inner).unwrap(), "slow").await;
    let (took, reason) = terminate_hung_child(&sup, "child3", slow).await;
    assert_eq!(took.as_secs(), 7, "waited for the nested supervisor");
    assert_eq!(reason, ExitReason::Shutdown);
    stop_sup(&sup).await;
}

/// OTP `sup_start_map_simple` (in part): every dynamic child has the template's
/// spec (here: `temporary`, `worker`, as `children()` shows; OTP reads the full map
/// with `get_childspec(Pid, Ci)`), and a live process that is not a child has none.
#[tokio::test(start_paused = true)]
async fn sup_start_map_simple_dynamic_children_have_the_template_spec() {
    let sup = start_sup(SupervisorSpec::simple_one_for_one(
        ChildSpec::worker("child", || Child::new("child")).restart(RestartType::Temporary),
    ))
    .await;
    let mut started = Vec::new();
    for _ in 0..3 {
        started.push(sup.start_child_with(()).await.unwrap());
    }
    let children = sup.children().await.unwrap();
    assert_eq!(
        children.iter().map(|c| c.pid).collect::<Vec<_>>(),
        started.iter().copied().map(Some).collect::<Vec<_>>()
    );
    for child in &children {
        assert_eq!((child.restart, child.kind), (RestartType::Temporary, W));
    }
    let outsider = signaller().await;
    assert!(children.iter().all(|c| c.pid != Some(outsider.pid())));
    stop_sup(&sup).await;
}
