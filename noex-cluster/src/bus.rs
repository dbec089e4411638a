//! Distributed pub/sub: an [`EventBus`] whose topics reach every node.
//!
//! A topic `a.b` of bus `orders` travels on the NATS subject
//! `noex.<cluster>.bus.orders.a.b`, and a subscription's pattern maps onto a NATS
//! subject pattern the same way: a `*` segment stays `*` (one segment), and the
//! pattern `*` alone, which matches every topic, becomes `>`. So each node receives
//! only the topics its own subscriptions match.
//!
//! A publish reaches this node's subscribers through the local bus at once, and the
//! other nodes' through NATS, at most once (core NATS does not store messages: a
//! node cut off from NATS misses what is published meanwhile).

use std::sync::{Arc, Mutex};

use async_nats::HeaderMap;
use futures_util::StreamExt;
use noex::event_bus::{EventBus, Subscription};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::check_name;
use crate::error::RemoteError;
use crate::node::Cluster;
use crate::subjects;
use crate::wire;

/// Which node published: a node skips its own messages coming back from NATS.
const ORIGIN: &str = "Noex-Origin";

/// An [`EventBus`] shared by every node that opens a bus of the same name.
#[derive(Clone)]
pub struct ClusterBus<M: Send + Sync + 'static> {
    cluster: Cluster,
    local: EventBus<M>,
    prefix: String,
}

impl Cluster {
    /// A bus named `name` shared with every node that opens one of that name,
    /// delivering to `local`'s subscribers too.
    pub fn bus<M>(&self, name: &str, local: EventBus<M>) -> Result<ClusterBus<M>, RemoteError>
    where
        M: Serialize + DeserializeOwned + Send + Sync + 'static,
    {
        check_name("bus", name).map_err(|error| RemoteError::Transport(error.to_string()))?;
        Ok(ClusterBus::new(self.clone(), name, local))
    }
}

/// A subscription to a [`ClusterBus`]: the local one and its NATS subscription.
pub struct ClusterSubscription<M: Send + Sync + 'static> {
    local: Subscription<M>,
    remote: tokio::task::JoinHandle<()>,
}

impl<M: Send + Sync + 'static> ClusterSubscription<M> {
    pub fn pattern(&self) -> &str {
        self.local.pattern()
    }

    /// Stop both deliveries, local and remote.
    pub async fn unsubscribe(self) {
        self.remote.abort();
        let _ = self.local.unsubscribe().await;
    }
}

/// A topic must be a valid run of NATS subject tokens: non-empty segments without
/// spaces or wildcards.
fn check_topic(topic: &str) -> Result<(), RemoteError> {
    let valid = !topic.is_empty()
        && topic.split('.').all(|segment| {
            !segment.is_empty()
                && segment != "*"
                && segment != ">"
                && !segment.chars().any(|c| c.is_whitespace())
        });
    if valid {
        Ok(())
    } else {
        Err(RemoteError::Transport(format!(
            "topic {topic:?} cannot travel on NATS: dot-separated, non-empty segments without spaces or wildcards"
        )))
    }
}

/// The NATS subject pattern of a bus pattern.
pub(crate) fn subject_pattern(prefix: &str, pattern: &str) -> String {
    if pattern == "*" {
        format!("{prefix}>")
    } else {
        format!("{prefix}{pattern}")
    }
}

impl<M> ClusterBus<M>
where
    M: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    pub(crate) fn new(cluster: Cluster, name: &str, local: EventBus<M>) -> Self {
        let prefix = subjects::bus_prefix(cluster.cluster_name(), name);
        ClusterBus {
            cluster,
            local,
            prefix,
        }
    }

    /// The local bus, for what stays on this node.
    pub fn local(&self) -> &EventBus<M> {
        &self.local
    }

    /// Publish to the subscribers of every node.
    pub async fn publish(&self, topic: &str, message: M) -> Result<(), RemoteError> {
        check_topic(topic)?;
        let payload = wire::encode(&message);
        let mut headers = HeaderMap::new();
        headers.insert(ORIGIN, self.cluster.node_name());
        self.cluster
            .client()
            .publish_with_headers(format!("{}{topic}", self.prefix), headers, payload.into())
            .await
            .map_err(|error| RemoteError::Transport(error.to_string()))?;
        self.local
            .publish(topic.to_string(), message)
            .map_err(|error| RemoteError::Transport(error.to_string()))
    }

    /// Run `handler(message, topic)` for every message published on any node to a
    /// topic that matches `pattern` (the local bus's patterns).
    pub async fn subscribe<F>(
        &self,
        pattern: &str,
        handler: F,
    ) -> Result<ClusterSubscription<M>, RemoteError>
    where
        F: FnMut(&M, &str) + Send + 'static,
    {
        // One handler, fed by two sources: local publishes and other nodes'.
        let handler = Arc::new(Mutex::new(handler));
        let mut remote = self
            .cluster
            .client()
            .subscribe(subject_pattern(&self.prefix, pattern))
            .await
            .map_err(|error| RemoteError::Transport(error.to_string()))?;
        // Once `subscribe` returns, the server knows of the interest: what any node
        // publishes from then on reaches this subscription.
        self.cluster
            .client()
            .flush()
            .await
            .map_err(|error| RemoteError::Transport(error.to_string()))?;
        let local_handler = handler.clone();
        let local = self
            .local
            .subscribe(pattern, move |message, topic| {
                (local_handler.lock().unwrap())(message, topic)
            })
            .await
            .map_err(|error| RemoteError::Transport(error.to_string()))?;
        let me = self.cluster.node_name().to_string();
        let prefix = self.prefix.clone();
        let remote = tokio::spawn(async move {
            while let Some(message) = remote.next().await {
                let from_me = message
                    .headers
                    .as_ref()
                    .and_then(|headers| headers.get(ORIGIN))
                    .is_some_and(|origin| origin.as_str() == me);
                if from_me {
                    continue;
                }
                let Some(topic) = message.subject.as_str().strip_prefix(&prefix) else {
                    continue;
                };
                match wire::decode::<M>(&message.payload) {
                    Ok(decoded) => (handler.lock().unwrap())(&decoded, topic),
                    Err(error) => tracing::warn!(%topic, %error, "a bus message does not decode"),
                }
            }
        });
        Ok(ClusterSubscription { local, remote })
    }
}
