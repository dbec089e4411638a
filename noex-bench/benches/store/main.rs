//! noex-store side by side with a locked `HashMap` (the floor) and, with
//! persistence on, SQLite: `cargo bench -p noex-bench --bench store`. It ends by
//! printing the table that goes in BENCHMARKS.md (medians of this run, and the
//! ratios noex-store / floor and noex-store (redb) / SQLite).
//!
//! Workloads, each for every contender (`contender.rs` says what each does):
//! - `insert`: one record, its key generated, into a bucket that writes fill
//!   (emptied between timed stretches, so memory stays flat);
//! - `get`: a record by key from a bucket of 10,000;
//! - `where`: the 1% of those 10,000 whose `group` is one value, through an index
//!   and without one (the floor always scans);
//! - `transaction`: read a record, update it, insert a record in a second bucket;
//! - `fan-out`: one write, until 1,000 subscribers of one query each received the
//!   new result (in memory only; the floor sends on a `watch`);
//! - `insert, 32 writers`: with persistence, 32 tasks inserting at once (noex-store
//!   commits what queues up together; SQLite's writers take turns).
//!
//! Every operation runs in a task on a multi-threaded runtime, as in an app.
//! `STORE_BENCH_DEBUG=1` prints each benchmark's samples, and how long filling
//! noex-store took.

mod contender;
mod fanout;
mod floor;
mod noex_store;
mod sqlite;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode};
use serde_json::Value;
use tokio::runtime::Runtime;

use contender::{Contender, GROUPS, RECORDS, user};
use fanout::{Fanout, Subscribers};
use floor::Floor;
use noex_store::NoexStore;
use sqlite::Sqlite;

/// Writes timed between two emptyings of the written buckets.
const CHUNK: u64 = 5_000;
/// Samples of every benchmark.
const SAMPLES: usize = 10;
/// Concurrent writers of the last workload.
const WRITERS: u64 = 32;

const INSERT: &str = "insert";
const GET: &str = "get";
const WHERE_INDEXED: &str = "where, indexed";
const WHERE_SCAN: &str = "where, unindexed";
const TRANSACTION: &str = "transaction (3 ops)";
const FANOUT: &str = "fan-out to 1,000";
const WRITERS_32: &str = "insert, 32 writers";

/// The median of each benchmark's samples: nanoseconds an operation, by
/// `(workload, contender)`.
static RESULTS: Mutex<BTreeMap<(&'static str, &'static str), f64>> = Mutex::new(BTreeMap::new());

/// Runs `future` as a task of `rt` and waits for it.
fn run<T: Send + 'static>(rt: &Runtime, future: impl Future<Output = T> + Send + 'static) -> T {
    rt.block_on(rt.spawn(future)).expect("a bench task")
}

/// Benchmarks `routine(iters)` (a time for `iters × units` operations) as
/// `workload/name`, and records its median time per operation.
fn bench(
    c: &mut Criterion,
    workload: &'static str,
    name: &'static str,
    persistent: bool,
    units: u64,
    mut routine: impl FnMut(u64) -> Duration,
) {
    let mut group = c.benchmark_group(format!("store/{workload}"));
    group
        .sample_size(SAMPLES)
        .warm_up_time(Duration::from_millis(200));
    if persistent {
        // Milliseconds an operation: as many iterations in every sample.
        group
            .sampling_mode(SamplingMode::Flat)
            .measurement_time(Duration::from_secs(1));
    } else {
        group.measurement_time(Duration::from_millis(600));
    }
    let mut samples = Vec::new();
    let mut operations = 0;
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            operations += iters * units;
            let elapsed = routine(iters);
            samples.push(elapsed.as_nanos() as f64 / (iters * units) as f64);
            elapsed
        })
    });
    group.finish();
    if operations == 0 {
        return; // filtered out
    }
    // The last calls are the measurement's samples; those before, the warm-up's.
    let mut samples = samples.split_off(samples.len().saturating_sub(SAMPLES));
    if std::env::var_os("STORE_BENCH_DEBUG").is_some() {
        eprintln!("{workload}/{name}: {operations} operations, samples {samples:?}");
    }
    samples.sort_by(f64::total_cmp);
    let median = samples.get(samples.len() / 2).copied().unwrap_or(f64::NAN);
    RESULTS.lock().unwrap().insert((workload, name), median);
}

