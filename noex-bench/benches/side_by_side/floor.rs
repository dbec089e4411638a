//! The floor: what any actor on tokio must at least do. An unbounded mpsc mailbox, a
//! task looping over it, and a oneshot per request. No library does less.
//!
//! [`Counted`] is the same loop doing the per-message bookkeeping that noex's Observer
//! does (see `noex-lib/src/process/cell.rs`): the sender bumps an `enqueued` counter on
//! its own cache line, the server stores `handled`, the "handler running since" stamp
//! and the busy time, reading the coarse clock twice. noex has no switch to turn
//! counting off, so this is how the Observer's share of noex's cost is measured.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{Notify, mpsc, oneshot};

use crate::contender::{Classic, Contender, Flavor, Runtime, SKYNET_FAN_OUT, skynet_children};

pub enum Message {
    Call(oneshot::Sender<u64>),
    Cast(u64),
}

#[derive(Clone)]
pub struct Floor;

async fn serve(mut mailbox: mpsc::UnboundedReceiver<Message>) {
    let mut count = 0u64;
    while let Some(message) = mailbox.recv().await {
        match message {
            Message::Call(reply) => {
                let _ = reply.send(count);
            }
            Message::Cast(amount) => count += amount,
        }
    }
}

async fn serve_counted(mut mailbox: mpsc::UnboundedReceiver<Message>, counters: Arc<Counters>) {
    let mut count = 0u64;
    while let Some(message) = mailbox.recv().await {
        let started = counters.handler_started();
        let reply = match message {
            Message::Call(reply) => Some(reply),
            Message::Cast(amount) => {
                count += amount;
                None
            }
        };
        // Counted before the caller is answered, as noex does.
        counters.handler_finished(started);
        if let Some(reply) = reply {
            let _ = reply.send(count);
        }
    }
}

async fn call(mailbox: &mpsc::UnboundedSender<Message>) -> u64 {
    let (reply, answer) = oneshot::channel();
    mailbox.send(Message::Call(reply)).expect("running");
    answer.await.expect("answered")
}

impl Contender for Floor {
    const NAME: &'static str = "tokio_bare";
    type Server = mpsc::UnboundedSender<Message>;

    fn setup(flavor: Flavor) -> (Runtime, Self) {
        (Runtime::Tokio(flavor.tokio()), Floor)
    }

    async fn start(&self) -> Self::Server {
        let (sender, mailbox) = mpsc::unbounded_channel();
        tokio::spawn(serve(mailbox));
        sender
    }

    async fn call(server: &Self::Server) -> u64 {
        call(server).await
    }

    fn cast(server: &Self::Server, amount: u64) {
        server.send(Message::Cast(amount)).expect("running");
    }

    async fn stop(server: Self::Server) {
        // The loop ends when its last sender is gone.
        drop(server);
    }
}

/// The floor plus noex's per-message counting.
#[derive(Clone)]
pub struct Counted;

#[derive(Default)]
#[repr(align(64))]
struct CachePadded<T>(T);

/// The same fields and the same operations as noex's `Counters`.
#[derive(Default)]
pub struct Counters {
    enqueued: CachePadded<AtomicU64>,
    handled: CachePadded<AtomicU64>,
    busy_ns: AtomicU64,
    handler_since: AtomicU64,
}

impl Counters {
    fn on_enqueue(&self) {
        self.enqueued.0.fetch_add(1, Ordering::Relaxed);
    }

    fn handler_started(&self) -> u64 {
        let handled = &self.handled.0;
        handled.store(handled.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        let now = coarse_now_ns().max(1);
        self.handler_since.store(now, Ordering::Relaxed);
        now
    }

    fn handler_finished(&self, started: u64) {
        let elapsed = coarse_now_ns().saturating_sub(started);
        self.handler_since.store(0, Ordering::Relaxed);
        let busy = self.busy_ns.load(Ordering::Relaxed);
        self.busy_ns.store(busy + elapsed, Ordering::Relaxed);
    }
}

fn coarse_now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC_COARSE exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[derive(Clone)]
pub struct CountedServer {
    mailbox: mpsc::UnboundedSender<Message>,
    counters: Arc<Counters>,
}

impl Contender for Counted {
    const NAME: &'static str = "tokio_bare_counted";
    type Server = CountedServer;

