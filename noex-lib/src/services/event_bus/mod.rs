//! An event bus routes each published message to every subscription whose topic
//! pattern matches: one-to-many messaging between parts of an application that do
//! not know each other.
//!
//! Topics are dot-separated (`user.created`). A pattern is exact (`user.created`),
//! has single-segment wildcards (`user.*` matches `user.created` but not `user.a.b`
//! nor `user`), or is `*`, which matches every topic. See [`topic_matches`].
//!
//! ```
//! use noex::event_bus::{EventBus, EventBusOptions};
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
//! A subscription stays until it is cancelled with [`Subscription::unsubscribe`],
//! or the bus stops. Dropping its [`Subscription`] does not cancel it: the handle
//! is only the way to cancel, so `let _ = bus.subscribe(..)` subscribes for the
//! life of the bus. Messages published before the unsubscribe may still be
//! delivered; none published after. When the bus stops, each subscription first
//! finishes what was published to it (up to [`EventBusOptions::drain_timeout`]).
//!
//! A subscription can also end with a process:
//! [`Subscription::unsubscribe_on_exit`] ties it to one, as OTP's `pg` and Elixir's
//! `Registry` drop a process's entries when it exits. A server that subscribes in
//! `init` should tie the subscription to itself (`ctx.pid()`): otherwise, once its
//! supervisor restarts it, the old subscription runs on beside the new one.
//!
//! Subscriptions belong to the bus process: a bus restarted by its supervisor starts
//! with none, and subscribers subscribe again to the new instance.

// `handle`: what callers use, and the subscription tasks it spawns; `server`: the
// process and its messages; `index`: subscriptions filed by pattern. Kept apart so
// that the matching reads without the process around it. This file holds what
// they share.
mod handle;
mod index;
mod pattern;
mod server;

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use self::handle::{EventBus, Subscription};
pub use self::pattern::topic_matches;
pub use self::server::EventBusServer;

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
    /// The defaults: no name, a drain timeout of 5 s.
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
    /// The topic the message was published to (not the subscription's pattern).
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The published message.
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
