//! Which nodes are up: each node writes its [`NodeInfo`] into the cluster's
//! membership bucket at every heartbeat, and watches the bucket for the others.
//!
//! A node that leaves deletes its entry, and the others see it down at once. A node
//! that dies stops writing: each node that has not seen a heartbeat from it for
//! `down_after` marks it down and purges its entry (expecting the revision it saw,
//! so a node that has just come back is not erased). The bucket's entries also
//! expire on their own (`max_age`), for when no node is left to purge.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::kv::{self, Operation};
use futures_util::StreamExt;
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;

use crate::wire::{self, NodeInfo};

/// A change in membership, as [`Cluster::node_events`](crate::Cluster::node_events)
/// gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeEvent {
    Up(NodeInfo),
    Down {
        node: String,
        incarnation: u64,
        why: DownCause,
    },
}

/// Why a node is down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DownCause {
    /// It left the cluster (deleted its entry).
    Left,
    /// No heartbeat from it for `down_after`.
    Silent,
    /// It came back with a new incarnation: the old one is gone.
    Restarted,
}

struct Member {
    info: NodeInfo,
    last_seen: Instant,
    revision: u64,
}

#[derive(Clone)]
pub(crate) struct Membership {
    inner: Arc<Inner>,
}

struct Inner {
    me: NodeInfo,
    members: Mutex<HashMap<String, Member>>,
    events: broadcast::Sender<NodeEvent>,
}

impl Membership {
    pub(crate) fn new(me: NodeInfo) -> Self {
        let (events, _) = broadcast::channel(1024);
        Membership {
            inner: Arc::new(Inner {
                me,
                members: Mutex::new(HashMap::new()),
                events,
            }),
        }
    }

