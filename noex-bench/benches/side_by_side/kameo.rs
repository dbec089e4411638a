//! kameo 0.22, without its default features (macros and tracing: the traits are
//! implemented by hand here). Servers get an unbounded mailbox, like every other
//! contender (kameo's default is bounded, 64); `ask` has no timeout. kameo has
//! supervision built in: a supervised child keeps its `ActorRef` (and its mailbox)
//! across restarts.

use std::sync::Arc;
use std::time::Duration;

use kameo::actor::{Actor, ActorRef, Spawn};
use kameo::error::Infallible;
use kameo::mailbox;
use kameo::message::{Context, Message};
use tokio::sync::{Notify, oneshot};

use crate::contender::{
    CRASH_MESSAGE, Classic, Contender, Flavor, Runtime, SKYNET_FAN_OUT, SKYNET_LEAVES, StartCount,
    Storm, Supervision, skynet_children,
};

/// Implements `Actor` for actors that are spawned with their initial state (what
/// kameo's derive does, without its macros feature).
macro_rules! started_with_state {
    ($($actor:ty),+) => {$(
        impl Actor for $actor {
            type Args = Self;
            type Error = Infallible;

            async fn on_start(state: Self, _: ActorRef<Self>) -> Result<Self, Infallible> {
                Ok(state)
            }
        }
    )+};
}

started_with_state!(Counter, Crashy, Restarter, RingNode);

pub struct Counter(u64);

pub struct Get;
pub struct Add(u64);

impl Message<Get> for Counter {
    type Reply = u64;

    async fn handle(&mut self, _: Get, _: &mut Context<Self, u64>) -> u64 {
        self.0
    }
}

impl Message<Add> for Counter {
    type Reply = ();

    async fn handle(&mut self, Add(amount): Add, _: &mut Context<Self, ()>) {
        self.0 += amount;
    }
}

#[derive(Clone)]
pub struct Kameo;

impl Contender for Kameo {
    const NAME: &'static str = "kameo";
    type Server = ActorRef<Counter>;

    fn setup(flavor: Flavor) -> (Runtime, Self) {
        (Runtime::Tokio(flavor.tokio()), Kameo)
    }

    async fn start(&self) -> Self::Server {
        Counter::spawn_with_mailbox(Counter(0), mailbox::unbounded())
    }

    async fn call(server: &Self::Server) -> u64 {
        server.ask(Get).await.expect("answered")
    }

    fn cast(server: &Self::Server, amount: u64) {
        server.tell(Add(amount)).try_send().expect("running");
    }

    async fn stop(server: Self::Server) {
        let _ = server.stop_gracefully().await;
        server.wait_for_shutdown().await;
    }
}

/// A child that panics when told to.
#[derive(Clone)]
pub struct Crashy;

pub struct Ping;
pub struct Crash;

impl Message<Ping> for Crashy {
    type Reply = u64;

    async fn handle(&mut self, _: Ping, _: &mut Context<Self, u64>) -> u64 {
        1
    }
}

impl Message<Crash> for Crashy {
    type Reply = ();

    async fn handle(&mut self, _: Crash, _: &mut Context<Self, ()>) {
        std::panic::panic_any(CRASH_MESSAGE);
    }
}

/// A one-for-one supervisor (kameo's default strategy).
pub struct Restarter;

#[derive(Clone)]
pub struct SupervisedChild {
    /// Held so the supervisor lives: a kameo actor stops when its last reference goes.
    _supervisor: ActorRef<Restarter>,
    child: ActorRef<Crashy>,
}

impl Supervision for Kameo {
    type Supervised = SupervisedChild;

    async fn start_supervised(&self) -> SupervisedChild {
        let supervisor = Restarter::spawn(Restarter);
        let child = Crashy::supervise(&supervisor, Crashy)
            .restart_limit(u32::MAX, Duration::from_millis(100))
            .spawn_with_mailbox(mailbox::unbounded())
            .await;
        SupervisedChild {
            _supervisor: supervisor,
            child,
        }
    }

    /// The same `ActorRef` reaches the restarted child: the ping waits in the mailbox
    /// behind the crash and is answered by the new instance.
    async fn crash_and_recover(supervised: &SupervisedChild) {
        let child = &supervised.child;
        child.tell(Crash).try_send().expect("running");
        child.ask(Ping).await.expect("answered after the restart");
    }
}

/// Where a skynet node sends its sum: its parent, or (the root) the caller.
pub enum SkynetParent {
    Node(ActorRef<SkynetNode>),
    Root(oneshot::Sender<u64>),
}

impl SkynetParent {
    fn send(self, sum: u64) {
        match self {
            SkynetParent::Node(parent) => {
                parent.tell(Sum(sum)).try_send().expect("the parent waits")
            }
            SkynetParent::Root(caller) => caller.send(sum).expect("the caller waits"),
        }
    }
}

pub struct SkynetNode {
    parent: Option<SkynetParent>,
    ordinal: u64,
    size: u64,
    sum: u64,
    pending: u64,
}

impl SkynetNode {
    fn spawn_node(parent: SkynetParent, ordinal: u64, size: u64) {
        let node = SkynetNode {
            parent: Some(parent),
            ordinal,
            size,
            sum: 0,
            pending: SKYNET_FAN_OUT,
        };
        SkynetNode::spawn_with_mailbox(node, mailbox::unbounded());
    }
}

