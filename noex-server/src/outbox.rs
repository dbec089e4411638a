//! What waits to be written to one client, bounded in bytes.
//!
//! Replies queue in order. Above the high-water mark a client is behind: a query's
//! pushes are held back, the newest result replacing the one held (a slow reader gets
//! the latest, never a backlog), event pushes are dropped and counted, and requests
//! are answered BACKPRESSURE (see the connection). What still does not fit closes the
//! connection (4002): the server's memory never follows a client that does not read.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::config::BackpressureConfig;

/// A close the server asks for: its code and reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Close {
    pub code: u16,
    pub reason: &'static str,
}

/// Heartbeat: no pong within the timeout (the seed's code).
pub(crate) const CLOSE_HEARTBEAT: Close = Close {
    code: 4001,
    reason: "heartbeat timeout",
};
/// The client reads too slowly: what waits for it reached the limit.
pub(crate) const CLOSE_TOO_SLOW: Close = Close {
    code: 4002,
    reason: "client too slow: write buffer full",
};
/// The server is stopping.
pub(crate) const CLOSE_SHUTDOWN: Close = Close {
    code: 1001,
    reason: "server shutting down",
};

/// What the writer takes next.
pub(crate) enum Next {
    Text(String),
    Close(Close),
}

#[derive(Default)]
struct Queue {
    messages: VecDeque<String>,
    /// Held-back query results by subscription, newest only, in arrival order.
    held: HashMap<String, String>,
    held_order: VecDeque<String>,
    /// Bytes in `messages` and `held`.
    bytes: usize,
    close: Option<Close>,
}

pub(crate) struct Outbox {
    queue: Mutex<Queue>,
    ready: Notify,
    /// Woken when a close is asked for.
    closing: Notify,
    limits: BackpressureConfig,
    /// Event pushes dropped because the client was behind.
    pub dropped_events: AtomicU64,
    /// Messages handed to the socket.
    pub sent: AtomicU64,
}

impl Outbox {
    pub(crate) fn new(limits: BackpressureConfig) -> Arc<Outbox> {
        Arc::new(Outbox {
            queue: Mutex::new(Queue::default()),
            ready: Notify::new(),
            closing: Notify::new(),
            limits,
            dropped_events: AtomicU64::new(0),
            sent: AtomicU64::new(0),
        })
    }

    fn high_water(&self) -> usize {
        (self.limits.max_buffered_bytes as f64 * self.limits.high_water_mark) as usize
    }

    /// Whether the client is behind: new requests are refused with BACKPRESSURE.
    pub(crate) fn is_behind(&self) -> bool {
        self.queue.lock().bytes >= self.high_water()
    }

    pub(crate) fn buffered_bytes(&self) -> usize {
        self.queue.lock().bytes
    }

    /// A reply or a server message: in order, unless it does not fit at all. One reply
    /// larger than the limit (a snapshot of a large application) is written when
    /// nothing waits before it: the client is not behind, the reply is big.
    pub(crate) fn reply(&self, text: String) {
        let mut queue = self.queue.lock();
        if queue.close.is_some() {
            return;
        }
        if queue.bytes > 0 && queue.bytes + text.len() > self.limits.max_buffered_bytes {
            self.close_locked(&mut queue, CLOSE_TOO_SLOW);
            return;
        }
        queue.bytes += text.len();
        queue.messages.push_back(text);
        drop(queue);
        self.ready.notify_one();
    }

    /// A query's new result: queued if the client keeps up, else held (the newest
    /// replacing an older one of the same subscription).
    pub(crate) fn push_result(&self, subscription: &str, text: String) {
        let mut queue = self.queue.lock();
        if queue.close.is_some() {
            return;
        }
        let behind = queue.bytes + text.len() > self.high_water();
        if !behind && queue.held.is_empty() {
            queue.bytes += text.len();
            queue.messages.push_back(text);
            drop(queue);
            self.ready.notify_one();
            return;
        }
        let old = queue.held.get(subscription).map_or(0, String::len);
        if queue.bytes - old + text.len() > self.limits.max_buffered_bytes {
            self.close_locked(&mut queue, CLOSE_TOO_SLOW);
            return;
        }
        queue.bytes = queue.bytes - old + text.len();
        if queue.held.insert(subscription.to_string(), text).is_none() {
            queue.held_order.push_back(subscription.to_string());
        }
        drop(queue);
        self.ready.notify_one();
    }

    /// An event: queued if the client keeps up, else dropped.
    pub(crate) fn push_event(&self, text: String) {
        let mut queue = self.queue.lock();
        if queue.close.is_some() {
            return;
        }
        if queue.bytes + text.len() > self.high_water() {
            self.dropped_events.fetch_add(1, Ordering::Relaxed);
            return;
        }
        queue.bytes += text.len();
        queue.messages.push_back(text);
        drop(queue);
        self.ready.notify_one();
    }

