//! User sessions, which end when idle, what opens them, and the idle servers of
//! `--scale`.

use std::time::Duration;

use noex::ExitReason;
use noex::gen_server::{Context, GenServer, IdleTimeout, Info, Reply};
use noex::registry;

use super::tick::tick_every;

/// A user session: ends (normally) once it has had no request for its lifetime.
pub(super) struct Session {
    pub(super) lifetime: Duration,
}

impl GenServer for Session {
    type Call = ();
    type Cast = ();
    type Reply = ();

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        ctx.idle_timeout(self.lifetime);
        Ok(())
    }

    async fn handle_call(&mut self, _: (), ctx: &mut Context<Self>) -> Reply<()> {
        ctx.idle_timeout(self.lifetime);
        Reply::Now(())
    }

    async fn handle_info(&mut self, message: Info, ctx: &mut Context<Self>) {
        if message.is::<IdleTimeout>() {
            ctx.stop(ExitReason::Normal);
        }
    }
}

/// A server that only waits: what most processes of a large application do. The
/// demo's `--scale` starts these, and so does the agent's scale benchmark.
pub struct Idle;

impl GenServer for Idle {
    type Call = ();
    type Cast = ();
    type Reply = ();

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }
}

/// Opens a session every couple of seconds.
pub(super) struct SessionSpawner;

impl GenServer for SessionSpawner {
    type Call = ();
    type Cast = ();
    type Reply = ();

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        tick_every(ctx, Duration::from_secs(2));
        Ok(())
    }

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }

    async fn handle_info(&mut self, _: Info, ctx: &mut Context<Self>) {
        if let Ok(sessions) = registry::lookup_supervisor("sessions") {
            let lifetime = Duration::from_millis(fastrand::u64(5_000..15_000));
            let _ = sessions.start_child_with(lifetime).await;
        }
        tick_every(ctx, Duration::from_secs(2));
    }
}
