//! OTP cases `call`, `cast`, `info` and `calling_self`: the requests a server
//! handles, and a call to itself.

use std::time::Duration;

use noex::gen_server::{self, Context, GenServer, Reply, StartOptions};
use noex::registry;
use noex::{CallError, CallTimeoutError};
use tokio::sync::mpsc;

use crate::server::*;
use crate::support::within;
use crate::test_process::*;

/// OTP `gen_server_SUITE:call/1`.
///
/// Ported: `started_p` → `ok`; a reply deferred to an idle timeout of 1 ms →
/// `delayed`; `{call_within, 1000}` then `next_call` 500 ms later → `ok`, and again
/// 1500 ms later → `false` (the idle timeout moved the state on); a per-call
/// timeout of 30 ms long enough for the deferred reply → `delayed`; one of 1 ms too
/// short → `timeout`, and the server goes on (its late reply is dropped, not given
/// to the next call). OTP's `{noreply, S, T}` idle timeout is a self-timer that
/// every message voids (noex has no such return value).
///
/// Not ported: `badreturn` (an invalid return value is a type error).
#[tokio::test(start_paused = true)]
async fn call_replies_deferred_replies_and_per_call_timeouts() {
    let name = "otp.gs.call.my_test_name";
    let server = start_named(name, Init::Empty).await.unwrap();
    let ms = Duration::from_millis;

    assert_eq!(call_name(name, Request::StartedP).await, Ok(Answer::Ok));
    assert_eq!(
        call_name(name, Request::DelayedAnswer(ms(1))).await,
        Ok(Answer::Delayed)
    );

    // Two requests within a specified time.
    assert_eq!(
        call_name(name, Request::CallWithin(ms(1000))).await,
        Ok(Answer::Ok)
    );
    tokio::time::sleep(ms(500)).await;
    assert_eq!(call_name(name, Request::NextCall).await, Ok(Answer::Ok));
    assert_eq!(
        call_name(name, Request::CallWithin(ms(1000))).await,
        Ok(Answer::Ok)
    );
    tokio::time::sleep(ms(1500)).await;
    assert_eq!(call_name(name, Request::NextCall).await, Ok(Answer::False));

    // Timeout call.
    let by_name = registry::lookup::<Suite>(name).unwrap();
    assert_eq!(
        by_name
            .call_timeout(Request::DelayedAnswer(ms(1)), ms(30))
            .await,
        Ok(Answer::Delayed)
    );
    assert_eq!(
        by_name
            .call_timeout(Request::DelayedAnswer(ms(30)), ms(1))
            .await,
        Err(CallError::Timeout(CallTimeoutError {
            pid: server.pid(),
            timeout: ms(1)
        }))
    );
    // The server replies `delayed` to the caller that gave up; the next call gets
    // its own answer.
    tokio::time::sleep(ms(30)).await;
    assert_eq!(call_name(name, Request::StartedP).await, Ok(Answer::Ok));
    assert!(server.is_running());
}

/// OTP `gen_server_SUITE:cast/1`: a cast by name is handled (`{Pid,
/// handled_cast}`); a cast whose handler returns an idle timeout of 1 ms leads to
/// `{Pid, delayed}`; a cast returning `{stop, {From, stopped}, S}` runs
/// `terminate/2` with that reason (`{Pid, stopped}`). Ported whole; the idle
/// timeout as in `call`.
#[tokio::test(start_paused = true)]
async fn cast_is_handled_and_a_cast_stop_runs_terminate_with_its_reason() {
    let name = "otp.gs.cast.my_test_name";
    let mut mailbox = Mailbox::new();
    let server = start_named(name, Init::Empty).await.unwrap();
    let pid = server.pid();
    assert_eq!(call_name(name, Request::StartedP).await, Ok(Answer::Ok));
    let cast = |cast: CastMsg| registry::lookup::<Suite>(name).unwrap().cast(cast);

    assert_eq!(cast(CastMsg::HandleCast(mailbox.me())), Ok(()));
    assert_eq!(mailbox.recv().await, Msg::Sent(pid, Tag::HandledCast));

    assert_eq!(
        cast(CastMsg::DelayedCast(mailbox.me(), Duration::from_millis(1))),
        Ok(())
    );
    assert_eq!(mailbox.recv().await, Msg::Sent(pid, Tag::Delayed));

    assert_eq!(cast(CastMsg::Stop(mailbox.me())), Ok(()));
    assert_eq!(mailbox.recv().await, Msg::Sent(pid, Tag::Stopped));
    assert_eq!(
        within("the server's exit", server.wait()).await,
        from_stopped()
    );
}