    /// An event lost before it reached the outbox (its subscription's channel was full).
    pub(crate) fn count_dropped_event(&self) {
        self.dropped_events.fetch_add(1, Ordering::Relaxed);
    }

    /// A subscription ended: what it held goes.
    pub(crate) fn forget(&self, subscription: &str) {
        let mut queue = self.queue.lock();
        if let Some(text) = queue.held.remove(subscription) {
            queue.bytes -= text.len();
            queue.held_order.retain(|id| id != subscription);
        }
    }

    /// Close after what is queued is dropped: a close is not worth waiting behind a
    /// backlog for.
    pub(crate) fn close(&self, close: Close) {
        let mut queue = self.queue.lock();
        self.close_locked(&mut queue, close);
    }

    fn close_locked(&self, queue: &mut Queue, close: Close) {
        if queue.close.is_none() {
            queue.messages.clear();
            queue.held.clear();
            queue.held_order.clear();
            queue.bytes = 0;
            queue.close = Some(close);
            self.ready.notify_one();
            self.closing.notify_waiters();
        }
    }

    /// Until a close is asked for: a writer waiting on a client that does not read
    /// gives up its write for the close.
    pub(crate) async fn until_closing(&self) {
        loop {
            let notified = self.closing.notified();
            tokio::pin!(notified);
            // Registered before the check, so a close between the two still wakes it.
            notified.as_mut().enable();
            if self.is_closing() {
                return;
            }
            notified.await;
        }
    }

    pub(crate) fn is_closing(&self) -> bool {
        self.queue.lock().close.is_some()
    }

    /// The next thing to write, waiting for one. Held results come after the queue
    /// has drained below the high-water mark.
    pub(crate) async fn next(&self) -> Next {
        loop {
            let notified = self.ready.notified();
            if let Some(next) = self.try_next() {
                return next;
            }
            notified.await;
        }
    }

    /// The next thing to write, if there is one now.
    pub(crate) fn try_next(&self) -> Option<Next> {
        let mut queue = self.queue.lock();
        if let Some(close) = queue.close.clone() {
            return Some(Next::Close(close));
        }
        if let Some(text) = queue.messages.pop_front() {
            queue.bytes -= text.len();
            return Some(Next::Text(text));
        }
        while let Some(id) = queue.held_order.pop_front() {
            if let Some(text) = queue.held.remove(&id) {
                queue.bytes -= text.len();
                return Some(Next::Text(text));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outbox(max: usize) -> Arc<Outbox> {
        Outbox::new(BackpressureConfig {
            max_buffered_bytes: max,
            high_water_mark: 0.5,
        })
    }

    async fn text(outbox: &Outbox) -> String {
        match outbox.next().await {
            Next::Text(text) => text,
            Next::Close(close) => panic!("closed: {close:?}"),
        }
    }

    #[tokio::test]
    async fn replies_are_written_in_order() {
        let outbox = outbox(1000);
        outbox.reply("a".into());
        outbox.reply("b".into());
        assert_eq!(text(&outbox).await, "a");
        assert_eq!(text(&outbox).await, "b");
        assert_eq!(outbox.buffered_bytes(), 0);
    }

    #[tokio::test]
    async fn a_slow_reader_gets_only_the_latest_result_of_a_query() {
        let outbox = outbox(100);
        outbox.reply("x".repeat(50));
        outbox.push_result("sub-1", "first".into());
        outbox.push_result("sub-1", "second".into());
        outbox.push_result("sub-1", "third".into());
        assert_eq!(text(&outbox).await.len(), 50);
        assert_eq!(text(&outbox).await, "third");
        assert_eq!(outbox.buffered_bytes(), 0);
    }

    #[tokio::test]
    async fn events_for_a_reader_behind_are_dropped_and_counted() {
        let outbox = outbox(100);
        outbox.reply("x".repeat(50));
        outbox.push_event("event".into());
        assert_eq!(outbox.dropped_events.load(Ordering::Relaxed), 1);
        assert!(outbox.is_behind());
    }

    #[tokio::test]
    async fn one_reply_larger_than_the_limit_is_written_when_nothing_waits() {
        let outbox = outbox(100);
        outbox.reply("x".repeat(300));
        assert_eq!(text(&outbox).await.len(), 300);
        outbox.reply("x".repeat(300));
        outbox.reply("y".into());
        assert!(matches!(outbox.next().await, Next::Close(close) if close.code == 4002));
    }

    #[tokio::test]
    async fn a_reply_that_does_not_fit_closes_with_4002_and_frees_the_buffer() {
        let outbox = outbox(100);
        outbox.reply("x".repeat(80));
        outbox.reply("y".repeat(30));
        assert!(matches!(outbox.next().await, Next::Close(close) if close.code == 4002));
        assert_eq!(outbox.buffered_bytes(), 0);
        outbox.reply("after".into());
        assert_eq!(outbox.buffered_bytes(), 0, "nothing queues after the close");
    }
}