    fn setup(flavor: Flavor) -> (Runtime, Self) {
        (Runtime::Tokio(flavor.tokio()), Counted)
    }

    async fn start(&self) -> Self::Server {
        let (mailbox, receiver) = mpsc::unbounded_channel();
        let counters = Arc::new(Counters::default());
        tokio::spawn(serve_counted(receiver, counters.clone()));
        CountedServer { mailbox, counters }
    }

    async fn call(server: &Self::Server) -> u64 {
        let (reply, answer) = oneshot::channel();
        server.mailbox.send(Message::Call(reply)).expect("running");
        server.counters.on_enqueue();
        answer.await.expect("answered")
    }

    fn cast(server: &Self::Server, amount: u64) {
        server.mailbox.send(Message::Cast(amount)).expect("running");
        server.counters.on_enqueue();
    }

    async fn stop(server: Self::Server) {
        drop(server);
    }
}

/// A skynet node: a task with its own channel, which its children send their sums to.
fn skynet_node(parent: mpsc::UnboundedSender<u64>, ordinal: u64, size: u64) {
    tokio::spawn(async move {
        // Every node is an actor with a mailbox, leaves included.
        let (me, mut mailbox) = mpsc::unbounded_channel();
        if size == 1 {
            let _ = parent.send(ordinal);
            return;
        }
        for (ordinal, size) in skynet_children(ordinal, size) {
            skynet_node(me.clone(), ordinal, size);
        }
        drop(me);
        let mut sum = 0;
        for _ in 0..SKYNET_FAN_OUT {
            sum += mailbox.recv().await.expect("a child's sum");
        }
        let _ = parent.send(sum);
    });
}

pub enum RingMessage {
    Token(u64),
    Next(mpsc::UnboundedSender<RingMessage>),
}

async fn ring_node(mut mailbox: mpsc::UnboundedReceiver<RingMessage>, done: Arc<Notify>) {
    let mut next = None;
    while let Some(message) = mailbox.recv().await {
        match message {
            RingMessage::Next(node) => next = Some(node),
            RingMessage::Token(0) => done.notify_one(),
            RingMessage::Token(hops) => {
                let next: &mpsc::UnboundedSender<RingMessage> = next.as_ref().expect("linked");
                let _ = next.send(RingMessage::Token(hops - 1));
            }
        }
    }
}

pub struct FloorRing {
    first: mpsc::UnboundedSender<RingMessage>,
    done: Arc<Notify>,
}

impl Classic for Floor {
    type Ring = FloorRing;

    async fn skynet(&self) -> u64 {
        let (root, mut sum) = mpsc::unbounded_channel();
        skynet_node(root, 0, crate::contender::SKYNET_LEAVES);
        sum.recv().await.expect("the root's sum")
    }

    async fn ring(&self, nodes: usize) -> FloorRing {
        let done = Arc::new(Notify::new());
        let senders: Vec<_> = (0..nodes)
            .map(|_| {
                let (sender, mailbox) = mpsc::unbounded_channel();
                tokio::spawn(ring_node(mailbox, done.clone()));
                sender
            })
            .collect();
        for (i, node) in senders.iter().enumerate() {
            let next = senders[(i + 1) % nodes].clone();
            let _ = node.send(RingMessage::Next(next));
        }
        let ring = FloorRing {
            first: senders[0].clone(),
            done,
        };
        Self::pass_token(&ring, nodes as u64).await;
        ring
    }

    async fn pass_token(ring: &FloorRing, hops: u64) {
        let _ = ring.first.send(RingMessage::Token(hops));
        ring.done.notified().await;
    }
}
