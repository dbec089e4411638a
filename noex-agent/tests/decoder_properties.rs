//! Framing keeps structured messages whole: valid requests and agent frames, written by
//! the codec into one stream and read back in whatever pieces the socket hands over,
//! come out exactly as they went in, in order. The codec's own tests feed it arbitrary
//! bytes; these feed it real messages, cut and damaged.

use bytes::BytesMut;
use noex_agent::codec::{FrameCodec, FrameDecodeError};
use noex_agent::protocol::{
    ErrorBody, ErrorCode, MAX_REPLY_FRAME, MAX_REQUEST_FRAME, ProcessRef, ProtocolVersion,
    ReplyBody, Request, RequestKind, ServerFrame, decode_server_frame,
};
use noex_agent::types::{EventKind, LifecycleEvent, Pid};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::Index;
use tokio_util::codec::{Decoder, Encoder};

/// This binary's private agent directory (`$NOEX_AGENT_DIR`), as every test binary's.
#[cfg(unix)]
#[path = "../../noex-lib/tests/support/sandbox.rs"]
mod sandbox;

/// The agent's nesting limit for requests (PROTOCOL.md §8).
const REQUEST_MAX_DEPTH: usize = 32;

/// The agent's reader of requests, as a connection sets it up.
fn request_codec() -> FrameCodec<Request> {
    FrameCodec::new(MAX_REQUEST_FRAME).with_max_depth(REQUEST_MAX_DEPTH)
}

/// The client's reader of agent frames, with its fast decoder.
fn server_frame_codec() -> FrameCodec<ServerFrame> {
    FrameCodec::with_decoder(MAX_REPLY_FRAME, decode_server_frame)
}

/// Any text, control characters and astral planes included.
fn text() -> impl Strategy<Value = String> {
    vec(any::<char>(), 0..24).prop_map(String::from_iter)
}

fn protocol_version() -> impl Strategy<Value = ProtocolVersion> {
    (any::<u32>(), any::<u32>()).prop_map(|(major, minor)| ProtocolVersion { major, minor })
}

fn request_kind() -> impl Strategy<Value = RequestKind> {
    prop_oneof![
        protocol_version().prop_map(|protocol_version| RequestKind::Hello { protocol_version }),
        Just(RequestKind::Snapshot { rows: false }),
        Just(RequestKind::Tree),
        any::<u32>().prop_map(|history| RequestKind::Subscribe { history }),
        Just(RequestKind::Unsubscribe),
        (text(), option::of(text()), any::<bool>()).prop_map(|(target, reason, force)| {
            RequestKind::Kill {
                target,
                reason,
                force,
            }
        }),
        text().prop_map(|target| RequestKind::Restart { target }),
        Just(RequestKind::Unknown),
    ]
}

fn request() -> impl Strategy<Value = Request> {
    (any::<u64>(), request_kind()).prop_map(|(id, request)| Request { id, request })
}

fn pid() -> impl Strategy<Value = Pid> {
    any::<u64>().prop_map(Pid)
}

fn process_ref() -> impl Strategy<Value = ProcessRef> {
    (pid(), option::of(text()), option::of(text())).prop_map(|(pid, name, child_id)| ProcessRef {
        pid,
        name,
        child_id,
    })
}

fn error_code() -> impl Strategy<Value = ErrorCode> {
    prop::sample::select(ErrorCode::ALL.to_vec())
}

fn event_kind() -> impl Strategy<Value = EventKind> {
    prop_oneof![
        Just(EventKind::Started),
        text().prop_map(|reason| EventKind::Terminated {
            reason: reason.into()
        }),
        text().prop_map(|error| EventKind::Crashed {
            error: error.into()
        }),
        any::<u32>().prop_map(|attempt| EventKind::Restarted { attempt }),
        Just(EventKind::ChildAdded),
        Just(EventKind::ChildRemoved),
        (any::<u32>(), any::<u64>()).prop_map(|(max_restarts, within_ms)| {
            EventKind::MaxRestartsExceeded {
                max_restarts,
                within_ms,
            }
        }),
        text().prop_map(|registered_name| EventKind::Registered { registered_name }),
        text().prop_map(|registered_name| EventKind::Unregistered { registered_name }),
        Just(EventKind::Unknown),
    ]
}

fn lifecycle_event() -> impl Strategy<Value = LifecycleEvent> {
    (
        (any::<u64>(), any::<u64>(), pid()),
        (option::of(text()), option::of(text()), option::of(pid())),
        (any::<bool>(), event_kind()),
    )
        .prop_map(
            |((seq, at_ms, pid), (name, child_id, parent), (system, kind))| LifecycleEvent {
                seq,
                at_ms,
                pid,
                name,
                child_id,
                parent,
                system,
                kind,
            },
        )
}

/// The frames small enough to generate whole: errors, lag notices, the short replies,
/// events.
fn small_server_frame() -> impl Strategy<Value = ServerFrame> {
    prop_oneof![
        (
            option::of(any::<u64>()),
            error_code(),
            text(),
            vec(process_ref(), 0..3)
        )
            .prop_map(|(id, code, message, candidates)| ServerFrame::Error {
                id,
                error: ErrorBody {
                    code,
                    message,
                    candidates,
                },
            }),
        any::<u64>().prop_map(|dropped| ServerFrame::Lagged { dropped }),
        any::<u64>().prop_map(|id| ServerFrame::Reply {
            id,
            body: ReplyBody::Unsubscribed,
        }),
        (any::<u64>(), protocol_version()).prop_map(|(id, protocol_version)| ServerFrame::Reply {
            id,
            body: ReplyBody::Hello { protocol_version },
        }),
        lifecycle_event().prop_map(|event| ServerFrame::Event { event }),
    ]
}

