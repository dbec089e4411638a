//! [`RemoteRef`]: a process on another node, called like a local `ServerRef`.

use std::marker::PhantomData;
use std::time::Duration;

use noex::GenServer;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::RemoteError;
use crate::monitor::RemoteMonitor;
use crate::node::Cluster;
use crate::rpc;
use crate::subjects;
use crate::wire::{self, Reply, Request};

/// The time a reply needs to come back over NATS after the process has answered:
/// the node's own call gives up this much earlier than the caller, so a slow
/// process is a `Timeout` from the node, not silence. A shorter call keeps a
/// quarter of its timeout for the way back instead, so its process still gets the
/// rest.
const TRANSIT: Duration = Duration::from_millis(200);

/// How long the serving node may wait for its process, of a call's `timeout`.
fn serving_time(timeout: Duration) -> Duration {
    timeout.saturating_sub(TRANSIT.min(timeout / 4))
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Address {
    /// A process exposed under `name` on `node`.
    Node { node: String, name: String },
    /// Whichever process holds the global name now.
    Global(String),
}

/// A process on a node of the cluster (or on this one), by node and name or by
/// global name, with the same `call`, `call_timeout` and `cast` as a
/// [`ServerRef`](noex::ServerRef). Messages travel as MessagePack, so `S`'s
/// `Call`, `Cast` and `Reply` types must be serde types; the node that runs the
/// process exposes it with [`Cluster::expose`].
///
/// A cast is delivered at most once, as in Erlang: it is not acknowledged, and a
/// cast to a node that dies or loses NATS at that moment is lost without an error.
pub struct RemoteRef<S: GenServer> {
    cluster: Cluster,
    address: Address,
    _server: PhantomData<fn() -> S>,
}

impl<S: GenServer> Clone for RemoteRef<S> {
    fn clone(&self) -> Self {
        RemoteRef {
            cluster: self.cluster.clone(),
            address: self.address.clone(),
            _server: PhantomData,
        }
    }
}

impl<S: GenServer> std::fmt::Debug for RemoteRef<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.address {
            Address::Node { node, name } => write!(f, "RemoteRef({name}@{node})"),
            Address::Global(name) => write!(f, "RemoteRef(global {name})"),
        }
    }
}

impl Cluster {
    /// The process exposed as `name` on `node`.
    pub fn remote<S>(&self, node: &str, name: &str) -> RemoteRef<S>
    where
        S: GenServer,
        S::Call: Serialize,
        S::Cast: Serialize,
        S::Reply: DeserializeOwned,
    {
        RemoteRef::new(
            self.clone(),
            Address::Node {
                node: node.to_string(),
                name: name.to_string(),
            },
        )
    }

    /// Whichever process holds global name `name` when it is used.
    pub fn global<S>(&self, name: &str) -> RemoteRef<S>
    where
        S: GenServer,
        S::Call: Serialize,
        S::Cast: Serialize,
        S::Reply: DeserializeOwned,
    {
        RemoteRef::new(self.clone(), Address::Global(name.to_string()))
    }

    /// Monitor a remote process (Erlang's `monitor(process, {Name, Node})`): the
    /// returned future resolves exactly once, with the process's exit reason,
    /// `noproc` if it was not running, or `noconnection` if its node goes down.
    pub async fn monitor<S>(&self, process: &RemoteRef<S>) -> RemoteMonitor
    where
        S: GenServer,
        S::Call: Serialize,
        S::Cast: Serialize,
        S::Reply: DeserializeOwned,
    {
        match process.locate() {
            Ok((node, name)) => self.monitors().monitor(&node, &name).await,
            // An unheld global name: the process is not there (Erlang's `noproc`).
            Err(_) => self.monitors().monitor_nothing(&format!("{process:?}")),
        }
    }
}

impl<S> RemoteRef<S>
where
    S: GenServer,
    S::Call: Serialize,
    S::Cast: Serialize,
    S::Reply: DeserializeOwned,
{
    pub(crate) fn new(cluster: Cluster, address: Address) -> Self {
        RemoteRef {
            cluster,
            address,
            _server: PhantomData,
        }
    }

    /// The node and key of the process now: a global name is looked up each time,
    /// so a name that moved is followed.
    pub(crate) fn locate(&self) -> Result<(String, String), RemoteError> {
        match &self.address {
            Address::Node { node, name } => Ok((node.clone(), name.clone())),
            Address::Global(name) => self
                .cluster
                .whereis_global(name)
                .map(|entry| (entry.node, entry.target))
                .ok_or_else(|| RemoteError::NotRegistered { name: name.clone() }),
        }
    }

    /// The node the process is on now (for a global name, its holder's).
    pub fn node(&self) -> Result<String, RemoteError> {
        self.locate().map(|(node, _)| node)
    }

    /// Call with the default timeout of a local call (5 s).
    pub async fn call(&self, request: S::Call) -> Result<S::Reply, RemoteError> {
        self.call_timeout(request, noex::gen_server::DEFAULT_CALL_TIMEOUT)
            .await
    }

    pub async fn call_timeout(
        &self,
        request: S::Call,
        timeout: Duration,
    ) -> Result<S::Reply, RemoteError> {
        let (node, name) = self.locate()?;
        self.cluster.check_up(&node)?;
        let request = Request::Call {
            name: name.clone(),
            timeout_ms: serving_time(timeout).as_millis() as u64,
            payload: wire::encode(&request),
        };
        let subject = subjects::node_rpc(self.cluster.cluster_name(), &node);
        let reply =
            rpc::request_on(self.cluster.client(), &subject, &request, timeout, &node).await?;
        match reply {
            Reply::Value(bytes) => {
                wire::decode(&bytes).map_err(|reason| RemoteError::Decode { node, name, reason })
            }
            other => Err(refusal(other, node, name, timeout)),
        }
    }

    /// Send `message` without waiting: at most once (see the type's docs). An error
    /// only when it cannot even leave: the node is down or the name is not held.
    pub async fn cast(&self, message: S::Cast) -> Result<(), RemoteError> {
        let (node, name) = self.locate()?;
        self.cluster.check_up(&node)?;
        let request = Request::Cast {
            name,
            payload: wire::encode(&message),
        };
        let subject = subjects::node_rpc(self.cluster.cluster_name(), &node);
        self.cluster
            .client()
            .publish(subject, wire::encode(&request).into())
            .await
            .map_err(|error| RemoteError::Transport(error.to_string()))
    }
}

fn refusal(reply: Reply, node: String, name: String, timeout: Duration) -> RemoteError {
    match reply {
        Reply::NoProcess => RemoteError::NoProcess { node, name },
        Reply::Timeout => RemoteError::Timeout { node, timeout },
        Reply::Exited(reason) => RemoteError::Exited { node, name, reason },
        Reply::Decode(reason) => RemoteError::Decode { node, name, reason },
        Reply::Refused(reason) => RemoteError::Refused { node, reason },
        Reply::TooLarge { bytes, limit } => RemoteError::Transport(format!(
            "the reply of {bytes} bytes is over the NATS server's max_payload of {limit} bytes"
        )),
        Reply::Value(_) | Reply::Done => RemoteError::Transport("unexpected reply".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_serving_node_waits_all_but_the_transit_time_or_a_quarter() {
        let ms = Duration::from_millis;
        assert_eq!(serving_time(ms(5000)), ms(4800));
        assert_eq!(serving_time(ms(800)), ms(600));
        assert_eq!(serving_time(ms(400)), ms(300));
        assert_eq!(serving_time(ms(100)), ms(75));
        assert_eq!(serving_time(ms(0)), ms(0));
    }
}