/// The records the inserts write: one of [`user`]'s for every group.
fn inputs() -> Arc<Vec<Value>> {
    Arc::new((0..GROUPS).map(user).collect())
}

/// Runs `iters` writes (`write(contender, i)`) in stretches of [`CHUNK`], the
/// written buckets emptied before each stretch once they hold as much; only the
/// stretches are timed.
async fn chunked<C, F, Fut>(contender: Arc<C>, iters: u64, write: F) -> Duration
where
    C: Contender,
    F: Fn(Arc<C>, u64) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut elapsed = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        if contender.written() as u64 >= CHUNK {
            contender.trim().await;
        }
        let n = (iters - done).min(CHUNK);
        let start = Instant::now();
        for i in done..done + n {
            write(contender.clone(), i).await;
        }
        elapsed += start.elapsed();
        done += n;
    }
    elapsed
}

/// The workloads every contender runs, in the order of the summary.
const WORKLOADS: [&str; 5] = [INSERT, GET, WHERE_INDEXED, WHERE_SCAN, TRANSACTION];

/// One of [`WORKLOADS`] for one contender.
fn workload<C: Contender>(
    c: &mut Criterion,
    rt: &Runtime,
    contender: &Arc<C>,
    persistent: bool,
    workload: &'static str,
) {
    // Keys in a fixed shuffled order, the same for every contender.
    let mut rng = fastrand::Rng::with_seed(20);
    let keys: Arc<Vec<i64>> = Arc::new((0..4096).map(|_| rng.i64(1..=RECORDS)).collect());
    let inputs = inputs();
    bench(c, workload, C::NAME, persistent, 1, |iters| {
        let (contender, keys, inputs) = (contender.clone(), keys.clone(), inputs.clone());
        match workload {
            INSERT => run(
                rt,
                chunked(contender, iters, move |contender, i| {
                    let inputs = inputs.clone();
                    async move {
                        contender
                            .insert(&inputs[(i % GROUPS as u64) as usize])
                            .await
                    }
                }),
            ),
            GET => run(rt, async move {
                let start = Instant::now();
                for i in 0..iters as usize {
                    assert!(contender.get(keys[i % keys.len()]));
                }
                start.elapsed()
            }),
            WHERE_INDEXED | WHERE_SCAN => run(rt, async move {
                let indexed = workload == WHERE_INDEXED;
                let start = Instant::now();
                for i in 0..iters as i64 {
                    let found = contender.find(indexed, i % GROUPS);
                    assert_eq!(found as i64, RECORDS / GROUPS);
                }
                start.elapsed()
            }),
            TRANSACTION => run(
                rt,
                chunked(contender, iters, move |contender, i| {
                    let key = keys[i as usize % keys.len()];
                    async move { contender.transfer(key).await }
                }),
            ),
            other => unreachable!("no workload {other}"),
        }
    });
}

/// The fan-out for one side: rounds of a write and its 1,000 deliveries.
fn fanout<F: Fanout>(c: &mut Criterion, rt: &Runtime, (side, subscribers): (F, Subscribers)) {
    let side = Arc::new(side);
    // Every write a new value (the record starts at 0): an unchanged result would
    // not be sent.
    let mut written = 1i64;
    bench(c, FANOUT, F::NAME, false, 1, |iters| {
        let (side, received) = (side.clone(), subscribers.received.clone());
        let base = written;
        written += iters as i64;
        run(rt, async move {
            fanout::rounds(&*side, &received, iters, base).await
        })
    });
}

