//! OTP's `sys` for noex servers: get_state and replace_state for servers that opt
//! in through `format_status`, answered between two messages; statistics.

mod support;

use std::time::Duration;

use noex::gen_server::{self, Context, GenServer, Reply, StartOptions};
use noex::sys::{self, SysError};
use noex::{ExitReason, Pid};

#[derive(Debug)]
struct Shown {
    value: u64,
}

impl GenServer for Shown {
    type Call = ();
    type Cast = u64;
    type Reply = u64;

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<u64> {
        Reply::Now(self.value)
    }

    async fn handle_cast(&mut self, add: u64, _: &mut Context<Self>) {
        self.value += add;
    }

    fn format_status(&self) -> Option<String> {
        Some(format!("{self:?}"))
    }
}

/// Keeps its state to itself (the default).
struct Secret {
    password: &'static str,
}

impl GenServer for Secret {
    type Call = ();
    type Cast = ();
    type Reply = &'static str;

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<&'static str> {
        Reply::Now(self.password)
    }
}

/// Sleeps in its cast handler for as long as it is told.
#[derive(Debug)]
struct Sleeper;

impl GenServer for Sleeper {
    type Call = ();
    type Cast = Duration;
    type Reply = ();

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }

    async fn handle_cast(&mut self, nap: Duration, _: &mut Context<Self>) {
        tokio::time::sleep(nap).await;
    }

    fn format_status(&self) -> Option<String> {
        Some("Sleeper".into())
    }
}

#[tokio::test]
async fn sys_get_state_shows_what_format_status_gives() {
    let server = gen_server::start(Shown { value: 7 }, StartOptions::new())
        .await
        .unwrap();
    assert_eq!(sys::get_state(&server).await.unwrap(), "Shown { value: 7 }");
    // By pid too, as the agent asks.
    assert_eq!(
        sys::get_status(server.pid(), Duration::from_secs(5))
            .await
            .unwrap(),
        "Shown { value: 7 }"
    );
}

#[tokio::test]
async fn sys_get_state_is_refused_by_a_server_that_does_not_opt_in() {
    let server = gen_server::start(
        Secret {
            password: "hunter2",
        },
        StartOptions::new(),
    )
    .await
    .unwrap();
    assert_eq!(
        sys::get_state(&server).await,
        Err(SysError::NotShown { pid: server.pid() })
    );
}

#[tokio::test]
async fn sys_replace_state_runs_between_messages_in_mailbox_order() {
    let server = gen_server::start(Shown { value: 0 }, StartOptions::new())
        .await
        .unwrap();
    // The cast is queued first, so the replacement sees its effect, and the call
    // after it sees the replacement's.
    server.cast(1).unwrap();
    sys::replace_state(&server, |state| state.value *= 10)
        .await
        .unwrap();
    assert_eq!(server.call(()).await.unwrap(), 10);
}

#[tokio::test]
async fn sys_replace_state_is_refused_by_a_server_that_does_not_opt_in() {
    let server = gen_server::start(
        Secret {
            password: "hunter2",
        },
        StartOptions::new(),
    )
    .await
    .unwrap();
    let replaced = sys::replace_state(&server, |state| state.password = "changed").await;
    assert_eq!(replaced, Err(SysError::NotShown { pid: server.pid() }));
    assert_eq!(server.call(()).await.unwrap(), "hunter2");
}

#[tokio::test]
async fn sys_replace_state_that_panics_leaves_the_server_running() {
    let server = gen_server::start(Shown { value: 3 }, StartOptions::new())
        .await
        .unwrap();
    let replaced = sys::replace_state(&server, |_| panic!("a bad fix")).await;
    assert_eq!(replaced, Err(SysError::ReplaceFailed { pid: server.pid() }));
    assert_eq!(server.call(()).await.unwrap(), 3);
}

#[tokio::test(start_paused = true)]
async fn sys_get_state_of_a_server_busy_in_a_handler_times_out() {
    let server = gen_server::start(Sleeper, StartOptions::new())
        .await
        .unwrap();
    server.cast(Duration::from_secs(60)).unwrap();
    let asked = sys::get_status(server.pid(), Duration::from_secs(1)).await;
    assert_eq!(
        asked,
        Err(SysError::Timeout {
            pid: server.pid(),
            timeout: Duration::from_secs(1)
        })
    );
}

#[tokio::test]
async fn sys_get_state_of_an_ended_process_is_not_running() {
    let server = gen_server::start(Shown { value: 0 }, StartOptions::new())
        .await
        .unwrap();
    let pid = server.pid();
    server.stop(ExitReason::Normal).await.unwrap();
    assert!(matches!(
        sys::get_state(&server).await,
        Err(SysError::NotRunning(_))
    ));
    assert!(sys::statistics(pid).is_none());
    assert!(matches!(
        sys::get_status(Pid(u64::MAX), Duration::from_secs(1)).await,
        Err(SysError::NotRunning(_))
    ));
}

#[tokio::test]
async fn sys_statistics_count_the_messages_handled() {
    let server = gen_server::start(Shown { value: 0 }, StartOptions::new())
        .await
        .unwrap();
    for _ in 0..3 {
        server.cast(1).unwrap();
    }
    server.call(()).await.unwrap();
    let statistics = sys::statistics(server.pid()).expect("running");
    assert_eq!(statistics.messages, 4);
    assert_eq!(statistics.queue_len, 0);
    assert_eq!(statistics.restarts, 0);
    assert!(statistics.started_at_ms > 0);
}
