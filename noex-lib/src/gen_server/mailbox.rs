//! A server's mailbox: unbounded, any number of senders, one receiver (the
//! server's own task).
//!
//! Why not tokio's unbounded channel: it allocates a block of 32 message slots and
//! a cache-padded channel (about 1.2 KB) when it is created, which was most of an
//! idle server's memory and much of its start time. Here an idle mailbox is one
//! small allocation, and the queue grows only when messages come. A lock guards
//! the queue; the receiver takes the whole queue at once (a swap) and then hands
//! out messages without touching the lock, so a burst costs one lock per message
//! sent and one per burst received.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker, ready};

use parking_lot::Mutex;

/// A queue that grew past this during a burst is given back when it drains, so an
/// idle server does not keep a burst's memory.
const KEEP_CAPACITY: usize = 64;

struct Shared<T> {
    state: Mutex<State<T>>,
    senders: AtomicUsize,
}

struct State<T> {
    queue: VecDeque<T>,
    /// The receiver's waker. Kept after a wake-up, so a receiver that waits again
    /// (the same task, as a rule) need not clone its waker each time.
    receiver: Option<Waker>,
    /// The receiver waits for a message: the next send wakes it.
    waiting: bool,
    /// The receiver is gone: sends fail.
    closed: bool,
}

/// The sending side; cloned freely.
pub(crate) struct MailboxSender<T> {
    shared: Arc<Shared<T>>,
}

/// The receiving side, owned by the server's task.
pub(crate) struct Mailbox<T> {
    shared: Arc<Shared<T>>,
    /// Messages taken from the shared queue, not handled yet.
    taken: VecDeque<T>,
}

pub(crate) fn mailbox<T>() -> (MailboxSender<T>, Mailbox<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            queue: VecDeque::new(),
            receiver: None,
            waiting: false,
            closed: false,
        }),
        senders: AtomicUsize::new(1),
    });
    (
        MailboxSender {
            shared: shared.clone(),
        },
        Mailbox {
            shared,
            taken: VecDeque::new(),
        },
    )
}

impl<T> MailboxSender<T> {
    /// Queue `message`, and count it in `enqueued` (under the lock, so a plain
    /// store does: senders are serialized). Gives the message back if the receiver
    /// is gone.
    #[inline]
    pub(crate) fn send(&self, message: T, enqueued: &AtomicU64) -> Result<(), T> {
        let mut state = self.shared.state.lock();
        if state.closed {
            return Err(message);
        }
        state.queue.push_back(message);
        enqueued.store(enqueued.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        if std::mem::take(&mut state.waiting)
            && let Some(receiver) = &state.receiver
        {
            // Under the lock: the receiver cannot replace its waker meanwhile.
            receiver.wake_by_ref();
        }
        Ok(())
    }
}

impl<T> Clone for MailboxSender<T> {
    fn clone(&self) -> Self {
        self.shared.senders.fetch_add(1, Ordering::Relaxed);
        MailboxSender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for MailboxSender<T> {
    fn drop(&mut self) {
        if self.shared.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            // The last sender: a waiting receiver must see the end.
            let receiver = self.shared.state.lock().receiver.take();
            if let Some(receiver) = receiver {
                receiver.wake();
            }
        }
    }
}

impl<T> Mailbox<T> {
    /// The next message; `None` once every sender is gone and the queue is empty.
    /// Takes part in tokio's cooperative budget, as tokio's own channels do, so a
    /// flooded server still lets its neighbours run.
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let coop = ready!(tokio::task::coop::poll_proceed(cx));
        if let Some(message) = self.taken.pop_front() {
            coop.made_progress();
            return Poll::Ready(Some(message));
        }
        let mut state = self.shared.state.lock();
        if state.queue.is_empty() {
            if self.shared.senders.load(Ordering::Acquire) == 0 {
                return Poll::Ready(None);
            }
            match &mut state.receiver {
                Some(waker) if waker.will_wake(cx.waker()) => {}
                slot => *slot = Some(cx.waker().clone()),
            }
            state.waiting = true;
            drop(state);
            if self.taken.capacity() > KEEP_CAPACITY {
                self.taken = VecDeque::new();
            }
            return Poll::Pending;
        }
        std::mem::swap(&mut state.queue, &mut self.taken);
        drop(state);
        coop.made_progress();
        Poll::Ready(self.taken.pop_front())
    }
}

impl<T> Drop for Mailbox<T> {
    fn drop(&mut self) {
        // Later sends fail; queued messages (and the reply slots of queued calls,
        // whose callers then learn the server is gone) are dropped here, outside
        // the lock.
        let queued = {
            let mut state = self.shared.state.lock();
            state.closed = true;
            state.receiver = None;
            std::mem::take(&mut state.queue)
        };
        drop(queued);
    }
}

#[cfg(test)]
mod tests {
    use std::task::Waker;

    use super::*;

    fn poll<T>(mailbox: &mut Mailbox<T>) -> Poll<Option<T>> {
        mailbox.poll_recv(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn messages_from_one_sender_arrive_in_order_and_are_counted() {
        let counter = AtomicU64::new(0);
        let (sender, mut mailbox) = mailbox();
        for n in 0..100 {
            sender.send(n, &counter).unwrap();
        }
        assert_eq!(counter.load(Ordering::Relaxed), 100);
        for n in 0..100 {
            assert_eq!(poll(&mut mailbox), Poll::Ready(Some(n)));
        }
        assert_eq!(poll(&mut mailbox), Poll::Pending);
    }

    #[test]
    fn the_end_comes_when_every_sender_is_gone() {
        let (sender, mut mailbox) = mailbox::<u8>();
        let other = sender.clone();
        drop(sender);
        assert_eq!(poll(&mut mailbox), Poll::Pending);
        other.send(1, &AtomicU64::new(0)).unwrap();
        drop(other);
        assert_eq!(poll(&mut mailbox), Poll::Ready(Some(1)));
        assert_eq!(poll(&mut mailbox), Poll::Ready(None));
    }

    #[test]
    fn sends_fail_and_queued_messages_are_dropped_once_the_receiver_is_gone() {
        let (sender, mailbox) = mailbox();
        let queued = Arc::new(());
        sender.send(queued.clone(), &AtomicU64::new(0)).unwrap();
        drop(mailbox);
        assert_eq!(
            Arc::strong_count(&queued),
            1,
            "the queued message was dropped"
        );
        assert!(sender.send(queued, &AtomicU64::new(0)).is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_waiting_receiver_is_woken_by_a_send_from_another_thread() {
        let (sender, mut mailbox) = mailbox();
        let receiver =
            tokio::spawn(async move { std::future::poll_fn(|cx| mailbox.poll_recv(cx)).await });
        tokio::task::yield_now().await;
        std::thread::spawn(move || sender.send(7, &AtomicU64::new(0)).unwrap())
            .join()
            .unwrap();
        assert_eq!(receiver.await.unwrap(), Some(7));
    }

    #[test]
    fn a_burst_s_memory_is_given_back_when_it_drains() {
        let (sender, mut mailbox) = mailbox();
        for n in 0..1000 {
            sender.send(n, &AtomicU64::new(0)).unwrap();
        }
        while let Poll::Ready(Some(_)) = poll(&mut mailbox) {}
        assert!(mailbox.taken.capacity() <= KEEP_CAPACITY);
    }
}
