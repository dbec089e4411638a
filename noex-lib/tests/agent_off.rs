//! `NOEX_AGENT=off` keeps the agent from starting. (Its own test binary: the
//! environment is read once per OS process.)

use noex::gen_server::{self, StartOptions};

mod support;
use support::Idle;

#[tokio::test]
async fn noex_agent_off_keeps_the_agent_from_starting() {
    let base = tempfile::tempdir().unwrap();
    // SAFETY: set before any thread of this test binary reads the environment.
    unsafe {
        std::env::set_var("NOEX_AGENT", "off");
        std::env::set_var("NOEX_AGENT_DIR", base.path());
    }
    let server = gen_server::start(Idle, StartOptions::new()).await.unwrap();
    server.call(()).await.unwrap();
    assert_eq!(noex::agent::socket_path(), None);
    assert_eq!(
        std::fs::read_dir(base.path()).unwrap().count(),
        0,
        "no socket was made"
    );
}
