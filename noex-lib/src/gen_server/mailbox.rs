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

/// Messages a queue holds in one ring, which grows by doubling up to this; a longer
/// queue is a chain of blocks (see [`Queue`]).
const RING: usize = 32;

/// About the bytes of a block: a page. Small enough for the allocator to hand the
/// same memory out again on the next burst, where a ring of millions is given back
/// to the kernel when freed and faulted in afresh on the next one.
const BLOCK_BYTES: usize = 4096;

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
    queue: Queue<T>,
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
    taken: Queue<T>,
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
                queue: Queue::new(),
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
        state.queue.push(message);
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
    pub(crate) fn close(&self) -> impl Iterator<Item = T> + use<T> {
        let mut state = self.state.lock();
        state.closed = true;
        state.receiver = None;
        let mut queue = std::mem::take(&mut state.queue);
        drop(state);
        std::iter::from_fn(move || queue.pop())
    }
}

impl<T> Inbox<T> {
    pub(crate) fn new() -> Self {
        Inbox {
            taken: Queue::new(),
            previous_end: 0,
        }
    }

    /// The messages taken from the mailbox and not handled yet.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = T> + '_ {
        std::iter::from_fn(|| self.taken.pop())
    }

    /// The next message of `mailbox`, whose only receiver this inbox must be. Takes
    /// part in tokio's cooperative budget, as tokio's own channels do, so a flooded
    /// server still lets its neighbours run.
    pub(crate) fn poll_recv(&mut self, mailbox: &Mailbox<T>, cx: &mut Context<'_>) -> Poll<T> {
        let coop = ready!(tokio::task::coop::poll_proceed(cx));
        if let Some(message) = self.taken.pop() {
            coop.made_progress();
            return Poll::Ready(message);
        }
        let mut state = mailbox.state.lock();
        if let Some(message) = state.queue.pop() {
            // The rest of the burst comes along, to be handed out without the lock;
            // the senders get the emptied queue, and with it its spare blocks.
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
        // Both sides are empty: what a burst left is given back.
        state.queue.shrink();
        drop(state);
        self.previous_end = 0;
        self.taken.shrink();
        Poll::Pending
    }
}

/// Messages in order, pushed at the back and popped at the front: one ring while at
/// most [`RING`] are queued (as small as a `VecDeque`, and nothing allocated until
/// the first message), a chain of blocks beyond, so that a backlog of millions
/// grows without copying what is queued.
enum Queue<T> {
    Ring(VecDeque<T>),
    /// Behind a pointer, so that a queue is no larger than a ring.
    Blocks(Box<Blocks<T>>),
}

/// A queue longer than a ring. Each block is allocated for [`Blocks::SLOTS`]
/// messages and never grows: written as a `Vec` (a plain push), read as a
/// `VecDeque` (each converts to the other without copying).
struct Blocks<T> {
    /// The oldest messages, popped first: the ring the queue began with, or a block.
    read: VecDeque<T>,
    /// The full blocks after `read`, oldest first.
    full: VecDeque<Vec<T>>,
    /// The newest messages, pushed to. Empty if its block was taken for reading.
    write: Vec<T>,
    /// The block read before `read`, emptied, for the next block written.
    spare: Option<Vec<T>>,
}

impl<T> Default for Queue<T> {
    fn default() -> Self {
        Queue::new()
    }
}

impl<T> Queue<T> {
    /// Allocates nothing.
    const fn new() -> Self {
        Queue::Ring(VecDeque::new())
    }

    #[inline]
    fn push(&mut self, message: T) {
        match self {
            Queue::Ring(ring) if ring.len() < RING => ring.push_back(message),
            Queue::Blocks(blocks) => blocks.push(message),
            Queue::Ring(ring) => *self = Queue::chain(std::mem::take(ring), message),
        }
    }

    /// A full ring becomes the first block of a chain, `message` the first of the next.
    #[cold]
    #[inline(never)]
    fn chain(ring: VecDeque<T>, message: T) -> Queue<T> {
        let mut write = Vec::with_capacity(Blocks::<T>::SLOTS);
        write.push(message);
        Queue::Blocks(Box::new(Blocks {
            read: ring,
            full: VecDeque::new(),
            write,
            spare: None,
        }))
    }

