//! The GenServer contract, one OTP rule per test.
//!
//! Long on purpose: one binary for the whole contract, so `otp_differences.rs` and
//! TESTING.md can name each rule's test as `gen_server.rs: <name>`, and the servers
//! the rules share are defined once, at the top.

use std::time::Duration;

use futures::FutureExt;
use noex::gen_server::{self, Context, GenServer, Info, Reply, ReplyTo, StartOptions};
use noex::{CallError, CallTimeoutError, ExitReason, ServerNotRunningError, StartError, StopError};
use tokio::sync::mpsc;
use tokio::time::Instant;

mod support;
use support::within;

#[derive(Default)]
struct Recorder {
    seen: Vec<u32>,
    terminated: Option<mpsc::UnboundedSender<ExitReason>>,
}

enum Call {
    Seen,
    Sleep(Duration),
    Panic,
    /// Defer the reply and hand its handle to the test.
    DeferTo(mpsc::UnboundedSender<ReplyTo<Vec<u32>>>),
    DropReply,
    /// Answer `Deferred` without ever taking the reply handle.
    DeferNothing,
    /// Queue `Push(1)` to itself, then ask to continue with 99, and reply.
    ContinueThenSeen,
    StopNormal,
}

enum Cast {
    Push(u32),
    Panic,
}

impl GenServer for Recorder {
    type Call = Call;
    type Cast = Cast;
    type Reply = Vec<u32>;

    async fn handle_call(&mut self, request: Call, ctx: &mut Context<Self>) -> Reply<Vec<u32>> {
        match request {
            Call::Seen => Reply::Now(self.seen.clone()),
            Call::Sleep(duration) => {
                tokio::time::sleep(duration).await;
                Reply::Now(vec![1])
            }
            Call::Panic => panic!("boom in handle_call"),
            Call::DeferTo(test) => {
                let _ = test.send(ctx.defer_reply().expect("inside a call"));
                Reply::Deferred
            }
            Call::DropReply => {
                drop(ctx.defer_reply());
                Reply::Deferred
            }
            Call::DeferNothing => Reply::Deferred,
            Call::ContinueThenSeen => {
                ctx.myself().cast(Cast::Push(1)).unwrap();
                ctx.continue_with(99u32);
                Reply::Now(self.seen.clone())
            }
            Call::StopNormal => {
                ctx.stop(ExitReason::Normal);
                Reply::Now(Vec::new())
            }
        }
    }

    async fn handle_cast(&mut self, message: Cast, _: &mut Context<Self>) {
        match message {
            Cast::Push(n) => self.seen.push(n),
            Cast::Panic => panic!("boom in handle_cast"),
        }
    }

    async fn handle_info(&mut self, message: Info, _: &mut Context<Self>) {
        if let Ok(n) = message.downcast::<u32>() {
            self.seen.push(*n);
        }
    }

    async fn handle_continue(&mut self, message: Info, _: &mut Context<Self>) {
        if let Ok(n) = message.downcast::<u32>() {
            self.seen.push(*n);
        }
    }

    async fn terminate(&mut self, reason: &ExitReason, _: &mut Context<Self>) {
        if let Some(tx) = &self.terminated {
            let _ = tx.send(reason.clone());
        }
    }
}

async fn start() -> noex::ServerRef<Recorder> {
    gen_server::start(Recorder::default(), StartOptions::new())
        .await
        .unwrap()
}

