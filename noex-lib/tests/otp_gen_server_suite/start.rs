//! OTP cases `start`, `loop_start_fail` and `otp_7669`: what a start returns, and
//! that a start that failed has released the process's resources and its name.

use std::time::Duration;

use noex::gen_server::{self, Context, GenServer, Ignore, Reply, StartOptions};
use noex::process::{self, Down, Exit};
use noex::registry;
use noex::{CallError, ExitReason, ServerNotRunningError, StartError};

use crate::server::*;
use crate::support::within;
use crate::test_process::*;

/// OTP `gen_server_SUITE:start/1`.
///
/// Ported: anonymous start, call, `{stop, stopped, ok, S}` then `noproc` for a call
/// to the dead pid even with a 1 ms timeout; init returning `ignore`,
/// `{error, foobar}` and `{stop, stopped}`; the linked variant (`{'EXIT', Pid,
/// stopped}`), the monitored one (`DOWN` with `stopped`); a local name, a second
/// start with it (`{already_started, Pid}`), calls by name, `noproc` after the
/// end; the same with link and with monitor; and no stray message at the end.
///
/// Not ported: the start-timeout option (`{timeout, 1000}` / `{error, timeout}`),
/// because `StartOptions` has no start timeout; global and via names.
#[tokio::test(start_paused = true)]
async fn start_returns_ok_ignore_error_and_already_started() {
    let mut mailbox = Mailbox::new();
    let probe = probe(&mailbox).await;

    // Anonymous.
    let pid0 = start(Init::Empty).await;
    assert_eq!(pid0.call(Request::StartedP).await, Ok(Answer::Ok));
    assert_eq!(pid0.call(Request::Stop).await, Ok(Answer::Ok));
    assert_eq!(
        within("the stopped server's exit", pid0.wait()).await,
        stopped()
    );
    assert_eq!(
        pid0.call_timeout(Request::StartedP, Duration::from_millis(1))
            .await,
        Err(CallError::NotRunning(ServerNotRunningError {
            pid: pid0.pid()
        }))
    );

    // init returns ignore, {error, foobar}, {stop, stopped}.
    let ignored = gen_server::start(Suite::new(Init::Ignore), StartOptions::new()).await;
    assert!(
        matches!(ignored, Err(StartError::Ignored { .. })),
        "{ignored:?}"
    );
    let error = gen_server::start(Suite::new(Init::Error("foobar")), StartOptions::new()).await;
    assert_eq!(initialization_reason(error), "foobar");
    let stop = gen_server::start(Suite::new(Init::Stop), StartOptions::new()).await;
    assert_eq!(initialization_reason(stop), "stopped");

    // Anonymous, linked.
    let pid1 = start(Init::Empty).await;
    link(&probe, pid1.pid()).await;
    assert_eq!(pid1.call(Request::StartedP).await, Ok(Answer::Ok));
    assert_eq!(pid1.call(Request::Stop).await, Ok(Answer::Ok));
    assert_eq!(
        mailbox.recv().await,
        Msg::Exit(Exit {
            pid: pid1.pid(),
            reason: stopped()
        })
    );

    // Anonymous, monitored.
    let pid1b = start(Init::Empty).await;
    let mon1b = process::monitor(pid1b.pid());
    let mon1b_ref = mon1b.monitor_ref();
    assert_eq!(pid1b.call(Request::StartedP).await, Ok(Answer::Ok));
    assert_eq!(pid1b.call(Request::Stop).await, Ok(Answer::Ok));
    assert_eq!(
        within("the monitored server's exit", mon1b).await,
        Down {
            monitor: mon1b_ref,
            pid: pid1b.pid(),
            reason: stopped()
        }
    );

    // Local name.
    let name = "otp.gs.start.my_test_name";
    let pid2 = start_named(name, Init::Empty).await.unwrap();
    assert_eq!(call_name(name, Request::StartedP).await, Ok(Answer::Ok));
    let again = start_named(name, Init::Empty).await.unwrap_err();
    assert!(already_registered(name, pid2.pid())(&again), "{again:?}");
    assert_eq!(call_name(name, Request::Stop).await, Ok(Answer::Ok));
    within("the named server's exit", pid2.wait()).await;
    assert_eq!(
        pid2.call_timeout(Request::StartedP, Duration::from_millis(10))
            .await,
        Err(CallError::NotRunning(ServerNotRunningError {
            pid: pid2.pid()
        }))
    );

    // Local name, linked.
    let pid3 = start_named(name, Init::Empty).await.unwrap();
    link(&probe, pid3.pid()).await;
    assert_eq!(call_name(name, Request::StartedP).await, Ok(Answer::Ok));
    let again = start_named(name, Init::Empty).await.unwrap_err();
    assert!(already_registered(name, pid3.pid())(&again), "{again:?}");
    assert_eq!(call_name(name, Request::Stop).await, Ok(Answer::Ok));
    assert_eq!(
        mailbox.recv().await,
        Msg::Exit(Exit {
            pid: pid3.pid(),
            reason: stopped()
        })
    );

    // Local name, monitored.
    let pid3b = start_named(name, Init::Empty).await.unwrap();
    let mon3b = process::monitor(pid3b.pid());
    let mon3b_ref = mon3b.monitor_ref();
    assert_eq!(call_name(name, Request::StartedP).await, Ok(Answer::Ok));
    let again = start_named(name, Init::Empty).await.unwrap_err();
    assert!(already_registered(name, pid3b.pid())(&again), "{again:?}");
    assert_eq!(call_name(name, Request::Stop).await, Ok(Answer::Ok));
    assert_eq!(
        within("the monitored named server's exit", mon3b).await,
        Down {
            monitor: mon3b_ref,
            pid: pid3b.pid(),
            reason: stopped()
        }
    );

    // No unexpected message.
    sync(&probe).await;
    assert_eq!(mailbox.try_recv(), None);
}

