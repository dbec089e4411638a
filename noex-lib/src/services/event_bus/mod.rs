//! An event bus routes each published message to every subscription whose topic
//! pattern matches: one-to-many messaging between parts of an application that do
//! not know each other.
//!
//! Topics are dot-separated (`user.created`). A pattern is exact (`user.created`),
//! has single-segment wildcards (`user.*` matches `user.created` but not `user.a.b`
//! nor `user`), or is `*`, which matches every topic. See [`topic_matches`].
//!
//! ```
//! use noex::services::event_bus::{EventBus, EventBusOptions};
//!
//! #[derive(Debug)]
//! enum UserEvent { Created { id: u32 }, Deleted { id: u32 } }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # // As a doc test, leave no agent socket behind (`NOEX_AGENT=off`); one thread, so sound.
//! # unsafe { std::env::set_var("NOEX_AGENT", "off") }
//! let bus = EventBus::<UserEvent>::start(EventBusOptions::new().name("user-events")).await?;
//! let audit = bus
//!     .subscribe("user.*", |event: &UserEvent, topic: &str| {
//!         tracing::info!(topic, ?event, "audit");
//!     })
//!     .await?;
//! bus.publish("user.created", UserEvent::Created { id: 1 })?; // fire and forget
//! let delivered = bus.publish_sync("user.deleted", UserEvent::Deleted { id: 1 }).await?;
//! assert_eq!(delivered.handlers, 1); // the audit handler has run
//! audit.unsubscribe().await?;
//! bus.stop().await?;
//! # Ok(()) }
//! ```
//!
//! # Where handlers run
//!
//! Each subscription has its own task (not a noex process: a bus with 10 000
//! subscribers is one line in `noex ps`), fed by an unbounded queue like any
//! mailbox. The bus process only matches topics and enqueues, so:
//!
//! - a slow handler delays only its own subscription, never the bus or the others;
//! - a subscription sees messages in the order the bus received them, and runs its
//!   handler for one message at a time (so the handler may be `FnMut`);
//! - a handler that panics is caught, reported through `tracing` (and counted in
//!   [`Delivered::panicked`] for `publish_sync`), and the subscription goes on with
//!   the next message. The bus and the other subscriptions never notice.
//!
//! Running handlers inside the bus would serialise every subscriber behind the
//! slowest one; a noex process per subscriber would fill the process table. This is
//! OTP's "a process per subscriber" at the cost of a tokio task.
//!
//! `publish` returns at once. `publish_sync` returns once every matching handler has
//! run; since each queue is in order, the handlers have then also run for every
//! message published before it (by this caller) to the same subscriptions.
//!
//! # Typed and untyped buses
//!
//! `EventBus<M>` carries one message type, shared between the subscriptions as
//! `Arc<M>` (never cloned). For a bus that carries many types, use the default,
//! `EventBus<AnyMessage>`, with [`EventBus::publish_any`] and
//! [`EventBus::subscribe_to`], which calls the handler for messages of one type.
//!
//! # Lifetime
//!
//! Dropping a [`Subscription`] unsubscribes it (call [`Subscription::detach`] to keep
//! it for the life of the bus). Messages published before the unsubscribe may still
//! be delivered; none published after. When the bus stops, each subscription first
//! finishes what was published to it (up to [`EventBusOptions::drain_timeout`]).
//! Subscriptions belong to the bus process: a bus restarted by its supervisor starts
//! with none, and subscribers subscribe again to the new instance.

mod pattern;

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use futures::FutureExt;
use slab::Slab;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use self::pattern::Pattern;
pub use self::pattern::topic_matches;
use self::protocol::{BusCall, BusCast, BusReply, Completion, Published, Subscriber};
use crate::error::{CallError, ServerNotRunningError, StartError, StopError};
use crate::gen_server::{self, Context, GenServer, Reply, ServerRef, panic_message};
use crate::registry::{self, LookupError};
use crate::supervisor::ChildSpec;
use crate::{ExitReason, Pid};

/// The message type of a bus that carries values of any type.
pub type AnyMessage = Box<dyn Any + Send + Sync>;