    pub(crate) fn me(&self) -> &NodeInfo {
        &self.inner.me
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<NodeEvent> {
        self.inner.events.subscribe()
    }

    /// The nodes up now, this one included, by name.
    pub(crate) fn nodes(&self) -> Vec<NodeInfo> {
        let members = self.inner.members.lock().unwrap();
        let mut nodes: Vec<NodeInfo> = members.values().map(|m| m.info.clone()).collect();
        if !members.contains_key(&self.inner.me.node) {
            nodes.push(self.inner.me.clone());
        }
        nodes.sort_by(|a, b| a.node.cmp(&b.node));
        nodes
    }

    /// The incarnation of `node` if it is up.
    pub(crate) fn incarnation(&self, node: &str) -> Option<u64> {
        if node == self.inner.me.node {
            return Some(self.inner.me.incarnation);
        }
        let members = self.inner.members.lock().unwrap();
        members.get(node).map(|member| member.info.incarnation)
    }

    fn emit(&self, event: NodeEvent) {
        tracing::debug!(?event, "cluster membership");
        let _ = self.inner.events.send(event);
    }

    /// Take in one entry of the bucket.
    fn seen(&self, entry: &kv::Entry, down_after: Duration) {
        match entry.operation {
            // A node dead before this one looked: its last heartbeat is too old.
            Operation::Put if age(entry) > down_after => {}
            Operation::Put => {
                let info: NodeInfo = match wire::decode(&entry.value) {
                    Ok(info) => info,
                    Err(error) => {
                        tracing::warn!(key = %entry.key, %error, "a membership entry does not decode");
                        return;
                    }
                };
                if info.node == self.inner.me.node {
                    return;
                }
                let mut events = Vec::new();
                {
                    let mut members = self.inner.members.lock().unwrap();
                    match members.get_mut(&info.node) {
                        Some(member) if member.info.incarnation == info.incarnation => {
                            member.last_seen = Instant::now();
                            member.revision = entry.revision;
                            member.info = info;
                        }
                        previous => {
                            if let Some(old) = previous {
                                events.push(NodeEvent::Down {
                                    node: old.info.node.clone(),
                                    incarnation: old.info.incarnation,
                                    why: DownCause::Restarted,
                                });
                            }
                            events.push(NodeEvent::Up(info.clone()));
                            members.insert(
                                info.node.clone(),
                                Member {
                                    info,
                                    last_seen: Instant::now(),
                                    revision: entry.revision,
                                },
                            );
                        }
                    }
                }
                for event in events {
                    self.emit(event);
                }
            }
            Operation::Delete | Operation::Purge => {
                let gone = self.inner.members.lock().unwrap().remove(&entry.key);
                if let Some(gone) = gone {
                    self.emit(NodeEvent::Down {
                        node: gone.info.node,
                        incarnation: gone.info.incarnation,
                        why: DownCause::Left,
                    });
                }
            }
        }
    }

    /// Mark down every node silent for `down_after`; their entries and revisions.
    fn reap(&self, down_after: Duration) -> Vec<(String, u64)> {
        let now = Instant::now();
        let silent: Vec<Member> = {
            let mut members = self.inner.members.lock().unwrap();
            let names: Vec<String> = members
                .iter()
                .filter(|(_, m)| now.duration_since(m.last_seen) >= down_after)
                .map(|(name, _)| name.clone())
                .collect();
            names
                .iter()
                .filter_map(|name| members.remove(name))
                .collect()
        };
        silent
            .into_iter()
            .map(|member| {
                self.emit(NodeEvent::Down {
                    node: member.info.node.clone(),
                    incarnation: member.info.incarnation,
                    why: DownCause::Silent,
                });
                (member.info.node, member.revision)
            })
            .collect()
    }
}

/// Keep the highest revision read: how far a watch has read its bucket.
pub(crate) fn raise(last: &mut u64, revision: u64) -> bool {
    let higher = revision > *last;
    if higher {
        *last = revision;
    }
    higher
}

/// How long ago the entry was written, by the server's clock and this machine's.
pub(crate) fn age(entry: &kv::Entry) -> Duration {
    let written = std::time::UNIX_EPOCH
        + Duration::from_nanos(entry.created.unix_timestamp_nanos().max(0) as u64);
    std::time::SystemTime::now()
        .duration_since(written)
        .unwrap_or_default()
}

/// Write this node's heartbeat until the task is aborted.
pub(crate) async fn heartbeat(store: kv::Store, membership: Membership, every: Duration) {
    let me = membership.me().clone();
    let value = bytes::Bytes::from(wire::encode(&me));
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if let Err(error) = store.put(&me.node, value.clone()).await {
            // NATS is away; the client reconnects by itself and the next beat goes.
            tracing::warn!(%error, "cluster heartbeat not written");
        }
    }
}

/// Follow the bucket, and mark silent nodes down, until the task is aborted.
pub(crate) async fn watch(
    store: kv::Store,
    membership: Membership,
    every: Duration,
    down_after: Duration,
    seen: watch::Sender<u64>,
) {
    let mut reaper = tokio::time::interval(every);
    reaper.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let mut entries = match store.watch_with_history(">").await {
            Ok(entries) => entries,
            Err(error) => {
                tracing::warn!(%error, "cannot watch cluster membership; retrying");
                tokio::time::sleep(every).await;
                continue;
            }
        };
        loop {
            tokio::select! {
                entry = entries.next() => match entry {
                    Some(Ok(entry)) => {
                        membership.seen(&entry, down_after);
                        seen.send_if_modified(|last| raise(last, entry.revision));
                    }
                    Some(Err(error)) => {
                        tracing::warn!(%error, "cluster membership watch failed; watching again");
                        break;
                    }
                    None => break,
                },
                _ = reaper.tick() => {
                    for (node, revision) in membership.reap(down_after) {
                        // Only the first node to notice succeeds; the others find the
                        // revision gone, which is as good.
                        let _ = store.purge_expect_revision(&node, Some(revision)).await;
                    }
                }
            }
        }
        tokio::time::sleep(every).await;
    }
}
