//! `NOEX_AGENT=off` keeps the agent from starting. (Its own test binary: the
//! environment is read once per OS process.)
#![cfg(feature = "agent")]

use noex::gen_server::{self, StartOptions};

mod support;
use support::Idle;

#[tokio::test]
async fn noex_agent_off_keeps_the_agent_from_starting() {
    // SAFETY: the only test in this binary, on a current-thread runtime, and before
    // noex starts anything: no other thread reads the environment meanwhile.
    unsafe { std::env::set_var("NOEX_AGENT", "off") };
    let server = gen_server::start(Idle, StartOptions::new()).await.unwrap();
    server.call(()).await.unwrap();
    assert_eq!(noex::agent::socket_path(), None);
    assert!(
        !support::sandbox::agent_dir().exists(),
        "no socket was made, nor the directory"
    );
}