/// How long a stopping bus waits for its subscriptions to finish what was published.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Options for [`EventBus::start`] and [`EventBus::child_spec`].
#[derive(Clone, Debug)]
pub struct EventBusOptions {
    name: Option<String>,
    drain_timeout: Duration,
}

impl Default for EventBusOptions {
    fn default() -> Self {
        EventBusOptions {
            name: None,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
        }
    }
}

impl EventBusOptions {
    pub fn new() -> Self {
        Self::default()
    }

    /// Register the bus under this name, so [`EventBus::lookup`] finds it.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// How long a stopping bus lets its subscriptions finish the messages already
    /// published to them before it aborts them (default 5 s).
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.drain_timeout = timeout;
        self
    }
}

/// What a `publish_sync` reached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Delivered {
    /// Subscriptions whose handler ran for the message.
    pub handlers: usize,
    /// Of those, the handlers that panicked (each reported through `tracing`).
    pub panicked: usize,
}

/// Identifies a subscription; unique for the whole run, never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubscriptionId(u64);

impl SubscriptionId {
    fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        SubscriptionId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

impl fmt::Display for SubscriptionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sub-{}", self.0)
    }
}

/// A published message as an async handler receives it: cheap to clone and to keep.
pub struct Event<M> {
    topic: Arc<str>,
    message: Arc<M>,
}

impl<M> Event<M> {
    pub fn topic(&self) -> &str {
        &self.topic
    }

    pub fn message(&self) -> &M {
        &self.message
    }

    /// The message, shared with the other subscriptions.
    pub fn into_message(self) -> Arc<M> {
        self.message
    }
}

impl<M> Clone for Event<M> {
    fn clone(&self) -> Self {
        Event {
            topic: self.topic.clone(),
            message: self.message.clone(),
        }
    }
}

impl<M: fmt::Debug> fmt::Debug for Event<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("topic", &self.topic)
            .field("message", &self.message)
            .finish()
    }
}

/// A handle to a running event bus carrying messages of type `M`. Cheap to clone.
pub struct EventBus<M: Send + Sync + 'static = AnyMessage> {
    server: ServerRef<EventBusServer<M>>,
}

impl<M: Send + Sync + 'static> Clone for EventBus<M> {
    fn clone(&self) -> Self {
        EventBus {
            server: self.server.clone(),
        }
    }
}

impl<M: Send + Sync + 'static> fmt::Debug for EventBus<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventBus")
            .field("pid", &self.server.pid())
            .finish()
    }
}

impl<M: Send + Sync + 'static> From<ServerRef<EventBusServer<M>>> for EventBus<M> {
    fn from(server: ServerRef<EventBusServer<M>>) -> Self {
        EventBus { server }
    }
}

