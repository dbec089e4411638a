//! A server's mailbox: unbounded, any number of senders, one receiver (the
//! server's own task).
//!
//! Why not tokio's unbounded channel: it allocates a block of 32 message slots and
//! a cache-padded channel (about 1.2 KB) when it is created, which was most of an
//! idle server's memory and much of its start time. Here the mailbox lives in the
//! process's own allocation (next to its cell, see `gen_server::shared`), and the
//! queue grows only when messages come. A lock guards the queue; the receiver takes
//! the whole queue at once (a swap) into its [`Inbox`] and then hands out messages
//! without touching the lock, so a burst costs one lock per message sent and one
//! per burst received.
//!
//! Senders are not counted: the server's own context holds a reference to its
//! mailbox for as long as it runs, so "every sender is gone" could never happen. The
//! mailbox ends when the server closes it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker, ready};

use crate::sync::Mutex;

/// A queue that grew past this during a burst is given back when it drains, so an
/// idle server does not keep a burst's memory.
const KEEP_CAPACITY: usize = 64;

/// The shared half: the queue, and what senders and the receiver tell each other.
pub(crate) struct Mailbox<T> {
    state: Mutex<State<T>>,
    /// Messages ever queued, counted under the lock (so a plain store does: senders
    /// are serialized). With the server's `handled` count it gives the queue length.
    /// Here, beside the lock senders take anyway, rather than among the counters the
    /// server writes: no cache line is shared between the two sides.
    enqueued: AtomicU64,
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

/// The receiving half, owned by the server's task: messages taken from the shared
/// queue and not handled yet.
pub(crate) struct Inbox<T> {
    taken: VecDeque<T>,
    /// When the previous handler ended (a `clock` reading), kept by the server; 0
    /// once a poll has had to wait. Kept here because the next message is the one
    /// that knows: if it was already waiting, the previous end is its handler's
    /// start, and a burst costs one clock reading per message.
    pub(crate) previous_end: u64,
}

impl<T> Mailbox<T> {
    /// An open, empty mailbox.
    pub(crate) fn new() -> Self {
        Mailbox {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                receiver: None,
                waiting: false,
                closed: false,
            }),
            enqueued: AtomicU64::new(0),
        }
    }

    /// Messages ever queued.
    pub(crate) fn enqueued(&self) -> u64 {
        self.enqueued.load(Ordering::Relaxed)
    }

    /// Queue `message`. Gives it back if the receiver is gone.
    #[inline]
    pub(crate) fn send(&self, message: T) -> Result<(), T> {
        let mut state = self.state.lock();
        if state.closed {
            return Err(message);
        }
        state.queue.push_back(message);
        let enqueued = &self.enqueued;
        enqueued.store(enqueued.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        if std::mem::take(&mut state.waiting)
            && let Some(receiver) = &state.receiver
        {
            // Under the lock: the receiver cannot replace its waker meanwhile.
            receiver.wake_by_ref();
        }
        Ok(())
    }

    /// The receiver is gone: later sends fail. Returns the messages still queued,
    /// taken out under the lock and handed back to be dealt with outside it.
    pub(crate) fn close(&self) -> VecDeque<T> {
        let mut state = self.state.lock();
        state.closed = true;
        state.receiver = None;
        std::mem::take(&mut state.queue)
    }
}

impl<T> Inbox<T> {
    pub(crate) fn new() -> Self {
        Inbox {
            taken: VecDeque::new(),
            previous_end: 0,
        }
    }

    /// The messages taken from the mailbox and not handled yet.
    pub(crate) fn drain(&mut self) -> std::collections::vec_deque::Drain<'_, T> {
        self.taken.drain(..)
    }

    /// The next message of `mailbox`, whose only receiver this inbox must be. Takes
    /// part in tokio's cooperative budget, as tokio's own channels do, so a flooded
    /// server still lets its neighbours run.
    pub(crate) fn poll_recv(&mut self, mailbox: &Mailbox<T>, cx: &mut Context<'_>) -> Poll<T> {
        let coop = ready!(tokio::task::coop::poll_proceed(cx));
        if let Some(message) = self.taken.pop_front() {
            coop.made_progress();
            return Poll::Ready(message);
        }
        let mut state = mailbox.state.lock();
        if let Some(message) = state.queue.pop_front() {
            // The rest of the burst comes along, to be handed out without the lock.
            std::mem::swap(&mut state.queue, &mut self.taken);
            drop(state);
            coop.made_progress();
            return Poll::Ready(message);
        }
        match &mut state.receiver {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        state.waiting = true;
        drop(state);
        self.previous_end = 0;
        if self.taken.capacity() > KEEP_CAPACITY {
            self.taken = VecDeque::new();
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::task::Waker;

    use super::*;

    fn poll<T>(inbox: &mut Inbox<T>, mailbox: &Mailbox<T>) -> Poll<T> {
        inbox.poll_recv(mailbox, &mut Context::from_waker(Waker::noop()))
    }

    fn open<T>() -> (Mailbox<T>, Inbox<T>) {
        (Mailbox::new(), Inbox::new())
    }

    #[test]
    fn messages_from_one_sender_arrive_in_order_and_are_counted() {
        let (mailbox, mut inbox) = open();
        for n in 0..100 {
            mailbox.send(n).unwrap();
        }
        assert_eq!(mailbox.enqueued(), 100);
        for n in 0..100 {
            assert_eq!(poll(&mut inbox, &mailbox), Poll::Ready(n));
        }
        inbox.previous_end = 1;
        assert_eq!(poll(&mut inbox, &mailbox), Poll::Pending);
        assert_eq!(inbox.previous_end, 0, "a wait forgets the previous end");
    }

    #[test]
    fn closing_hands_back_the_queued_messages_and_later_sends_fail() {
        let (mailbox, _inbox) = open();
        mailbox.send(1).unwrap();
        mailbox.send(2).unwrap();
        assert_eq!(mailbox.close(), [1, 2]);
        assert_eq!(mailbox.send(3), Err(3));
        assert!(mailbox.close().is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_waiting_receiver_is_woken_by_a_send_from_another_thread() {
        let mailbox = Arc::new(Mailbox::new());
        let receiving = mailbox.clone();
        let receiver = tokio::spawn(async move {
            let mut inbox = Inbox::new();
            std::future::poll_fn(|cx| inbox.poll_recv(&receiving, cx)).await
        });
        tokio::task::yield_now().await;
        let sending = mailbox.clone();
        std::thread::spawn(move || sending.send(7).unwrap())
            .join()
            .unwrap();
        assert_eq!(receiver.await.unwrap(), 7);
    }

    #[test]
    fn a_burst_s_memory_is_given_back_when_it_drains() {
        let (mailbox, mut inbox) = open();
        for n in 0..1000 {
            mailbox.send(n).unwrap();
        }
        while poll(&mut inbox, &mailbox).is_ready() {}
        assert!(inbox.taken.capacity() <= KEEP_CAPACITY);
    }
}
