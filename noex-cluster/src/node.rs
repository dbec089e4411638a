//! [`join`] and the [`Cluster`] handle: this node's place in the cluster.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::{self, kv};
use noex::{GenServer, NamedRef, ServerRef};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{broadcast, oneshot, watch};
use tokio::task::JoinHandle;

use crate::config::{ClusterConfig, connect};
use crate::error::{GlobalError, JoinError, RemoteError};
use crate::exports::{Exports, Target};
use crate::global::{self, GlobalName, GlobalNames, check_global_name, target_key};
use crate::membership::{self, Membership, NodeEvent};
use crate::monitor::{self, Monitors, RemoteMonitor};
use crate::rpc;
use crate::subjects;
use crate::wire::{self, GlobalEntry, NodeInfo};

/// This node, joined to a cluster. Cheap to clone; [`Cluster::leave`] ends it.
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

struct Inner {
    config: ClusterConfig,
    client: async_nats::Client,
    membership: Membership,
    exports: Exports,
    names: GlobalNames,
    nodes_store: kv::Store,
    monitors: Monitors,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// Join the cluster: connect to NATS, check that the node name is free, start the
/// heartbeat, and follow membership and global names. Returns once this node is up
/// and has read the nodes and names there were.
pub async fn join(config: ClusterConfig) -> Result<Cluster, JoinError> {
    config.validate()?;
    let client = connect(&config, format!("noex node {}", config.node)).await?;
    let rpc_subject = subjects::node_rpc(&config.cluster, &config.node);
    match rpc::request(
        &client,
        &rpc_subject,
        &wire::Request::Ping,
        rpc::CONTROL_TIMEOUT,
    )
    .await
    {
        Err(RemoteError::NodeDown { .. }) => {}
        Ok(_) => {
            return Err(JoinError::NameInUse {
                node: config.node.clone(),
                cluster: config.cluster.clone(),
            });
        }
        Err(error) => {
            return Err(JoinError::NameHeld {
                node: config.node.clone(),
                cluster: config.cluster.clone(),
                reason: error.to_string(),
            });
        }
    }
    let js = jetstream::new(client.clone());
    // Entries outlive a dead node by a few `down_after`s at most, for when no node
    // is left to purge them.
    let max_age = config.down_after * 3;
    let replicas = config.replicas;
    let nodes_store = open_bucket(
        &js,
        subjects::nodes_bucket(&config.cluster),
        max_age,
        replicas,
    )
    .await?;
    let names_store = open_bucket(
        &js,
        subjects::names_bucket(&config.cluster),
        max_age,
        replicas,
    )
    .await?;

    let me = NodeInfo {
        node: config.node.clone(),
        app: noex::observer::app_name(),
        os_pid: std::process::id(),
        host: hostname(),
        joined_at_ms: now_ms(),
        heartbeat_ms: config.heartbeat.as_millis() as u64,
        down_after_ms: config.down_after.as_millis() as u64,
        incarnation: incarnation(),
    };
    let membership = Membership::new(me.clone());
    let exports = Exports::default();
    let names = GlobalNames::new(names_store);
    let monitors = Monitors::new(client.clone(), config.cluster.clone(), membership.clone());

    let subscribe = |subject: String| {
        let client = client.clone();
        async move {
            client
                .subscribe(subject)
                .await
                .map_err(|error| JoinError::Connect {
                    url: String::new(),
                    reason: error.to_string(),
                })
        }
    };
    let requests = subscribe(rpc_subject).await?;
    let downs = subscribe(subjects::node_downs(&config.cluster, &config.node)).await?;

    // Written once before returning, so the others can reach this node at once.
    let my_entry = nodes_store
        .put(&me.node, wire::encode(&me).into())
        .await
        .map_err(|error| JoinError::JetStream(error.to_string()))?;
    // Where the names bucket ends now (0: empty).
    let names_end = names
        .store()
        .status()
        .await
        .map_or(0, |status| status.info.state.last_sequence);

    let (names_read, mut names_read_to) = watch::channel(0);
    let (nodes_read, mut nodes_read_to) = watch::channel(0);
    let tasks = vec![
        tokio::spawn(crate::exports::serve(
            client.clone(),
            requests,
            exports.clone(),
            monitors.clone(),
            crate::tunnel::Tunnels::new(client.clone(), config.cluster.clone()),
        )),
        tokio::spawn(monitor::receive(
            monitors.clone(),
            downs,
            membership.subscribe(),
        )),
        tokio::spawn(global::watch(
            names.clone(),
            membership.clone(),
            config.heartbeat,
            names_read,
        )),
        tokio::spawn(membership::watch(
            nodes_store.clone(),
            membership.clone(),
            config.heartbeat,
            config.down_after,
            nodes_read,
        )),
        tokio::spawn(membership::heartbeat(
            nodes_store.clone(),
            membership.clone(),
            config.heartbeat,
        )),
    ];
    // The nodes and names there are, before `join` returns: both watches have read
    // their bucket as far as it went when this node joined. (Not a watch's own
    // "pending" count: NATS 2.9 servers report it one too high.)
    let caught_up = async {
        let _ = nodes_read_to.wait_for(|read| *read >= my_entry).await;
        let _ = names_read_to.wait_for(|read| *read >= names_end).await;
    };
    if tokio::time::timeout(rpc::CONTROL_TIMEOUT, caught_up)
        .await
        .is_err()
    {
        tracing::warn!("joined before reading all nodes and global names: JetStream is slow");
    }
    let cluster = Cluster {
        inner: Arc::new(Inner {
            config,
            client,
            membership,
            exports,
            names,
            nodes_store,
            monitors,
            tasks: Mutex::new(tasks),
        }),
    };
    Ok(cluster)
}

/// The cluster's key-value bucket `bucket`, made if it is not there yet. It is
/// made as a stream with the key-value layout (what `create_key_value` would make)
/// because that call first reads the account's limits in a form NATS 2.9 servers,
/// Debian's, do not send.
async fn open_bucket(
    js: &jetstream::Context,
    bucket: String,
    max_age: Duration,
    replicas: usize,
) -> Result<kv::Store, JoinError> {
    if let Ok(store) = js.get_key_value(&bucket).await {
        return Ok(store);
    }
    let stream = jetstream::stream::Config {
        name: format!("KV_{bucket}"),
        subjects: vec![format!("$KV.{bucket}.>")],
        max_messages_per_subject: 1,
        max_messages: -1,
        max_bytes: -1,
        max_message_size: -1,
        max_consumers: -1,
        max_age,
        storage: jetstream::stream::StorageType::File,
        num_replicas: replicas.max(1),
        discard: jetstream::stream::DiscardPolicy::New,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        ..Default::default()
    };
    let created = js.create_stream(stream).await;
    // Made by another node meanwhile, or by this call: either way, open it.
    js.get_key_value(&bucket).await.map_err(|error| {
        let why = match created {
            Err(created) => created.to_string(),
            Ok(_) => error.to_string(),
        };
        JoinError::JetStream(why)
    })
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn incarnation() -> u64 {
    // Unique enough across restarts of one node name: time and pid.
    (now_ms() << 20) ^ u64::from(std::process::id())
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .unwrap_or_default()
}

impl Cluster {
    pub(crate) fn client(&self) -> &async_nats::Client {
        &self.inner.client
    }

    pub(crate) fn monitors(&self) -> &Monitors {
        &self.inner.monitors
    }

    pub(crate) fn cluster_name(&self) -> &str {
        &self.inner.config.cluster
    }

    /// This node's name.
    pub fn node_name(&self) -> &str {
        &self.inner.config.node
    }

    /// The nodes up now, this one included, by name.
    pub fn nodes(&self) -> Vec<NodeInfo> {
        self.inner.membership.nodes()
    }

    /// Whether `node` is up, as this node sees it now.
    pub fn is_up(&self, node: &str) -> bool {
        self.inner.membership.incarnation(node).is_some()
    }

    /// Node up and down events from now on (Erlang's `net_kernel:monitor_nodes`).
    /// A receiver that falls more than 1,024 events behind gets
    /// `RecvError::Lagged` and misses the oldest; [`Cluster::nodes`] then says who
    /// is up.
    pub fn node_events(&self) -> broadcast::Receiver<NodeEvent> {
        self.inner.membership.subscribe()
    }

    pub(crate) fn check_up(&self, node: &str) -> Result<(), RemoteError> {
        if self.is_up(node) {
            Ok(())
        } else {
            Err(RemoteError::NodeDown {
                node: node.to_string(),
            })
        }
    }

    /// Let other nodes call and cast to the server registered locally as `name`
    /// (whichever process that is at the time: restarts are followed).
    pub fn expose<S>(&self, name: &str)
    where
        S: GenServer,
        S::Call: DeserializeOwned,
        S::Cast: DeserializeOwned,
        S::Reply: Serialize,
    {
        self.inner.exports.insert(
            name.to_string(),
            Arc::new(Target::<S>::Name(NamedRef::new(name.to_string()))),
        );
    }

    /// Stop exposing `name`.
    pub fn unexpose(&self, name: &str) {
        self.inner.exports.remove(name);
    }

    /// Who holds global name `name`, as this node knows it now.
    pub fn whereis_global(&self, name: &str) -> Option<GlobalEntry> {
        self.inner.names.whereis(name)
    }

    /// Every global name held, by name.
    pub fn global_names(&self) -> Vec<(String, GlobalEntry)> {
        self.inner.names.all()
    }

    /// Wait until no process holds global name `name` (a standby's wait before it
    /// tries [`register_global`](Self::register_global) again).
    pub async fn wait_global_free(&self, name: &str) {
        let mut changes = self.inner.names.changes();
        while self.inner.names.whereis(name).is_some() {
            if changes.changed().await.is_err() {
                return;
            }
        }
    }

    /// Register `server` as `name` for the whole cluster (Erlang's
    /// `global:register_name`). Exactly one of several racing registrations wins;
    /// the others get [`GlobalError::Taken`].
    pub async fn register_global<S>(
        &self,
        name: &str,
        server: &ServerRef<S>,
    ) -> Result<GlobalName, GlobalError>
    where
        S: GenServer,
        S::Call: DeserializeOwned,
        S::Cast: DeserializeOwned,
        S::Reply: Serialize,
    {
        check_global_name(name)?;
        if !server.is_running() {
            return Err(GlobalError::NotRunning {
                name: name.to_string(),
            });
        }
        let key = target_key(name);
        let me = self.inner.membership.me();
        let entry = GlobalEntry {
            node: me.node.clone(),
            target: key.clone(),
            incarnation: me.incarnation,
        };
        // Reachable before the name is visible to anyone.
        self.inner
            .exports
            .insert(key.clone(), Arc::new(Target::Exact(server.clone())));
        let revision = match self.inner.names.create(name, &entry).await {
            Ok(revision) => revision,
            Err(error) => {
                self.inner.exports.remove(&key);
                return Err(error);
            }
        };
        let (lost_tx, lost) = watch::channel(false);
        let (release, released) = oneshot::channel();
        let holder = tokio::spawn(hold(
            self.clone(),
            name.to_string(),
            entry,
            revision,
            noex::process::monitor(server.pid()),
            released,
            lost_tx,
        ));
        Ok(GlobalName {
            name: name.to_string(),
            lost,
            release: Some(release),
            holder,
        })
    }

    /// Monitor the process registered (locally) as `name` on `node`, exposed or not.
    pub async fn monitor_name(&self, node: &str, name: &str) -> RemoteMonitor {
        self.inner.monitors.monitor(node, name).await
    }

    /// Leave the cluster: the others see this node down at once, its global names
    /// are freed, and its monitors on others fire with `noconnection`.
    pub async fn leave(self) {
        let tasks = std::mem::take(&mut *self.inner.tasks.lock().unwrap());
        for task in tasks {
            task.abort();
        }
        self.inner.monitors.leave();
        let me = self.inner.membership.me().clone();
        for (name, entry) in self.inner.names.all() {
            if entry.node == me.node && entry.incarnation == me.incarnation {
                let _ = self.inner.names.store().delete(&name).await;
            }
        }
        let _ = self.inner.nodes_store.delete(&me.node).await;
        let _ = self.inner.client.flush().await;
    }
}

/// Hold global name `name` for one process: renew it at every heartbeat, and
/// delete it when the process ends or the name is given up.
async fn hold(
    cluster: Cluster,
    name: String,
    entry: GlobalEntry,
    mut revision: u64,
    mut process: noex::process::Monitor,
    mut released: oneshot::Receiver<()>,
    lost: watch::Sender<bool>,
) {
    let store = cluster.inner.names.store().clone();
    let value = bytes::Bytes::from(wire::encode(&entry));
    let mut renew = tokio::time::interval(cluster.inner.config.heartbeat);
    renew.tick().await;
    let mut releasable = true;
    loop {
        tokio::select! {
            _ = &mut process => break,
            release = &mut released, if releasable => match release {
                Ok(()) => break,
                // The handle was dropped: the name lives as long as the process.
                Err(_) => releasable = false,
            },
            _ = renew.tick() => match store.update(&name, value.clone(), revision).await {
                Ok(next) => revision = next,
                Err(error) if error.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                    // Another node took it after this one was cut off too long.
                    tracing::warn!(%name, "global name lost to another node");
                    cluster.inner.exports.remove(&entry.target);
                    let _ = lost.send(true);
                    return;
                }
                // NATS is away: renew at the next beat.
                Err(error) => tracing::debug!(%name, %error, "global name not renewed"),
            },
        }
    }
    cluster.inner.exports.remove(&entry.target);
    let _ = store.delete_expect_revision(&name, Some(revision)).await;
    let _ = lost.send(true);
}
