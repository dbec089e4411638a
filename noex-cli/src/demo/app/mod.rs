//! The demo application: a small shop backend with a supervision tree that does
//! steady work, grows a backlog now and then, and has one worker that crashes.
//!
//! ```text
//! app_sup (one_for_one)
//! ├── services (one_for_all): topics (pub/sub registry), config, cache, health
//! ├── workers (one_for_one, 10 restarts in 30 s): worker-1..3, breaker, flaky
//! ├── pipeline (rest_for_one): ingest → parse → archive, health
//! ├── metrics: owns the `work` table the workers count into
//! ├── sessions (simple_one_for_one): session-N, temporary
//! ├── jobs (task supervisor): task-N, temporary
//! ├── scheduler: runs a few jobs every 2 s; not with `--steady`
//! ├── session_spawner: opens a session every 2 s; not with `--steady`
//! ├── idle (simple_one_for_one): idle-N, with `--scale N` only
//! ├── shop (one_for_one): checkout, order_board, vip_orders, on the store below
//! └── cluster (one_for_one): leader, caller; with `--cluster` only (`cluster.rs`)
//! store (noex-store): store/queries, store/customers, store/orders, store/audit
//! ```
//!
//! The store and the shop start once the rest runs (and after `--scale`'s idle
//! servers), so the tree above keeps its pids, `<0.1>` to `<0.20>`.
//!
//! It runs as an [`Application`]: SIGTERM and Ctrl-C stop it in order, and so do a
//! SIGHUP and (with `--watch-parent`) the end of the `noex demo` that started it.

mod breaker;
mod cluster;
mod jobs;
mod metrics;
mod pipeline;
mod services;
mod sessions;
mod shop;
mod tick;
mod worker;

pub use sessions::Idle;

use std::time::Duration;

use noex::agent;
use noex::application::{AppExit, Application, RunningApplication};
use noex::gen_statem::{self};
use noex::keyed_registry::RegistryOptions;
use noex::registry;
use noex::supervisor::{ChildSpec, RestartType, Shutdown, SupervisorSpec};
use noex::task::{TaskSupervisor, TaskSupervisorOptions};

use crate::cli::{ClusterArgs, DemoArgs};
use breaker::{Circuit, CircuitBreaker, Flaky};
use jobs::Scheduler;
use metrics::{Metrics, WORKERS};
use pipeline::{Archive, Ingest, Parse};
use services::{Cache, Config, Health, TOPICS, Topics};
use sessions::{Session, SessionSpawner};
use worker::Worker;

/// The first words the demo application prints, once its supervision tree has started.
pub const RUNNING: &str = "noex demo is running as pid";
/// The first words of the line with the web dashboard's address (`--web`), printed
/// before [`RUNNING`].
pub const WEB_DASHBOARD: &str = "web dashboard: ";

/// The application's name: what `noex list` shows.
const APP_NAME: &str = "noex-demo";
/// The root supervisor's name: `noex kill app_sup` ends the application.
const ROOT: &str = "app_sup";
/// How long a stop may take before what is left is killed.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

