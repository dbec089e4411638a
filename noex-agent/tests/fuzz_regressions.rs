//! Inputs the fuzz targets (`noex-agent/fuzz`) found, each with the rule it broke. The
//! same bytes are in `fuzz/regressions/<target>/`.
//!
//! The fast decoder's leniency (it reads snapshot and tree replies straight from
//! MessagePack, which takes integers as field and variant indexes and binary as names
//! and lists, where serde's buffer for tagged enums refuses them) is kept on purpose:
//! PROTOCOL.md asks readers to be lenient, and the agent never writes these shapes.
//! Those tests pin what the fast decoder reads, and that the plain one still refuses,
//! so a change to either shows.

use bytes::BytesMut;
use noex_agent::codec::{DEFAULT_MAX_DEPTH, FrameCodec, decode_with_serde};
use noex_agent::protocol::{MAX_REQUEST_FRAME, Request, ServerFrame, decode_server_frame};
use tokio_util::codec::Decoder;

/// This binary's private agent directory (`$NOEX_AGENT_DIR`), as every test binary's.
#[cfg(unix)]
#[path = "../../noex-lib/tests/support/sandbox.rs"]
mod sandbox;

/// `fuzz/regressions/frame_decoder/stream_cut_right_after_a_length_prefix`, without the
/// target's leading chunk count: a length prefix announcing 0x7200 bytes, then the end.
#[test]
fn a_stream_cut_right_after_a_length_prefix_ends_in_an_error_not_cleanly() {
    let mut codec = FrameCodec::<Request>::new(MAX_REQUEST_FRAME).with_max_depth(32);
    let mut buf = BytesMut::from(&[0x00, 0x00, 0x72, 0x00][..]);
    assert!(
        codec.decode(&mut buf).unwrap().is_none(),
        "no whole frame yet"
    );
    let end = codec.decode_eof(&mut buf);
    assert!(
        end.is_err(),
        "a connection cut mid-frame must be an I/O error, as one cut inside the \
         prefix or after a body byte is; got {end:?}"
    );
}

/// What both decoders of agent frames make of `body`.
fn fast_and_plain(body: &[u8]) -> (String, String) {
    let fast = decode_server_frame(body, DEFAULT_MAX_DEPTH);
    let plain = decode_with_serde::<ServerFrame>(body, DEFAULT_MAX_DEPTH);
    // Compared by outcome: two refusals agree whatever their messages say.
    let outcome = |decoded: Result<ServerFrame, rmp_serde::decode::Error>| match decoded {
        Ok(frame) => format!("{frame:?}"),
        Err(_) => "refused".to_string(),
    };
    (outcome(fast), outcome(plain))
}

/// `fuzz/regressions/server_frame_decoder/integer_map_key_in_a_tree_reply`:
/// `{"type": "reply", "id": 3, "body": {"type": "tree", "tree": {"roots": []}, 256: nil}}`,
/// the key 256 written as a 16-bit integer.
#[test]
fn the_fast_frame_decoder_leniently_reads_an_integer_map_key() {
    let body = [
        0x83, 0xa4, b't', b'y', b'p', b'e', 0xa5, b'r', b'e', b'p', b'l', b'y', 0xa2, b'i', b'd',
        0x03, 0xa4, b'b', b'o', b'd', b'y', 0x83, 0xa4, b't', b'y', b'p', b'e', 0xa4, b't', b'r',
        b'e', b'e', 0xa4, b't', b'r', b'e', b'e', 0x81, 0xa5, b'r', b'o', b'o', b't', b's', 0x90,
        0xcd, 0x01, 0x00, 0xc0,
    ];
    assert_eq!(
        body[..],
        include_bytes!("../fuzz/regressions/server_frame_decoder/integer_map_key_in_a_tree_reply")
            [..]
    );
    let (fast, plain) = fast_and_plain(&body);
    assert_eq!(plain, "refused");
    assert_ne!(fast, "refused", "the fast decoder reads it");
}

/// `fuzz/regressions/server_frame_decoder/integer_type_tag_in_a_tree_node`:
/// `{"type": "reply", "id": 3, "body": {"type": "tree", "tree": {"roots": [{"type": 7747}]}}}`,
/// the node's tag 7747 written as a 16-bit integer.
#[test]
fn the_fast_frame_decoder_leniently_reads_an_integer_tree_node_tag() {
    let body = [
        0x83, 0xa4, b't', b'y', b'p', b'e', 0xa5, b'r', b'e', b'p', b'l', b'y', 0xa2, b'i', b'd',
        0x03, 0xa4, b'b', b'o', b'd', b'y', 0x82, 0xa4, b't', b'y', b'p', b'e', 0xa4, b't', b'r',
        b'e', b'e', 0xa4, b't', b'r', b'e', b'e', 0x81, 0xa5, b'r', b'o', b'o', b't', b's', 0x91,
        0x81, 0xa4, b't', b'y', b'p', b'e', 0xcd, 0x1e, 0x43,
    ];
    assert_eq!(
        body[..],
        include_bytes!("../fuzz/regressions/server_frame_decoder/integer_type_tag_in_a_tree_node")
            [..]
    );
    let (fast, plain) = fast_and_plain(&body);
    assert_eq!(plain, "refused");
    assert_ne!(fast, "refused", "the fast decoder reads it");
}

