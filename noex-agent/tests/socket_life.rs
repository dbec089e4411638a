//! The agent's socket over its life: connection slots, recovery after bad input,
//! file and directory modes, discovery of live agents, stale sockets and the default
//! path. A real agent on a real socket in a private temp directory, with a fake backend.

#![cfg(unix)]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use noex_agent::backend::Backend;
use noex_agent::client::{Client, ClientError};
use noex_agent::discovery;
use noex_agent::protocol::{ErrorCode, RequestKind, ServerFrame};
use noex_agent::server::{Agent, AgentError, AgentOptions};
use support::*;
use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;
use tokio::time::timeout;

// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_limit_wait_for_a_slot_then_get_busy() {
    let dir = TempDir::new();
    let fake = Arc::new(Fake::new());
    let agent = start(
        &dir,
        &fake,
        options(&dir)
            .max_connections(2)
            .admission_wait(Duration::from_millis(200)),
    );

    let first = Client::connect(agent.path()).await.unwrap();
    let _second = Client::connect(agent.path()).await.unwrap();
    assert_eq!(agent.active_connections(), 2);

    let mut third = raw(agent.path()).await;
    let busy = expect_error(read(&mut third).await, None, ErrorCode::Busy);
    assert_eq!(
        busy.message,
        "the agent is busy: it already serves 2 connections, and none freed up within 200ms"
    );
    expect_closed(&mut third).await;
    match Client::connect(agent.path()).await {
        Err(ClientError::Agent(error)) => assert_eq!(error.code, ErrorCode::Busy),
        other => panic!("expected busy, got {other:?}"),
    }

    drop(first);
    let deadline = Instant::now() + WAIT;
    while agent.active_connections() >= 2 {
        assert!(Instant::now() < deadline, "the slot was never freed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_new_connection_works(agent.path(), &fake).await;
}

/// A connection that arrives while every slot is taken is served as soon as one frees
/// up, not refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_over_the_limit_is_served_when_a_slot_frees_up() {
    let dir = TempDir::new();
    let fake = Arc::new(Fake::new());
    let agent = start(&dir, &fake, options(&dir).max_connections(1));
    let first = Client::connect(agent.path()).await.unwrap();

    let mut waiting = raw(agent.path()).await;
    // Not greeted yet: it waits for the slot.
    assert!(
        timeout(Duration::from_millis(100), waiting.next())
            .await
            .is_err()
    );
    drop(first);
    assert!(matches!(read(&mut waiting).await, ServerFrame::Hello(_)));
    request(&mut waiting, 1, RequestKind::Snapshot { rows: false }).await;
    assert!(matches!(
        read(&mut waiting).await,
        ServerFrame::Reply { id: 1, .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_connection_works_after_every_kind_of_bad_input() {
    let dir = TempDir::new();
    let fake = Arc::new(Fake::new());
    let agent = start(&dir, &fake, options(&dir));
    let path = agent.path().to_path_buf();

    // Oversized frame.
    let mut conn = raw_after_hello(&path).await;
    conn.get_mut().write_all(&[0xff; 4]).await.unwrap();
    expect_error(read(&mut conn).await, None, ErrorCode::FrameTooLarge);
    assert_new_connection_works(&path, &fake).await;

    // A frame cut short, then hang up.
    let mut conn = raw_after_hello(&path).await;
    conn.get_mut()
        .write_all(&[0, 0, 0, 50, 1, 2])
        .await
        .unwrap();
    drop(conn);
    assert_new_connection_works(&path, &fake).await;

    // Bytes that are not frames at all.
    let mut conn = raw(&path).await;
    conn.get_mut()
        .write_all(b"GET / HTTP/1.1\r\n\r\n")
        .await
        .unwrap();
    drop(conn);
    assert_new_connection_works(&path, &fake).await;

    // Connect and hang up at once, many times.
    for _ in 0..50 {
        drop(UnixStream::connect(&path).await.unwrap());
    }
    assert_new_connection_works(&path, &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_is_mode_0600_in_a_directory_of_mode_0700() {
    let dir = TempDir::new();
    let fake = Arc::new(Fake::new());
    let nested = dir.path().join("agents");
    let agent = start(
        &dir,
        &fake,
        options(&dir).socket_path(nested.join("1.sock")),
    );

    let socket_mode = std::fs::metadata(agent.path())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(socket_mode & 0o777, 0o600);
    let dir_mode = std::fs::metadata(&nested).unwrap().permissions().mode();
    assert_eq!(dir_mode & 0o777, 0o700);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_directory_other_users_can_enter_is_refused() {
    let dir = TempDir::new();
    let open = dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
    let fake = Arc::new(Fake::new());

    let err = Agent::start(
        options(&dir).socket_path(open.join("1.sock")),
        Arc::clone(&fake) as Arc<dyn Backend>,
    )
    .unwrap_err();
    assert!(
        matches!(&err, AgentError::Dir(discovery::DirError::TooOpen { path, mode: 0o755 }) if *path == open),
        "{err:?}"
    );
    assert!(err.to_string().contains("chmod 700"), "{err}");
    assert!(!open.join("1.sock").exists());

    // A symlink to a private directory is refused too: it could be swapped.
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(dir.path(), &link).unwrap();
    let err = discovery::ensure_agent_dir(&link).unwrap_err();
    assert!(matches!(err, discovery::DirError::Symlink { .. }), "{err}");
    assert!(matches!(
        discovery::list_agents_in(&open),
        Err(discovery::DirError::TooOpen { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_agents_lists_live_agents_and_removes_sockets_of_dead_processes() {
    let dir = TempDir::new();
    let fake = Arc::new(Fake::new());
    let own = std::process::id();
    let agent = start(
        &dir,
        &fake,
        options(&dir).socket_path(discovery::socket_path(dir.path(), own)),
    );

    // A socket left by a process that no longer exists: bound, never removed.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let stale = discovery::socket_path(dir.path(), dead);
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    assert!(stale.exists());
    // Files that are not agent sockets are left alone.
    std::fs::write(dir.path().join("notes.txt"), "keep").unwrap();

    let agents = discovery::list_agents_in(dir.path()).unwrap();
    assert_eq!(
        agents,
        vec![discovery::AgentEntry {
            pid: own,
            path: agent.path().to_path_buf(),
        }]
    );
    assert!(!stale.exists(), "the dead process's socket was removed");
    assert!(dir.path().join("notes.txt").exists());

    // A missing directory means no agents, not an error.
    assert!(
        discovery::list_agents_in(&dir.path().join("nope"))
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_handle_removes_the_socket_and_closes_connections() {
    let dir = TempDir::new();
    let fake = Arc::new(Fake::new());
    let agent = start(&dir, &fake, options(&dir));
    let path = agent.path().to_path_buf();
    let mut client = Client::connect(&path).await.unwrap();
    client.subscribe(0).await.unwrap();
    assert!(path.exists());

    drop(agent);
    assert!(!path.exists(), "the socket file is gone");
    assert_eq!(
        UnixStream::connect(&path)
            .await
            .map(drop)
            .map_err(|e| e.kind()),
        Err(std::io::ErrorKind::NotFound),
        "nothing listens"
    );
    let end = timeout(WAIT, client.next_push())
        .await
        .expect("closed in time");
    assert!(matches!(end, Ok(None)), "{end:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_socket_in_the_way_is_replaced_but_a_live_agent_is_not() {
    let dir = TempDir::new();
    let fake = Arc::new(Fake::new());
    drop(std::os::unix::net::UnixListener::bind(dir.socket()).unwrap());
    assert!(dir.socket().exists());

    let agent = start(&dir, &fake, options(&dir));
    assert_new_connection_works(agent.path(), &fake).await;

    let second = Agent::start(options(&dir), Arc::clone(&fake) as Arc<dyn Backend>);
    assert!(
        matches!(second, Err(noex_agent::server::AgentError::InUse { .. })),
        "{second:?}"
    );
    // The first agent was not displaced.
    assert_new_connection_works(agent.path(), &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_where_no_agent_listens_is_an_io_error() {
    let dir = TempDir::new();
    match Client::connect(&dir.socket()).await {
        Err(ClientError::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::NotFound),
        other => panic!("expected an io error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_socket_is_named_after_our_pid_takes_over_a_leftover_and_is_listed() {
    let own = std::process::id();
    let expected = discovery::socket_path_for_pid(own);
    // A socket left at our pid's name by an earlier process that had this pid.
    discovery::ensure_agent_dir(expected.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(&expected);
    drop(std::os::unix::net::UnixListener::bind(&expected).unwrap());

    let fake = Arc::new(Fake::new());
    let agent = Agent::start(
        AgentOptions::new("default-path"),
        Arc::clone(&fake) as Arc<dyn Backend>,
    )
    .expect("takes over the leftover socket");
    assert_eq!(agent.path(), expected);
    assert_eq!(
        std::fs::metadata(&expected).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let listed = discovery::list_agents().unwrap();
    assert!(
        listed.iter().any(|a| a.pid == own && a.path == expected),
        "{listed:?}"
    );
    let client = Client::connect_pid(own).await.unwrap();
    assert_eq!(client.hello().app, "default-path");

    drop(agent);
    assert!(!expected.exists());
}
