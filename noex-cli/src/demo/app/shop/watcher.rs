//! A process that follows a live query: each new result comes to it as a message,
//! and its row in `noex ps` shows the latest.

use std::sync::{Arc, Mutex, PoisonError};

use noex::gen_server::{Context, GenServer, Reply};
use noex::process::Description;
use noex_store::{Store, StoreError};
use serde_json::Value;
use tokio::task::JoinHandle;

/// Follows `query` with `params`, shown through `show`.
pub(super) struct Watcher {
    store: Store,
    query: &'static str,
    params: Value,
    show: fn(&Value) -> String,
    latest: Arc<Mutex<String>>,
    results: u64,
    /// Waits on the subscription; ends with the process, and the subscription
    /// with it, so the buckets' subscriber counts follow the process's life.
    follower: Option<Follower>,
    _shown: Option<Description>,
}

impl Watcher {
    pub(super) fn new(
        store: Store,
        query: &'static str,
        params: Value,
        show: fn(&Value) -> String,
    ) -> Watcher {
        Watcher {
            store,
            query,
            params,
            show,
            latest: Arc::new(Mutex::new(String::new())),
            results: 0,
            follower: None,
            _shown: None,
        }
    }
}

/// A new result of the query.
pub(super) struct Update(Result<Value, StoreError>);

impl GenServer for Watcher {
    type Call = ();
    type Cast = Update;
    type Reply = u64;

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        // Subscribed before `init` returns: the subscriber counts are right as soon
        // as the process runs.
        let mut subscription = self.store.subscribe(self.query, self.params.clone())?;
        self.show_result(subscription.latest());
        let myself = ctx.myself();
        self.follower = Some(Follower(tokio::spawn(async move {
            while let Some(result) = subscription.next().await {
                if myself.cast(Update(result)).is_err() {
                    break;
                }
            }
        })));
        let latest = self.latest.clone();
        self._shown = Some(noex::process::describe(ctx.pid(), move || {
            Some(
                latest
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone(),
            )
        }));
        Ok(())
    }

    async fn handle_call(&mut self, (): (), _: &mut Context<Self>) -> Reply<u64> {
        Reply::Now(self.results)
    }

    async fn handle_cast(&mut self, Update(result): Update, _: &mut Context<Self>) {
        self.results += 1;
        self.show_result(result);
    }

    fn format_status(&self) -> Option<String> {
        Some(format!(
            "query {} {}\nresults: {}\nlatest: {}",
            self.query,
            self.params,
            self.results,
            self.latest.lock().unwrap_or_else(PoisonError::into_inner)
        ))
    }
}

impl Watcher {
    fn show_result(&self, result: Result<Value, StoreError>) {
        let shown = match result {
            Ok(value) => (self.show)(&value),
            Err(error) => format!("query {} failed: {error}", self.query),
        };
        *self.latest.lock().unwrap_or_else(PoisonError::into_inner) = shown;
    }
}

/// The task that waits on the subscription, stopped when the watcher goes (a
/// killed process is dropped without its `terminate`).
struct Follower(JoinHandle<()>);

impl Drop for Follower {
    fn drop(&mut self) {
        self.0.abort();
    }
}
