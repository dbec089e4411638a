//! What every library in the comparison provides: a runtime to run on, and a counter
//! server to start, call, cast to and stop. The workloads in `main.rs` are written
//! once against this trait, so each library runs exactly the same code around it.

use std::future::Future;

/// The floor, what every other figure is a ratio to.
pub const FLOOR: &str = "tokio_bare";
/// Every library compared, the floor first, as the benchmarks name them.
pub const LIBRARIES: [&str; 5] = [FLOOR, "noex", "ractor", "kameo", "actix"];

/// The two tokio schedulers an application chooses between.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    CurrentThread,
    /// Two workers: the machine has two cores.
    MultiThread,
}

impl Flavor {
    pub const ALL: [Flavor; 2] = [Flavor::CurrentThread, Flavor::MultiThread];

    pub fn as_str(self) -> &'static str {
        match self {
            Flavor::CurrentThread => "current_thread",
            Flavor::MultiThread => "multi_thread",
        }
    }

    /// A name for a registered server on this flavour's runtime. noex's and ractor's
    /// registries are process-wide, and a name may still be taken when the other
    /// flavour's runtime starts: each flavour has its own.
    pub fn registered_name(self) -> &'static str {
        match self {
            Flavor::CurrentThread => "bench-child-ct",
            Flavor::MultiThread => "bench-child-mt",
        }
    }

    pub fn tokio(self) -> tokio::runtime::Runtime {
        let mut builder = match self {
            Flavor::CurrentThread => tokio::runtime::Builder::new_current_thread(),
            Flavor::MultiThread => {
                let mut builder = tokio::runtime::Builder::new_multi_thread();
                builder.worker_threads(2);
                builder
            }
        };
        builder.enable_all().build().expect("a tokio runtime")
    }
}

/// Where a library's servers and their callers run.
pub enum Runtime {
    Tokio(tokio::runtime::Runtime),
    /// actix runs on its own runtime: a `System` (a current-thread tokio runtime with a
    /// `LocalSet`), plus, for the multi-thread flavour, an `Arbiter` thread that hosts
    /// the servers while the callers stay on the System's thread.
    Actix {
        system: actix_rt::SystemRunner,
        arbiter: Option<actix_rt::Arbiter>,
    },
}

impl Runtime {
    /// Run `task` as a task on this runtime (the caller is a task, as in an
    /// application) and wait for its output.
    pub fn run<F>(&self, task: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match self {
            Runtime::Tokio(rt) => rt.block_on(async { tokio::spawn(task).await.expect("task") }),
            Runtime::Actix { system, .. } => {
                system.block_on(async { actix_rt::spawn(task).await.expect("task") })
            }
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Runtime::Actix {
            arbiter: Some(arbiter),
            ..
        } = self
        {
            arbiter.stop();
        }
    }
}

/// The payload of a deliberate crash (`panic_any`, so it stays a `&str` for the
/// panic hook in `main`, which keeps these quiet).
pub const CRASH_MESSAGE: &str = "crash requested by the benchmark";

/// One library's counter server: `call` answers the count, `cast` adds to it.
pub trait Contender: Clone + Send + Sync + 'static {
    /// The id criterion shows (`call_round_trip/noex/current_thread`).
    const NAME: &'static str;
    type Server: Clone + Send + Sync + 'static;

    /// A runtime of this flavour and this library set up on it.
    fn setup(flavor: Flavor) -> (Runtime, Self);

    /// Start a server the way the library's users do, and return once the library
    /// says it has started.
    fn start(&self) -> impl Future<Output = Self::Server> + Send;

    fn call(server: &Self::Server) -> impl Future<Output = u64> + Send;

    fn cast(server: &Self::Server, amount: u64);

    /// Stop the server and wait until it has ended.
    fn stop(server: Self::Server) -> impl Future<Output = ()> + Send;
}

/// A library with supervision: a supervisor with one child that crashes on request.
pub trait Supervision: Contender {
    /// What the caller holds to reach the supervised child.
    type Supervised: Clone + Send + Sync + 'static;

    fn start_supervised(&self) -> impl Future<Output = Self::Supervised> + Send;

    /// Crash the child, and return once its restarted instance has answered a call.
    fn crash_and_recover(child: &Self::Supervised) -> impl Future<Output = ()> + Send;
}
