//! The demo application: a small shop backend with a supervision tree that does
//! steady work, grows a backlog now and then, and has one worker that crashes.
//!
//! ```text
//! app_sup (one_for_one)
//! ├── services (one_for_all): topics (pub/sub registry), config, cache, health
//! ├── workers (one_for_one, 10 restarts in 30 s): worker-1..3, breaker, flaky
//! ├── pipeline (rest_for_one): ingest → parse → store, health
//! ├── metrics: owns the `work` table the workers count into
//! ├── sessions (simple_one_for_one): session-N, temporary
//! ├── jobs (task supervisor): task-N, temporary
//! ├── scheduler: runs a few jobs every 2 s; not with `--steady`
//! ├── session_spawner: opens a session every 2 s; not with `--steady`
//! └── idle (simple_one_for_one): idle-N, with `--scale N` only
//! ```
//!
//! It runs as an [`Application`]: SIGTERM and Ctrl-C stop it in order, and so do a
//! SIGHUP and (with `--watch-parent`) the end of the `noex demo` that started it.

use std::collections::HashMap;
use std::time::Duration;

use noex::ExitReason;
use noex::agent;
use noex::application::{AppExit, Application};
use noex::ets::{self, Table, TableOptions};
use noex::gen_server::{Context, GenServer, IdleTimeout, Info, Reply};
use noex::gen_statem::{self, Event, GenStateMachine, StateMachineRef, Transition};
use noex::keyed_registry::{KeyedRegistry, RegistryOptions};
use noex::registry;
use noex::supervisor::{ChildSpec, RestartType, Shutdown, SupervisorSpec};
use noex::task::{self, TaskSupervisor, TaskSupervisorOptions};
use tokio::time::Instant;

use crate::cli::DemoArgs;

/// The first words the demo application prints, once its supervision tree has started.
pub const RUNNING: &str = "noex demo is running as pid";

