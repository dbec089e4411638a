//! The chaos soak: a tree of about a thousand processes under steady call load, killed
//! at random at every level, checked after every burst of kills.
//!
//! [`run`] starts the embedded agent on a private socket, then the tree (see [`tree`]),
//! and waits for it to be whole. Then, for `secs`, in rounds:
//!
//! 1. **chaos** (`period`): client tasks call random workers by registered name
//!    (throughout, not only here) while the killer kills a random process at a random
//!    level every few milliseconds: workers (`ServerRef::kill`, or a cast that makes
//!    them panic), leaf and mid supervisors (`SupervisorRef::kill`), and about a third
//!    of all kills through the agent's socket, as `noex kill NAME --reason chaos` does.
//!    The root is never killed. The round ends once every process killed has exited.
//! 2. **quiet**: no kills. The Observer's snapshot and the registry are read until the
//!    tree has its original shape again (same supervisors, strategies, child ids in
//!    the same order, every child running under its name, every name on its process)
//!    and nothing that is not in the tree is left: no process in the Observer (the
//!    agent's own, `system`, excepted) and no name in the registry. That is waited for,
//!    up to `settle_deadline`; a tree that is not back by then fails the soak, and
//!    what was wrong is kept: the shape differences, and the orphans.
//!
//! Throughout, every call must end within its timeout with a reply that echoes its
//! request, or a typed error of a worker being restarted (`Exited`, `NotRunning`, or
//! the name not registered at lookup). A wrong reply, or no reply from a live worker
//! (`Timeout`, `NoReply`), is `lost`; a call still pending after `watchdog` (far
//! beyond its timeout) is `hung`.
//!
//! Resident memory and live tokio tasks are measured twice in the same state, the tree
//! whole and no load (the calls' deadline timers gone too), and the allocator asked to
//! give back the freed memory it keeps: once warm — after the round in which the
//! bounded rings of recent events have surely filled ([`WARM_EVENTS`]) and a tenth of
//! the run has passed — and after the last round. Then the root is stopped
//! (timed: `shutdown_ms`) and the agent shut down; after that no process, name or
//! task of the soak may be left.
//!
//! Restart intensities are set so that the kills alone can never exceed them (see
//! [`Config::intensity`]): the soak checks recovery, not escalation, which
//! `noex-lib/tests/supervisor/` covers rule by rule. An escalation is counted, and
//! fails the soak.

mod check;
mod kill;
mod load;
mod stats;
pub mod tree;

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use noex::agent::AgentOptions;

use kill::{KillConfig, Killer};
use load::{CallCounts, Load, LoadConfig};
use stats::{EventCounter, alive_tasks, rss_kb};
use tree::Layout;

/// Events after which the bounded rings of recent events (the live stream's 4096, the
/// history's 1000) are surely full: memory measured before would grow with them.
const WARM_EVENTS: u64 = 2 * (4096 + 1000);

/// What to run, and how hard.
#[derive(Clone, Debug)]
pub struct Config {
    /// How long the rounds of kills and checks go on.
    pub secs: u64,
    /// Seeds the kills and the load (the scheduling adds its own randomness).
    pub seed: u64,
    /// Supervisors under the root (their strategies cycle: one_for_one, one_for_all,
    /// rest_for_one, simple_one_for_one).
    pub mids: usize,
    /// Leaf supervisors under each mid (plus one worker of the mid's own); a
    /// simple_one_for_one mid has `(leaves_per_mid + 1) * workers_per_leaf` workers.
    pub leaves_per_mid: usize,
    pub workers_per_leaf: usize,
    /// Client tasks calling workers, each one call at a time, back to back.
    pub clients: usize,
    /// How long each burst of kills lasts before a quiet check.
    pub period: Duration,
    /// The pause before each kill is drawn from this range.
    pub kill_interval: (Duration, Duration),
    /// The share of kills sent through the agent's socket.
    pub agent_share: f64,
    pub call_timeout: Duration,
    /// A call still pending after this is `hung`.
    pub watchdog: Duration,
    /// How long the tree may take to come back after a burst.
    pub settle_deadline: Duration,
    /// Print a line on stderr after each round (time, wait, memory, tasks).
    pub progress: bool,
}

