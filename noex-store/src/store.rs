//! The store: its buckets and queries, its processes, its persistence.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use noex::supervisor::{self, ChildSpec, SupervisorSpec};
use parking_lot::Mutex;
use serde::Serialize;
use serde_json::Value;

use crate::bucket::process::BucketServer;
use crate::bucket::{Bucket, BucketStats};
use crate::bucket_ref::BucketRef;
use crate::catalog::Catalog;
use crate::commit;
use crate::error::StoreError;
use crate::key::Key;
use crate::persistence::{Durable, Storage};
use crate::query::process::QueriesServer;
use crate::query::{Queries, QueryContext, Subscription};
use crate::record::Record;
use crate::schema::validate::Generator;
use crate::schema::{BucketDef, Schema};
use crate::shared::StoreInner;
use crate::transaction::{Transaction, TxOp};

/// How to start a store.
pub struct StoreOptions {
    name: String,
    storage: Option<Arc<dyn Storage>>,
    intensity: (u32, Duration),
}

impl StoreOptions {
    /// A store whose processes are named after `name` (`NAME`, `NAME/BUCKET`,
    /// `NAME/queries`), in memory only.
    pub fn new(name: impl Into<String>) -> StoreOptions {
        StoreOptions {
            name: name.into(),
            storage: None,
            intensity: (10, Duration::from_secs(60)),
        }
    }

    /// The store supervisor's restart intensity: more than `max_restarts` restarts
    /// of its processes within `within` and it gives up, and the store stops (its
    /// writes fail with `Stopped`, its subscriptions end). 10 in 60 s by default: a
    /// bucket process restarts without losing data, so an operator may restart one
    /// a few times without the store giving up.
    pub fn max_restarts(mut self, max_restarts: u32, within: Duration) -> StoreOptions {
        self.intensity = (max_restarts, within);
        self
    }

    /// Keep every acknowledged write in `storage` and load what it holds at start.
    pub fn persistence(mut self, storage: impl Storage) -> StoreOptions {
        self.storage = Some(Arc::new(storage));
        self
    }
}

/// A store: buckets of records with schemas, transactions across them, and
/// reactive queries. Cheap to clone; every clone is the same store.
///
/// Its processes show in `noex ps` and `noex tree`: a supervisor named after the
/// store, a process per bucket (`store/users`, with its records, bytes,
/// operations per second and subscribers), and `store/queries`, which re-runs
/// reactive queries after changes.
#[derive(Clone)]
pub struct Store {
    inner: Arc<StoreInner>,
}

/// What [`Store::stats`] reports.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StoreStats {
    /// The store's name.
    pub name: String,
    /// Each bucket, by name.
    pub buckets: Vec<BucketStats>,
    /// Defined queries.
    pub queries: usize,
    /// Live subscriptions.
    pub subscriptions: usize,
    /// Distinct queries with parameters that live subscriptions follow: each is run
    /// once per relevant change, however many subscribe to it.
    pub live_queries: usize,
    /// Whether writes are persisted.
    pub persistent: bool,
}

impl Store {
    /// Starts the store's processes (and loads what `options`' storage holds).
    pub async fn start(options: StoreOptions) -> Result<Store, StoreError> {
        let mut loaded: HashMap<String, Vec<(Key, Record)>> = HashMap::new();
        if let Some(storage) = &options.storage {
            let storage = storage.clone();
            let rows = tokio::task::spawn_blocking(move || storage.load())
                .await
                .map_err(|error| StoreError::Persistence(error.to_string()))?
                .map_err(|error| StoreError::Persistence(error.to_string()))?;
            for (bucket, key, value) in rows {
                let key = Key::from_bytes(&key).ok_or_else(|| {
                    StoreError::Persistence(format!("bucket {bucket}: a stored key is damaged"))
                })?;
                let fields = match serde_json::from_slice(&value) {
                    Ok(Value::Object(fields)) => fields,
                    _ => {
                        return Err(StoreError::Persistence(format!(
                            "bucket {bucket}: the record under key {key} is damaged"
                        )));
                    }
                };
                loaded
                    .entry(bucket)
                    .or_default()
                    .push((key, Record::new(fields)));
            }
        }
        let catalog = Arc::new(Catalog::default());
        let queries = Arc::new(Queries::new(catalog.clone()));
        let queries_for_process = queries.clone();
        let supervisor = supervisor::start(
            SupervisorSpec::one_for_one()
                .name(options.name.clone())
                .max_restarts(options.intensity.0, options.intensity.1)
                .child(
                    ChildSpec::worker("queries", move || {
                        QueriesServer::new(queries_for_process.clone())
                    })
                    .name(format!("{}/queries", options.name)),
                ),
        )
        .await
        .map_err(|error| StoreError::InvalidArgument(format!("cannot start the store: {error}")))?;
        let inner = Arc::new(StoreInner {
            name: options.name,
            catalog,
            queries,
            durable: options.storage.map(Durable::new),
            loaded: Mutex::new(loaded),
            supervisor,
        });
        tokio::spawn(stop_with_supervisor(Arc::downgrade(&inner)));
        Ok(Store { inner })
    }

