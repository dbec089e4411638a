//! Crashes in the callbacks: OTP cases `crash`, `terminate_crash_format` (group
//! `format_status`), `undef_in_terminate` and `undef_in_handle_info`.

use noex::events::{self, EventKind};
use noex::process::{self, Exit};
use noex::{CallError, ExitReason, StopError};

use crate::server::*;
use crate::support::within;
use crate::test_process::*;

/// OTP `gen_server_SUITE:crash/1`.
///
/// Ported: a handler exiting `{shutdown, reason}`, returning `{stop, {shutdown,
/// stop_reason}, S}`, exiting `shutdown`, returning `{stop, shutdown, S}`: the
/// caller gets that reason and the linked, trapping test gets `{'EXIT', Pid,
/// Reason}` with it; none of these is reported as a crash (noex's report is the
/// lifecycle event: `Terminated`, not `Crashed`). Then a handler exiting
/// `crashed` in an unlinked server: the caller gets `crashed`, and it is reported
/// as a crash (`Crashed { error: "crashed" }`), once. Nothing else arrives.
///
/// Not ported: the content of gen_server's error report (last message, state as
/// formatted by `format_status`, server and client stacktraces, client pid) and
/// proc_lib's crash report; noex's event carries the reason only. The two
/// shutdown exits that OTP raises with `exit/1` are `ctx.stop` without a reply,
/// since a noex handler cannot crash with a shutdown reason.
#[tokio::test(start_paused = true)]
async fn crash_caller_and_linked_process_get_the_exit_reason() {
    let mut events = events::subscribe();
    let mut mailbox = Mailbox::new();
    let probe = probe(&mailbox).await;

    let cases = [
        (
            Init::Empty,
            Request::ShutdownReason,
            ExitReason::shutdown_with("reason"),
        ),
        (
            Init::State(State::Named("state1")),
            Request::StopShutdownReason,
            ExitReason::shutdown_with("stop_reason"),
        ),
        (Init::Empty, Request::ExitShutdown, ExitReason::Shutdown),
        (
            Init::State(State::Named("state3")),
            Request::StopShutdown,
            ExitReason::Shutdown,
        ),
    ];
    let mut pids = Vec::new();
    for (init, call, reason) in cases {
        let server = start(init).await;
        link(&probe, server.pid()).await;
        assert_eq!(
            server.call(call).await,
            Err(CallError::Exited {
                pid: server.pid(),
                reason: reason.clone()
            })
        );
        assert_eq!(
            mailbox.recv().await,
            Msg::Exit(Exit {
                pid: server.pid(),
                reason
            })
        );
        pids.push(server.pid());
    }

    // Not linked: a crash.
    let pid4 = start(Init::State(State::Named("state4"))).await;
    assert_eq!(
        pid4.call(Request::Crash).await,
        Err(CallError::Exited {
            pid: pid4.pid(),
            reason: ExitReason::error("crashed")
        })
    );
    assert_eq!(
        within("the crashed server's exit", pid4.wait()).await,
        ExitReason::error("crashed")
    );
    pids.push(pid4.pid());

    let mut reports = Vec::new();
    while let Some(event) = events.try_recv() {
        let event = event.expect("no event lost");
        if pids.contains(&event.pid)
            && matches!(
                event.kind,
                EventKind::Terminated { .. } | EventKind::Crashed { .. }
            )
        {
            reports.push((event.pid, event.kind));
        }
    }
    let terminated = |reason: &str| EventKind::Terminated {
        reason: reason.to_string().into(),
    };
    assert_eq!(
        reports,
        [
            (pids[0], terminated("shutdown: reason")),
            (pids[1], terminated("shutdown: stop_reason")),
            (pids[2], terminated("shutdown")),
            (pids[3], terminated("shutdown")),
            (
                pids[4],
                EventKind::Crashed {
                    error: "crashed".to_string().into()
                }
            ),
        ]
    );

    sync(&probe).await;
    assert_eq!(mailbox.try_recv(), None);
}

/// OTP `gen_server_SUITE:terminate_crash_format/1`: `call(Pid, stop)` returns `ok`
/// although `terminate/2` then crashes (`{stop, stopped, ok, S}` replies after
/// terminate, whatever it does); the crash replaces `stopped` as the exit reason,
/// which the linked, trapping test receives. Ported: the reply and the exit
/// reason (in noex, `"terminate panicked: "` and the panic message), also as seen
/// by a monitor. Not ported: the error log and the state formatted by
/// `format_status` (no logger report, no format_status); the run with
/// `format_status_server` differs only in those.
#[tokio::test(start_paused = true)]
async fn terminate_crash_format_a_crash_in_terminate_replaces_the_stop_reason() {
    let mut mailbox = Mailbox::new();
    let probe = probe(&mailbox).await;
    let server = start(Init::State(State::CrashTerminate)).await;
    link(&probe, server.pid()).await;
    let down = process::monitor(server.pid());
    assert_eq!(server.call(Request::Stop).await, Ok(Answer::Ok));
    let crash = ExitReason::error("terminate panicked: crash terminate");
    assert_eq!(
        mailbox.recv().await,
        Msg::Exit(Exit {
            pid: server.pid(),
            reason: crash.clone()
        })
    );
    assert_eq!(within("the server's exit", down).await.reason, crash);
}

/// OTP `gen_server_SUITE:undef_in_terminate/1`: when `terminate/2` crashes,
/// `stop(S)` does not return `ok`: it fails with the crash, which became the exit
/// reason. Ported whole (noex's reason is `"terminate panicked: "` and the panic
/// message).
#[tokio::test(start_paused = true)]
async fn undef_in_terminate_a_crash_in_terminate_fails_stop() {
    let server = start(Init::State(State::UndefInTerminate)).await;
    assert_eq!(
        within("the server's stop", server.stop(ExitReason::Normal)).await,
        Err(StopError::Exited {
            pid: server.pid(),
            reason: ExitReason::error("terminate panicked: undef: oc_server:terminate/0")
        })
    );
}

/// OTP `gen_server_SUITE:undef_in_handle_info/1`: a crash inside an implemented
/// `handle_info/2` kills the server (the default for a missing `handle_info`
/// must not swallow it): `DOWN` with the crash. Ported whole.
#[tokio::test(start_paused = true)]
async fn undef_in_handle_info_a_crash_in_handle_info_kills_the_server() {
    let server = start(Init::Empty).await;
    let down = process::monitor(server.pid());
    server.send_info(InfoMsg::CallUndefFun).unwrap();
    assert_eq!(
        within("the crashed server's exit", down).await.reason,
        ExitReason::error("undef: gen_server_SUITE:handle_info/0")
    );
}
