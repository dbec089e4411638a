//! The demo application: a small shop backend with a supervision tree that does
//! steady work, grows a backlog now and then, and has one worker that crashes.
//!
//! ```text
//! app_sup (one_for_one)
//! ├── services (one_for_all): config, cache, health
//! ├── workers (one_for_one, 10 restarts in 30 s): worker-1..3, flaky
//! ├── pipeline (rest_for_one): ingest → parse → store, health
//! ├── metrics
//! ├── sessions (simple_one_for_one): session-N, temporary
//! ├── session_spawner
//! └── idle (simple_one_for_one): idle-N, with `--scale N` only
//! ```

use std::collections::HashMap;
use std::time::Duration;

use noex::ExitReason;
use noex::agent::{self, AgentOptions};
use noex::gen_server::{Context, GenServer, Info, Reply};
use noex::registry;
use noex::supervisor::{self, ChildSpec, RestartType, Shutdown, SupervisorSpec};

use crate::cli::DemoArgs;

/// The first words the demo application prints, once its supervision tree has started.
pub const RUNNING: &str = "noex demo is running as pid";

pub async fn run(args: &DemoArgs) -> anyhow::Result<()> {
    // A crash is part of the show: one line each, not a backtrace (the supervisor
    // restarts the worker; `noex events` tells the story).
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".to_string());
        eprintln!("crash: {message}");
    }));
    let stop = stop_requested(args.watch_parent);
    let socket = agent::start(AgentOptions::new("noex-demo").read_only(args.read_only))?;
    let chaos = !args.steady;
    let app = supervisor::start(app_spec(chaos, args.scale > 0)).await?;
    if args.scale > 0 {
        start_idle_servers(args.scale).await?;
    }
    let pid = std::process::id();
    // Said once the whole tree has started: `noex demo` (and the end-to-end tests) wait
    // for it before attaching, so no client's connection takes a pid in the middle of
    // the tree and its pids read <0.1>, <0.2>, ... in start order.
    println!("{RUNNING} {pid} (agent socket {})", socket.display());
    println!("from another terminal, try:");
    let noex = noex_command();
    for command in [
        "ps",
        "tree",
        "events --follow",
        "kill worker-1",
        "restart flaky",
        "top",
    ] {
        println!("  {noex} {command} --pid {pid}");
    }
    println!("stop it with Ctrl-C");

    // Stopped from outside, or the tree gave up (or was killed with --force): an
    // application whose root supervisor is gone has nothing left to run.
    let gave_up = tokio::select! {
        () = stop => None,
        reason = app.wait() => Some(reason),
    };
    if gave_up.is_none() {
        let _ = tokio::time::timeout(Duration::from_secs(5), app.stop()).await;
    }
    agent::shutdown();
    match gave_up {
        None => Ok(()),
        Some(reason) => Err(anyhow::anyhow!(
            "the application stopped: its root supervisor app_sup exited ({reason})"
        )),
    }
}

/// How to run `noex` from another terminal: `noex` if it is on the PATH, else this
/// executable's path (as after `cargo run`).
fn noex_command() -> String {
    let exe = std::env::current_exe().ok();
    let on_path = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            let candidate = dir.join("noex");
            candidate.is_file() && exe.as_deref().is_none_or(|exe| same_file(&candidate, exe))
        })
    });
    match exe {
        Some(exe) if !on_path => exe.display().to_string(),
        _ => "noex".to_string(),
    }
}

fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Until Ctrl-C, SIGTERM, SIGHUP (its terminal closed), or (with `watch_parent`) the
/// parent going away. The signal handlers are in place when this returns, before
/// the future is first polled: a signal that comes while the app starts stops it in
/// order instead of killing it (and leaving its socket behind).
fn stop_requested(watch_parent: bool) -> impl Future<Output = ()> {
    let parent_gone = async move {
        if !watch_parent {
            return std::future::pending().await;
        }
        parent_exit().await
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt()).expect("SIGINT handler");
        let mut terminate = signal(SignalKind::terminate()).expect("SIGTERM handler");
        let mut hangup = signal(SignalKind::hangup()).expect("SIGHUP handler");
        async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
                _ = hangup.recv() => {}
                () = parent_gone => {}
            }
        }
    }
    #[cfg(not(unix))]
    async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = parent_gone => {}
        }
    }
}

