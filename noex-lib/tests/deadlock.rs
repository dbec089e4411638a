//! Calls that would close a cycle of waiting processes fail at once with
//! `CallError::Deadlock`, naming the cycle, instead of each waiting out its timeout
//! (OTP's calls in a cycle each time out: `gen_server:call` has no such check).
//!
//! The clock is paused: a call that deadlocked the old way would come back as a
//! `Timeout` after 5 s of paused time, so every test here tells a deadlock found
//! from one waited out.

mod support;

use std::time::Duration;

use noex::gen_server::{self, Context, GenServer, Reply, StartOptions};
use noex::{CallError, Pid, ServerRef};
use support::within;

/// Forwards each call to the next node, if it has one; answers with what came back.
struct Node {
    next: Option<ServerRef<Node>>,
    last: Option<Outcome>,
}

enum Ask {
    /// Call the next node (which does the same), or answer `Ok` at the end of the line.
    Forward,
    /// Take `next` as the node to forward to.
    Link(ServerRef<Node>),
    /// Answer at once.
    Ping,
    /// Answer the caller through a deferred reply, then call `back` while still in
    /// the handler, and keep what it answered (see `Last`).
    ReplyThenCall(ServerRef<Node>),
    /// Call `node` with the request.
    CallThrough(ServerRef<Node>, Box<Ask>),
    /// What the latest `ReplyThenCall`'s call back answered.
    Last,
}

type Outcome = Result<(), CallError>;

impl GenServer for Node {
    type Call = Ask;
    type Cast = ();
    type Reply = Outcome;

    async fn handle_call(&mut self, ask: Ask, ctx: &mut Context<Self>) -> Reply<Outcome> {
        match ask {
            Ask::Forward => match &self.next {
                Some(next) => Reply::Now(next.call(Ask::Forward).await.and_then(|inner| inner)),
                None => Reply::Now(Ok(())),
            },
            Ask::Link(next) => {
                self.next = Some(next);
                Reply::Now(Ok(()))
            }
            Ask::Ping => Reply::Now(Ok(())),
            Ask::ReplyThenCall(back) => {
                if let Some(reply) = ctx.defer_reply() {
                    reply.reply(Ok(()));
                }
                self.last = Some(back.call(Ask::Ping).await.and_then(|inner| inner));
                Reply::Deferred
            }
            Ask::CallThrough(node, ask) => {
                Reply::Now(node.call(*ask).await.and_then(|inner| inner))
            }
            Ask::Last => Reply::Now(self.last.take().expect("B called back")),
        }
    }
}

async fn node() -> ServerRef<Node> {
    gen_server::start(
        Node {
            next: None,
            last: None,
        },
        StartOptions::new(),
    )
    .await
    .unwrap()
}

/// Links `nodes` in a ring, each forwarding to the next and the last to the first.
async fn ring(nodes: &[ServerRef<Node>]) {
    for (at, node) in nodes.iter().enumerate() {
        let next = nodes[(at + 1) % nodes.len()].clone();
        node.call(Ask::Link(next)).await.unwrap().unwrap();
    }
}

fn pids(nodes: &[&ServerRef<Node>]) -> Vec<Pid> {
    nodes.iter().map(|node| node.pid()).collect()
}

#[tokio::test(start_paused = true)]
async fn call_cycle_fails_with_deadlock() {
    let (a, b) = (node().await, node().await);
    ring(&[a.clone(), b.clone()]).await;

    // The test calls A, A calls B, B calls A: B's call closes the cycle.
    let outcome = within("a call closing a cycle", a.call(Ask::Forward)).await;

    let Ok(Err(CallError::Deadlock { cycle })) = outcome else {
        panic!("expected B's call to fail with a deadlock, got {outcome:?}");
    };
    assert_eq!(
        cycle,
        pids(&[&b, &a]),
        "the caller first, then whom it calls"
    );
    // Both are still running and answer the next call.
    assert!(a.call(Ask::Ping).await.unwrap().is_ok());
    assert!(b.call(Ask::Ping).await.unwrap().is_ok());
}

#[tokio::test(start_paused = true)]
async fn call_cycle_through_three_processes_names_all_of_them() {
    let (a, b, c) = (node().await, node().await, node().await);
    ring(&[a.clone(), b.clone(), c.clone()]).await;

    let outcome = within("a call closing a cycle of three", a.call(Ask::Forward)).await;

    let Ok(Err(CallError::Deadlock { cycle })) = outcome else {
        panic!("expected C's call to fail with a deadlock, got {outcome:?}");
    };
    assert_eq!(cycle, pids(&[&c, &a, &b]));
    let text = CallError::Deadlock { cycle }.to_string();
    let expected = format!(
        "deadlock: {} -> {} -> {} -> {} (each calling the next)",
        c.pid(),
        a.pid(),
        b.pid(),
        c.pid()
    );
    assert_eq!(text, expected);
}

