//! `noex::agent::disable()` before the first process keeps the agent off: no socket,
//! not even the agent directory; an explicit `start` still starts it. (Its own test
//! binary: the agent starts with the OS process's first noex process.)
#![cfg(all(unix, feature = "agent"))]

use noex::agent::{self, AgentOptions};

mod support;

#[tokio::test]
async fn disabled_before_the_first_process_the_agent_never_listens() {
    #[cfg(target_os = "linux")]
    let inherited = support::open_sockets();
    agent::disable();
    let app = support::start_an_app("disabled").await;

    assert_eq!(agent::socket_path(), None);
    let dir = support::sandbox::agent_dir();
    assert!(!dir.exists(), "no socket was made, nor the directory");
    #[cfg(target_os = "linux")]
    assert_eq!(support::open_sockets(), inherited, "no socket of any kind");

    // Only the automatic start was kept off.
    let socket = agent::start(AgentOptions::default()).unwrap();
    assert_eq!(socket, dir.join(format!("{}.sock", std::process::id())));
    assert!(socket.exists());
    agent::shutdown();
    assert!(!socket.exists());
    app.stop().await.unwrap();
}
