//! ractor 0.16, default features. `call` has no timeout (`call!`, `None`); the
//! mailbox is unbounded. ractor's supervision is linking plus supervision events:
//! the restart itself is code the user writes in `handle_supervisor_evt`, as here.
//!
//! With `--features ractor-cluster` (the cluster bench's ractor_cluster), ractor's
//! own `cluster` feature is on for every bench of this crate, and ractor drops its
//! blanket `Message` impl: each message type here then says it is one. Local
//! messages then cost 10-25% more (a larger boxed message, a check that the actor
//! is local), so this bench's figures are taken without the feature.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ractor::{
    Actor, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent, call, registry,
};
use tokio::sync::{Notify, oneshot};

use crate::contender::{
    CRASH_MESSAGE, Classic, Contender, Flavor, Runtime, SKYNET_FAN_OUT, SKYNET_LEAVES, StartCount,
    Storm, Supervision, skynet_children,
};

pub struct Counter;

pub enum CounterMsg {
    Get(RpcReplyPort<u64>),
    Add(u64),
}

#[cfg(feature = "ractor-cluster")]
impl ractor::Message for CounterMsg {}

impl Actor for Counter {
    type Msg = CounterMsg;
    type State = u64;
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<CounterMsg>, _: ()) -> Result<u64, ActorProcessingErr> {
        Ok(0)
    }

    async fn handle(
        &self,
        _: ActorRef<CounterMsg>,
        message: CounterMsg,
        count: &mut u64,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            CounterMsg::Get(reply) => {
                let _ = reply.send(*count);
            }
            CounterMsg::Add(amount) => *count += amount,
        }
        Ok(())
    }
}

#[derive(Clone)]
pub struct Ractor {
    child_name: &'static str,
}

impl Contender for Ractor {
    const NAME: &'static str = "ractor";
    type Server = ActorRef<CounterMsg>;

    fn setup(flavor: Flavor) -> (Runtime, Self) {
        let child_name = flavor.registered_name();
        (Runtime::Tokio(flavor.tokio()), Ractor { child_name })
    }

    async fn start(&self) -> Self::Server {
        Actor::spawn(None, Counter, ()).await.expect("started").0
    }

    async fn call(server: &Self::Server) -> u64 {
        call!(server, CounterMsg::Get).expect("answered")
    }

    fn cast(server: &Self::Server, amount: u64) {
        server.cast(CounterMsg::Add(amount)).expect("running");
    }

    async fn stop(server: Self::Server) {
        let _ = server.stop_and_wait(None, None).await;
    }
}

/// A child that panics when told to.
pub struct Crashy;

pub enum CrashyMsg {
    Ping(RpcReplyPort<u64>),
    Crash,
}

#[cfg(feature = "ractor-cluster")]
impl ractor::Message for CrashyMsg {}

impl Actor for Crashy {
    type Msg = CrashyMsg;
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<CrashyMsg>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle(
        &self,
        _: ActorRef<CrashyMsg>,
        message: CrashyMsg,
        _: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        match message {
            CrashyMsg::Ping(reply) => {
                let _ = reply.send(1);
            }
            CrashyMsg::Crash => std::panic::panic_any(CRASH_MESSAGE),
        }
        Ok(())
    }
}

/// Restarts its child, under the same name, whenever it fails.
struct Restarter {
    child_name: &'static str,
    restarted: Arc<Notify>,
}

impl Actor for Restarter {
    type Msg = ();
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, myself: ActorRef<()>, _: ()) -> Result<(), ActorProcessingErr> {
        Actor::spawn_linked(Some(self.child_name.into()), Crashy, (), myself.get_cell()).await?;
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<()>,
        event: SupervisionEvent,
        _: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        if let SupervisionEvent::ActorFailed(..) = event {
            Actor::spawn_linked(Some(self.child_name.into()), Crashy, (), myself.get_cell())
                .await?;
            self.restarted.notify_one();
        }
        Ok(())
    }
}

#[derive(Clone)]
pub struct SupervisedChild {
    name: &'static str,
    restarted: Arc<Notify>,
}

impl Supervision for Ractor {
    type Supervised = SupervisedChild;

