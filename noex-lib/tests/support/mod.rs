//! What every test binary shares. Each one declares this module (`mod support;`, or
//! with a `#[path]` from a folder): that alone gives the binary an agent directory
//! of its own (see [`sandbox`]), so no test leaves anything in the user's.

#![allow(dead_code)]

pub mod sandbox;

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
