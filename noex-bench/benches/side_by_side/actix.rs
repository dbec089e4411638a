//! actix 0.13, without its macros (the traits are implemented by hand). actix runs on
//! its own runtime: a `System` (actix-rt: a current-thread tokio runtime with a
//! `LocalSet`). Its "multi-thread" flavour here hosts the servers on an `Arbiter` (a
//! thread with its own single-threaded runtime) while the callers stay on the
//! System's thread: actix has no work-stealing scheduler. `send` has no timeout
//! unless asked. actix's `Supervisor` restarts an actor that stops, keeping its
//! address; it does not catch panics, so a crash here is the actor stopping itself.

use std::sync::Arc;

use actix::{
    Actor, ActorContext, Addr, AsyncContext, Context, Handler, Message, Supervised, Supervisor,
};
use actix_rt::{Arbiter, ArbiterHandle, System};
use tokio::sync::{Notify, oneshot};

use crate::contender::{
    Classic, Contender, Flavor, Runtime, SKYNET_FAN_OUT, SKYNET_LEAVES, StartCount, Storm,
    Supervision, skynet_children,
};

pub struct Counter(u64);

impl Actor for Counter {
    type Context = Context<Self>;
}

pub struct Get;
pub struct Add(u64);

impl Message for Get {
    type Result = u64;
}

impl Message for Add {
    type Result = ();
}

impl Handler<Get> for Counter {
    type Result = u64;

    fn handle(&mut self, _: Get, _: &mut Context<Self>) -> u64 {
        self.0
    }
}

impl Handler<Add> for Counter {
    type Result = ();

    fn handle(&mut self, Add(amount): Add, _: &mut Context<Self>) {
        self.0 += amount;
    }
}

#[derive(Clone)]
pub struct Actix {
    /// Where servers start: the arbiter thread, or (`None`) the System's own thread.
    arbiter: Option<ArbiterHandle>,
}

impl Contender for Actix {
    const NAME: &'static str = "actix";
    type Server = Addr<Counter>;

    fn setup(flavor: Flavor) -> (Runtime, Self) {
        let system = System::new();
        let arbiter = match flavor {
            Flavor::CurrentThread => None,
            Flavor::MultiThread => Some(system.block_on(async { Arbiter::new() })),
        };
        let actix = Actix {
            arbiter: arbiter.as_ref().map(Arbiter::handle),
        };
        (Runtime::Actix { system, arbiter }, actix)
    }

    async fn start(&self) -> Self::Server {
        match &self.arbiter {
            None => Counter(0).start(),
            Some(arbiter) => Counter::start_in_arbiter(arbiter, |_| Counter(0)),
        }
    }

    async fn call(server: &Self::Server) -> u64 {
        server.send(Get).await.expect("answered")
    }

    fn cast(server: &Self::Server, amount: u64) {
        server.do_send(Add(amount));
    }

    async fn stop(server: Self::Server) {
        // An actix actor stops when its last address is gone.
        drop(server);
    }
}

/// A child that stops itself when told to; its `Supervisor` restarts it.
pub struct Crashy;

impl Actor for Crashy {
    type Context = Context<Self>;
}

impl Supervised for Crashy {}

pub struct Ping;
pub struct Crash;

impl Message for Ping {
    type Result = u64;
}

impl Message for Crash {
    type Result = ();
}

impl Handler<Ping> for Crashy {
    type Result = u64;

    fn handle(&mut self, _: Ping, _: &mut Context<Self>) -> u64 {
        1
    }
}

impl Handler<Crash> for Crashy {
    type Result = ();

