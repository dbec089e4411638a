//! The noex wire: Observer data types, the agent protocol, the agent server that an
//! application embeds, the client that `noex` uses, and socket discovery.
//!
//! No runtime logic lives here: the runtime implements `backend::Backend`.
//!
//! Without features the crate is the Observer's data types alone ([`types`], [`tree`],
//! [`text`], and the wall clock in [`process_start`]), which is what the runtime needs
//! when it embeds no agent. The features add the rest:
//!
//! - `protocol`: `protocol`, `codec`, `rows` and `target`, the wire format.
//! - `discovery`: `discovery`, where agents listen; processes' start times.
//! - `server` (default): the agent, `server` and `backend`.
//! - `client` (default): the `client` that `noex` attaches with.

#![warn(missing_docs)]

#[cfg(feature = "server")]
pub mod backend;
#[cfg(feature = "server")]
mod budget;
#[cfg(feature = "client")]
pub mod client;
#[cfg(feature = "protocol")]
pub mod codec;
#[cfg(feature = "server")]
mod connection;
#[cfg(feature = "discovery")]
pub mod discovery;
#[cfg(test)]
mod fixtures;
#[cfg(any(feature = "server", feature = "client"))]
mod local_socket;
pub mod process_start;
#[cfg(feature = "protocol")]
pub mod protocol;
#[cfg(feature = "protocol")]
pub mod rows;
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "protocol")]
pub mod table;
#[cfg(feature = "protocol")]
pub mod target;
pub mod text;
pub mod tree;
pub mod types;
