//! Call round trip and cast throughput: noex against a bare tokio mpsc + oneshot
//! loop (the floor), in one run. `cargo bench -p noex --bench messaging`.
//!
//! The caller is a task on the same runtime as the server (as in an application), so
//! each measurement runs a whole batch inside one spawned task.

use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use noex::gen_server::{self, Context, GenServer, Reply, StartOptions};
use tokio::runtime::Runtime;
use tokio::sync::{mpsc, oneshot};

const CASTS: u64 = 10_000;

struct Counter(u64);

impl GenServer for Counter {
    type Call = ();
    type Cast = u64;
    type Reply = u64;

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<u64> {
        Reply::Now(self.0)
    }

    async fn handle_cast(&mut self, amount: u64, _: &mut Context<Self>) {
        self.0 += amount;
    }
}

/// The floor: what any actor on tokio must at least do.
enum BareMessage {
    Call(oneshot::Sender<u64>),
    Cast(u64),
}

fn spawn_bare() -> mpsc::UnboundedSender<BareMessage> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut state = 0u64;
        while let Some(message) = rx.recv().await {
            match message {
                BareMessage::Call(reply) => {
                    let _ = reply.send(state);
                }
                BareMessage::Cast(amount) => state += amount,
            }
        }
    });
    tx
}

async fn bare_call(tx: &mpsc::UnboundedSender<BareMessage>) -> u64 {
    let (reply, answer) = oneshot::channel();
    tx.send(BareMessage::Call(reply)).unwrap();
    answer.await.unwrap()
}

fn runtimes() -> Vec<(&'static str, Runtime)> {
    vec![
        (
            "current_thread",
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        ),
        (
            "multi_thread",
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap(),
        ),
    ]
}

/// Run `iters` rounds of `round` inside one task on `rt`, and time them.
fn in_task<F, Fut>(rt: &Runtime, iters: u64, round: F) -> Duration
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = u64> + Send,
{
    rt.block_on(async move {
        tokio::spawn(async move {
            let began = Instant::now();
            for _ in 0..iters {
                std::hint::black_box(round().await);
            }
            began.elapsed()
        })
        .await
        .unwrap()
    })
}

fn call_round_trip(c: &mut Criterion) {
    let mut group = c.benchmark_group("call_round_trip");
    for (flavor, rt) in runtimes() {
        let bare = rt.block_on(async { spawn_bare() });
        group.bench_function(BenchmarkId::new("tokio_bare", flavor), |b| {
            b.iter_custom(|iters| {
                let bare = bare.clone();
                in_task(&rt, iters, move || {
                    let bare = bare.clone();
                    async move { bare_call(&bare).await }
                })
            })
        });
        let server = rt.block_on(async {
            gen_server::start(Counter(0), StartOptions::new())
                .await
                .unwrap()
        });
        group.bench_function(BenchmarkId::new("noex", flavor), |b| {
            b.iter_custom(|iters| {
                let server = server.clone();
                in_task(&rt, iters, move || {
                    let server = server.clone();
                    async move { server.call(()).await.unwrap() }
                })
            })
        });
    }
    group.finish();
}

fn cast_throughput(c: &mut Criterion) {
    let mut group = c.benchmark_group("cast_throughput");
    group.throughput(Throughput::Elements(CASTS));
    for (flavor, rt) in runtimes() {
        let bare = rt.block_on(async { spawn_bare() });
        group.bench_function(BenchmarkId::new("tokio_bare", flavor), |b| {
            b.iter_custom(|iters| {
                let bare = bare.clone();
                in_task(&rt, iters, move || {
                    let bare = bare.clone();
                    async move {
                        for _ in 0..CASTS {
                            bare.send(BareMessage::Cast(1)).unwrap();
                        }
                        bare_call(&bare).await
                    }
                })
            })
        });
        let server = rt.block_on(async {
            gen_server::start(Counter(0), StartOptions::new())
                .await
                .unwrap()
        });
        group.bench_function(BenchmarkId::new("noex", flavor), |b| {
            b.iter_custom(|iters| {
                let server = server.clone();
                in_task(&rt, iters, move || {
                    let server = server.clone();
                    async move {
                        for _ in 0..CASTS {
                            server.cast(1).unwrap();
                        }
                        server.call(()).await.unwrap()
                    }
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, call_round_trip, cast_throughput);
criterion_main!(benches);
