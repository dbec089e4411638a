//! The built-in rules engine: [`BuiltinRules`] and its [`RulesOptions`].

mod events;
mod facts;
mod process;
mod simple_rules;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use noex::error::StartError;
use noex::gen_server::{self, ServerRef, StartOptions};
use noex::supervisor::ChildSpec;
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use self::events::{EventFigures, Events};
use self::facts::Facts;
use self::process::RulesServer;
pub use self::simple_rules::RuleFacts;
use self::simple_rules::Rules;
use super::{Fact, RulesEngine, RulesError, RulesEvent};

/// How a [`BuiltinRules`] is named and bounded.
#[derive(Clone, Debug)]
pub struct RulesOptions {
    name: String,
    limits: Limits,
}

/// The bounds of one engine: with the defaults, its facts take at most 64 MiB, its
/// recent events 4 MiB, and the events waiting for subscribers at most 4,096 times
/// (256 KiB and one event), whatever its clients send.
#[derive(Clone, Debug)]
pub(crate) struct Limits {
    /// Facts held at once.
    max_facts: usize,
    /// The facts' keys and values as JSON, in bytes, all together.
    max_fact_bytes: usize,
    /// One fact's value as JSON.
    max_value_bytes: usize,
    /// A key, topic, pattern or correlation id.
    max_key_bytes: usize,
    /// One event's data as JSON: each matching subscriber's channel holds a copy.
    max_event_bytes: usize,
    /// Events kept for [`BuiltinRules::recent_events`], by count and by bytes.
    recent_events: usize,
    recent_event_bytes: usize,
    /// Events one subscriber's channel holds before it loses new ones, by count and
    /// by bytes (of JSON).
    subscriber_capacity: usize,
    subscriber_bytes: usize,
    /// Live subscriptions, all subscribers together.
    max_subscriptions: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_facts: 100_000,
            max_fact_bytes: 64 * 1024 * 1024,
            max_value_bytes: 64 * 1024,
            max_key_bytes: 1024,
            max_event_bytes: 64 * 1024,
            recent_events: 1_000,
            recent_event_bytes: 4 * 1024 * 1024,
            subscriber_capacity: 256,
            subscriber_bytes: 256 * 1024,
            max_subscriptions: 4_096,
        }
    }
}

impl RulesOptions {
    /// An engine named `name` (its process's registered name), with the default limits.
    pub fn new(name: impl Into<String>) -> RulesOptions {
        RulesOptions {
            name: name.into(),
            limits: Limits::default(),
        }
    }

    /// At most this many facts at once (default 100,000).
    pub fn max_facts(mut self, max: usize) -> Self {
        self.limits.max_facts = max;
        self
    }

    /// At most this many bytes of facts, keys and JSON values together (default 64 MiB).
    pub fn max_fact_bytes(mut self, max: usize) -> Self {
        self.limits.max_fact_bytes = max;
        self
    }

    /// At most this many bytes for one fact's value as JSON (default 64 KiB).
    pub fn max_value_bytes(mut self, max: usize) -> Self {
        self.limits.max_value_bytes = max;
        self
    }

    /// At most this many bytes in a key, topic, pattern or correlation id (default 1 KiB).
    pub fn max_key_bytes(mut self, max: usize) -> Self {
        self.limits.max_key_bytes = max;
        self
    }

    /// At most this many bytes for one event's data as JSON (default 64 KiB).
    pub fn max_event_bytes(mut self, max: usize) -> Self {
        self.limits.max_event_bytes = max;
        self
    }

    /// Keep the last `count` events, within `bytes` of JSON (default 1,000 and 4 MiB).
    pub fn recent_events(mut self, count: usize, bytes: usize) -> Self {
        self.limits.recent_events = count;
        self.limits.recent_event_bytes = bytes;
        self
    }

    /// Events a subscriber's channel holds before it loses new ones (default 256; at
    /// least 1).
    pub fn subscriber_capacity(mut self, capacity: usize) -> Self {
        self.limits.subscriber_capacity = capacity.max(1);
        self
    }

