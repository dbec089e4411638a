//! Bad input on the real socket of a real app: the agent answers it with the error
//! frame PROTOCOL.md names (§6), the app keeps running and the agent keeps serving.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use noex_agent::codec::DEFAULT_MAX_DEPTH;
use noex_agent::protocol::{ErrorCode, ReplyBody, ServerFrame, decode_server_frame};
use support::Demo;

fn connect(demo: &Demo) -> UnixStream {
    let stream = UnixStream::connect(demo.socket()).unwrap();
    // Only against a hang: every read here waits for a frame the agent sends at once.
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
}

/// The next frame from the agent (a 4-byte big-endian length, then a MessagePack
/// body), or `None` once it has closed the connection.
fn read_frame(stream: &mut UnixStream) -> Option<ServerFrame> {
    let mut len = [0u8; 4];
    match stream.read_exact(&mut len) {
        Ok(()) => {}
        Err(error) if error.kind() == ErrorKind::UnexpectedEof => return None,
        Err(error) => panic!("reading a frame: {error}"),
    }
    let mut body = vec![0; u32::from_be_bytes(len) as usize];
    stream.read_exact(&mut body).expect("a whole frame");
    Some(decode_server_frame(&body, DEFAULT_MAX_DEPTH).expect("the agent's frame decodes"))
}

/// A connection the agent greeted: its first frame is `hello`.
fn greeted(demo: &Demo) -> UnixStream {
    let mut stream = connect(demo);
    match read_frame(&mut stream) {
        Some(ServerFrame::Hello(hello)) => assert_eq!(hello.pid, demo.pid()),
        other => panic!("the agent speaks first, with hello: {other:?}"),
    }
    stream
}

/// The error frame the agent sent about the connection (`id` nil), by its code.
fn connection_error(frame: Option<ServerFrame>) -> (ErrorCode, String) {
    match frame {
        Some(ServerFrame::Error { id: None, error }) => (error.code, error.message),
        other => panic!("an error frame with no id, got {other:?}"),
    }
}

/// `{"id": 7, "request": {"type": "tree"}}` as one frame, MessagePack with named fields.
fn tree_request() -> Vec<u8> {
    let mut body = vec![0x82, 0xa2];
    body.extend_from_slice(b"id");
    body.extend_from_slice(&[0x07, 0xa7]);
    body.extend_from_slice(b"request");
    body.extend_from_slice(&[0x81, 0xa4]);
    body.extend_from_slice(b"type");
    body.push(0xa4);
    body.extend_from_slice(b"tree");
    let mut frame = (body.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    frame
}

#[test]
fn garbage_oversized_frames_and_silent_clients_leave_the_app_running() {
    let demo = Demo::start();

    // Bytes that are not a request, inside a well-formed frame: `bad_frame`, and the
    // connection stays in sync, so its next request is answered.
    let mut garbage = greeted(&demo);
    garbage
        .write_all(&[0, 0, 0, 4, 0xc1, 0xc1, 0xc1, 0xc1])
        .unwrap();
    let (code, message) = connection_error(read_frame(&mut garbage));
    assert_eq!(code, ErrorCode::BadFrame, "{message}");
    assert!(
        message.starts_with("the frame is not a request"),
        "{message}"
    );
    garbage.write_all(&tree_request()).unwrap();
    match read_frame(&mut garbage) {
        Some(ServerFrame::Reply {
            id: 7,
            body: ReplyBody::Tree { tree },
        }) => assert!(!tree.roots.is_empty()),
        other => panic!("the tree, after the bad frame: {other:?}"),
    }

    // A frame header announcing a gigabyte: `frame_too_large`, then the connection
    // closes, as the stream cannot be resynced.
    let mut huge = greeted(&demo);
    huge.write_all(&[0x40, 0, 0, 0]).unwrap();
    let (code, message) = connection_error(read_frame(&mut huge));
    assert_eq!(code, ErrorCode::FrameTooLarge, "{message}");
    assert_eq!(read_frame(&mut huge), None, "closed after the error frame");

    // Clients that connect and never read or write.
    let silent: Vec<UnixStream> = (0..20).map(|_| connect(&demo)).collect();

    let ps = demo.noex(&["ps", "--json"]);
    assert_eq!(ps.code, 0, "{}", ps.stderr);
    let rows: serde_json::Value = serde_json::from_str(&ps.stdout).unwrap();
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "running")
    );
    drop(silent);
    drop(garbage);
    assert_eq!(demo.noex(&["tree"]).code, 0);
}
