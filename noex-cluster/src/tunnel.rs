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
//! byte stream with a hole in it would be misread, so a gap ends the tunnel. Both
//! ends send a keepalive when idle and close after [`IDLE_LIMIT`] of silence, so a
//! vanished observer never holds a connection to the agent.

use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio::sync::Semaphore;

use crate::error::RemoteError;
use crate::subjects;
use crate::wire::Reply;

/// Silence after which an end gives the tunnel up.
pub const IDLE_LIMIT: Duration = Duration::from_secs(15);
/// How often an idle end says it is still there.
const KEEPALIVE_EVERY: Duration = Duration::from_secs(4);
/// At most this many tunnels into one node at a time (its agent has its own limit).
const MAX_TUNNELS: usize = 8;
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
        let Ok(slot) = Arc::clone(&self.slots).try_acquire_owned() else {
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
    match crate::remote::request(client, &rpc, &request, crate::remote::CONTROL_TIMEOUT).await {
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
    tokio::spawn(async move {
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
        loop {
            let read = tokio::time::timeout(KEEPALIVE_EVERY, reader.read(&mut buffer)).await;
            match read {
                Err(_) => sender.send(KEEPALIVE, &[]).await?,
                Ok(Ok(0)) => {
                    sender.send(END, &[]).await?;
                    return Ok(());
                }
                Ok(Ok(n)) => sender.send(DATA, &buffer[..n]).await?,
                Ok(Err(error)) => {
                    let _ = sender.send(END, &[]).await;
                    return Err(format!("stream: {error}"));
                }
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
        let sequence = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut message = BytesMut::with_capacity(HEADER + data.len());
        message.put_u8(kind);
        message.put_u64(sequence);
        message.put_slice(data);
        self.client
            .publish(self.subject.clone(), message.freeze())
            .await
            .map_err(|error| format!("NATS: {error}"))
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