    /// Bytes of events (as JSON) a subscriber's channel holds before it loses new
    /// ones (default 256 KiB). An empty channel takes any event, however large.
    pub fn subscriber_bytes(mut self, bytes: usize) -> Self {
        self.limits.subscriber_bytes = bytes;
        self
    }

    /// At most this many live subscriptions (default 4,096).
    pub fn max_subscriptions(mut self, max: usize) -> Self {
        self.limits.max_subscriptions = max;
        self
    }
}

/// A small rules engine of facts, events and topic subscriptions, for a gateway whose
/// application brings no engine of its own.
///
/// - **Facts** are JSON values under `:`-separated keys (`user:42:tier`).
///   `query_facts("user:*:tier")` reads those whose key matches, sorted by key: a
///   pattern segment that is exactly `*` matches any one key segment, any other
///   segment matches itself, and a pattern without a `*` segment is an exact key.
///   There is no multi-segment wildcard; `all_facts` reads every fact.
/// - **Events** are emitted on dot-separated topics (`order.created`) and recorded as
///   `{id, topic, data, timestamp, correlationId?}`: `id` is `evt-1`, `evt-2`, ... in
///   the order of emission (per engine), `timestamp` milliseconds since the Unix epoch.
///   The last [`RulesOptions::recent_events`] are kept ([`BuiltinRules::recent_events`]).
/// - **Subscriptions** follow a topic pattern, matched as noex's EventBus matches
///   ([`noex::event_bus::topic_matches`]: `order.*` is `order.` and one segment, `*`
///   alone is every topic). Each has a bounded channel; the engine offers an event
///   with `try_send` and never waits, so a subscriber that does not keep up loses
///   events (counted in `stats` as `droppedEvents`), and one whose receiver was
///   dropped is forgotten. A channel is bounded by count and by bytes
///   ([`RulesOptions::subscriber_capacity`], [`RulesOptions::subscriber_bytes`]).
/// - **Rules** the application adds with [`BuiltinRules::on`] react to events by
///   setting facts, before `emit` returns.
///
/// Everything a client sends is bounded: the number and total size of facts, the size
/// of a key, topic, pattern, value and event, the number of subscriptions. Past a
/// limit an operation fails with [`RulesError::Invalid`], which says which limit.
///
/// The data sits behind locks the handle shares, so operations do not queue behind a
/// mailbox; the engine's process gives it a place in the supervision tree and shows
/// its figures in the Observer (`noex ps`: `rules: 12 facts, 340 events, 3
/// subscribers`; `noex state`: the limits and the subscriptions' patterns).
/// [`BuiltinRules::start`] gives it a process of its own, which ends with the last
/// handle; under a supervisor, make it with [`BuiltinRules::new`] and start
/// [`BuiltinRules::child_spec`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # unsafe { std::env::set_var("NOEX_AGENT", "off") }
/// use noex_server::{BuiltinRules, RulesEngine};
/// use serde_json::json;
///
/// let rules = BuiltinRules::start("rules").await.unwrap();
/// let mut orders = rules.subscribe("order.*".into()).await.unwrap();
/// rules.set_fact("user:42:tier".into(), json!("gold")).await.unwrap();
/// let event = rules.emit("order.created".into(), json!({"total": 12}), None).await.unwrap();
/// assert_eq!(event["id"], "evt-1");
/// assert_eq!(orders.recv().await.unwrap().event, event);
/// # }
/// ```
///
/// A handle is cheap to clone: clones share one engine.
#[derive(Clone)]
pub struct BuiltinRules {
    inner: Arc<Handle>,
}

/// What the handles share: the engine, and the process [`BuiltinRules::start`] started
/// for it, which ends with the last handle.
struct Handle {
    engine: Arc<Engine>,
    own_process: Option<ServerRef<RulesServer>>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        let Some(process) = self.own_process.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    let _ = process.stop(noex::ExitReason::Normal).await;
                });
            }
            // No runtime left to stop it politely: its state is only the engine's.
            Err(_) => process.kill(),
        }
    }
}