#[cfg(unix)]
async fn parent_exit() {
    let parent = rustix::process::getppid();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if rustix::process::getppid() != parent {
            return;
        }
    }
}

#[cfg(not(unix))]
async fn parent_exit() {
    std::future::pending().await
}

/// OTP's default intensity (1 restart in 5 s) is strict for a demo that invites
/// `noex kill`: each supervisor here allows a few.
fn app_spec(chaos: bool, idle: bool) -> SupervisorSpec {
    let mut app = SupervisorSpec::one_for_one()
        .name("app_sup")
        .max_restarts(10, Duration::from_secs(30))
        .child(ChildSpec::supervisor(
            "services",
            SupervisorSpec::one_for_all()
                .name("services")
                .max_restarts(3, Duration::from_secs(5))
                .child(ChildSpec::worker("config", Config::default).name("config"))
                .child(ChildSpec::worker("cache", Cache::default).name("cache"))
                .child(ChildSpec::worker("health", Health::default)),
        ))
        .child(ChildSpec::supervisor(
            "workers",
            SupervisorSpec::one_for_one()
                .name("workers")
                .max_restarts(10, Duration::from_secs(30))
                .children(
                    (1..=3)
                        .map(|n| ChildSpec::worker(format!("worker-{n}"), move || Worker::new(n))),
                )
                .child(ChildSpec::worker("flaky", move || Flaky::new(chaos)).name("flaky")),
        ))
        .child(ChildSpec::supervisor(
            "pipeline",
            SupervisorSpec::rest_for_one()
                .name("pipeline")
                .max_restarts(3, Duration::from_secs(5))
                .child(ChildSpec::worker("ingest", || Ingest { produced: 0 }).name("ingest"))
                .child(ChildSpec::worker("parse", || Parse).name("parse"))
                .child(
                    ChildSpec::worker("store", move || Store::new(chaos))
                        .name("store")
                        // Its stop request queues behind a slow spell's backlog (120 ms
                        // a record): wait briefly, then kill, so the demo stops at once.
                        .shutdown(Shutdown::Timeout(STORE_SHUTDOWN)),
                )
                .child(ChildSpec::worker("health", Health::default)),
        ))
        .child(ChildSpec::worker("metrics", Metrics::default).name("metrics"))
        .child(ChildSpec::supervisor(
            "sessions",
            SupervisorSpec::simple_one_for_one(
                ChildSpec::worker_with("session", |lifetime: &Duration| Session {
                    lifetime: *lifetime,
                })
                .restart(RestartType::Temporary),
            )
            .name("sessions"),
        ));
    if chaos {
        app = app
            .child(ChildSpec::worker("session_spawner", || SessionSpawner).name("session_spawner"));
    }
    if idle {
        app = app.child(ChildSpec::supervisor(
            "idle",
            SupervisorSpec::simple_one_for_one(ChildSpec::worker_with("idle", |(): &()| Idle))
                .name("idle"),
        ));
    }
    app
}

/// Starts `count` idle servers under `idle`, saying how far it got on a terminal.
async fn start_idle_servers(count: u32) -> anyhow::Result<()> {
    let idle = registry::lookup_supervisor("idle")?;
    eprintln!("starting {count} idle servers under `idle`...");
    for _ in 0..count {
        idle.start_child_with(()).await?;
    }
    Ok(())
}

/// How long the store may take to stop before it is killed (its backlog is lost).
const STORE_SHUTDOWN: Duration = Duration::from_millis(250);

/// A message sent to oneself on a timer.
struct Tick;

