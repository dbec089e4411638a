//! The agent under abuse, on a real socket: deep pipelining, clients that never finish
//! a frame, never read, or send garbage and oversized frames; each gets the answer
//! PROTOCOL.md promises, and the agent stays within its limits and keeps serving.

#![cfg(unix)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use noex_agent::client::{Client, ClientError};
use noex_agent::codec::FrameCodec;
use noex_agent::protocol::{
    ErrorCode, MAX_REPLY_FRAME, MAX_REQUEST_FRAME, ReplyBody, Request, RequestKind, ServerFrame,
};
use noex_agent::text::ECHOED_TEXT_LIMIT;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::time::timeout;
use tokio_util::codec::Encoder;

/// `requests` framed back to back, as one client write.
fn framed(requests: impl IntoIterator<Item = Request>) -> Vec<u8> {
    let mut codec = FrameCodec::<ServerFrame>::new(MAX_REQUEST_FRAME);
    let mut buf = bytes::BytesMut::new();
    for request in requests {
        codec.encode(request, &mut buf).unwrap();
    }
    buf.to_vec()
}

fn numbered(id: u64, request: RequestKind) -> Request {
    Request { id, request }
}

/// Waits until the agent serves `n` connections (they close on their own schedule).
async fn until_active(agent: &noex_agent::server::AgentHandle, n: usize) {
    let deadline = Instant::now() + WAIT;
    while agent.active_connections() != n {
        assert!(
            Instant::now() < deadline,
            "{} connections, not {n}",
            agent.active_connections()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// PROTOCOL.md allows pipelining: thousands of requests in one write, of every kind,
/// bad frames among them, are all answered in order. A tiny reply buffer makes the agent
/// stop reading again and again (flow control), never close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_are_all_answered_in_order_at_any_depth() {
    const DEPTH: u64 = 3000;
    let dir = TempDir::new();
    let fake = Arc::new(Fake::with(20, 16));
    let agent = start(&dir, &fake, options(&dir).reply_buffer(4096));
    let conn = raw_after_hello(agent.path()).await;
    let (mut reader, mut writer) = conn.into_inner().into_split();

    let kinds = [
        RequestKind::Tree,
        RequestKind::Snapshot { rows: false },
        RequestKind::Unknown,
        RequestKind::Restart {
            target: "nope".into(),
        },
    ];
    let mut bytes = framed((0..DEPTH).map(|id| numbered(id, kinds[id as usize % 4].clone())));
    // A bad frame in the middle: answered in its place, with the id it carries.
    let middle = bytes.len() / 2;
    let boundary = {
        let mut at = 0;
        while at < middle {
            at += 4 + u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        }
        at
    };
    // {"id": 99999, "request": 1}
    let mut bad = vec![0x82, 0xa2, b'i', b'd', 0xce];
    bad.extend_from_slice(&99_999u32.to_be_bytes());
    bad.extend_from_slice(&[0xa7, b'r', b'e', b'q', b'u', b'e', b's', b't', 0x01]);
    let mut bad_frame = (bad.len() as u32).to_be_bytes().to_vec();
    bad_frame.extend_from_slice(&bad);
    bytes.splice(boundary..boundary, bad_frame);
    let sender = tokio::spawn(async move {
        writer.write_all(&bytes).await.unwrap();
        writer
    });

    let mut frames = tokio_util::codec::FramedRead::new(
        &mut reader,
        FrameCodec::<ServerFrame>::new(MAX_REPLY_FRAME),
    );
    let mut next_id = 0;
    let mut saw_bad = false;
    while next_id < DEPTH {
        let frame = timeout(WAIT, frames.next())
            .await
            .expect("every request is answered")
            .expect("the connection stays open")
            .unwrap()
            .unwrap();
        let (id, kind) = match frame {
            ServerFrame::Reply { id, body } => (Some(id), body_kind(&body)),
            ServerFrame::Error { id, error } => (id, error.code.as_str()),
            other => panic!("unexpected {other:?}"),
        };
        if id == Some(99_999) {
            assert_eq!(kind, "bad_frame");
            saw_bad = true;
            continue;
        }
        assert_eq!(id, Some(next_id), "answers come in request order");
        let expected = ["tree", "snapshot", "unknown_request", "not_found"][next_id as usize % 4];
        assert_eq!(kind, expected, "request {next_id}");
        next_id += 1;
    }
    assert!(saw_bad, "the bad frame was answered with its id");
    let _writer = sender.await.unwrap();
    assert_eq!(agent.active_connections(), 1);
}

fn body_kind(body: &ReplyBody) -> &'static str {
    match body {
        ReplyBody::Tree { .. } => "tree",
        ReplyBody::Snapshot { .. } => "snapshot",
        _ => "other",
    }
}

/// A client that connects and sends nothing, and one that starts a frame and never
/// finishes it, are told `timeout` and closed after the request timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_half_sent_connections_are_timed_out_with_an_error() {
    let dir = TempDir::new();
    let fake = Arc::new(Fake::new());
    let agent = start(
        &dir,
        &fake,
        options(&dir).request_timeout(Duration::from_millis(300)),
    );

    let mut silent = raw_after_hello(agent.path()).await;
    let error = expect_error(read(&mut silent).await, None, ErrorCode::Timeout);
    assert_eq!(
        error.message,
        "no request within 300ms of connecting; closing"
    );
    expect_closed(&mut silent).await;

    // Greeted properly, then three bytes of a frame header.
    let mut half = raw_after_hello(agent.path()).await;
    support::request(&mut half, 1, RequestKind::Tree).await;
    assert!(matches!(
        read(&mut half).await,
        ServerFrame::Reply { id: 1, .. }
    ));
    half.get_mut().write_all(&[0, 0, 0]).await.unwrap();
    let error = expect_error(read(&mut half).await, None, ErrorCode::Timeout);
    assert_eq!(
        error.message,
        "a frame was started but not finished within 300ms; closing"
    );
    expect_closed(&mut half).await;

    // A whole length prefix, and no body.
    let mut headed = raw_after_hello(agent.path()).await;
    support::request(&mut headed, 1, RequestKind::Tree).await;
    read(&mut headed).await;
    headed.get_mut().write_all(&[0, 0, 0, 50]).await.unwrap();
    expect_error(read(&mut headed).await, None, ErrorCode::Timeout);
    expect_closed(&mut headed).await;

    // A client idle between whole requests is not timed out: dashboards poll.
    let mut idle = raw_after_hello(agent.path()).await;
    support::request(&mut idle, 1, RequestKind::Tree).await;
    read(&mut idle).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    support::request(&mut idle, 2, RequestKind::Tree).await;
    assert!(matches!(
        read(&mut idle).await,
        ServerFrame::Reply { id: 2, .. }
    ));
}

