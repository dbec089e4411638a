//! noex: a GenServer, with the Observer counting every message (there is no switch
//! to turn it off). `call` carries noex's default 5 s timeout.

use std::time::Duration;

use noex::gen_server::{self, Context, GenServer, Reply, StartOptions};
use noex::supervisor::{self, ChildSpec, SupervisorSpec};
use noex::{ExitReason, ServerRef, registry};

use crate::contender::{CRASH_MESSAGE, Contender, Flavor, Runtime, Supervision};

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
