//! noex side by side with a bare tokio loop (the floor), ractor, kameo and actix, in
//! one run: `cargo bench -p noex-bench`. It ends by printing the table that goes in
//! BENCHMARKS.md (medians of this run, ratios to this run's floor).
//!
//! Every workload is written once, against [`contender::Contender`]; each library's
//! module only says how to start, call, cast to and stop its counter server. The
//! caller is always a task on the same runtime as the servers, as in an application.

mod actix;
mod contender;
mod floor;
mod kameo;
mod memory;
mod noex;
mod ractor;
mod summary;

use std::future::Future;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use std::sync::Arc;

use criterion::{BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput};

use contender::{Classic, Contender, Flavor, Runtime, SKYNET_SUM, Storm, Supervision};

/// Casts per measured round (then one call, so every cast has been handled).
const CASTS: u64 = 10_000;
const SAMPLE_SIZE: usize = 100;
const SNAPSHOT_SAMPLE_SIZE: usize = 10;
/// How many servers the Observer's snapshot is taken of.
const SNAPSHOT_SERVERS: [u64; 2] = [10_000, 100_000];
/// Samples of the classic workloads, whose single runs take up to seconds.
const CLASSIC_SAMPLE_SIZE: usize = 10;
const RING_NODES: usize = 10_000;
/// A hundred times round the ring.
const RING_HOPS: u64 = 100 * RING_NODES as u64;
/// Children of the restart storm's supervisor: the cost per restart must not grow.
pub const STORM_CHILDREN: [usize; 4] = [10, 1_000, 10_000, 100_000];
/// Casts from one task before its one call.
const ONE_TASK_CASTS: u64 = 2_000_000;

/// A routine's measurement, recorded for the summary table as well.
fn measured(id: &str, sample_size: usize, units: u64, elapsed: Duration) -> Duration {
    summary::record(id, sample_size, units, elapsed);
    elapsed
}

/// Benchmarks `batch` as `workload/C::NAME/flavor`: each routine call runs
/// `batch(iters)` as one task on `rt` and returns the time it measured, recorded for
/// the summary table (`units` units of work per iteration).
fn bench<C, B, F>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    workload: &str,
    flavor: Flavor,
    rt: &Runtime,
    units: u64,
    batch: B,
) where
    C: Contender,
    B: Fn(u64) -> F,
    F: Future<Output = Duration> + Send + 'static,
{
    let id = summary::id(workload, C::NAME, flavor.as_str());
    group.bench_function(BenchmarkId::new(C::NAME, flavor.as_str()), |b| {
        b.iter_custom(|iters| measured(&id, SAMPLE_SIZE, iters * units, rt.run(batch(iters))))
    });
}

/// Benchmarks `batch` as `workload/C::NAME/case` on state made by `setup` the first
/// time it runs, so a filter that skips it costs nothing (some set-ups start 100k
/// actors). Records `sample_size` samples of `units` units per iteration.
#[allow(clippy::too_many_arguments)]
fn bench_on<C, S, B, F>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    workload: &str,
    case: &str,
    sample_size: usize,
    units: u64,
    setup: impl FnOnce() -> (Runtime, S),
    batch: B,
) where
    C: Contender,
    B: Fn(&S, u64) -> F,
    F: Future<Output = Duration> + Send + 'static,
{
    let id = summary::id(workload, C::NAME, case);
    let mut setup = Some(setup);
    let mut state = None;
    group.bench_function(BenchmarkId::new(C::NAME, case), |b| {
        let (rt, state) = state.get_or_insert_with(|| setup.take().expect("set up once")());
        b.iter_custom(|iters| {
            measured(&id, sample_size, iters * units, rt.run(batch(state, iters)))
        })
    });
    // The runtime goes first, ending whatever the workload left running.
    drop(state);
}

/// Skynet: a root actor starts 10 children, each of them 10 more, down to a million
/// leaves; the sums come back up. Time per whole run.
fn skynet<C: Classic>(group: &mut BenchmarkGroup<'_, WallTime>, flavor: Flavor) {
    bench_on::<C, _, _, _>(
        group,
        "skynet",
        flavor.as_str(),
        CLASSIC_SAMPLE_SIZE,
        1,
        || C::setup(flavor),
        |contender, iters| {
            let contender = contender.clone();
            async move {
                let began = Instant::now();
                for _ in 0..iters {
                    assert_eq!(contender.skynet().await, SKYNET_SUM);
                }
                began.elapsed()
            }
        },
    );
}

