//! The frame codec: a 4-byte big-endian length, then a MessagePack body.
//!
//! Framing is tokio-util's [`LengthDelimitedCodec`]; this module only adds MessagePack on
//! top, always with named fields (`rmp_serde::to_vec_named`): positional arrays would
//! break `skip_serializing_if`, tagged enums and every field a newer peer adds. (The
//! one exception, the compact snapshot's rows, is written by hand in `rows.rs`, with
//! its own rules for growing.)
//!
//! Two kinds of failure are kept apart on purpose:
//! - bytes inside a well-formed frame that do not decode are a per-frame
//!   [`FrameDecodeError`], yielded as the item (`Ok(Err(..))`): the stream is still in
//!   sync and the connection stays usable;
//! - a frame over the limit (or a connection cut mid-frame) is an `io::Error`: the stream
//!   cannot resync, so it ends. [`is_frame_too_large`] tells the first case apart.
//!
//! ```
//! use bytes::BytesMut;
//! use noex_agent::codec::FrameCodec;
//! use tokio_util::codec::{Decoder, Encoder};
//!
//! let mut codec = FrameCodec::<String>::new(1024);
//! let mut buf = BytesMut::new();
//! codec.encode("hi".to_string(), &mut buf).unwrap();
//! assert_eq!(&buf[..4], &[0, 0, 0, 3]); // length, big-endian: 0xa2 'h' 'i'
//! assert_eq!(codec.decode(&mut buf).unwrap().unwrap().unwrap(), "hi");
//! ```

use std::fmt;
use std::io;
use std::marker::PhantomData;

use bytes::{Bytes, BytesMut};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec, length_delimited};

/// The nesting [`FrameCodec::with_max_depth`] allows by default: deep enough for a
/// supervision tree nested a hundred levels, shallow enough for a 2 MiB thread stack in
/// a debug build.
pub const DEFAULT_MAX_DEPTH: usize = 256;

/// MessagePack frames of `D` in, any `Serialize` out.
pub struct FrameCodec<D> {
    inner: LengthDelimitedCodec,
    max_frame_length: usize,
    max_depth: usize,
    decode: DecodeFn<D>,
    // `fn() -> D`: the codec only produces `D`s, so it is Send/Sync whatever `D` is.
    _decodes: PhantomData<fn() -> D>,
}

/// Turns one frame's bytes into a message, refusing nesting deeper than the limit.
pub type DecodeFn<D> = fn(&[u8], usize) -> Result<D, rmp_serde::decode::Error>;

/// Plain serde decoding of a frame body.
pub fn decode_with_serde<'a, D: serde::Deserialize<'a>>(
    body: &'a [u8],
    max_depth: usize,
) -> Result<D, rmp_serde::decode::Error> {
    let mut deserializer = rmp_serde::Deserializer::from_read_ref(body);
    deserializer.set_max_depth(max_depth);
    // Bytes after the value are not read (PROTOCOL.md §7: readers are lenient); finding
    // where one value ends would take a second pass over every snapshot.
    D::deserialize(&mut deserializer)
}

impl<D: DeserializeOwned> FrameCodec<D> {
    /// A codec that refuses frames (in either direction) longer than `max_frame_length`
    /// bytes, the 4-byte length prefix not counted.
    pub fn new(max_frame_length: usize) -> Self {
        Self::with_decoder(max_frame_length, |body, depth| {
            decode_with_serde(body, depth)
        })
    }
}

impl<D> FrameCodec<D> {
    /// Like [`FrameCodec::new`], with frames decoded by `decode` (a faster path for
    /// large frames, say).
    pub fn with_decoder(max_frame_length: usize, decode: DecodeFn<D>) -> Self {
        let inner = LengthDelimitedCodec::builder()
            .length_field_type::<u32>()
            .big_endian()
            .max_frame_length(max_frame_length)
            .new_codec();
        FrameCodec {
            inner,
            max_frame_length,
            max_depth: DEFAULT_MAX_DEPTH,
            decode,
            _decodes: PhantomData,
        }
    }

    /// Refuse (as undecodable) bodies nested deeper than `max_depth` maps and arrays.
    /// Decoding recurses once per level, so without a bound a small frame of nested
    /// arrays overflows the stack and aborts the whole process.
    pub fn with_max_depth(mut self, max_depth: usize) -> Self {
        self.max_depth = max_depth;
        self
    }
}

