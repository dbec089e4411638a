//! The Observer and the lifecycle stream: what a user (or `noex`) sees.

use std::time::Duration;

use noex::events::{self, EventKind};
use noex::gen_server::{self, Context, GenServer, Reply, StartOptions};
use noex::observer::{self, ProcessStatus, TreeNode};
use noex::supervisor::{self, ChildSpec, Strategy, SupervisorSpec};
use noex::{ExitReason, Pid};

mod support;

struct Busy;
impl GenServer for Busy {
    type Call = Duration;
    type Cast = Duration;
    type Reply = ();
    async fn handle_call(&mut self, sleep: Duration, _: &mut Context<Self>) -> Reply<()> {
        tokio::time::sleep(sleep).await;
        Reply::Now(())
    }
    async fn handle_cast(&mut self, sleep: Duration, _: &mut Context<Self>) {
        if sleep.is_zero() {
            panic!("asked to crash");
        }
        tokio::time::sleep(sleep).await;
    }
}

fn server_info(pid: Pid) -> noex::observer::ServerInfo {
    observer::snapshot()
        .servers
        .into_iter()
        .find(|s| s.pid == pid)
        .expect("server in snapshot")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_counts_messages_queue_and_busy_time_without_asking_the_server() {
    let server = gen_server::start(Busy, StartOptions::new().name("obs.busy"))
        .await
        .unwrap();
    for _ in 0..10 {
        server.cast(Duration::from_millis(20)).unwrap();
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    // The server is busy with its backlog: the snapshot must not wait for it.
    let info = server_info(server.pid());
    assert_eq!(info.name.as_deref(), Some("obs.busy"));
    assert_eq!(info.type_name, "Busy");
    assert_eq!(info.status, ProcessStatus::Running);
    assert!(
        info.queue_len >= 5 && info.queue_len <= 9,
        "queue {}",
        info.queue_len
    );
    assert!(
        info.handler_running_ns.is_some(),
        "a handler is running now"
    );
    server.call(Duration::ZERO).await.unwrap();
    let info = server_info(server.pid());
    assert_eq!(info.messages, 11);
    assert_eq!(info.queue_len, 0);
    assert!(info.busy_ns >= 200_000_000, "busy {}ns", info.busy_ns);
    assert_eq!(info.handler_running_ns, None, "idle");
}

#[tokio::test]
async fn snapshot_shows_restarts_and_last_error_across_restarts() {
    let sup = supervisor::start(
        SupervisorSpec::one_for_one()
            .name("obs.sup")
            .child(ChildSpec::worker("crashy", || Busy).name("obs.crashy")),
    )
    .await
    .unwrap();
    let first = noex::registry::lookup::<Busy>("obs.crashy").unwrap();
    first.cast(Duration::ZERO).unwrap();
    first.wait().await;
    let mut second = None;
    for _ in 0..200 {
        if let Ok(s) = noex::registry::lookup::<Busy>("obs.crashy") {
            second = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let second = second.expect("restarted");
    let info = server_info(second.pid());
    assert_eq!(info.restarts, 1);
    assert_eq!(info.child_id.as_deref(), Some("crashy"));
    assert_eq!(info.parent, Some(sup.pid()));
    assert_eq!(info.last_error.as_deref(), Some("asked to crash"));

    let snapshot = observer::snapshot();
    let sup_info = snapshot
        .supervisors
        .iter()
        .find(|s| s.pid == sup.pid())
        .unwrap();
    assert_eq!(sup_info.strategy, Strategy::OneForOne);
    assert_eq!(sup_info.restarts, 1);
    assert_eq!(sup_info.children[0].pid, Some(second.pid()));
    assert_eq!(
        sup_info.intensity.max_restarts, 1,
        "OTP's default intensity"
    );
    assert!(snapshot.process_count >= 2);
    assert_eq!(snapshot.os_pid, std::process::id());
}

#[tokio::test]
async fn process_tree_nests_children_in_start_order() {
    let sup = supervisor::start(
        SupervisorSpec::rest_for_one()
            .name("tree.root")
            .child(ChildSpec::worker("w1", || Busy))
            .child(ChildSpec::supervisor(
                "inner",
                SupervisorSpec::one_for_all().child(ChildSpec::worker("w2", || Busy)),
            ))
            .child(ChildSpec::worker("w3", || Busy)),
    )
    .await
    .unwrap();
    let tree = observer::process_tree();
    let root = tree
        .roots
        .iter()
        .find(|node| node.pid() == Some(sup.pid()))
        .expect("the supervisor is a root");
    let TreeNode::Supervisor { info, children } = root else {
        panic!("root is a supervisor")
    };
    assert_eq!(info.strategy, Strategy::RestForOne);
    let ids: Vec<String> = children
        .iter()
        .map(|c| match c {
            TreeNode::Worker { info } => info.child_id.clone().unwrap(),
            TreeNode::Supervisor { info, .. } => info.child_id.clone().unwrap(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(ids, ["w1", "inner", "w3"]);
    let TreeNode::Supervisor {
        children: inner,
        info,
    } = &children[1]
    else {
        panic!("inner supervisor")
    };
    assert_eq!(info.strategy, Strategy::OneForAll);
    assert!(
        matches!(&inner[0], TreeNode::Worker { info } if info.child_id.as_deref() == Some("w2"))
    );
    // Children are not roots.
    assert!(!tree.roots.iter().any(|n| n.pid() == children[0].pid()));
}

#[tokio::test]
async fn lifecycle_events_report_start_crash_restart_in_order() {
    let mut stream = events::subscribe();
    let sup = supervisor::start(
        SupervisorSpec::one_for_one().child(ChildSpec::worker("ev", || Busy).name("events.worker")),
    )
    .await
    .unwrap();
    let worker = noex::registry::lookup::<Busy>("events.worker").unwrap();
    worker.cast(Duration::ZERO).unwrap();
    let mut seen = Vec::new();
    while seen.len() < 7 {
        let event = tokio::time::timeout(Duration::from_secs(2), stream.recv())
            .await
            .expect("event in time")
            .expect("no lag");
        let ours = event.pid == sup.pid() || event.parent == Some(sup.pid());
        if ours {
            seen.push((event.kind.label(), event.child_id.clone(), event.seq));
        }
    }
    let kinds: Vec<_> = seen.iter().map(|(k, id, _)| (*k, id.as_deref())).collect();
    assert_eq!(
        kinds,
        [
            ("registered", Some("ev")),
            ("started", Some("ev")),
            ("started", None),
            ("unregistered", Some("ev")),
            ("crashed", Some("ev")),
            ("registered", Some("ev")),
            ("started", Some("ev")),
        ]
    );
    let next = loop {
        let event = stream.recv().await.unwrap();
        if event.parent == Some(sup.pid()) {
            break event;
        }
    };
    assert_eq!(next.kind, EventKind::Restarted { attempt: 1 });
    assert!(
        seen.windows(2).all(|w| w[0].2 < w[1].2),
        "sequence numbers increase"
    );
}

#[tokio::test]
async fn recent_events_keep_a_bounded_history_oldest_first() {
    let server = gen_server::start(Busy, StartOptions::new()).await.unwrap();
    server.stop(ExitReason::Normal).await.unwrap();
    let recent = events::recent(50);
    assert!(recent.len() <= 50);
    assert!(recent.windows(2).all(|w| w[0].seq < w[1].seq));
    assert!(
        recent
            .iter()
            .any(|e| e.pid == server.pid() && matches!(e.kind, EventKind::Terminated { .. }))
    );
}
