//! The lifecycle stream: one runtime-wide stream of what happens to processes.
//!
//! Emitting never waits: events go into a bounded ring of recent history and a
//! broadcast channel whose slow receivers lose the oldest events (and are told how
//! many) instead of slowing the app down.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let mut events = noex::events::subscribe();
//! // ... start processes ...
//! # drop(events.try_recv());
//! # }
//! ```

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::LazyLock;

use noex_agent::text::{STORED_TEXT_LIMIT, clip_owned};
pub use noex_agent::types::{EventKind, LifecycleEvent};
use tokio::sync::broadcast;

use crate::clock::coarse_now_ms;
use crate::sync::Mutex;

/// Events kept for late subscribers (`noex events --history`), by default.
pub const HISTORY_CAPACITY: usize = 10_000;
/// Bytes the history may hold, by default: with reasons of the most
/// [`STORED_TEXT_LIMIT`] bytes, that is still well over 3 000 events.
pub const HISTORY_BYTES: usize = 4 * 1024 * 1024;
/// Events buffered per live subscriber before it starts losing them.
const SUBSCRIBER_CAPACITY: usize = 4096;

/// How much history the lifecycle stream keeps for late subscribers: the most recent
/// events up to both bounds. Set with [`set_history_limits`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryLimits {
    /// The most events kept.
    pub events: usize,
    /// The events' estimated size in memory (their strings and fixed fields).
    pub bytes: usize,
}

impl Default for HistoryLimits {
    fn default() -> Self {
        HistoryLimits {
            events: HISTORY_CAPACITY,
            bytes: HISTORY_BYTES,
        }
    }
}

/// The runtime's one stream, created on first use.
static HUB: LazyLock<EventHub> = LazyLock::new(EventHub::default);

/// The lifecycle stream every process publishes to.
#[inline]
pub(crate) fn hub() -> &'static EventHub {
    &HUB
}

pub(crate) struct EventHub {
    sender: broadcast::Sender<LifecycleEvent>,
    history: Mutex<History>,
}

struct History {
    events: VecDeque<LifecycleEvent>,
    /// What `events` holds, by [`footprint`].
    bytes: usize,
    limits: HistoryLimits,
    /// The last `seq` given; numbered under the same lock as the history is kept.
    seq: u64,
    /// Someone may be subscribed: set by every subscription (under this lock),
    /// cleared by a send that found nobody. Asking the channel instead takes its
    /// lock on every event, and almost always nobody listens.
    maybe_listened: bool,
}

impl Default for EventHub {
    fn default() -> Self {
        EventHub {
            sender: broadcast::Sender::new(SUBSCRIBER_CAPACITY),
            history: Mutex::new(History {
                events: VecDeque::new(),
                bytes: 0,
                limits: HistoryLimits::default(),
                seq: 0,
                maybe_listened: false,
            }),
        }
    }
}

impl EventHub {
    /// Number, record and broadcast an event; `seq` is filled in here, and `at_ms`
    /// if it is 0. Reasons and errors are clipped to [`STORED_TEXT_LIMIT`] bytes.
    ///
    /// Every event takes the next `seq`, so a live subscriber sees a gap only where
    /// it lost events (and is told how many). Events of system processes (the
    /// agent's connections) go to live subscribers only: kept in the history, a
    /// `noex ps` every second would push the app's own events out of it.
    pub(crate) fn publish(&self, mut event: LifecycleEvent) {
        if event.at_ms == 0 {
            event.at_ms = coarse_now_ms();
        }
        clip_text(&mut event.kind);
        // Numbered under the history lock, so history and live stream agree on order;
        // subscribing takes the same lock, so nobody subscribes between the check for
        // listeners and the send. A copy goes live only if someone may listen.
        let mut history = self.history.lock();
        history.seq += 1;
        event.seq = history.seq;
        if event.system {
            if history.maybe_listened && self.sender.send(event).is_err() {
                history.maybe_listened = false;
            }
            return;
        }
        if history.maybe_listened && self.sender.send(event.clone()).is_err() {
            history.maybe_listened = false;
        }
        history.record(event);
    }

    /// Up to `limit` recent events (oldest first) and a receiver for all later ones
    /// (an agent client's `subscribe`).
    #[cfg(feature = "agent")]
    pub(crate) fn subscribe_with_history(
        &self,
        limit: usize,
    ) -> (Vec<LifecycleEvent>, broadcast::Receiver<LifecycleEvent>) {
        let mut history = self.history.lock();
        let receiver = self.subscribe_locked(&mut history);
        (history.recent(limit), receiver)
    }