impl<D> fmt::Debug for FrameCodec<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameCodec")
            .field("max_frame_length", &self.max_frame_length)
            .field("max_depth", &self.max_depth)
            .finish()
    }
}

/// A whole frame arrived but its body is not the expected MessagePack value.
#[derive(Debug, thiserror::Error)]
#[error("undecodable frame ({len} bytes): {source}")]
pub struct FrameDecodeError {
    /// The body's length in bytes.
    pub len: usize,
    /// The frame's `id`, if the body is a map with an unsigned integer `id`: every
    /// request carries one, so the error can still name the request it answers.
    pub id: Option<u64>,
    /// Why the body did not decode.
    #[source]
    pub source: rmp_serde::decode::Error,
}

/// The `id` of a body that did not decode whole, if it can be read on its own.
fn readable_id(body: &[u8], max_depth: usize) -> Option<u64> {
    #[derive(serde::Deserialize)]
    struct IdOnly {
        #[serde(default)]
        id: Option<u64>,
    }
    decode_with_serde::<IdOnly>(body, max_depth).ok()?.id
}

/// A value could not be turned into a frame. Raised before anything is written, so the
/// sink stays usable: the caller may send something else (an error frame) instead.
#[derive(Debug, thiserror::Error)]
pub enum FrameEncodeError {
    /// The value could not be serialized to MessagePack.
    #[error("cannot encode the frame: {0}")]
    Serialize(#[from] rmp_serde::encode::Error),
    /// The encoded body is over the codec's frame limit.
    #[error("the frame is {len} bytes, over the {max}-byte limit")]
    TooLarge {
        /// The encoded body's length, in bytes.
        len: usize,
        /// The limit, in bytes.
        max: usize,
    },
}

impl<D> Decoder for FrameCodec<D> {
    type Item = Result<D, FrameDecodeError>;
    type Error = io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> io::Result<Option<Self::Item>> {
        // The length prefix stays in `src` until its whole frame is there, so an empty
        // buffer means no frame is under way (a reader times half-sent frames by it),
        // and a stream that ends after a prefix ends mid-frame.
        if let Some(prefix) = src.first_chunk::<4>() {
            let len = u32::from_be_bytes(*prefix) as usize;
            if len <= self.max_frame_length && src.len() < 4 + len {
                src.reserve(4 + len - src.len());
                return Ok(None);
            }
        }
        let Some(body) = self.inner.decode(src)? else {
            return Ok(None);
        };
        let decoded = (self.decode)(&body, self.max_depth).map_err(|source| FrameDecodeError {
            len: body.len(),
            id: readable_id(&body, self.max_depth),
            source,
        });
        Ok(Some(decoded))
    }
}

impl<D, T: Serialize> Encoder<T> for FrameCodec<D> {
    type Error = io::Error;

    fn encode(&mut self, item: T, dst: &mut BytesMut) -> io::Result<()> {
        let body = rmp_serde::to_vec_named(&item)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, FrameEncodeError::from(e)))?;
        if body.len() > self.max_frame_length {
            let too_large = FrameEncodeError::TooLarge {
                len: body.len(),
                max: self.max_frame_length,
            };
            return Err(io::Error::new(io::ErrorKind::InvalidInput, too_large));
        }
        self.inner.encode(Bytes::from(body), dst)
    }
}

/// The error says an incoming frame announced more than the limit. The stream cannot
/// resync after it: the reader must stop.
pub fn is_frame_too_large(error: &io::Error) -> bool {
    error
        .get_ref()
        .is_some_and(|inner| inner.is::<length_delimited::LengthDelimitedCodecError>())
}

