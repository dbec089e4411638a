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
