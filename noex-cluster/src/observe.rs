//! Looking at a cluster from outside, without joining it: the nodes up, and any
//! node's Observer snapshot or supervision tree, through NATS. `noex ps --cluster`
//! is built on this; access is whatever the NATS credentials allow.

use std::time::Duration;

use async_nats::jetstream::{self, kv};
use futures_util::StreamExt;
use noex_agent::types::{ProcessTree, Snapshot};

use crate::config::{ClusterConfig, connect};
use crate::error::{JoinError, RemoteError};
use crate::rpc;
use crate::subjects;
use crate::wire::{self, NodeInfo, Reply, Request};

/// A connection to a cluster's NATS that is not a node.
pub struct ClusterView {
    client: async_nats::Client,
    cluster: String,
    nodes: Option<kv::Store>,
}

impl ClusterView {
    /// Connect with `config`'s NATS address, cluster name and credentials (its
    /// node name is only the client's name in NATS).
    pub async fn connect(config: &ClusterConfig) -> Result<ClusterView, JoinError> {
        crate::config::check_name("cluster", &config.cluster)?;
        let client = connect(config, "noex observer".to_string()).await?;
        let js = jetstream::new(client.clone());
        // No bucket: no node has ever joined this cluster.
        let nodes = js
            .get_key_value(subjects::nodes_bucket(&config.cluster))
            .await
            .ok();
        Ok(ClusterView {
            client,
            cluster: config.cluster.clone(),
            nodes,
        })
    }

    /// The nodes up: those whose last heartbeat is younger than their `down_after`.
    pub async fn nodes(&self) -> Result<Vec<NodeInfo>, RemoteError> {
        let Some(store) = &self.nodes else {
            return Ok(Vec::new());
        };
        let mut keys = store
            .keys()
            .await
            .map_err(|error| RemoteError::Transport(error.to_string()))?;
        let mut nodes = Vec::new();
        while let Some(key) = keys.next().await {
            let key = key.map_err(|error| RemoteError::Transport(error.to_string()))?;
            let Ok(Some(entry)) = store.entry(&key).await else {
                continue;
            };
            if entry.operation != kv::Operation::Put {
                continue;
            }
            let Ok(info) = wire::decode::<NodeInfo>(&entry.value) else {
                continue;
            };
            if crate::membership::age(&entry) <= Duration::from_millis(info.down_after_ms) {
                nodes.push(info);
            }
        }
        nodes.sort_by(|a, b| a.node.cmp(&b.node));
        Ok(nodes)
    }

    /// `node`'s Observer snapshot.
    pub async fn snapshot(&self, node: &str) -> Result<Snapshot, RemoteError> {
        self.ask(node, Request::Snapshot).await
    }

    /// `node`'s supervision tree.
    pub async fn tree(&self, node: &str) -> Result<ProcessTree, RemoteError> {
        self.ask(node, Request::Tree).await
    }

    /// A byte stream to `node`'s agent, through NATS: the agent protocol crosses it
    /// unchanged, so `noex_agent::client::Client::handshake` attaches to the node as
    /// to a local application. Refused when the node's agent is off.
    pub async fn dial_agent(&self, node: &str) -> Result<tokio::io::DuplexStream, RemoteError> {
        crate::tunnel::dial(&self.client, &self.cluster, node).await
    }

    async fn ask<T: serde::de::DeserializeOwned>(
        &self,
        node: &str,
        request: Request,
    ) -> Result<T, RemoteError> {
        let subject = subjects::node_rpc(&self.cluster, node);
        let down = || RemoteError::NodeDown {
            node: node.to_string(),
        };
        match rpc::request(&self.client, &subject, &request, TIMEOUT).await {
            Ok(Reply::Value(bytes)) => wire::decode(&bytes).map_err(|reason| RemoteError::Decode {
                node: node.to_string(),
                name: "observer".to_string(),
                reason,
            }),
            Ok(_) => Err(RemoteError::Transport("unexpected reply".to_string())),
            Err(RemoteError::NodeDown { .. }) => Err(down()),
            Err(error) => Err(error),
        }
    }
}

const TIMEOUT: Duration = Duration::from_secs(5);