/// The frame-encoding failure inside a sink's error, if that is what it is (nothing was
/// written and the sink is still usable); `None` for a real I/O failure.
pub fn encode_error(error: &io::Error) -> Option<&FrameEncodeError> {
    error.get_ref()?.downcast_ref::<FrameEncodeError>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Point {
        x: u32,
        #[serde(default)]
        label: Option<String>,
    }

    #[test]
    fn frames_are_big_endian_length_then_named_msgpack_map() {
        let mut codec = FrameCodec::<Point>::new(1024);
        let mut buf = BytesMut::new();
        codec.encode(Point { x: 7, label: None }, &mut buf).unwrap();
        let len = u32::from_be_bytes(buf[..4].try_into().unwrap()) as usize;
        assert_eq!(len, buf.len() - 4);
        // 0x82: a map of two entries, so field names are on the wire.
        assert_eq!(buf[4], 0x82);
        let decoded = codec.decode(&mut buf).unwrap().unwrap().unwrap();
        assert_eq!(decoded.x, 7);
        assert!(buf.is_empty());
    }

    #[test]
    fn partial_frame_waits_for_more_bytes() {
        let mut codec = FrameCodec::<Point>::new(1024);
        let mut whole = BytesMut::new();
        codec
            .encode(
                Point {
                    x: 1,
                    label: Some("a".into()),
                },
                &mut whole,
            )
            .unwrap();
        let mut buf = BytesMut::from(&whole[..whole.len() - 1]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        buf.extend_from_slice(&whole[whole.len() - 1..]);
        assert_eq!(
            codec.decode(&mut buf).unwrap().unwrap().unwrap(),
            Point {
                x: 1,
                label: Some("a".into()),
            }
        );
    }

    #[test]
    fn a_frame_under_way_stays_in_the_buffer_and_a_stream_cut_after_its_prefix_is_an_error() {
        let mut codec = FrameCodec::<Point>::new(1024);
        let mut buf = BytesMut::from(&[0, 0, 0, 50][..]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        assert_eq!(buf.len(), 4, "the prefix waits with its frame");
        assert!(codec.decode_eof(&mut buf).is_err(), "cut mid-frame");
    }

    #[test]
    fn garbage_inside_a_frame_is_a_per_frame_error_and_the_next_frame_decodes() {
        let mut codec = FrameCodec::<Point>::new(1024);
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&[0, 0, 0, 3, 0xc1, 0xc1, 0xc1]); // 0xc1 is never valid
        codec.encode(Point { x: 2, label: None }, &mut buf).unwrap();
        let first = codec.decode(&mut buf).unwrap().unwrap().unwrap_err();
        assert_eq!(first.len, 3);
        assert_eq!(first.id, None);
        let second = codec.decode(&mut buf).unwrap().unwrap().unwrap();
        assert_eq!(second.x, 2);
    }

    #[test]
    fn bytes_after_the_body_s_value_are_ignored() {
        // {"x": 1, "label": nil}, then two stray bytes (found by fuzzing).
        let body = [
            0x82, 0xa1, b'x', 0x01, 0xa5, b'l', b'a', b'b', b'e', b'l', 0xc0, 0xc1, 0xff,
        ];
        assert_eq!(
            decode_with_serde::<Point>(&body, 8).unwrap(),
            Point { x: 1, label: None }
        );
    }

    #[test]
    fn an_undecodable_body_with_a_readable_id_names_it() {
        // {"id": 9, "x": 0xc1}: a map whose `id` reads, though the value after it cannot.
        let body = [0x82, 0xa2, b'i', b'd', 0x09, 0xa1, b'x', 0xc1];
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&(body.len() as u32).to_be_bytes());
        buf.extend_from_slice(&body);
        let mut codec = FrameCodec::<Point>::new(1024);
        let error = codec.decode(&mut buf).unwrap().unwrap().unwrap_err();
        assert_eq!(
            error.id, None,
            "a body that stops decoding hides even its id"
        );

        // {"id": 9, "y": "z"}: whole MessagePack, just not a Point.
        let body = [0x82, 0xa2, b'i', b'd', 0x09, 0xa1, b'y', 0xa1, b'z'];
        buf.extend_from_slice(&(body.len() as u32).to_be_bytes());
        buf.extend_from_slice(&body);
        let error = codec.decode(&mut buf).unwrap().unwrap().unwrap_err();
        assert_eq!(error.id, Some(9));

        // {"id": "nine"}: an id that is not a number is no id.
        let body = [0x81, 0xa2, b'i', b'd', 0xa4, b'n', b'i', b'n', b'e'];
        buf.extend_from_slice(&(body.len() as u32).to_be_bytes());
        buf.extend_from_slice(&body);
        let error = codec.decode(&mut buf).unwrap().unwrap().unwrap_err();
        assert_eq!(error.id, None);
    }

    #[test]
    fn oversized_incoming_frame_is_an_io_error_flagged_too_large() {
        let mut codec = FrameCodec::<Point>::new(16);
        let mut buf = BytesMut::from(&[0u8, 0, 0, 17][..]);
        let err = codec.decode(&mut buf).unwrap_err();
        assert!(is_frame_too_large(&err));
        assert!(!is_frame_too_large(&io::Error::other("other")));
    }

    #[test]
    fn oversized_outgoing_frame_is_refused_before_writing_anything() {
        let mut codec = FrameCodec::<Point>::new(8);
        let mut buf = BytesMut::new();
        let err = codec
            .encode(
                Point {
                    x: 1,
                    label: Some("far too long a label".into()),
                },
                &mut buf,
            )
            .unwrap_err();
        assert!(matches!(
            encode_error(&err),
            Some(FrameEncodeError::TooLarge { max: 8, .. })
        ));
        assert!(buf.is_empty());
    }

    #[test]
    fn an_outgoing_frame_of_exactly_the_limit_is_written() {
        // A fixstr: one header byte, then the text.
        let mut codec = FrameCodec::<String>::new(8);
        let mut buf = BytesMut::new();
        codec.encode("1234567", &mut buf).unwrap();
        assert_eq!(&buf[..4], &[0, 0, 0, 8]);
        let err = codec.encode("12345678", &mut buf).unwrap_err();
        assert!(matches!(
            encode_error(&err),
            Some(FrameEncodeError::TooLarge { len: 9, max: 8 })
        ));
        assert_eq!(
            format!("{codec:?}"),
            "FrameCodec { max_frame_length: 8, max_depth: 256 }"
        );
    }

    #[test]
    fn unknown_fields_are_ignored_by_older_readers() {
        #[derive(Serialize)]
        struct NewerPoint {
            x: u32,
            colour: &'static str,
        }
        let mut codec = FrameCodec::<Point>::new(1024);
        let mut buf = BytesMut::new();
        codec
            .encode(
                NewerPoint {
                    x: 3,
                    colour: "red",
                },
                &mut buf,
            )
            .unwrap();
        let decoded = codec.decode(&mut buf).unwrap().unwrap().unwrap();
        assert_eq!(decoded, Point { x: 3, label: None });
    }

    #[test]
    fn deeply_nested_bodies_are_refused_without_overflowing_the_stack() {
        use crate::protocol::{MAX_REQUEST_FRAME, Request};
        // {"x": [[[[...]]]]}: an unknown field nested far deeper than any real request.
        let mut body = vec![0x81, 0xa1, b'x'];
        body.extend(std::iter::repeat_n(0x91, MAX_REQUEST_FRAME - 4));
        body.push(0xc0);
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&(body.len() as u32).to_be_bytes());
        buf.extend_from_slice(&body);
        let mut codec = FrameCodec::<Request>::new(MAX_REQUEST_FRAME);
        assert!(codec.decode(&mut buf).unwrap().unwrap().is_err());
    }

    mod never_panics {
        use super::*;
        use crate::protocol::{MAX_REQUEST_FRAME, Request};
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
                let mut codec = FrameCodec::<Request>::new(MAX_REQUEST_FRAME);
                let mut buf = BytesMut::from(&bytes[..]);
                while let Ok(Some(_)) = codec.decode(&mut buf) {}
            }

            #[test]
            fn on_arbitrary_bodies_in_well_formed_frames(
                bodies in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..256), 1..8)
            ) {
                let mut codec = FrameCodec::<Request>::new(MAX_REQUEST_FRAME);
                let mut buf = BytesMut::new();
                for body in &bodies {
                    buf.extend_from_slice(&(body.len() as u32).to_be_bytes());
                    buf.extend_from_slice(body);
                }
                // Every frame comes out, decodable or not: the stream stays in sync.
                let mut frames = 0;
                while let Some(_item) = codec.decode(&mut buf).unwrap() {
                    frames += 1;
                }
                prop_assert_eq!(frames, bodies.len());
            }
        }
    }
}
