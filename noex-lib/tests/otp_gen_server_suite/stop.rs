//! OTP group `stop` (`stop1`, `stop2`, `stop4`; the others do not map).

use noex::process;
use noex::registry::{self, LookupError};
use noex::{ExitReason, NotRegisteredError, ServerNotRunningError, StopError};

use crate::server::*;
use crate::support::within;

/// OTP `gen_server_SUITE:stop1/1`: `stop(Pid)` returns `ok` once the server is
/// gone (not alive right after), and a second `stop` fails with `noproc`. Ported
/// whole.
#[tokio::test(start_paused = true)]
async fn stop1_stop_normal_returns_once_dead_then_noproc() {
    let server = start(Init::Empty).await;
    assert_eq!(
        within("the server's stop", server.stop(ExitReason::Normal)).await,
        Ok(())
    );
    assert!(!process::is_alive(server.pid()));
    assert!(!server.is_running());
    assert_eq!(
        server.stop(ExitReason::Normal).await,
        Err(StopError::NotRunning(ServerNotRunningError {
            pid: server.pid()
        }))
    );
}

/// OTP `gen_server_SUITE:stop2/1`: `stop(Pid, other_reason, infinity)` returns
/// `ok` (the server ended with the reason asked for, abnormal as it is), and the
/// server is dead. Ported whole (noex's stop has no timeout: it waits as
/// `infinity` does).
#[tokio::test(start_paused = true)]
async fn stop2_stop_with_another_reason_is_ok() {
    let server = start(Init::Empty).await;
    assert_eq!(
        within(
            "the server's stop",
            server.stop(ExitReason::error("other_reason"))
        )
        .await,
        Ok(())
    );
    assert!(!process::is_alive(server.pid()));
    assert_eq!(
        within("the server's exit", server.wait()).await,
        ExitReason::error("other_reason")
    );
}

/// OTP `gen_server_SUITE:stop4/1`: `stop(to_stop)` by registered name returns
/// `ok`, the server is dead, and a second `stop(to_stop)` is `noproc` because the
/// name is no longer registered. Ported whole: noex stops by name through a
/// lookup, whose failure is the `noproc`.
#[tokio::test(start_paused = true)]
async fn stop4_stop_by_registered_name_then_noproc() {
    let name = "otp.gs.stop4.to_stop";
    let server = start_named(name, Init::Empty).await.unwrap();
    let by_name = registry::lookup::<Suite>(name).unwrap();
    assert_eq!(
        within("the server's stop", by_name.stop(ExitReason::Normal)).await,
        Ok(())
    );
    assert!(!process::is_alive(server.pid()));
    assert_eq!(
        registry::lookup::<Suite>(name).map(|s| s.pid()),
        Err(LookupError::NotRegistered(NotRegisteredError {
            name: name.to_string()
        }))
    );
    assert_eq!(
        by_name.stop(ExitReason::Normal).await,
        Err(StopError::NotRunning(ServerNotRunningError {
            pid: server.pid()
        }))
    );
}
