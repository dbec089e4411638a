//! `noex::agent::shutdown()` before the first process keeps the agent from starting
//! with it, as `disable` does. (Its own test binary: the agent starts with the OS
//! process's first noex process.)
#![cfg(all(unix, feature = "agent"))]

mod support;

#[tokio::test]
async fn shut_down_before_the_first_process_the_agent_never_listens() {
    #[cfg(target_os = "linux")]
    let inherited = support::open_sockets();
    noex::agent::shutdown();
    let app = support::start_an_app("shut-down").await;

    assert_eq!(noex::agent::socket_path(), None);
    assert!(
        !support::sandbox::agent_dir().exists(),
        "no socket was made, nor the directory"
    );
    #[cfg(target_os = "linux")]
    assert_eq!(support::open_sockets(), inherited, "no socket of any kind");
    app.stop().await.unwrap();
}