    /// The store's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Defines a bucket and starts its process. Records the storage holds for it
    /// come back (as stored, not checked again). Defining a bucket twice is
    /// `ALREADY_EXISTS`.
    pub async fn define_bucket(&self, name: &str, def: BucketDef) -> Result<BucketRef, StoreError> {
        if self.inner.catalog.is_stopped() {
            return Err(StoreError::Stopped);
        }
        let schema = Schema::compile(name, def)?;
        let bucket = Arc::new(Bucket::new(name, schema));
        self.inner.catalog.add(bucket.clone(), |bucket| {
            if let Some(records) = self.inner.loaded.lock().remove(name) {
                load(bucket, records);
            }
        })?;
        let for_process = bucket.clone();
        let started = self
            .inner
            .supervisor
            .start_child(
                ChildSpec::worker(name.to_string(), move || {
                    BucketServer::new(for_process.clone())
                })
                .name(format!("{}/{name}", self.inner.name)),
            )
            .await;
        if let Err(error) = started {
            self.inner.catalog.remove(name);
            return Err(StoreError::InvalidArgument(format!(
                "cannot start bucket {name}'s process: {error}"
            )));
        }
        Ok(BucketRef::new(bucket, self.inner.clone()))
    }

    /// A handle to a defined bucket.
    pub fn bucket(&self, name: &str) -> Result<BucketRef, StoreError> {
        Ok(BucketRef::new(self.inner.bucket(name)?, self.inner.clone()))
    }

    /// The defined buckets' names, sorted.
    pub fn buckets(&self) -> Vec<String> {
        self.inner
            .catalog
            .all()
            .iter()
            .map(|b| b.name.clone())
            .collect()
    }

    /// Figures for every bucket, the queries and the subscriptions.
    pub fn stats(&self) -> StoreStats {
        StoreStats {
            name: self.inner.name.clone(),
            buckets: self.inner.catalog.all().iter().map(|b| b.stats()).collect(),
            queries: self.inner.queries.defined(),
            subscriptions: self.inner.queries.subscriptions(),
            live_queries: self.inner.queries.live_queries(),
            persistent: self.inner.durable.is_some(),
        }
    }

    /// Runs `body` as one transaction over any buckets: its reads see its own
    /// writes, and at commit either all its writes apply or none does. Optimistic:
    /// if a record it read (or a bucket it filtered or counted) changed before it
    /// commits, nothing applies and the result is `CONFLICT`; run it again to retry.
    /// An error from `body` applies nothing. `body` runs without any lock held and
    /// must not wait: it is a plain closure.
    pub async fn transaction<T, E>(
        &self,
        body: impl FnOnce(&mut Transaction<'_>) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        self.inner.check_running()?;
        let mut tx = Transaction::new(&self.inner);
        let value = body(&mut tx)?;
        let (reads, effects) = tx.into_parts();
        commit::commit_transaction(&self.inner, &reads, effects).await?;
        Ok(value)
    }

    /// The seed protocol's transaction: a list of operations (`get`, `insert`,
    /// `update`, `delete`, `where`, `findOne`, `count`), all or nothing, with each
    /// one's result in order.
    pub async fn transaction_ops(&self, ops: Vec<TxOp>) -> Result<Vec<Value>, StoreError> {
        self.transaction(|tx| ops.iter().map(|op| tx.run(op)).collect())
            .await
    }

    /// Defines a reactive query: `query` reads through its context, which notes
    /// the buckets and keys it touched, and returns a JSON result.
    pub fn define_query<F>(&self, name: &str, query: F) -> Result<(), StoreError>
    where
        F: Fn(&QueryContext<'_>, &Value) -> Result<Value, StoreError> + Send + Sync + 'static,
    {
        self.inner.queries.define(name, Arc::new(query))
    }

    /// Runs a defined query once, without subscribing.
    pub fn run_query(&self, name: &str, params: &Value) -> Result<Value, StoreError> {
        self.inner.queries.run_once(name, params)
    }

    /// Subscribes to a query's result: the first [`Subscription::next`] gives it at
    /// once, and each later one the next result that differs, after a change to
    /// what the query read. A subscriber that falls behind gets the latest result,
    /// not a queue of old ones.
    pub fn subscribe(&self, name: &str, params: Value) -> Result<Subscription, StoreError> {
        self.inner.queries.subscribe(name, params)
    }

    /// Stops the store's processes; writes after this fail with `Stopped`. What is
    /// queued for persistence is committed, and the storage closed (a redb file can
    /// be opened again) by the time this returns.
    pub async fn stop(&self) {
        self.inner.catalog.stop();
        let _ = self.inner.supervisor.stop().await;
        self.inner.close_storage().await;
    }
}

/// The store lives as long as its supervisor: once the supervisor has ended —
/// stopped, or given up after too many restarts — writes fail with `Stopped` and
/// every subscription ends, rather than a store half there.
async fn stop_with_supervisor(store: std::sync::Weak<StoreInner>) {
    let Some(supervisor) = store.upgrade().map(|s| s.supervisor.clone()) else {
        return;
    };
    let reason = supervisor.wait().await;
    let Some(store) = store.upgrade() else {
        return;
    };
    if store.catalog.stop() {
        tracing::error!(store = %store.name, %reason, "the store's supervisor ended; the store has stopped");
    }
    store.queries.close();
    store.close_storage().await;
}

/// Puts back the records the storage held for `bucket`; its auto-increment
/// counters go past the largest value stored.
fn load(bucket: &Bucket, records: Vec<(Key, Record)>) {
    let mut data = bucket.data.write();
    let mut generator = bucket.generator();
    let counted: Vec<&str> = bucket.schema.auto_increment_fields().collect();
    for (key, record) in records {
        for field in &counted {
            if let Some(value) = record.get(field).and_then(Value::as_i64) {
                generator.saw_int(field, value);
            }
        }
        data.put(key, record);
    }
}
