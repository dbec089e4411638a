//! kameo 0.22, without its default features (macros and tracing: the traits are
//! implemented by hand here). Servers get an unbounded mailbox, like every other
//! contender (kameo's default is bounded, 64); `ask` has no timeout. kameo has
//! supervision built in: a supervised child keeps its `ActorRef` (and its mailbox)
//! across restarts.

use std::time::Duration;

use kameo::actor::{Actor, ActorRef, Spawn};
use kameo::error::Infallible;
use kameo::mailbox;
use kameo::message::{Context, Message};

use crate::contender::{CRASH_MESSAGE, Contender, Flavor, Runtime, Supervision};

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

started_with_state!(Counter, Crashy, Restarter);

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