impl<M: Send + Sync + 'static> EventBus<M> {
    /// Start a bus (registered under the options' name, if any).
    pub async fn start(options: EventBusOptions) -> Result<Self, StartError> {
        let server = super::start(EventBusServer::new(&options), options.name.as_deref()).await?;
        Ok(EventBus { server })
    }

    /// A supervisor child that runs a bus, registered under the options' name, or
    /// under `id` when the options have none; find it with [`EventBus::lookup`].
    pub fn child_spec(id: impl Into<String>, options: EventBusOptions) -> ChildSpec {
        super::child_spec(id, options.name.clone(), move || {
            EventBusServer::<M>::new(&options)
        })
    }

    /// The bus registered under `name`.
    pub fn lookup(name: &str) -> Result<Self, LookupError> {
        registry::lookup::<EventBusServer<M>>(name).map(EventBus::from)
    }

    /// The process behind the bus.
    pub fn server_ref(&self) -> &ServerRef<EventBusServer<M>> {
        &self.server
    }

    pub fn pid(&self) -> Pid {
        self.server.pid()
    }

    pub fn is_running(&self) -> bool {
        self.server.is_running()
    }

    /// Run `handler(message, topic)` for every message published to a topic that
    /// matches `pattern`, in its own task (see the module docs).
    pub async fn subscribe<F>(
        &self,
        pattern: &str,
        handler: F,
    ) -> Result<Subscription<M>, CallError>
    where
        F: FnMut(&M, &str) + Send + 'static,
    {
        self.add(pattern, SyncHandler(handler)).await
    }

    /// Like [`subscribe`](Self::subscribe), with an async handler: the next message
    /// is handled once the returned future has finished.
    pub async fn subscribe_async<F, Fut>(
        &self,
        pattern: &str,
        handler: F,
    ) -> Result<Subscription<M>, CallError>
    where
        F: FnMut(Event<M>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.add(pattern, AsyncHandler(handler)).await
    }

    async fn add<H: Handler<M>>(
        &self,
        pattern: &str,
        handler: H,
    ) -> Result<Subscription<M>, CallError> {
        let id = SubscriptionId::next();
        let pattern: Arc<str> = Arc::from(pattern);
        let (sender, receiver) = mpsc::unbounded_channel();
        let task = tokio::spawn(run_subscription(
            receiver,
            handler,
            id,
            pattern.clone(),
            self.pid(),
        ));
        // If the call fails, the sender is dropped with it and the task ends.
        self.server
            .call(BusCall::Subscribe(Subscriber {
                id,
                pattern: pattern.clone(),
                sender,
                task,
            }))
            .await?;
        Ok(Subscription {
            id,
            pattern,
            bus: Some(self.server.clone()),
        })
    }

    /// Send `message` to every subscription matching `topic`, without waiting.
    pub fn publish(
        &self,
        topic: impl Into<Arc<str>>,
        message: M,
    ) -> Result<(), ServerNotRunningError> {
        self.server.cast(BusCast::Publish(topic.into(), message))
    }

    /// Send `message` to every subscription matching `topic`, and return once each
    /// of their handlers has run (at most [`gen_server::DEFAULT_CALL_TIMEOUT`]).
    pub async fn publish_sync(
        &self,
        topic: impl Into<Arc<str>>,
        message: M,
    ) -> Result<Delivered, CallError> {
        self.publish_sync_timeout(topic, message, gen_server::DEFAULT_CALL_TIMEOUT)
            .await
    }

    /// [`publish_sync`](Self::publish_sync), waiting at most `timeout` for the handlers.
    pub async fn publish_sync_timeout(
        &self,
        topic: impl Into<Arc<str>>,
        message: M,
        timeout: Duration,
    ) -> Result<Delivered, CallError> {
        match self
            .server
            .call_timeout(BusCall::PublishSync(topic.into(), message), timeout)
            .await?
        {
            BusReply::Published(delivered) => Ok(delivered),
            _ => unreachable!("publish_sync answers Published"),
        }
    }

    /// How many subscriptions the bus has.
    pub async fn subscription_count(&self) -> Result<usize, CallError> {
        match self.server.call(BusCall::Count).await? {
            BusReply::Count(count) => Ok(count),
            _ => unreachable!("count answers Count"),
        }
    }

    /// Stop the bus; returns once its subscriptions have finished what was
    /// published to them (or the drain timeout has passed).
    pub async fn stop(&self) -> Result<(), StopError> {
        self.server.stop(ExitReason::Normal).await
    }
}

impl EventBus<AnyMessage> {
    /// Publish a value of any type on an untyped bus.
    pub fn publish_any<T: Any + Send + Sync>(
        &self,
        topic: impl Into<Arc<str>>,
        message: T,
    ) -> Result<(), ServerNotRunningError> {
        self.publish(topic, Box::new(message))
    }

    /// [`publish_sync`](Self::publish_sync) a value of any type on an untyped bus.
    pub async fn publish_any_sync<T: Any + Send + Sync>(
        &self,
        topic: impl Into<Arc<str>>,
        message: T,
    ) -> Result<Delivered, CallError> {
        self.publish_sync(topic, Box::new(message)).await
    }

    /// Subscribe to the messages of type `T` on topics matching `pattern`; messages
    /// of other types are skipped (and still count as delivered).
    pub async fn subscribe_to<T, F>(
        &self,
        pattern: &str,
        mut handler: F,
    ) -> Result<Subscription<AnyMessage>, CallError>
    where
        T: Any,
        F: FnMut(&T, &str) + Send + 'static,
    {
        self.subscribe(pattern, move |message: &AnyMessage, topic: &str| {
            if let Some(message) = (**message).downcast_ref::<T>() {
                handler(message, topic);
            }
        })
        .await
    }
}