/// A token passed a hundred times round a ring of 10 000 actors; time per hop.
fn ring<C: Classic>(group: &mut BenchmarkGroup<'_, WallTime>, flavor: Flavor) {
    bench_on::<C, _, _, _>(
        group,
        "ring",
        flavor.as_str(),
        CLASSIC_SAMPLE_SIZE,
        RING_HOPS,
        || {
            let (rt, contender) = C::setup(flavor);
            let ring = rt.run(async move { contender.ring(RING_NODES).await });
            (rt, Arc::new(ring))
        },
        |ring, iters| {
            let ring = ring.clone();
            async move {
                let began = Instant::now();
                for _ in 0..iters {
                    C::pass_token(&ring, RING_HOPS).await;
                }
                began.elapsed()
            }
        },
    );
}

/// Every child of one supervisor crashes at once; the storm is over when each has
/// been restarted and has answered a call. Recorded per restart, for each size.
fn restart_storm<C: Storm>(group: &mut BenchmarkGroup<'_, WallTime>, flavor: Flavor) {
    for children in STORM_CHILDREN.into_iter().filter(|&n| n <= C::MAX_STORM) {
        bench_on::<C, _, _, _>(
            group,
            "restart_storm",
            &storm_case(flavor, children),
            CLASSIC_SAMPLE_SIZE,
            children as u64,
            || {
                let (rt, contender) = C::setup(flavor);
                let storm = rt.run(async move { contender.start_storm(children).await });
                (rt, Arc::new(storm))
            },
            |storm, iters| {
                let storm = storm.clone();
                async move {
                    let began = Instant::now();
                    for _ in 0..iters {
                        C::storm(&storm).await;
                    }
                    began.elapsed()
                }
            },
        );
    }
}

/// The restart storm's benchmark case: `current_thread/1000`.
pub fn storm_case(flavor: Flavor, children: usize) -> String {
    format!("{}/{children}", flavor.as_str())
}

/// One task casts 2 000 000 messages to one server, then calls it once; time per
/// cast. Unlike `cast_throughput` (a call every 10 000 casts), the queue is never
/// drained by the caller waiting, so the sender and the server run side by side.
/// The backlog is what costs noex here: its mailbox is one `VecDeque`, which grows
/// by doubling (copying) to millions of slots, is given back once drained, and so
/// faults in fresh pages every run (530k page faults in a run where the floor's
/// reused 32-slot blocks take 13k); the Observer's counting adds the rest.
fn cast_one_task<C: Contender>(group: &mut BenchmarkGroup<'_, WallTime>, flavor: Flavor) {
    bench_on::<C, _, _, _>(
        group,
        "cast_one_task",
        flavor.as_str(),
        CLASSIC_SAMPLE_SIZE,
        ONE_TASK_CASTS,
        || {
            let (rt, contender) = C::setup(flavor);
            let server = rt.run(async move { contender.start().await });
            (rt, server)
        },
        |server, iters| {
            let server = server.clone();
            async move {
                let began = Instant::now();
                for _ in 0..iters {
                    for _ in 0..ONE_TASK_CASTS {
                        C::cast(&server, 1);
                    }
                    black_box(C::call(&server).await);
                }
                began.elapsed()
            }
        },
    );
}

fn call_round_trip<C: Contender>(group: &mut BenchmarkGroup<'_, WallTime>, flavor: Flavor) {
    let (rt, contender) = C::setup(flavor);
    let server = rt.run(async move { contender.start().await });
    bench::<C, _, _>(group, "call_round_trip", flavor, &rt, 1, |iters| {
        let server = server.clone();
        async move {
            let began = Instant::now();
            for _ in 0..iters {
                black_box(C::call(&server).await);
            }
            began.elapsed()
        }
    });
    rt.run(C::stop(server));
}

fn cast_throughput<C: Contender>(group: &mut BenchmarkGroup<'_, WallTime>, flavor: Flavor) {
    let (rt, contender) = C::setup(flavor);
    let server = rt.run(async move { contender.start().await });
    bench::<C, _, _>(group, "cast_throughput", flavor, &rt, CASTS, |iters| {
        let server = server.clone();
        async move {
            let began = Instant::now();
            for _ in 0..iters {
                for _ in 0..CASTS {
                    C::cast(&server, 1);
                }
                black_box(C::call(&server).await);
            }
            began.elapsed()
        }
    });
    rt.run(C::stop(server));
}

