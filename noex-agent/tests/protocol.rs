//! The agent protocol end to end: a real agent on a real socket in a private temp
//! directory, a fake backend with fixed data and an event stream the test feeds, and
//! either the real client or raw frames for what a well-behaved client never sends.

#![cfg(unix)]

mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use noex_agent::client::{Client, ClientError, Push};
use noex_agent::protocol::{
    ErrorCode, MAX_REQUEST_FRAME, ProtocolVersion, ReplyBody, Request, RequestKind, ServerFrame,
};
use noex_agent::types::Pid;
use serde::Serialize;
use support::*;
use tokio::io::AsyncWriteExt;
use tokio::time::timeout;

// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_speaks_first_with_a_hello_naming_app_pid_versions_start_time_and_mode() {
    let dir = TempDir::new();
    let fake = Arc::new(Fake::new());
    let agent = start(&dir, &fake, options(&dir));

    let mut conn = raw(agent.path()).await;
    let ServerFrame::Hello(hello) = read(&mut conn).await else {
        panic!("the first frame must be hello");
    };
    assert_eq!(hello.protocol_version, ProtocolVersion::CURRENT);
    assert_eq!(hello.noex_version, "9.9.9");
    assert_eq!(hello.app, "test-app");
    assert_eq!(hello.pid, std::process::id());
    assert!(!hello.read_only);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(hello.started_at_ms <= now + 1000, "started in the future");
    assert!(now - hello.started_at_ms.min(now) < 24 * 3600 * 1000);
    // On Linux it is the OS process's start time, which is before the agent started.
    #[cfg(target_os = "linux")]
    assert_eq!(
        Some(hello.started_at_ms),
        noex_agent::process_start::process_start_ms(std::process::id())
    );

    // The client sees the same greeting, and its connection went through the backend.
    let client = Client::connect(agent.path()).await.unwrap();
    assert_eq!(client.hello(), &hello);
    assert_eq!(agent.hello(), &hello);
    assert!(fake.connections.load(Ordering::SeqCst) >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_and_tree_cross_the_socket_unchanged() {
    let dir = TempDir::new();
    let fake = Arc::new(Fake::new());
    let agent = start(&dir, &fake, options(&dir));
    let mut client = Client::connect(agent.path()).await.unwrap();

    assert_eq!(client.snapshot().await.unwrap(), fake.snapshot);
    assert_eq!(client.tree().await.unwrap(), fake.tree);
    // Many requests on one connection.
    for _ in 0..20 {
        assert_eq!(client.snapshot().await.unwrap().servers.len(), 4);
    }
}

/// `snapshot { rows: true }` is answered with the compact body (since 2.1), a plain
/// `snapshot` with named maps; both decode to the backend's snapshot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_request_for_rows_gets_the_compact_body_and_a_plain_one_named_maps() {
    use tokio::io::AsyncReadExt;
    let dir = TempDir::new();
    let fake = Arc::new(Fake::with(100, 16));
    let agent = start(&dir, &fake, options(&dir));
    let mut bodies = Vec::new();
    for rows in [true, false] {
        let mut conn = raw_after_hello(agent.path()).await;
        request(&mut conn, 3, RequestKind::Snapshot { rows }).await;
        let mut stream = conn.into_inner();
        let mut len = [0; 4];
        timeout(WAIT, stream.read_exact(&mut len))
            .await
            .unwrap()
            .unwrap();
        let mut body = vec![0; u32::from_be_bytes(len) as usize];
        stream.read_exact(&mut body).await.unwrap();
        let frame = noex_agent::protocol::decode_server_frame(&body, 64).unwrap();
        let ServerFrame::Reply {
            id: 3,
            body: ReplyBody::Snapshot { snapshot },
        } = frame
        else {
            panic!("expected the snapshot reply, got {frame:?}");
        };
        assert_eq!(snapshot, fake.snapshot, "rows: {rows}");
        let shape: serde_json::Value = rmp_serde::from_slice(&body).unwrap();
        let servers = &shape["body"]["snapshot"]["servers"];
        assert_eq!(servers[0].is_array(), rows, "rows: {rows}: {}", servers[0]);
        assert_eq!(shape["body"]["snapshot"]["strings"].is_array(), rows);
        bodies.push(body.len());
    }
    assert!(
        bodies[0] * 2 < bodies[1],
        "rows {} bytes, named {}",
        bodies[0],
        bodies[1]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_echo_the_request_id() {
    let dir = TempDir::new();
    let fake = Arc::new(Fake::new());
    let agent = start(&dir, &fake, options(&dir));
    let mut conn = raw_after_hello(agent.path()).await;
    request(&mut conn, 9001, RequestKind::Tree).await;
    request(&mut conn, 17, RequestKind::Snapshot { rows: false }).await;
    assert!(matches!(
        read(&mut conn).await,
        ServerFrame::Reply {
            id: 9001,
            body: ReplyBody::Tree { .. }
        }
    ));
    assert!(matches!(
        read(&mut conn).await,
        ServerFrame::Reply {
            id: 17,
            body: ReplyBody::Snapshot { .. }
        }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_returns_recent_history_then_pushes_live_events_in_order() {
    let dir = TempDir::new();
    let fake = Arc::new(Fake::new());
    let agent = start(&dir, &fake, options(&dir));
    let mut client = Client::connect(agent.path()).await.unwrap();

    let history = client.subscribe(3).await.unwrap();
    let seqs: Vec<u64> = history.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![2, 3, 4], "the three most recent, oldest first");

    for seq in 5..8 {
        fake.events.send(event(seq)).expect("the agent subscribed");
    }
    for seq in 5..8 {
        let push = timeout(WAIT, client.next_push()).await.unwrap().unwrap();
        assert_eq!(push, Some(Push::Event(event(seq))));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_pushed_around_a_request_are_all_delivered_in_order() {
    let dir = TempDir::new();
    let fake = Arc::new(Fake::new());
    let agent = start(&dir, &fake, options(&dir));
    let mut client = Client::connect(agent.path()).await.unwrap();
    assert!(client.subscribe(0).await.unwrap().is_empty());

    for seq in 10..13 {
        fake.events.send(event(seq)).unwrap();
    }
    // The agent has taken the events (on their way to the wire) before the request.
    let deadline = Instant::now() + WAIT;
    while !fake.events.is_empty() {
        assert!(Instant::now() < deadline, "the agent never took the events");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(client.snapshot().await.unwrap(), fake.snapshot);
    for seq in 10..13 {
        let push = timeout(WAIT, client.next_push()).await.unwrap().unwrap();
        assert_eq!(push, Some(Push::Event(event(seq))));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsubscribe_stops_the_pushes() {
    let dir = TempDir::new();
    let fake = Arc::new(Fake::new());
    let agent = start(&dir, &fake, options(&dir));
    let mut client = Client::connect(agent.path()).await.unwrap();

    client.subscribe(0).await.unwrap();
    assert_eq!(fake.events.receiver_count(), 1);
    client.unsubscribe().await.unwrap();
    // The agent let go of its receiver: nothing more can be pushed.
    let deadline = Instant::now() + WAIT;
    while fake.events.receiver_count() > 0 {
        assert!(
            Instant::now() < deadline,
            "the subscription was not dropped"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        fake.events.send(event(99)).is_err(),
        "no receiver is left to push it"
    );
    // After a round trip, nothing is waiting for the client either: one poll finds
    // no push (a zero timeout polls the read once before it expires).
    assert_eq!(client.snapshot().await.unwrap(), fake.snapshot);
    let push = timeout(Duration::ZERO, client.next_push()).await;
    assert!(push.is_err(), "no push after unsubscribe, got {push:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_never_reads_gets_lagged_and_never_blocks_the_app_or_other_clients() {
    const SENT: u64 = 20_000;
    let dir = TempDir::new();
    let fake = Arc::new(Fake::with(0, 256));
    // About sixteen events' worth of bytes.
    let agent = start(&dir, &fake, options(&dir).event_buffer(16 * 100));

    let mut slow = raw_after_hello(agent.path()).await;
    request(&mut slow, 1, RequestKind::Subscribe { history: 0 }).await;
    assert!(matches!(
        read(&mut slow).await,
        ServerFrame::Reply {
            id: 1,
            body: ReplyBody::Subscribed { .. }
        }
    ));

    // The app publishes far more than the socket, the queue and the broadcast hold,
    // while the subscriber reads nothing. A send never waits for a reader (it is
    // not even async).
    for seq in 0..SENT {
        fake.events
            .send(event(seq))
            .expect("the subscriber's receiver is alive");
        if seq.is_multiple_of(1000) {
            // Let the agent's forwarder run, so the per-connection queue overflows too.
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    // Another client is served meanwhile.
    assert_new_connection_works(agent.path(), &fake).await;

    // Now the slow client reads: every event is either delivered or counted as dropped.
    let (mut delivered, mut dropped, mut notices) = (0u64, 0u64, 0u64);
    let mut next_seq = 0;
    while delivered + dropped < SENT {
        match read(&mut slow).await {
            ServerFrame::Event { event } => {
                assert_eq!(
                    event.seq, next_seq,
                    "in order, and every gap told by a Lagged just before it"
                );
                next_seq += 1;
                delivered += 1;
            }
            ServerFrame::Lagged { dropped: n } => {
                assert!(n > 0);
                next_seq += n;
                dropped += n;
                notices += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(delivered + dropped, SENT);
    assert!(
        notices >= 1 && dropped > 0,
        "a slow reader must be told it lagged"
    );
    assert!(delivered > 0);
    // And it is still a working connection.
    request(&mut slow, 2, RequestKind::Snapshot { rows: false }).await;
    assert!(matches!(
        read(&mut slow).await,
        ServerFrame::Reply { id: 2, .. }
    ));
}

/// Pipelining without reading: the agent stops reading the client's requests once its
/// replies fill the connection's buffer (flow control, not a close), then, when the
/// client has read nothing for the write timeout, closes it. Others are served
/// throughout, and the agent never holds more than its budgets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_its_replies_is_throttled_then_disconnected() {
    let dir = TempDir::new();
    // Each snapshot is several hundred KB: the socket buffer holds less than one.
    let fake = Arc::new(Fake::with(3000, 16));
    let agent = start(
        &dir,
        &fake,
        options(&dir)
            .reply_buffer(1024)
            .write_timeout(Duration::from_millis(300)),
    );

    let mut greedy = raw_after_hello(agent.path()).await;
    for id in 0..64 {
        request(&mut greedy, id, RequestKind::Snapshot { rows: false }).await;
    }
    // Throttled: one reply being written, one queued, and the rest not even read.
    let snapshot_len = rmp_serde::to_vec_named(&fake.snapshot).unwrap().len();
    assert_new_connection_works(agent.path(), &fake).await;
    assert!(
        agent.queued_bytes() <= 2 * (snapshot_len + 100),
        "{} bytes queued",
        agent.queued_bytes()
    );
    // Reading nothing, it is cut off after the write timeout.
    let deadline = Instant::now() + WAIT;
    while agent.active_connections() > 0 {
        assert!(Instant::now() < deadline, "the non-reader was never closed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(agent.queued_bytes(), 0, "its frames were let go");
    // Reading now, it gets whole replies in order, then the end (possibly mid-frame).
    let mut replies = 0;
    loop {
        match timeout(WAIT, greedy.next())
            .await
            .expect("the agent closed")
        {
            Some(Ok(Ok(ServerFrame::Reply { id, .. }))) => {
                assert_eq!(id, replies, "in order");
                replies += 1;
            }
            Some(Ok(Ok(ServerFrame::Error { id: None, error }))) => {
                assert_eq!(error.code, ErrorCode::NotReading, "{}", error.message);
            }
            Some(Ok(Ok(other))) => panic!("unexpected {other:?}"),
            Some(Ok(Err(e))) => panic!("undecodable: {e}"),
            None | Some(Err(_)) => break,
        }
    }
    assert!(replies < 64, "the connection should have been closed");
    assert_new_connection_works(agent.path(), &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frame_over_the_request_limit_gets_frame_too_large_then_the_connection_closes() {
    let dir = TempDir::new();
    let fake = Arc::new(Fake::new());
    let agent = start(&dir, &fake, options(&dir));

    let mut conn = raw_after_hello(agent.path()).await;
    let announced = (MAX_REQUEST_FRAME as u32 + 1).to_be_bytes();
    conn.get_mut().write_all(&announced).await.unwrap();
    let error = expect_error(read(&mut conn).await, None, ErrorCode::FrameTooLarge);
    assert!(error.message.contains(&MAX_REQUEST_FRAME.to_string()));
    expect_closed(&mut conn).await;

    assert_new_connection_works(agent.path(), &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frame_at_the_request_limit_is_read_not_refused() {
    let dir = TempDir::new();
    let fake = Arc::new(Fake::new());
    let agent = start(&dir, &fake, options(&dir));

    // A kill with a reason that makes the frame exactly as large as allowed.
    let mut conn = raw_after_hello(agent.path()).await;
    let mut reason = String::new();
    let body = |reason: &str| {
        rmp_serde::to_vec_named(&Request {
            id: 1,
            request: RequestKind::Kill {
                target: "nope".into(),
                reason: Some(reason.into()),
                force: false,
            },
        })
        .unwrap()
    };
    while body(&reason).len() < MAX_REQUEST_FRAME {
        reason.push('x');
    }
    let body = body(&reason);
    assert_eq!(body.len(), MAX_REQUEST_FRAME);
    let mut bytes = (body.len() as u32).to_be_bytes().to_vec();
    bytes.extend_from_slice(&body);
    conn.get_mut().write_all(&bytes).await.unwrap();
    expect_error(read(&mut conn).await, Some(1), ErrorCode::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_bytes_get_bad_frame_and_the_same_connection_keeps_serving() {
    let dir = TempDir::new();
    let fake = Arc::new(Fake::new());
    let agent = start(&dir, &fake, options(&dir));
    let mut conn = raw_after_hello(agent.path()).await;

    // 0xc1 is never valid MessagePack.
    conn.get_mut()
        .write_all(&[0, 0, 0, 4, 0xc1, 0xc1, 0xc1, 0xc1])
        .await
        .unwrap();
    expect_error(read(&mut conn).await, None, ErrorCode::BadFrame);

    // Valid MessagePack that is not a request.
    #[derive(Serialize)]
    struct NotARequest {
        hello: u32,
    }
    conn.send(NotARequest { hello: 1 }).await.unwrap();
    expect_error(read(&mut conn).await, None, ErrorCode::BadFrame);

    // An empty frame.
    conn.get_mut().write_all(&[0, 0, 0, 0]).await.unwrap();
    expect_error(read(&mut conn).await, None, ErrorCode::BadFrame);

    // A request with a field nested 60 000 arrays deep: decoding must not recurse that
    // far on an app worker's stack (an overflow would abort the whole app).
    let mut body = vec![0x82, 0xa2, b'i', b'd', 0x01, 0xa1, b'x'];
    body.extend(std::iter::repeat_n(0x91, 60_000));
    body.push(0xc0);
    let mut bytes = (body.len() as u32).to_be_bytes().to_vec();
    bytes.extend_from_slice(&body);
    conn.get_mut().write_all(&bytes).await.unwrap();
    expect_error(read(&mut conn).await, None, ErrorCode::BadFrame);

    request(&mut conn, 5, RequestKind::Snapshot { rows: false }).await;
    match read(&mut conn).await {
        ServerFrame::Reply {
            id: 5,
            body: ReplyBody::Snapshot { snapshot },
        } => assert_eq!(snapshot, fake.snapshot),
        other => panic!("expected the snapshot, got {other:?}"),
    }
    assert_new_connection_works(agent.path(), &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_request_type_gets_unknown_request_with_its_id() {
    #[derive(Serialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum FutureRequest {
        Teleport { to: String },
    }
    #[derive(Serialize)]
    struct FutureFrame {
        id: u64,
        request: FutureRequest,
    }

    let dir = TempDir::new();
    let fake = Arc::new(Fake::new());
    let agent = start(&dir, &fake, options(&dir));
    let mut conn = raw_after_hello(agent.path()).await;

    conn.send(FutureFrame {
        id: 77,
        request: FutureRequest::Teleport { to: "mars".into() },
    })
    .await
    .unwrap();
    expect_error(read(&mut conn).await, Some(77), ErrorCode::UnknownRequest);

    // The connection keeps serving.
    request(&mut conn, 78, RequestKind::Tree).await;
    assert!(matches!(
        read(&mut conn).await,
        ServerFrame::Reply { id: 78, .. }
    ));
    assert_new_connection_works(agent.path(), &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_of_another_major_version_gets_version_mismatch_then_is_closed() {
    let dir = TempDir::new();
    let fake = Arc::new(Fake::new());
    let agent = start(&dir, &fake, options(&dir));
    let mut conn = raw_after_hello(agent.path()).await;

    let theirs = ProtocolVersion {
        major: ProtocolVersion::CURRENT.major + 1,
        minor: 0,
    };
    request(
        &mut conn,
        5,
        RequestKind::Hello {
            protocol_version: theirs,
        },
    )
    .await;
    let error = expect_error(read(&mut conn).await, Some(5), ErrorCode::VersionMismatch);
    assert!(
        error.message.contains(&theirs.to_string())
            && error
                .message
                .contains(&ProtocolVersion::CURRENT.to_string()),
        "names both versions: {}",
        error.message
    );
    expect_closed(&mut conn).await;
    assert_new_connection_works(agent.path(), &fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_of_the_same_major_and_another_minor_is_welcome() {
    let dir = TempDir::new();
    let fake = Arc::new(Fake::new());
    let agent = start(&dir, &fake, options(&dir));
    let mut conn = raw_after_hello(agent.path()).await;

    let newer_minor = ProtocolVersion {
        major: ProtocolVersion::CURRENT.major,
        minor: ProtocolVersion::CURRENT.minor + 7,
    };
    request(
        &mut conn,
        1,
        RequestKind::Hello {
            protocol_version: newer_minor,
        },
    )
    .await;
    assert_eq!(
        read(&mut conn).await,
        ServerFrame::Reply {
            id: 1,
            body: ReplyBody::Hello {
                protocol_version: ProtocolVersion::CURRENT
            }
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_agent_refuses_kill_and_restart() {
    let dir = TempDir::new();
    let fake = Arc::new(Fake::new());
    let agent = start(&dir, &fake, options(&dir).read_only(true));
    let mut client = Client::connect(agent.path()).await.unwrap();
    assert!(client.hello().read_only);

    for (result, verb) in [
        (client.kill("cache", Some("test"), false).await, "kill"),
        (client.restart("cache").await, "restart"),
    ] {
        match result {
            Err(ClientError::Agent(error)) => {
                assert_eq!(error.code, ErrorCode::ReadOnly);
                assert_eq!(
                    error.message,
                    format!("this agent is read-only: {verb} is refused")
                );
            }
            other => panic!("expected read_only, got {other:?}"),
        }
    }
    assert!(fake.actions().is_empty(), "nothing reached the app");
    // Reading still works.
    assert_eq!(client.snapshot().await.unwrap(), fake.snapshot);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ambiguous_target_is_refused_with_its_candidates() {
    let dir = TempDir::new();
    let fake = Arc::new(Fake::new());
    let agent = start(&dir, &fake, options(&dir));
    let mut client = Client::connect(agent.path()).await.unwrap();

    // "worker" is the child id of <0.4> and the registered name of <0.7>.
    let Err(ClientError::Agent(error)) = client.kill("worker", None, false).await else {
        panic!("an ambiguous target must be refused");
    };
    assert_eq!(error.code, ErrorCode::AmbiguousTarget);
    assert_eq!(
        error.message,
        "\"worker\" is ambiguous: it matches 2 processes"
    );
    let pids: Vec<Pid> = error.candidates.iter().map(|c| c.pid).collect();
    assert_eq!(pids, vec![Pid(4), Pid(7)]);
    assert!(fake.actions().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_target_is_not_found() {
    let dir = TempDir::new();
    let fake = Arc::new(Fake::new());
    let agent = start(&dir, &fake, options(&dir));
    let mut client = Client::connect(agent.path()).await.unwrap();

    let Err(ClientError::Agent(error)) = client.restart("ghost").await else {
        panic!("an unknown target must be refused");
    };
    assert_eq!(error.code, ErrorCode::NotFound);
    assert_eq!(
        error.message,
        "no process named \"ghost\" (by name, child id or pid)"
    );
    assert!(fake.actions().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_and_restart_reach_the_backend_with_the_resolved_pid() {
    let dir = TempDir::new();
    let fake = Arc::new(Fake::new());
    let agent = start(&dir, &fake, options(&dir));
    let mut client = Client::connect(agent.path()).await.unwrap();

    let killed = client.kill("cache", Some("testing"), false).await.unwrap();
    assert_eq!(killed, Fake::outcome(Pid(3)));
    let restarted = client.restart("<0.42>").await.unwrap();
    assert_eq!(restarted.new_pid, Some(Pid(142)));
    client.kill("w2", None, false).await.unwrap();
    assert_eq!(
        fake.actions(),
        vec![
            BackendCall::Kill(Pid(3), Some("testing".into())),
            BackendCall::Restart(Pid(42)),
            BackendCall::Kill(Pid(7), None),
        ]
    );
}

/// A root has no supervisor to bring it back (and takes its tree with it): a kill
/// without `force` is refused before anything reaches the app.
/// The dashboard names a process by its pid (`<0.42>`): the agent then looks at that
/// process and its supervisor only, never a whole snapshot; a name still needs one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_in_pid_form_is_acted_on_without_a_whole_snapshot() {
    let dir = TempDir::new();
    let fake = Arc::new(Fake::new());
    let agent = start(&dir, &fake, options(&dir));
    let mut client = Client::connect(agent.path()).await.unwrap();

    let killed = client.kill("<0.42>", None, false).await.unwrap();
    assert_eq!(killed.target.pid, Pid(42));
    client.restart("<0.4>").await.unwrap();
    match client.kill("<0.999>", None, false).await {
        Err(ClientError::Agent(error)) => assert_eq!(
            error.message,
            "no process named \"<0.999>\" (by name, child id or pid)"
        ),
        other => panic!("expected not_found, got {other:?}"),
    }
    assert_eq!(
        fake.snapshots.load(Ordering::SeqCst),
        0,
        "no whole snapshot"
    );
    assert_eq!(
        fake.actions(),
        vec![
            BackendCall::Kill(Pid(42), None),
            BackendCall::Restart(Pid(4))
        ]
    );

    client.kill("job", None, false).await.unwrap();
    assert_eq!(
        fake.snapshots.load(Ordering::SeqCst),
        1,
        "a name needs them all"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_of_a_process_nothing_would_restart_needs_force() {
    let dir = TempDir::new();
    let fake = Arc::new(Fake::new());
    let agent = start(&dir, &fake, options(&dir));
    let mut client = Client::connect(agent.path()).await.unwrap();

    let Err(ClientError::Agent(error)) = client.kill("root", None, false).await else {
        panic!("a root must not be killed without force");
    };
    assert_eq!(error.code, ErrorCode::NotSupervised);
    assert_eq!(
        error.message,
        "root <0.1> is a root supervisor: nothing would restart it"
    );
    assert!(fake.actions().is_empty(), "nothing reached the app");
    client.kill("root", None, true).await.unwrap();
    assert_eq!(fake.actions(), vec![BackendCall::Kill(Pid(1), None)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_is_sorted_filtered_and_cut_by_the_agent() {
    use noex_agent::table::{TableMemory, TableQuery, TableSort, build_table};
    let dir = TempDir::new();
    let fake = Arc::new(Fake::with(300, 1024));
    let agent = start(&dir, &fake, options(&dir));
    let mut client = Client::connect(agent.path()).await.unwrap();

    let query = TableQuery {
        sort: TableSort::Name,
        descending: true,
        offset: 10,
        limit: 25,
        ..TableQuery::default()
    };
    let view = client.table(query.clone()).await.unwrap();
    let expected = build_table(fake.snapshot.clone(), &query, &mut TableMemory::default());
    assert_eq!(view, expected);
    assert_eq!(view.rows.len(), 25);
    assert_eq!(view.offset, 10);
    assert!(
        view.snapshot.servers.len() <= 25,
        "only the window's servers"
    );
    assert_eq!(view.snapshot.process_count, fake.snapshot.process_count);

    // A limit past the cap, and a filter past its length, are cut, not refused.
    let greedy = TableQuery {
        limit: u32::MAX,
        filter: "x".repeat(10_000),
        ..TableQuery::default()
    };
    let view = client.table(greedy).await.unwrap();
    assert_eq!(view.matched, 0);
    assert!(view.rows.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_sort_from_a_newer_client_falls_back_to_pid_order() {
    #[derive(Serialize)]
    struct Future<'a> {
        id: u64,
        request: FutureTable<'a>,
    }
    #[derive(Serialize)]
    struct FutureTable<'a> {
        r#type: &'a str,
        sort: &'a str,
        limit: u32,
        colour: &'a str,
    }
    let dir = TempDir::new();
    let fake = Arc::new(Fake::new());
    let agent = start(&dir, &fake, options(&dir));
    let mut conn = raw_after_hello(agent.path()).await;
    let frame = Future {
        id: 5,
        request: FutureTable {
            r#type: "table",
            sort: "by_mood",
            limit: 3,
            colour: "blue",
        },
    };
    let body = rmp_serde::to_vec_named(&frame).unwrap();
    let mut bytes = (body.len() as u32).to_be_bytes().to_vec();
    bytes.extend_from_slice(&body);
    conn.get_mut().write_all(&bytes).await.unwrap();
    let ServerFrame::Reply {
        id: 5,
        body: ReplyBody::Table { table },
    } = read(&mut conn).await
    else {
        panic!("expected a table reply");
    };
    let pids: Vec<u64> = table.rows.iter().map(|r| r.pid.0).collect();
    let mut sorted = pids.clone();
    sorted.sort_unstable();
    assert_eq!(pids, sorted, "pid order");
    assert_eq!(pids.len(), 3);
}