/// `fuzz/regressions/server_frame_decoder/empty_binary_for_a_list_in_a_tree_reply`:
/// `{"type": "reply", "id": 3, "body": {"type": "tree", "tree": {"roots": <empty binary>}}}`.
#[test]
fn the_fast_frame_decoder_leniently_reads_an_empty_binary_for_a_list() {
    let body = [
        0x83, 0xa4, b't', b'y', b'p', b'e', 0xa5, b'r', b'e', b'p', b'l', b'y', 0xa2, b'i', b'd',
        0x03, 0xa4, b'b', b'o', b'd', b'y', 0x82, 0xa4, b't', b'y', b'p', b'e', 0xa4, b't', b'r',
        b'e', b'e', 0xa4, b't', b'r', b'e', b'e', 0x81, 0xa5, b'r', b'o', b'o', b't', b's', 0xc4,
        0x00,
    ];
    assert_eq!(
        body[..],
        include_bytes!(
            "../fuzz/regressions/server_frame_decoder/empty_binary_for_a_list_in_a_tree_reply"
        )[..]
    );
    let (fast, plain) = fast_and_plain(&body);
    assert_eq!(plain, "refused");
    assert_ne!(fast, "refused", "the fast decoder reads it");
}

/// `fuzz/regressions/server_frame_decoder/integer_enum_value_in_a_snapshot_reply`: a
/// snapshot reply whose one server has `"status": 1` instead of a status name.
#[test]
fn the_fast_frame_decoder_leniently_reads_an_integer_enum_value() {
    let body = snapshot_reply_with_status(&[0x01]);
    assert_eq!(
        body,
        include_bytes!(
            "../fuzz/regressions/server_frame_decoder/integer_enum_value_in_a_snapshot_reply"
        )
    );
    let (fast, plain) = fast_and_plain(&body);
    assert_eq!(plain, "refused");
    assert_ne!(fast, "refused", "the fast decoder reads it");
}

/// `fuzz/regressions/server_frame_decoder/binary_enum_value_in_a_snapshot_reply`: the
/// same, with the status name written as binary (`c4 07 running`) instead of a string.
#[test]
fn the_fast_frame_decoder_leniently_reads_an_enum_value_written_as_binary() {
    let mut status = vec![0xc4, 0x07];
    status.extend_from_slice(b"running");
    let body = snapshot_reply_with_status(&status);
    assert_eq!(
        body,
        include_bytes!(
            "../fuzz/regressions/server_frame_decoder/binary_enum_value_in_a_snapshot_reply"
        )
    );
    let (fast, plain) = fast_and_plain(&body);
    assert_eq!(plain, "refused");
    assert_ne!(fast, "refused", "the fast decoder reads it");
}

/// A snapshot reply with one server, whose `status` is the MessagePack value `status`.
fn snapshot_reply_with_status(status: &[u8]) -> Vec<u8> {
    let snapshot = [
        ("taken_at_ms", vec![0x01]),
        ("app", fixstr("a")),
        ("os_pid", vec![0x02]),
        ("uptime_ms", vec![0x03]),
        ("process_count", vec![0x01]),
        ("total_messages", vec![0x00]),
    ];
    let server = [
        ("pid", vec![0x06]),
        ("type_name", fixstr("W")),
        ("status", status.to_vec()),
        ("messages", vec![0x00]),
        ("queue_len", vec![0x00]),
        ("started_at_ms", vec![0x00]),
        ("restarts", vec![0x00]),
        ("busy_ns", vec![0x00]),
    ];
    let mut body = vec![0x83];
    body.extend(fixstr("type"));
    body.extend(fixstr("reply"));
    body.extend(fixstr("id"));
    body.push(0x02);
    body.extend(fixstr("body"));
    body.push(0x82);
    body.extend(fixstr("type"));
    body.extend(fixstr("snapshot"));
    body.extend(fixstr("snapshot"));
    body.push(0x80 | (snapshot.len() + 2) as u8);
    for (field, value) in snapshot {
        body.extend(fixstr(field));
        body.extend(value);
    }
    body.extend(fixstr("servers"));
    body.push(0x91);
    body.push(0x80 | server.len() as u8);
    for (field, value) in server {
        body.extend(fixstr(field));
        body.extend(value);
    }
    body.extend(fixstr("supervisors"));
    body.push(0x90);
    body
}

/// A MessagePack string of fewer than 32 bytes.
fn fixstr(text: &str) -> Vec<u8> {
    let mut bytes = vec![0xa0 | text.len() as u8];
    bytes.extend_from_slice(text.as_bytes());
    bytes
}
