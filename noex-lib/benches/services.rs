//! The built-in services against what a user would otherwise reach for, in one run:
//! the Cache against moka (sync and future) and a `Mutex<lru::LruCache>`; EventBus
//! delivery against a tokio broadcast channel; the RateLimiter against governor and
//! a sliding-window log in a `Mutex<HashMap>`.
//! `cargo bench -p noex --bench services`.
//!
//! Every measurement runs its batch inside one task on a 2-worker multi-thread
//! runtime (as in an application), with a single caller: this measures the cost of
//! one operation, not how it scales with callers. `floor/noex_call` (a GenServer that
//! answers at once) is the least any service operation can cost.

use std::collections::{HashMap, VecDeque};
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{Bencher, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use governor::{DefaultKeyedRateLimiter, Quota};
use noex::cache::{Cache, CacheOptions};
use noex::event_bus::{EventBus, EventBusOptions};
use noex::gen_server::{self, Context, GenServer, Reply, StartOptions};
use noex::rate_limiter::{RateLimiter, RateLimiterOptions};
use tokio::runtime::Runtime;
use tokio::sync::{Notify, broadcast};

/// Keys in use: the cache holds all of them (every `get` is a hit), and each rate
/// limiter key sees one in every `KEYS` requests.
const KEYS: u64 = 1_000;
const SUBSCRIBERS: [usize; 3] = [1, 100, 10_000];

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A benchmark of `round(&state, i)`: each batch of rounds runs inside one task on
/// `rt`, and is timed there. A round that awaits clones what it needs from `state`.
fn rounds<S, F, Fut>(rt: &Runtime, state: S, round: F) -> impl FnMut(&mut Bencher<'_>) + '_
where
    S: Clone + Send + 'static,
    F: Fn(&S, u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    move |b| {
        b.iter_custom(|iters| {
            let (state, round) = (state.clone(), round.clone());
            rt.block_on(async move {
                tokio::spawn(async move {
                    let began = Instant::now();
                    for i in 0..iters {
                        round(&state, i).await;
                    }
                    began.elapsed()
                })
                .await
                .unwrap()
            })
        })
    }
}

/// A GenServer that answers at once: the floor under every service operation,
/// which is one call to the service's process.
struct Echo;

impl GenServer for Echo {
    type Call = u64;
    type Cast = ();
    type Reply = u64;

    async fn handle_call(&mut self, n: u64, _: &mut Context<Self>) -> Reply<u64> {
        Reply::Now(n)
    }
}

fn floor(c: &mut Criterion) {
    let rt = runtime();
    let echo = rt.block_on(async { gen_server::start(Echo, StartOptions::new()).await.unwrap() });
    let mut group = c.benchmark_group("floor");
    group.throughput(Throughput::Elements(1));
    group.bench_function(
        "noex_call",
        rounds(&rt, echo, |echo, i| {
            let echo = echo.clone();
            async move {
                std::hint::black_box(echo.call(i).await.unwrap());
            }
        }),
    );
    group.finish();
}

fn cache(c: &mut Criterion) {
    let rt = runtime();
    let noex: Cache<u64, u64> = rt.block_on(async {
        let cache = Cache::start(CacheOptions::new().max_size(10 * KEYS as usize))
            .await
            .unwrap();
        for key in 0..KEYS {
            cache.set(key, key).await.unwrap();
        }
        cache
    });
    let moka_sync = moka::sync::Cache::<u64, u64>::new(10 * KEYS);
    let moka_future = moka::future::Cache::<u64, u64>::new(10 * KEYS);
    let mutex_lru = Arc::new(Mutex::new(lru::LruCache::<u64, u64>::new(
        NonZeroUsize::new(10 * KEYS as usize).unwrap(),
    )));
    rt.block_on(async {
        for key in 0..KEYS {
            moka_sync.insert(key, key);
            moka_future.insert(key, key).await;
            mutex_lru.lock().unwrap().put(key, key);
        }
    });

    let mut group = c.benchmark_group("cache_get");
    group.throughput(Throughput::Elements(1));
    group.bench_function(
        "noex",
        rounds(&rt, noex.clone(), |cache, i| {
            let cache = cache.clone();
            async move {
                std::hint::black_box(cache.get(&(i % KEYS)).await.unwrap());
            }
        }),
    );
    group.bench_function(
        "moka_sync",
        rounds(&rt, moka_sync.clone(), |cache, i| {
            std::hint::black_box(cache.get(&(i % KEYS)));
            std::future::ready(())
        }),
    );
    group.bench_function(
        "moka_future",
        rounds(&rt, moka_future.clone(), |cache, i| {
            let cache = cache.clone();
            async move {
                std::hint::black_box(cache.get(&(i % KEYS)).await);
            }
        }),
    );
    group.bench_function(
        "mutex_lru",
        rounds(&rt, mutex_lru.clone(), |cache, i| {
            std::hint::black_box(cache.lock().unwrap().get(&(i % KEYS)).copied());
            std::future::ready(())
        }),
    );
    group.finish();

    let mut group = c.benchmark_group("cache_set");
    group.throughput(Throughput::Elements(1));
    group.bench_function(
        "noex",
        rounds(&rt, noex, |cache, i| {
            let cache = cache.clone();
            async move { cache.set(i % KEYS, i).await.unwrap() }
        }),
    );
    group.bench_function(
        "moka_sync",
        rounds(&rt, moka_sync, |cache, i| {
            cache.insert(i % KEYS, i);
            std::future::ready(())
        }),
    );
    group.bench_function(
        "moka_future",
        rounds(&rt, moka_future, |cache, i| {
            let cache = cache.clone();
            async move { cache.insert(i % KEYS, i).await }
        }),
    );
    group.bench_function(
        "mutex_lru",
        rounds(&rt, mutex_lru, |cache, i| {
            cache.lock().unwrap().put(i % KEYS, i);
            std::future::ready(())
        }),
    );
    group.finish();
}

/// Counts deliveries and wakes the publisher when all `expected` have arrived.
struct Countdown {
    left: AtomicUsize,
    done: Notify,
}

impl Countdown {
    fn new() -> Arc<Self> {
        Arc::new(Countdown {
            left: AtomicUsize::new(0),
            done: Notify::new(),
        })
    }

    fn arm(&self, expected: usize) {
        self.left.store(expected, Ordering::SeqCst);
    }

    fn tick(&self) {
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.done.notify_one();
        }
    }
}

/// One message to every subscriber, waiting until each has handled it.
fn event_bus(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("bus_publish_to_all");
    for subscribers in SUBSCRIBERS {
        group.throughput(Throughput::Elements(subscribers as u64));
        if subscribers >= 10_000 {
            group.sample_size(20);
        }

        // noex: publish_sync returns when every handler has run.
        let bus = rt.block_on(async {
            let bus = EventBus::<u64>::start(EventBusOptions::new())
                .await
                .unwrap();
            for _ in 0..subscribers {
                // Kept until the bus stops, below.
                let _ = bus
                    .subscribe("bench.tick", |n: &u64, _: &str| {
                        std::hint::black_box(n);
                    })
                    .await
                    .unwrap();
            }
            bus
        });
        let id = BenchmarkId::new("noex_publish_sync", subscribers);
        group.bench_function(
            id,
            rounds(&rt, bus.clone(), move |bus, i| {
                let bus = bus.clone();
                async move {
                    let delivered = bus.publish_sync("bench.tick", i).await.unwrap();
                    assert_eq!(delivered.handlers, subscribers);
                }
            }),
        );
        rt.block_on(async {
            bus.stop().await.unwrap();
        });

        // tokio broadcast: a receiver task per subscriber; the last one wakes us.
        let countdown = Countdown::new();
        let (sender, _) = broadcast::channel::<u64>(1024);
        let receivers: Vec<_> = (0..subscribers)
            .map(|_| {
                let (mut receiver, countdown) = (sender.subscribe(), countdown.clone());
                rt.spawn(async move {
                    while let Ok(n) = receiver.recv().await {
                        std::hint::black_box(n);
                        countdown.tick();
                    }
                })
            })
            .collect();
        let id = BenchmarkId::new("tokio_broadcast", subscribers);
        let state = (sender.clone(), countdown);
        group.bench_function(
            id,
            rounds(&rt, state, move |(sender, countdown), i| {
                let (sender, countdown) = (sender.clone(), countdown.clone());
                async move {
                    countdown.arm(subscribers);
                    sender.send(i).unwrap();
                    countdown.done.notified().await;
                }
            }),
        );
        drop(sender);
        rt.block_on(async {
            for receiver in receivers {
                receiver.await.unwrap();
            }
        });
    }
    group.finish();
}

/// The plain sliding-window log a user would write: a deque of times per key.
struct MutexSlidingWindow {
    limit: usize,
    window: Duration,
    keys: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl MutexSlidingWindow {
    fn consume(&self, key: &str) -> bool {
        let now = Instant::now();
        let mut keys = self.keys.lock().unwrap();
        let log = match keys.get_mut(key) {
            Some(log) => log,
            None => keys.entry(key.to_string()).or_default(),
        };
        while log
            .front()
            .is_some_and(|&at| now.duration_since(at) >= self.window)
        {
            log.pop_front();
        }
        if log.len() >= self.limit {
            return false;
        }
        log.push_back(now);
        true
    }
}

fn rate_limiter(c: &mut Criterion) {
    let rt = runtime();
    // Never exceeded: every request is counted, as in the common case.
    const LIMIT: u32 = 1_000_000_000;
    let window = Duration::from_secs(1);
    let keys: Arc<Vec<String>> = Arc::new((0..KEYS).map(|k| format!("user:{k}")).collect());
    let noex = rt.block_on(async {
        RateLimiter::start(RateLimiterOptions::new(LIMIT, window))
            .await
            .unwrap()
    });
    let governor: Arc<DefaultKeyedRateLimiter<String>> = Arc::new(governor::RateLimiter::keyed(
        Quota::per_second(NonZeroU32::new(LIMIT).unwrap()),
    ));
    let mutex = Arc::new(MutexSlidingWindow {
        limit: LIMIT as usize,
        window,
        keys: Mutex::new(HashMap::new()),
    });

    let mut group = c.benchmark_group("rate_limiter");
    group.throughput(Throughput::Elements(1));
    let state = (noex, keys.clone());
    group.bench_function(
        "noex_check",
        rounds(&rt, state.clone(), |(limiter, keys), i| {
            let (limiter, keys) = (limiter.clone(), keys.clone());
            async move {
                let key = &keys[(i % KEYS) as usize];
                std::hint::black_box(limiter.check(key).await.unwrap());
            }
        }),
    );
    group.bench_function(
        "noex_consume",
        rounds(&rt, state, |(limiter, keys), i| {
            let (limiter, keys) = (limiter.clone(), keys.clone());
            async move {
                let key = &keys[(i % KEYS) as usize];
                std::hint::black_box(limiter.consume(key).await.unwrap());
            }
        }),
    );
    let state = (governor, keys.clone());
    group.bench_function(
        "governor_check_key",
        rounds(&rt, state, |(limiter, keys), i| {
            let key = &keys[(i % KEYS) as usize];
            assert!(limiter.check_key(key).is_ok());
            std::future::ready(())
        }),
    );
    let state = (mutex, keys);
    group.bench_function(
        "mutex_sliding_window",
        rounds(&rt, state, |(limiter, keys), i| {
            let key = &keys[(i % KEYS) as usize];
            assert!(limiter.consume(key));
            std::future::ready(())
        }),
    );
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = floor, cache, event_bus, rate_limiter
}
criterion_main!(benches);
