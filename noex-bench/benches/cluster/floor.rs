//! The floor: a request and its reply, and one-way messages, between two bare
//! async-nats clients on the same `nats-server`, which is what any cluster on NATS
//! pays whatever it builds on top. Two clients, as two nodes have two connections;
//! the answering one counts every message it gets, as the counter does, and
//! answers a request with the count. The payloads are the sizes of noex-cluster's
//! own messages (measured at set-up), so the difference is what noex-cluster does,
//! not what it sends.

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::task::JoinHandle;

use crate::{Link, nats};

const SUBJECT: &str = "floor.bench.node.a.rpc";

/// Bytes on the wire of one message of each kind.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    pub call: usize,
    pub reply: usize,
    pub cast: usize,
}

pub struct Floor {
    caller: async_nats::Client,
    request: Bytes,
    cast: Bytes,
    answering: JoinHandle<()>,
}

impl Floor {
    pub async fn start(url: &str, sizes: Sizes) -> Floor {
        let answerer = async_nats::connect(url).await.expect("connected");
        let mut messages = answerer.subscribe(SUBJECT).await.expect("subscribed");
        nats::round_trip(&answerer).await;
        // The count goes in the first 8 bytes of the reply.
        let reply_size = sizes.reply.max(8);
        let answering = tokio::spawn(async move {
            let mut count = 0i64;
            while let Some(message) = messages.next().await {
                count += 1;
                if let Some(to) = message.reply {
                    let mut reply = vec![0; reply_size];
                    reply[..8].copy_from_slice(&count.to_le_bytes());
                    let _ = answerer.publish(to, reply.into()).await;
                }
            }
        });
        Floor {
            caller: async_nats::connect(url).await.expect("connected"),
            request: Bytes::from(vec![1; sizes.call]),
            cast: Bytes::from(vec![1; sizes.cast]),
            answering,
        }
    }

    pub fn stop(self) {
        self.answering.abort();
    }
}

impl Link for Floor {
    const NAME: &'static str = "raw NATS";

    async fn call(&self) -> i64 {
        let reply = self
            .caller
            .request(SUBJECT, self.request.clone())
            .await
            .expect("answered");
        i64::from_le_bytes(reply.payload[..8].try_into().expect("8 bytes"))
    }

    async fn cast(&self) {
        self.caller
            .publish(SUBJECT, self.cast.clone())
            .await
            .expect("sent");
    }
}
