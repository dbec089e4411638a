//! `noex kill` and `noex restart` as the app's own agent carries them out: the
//! supervisor's policy decides, the agent only asks.
#![cfg(unix)]
//! (Its own test binary: the agent is one per OS process, and this test owns it.)

use noex::supervisor::{self, ChildSpec, SupervisorSpec};
use noex_agent::client::{Client, ClientError};
use noex_agent::protocol::ErrorCode;

mod support;
use support::{Idle, eventually};

async fn client() -> Client {
    let socket = noex::agent::socket_path().expect("started with the first process");
    Client::connect(&socket).await.unwrap()
}

fn pid_of(id: &str) -> Option<noex::Pid> {
    noex::observer::snapshot()
        .servers
        .iter()
        .find(|server| server.child_id.as_deref() == Some(id))
        .map(|server| server.pid)
}

#[tokio::test]
async fn restart_asks_the_supervisor_for_a_fresh_instance_and_kill_lets_it_apply_its_policy() {
    let sup = supervisor::start(
        SupervisorSpec::one_for_one()
            .name("actions.sup")
            .child(ChildSpec::worker("actions.worker", || Idle)),
    )
    .await
    .unwrap();
    let mut client = client().await;
    let first = pid_of("actions.worker").unwrap();

    // OTP: terminate_child, then restart_child.
    let restarted = client.restart("actions.worker").await.unwrap();
    assert_eq!(restarted.target.pid, first);
    assert_eq!(restarted.supervisor.map(|s| s.pid), Some(sup.pid()));
    let second = restarted.new_pid.expect("started again in time");
    assert_ne!(second, first);
    assert_eq!(pid_of("actions.worker"), Some(second));

    // A kill is an abnormal exit: the permanent child is restarted by its supervisor.
    let killed = client.kill("actions.worker", None, false).await.unwrap();
    assert_eq!(killed.target.pid, second);
    let third = eventually("the killed worker is back", async || {
        pid_of("actions.worker").filter(|pid| *pid != second)
    })
    .await;
    assert_ne!(third, first);

    // The root has nothing above it to restart it.
    match client.restart("actions.sup").await {
        Err(ClientError::Agent(error)) => assert_eq!(error.code, ErrorCode::NotSupervised),
        other => panic!("restarting a root must be refused, got {other:?}"),
    }
    sup.stop().await.unwrap();
}