fn tick_every(ctx: &Context<impl GenServer>, period: Duration) {
    ctx.send_after(period, Tick);
}

/// Settings other processes read.
#[derive(Default)]
struct Config;

impl GenServer for Config {
    type Call = &'static str;
    type Cast = ();
    type Reply = Option<u64>;

    async fn handle_call(
        &mut self,
        key: &'static str,
        _: &mut Context<Self>,
    ) -> Reply<Option<u64>> {
        Reply::Now(match key {
            "batch_size" => Some(16),
            "ttl_ms" => Some(60_000),
            _ => None,
        })
    }
}

/// A key-value cache the workers read and write.
#[derive(Default)]
struct Cache {
    entries: HashMap<u64, u64>,
}

enum CacheCall {
    Get(u64),
}

impl GenServer for Cache {
    type Call = CacheCall;
    type Cast = (u64, u64);
    type Reply = Option<u64>;

    async fn handle_call(
        &mut self,
        request: CacheCall,
        _: &mut Context<Self>,
    ) -> Reply<Option<u64>> {
        match request {
            CacheCall::Get(key) => Reply::Now(self.entries.get(&key).copied()),
        }
    }

    async fn handle_cast(&mut self, (key, value): (u64, u64), _: &mut Context<Self>) {
        if self.entries.len() > 10_000 {
            self.entries.clear();
        }
        self.entries.insert(key, value);
    }
}

/// A health check per subsystem: each subsystem has a child with id `health`, so
/// `noex kill health` is ambiguous and must be named by pid.
#[derive(Default)]
struct Health {
    checks: u64,
}

impl GenServer for Health {
    type Call = ();
    type Cast = ();
    type Reply = u64;

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        tick_every(ctx, Duration::from_secs(1));
        Ok(())
    }

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<u64> {
        Reply::Now(self.checks)
    }

    async fn handle_info(&mut self, _: Info, ctx: &mut Context<Self>) {
        self.checks += 1;
        tick_every(ctx, Duration::from_secs(1));
    }
}

/// Steady work: look something up, compute, store, report.
#[derive(Debug)]
struct Worker {
    n: u64,
    done: u64,
}

impl Worker {
    fn new(n: u64) -> Self {
        Worker { n, done: 0 }
    }
}

impl GenServer for Worker {
    type Call = ();
    type Cast = ();
    type Reply = u64;

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        tick_every(ctx, Duration::from_millis(100 + 50 * self.n));
        Ok(())
    }

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<u64> {
        Reply::Now(self.done)
    }

    async fn handle_info(&mut self, _: Info, ctx: &mut Context<Self>) {
        self.done += 1;
        let key = (self.n * 1000 + self.done) % 256;
        if let Ok(cache) = registry::lookup::<Cache>("cache") {
            let _ = cache.call(CacheCall::Get(key)).await;
            let _ = cache.cast((key, self.done));
        }
        if let Ok(metrics) = registry::lookup::<Metrics>("metrics") {
            let _ = metrics.cast(Metric::WorkDone);
        }
        tick_every(ctx, Duration::from_millis(100 + 50 * self.n));
    }

    // Nothing secret: `noex state worker-1` shows it.
    fn format_status(&self) -> Option<String> {
        Some(format!("{self:#?}"))
    }
}

/// Talks to a flaky upstream: now and then it loses the connection and crashes.
struct Flaky {
    chaos: bool,
    calls: u64,
}

impl Flaky {
    fn new(chaos: bool) -> Self {
        Flaky { chaos, calls: 0 }
    }
}

impl GenServer for Flaky {
    type Call = ();
    type Cast = ();
    type Reply = u64;

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        tick_every(ctx, Duration::from_millis(250));
        Ok(())
    }

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<u64> {
        Reply::Now(self.calls)
    }

    async fn handle_info(&mut self, _: Info, ctx: &mut Context<Self>) {
        self.calls += 1;
        // About once every 12 seconds.
        if self.chaos && fastrand::u32(..48) == 0 {
            panic!(
                "lost connection to upstream after {} calls (simulated)",
                self.calls
            );
        }
        tick_every(ctx, Duration::from_millis(250));
    }
}