/// A live subscription. Dropping it unsubscribes; [`detach`](Self::detach) keeps it
/// for the life of the bus.
#[must_use = "dropping a Subscription unsubscribes it; call `.detach()` to keep it"]
pub struct Subscription<M: Send + Sync + 'static = AnyMessage> {
    id: SubscriptionId,
    pattern: Arc<str>,
    /// `None` once unsubscribed or detached: nothing left to do on drop.
    bus: Option<ServerRef<EventBusServer<M>>>,
}

impl<M: Send + Sync + 'static> Subscription<M> {
    pub fn id(&self) -> SubscriptionId {
        self.id
    }

    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Unsubscribe and wait until the bus has removed the subscription. Returns
    /// whether it was still subscribed.
    pub async fn unsubscribe(mut self) -> Result<bool, CallError> {
        let Some(bus) = self.bus.take() else {
            return Ok(false);
        };
        match bus.call(BusCall::Unsubscribe(self.id)).await? {
            BusReply::Unsubscribed(found) => Ok(found),
            _ => unreachable!("unsubscribe answers Unsubscribed"),
        }
    }

    /// Keep the subscription for as long as the bus runs, without a handle.
    pub fn detach(mut self) {
        self.bus = None;
    }
}

impl<M: Send + Sync + 'static> Drop for Subscription<M> {
    fn drop(&mut self) {
        if let Some(bus) = self.bus.take() {
            // A bus that has ended has no subscriptions left to remove.
            let _ = bus.cast(BusCast::Unsubscribe(self.id));
        }
    }
}

impl<M: Send + Sync + 'static> fmt::Debug for Subscription<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("id", &self.id)
            .field("pattern", &self.pattern)
            .finish()
    }
}

/// Runs one subscription's handler over its queue until the bus drops the sender.
async fn run_subscription<M, H: Handler<M>>(
    mut queue: mpsc::UnboundedReceiver<Arc<Published<M>>>,
    mut handler: H,
    id: SubscriptionId,
    pattern: Arc<str>,
    bus: Pid,
) {
    while let Some(published) = queue.recv().await {
        if let Err(panic) = handler.handle(&published).await {
            tracing::error!(
                %bus,
                subscription = %id,
                pattern = &*pattern,
                topic = &*published.topic,
                error = %panic_message(&*panic),
                "event handler panicked; the subscription goes on"
            );
            if let Some(completion) = &published.completion {
                completion.panicked.fetch_add(1, Ordering::Relaxed);
            }
        }
        // Dropping our share of the message may answer its publish_sync.
    }
}

type Panic = Box<dyn Any + Send>;

/// A subscription's handler, sync or async; a panic comes back as `Err`.
trait Handler<M>: Send + 'static {
    fn handle(
        &mut self,
        published: &Published<M>,
    ) -> impl Future<Output = Result<(), Panic>> + Send;
}

struct SyncHandler<F>(F);

impl<M, F> Handler<M> for SyncHandler<F>
where
    M: Send + Sync + 'static,
    F: FnMut(&M, &str) + Send + 'static,
{
    fn handle(
        &mut self,
        published: &Published<M>,
    ) -> impl Future<Output = Result<(), Panic>> + Send {
        let (message, topic) = (&*published.message, &*published.topic);
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| (self.0)(message, topic)));
        std::future::ready(outcome)
    }
}

struct AsyncHandler<F>(F);

impl<M, F, Fut> Handler<M> for AsyncHandler<F>
where
    M: Send + Sync + 'static,
    F: FnMut(Event<M>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    async fn handle(&mut self, published: &Published<M>) -> Result<(), Panic> {
        // Its own references: a handler may keep the event past the publish_sync.
        let event = Event {
            topic: published.topic.clone(),
            message: published.message.clone(),
        };
        let future = std::panic::catch_unwind(AssertUnwindSafe(|| (self.0)(event)))?;
        AssertUnwindSafe(future).catch_unwind().await
    }
}

