//! The restart strategies: `one_for_one`, `one_for_all`, `rest_for_one` and
//! `simple_one_for_one`.

use noex::gen_server::{Context, GenServer, Reply};
use noex::supervisor::{self, ChildSpec, SupervisorSpec};
use noex::{StartError, SupervisorError};

use crate::support::Idle;
use crate::worker::*;

#[tokio::test]
async fn one_for_one_restarts_only_the_crashed_child() {
    let log = log();
    let sup = supervisor::start(
        SupervisorSpec::one_for_one()
            .child(worker("ofo", "a", &log))
            .child(worker("ofo", "b", &log))
            .child(worker("ofo", "c", &log)),
    )
    .await
    .unwrap();
    let before = pids(&sup).await;
    take(&log);
    crash_and_settle(&sup, "ofo", "b").await;
    let after = pids(&sup).await;
    assert_eq!(after[0], before[0]);
    assert_ne!(after[1], before[1]);
    assert_eq!(after[2], before[2]);
    assert_eq!(take(&log), ["stop b (b crashed)", "start b"]);
}

#[tokio::test]
async fn one_for_all_restarts_every_sibling_in_start_order() {
    let log = log();
    let sup = supervisor::start(
        SupervisorSpec::one_for_all()
            .child(worker("ofa", "a", &log))
            .child(worker("ofa", "b", &log))
            .child(worker("ofa", "c", &log)),
    )
    .await
    .unwrap();
    let before = pids(&sup).await;
    take(&log);
    crash_and_settle(&sup, "ofa", "b").await;
    let after = pids(&sup).await;
    assert!(
        after.iter().zip(&before).all(|(a, b)| a != b),
        "every child is new"
    );
    assert_eq!(
        take(&log),
        [
            "stop b (b crashed)",
            "stop c (shutdown)",
            "stop a (shutdown)",
            "start a",
            "start b",
            "start c"
        ]
    );
}

#[tokio::test]
async fn rest_for_one_restarts_only_the_later_children() {
    let log = log();
    let sup = supervisor::start(
        SupervisorSpec::rest_for_one()
            .child(worker("rfo", "a", &log))
            .child(worker("rfo", "b", &log))
            .child(worker("rfo", "c", &log)),
    )
    .await
    .unwrap();
    let before = pids(&sup).await;
    take(&log);
    crash_and_settle(&sup, "rfo", "b").await;
    let after = pids(&sup).await;
    assert_eq!(after[0], before[0], "earlier child untouched");
    assert_ne!(after[1], before[1]);
    assert_ne!(after[2], before[2]);
    assert_eq!(
        take(&log),
        [
            "stop b (b crashed)",
            "stop c (shutdown)",
            "start b",
            "start c"
        ]
    );
}

#[tokio::test]
async fn simple_one_for_one_starts_children_from_a_template_with_arguments() {
    struct Conn(u32);
    impl GenServer for Conn {
        type Call = ();
        type Cast = ();
        type Reply = u32;
        async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<u32> {
            Reply::Now(self.0)
        }
    }
    let sup = supervisor::start(SupervisorSpec::simple_one_for_one(ChildSpec::worker_with(
        "conn",
        |port: &u32| Conn(*port),
    )))
    .await
    .unwrap();
    let first = sup.start_child_with(8080u32).await.unwrap();
    let second = sup.start_child_with(9090u32).await.unwrap();
    let children = sup.children().await.unwrap();
    assert_eq!(
        children.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["conn-1", "conn-2"]
    );
    assert_eq!(
        children.iter().map(|c| c.pid).collect::<Vec<_>>(),
        [Some(first), Some(second)]
    );
    let wrong = sup.start_child_with("not a port").await.unwrap_err();
    assert!(
        matches!(
            wrong,
            SupervisorError::Start(StartError::BadArgument { .. })
        ),
        "{wrong:?}"
    );
    let unsupported = sup.restart_child("conn-1").await.unwrap_err();
    assert!(matches!(unsupported, SupervisorError::Unsupported { .. }));
    sup.terminate_child("conn-1").await.unwrap();
    assert_eq!(
        sup.children().await.unwrap().len(),
        1,
        "a terminated dynamic child is removed"
    );
}

/// OTP: `delete_child`, `restart_child` and a `start_child` with a spec are not for
/// a simple_one_for_one supervisor (`{error, simple_one_for_one}`).
#[tokio::test]
async fn simple_one_for_one_refuses_delete_child_restart_child_and_specs() {
    let sup = supervisor::start(SupervisorSpec::simple_one_for_one(ChildSpec::worker_with(
        "dyn",
        |_: &()| Idle,
    )))
    .await
    .unwrap();
    sup.start_child_with(()).await.unwrap();
    for refused in [
        sup.delete_child("dyn-1").await.map(|_| ()),
        sup.restart_child("dyn-1").await.map(|_| ()),
        sup.start_child(ChildSpec::worker("x", || Idle))
            .await
            .map(|_| ()),
    ] {
        assert!(
            matches!(
                refused,
                Err(SupervisorError::Unsupported {
                    strategy: "simple_one_for_one",
                    ..
                })
            ),
            "{refused:?}"
        );
    }
    assert_eq!(sup.count_children().await.unwrap().active, 1);
}

/// OTP's `restart_multiple_children`: a group restart starts every non-temporary
/// child of the group, one stopped with `terminate_child` too.
#[tokio::test]
async fn one_for_all_restarts_every_non_temporary_child_even_one_that_was_stopped() {
    let log = log();
    let sup = supervisor::start(
        SupervisorSpec::one_for_all()
            .child(worker("ofa-all", "a", &log))
            .child(worker("ofa-all", "b", &log))
            .child(worker("ofa-all", "c", &log)),
    )
    .await
    .unwrap();
    sup.terminate_child("c").await.unwrap();
    take(&log);
    crash_and_settle(&sup, "ofa-all", "a").await;
    assert!(
        pids(&sup).await.iter().all(Option::is_some),
        "c was started again"
    );
    assert_eq!(
        take(&log),
        [
            "stop a (a crashed)",
            "stop b (shutdown)",
            "start a",
            "start b",
            "start c"
        ]
    );
}

/// OTP's `start_children` in a group restart: a child that returns `ignore` is
/// dropped if temporary, and otherwise kept, not running.
#[tokio::test]
async fn a_group_restart_keeps_a_permanent_child_that_ignores_its_start() {
    /// Starts the first time, then declines (`Ignore`).
    struct OnceOnly(std::sync::Arc<std::sync::atomic::AtomicBool>);
    impl GenServer for OnceOnly {
        type Call = ();
        type Cast = ();
        type Reply = ();
        async fn init(&mut self, _: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
            if self.0.swap(true, std::sync::atomic::Ordering::SeqCst) {
                return Err(noex::gen_server::Ignore.into());
            }
            Ok(())
        }
        async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
            Reply::Now(())
        }
    }
    let log = log();
    let started = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sup = supervisor::start(
        SupervisorSpec::one_for_all()
            .child(worker("ofa-ignore", "a", &log))
            .child(ChildSpec::worker("once", move || OnceOnly(started.clone()))),
    )
    .await
    .unwrap();
    crash_and_settle(&sup, "ofa-ignore", "a").await;
    let children = sup.children().await.unwrap();
    let shown: Vec<(&str, bool)> = children
        .iter()
        .map(|child| (child.id.as_str(), child.pid.is_some()))
        .collect();
    assert_eq!(shown, [("a", true), ("once", false)], "kept, not running");
}