/// Every slot taken by clients that sent three bytes of a frame: a well-behaved client
/// arriving then waits for a slot and is served once they time out, not refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_frames_in_every_slot_keep_a_good_client_out_no_longer_than_the_timeout() {
    let dir = TempDir::new();
    let fake = Arc::new(Fake::new());
    let agent = start(
        &dir,
        &fake,
        options(&dir)
            .max_connections(8)
            .request_timeout(Duration::from_millis(500))
            .admission_wait(Duration::from_secs(30)),
    );
    let mut squatters = Vec::new();
    for _ in 0..8 {
        let mut conn = raw_after_hello(agent.path()).await;
        conn.get_mut().write_all(&[0, 0, 0]).await.unwrap();
        squatters.push(conn);
    }
    until_active(&agent, 8).await;

    let arrived = Instant::now();
    let mut client = timeout(WAIT, Client::connect(agent.path()))
        .await
        .expect("admitted in time")
        .expect("a slot, not busy");
    assert!(
        arrived.elapsed() >= Duration::from_millis(100),
        "it had to wait for a squatter to be closed"
    );
    assert_eq!(client.snapshot().await.unwrap(), fake.snapshot);
    for mut squatter in squatters {
        expect_error(read(&mut squatter).await, None, ErrorCode::Timeout);
    }
}

