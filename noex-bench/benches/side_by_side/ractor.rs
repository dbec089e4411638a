//! ractor 0.16, default features. `call` has no timeout (`call!`, `None`); the
//! mailbox is unbounded. ractor's supervision is linking plus supervision events:
//! the restart itself is code the user writes in `handle_supervisor_evt`, as here.

use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent, call, registry};
use tokio::sync::Notify;

use crate::contender::{CRASH_MESSAGE, Contender, Flavor, Runtime, Supervision};

pub struct Counter;

pub enum CounterMsg {
    Get(RpcReplyPort<u64>),
    Add(u64),
}

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
