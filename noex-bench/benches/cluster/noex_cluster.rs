//! noex-cluster: nodes `a` and `b` joined to the bench's NATS server (both in this
//! process, each with its own connection, as two processes would have), a counter
//! GenServer on `a` exposed to the cluster, and `b` calling and casting to it
//! through its `RemoteRef`.

use std::time::Duration;

use futures_util::StreamExt;
use noex::ExitReason;
use noex::ServerRef;
use noex::gen_server::{self, Context, GenServer, Reply, StartOptions};
use noex_cluster::{Cluster, ClusterConfig, RemoteRef, join};

use crate::floor::Sizes;
use crate::{Link, nats};

const COUNTER: &str = "counter";

pub struct Counter(i64);

impl GenServer for Counter {
    /// Add this, and reply with the total.
    type Call = i64;
    /// Add this.
    type Cast = i64;
    type Reply = i64;

    async fn handle_call(&mut self, amount: i64, _: &mut Context<Self>) -> Reply<i64> {
        self.0 += amount;
        Reply::Now(self.0)
    }

    async fn handle_cast(&mut self, amount: i64, _: &mut Context<Self>) {
        self.0 += amount;
    }
}

pub struct NoexCluster {
    counter: RemoteRef<Counter>,
    a: Cluster,
    b: Cluster,
    server: ServerRef<Counter>,
}

impl NoexCluster {
    /// The two nodes, and the sizes of the messages a call and a cast put on the wire.
    pub async fn start(url: &str) -> (NoexCluster, Sizes) {
        let a = join(ClusterConfig::new("a", url))
            .await
            .expect("node a joins");
        let b = join(ClusterConfig::new("b", url))
            .await
            .expect("node b joins");
        let server = gen_server::start(Counter(0), StartOptions::new().name(COUNTER))
            .await
            .expect("the counter starts");
        a.expose::<Counter>(COUNTER);
        while !b.is_up("a") {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let counter = b.remote::<Counter>("a", COUNTER);
        let sizes = sizes(url, &counter).await;
        let nodes = NoexCluster {
            counter,
            a,
            b,
            server,
        };
        (nodes, sizes)
    }

    pub async fn stop(self) {
        self.b.leave().await;
        self.a.leave().await;
        let _ = self.server.stop(ExitReason::Normal).await;
    }
}

impl Link for NoexCluster {
    const NAME: &'static str = "noex-cluster";

    async fn call(&self) -> i64 {
        self.counter.call(1).await.expect("answered")
    }

    async fn cast(&self) {
        self.counter.cast(1).await.expect("sent");
    }
}

/// What one call, its reply and one cast weigh on the wire, read by a third client
/// listening on node `a`'s subject and on the reply's.
async fn sizes(url: &str, counter: &RemoteRef<Counter>) -> Sizes {
    let listener = async_nats::connect(url).await.expect("connected");
    let mut requests = listener
        .subscribe("noex.noex.node.a.rpc")
        .await
        .expect("subscribed");
    // Every inbox, the nodes' JetStream traffic too: the call's reply is picked
    // out by its subject.
    let mut replies = listener.subscribe("_INBOX.>").await.expect("subscribed");
    nats::round_trip(&listener).await;
    counter.call(0).await.expect("answered");
    counter.cast(0).await.expect("sent");
    let read = async {
        let call = requests.next().await.expect("the call");
        let cast = requests.next().await.expect("the cast");
        let to = call.reply.clone().expect("a call has a reply subject");
        let reply = loop {
            let message = replies.next().await.expect("the reply");
            if message.subject == to {
                break message;
            }
        };
        Sizes {
            call: call.payload.len(),
            reply: reply.payload.len(),
            cast: cast.payload.len(),
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("the call, its reply and the cast were seen")
}
