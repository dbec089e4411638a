//! Frames encoded once, with their length prefix, before they are queued.

use bytes::{Bytes, BytesMut};
use tokio_util::codec::Encoder;

use crate::codec::{self, FrameCodec};
use crate::protocol::{ErrorBody, ErrorCode, MAX_REPLY_FRAME, ReplyBody, Request, ServerFrame};

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
    let mut buf = BytesMut::new();
    let mut codec = FrameCodec::<Request>::new(MAX_REPLY_FRAME);
    let Err(e) = codec.encode(ServerFrame::Reply { id, body }, &mut buf) else {
        return buf.freeze();
    };
    let why = match codec::encode_error(&e) {
        Some(unencodable) => unencodable.to_string(),
        None => e.to_string(),
    };
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
