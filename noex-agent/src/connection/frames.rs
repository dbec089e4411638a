//! Frames encoded once, with their length prefix, before they are queued.

use bytes::{Bytes, BytesMut};
use serde::Serialize;
use tokio_util::codec::Encoder;

use crate::codec::{self, FrameCodec};
use crate::protocol::{ErrorBody, ErrorCode, MAX_REPLY_FRAME, ReplyBody, Request, ServerFrame};
use crate::rows::{Envelope, RowsWriter, write_snapshot_reply_head};

/// Encodes a frame with its length prefix; `None` (logged) if it cannot be encoded.
pub(super) fn encode(frame: &ServerFrame) -> Option<Bytes> {
    let mut buf = BytesMut::new();
    match FrameCodec::<Request>::new(MAX_REPLY_FRAME).encode(frame, &mut buf) {
        Ok(()) => Some(buf.freeze()),
        Err(e) => {
            tracing::warn!("agent: cannot send a frame: {e}");
            None
        }
    }
}

/// Encodes a reply; one that cannot be encoded (over the reply limit) is replaced by an
/// error for its request, so the client is not left waiting.
pub(super) fn reply(id: u64, body: ReplyBody) -> Bytes {
    encode_reply(id, ServerFrame::Reply { id, body })
}

/// Encodes a snapshot reply in the compact form (since 2.1) from what `rows` holds,
/// written straight into the frame: `{type: "reply", id, body: {type: "snapshot",
/// snapshot: ...}}`, as [`ServerFrame::Reply`] with [`ReplyBody::Snapshot`] is.
pub(super) fn snapshot_rows(id: u64, rows: RowsWriter, envelope: &Envelope) -> Bytes {
    // The length prefix, filled in once the body's length is known.
    let mut frame = vec![0; 4];
    write_snapshot_reply_head(&mut frame, id);
    rows.finish(envelope, &mut frame);
    let len = frame.len() - 4;
    match u32::try_from(len) {
        Ok(prefix) if len <= MAX_REPLY_FRAME => {
            frame[..4].copy_from_slice(&prefix.to_be_bytes());
            Bytes::from(frame)
        }
        _ => {
            let too_large = codec::FrameEncodeError::TooLarge {
                len,
                max: MAX_REPLY_FRAME,
            };
            unsendable(id, too_large.to_string())
        }
    }
}

/// Encodes the reply `frame` to request `id`, or an error for it in its place.
fn encode_reply(id: u64, frame: impl Serialize) -> Bytes {
    let mut buf = BytesMut::new();
    let mut codec = FrameCodec::<Request>::new(MAX_REPLY_FRAME);
    let Err(e) = codec.encode(frame, &mut buf) else {
        return buf.freeze();
    };
    let why = match codec::encode_error(&e) {
        Some(unencodable) => unencodable.to_string(),
        None => e.to_string(),
    };
    unsendable(id, why)
}

/// The error that replaces a reply to request `id` that cannot be sent.
fn unsendable(id: u64, why: String) -> Bytes {
    tracing::warn!("agent: cannot send a reply: {why}");
    let error = ServerFrame::Error {
        id: Some(id),
        error: ErrorBody::new(
            ErrorCode::Failed,
            format!("the reply cannot be sent: {why}"),
        ),
    };
    encode(&error).unwrap_or_default()
}