/// The process behind an [`EventBus`]: its subscriptions, grouped by pattern.
///
/// Exact patterns are found by hashing the topic; wildcard patterns are matched
/// once per distinct pattern, however many subscriptions share it.
pub struct EventBusServer<M: Send + Sync + 'static> {
    exact: HashMap<Arc<str>, Slab<Subscriber<M>>>,
    wildcards: Vec<WildcardGroup<M>>,
    /// Where each subscription is, to remove it.
    index: HashMap<SubscriptionId, Slot>,
    drain_timeout: Duration,
}

struct WildcardGroup<M> {
    text: Arc<str>,
    pattern: Pattern,
    subscribers: Slab<Subscriber<M>>,
}

struct Slot {
    pattern: Arc<str>,
    exact: bool,
    key: usize,
}

impl<M: Send + Sync + 'static> EventBusServer<M> {
    fn new(options: &EventBusOptions) -> Self {
        EventBusServer {
            exact: HashMap::new(),
            wildcards: Vec::new(),
            index: HashMap::new(),
            drain_timeout: options.drain_timeout,
        }
    }

    fn add(&mut self, subscriber: Subscriber<M>) {
        let id = subscriber.id;
        let text = subscriber.pattern.clone();
        let slot = match Pattern::parse(&text) {
            Pattern::Exact(topic) => Slot {
                key: self
                    .exact
                    .entry(topic.clone())
                    .or_default()
                    .insert(subscriber),
                pattern: topic,
                exact: true,
            },
            pattern => {
                let at = self.wildcard_group(&text).unwrap_or_else(|| {
                    self.wildcards.push(WildcardGroup {
                        text: text.clone(),
                        pattern,
                        subscribers: Slab::new(),
                    });
                    self.wildcards.len() - 1
                });
                Slot {
                    key: self.wildcards[at].subscribers.insert(subscriber),
                    pattern: text,
                    exact: false,
                }
            }
        };
        self.index.insert(id, slot);
    }

    /// Where the group of subscriptions on wildcard `pattern` is, if it has any.
    fn wildcard_group(&self, pattern: &str) -> Option<usize> {
        self.wildcards
            .iter()
            .position(|group| *group.text == *pattern)
    }

    /// Remove a subscription; its task finishes what is queued and ends.
    fn remove(&mut self, id: SubscriptionId) -> bool {
        let Some(slot) = self.index.remove(&id) else {
            return false;
        };
        if slot.exact {
            if let Some(group) = self.exact.get_mut(&slot.pattern) {
                group.try_remove(slot.key);
                if group.is_empty() {
                    self.exact.remove(&slot.pattern);
                }
            }
        } else if let Some(at) = self.wildcard_group(&slot.pattern) {
            let group = &mut self.wildcards[at];
            group.subscribers.try_remove(slot.key);
            if group.subscribers.is_empty() {
                self.wildcards.swap_remove(at);
            }
        }
        true
    }

    /// Enqueue the message for every matching subscription: one shared reference
    /// each, the only atomic operation per delivery.
    fn dispatch(&self, topic: Arc<str>, message: M, completion: Option<Completion>) {
        let published = Arc::new(Published {
            topic,
            message: Arc::new(message),
            completion,
        });
        let mut handlers = 0;
        let mut deliver = |subscriber: &Subscriber<M>| {
            // A closed queue means the subscription's task is gone (runtime shutdown).
            if subscriber.sender.send(published.clone()).is_ok() {
                handlers += 1;
            }
        };
        if let Some(group) = self.exact.get(&*published.topic) {
            group.iter().for_each(|(_, subscriber)| deliver(subscriber));
        }
        for group in &self.wildcards {
            if group.pattern.matches(&published.topic) {
                group
                    .subscribers
                    .iter()
                    .for_each(|(_, subscriber)| deliver(subscriber));
            }
        }
        if let Some(completion) = &published.completion {
            // Read when the last share is dropped, which is after ours, below.
            completion.handlers.store(handlers, Ordering::Relaxed);
        }
    }
}