    #[inline]
    fn pop(&mut self) -> Option<T> {
        match self {
            Queue::Ring(ring) => ring.pop_front(),
            Queue::Blocks(blocks) => blocks.pop(),
        }
    }

    /// Gives back what a burst left, keeping the block read last (so the next
    /// burst need not allocate its first one, and the allocator, whose most recent
    /// memory it is, keeps the rest to hand out again rather than return it to the
    /// kernel). Only for an empty queue (queued messages would be dropped).
    #[inline]
    fn shrink(&mut self) {
        if let Queue::Blocks(blocks) = self {
            debug_assert!(blocks.read.is_empty() && blocks.full.is_empty());
            debug_assert!(blocks.write.is_empty());
            *self = Queue::Ring(std::mem::take(&mut blocks.read));
        }
    }

    /// Bytes allocated for messages and blocks, and kept.
    #[cfg(test)]
    fn allocated(&self) -> usize {
        let block = |block: &Vec<T>| block.capacity() * size_of::<T>();
        match self {
            Queue::Ring(ring) => ring.capacity() * size_of::<T>(),
            Queue::Blocks(blocks) => {
                size_of::<Blocks<T>>()
                    + blocks.read.capacity() * size_of::<T>()
                    + blocks.full.capacity() * size_of::<Vec<T>>()
                    + blocks.full.iter().map(block).sum::<usize>()
                    + block(&blocks.write)
                    + blocks.spare.as_ref().map_or(0, block)
            }
        }
    }
}

impl<T> Blocks<T> {
    /// Messages in a block: [`BLOCK_BYTES`] worth, at least [`RING`].
    const SLOTS: usize = match BLOCK_BYTES.checked_div(size_of::<T>()) {
        Some(slots) if slots > RING => slots,
        _ => RING,
    };

    #[inline]
    fn push(&mut self, message: T) {
        if self.write.len() == self.write.capacity() {
            self.next_block();
        }
        self.write.push(message);
    }

    /// `write` is full (or was taken for reading): the spare block, or a new one,
    /// takes its place.
    #[cold]
    #[inline(never)]
    fn next_block(&mut self) {
        let next = match self.spare.take() {
            Some(spare) => spare,
            None => Vec::with_capacity(Self::SLOTS),
        };
        let full = std::mem::replace(&mut self.write, next);
        if !full.is_empty() {
            self.full.push_back(full);
        }
    }

    #[inline]
    fn pop(&mut self) -> Option<T> {
        match self.read.pop_front() {
            Some(message) => Some(message),
            None => self.pop_next_block(),
        }
    }