/// The application's name: what `noex list` shows.
const APP_NAME: &str = "noex-demo";
/// The root supervisor's name: `noex kill app_sup` ends the application.
const ROOT: &str = "app_sup";
/// How long a stop may take before what is left is killed.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

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
    let other_stop = other_stop_requested(args.watch_parent);
    let chaos = !args.steady;
    let app = Application::new(APP_NAME)
        .supervisor(app_spec(chaos, args.scale > 0))
        .agent_read_only(args.read_only)
        .shutdown_grace(SHUTDOWN_GRACE)
        .start()
        .await?;
    let stop = app.stop_handle();
    tokio::spawn(async move {
        other_stop.await;
        stop.stop();
    });
    let Some(socket) = agent::socket_path() else {
        let _ = app.stop().await;
        anyhow::bail!("the demo's agent did not start, so `noex` cannot attach to it");
    };
    if args.scale > 0
        && let Err(error) = start_idle_servers(args.scale).await
    {
        let _ = app.stop().await;
        return Err(error);
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
        "state worker-1",
        "top",
    ] {
        println!("  {noex} {command} --pid {pid}");
    }
    println!("stop it with Ctrl-C");

    // Stopped from outside, or the tree gave up (or was killed with --force): an
    // application whose root supervisor is gone has nothing left to run.
    let exit = app.run().await;
    agent::shutdown();
    match exit {
        AppExit::Stopped { .. } => Ok(()),
        AppExit::GaveUp { reason } => Err(anyhow::anyhow!(
            "the application stopped: its root supervisor {ROOT} exited ({reason})"
        )),
        other => Err(anyhow::anyhow!("the application stopped: {other}")),
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

/// Until SIGHUP (its terminal closed) or, with `watch_parent`, the parent going away:
/// what stops the demo besides the SIGTERM and Ctrl-C the [`Application`] listens
/// for. The SIGHUP handler is in place when this returns, before the future is first
/// polled: a hangup that comes while the app starts stops it in order instead of
/// killing it (and leaving its socket behind).
fn other_stop_requested(watch_parent: bool) -> impl Future<Output = ()> {
    let parent_gone = async move {
        if !watch_parent {
            return std::future::pending().await;
        }
        parent_exit().await
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangup = signal(SignalKind::hangup()).expect("SIGHUP handler");
        async move {
            tokio::select! {
                _ = hangup.recv() => {}
                () = parent_gone => {}
            }
        }
    }
    #[cfg(not(unix))]
    parent_gone
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
        .name(ROOT)
        .max_restarts(10, Duration::from_secs(30))
        .child(ChildSpec::supervisor(
            "services",
            SupervisorSpec::one_for_all()
                .name("services")
                .max_restarts(3, Duration::from_secs(5))
                // First: the config publishes to it, the workers subscribe to it.
                .child(Topics::child_spec(
                    TOPICS,
                    RegistryOptions::duplicate(TOPICS),
                ))
                .child(ChildSpec::worker("config", move || Config::new(chaos)).name("config"))
                .child(ChildSpec::worker("cache", Cache::default).name("cache"))
                .child(ChildSpec::worker("health", Health::default)),
        ))
        .child(ChildSpec::supervisor(
            "workers",
            SupervisorSpec::one_for_one()
                .name("workers")
                .max_restarts(10, Duration::from_secs(30))
                .children(
                    (1..=WORKERS)
                        .map(|n| ChildSpec::worker(format!("worker-{n}"), move || Worker::new(n))),
                )
                .child(
                    gen_statem::child_spec("breaker", move || {
                        (CircuitBreaker::new(chaos), Circuit::Closed)
                    })
                    .name("breaker"),
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
        ))
        .child(TaskSupervisor::child_spec(
            "jobs",
            TaskSupervisorOptions::new().name("jobs"),
        ));
    // What starts sessions and jobs, which come and go: not in the steady demo,
    // whose `noex ps` reads the same from run to run.
    if chaos {
        app = app
            .child(ChildSpec::worker("scheduler", Scheduler::default).name("scheduler"))
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

/// The pub/sub registry: topics to their subscribers, any number per topic.
type Topics = KeyedRegistry<&'static str, ()>;

/// The registry's name.
const TOPICS: &str = "topics";
/// The topic the config publishes its changes on.
const CONFIG_CHANGED: &str = "config.changed";

/// What the config publishes when a setting changes.
#[derive(Clone, Debug)]
struct ConfigChanged {
    batch_size: u64,
}

/// The batch size the workers start with, and keep in the steady demo.
const DEFAULT_BATCH_SIZE: u64 = 16;
/// How often the config reloads its settings.
const CONFIG_RELOAD: Duration = Duration::from_secs(5);

/// A message sent to oneself: time to reload the settings.
#[derive(Clone)]
struct Reload;

/// Settings other processes read. It reloads them now and then (with chaos, they
/// change), and tells the subscribers of `config.changed` when they do.
#[derive(Debug)]
struct Config {
    chaos: bool,
    batch_size: u64,
    ttl_ms: u64,
}

impl Config {
    fn new(chaos: bool) -> Self {
        Config {
            chaos,
            batch_size: DEFAULT_BATCH_SIZE,
            ttl_ms: 60_000,
        }
    }
}

impl GenServer for Config {
    type Call = &'static str;
    type Cast = ();
    type Reply = Option<u64>;

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        ctx.send_interval(CONFIG_RELOAD, Reload);
        Ok(())
    }

    async fn handle_call(
        &mut self,
        key: &'static str,
        _: &mut Context<Self>,
    ) -> Reply<Option<u64>> {
        Reply::Now(match key {
            "batch_size" => Some(self.batch_size),
            "ttl_ms" => Some(self.ttl_ms),
            _ => None,
        })
    }

    async fn handle_info(&mut self, _: Info, _: &mut Context<Self>) {
        // A stand-in for reading a file: with chaos, one reload in three finds a
        // new batch size.
        if !self.chaos || fastrand::u32(..3) != 0 {
            return;
        }
        self.batch_size = *fastrand::choice(&[8, 16, 32]).unwrap_or(&DEFAULT_BATCH_SIZE);
        if let Ok(topics) = Topics::lookup_registry(TOPICS) {
            topics.publish(
                &CONFIG_CHANGED,
                ConfigChanged {
                    batch_size: self.batch_size,
                },
            );
        }
    }

    // Nothing secret: `noex state config` shows it.
    fn format_status(&self) -> Option<String> {
        Some(format!("{self:#?}"))
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

/// Steady work: look something up, compute, store, report. Subscribed to
/// `config.changed`, it works in batches of the size the config last said.
struct Worker {
    n: u64,
    done: u64,
    batch_size: u64,
    /// The registry it subscribed through, to subscribe again if that one ends: a
    /// restarted registry starts empty.
    topics: Option<Topics>,
}

impl Worker {
    fn new(n: u64) -> Self {
        Worker {
            n,
            done: 0,
            batch_size: DEFAULT_BATCH_SIZE,
            topics: None,
        }
    }

    fn subscribe(&mut self, ctx: &Context<Self>) {
        if self.topics.as_ref().is_some_and(Topics::is_running) {
            return;
        }
        self.topics = Topics::lookup_registry(TOPICS)
            .ok()
            .filter(|topics| topics.register_self(ctx, CONFIG_CHANGED, ()).is_ok());
    }

    fn period(&self) -> Duration {
        Duration::from_millis(100 + 50 * self.n)
    }
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("n", &self.n)
            .field("done", &self.done)
            .field("batch_size", &self.batch_size)
            .finish_non_exhaustive()
    }
}

impl GenServer for Worker {
    type Call = ();
    type Cast = ();
    type Reply = u64;

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        self.subscribe(ctx);
        // Subscribed first: a change from here on is not missed.
        if let Ok(config) = registry::lookup::<Config>("config")
            && let Ok(Some(batch_size)) = config.call("batch_size").await
        {
            self.batch_size = batch_size;
        }
        tick_every(ctx, self.period());
        Ok(())
    }

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<u64> {
        Reply::Now(self.done)
    }

    async fn handle_info(&mut self, message: Info, ctx: &mut Context<Self>) {
        if let Some(changed) = message.downcast_ref::<ConfigChanged>() {
            self.batch_size = changed.batch_size;
            return;
        }
        self.done += 1;
        // One cache lookup per 8 items of the batch.
        for item in 0..self.batch_size.div_ceil(8) {
            let key = (self.n * 1000 + self.done + item) % 256;
            if let Ok(cache) = registry::lookup::<Cache>("cache") {
                let _ = cache.call(CacheCall::Get(key)).await;
                let _ = cache.cast((key, self.done));
            }
        }
        if let Ok(metrics) = registry::lookup::<Metrics>("metrics") {
            let _ = metrics.cast(Metric::WorkDone);
        }
        // The same count in a table, straight from this worker: no message, no wait.
        if let Ok(work) = ets::whereis_writable::<String, u64>(WORK_TABLE) {
            let _ = work.update_counter_or(&format!("worker-{}", self.n), 1, 0);
        }
        // Again if the registry has restarted (with `services`): it starts empty.
        self.subscribe(ctx);
        tick_every(ctx, self.period());
    }

    // Nothing secret: `noex state worker-1` shows it.
    fn format_status(&self) -> Option<String> {
        Some(format!("{self:#?}"))
    }
}

/// The circuit breaker's states, as `noex ps` shows them.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Circuit {
    /// Requests go through to the upstream.
    Closed,
    /// Too many failures in a row: requests are refused at once, until the
    /// cool-down is over.
    Open,
    /// The cool-down is over: the next request is a trial that decides.
    HalfOpen,
}

/// Failures in a row that open the breaker.
const MAX_FAILURES: u32 = 3;
/// How long the breaker stays open before it lets a trial request through.
const COOL_DOWN: Duration = Duration::from_secs(3);

/// A request to the upstream, through the breaker.
struct UpstreamRequest;

/// How a request through the breaker went.
#[derive(Debug)]
enum Outcome {
    Answered,
    Failed(&'static str),
    /// Refused by the open breaker, without asking the upstream.
    Refused,
}

/// What the breaker's state timeout carries: the end of the cool-down.
struct CoolDownOver;

/// A circuit breaker in front of the flaky upstream: it stops sending requests
/// to an upstream that keeps failing, and tries again after a cool-down.
struct CircuitBreaker {
    upstream: Upstream,
    failures: u32,
}

impl CircuitBreaker {
    fn new(chaos: bool) -> Self {
        CircuitBreaker {
            upstream: Upstream::new(chaos),
            failures: 0,
        }
    }

    /// Open, refusing requests until the cool-down is over.
    fn open(outcome: Outcome, reply: noex::gen_server::ReplyTo<Outcome>) -> Transition<Self> {
        Transition::next_state(Circuit::Open)
            .state_timeout(COOL_DOWN, CoolDownOver)
            .reply(reply, outcome)
    }
}

impl GenStateMachine for CircuitBreaker {
    type State = Circuit;
    type Call = UpstreamRequest;
    type Cast = ();
    type Reply = Outcome;
    type Internal = CoolDownOver;

    async fn handle_event(
        &mut self,
        event: Event<Self>,
        state: &Circuit,
        _: &mut gen_statem::Context<'_, Self>,
    ) -> Transition<Self> {
        match (state, event) {
            (Circuit::Open, Event::Call(UpstreamRequest, reply)) => {
                Transition::keep_state().reply(reply, Outcome::Refused)
            }
            (Circuit::Open, Event::StateTimeout(CoolDownOver)) => {
                Transition::next_state(Circuit::HalfOpen)
            }
            (Circuit::Closed | Circuit::HalfOpen, Event::Call(UpstreamRequest, reply)) => {
                match self.upstream.request() {
                    Ok(()) => {
                        self.failures = 0;
                        Transition::next_state(Circuit::Closed).reply(reply, Outcome::Answered)
                    }
                    // The trial failed: the upstream is still down.
                    Err(error) if *state == Circuit::HalfOpen => {
                        Self::open(Outcome::Failed(error), reply)
                    }
                    Err(error) => {
                        self.failures += 1;
                        if self.failures >= MAX_FAILURES {
                            self.failures = 0;
                            Self::open(Outcome::Failed(error), reply)
                        } else {
                            Transition::keep_state().reply(reply, Outcome::Failed(error))
                        }
                    }
                }
            }
            _ => Transition::keep_state(),
        }
    }
}

/// The flaky upstream, simulated: with chaos it has outages now and then, a few
/// seconds each, during which every request to it fails.
struct Upstream {
    chaos: bool,
    down_until: Option<Instant>,
}

impl Upstream {
    fn new(chaos: bool) -> Self {
        Upstream {
            chaos,
            down_until: None,
        }
    }

    fn request(&mut self) -> Result<(), &'static str> {
        let now = Instant::now();
        if self.down_until.is_some_and(|until| now < until) {
            return Err("upstream unavailable (simulated outage)");
        }
        self.down_until = None;
        // About one outage in 25 seconds at four requests a second, 1 to 8 s long.
        if self.chaos && fastrand::u32(..100) == 0 {
            self.down_until = Some(now + Duration::from_millis(fastrand::u64(1_000..8_000)));
            return Err("upstream unavailable (simulated outage)");
        }
        Ok(())
    }
}

/// Talks to the flaky upstream through the breaker; now and then it loses its
/// connection and crashes.
#[derive(Debug)]
struct Flaky {
    chaos: bool,
    calls: u64,
    answered: u64,
    failed: u64,
    refused: u64,
    last_failure: Option<&'static str>,
}

impl Flaky {
    fn new(chaos: bool) -> Self {
        Flaky {
            chaos,
            calls: 0,
            answered: 0,
            failed: 0,
            refused: 0,
            last_failure: None,
        }
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
        if let Ok(breaker) = StateMachineRef::<CircuitBreaker>::lookup("breaker") {
            match breaker.call(UpstreamRequest).await {
                Ok(Outcome::Answered) => self.answered += 1,
                Ok(Outcome::Failed(error)) => {
                    self.failed += 1;
                    self.last_failure = Some(error);
                }
                Ok(Outcome::Refused) => self.refused += 1,
                // The breaker is restarting: try again on the next tick.
                Err(_) => {}
            }
        }
        tick_every(ctx, Duration::from_millis(250));
    }

    // Nothing secret: `noex state flaky` shows it.
    fn format_status(&self) -> Option<String> {
        Some(format!("{self:#?}"))
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

/// The workers under `workers`, `worker-1` to `worker-3`.
const WORKERS: u64 = 3;

/// The table of work done per worker, which each worker updates itself.
const WORK_TABLE: &str = "work";

/// Counts what the workers report, and owns the table they count in (it goes with
/// this process; its row in `noex ps` shows it).
#[derive(Default)]
struct Metrics {
    work_done: u64,
    work_by_worker: Option<Table<String, u64>>,
}

impl GenServer for Metrics {
    type Call = ();
    type Cast = Metric;
    type Reply = u64;

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        let table = Table::new(ctx.pid(), TableOptions::set().public().named(WORK_TABLE))?;
        for n in 1..=WORKERS {
            table.insert(format!("worker-{n}"), 0)?;
        }
        self.work_by_worker = Some(table);
        Ok(())
    }

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<u64> {
        Reply::Now(self.work_done)
    }

    async fn handle_cast(&mut self, Metric::WorkDone: Metric, _: &mut Context<Self>) {
        self.work_done += 1;
    }
}

/// A user session: ends (normally) once it has had no request for its lifetime.
struct Session {
    lifetime: Duration,
}

impl GenServer for Session {
    type Call = ();
    type Cast = ();
    type Reply = ();

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        ctx.idle_timeout(self.lifetime);
        Ok(())
    }

    async fn handle_call(&mut self, _: (), ctx: &mut Context<Self>) -> Reply<()> {
        ctx.idle_timeout(self.lifetime);
        Reply::Now(())
    }

    async fn handle_info(&mut self, message: Info, ctx: &mut Context<Self>) {
        if message.is::<IdleTimeout>() {
            ctx.stop(ExitReason::Normal);
        }
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

/// How often the scheduler starts a round of jobs.
const SCHEDULE_EVERY: Duration = Duration::from_secs(2);
/// How long the scheduler waits for a round of jobs before it kills the rest.
const JOB_TIMEOUT: Duration = Duration::from_secs(1);
/// Background jobs, by what they do.
const JOB_KINDS: [&str; 3] = ["send receipts", "resize images", "rebuild search index"];

/// A message sent to oneself: time for a round of jobs.
#[derive(Clone)]
struct Round;

/// Every couple of seconds, runs a few short background jobs as tasks under
/// `jobs`, and waits for them a second at most: a job that has not finished by
/// then is killed. Now and then a job fails, or hangs.
#[derive(Debug, Default)]
struct Scheduler {
    started: u64,
    done: u64,
    failed: u64,
    timed_out: u64,
}

impl GenServer for Scheduler {
    type Call = ();
    type Cast = ();
    type Reply = u64;

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        ctx.send_interval(SCHEDULE_EVERY, Round);
        Ok(())
    }

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<u64> {
        Reply::Now(self.done)
    }

    async fn handle_info(&mut self, _: Info, _: &mut Context<Self>) {
        let Ok(jobs) = TaskSupervisor::lookup("jobs") else {
            return;
        };
        let mut round = Vec::new();
        for _ in 0..fastrand::usize(1..=3) {
            self.started += 1;
            let kind = *fastrand::choice(&JOB_KINDS).unwrap_or(&JOB_KINDS[0]);
            if let Ok(task) = jobs.async_nolink(job(self.started, kind)).await {
                round.push(task);
            }
        }
        // Elixir's `Task.yield_many`, then `Task.shutdown(task, :brutal_kill)` for
        // the ones without a result: one deadline for the whole round.
        let results = task::yield_many(&mut round, JOB_TIMEOUT).await;
        for (task, result) in round.into_iter().zip(results) {
            let result = match result {
                Some(result) => Some(result),
                None => task.brutal_kill().await,
            };
            match result {
                Some(Ok(_)) => self.done += 1,
                Some(Err(_)) => self.failed += 1,
                None => self.timed_out += 1,
            }
        }
    }

    // Nothing secret: `noex state scheduler` shows it.
    fn format_status(&self) -> Option<String> {
        Some(format!("{self:#?}"))
    }
}

/// One background job: a little computing and some waiting, as on a disk or a
/// network. One in ten fails, one in fifteen hangs.
async fn job(id: u64, kind: &'static str) -> u64 {
    let checksum = (0..10_000_u64).fold(id, |sum, n| sum.wrapping_mul(31).wrapping_add(n));
    let hangs = fastrand::u32(..15) == 0;
    let wait = if hangs {
        Duration::from_secs(30)
    } else {
        Duration::from_millis(fastrand::u64(50..500))
    };
    tokio::time::sleep(wait).await;
    if fastrand::u32(..10) == 0 {
        panic!("job {id} ({kind}) failed: the disk is full (simulated)");
    }
    checksum
}

#[cfg(test)]
mod tests {
    use super::*;
    use noex::gen_server::StartOptions;

    async fn request(breaker: &StateMachineRef<CircuitBreaker>) -> Outcome {
        breaker
            .call(UpstreamRequest)
            .await
            .expect("the breaker answers")
    }

    /// The classic breaker: closed until failures in a row open it; open refuses
    /// at once; the state timeout half-opens it; one trial decides.
    #[tokio::test(start_paused = true)]
    async fn the_breaker_opens_on_failures_and_a_trial_after_the_cool_down_decides() {
        // No agent socket from a unit test; nothing else in this binary starts one.
        noex::agent::disable();
        let outage = Duration::from_secs(4);
        let mut machine = CircuitBreaker::new(false);
        machine.upstream.down_until = Some(Instant::now() + outage);
        let breaker = gen_statem::start(machine, Circuit::Closed, StartOptions::new())
            .await
            .unwrap();
        let state = || gen_statem::current_state(breaker.pid());

        for _ in 0..MAX_FAILURES {
            assert_eq!(state().as_deref(), Some("Closed"));
            assert!(matches!(request(&breaker).await, Outcome::Failed(_)));
        }
        assert_eq!(state().as_deref(), Some("Open"));
        assert!(matches!(request(&breaker).await, Outcome::Refused));

        // Past the cool-down, the upstream still down: the trial fails, open again.
        tokio::time::sleep(COOL_DOWN + Duration::from_millis(10)).await;
        assert_eq!(state().as_deref(), Some("HalfOpen"));
        assert!(matches!(request(&breaker).await, Outcome::Failed(_)));
        assert_eq!(state().as_deref(), Some("Open"));

        // The outage is over by the next trial: it closes the breaker.
        tokio::time::sleep(COOL_DOWN + Duration::from_millis(10)).await;
        assert!(COOL_DOWN * 2 > outage);
        assert_eq!(state().as_deref(), Some("HalfOpen"));
        assert!(matches!(request(&breaker).await, Outcome::Answered));
        assert_eq!(state().as_deref(), Some("Closed"));
        breaker.stop(ExitReason::Normal).await.unwrap();
    }
}
