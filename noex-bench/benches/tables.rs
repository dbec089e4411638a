//! noex's ETS tables side by side with dashmap and papaya, shared by several
//! threads: `cargo bench -p noex-bench --bench tables`. It ends by printing the
//! table that goes in BENCHMARKS.md (medians of this run, ratios to noex's set).
//!
//! Each thread runs its own fixed list of operations on `u64` keys drawn from a
//! table prefilled with every key, so every contender does the same work:
//! - `get-heavy`: 98% reads, 1% inserts, 1% removes (a cache);
//! - `mixed`: 50% reads, 25% inserts, 25% removes.
//!
//! The threads are plain OS threads, as tasks on a multi-threaded runtime would
//! be: no table operation awaits.

use std::hint::black_box;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use noex::ets::{Table, TableOptions};
use noex::gen_server::{self, Context, GenServer, Reply, StartOptions};

/// Keys in the table; all present at the start.
const KEYS: u64 = 1 << 14;
/// Operations in each thread's list; a measured round runs it `iters` times.
const OPS: usize = 1 << 12;
const THREADS: [usize; 3] = [1, 2, 4];

#[derive(Clone, Copy)]
enum Op {
    Get(u64),
    Insert(u64),
    Remove(u64),
}

#[derive(Clone, Copy)]
struct Workload {
    name: &'static str,
    /// Percent of reads; the rest is half inserts, half removes.
    reads: u32,
}

const WORKLOADS: [Workload; 2] = [
    Workload {
        name: "get-heavy",
        reads: 98,
    },
    Workload {
        name: "mixed",
        reads: 50,
    },
];

fn ops(workload: Workload, seed: u64) -> Vec<Op> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..OPS)
        .map(|_| {
            let key = rng.u64(0..KEYS);
            let dice = rng.u32(0..100);
            if dice < workload.reads {
                Op::Get(key)
            } else if dice.is_multiple_of(2) {
                Op::Insert(key)
            } else {
                Op::Remove(key)
            }
        })
        .collect()
}

/// A map as the bench uses one.
trait Contender: Send + Sync + 'static {
    const NAME: &'static str;
    fn get(&self, key: u64) -> Option<u64>;
    fn insert(&self, key: u64, value: u64);
    fn remove(&self, key: u64);
}

/// A noex table: a set, or with `ORDERED` an ordered set (same calls, another index).
struct NoexTable<const ORDERED: bool>(Table<u64, u64>);

impl<const ORDERED: bool> Contender for NoexTable<ORDERED> {
    const NAME: &'static str = if ORDERED {
        "noex ordered_set"
    } else {
        "noex set"
    };
    fn get(&self, key: u64) -> Option<u64> {
        self.0.get(&key).ok().flatten()
    }
    fn insert(&self, key: u64, value: u64) {
        let _ = self.0.insert(key, value);
    }
    fn remove(&self, key: u64) {
        let _ = self.0.delete(&key);
    }
}

struct Dash(dashmap::DashMap<u64, u64>);

impl Contender for Dash {
    const NAME: &'static str = "dashmap";
    fn get(&self, key: u64) -> Option<u64> {
        self.0.get(&key).map(|value| *value)
    }
    fn insert(&self, key: u64, value: u64) {
        self.0.insert(key, value);
    }
    fn remove(&self, key: u64) {
        self.0.remove(&key);
    }
}

struct Papaya(papaya::HashMap<u64, u64>);

impl Contender for Papaya {
    const NAME: &'static str = "papaya";
    fn get(&self, key: u64) -> Option<u64> {
        self.0.pin().get(&key).copied()
    }
    fn insert(&self, key: u64, value: u64) {
        self.0.pin().insert(key, value);
    }
    fn remove(&self, key: u64) {
        self.0.pin().remove(&key);
    }
}