/// `on_start` runs in the actor's own task (`spawn` does not wait for it): each
/// node starts its children there.
impl Actor for SkynetNode {
    type Args = Self;
    type Error = Infallible;

    async fn on_start(mut node: Self, me: ActorRef<Self>) -> Result<Self, Infallible> {
        if node.size == 1 {
            node.parent.take().expect("sent once").send(node.ordinal);
            let _ = me.stop_gracefully().await;
            return Ok(node);
        }
        for (ordinal, size) in skynet_children(node.ordinal, node.size) {
            SkynetNode::spawn_node(SkynetParent::Node(me.clone()), ordinal, size);
        }
        Ok(node)
    }
}

pub struct Sum(u64);

impl Message<Sum> for SkynetNode {
    type Reply = ();

    async fn handle(&mut self, Sum(sum): Sum, ctx: &mut Context<Self, ()>) {
        self.sum += sum;
        self.pending -= 1;
        if self.pending == 0 {
            self.parent.take().expect("sent once").send(self.sum);
            ctx.stop();
        }
    }
}

pub struct RingNode {
    next: Option<ActorRef<RingNode>>,
    done: Arc<Notify>,
}

pub struct Token(u64);
pub struct Next(ActorRef<RingNode>);

impl Message<Token> for RingNode {
    type Reply = ();

    async fn handle(&mut self, Token(hops): Token, _: &mut Context<Self, ()>) {
        if hops == 0 {
            self.done.notify_one();
        } else {
            let next = self.next.as_ref().expect("linked");
            next.tell(Token(hops - 1)).try_send().expect("running");
        }
    }
}

impl Message<Next> for RingNode {
    type Reply = ();

    async fn handle(&mut self, Next(node): Next, _: &mut Context<Self, ()>) {
        self.next = Some(node);
    }
}

pub struct KameoRing {
    first: ActorRef<RingNode>,
    done: Arc<Notify>,
}

impl Classic for Kameo {
    type Ring = KameoRing;

    async fn skynet(&self) -> u64 {
        let (root, sum) = oneshot::channel();
        SkynetNode::spawn_node(SkynetParent::Root(root), 0, SKYNET_LEAVES);
        sum.await.expect("the root's sum")
    }

    async fn ring(&self, nodes: usize) -> KameoRing {
        let done = Arc::new(Notify::new());
        let started: Vec<_> = (0..nodes)
            .map(|_| {
                let node = RingNode {
                    next: None,
                    done: done.clone(),
                };
                RingNode::spawn_with_mailbox(node, mailbox::unbounded())
            })
            .collect();
        for (i, node) in started.iter().enumerate() {
            let next = started[(i + 1) % nodes].clone();
            node.tell(Next(next)).try_send().expect("running");
        }
        let ring = KameoRing {
            first: started[0].clone(),
            done,
        };
        Self::pass_token(&ring, nodes as u64).await;
        ring
    }

    async fn pass_token(ring: &KameoRing, hops: u64) {
        ring.first.tell(Token(hops)).try_send().expect("running");
        ring.done.notified().await;
    }
}

/// A child that panics when told to, and counts its (re)starts: kameo restarts it
/// from these arguments, cloned.
#[derive(Clone)]
pub struct StormChild {
    started: Arc<StartCount>,
}

impl Actor for StormChild {
    type Args = Self;
    type Error = Infallible;

    async fn on_start(child: Self, _: ActorRef<Self>) -> Result<Self, Infallible> {
        child.started.started();
        Ok(child)
    }
}

impl Message<Ping> for StormChild {
    type Reply = u64;

    async fn handle(&mut self, _: Ping, _: &mut Context<Self, u64>) -> u64 {
        1
    }
}

impl Message<Crash> for StormChild {
    type Reply = ();

    async fn handle(&mut self, _: Crash, _: &mut Context<Self, ()>) {
        std::panic::panic_any(CRASH_MESSAGE);
    }
}

pub struct KameoStorm {
    /// Held so the supervisor lives: a kameo actor stops when its last reference goes.
    _supervisor: ActorRef<Restarter>,
    children: Vec<ActorRef<StormChild>>,
    started: Arc<StartCount>,
}

impl Storm for Kameo {
    type Storm = KameoStorm;

    /// kameo has no `simple_one_for_one`; its nearest is one supervisor (one-for-one,
    /// its default) with every child supervised by it, each with its own limit.
    async fn start_storm(&self, children: usize) -> KameoStorm {
        let started = Arc::new(StartCount::default());
        started.expect(children);
        let supervisor = Restarter::spawn(Restarter);
        let mut refs = Vec::with_capacity(children);
        for _ in 0..children {
            let child = StormChild {
                started: started.clone(),
            };
            refs.push(
                StormChild::supervise(&supervisor, child)
                    .restart_limit(u32::MAX, Duration::from_millis(100))
                    .spawn_with_mailbox(mailbox::unbounded())
                    .await,
            );
        }
        started.all_started().await;
        KameoStorm {
            _supervisor: supervisor,
            children: refs,
            started,
        }
    }

    /// The same `ActorRef` reaches the restarted child.
    async fn storm(storm: &KameoStorm) {
        storm.started.expect(storm.children.len());
        for child in &storm.children {
            child.tell(Crash).try_send().expect("running");
        }
        storm.started.all_started().await;
        for child in &storm.children {
            child.ask(Ping).await.expect("answered after the restart");
        }
    }
}
