//! noex-store side by side with a locked `HashMap` (the floor) and, with
//! persistence on, SQLite: `cargo bench -p noex-bench --bench store`. It ends by
//! printing the table that goes in BENCHMARKS.md: after criterion has measured
//! each contender of a row, the contenders take turns for 15 paired rounds, and
//! the table gives their medians and the median of the rounds' ratios
//! noex-store / floor and noex-store (redb) / SQLite, with their range. (A shared
//! machine's load, and its disk's latency, drift over seconds: criterion's
//! figures of two contenders measured a minute apart can differ by 3x for that
//! alone.)
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

/// Paired rounds after criterion's measurements, in which the contenders of a row
/// take turns, each for a batch of about this long.
const ROUNDS: usize = 15;
const BATCH: Duration = Duration::from_millis(20);

/// Each paired round's time per operation, in nanoseconds, by `(workload,
/// contender)`: what the summary is made of.
static RESULTS: Mutex<BTreeMap<(&'static str, &'static str), Vec<f64>>> =
    Mutex::new(BTreeMap::new());

/// Runs `future` as a task of `rt` and waits for it.
fn run<T: Send + 'static>(rt: &Runtime, future: impl Future<Output = T> + Send + 'static) -> T {
    rt.block_on(rt.spawn(future)).expect("a bench task")
}

/// A contender's workload: `routine(iters)` is the time `iters × units`
/// operations took.
struct Entry<'a> {
    name: &'static str,
    persistent: bool,
    units: u64,
    routine: Box<dyn FnMut(u64) -> Duration + 'a>,
}

/// One row of the summary: criterion measures each entry in turn, then the
/// entries take turns for [`ROUNDS`] paired rounds (so that the ratios of a row
/// compare times taken moments apart, though the machine's load and its disk's
/// latency drift over seconds).
fn row(c: &mut Criterion, workload: &'static str, mut entries: Vec<Entry<'_>>) {
    let mut medians = Vec::new();
    for entry in &mut entries {
        medians.push(bench(c, workload, entry));
    }
    if medians.iter().any(|m| m.is_nan()) {
        return; // filtered out
    }
    let iters: Vec<u64> = entries
        .iter()
        .zip(&medians)
        .map(|(entry, ns)| ((BATCH.as_nanos() as f64 / (ns * entry.units as f64)) as u64).max(1))
        .collect();
    let mut rounds = vec![Vec::with_capacity(ROUNDS); entries.len()];
    for _ in 0..ROUNDS {
        for ((entry, iters), times) in entries.iter_mut().zip(&iters).zip(&mut rounds) {
            let elapsed = (entry.routine)(*iters);
            times.push(elapsed.as_nanos() as f64 / (iters * entry.units) as f64);
        }
    }
    let mut results = RESULTS.lock().unwrap();
    for (entry, times) in entries.iter().zip(rounds) {
        results.insert((workload, entry.name), times);
    }
}

/// Benchmarks an entry with criterion as `workload/name`; the median of its
/// samples, in nanoseconds an operation (NaN when filtered out).
fn bench(c: &mut Criterion, workload: &'static str, entry: &mut Entry<'_>) -> f64 {
    let mut group = c.benchmark_group(format!("store/{workload}"));
    group
        .sample_size(SAMPLES)
        .warm_up_time(Duration::from_millis(200));
    if entry.persistent {
        // Milliseconds an operation: as many iterations in every sample.
        group
            .sampling_mode(SamplingMode::Flat)
            .measurement_time(Duration::from_secs(1));
    } else {
        group.measurement_time(Duration::from_millis(600));
    }
    let mut samples = Vec::new();
    let mut operations = 0;
    let units = entry.units;
    group.bench_function(entry.name, |b| {
        b.iter_custom(|iters| {
            operations += iters * units;
            let elapsed = (entry.routine)(iters);
            samples.push(elapsed.as_nanos() as f64 / (iters * units) as f64);
            elapsed
        })
    });
    group.finish();
    if operations == 0 {
        return f64::NAN;
    }
    // The last calls are the measurement's samples; those before, the warm-up's.
    let samples = samples.split_off(samples.len().saturating_sub(SAMPLES));
    if std::env::var_os("STORE_BENCH_DEBUG").is_some() {
        eprintln!(
            "{workload}/{}: {operations} operations, samples {samples:?}",
            entry.name
        );
    }
    median(samples)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
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
fn workload<'a, C: Contender>(
    rt: &'a Runtime,
    contender: &Arc<C>,
    persistent: bool,
    workload: &'static str,
) -> Entry<'a> {
    // Keys in a fixed shuffled order, the same for every contender.
    let mut rng = fastrand::Rng::with_seed(20);
    let keys: Arc<Vec<i64>> = Arc::new((0..4096).map(|_| rng.i64(1..=RECORDS)).collect());
    let inputs = inputs();
    let contender = contender.clone();
    let routine = move |iters: u64| {
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
    };
    Entry {
        name: C::NAME,
        persistent,
        units: 1,
        routine: Box::new(routine),
    }
}

