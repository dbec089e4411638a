//! Named processes: find a server by name instead of passing references around.
//!
//! A process has at most one name, and a name at most one process. The name is
//! released when the process ends, whatever the reason.
//!
//! ```
//! use noex::gen_server::{self, Context, GenServer, Reply, StartOptions};
//! use noex::registry;
//!
//! struct Echo;
//! impl GenServer for Echo {
//!     type Call = String;
//!     type Cast = ();
//!     type Reply = String;
//!     async fn handle_call(&mut self, text: String, _: &mut Context<Self>) -> Reply<String> {
//!         Reply::Now(text)
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # // As a doc test, leave no agent socket behind (`NOEX_AGENT=off`); one thread, so sound.
//! # unsafe { std::env::set_var("NOEX_AGENT", "off") }
//! gen_server::start(Echo, StartOptions::new().name("echo")).await?;
//! let echo = registry::lookup::<Echo>("echo")?;
//! assert_eq!(echo.call("hi".into()).await?, "hi");
//! # Ok(()) }
//! ```

use crate::Pid;
use crate::error::NotRegisteredError;
pub use crate::error::RegisterError;
use crate::gen_server::{GenServer, ServerRef};
use crate::process;
use crate::supervisor::{SupervisorRef, SupervisorServer};
use crate::type_names::{article, readable_type_name};

/// Something that can be registered: a [`ServerRef`] or a [`SupervisorRef`].
pub trait Registrable: sealed::HasCell + Clone + Send + Sync + 'static {}

impl<S: GenServer> Registrable for ServerRef<S> {}
impl Registrable for SupervisorRef {}

mod sealed {
    #![allow(private_interfaces)]

    use std::sync::Arc;

    use crate::gen_server::{GenServer, ServerRef};
    use crate::process::ProcessCell;
    use crate::supervisor::SupervisorRef;

    /// Keeps `Registrable` to the runtime's own process references.
    pub trait HasCell {
        fn cell(&self) -> &ProcessCell;
        /// What typed lookups find: always the process's `ServerRef`, so a name given
        /// at start (before any `SupervisorRef` exists) and one given later agree.
        fn handle(&self) -> Arc<dyn std::any::Any + Send + Sync>;
    }

    impl<S: GenServer> HasCell for ServerRef<S> {
        fn cell(&self) -> &ProcessCell {
            ServerRef::cell(self)
        }
        fn handle(&self) -> Arc<dyn std::any::Any + Send + Sync> {
            Arc::new(self.clone())
        }
    }

    impl HasCell for SupervisorRef {
        fn cell(&self) -> &ProcessCell {
            self.server.cell()
        }
        fn handle(&self) -> Arc<dyn std::any::Any + Send + Sync> {
            self.server.handle()
        }
    }
}

/// Register `process` under `name`.
pub fn register<P: Registrable>(name: &str, process: &P) -> Result<(), RegisterError> {
    process::names().register_cell(
        name,
        sealed::HasCell::cell(process),
        sealed::HasCell::handle(process),
        None,
    )
}

/// Remove a name; the process goes on. Returns whether the name was registered.
pub fn unregister(name: &str) -> bool {
    let Some(pid) = whereis(name) else {
        return false;
    };
    match process::processes().get(pid) {
        Some(cell) => {
            process::names().release(&cell);
            true
        }
        None => process::names().remove(name),
    }
}

/// The typed reference registered under `name`.
///
/// Fails with [`LookupError::NotRegistered`] if nobody has the name, and with
/// [`LookupError::WrongType`] if the process is not an `S`.
pub fn lookup<S: GenServer>(name: &str) -> Result<ServerRef<S>, LookupError> {
    lookup_as::<ServerRef<S>>(name, Expected::Type(std::any::type_name::<S>()))
}

/// The supervisor registered under `name`.
///
/// Fails with [`LookupError::NotRegistered`] if nobody has the name, and with
/// [`LookupError::WrongType`] if the process is not a supervisor.
pub fn lookup_supervisor(name: &str) -> Result<SupervisorRef, LookupError> {
    lookup_as::<ServerRef<SupervisorServer>>(name, Expected::Supervisor)
        .map(|server| SupervisorRef { server })
}

/// [`lookup`] for a handle `H` that wraps `ServerRef<S>` (a built-in service): a
/// wrong type is told as "not an `H`", the name the caller knows.
pub(crate) fn lookup_wrapped<S: GenServer, H>(name: &str) -> Result<ServerRef<S>, LookupError> {
    lookup_as::<ServerRef<S>>(name, Expected::Type(std::any::type_name::<H>()))
}

/// What a lookup asked for, to tell it in words.
enum Expected {
    /// A type, by `std::any::type_name`.
    Type(&'static str),
    Supervisor,
}

fn lookup_as<P: Registrable>(name: &str, expected: Expected) -> Result<P, LookupError> {
    let found = process::names()
        .lookup::<P>(name)
        .ok_or_else(|| NotRegisteredError {
            name: name.to_string(),
        })?;
    found.map_err(|(pid, what)| {
        // A server is a "Worker server", asked for as a "Counter"; a service is
        // its handle's type, without "server".
        let registered = what.describe();
        let expected = match expected {
            Expected::Type(type_name) => readable_type_name(type_name),
            Expected::Supervisor => "supervisor".to_string(),
        };
        LookupError::WrongType {
            name: name.to_string(),
            pid,
            registered,
            expected,
        }
    })
}

/// The pid registered under `name`, if any.
pub fn whereis(name: &str) -> Option<Pid> {
    process::names().whereis(name)
}

/// Whether a process is registered under `name`.
pub fn is_registered(name: &str) -> bool {
    process::names().contains(name)
}

/// Every registered name, sorted.
pub fn names() -> Vec<String> {
    process::names().sorted()
}

/// How many names are registered.
pub fn count() -> usize {
    process::names().len()
}

/// Why a lookup failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// No process is registered under the name.
    #[error(transparent)]
    NotRegistered(#[from] NotRegisteredError),
    /// The name is registered, but to a process of another type than the one asked
    /// for. Both types are told as a reader writes them, without module paths:
    /// `"pool-1" is registered to <0.7>, a Worker server, not a Counter`.
    #[error(
        "{name:?} is registered to {pid}, {} {registered}, not {} {expected}",
        article(.registered),
        article(.expected)
    )]
    WrongType {
        /// The name that was looked up.
        name: String,
        /// The process registered under it.
        pid: Pid,
        /// What that process is: `Worker server` for a server (its type without
        /// module paths), `supervisor`, or a built-in service's handle type
        /// (`Cache<String, u64>`).
        registered: String,
        /// What was asked for: the server's type without module paths
        /// (`Counter`), `supervisor`, or a built-in service's handle type.
        expected: String,
    },
}