/// Cut points anywhere in a stream, the two ends included, in any order and repeated.
fn cuts() -> impl Strategy<Value = Vec<Index>> {
    vec(any::<Index>(), 0..12)
}

/// The stream in the pieces the cut points make, in order (some may be empty).
fn pieces<'a>(stream: &'a [u8], cuts: &[Index]) -> Vec<&'a [u8]> {
    let mut at: Vec<usize> = cuts.iter().map(|cut| cut.index(stream.len() + 1)).collect();
    at.sort_unstable();
    let mut pieces = Vec::with_capacity(at.len() + 1);
    let mut start = 0;
    for end in at {
        pieces.push(&stream[start..end]);
        start = end;
    }
    pieces.push(&stream[start..]);
    pieces
}

fn encode_all<D, T: serde::Serialize>(codec: &mut FrameCodec<D>, items: &[T]) -> BytesMut {
    let mut stream = BytesMut::new();
    for item in items {
        codec
            .encode(item, &mut stream)
            .expect("a generated value encodes");
    }
    stream
}

/// Reads as a connection does: after each piece, every frame it completes; at the end
/// of the stream, whatever `decode_eof` says. An I/O error ends the reading.
fn decode_pieces<D>(
    codec: &mut FrameCodec<D>,
    pieces: &[&[u8]],
) -> (Vec<Result<D, FrameDecodeError>>, Option<std::io::Error>) {
    let mut buf = BytesMut::new();
    let mut items = Vec::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(item)) => items.push(item),
                Ok(None) => break,
                Err(error) => return (items, Some(error)),
            }
        }
    }
    match codec.decode_eof(&mut buf) {
        Ok(None) => (items, None),
        Ok(Some(item)) => panic!(
            "a frame came out only at the end of the stream: {:?}",
            item.is_ok()
        ),
        Err(error) => (items, Some(error)),
    }
}

fn decoded_values<D>(items: Vec<Result<D, FrameDecodeError>>) -> Vec<D> {
    items
        .into_iter()
        .map(|item| item.unwrap_or_else(|error| panic!("a valid frame did not decode: {error}")))
        .collect()
}

proptest! {
    #[test]
    fn every_valid_request_survives_framing_at_any_split(
        requests in vec(request(), 1..8),
        cuts in cuts(),
    ) {
        let stream = encode_all(&mut request_codec(), &requests);
        let (items, end) = decode_pieces(&mut request_codec(), &pieces(&stream, &cuts));
        prop_assert!(end.is_none(), "the stream ended in error: {end:?}");
        prop_assert_eq!(decoded_values(items), requests);
    }

    #[test]
    fn every_small_server_frame_survives_framing_at_any_split(
        frames in vec(small_server_frame(), 1..8),
        cuts in cuts(),
    ) {
        let stream = encode_all(&mut server_frame_codec(), &frames);
        let (items, end) = decode_pieces(&mut server_frame_codec(), &pieces(&stream, &cuts));
        prop_assert!(end.is_none(), "the stream ended in error: {end:?}");
        prop_assert_eq!(decoded_values(items), frames);
    }

    #[test]
    fn an_undecodable_frame_costs_only_itself_and_the_stream_stays_in_sync(
        before in vec(request(), 0..4),
        garbage in vec(any::<u8>(), 0..64),
        after in vec(request(), 1..4),
        cuts in cuts(),
    ) {
        // A body that is not a request, whatever the rest of `garbage` says: 0xc1 is
        // never valid MessagePack.
        let mut bad_body = vec![0xc1];
        bad_body.extend_from_slice(&garbage);
        let mut stream = encode_all(&mut request_codec(), &before);
        stream.extend_from_slice(&(bad_body.len() as u32).to_be_bytes());
        stream.extend_from_slice(&bad_body);
        stream.extend_from_slice(&encode_all(&mut request_codec(), &after));

        let (mut items, end) = decode_pieces(&mut request_codec(), &pieces(&stream, &cuts));
        prop_assert!(end.is_none(), "the stream ended in error: {end:?}");
        prop_assert_eq!(items.len(), before.len() + 1 + after.len());
        let tail = items.split_off(before.len() + 1);
        let bad = items.pop().unwrap();
        prop_assert_eq!(bad.expect_err("0xc1 decoded").len, bad_body.len());
        prop_assert_eq!(decoded_values(items), before);
        prop_assert_eq!(decoded_values(tail), after);
    }

    #[test]
    fn a_damaged_byte_never_panics_and_spares_every_frame_before_it(
        frames in vec(small_server_frame(), 1..6),
        damaged_at in any::<Index>(),
        damage in 1..=u8::MAX,
        cuts in cuts(),
    ) {
        let mut stream = encode_all(&mut server_frame_codec(), &frames);
        let at = damaged_at.index(stream.len());
        stream[at] ^= damage;

        // Frames that end before the damaged byte come out whole; what follows may be
        // anything but a panic.
        let mut frame_start = 0;
        let mut untouched = 0;
        for frame in &frames {
            let len = rmp_serde::to_vec_named(frame).unwrap().len();
            let end = frame_start + 4 + len;
            if end > at {
                break;
            }
            untouched += 1;
            frame_start = end;
        }
        let (items, _end) = decode_pieces(&mut server_frame_codec(), &pieces(&stream, &cuts));
        prop_assert!(items.len() >= untouched);
        let spared: Vec<ServerFrame> = decoded_values(items.into_iter().take(untouched).collect());
        prop_assert_eq!(&spared[..], &frames[..untouched]);
    }
}