impl Config {
    /// The defaults: 10 mids × (9 leaves × 10 workers + 1 worker), about a thousand
    /// processes; 8 clients; bursts of 2 s with a kill every 5–50 ms.
    pub fn new(secs: u64) -> Config {
        Config {
            secs,
            seed: 1,
            mids: 10,
            leaves_per_mid: 9,
            workers_per_leaf: 10,
            clients: 8,
            period: Duration::from_secs(2),
            kill_interval: (Duration::from_millis(5), Duration::from_millis(50)),
            agent_share: 1.0 / 3.0,
            call_timeout: Duration::from_secs(2),
            watchdog: Duration::from_secs(30),
            settle_deadline: Duration::from_secs(5),
            progress: false,
        }
    }

    /// The restart intensity of every supervisor below the root: more restarts in
    /// its window than the kills could ever cause. Each kill makes at most one
    /// restart decision, at the parent of the process killed (a supervisor killed
    /// takes its children with it; their exits go to nobody), and kills come one at
    /// a time at least `kill_interval.0` apart, so no supervisor sees more than
    /// `window / kill_interval.0 + 1` restarts in a window. The root's (1000 in 1 s,
    /// [`tree::ROOT_INTENSITY`]) is above that too.
    pub fn intensity(&self) -> (u32, Duration) {
        let window = Duration::from_secs(1);
        let shortest = self.kill_interval.0.max(Duration::from_millis(1));
        let kills = window.as_nanos().div_ceil(shortest.as_nanos()) as u32 + 1;
        (kills, window)
    }
}

/// What a soak found.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub secs: u64,
    pub seed: u64,
    /// Processes in the tree.
    pub processes: usize,
    /// Bursts of kills, each followed by a check.
    pub rounds: u64,
    /// The longest wait for the tree to come back after a burst.
    pub max_settle_ms: u64,
    pub kills: u64,
    pub kills_by_agent: u64,
    pub kills_by_kill: u64,
    pub kills_by_crash: u64,
    pub kills_of_workers: u64,
    pub kills_of_leaves: u64,
    pub kills_of_mids: u64,
    /// Targets not there when their turn came (being restarted).
    pub kills_missed: u64,
    /// `Restarted` lifecycle events of the tree's processes.
    pub restarts: u64,
    /// Supervisors that gave up (max restarts exceeded); 0 by design.
    pub escalations: u64,
    /// Events the counter missed by lagging (then `restarts` is a lower bound).
    pub events_lagged: u64,
    pub calls: u64,
    pub ok: u64,
    pub exited: u64,
    pub not_running: u64,
    pub not_registered: u64,
    pub lost: u64,
    pub hung: u64,
    /// Whether the tree came back to its shape after every burst, and at the end.
    pub shape_ok: bool,
    /// Processes or names left outside the tree (after a check's deadline, or after
    /// the shutdown).
    pub orphans: u64,
    /// Starts that failed on a name still registered (seen in `last_error`).
    pub name_conflicts: u64,
    /// Resident memory and live tokio tasks with the tree whole and no load: after the
    /// first round (which warms up what is allocated once), and after the last.
    pub rss_start_kb: u64,
    pub rss_end_kb: u64,
    pub tasks_start: usize,
    pub tasks_end: usize,
    /// The same, measured before the first round: the tree just started.
    pub rss_cold_kb: u64,
    pub tasks_cold: usize,
    /// Heap in use (bytes allocated and not freed: no fragmentation, no memory the
    /// allocator keeps), where the allocator tells it (glibc), when the RSS is read.
    pub heap_start_kb: Option<u64>,
    pub heap_end_kb: Option<u64>,
    /// Live tokio tasks before the tree started, and after its shutdown.
    pub tasks_before_tree: usize,
    pub tasks_after_shutdown: usize,
    pub shutdown_ms: u64,
    /// Set if stopping the root failed.
    pub shutdown_error: Option<String>,
    /// What went wrong, word for word (the first few of each kind).
    pub problems: Vec<String>,
}

