//! noex-cluster between two nodes, side by side with raw NATS (the floor) and
//! ractor_cluster, in one run: `cargo bench -p noex-bench --bench cluster
//! --features ractor-cluster`. It ends by printing the tables that go in
//! BENCHMARKS.md.
//!
//! Every contender is two nodes in this process and a counter on one of them,
//! reached from the other (`Link`):
//! - raw NATS (`floor.rs`): two bare async-nats clients, a request and its reply,
//!   and plain publishes, with the payload sizes of noex-cluster's messages;
//! - noex-cluster (`noex_cluster.rs`): a GenServer exposed on node `a`, called and
//!   cast to from node `b` through a `RemoteRef`, over the same NATS server;
//! - ractor_cluster (`ractor_cluster.rs`): two `NodeServer`s connected over TCP on
//!   127.0.0.1, the counter called and cast to through its remote proxy; only with
//!   `--features ractor-cluster` (noex-bench/Cargo.toml says why).
//!
//! The NATS server is the bench's own (`nats.rs`); without `nats-server` on the
//! machine, raw NATS and noex-cluster are left out. Workloads: a call round trip
//! (add 1, get the total back), and 10,000 casts then one call, whose total says
//! every cast arrived. After criterion has measured each contender of a row, the
//! contenders take turns for 15 paired rounds, as in the store bench: the tables
//! give their medians, and the median of the rounds' ratios to the floor with their
//! range (a shared machine's load drifts over seconds), in time and in CPU time.
//! `CLUSTER_BENCH_DEBUG=1` prints how many operations criterion ran of each (for
//! `--profile-time` under perf).

mod floor;
mod nats;
mod noex_cluster;
#[path = "../paired/mod.rs"]
mod paired;
#[cfg(feature = "ractor-cluster")]
mod ractor_cluster;

use std::collections::BTreeMap;
use std::future::Future;
use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;

use floor::{Floor, Sizes};
use nats::Nats;
use noex_cluster::NoexCluster;
use paired::{Bench, Entry, ROUNDS, Rounds, median, ratio, run, time};
#[cfg(feature = "ractor-cluster")]
use ractor_cluster::RactorCluster;

/// Two nodes, and a counter on one of them that the other reaches.
pub trait Link: Send + Sync + 'static {
    const NAME: &'static str;
    /// Add 1 to the counter and get its total back: one request and its reply.
    fn call(&self) -> impl Future<Output = i64> + Send;
    /// Add 1 to the counter, not waiting for it.
    fn cast(&self) -> impl Future<Output = ()> + Send;
}

/// ractor_cluster's name in the tables, whether it runs or not.
const RACTOR_CLUSTER: &str = "ractor_cluster";

/// Casts per iteration of the cast workload, before its one call.
const CASTS: u64 = 10_000;

const CALL: &str = "call round trip";
const CAST: &str = "cast, 10,000 + 1 call";
const WORKLOADS: [&str; 2] = [CALL, CAST];

/// Each round of a contender runs for about this long.
const BATCH: Duration = Duration::from_millis(50);

const BENCH: Bench = Bench {
    group: "cluster",
    batch: BATCH,
    debug_variable: "CLUSTER_BENCH_DEBUG",
};

/// By `(workload, contender)`.
static RESULTS: Mutex<BTreeMap<(&'static str, &'static str), Rounds>> = Mutex::new(BTreeMap::new());

/// The NATS server's pid, for its CPU time.
static SERVER: Mutex<Option<u32>> = Mutex::new(None);

/// The NATS server's CPU time (user and system) from /proc, in clock ticks'
/// resolution (10 ms): summed over the rounds, not read per round.
fn server_cpu() -> Duration {
    let Some(pid) = *SERVER.lock().unwrap() else {
        return Duration::ZERO;
    };
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Duration::ZERO;
    };
    // After the command's closing parenthesis: the state, then utime and stime are
    // the 12th and 13th fields.
    let ticks: u64 = stat
        .rsplit_once(')')
        .map(|(_, fields)| fields.split_whitespace().skip(11).take(2))
        .into_iter()
        .flatten()
        .filter_map(|field| field.parse::<u64>().ok())
        .sum();
    // SAFETY: sysconf reads a constant of the system.
    let per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_micros(ticks * 1_000_000 / per_sec)
}

/// `workload` on `link`, each batch a task of `rt`.
fn entry<'a, L: Link>(rt: &'a Runtime, link: &Arc<L>, workload: &'static str) -> Entry<'a> {
    let link = link.clone();
    let routine = move |iters: u64| {
        let link = link.clone();
        match workload {
            CALL => run(rt, async move {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(link.call().await);
                }
                start.elapsed()
            }),
            CAST => run(rt, async move {
                let mut total = link.call().await;
                let start = Instant::now();
                for _ in 0..iters {
                    for _ in 0..CASTS {
                        link.cast().await;
                    }
                    let now = link.call().await;
                    assert_eq!(now, total + CASTS as i64 + 1, "{}: casts lost", L::NAME);
                    total = now;
                }
                start.elapsed()
            }),
            other => unreachable!("no workload {other}"),
        }
    };
    Entry {
        name: L::NAME,
        units: if workload == CAST { CASTS } else { 1 },
        slow: workload == CAST,
        routine: Box::new(routine),
    }
}

