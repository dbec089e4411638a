//! [`EventBusServer`], the process behind an [`EventBus`](super::EventBus), and
//! its messages.
//!
//! The server files subscriptions in a [`SubscriptionIndex`] and, for each
//! published message, enqueues one shared reference to it on every matching
//! subscription's queue. It never runs a handler: those run in the subscription
//! tasks (see `handle`), so a slow handler cannot hold up the bus.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::task::JoinHandle;

use self::protocol::{BusCall, BusCast, Completion, Published, Subscriber};
use super::index::SubscriptionIndex;
use super::{EventBusOptions, SubscriptionId};
use crate::gen_server::{Context, GenServer, Info, Reply};
use crate::process::{Down, MonitorRef};
use crate::{ExitReason, Pid};

/// The process behind an [`EventBus`](super::EventBus): its subscriptions, grouped
/// by pattern.
///
/// Exact patterns are found by hashing the topic; wildcard patterns are matched
/// once per distinct pattern, however many subscriptions share it.
pub struct EventBusServer<M: Send + Sync + 'static> {
    subscriptions: SubscriptionIndex<Subscriber<M>>,
    drain_timeout: Duration,
    /// Processes whose subscriptions end with them, one monitor each.
    owners: HashMap<Pid, Owner>,
    /// The owner of each owned subscription.
    owned: HashMap<SubscriptionId, Pid>,
}

/// A process that owns subscriptions: they are removed when it ends.
struct Owner {
    monitor: MonitorRef,
    subscriptions: Vec<SubscriptionId>,
}

impl<M: Send + Sync + 'static> EventBusServer<M> {
    pub(super) fn new(options: &EventBusOptions) -> Self {
        EventBusServer {
            subscriptions: SubscriptionIndex::new(),
            drain_timeout: options.drain_timeout,
            owners: HashMap::new(),
            owned: HashMap::new(),
        }
    }

    /// Remove a subscription; its task finishes what is queued and ends.
    fn remove(&mut self, id: SubscriptionId, ctx: &Context<Self>) -> bool {
        self.disown(id, ctx);
        self.subscriptions.remove(id)
    }

    /// Tie subscription `id` to process `owner` (in place of any owner it had).
    fn own(&mut self, id: SubscriptionId, owner: Pid, ctx: &Context<Self>) -> bool {
        if !self.subscriptions.contains(id) {
            return false;
        }
        self.disown(id, ctx);
        // One monitor per owner, however many subscriptions it owns. An owner that
        // has ended already is reported at once (`NoProc`) and handled as any other.
        self.owners
            .entry(owner)
            .or_insert_with(|| Owner {
                monitor: ctx.monitor(owner),
                subscriptions: Vec::new(),
            })
            .subscriptions
            .push(id);
        self.owned.insert(id, owner);
        true
    }

    /// Untie subscription `id` from its owner, if it has one; the owner's monitor
    /// goes with its last subscription.
    fn disown(&mut self, id: SubscriptionId, ctx: &Context<Self>) {
        let Some(pid) = self.owned.remove(&id) else {
            return;
        };
        if let Some(owner) = self.owners.get_mut(&pid) {
            owner.subscriptions.retain(|owned| *owned != id);
            if owner.subscriptions.is_empty() {
                ctx.demonitor(owner.monitor);
                self.owners.remove(&pid);
            }
        }
    }

    /// An owner has ended: its subscriptions go with it.
    fn owner_down(&mut self, down: &Down) {
        // Only this owner's current monitor: a monitor taken back sends no Down.
        if !self
            .owners
            .get(&down.pid)
            .is_some_and(|owner| owner.monitor == down.monitor)
        {
            return;
        }
        let Some(owner) = self.owners.remove(&down.pid) else {
            return;
        };
        for id in owner.subscriptions {
            self.owned.remove(&id);
            self.subscriptions.remove(id);
        }
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

    async fn handle_call(&mut self, request: BusCall<M>, ctx: &mut Context<Self>) -> Reply<()> {
        match request {
            BusCall::Subscribe(subscriber, reply) => {
                let (id, pattern) = (subscriber.id, subscriber.pattern.clone());
                self.subscriptions.insert(id, pattern, subscriber);
                reply.reply(());
            }
            BusCall::Unsubscribe(id, reply) => {
                reply.reply(self.remove(id, ctx));
            }
            BusCall::OwnedBy(id, owner, reply) => {
                reply.reply(self.own(id, owner, ctx));
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
        }
    }

    async fn handle_info(&mut self, message: Info, ctx: &mut Context<Self>) {
        match message.downcast_ref::<Down>() {
            Some(down) => self.owner_down(down),
            // As the default `handle_info` does, and OTP's gen_server.
            None => tracing::warn!(bus = %ctx.pid(), "unexpected info message dropped"),
        }
    }

    async fn terminate(&mut self, _: &ExitReason, ctx: &mut Context<Self>) {
        // Dropping each sender lets its task finish the queue and end.
        let mut tasks: Vec<JoinHandle<()>> = self
            .subscriptions
            .drain()
            .map(|subscriber| subscriber.task)
            .collect();
        // The tasks run on their own; awaiting them in turn waits as long as together.
        let all_drained = async {
            for task in &mut tasks {
                let _ = task.await;
            }
        };
        let drained = tokio::time::timeout(self.drain_timeout, all_drained)
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

    use crate::Pid;
    use crate::gen_server::ReplyTo;
    use crate::services::event_bus::{Delivered, SubscriptionId};

    pub enum BusCall<M> {
        Subscribe(Subscriber<M>, ReplyTo<()>),
        Unsubscribe(SubscriptionId, ReplyTo<bool>),
        /// Unsubscribe when the process ends.
        OwnedBy(SubscriptionId, Pid, ReplyTo<bool>),
        Count(ReplyTo<usize>),
        PublishSync(Arc<str>, M, ReplyTo<Delivered>),
    }

    pub enum BusCast<M> {
        Publish(Arc<str>, M),
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