/// The medians of the summary: nanoseconds an operation, by `(workload, threads, contender)`.
static RESULTS: Mutex<Vec<(String, usize, &'static str, f64)>> = Mutex::new(Vec::new());

/// Run `iters` rounds of every thread's list at once; the time from the common
/// start to the last thread's end.
fn round<C: Contender>(map: &Arc<C>, lists: &[Arc<Vec<Op>>], iters: u64) -> Duration {
    let start = Arc::new(Barrier::new(lists.len() + 1));
    let threads: Vec<_> = lists
        .iter()
        .map(|list| {
            let (map, list, start) = (map.clone(), list.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                for _ in 0..iters {
                    for op in list.iter() {
                        match *op {
                            Op::Get(key) => {
                                black_box(map.get(key));
                            }
                            Op::Insert(key) => map.insert(key, key),
                            Op::Remove(key) => map.remove(key),
                        }
                    }
                }
            })
        })
        .collect();
    start.wait();
    let began = Instant::now();
    for thread in threads {
        thread.join().expect("a bench thread");
    }
    began.elapsed()
}

fn bench_contender<C: Contender>(c: &mut Criterion, make: impl Fn() -> C) {
    for workload in WORKLOADS {
        let mut group = c.benchmark_group(format!("tables/{}", workload.name));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(200))
            .measurement_time(Duration::from_millis(600));
        for threads in THREADS {
            let map = Arc::new(make());
            for key in 0..KEYS {
                map.insert(key, key);
            }
            let lists: Vec<Arc<Vec<Op>>> = (0..threads)
                .map(|t| Arc::new(ops(workload, 7 + t as u64)))
                .collect();
            let ops_per_round = (OPS * threads) as u64;
            group.throughput(Throughput::Elements(ops_per_round));
            let mut samples = Vec::new();
            group.bench_function(BenchmarkId::new(C::NAME, threads), |b| {
                b.iter_custom(|iters| {
                    let elapsed = round(&map, &lists, iters);
                    samples.push(elapsed.as_nanos() as f64 / (iters * ops_per_round) as f64);
                    elapsed
                })
            });
            samples.sort_by(f64::total_cmp);
            let median = samples.get(samples.len() / 2).copied().unwrap_or(f64::NAN);
            (RESULTS.lock().unwrap()).push((workload.name.to_owned(), threads, C::NAME, median));
        }
        group.finish();
    }
}

/// Owns the noex tables.
struct Owner;

impl GenServer for Owner {
    type Call = ();
    type Cast = ();
    type Reply = ();
    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }
}

fn summary() {
    let results = RESULTS.lock().unwrap();
    println!("\n| workload | threads | contender | ns/op (median) | vs noex set |");
    println!("|---|---|---|---|---|");
    for (workload, threads, name, ns) in results.iter() {
        let base = results
            .iter()
            .find(|(w, t, n, _)| w == workload && t == threads && *n == NoexTable::<false>::NAME)
            .map_or(f64::NAN, |r| r.3);
        println!(
            "| {workload} | {threads} | {name} | {ns:.1} | {:.2}x |",
            ns / base
        );
    }
}

fn main() {
    // SAFETY: before any thread of this program starts.
    unsafe { std::env::set_var("NOEX_AGENT", "off") };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let owner = runtime
        .block_on(gen_server::start(Owner, StartOptions::new()))
        .expect("the tables' owner");
    // Few resamples and no plots: the analysis, not the measuring, would take
    // most of the run.
    let mut c = Criterion::default()
        .nresamples(1_000)
        .without_plots()
        .configure_from_args();
    bench_contender(&mut c, || {
        NoexTable::<false>(Table::new(owner.pid(), TableOptions::set().public()).expect("a table"))
    });
    bench_contender(&mut c, || {
        NoexTable::<true>(
            Table::new(owner.pid(), TableOptions::ordered_set().public()).expect("a table"),
        )
    });
    bench_contender(&mut c, || Dash(dashmap::DashMap::new()));
    bench_contender(&mut c, || Papaya(papaya::HashMap::new()));
    c.final_summary();
    summary();
}
