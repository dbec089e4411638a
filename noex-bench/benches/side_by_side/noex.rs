//! noex: a GenServer, with the Observer counting every message (there is no switch
//! to turn it off). `call` carries noex's default 5 s timeout.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use noex::error::BoxError;
use noex::gen_server::{self, Context, GenServer, Info, Reply, StartOptions};
use noex::supervisor::{self, ChildSpec, SupervisorSpec};
use noex::{ExitReason, ServerRef, SupervisorRef, registry};
use tokio::sync::{Notify, oneshot};

use crate::contender::{
    CRASH_MESSAGE, Classic, Contender, Flavor, Runtime, SKYNET_FAN_OUT, SKYNET_LEAVES, StartCount,
    Storm, Supervision, skynet_children,
};

pub struct Counter(u64);

impl GenServer for Counter {
    type Call = ();
    type Cast = u64;
    type Reply = u64;

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<u64> {
        Reply::Now(self.0)
    }

    async fn handle_cast(&mut self, amount: u64, _: &mut Context<Self>) {
        self.0 += amount;
    }
}

#[derive(Clone)]
pub struct Noex {
    /// The supervised child's registered name.
    child_name: &'static str,
}

impl Contender for Noex {
    const NAME: &'static str = "noex";
    type Server = ServerRef<Counter>;

    fn setup(flavor: Flavor) -> (Runtime, Self) {
        let child_name = flavor.registered_name();
        (Runtime::Tokio(flavor.tokio()), Noex { child_name })
    }

    async fn start(&self) -> Self::Server {
        gen_server::start(Counter(0), StartOptions::new())
            .await
            .expect("started")
    }

    async fn call(server: &Self::Server) -> u64 {
        server.call(()).await.expect("answered")
    }

    fn cast(server: &Self::Server, amount: u64) {
        server.cast(amount).expect("running");
    }

    async fn stop(server: Self::Server) {
        let _ = server.stop(ExitReason::Normal).await;
    }
}

/// A child that crashes (panics) when told to.
pub struct Crashy;

pub struct Crash;

impl GenServer for Crashy {
    type Call = ();
    type Cast = Crash;
    type Reply = u64;

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<u64> {
        Reply::Now(1)
    }

    async fn handle_cast(&mut self, _: Crash, _: &mut Context<Self>) {
        std::panic::panic_any(CRASH_MESSAGE);
    }
}

#[derive(Clone)]
pub struct SupervisedChild {
    name: &'static str,
}

impl Supervision for Noex {
    type Supervised = SupervisedChild;

    async fn start_supervised(&self) -> SupervisedChild {
        let name = self.child_name;
        supervisor::start(
            SupervisorSpec::one_for_one()
                .max_restarts(u32::MAX, Duration::from_millis(100))
                .child(ChildSpec::worker("crashy", || Crashy).name(name)),
        )
        .await
        .expect("supervisor started");
        SupervisedChild { name }
    }

    /// A restarted noex child is a new process with a new mailbox (OTP's contract:
    /// it starts with an empty mailbox), so the caller waits for the crash and finds
    /// the child again by name, as a client of a supervised server does.
    async fn crash_and_recover(child: &SupervisedChild) {
        let old = registry::lookup::<Crashy>(child.name).expect("registered");
        old.cast(Crash).expect("running");
        old.wait().await;
        loop {
            if let Ok(new) = registry::lookup::<Crashy>(child.name)
                && new.pid() != old.pid()
                && new.call(()).await.is_ok()
            {
                return;
            }
            tokio::task::yield_now().await;
        }
    }
}

/// Where a skynet node sends its sum: its parent, or (the root) the caller.
pub enum SkynetParent {
    Node(ServerRef<SkynetNode>),
    Root(oneshot::Sender<u64>),
}

impl SkynetParent {
    fn send(self, sum: u64) {
        match self {
            SkynetParent::Node(parent) => parent.cast(sum).expect("the parent waits"),
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

    fn finish(&mut self, sum: u64, ctx: &mut Context<Self>) {
        self.parent.take().expect("sent once").send(sum);
        ctx.stop(ExitReason::Normal);
    }
}

/// The continuation that starts a node's children, in the node's own task.
struct StartChildren;

impl GenServer for SkynetNode {
    type Call = ();
    type Cast = u64;
    type Reply = ();

    /// `start` waits for `init`: the children are started after it (OTP's
    /// `{continue, _}`), so every node starts its subtree in its own process.
    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), BoxError> {
        ctx.continue_with(StartChildren);
        Ok(())
    }

    async fn handle_continue(&mut self, _: Info, ctx: &mut Context<Self>) {
        if self.size == 1 {
            return self.finish(self.ordinal, ctx);
        }
        let me = ctx.myself();
        for (ordinal, size) in skynet_children(self.ordinal, self.size) {
            let child = SkynetNode::new(SkynetParent::Node(me.clone()), ordinal, size);
            gen_server::start(child, StartOptions::new())
                .await
                .expect("started");
        }
    }

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }

    async fn handle_cast(&mut self, sum: u64, ctx: &mut Context<Self>) {
        self.sum += sum;
        self.pending -= 1;
        if self.pending == 0 {
            self.finish(self.sum, ctx);
        }
    }
}

pub enum RingMessage {
    Token(u64),
    Next(ServerRef<RingNode>),
}

pub struct RingNode {
    next: Option<ServerRef<RingNode>>,
    done: Arc<Notify>,
}

impl GenServer for RingNode {
    type Call = ();
    type Cast = RingMessage;
    type Reply = ();

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }

    async fn handle_cast(&mut self, message: RingMessage, _: &mut Context<Self>) {
        match message {
            RingMessage::Next(node) => self.next = Some(node),
            RingMessage::Token(0) => self.done.notify_one(),
            RingMessage::Token(hops) => {
                let next = self.next.as_ref().expect("linked");
                next.cast(RingMessage::Token(hops - 1)).expect("running");
            }
        }
    }
}

pub struct NoexRing {
    first: ServerRef<RingNode>,
    done: Arc<Notify>,
}

impl Classic for Noex {
    type Ring = NoexRing;

    async fn skynet(&self) -> u64 {
        let (root, sum) = oneshot::channel();
        let root = SkynetNode::new(SkynetParent::Root(root), 0, SKYNET_LEAVES);
        gen_server::start(root, StartOptions::new())
            .await
            .expect("started");
        sum.await.expect("the root's sum")
    }

    async fn ring(&self, nodes: usize) -> NoexRing {
        let done = Arc::new(Notify::new());
        let mut started = Vec::with_capacity(nodes);
        for _ in 0..nodes {
            let node = RingNode {
                next: None,
                done: done.clone(),
            };
            started.push(
                gen_server::start(node, StartOptions::new())
                    .await
                    .expect("started"),
            );
        }
        for (i, node) in started.iter().enumerate() {
            let next = started[(i + 1) % nodes].clone();
            node.cast(RingMessage::Next(next)).expect("running");
        }
        let ring = NoexRing {
            first: started[0].clone(),
            done,
        };
        Self::pass_token(&ring, nodes as u64).await;
        ring
    }

    async fn pass_token(ring: &NoexRing, hops: u64) {
        ring.first.cast(RingMessage::Token(hops)).expect("running");
        ring.done.notified().await;
    }
}

/// What the storm's children share: each one's current instance, and a count of
/// the instances that have started.
pub struct StormShared {
    children: Vec<Mutex<Option<ServerRef<StormChild>>>>,
    started: StartCount,
}

impl StormShared {
    fn new(children: usize) -> Arc<Self> {
        Arc::new(StormShared {
            children: (0..children).map(|_| Mutex::new(None)).collect(),
            started: StartCount::default(),
        })
    }
}

/// A `simple_one_for_one` child's argument: its slot, and what the children share.
pub struct StormArg(usize, Arc<StormShared>);

/// A child that crashes (panics) when told to, and says so when it (re)starts.
pub struct StormChild {
    index: usize,
    shared: Arc<StormShared>,
}

impl GenServer for StormChild {
    type Call = ();
    type Cast = Crash;
    type Reply = u64;

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), BoxError> {
        *self.shared.children[self.index].lock().expect("slot") = Some(ctx.myself());
        self.shared.started.started();
        Ok(())
    }

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<u64> {
        Reply::Now(1)
    }

    async fn handle_cast(&mut self, _: Crash, _: &mut Context<Self>) {
        std::panic::panic_any(CRASH_MESSAGE);
    }
}

impl Storm for Noex {
    /// The supervisor is kept so that it lives as long as the storm.
    type Storm = (SupervisorRef, Arc<StormShared>);

    async fn start_storm(&self, children: usize) -> Self::Storm {
        let shared = StormShared::new(children);
        let template =
            ChildSpec::worker_with("storm", |StormArg(index, shared): &StormArg| StormChild {
                index: *index,
                shared: shared.clone(),
            });
        // Every child crashes at once: no intensity the storm could exceed.
        let supervisor = supervisor::start(
            SupervisorSpec::simple_one_for_one(template)
                .max_restarts(u32::MAX, Duration::from_millis(100)),
        )
        .await
        .expect("supervisor started");
        shared.started.expect(children);
        for index in 0..children {
            supervisor
                .start_child_with(StormArg(index, shared.clone()))
                .await
                .expect("child started");
        }
        shared.started.all_started().await;
        (supervisor, shared)
    }

    /// A restarted child is a new process: its new reference is the one its `init`
    /// left in its slot.
    async fn storm((_, shared): &Self::Storm) {
        let current = |slot: &Mutex<Option<ServerRef<StormChild>>>| {
            slot.lock().expect("slot").clone().expect("started")
        };
        shared.started.expect(shared.children.len());
        for slot in &shared.children {
            current(slot).cast(Crash).expect("running");
        }
        shared.started.all_started().await;
        for slot in &shared.children {
            current(slot).call(()).await.expect("answered");
        }
    }
}