impl<M: Send + Sync + 'static> GenServer for EventBusServer<M> {
    type Call = BusCall<M>;
    type Cast = BusCast<M>;
    type Reply = BusReply;

    async fn handle_call(
        &mut self,
        request: BusCall<M>,
        ctx: &mut Context<Self>,
    ) -> Reply<BusReply> {
        match request {
            BusCall::Subscribe(subscriber) => {
                self.add(subscriber);
                Reply::Now(BusReply::Subscribed)
            }
            BusCall::Unsubscribe(id) => Reply::Now(BusReply::Unsubscribed(self.remove(id))),
            BusCall::Count => Reply::Now(BusReply::Count(self.index.len())),
            BusCall::PublishSync(topic, message) => {
                // The caller is answered when the last handler drops its share.
                let completion = Completion {
                    reply_to: ctx.defer_reply(),
                    handlers: AtomicUsize::new(0),
                    panicked: AtomicUsize::new(0),
                };
                self.dispatch(topic, message, Some(completion));
                Reply::Deferred
            }
        }
    }

    async fn handle_cast(&mut self, message: BusCast<M>, _: &mut Context<Self>) {
        match message {
            BusCast::Publish(topic, message) => self.dispatch(topic, message, None),
            BusCast::Unsubscribe(id) => {
                self.remove(id);
            }
        }
    }

    async fn terminate(&mut self, _: &ExitReason, ctx: &mut Context<Self>) {
        self.index.clear();
        // Dropping each sender lets its task finish the queue and end.
        let mut tasks: Vec<JoinHandle<()>> = self
            .exact
            .drain()
            .flat_map(|(_, group)| group.into_iter().map(|(_, s)| s.task))
            .chain(
                self.wildcards
                    .drain(..)
                    .flat_map(|group| group.subscribers.into_iter().map(|(_, s)| s.task)),
            )
            .collect();
        let drained = tokio::time::timeout(
            self.drain_timeout,
            futures::future::join_all(tasks.iter_mut()),
        )
        .await
        .is_ok();
        if !drained {
            tracing::warn!(
                bus = %ctx.pid(),
                timeout = ?self.drain_timeout,
                "event handlers still running at stop; aborted"
            );
            tasks.iter().for_each(JoinHandle::abort);
        }
    }
}

/// The bus's messages. Public only because they are the GenServer's associated
/// types; this module is private, so nobody outside can name or build them.
mod protocol {
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    use tokio::sync::mpsc;
    use tokio::task::JoinHandle;

    use super::{Delivered, SubscriptionId};
    use crate::gen_server::ReplyTo;

    pub enum BusCall<M> {
        Subscribe(Subscriber<M>),
        Unsubscribe(SubscriptionId),
        Count,
        PublishSync(Arc<str>, M),
    }

    pub enum BusCast<M> {
        Publish(Arc<str>, M),
        Unsubscribe(SubscriptionId),
    }

    pub enum BusReply {
        Subscribed,
        Unsubscribed(bool),
        Count(usize),
        Published(Delivered),
    }

    pub struct Subscriber<M> {
        pub(super) id: SubscriptionId,
        pub(super) pattern: Arc<str>,
        pub(super) sender: mpsc::UnboundedSender<Arc<Published<M>>>,
        pub(super) task: JoinHandle<()>,
    }

    /// One published message, shared by every subscription it is delivered to.
    pub struct Published<M> {
        pub(super) topic: Arc<str>,
        pub(super) message: Arc<M>,
        /// Set for `publish_sync`.
        pub(super) completion: Option<Completion>,
    }

    /// What a `publish_sync` waits for. Its caller is answered when the last share
    /// of the message is dropped, i.e. when the bus has enqueued it everywhere and
    /// every handler has run.
    pub struct Completion {
        pub(super) reply_to: Option<ReplyTo<BusReply>>,
        pub(super) handlers: AtomicUsize,
        pub(super) panicked: AtomicUsize,
    }

    impl<M> Drop for Published<M> {
        fn drop(&mut self) {
            if let Some(completion) = self.completion.take()
                && let Some(reply_to) = completion.reply_to
            {
                reply_to.reply(BusReply::Published(Delivered {
                    handlers: completion.handlers.into_inner(),
                    panicked: completion.panicked.into_inner(),
                }));
            }
        }
    }
}
