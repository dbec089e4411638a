//! Each client connection is a (system) process of its own: a temporary child of the
//! `noex.agent` simple_one_for_one supervisor, so `noex ps --all` shows who is attached.

use std::sync::Arc;

use crate::future::BoxFuture;
use tokio::sync::OnceCell;
use tokio::task::AbortHandle;

use crate::gen_server::{Context, GenServer, Info, Reply};
use crate::supervisor::{self, ChildSpec, RestartType, SupervisorRef, SupervisorSpec};
use crate::sync::Mutex;
use crate::{ExitReason, error::BoxError};

type PendingConnection = Arc<Mutex<Option<BoxFuture<'static, ()>>>>;

/// Serves one client; ends normally when the client goes.
struct Connection {
    pending: Option<BoxFuture<'static, ()>>,
    task: Option<AbortHandle>,
}

struct Closed;

impl GenServer for Connection {
    type Call = ();
    type Cast = ();
    type Reply = ();

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), BoxError> {
        let connection = self.pending.take().ok_or("connection already taken")?;
        let myself = ctx.myself();
        let task = tokio::spawn(async move {
            connection.await;
            let _ = myself.send_info(Closed);
        });
        self.task = Some(task.abort_handle());
        Ok(())
    }

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }

    async fn handle_info(&mut self, message: Info, ctx: &mut Context<Self>) {
        if message.is::<Closed>() {
            ctx.stop(ExitReason::Normal);
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // However it ended (killed by `noex kill`, or shut down with the agent's
        // supervisor): the client goes with it.
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn connections_supervisor() -> Option<&'static SupervisorRef> {
    static SUPERVISOR: OnceCell<Option<SupervisorRef>> = OnceCell::const_new();
    SUPERVISOR
        .get_or_init(|| async {
            let template =
                ChildSpec::worker_with("connection", |pending: &PendingConnection| Connection {
                    pending: pending.lock().take(),
                    task: None,
                })
                .restart(RestartType::Temporary);
            let spec = SupervisorSpec::simple_one_for_one(template)
                .name("noex.agent")
                .system(true);
            supervisor::start(spec)
                .await
                .map_err(
                    |error| tracing::warn!(%error, "agent connection supervisor did not start"),
                )
                .ok()
        })
        .await
        .as_ref()
}

/// Run `connection` as a child of the agent's supervisor (or as a plain task if that
/// supervisor could not start: serving the client matters more than showing it).
pub(crate) fn spawn(connection: BoxFuture<'static, ()>) {
    tokio::spawn(async move {
        let pending: PendingConnection = Arc::new(Mutex::new(Some(connection)));
        let started = match connections_supervisor().await {
            Some(supervisor) => supervisor.start_child_with(pending.clone()).await.is_ok(),
            None => false,
        };
        let leftover = if started { None } else { pending.lock().take() };
        if let Some(connection) = leftover {
            connection.await;
        }
    });
}