impl Report {
    /// The one line the binary prints.
    pub fn line(&self) -> String {
        format!(
            "chaos: secs={} kills={} restarts={} calls={} lost={} hung={} orphans={} \
             rss_start_kb={} rss_end_kb={} tasks_start={} tasks_end={} shutdown_ms={}",
            self.secs,
            self.kills,
            self.restarts,
            self.calls,
            self.lost,
            self.hung,
            self.orphans,
            self.rss_start_kb,
            self.rss_end_kb,
            self.tasks_start,
            self.tasks_end,
            self.shutdown_ms
        )
    }

    /// No call lost or hung, no orphan, the tree always back in shape, nobody gave up,
    /// no start failed on a stale name, and the root stopped cleanly.
    pub fn passed(&self) -> bool {
        self.lost == 0
            && self.hung == 0
            && self.orphans == 0
            && self.shape_ok
            && self.escalations == 0
            && self.name_conflicts == 0
            && self.shutdown_error.is_none()
    }

    /// Everything else the soak counted, for a person reading it.
    pub fn details(&self) -> String {
        let mut text = String::new();
        let _ = writeln!(
            text,
            "seed={} processes={} rounds={} max_settle_ms={} shape_ok={} escalations={} \
             name_conflicts={} events_lagged={}",
            self.seed,
            self.processes,
            self.rounds,
            self.max_settle_ms,
            self.shape_ok,
            self.escalations,
            self.name_conflicts,
            self.events_lagged
        );
        let _ = writeln!(
            text,
            "kills: agent={} kill={} crash={} | workers={} leaves={} mids={} | missed={}",
            self.kills_by_agent,
            self.kills_by_kill,
            self.kills_by_crash,
            self.kills_of_workers,
            self.kills_of_leaves,
            self.kills_of_mids,
            self.kills_missed
        );
        let _ = writeln!(
            text,
            "calls: ok={} exited={} not_running={} (and not_registered={} lookups)",
            self.ok, self.exited, self.not_running, self.not_registered
        );
        let heap = |kb: Option<u64>| kb.map_or("?".into(), |kb| kb.to_string());
        let _ = writeln!(
            text,
            "memory: heap_start_kb={} heap_end_kb={} | before the first round: rss_kb={} \
             tasks={} | tasks before the tree={} after its shutdown={}",
            heap(self.heap_start_kb),
            heap(self.heap_end_kb),
            self.rss_cold_kb,
            self.tasks_cold,
            self.tasks_before_tree,
            self.tasks_after_shutdown
        );
        if let Some(error) = &self.shutdown_error {
            let _ = writeln!(text, "shutdown: {error}");
        }
        for problem in &self.problems {
            let _ = writeln!(text, "problem: {problem}");
        }
        text
    }
}

/// The first few details of one kind of problem, word for word.
#[derive(Debug, Default)]
pub(crate) struct Details(Mutex<Vec<String>>);

const KEPT_DETAILS: usize = 20;

impl Details {
    pub(crate) fn push(&self, detail: String) {
        let mut details = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if details.len() < KEPT_DETAILS {
            details.push(detail);
        }
    }

