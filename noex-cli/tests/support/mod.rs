//! What the dashboard's end-to-end tests share: they run without the test harness
//! (`harness = false`), because the agent is one per OS process and the runtime is
//! built and dropped as an application does it, and they drive a small server.

use std::path::PathBuf;
use std::time::Duration;

use noex::agent;
use noex::gen_server::{Context, GenServer, Reply};

/// Counts what it is told; never crashes by itself.
#[derive(Default)]
pub struct Tally(u64);

impl GenServer for Tally {
    type Call = ();
    type Cast = u64;
    type Reply = u64;

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<u64> {
        Reply::Now(self.0)
    }

    async fn handle_cast(&mut self, n: u64, _: &mut Context<Self>) {
        self.0 += n;
    }
}

/// Runs the one test `name` of this binary: `scenario` gets an agent socket path in
/// a private directory, on a two-worker runtime dropped at the end (its shutdown is
/// part of the test), with `limit` only against a hang.
pub fn run_alone<F: Future<Output = ()>>(
    name: &str,
    limit: Duration,
    scenario: impl FnOnce(PathBuf) -> F,
) {
    // Listed as libtest lists, for runners that ask first (cargo nextest, and so
    // cargo-mutants): one test, not ignored.
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|arg| arg == "--list") {
        if !args.iter().any(|arg| arg == "--ignored") {
            println!("{name}: test");
        }
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // Removed when dropped, also when the scenario panics.
    let dir = tempfile::Builder::new()
        .prefix("noex-top-e2e-")
        .tempdir()
        .expect("temp dir");
    let agents = dir.path().join("agents");
    noex_agent::discovery::ensure_agent_dir(&agents).expect("agent dir");
    let result = runtime
        .block_on(async { tokio::time::timeout(limit, scenario(agents.join("app.sock"))).await });
    agent::shutdown();
    drop(dir);
    result.expect("the scenario finished in time");
    println!("test {name} ... ok");
    drop(runtime);
}
