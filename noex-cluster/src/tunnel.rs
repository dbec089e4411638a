//! A node's agent, reached through NATS: a byte tunnel between an observer and the
//! agent socket of the node's own process. The agent protocol crosses it unchanged,
//! so every `noex` command that attaches to one application (`ps`, `tree`, `kill`,
//! `restart`, `events`, `top`) works on any node with `--cluster URL --node NAME`,
//! with the agent's own checks (its read-only mode, connection limit and budgets).
//!
//! The observer picks a session id, subscribes to the session's `down` subject, and
//! asks the node to dial ([`Request::Dial`](crate::wire::Request)); the node
//! subscribes to `up`, connects to its agent and answers. Each message carries a kind
//! and a sequence number: core NATS may drop messages for a slow subscriber, and a
//! byte stream with a hole in it would be misread, so a gap ends the tunnel. An end
//! whose stream closes says so (an `END` message), and the other closes at once.
//! Every few seconds each end sends a keepalive as a NATS request, which the other
//! end answers: NATS replies "no responders" at once when nobody listens on the
//! subject any more, so an end that vanished without a word (a killed `noex`) is
//! noticed at the next keepalive. An end that hears nothing for [`IDLE_LIMIT`] gives
//! the tunnel up.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use async_nats::RequestErrorKind;
use bytes::{BufMut, BytesMut};
use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

use crate::error::RemoteError;
use crate::subjects;
use crate::wire::Reply;

/// Silence after which an end gives the tunnel up.
pub const IDLE_LIMIT: Duration = Duration::from_secs(15);
/// How often each end asks whether the other is still there.
const KEEPALIVE_EVERY: Duration = Duration::from_secs(4);
/// How long a keepalive waits for its answer; a late one is not an error (the idle
/// limit decides), only "no responders" is.
const KEEPALIVE_ANSWER: Duration = Duration::from_secs(2);
/// At most this many tunnels into one node at a time (its agent has its own limit).
const MAX_TUNNELS: usize = 8;
/// How long a dial waits for a tunnel to free before it is refused.
const SLOT_WAIT: Duration = Duration::from_secs(1);
/// Bytes read from the stream per message: well under NATS' default 1 MiB payload.
const CHUNK: usize = 64 * 1024;
/// The observer's side of the in-process pipe to its agent client.
const PIPE_BUFFER: usize = 256 * 1024;

const DATA: u8 = 0;
const END: u8 = 1;
const KEEPALIVE: u8 = 2;
const HEADER: usize = 9;

/// The node's side: who may open a tunnel, and into which agent.
#[derive(Clone)]
pub(crate) struct Tunnels {
    client: async_nats::Client,
    cluster: String,
    slots: Arc<Semaphore>,
}

impl Tunnels {
    pub(crate) fn new(client: async_nats::Client, cluster: String) -> Tunnels {
        Tunnels {
            client,
            cluster,
            slots: Arc::new(Semaphore::new(MAX_TUNNELS)),
        }
    }

    /// Open session `session` into this process's agent, or say why not.
    pub(crate) async fn open(&self, session: String) -> Reply {
        if !subjects::is_token(&session) {
            return Reply::Refused(format!("invalid tunnel session id {session:?}"));
        }
        let Some(path) = noex::agent::socket_path() else {
            return Reply::Refused(
                "its agent is not running (started with NOEX_AGENT=off, or disabled)".into(),
            );
        };
        // A tunnel that just ended may not have given its slot back yet (its last
        // message and this request travel apart): wait a moment before refusing.
        let waiting = Arc::clone(&self.slots).acquire_owned();
        let Ok(Ok(slot)) = tokio::time::timeout(SLOT_WAIT, waiting).await else {
            return Reply::Refused(format!("{MAX_TUNNELS} tunnels are open already"));
        };
        let up = match self
            .client
            .subscribe(subjects::tunnel(&self.cluster, &session, "up"))
            .await
        {
            Ok(up) => up,
            Err(error) => return Reply::Refused(format!("NATS: {error}")),
        };
        let agent = match noex_agent::client::dial(&path).await {
            Ok(agent) => agent,
            Err(error) => return Reply::Refused(format!("its agent does not answer: {error}")),
        };
        let down = subjects::tunnel(&self.cluster, &session, "down");
        let client = self.client.clone();
        tokio::spawn(async move {
            let _slot = slot;
            if let Err(why) = pump(client, agent, up, down).await {
                tracing::debug!(%session, %why, "agent tunnel ended");
            }
        });
        Reply::Done
    }
}

/// The observer ends of this process's tunnels, so that a program about to exit can
/// let them tell their nodes ([`close_observer_tunnels`]).
static OBSERVER_ENDS: LazyLock<TaskTracker> = LazyLock::new(TaskTracker::new);

/// Wait, at most `within`, until every tunnel this process dialled has ended and told
/// its node so: a program calls it before it exits, after dropping the streams, so
/// the nodes free their tunnels at once rather than at the next keepalive.
pub async fn close_observer_tunnels(within: Duration) {
    OBSERVER_ENDS.close();
    let _ = tokio::time::timeout(within, OBSERVER_ENDS.wait()).await;
    OBSERVER_ENDS.reopen();
}