    /// A receiver for every later event.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<LifecycleEvent> {
        self.subscribe_locked(&mut self.history.lock())
    }

    /// Under the history lock, like `publish`: nobody subscribes between its check
    /// for listeners and its send.
    fn subscribe_locked(&self, history: &mut History) -> broadcast::Receiver<LifecycleEvent> {
        history.maybe_listened = true;
        self.sender.subscribe()
    }
}

impl History {
    /// Up to `limit` recent events, oldest first.
    fn recent(&self, limit: usize) -> Vec<LifecycleEvent> {
        let skip = self.events.len().saturating_sub(limit);
        self.events.iter().skip(skip).cloned().collect()
    }

    /// Keeps `event`, dropping the oldest events it has no room beside.
    ///
    /// Room is made first and the ring grows to exactly its limit, so a full history
    /// writes each event into the slot the oldest one just left: one cold cache line
    /// per event, not two (a million short-lived processes publish two million).
    fn record(&mut self, event: LifecycleEvent) {
        let size = footprint(&event);
        self.evict_for(1, size);
        if self.events.len() >= self.limits.events || size > self.limits.bytes {
            return;
        }
        if self.events.len() == self.events.capacity() {
            let grown = self
                .events
                .capacity()
                .max(64)
                .min(self.limits.events - self.events.len());
            self.events.reserve_exact(grown);
        }
        self.bytes += size;
        self.events.push_back(event);
    }

    /// Drops the oldest events until `count` more events of `bytes` fit.
    fn evict_for(&mut self, count: usize, bytes: usize) {
        while !self.events.is_empty()
            && (self.events.len() + count > self.limits.events
                || self.bytes + bytes > self.limits.bytes)
        {
            if let Some(oldest) = self.events.pop_front() {
                self.bytes -= footprint(&oldest);
            }
        }
    }
}

/// Clips the texts an event carries that come from crashes or from outside.
fn clip_text(kind: &mut EventKind) {
    match kind {
        EventKind::Terminated { reason: text } | EventKind::Crashed { error: text } => {
            if let Cow::Owned(text) = text {
                clip_owned(text, STORED_TEXT_LIMIT);
            }
        }
        _ => {}
    }
}

/// An event's size in memory, near enough to bound the history in bytes.
fn footprint(event: &LifecycleEvent) -> usize {
    let text = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    let kind = match &event.kind {
        EventKind::Terminated { reason: text } | EventKind::Crashed { error: text } => match text {
            Cow::Owned(text) => text.len(),
            Cow::Borrowed(_) => 0,
        },
        EventKind::Registered {
            registered_name: text,
        }
        | EventKind::Unregistered {
            registered_name: text,
        } => text.len(),
        _ => 0,
    };
    std::mem::size_of::<LifecycleEvent>() + text(&event.name) + text(&event.child_id) + kind
}

/// A subscription to the lifecycle stream.
pub struct EventStream {
    receiver: broadcast::Receiver<LifecycleEvent>,
}

/// The subscriber fell behind and `dropped` events were skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("event subscriber lagged: {dropped} events dropped")]
pub struct Lagged {
    /// How many events this subscriber missed.
    pub dropped: u64,
}

impl EventStream {
    /// The next event; `Err(Lagged)` once after events were dropped; `None` never
    /// happens while the runtime lives, so this waits.
    pub async fn recv(&mut self) -> Result<LifecycleEvent, Lagged> {
        loop {
            match self.receiver.recv().await {
                Ok(event) => return Ok(event),
                Err(broadcast::error::RecvError::Lagged(dropped)) => {
                    return Err(Lagged { dropped });
                }
                Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
            }
        }
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Option<Result<LifecycleEvent, Lagged>> {
        match self.receiver.try_recv() {
            Ok(event) => Some(Ok(event)),
            Err(broadcast::error::TryRecvError::Lagged(dropped)) => Some(Err(Lagged { dropped })),
            Err(_) => None,
        }
    }
}

/// Subscribe to every lifecycle event from now on.
pub fn subscribe() -> EventStream {
    EventStream {
        receiver: hub().subscribe(),
    }
}

/// The most recent events, oldest first (at most what [`history_limits`] keep).
pub fn recent(limit: usize) -> Vec<LifecycleEvent> {
    hub().history.lock().recent(limit)
}

/// How much history is kept for late subscribers (`noex events --history`). Takes
/// effect at once: a smaller limit drops the oldest events now.
///
/// ```
/// use noex::events::{self, HistoryLimits};
///
/// events::set_history_limits(HistoryLimits { events: 50_000, bytes: 16 << 20 });
/// assert_eq!(events::history_limits().events, 50_000);
/// ```
pub fn set_history_limits(limits: HistoryLimits) {
    let mut history = hub().history.lock();
    history.limits = limits;
    history.evict_for(0, 0);
}

/// The limits the history keeps to; see [`set_history_limits`].
pub fn history_limits() -> HistoryLimits {
    hub().history.lock().limits
}
