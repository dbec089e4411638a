//! Global names (Erlang's `global`): one holder for the whole cluster, kept in the
//! cluster's names bucket.
//!
//! Registering is a JetStream create, which succeeds for exactly one writer: two
//! nodes registering at once are ordered by the stream, the first wins and the
//! other gets [`GlobalError::Taken`]. The holder's node renews the entry at every
//! heartbeat, expecting the revision it wrote last. The name is freed when the
//! process ends (its node deletes the entry), when its node is seen down (the first
//! node to see it deletes the entry), or, with no node left to do either, when the
//! entry's age passes the bucket's `max_age`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::kv::{self, Operation};
use futures_util::StreamExt;
use tokio::sync::watch;

use crate::error::GlobalError;
use crate::membership::{Membership, NodeEvent};
use crate::wire::{self, GlobalEntry};

/// Names that would change meaning in a NATS subject or key are refused.
pub(crate) fn check_global_name(name: &str) -> Result<(), GlobalError> {
    let valid = !name.is_empty()
        && name.len() <= 200
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/' | '='));
    if valid {
        Ok(())
    } else {
        Err(GlobalError::InvalidName(name.to_string()))
    }
}

/// The key under which a holder's node exposes the process of global name `name`.
pub(crate) fn target_key(name: &str) -> String {
    format!("@{name}")
}

#[derive(Clone)]
pub(crate) struct GlobalNames {
    inner: Arc<Inner>,
}

struct Inner {
    store: kv::Store,
    /// Every name held in the cluster, as this node last saw the bucket.
    known: Mutex<HashMap<String, (GlobalEntry, u64)>>,
    changed: watch::Sender<u64>,
}

impl GlobalNames {
    pub(crate) fn new(store: kv::Store) -> Self {
        GlobalNames {
            inner: Arc::new(Inner {
                store,
                known: Mutex::new(HashMap::new()),
                changed: watch::channel(0).0,
            }),
        }
    }

    pub(crate) fn store(&self) -> &kv::Store {
        &self.inner.store
    }

    pub(crate) fn whereis(&self, name: &str) -> Option<GlobalEntry> {
        self.inner
            .known
            .lock()
            .unwrap()
            .get(name)
            .map(|(entry, _)| entry.clone())
    }

    pub(crate) fn all(&self) -> Vec<(String, GlobalEntry)> {
        let mut all: Vec<(String, GlobalEntry)> = self
            .inner
            .known
            .lock()
            .unwrap()
            .iter()
            .map(|(name, (entry, _))| (name.clone(), entry.clone()))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// A receiver that changes whenever the known names do.
    pub(crate) fn changes(&self) -> watch::Receiver<u64> {
        self.inner.changed.subscribe()
    }

    fn seen(&self, entry: &kv::Entry) {
        {
            let mut known = self.inner.known.lock().unwrap();
            match entry.operation {
                Operation::Put => match wire::decode::<GlobalEntry>(&entry.value) {
                    Ok(holder) => {
                        known.insert(entry.key.clone(), (holder, entry.revision));
                    }
                    Err(error) => {
                        tracing::warn!(key = %entry.key, %error, "a global name entry does not decode");
                        return;
                    }
                },
                Operation::Delete | Operation::Purge => {
                    known.remove(&entry.key);
                }
            }
        }
        self.inner.changed.send_modify(|n| *n += 1);
    }

    /// Free the names a node held that went down.
    async fn node_down(&self, node: &str, incarnation: u64) {
        let held: Vec<(String, u64)> = self
            .inner
            .known
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, (entry, _))| entry.node == node && entry.incarnation == incarnation)
            .map(|(name, (_, revision))| (name.clone(), *revision))
            .collect();
        for (name, revision) in held {
            // Only the first node to get here deletes it; the revision guards a
            // name that was taken again meanwhile.
            let _ = self
                .inner
                .store
                .delete_expect_revision(&name, Some(revision))
                .await;
        }
    }

    /// Create `name` for `entry`: its revision, or who holds it.
    pub(crate) async fn create(&self, name: &str, entry: &GlobalEntry) -> Result<u64, GlobalError> {
        match self
            .inner
            .store
            .create(name, wire::encode(entry).into())
            .await
        {
            Ok(revision) => Ok(revision),
            Err(error) if error.kind() == kv::CreateErrorKind::AlreadyExists => {
                let holder = match self.inner.store.get(name).await {
                    Ok(Some(bytes)) => wire::decode::<GlobalEntry>(&bytes)
                        .map(|entry| entry.node)
                        .unwrap_or_default(),
                    _ => String::new(),
                };
                Err(GlobalError::Taken {
                    name: name.to_string(),
                    holder,
                })
            }
            Err(error) => Err(GlobalError::Transport(error.to_string())),
        }
    }
}

/// Follow the names bucket, and free the names of nodes that go down, until aborted.
pub(crate) async fn watch(
    names: GlobalNames,
    membership: Membership,
    retry: Duration,
    seen: watch::Sender<u64>,
) {
    let mut nodes = membership.subscribe();
    loop {
        let mut entries = match names.inner.store.watch_with_history(">").await {
            Ok(entries) => entries,
            Err(error) => {
                tracing::warn!(%error, "cannot watch global names; retrying");
                tokio::time::sleep(retry).await;
                continue;
            }
        };
        loop {
            tokio::select! {
                entry = entries.next() => match entry {
                    Some(Ok(entry)) => {
                        names.seen(&entry);
                        seen.send_if_modified(|last| crate::membership::raise(last, entry.revision));
                    }
                    Some(Err(error)) => {
                        tracing::warn!(%error, "global names watch failed; watching again");
                        break;
                    }
                    None => break,
                },
                event = nodes.recv() => {
                    if let Ok(NodeEvent::Down { node, incarnation, .. }) = event {
                        names.node_down(&node, incarnation).await;
                    }
                }
            }
        }
        tokio::time::sleep(retry).await;
    }
}

/// A global name this node holds. It is held until the process ends,
/// [`GlobalName::unregister`] is called, or another node takes it after this one
/// was cut off for longer than the lease (then [`GlobalName::lost`] resolves).
/// Dropping the handle keeps the name: it lives as long as its process.
pub struct GlobalName {
    pub(crate) name: String,
    pub(crate) lost: watch::Receiver<bool>,
    pub(crate) release: Option<tokio::sync::oneshot::Sender<()>>,
    pub(crate) holder: tokio::task::JoinHandle<()>,
}

impl GlobalName {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Resolves when the name is no longer held by this process (it ended, or the
    /// name was lost or given up).
    pub async fn lost(&mut self) {
        let _ = self.lost.wait_for(|lost| *lost).await;
    }

    /// Give the name up now, and wait until the entry is deleted.
    pub async fn unregister(mut self) {
        if let Some(release) = self.release.take() {
            let _ = release.send(());
        }
        let _ = (&mut self.holder).await;
    }
}
