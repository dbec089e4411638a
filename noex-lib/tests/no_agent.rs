//! Built without the `agent` feature (`cargo test -p noex --no-default-features`), an
//! application opens no socket: nothing listens, and the agent directory is never
//! made. (Its own test binary, so no other test's agent is running.)
#![cfg(all(unix, not(feature = "agent")))]

mod support;

#[tokio::test]
async fn without_the_agent_feature_nothing_listens() {
    #[cfg(target_os = "linux")]
    let inherited = support::open_sockets();
    let app = support::start_an_app("no-agent").await;
    let snapshot = noex::observer::snapshot();
    assert!(
        snapshot
            .servers
            .iter()
            .any(|server| server.name.as_deref() == Some("no-agent.worker")),
        "the Observer works without the agent"
    );

    assert!(
        !support::sandbox::agent_dir().exists(),
        "no socket was made, nor the directory"
    );
    #[cfg(target_os = "linux")]
    assert_eq!(support::open_sockets(), inherited, "no socket of any kind");
    app.stop().await.unwrap();
}
