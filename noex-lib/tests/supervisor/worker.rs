//! The worker the tests supervise, and the helpers that drive it and read the
//! supervisor's children.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use noex::gen_server::{Context, GenServer, Reply};
use noex::registry;
use noex::supervisor::ChildSpec;
use noex::{ExitReason, Pid, ServerRef, SupervisorRef};

use crate::support::eventually;

pub(crate) type Log = Arc<Mutex<Vec<String>>>;

/// A worker that logs its start and terminate, and crashes or exits on request.
pub(crate) struct Worker {
    pub(crate) id: String,
    pub(crate) log: Log,
    pub(crate) fail_init: bool,
    pub(crate) mailbox_seen: u32,
}

pub(crate) enum Order {
    Crash,
    Exit(ExitReason),
    Count,
    Hang,
}

impl GenServer for Worker {
    type Call = Order;
    type Cast = ();
    type Reply = u32;

    async fn init(&mut self, _: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        if self.fail_init {
            return Err(format!("{} refuses to start", self.id).into());
        }
        self.log.lock().unwrap().push(format!("start {}", self.id));
        Ok(())
    }

    async fn handle_call(&mut self, order: Order, ctx: &mut Context<Self>) -> Reply<u32> {
        match order {
            Order::Crash => panic!("{} crashed", self.id),
            Order::Exit(reason) => {
                ctx.stop(reason);
                Reply::Now(0)
            }
            Order::Count => Reply::Now(self.mailbox_seen),
            Order::Hang => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Reply::Now(0)
            }
        }
    }

    async fn handle_cast(&mut self, _: (), _: &mut Context<Self>) {
        self.mailbox_seen += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    async fn terminate(&mut self, reason: &ExitReason, _: &mut Context<Self>) {
        self.log
            .lock()
            .unwrap()
            .push(format!("stop {} ({reason})", self.id));
    }
}

pub(crate) fn worker(prefix: &str, id: &str, log: &Log) -> ChildSpec<Worker> {
    let (name, id, log) = (format!("{prefix}.{id}"), id.to_string(), log.clone());
    ChildSpec::worker(id.clone(), move || Worker {
        id: id.clone(),
        log: log.clone(),
        fail_init: false,
        mailbox_seen: 0,
    })
    .name(name)
}

pub(crate) fn server(prefix: &str, id: &str) -> ServerRef<Worker> {
    registry::lookup::<Worker>(&format!("{prefix}.{id}")).unwrap()
}

pub(crate) fn log() -> Log {
    Arc::new(Mutex::new(Vec::new()))
}

pub(crate) fn take(log: &Log) -> Vec<String> {
    std::mem::take(&mut *log.lock().unwrap())
}

pub(crate) async fn pids(sup: &SupervisorRef) -> Vec<Option<Pid>> {
    sup.children()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.pid)
        .collect()
}

/// Crash a child and wait until the supervisor has reacted (its pid list changed).
pub(crate) async fn crash_and_settle(sup: &SupervisorRef, prefix: &str, id: &str) {
    let before = pids(sup).await;
    let _ = server(prefix, id).call(Order::Crash).await;
    settle(sup, &before).await;
}

/// Wait until the supervisor has reacted: its pid list differs from `before`, or it
/// has ended.
pub(crate) async fn settle(sup: &SupervisorRef, before: &[Option<Pid>]) {
    eventually("the supervisor reacts", || async {
        match sup.children().await {
            Ok(children) => {
                let now: Vec<_> = children.into_iter().map(|c| c.pid).collect();
                (now.as_slice() != before).then_some(())
            }
            Err(_) => Some(()),
        }
    })
    .await
}
