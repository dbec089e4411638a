//! The steady call load: client tasks calling random workers, each found by its
//! registered name at every call (a restarted worker is a new process).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use noex::registry::{self, LookupError};
use noex::{CallError, Pid};
use tokio::task::JoinHandle;

use super::Details;
use super::tree::{Echo, Ping, Pong};

/// How every call ended.
#[derive(Debug, Default)]
pub(crate) struct CallCounts {
    /// Calls made (a name found, `call_timeout` sent).
    pub calls: AtomicU64,
    pub ok: AtomicU64,
    /// `CallError::Exited`: the worker died before replying.
    pub exited: AtomicU64,
    /// `CallError::NotRunning`: the worker was dead when called.
    pub not_running: AtomicU64,
    /// The name was not registered (its worker between exit and restart): no call made.
    pub not_registered: AtomicU64,
    /// A wrong reply, no reply from a live worker (`Timeout`, `NoReply`), or a name
    /// registered to something that is not a worker.
    pub lost: AtomicU64,
    /// The call did not return within the watchdog, far beyond its own timeout.
    pub hung: AtomicU64,
    pub details: Details,
}

/// Running client tasks.
pub(crate) struct Load {
    stop: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<()>>,
    counts: Arc<CallCounts>,
}

pub(crate) struct LoadConfig {
    pub clients: usize,
    pub seed: u64,
    pub call_timeout: Duration,
    pub watchdog: Duration,
}

impl Load {
    /// Starts `config.clients` clients calling the workers `names`, counting in `counts`.
    pub(crate) fn start(config: &LoadConfig, names: Vec<String>, counts: Arc<CallCounts>) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let names = Arc::new(names);
        let tasks = (0..config.clients)
            .map(|i| {
                let client = Client {
                    rng: fastrand::Rng::with_seed(config.seed.wrapping_add(1 + i as u64)),
                    names: Arc::clone(&names),
                    counts: Arc::clone(&counts),
                    stop: Arc::clone(&stop),
                    call_timeout: config.call_timeout,
                    watchdog: config.watchdog,
                };
                tokio::spawn(client.run())
            })
            .collect();
        Load {
            stop,
            tasks,
            counts,
        }
    }

    /// Stops the clients after their current call, and waits for them.
    pub(crate) async fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            if let Err(error) = task.await {
                self.counts
                    .details
                    .push(format!("a load task failed: {error}"));
            }
        }
    }
}

struct Client {
    rng: fastrand::Rng,
    names: Arc<Vec<String>>,
    counts: Arc<CallCounts>,
    stop: Arc<AtomicBool>,
    call_timeout: Duration,
    watchdog: Duration,
}

impl Client {
    async fn run(mut self) {
        let counts = Arc::clone(&self.counts);
        while !self.stop.load(Ordering::Relaxed) {
            let name = &self.names[self.rng.usize(..self.names.len())];
            let nonce = self.rng.u64(..);
            let server = match registry::lookup::<Echo>(name) {
                Ok(server) => server,
                Err(LookupError::NotRegistered(_)) => {
                    counts.not_registered.fetch_add(1, Ordering::Relaxed);
                    // Its restart is on the way; let it run.
                    tokio::task::yield_now().await;
                    continue;
                }
                Err(error) => {
                    counts.lost.fetch_add(1, Ordering::Relaxed);
                    counts
                        .details
                        .push(format!("lost: lookup {name:?}: {error}"));
                    continue;
                }
            };
            counts.calls.fetch_add(1, Ordering::Relaxed);
            let pid = server.pid();
            let call = server.call_timeout(Ping { nonce }, self.call_timeout);
            match tokio::time::timeout(self.watchdog, call).await {
                Err(_) => {
                    counts.hung.fetch_add(1, Ordering::Relaxed);
                    counts.details.push(format!(
                        "hung: call to {name:?} ({pid}) still pending after {:?}",
                        self.watchdog
                    ));
                }
                Ok(outcome) => self.judge(name, pid, nonce, outcome),
            }
        }
    }

    fn judge(&self, name: &str, pid: Pid, nonce: u64, outcome: Result<Pong, CallError>) {
        let counts = &self.counts;
        match outcome {
            Ok(pong) if pong.nonce == nonce && pong.name.as_deref() == Some(name) => {
                counts.ok.fetch_add(1, Ordering::Relaxed);
            }
            Ok(pong) => {
                counts.lost.fetch_add(1, Ordering::Relaxed);
                counts.details.push(format!(
                    "lost: {name:?} ({pid}) answered nonce {nonce} with {pong:?}"
                ));
            }
            Err(CallError::Exited { .. }) => {
                counts.exited.fetch_add(1, Ordering::Relaxed);
            }
            Err(CallError::NotRunning(_)) => {
                counts.not_running.fetch_add(1, Ordering::Relaxed);
            }
            // No reply from a live worker (`Timeout`, `NoReply`), or anything else.
            Err(error) => {
                counts.lost.fetch_add(1, Ordering::Relaxed);
                let status = noex::observer::snapshot()
                    .servers
                    .iter()
                    .find(|s| s.pid == pid)
                    .map(|s| format!("{} ({} queued)", s.status, s.queue_len))
                    .unwrap_or_else(|| "gone".into());
                counts.details.push(format!(
                    "lost: call to {name:?}: {error}; the worker is {status}"
                ));
            }
        }
    }
}
