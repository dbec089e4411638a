//! OTP group `undef_callbacks`: a server that leaves callbacks to the trait's
//! defaults (`undef_handle_call` and `undef_code_change` do not map).

use std::sync::{Arc, Mutex};

use noex::gen_server::{self, StartOptions};
use noex::process;
use noex::{CallError, ExitReason, StartError};

use crate::oc_server::*;
use crate::support::within;
use crate::test_process::*;

/// OTP `gen_server_SUITE:undef_handle_cast/1`: a cast to a server whose module has
/// no `handle_cast/2` crashes it (`DOWN` with `{undef, [{oc_server, handle_cast,
/// _, _} | _]}`). The catalogue marks this case as not mapping because a missing
/// callback would not compile; but `GenServer::handle_cast` has a default, so the
/// server exists in noex, and OTP's answer for it is a crash. Ported: the server
/// ends with a crash (an abnormal reason); the `undef` term has no counterpart.
#[tokio::test(start_paused = true)]
async fn undef_handle_cast_a_cast_without_handle_cast_crashes_the_server() {
    let server = gen_server::start(OcServer, StartOptions::new())
        .await
        .unwrap();
    let down = process::monitor(server.pid());
    server.cast("cast_msg").unwrap();
    // The cast is handled before this call: the call meets the crash, or is answered.
    let after = server.call(()).await;
    assert!(
        matches!(&after, Err(CallError::Exited { reason, .. }) if reason.is_abnormal()),
        "OTP: the server crashes with undef on the cast; noex answered the next call with {after:?}"
    );
    assert!(
        within("the crashed server's exit", down)
            .await
            .reason
            .is_abnormal()
    );
}

/// Every tracing event on this thread: level and fields.
#[derive(Clone, Default)]
struct Logged(Arc<Mutex<Vec<(tracing::Level, String)>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Logged {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Fields(String);
        impl tracing::field::Visit for Fields {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                use std::fmt::Write;
                let _ = write!(self.0, "{}={:?} ", field.name(), value);
            }
        }
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        self.0
            .lock()
            .unwrap()
            .push((*event.metadata().level(), fields.0));
    }
}

/// OTP `gen_server_SUITE:undef_handle_info/1`: a message to a server whose module
/// has no `handle_info/2` is dropped, the server lives on, and a warning is logged
/// (`"** Undefined handle_info in " ++ _` naming `oc_server` and the message).
/// Ported: the server lives on and answers the next call; exactly one warning
/// (tracing level WARN, noex's log) names the server type. Not ported: the message
/// in the warning (an `Info` is a `Box<dyn Any>`, which has no readable form).
#[tokio::test(start_paused = true)]
async fn undef_handle_info_an_unhandled_info_is_dropped_with_a_warning() {
    use tracing_subscriber::layer::SubscriberExt;
    let logged = Logged::default();
    let _log =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(logged.clone()));

    let server = gen_server::start(OcServer, StartOptions::new())
        .await
        .unwrap();
    server.send_info("hej").unwrap();
    // Handled before this call.
    assert_eq!(server.call(()).await, Ok(()));
    assert!(server.is_running());

    let about_it: Vec<_> = logged
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, fields)| fields.contains("OcServer"))
        .cloned()
        .collect();
    assert!(
        about_it.len() == 1 && about_it[0].0 == tracing::Level::WARN,
        "OTP logs one warning for the unhandled message; noex logged {about_it:?}"
    );
}

/// OTP `gen_server_SUITE:undef_handle_continue/1`: `oc_server:start(continue)`
/// succeeds (init returned before the continue runs), and the server then crashes
/// because it has no `handle_continue/2` (`DOWN` with `{undef, [{oc_server,
/// handle_continue, _, _} | _]}`). Ported: start is `Ok`, then the server ends with
/// a crash; the `undef` term has no counterpart.
#[tokio::test(start_paused = true)]
async fn undef_handle_continue_a_continue_without_handle_continue_crashes_the_server() {
    let server = gen_server::start(OcContinueServer, StartOptions::new())
        .await
        .unwrap();
    let down = process::monitor(server.pid());
    // The continue runs before this call: the call meets the crash, or is answered.
    let after = server.call(()).await;
    assert!(
        matches!(&after, Err(CallError::Exited { reason, .. }) if reason.is_abnormal()),
        "OTP: the server crashes with undef in the continue; noex answered the next call with {after:?}"
    );
    assert!(
        within("the crashed server's exit", down)
            .await
            .reason
            .is_abnormal()
    );
}

/// OTP `gen_server_SUITE:undef_init/1`: starting a module whose `init/1` is an
/// `undef` crash returns `{error, {undef, _}}`; `start_link` from a process that
/// traps exits returns the same, and no `{'EXIT', _, _}` is left in its mailbox.
/// Ported: init panics (the missing `init`); `start` fails with the panic as the
/// initialization error, also when a trapping process (the probe) starts it, and
/// that process gets no exit message. (noex's start does not link, so the link is
/// not exercised; the catalogue's "start_link" becomes the probe's start.)
#[tokio::test(start_paused = true)]
async fn undef_init_a_failed_init_is_a_start_error_and_leaves_no_exit_message() {
    let started = gen_server::start(UndefInit, StartOptions::new()).await;
    match started {
        Err(StartError::Initialization(e)) => assert_eq!(e.reason, UNDEF_INIT),
        other => panic!("expected an initialization error, got {other:?}"),
    }

    let mut mailbox = Mailbox::new();
    let probe = probe(&mailbox).await;
    match probe.call(ProbeCall::StartUndefInit).await {
        Ok(ProbeReply::Started(Err(StartError::Initialization(e)))) => {
            assert_eq!(e.reason, UNDEF_INIT)
        }
        Ok(ProbeReply::Started(other)) => panic!("expected an initialization error, got {other:?}"),
        Ok(_) => unreachable!(),
        Err(error) => panic!("the probe failed: {error}"),
    }
    sync(&probe).await;
    assert_eq!(mailbox.try_recv(), None);
}

/// OTP `gen_server_SUITE:undef_terminate1/1`: with no `terminate/2`, `stop(S)`
/// returns `ok` and the monitor's `DOWN` says `normal`. Ported whole.
#[tokio::test(start_paused = true)]
async fn undef_terminate1_default_terminate_stop_normal() {
    let server = gen_server::start(OcServer, StartOptions::new())
        .await
        .unwrap();
    let down = process::monitor(server.pid());
    assert_eq!(
        within("the server's stop", server.stop(ExitReason::Normal)).await,
        Ok(())
    );
    assert_eq!(
        within("the server's exit", down).await.reason,
        ExitReason::Normal
    );
}

/// OTP `gen_server_SUITE:undef_terminate2/1`: with no `terminate/2`,
/// `stop(S, {error, test}, infinity)` returns `ok` and the `DOWN` carries
/// `{error, test}`. Ported whole.
#[tokio::test(start_paused = true)]
async fn undef_terminate2_default_terminate_stop_with_a_reason() {
    let server = gen_server::start(OcServer, StartOptions::new())
        .await
        .unwrap();
    let down = process::monitor(server.pid());
    let reason = ExitReason::error("{error,test}");
    assert_eq!(
        within("the server's stop", server.stop(reason.clone())).await,
        Ok(())
    );
    assert_eq!(within("the server's exit", down).await.reason, reason);
}