#[tokio::test(start_paused = true)]
async fn call_chain_without_a_cycle_is_answered() {
    let (a, b, c) = (node().await, node().await, node().await);
    a.call(Ask::Link(b.clone())).await.unwrap().unwrap();
    b.call(Ask::Link(c.clone())).await.unwrap().unwrap();

    let outcome = within("a chain of calls", a.call(Ask::Forward)).await;

    assert!(matches!(outcome, Ok(Ok(()))), "{outcome:?}");
}

#[tokio::test(start_paused = true)]
async fn a_caller_stops_waiting_when_its_reply_is_sent() {
    // A calls B; B answers through a deferred reply and, still in its handler,
    // calls A. A has its reply but has not run yet (one thread: B runs on): it no
    // longer waits for B, so B's call closes no cycle, and A answers it once its own
    // handler returns.
    let (a, b) = (node().await, node().await);

    let outcome = within(
        "A's call to B, answered early",
        a.call(Ask::CallThrough(
            b.clone(),
            Box::new(Ask::ReplyThenCall(a.clone())),
        )),
    )
    .await;
    assert!(matches!(outcome, Ok(Ok(()))), "{outcome:?}");

    let called_back = within("B's call back to A", b.call(Ask::Last)).await;
    assert!(matches!(called_back, Ok(Ok(()))), "{called_back:?}");
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_call_leaves_its_caller_not_waiting() {
    // A calls a server that never answers, and gives up after 1 s; afterwards the
    // silent server calls A: A waits for nothing any more, so that is no cycle.
    let a = gen_server::start(Caller, StartOptions::new())
        .await
        .unwrap();
    let silent = gen_server::start(Silent { held: None }, StartOptions::new())
        .await
        .unwrap();

    let gave_up = within(
        "A's call timing out",
        a.call(CallerAsk::CallSilently(silent.clone())),
    )
    .await;
    assert!(
        matches!(gave_up, Ok(Err(CallError::Timeout(_)))),
        "{gave_up:?}"
    );

    let called_back = within("the silent server calling A", silent.call(Some(a.clone()))).await;
    assert!(matches!(called_back, Ok(Ok(()))), "{called_back:?}");
}

struct Caller;

enum CallerAsk {
    CallSilently(ServerRef<Silent>),
    Ping,
}

impl GenServer for Caller {
    type Call = CallerAsk;
    type Cast = ();
    type Reply = Outcome;

    async fn handle_call(&mut self, ask: CallerAsk, _: &mut Context<Self>) -> Reply<Outcome> {
        match ask {
            CallerAsk::CallSilently(silent) => Reply::Now(
                silent
                    .call_timeout(None, Duration::from_secs(1))
                    .await
                    .and_then(|inner| inner),
            ),
            CallerAsk::Ping => Reply::Now(Ok(())),
        }
    }
}

/// Keeps the first call unanswered (its reply handle held); a call carrying a
/// `Caller` makes it call that caller.
struct Silent {
    held: Option<noex::gen_server::ReplyTo<Outcome>>,
}

impl GenServer for Silent {
    type Call = Option<ServerRef<Caller>>;
    type Cast = ();
    type Reply = Outcome;

    async fn handle_call(
        &mut self,
        call_back: Option<ServerRef<Caller>>,
        ctx: &mut Context<Self>,
    ) -> Reply<Outcome> {
        match call_back {
            None => {
                self.held = ctx.defer_reply();
                Reply::Deferred
            }
            Some(caller) => Reply::Now(caller.call(CallerAsk::Ping).await.and_then(|inner| inner)),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_calling_each_other_at_once_do_not_both_wait_out_the_timeout() {
    // A and B each call the other from their handlers at the same moment. Each
    // writes its wait before it looks at the other's, so at least one sees the cycle
    // and fails at once, and the other is then answered.
    for _ in 0..50 {
        let (a, b) = (node().await, node().await);
        ring(&[a.clone(), b.clone()]).await;
        let (from_a, from_b) = tokio::join!(
            tokio::spawn({
                let a = a.clone();
                async move { a.call(Ask::Forward).await }
            }),
            tokio::spawn({
                let b = b.clone();
                async move { b.call(Ask::Forward).await }
            }),
        );
        let outcomes = [from_a.unwrap(), from_b.unwrap()];
        for outcome in &outcomes {
            assert!(
                !matches!(
                    outcome,
                    Err(CallError::Timeout(_)) | Ok(Err(CallError::Timeout(_)))
                ),
                "a call in a cycle waited out its timeout: {outcomes:?}"
            );
        }
        assert!(
            outcomes
                .iter()
                .any(|outcome| matches!(outcome, Ok(Err(CallError::Deadlock { .. })))),
            "{outcomes:?}"
        );
    }
}
