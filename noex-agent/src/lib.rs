//! The noex wire: Observer data types, the agent protocol, the agent server that an
//! application embeds, the client that `noex` uses, and socket discovery.
//!
//! No runtime logic lives here: the runtime implements [`backend::Backend`].

#![warn(missing_docs)]

pub mod backend;
mod budget;
pub mod client;
pub mod codec;
mod connection;
pub mod discovery;
pub mod process_start;
pub mod protocol;
pub mod server;
pub mod target;
pub mod text;
pub mod tree;
pub mod types;
