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

/// The leaves of one skynet: 10 children a node, 6 levels below the root.
pub const SKYNET_LEAVES: u64 = 1_000_000;
/// Every leaf sends its ordinal (0..SKYNET_LEAVES) up: the root's sum.
pub const SKYNET_SUM: u64 = SKYNET_LEAVES * (SKYNET_LEAVES - 1) / 2;
/// How many children each skynet node starts.
pub const SKYNET_FAN_OUT: u64 = 10;

/// Where a skynet node's children start: `size` leaves below it, split ten ways.
pub fn skynet_children(ordinal: u64, size: u64) -> impl Iterator<Item = (u64, u64)> {
    let child_size = size / SKYNET_FAN_OUT;
    (0..SKYNET_FAN_OUT).map(move |i| (ordinal + i * child_size, child_size))
}

/// The classic actor-system workloads: actors that start actors (skynet) and
/// actors that message each other (a ring), each written with the library's own
/// actors, as its users would.
pub trait Classic: Contender {
    /// A ring's first node, and whatever keeps the ring alive.
    type Ring: Send + Sync + 'static;

    /// Run one skynet of [`SKYNET_LEAVES`] leaves and return the root's sum. Every
    /// node is an actor of the library and stops once it has sent its sum up.
    fn skynet(&self) -> impl Future<Output = u64> + Send;

    /// Start `nodes` actors, each sending the token on to the next, the last to the
    /// first.
    fn ring(&self, nodes: usize) -> impl Future<Output = Self::Ring> + Send;

    /// Send the token in for `hops` hops, and return once the last hop has arrived.
    fn pass_token(ring: &Self::Ring, hops: u64) -> impl Future<Output = ()> + Send;
}

/// Counts children as they (re)start, and wakes whoever waits for a number of them.
#[derive(Default)]
pub struct StartCount {
    started: std::sync::atomic::AtomicUsize,
    target: std::sync::atomic::AtomicUsize,
    all_started: tokio::sync::Notify,
}

impl StartCount {
    /// A child started (its `init`, `pre_start`, `on_start` or `started` ran).
    pub fn started(&self) {
        use std::sync::atomic::Ordering::{AcqRel, Acquire};
        if self.started.fetch_add(1, AcqRel) + 1 == self.target.load(Acquire) {
            // A permit is stored if nobody waits yet.
            self.all_started.notify_one();
        }
    }

    /// Count from zero, and wake the waiter when `children` have started.
    pub fn expect(&self, children: usize) {
        use std::sync::atomic::Ordering::Release;
        self.started.store(0, Release);
        self.target.store(children, Release);
    }

    pub async fn all_started(&self) {
        self.all_started.notified().await;
    }
}

/// OTP's `simple_one_for_one`: one supervisor, many children of one template, each
/// restarted on its own when it crashes.
pub trait Storm: Contender {
    /// The supervisor and a way to reach each of its children.
    type Storm: Send + Sync + 'static;

    /// The most children this library's storm is run with in a benchmark run.
    const MAX_STORM: usize = usize::MAX;

    /// A supervisor with `children` children, every one of them started.
    fn start_storm(&self, children: usize) -> impl Future<Output = Self::Storm> + Send;

    /// Crash every child at once, and return once every one has been restarted and
    /// has answered a call.
    fn storm(storm: &Self::Storm) -> impl Future<Output = ()> + Send;
}
