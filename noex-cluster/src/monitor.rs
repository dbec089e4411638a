//! Remote monitors (Erlang's `monitor(process, {Name, Node})`).
//!
//! The watching node keeps a pending [`RemoteMonitor`] per id; the watched node
//! monitors its local process and, when it ends, sends `Down` to the watcher's
//! subject until the watcher acknowledges it or is down itself. If the watched node
//! goes down first, the watcher resolves every monitor on it with
//! [`DownReason::NoConnection`]. Whichever comes first wins; the entry is taken out
//! of the table as it fires, so each monitor fires exactly once.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::StreamExt;
use noex::Pid;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::membership::{Membership, NodeEvent};
use crate::subjects;
use crate::wire::{self, Down};

/// Why a monitored remote process is gone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DownReason {
    /// It exited, with this reason (`normal`, `killed`, a crash's message, …).
    Exit(String),
    /// It was not running when the monitor was set (Erlang's `noproc`).
    NoProc,
    /// Its node went down, or could not be reached (Erlang's `noconnection`).
    NoConnection,
}

/// What a [`RemoteMonitor`] resolves with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteDown {
    pub node: String,
    pub name: String,
    pub reason: DownReason,
}

struct Pending {
    node: String,
    name: String,
    incarnation: u64,
    fire: oneshot::Sender<RemoteDown>,
}

#[derive(Clone)]
pub(crate) struct Monitors {
    inner: Arc<Inner>,
}

struct Inner {
    client: async_nats::Client,
    cluster: String,
    membership: Membership,
    next_id: AtomicU64,
    /// Monitors this node set on others' processes.
    pending: Mutex<HashMap<u64, Pending>>,
    /// Monitors others set on this node's processes, by (watcher, id).
    local: Mutex<HashMap<(String, u64), JoinHandle<()>>>,
}

/// Resend a `Down` this often while the watcher is up and has not acknowledged it.
const DOWN_RETRY: Duration = Duration::from_millis(500);

impl Monitors {
    pub(crate) fn new(client: async_nats::Client, cluster: String, membership: Membership) -> Self {
        Monitors {
            inner: Arc::new(Inner {
                client,
                cluster,
                membership,
                next_id: AtomicU64::new(1),
                pending: Mutex::new(HashMap::new()),
                local: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Set a monitor on process `name` (a registered name or an exposed key) of `node`.
    pub(crate) async fn monitor(&self, node: &str, name: &str) -> RemoteMonitor {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let (fire, down) = oneshot::channel();
        let monitor = RemoteMonitor {
            id,
            down,
            monitors: Some(self.clone()),
        };
        let Some(incarnation) = self.inner.membership.incarnation(node) else {
            let _ = fire.send(RemoteDown {
                node: node.to_string(),
                name: name.to_string(),
                reason: DownReason::NoConnection,
            });
            return monitor;
        };
        // In the table before the request: the `Down` may come before the reply.
        self.inner.pending.lock().unwrap().insert(
            id,
            Pending {
                node: node.to_string(),
                name: name.to_string(),
                incarnation,
                fire,
            },
        );
        let me = self.inner.membership.me().node.clone();
        let request = wire::Request::Monitor {
            name: name.to_string(),
            watcher: me,
            id,
        };
        let reason = match crate::rpc::request(
            &self.inner.client,
            &subjects::node_rpc(&self.inner.cluster, node),
            &request,
            crate::rpc::CONTROL_TIMEOUT,
        )
        .await
        {
            Ok(wire::Reply::Done) => None,
            Ok(wire::Reply::NoProcess) => Some(DownReason::NoProc),
            Ok(_) | Err(_) => Some(DownReason::NoConnection),
        };
        if let Some(reason) = reason {
            self.fire(id, |_| reason);
        }
        monitor
    }

    /// A monitor on a process known not to exist: it fires `noproc` at once.
    pub(crate) fn monitor_nothing(&self, what: &str) -> RemoteMonitor {
        let (fire, down) = oneshot::channel();
        let _ = fire.send(RemoteDown {
            node: String::new(),
            name: what.to_string(),
            reason: DownReason::NoProc,
        });
        RemoteMonitor {
            id: 0,
            down,
            monitors: None,
        }
    }

    /// Resolve monitor `id` if it is still pending; true if this call fired it.
    fn fire(&self, id: u64, reason: impl FnOnce(&Pending) -> DownReason) -> bool {
        let pending = self.inner.pending.lock().unwrap().remove(&id);
        match pending {
            Some(pending) => {
                let down = RemoteDown {
                    reason: reason(&pending),
                    node: pending.node,
                    name: pending.name,
                };
                let _ = pending.fire.send(down);
                true
            }
            None => false,
        }
    }

    fn cancel(&self, id: u64) {
        let pending = self.inner.pending.lock().unwrap().remove(&id);
        if let Some(pending) = pending {
            let me = self.inner.membership.me().node.clone();
            let request = wire::encode(&wire::Request::Demonitor { watcher: me, id });
            let client = self.inner.client.clone();
            let subject = subjects::node_rpc(&self.inner.cluster, &pending.node);
            // Best effort: a monitor left behind only sends one `Down` nobody awaits.
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    let _ = client.publish(subject, request.into()).await;
                });
            }
        }
    }

    /// Every monitor on a node that went down fires with `noconnection`.
    fn node_down(&self, node: &str, incarnation: u64) {
        let ids: Vec<u64> = self
            .inner
            .pending
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, p)| p.node == node && p.incarnation == incarnation)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.fire(id, |_| DownReason::NoConnection);
        }
        // Monitors that node had set here have nobody to tell any more.
        self.inner
            .local
            .lock()
            .unwrap()
            .retain(|(watcher, _), task| {
                let keep = watcher != node;
                if !keep {
                    task.abort();
                }
                keep
            });
    }

    /// This node leaves: as in Erlang when a node stops its distribution, every
    /// monitor it set fires with `noconnection`, and those set on its processes stop.
    pub(crate) fn leave(&self) {
        let ids: Vec<u64> = self.inner.pending.lock().unwrap().keys().copied().collect();
        for id in ids {
            self.fire(id, |_| DownReason::NoConnection);
        }
        for (_, task) in self.inner.local.lock().unwrap().drain() {
            task.abort();
        }
    }

    /// Watch local process `pid` for monitor `id` of node `watcher`.
    pub(crate) fn watch_local(&self, pid: Pid, watcher: String, id: u64) {
        let down = noex::process::monitor(pid);
        let this = self.clone();
        let key = (watcher.clone(), id);
        let task = tokio::spawn(async move {
            let reason = down.await.reason;
            let reason = if reason == noex::ExitReason::NoProc {
                "noproc".to_string()
            } else {
                reason.to_string()
            };
            this.deliver(&watcher, Down { id, reason }).await;
            this.inner.local.lock().unwrap().remove(&(watcher, id));
        });
        self.inner.local.lock().unwrap().insert(key, task);
    }

    pub(crate) fn unwatch_local(&self, watcher: &str, id: u64) {
        if let Some(task) = self
            .inner
            .local
            .lock()
            .unwrap()
            .remove(&(watcher.to_string(), id))
        {
            task.abort();
        }
    }

    /// Send `down` until the watcher acknowledges it or is no longer up.
    async fn deliver(&self, watcher: &str, down: Down) {
        let subject = subjects::node_downs(&self.inner.cluster, watcher);
        let payload = bytes::Bytes::from(wire::encode(&down));
        while self.inner.membership.incarnation(watcher).is_some() {
            let sent = self
                .inner
                .client
                .send_request(
                    subject.clone(),
                    async_nats::Request::new()
                        .payload(payload.clone())
                        .timeout(Some(DOWN_RETRY)),
                )
                .await;
            if sent.is_ok() {
                return;
            }
            tokio::time::sleep(DOWN_RETRY).await;
        }
    }
}