    async fn start_supervised(&self) -> SupervisedChild {
        let restarted = Arc::new(Notify::new());
        let restarter = Restarter {
            child_name: self.child_name,
            restarted: restarted.clone(),
        };
        Actor::spawn(None, restarter, ()).await.expect("started");
        SupervisedChild {
            name: self.child_name,
            restarted,
        }
    }

    /// The restarted child is a new actor: found again by name once the restarter
    /// has respawned it.
    async fn crash_and_recover(child: &SupervisedChild) {
        let old: ActorRef<CrashyMsg> = registry::where_is(child.name).expect("registered").into();
        let restarted = child.restarted.notified();
        old.cast(CrashyMsg::Crash).expect("running");
        restarted.await;
        let new: ActorRef<CrashyMsg> = registry::where_is(child.name)
            .expect("registered again")
            .into();
        call!(new, CrashyMsg::Ping).expect("answered after the restart");
    }
}

/// Where a skynet node sends its sum: its parent, or (the root) the caller.
pub enum SkynetParent {
    Node(ActorRef<u64>),
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

pub struct SkynetNode;

pub struct SkynetState {
    parent: Option<SkynetParent>,
    ordinal: u64,
    size: u64,
    sum: u64,
    pending: u64,
}

impl Actor for SkynetNode {
    type Msg = u64;
    type State = SkynetState;
    type Arguments = (SkynetParent, u64, u64);

    async fn pre_start(
        &self,
        _: ActorRef<u64>,
        (parent, ordinal, size): (SkynetParent, u64, u64),
    ) -> Result<SkynetState, ActorProcessingErr> {
        Ok(SkynetState {
            parent: Some(parent),
            ordinal,
            size,
            sum: 0,
            pending: SKYNET_FAN_OUT,
        })
    }

    /// `spawn` waits for `pre_start`: the children are started here, in the
    /// node's own task, so every node starts its subtree itself.
    async fn post_start(
        &self,
        myself: ActorRef<u64>,
        state: &mut SkynetState,
    ) -> Result<(), ActorProcessingErr> {
        if state.size == 1 {
            state.parent.take().expect("sent once").send(state.ordinal);
            myself.stop(None);
            return Ok(());
        }
        for (ordinal, size) in skynet_children(state.ordinal, state.size) {
            let parent = SkynetParent::Node(myself.clone());
            Actor::spawn(None, SkynetNode, (parent, ordinal, size)).await?;
        }
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<u64>,
        sum: u64,
        state: &mut SkynetState,
    ) -> Result<(), ActorProcessingErr> {
        state.sum += sum;
        state.pending -= 1;
        if state.pending == 0 {
            state.parent.take().expect("sent once").send(state.sum);
            myself.stop(None);
        }
        Ok(())
    }
}

pub enum RingMessage {
    Token(u64),
    Next(ActorRef<RingMessage>),
}

#[cfg(feature = "ractor-cluster")]
impl ractor::Message for RingMessage {}

pub struct RingNode;

pub struct RingState {
    next: Option<ActorRef<RingMessage>>,
    done: Arc<Notify>,
}

impl Actor for RingNode {
    type Msg = RingMessage;
    type State = RingState;
    type Arguments = Arc<Notify>;

    async fn pre_start(
        &self,
        _: ActorRef<RingMessage>,
        done: Arc<Notify>,
    ) -> Result<RingState, ActorProcessingErr> {
        Ok(RingState { next: None, done })
    }

    async fn handle(
        &self,
        _: ActorRef<RingMessage>,
        message: RingMessage,
        state: &mut RingState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            RingMessage::Next(node) => state.next = Some(node),
            RingMessage::Token(0) => state.done.notify_one(),
            RingMessage::Token(hops) => {
                let next = state.next.as_ref().expect("linked");
                next.cast(RingMessage::Token(hops - 1))?;
            }
        }
        Ok(())
    }
}

pub struct RactorRing {
    first: ActorRef<RingMessage>,
    done: Arc<Notify>,
}

impl Classic for Ractor {
    type Ring = RactorRing;

    async fn skynet(&self) -> u64 {
        let (root, sum) = oneshot::channel();
        let arguments = (SkynetParent::Root(root), 0, SKYNET_LEAVES);
        Actor::spawn(None, SkynetNode, arguments)
            .await
            .expect("started");
        sum.await.expect("the root's sum")
    }

