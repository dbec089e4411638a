//! Nodes of a cluster on a real `nats-server`, in processes of their own: remote
//! calls and casts, global names moving on a node's death, pub/sub across nodes,
//! remote monitors. Each rule is Erlang distribution's, named in the test.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use noex::ExitReason;
use noex::event_bus::{EventBus, EventBusOptions};
use noex::gen_server::{self, Context, GenServer, Reply, StartOptions};
use noex_cluster::{
    Cluster, ClusterConfig, ClusterView, DownReason, GlobalError, JoinError, NodeEvent,
    RemoteError, join,
};
use serde::{Deserialize, Serialize};
use support::{Nats, NodeProcess, PATIENCE};
use tokio::io::AsyncBufReadExt;

/// Short timings, so a killed node is seen down within a second or so; the tests
/// wait for the event itself, never for a time.
fn config(node: &str, url: &str) -> ClusterConfig {
    ClusterConfig::new(node, url)
        .heartbeat(Duration::from_millis(200))
        .down_after(Duration::from_millis(1000))
}

struct Counter {
    node: String,
    value: i64,
}

#[derive(Debug, Serialize, Deserialize)]
enum Ask {
    Get,
    Add(i64),
    /// Reply after this many milliseconds.
    Sleep(u64),
    /// Reply with the node's name padded to this many bytes.
    Padded(usize),
}

#[derive(Debug, Serialize, Deserialize)]
enum Tell {
    Add(i64),
}

impl GenServer for Counter {
    type Call = Ask;
    type Cast = Tell;
    /// Which node answered, and the value.
    type Reply = (String, i64);

    async fn handle_call(&mut self, ask: Ask, _: &mut Context<Self>) -> Reply<(String, i64)> {
        match ask {
            Ask::Get => {}
            Ask::Add(n) => self.value += n,
            Ask::Sleep(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
            Ask::Padded(bytes) => {
                let padding = " ".repeat(bytes.saturating_sub(self.node.len()));
                return Reply::Now((format!("{}{padding}", self.node), self.value));
            }
        }
        Reply::Now((self.node.clone(), self.value))
    }

    async fn handle_cast(&mut self, Tell::Add(n): Tell, _: &mut Context<Self>) {
        self.value += n;
    }
}

/// A process that exits with whatever reason it is told.
struct Victim;

impl GenServer for Victim {
    type Call = String;
    type Cast = ();
    type Reply = ();

    async fn handle_call(&mut self, why: String, ctx: &mut Context<Self>) -> Reply<()> {
        ctx.stop(ExitReason::error(why));
        Reply::Now(())
    }
}

/// What a node process runs: a counter exposed as "counter", a "victim", a standby
/// for the global name "leader", a subscriber to bus "chat" on `room.*`; then it
/// takes commands on stdin.
#[test]
#[ignore = "a node process, started by the other tests"]
fn node_process() {
    let node = std::env::var("NOEX_TEST_NODE").expect("started by a test");
    // The test harness has written "test node_process ... " without a line end:
    // end that line, so each of ours starts a line of its own.
    println!();
    let url = std::env::var("NOEX_TEST_NATS").unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let cluster = join(config(&node, &url)).await.expect("the node joins");
        let counter = gen_server::start(
            Counter {
                node: node.clone(),
                value: 0,
            },
            StartOptions::new().name("counter"),
        )
        .await
        .unwrap();
        cluster.expose::<Counter>("counter");
        let victim = gen_server::start(Victim, StartOptions::new().name("victim"))
            .await
            .unwrap();
        cluster.expose::<Victim>("victim");

        let bus = chat(&cluster).await;
        bus.subscribe("room.*", |message, topic| println!("bus {topic} {message}"))
            .await
            .unwrap();

        let standby = {
            let cluster = cluster.clone();
            let counter = counter.clone();
            async move {
                loop {
                    match cluster.register_global("leader", &counter).await {
                        Ok(mut name) => {
                            println!("leader");
                            name.lost().await;
                        }
                        Err(GlobalError::Taken { .. }) => cluster.wait_global_free("leader").await,
                        Err(error) => panic!("{error}"),
                    }
                }
            }
        };
        tokio::spawn(standby);
        println!("joined");

        let mut commands = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        while let Ok(Some(line)) = commands.next_line().await {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["publish", topic, message] => {
                    bus.publish(topic, message.to_string()).await.unwrap();
                    println!("published");
                }
                ["crash", "victim", why] => {
                    let _ = victim.call(why.to_string()).await;
                }
                _ => println!("unknown {line}"),
            }
        }
    });
}

