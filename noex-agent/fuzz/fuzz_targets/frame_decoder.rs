//! The agent's request decoder against a plain reading of the length prefixes.
//!
//! Input: one byte `n`, then `n` chunk lengths of one byte each, then the byte stream.
//! The stream is decoded twice, whole and as it would arrive in those chunks (whatever
//! is left after them comes as one last chunk), and then the end of the stream is
//! signalled. Both runs must give exactly what the reference reading gives: the same
//! frames with the same decoded requests or decode errors, in order, then the same end;
//! and the two runs must agree with each other on everything, the `id` read from an
//! undecodable frame included.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use noex_agent::codec::{FrameCodec, FrameDecodeError, decode_with_serde, is_frame_too_large};
use noex_agent::protocol::{MAX_REQUEST_FRAME, Request};
use tokio_util::codec::Decoder;

/// The agent's nesting limit for requests (PROTOCOL.md §8).
const REQUEST_MAX_DEPTH: usize = 32;

#[derive(Debug, PartialEq)]
enum Outcome {
    Request(Request),
    Undecodable {
        len: usize,
        error: String,
        /// The reference reading leaves it out: the codec's own reading decides it.
        id: Option<u64>,
    },
    /// The stream cannot resync: nothing after it is read.
    FrameTooLarge,
    /// The stream ended inside a frame (its header or its body).
    CutMidFrame,
}

fn body_outcome(body: &[u8]) -> Outcome {
    match decode_with_serde::<Request>(body, REQUEST_MAX_DEPTH) {
        Ok(request) => Outcome::Request(request),
        Err(error) => Outcome::Undecodable {
            len: body.len(),
            error: error.to_string(),
            id: None,
        },
    }
}

/// What the stream holds, read the simplest way: length, body, length, body, ...
fn reference_reading(mut rest: &[u8]) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    loop {
        let Some((head, after_head)) = rest.split_first_chunk::<4>() else {
            if !rest.is_empty() {
                outcomes.push(Outcome::CutMidFrame);
            }
            return outcomes;
        };
        let len = u32::from_be_bytes(*head) as usize;
        if len > MAX_REQUEST_FRAME {
            outcomes.push(Outcome::FrameTooLarge);
            return outcomes;
        }
        if after_head.len() < len {
            outcomes.push(Outcome::CutMidFrame);
            return outcomes;
        }
        let (body, after_body) = after_head.split_at(len);
        outcomes.push(body_outcome(body));
        rest = after_body;
    }
}

fn item_outcome(item: Result<Request, FrameDecodeError>) -> Outcome {
    match item {
        Ok(request) => Outcome::Request(request),
        Err(FrameDecodeError { len, id, source }) => Outcome::Undecodable {
            len,
            error: source.to_string(),
            id,
        },
    }
}

/// Decodes as a reader of the socket does: after each chunk, every frame it completes.
fn decode_in_chunks<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Vec<Outcome> {
    let mut codec = FrameCodec::<Request>::new(MAX_REQUEST_FRAME).with_max_depth(REQUEST_MAX_DEPTH);
    let mut buf = BytesMut::new();
    let mut outcomes = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(item)) => outcomes.push(item_outcome(item)),
                Ok(None) => break,
                Err(error) => {
                    // On a buffer in memory, an oversized frame is the only way to fail.
                    assert!(is_frame_too_large(&error), "decode failed: {error}");
                    // The codec must not skip the frame and carry on out of sync.
                    let again = codec.decode(&mut buf);
                    assert!(
                        again.as_ref().is_err_and(is_frame_too_large),
                        "after a too-large frame the codec went on: {again:?}"
                    );
                    outcomes.push(Outcome::FrameTooLarge);
                    return outcomes;
                }
            }
        }
    }
    match codec.decode_eof(&mut buf) {
        Ok(None) => {}
        Ok(Some(item)) => panic!("a frame appeared only at the end: {item:?}"),
        Err(error) => {
            assert!(
                !is_frame_too_large(&error),
                "too-large frame seen only at the end"
            );
            outcomes.push(Outcome::CutMidFrame);
            // Once the stream has failed nothing more is read from it.
        }
    }
    outcomes
}

fn without_ids(outcomes: &[Outcome]) -> Vec<Outcome> {
    outcomes
        .iter()
        .map(|outcome| match outcome {
            Outcome::Request(request) => Outcome::Request(request.clone()),
            Outcome::Undecodable { len, error, .. } => Outcome::Undecodable {
                len: *len,
                error: error.clone(),
                id: None,
            },
            Outcome::FrameTooLarge => Outcome::FrameTooLarge,
            Outcome::CutMidFrame => Outcome::CutMidFrame,
        })
        .collect()
}

fn split_into_chunks(data: &[u8]) -> (Vec<&[u8]>, &[u8]) {
    let Some((&count, rest)) = data.split_first() else {
        return (Vec::new(), data);
    };
    let count = (count as usize).min(rest.len());
    let (lengths, mut stream) = rest.split_at(count);
    let whole = stream;
    let mut chunks = Vec::with_capacity(lengths.len() + 1);
    for &len in lengths {
        // An empty chunk is a wake-up with no new bytes: it must change nothing.
        let (chunk, after) = stream.split_at((len as usize).min(stream.len()));
        chunks.push(chunk);
        stream = after;
    }
    chunks.push(stream);
    (chunks, whole)
}

fuzz_target!(|data: &[u8]| {
    let (chunks, stream) = split_into_chunks(data);
    let expected = reference_reading(stream);
    let whole = decode_in_chunks([stream]);
    assert_eq!(
        without_ids(&whole),
        expected,
        "decoding the whole stream at once"
    );
    let chunked = decode_in_chunks(chunks);
    assert_eq!(chunked, whole, "decoding the stream in chunks");
});
