//! The reader: whole frames in, each answered before the next is read, with the time
//! limits of the first request and of every frame.

use bytes::BytesMut;
use tokio::io::AsyncReadExt;
use tokio::time::Instant;
use tokio_util::codec::Decoder;

use crate::codec::FrameCodec;
use crate::local_socket::Stream;
use crate::protocol::{ErrorCode, MAX_REQUEST_FRAME, Request};

use super::handler::Handler;
use super::{Ending, closing};

/// How much the reader asks the socket for at a time.
const READ_CHUNK: usize = 8 * 1024;
/// Requests are a few levels deep; anything deeper is abuse, refused before it can
/// recurse far on an app worker's stack.
const REQUEST_MAX_DEPTH: usize = 32;

/// Reads whole frames and answers each before reading on; see the module docs for the
/// time limits.
pub(super) async fn read_loop(mut stream: &Stream, handler: Handler<'_>) -> Ending {
    let mut codec = FrameCodec::<Request>::new(MAX_REQUEST_FRAME).with_max_depth(REQUEST_MAX_DEPTH);
    let mut buf = BytesMut::new();
    let mut greeted = false;
    // The start of what the client has yet to finish: the connection until its first
    // request, then each frame from its first byte. Time the agent spends answering
    // does not count against the client.
    let mut waiting_since = Instant::now();
    loop {
        let mut answered = false;
        loop {
            let step = match codec.decode(&mut buf) {
                Ok(None) => break,
                Ok(Some(Ok(request))) => handler.handle(request).await,
                Ok(Some(Err(undecodable))) => {
                    tracing::debug!("agent: bad frame: {undecodable}");
                    let message = format!("the frame is not a request: {undecodable}");
                    handler
                        .error(undecodable.id, ErrorCode::BadFrame, message)
                        .await
                }
                Err(e) => {
                    tracing::debug!("agent: frame over the request limit: {e}");
                    let message = format!(
                        "the frame is over the {MAX_REQUEST_FRAME}-byte request limit; \
                         closing, as the stream cannot be resynced"
                    );
                    return closing(handler.error(None, ErrorCode::FrameTooLarge, message).await);
                }
            };
            if let Err(ending) = step {
                return ending;
            }
            greeted = true;
            answered = true;
        }
        if answered {
            waiting_since = Instant::now();
        }
        let pending = !greeted || !buf.is_empty();
        let deadline = waiting_since + handler.context.request_timeout;
        let was_empty = buf.is_empty();
        // Read in chunks, not the few bytes an exhausted buffer would offer.
        buf.reserve(READ_CHUNK);
        tokio::select! {
            read = stream.read_buf(&mut buf) => match read {
                Ok(0) | Err(_) => {
                    // The client hung up (or was cut off mid-frame): deliver what is
                    // queued in case it still reads.
                    tracing::debug!(partial = buf.len(), "agent: client closed its side");
                    return Ending::Linger;
                }
                Ok(_) => {
                    if was_empty && greeted {
                        waiting_since = Instant::now();
                    }
                }
            },
            () = tokio::time::sleep_until(deadline), if pending => {
                let timeout = handler.context.request_timeout;
                let message = if greeted {
                    format!("a frame was started but not finished within {timeout:?}; closing")
                } else {
                    format!("no request within {timeout:?} of connecting; closing")
                };
                tracing::debug!("agent: {message}");
                return closing(handler.error(None, ErrorCode::Timeout, message).await);
            }
        }
    }
}