/// What `init({ets, X})` does after taking its per-process resource.
#[derive(Clone, Copy)]
enum LoopInit {
    /// `{return, {stop, failed_to_start}}`
    Stop,
    /// `{return, ignore}`
    Ignore,
    /// `{crash, error, bailout}`
    PanicBailout,
    /// `{crash, exit, bailout}`
    ExitBailout,
}

/// `init({ets, X})`: takes a resource only one live process can hold (OTP: the
/// named ETS table `gen_server_SUITE`; here: a registered name, released when the
/// process ends), then fails as `X` says.
struct LoopStartFail(LoopInit);

const LOOP_START_FAIL_TABLE: &str = "otp.gs.loop_start_fail.ets";

impl GenServer for LoopStartFail {
    type Call = ();
    type Cast = ();
    type Reply = ();

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        // `gen_server_SUITE = ets:new(gen_server_SUITE, [named_table])`: a badmatch
        // crash if the previous server still holds it.
        if let Err(error) = registry::register(LOOP_START_FAIL_TABLE, &ctx.myself()) {
            panic!("badarg: the table is still owned: {error}");
        }
        match self.0 {
            LoopInit::Stop => Err("failed_to_start".into()),
            LoopInit::Ignore => Err(Ignore.into()),
            LoopInit::PanicBailout => panic!("bailout"),
            LoopInit::ExitBailout => Err("bailout".into()),
        }
    }

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }
}

/// OTP `gen_server_SUITE:loop_start_fail/1`: a start that fails has, when it
/// returns, a server that is gone with its resources, so the next start can take
/// them again; five times in a row for each way init fails.
///
/// Ported: `{stop, failed_to_start}` → `{error, failed_to_start}`; `ignore` →
/// `ignore`; an error-class crash → `{error, {bailout, Stack}}` (a panic,
/// `Initialization` with the panic message); an exit-class crash → `{error,
/// bailout}` (init returning the error `bailout`, as noex has no exit-class
/// crash). Not ported: `{bad_return_value, 4711}` (an invalid return value is a
/// type error), the start-timeout row (`StartOptions` has no start timeout), and
/// the start variants `start_link`, `start_monitor` and the ignored `link` option:
/// noex has one `start`; links and monitors are set after it returns.
#[tokio::test(start_paused = true)]
async fn loop_start_fail_a_failed_start_has_released_the_process_resources() {
    for init in [
        LoopInit::Stop,
        LoopInit::Ignore,
        LoopInit::PanicBailout,
        LoopInit::ExitBailout,
    ] {
        for _ in 0..5 {
            let started = gen_server::start(LoopStartFail(init), StartOptions::new()).await;
            match (init, started) {
                (LoopInit::Stop, Err(StartError::Initialization(e))) => {
                    assert_eq!(e.reason, "failed_to_start")
                }
                (LoopInit::Ignore, Err(StartError::Ignored { .. })) => {}
                (
                    LoopInit::PanicBailout | LoopInit::ExitBailout,
                    Err(StartError::Initialization(e)),
                ) => assert_eq!(e.reason, "bailout"),
                (_, other) => panic!("unexpected start result {other:?}"),
            }
        }
    }
    assert_eq!(registry::whereis(LOOP_START_FAIL_TABLE), None);
}

/// OTP `gen_server_SUITE:otp_7669/1`: when a start with a local name returns
/// `ignore` or `{error, stopped}`, the name is already unregistered (100 times
/// `ignore` with `start`, `start` and `start_link`; 10 times `{stop, stopped}`),
/// so a new start under that name succeeds at once.
///
/// Not ported: the global-name halves. `start_link` is `start` here (noex has no
/// linked start; the link would come after `start` returns).
#[tokio::test(start_paused = true)]
async fn otp_7669_a_failed_init_has_released_the_name_when_start_returns() {
    let name = "otp.gs.otp_7669.gen_server_SUITE";
    for _ in 0..100 {
        for _ in 0..3 {
            let ignored = start_named(name, Init::Ignore).await;
            assert!(
                matches!(ignored, Err(StartError::Ignored { .. })),
                "{ignored:?}"
            );
            assert_eq!(registry::whereis(name), None);
        }
    }
    for _ in 0..10 {
        assert_eq!(
            initialization_reason(start_named(name, Init::Stop).await),
            "stopped"
        );
        assert_eq!(registry::whereis(name), None);
    }
    let server = start_named(name, Init::Empty).await.unwrap();
    assert_eq!(registry::whereis(name), Some(server.pid()));
    within("the server's stop", server.stop(ExitReason::Normal))
        .await
        .unwrap();
}