/// The fan-out for one side: rounds of a write and its 1,000 deliveries.
fn fanout<'a, F: Fanout>(rt: &'a Runtime, (side, subscribers): (F, Subscribers)) -> Entry<'a> {
    let side = Arc::new(side);
    // Every write a new value (the record starts at 0): an unchanged result would
    // not be sent.
    let mut written = 1i64;
    Entry {
        name: F::NAME,
        persistent: false,
        units: 1,
        routine: Box::new(move |iters| {
            let (side, received) = (side.clone(), subscribers.received.clone());
            let base = written;
            written += iters as i64;
            run(rt, async move {
                fanout::rounds(&*side, &received, iters, base).await
            })
        }),
    }
}

/// [`WRITERS`] tasks each inserting `iters` records into noex-store at once.
fn writers_store(rt: &Runtime, store: Arc<NoexStore<true>>) -> Entry<'_> {
    let inputs = inputs();
    Entry {
        name: NoexStore::<true>::NAME,
        persistent: true,
        units: WRITERS,
        routine: Box::new(move |iters| {
            let (store, inputs) = (store.clone(), inputs.clone());
            run(rt, async move {
                store.trim().await;
                let start = Instant::now();
                let tasks: Vec<_> = (0..WRITERS)
                    .map(|w| {
                        let (store, inputs) = (store.clone(), inputs.clone());
                        tokio::spawn(async move {
                            for i in 0..iters {
                                let record = &inputs[((w + i) % GROUPS as u64) as usize];
                                store.insert(record).await;
                            }
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.expect("a writer");
                }
                start.elapsed()
            })
        }),
    }
}

/// [`WRITERS`] threads each inserting `iters` rows into SQLite at once, through
/// the one connection.
fn writers_sqlite(rt: &Runtime, sqlite: Arc<Sqlite>) -> Entry<'_> {
    let inputs = inputs();
    Entry {
        name: Sqlite::NAME,
        persistent: true,
        units: WRITERS,
        routine: Box::new(move |iters| {
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
        }),
    }
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

/// The median of the rounds' ratios `a / b`, and their range.
fn ratio(a: Option<&Vec<f64>>, b: Option<&Vec<f64>>) -> String {
    let (Some(a), Some(b)) = (a, b) else {
        return "–".into();
    };
    let ratios: Vec<f64> = a.iter().zip(b).map(|(a, b)| a / b).collect();
    let low = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    let high = ratios.iter().copied().fold(0.0, f64::max);
    format!("{:.2}x ({low:.2}–{high:.2})", median(ratios))
}

fn summary() {
    let results = RESULTS.lock().unwrap();
    let of = |workload: &'static str, name: &'static str| results.get(&(workload, name));
    let time_of = |workload, name| time(of(workload, name).map_or(f64::NAN, |t| median(t.clone())));
    println!(
        "\nMedians of {ROUNDS} paired rounds; ratios: the median of the rounds' ratios (their range)."
    );
    println!(
        "\n| workload | floor | noex-store | vs floor | noex-store (redb) | SQLite | redb vs SQLite |"
    );
    println!("|---|---|---|---|---|---|---|");
    for workload in WORKLOADS.into_iter().chain([FANOUT, WRITERS_32]) {
        let (floor, memory) = (Floor::NAME, NoexStore::<false>::NAME);
        let (redb, sqlite) = (NoexStore::<true>::NAME, Sqlite::NAME);
        println!(
            "| {workload} | {} | {} | {} | {} | {} | {} |",
            time_of(workload, floor),
            time_of(workload, memory),
            ratio(of(workload, memory), of(workload, floor)),
            time_of(workload, redb),
            time_of(workload, sqlite),
            ratio(of(workload, redb), of(workload, sqlite)),
        );
    }
    println!("\nThe index's speed-up (unindexed / indexed, of the medians):");
    for name in [
        NoexStore::<false>::NAME,
        NoexStore::<true>::NAME,
        Sqlite::NAME,
    ] {
        let median_of = |workload| of(workload, name).map_or(f64::NAN, |t| median(t.clone()));
        println!(
            "- {name}: {:.1}x",
            median_of(WHERE_SCAN) / median_of(WHERE_INDEXED)
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
    let path = dir.path().to_owned();
    let redb = Arc::new(run(&rt, async move { NoexStore::persistent(&path).await }));
    let sqlite = Arc::new(Sqlite::open(dir.path()));
    // Workload by workload, so that the contenders of one row are measured close
    // in time (the machine's load, and its disk's latency, drift).
    for name in WORKLOADS {
        let entries = vec![
            workload(&rt, &floor, false, name),
            workload(&rt, &memory, false, name),
            workload(&rt, &redb, true, name),
            workload(&rt, &sqlite, true, name),
        ];
        row(&mut c, name, entries);
    }

    let store_side = run(&rt, fanout::StoreSide::start());
    let fanout_store = store_side.0.store.clone();
    let entries = vec![
        fanout(&rt, run(&rt, fanout::FloorSide::start())),
        fanout(&rt, store_side),
    ];
    row(&mut c, FANOUT, entries);

    let entries = vec![
        writers_store(&rt, redb.clone()),
        writers_sqlite(&rt, sqlite),
    ];
    row(&mut c, WRITERS_32, entries);

    for store in [memory.store.clone(), redb.store.clone(), fanout_store] {
        run(&rt, async move { store.stop().await });
    }
    c.final_summary();
    summary();
}
