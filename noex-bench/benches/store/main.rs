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
#[path = "../paired/mod.rs"]
mod paired;
mod sqlite;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::Criterion;
use serde_json::Value;
use tokio::runtime::Runtime;

use contender::{Contender, GROUPS, RECORDS, user};
use fanout::{Fanout, Subscribers};
use floor::Floor;
use noex_store::NoexStore;
use paired::{Bench, Entry, ROUNDS, median, ratio, run, time};
use sqlite::Sqlite;

/// Writes timed between two emptyings of the written buckets.
const CHUNK: u64 = 5_000;
/// Concurrent writers of the last workload.
const WRITERS: u64 = 32;

const INSERT: &str = "insert";
const GET: &str = "get";
const WHERE_INDEXED: &str = "where, indexed";
const WHERE_SCAN: &str = "where, unindexed";
const TRANSACTION: &str = "transaction (3 ops)";
const FANOUT: &str = "fan-out to 1,000";
const WRITERS_32: &str = "insert, 32 writers";

/// Each paired round of a contender runs for about this long.
const BATCH: Duration = Duration::from_millis(20);

const BENCH: Bench = Bench {
    group: "store",
    batch: BATCH,
    debug_variable: "STORE_BENCH_DEBUG",
};

/// Each paired round's time per operation, in nanoseconds, by `(workload,
/// contender)`: what the summary is made of.
static RESULTS: Mutex<BTreeMap<(&'static str, &'static str), Vec<f64>>> =
    Mutex::new(BTreeMap::new());

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
    slow: bool,
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
        slow,
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
        slow: false,
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
        slow: true,
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
        slow: true,
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

/// One row, measured and kept for the summary (each round's time an operation).
fn row(c: &mut Criterion, workload: &'static str, mut entries: Vec<Entry<'_>>) {
    let Some(rounds) = BENCH.row(c, workload, &mut entries, || Duration::ZERO) else {
        return; // filtered out
    };
    let mut results = RESULTS.lock().unwrap();
    for (entry, rounds) in entries.iter().zip(rounds) {
        results.insert((workload, entry.name), rounds.wall);
    }
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
    let (rt, mut c) = paired::start();
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
