//! A reactive update fanned out to [`SUBSCRIBERS`] subscribers: one write, then
//! every subscriber, a task of its own, receives the query's new result.
//!
//! noex-store: 1,000 `store.subscribe` on one query (which reads one record); the
//! write is an `update` of that record. The floor: the same update in a
//! `Mutex<HashMap>`, then the record sent on a `tokio::sync::watch` with 1,000
//! receivers. Each subscriber takes its own copy of the result, as
//! `Subscription::next` hands one out.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use noex_store::{BucketDef, BucketRef, Field, Generated, Store, StoreOptions};
use serde_json::{Value, json};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

pub const SUBSCRIBERS: usize = 1_000;

/// Counts the subscribers that received the latest result, and wakes the writer
/// when all have.
#[derive(Default)]
pub struct Received {
    count: AtomicUsize,
    all: Notify,
}

impl Received {
    fn one(&self) {
        if self.count.fetch_add(1, Ordering::AcqRel) + 1 == SUBSCRIBERS {
            self.all.notify_one();
        }
    }

    /// Waits until every subscriber has received one result since the last call.
    async fn wait_all(&self) {
        self.all.notified().await;
        self.count.store(0, Ordering::Release);
    }
}

/// One side of the fan-out, set up with its subscribers running.
pub trait Fanout: Send + Sync + 'static {
    const NAME: &'static str;
    /// Writes the record's new `points`.
    fn write(&self, points: i64) -> impl std::future::Future<Output = ()> + Send;
}

/// Times `iters` rounds of: a write, then all subscribers received its result.
pub async fn rounds<F: Fanout>(
    side: &F,
    received: &Arc<Received>,
    iters: u64,
    base: i64,
) -> Duration {
    let start = Instant::now();
    for i in 0..iters {
        side.write(base + i as i64).await;
        received.wait_all().await;
    }
    start.elapsed()
}

/// A side's subscriber tasks, stopped when dropped.
pub struct Subscribers {
    pub received: Arc<Received>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Subscribers {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

pub struct StoreSide {
    pub store: Store,
    scores: BucketRef,
}

impl Fanout for StoreSide {
    const NAME: &'static str = "noex-store";
    async fn write(&self, points: i64) {
        self.scores
            .update(1i64, &json!({"points": points}))
            .await
            .expect("an update");
    }
}

impl StoreSide {
    pub async fn start() -> (StoreSide, Subscribers) {
        let store = Store::start(StoreOptions::new("bench-fanout"))
            .await
            .expect("a store");
        let scores = store
            .define_bucket(
                "scores",
                BucketDef::new("id")
                    .field("id", Field::integer().generated(Generated::AutoIncrement))
                    .field("player", Field::string().required())
                    .field("points", Field::integer().required()),
            )
            .await
            .unwrap();
        scores
            .insert(&json!({"player": "alice", "points": 0}))
            .await
            .unwrap();
        store
            .define_query("score", |ctx, _params| {
                Ok(ctx
                    .get("scores", 1i64)?
                    .map_or(Value::Null, |record| record.to_value()))
            })
            .unwrap();
        let received = Arc::new(Received::default());
        let mut tasks = Vec::with_capacity(SUBSCRIBERS);
        for _ in 0..SUBSCRIBERS {
            let mut subscription = store.subscribe("score", json!({})).unwrap();
            let received = received.clone();
            tasks.push(tokio::spawn(async move {
                while let Some(result) = subscription.next().await {
                    std::hint::black_box(result.expect("a result"));
                    received.one();
                }
            }));
        }
        // The first result, which every subscription gets at once.
        received.wait_all().await;
        (StoreSide { store, scores }, Subscribers { received, tasks })
    }
}

pub struct FloorSide {
    scores: std::sync::Mutex<std::collections::HashMap<i64, Value>>,
    sender: watch::Sender<Value>,
}

impl Fanout for FloorSide {
    const NAME: &'static str = "floor";
    async fn write(&self, points: i64) {
        let result = {
            let mut scores = self.scores.lock().unwrap();
            let record = scores.get_mut(&1).expect("the record");
            record["points"] = json!(points);
            record.clone()
        };
        self.sender.send_replace(result);
    }
}

impl FloorSide {
    pub async fn start() -> (FloorSide, Subscribers) {
        let record = json!({"id": 1, "player": "alice", "points": 0});
        let (sender, _) = watch::channel(record.clone());
        let received = Arc::new(Received::default());
        let mut tasks = Vec::with_capacity(SUBSCRIBERS);
        for _ in 0..SUBSCRIBERS {
            let mut receiver = sender.subscribe();
            receiver.mark_changed();
            let received = received.clone();
            tasks.push(tokio::spawn(async move {
                while receiver.changed().await.is_ok() {
                    let result: Value = receiver.borrow_and_update().clone();
                    std::hint::black_box(result);
                    received.one();
                }
            }));
        }
        received.wait_all().await;
        let scores = std::sync::Mutex::new([(1, record)].into_iter().collect());
        (
            FloorSide { scores, sender },
            Subscribers { received, tasks },
        )
    }
}