/// What this test's node hears on `bus`'s `room.*`, as "topic message".
async fn rooms_heard(
    bus: &noex_cluster::ClusterBus<String>,
) -> tokio::sync::mpsc::UnboundedReceiver<String> {
    let (seen, heard) = tokio::sync::mpsc::unbounded_channel();
    bus.subscribe("room.*", move |message: &String, topic: &str| {
        let _ = seen.send(format!("{topic} {message}"));
    })
    .await
    .unwrap();
    heard
}

/// The bus "chat" every node of these tests opens.
async fn chat(cluster: &Cluster) -> noex_cluster::ClusterBus<String> {
    let local = EventBus::<String>::start(EventBusOptions::new())
        .await
        .unwrap();
    cluster.bus("chat", local).unwrap()
}

/// This test's own node, in this process.
async fn me(nats: &Nats, name: &str) -> Cluster {
    join(config(name, &nats.url()))
        .await
        .expect("the test node joins")
}

/// Node `a` in a process of its own, and this test's node `t`, each up for the other.
async fn node_a_and_me(nats: &Nats) -> (NodeProcess, Cluster) {
    let a = NodeProcess::start("a", &nats.url());
    let me = me(nats, "t").await;
    until_up(&me, &["a"]).await;
    (a, me)
}

async fn until_up(cluster: &Cluster, nodes: &[&str]) {
    let mut events = cluster.node_events();
    tokio::time::timeout(PATIENCE, async {
        while !nodes.iter().all(|node| cluster.is_up(node)) {
            let _ = events.recv().await;
        }
    })
    .await
    .expect("the nodes come up");
}

async fn until_down(events: &mut tokio::sync::broadcast::Receiver<NodeEvent>, node: &str) {
    tokio::time::timeout(PATIENCE, async {
        loop {
            if let Ok(NodeEvent::Down { node: down, .. }) = events.recv().await
                && down == node
            {
                return;
            }
        }
    })
    .await
    .expect("the node is seen down");
}

