//! The processes this node lets other nodes call: each is exposed under a key
//! (its registered name, or `@name` for a global name), with the serde of its
//! messages. The node's request loop ([`serve`]) dispatches on that key.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::Poll;
use std::time::Duration;

use futures_util::StreamExt;
use noex::error::CallError;
use noex::{GenServer, NamedRef, Pid, ServerRef};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::monitor::Monitors;
use crate::tunnel::Tunnels;
use crate::wire::{self, Reply, Request};

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A process other nodes may call, with its message types erased.
pub(crate) trait Exported: Send + Sync {
    fn call(&self, payload: Vec<u8>, timeout: Duration) -> BoxFuture<Reply>;
    fn cast(&self, payload: Vec<u8>) -> Reply;
    fn pid(&self) -> Option<Pid>;
}

/// A process by registered name (followed across restarts) or one exact process.
pub(crate) enum Target<S: GenServer> {
    Name(NamedRef<S>),
    Exact(ServerRef<S>),
}

impl<S: GenServer> Target<S> {
    fn resolve(&self) -> Option<ServerRef<S>> {
        match self {
            Target::Name(named) => named.resolve().ok(),
            Target::Exact(server) => server.is_running().then(|| server.clone()),
        }
    }
}

impl<S> Exported for Target<S>
where
    S: GenServer,
    S::Call: DeserializeOwned,
    S::Cast: DeserializeOwned,
    S::Reply: Serialize,
{
    fn call(&self, payload: Vec<u8>, timeout: Duration) -> BoxFuture<Reply> {
        let server = self.resolve();
        Box::pin(async move {
            let Some(server) = server else {
                return Reply::NoProcess;
            };
            let request: S::Call = match wire::decode(&payload) {
                Ok(request) => request,
                Err(error) => return Reply::Decode(error),
            };
            match server.call_timeout(request, timeout).await {
                Ok(reply) => Reply::Value(wire::encode(&reply)),
                Err(CallError::Timeout(_)) => Reply::Timeout,
                Err(CallError::Exited { reason, .. }) => Reply::Exited(reason.to_string()),
                Err(CallError::NoReply { .. }) => Reply::Exited("dropped the call".to_string()),
                Err(_) => Reply::NoProcess,
            }
        })
    }

    fn cast(&self, payload: Vec<u8>) -> Reply {
        let Some(server) = self.resolve() else {
            return Reply::NoProcess;
        };
        match wire::decode::<S::Cast>(&payload) {
            Ok(message) => match server.cast(message) {
                Ok(()) => Reply::Done,
                Err(_) => Reply::NoProcess,
            },
            Err(error) => Reply::Decode(error),
        }
    }

    fn pid(&self) -> Option<Pid> {
        self.resolve().map(|server| server.pid())
    }
}

#[derive(Clone, Default)]
pub(crate) struct Exports {
    table: Arc<RwLock<HashMap<String, Arc<dyn Exported>>>>,
}

impl Exports {
    pub(crate) fn insert(&self, key: String, exported: Arc<dyn Exported>) {
        self.table.write().unwrap().insert(key, exported);
    }

    pub(crate) fn remove(&self, key: &str) {
        self.table.write().unwrap().remove(key);
    }

    fn get(&self, key: &str) -> Option<Arc<dyn Exported>> {
        self.table.read().unwrap().get(key).cloned()
    }

    /// The process a monitor request names: an exposed key first (global names are
    /// only there), else any registered name.
    pub(crate) fn pid_of(&self, name: &str) -> Option<Pid> {
        match self.get(name) {
            Some(exported) => exported.pid(),
            None => noex::registry::whereis(name),
        }
    }
}

/// Answer this node's requests until the subscription ends.
///
/// Messages from one node arrive in the order it sent them, and they reach the
/// process in that order too, as in Erlang between two processes: each request is
/// polled once here, which puts a call or cast into the process's mailbox, and only
/// the wait for a reply goes on in a task of its own, so a slow call holds up
/// nothing behind it.
pub(crate) async fn serve(
    client: async_nats::Client,
    mut requests: async_nats::Subscriber,
    exports: Exports,
    monitors: Monitors,
    tunnels: Tunnels,
) {
    while let Some(message) = requests.next().await {
        let exports = exports.clone();
        let monitors = monitors.clone();
        let tunnels = tunnels.clone();
        let mut answering: BoxFuture<Reply> = Box::pin(async move {
            match wire::decode::<Request>(&message.payload) {
                Ok(request) => answer(request, &exports, &monitors, &tunnels).await,
                Err(error) => Reply::Decode(error),
            }
        });
        let reply_to = message.reply;
        let first = {
            let mut noop = std::task::Context::from_waker(std::task::Waker::noop());
            answering.as_mut().poll(&mut noop)
        };
        match first {
            Poll::Ready(reply) => send_reply(&client, reply_to, reply).await,
            Poll::Pending => {
                let client = client.clone();
                tokio::spawn(async move {
                    let reply = answering.await;
                    send_reply(&client, reply_to, reply).await;
                });
            }
        }
    }
}

/// Replies up to this size are sent without asking the server's `max_payload`
/// (1 MiB by default; a server set below 64 KiB gets such replies refused as
/// before: a timeout at the caller).
const SMALL_REPLY: usize = 64 * 1024;

/// A cast comes without a reply subject: at most once, nobody waits.
async fn send_reply(client: &async_nats::Client, to: Option<async_nats::Subject>, reply: Reply) {
    if let Some(to) = to {
        let mut encoded = wire::encode(&reply);
        // NATS would refuse a reply over its limit, and the caller wait out its
        // timeout: say so instead. The limit is read (a copy of the server's info)
        // only for a reply large enough to come near it, not on every call.
        let limit = match encoded.len() {
            0..=SMALL_REPLY => usize::MAX,
            _ => client.server_info().max_payload,
        };
        if encoded.len() > limit {
            encoded = wire::encode(&Reply::TooLarge {
                bytes: encoded.len() as u64,
                limit: limit as u64,
            });
        }
        let _ = client.publish(to, encoded.into()).await;
    }
}

async fn answer(
    request: Request,
    exports: &Exports,
    monitors: &Monitors,
    tunnels: &Tunnels,
) -> Reply {
    match request {
        Request::Call {
            name,
            timeout_ms,
            payload,
        } => match exports.get(&name) {
            Some(exported) => {
                exported
                    .call(payload, Duration::from_millis(timeout_ms))
                    .await
            }
            None => Reply::NoProcess,
        },
        Request::Cast { name, payload } => match exports.get(&name) {
            Some(exported) => exported.cast(payload),
            None => Reply::NoProcess,
        },
        Request::Monitor { name, watcher, id } => match exports.pid_of(&name) {
            Some(pid) => {
                monitors.watch_local(pid, watcher, id);
                Reply::Done
            }
            None => Reply::NoProcess,
        },
        Request::Demonitor { watcher, id } => {
            monitors.unwatch_local(&watcher, id);
            Reply::Done
        }
        Request::Ping => Reply::Done,
        Request::Snapshot => Reply::Value(wire::encode(&noex::observer::snapshot())),
        Request::Tree => Reply::Value(wire::encode(&noex::observer::process_tree())),
        Request::Dial { session } => tunnels.open(session).await,
    }
}
