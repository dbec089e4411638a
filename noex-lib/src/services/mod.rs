//! The built-in services (`noex::cache`, `noex::event_bus`, `noex::rate_limiter`,
//! `noex::state_agent`), and the start and child spec they share. The crate docs
//! describe them to users; this module is private so that each service has one
//! public path.
//!
//! ```compile_fail
//! // `noex::cache` is the path; this second one is gone.
//! use noex::services::cache::Cache;
//! ```

pub mod cache;
pub mod event_bus;
pub mod rate_limiter;
pub mod state_agent;

use crate::error::StartError;
use crate::gen_server::{self, GenServer, ServerRef, StartOptions};
use crate::supervisor::ChildSpec;

/// Start a service's process, registered under `name` when it has one. `H` is the
/// handle users know it by: a lookup of another type names the process as one.
pub(crate) async fn start<S: GenServer, H>(
    server: S,
    name: Option<&str>,
) -> Result<ServerRef<S>, StartError> {
    let mut options = StartOptions::new();
    if let Some(name) = name {
        options = options.name(name);
    }
    options.handle_type = Some(std::any::type_name::<H>);
    gen_server::start(server, options).await
}

/// A supervisor child that runs a fresh `server()` at every (re)start, registered
/// under `name` if there is one: the rule of every child (see `crate::supervisor`,
/// "Names"). `H` as for [`start`].
pub(crate) fn child_spec<S, H, F>(
    id: impl Into<String>,
    name: Option<String>,
    server: F,
) -> ChildSpec
where
    S: GenServer,
    F: Fn() -> S + Send + Sync + 'static,
{
    let mut spec = ChildSpec::worker(id, server).erase();
    if let Some(name) = name {
        spec = spec.name(name);
    }
    spec.handle_type = Some(std::any::type_name::<H>);
    spec
}
