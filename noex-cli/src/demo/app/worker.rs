//! The steady workers: each does a batch of work a second and counts it.

use std::time::Duration;

use noex::ets::{self};
use noex::gen_server::{Context, GenServer, Info, Reply};
use noex::registry;

use super::metrics::{Metric, Metrics, WORK_TABLE};
use super::services::{
    CONFIG_CHANGED, Cache, CacheCall, Config, ConfigChanged, DEFAULT_BATCH_SIZE, TOPICS, Topics,
};
use super::tick::tick_every;

/// Steady work: look something up, compute, store, report. Subscribed to
/// `config.changed`, it works in batches of the size the config last said.
pub(super) struct Worker {
    n: u64,
    done: u64,
    batch_size: u64,
    /// The registry it subscribed through, to subscribe again if that one ends: a
    /// restarted registry starts empty.
    topics: Option<Topics>,
}

impl Worker {
    pub(super) fn new(n: u64) -> Self {
        Worker {
            n,
            done: 0,
            batch_size: DEFAULT_BATCH_SIZE,
            topics: None,
        }
    }

    fn subscribe(&mut self, ctx: &Context<Self>) {
        if self.topics.as_ref().is_some_and(Topics::is_running) {
            return;
        }
        self.topics = Topics::lookup_registry(TOPICS)
            .ok()
            .filter(|topics| topics.register_self(ctx, CONFIG_CHANGED, ()).is_ok());
    }

    fn period(&self) -> Duration {
        Duration::from_millis(100 + 50 * self.n)
    }
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("n", &self.n)
            .field("done", &self.done)
            .field("batch_size", &self.batch_size)
            .finish_non_exhaustive()
    }
}

impl GenServer for Worker {
    type Call = ();
    type Cast = ();
    type Reply = u64;

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        self.subscribe(ctx);
        // Subscribed first: a change from here on is not missed.
        if let Ok(config) = registry::lookup::<Config>("config")
            && let Ok(Some(batch_size)) = config.call("batch_size").await
        {
            self.batch_size = batch_size;
        }
        tick_every(ctx, self.period());
        Ok(())
    }

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<u64> {
        Reply::Now(self.done)
    }

    async fn handle_info(&mut self, message: Info, ctx: &mut Context<Self>) {
        if let Some(changed) = message.downcast_ref::<ConfigChanged>() {
            self.batch_size = changed.batch_size;
            return;
        }
        self.done += 1;
        // One cache lookup per 8 items of the batch.
        for item in 0..self.batch_size.div_ceil(8) {
            let key = (self.n * 1000 + self.done + item) % 256;
            if let Ok(cache) = registry::lookup::<Cache>("cache") {
                let _ = cache.call(CacheCall::Get(key)).await;
                let _ = cache.cast((key, self.done));
            }
        }
        if let Ok(metrics) = registry::lookup::<Metrics>("metrics") {
            let _ = metrics.cast(Metric::WorkDone);
        }
        // The same count in a table, straight from this worker: no message, no wait.
        if let Ok(work) = ets::whereis_writable::<String, u64>(WORK_TABLE) {
            let _ = work.update_counter_or(&format!("worker-{}", self.n), 1, 0);
        }
        // Again if the registry has restarted (with `services`): it starts empty.
        self.subscribe(ctx);
        tick_every(ctx, self.period());
    }

    // Nothing secret: `noex state worker-1` shows it.
    fn format_status(&self) -> Option<String> {
        Some(format!("{self:#?}"))
    }
}