#[tokio::test]
async fn call_returns_the_reply_and_cast_changes_state() {
    let server = start().await;
    server.cast(Cast::Push(1)).unwrap();
    server.cast(Cast::Push(2)).unwrap();
    assert_eq!(server.call(Call::Seen).await.unwrap(), vec![1, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_from_one_sender_are_handled_in_order() {
    let server = start().await;
    for n in 0..1000 {
        server.cast(Cast::Push(n)).unwrap();
    }
    assert_eq!(
        server.call(Call::Seen).await.unwrap(),
        (0..1000).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn init_runs_before_start_returns_and_failure_is_initialization_error() {
    struct FailingInit;
    impl GenServer for FailingInit {
        type Call = ();
        type Cast = ();
        type Reply = ();
        async fn init(&mut self, _: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
            Err("database unreachable".into())
        }
        async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
            Reply::Now(())
        }
    }
    let error = gen_server::start(FailingInit, StartOptions::new().name("failing-init"))
        .await
        .unwrap_err();
    match error {
        StartError::Initialization(e) => {
            assert_eq!(e.type_name, "FailingInit");
            assert_eq!(e.reason, "database unreachable");
        }
        other => panic!("expected InitializationError, got {other:?}"),
    }
    assert!(
        !noex::registry::is_registered("failing-init"),
        "a failed init releases its name"
    );
}

#[tokio::test]
async fn a_panic_in_init_is_an_initialization_error() {
    struct PanickingInit;
    impl GenServer for PanickingInit {
        type Call = ();
        type Cast = ();
        type Reply = ();
        async fn init(&mut self, _: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
            panic!("init exploded")
        }
        async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
            Reply::Now(())
        }
    }
    let error = gen_server::start(PanickingInit, StartOptions::new())
        .await
        .unwrap_err();
    match error {
        StartError::Initialization(e) => {
            assert_eq!(
                (e.type_name, e.reason.as_str()),
                ("PanickingInit", "init exploded")
            );
        }
        other => panic!("expected InitializationError, got {other:?}"),
    }
}

/// A server whose `init` takes the given time to finish.
struct SlowInit(Duration);

impl GenServer for SlowInit {
    type Call = ();
    type Cast = ();
    type Reply = ();

    async fn init(&mut self, _: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        tokio::time::sleep(self.0).await;
        Ok(())
    }

    async fn handle_call(&mut self, (): (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }
}

/// OTP's `{timeout, T}` start option: an `init` that does not finish in time is
/// killed, and the start returns `{error, timeout}`.
#[tokio::test(start_paused = true)]
async fn start_timeout_kills_an_init_that_does_not_finish_in_time() {
    let began = Instant::now();
    let error = gen_server::start(
        SlowInit(Duration::from_secs(60)),
        StartOptions::new()
            .name("gen_server.slow_init")
            .timeout(Duration::from_secs(1)),
    )
    .await
    .unwrap_err();
    assert_eq!(began.elapsed(), Duration::from_secs(1));
    assert!(
        matches!(error, StartError::Timeout { timeout, .. } if timeout == Duration::from_secs(1)),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "SlowInit did not finish init within 1s (its start timeout); it was killed"
    );
    // Gone: its name is free again.
    assert_eq!(noex::registry::whereis("gen_server.slow_init"), None);
}

#[tokio::test(start_paused = true)]
async fn start_timeout_leaves_an_init_that_finishes_in_time() {
    let server = gen_server::start(
        SlowInit(Duration::from_millis(900)),
        StartOptions::new().timeout(Duration::from_secs(1)),
    )
    .await
    .unwrap();
    // Its task runs past the start's timeout.
    tokio::time::sleep(Duration::from_secs(5)).await;
    server.call(()).await.unwrap();
}

/// The caller gives up at its timeout, not when the handler returns. On tokio's
/// paused clock: the elapsed time is the clock's, the same on any machine.
#[tokio::test(start_paused = true)]
async fn call_times_out_at_its_timeout_not_when_the_handler_returns() {
    let server = start().await;
    let began = Instant::now();
    let error = server
        .call_timeout(
            Call::Sleep(Duration::from_secs(2)),
            Duration::from_millis(100),
        )
        .await
        .unwrap_err();
    let elapsed = began.elapsed();
    assert_eq!(
        error,
        CallError::Timeout(CallTimeoutError {
            pid: server.pid(),
            timeout: Duration::from_millis(100)
        })
    );
    // Timeouts share 10 ms windows (gen_server::deadline): at most one window late.
    assert!(
        elapsed >= Duration::from_millis(100) && elapsed <= Duration::from_millis(110),
        "{elapsed:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn default_call_timeout_is_five_seconds() {
    let server = start().await;
    let error = server
        .call(Call::Sleep(Duration::from_secs(60)))
        .await
        .unwrap_err();
    assert!(matches!(error, CallError::Timeout(t) if t.timeout == Duration::from_secs(5)));
}

/// OTP's gen_server:call (since OTP 24, through an alias): a reply that comes
/// after the caller's timeout is discarded. It reaches neither the caller that gave
/// up nor a later call, and whoever replies learns that nobody was waiting.
#[tokio::test(start_paused = true)]
async fn a_reply_after_the_caller_s_timeout_is_discarded_not_delivered_to_a_later_call() {
    let server = start().await;
    server.cast(Cast::Push(7)).unwrap();
    let (hand_over, mut handed) = mpsc::unbounded_channel();
    let error = server
        .call_timeout(Call::DeferTo(hand_over), Duration::from_millis(20))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        CallError::Timeout(CallTimeoutError {
            pid: server.pid(),
            timeout: Duration::from_millis(20)
        })
    );
    let late = handed
        .try_recv()
        .expect("the call was handled before it timed out");
    assert!(
        !late.reply(vec![666]),
        "the caller gave up: the late reply is discarded"
    );
    server.cast(Cast::Push(8)).unwrap();
    assert_eq!(
        server.call(Call::Seen).await,
        Ok(vec![7, 8]),
        "the next call gets its own answer, not the stale one"
    );
}

/// OTP's `{noreply, State}` and `gen_server:reply/2`: the caller of a deferred call
/// waits for exactly the reply it is given, however late, while the server handles
/// other messages meanwhile.
#[tokio::test(start_paused = true)]
async fn a_deferred_reply_reaches_its_caller_when_given_and_the_server_goes_on_meanwhile() {
    let server = start().await;
    server.cast(Cast::Push(1)).unwrap();
    let (hand_over, mut handed) = mpsc::unbounded_channel();
    let mut caller = {
        let server = server.clone();
        tokio::spawn(async move {
            server
                .call_timeout(Call::DeferTo(hand_over), Duration::from_secs(3600))
                .await
        })
    };
    let reply_to = within("the deferred call is handled", handed.recv())
        .await
        .unwrap();
    server.cast(Cast::Push(2)).unwrap();
    assert_eq!(
        within(
            "a call while another's reply is deferred",
            server.call(Call::Seen)
        )
        .await,
        Ok(vec![1, 2]),
        "the server goes on while the deferred call waits"
    );
    // A minute of the paused clock with nothing else to do: a caller that had been
    // answered (or had given up) would have finished by then.
    assert!(
        tokio::time::timeout(Duration::from_secs(60), &mut caller)
            .await
            .is_err(),
        "the caller still waits: nothing was replied yet"
    );
    assert!(reply_to.reply(vec![42]), "the caller was waiting");
    assert_eq!(
        within("the deferred reply arrives", caller).await.unwrap(),
        Ok(vec![42])
    );
}

#[tokio::test]
async fn a_dropped_reply_handle_fails_the_call_with_no_reply() {
    let server = start().await;
    let error = server.call(Call::DropReply).await.unwrap_err();
    assert_eq!(error, CallError::NoReply { pid: server.pid() });
}

/// `Deferred` with no handle taken: nobody can answer, so the caller is told at once
/// (on the paused clock it would otherwise wait its whole timeout), and the server
/// lives on.
#[tokio::test(start_paused = true)]
async fn a_deferred_call_whose_handle_was_never_taken_fails_with_no_reply_at_once() {
    let server = start().await;
    let began = Instant::now();
    let error = server.call(Call::DeferNothing).await.unwrap_err();
    assert_eq!(error, CallError::NoReply { pid: server.pid() });
    assert_eq!(began.elapsed(), Duration::ZERO, "not after a timeout");
    assert_eq!(server.call(Call::Seen).await, Ok(vec![]));
}

/// OTP: after `{reply, R, State, {continue, C}}`, `handle_continue(C, State)` runs
/// before any other message — also one already in the mailbox (here `Push(1)`,
/// which the handler sent itself before asking to continue).
#[tokio::test]
async fn handle_continue_runs_before_any_message_already_queued() {
    let server = start().await;
    assert_eq!(
        server.call(Call::ContinueThenSeen).await,
        Ok(Vec::new()),
        "the reply comes from the handler, before the continuation"
    );
    assert_eq!(server.call(Call::Seen).await, Ok(vec![99, 1]));
}

#[tokio::test]
async fn info_messages_reach_handle_info() {
    let server = start().await;
    server.send_info(5u32).unwrap();
    server.send_info("ignored").unwrap();
    assert_eq!(server.call(Call::Seen).await.unwrap(), vec![5]);
}

#[tokio::test(start_paused = true)]
async fn send_after_delivers_a_timer_message_later() {
    struct Ticker(Vec<&'static str>);
    impl GenServer for Ticker {
        type Call = ();
        type Cast = ();
        type Reply = Vec<&'static str>;
        async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
            ctx.send_after(Duration::from_secs(1), "tick");
            ctx.send_after(Duration::from_secs(2), "cancelled").cancel();
            Ok(())
        }
        async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<Vec<&'static str>> {
            Reply::Now(self.0.clone())
        }
        async fn handle_info(&mut self, message: Info, _: &mut Context<Self>) {
            self.0.push(*message.downcast::<&'static str>().unwrap());
        }
    }
    let ticker = gen_server::start(Ticker(Vec::new()), StartOptions::new())
        .await
        .unwrap();
    assert!(ticker.call(()).await.unwrap().is_empty());
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(ticker.call(()).await.unwrap(), vec!["tick"]);
}

#[tokio::test]
async fn a_panic_in_handle_call_fails_the_caller_at_once_with_the_panic_message() {
    let server = start().await;
    let error = server.call(Call::Panic).await.unwrap_err();
    assert_eq!(
        error,
        CallError::Exited {
            pid: server.pid(),
            reason: ExitReason::error("boom in handle_call")
        }
    );
    assert_eq!(
        within("the crash", server.wait()).await,
        ExitReason::error("boom in handle_call")
    );
    assert!(!server.is_running());
}

#[tokio::test]
async fn a_call_to_a_dead_server_fails_at_once_with_server_not_running() {
    let server = start().await;
    server.cast(Cast::Panic).unwrap();
    within("the crash", server.wait()).await;
    let not_running = ServerNotRunningError { pid: server.pid() };
    // At once: the call is answered the first time it is polled, without waiting.
    assert_eq!(
        server.call(Call::Seen).now_or_never(),
        Some(Err(CallError::NotRunning(not_running)))
    );
    assert_eq!(server.cast(Cast::Push(1)), Err(not_running));
}

/// On the paused clock, a call left hanging would reach its hour-long timeout at
/// once, and fail the assertion with `Timeout`.
#[tokio::test(start_paused = true)]
async fn calls_queued_behind_a_crash_fail_with_the_exit_reason_instead_of_hanging() {
    let server = start().await;
    server.cast(Cast::Panic).unwrap();
    let queued = server
        .call_timeout(Call::Seen, Duration::from_secs(3600))
        .await
        .unwrap_err();
    assert_eq!(
        queued,
        CallError::Exited {
            pid: server.pid(),
            reason: ExitReason::error("boom in handle_cast")
        }
    );
}

#[tokio::test]
async fn stop_runs_terminate_with_the_reason() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let server = gen_server::start(
        Recorder {
            terminated: Some(tx),
            ..Recorder::default()
        },
        StartOptions::new(),
    )
    .await
    .unwrap();
    server.stop(ExitReason::Shutdown).await.unwrap();
    assert_eq!(
        rx.try_recv(),
        Ok(ExitReason::Shutdown),
        "before stop returned"
    );
    assert!(!server.is_running());
    assert_eq!(
        server.stop(ExitReason::Normal).await,
        Err(StopError::NotRunning(ServerNotRunningError {
            pid: server.pid()
        }))
    );
}

#[tokio::test]
async fn a_handler_may_stop_its_server() {
    let server = start().await;
    server.call(Call::StopNormal).await.unwrap();
    assert_eq!(
        within("the server stops", server.wait()).await,
        ExitReason::Normal
    );
}

/// On the paused clock: the call is being handled (its 10 s sleep has begun) when
/// the kill comes.
#[tokio::test(start_paused = true)]
async fn a_killed_server_skips_terminate_and_exits_killed() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let server = gen_server::start(
        Recorder {
            terminated: Some(tx),
            ..Recorder::default()
        },
        StartOptions::new(),
    )
    .await
    .unwrap();
    let pending = {
        let server = server.clone();
        tokio::spawn(async move { server.call(Call::Sleep(Duration::from_secs(10))).await })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    server.kill();
    assert_eq!(server.wait().await, ExitReason::Killed);
    assert_eq!(
        pending.await.unwrap(),
        Err(CallError::Exited {
            pid: server.pid(),
            reason: ExitReason::Killed
        })
    );
    assert_eq!(
        rx.try_recv(),
        Err(mpsc::error::TryRecvError::Disconnected),
        "terminate must not run on kill: its state was dropped without a word"
    );
}

#[tokio::test]
async fn a_crash_never_takes_down_the_runtime() {
    let crashing = start().await;
    let bystander = start().await;
    crashing.cast(Cast::Panic).unwrap();
    crashing.wait().await;
    bystander.cast(Cast::Push(3)).unwrap();
    assert_eq!(bystander.call(Call::Seen).await.unwrap(), vec![3]);
}

/// Answers with the request itself, at once or from another task.
struct Echo;

impl GenServer for Echo {
    type Call = (u64, bool);
    type Cast = ();
    type Reply = u64;

    async fn handle_call(
        &mut self,
        (n, later): (u64, bool),
        ctx: &mut Context<Self>,
    ) -> Reply<u64> {
        if !later {
            return Reply::Now(n);
        }
        let reply = ctx.defer_reply().expect("a call");
        tokio::spawn(async move { reply.reply(n) });
        Reply::Deferred
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_caller_gets_its_own_reply_across_threads() {
    let server = gen_server::start(Echo, StartOptions::new()).await.unwrap();
    let callers: Vec<_> = (0..4u64)
        .map(|caller| {
            let server = server.clone();
            tokio::spawn(async move {
                for round in 0..1000u64 {
                    let n = caller * 1_000_000 + round;
                    assert_eq!(server.call((n, round % 2 == 1)).await.unwrap(), n);
                }
            })
        })
        .collect();
    for caller in callers {
        caller.await.unwrap();
    }
}

/// Keeps what it is given: reply handles it will never answer, and a log of
/// `terminate`.
#[derive(Default)]
struct Keeper {
    kept: Vec<noex::gen_server::ReplyTo<&'static str>>,
    log: Option<mpsc::UnboundedSender<&'static str>>,
}

enum KeeperCall {
    /// Defer the reply to a handle kept in the server's state, never answered.
    DeferKept,
    /// Defer the reply to a handle kept in another task, never answered.
    DeferElsewhere(mpsc::UnboundedSender<noex::gen_server::ReplyTo<&'static str>>),
    /// Stop without replying (OTP `{stop, Reason, State}`).
    StopWithoutReply(ExitReason),
    /// Reply and stop (OTP `{stop, Reason, Reply, State}`).
    ReplyAndStop,
    PanicInTerminate,
}

impl GenServer for Keeper {
    type Call = KeeperCall;
    type Cast = ();
    type Reply = &'static str;

    async fn handle_call(
        &mut self,
        call: KeeperCall,
        ctx: &mut Context<Self>,
    ) -> Reply<&'static str> {
        match call {
            KeeperCall::DeferKept => {
                self.kept.push(ctx.defer_reply().unwrap());
                Reply::Deferred
            }
            KeeperCall::DeferElsewhere(holder) => {
                let _ = holder.send(ctx.defer_reply().unwrap());
                Reply::Deferred
            }
            KeeperCall::StopWithoutReply(reason) => {
                ctx.stop(reason);
                Reply::Deferred
            }
            KeeperCall::ReplyAndStop => {
                ctx.stop(ExitReason::Normal);
                Reply::Now("bye")
            }
            KeeperCall::PanicInTerminate => {
                self.log = None;
                self.kept.clear();
                Reply::Now("armed")
            }
        }
    }

    async fn handle_cast(&mut self, _: (), _: &mut Context<Self>) {
        panic!("crash on cast");
    }

    async fn terminate(&mut self, _: &ExitReason, _: &mut Context<Self>) {
        match &self.log {
            Some(log) => {
                let _ = log.send("terminate ran");
            }
            None => panic!("terminate failed"),
        }
    }
}

async fn keeper() -> (
    noex::ServerRef<Keeper>,
    mpsc::UnboundedReceiver<&'static str>,
) {
    let (log, logged) = mpsc::unbounded_channel();
    let server = gen_server::start(
        Keeper {
            log: Some(log),
            ..Keeper::default()
        },
        StartOptions::new(),
    )
    .await
    .unwrap();
    (server, logged)
}

#[tokio::test(start_paused = true)]
async fn a_caller_whose_reply_was_deferred_gets_the_exit_reason_when_the_server_exits() {
    let (server, _) = keeper().await;
    let (holder, mut held) = mpsc::unbounded_channel();
    let caller = {
        let server = server.clone();
        tokio::spawn(async move {
            server
                .call_timeout(
                    KeeperCall::DeferElsewhere(holder),
                    Duration::from_secs(3600),
                )
                .await
        })
    };
    // The reply handle lives on in this test, unanswered, while the server crashes.
    let _reply_to = held.recv().await.unwrap();
    server.cast(()).unwrap();
    assert_eq!(
        caller.await.unwrap(),
        Err(CallError::Exited {
            pid: server.pid(),
            reason: ExitReason::error("crash on cast")
        }),
        "told at the exit, not at the timeout"
    );
}

/// A reply handle dropped with the state of a server that crashed is not a
/// `NoReply` from a live server: the caller gets the exit reason.
#[tokio::test(start_paused = true)]
async fn a_reply_handle_dropped_with_a_crashed_server_s_state_gives_the_exit_reason() {
    let (server, _) = keeper().await;
    let caller = {
        let server = server.clone();
        tokio::spawn(async move {
            server
                .call_timeout(KeeperCall::DeferKept, Duration::from_secs(3600))
                .await
        })
    };
    // The caller's call goes first (this runtime runs one task at a time, in turn):
    // the handle is kept when the crash comes.
    tokio::task::yield_now().await;
    server.cast(()).unwrap();
    assert_eq!(
        caller.await.unwrap(),
        Err(CallError::Exited {
            pid: server.pid(),
            reason: ExitReason::error("crash on cast")
        })
    );
}

#[tokio::test]
async fn a_handler_that_stops_without_replying_gives_its_caller_the_reason() {
    let (server, _) = keeper().await;
    let error = server
        .call(KeeperCall::StopWithoutReply(ExitReason::Shutdown))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        CallError::Exited {
            pid: server.pid(),
            reason: ExitReason::Shutdown
        }
    );
}

#[tokio::test]
async fn a_reply_given_with_a_stop_arrives_after_terminate_ran() {
    let (server, mut logged) = keeper().await;
    assert_eq!(server.call(KeeperCall::ReplyAndStop).await, Ok("bye"));
    assert_eq!(
        logged.try_recv(),
        Ok("terminate ran"),
        "terminate ran before the reply"
    );
    assert_eq!(server.wait().await, ExitReason::Normal);
}

#[tokio::test]
async fn a_panic_in_terminate_becomes_the_exit_reason_and_stop_reports_it() {
    let (server, _) = keeper().await;
    server.call(KeeperCall::PanicInTerminate).await.unwrap();
    let error = server.stop(ExitReason::Normal).await.unwrap_err();
    let crash = ExitReason::error("terminate panicked: terminate failed");
    assert_eq!(
        error,
        StopError::Exited {
            pid: server.pid(),
            reason: crash.clone()
        }
    );
    assert_eq!(server.wait().await, crash);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_stop_returns_the_server_accepts_nothing() {
    for _ in 0..200 {
        let server = start().await;
        server.stop(ExitReason::Normal).await.unwrap();
        let not_running = ServerNotRunningError { pid: server.pid() };
        assert_eq!(server.cast(Cast::Push(1)), Err(not_running));
        assert_eq!(
            server.stop(ExitReason::Normal).await,
            Err(StopError::NotRunning(not_running))
        );
        assert_eq!(
            server.call(Call::Seen).await,
            Err(CallError::NotRunning(not_running))
        );
    }
}

#[tokio::test]
async fn init_returning_ignore_does_not_start_the_server() {
    struct Declines;
    impl GenServer for Declines {
        type Call = ();
        type Cast = ();
        type Reply = ();
        async fn init(&mut self, _: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
            Err(gen_server::Ignore.into())
        }
        async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
            Reply::Now(())
        }
    }
    let error = gen_server::start(Declines, StartOptions::new().name("gs.declines"))
        .await
        .unwrap_err();
    assert!(matches!(error, StartError::Ignored { .. }), "{error:?}");
    assert!(!noex::registry::is_registered("gs.declines"));
    assert_eq!(gen_server::Ignore.to_string(), "init returned Ignore");
}

#[tokio::test]
async fn a_reference_tells_its_server_s_name_and_shows_its_pid_when_debugged() {
    let named = gen_server::start(Recorder::default(), StartOptions::new().name("gs.named"))
        .await
        .unwrap();
    assert_eq!(named.name().as_deref(), Some("gs.named"));
    assert_eq!(start().await.name(), None);
    let debugged = format!("{named:?}");
    assert!(
        debugged.contains(&format!("{:?}", named.pid())),
        "{debugged}"
    );

    let (hand_over, mut handed) = mpsc::unbounded_channel();
    let caller = tokio::spawn({
        let named = named.clone();
        async move { named.call(Call::DeferTo(hand_over)).await }
    });
    let reply_to = within("the deferred call is handled", handed.recv())
        .await
        .unwrap();
    assert_eq!(
        format!("{reply_to:?}"),
        format!("ReplyTo {{ pid: {:?} }}", named.pid())
    );
    reply_to.reply(vec![]);
    assert_eq!(caller.await.unwrap(), Ok(vec![]));
}

/// The agent's own processes are started as `system`: views hide them by default.
#[tokio::test]
async fn a_server_started_as_system_is_marked_so_in_the_snapshot() {
    let system = gen_server::start(Recorder::default(), StartOptions::new().system(true))
        .await
        .unwrap();
    let user = start().await;
    let snapshot = noex::observer::snapshot();
    let marked = |pid| {
        snapshot
            .servers
            .iter()
            .find(|server| server.pid == pid)
            .map(|server| server.system)
    };
    assert_eq!(marked(system.pid()), Some(true));
    assert_eq!(marked(user.pid()), Some(false));
}

/// Typed requests: the call carries the `ReplyTo` it is answered through, so each
/// request has its own reply type.
mod typed_requests {
    use super::*;

    struct Ledger(Vec<u64>);

    enum Ask {
        Sum(ReplyTo<u64>),
        Entry(usize, ReplyTo<Option<u64>>),
        /// Never answered: the handle is dropped.
        Ignore(ReplyTo<()>),
        /// Kept answered only when the test says so.
        Hold(mpsc::UnboundedSender<ReplyTo<()>>, ReplyTo<()>),
    }

    impl GenServer for Ledger {
        type Call = Ask;
        type Cast = ();
        type Reply = ();

        async fn handle_call(&mut self, ask: Ask, _: &mut Context<Self>) -> Reply<()> {
            match ask {
                Ask::Sum(reply) => {
                    reply.reply(self.0.iter().sum());
                }
                Ask::Entry(at, reply) => {
                    reply.reply(self.0.get(at).copied());
                }
                Ask::Ignore(reply) => drop(reply),
                Ask::Hold(keep, reply) => {
                    let _ = keep.send(reply);
                }
            }
            Reply::Now(())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn each_request_gets_the_reply_type_it_asked_for() {
        let ledger = gen_server::start(Ledger(vec![3, 4]), StartOptions::new())
            .await
            .unwrap();
        let sum: u64 = ledger.request(Ask::Sum).await.unwrap();
        let second: Option<u64> = ledger.request(|r| Ask::Entry(1, r)).await.unwrap();
        let none = ledger.request(|r| Ask::Entry(9, r)).await.unwrap();
        assert_eq!((sum, second, none), (7, Some(4), None));
    }

    #[tokio::test(start_paused = true)]
    async fn a_reply_handle_dropped_by_a_live_server_is_no_reply_and_a_slow_one_times_out() {
        let ledger = gen_server::start(Ledger(Vec::new()), StartOptions::new())
            .await
            .unwrap();
        assert_eq!(
            ledger.request(Ask::Ignore).await,
            Err(CallError::NoReply { pid: ledger.pid() })
        );
        let (keep, mut kept) = mpsc::unbounded_channel();
        let error = ledger
            .request_timeout(|r| Ask::Hold(keep, r), Duration::from_millis(50))
            .await
            .unwrap_err();
        assert_eq!(
            error,
            CallError::Timeout(CallTimeoutError {
                pid: ledger.pid(),
                timeout: Duration::from_millis(50),
            })
        );
        assert!(kept.recv().await.is_some(), "the server kept the handle");
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_to_a_server_that_exits_with_its_handle_gets_the_exit_reason() {
        let ledger = gen_server::start(Ledger(Vec::new()), StartOptions::new())
            .await
            .unwrap();
        let (keep, mut kept) = mpsc::unbounded_channel();
        let held = {
            let ledger = ledger.clone();
            tokio::spawn(async move { ledger.request(|r| Ask::Hold(keep, r)).await })
        };
        // The handle is held by this test, not the server: the server's exit is
        // what the caller must hear about.
        let handle = within("the request", kept.recv()).await.unwrap();
        ledger.stop(ExitReason::Shutdown).await.unwrap();
        assert_eq!(
            within("the answer", held).await.unwrap(),
            Err(CallError::Exited {
                pid: ledger.pid(),
                reason: ExitReason::Shutdown,
            })
        );
        drop(handle);
        assert!(matches!(
            ledger.request(Ask::Sum).await,
            Err(CallError::NotRunning(_))
        ));
    }
}
