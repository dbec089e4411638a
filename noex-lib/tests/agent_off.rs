//! `NOEX_AGENT=off` keeps the agent from starting. (Its own test binary: the
//! environment is read once per OS process.)

use noex::gen_server::{self, Context, GenServer, Reply, StartOptions};

struct Quiet;

impl GenServer for Quiet {
    type Call = ();
    type Cast = ();
    type Reply = ();
    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }
}

#[tokio::test]
async fn noex_agent_off_keeps_the_agent_from_starting() {
    let base = tempfile::tempdir().unwrap();
    // SAFETY: set before any thread of this test binary reads the environment.
    unsafe {
        std::env::set_var("NOEX_AGENT", "off");
        std::env::set_var("NOEX_AGENT_DIR", base.path());
    }
    let server = gen_server::start(Quiet, StartOptions::new()).await.unwrap();
    server.call(()).await.unwrap();
    assert_eq!(noex::agent::socket_path(), None);
    assert_eq!(
        std::fs::read_dir(base.path()).unwrap().count(),
        0,
        "no socket was made"
    );
}