/// `WRITERS` threads each inserting `iters` rows into SQLite at once, through the
/// one connection.
fn writers_sqlite(c: &mut Criterion, rt: &Runtime, sqlite: Arc<Sqlite>) {
    let inputs = inputs();
    bench(c, WRITERS_32, Sqlite::NAME, true, WRITERS, |iters| {
        let (sqlite, inputs) = (sqlite.clone(), inputs.clone());
        run(rt, async move {
            sqlite.trim().await;
            let start = Instant::now();
            let tasks: Vec<_> = (0..WRITERS)
                .map(|w| {
                    let (sqlite, inputs) = (sqlite.clone(), inputs.clone());
                    tokio::task::spawn_blocking(move || {
                        for i in 0..iters {
                            let record = &inputs[((w + i) % GROUPS as u64) as usize];
                            Sqlite::insert_with(&sqlite.conn.lock().unwrap(), record);
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.expect("a writer");
            }
            start.elapsed()
        })
    });
}

/// A time for the table: ns, µs or ms.
fn time(ns: f64) -> String {
    if ns.is_nan() {
        "–".into()
    } else if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{:.2} ms", ns / 1e6)
    }
}

fn ratio(a: f64, b: f64) -> String {
    if a.is_nan() || b.is_nan() {
        "–".into()
    } else {
        format!("{:.2}x", a / b)
    }
}

fn summary() {
    let results = RESULTS.lock().unwrap();
    let of = |workload: &str, name: &str| {
        results
            .iter()
            .find(|((w, n), _)| *w == workload && *n == name)
            .map_or(f64::NAN, |(_, ns)| *ns)
    };
    println!(
        "\n| workload | floor | noex-store | vs floor | noex-store (redb) | SQLite | redb vs SQLite |"
    );
    println!("|---|---|---|---|---|---|---|");
    for workload in WORKLOADS.into_iter().chain([FANOUT, WRITERS_32]) {
        let floor = of(workload, Floor::NAME);
        let memory = of(workload, NoexStore::<false>::NAME);
        let redb = of(workload, NoexStore::<true>::NAME);
        let sqlite = of(workload, Sqlite::NAME);
        println!(
            "| {workload} | {} | {} | {} | {} | {} | {} |",
            time(floor),
            time(memory),
            ratio(memory, floor),
            time(redb),
            time(sqlite),
            ratio(redb, sqlite),
        );
    }
    println!("\nThe index's speed-up (unindexed / indexed):");
    for name in [
        NoexStore::<false>::NAME,
        NoexStore::<true>::NAME,
        Sqlite::NAME,
    ] {
        println!(
            "- {name}: {}",
            ratio(of(WHERE_SCAN, name), of(WHERE_INDEXED, name))
        );
    }
}

fn main() {
    // SAFETY: before any thread of this program starts.
    unsafe { std::env::set_var("NOEX_AGENT", "off") };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    // Few resamples and no plots: the analysis, not the measuring, would take
    // most of the run.
    let mut c = Criterion::default()
        .nresamples(1_000)
        .without_plots()
        .configure_from_args();
    let dir = tempfile::tempdir().expect("a directory for the persistent contenders");

    let floor = Arc::new(Floor::new());
    let memory = Arc::new(run(&rt, NoexStore::in_memory()));
    let sqlite = Arc::new(Sqlite::open(dir.path()));
    // Workload by workload, so that the contenders of one row are measured close
    // in time (the machine's load, and its disk's latency, drift).
    for name in WORKLOADS {
        workload(&mut c, &rt, &floor, false, name);
        workload(&mut c, &rt, &memory, false, name);
        workload(&mut c, &rt, &sqlite, true, name);
    }

    fanout(&mut c, &rt, run(&rt, fanout::FloorSide::start()));
    let store_side = run(&rt, fanout::StoreSide::start());
    let fanout_store = store_side.0.store.clone();
    fanout(&mut c, &rt, store_side);

    writers_sqlite(&mut c, &rt, sqlite);

    for store in [memory.store.clone(), fanout_store] {
        run(&rt, async move { store.stop().await });
    }
    c.final_summary();
    summary();
}