/// Start `iters` servers one after the other with the library's ordinary start call;
/// the batch ends when the last one answers a call, so every server has been polled
/// and is parked on its mailbox (some libraries return from `start` before that).
fn spawn<C: Contender>(group: &mut BenchmarkGroup<'_, WallTime>, flavor: Flavor) {
    let (rt, contender) = C::setup(flavor);
    bench::<C, _, _>(group, "spawn", flavor, &rt, 1, |iters| {
        let contender = contender.clone();
        async move {
            let mut servers = Vec::with_capacity(iters as usize);
            let began = Instant::now();
            for _ in 0..iters {
                servers.push(contender.start().await);
            }
            black_box(C::call(servers.last().expect("one server")).await);
            let elapsed = began.elapsed();
            for server in servers {
                C::stop(server).await;
            }
            elapsed
        }
    });
}

fn restart<C: Supervision>(group: &mut BenchmarkGroup<'_, WallTime>, flavor: Flavor) {
    let (rt, contender) = C::setup(flavor);
    let child = rt.run(async move { contender.start_supervised().await });
    bench::<C, _, _>(group, "restart", flavor, &rt, 1, |iters| {
        let child = child.clone();
        async move {
            let began = Instant::now();
            for _ in 0..iters {
                C::crash_and_recover(&child).await;
            }
            began.elapsed()
        }
    });
}

/// Runs `$workload` for each contender listed, on each runtime flavour.
macro_rules! for_each_contender {
    ($workload:ident, $group:expr, [$($contender:ty),+ $(,)?]) => {
        for flavor in Flavor::ALL {
            $($workload::<$contender>($group, flavor);)+
        }
    };
}

/// Messaging runs every contender, and the floor with noex's counters on its loop.
macro_rules! messaging_contenders {
    ($workload:ident, $group:expr) => {
        for_each_contender!(
            $workload,
            $group,
            [
                floor::Floor,
                floor::Counted,
                noex::Noex,
                ractor::Ractor,
                kameo::Kameo,
                actix::Actix
            ]
        )
    };
}

fn group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group.sample_size(SAMPLE_SIZE);
    group
}

fn messaging(c: &mut Criterion) {
    let mut calls = group(c, "call_round_trip");
    messaging_contenders!(call_round_trip, &mut calls);
    calls.finish();

    let mut casts = group(c, "cast_throughput");
    casts.throughput(Throughput::Elements(CASTS));
    messaging_contenders!(cast_throughput, &mut casts);
    casts.finish();
}

fn lifecycle(c: &mut Criterion) {
    let mut spawns = group(c, "spawn");
    for_each_contender!(
        spawn,
        &mut spawns,
        [
            floor::Floor,
            noex::Noex,
            ractor::Ractor,
            kameo::Kameo,
            actix::Actix
        ]
    );
    spawns.finish();

    // The floor has no supervision.
    let mut restarts = group(c, "restart");
    for_each_contender!(
        restart,
        &mut restarts,
        [noex::Noex, ractor::Ractor, kameo::Kameo, actix::Actix]
    );
    restarts.finish();
}

/// A group for workloads whose single run takes up to seconds: few samples, one
/// run each.
fn classic_group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group.sample_size(CLASSIC_SAMPLE_SIZE);
    group.sampling_mode(SamplingMode::Flat);
    group
}

/// The classic actor-system workloads.
fn classic(c: &mut Criterion) {
    let mut skynets = classic_group(c, "skynet");
    for_each_contender!(
        skynet,
        &mut skynets,
        [
            floor::Floor,
            noex::Noex,
            ractor::Ractor,
            kameo::Kameo,
            actix::Actix
        ]
    );
    skynets.finish();

    let mut rings = classic_group(c, "ring");
    rings.throughput(Throughput::Elements(RING_HOPS));
    for_each_contender!(
        ring,
        &mut rings,
        [
            floor::Floor,
            noex::Noex,
            ractor::Ractor,
            kameo::Kameo,
            actix::Actix
        ]
    );
    rings.finish();

    // The floor has no supervision. actix restarts in place (see `actix.rs`): its
    // figures are given beside the table, as for `restart`.
    let mut storms = classic_group(c, "restart_storm");
    for_each_contender!(
        restart_storm,
        &mut storms,
        [noex::Noex, ractor::Ractor, kameo::Kameo, actix::Actix]
    );
    storms.finish();

    let mut casts = classic_group(c, "cast_one_task");
    casts.throughput(Throughput::Elements(ONE_TASK_CASTS));
    messaging_contenders!(cast_one_task, &mut casts);
    casts.finish();
}