/// A frame that is MessagePack but not a request is answered `bad_frame` with its id
/// when the id is readable; text quoted back from the client is clipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_echo_a_readable_id_and_never_much_client_text() {
    let dir = TempDir::new();
    let fake = Arc::new(Fake::new());
    let agent = start(&dir, &fake, options(&dir));
    let mut conn = raw_after_hello(agent.path()).await;

    // {"id": 7, "request": {"type": 5}}: the request is wrong, the id is fine.
    let body = [
        0x82, 0xa2, b'i', b'd', 0x07, 0xa7, b'r', b'e', b'q', b'u', b'e', b's', b't', 0x81, 0xa4,
        b't', b'y', b'p', b'e', 0x05,
    ];
    let mut bytes = (body.len() as u32).to_be_bytes().to_vec();
    bytes.extend_from_slice(&body);
    conn.get_mut().write_all(&bytes).await.unwrap();
    let error = expect_error(read(&mut conn).await, Some(7), ErrorCode::BadFrame);
    assert!(error.message.starts_with("the frame is not a request"));

    // A 60 KB target comes back as a short quote.
    let target = "t".repeat(60_000);
    support::request(&mut conn, 8, RequestKind::Restart { target }).await;
    let error = expect_error(read(&mut conn).await, Some(8), ErrorCode::NotFound);
    assert!(
        error.message.len() < ECHOED_TEXT_LIMIT + 64,
        "{} bytes",
        error.message.len()
    );
    assert!(
        error.message.contains("… (60000 bytes)"),
        "{}",
        error.message
    );

    // A 60 KB unknown request type: serde quotes it; the message is clipped all the same.
    let mut body = vec![0x82, 0xa2, b'i', b'd', 0x09, 0xa7];
    body.extend_from_slice(b"request");
    body.extend_from_slice(&[0x81, 0xa4]);
    body.extend_from_slice(b"type");
    body.push(0xda);
    body.extend_from_slice(&60_000u16.to_be_bytes());
    body.extend(std::iter::repeat_n(b'k', 60_000));
    let mut bytes = (body.len() as u32).to_be_bytes().to_vec();
    bytes.extend_from_slice(&body);
    conn.get_mut().write_all(&bytes).await.unwrap();
    let error = expect_error(read(&mut conn).await, Some(9), ErrorCode::UnknownRequest);
    assert!(error.message.len() <= 1024, "{} bytes", error.message.len());
}

/// An oversized frame sent whole, in one write: the client reads `frame_too_large`
/// before the close, not a reset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_frame_sent_whole_gets_its_error_before_the_close() {
    let dir = TempDir::new();
    let fake = Arc::new(Fake::new());
    let agent = start(&dir, &fake, options(&dir));
    let conn = raw_after_hello(agent.path()).await;
    let mut stream: UnixStream = conn.into_inner();
    let len = MAX_REQUEST_FRAME + 5000;
    let mut bytes = (len as u32).to_be_bytes().to_vec();
    bytes.resize(4 + len, 0x90);
    stream.write_all(&bytes).await.unwrap();
    let mut received = Vec::new();
    timeout(WAIT, stream.read_to_end(&mut received))
        .await
        .expect("the agent closes")
        .expect("a clean close, not a reset");
    let mut buf = bytes::BytesMut::from(&received[..]);
    let mut codec = FrameCodec::<ServerFrame>::new(MAX_REPLY_FRAME);
    let frame = tokio_util::codec::Decoder::decode(&mut codec, &mut buf)
        .unwrap()
        .expect("one whole frame")
        .unwrap();
    expect_error(frame, None, ErrorCode::FrameTooLarge);
    assert!(buf.is_empty(), "nothing after the error");
}

