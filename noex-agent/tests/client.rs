//! The client against agents that push while it waits: pushes kept in order around a
//! reply, a frame cut short, a reply of ten thousand processes. A scripted agent (raw
//! frames) or a real one with a fake backend.

#![cfg(unix)]

mod support;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use noex_agent::client::{Client, Push};
use noex_agent::codec::FrameCodec;
use noex_agent::protocol::{MAX_REQUEST_FRAME, ProtocolVersion, ReplyBody, Request, ServerFrame};
use support::*;
use tokio::net::UnixStream;
use tokio::time::timeout;
use tokio_util::codec::Framed;

// ---------------------------------------------------------------------------------------

/// A scripted agent: greets, answers the client's hello, then for the next request sends
/// `before` pushes, the reply, and hangs up. Whatever the client hands out after the
/// reply must have been kept while it waited.
async fn scripted_agent(path: PathBuf, before: Vec<ServerFrame>, reply: ReplyBody) {
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    let (stream, _) = listener.accept().await.unwrap();
    let mut conn: Framed<UnixStream, FrameCodec<Request>> =
        Framed::new(stream, FrameCodec::new(MAX_REQUEST_FRAME));
    let hello = noex_agent::protocol::Hello {
        protocol_version: ProtocolVersion::CURRENT,
        noex_version: "0".into(),
        app: "scripted".into(),
        pid: 1,
        started_at_ms: 0,
        read_only: false,
    };
    conn.send(ServerFrame::Hello(hello)).await.unwrap();
    let Some(Ok(Ok(Request { id, .. }))) = conn.next().await else {
        panic!("expected the client's hello");
    };
    let body = ReplyBody::Hello {
        protocol_version: ProtocolVersion::CURRENT,
    };
    conn.send(ServerFrame::Reply { id, body }).await.unwrap();
    let Some(Ok(Ok(Request { id, .. }))) = conn.next().await else {
        panic!("expected a request");
    };
    for frame in before {
        conn.feed(frame).await.unwrap();
    }
    conn.send(ServerFrame::Reply { id, body: reply })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_keeps_pushes_that_arrive_before_a_reply_in_order_and_counts_overflow() {
    const SENT: u64 = 5000;
    let dir = TempDir::new();
    let mut before: Vec<ServerFrame> = (0..SENT)
        .map(|seq| ServerFrame::Event { event: event(seq) })
        .collect();
    // The agent's own lag notice, past the client's buffer: folded into the count.
    before.push(ServerFrame::Lagged { dropped: 7 });
    // A frame type from a newer protocol is skipped.
    before.insert(1, ServerFrame::Unknown);
    let fake = Fake::new();
    let script = tokio::spawn(scripted_agent(
        dir.socket(),
        before,
        ReplyBody::Snapshot {
            snapshot: fake.snapshot.clone(),
        },
    ));
    let mut client = timeout(WAIT, async {
        loop {
            match Client::connect(&dir.socket()).await {
                Ok(client) => break client,
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    })
    .await
    .expect("the scripted agent listens");
    assert_eq!(client.snapshot().await.unwrap(), fake.snapshot);
    script.await.unwrap();

    // The agent has hung up: everything below was kept while the reply was awaited.
    let mut kept = 0u64;
    let mut dropped = 0u64;
    while let Some(push) = timeout(WAIT, client.next_push()).await.unwrap().unwrap() {
        match push {
            Push::Event(e) => {
                assert_eq!(dropped, 0, "no event after the lag notice");
                assert_eq!(e.seq, kept, "in order");
                kept += 1;
            }
            Push::Lagged { dropped: n } => dropped += n,
        }
    }
    assert_eq!(kept, 4096, "the client's buffer is bounded");
    assert_eq!(dropped, SENT - 4096 + 7);
}

/// A client that stops mid-frame has gone: no error is written to it (a frame cut
/// short is not a frame over the limit), and the agent serves everyone else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_cut_short_ends_the_connection_without_an_error() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = TempDir::new();
    let fake = Arc::new(Fake::new());
    let agent = start(&dir, &fake, options(&dir));
    let conn = raw_after_hello(agent.path()).await;
    let mut stream = conn.into_inner();
    // Half of a frame header, then the end of what this client writes.
    stream.write_all(&[0, 0]).await.unwrap();
    stream.shutdown().await.unwrap();
    let mut rest = Vec::new();
    timeout(WAIT, stream.read_to_end(&mut rest))
        .await
        .expect("the agent closes the connection")
        .unwrap();
    assert!(rest.is_empty(), "nothing after the hello, got {rest:?}");
    assert_new_connection_works(agent.path(), &fake).await;
}

/// A snapshot of a very large application (ten thousand processes, megabytes on the
/// wire) is sent whole: the reply limit is for runaway frames, not big apps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_of_ten_thousand_processes_is_sent_whole() {
    let dir = TempDir::new();
    let fake = Arc::new(Fake::with(10_000, 1024));
    let agent = start(&dir, &fake, options(&dir));
    let mut client = Client::connect(agent.path()).await.unwrap();
    let snapshot = client.snapshot().await.unwrap();
    assert!(snapshot.servers.len() > 10_000);
    assert_eq!(snapshot, fake.snapshot);
    let encoded = rmp_serde::to_vec_named(&snapshot).unwrap().len();
    assert!(encoded > 1024 * 1024, "{encoded} bytes: over a mebibyte");
}

/// An agent of protocol 2.0, scripted: greets as 2.0, answers the client's hello, then
/// reads the next request as a 2.0 agent does (a `snapshot` without fields) and sends
/// `reply`, raw, as its answer.
async fn agent_of_2_0(path: PathBuf, reply: impl FnOnce(u64) -> Vec<u8>) {
    use tokio::io::AsyncWriteExt;
    /// A 2.0 agent's requests: `snapshot` had no fields.
    #[derive(serde::Deserialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum RequestOf2_0 {
        Hello,
        Snapshot,
    }
    #[derive(serde::Deserialize)]
    struct Asked {
        id: u64,
        request: RequestOf2_0,
    }
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    let (stream, _) = listener.accept().await.unwrap();
    let mut conn: Framed<UnixStream, FrameCodec<Asked>> =
        Framed::new(stream, FrameCodec::new(MAX_REQUEST_FRAME));
    let version = ProtocolVersion { major: 2, minor: 0 };
    let hello = noex_agent::protocol::Hello {
        protocol_version: version,
        noex_version: "0".into(),
        app: "old".into(),
        pid: 1,
        started_at_ms: 0,
        read_only: false,
    };
    conn.send(ServerFrame::Hello(hello)).await.unwrap();
    let Some(Ok(Ok(Asked {
        id,
        request: RequestOf2_0::Hello,
    }))) = conn.next().await
    else {
        panic!("expected the client's hello");
    };
    let body = ReplyBody::Hello {
        protocol_version: version,
    };
    conn.send(ServerFrame::Reply { id, body }).await.unwrap();
    let Some(Ok(Ok(Asked {
        id,
        request: RequestOf2_0::Snapshot,
    }))) = conn.next().await
    else {
        panic!("a 2.0 agent reads a 2.1 client's snapshot request as a snapshot request");
    };
    let body = reply(id);
    let mut stream = conn.into_inner();
    stream
        .write_all(&(body.len() as u32).to_be_bytes())
        .await
        .unwrap();
    stream.write_all(&body).await.unwrap();
    // Wait for the client to hang up, so the reply is not cut off.
    let _ = tokio::io::AsyncReadExt::read(&mut stream, &mut [0; 1]).await;
}

