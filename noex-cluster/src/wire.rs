//! What nodes say to each other over NATS, in MessagePack.
//!
//! Each node answers requests on one subject of its own (`subjects::node_rpc`); the
//! payload names the process, so process names need no escaping into subjects.

use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// A request to a node.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Request {
    /// Call the process exposed as `name`, waiting at most `timeout_ms` for its reply.
    Call {
        name: String,
        timeout_ms: u64,
        #[serde(with = "serde_bytes")]
        payload: Vec<u8>,
    },
    /// Cast to the process exposed as `name`; the reply only says it was handed over.
    Cast {
        name: String,
        #[serde(with = "serde_bytes")]
        payload: Vec<u8>,
    },
    /// Monitor the process registered as `name`; its `Down` goes to `watcher`'s
    /// subject with `id`.
    Monitor {
        name: String,
        watcher: String,
        id: u64,
    },
    /// Take back monitor `id` of `watcher`.
    Demonitor { watcher: String, id: u64 },
    /// Is anybody answering here? (A node checks its name is free before it joins.)
    Ping,
    /// The node's Observer snapshot (the agent's `Snapshot`).
    Snapshot,
    /// The node's supervision tree (the agent's `ProcessTree`).
    Tree,
    /// Open agent tunnel `session` (see `tunnel`).
    Dial { session: String },
}

/// A node's answer.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Reply {
    /// The call's reply, a snapshot or a tree, encoded.
    Value(#[serde(with = "serde_bytes")] Vec<u8>),
    /// A cast was handed over, a monitor set, a demonitor done.
    Done,
    NoProcess,
    Exited(String),
    Timeout,
    Decode(String),
    /// The node will not do it, and says why (a tunnel to an agent that is off).
    Refused(String),
    /// The reply was over the NATS server's `max_payload`, so it was not sent.
    TooLarge {
        bytes: u64,
        limit: u64,
    },
}

/// A monitored process ended; sent to the watcher's node, which acknowledges it.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Down {
    pub id: u64,
    pub reason: String,
}

/// What a node writes in the membership bucket with every heartbeat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    pub node: String,
    /// The application's name (`noex::observer::app_name`).
    pub app: String,
    pub os_pid: u32,
    pub host: String,
    /// When it joined, milliseconds since the Unix epoch.
    pub joined_at_ms: u64,
    pub heartbeat_ms: u64,
    pub down_after_ms: u64,
    /// A fresh id per join: a node restarted under the same name is a new incarnation,
    /// so monitors of the old one still fire.
    pub incarnation: u64,
}

/// A global name's holder, as the names bucket keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalEntry {
    pub node: String,
    /// The key under which the holder's node dispatches calls to it.
    pub target: String,
    pub incarnation: u64,
}

pub(crate) fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    // Named fields, so a field added later does not shift the others.
    rmp_serde::to_vec_named(value).expect("wire types always encode")
}

pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    rmp_serde::from_slice(bytes).map_err(|error| error.to_string())
}