/// A NATS server of the test's own, or return (the test skips). This test binary's
/// agent stays off: its nodes leave no socket behind.
macro_rules! nats_or_skip {
    () => {{
        support::agent_off();
        match Nats::start() {
            Some(nats) => nats,
            None => return,
        }
    }};
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_between_two_processes_arrive_in_the_order_sent() {
    let nats = nats_or_skip!();
    let (_a, me) = node_a_and_me(&nats).await;
    let counter = me.remote::<Counter>("a", "counter");
    // A hundred casts, then a call: the call sees every one of them.
    for _ in 0..100 {
        counter.cast(Tell::Add(1)).await.unwrap();
    }
    assert_eq!(
        counter.call(Ask::Get).await.unwrap(),
        ("a".to_string(), 100)
    );
    assert_eq!(
        counter.call(Ask::Add(5)).await.unwrap(),
        ("a".to_string(), 105)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_call_errors_say_node_down_noproc_or_timeout() {
    let nats = nats_or_skip!();
    let (_a, me) = node_a_and_me(&nats).await;

    let nowhere = me.remote::<Counter>("zz", "counter");
    assert_eq!(
        nowhere.call(Ask::Get).await.unwrap_err(),
        RemoteError::NodeDown { node: "zz".into() }
    );
    let nobody = me.remote::<Counter>("a", "nobody");
    assert_eq!(
        nobody.call(Ask::Get).await.unwrap_err(),
        RemoteError::NoProcess {
            node: "a".into(),
            name: "nobody".into()
        }
    );
    let counter = me.remote::<Counter>("a", "counter");
    // A reply NATS would refuse (1 MiB by default) is an error at once, not a timeout.
    let huge = counter.call(Ask::Padded(2 << 20)).await.unwrap_err();
    assert!(
        matches!(&huge, RemoteError::Transport(why) if why.contains("over the NATS server's max_payload of 1048576 bytes")),
        "{huge:?}"
    );
    let slow = counter
        .call_timeout(Ask::Sleep(3_000), Duration::from_millis(500))
        .await
        .unwrap_err();
    assert!(matches!(slow, RemoteError::Timeout { .. }), "{slow:?}");
    // A message of the wrong type is refused, not mistaken for another.
    let wrong = me.remote::<Victim>("a", "counter");
    let refused = wrong.call("boom".to_string()).await.unwrap_err();
    assert!(matches!(refused, RemoteError::Decode { .. }), "{refused:?}");
    // The counter lives on.
    assert_eq!(counter.call(Ask::Get).await.unwrap().1, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joining_under_a_name_that_is_up_is_refused() {
    let nats = nats_or_skip!();
    let _a = NodeProcess::start("a", &nats.url());
    let error = join(config("a", &nats.url())).await.err().expect("refused");
    assert!(matches!(error, JoinError::NameInUse { .. }), "{error}");
    let bad = join(config("a.b", &nats.url()))
        .await
        .err()
        .expect("refused");
    assert!(matches!(bad, JoinError::Config(_)), "{bad}");
}

/// A connection that listens on a node's subject and never answers, as a node whose
/// machine died does until NATS drops it: a join under that name is refused, and
/// the error says the holder does not answer rather than that it is up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joining_under_a_name_held_by_a_silent_connection_is_refused_as_held() {
    let nats = nats_or_skip!();
    let silent = async_nats::connect(nats.url()).await.unwrap();
    let _listening = silent.subscribe("noex.noex.node.zz.rpc").await.unwrap();
    silent.flush().await.unwrap();
    let error = join(config("zz", &nats.url()))
        .await
        .err()
        .expect("refused");
    assert!(
        matches!(&error, JoinError::NameHeld { node, .. } if node == "zz"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_name_moves_to_another_node_when_its_holder_is_killed() {
    let nats = nats_or_skip!();
    let mut nodes: Vec<NodeProcess> = ["a", "b", "c"]
        .iter()
        .map(|name| NodeProcess::start(name, &nats.url()))
        .collect();
    let me = me(&nats, "t").await;
    until_up(&me, &["a", "b", "c"]).await;
    let leader = me.global::<Counter>("leader");
    let mut changes = me.node_events();
    let first = tokio::time::timeout(PATIENCE, async {
        loop {
            if let Ok((node, _)) = leader.call(Ask::Get).await {
                return node;
            }
            me.wait_global_free("no-such-name").await;
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("a leader is registered");
    assert_eq!(me.whereis_global("leader").unwrap().node, first);

    let holder = nodes.iter().position(|node| node.name == first).unwrap();
    nodes[holder].kill();
    until_down(&mut changes, &first).await;
    // One of the two others takes the name, and calls follow it there.
    let second = tokio::time::timeout(PATIENCE, async {
        loop {
            match leader.call(Ask::Get).await {
                Ok((node, _)) if node != first => return node,
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    })
    .await
    .expect("another node takes the name");
    assert_ne!(second, first);
    let taker = nodes.iter_mut().find(|node| node.name == second).unwrap();
    taker.expect("leader");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_global_registrations_have_one_winner_and_the_loser_is_told() {
    let nats = nats_or_skip!();
    let one = me(&nats, "one").await;
    let two = me(&nats, "two").await;
    let counter = |node: &str| Counter {
        node: node.to_string(),
        value: 0,
    };
    let first = gen_server::start(counter("one"), StartOptions::new())
        .await
        .unwrap();
    let second = gen_server::start(counter("two"), StartOptions::new())
        .await
        .unwrap();
    let (a, b) = tokio::join!(
        one.register_global("only", &first),
        two.register_global("only", &second)
    );
    let (winner, loser) = match (a, b) {
        (Ok(_), Err(error)) => ("one", error),
        (Err(error), Ok(_)) => ("two", error),
        (a, b) => panic!("one winner expected: {:?} {:?}", a.is_ok(), b.is_ok()),
    };
    assert_eq!(
        loser,
        GlobalError::Taken {
            name: "only".into(),
            holder: winner.into()
        }
    );
    // Freed when its process ends, and then free for the other.
    let holder = if winner == "one" { &first } else { &second };
    holder.stop(ExitReason::Normal).await.unwrap();
    let other = if winner == "one" { &two } else { &one };
    other.wait_global_free("only").await;
    let again = if winner == "one" { &second } else { &first };
    other
        .register_global("only", again)
        .await
        .expect("free again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_reaches_matching_subscribers_on_every_node() {
    let nats = nats_or_skip!();
    let mut a = NodeProcess::start("a", &nats.url());
    let mut b = NodeProcess::start("b", &nats.url());
    let me = me(&nats, "t").await;
    until_up(&me, &["a", "b"]).await;
    let bus = chat(&me).await;
    let mut here = rooms_heard(&bus).await;
    // `other.x` matches nobody's `room.*`: each node's next line is `room.2`.
    bus.publish("other.x", "nobody".into()).await.unwrap();
    bus.publish("room.2", "hello".into()).await.unwrap();
    assert_eq!(a.expect("bus "), "bus room.2 hello");
    assert_eq!(b.expect("bus "), "bus room.2 hello");
    assert_eq!(here.recv().await.unwrap(), "room.2 hello");
    // And from a node to the others, this one included.
    a.send("publish room.9 from-a");
    // Its own subscriber may print before or after the publish returns.
    let mut on_a = [
        a.expect_one_of(&["published", "bus "]),
        a.expect_one_of(&["published", "bus "]),
    ];
    on_a.sort();
    assert_eq!(on_a, ["bus room.9 from-a", "published"]);
    assert_eq!(b.expect("bus "), "bus room.9 from-a");
    assert_eq!(here.recv().await.unwrap(), "room.9 from-a");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_monitor_fires_once_with_the_exit_reason() {
    let nats = nats_or_skip!();
    let (mut a, me) = node_a_and_me(&nats).await;
    let victim = me.remote::<Victim>("a", "victim");
    let down = me.monitor(&victim).await;
    a.send("crash victim boom");
    let down = tokio::time::timeout(PATIENCE, down)
        .await
        .expect("Down comes");
    assert_eq!(down.reason, DownReason::Exit("boom".into()));
    assert_eq!((down.node.as_str(), down.name.as_str()), ("a", "victim"));
    // Monitoring what is not there is `noproc` at once.
    let gone = me.monitor(&victim).await;
    assert_eq!(gone.await.reason, DownReason::NoProc);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_monitor_fires_noconnection_when_the_node_dies() {
    let nats = nats_or_skip!();
    let (mut a, me) = node_a_and_me(&nats).await;
    let counter = me.remote::<Counter>("a", "counter");
    let by_ref = me.monitor(&counter).await;
    let by_name = me.monitor_name("a", "victim").await;
    a.kill();
    let (by_ref, by_name) = tokio::time::timeout(PATIENCE, async { tokio::join!(by_ref, by_name) })
        .await
        .expect("Down comes");
    assert_eq!(by_ref.reason, DownReason::NoConnection);
    assert_eq!(by_name.reason, DownReason::NoConnection);
    // Calls now fail fast with the node down.
    assert_eq!(
        counter.call(Ask::Get).await.unwrap_err(),
        RemoteError::NodeDown { node: "a".into() }
    );
}

/// NATS itself restarted (SIGKILL, then the same port and store) while calls flow:
/// every node's client reconnects by itself and resubscribes, calls go through again
/// with no action from the application, membership and global names come back from
/// JetStream's store, and what was lost is only what docs/cluster.md says may be:
/// requests in flight, never an acknowledged one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_restarted_under_load_every_node_reconnects_by_itself() {
    let mut nats = nats_or_skip!();
    let mut a = NodeProcess::start("a", &nats.url());
    let mut b = NodeProcess::start("b", &nats.url());
    let me = me(&nats, "t").await;
    until_up(&me, &["a", "b"]).await;
    let bus = chat(&me).await;
    let mut here = rooms_heard(&bus).await;

    // Calls one after another, each reported as it ends; the report waits for the
    // test to read it, and a failed call is retried after a pause, as a client
    // would, so failing fast while NATS is away does not pile up reports.
    let (report, mut outcomes) = tokio::sync::mpsc::channel(1);
    let counter = me.remote::<Counter>("a", "counter");
    // Every call the load starts, whether or not the test reads its report.
    let attempts = Arc::new(AtomicI64::new(0));
    let started = attempts.clone();
    let load = tokio::spawn(async move {
        loop {
            started.fetch_add(1, Ordering::SeqCst);
            let outcome = counter
                .call_timeout(Ask::Add(1), Duration::from_secs(1))
                .await;
            let failed = outcome.is_err();
            if report.send(outcome.map(|(_, value)| value)).await.is_err() {
                return;
            }
            if failed {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    });
    let mut acknowledged = 0;
    let mut next = async || {
        tokio::time::timeout(PATIENCE, outcomes.recv())
            .await
            .expect("a call ends")
            .expect("the load runs")
    };
    // Flowing before the restart...
    while acknowledged < 50 {
        if next().await.is_ok() {
            acknowledged += 1;
        }
    }
    nats.kill();
    // ...failing while NATS is away (a timeout or a transport error, never a hang)...
    loop {
        match next().await {
            Ok(_) => acknowledged += 1,
            Err(error) => {
                assert!(
                    matches!(
                        error,
                        RemoteError::Timeout { .. }
                            | RemoteError::Transport(_)
                            | RemoteError::NodeDown { .. }
                    ),
                    "{error:?}"
                );
                break;
            }
        }
    }
    nats.restart();
    // ...and flowing again by itself: ten calls in a row acknowledged.
    let mut in_a_row = 0;
    while in_a_row < 10 {
        match next().await {
            Ok(_) => {
                acknowledged += 1;
                in_a_row += 1;
            }
            Err(_) => in_a_row = 0,
        }
    }
    load.abort();
    let _ = load.await;
    let attempts = attempts.load(Ordering::SeqCst);
    // Every acknowledged add is in the counter; a call that timed out may or may not
    // have been handled (at most once is not exactly once).
    let (_, value) = me
        .remote::<Counter>("a", "counter")
        .call(Ask::Get)
        .await
        .unwrap();
    assert!(
        (acknowledged..=attempts).contains(&value),
        "{acknowledged} acknowledged, {attempts} sent, the counter says {value}"
    );

    // The nodes are up for each other, and their subscriptions came back.
    until_up(&me, &["a", "b"]).await;
    b.send("publish room.7 after-restart");
    b.expect("published");
    assert_eq!(a.expect("bus "), "bus room.7 after-restart");
    assert_eq!(
        tokio::time::timeout(PATIENCE, here.recv())
            .await
            .unwrap()
            .unwrap(),
        "room.7 after-restart"
    );
    // JetStream takes writes again: the standbys hold "leader" (anew, if the outage
    // cost the holder its name), and so does a fresh registration.
    tokio::time::timeout(PATIENCE, async {
        while me.whereis_global("leader").is_none() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("a node holds the global name leader");
    let mine = gen_server::start(
        Counter {
            node: "t".into(),
            value: 0,
        },
        StartOptions::new(),
    )
    .await
    .unwrap();
    tokio::time::timeout(PATIENCE, async {
        loop {
            match me.register_global("after-restart", &mine).await {
                Ok(name) => return name,
                Err(GlobalError::Transport(_)) => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                Err(error) => panic!("{error}"),
            }
        }
    })
    .await
    .expect("JetStream takes writes again");
}

/// `noex --cluster URL --node a` into a node whose agent is off (as every node of
/// this file: `nats_or_skip!` turns it off) is refused by that node with the reason,
/// and a node that is not there is `NodeDown`; neither waits for a timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_tunnel_into_a_node_without_its_agent_is_refused_with_the_reason() {
    let nats = nats_or_skip!();
    let (_a, _me) = node_a_and_me(&nats).await;
    let view = ClusterView::connect(&config("observer", &nats.url()))
        .await
        .unwrap();
    match view.dial_agent("a").await {
        Err(RemoteError::Refused { node, reason }) => {
            assert_eq!(node, "a");
            assert!(reason.contains("agent is not running"), "{reason}");
        }
        other => panic!("expected a refusal, got {:?}", other.map(|_| "a stream")),
    }
    assert!(matches!(
        view.dial_agent("nobody").await,
        Err(RemoteError::NodeDown { node }) if node == "nobody"
    ));
}

/// Erlang: a node that stops its distribution gets `noconnection` for every monitor
/// it had set on other nodes' processes. A monitor awaited after `leave` never hangs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_fires_every_monitor_this_node_set_with_noconnection() {
    let nats = nats_or_skip!();
    let (_a, me) = node_a_and_me(&nats).await;
    let counter = me.remote::<Counter>("a", "counter");
    let by_ref = me.monitor(&counter).await;
    let by_name = me.monitor_name("a", "victim").await;
    me.leave().await;
    let (by_ref, by_name) = tokio::time::timeout(PATIENCE, async { tokio::join!(by_ref, by_name) })
        .await
        .expect("Down comes");
    assert_eq!(by_ref.reason, DownReason::NoConnection);
    assert_eq!(by_name.reason, DownReason::NoConnection);
}