/// The observer's side: a stream that reaches `node`'s agent, for
/// `noex_agent::client::Client::handshake`.
pub(crate) async fn dial(
    client: &async_nats::Client,
    cluster: &str,
    node: &str,
) -> Result<DuplexStream, RemoteError> {
    let session = client
        .new_inbox()
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .to_string();
    // Subscribed before the node opens the agent, whose greeting comes at once.
    let down = client
        .subscribe(subjects::tunnel(cluster, &session, "down"))
        .await
        .map_err(|error| RemoteError::Transport(error.to_string()))?;
    let rpc = subjects::node_rpc(cluster, node);
    let request = crate::wire::Request::Dial {
        session: session.clone(),
    };
    match crate::rpc::request(client, &rpc, &request, crate::rpc::CONTROL_TIMEOUT).await {
        Ok(Reply::Done) => {}
        Ok(Reply::Refused(reason)) => {
            return Err(RemoteError::Refused {
                node: node.to_string(),
                reason,
            });
        }
        Ok(other) => {
            return Err(RemoteError::Transport(format!(
                "unexpected reply {other:?}"
            )));
        }
        Err(RemoteError::NodeDown { .. }) => {
            return Err(RemoteError::NodeDown {
                node: node.to_string(),
            });
        }
        Err(error) => return Err(error),
    }
    let (ours, theirs) = tokio::io::duplex(PIPE_BUFFER);
    let up = subjects::tunnel(cluster, &session, "up");
    let client = client.clone();
    OBSERVER_ENDS.spawn(async move {
        if let Err(why) = pump(client, ours, down, up).await {
            tracing::debug!(%session, %why, "agent tunnel ended");
        }
    });
    Ok(theirs)
}

/// Carry bytes both ways between `stream` and the tunnel's subjects until either side
/// ends, a message is lost, or the other end falls silent.
async fn pump(
    client: async_nats::Client,
    stream: impl AsyncRead + AsyncWrite,
    mut inbound: async_nats::Subscriber,
    outbound: String,
) -> Result<(), String> {
    let (mut reader, mut writer) = tokio::io::split(stream);
    let sender = Sender {
        client: &client,
        subject: outbound,
        next: std::sync::atomic::AtomicU64::new(0),
    };
    let sending = async {
        let mut buffer = vec![0; CHUNK];
        // Busy or not: a stream of pushes to an end that was killed would otherwise
        // flow until the idle limit.
        let mut keepalives = tokio::time::interval_at(
            tokio::time::Instant::now() + KEEPALIVE_EVERY,
            KEEPALIVE_EVERY,
        );
        keepalives.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = keepalives.tick() => sender.keepalive().await?,
                // `read` is cancel-safe: nothing is lost when the tick wins.
                read = reader.read(&mut buffer) => match read {
                    Ok(0) => {
                        sender.send(END, &[]).await?;
                        return Ok(());
                    }
                    Ok(n) => sender.send(DATA, &buffer[..n]).await?,
                    Err(error) => {
                        let _ = sender.send(END, &[]).await;
                        return Err(format!("stream: {error}"));
                    }
                },
            }
        }
    };
    let receiving = async {
        let mut expected = 0u64;
        loop {
            let message = tokio::time::timeout(IDLE_LIMIT, inbound.next())
                .await
                .map_err(|_| format!("nothing from the other end for {IDLE_LIMIT:?}"))?
                .ok_or("the subscription ended")?;
            let (kind, sequence, data) = parse(&message.payload)?;
            if sequence != expected {
                return Err(format!(
                    "message {expected} lost (got {sequence}): the reader fell behind"
                ));
            }
            expected += 1;
            if let Some(to) = message.reply {
                // A keepalive: the answer says this end is still here.
                let _ = client.publish(to, bytes::Bytes::new()).await;
            }
            match kind {
                DATA => writer
                    .write_all(data)
                    .await
                    .map_err(|error| format!("stream: {error}"))?,
                END => return Ok(()),
                _ => {}
            }
        }
    };
    let result = tokio::select! {
        sent = sending => sent,
        received = receiving => {
            // Tell the other end, so it does not wait out the idle limit.
            let _ = sender.send(END, &[]).await;
            received
        }
    };
    let _ = client.flush().await;
    result
}

struct Sender<'a> {
    client: &'a async_nats::Client,
    subject: String,
    next: std::sync::atomic::AtomicU64,
}

impl Sender<'_> {
    async fn send(&self, kind: u8, data: &[u8]) -> Result<(), String> {
        self.client
            .publish(self.subject.clone(), self.message(kind, data))
            .await
            .map_err(|error| format!("NATS: {error}"))
    }

    /// A keepalive, as a request: "no responders" means the other end is gone.
    async fn keepalive(&self) -> Result<(), String> {
        let asking = self
            .client
            .request(self.subject.clone(), self.message(KEEPALIVE, &[]));
        match tokio::time::timeout(KEEPALIVE_ANSWER, asking).await {
            Ok(Err(error)) if error.kind() == RequestErrorKind::NoResponders => {
                Err("the other end is gone: nobody listens on the tunnel".to_string())
            }
            _ => Ok(()),
        }
    }

    fn message(&self, kind: u8, data: &[u8]) -> bytes::Bytes {
        let sequence = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut message = BytesMut::with_capacity(HEADER + data.len());
        message.put_u8(kind);
        message.put_u64(sequence);
        message.put_slice(data);
        message.freeze()
    }
}

fn parse(payload: &[u8]) -> Result<(u8, u64, &[u8]), String> {
    if payload.len() < HEADER || payload[0] > KEEPALIVE {
        return Err("not a tunnel message".to_string());
    }
    let sequence = u64::from_be_bytes(payload[1..HEADER].try_into().expect("8 bytes"));
    Ok((payload[0], sequence, &payload[HEADER..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_too_short_or_of_an_unknown_kind_is_refused() {
        assert!(parse(&[0; 8]).is_err());
        assert!(parse(&[3, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
        let (kind, sequence, data) = parse(&[0, 0, 0, 0, 0, 0, 0, 1, 2, b'h', b'i']).unwrap();
        assert_eq!((kind, sequence, data), (DATA, 258, &b"hi"[..]));
    }
}