    /// `read` is used up: the next block is read, and the emptied one kept as the
    /// spare if it is a whole block.
    #[cold]
    #[inline(never)]
    fn pop_next_block(&mut self) -> Option<T> {
        let next = match self.full.pop_front() {
            Some(next) => next,
            None if !self.write.is_empty() => std::mem::take(&mut self.write),
            None => return None,
        };
        let emptied = std::mem::replace(&mut self.read, VecDeque::from(next));
        if emptied.capacity() >= Self::SLOTS {
            self.spare = Some(Vec::from(emptied));
        }
        self.read.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::task::Waker;

    use proptest::prelude::*;

    use super::*;

    fn poll<T>(inbox: &mut Inbox<T>, mailbox: &Mailbox<T>) -> Poll<T> {
        inbox.poll_recv(mailbox, &mut Context::from_waker(Waker::noop()))
    }

    fn open<T>() -> (Mailbox<T>, Inbox<T>) {
        (Mailbox::new(), Inbox::new())
    }

    /// Bytes the mailbox keeps for messages, on both sides.
    fn allocated<T>(mailbox: &Mailbox<T>, inbox: &Inbox<T>) -> usize {
        mailbox.state.lock().queue.allocated() + inbox.taken.allocated()
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
    fn order_holds_across_blocks_while_both_sides_are_busy() {
        // Sends land in the shared queue while the inbox still hands out an earlier
        // burst, so both sides hold chains of blocks and swap them.
        let (mailbox, mut inbox) = open();
        let block = Blocks::<u64>::SLOTS;
        let (mut sent, mut received) = (0u64, 0u64);
        for round in 0..50 {
            for _ in 0..(round * 7 * block / 10 + 3) % (5 * block) {
                mailbox.send(sent).unwrap();
                sent += 1;
            }
            for _ in 0..(round * 11 * block / 10) % (3 * block) {
                match poll(&mut inbox, &mailbox) {
                    Poll::Ready(n) => {
                        assert_eq!(n, received);
                        received += 1;
                    }
                    Poll::Pending => break,
                }
            }
        }
        while let Poll::Ready(n) = poll(&mut inbox, &mailbox) {
            assert_eq!(n, received);
            received += 1;
        }
        assert_eq!((received, mailbox.enqueued()), (sent, sent));
    }

    #[test]
    fn closing_hands_back_the_queued_messages_and_later_sends_fail() {
        let (mailbox, _inbox) = open();
        mailbox.send(1).unwrap();
        mailbox.send(2).unwrap();
        assert_eq!(mailbox.close().collect::<Vec<_>>(), [1, 2]);
        assert_eq!(mailbox.send(3), Err(3));
        assert_eq!(mailbox.close().count(), 0);
    }

    #[test]
    fn closing_hands_back_every_message_of_a_long_queue_in_order() {
        let (mailbox, mut inbox) = open();
        let block = Blocks::<usize>::SLOTS;
        let total = 10 * block + 5;
        for n in 0..total {
            mailbox.send(n).unwrap();
        }
        // Part taken and handled, the rest of that burst in the inbox, a later burst
        // queued behind it.
        for n in 0..block + 3 {
            assert_eq!(poll(&mut inbox, &mailbox), Poll::Ready(n));
        }
        for n in total..total + 3 * block {
            mailbox.send(n).unwrap();
        }
        let queued = mailbox.close();
        let rest: Vec<_> = inbox.drain().chain(queued).collect();
        assert_eq!(rest, (block + 3..total + 3 * block).collect::<Vec<_>>());
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
    fn nothing_is_allocated_before_the_first_message_nor_more_than_a_small_ring_by_it() {
        // An idle server's mailbox and inbox are no larger than a ring each.
        assert_eq!(size_of::<Queue<u64>>(), size_of::<VecDeque<u64>>());
        let (mailbox, inbox) = open::<u64>();
        assert_eq!(allocated(&mailbox, &inbox), 0);
        mailbox.send(1).unwrap();
        let first = allocated(&mailbox, &inbox);
        assert!(
            first > 0 && first < RING * size_of::<u64>(),
            "one message: {first} bytes"
        );
    }

    #[test]
    fn a_burst_s_memory_is_given_back_when_it_drains() {
        let (mailbox, mut inbox) = open::<[u64; 4]>();
        // At most one block on each side.
        let kept = 2 * BLOCK_BYTES;
        for burst in [RING + 1, 1000, 100_000] {
            for n in 0..burst {
                mailbox.send([n as u64; 4]).unwrap();
            }
            assert!(allocated(&mailbox, &inbox) > burst * size_of::<[u64; 4]>());
            // Drained in two parts, so both sides have held blocks.
            for _ in 0..burst / 2 {
                assert!(poll(&mut inbox, &mailbox).is_ready());
            }
            for n in 0..burst {
                mailbox.send([n as u64; 4]).unwrap();
            }
            while poll(&mut inbox, &mailbox).is_ready() {}
            let after = allocated(&mailbox, &inbox);
            assert!(after <= kept, "after {burst}: {after} bytes kept");
        }
    }

    #[test]
    fn a_long_queue_grows_without_moving_what_is_queued() {
        let slots = Blocks::<u64>::SLOTS;
        let mut queue = Queue::new();
        for n in 0..(RING + 2 * slots) as u64 {
            queue.push(n);
        }
        let Queue::Blocks(blocks) = &queue else {
            panic!("a queue longer than a ring is made of blocks");
        };
        let first_full = blocks.full[0].as_ptr();
        assert_eq!(blocks.full[0].capacity(), slots);
        for n in (RING + 2 * slots) as u64..(RING + 100 * slots) as u64 {
            queue.push(n);
        }
        let Queue::Blocks(blocks) = &queue else {
            panic!("a queue longer than a ring is made of blocks");
        };
        assert_eq!(
            blocks.full[0].as_ptr(),
            first_full,
            "a full block stays put"
        );
        assert!(blocks.full.iter().all(|block| block.len() == slots));
        assert_eq!(blocks.write.capacity(), slots, "blocks never grow");
        for n in 0..(RING + 100 * slots) as u64 {
            assert_eq!(queue.pop(), Some(n));
        }
        assert_eq!(queue.pop(), None);
    }

    #[test]
    fn the_block_read_last_is_written_next() {
        let slots = Blocks::<u64>::SLOTS;
        let mut queue = Queue::new();
        for n in 0..(RING + 3 * slots) as u64 {
            queue.push(n);
        }
        let Queue::Blocks(blocks) = &queue else {
            panic!("a queue longer than a ring is made of blocks");
        };
        let first = blocks.full[0].as_ptr();
        // The ring, then the first block, and one message of the second.
        for n in 0..(RING + slots + 1) as u64 {
            assert_eq!(queue.pop(), Some(n));
        }
        queue.push((RING + 3 * slots) as u64);
        let Queue::Blocks(blocks) = &queue else {
            panic!("a queue longer than a ring is made of blocks");
        };
        assert_eq!(blocks.write.as_ptr(), first, "the emptied block is reused");
        assert!(blocks.spare.is_none());
        for n in (RING + slots + 1) as u64..=(RING + 3 * slots) as u64 {
            assert_eq!(queue.pop(), Some(n));
        }
        assert_eq!(queue.pop(), None);
    }

    #[test]
    fn a_block_is_about_a_page_and_never_less_than_a_ring() {
        assert_eq!(Blocks::<u64>::SLOTS, BLOCK_BYTES / 8);
        assert_eq!(Blocks::<[u8; 1000]>::SLOTS, RING);
        assert_eq!(Blocks::<()>::SLOTS, RING);
        let mut queue = Queue::new();
        for _ in 0..10 * RING {
            queue.push(());
        }
        assert_eq!(std::iter::from_fn(|| queue.pop()).count(), 10 * RING);
    }

    /// What a test does to the mailbox next.
    #[derive(Clone, Debug)]
    enum Step {
        Send(usize),
        Receive(usize),
        Close,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            10 => (0..4 * RING).prop_map(Step::Send),
            10 => (0..4 * RING).prop_map(Step::Receive),
            1 => Just(Step::Close),
        ]
    }

    proptest! {
        /// Any mix of sends, receives and a close hands every message out once, in
        /// the order sent, as one `VecDeque` would. The messages are large enough
        /// that a block holds no more than a ring: many blocks, many boundaries.
        #[test]
        fn the_mailbox_behaves_as_one_fifo(steps in prop::collection::vec(step(), 1..40)) {
            prop_assert_eq!(Blocks::<[u32; 32]>::SLOTS, RING);
            let (mailbox, mut inbox) = open::<[u32; 32]>();
            let mut model = VecDeque::new();
            let mut next = 0u32;
            let mut closed = false;
            for step in steps {
                match step {
                    Step::Send(count) => {
                        for _ in 0..count {
                            let sent = mailbox.send([next; 32]);
                            if closed {
                                prop_assert_eq!(sent, Err([next; 32]));
                            } else {
                                prop_assert_eq!(sent, Ok(()));
                                model.push_back([next; 32]);
                            }
                            next += 1;
                        }
                    }
                    Step::Receive(count) => {
                        for _ in 0..count {
                            match poll(&mut inbox, &mailbox) {
                                Poll::Ready(message) => {
                                    prop_assert_eq!(Some(message), model.pop_front());
                                }
                                Poll::Pending => {
                                    prop_assert!(model.is_empty() || closed);
                                    break;
                                }
                            }
                        }
                    }
                    Step::Close => {
                        let queued = mailbox.close();
                        let rest: Vec<_> = inbox.drain().chain(queued).collect();
                        prop_assert_eq!(rest, model.drain(..).collect::<Vec<_>>());
                        closed = true;
                    }
                }
            }
        }
    }
}
