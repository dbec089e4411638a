//! What every test binary shares. Each one declares this module (`mod support;`, or
//! with a `#[path]` from a folder): that alone gives the binary an agent directory
//! of its own (see [`sandbox`]), so no test leaves anything in the user's.

#![allow(dead_code)]

pub mod sandbox;

use std::future::Future;
use std::time::Duration;

use noex::gen_server::{Context, GenServer, Reply};

/// How long a test waits for something that must happen before calling it a hang.
/// Only a guard: no assertion depends on how fast the machine is, and under tokio's
/// paused clock it costs no real time at all.
pub const HANG: Duration = Duration::from_secs(10);

/// Await `future`; if it has not finished within [`HANG`], fail the test saying
/// what did not happen (instead of hanging the whole run).
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(HANG, future).await {
        Ok(value) => value,
        Err(_) => panic!("{what}: did not happen within {HANG:?} (a hang)"),
    }
}

/// Ask `check` until it answers `Some`, within [`HANG`]. Between tries it sleeps
/// 1 ms, so other tasks run and a paused clock moves on.
pub async fn eventually<T, F>(what: &str, mut check: impl FnMut() -> F) -> T
where
    F: Future<Output = Option<T>>,
{
    within(what, async {
        loop {
            if let Some(value) = check().await {
                return value;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
}

/// A server that only answers `()`: for tests about everything around a process.
pub struct Idle;

impl GenServer for Idle {
    type Call = ();
    type Cast = ();
    type Reply = ();

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }
}

/// How many sockets this process holds open, the agent's listener and its
/// connections among them, and any it inherited or its tokio runtime made (with
/// tokio's `signal` feature, a runtime's driver is a socket pair): compare with a
/// count taken before, once the runtime runs.
#[cfg(target_os = "linux")]
pub fn open_sockets() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("Linux lists a process's files")
        .flatten()
        .filter_map(|entry| std::fs::read_link(entry.path()).ok())
        .filter(|target| target.to_string_lossy().starts_with("socket:"))
        .count()
}

/// Start a small application: a supervisor with a named worker, and a server on its
/// own; one call to each server.
pub async fn start_an_app(name: &str) -> noex::SupervisorRef {
    use noex::gen_server::{self, StartOptions};
    use noex::supervisor::{self, ChildSpec, SupervisorSpec};

    let worker = format!("{name}.worker");
    let app = supervisor::start(
        SupervisorSpec::one_for_one()
            .name(format!("{name}.sup"))
            .child(ChildSpec::worker("worker", || Idle).name(worker.clone())),
    )
    .await
    .unwrap();
    let alone = gen_server::start(Idle, StartOptions::new()).await.unwrap();
    alone.call(()).await.unwrap();
    noex::registry::lookup::<Idle>(&worker)
        .unwrap()
        .call(())
        .await
        .unwrap();
    app
}