    async fn ring(&self, nodes: usize) -> RactorRing {
        let done = Arc::new(Notify::new());
        let mut started = Vec::with_capacity(nodes);
        for _ in 0..nodes {
            let (node, _) = Actor::spawn(None, RingNode, done.clone())
                .await
                .expect("started");
            started.push(node);
        }
        for (i, node) in started.iter().enumerate() {
            let next = started[(i + 1) % nodes].clone();
            node.cast(RingMessage::Next(next)).expect("running");
        }
        let ring = RactorRing {
            first: started[0].clone(),
            done,
        };
        Self::pass_token(&ring, nodes as u64).await;
        ring
    }

    async fn pass_token(ring: &RactorRing, hops: u64) {
        ring.first.cast(RingMessage::Token(hops)).expect("running");
        ring.done.notified().await;
    }
}

/// What the storm's children share: each one's current instance, and a count of
/// the instances that have started.
pub struct StormShared {
    children: Vec<Mutex<Option<ActorRef<CrashyMsg>>>>,
    started: StartCount,
}

/// A child that panics when told to, and says so when it (re)starts.
pub struct StormChild;

impl Actor for StormChild {
    type Msg = CrashyMsg;
    type State = ();
    type Arguments = (usize, Arc<StormShared>);

    async fn pre_start(
        &self,
        myself: ActorRef<CrashyMsg>,
        (index, shared): (usize, Arc<StormShared>),
    ) -> Result<(), ActorProcessingErr> {
        *shared.children[index].lock().expect("slot") = Some(myself);
        shared.started.started();
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<CrashyMsg>,
        message: CrashyMsg,
        state: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        Crashy.handle(myself, message, state).await
    }
}

/// ractor has no `simple_one_for_one`: this is the user code that plays it, one
/// actor linked to every child, starting a failed child again in its slot.
struct StormSupervisor {
    shared: Arc<StormShared>,
}

impl Actor for StormSupervisor {
    type Msg = ();
    /// Which slot each running child fills.
    type State = HashMap<ActorId, usize>;
    type Arguments = ();

    async fn pre_start(
        &self,
        myself: ActorRef<()>,
        _: (),
    ) -> Result<HashMap<ActorId, usize>, ActorProcessingErr> {
        let mut slots = HashMap::with_capacity(self.shared.children.len());
        for index in 0..self.shared.children.len() {
            let arguments = (index, self.shared.clone());
            let (child, _) =
                Actor::spawn_linked(None, StormChild, arguments, myself.get_cell()).await?;
            slots.insert(child.get_id(), index);
        }
        Ok(slots)
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<()>,
        event: SupervisionEvent,
        slots: &mut HashMap<ActorId, usize>,
    ) -> Result<(), ActorProcessingErr> {
        if let SupervisionEvent::ActorFailed(child, _) = event
            && let Some(index) = slots.remove(&child.get_id())
        {
            let arguments = (index, self.shared.clone());
            let (child, _) =
                Actor::spawn_linked(None, StormChild, arguments, myself.get_cell()).await?;
            slots.insert(child.get_id(), index);
        }
        Ok(())
    }
}

impl Storm for Ractor {
    /// The supervisor is kept so that it lives as long as the storm.
    type Storm = (ActorRef<()>, Arc<StormShared>);

    async fn start_storm(&self, children: usize) -> Self::Storm {
        let shared = Arc::new(StormShared {
            children: (0..children).map(|_| Mutex::new(None)).collect(),
            started: StartCount::default(),
        });
        shared.started.expect(children);
        let supervisor = StormSupervisor {
            shared: shared.clone(),
        };
        let (supervisor, _) = Actor::spawn(None, supervisor, ()).await.expect("started");
        shared.started.all_started().await;
        (supervisor, shared)
    }

    /// A restarted child is a new actor: its new reference is the one its
    /// `pre_start` left in its slot.
    async fn storm((_, shared): &Self::Storm) {
        let current = |slot: &Mutex<Option<ActorRef<CrashyMsg>>>| {
            slot.lock().expect("slot").clone().expect("started")
        };
        shared.started.expect(shared.children.len());
        for slot in &shared.children {
            current(slot).cast(CrashyMsg::Crash).expect("running");
        }
        shared.started.all_started().await;
        for slot in &shared.children {
            call!(current(slot), CrashyMsg::Ping).expect("answered");
        }
    }
}
