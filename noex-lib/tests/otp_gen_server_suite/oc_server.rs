//! `oc_server`, a callback module with `init/1` only, and `oc_init_server`, a
//! module that does not exist: the servers of the `undef_callbacks` group.

use noex::gen_server::{Context, GenServer, Reply};

/// `oc_server`: only what noex requires (`handle_call`, a required method; OTP's
/// `oc_server` has no `handle_call` either, see `undef_handle_call` in the suite's
/// cases that do not map). Every other callback is the trait's default.
pub(crate) struct OcServer;

impl GenServer for OcServer {
    type Call = ();
    type Cast = &'static str;
    type Reply = ();

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }
}

/// `oc_server:start(continue)`: init asks for a continue, and there is no
/// `handle_continue`.
pub(crate) struct OcContinueServer;

impl GenServer for OcContinueServer {
    type Call = ();
    type Cast = ();
    type Reply = ();

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        ctx.continue_with("continue");
        Ok(())
    }

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }
}

/// `oc_init_server`, a module that does not exist: calling its `init/1` is an
/// `undef` crash.
pub(crate) struct UndefInit;

pub(crate) const UNDEF_INIT: &str = "undef: oc_init_server:init/1";

impl GenServer for UndefInit {
    type Call = ();
    type Cast = ();
    type Reply = ();

    async fn init(&mut self, _: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        panic!("{UNDEF_INIT}")
    }

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }
}
