//! The server's processes as the Observer shows them: its supervisor, the
//! `NAME/connections` simple_one_for_one supervisor, one temporary child per client.

mod support;

use noex::observer::{self, RestartType, Strategy, SupervisorInfo};
use noex_agent::backend::Backend;
use serde_json::json;
use support::{connect, server, store};

fn supervisor(name: &str) -> SupervisorInfo {
    observer::snapshot()
        .supervisors
        .into_iter()
        .find(|supervisor| supervisor.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no supervisor {name}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_is_a_temporary_child_and_a_killed_one_is_not_restarted() {
    let config = support::config().store(store().await);
    let server = server(config).await;
    let name = server.stats().name;
    let mut first = connect(&server).await;
    let mut second = connect(&server).await;
    first.ok("store.buckets", json!({})).await;
    second.ok("store.buckets", json!({})).await;

    let top = supervisor(&name);
    let connections = supervisor(&format!("{name}/connections"));
    assert_eq!(connections.strategy, Strategy::SimpleOneForOne);
    assert_eq!(connections.parent, Some(top.pid));
    assert!(
        top.children
            .iter()
            .any(|child| child.id == "connections" && child.pid == Some(connections.pid)),
        "{top:?}"
    );
    assert_eq!(connections.children.len(), 2, "one child per client");
    assert!(
        connections
            .children
            .iter()
            .all(|child| child.restart == RestartType::Temporary)
    );
    let tree = observer::process_tree();
    assert!(format!("{tree:?}").contains(&format!("{name}/connections")));

    // Kill the first client's process.
    let pids: Vec<String> = server
        .connections()
        .iter()
        .map(|info| info.pid.clone().unwrap())
        .collect();
    let victim = server.connections()[0].clone();
    let victim_pid = noex_agent::target::pid_form(victim.pid.as_deref().unwrap()).unwrap();
    let outcome = noex::agent::runtime_backend()
        .kill(victim_pid, Some("test".into()))
        .await
        .unwrap();
    assert_eq!(outcome.new_pid, None, "a temporary child is not restarted");

    let (killed, survivor) = if victim.id == 1 {
        (&mut first, &mut second)
    } else {
        (&mut second, &mut first)
    };
    // The socket closes (the close_code read ends: with a frame or without).
    let _ = killed.close_code().await;
    support::until("the registry drops the killed client", || {
        server.connection_count() == 1
    })
    .await;
    let left = supervisor(&format!("{name}/connections"));
    assert_eq!(left.children.len(), 1, "no new child: {left:?}");
    let still: Vec<String> = server
        .connections()
        .iter()
        .map(|info| info.pid.clone().unwrap())
        .collect();
    assert!(pids.contains(&still[0]) && still[0] != victim.pid.clone().unwrap());
    survivor.ok("store.buckets", json!({})).await;
    assert_eq!(server.stats().connections.accepted, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_connection_s_subscriptions_end() {
    let store = store().await;
    let server = server(support::config().store(store.clone())).await;
    let mut client = connect(&server).await;
    client
        .ok("store.subscribe", json!({"query": "all-users"}))
        .await;
    client
        .ok("events.subscribe", json!({"pattern": "orders.*"}))
        .await;
    assert_eq!(store.stats().subscriptions, 1);
    let pid = support::only_connection(&server).pid.unwrap();
    noex::agent::runtime_backend()
        .kill(noex_agent::target::pid_form(&pid).unwrap(), None)
        .await
        .unwrap();
    let _ = client.close_code().await;
    support::until("the store subscription ended with the process", || {
        store.stats().subscriptions == 0
    })
    .await;
    assert_eq!(server.stats().connections.total_event_subscriptions, 0);
}