/// noex only: building the Observer's snapshot of every process.
fn observer_snapshot(c: &mut Criterion) {
    let mut group = c.benchmark_group("observer_snapshot");
    group.sample_size(SNAPSHOT_SAMPLE_SIZE);
    for servers in SNAPSHOT_SERVERS {
        let id = summary::id("observer_snapshot", "noex", servers);
        let mut rt_and_servers = None;
        group.bench_function(BenchmarkId::new("noex", servers), |b| {
            // Started on first use, so a filter that skips this costs nothing.
            rt_and_servers.get_or_insert_with(|| {
                let (rt, contender) = <noex::Noex as Contender>::setup(Flavor::MultiThread);
                let started = rt.run(async move {
                    let mut started = Vec::with_capacity(servers as usize);
                    for _ in 0..servers {
                        started.push(contender.start().await);
                    }
                    started
                });
                (rt, started)
            });
            b.iter_custom(|iters| {
                let began = Instant::now();
                for _ in 0..iters {
                    black_box(::noex::observer::snapshot());
                }
                measured(&id, SNAPSHOT_SAMPLE_SIZE, iters, began.elapsed())
            })
        });
        // Dropping the runtime ends the servers.
        drop(rt_and_servers);
    }
    group.finish();
}

/// What the command line asks for, as far as the parts criterion does not run.
struct Invocation {
    filter: Option<String>,
    measuring: bool,
}

impl Invocation {
    fn from_args() -> Self {
        // Criterion's options that take a value; whatever else is positional is the filter.
        const WITH_VALUE: [&str; 18] = [
            "--color",
            "-c",
            "--profile-time",
            "--save-baseline",
            "-s",
            "--baseline",
            "-b",
            "--baseline-lenient",
            "--load-baseline",
            "--sample-size",
            "--warm-up-time",
            "--measurement-time",
            "--nresamples",
            "--noise-threshold",
            "--confidence-level",
            "--significance-level",
            "--plotting-backend",
            "--output-format",
        ];
        let args: Vec<String> = std::env::args().skip(1).collect();
        let mut filter = None;
        let mut skip_next = false;
        for arg in &args {
            if skip_next {
                skip_next = false;
            } else if WITH_VALUE.contains(&arg.as_str()) {
                skip_next = true;
            } else if !arg.starts_with('-') && filter.is_none() {
                filter = Some(arg.clone());
            }
        }
        // `cargo bench` passes `--bench`; without it (`cargo test --benches`) criterion
        // runs each benchmark once, as a test.
        let measuring = args.iter().any(|arg| arg == "--bench")
            && !args
                .iter()
                .any(|arg| matches!(arg.as_str(), "--test" | "--list" | "--profile-time"));
        Invocation { filter, measuring }
    }

    fn wants(&self, id: &str) -> bool {
        self.measuring
            && self
                .filter
                .as_deref()
                .is_none_or(|filter| id.contains(filter) || filter.contains(id))
    }
}

fn main() {
    if memory::run_probe_if_asked() || memory::run_skynet_probe_if_asked() {
        return;
    }
    // The restart benchmark crashes servers on purpose: keep those panics quiet.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<&str>() != Some(&contender::CRASH_MESSAGE) {
            default_hook(info);
        }
    }));

    let invocation = Invocation::from_args();
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    messaging(&mut criterion);
    lifecycle(&mut criterion);
    observer_snapshot(&mut criterion);
    classic(&mut criterion);
    let memory = if invocation.wants("idle_memory") {
        memory::measure_all()
    } else {
        Vec::new()
    };
    let skynet_memory = if invocation.wants("skynet_memory") {
        memory::measure_skynets()
    } else {
        Vec::new()
    };
    criterion.final_summary();
    if invocation.measuring {
        println!("\n{}", summary::render(&memory, &skynet_memory));
    }
}
