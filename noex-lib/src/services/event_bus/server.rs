//! [`EventBusServer`], the process behind an [`EventBus`](super::EventBus), and
//! its messages.
//!
//! The server files subscriptions in a [`SubscriptionIndex`] and, for each
//! published message, enqueues one shared reference to it on every matching
//! subscription's queue. It never runs a handler: those run in the subscription
//! tasks (see `handle`), so a slow handler cannot hold up the bus.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::task::JoinHandle;

use self::protocol::{BusCall, BusCast, Completion, Published, Subscriber};
use super::index::SubscriptionIndex;
use super::{EventBusOptions, SubscriptionId};
use crate::ExitReason;
use crate::gen_server::{Context, GenServer, Reply};

/// The process behind an [`EventBus`](super::EventBus): its subscriptions, grouped
/// by pattern.
///
/// Exact patterns are found by hashing the topic; wildcard patterns are matched
/// once per distinct pattern, however many subscriptions share it.
pub struct EventBusServer<M: Send + Sync + 'static> {
    subscriptions: SubscriptionIndex<Subscriber<M>>,
    drain_timeout: Duration,
}

impl<M: Send + Sync + 'static> EventBusServer<M> {
    pub(super) fn new(options: &EventBusOptions) -> Self {
        EventBusServer {
            subscriptions: SubscriptionIndex::new(),
            drain_timeout: options.drain_timeout,
        }
    }

    /// Remove a subscription; its task finishes what is queued and ends.
    fn remove(&mut self, id: SubscriptionId) -> bool {
        self.subscriptions.remove(id)
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
        self.subscriptions
            .for_each_match(&published.topic, |subscriber| {
                // A closed queue means the subscription's task is gone (runtime shutdown).
                if subscriber.sender.send(published.clone()).is_ok() {
                    handlers += 1;
                }
            });
        if let Some(completion) = &published.completion {
            // Read when the last share is dropped, which is after ours, below.
            completion.handlers.store(handlers, Ordering::Relaxed);
        }
    }
}

impl<M: Send + Sync + 'static> GenServer for EventBusServer<M> {
    type Call = BusCall<M>;
    type Cast = BusCast<M>;
    type Reply = ();

    async fn handle_call(&mut self, request: BusCall<M>, _: &mut Context<Self>) -> Reply<()> {
        match request {
            BusCall::Subscribe(subscriber, reply) => {
                let (id, pattern) = (subscriber.id, subscriber.pattern.clone());
                self.subscriptions.insert(id, pattern, subscriber);
                reply.reply(());
            }
            BusCall::Unsubscribe(id, reply) => {
                reply.reply(self.remove(id));
            }
            BusCall::Count(reply) => {
                reply.reply(self.subscriptions.len());
            }
            BusCall::PublishSync(topic, message, reply_to) => {
                // The caller is answered when the last handler drops its share.
                let completion = Completion {
                    reply_to,
                    handlers: AtomicUsize::new(0),
                    panicked: AtomicUsize::new(0),
                };
                self.dispatch(topic, message, Some(completion));
            }
        }
        Reply::Now(())
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
        // Dropping each sender lets its task finish the queue and end.
        let mut tasks: Vec<JoinHandle<()>> = self
            .subscriptions
            .drain()
            .map(|subscriber| subscriber.task)
            .collect();
        let drained = tokio::time::timeout(
            self.drain_timeout,
            futures_util::future::join_all(tasks.iter_mut()),
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
/// types; this module is private to the bus, so nobody outside can name or build
/// them. Their fields are open to the whole bus, not just the server: the handle
/// builds each `Subscriber`, and its subscription tasks read each `Published`.
pub(super) mod protocol {
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    use tokio::sync::mpsc;
    use tokio::task::JoinHandle;

    use crate::gen_server::ReplyTo;
    use crate::services::event_bus::{Delivered, SubscriptionId};

    pub enum BusCall<M> {
        Subscribe(Subscriber<M>, ReplyTo<()>),
        Unsubscribe(SubscriptionId, ReplyTo<bool>),
        Count(ReplyTo<usize>),
        PublishSync(Arc<str>, M, ReplyTo<Delivered>),
    }

    pub enum BusCast<M> {
        Publish(Arc<str>, M),
        Unsubscribe(SubscriptionId),
    }

    pub struct Subscriber<M> {
        pub(in crate::services::event_bus) id: SubscriptionId,
        pub(in crate::services::event_bus) pattern: Arc<str>,
        pub(in crate::services::event_bus) sender: mpsc::UnboundedSender<Arc<Published<M>>>,
        pub(in crate::services::event_bus) task: JoinHandle<()>,
    }

    /// One published message, shared by every subscription it is delivered to.
    pub struct Published<M> {
        pub(in crate::services::event_bus) topic: Arc<str>,
        pub(in crate::services::event_bus) message: Arc<M>,
        /// Set for `publish_sync`.
        pub(in crate::services::event_bus) completion: Option<Completion>,
    }

    /// What a `publish_sync` waits for. Its caller is answered when the last share
    /// of the message is dropped, i.e. when the bus has enqueued it everywhere and
    /// every handler has run.
    pub struct Completion {
        pub(in crate::services::event_bus) reply_to: ReplyTo<Delivered>,
        pub(in crate::services::event_bus) handlers: AtomicUsize,
        pub(in crate::services::event_bus) panicked: AtomicUsize,
    }

    impl<M> Drop for Published<M> {
        fn drop(&mut self) {
            if let Some(completion) = self.completion.take() {
                completion.reply_to.reply(Delivered {
                    handlers: completion.handlers.into_inner(),
                    panicked: completion.panicked.into_inner(),
                });
            }
        }
    }
}