    pub(crate) fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Runs the soak on a runtime of its own: multi-thread, two workers (as CI has two
/// cores). Call it outside any runtime.
pub fn run(config: Config) -> Report {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(soak(config))
}

/// The soak itself; needs a multi-thread tokio runtime (the agent's shutdown blocks).
/// It must be the only user of noex's runtime in this OS process: it starts the
/// agent, and counts every process and name as its own.
pub async fn soak(config: Config) -> Report {
    stats::quiet_induced_crashes();
    let mut report = Report {
        secs: config.secs,
        seed: config.seed,
        shape_ok: true,
        ..Report::default()
    };
    let (dir, socket) = start_agent();

    report.tasks_before_tree = alive_tasks();
    let layout = Layout::new(&config);
    report.processes = layout.process_count();
    let root = tree::start(&layout).await.expect("the tree starts");
    let first = check::wait_for_tree(&layout, config.settle_deadline).await;
    if !first.ok {
        report.shape_ok = false;
        note_findings(&mut report, "at start", &first.findings);
    }
    report.rss_cold_kb = rss_kb();
    report.tasks_cold = alive_tasks();

    let events = EventCounter::start();
    let mut conflicts = HashSet::new();
    let calls = Arc::new(CallCounts::default());
    let mut load_config = LoadConfig {
        clients: config.clients,
        seed: config.seed,
        call_timeout: config.call_timeout,
        watchdog: config.watchdog,
    };
    let names = layout.echo_names();
    let mut load = Load::start(&load_config, names.clone(), Arc::clone(&calls));
    let mut killer = Killer::new(
        KillConfig {
            seed: config.seed,
            interval: config.kill_interval,
            agent_share: config.agent_share,
            exit_deadline: config.settle_deadline,
        },
        layout.targets(),
        socket,
    );
    let started = Instant::now();
    let mut warmed = false;
    for round in 1..=rounds(&config) {
        if !first.ok {
            break;
        }
        killer.rampage(config.period).await;
        let settled = check::wait_for_tree(&layout, config.settle_deadline).await;
        report.rounds = round;
        report.max_settle_ms = report.max_settle_ms.max(settled.waited.as_millis() as u64);
        if config.progress {
            eprintln!(
                "chaos: round {round} at {:.1}s: back in {:?}, rss_kb={} heap_kb={} tasks={}",
                started.elapsed().as_secs_f64(),
                settled.waited,
                rss_kb(),
                stats::heap_kb().map_or("?".into(), |kb| kb.to_string()),
                alive_tasks()
            );
        }
        for (pid, error) in &settled.findings.name_conflicts {
            if conflicts.insert(*pid) {
                report.name_conflicts += 1;
                report
                    .problems
                    .push(format!("{pid} started after: {error}"));
            }
        }
        if !settled.ok {
            report.shape_ok &= settled.findings.shape.is_empty();
            let when = format!("round {round} (after {:?})", settled.waited);
            note_findings(&mut report, &when, &settled.findings);
            // The same leftovers would be counted again by every later round.
            break;
        }
        // The start is measured once what is allocated once is there: the
        // allocator's arenas, the agent's connection, and the rings of recent events
        // (the live stream's buffer and the history, bounded, fill as events come),
        // and once the allocator's heap has been through churn (a tenth of the run):
        // after the first round in which both hold, or the first round if none does. It is measured in the state the end is
        // measured in, the tree whole and no load, so that the two compare.
        let warm = events.seen() >= WARM_EVENTS
            && started.elapsed() >= Duration::from_secs(config.secs) / 10;
        if round == 1 || (warm && !warmed) {
            warmed = warm;
            load.stop().await;
            report.tasks_start = tasks_settled(report.tasks_cold, config.call_timeout * 2).await;
            report.rss_start_kb = stats::live_rss_kb();
            report.heap_start_kb = stats::heap_kb();
            load_config.seed = load_config.seed.wrapping_add(config.clients as u64);
            load = Load::start(&load_config, names.clone(), Arc::clone(&calls));
        }
    }
    load.stop().await;
    report.calls = calls.calls.load(Ordering::Relaxed);
    report.ok = calls.ok.load(Ordering::Relaxed);
    report.exited = calls.exited.load(Ordering::Relaxed);
    report.not_running = calls.not_running.load(Ordering::Relaxed);
    report.not_registered = calls.not_registered.load(Ordering::Relaxed);
    report.lost = calls.lost.load(Ordering::Relaxed);
    report.hung = calls.hung.load(Ordering::Relaxed);
    report.problems.extend(calls.details.take());
    let kills = std::mem::take(&mut killer.counts);
    drop(killer);
    report.kills = kills.kills;
    report.kills_by_agent = kills.by_agent;
    report.kills_by_kill = kills.by_kill;
    report.kills_by_crash = kills.by_crash;
    report.kills_of_workers = kills.workers;
    report.kills_of_leaves = kills.leaves;
    report.kills_of_mids = kills.mids;
    report.kills_missed = kills.missed;
    report.problems.extend(kills.details.take());
    let counted = events.stop();
    report.restarts = counted.restarts;
    report.escalations = counted.escalations;
    report.events_lagged = counted.lagged;

    // Measured as at the start: the tree whole (checked), no load, no kills.
    if report.shape_ok && report.orphans == 0 {
        let last = check::wait_for_tree(&layout, config.settle_deadline).await;
        if !last.ok {
            report.shape_ok &= last.findings.shape.is_empty();
            note_findings(&mut report, "at the end", &last.findings);
        }
    }
    // The calls' deadline timers (one per 10 ms window and thread, each alive until
    // its window ends) go within a call timeout of the last call.
    report.tasks_end = tasks_settled(report.tasks_cold, config.call_timeout * 2).await;
    report.rss_end_kb = stats::live_rss_kb();
    report.heap_end_kb = stats::heap_kb();

    let stopping = Instant::now();
    let stopped = root.stop().await;
    report.shutdown_ms = stopping.elapsed().as_millis() as u64;
    if let Err(error) = stopped {
        report.shutdown_error = Some(error.to_string());
    }
    // Nothing of the tree may outlive its root: no process, no name (the agent's own,
    // `system`, still run), and once the agent is gone, no task.
    let after = check::leftovers();
    report.orphans += after.len() as u64;
    report.problems.extend(
        after
            .into_iter()
            .map(|o| format!("after the shutdown: {o}")),
    );
    tokio::task::block_in_place(noex::agent::shutdown);
    drop(dir);
    report.tasks_after_shutdown =
        tasks_settled(report.tasks_before_tree, Duration::from_secs(1)).await;
    report
}

/// Starts the agent on a socket of its own, in a private directory (removed when the
/// directory is dropped), so that the soak never meets another app's agent.
pub(crate) fn start_agent() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix("noex-chaos-")
        .tempdir()
        .expect("a directory for the agent's socket");
    // The agent refuses a directory others can reach.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
            .expect("the socket's directory made private");
    }
    let options = AgentOptions::new("noex-chaos").socket_path(dir.path().join("agent.sock"));
    let socket = noex::agent::start(options).expect("the agent starts");
    (dir, socket)
}

/// Bursts of `period` (with a check after each) that fill `secs`; at least one.
fn rounds(config: &Config) -> u64 {
    let period = config.period.max(Duration::from_millis(1));
    let rounds = Duration::from_secs(config.secs).as_secs_f64() / period.as_secs_f64();
    (rounds.ceil() as u64).max(1)
}

fn note_findings(report: &mut Report, when: &str, findings: &check::Findings) {
    report.orphans += findings.orphans.len() as u64;
    for shape in &findings.shape {
        report.problems.push(format!("{when}: shape: {shape}"));
    }
    for orphan in &findings.orphans {
        report.problems.push(format!("{when}: orphan: {orphan}"));
    }
}

/// Live tasks once the ones ending now have ended: waits up to `deadline` for the
/// count to drop to `floor`, and returns it then.
async fn tasks_settled(floor: usize, deadline: Duration) -> usize {
    let deadline = Instant::now() + deadline;
    loop {
        let alive = alive_tasks();
        if alive <= floor || Instant::now() >= deadline {
            return alive;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}
