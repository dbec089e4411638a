//! What can go wrong: joining, calling a remote process, holding a global name.

use std::time::Duration;

/// Joining the cluster failed; nothing was left running.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error("invalid cluster configuration: {0}")]
    Config(String),
    #[error("cannot connect to NATS at {url}: {reason}")]
    Connect { url: String, reason: String },
    /// JetStream is off on the server, or the buckets cannot be made.
    #[error("NATS JetStream: {0} (is the server started with JetStream, `nats-server -js`?)")]
    JetStream(String),
    #[error("a node named {node:?} is already up in cluster {cluster:?}")]
    NameInUse { node: String, cluster: String },
    /// A connection still listens on the name's subject but does not answer: a node
    /// whose machine died without closing it, until NATS' ping check drops it, or
    /// one too busy to answer within 5 s.
    #[error(
        "the name {node:?} is still taken in cluster {cluster:?} by a node that does not          answer ({reason}); NATS drops a dead node's connection after its ping check"
    )]
    NameHeld {
        node: String,
        cluster: String,
        reason: String,
    },
}

/// A call or cast to a process on another node did not get through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemoteError {
    /// The node is not up: no heartbeat from it, or nobody answers on its subject.
    #[error("node {node:?} is down")]
    NodeDown { node: String },
    /// The node is up, but no process of that name is exposed or running there
    /// (OTP's `noproc`).
    #[error("no process {name:?} on node {node:?}")]
    NoProcess { node: String, name: String },
    /// No global name of that name is held now.
    #[error("no process holds the global name {name:?}")]
    NotRegistered { name: String },
    /// No reply within the call's timeout (OTP's `timeout`). The request may still
    /// have been handled.
    #[error("no reply from {node:?} within {timeout:?}")]
    Timeout { node: String, timeout: Duration },
    /// The process exited before it replied.
    #[error("process {name:?} on node {node:?} exited before replying: {reason}")]
    Exited {
        node: String,
        name: String,
        reason: String,
    },
    /// A request or reply did not decode as the types of the two sides: the nodes
    /// run different versions of the server's messages.
    #[error("message to {name:?} on {node:?} does not decode: {reason}")]
    Decode {
        node: String,
        name: String,
        reason: String,
    },
    /// The node is up but refused the request, and said why (a tunnel to its agent
    /// when the agent is off, say).
    #[error("node {node:?} refused: {reason}")]
    Refused { node: String, reason: String },
    /// NATS itself refused or lost the request.
    #[error("NATS: {0}")]
    Transport(String),
}

/// A global name could not be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GlobalError {
    /// Another process holds it (Erlang's `no`): the loser of a race is told so.
    #[error("the global name {name:?} is held on node {holder:?}")]
    Taken { name: String, holder: String },
    #[error("invalid global name {0:?}: letters, digits, '-', '_', '/' and '=' only")]
    InvalidName(String),
    /// The process had already ended when it was registered.
    #[error("the process to register as {name:?} is not running")]
    NotRunning { name: String },
    #[error("NATS: {0}")]
    Transport(String),
}