/// The engine's data, shared by the handles and the process that shows it.
pub(crate) struct Engine {
    name: String,
    limits: Limits,
    facts: Mutex<Facts>,
    /// Taken before `facts` when both are (rules run under it, so in event order).
    events: Mutex<Events>,
    rules: Rules,
}

/// The engine's figures, for `stats` and the Observer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Figures {
    facts: usize,
    fact_bytes: usize,
    events: EventFigures,
}

impl Engine {
    fn figures(&self) -> Figures {
        let (facts, fact_bytes) = {
            let facts = self.facts.lock();
            (facts.len(), facts.bytes())
        };
        Figures {
            facts,
            fact_bytes,
            events: self.events.lock().figures(),
        }
    }
}

impl BuiltinRules {
    /// Starts an engine under `name` with the default limits, with a process of its
    /// own (registered as `name`) that ends with the last handle.
    pub async fn start(name: &str) -> Result<BuiltinRules, StartError> {
        BuiltinRules::start_with(RulesOptions::new(name)).await
    }

    /// Starts an engine as `options` say, with a process of its own (registered under
    /// the options' name) that ends with the last handle.
    pub async fn start_with(options: RulesOptions) -> Result<BuiltinRules, StartError> {
        let engine = Arc::new(Engine::new(options));
        let process = gen_server::start(
            RulesServer::new(engine.clone()),
            StartOptions::new().name(engine.name.clone()),
        )
        .await?;
        Ok(BuiltinRules {
            inner: Arc::new(Handle {
                engine,
                own_process: Some(process),
            }),
        })
    }

    /// An engine without a process yet: give it one under a supervisor with
    /// [`BuiltinRules::child_spec`]. It works without one, but the Observer does not
    /// see it.
    pub fn new(options: RulesOptions) -> BuiltinRules {
        BuiltinRules {
            inner: Arc::new(Handle {
                engine: Arc::new(Engine::new(options)),
                own_process: None,
            }),
        }
    }

    /// The engine's process as a supervisor's child, with id and registered name the
    /// engine's name. A restarted process shows the same engine: facts, events and
    /// subscriptions live in the engine, not in the process.
    pub fn child_spec(&self) -> ChildSpec {
        let engine = self.inner.engine.clone();
        ChildSpec::worker(engine.name.clone(), move || {
            RulesServer::new(engine.clone())
        })
        .name(self.inner.engine.name.clone())
        .erase()
    }

    /// The engine's name.
    pub fn name(&self) -> &str {
        &self.inner.engine.name
    }

    /// The last events emitted, oldest first (as many as
    /// [`RulesOptions::recent_events`] keeps).
    pub fn recent_events(&self) -> Vec<Value> {
        self.inner.engine.events.lock().recent()
    }

    /// Adds a rule: on every event whose topic matches `topic_pattern` (as a
    /// subscription's pattern does), `action` runs with the event and the facts, inside
    /// `emit` and before it returns. Rules run in the order they were added, one event
    /// after another; a panicking one is logged and skipped. A rule sees and changes
    /// facts only: it cannot emit, so rules cannot trigger each other in a loop.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use noex_server::rules::{BuiltinRules, RulesEngine, RulesOptions};
    /// use serde_json::json;
    ///
    /// let rules = BuiltinRules::new(RulesOptions::new("shop"));
    /// rules.on("order.created", |event, facts| {
    ///     let customer = &event["data"]["customer"];
    ///     let key = format!("customer:{customer}:orders");
    ///     let count = facts.get(&key).and_then(|n| n.as_u64()).unwrap_or(0);
    ///     let _ = facts.set(&key, json!(count + 1));
    /// });
    /// let order = json!({"customer": 7});
    /// rules.emit("order.created".into(), order, None).await.unwrap();
    /// assert_eq!(rules.get_fact("customer:7:orders".into()).await.unwrap(), Some(json!(1)));
    /// # }
    /// ```
    pub fn on(
        &self,
        topic_pattern: impl Into<String>,
        action: impl Fn(&Value, &mut RuleFacts<'_>) + Send + Sync + 'static,
    ) {
        self.engine().rules.add(topic_pattern.into(), action);
    }

    fn engine(&self) -> &Engine {
        &self.inner.engine
    }
}

impl Engine {
    fn new(options: RulesOptions) -> Engine {
        Engine {
            name: options.name,
            limits: options.limits,
            facts: Mutex::new(Facts::default()),
            events: Mutex::new(Events::default()),
            rules: Rules::default(),
        }
    }
}

impl std::fmt::Debug for BuiltinRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuiltinRules")
            .field("name", &self.engine().name)
            .finish_non_exhaustive()
    }
}

