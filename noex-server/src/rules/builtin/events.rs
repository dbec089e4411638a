//! The events: each emitted one is numbered, stamped, kept among the recent ones and
//! offered to every subscription whose pattern its topic matches.

use std::collections::VecDeque;

use serde_json::{Map, Value};
use tokio::sync::mpsc;

use super::{Limits, json_len_within};
use crate::rules::{RulesError, RulesEvent};

#[derive(Default)]
pub(super) struct Events {
    /// Events emitted so far; the next one is `evt-{emitted + 1}`.
    emitted: u64,
    /// Events a subscriber's full channel (by count or by bytes) did not take.
    dropped: u64,
    recent: VecDeque<Recent>,
    /// The JSON length of the events in `recent`.
    recent_bytes: usize,
    subscriptions: Vec<Subscription>,
}

struct Recent {
    event: Value,
    bytes: usize,
}

struct Subscription {
    pattern: String,
    sender: mpsc::Sender<RulesEvent>,
    /// The JSON length of the events sent, newest last, as many as may still wait
    /// in the channel: the channel is first in, first out, so the ones still waiting
    /// are the newest `max_capacity - capacity`.
    sent: VecDeque<usize>,
    /// The sum of `sent`.
    sent_bytes: usize,
}

enum Offered {
    Sent,
    /// The channel is full, by count or by bytes.
    Dropped,
    Closed,
}

impl Subscription {
    fn new(pattern: String, sender: mpsc::Sender<RulesEvent>) -> Subscription {
        Subscription {
            pattern,
            sender,
            sent: VecDeque::new(),
            sent_bytes: 0,
        }
    }

    /// Sends `event` unless the events waiting in the channel and it would pass
    /// `max_bytes`; an empty channel takes any event, so a large one is not lost to
    /// an idle subscriber.
    fn offer(&mut self, event: RulesEvent, bytes: usize, max_bytes: usize) -> Offered {
        let waiting = self.sender.max_capacity() - self.sender.capacity();
        while self.sent.len() > waiting {
            if let Some(received) = self.sent.pop_front() {
                self.sent_bytes -= received;
            }
        }
        if waiting > 0 && self.sent_bytes + bytes > max_bytes {
            return if self.sender.is_closed() {
                Offered::Closed
            } else {
                Offered::Dropped
            };
        }
        match self.sender.try_send(event) {
            Ok(()) => {
                self.sent.push_back(bytes);
                self.sent_bytes += bytes;
                Offered::Sent
            }
            Err(mpsc::error::TrySendError::Full(_)) => Offered::Dropped,
            Err(mpsc::error::TrySendError::Closed(_)) => Offered::Closed,
        }
    }
}

/// What the events say of themselves, for `stats` and the Observer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct EventFigures {
    pub(super) emitted: u64,
    pub(super) dropped: u64,
    /// Subscriptions whose receiver is still there.
    pub(super) subscriptions: usize,
}

impl Events {
    /// Records an event and offers it to the matching subscriptions, without waiting
    /// for any: a full channel (by count or by bytes) loses the event (counted), a
    /// closed one ends its subscription. Numbering and delivery happen under one lock, so every subscriber
    /// sees events in the order of their ids.
    pub(super) fn emit(
        &mut self,
        topic: String,
        data: Value,
        correlation_id: Option<String>,
        limits: &Limits,
    ) -> Result<Value, RulesError> {
        super::facts::check_text("topic", &topic, limits)?;
        if let Some(id) = &correlation_id {
            super::facts::check_text("correlationId", id, limits)?;
        }
        if json_len_within(&data, limits.max_event_bytes).is_none() {
            return Err(RulesError::Invalid(format!(
                "event on {topic}: the data is larger than {} bytes as JSON",
                limits.max_event_bytes
            )));
        }
        self.emitted += 1;
        let mut event = Map::new();
        event.insert("id".into(), Value::String(format!("evt-{}", self.emitted)));
        event.insert("topic".into(), Value::String(topic.clone()));
        event.insert("data".into(), data);
        event.insert("timestamp".into(), Value::from(now_ms()));
        if let Some(id) = correlation_id {
            event.insert("correlationId".into(), Value::String(id));
        }
        let event = Value::Object(event);
        let bytes = json_len_within(&event, usize::MAX).unwrap_or(0);
        self.remember(event.clone(), bytes, limits);
        let dropped = &mut self.dropped;
        self.subscriptions.retain_mut(|subscription| {
            if !noex::event_bus::topic_matches(&subscription.pattern, &topic) {
                return !subscription.sender.is_closed();
            }
            let offered = RulesEvent {
                topic: topic.clone(),
                event: event.clone(),
            };
            match subscription.offer(offered, bytes, limits.subscriber_bytes) {
                Offered::Sent => true,
                Offered::Dropped => {
                    *dropped += 1;
                    true
                }
                Offered::Closed => false,
            }
        });
        Ok(event)
    }

    /// Keeps `event` among the recent ones, forgetting the oldest past the count or
    /// the byte budget.
    fn remember(&mut self, event: Value, bytes: usize, limits: &Limits) {
        self.recent.push_back(Recent { event, bytes });
        self.recent_bytes += bytes;
        while self.recent.len() > limits.recent_events
            || (self.recent_bytes > limits.recent_event_bytes && self.recent.len() > 1)
        {
            let Some(oldest) = self.recent.pop_front() else {
                break;
            };
            self.recent_bytes -= oldest.bytes;
        }
    }

    pub(super) fn subscribe(
        &mut self,
        pattern: String,
        limits: &Limits,
    ) -> Result<mpsc::Receiver<RulesEvent>, RulesError> {
        super::facts::check_text("pattern", &pattern, limits)?;
        self.prune();
        if self.subscriptions.len() >= limits.max_subscriptions {
            return Err(RulesError::Invalid(format!(
                "the engine holds its maximum of {} subscriptions",
                limits.max_subscriptions
            )));
        }
        let (sender, receiver) = mpsc::channel(limits.subscriber_capacity);
        self.subscriptions.push(Subscription::new(pattern, sender));
        Ok(receiver)
    }

    /// Forgets the subscriptions whose receiver was dropped.
    pub(super) fn prune(&mut self) {
        self.subscriptions
            .retain(|subscription| !subscription.sender.is_closed());
    }

    pub(super) fn figures(&self) -> EventFigures {
        EventFigures {
            emitted: self.emitted,
            dropped: self.dropped,
            subscriptions: self
                .subscriptions
                .iter()
                .filter(|subscription| !subscription.sender.is_closed())
                .count(),
        }
    }

    /// The recent events, oldest first.
    pub(super) fn recent(&self) -> Vec<Value> {
        self.recent
            .iter()
            .map(|recent| recent.event.clone())
            .collect()
    }

    /// The subscriptions' patterns, for `noex state`.
    pub(super) fn patterns(&self) -> impl Iterator<Item = &str> {
        self.subscriptions
            .iter()
            .filter(|subscription| !subscription.sender.is_closed())
            .map(|subscription| subscription.pattern.as_str())
    }
}

/// Milliseconds since the Unix epoch, as events are stamped.
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}
