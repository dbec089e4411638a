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

use std::collections::VecDeque;

pub use noex_agent::types::{EventKind, LifecycleEvent};
use parking_lot::Mutex;
use tokio::sync::broadcast;

use crate::process::{ProcessCell, coarse_now_ms};
use crate::runtime::runtime;

/// Events kept for late subscribers (`noex events --history`).
pub const HISTORY_CAPACITY: usize = 1000;
/// Events buffered per live subscriber before it starts losing them.
const SUBSCRIBER_CAPACITY: usize = 4096;

pub(crate) struct EventHub {
    sender: broadcast::Sender<LifecycleEvent>,
    history: Mutex<History>,
}

struct History {
    events: VecDeque<LifecycleEvent>,
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
                events: VecDeque::with_capacity(HISTORY_CAPACITY),
                seq: 0,
                maybe_listened: false,
            }),
        }
    }
}

impl EventHub {
    /// An event about a live process, under its current name.
    pub(crate) fn emit(&self, cell: &ProcessCell, kind: EventKind) {
        let name = cell.name().map(|n| n.to_string());
        self.emit_named_at(cell, name, kind, 0);
    }

    /// An event under `name`, that happened at `at_ms` (a clock reading the caller
    /// already has; 0 for now).
    pub(crate) fn emit_named_at(
        &self,
        cell: &ProcessCell,
        name: Option<String>,
        kind: EventKind,
        at_ms: u64,
    ) {
        self.publish(LifecycleEvent {
            seq: 0,
            at_ms,
            pid: cell.pid,
            name,
            child_id: cell.child_id.as_deref().map(str::to_string),
            parent: cell.parent,
            system: cell.system,
            kind,
        });
    }

    /// Number, record and broadcast an event; `seq` is filled in here, and `at_ms`
    /// if it is 0.
    ///
    /// Events of system processes (the agent's connections) go to live subscribers
    /// only: kept in the history, a `noex ps` every second would push the app's own
    /// events out of it. They do not advance `seq` either, so a gap in `seq` still
    /// means exactly "events were dropped".
    pub(crate) fn publish(&self, mut event: LifecycleEvent) {
        if event.at_ms == 0 {
            event.at_ms = coarse_now_ms();
        }
        // Numbered under the history lock, so history and live stream agree on order;
        // subscribing takes the same lock, so nobody subscribes between the check for
        // listeners and the send. A copy goes live only if someone may listen.
        let mut history = self.history.lock();
        if event.system {
            event.seq = history.seq;
            if history.maybe_listened && self.sender.send(event).is_err() {
                history.maybe_listened = false;
            }
            return;
        }
        history.seq += 1;
        event.seq = history.seq;
        let oldest = if history.events.len() == HISTORY_CAPACITY {
            history.events.pop_front()
        } else {
            None
        };
        if history.maybe_listened && self.sender.send(event.clone()).is_err() {
            history.maybe_listened = false;
        }
        history.events.push_back(event);
        drop(history);
        drop(oldest);
    }

    /// Up to `limit` recent events (oldest first) and a receiver for all later ones.
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
}

/// A subscription to the lifecycle stream.
pub struct EventStream {
    receiver: broadcast::Receiver<LifecycleEvent>,
}

/// The subscriber fell behind and `dropped` events were skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("event subscriber lagged: {dropped} events dropped")]
pub struct Lagged {
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
        receiver: runtime().events.subscribe(),
    }
}

/// The most recent events, oldest first (at most [`HISTORY_CAPACITY`]).
pub fn recent(limit: usize) -> Vec<LifecycleEvent> {
    runtime().events.history.lock().recent(limit)
}