/// Every operation is done at once, under a short lock: the futures are ready.
fn ready<T: Send + 'static>(result: T) -> BoxFuture<'static, T> {
    Box::pin(std::future::ready(result))
}

impl RulesEngine for BuiltinRules {
    fn emit(
        &self,
        topic: String,
        data: Value,
        correlation_id: Option<String>,
    ) -> BoxFuture<'_, Result<Value, RulesError>> {
        let engine = self.engine();
        let mut events = engine.events.lock();
        let emitted = events.emit(topic, data, correlation_id, &engine.limits);
        if let Ok(event) = &emitted {
            engine.rules.apply(event, &engine.facts, &engine.limits);
        }
        drop(events);
        ready(emitted)
    }

    fn set_fact(&self, key: String, value: Value) -> BoxFuture<'_, Result<Fact, RulesError>> {
        let engine = self.engine();
        let set = engine.facts.lock().set(&key, value.clone(), &engine.limits);
        ready(set.map(|()| Fact { key, value }))
    }

    fn get_fact(&self, key: String) -> BoxFuture<'_, Result<Option<Value>, RulesError>> {
        let engine = self.engine();
        ready(engine.facts.lock().get(&key, &engine.limits))
    }

    fn delete_fact(&self, key: String) -> BoxFuture<'_, Result<bool, RulesError>> {
        let engine = self.engine();
        ready(engine.facts.lock().delete(&key, &engine.limits))
    }

    fn query_facts(&self, pattern: String) -> BoxFuture<'_, Result<Vec<Fact>, RulesError>> {
        let engine = self.engine();
        ready(engine.facts.lock().query(&pattern, &engine.limits))
    }

    fn all_facts(&self) -> BoxFuture<'_, Result<Vec<Fact>, RulesError>> {
        ready(Ok(self.engine().facts.lock().all()))
    }

    fn subscribe(
        &self,
        pattern: String,
    ) -> BoxFuture<'_, Result<mpsc::Receiver<RulesEvent>, RulesError>> {
        let engine = self.engine();
        ready(engine.events.lock().subscribe(pattern, &engine.limits))
    }

    fn stats(&self) -> BoxFuture<'_, Result<Value, RulesError>> {
        let engine = self.engine();
        engine.events.lock().prune();
        let figures = engine.figures();
        ready(Ok(json!({
            "facts": figures.facts,
            "events": figures.events.emitted,
            "subscriptions": figures.events.subscriptions,
            "droppedEvents": figures.events.dropped,
        })))
    }
}

/// The length of `value` as compact JSON, or `None` once it passes `limit` (the
/// writing stops there, so a huge value costs no more than the limit).
fn json_len_within(value: &Value, limit: usize) -> Option<usize> {
    struct Counter {
        written: usize,
        limit: usize,
    }
    impl std::io::Write for Counter {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.written += bytes.len();
            if self.written > self.limit {
                return Err(std::io::ErrorKind::FileTooLarge.into());
            }
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter { written: 0, limit };
    serde_json::to_writer(&mut counter, value).ok()?;
    Some(counter.written)
}
