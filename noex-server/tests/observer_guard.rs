//! The gateway does not let a client end the gateway.

mod support;

use serde_json::json;
use support::{connect, server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_own_processes_may_not_be_killed_or_restarted_through_it() {
    let config = support::config();
    let server = server(config).await;
    let name = server.stats().name;
    let mut client = connect(&server).await;
    for target in [
        name.clone(),
        format!("{name}/listener"),
        format!("{name}/connections"),
        format!("{name}/events"),
    ] {
        for kind in ["observer.kill", "observer.restart"] {
            let reply = client
                .request(kind, json!({"target": target, "force": true}))
                .await;
            assert_eq!(reply["code"], "FORBIDDEN", "{kind} {target}: {reply}");
        }
    }
    // Its own connection too (another client's may be shown out, with force).
    let connection = server.connections()[0].pid.clone().unwrap();
    let reply = client
        .request(
            "observer.kill",
            json!({"target": connection, "force": true}),
        )
        .await;
    assert_eq!(reply["code"], "FORBIDDEN", "{reply}");
    assert_eq!(server.connection_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_server_frees_its_port_at_once() {
    let server = server(support::config()).await;
    let address = server.local_addr();
    let _client = connect(&server).await;
    server.stop(std::time::Duration::ZERO).await;
    // The same address again, while the old `Server` value still lives.
    let again = noex_server::start(support::config().bind(address)).await;
    assert!(again.is_ok(), "{:?}", again.err());
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_may_read_its_own_connections_state() {
    let server = server(support::config()).await;
    let mut client = connect(&server).await;
    let own = server.connections()[0].pid.clone().unwrap();
    let state = client.ok("observer.state", json!({"target": own})).await;
    assert!(
        state["state"]
            .as_str()
            .unwrap()
            .contains("\"messagesIn\":1"),
        "{state}"
    );
}