pub async fn run(args: &DemoArgs, cluster: &ClusterArgs) -> anyhow::Result<()> {
    // Said before anything starts; the gateway would refuse it too, but later.
    if let Some(address) = args.web
        && !address.ip().is_loopback()
    {
        anyhow::bail!(
            "--web {address}: the demo's dashboard asks for no token, so it serves on this \
             machine only: give a loopback address (127.0.0.1:8080)"
        );
    }
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
        // The application logs why through tracing, which the demo does not print:
        // the usual cause is the agent directory, so say what is wrong with it.
        let dir = noex_agent::discovery::agent_dir();
        let why = match noex_agent::discovery::check_agent_dir(&dir) {
            Err(error) => format!(": {error}"),
            Ok(()) => String::new(),
        };
        anyhow::bail!("the demo's agent did not start, so `noex` cannot attach to it{why}");
    };
    if args.scale > 0
        && let Err(error) = start_idle_servers(args.scale).await
    {
        let _ = app.stop().await;
        return Err(error);
    }
    let store = match start_shop(&app).await {
        Ok(store) => store,
        Err(error) => {
            let _ = app.stop().await;
            return Err(error);
        }
    };
    // Before the demo says it runs: the gateway's own processes come after the
    // demo's in pid order, and whoever waits for the line finds the address with it.
    let web = match args.web {
        Some(address) => match start_web(&store, address).await {
            Ok(server) => Some(server),
            Err(error) => {
                let _ = app.stop().await;
                store.stop().await;
                return Err(error);
            }
        },
        None => None,
    };
    if let Some(server) = &web {
        println!("{WEB_DASHBOARD}http://{}/", server.local_addr());
        println!(
            "  a live query: http://{}/?query=orders_by_status",
            server.local_addr()
        );
    }
    // A node of the cluster once it runs: `noex ps --cluster` lists it, and any
    // command reaches it with `--cluster URL --node NAME`.
    let node = match join_cluster(&app, cluster).await {
        Ok(node) => node,
        Err(error) => {
            let _ = app.stop().await;
            store.stop().await;
            return Err(error);
        }
    };
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
        "state store/orders",
        "top",
    ] {
        println!("  {noex} {command} --pid {pid}");
    }
    if let (Some(node), Some(url)) = (&node, &cluster.cluster) {
        println!(
            "joined cluster {} as node {} on {url}; from anywhere NATS reaches:",
            cluster.cluster_name,
            node.node_name()
        );
        println!("  {noex} ps --cluster {url}");
        println!("  {noex} top --cluster {url} --node {}", node.node_name());
    }
    println!("stop it with Ctrl-C");

    // Stopped from outside, or the tree gave up (or was killed with --force): an
    // application whose root supervisor is gone has nothing left to run.
    let exit = app.run().await;
    if let Some(node) = node {
        node.leave().await;
    }
    if let Some(server) = web {
        server.stop(WEB_GRACE).await;
    }
    // The shop, which writes to the store, stopped with the tree.
    store.stop().await;
    agent::shutdown();
    match exit {
        AppExit::Stopped { .. } => Ok(()),
        AppExit::GaveUp { reason } => Err(anyhow::anyhow!(
            "the application stopped: its root supervisor {ROOT} exited ({reason})"
        )),
        other => Err(anyhow::anyhow!("the application stopped: {other}")),
    }
}

/// Join the cluster `--cluster` names as node `--node`, if it names one, and run
/// for its global name `leader` (`cluster.rs`).
async fn join_cluster(
    app: &RunningApplication,
    args: &ClusterArgs,
) -> anyhow::Result<Option<noex_cluster::Cluster>> {
    let Some(url) = &args.cluster else {
        return Ok(None);
    };
    let Some(node) = &args.node else {
        anyhow::bail!("--cluster {url}: name this node with --node NAME");
    };
    let mut config = noex_cluster::ClusterConfig::new(node.clone(), url.clone())
        .cluster(args.cluster_name.clone());
    if let Some(creds) = &args.nats_creds {
        config = config.credentials(creds.clone());
    }
    let node = noex_cluster::join(config).await?;
    if let Err(error) = app
        .supervisor()
        .start_child(cluster::child_spec(&node))
        .await
    {
        node.leave().await;
        anyhow::bail!("the demo's cluster processes did not start: {error}");
    }
    Ok(Some(node))
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
                    ChildSpec::worker("archive", move || Archive::new(chaos))
                        .name("archive")
                        // Its stop request queues behind a slow spell's backlog (120 ms
                        // a record): wait briefly, then kill, so the demo stops at once.
                        .shutdown(Shutdown::Timeout(ARCHIVE_SHUTDOWN)),
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

/// Starts the store (its own supervision tree) and the shop that uses it, under
/// the root supervisor.
async fn start_shop(app: &RunningApplication) -> anyhow::Result<noex_store::Store> {
    let store = shop::start_store()
        .await
        .map_err(|error| anyhow::anyhow!("the demo's store did not start: {error}"))?;
    if let Err(error) = app
        .supervisor()
        .start_child(shop::child_spec(store.clone()))
        .await
    {
        store.stop().await;
        anyhow::bail!("the demo's shop did not start: {error}");
    }
    Ok(store)
}

/// How long the browsers connected to the demo's gateway have to go when it stops.
const WEB_GRACE: Duration = Duration::from_millis(500);

/// The WebSocket gateway with the web dashboard, on the demo's store. No token is
/// asked, so the gateway refuses an address other than loopback.
async fn start_web(
    store: &noex_store::Store,
    address: std::net::SocketAddr,
) -> anyhow::Result<noex_server::Server> {
    let config = noex_server::ServerConfig::new()
        .store(store.clone())
        .bind(address);
    noex_server::start(config)
        .await
        .map_err(|error| anyhow::anyhow!("the demo's web dashboard did not start: {error}"))
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

/// How long the archive may take to stop before it is killed (its backlog is lost).
const ARCHIVE_SHUTDOWN: Duration = Duration::from_millis(250);
