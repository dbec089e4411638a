//! `observer.*` over a real socket: snapshot, tree, a process's state, kill and
//! restart as `noex kill` and `noex restart` do them, and lifecycle events pushed.

mod support;

use noex::gen_server::{Context, GenServer, Reply};
use noex::supervisor::{self, ChildSpec, SupervisorRef, SupervisorSpec};
use serde_json::{Value, json};
use support::{Client, connect, server, store};

/// A worker that does nothing, to be killed and restarted.
struct Idle;

impl GenServer for Idle {
    type Call = ();
    type Cast = ();
    type Reply = ();
    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }
}

async fn app(name: &str) -> SupervisorRef {
    supervisor::start(
        SupervisorSpec::one_for_one()
            .name(format!("{name}.app"))
            .child(ChildSpec::worker("idle", || Idle).name(format!("{name}.idle"))),
    )
    .await
    .unwrap()
}

fn pid_of(snapshot: &Value, name: &str) -> Value {
    snapshot["servers"]
        .as_array()
        .unwrap()
        .iter()
        .chain(snapshot["supervisors"].as_array().unwrap())
        .find(|process| process["name"] == name)
        .unwrap_or_else(|| panic!("no process {name}"))["pid"]
        .clone()
}

async fn snapshot(client: &mut Client) -> Value {
    client.ok("observer.snapshot", json!({})).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_and_tree_show_the_server_and_the_application() {
    let server = server(support::config().store(store().await)).await;
    let name = server.stats().name;
    let _app = app(&name).await;
    let mut client = connect(&server).await;
    let snapshot = snapshot(&mut client).await;
    assert!(
        snapshot["process_count"].as_u64().unwrap() > 0,
        "{snapshot}"
    );
    pid_of(&snapshot, &format!("{name}.idle"));
    pid_of(&snapshot, &format!("{name}/connections"));
    let tree = client.ok("observer.tree", json!({})).await;
    let text = tree.to_string();
    assert!(text.contains(&format!("{name}.app")), "{text}");
    assert!(text.contains(&format!("{name}/connections")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_of_a_connection_says_who_it_serves() {
    let server = server(support::config().store(store().await)).await;
    let mut client = connect(&server).await;
    let _other = connect(&server).await;
    // Another client's: a connection serving this request cannot also answer for
    // its state.
    let pid = server
        .connections()
        .into_iter()
        .find(|info| info.id == 2)
        .unwrap()
        .pid
        .unwrap();
    let state = client.ok("observer.state", json!({"target": pid})).await;
    let text = state["state"].as_str().unwrap();
    assert!(text.contains("client 2 from 127.0.0.1"), "{text}");
    assert_eq!(
        client
            .error_code("observer.state", json!({"target": "no-such-process"}))
            .await,
        "NOT_FOUND"
    );
    assert_eq!(
        client
            .error_code("observer.state", json!({"target": "<0.999999999>"}))
            .await,
        "NOT_FOUND"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_of_a_supervised_worker_gives_its_new_pid_and_a_lifecycle_push() {
    let server = server(support::config().store(store().await)).await;
    let name = server.stats().name;
    let _app = app(&name).await;
    let mut client = connect(&server).await;
    let subscribed = client.ok("observer.subscribe", json!({})).await;
    let subscription = subscribed["subscriptionId"].clone();
    let before = pid_of(&snapshot(&mut client).await, &format!("{name}.idle"));

    let outcome = client
        .ok("observer.kill", json!({"target": format!("{name}.idle")}))
        .await;
    assert_eq!(outcome["target"]["pid"], before, "{outcome}");
    let new_pid = outcome["new_pid"].clone();
    assert!(new_pid.is_u64(), "a new pid: {outcome}");
    assert_ne!(new_pid, before);
    assert_eq!(
        pid_of(&snapshot(&mut client).await, &format!("{name}.idle")),
        new_pid
    );

    // The restart is pushed on the subscription's event channel.
    loop {
        let push = client.next_push().await;
        assert_eq!(push["channel"], "event");
        assert_eq!(push["subscriptionId"], subscription);
        assert_eq!(push["data"]["topic"], "lifecycle");
        let event = &push["data"]["event"];
        if event["pid"] == new_pid && event["kind"]["type"] == "restarted" {
            break;
        }
    }

    let restarted = client
        .ok(
            "observer.restart",
            json!({"target": format!("{name}.idle")}),
        )
        .await;
    let again = restarted["new_pid"].clone();
    assert!(again.is_u64() && again != new_pid, "{restarted}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_of_a_connection_needs_force_and_then_ends_it() {
    let server = server(support::config().store(store().await)).await;
    let mut operator = connect(&server).await;
    let mut victim = connect(&server).await;
    let pid = server
        .connections()
        .into_iter()
        .find(|info| info.id == 2)
        .unwrap()
        .pid
        .unwrap();
    let reply = operator
        .request("observer.kill", json!({"target": pid}))
        .await;
    assert_eq!(reply["code"], "VALIDATION_ERROR", "{reply}");
    assert_eq!(reply["details"]["retryWith"]["force"], true);
    assert_eq!(server.connection_count(), 2, "nothing was killed");

    operator
        .ok("observer.kill", json!({"target": pid, "force": true}))
        .await;
    let _ = victim.close_code().await;
    support::until("the killed client is gone", || {
        server.connection_count() == 1
    })
    .await;
    operator.ok("server.stats", json!({})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_of_an_unknown_target_is_not_found() {
    let server = server(support::config()).await;
    let mut client = connect(&server).await;
    assert_eq!(
        client
            .error_code("observer.kill", json!({"target": "no-such-process"}))
            .await,
        "NOT_FOUND"
    );
    assert_eq!(
        client.error_code("observer.kill", json!({})).await,
        "VALIDATION_ERROR",
        "a target is required"
    );
}