/// The agent's own processes (its connections, its supervisor) cannot be killed or
/// restarted through it, forced or not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_s_own_processes_cannot_be_killed_or_restarted_through_it() {
    let dir = TempDir::new();
    let mut fake = Fake::new();
    let connection = fake
        .snapshot
        .servers
        .iter_mut()
        .find(|s| s.pid.0 == 42)
        .unwrap();
    connection.system = true;
    let fake = Arc::new(fake);
    let agent = start(&dir, &fake, options(&dir));
    let mut client = Client::connect(agent.path()).await.unwrap();

    for force in [false, true] {
        match client.kill("job", None, force).await {
            Err(ClientError::Agent(error)) => {
                assert_eq!(error.code, ErrorCode::Protected);
                assert_eq!(
                    error.message,
                    "job <0.42> belongs to the noex agent itself: it cannot be killed or \
                     restarted through the agent"
                );
            }
            other => panic!("expected protected, got {other:?}"),
        }
    }
    match client.restart("<0.42>").await {
        Err(ClientError::Agent(error)) => assert_eq!(error.code, ErrorCode::Protected),
        other => panic!("expected protected, got {other:?}"),
    }
    assert!(fake.actions().is_empty(), "nothing reached the app");
    // The app's own processes still can be.
    client.kill("cache", None, false).await.unwrap();
}

/// Many clients pipelining large requests and never reading: the frames the agent
/// holds for them never exceed its memory limit (plus the replies being built), and a
/// newcomer is served as soon as they are gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_holds_no_more_than_its_memory_limit_whatever_the_clients_do() {
    const LIMIT: usize = 2 * 1024 * 1024;
    let dir = TempDir::new();
    // Snapshots of ~200 KB; history replies too.
    let fake = Arc::new(Fake::with(1500, 16));
    let agent = start(
        &dir,
        &fake,
        options(&dir)
            .memory_limit(LIMIT)
            .write_timeout(Duration::from_secs(60)),
    );
    let snapshot_len = rmp_serde::to_vec_named(&fake.snapshot).unwrap().len();
    let mut greedy = Vec::new();
    for _ in 0..30 {
        let mut conn = raw_after_hello(agent.path()).await;
        let requests = (0..16).map(|id| {
            let kind = if id % 2 == 0 {
                RequestKind::Snapshot { rows: false }
            } else {
                RequestKind::Subscribe { history: 10_000 }
            };
            numbered(id, kind)
        });
        conn.get_mut().write_all(&framed(requests)).await.unwrap();
        greedy.push(conn);
    }
    // Watch until the clients have filled the agent's budget (they will: 30 clients
    // each asking for 8 snapshots of ~200 KB), and a while after.
    let mut peak = 0;
    let deadline = Instant::now() + WAIT;
    let mut after_full = 0;
    while after_full < 50 {
        peak = peak.max(agent.queued_bytes());
        if peak > LIMIT - snapshot_len {
            after_full += 1;
        }
        assert!(Instant::now() < deadline, "the budget never filled: {peak}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        peak <= LIMIT + 2 * (snapshot_len + 64),
        "{peak} bytes queued, over the {LIMIT}-byte limit"
    );
    assert_eq!(agent.active_connections(), 30);
    // A newcomer's small answers go through meanwhile (each connection has a reserve
    // of its own); its large one waits its turn for the agent's budget, and is served
    // once the non-readers go (here they hang up; the agent cuts them off after the
    // write timeout anyway).
    let mut newcomer = timeout(WAIT, Client::connect(agent.path()))
        .await
        .expect("connected while the budget is full")
        .unwrap();
    match timeout(WAIT, newcomer.restart("nope")).await.unwrap() {
        Err(ClientError::Agent(error)) => assert_eq!(error.code, ErrorCode::NotFound),
        other => panic!("expected not_found, got {other:?}"),
    }
    let newcomer = tokio::spawn(async move { newcomer.snapshot().await });
    drop(greedy);
    let snapshot = timeout(WAIT, newcomer).await.unwrap().unwrap().unwrap();
    assert_eq!(snapshot, fake.snapshot);
    until_active(&agent, 0).await;
    assert_eq!(agent.queued_bytes(), 0);
}