/// Take in the `Down`s sent to this node, and node-down events, until aborted.
pub(crate) async fn receive(
    monitors: Monitors,
    mut downs: async_nats::Subscriber,
    mut nodes: tokio::sync::broadcast::Receiver<NodeEvent>,
) {
    loop {
        tokio::select! {
            message = downs.next() => {
                let Some(message) = message else { return };
                if let Ok(down) = wire::decode::<Down>(&message.payload) {
                    let reason = if down.reason == "noproc" {
                        DownReason::NoProc
                    } else {
                        DownReason::Exit(down.reason)
                    };
                    monitors.fire(down.id, |_| reason);
                }
                // Acknowledged also when it had fired already: the sender may stop.
                if let Some(reply) = message.reply {
                    let _ = monitors.inner.client.publish(reply, bytes::Bytes::new()).await;
                }
            }
            event = nodes.recv() => match event {
                Ok(NodeEvent::Down { node, incarnation, .. }) => monitors.node_down(&node, incarnation),
                Ok(NodeEvent::Up(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    }
}

/// A monitor on a remote process: a future resolving with its [`RemoteDown`],
/// exactly once. Dropping it before then takes the monitor back (Erlang's
/// `demonitor`).
pub struct RemoteMonitor {
    id: u64,
    down: oneshot::Receiver<RemoteDown>,
    monitors: Option<Monitors>,
}

impl RemoteMonitor {
    pub fn id(&self) -> u64 {
        self.id
    }
}

impl Future for RemoteMonitor {
    type Output = RemoteDown;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<RemoteDown> {
        match Pin::new(&mut self.down).poll(cx) {
            Poll::Ready(Ok(down)) => {
                self.monitors = None;
                Poll::Ready(down)
            }
            // The cluster was left: nothing can come any more.
            Poll::Ready(Err(_)) => {
                self.monitors = None;
                Poll::Ready(RemoteDown {
                    node: String::new(),
                    name: String::new(),
                    reason: DownReason::NoConnection,
                })
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for RemoteMonitor {
    fn drop(&mut self) {
        if let Some(monitors) = self.monitors.take() {
            monitors.cancel(self.id);
        }
    }
}
