//! What several test binaries share.

use noex::gen_server::{Context, GenServer, Reply};

/// A server that only answers `()`: for tests about everything around a process.
pub struct Idle;

impl GenServer for Idle {
    type Call = ();
    type Cast = ();
    type Reply = ();

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }
}
