//! The handles callers use: [`EventBus`] (start, lookup, publish, subscribe...)
//! and [`Subscription`]. Also the subscription tasks: subscribing spawns the task
//! that runs the handler over the subscription's queue, so the bus process never
//! runs user code.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::mpsc;

use super::server::EventBusServer;
use super::server::protocol::{BusCall, BusCast, Published, Subscriber};
use super::{AnyMessage, Delivered, Event, EventBusOptions, SubscriptionId};
use crate::error::{CallError, ServerNotRunningError, StartError, StopError};
use crate::gen_server::{self, ServerRef, panic_message};
use crate::registry::{self, LookupError};
use crate::services;
use crate::supervisor::ChildSpec;
use crate::{ExitReason, Pid};

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
        let server =
            services::start::<_, Self>(EventBusServer::new(&options), options.name.as_deref())
                .await?;
        Ok(EventBus { server })
    }

    /// A supervisor child that runs a bus. Like every child, it is registered only
    /// if named — `.name("...")` on the spec, or the options' `name` — and then
    /// [`EventBus::lookup`] finds it.
    pub fn child_spec(id: impl Into<String>, options: EventBusOptions) -> ChildSpec {
        services::child_spec::<_, Self, _>(id, options.name.clone(), move || {
            EventBusServer::<M>::new(&options)
        })
    }

    /// The bus registered under `name`.
    pub fn lookup(name: &str) -> Result<Self, LookupError> {
        registry::lookup_wrapped::<EventBusServer<M>, Self>(name).map(EventBus::from)
    }

    /// The process behind the bus.
    pub fn server_ref(&self) -> &ServerRef<EventBusServer<M>> {
        &self.server
    }

    /// The pid of the bus's process.
    pub fn pid(&self) -> Pid {
        self.server.pid()
    }

    /// Whether the bus's process is still running.
    pub fn is_running(&self) -> bool {
        self.server.is_running()
    }

    /// Run `handler(message, topic)` for every message published to a topic that
    /// matches `pattern`, in its own task (see the module docs), until the
    /// returned [`Subscription`] cancels it or the bus stops. Dropping the
    /// `Subscription` does not cancel it.
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
        let subscriber = Subscriber {
            id,
            pattern: pattern.clone(),
            sender,
            task,
        };
        self.server
            .request(|reply| BusCall::Subscribe(subscriber, reply))
            .await?;
        Ok(Subscription {
            id,
            pattern,
            bus: self.server.clone(),
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
        let topic = topic.into();
        self.server
            .request_timeout(|reply| BusCall::PublishSync(topic, message, reply), timeout)
            .await
    }

    /// How many subscriptions the bus has.
    pub async fn subscription_count(&self) -> Result<usize, CallError> {
        self.server.request(BusCall::Count).await
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

/// The handle to a subscription: the way to cancel it. The subscription stays
/// until it is cancelled with [`unsubscribe`](Self::unsubscribe), or the bus stops
/// (or its owner ends, see [`unsubscribe_on_exit`](Self::unsubscribe_on_exit));
/// dropping the handle does not cancel it.
#[must_use = "dropping a Subscription does not cancel it: it runs until the bus stops; \
              keep the handle to call `.unsubscribe()`"]
pub struct Subscription<M: Send + Sync + 'static = AnyMessage> {
    id: SubscriptionId,
    pattern: Arc<str>,
    bus: ServerRef<EventBusServer<M>>,
}

impl<M: Send + Sync + 'static> Subscription<M> {
    /// The subscription's id, unique for the whole run.
    pub fn id(&self) -> SubscriptionId {
        self.id
    }

    /// The topic pattern it was subscribed with.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Unsubscribe and wait until the bus has removed the subscription. Returns
    /// whether it was still subscribed (it was not if its owner has ended).
    pub async fn unsubscribe(self) -> Result<bool, CallError> {
        let id = self.id;
        self.bus
            .request(|reply| BusCall::Unsubscribe(id, reply))
            .await
    }

    /// Unsubscribe when the process `owner` ends, whatever the reason, as OTP's
    /// `pg` and Elixir's `Registry` drop a process's entries when it exits. The bus
    /// monitors `owner`; one that has already ended unsubscribes at once. A server
    /// that subscribes in `init` ties its subscription to itself (`ctx.pid()`), so
    /// that a restart does not leave the old one behind. A subscription has one
    /// owner: a second call replaces the first. Returns whether the subscription
    /// was still there to tie (one already cancelled gets no owner).
    ///
    /// ```
    /// use noex::error::BoxError;
    /// use noex::event_bus::{EventBus, EventBusOptions};
    /// use noex::gen_server::{self, Context, GenServer, Reply, StartOptions};
    /// use noex::ExitReason;
    ///
    /// struct Auditor {
    ///     bus: EventBus<String>,
    /// }
    ///
    /// impl GenServer for Auditor {
    ///     type Call = ();
    ///     type Cast = ();
    ///     type Reply = ();
    ///     async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), BoxError> {
    ///         let subscription = self
    ///             .bus
    ///             .subscribe("user.*", |event: &String, _: &str| println!("audit: {event}"))
    ///             .await?;
    ///         // Ends with this server, so a restart leaves no stale subscription.
    ///         subscription.unsubscribe_on_exit(ctx.pid()).await?;
    ///         Ok(())
    ///     }
    ///     async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
    ///         Reply::Now(())
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # // As a doc test, leave no agent socket behind (`NOEX_AGENT=off`); one thread, so sound.
    /// # unsafe { std::env::set_var("NOEX_AGENT", "off") }
    /// let bus = EventBus::<String>::start(EventBusOptions::new()).await?;
    /// let auditor = gen_server::start(Auditor { bus: bus.clone() }, StartOptions::new()).await?;
    /// assert_eq!(bus.subscription_count().await?, 1);
    /// auditor.stop(ExitReason::Normal).await?;
    /// assert_eq!(bus.subscription_count().await?, 0);
    /// # Ok(()) }
    /// ```
    pub async fn unsubscribe_on_exit(&self, owner: Pid) -> Result<bool, CallError> {
        let id = self.id;
        self.bus
            .request(|reply| BusCall::OwnedBy(id, owner, reply))
            .await
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
        crate::future::catch_panic(future).await
    }
}