    fn handle(&mut self, _: Crash, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

impl Supervision for Actix {
    type Supervised = Addr<Crashy>;

    async fn start_supervised(&self) -> Addr<Crashy> {
        match &self.arbiter {
            None => Supervisor::start(|_| Crashy),
            Some(arbiter) => Supervisor::start_in_arbiter(arbiter, |_| Crashy),
        }
    }

    /// The same address reaches the restarted actor: the ping waits in the mailbox
    /// behind the crash and is answered by the new instance.
    async fn crash_and_recover(child: &Addr<Crashy>) {
        child.do_send(Crash);
        child.send(Ping).await.expect("answered after the restart");
    }
}

impl Actix {
    /// Start an actor where this flavour's servers run.
    fn start_here<A>(&self, actor: A) -> Addr<A>
    where
        A: Actor<Context = Context<A>> + Send,
    {
        match &self.arbiter {
            None => actor.start(),
            Some(arbiter) => A::start_in_arbiter(arbiter, |_| actor),
        }
    }
}

/// Where a skynet node sends its sum: its parent, or (the root) the caller.
pub enum SkynetParent {
    Node(Addr<SkynetNode>),
    Root(oneshot::Sender<u64>),
}

impl SkynetParent {
    fn send(self, sum: u64) {
        match self {
            SkynetParent::Node(parent) => parent.do_send(Sum(sum)),
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
    fn new(parent: SkynetParent, ordinal: u64, size: u64) -> Self {
        SkynetNode {
            parent: Some(parent),
            ordinal,
            size,
            sum: 0,
            pending: SKYNET_FAN_OUT,
        }
    }
}

/// `started` runs in the actor's context once it is polled (`start` does not wait):
/// each node starts its children there, on the same thread (arbiter) as itself.
impl Actor for SkynetNode {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if self.size == 1 {
            self.parent.take().expect("sent once").send(self.ordinal);
            ctx.stop();
            return;
        }
        let me = ctx.address();
        for (ordinal, size) in skynet_children(self.ordinal, self.size) {
            SkynetNode::new(SkynetParent::Node(me.clone()), ordinal, size).start();
        }
    }
}

pub struct Sum(u64);

impl Message for Sum {
    type Result = ();
}

impl Handler<Sum> for SkynetNode {
    type Result = ();

    fn handle(&mut self, Sum(sum): Sum, ctx: &mut Context<Self>) {
        self.sum += sum;
        self.pending -= 1;
        if self.pending == 0 {
            self.parent.take().expect("sent once").send(self.sum);
            ctx.stop();
        }
    }
}

pub struct RingNode {
    next: Option<Addr<RingNode>>,
    done: Arc<Notify>,
}

impl Actor for RingNode {
    type Context = Context<Self>;
}

pub struct Token(u64);
pub struct Next(Addr<RingNode>);

impl Message for Token {
    type Result = ();
}

impl Message for Next {
    type Result = ();
}

impl Handler<Token> for RingNode {
    type Result = ();

    fn handle(&mut self, Token(hops): Token, _: &mut Context<Self>) {
        if hops == 0 {
            self.done.notify_one();
        } else {
            self.next.as_ref().expect("linked").do_send(Token(hops - 1));
        }
    }
}

impl Handler<Next> for RingNode {
    type Result = ();

    fn handle(&mut self, Next(node): Next, _: &mut Context<Self>) {
        self.next = Some(node);
    }
}

pub struct ActixRing {
    first: Addr<RingNode>,
    done: Arc<Notify>,
}

impl Classic for Actix {
    type Ring = ActixRing;

    async fn skynet(&self) -> u64 {
        let (root, sum) = oneshot::channel();
        self.start_here(SkynetNode::new(SkynetParent::Root(root), 0, SKYNET_LEAVES));
        sum.await.expect("the root's sum")
    }

    async fn ring(&self, nodes: usize) -> ActixRing {
        let done = Arc::new(Notify::new());
        let started: Vec<_> = (0..nodes)
            .map(|_| {
                self.start_here(RingNode {
                    next: None,
                    done: done.clone(),
                })
            })
            .collect();
        for (i, node) in started.iter().enumerate() {
            node.do_send(Next(started[(i + 1) % nodes].clone()));
        }
        let ring = ActixRing {
            first: started[0].clone(),
            done,
        };
        Self::pass_token(&ring, nodes as u64).await;
        ring
    }

    async fn pass_token(ring: &ActixRing, hops: u64) {
        ring.first.do_send(Token(hops));
        ring.done.notified().await;
    }
}

/// A child that stops itself when told to, and counts its starts: its `Supervisor`
/// runs `started` again after each restart in place.
pub struct StormChild {
    started: Arc<StartCount>,
}

impl Actor for StormChild {
    type Context = Context<Self>;

    fn started(&mut self, _: &mut Context<Self>) {
        self.started.started();
    }
}

impl Supervised for StormChild {}

impl Handler<Ping> for StormChild {
    type Result = u64;

    fn handle(&mut self, _: Ping, _: &mut Context<Self>) -> u64 {
        1
    }
}

impl Handler<Crash> for StormChild {
    type Result = ();

    fn handle(&mut self, _: Crash, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

pub struct ActixStorm {
    children: Vec<Addr<StormChild>>,
    started: Arc<StartCount>,
}

impl Storm for Actix {
    type Storm = ActixStorm;

    /// actix has no supervisor of many children: each child gets its own
    /// `Supervisor`, which restarts it in place (same value, same mailbox) when it
    /// stops. Not the restart the other libraries do: the summary shows "n/a".
    async fn start_storm(&self, children: usize) -> ActixStorm {
        let started = Arc::new(StartCount::default());
        started.expect(children);
        let refs = (0..children)
            .map(|_| {
                let child = StormChild {
                    started: started.clone(),
                };
                match &self.arbiter {
                    None => Supervisor::start(|_| child),
                    Some(arbiter) => Supervisor::start_in_arbiter(arbiter, |_| child),
                }
            })
            .collect();
        started.all_started().await;
        ActixStorm {
            children: refs,
            started,
        }
    }

    async fn storm(storm: &ActixStorm) {
        storm.started.expect(storm.children.len());
        for child in &storm.children {
            child.do_send(Crash);
        }
        storm.started.all_started().await;
        for child in &storm.children {
            child.send(Ping).await.expect("answered after the restart");
        }
    }
}
