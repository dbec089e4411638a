//! Restarting the agent with new options while a client takes snapshots: the old
//! agent's thread is joined while a snapshot may still be built there, and that
//! snapshot asks for the agent's name. `start` must not hold the agent's lock across
//! the join, or the two wait for each other for ever.
#![cfg(all(unix, feature = "agent"))]
//! (Its own test binary: the agent is one per OS process, and this test owns it.)

use std::time::Duration;

use noex::agent::{self, AgentOptions};
use noex_agent::client::Client;

mod support;

#[test]
fn a_restart_with_snapshots_in_flight_always_ends() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("agents").join("app.sock");
    let (done, finished) = std::sync::mpsc::channel();
    let worker = socket.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            for round in 0..40 {
                agent::start(AgentOptions::new(format!("restart-{round}")).socket_path(&worker))
                    .unwrap();
                // Clients that keep a snapshot in flight on the agent's blocking pool.
                let clients: Vec<_> = (0..2)
                    .map(|_| {
                        let socket = worker.clone();
                        tokio::spawn(async move {
                            let Ok(mut client) = Client::connect(&socket).await else {
                                return;
                            };
                            while client.snapshot().await.is_ok() {}
                        })
                    })
                    .collect();
                tokio::time::sleep(Duration::from_millis(5)).await;
                // Not `shutdown` first: a restart with new options stops the old agent.
                agent::start(AgentOptions::new("restarted").socket_path(&worker)).unwrap();
                for client in clients {
                    client.abort();
                }
            }
            agent::shutdown();
        });
        let _ = done.send(());
    });
    finished
        .recv_timeout(Duration::from_secs(60))
        .expect("every restart ended (a deadlock leaves the test thread waiting for ever)");
    assert!(!socket.exists());
}
