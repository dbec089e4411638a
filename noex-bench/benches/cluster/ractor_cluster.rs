//! ractor_cluster 0.16: two `NodeServer`s in this process, `b` connected to `a`
//! over TCP on 127.0.0.1 (no encryption), and a counter actor in the process
//! group "counter". Once the sessions have exchanged their groups, the group also
//! holds the counter's remote proxy (a `RemoteActor` with a remote pid), and every
//! call and cast goes through it: serialized, sent on the session's TCP
//! connection, decoded by the other session and handed to the actor, the reply
//! back the same way.
//!
//! ractor's process groups are one table per process, so both nodes see the real
//! counter as a local member; the bench only uses the remote one.

use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, call, pg};
use ractor_cluster::node::NodeConnectionMode;
use ractor_cluster::{NodeServer, NodeServerMessage, RactorClusterMessage};

use crate::Link;

const GROUP: &str = "counter";
const COOKIE: &str = "bench";

pub struct Counter;

#[derive(RactorClusterMessage)]
pub enum CounterMsg {
    /// Add this.
    Add(i64),
    /// Add this, and reply with the total.
    #[rpc]
    AddGet(i64, RpcReplyPort<i64>),
}

impl Actor for Counter {
    type Msg = CounterMsg;
    type State = i64;
    type Arguments = ();

    async fn pre_start(
        &self,
        myself: ActorRef<CounterMsg>,
        _: (),
    ) -> Result<i64, ActorProcessingErr> {
        pg::join(GROUP.to_string(), vec![myself.get_cell()]);
        Ok(0)
    }

    async fn handle(
        &self,
        _: ActorRef<CounterMsg>,
        message: CounterMsg,
        total: &mut i64,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            CounterMsg::Add(amount) => *total += amount,
            CounterMsg::AddGet(amount, reply) => {
                *total += amount;
                let _ = reply.send(*total);
            }
        }
        Ok(())
    }
}

pub struct RactorCluster {
    /// The counter's remote proxy.
    counter: ActorRef<CounterMsg>,
    local: ActorRef<CounterMsg>,
    nodes: [ActorRef<NodeServerMessage>; 2],
}

impl RactorCluster {
    pub async fn start() -> RactorCluster {
        let port_a = free_port();
        let a = node("a", port_a).await;
        let b = node("b", free_port()).await;
        let (local, _) = Actor::spawn(None, Counter, ())
            .await
            .expect("the counter starts");
        // a's listener is an actor of its own, maybe not bound yet.
        while ractor_cluster::client_connect(&b, ("127.0.0.1", port_a))
            .await
            .is_err()
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // The sessions authenticate, then send each other their groups' members.
        let proxy = loop {
            let remote = pg::get_members(&GROUP.to_string())
                .into_iter()
                .find(|member| !member.get_id().is_local());
            match remote {
                Some(proxy) => break proxy,
                None => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        };
        RactorCluster {
            counter: proxy.into(),
            local,
            nodes: [a, b],
        }
    }

    pub async fn stop(self) {
        let _ = self.local.stop_and_wait(None, None).await;
        for node in self.nodes {
            let _ = node.stop_and_wait(None, None).await;
        }
    }
}

impl Link for RactorCluster {
    const NAME: &'static str = crate::RACTOR_CLUSTER;

    async fn call(&self) -> i64 {
        call!(self.counter, CounterMsg::AddGet, 1).expect("answered")
    }

    async fn cast(&self) {
        self.counter.cast(CounterMsg::Add(1)).expect("sent");
    }
}

async fn node(name: &str, port: u16) -> ActorRef<NodeServerMessage> {
    let server = NodeServer::new(
        port,
        COOKIE.to_string(),
        name.to_string(),
        "127.0.0.1".to_string(),
        None,
        Some(NodeConnectionMode::Isolated),
    )
    .with_listen_addr(IpAddr::V4(Ipv4Addr::LOCALHOST));
    Actor::spawn(None, server, ())
        .await
        .expect("the node server starts")
        .0
}

/// A port nobody listens on now: ractor's `NodeServer` does not say which port
/// it got when given 0.
fn free_port() -> u16 {
    let probe = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("a free port");
    probe.local_addr().expect("its address").port()
}