/// The head of the pipeline: produces records.
struct Ingest {
    produced: u64,
}

impl GenServer for Ingest {
    type Call = ();
    type Cast = ();
    type Reply = u64;

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        tick_every(ctx, Duration::from_millis(50));
        Ok(())
    }

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<u64> {
        Reply::Now(self.produced)
    }

    async fn handle_info(&mut self, _: Info, ctx: &mut Context<Self>) {
        self.produced += 1;
        if let Ok(parse) = registry::lookup::<Parse>("parse") {
            let _ = parse.cast(format!("record-{}", self.produced));
        }
        tick_every(ctx, Duration::from_millis(50));
    }
}

/// Parses records and hands them on.
struct Parse;

impl GenServer for Parse {
    type Call = ();
    type Cast = String;
    type Reply = ();

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }

    async fn handle_cast(&mut self, record: String, _: &mut Context<Self>) {
        let id = record
            .trim_start_matches("record-")
            .parse::<u64>()
            .unwrap_or(0);
        if let Ok(store) = registry::lookup::<Store>("store") {
            let _ = store.cast(id);
        }
    }
}

/// Stores records; now and then its disk is slow, and a backlog builds up.
struct Store {
    chaos: bool,
    stored: u64,
    slow_for: u32,
}

impl Store {
    fn new(chaos: bool) -> Self {
        Store {
            chaos,
            stored: 0,
            slow_for: 0,
        }
    }
}

impl GenServer for Store {
    type Call = ();
    type Cast = u64;
    type Reply = u64;

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<u64> {
        Reply::Now(self.stored)
    }

    async fn handle_cast(&mut self, _record: u64, _: &mut Context<Self>) {
        self.stored += 1;
        if self.chaos && self.slow_for == 0 && fastrand::u32(..400) == 0 {
            self.slow_for = 40; // a slow spell: 40 records at 120 ms
        }
        if self.slow_for > 0 {
            self.slow_for -= 1;
            tokio::time::sleep(Duration::from_millis(120)).await;
        }
    }
}

enum Metric {
    WorkDone,
}

/// Counts what the workers report.
#[derive(Default)]
struct Metrics {
    work_done: u64,
}

impl GenServer for Metrics {
    type Call = ();
    type Cast = Metric;
    type Reply = u64;

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<u64> {
        Reply::Now(self.work_done)
    }

    async fn handle_cast(&mut self, Metric::WorkDone: Metric, _: &mut Context<Self>) {
        self.work_done += 1;
    }
}

/// A user session: lives a while, then ends normally.
struct Session {
    lifetime: Duration,
}

impl GenServer for Session {
    type Call = ();
    type Cast = ();
    type Reply = ();

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        ctx.send_after(self.lifetime, Tick);
        Ok(())
    }

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }

    async fn handle_info(&mut self, _: Info, ctx: &mut Context<Self>) {
        ctx.stop(ExitReason::Normal);
    }
}

/// A server that only waits: what most processes of a large application do. The
/// demo's `--scale` starts these, and so does the agent's scale benchmark.
pub struct Idle;

impl GenServer for Idle {
    type Call = ();
    type Cast = ();
    type Reply = ();

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }
}

/// Opens a session every couple of seconds.
struct SessionSpawner;

impl GenServer for SessionSpawner {
    type Call = ();
    type Cast = ();
    type Reply = ();

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        tick_every(ctx, Duration::from_secs(2));
        Ok(())
    }

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }

    async fn handle_info(&mut self, _: Info, ctx: &mut Context<Self>) {
        if let Ok(sessions) = registry::lookup_supervisor("sessions") {
            let lifetime = Duration::from_millis(fastrand::u64(5_000..15_000));
            let _ = sessions.start_child_with(lifetime).await;
        }
        tick_every(ctx, Duration::from_secs(2));
    }
}