async fn connect_when_listening(path: &std::path::Path) -> Client {
    timeout(WAIT, async {
        loop {
            match Client::connect(path).await {
                Ok(client) => return client,
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    })
    .await
    .expect("the scripted agent listens")
}

/// A 2.1 client asks for rows; an agent of 2.0 ignores that and answers with named
/// maps, which the client reads all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_of_2_0_answers_a_rows_request_with_the_named_form_and_the_client_reads_it() {
    let dir = TempDir::new();
    let fake = Fake::new();
    let snapshot = fake.snapshot.clone();
    let named = snapshot.clone();
    let script = tokio::spawn(agent_of_2_0(dir.socket(), move |id| {
        let body = ReplyBody::Snapshot { snapshot: named };
        rmp_serde::to_vec_named(&ServerFrame::Reply { id, body }).unwrap()
    }));
    let mut client = connect_when_listening(&dir.socket()).await;
    assert_eq!(client.hello().protocol_version.minor, 0);
    assert_eq!(client.snapshot().await.unwrap(), snapshot);
    drop(client);
    script.await.unwrap();
}

/// A compact reply that does not hold together (a row pointing past the string table)
/// is the client's protocol error, with the reason, never a panic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_compact_reply_is_a_protocol_error() {
    let dir = TempDir::new();
    let script = tokio::spawn(agent_of_2_0(dir.socket(), |id| {
        // {type: reply, id, body: {type: snapshot, snapshot: {..., strings: [],
        //  servers: [[6, nil, nil, nil, 9, ...]], supervisors: []}}}
        let row = serde_json::json!([6, null, null, null, 9, 0, 0, 0, 0, 0, 0, null, null, false]);
        let frame = serde_json::json!({
            "type": "reply",
            "id": id,
            "body": { "type": "snapshot", "snapshot": {
                "taken_at_ms": 1, "app": "a", "os_pid": 2, "uptime_ms": 3, "process_count": 1,
                "total_messages": 0, "servers": [row], "supervisors": []
            }}
        });
        rmp_serde::to_vec_named(&frame).unwrap()
    }));
    let mut client = connect_when_listening(&dir.socket()).await;
    let error = client.snapshot().await.unwrap_err();
    assert!(
        matches!(error, noex_agent::client::ClientError::Protocol(_)),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("string index 9 is not in the snapshot's table of 0 strings"),
        "{message}"
    );
    drop(client);
    script.await.unwrap();
}

/// `--host` relays the agent's bytes through ssh: a client over any byte stream that
/// reaches the socket (here an in-memory pipe, relayed as `noex dial-stdio` does)
/// greets, checks versions and asks as it does over the socket itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_over_a_relayed_byte_stream_works_as_over_the_socket() {
    let dir = TempDir::new();
    let fake = Arc::new(Fake::with(3, 64));
    let agent = start(&dir, &fake, options(&dir));
    let mut socket = noex_agent::client::dial(agent.path()).await.unwrap();
    let (near, mut far) = tokio::io::duplex(64 * 1024);
    let relay = tokio::spawn(async move {
        let _ = tokio::io::copy_bidirectional(&mut far, &mut socket).await;
    });
    let mut client = timeout(Duration::from_secs(10), Client::handshake(near))
        .await
        .expect("greeted")
        .unwrap();
    let direct = Client::connect(agent.path()).await.unwrap();
    assert_eq!(client.hello(), direct.hello());
    assert_eq!(client.snapshot().await.unwrap(), fake.snapshot);
    drop(client);
    timeout(Duration::from_secs(10), relay)
        .await
        .expect("the relay ends with the client")
        .unwrap();
}
