//! `store/queries`: the process that runs reactive queries again after commits,
//! off the writers' path. Its mailbox holds at most one wake-up; the changes wait
//! in a bounded set beside it.

use std::sync::Arc;

use noex::error::BoxError;
use noex::gen_server::{Context, GenServer, Reply};

use super::Queries;

/// Something changed: look at what is pending.
pub(crate) struct Wake;

pub(crate) struct QueriesServer {
    queries: Arc<Queries>,
}

impl QueriesServer {
    pub(crate) fn new(queries: Arc<Queries>) -> QueriesServer {
        QueriesServer { queries }
    }
}

impl GenServer for QueriesServer {
    type Call = ();
    type Cast = Wake;
    type Reply = ();

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), BoxError> {
        self.queries.set_process(Some(ctx.myself()));
        // Changes noted while no process ran (a restart) are looked at now.
        let _ = ctx.myself().cast(Wake);
        Ok(())
    }

    async fn handle_call(&mut self, (): (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }

    async fn handle_cast(&mut self, Wake: Wake, _: &mut Context<Self>) {
        self.queries.rerun_changed();
    }
}