/// OTP `gen_server_SUITE:info/1`: the same as `cast` with plain messages to
/// `handle_info/2`: `{Pid, handled_info}`, `{Pid, delayed_info}` after an idle
/// timeout of 1 ms, and `terminate/2` run with `{From, stopped_info}`. Ported
/// whole.
#[tokio::test(start_paused = true)]
async fn info_is_handled_and_an_info_stop_runs_terminate_with_its_reason() {
    let name = "otp.gs.info.my_test_name";
    let mut mailbox = Mailbox::new();
    let server = start_named(name, Init::Empty).await.unwrap();
    let pid = server.pid();
    assert_eq!(call_name(name, Request::StartedP).await, Ok(Answer::Ok));

    server.send_info(InfoMsg::HandleInfo(mailbox.me())).unwrap();
    assert_eq!(mailbox.recv().await, Msg::Sent(pid, Tag::HandledInfo));

    server
        .send_info(InfoMsg::DelayedInfo(mailbox.me(), Duration::from_millis(1)))
        .unwrap();
    assert_eq!(mailbox.recv().await, Msg::Sent(pid, Tag::DelayedInfo));

    server.send_info(InfoMsg::Stop(mailbox.me())).unwrap();
    assert_eq!(mailbox.recv().await, Msg::Sent(pid, Tag::StoppedInfo));
    assert_eq!(
        within("the server's exit", server.wait()).await,
        from_stopped_info()
    );
}

/// Calls itself from a handler, with the default timeout and with an
/// "infinite" one, and tells the test what each call returned and how long it took.
struct SelfCaller;

type SelfCalls = Vec<(Result<(), CallError>, Duration)>;

impl GenServer for SelfCaller {
    type Call = ();
    type Cast = mpsc::UnboundedSender<SelfCalls>;
    type Reply = ();

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }

    async fn handle_cast(&mut self, to: Self::Cast, ctx: &mut Context<Self>) {
        let myself = ctx.myself();
        let began = tokio::time::Instant::now();
        let default = myself.call(()).await;
        let default = (default, began.elapsed());
        let began = tokio::time::Instant::now();
        let infinity = myself.call_timeout((), Duration::MAX).await;
        let infinity = (infinity, began.elapsed());
        let _ = to.send(vec![default, infinity]);
    }
}

/// OTP `gen_server_SUITE:calling_self/1`: `gen_server:call(self(), oops)` and
/// `gen_server:call(self(), oops, infinity)` fail at once with `calling_self`
/// instead of waiting for a reply that can never come. Ported as a server calling
/// itself from a handler: each call must fail without any time passing (paused
/// clock) with `CallError::CallingSelf`.
#[tokio::test(start_paused = true)]
async fn calling_self_fails_at_once_instead_of_deadlocking() {
    let server = gen_server::start(SelfCaller, StartOptions::new())
        .await
        .unwrap();
    let (to, mut results) = mpsc::unbounded_channel();
    server.cast(to).unwrap();
    let results = within("the self-calls' results", results.recv())
        .await
        .unwrap();
    let calling_self = (
        Err(CallError::CallingSelf { pid: server.pid() }),
        Duration::ZERO,
    );
    assert_eq!(results, vec![calling_self.clone(), calling_self]);
}
