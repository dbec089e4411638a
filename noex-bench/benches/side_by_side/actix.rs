//! actix 0.13, without its macros (the traits are implemented by hand). actix runs on
//! its own runtime: a `System` (actix-rt: a current-thread tokio runtime with a
//! `LocalSet`). Its "multi-thread" flavour here hosts the servers on an `Arbiter` (a
//! thread with its own single-threaded runtime) while the callers stay on the
//! System's thread: actix has no work-stealing scheduler. `send` has no timeout
//! unless asked. actix's `Supervisor` restarts an actor that stops, keeping its
//! address; it does not catch panics, so a crash here is the actor stopping itself.

use actix::{Actor, ActorContext, Addr, Context, Handler, Message, Supervised, Supervisor};
use actix_rt::{Arbiter, ArbiterHandle, System};

use crate::contender::{Contender, Flavor, Runtime, Supervision};

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