fn summary(sizes: Option<Sizes>) {
    let results = RESULTS.lock().unwrap();
    let of = |workload: &'static str, name: &'static str| results.get(&(workload, name));
    let wall = |workload, name| of(workload, name).map(|rounds| &rounds.wall);
    let cpu = |workload, name| of(workload, name).map(|rounds| &rounds.cpu);
    let median_of = |times: Option<&Vec<f64>>| times.map_or(f64::NAN, |t| median(t.clone()));
    // A cast's time, and its rate.
    let wall_of = |workload, name| {
        let ns = median_of(wall(workload, name));
        if workload == CAST && !ns.is_nan() {
            format!("{} ({:.0}k/s)", time(ns), 1e6 / ns)
        } else {
            time(ns)
        }
    };
    // This process's CPU an operation, and the NATS server's.
    let cpu_of = |workload, name| {
        let process = time(median_of(cpu(workload, name)));
        match of(workload, name) {
            Some(rounds) if name != RACTOR_CLUSTER => {
                let server = rounds.other_cpu.as_nanos() as f64 / rounds.operations as f64;
                format!("{process} + {}", time(server))
            }
            _ => process,
        }
    };
    let (floor, noex, ractor) = (Floor::NAME, NoexCluster::NAME, RACTOR_CLUSTER);
    // One table: each contender's figure of `cell`, and its ratio to the floor's.
    let table = |title: String,
                 cell: &dyn Fn(&'static str, &'static str) -> String,
                 rounds: &dyn Fn(&'static str, &'static str) -> Option<Vec<f64>>| {
        println!("\n{title}");
        println!(
            "\n| workload | raw NATS (floor) | noex-cluster | vs floor | ractor_cluster | vs floor |"
        );
        println!("|---|---|---|---|---|---|");
        for workload in WORKLOADS {
            println!(
                "| {workload} | {} | {} | {} | {} | {} |",
                cell(workload, floor),
                cell(workload, noex),
                ratio(
                    rounds(workload, noex).as_ref(),
                    rounds(workload, floor).as_ref()
                ),
                cell(workload, ractor),
                ratio(
                    rounds(workload, ractor).as_ref(),
                    rounds(workload, floor).as_ref()
                ),
            );
        }
    };
    table(
        format!(
            "Medians of {ROUNDS} paired rounds; ratios: the median of the rounds' ratios to the floor (their range)."
        ),
        &wall_of,
        &|workload, name| wall(workload, name).cloned(),
    );
    table(
        "CPU time an operation: this process (both nodes) + the NATS server (summed over the rounds); ratios of this process's.".to_string(),
        &cpu_of,
        &|workload, name| cpu(workload, name).cloned(),
    );
    if let Some(Sizes { call, reply, cast }) = sizes {
        println!(
            "\nPayloads on NATS (noex-cluster's, and the floor's alike): call {call} bytes, reply {reply}, cast {cast}."
        );
    }
}

fn main() {
    let (rt, mut c) = paired::start();

    let nats = Nats::start();
    *SERVER.lock().unwrap() = nats.as_ref().map(Nats::pid);
    let on_nats = match &nats {
        Some(nats) => {
            let url = nats.url();
            let (noex, sizes) = run(&rt, async move { NoexCluster::start(&url).await });
            let url = nats.url();
            let floor = run(&rt, async move { Floor::start(&url, sizes).await });
            Some((Arc::new(floor), Arc::new(noex), sizes))
        }
        None => {
            println!(
                "note: no `nats-server` on this machine (Debian: apt install nats-server): \
                 raw NATS and noex-cluster are left out"
            );
            None
        }
    };
    #[cfg(feature = "ractor-cluster")]
    let ractor = Arc::new(run(&rt, RactorCluster::start()));
    #[cfg(not(feature = "ractor-cluster"))]
    println!("note: ractor_cluster is left out; `--features ractor-cluster` adds it");

    for workload in WORKLOADS {
        let mut entries = Vec::new();
        if let Some((floor, noex, _)) = &on_nats {
            entries.push(entry(&rt, floor, workload));
            entries.push(entry(&rt, noex, workload));
        }
        #[cfg(feature = "ractor-cluster")]
        entries.push(entry(&rt, &ractor, workload));
        if let Some(rounds) = BENCH.row(&mut c, workload, &mut entries, server_cpu) {
            let mut results = RESULTS.lock().unwrap();
            for (entry, rounds) in entries.iter().zip(rounds) {
                results.insert((workload, entry.name), rounds);
            }
        }
    }

    let sizes = on_nats.as_ref().map(|(_, _, sizes)| *sizes);
    if let Some((floor, noex, _)) = on_nats {
        let (floor, noex) = (only(floor), only(noex));
        floor.stop();
        run(&rt, noex.stop());
    }
    #[cfg(feature = "ractor-cluster")]
    run(&rt, only(ractor).stop());
    c.final_summary();
    summary(sizes);
    // The clients' tasks end with the runtime, before their server does.
    drop(rt);
    drop(nats);
}

/// The contender, once the workloads have let go of it.
fn only<T>(shared: Arc<T>) -> T {
    Arc::into_inner(shared).expect("no workload holds the contender any more")
}
