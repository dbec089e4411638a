//! Reading a recording back: every whole record, and how the file ends.
//!
//! A recording whose writer was killed (or whose app crashed mid-write) ends in the
//! middle of a zstd block or of a record: that is no error. Everything before it is
//! read and [`Ending::Cut`] says so. A record whose checksum or encoding is wrong is
//! [`Ending::Corrupt`]: the records before it are still there, and the caller decides
//! (`noex events --replay` prints them and then fails).

use std::io::{self, Read};
use std::path::Path;

use super::format::{FORMAT_MAJOR, Header, MAGIC, MAX_RECORD, Record};

/// Why a file could not be read as a recording at all.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReadError {
    #[error("the file is empty: nothing was recorded")]
    Empty,
    #[error("not a noex recording (it does not start with the recording's magic bytes)")]
    NotARecording,
    #[error("the recording ends inside its header: nothing was recorded")]
    HeaderCut,
    #[error("the recording's header cannot be read: {0}")]
    BadHeader(String),
    #[error(
        "the recording is in format {found}.x and this noex reads format {FORMAT_MAJOR}.x: \
         use a noex CLI of the version that wrote it"
    )]
    OtherFormat { found: u32 },
}

/// How the records ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ending {
    /// The recorder wrote its end record: the app exited, Ctrl-C, or `--duration`.
    Finished { at_ms: u64, reason: String },
    /// The file stops without an end record: the recorder was killed, or is still
    /// writing. `partial` when it stops inside a record (the rest of it is ignored).
    Cut { partial: bool },
    /// A record is damaged; the ones before it were read.
    Corrupt { record: usize, why: String },
}

/// A recording, read.
#[derive(Clone, Debug, PartialEq)]
pub struct Recording {
    pub header: Header,
    /// Every whole record, in the order written; records of a newer format's types are
    /// left out.
    pub records: Vec<Record>,
    pub ending: Ending,
    /// The file's size.
    pub file_bytes: u64,
}

/// Read the recording at `path`.
pub fn read_file(path: &Path) -> io::Result<Result<Recording, ReadError>> {
    let bytes = std::fs::read(path)?;
    Ok(read(&bytes))
}

/// Read a recording from its bytes. Never panics, whatever the bytes.
pub fn read(bytes: &[u8]) -> Result<Recording, ReadError> {
    if bytes.is_empty() {
        return Err(ReadError::Empty);
    }
    let magic_len = MAGIC.len().min(bytes.len());
    if bytes[..magic_len] != MAGIC[..magic_len] {
        return Err(ReadError::NotARecording);
    }
    let rest = &bytes[magic_len..];
    let Some((header_len, rest)) = split_u32(rest) else {
        return Err(ReadError::HeaderCut);
    };
    let header_len = header_len as usize;
    if header_len > MAX_RECORD {
        return Err(ReadError::BadHeader(format!(
            "it claims {header_len} bytes"
        )));
    }
    if rest.len() < header_len {
        return Err(ReadError::HeaderCut);
    }
    let (header_bytes, body) = rest.split_at(header_len);
    let header = decode_header(header_bytes)?;

    let (stream, stream_error) = decompress(body);
    let mut records = Vec::new();
    let mut at = stream.as_slice();
    let mut index = 0;
    let ending = loop {
        if at.is_empty() {
            break match stream_error {
                None | Some(StreamError::Cut) => Ending::Cut { partial: false },
                Some(StreamError::Corrupt(why)) => Ending::Corrupt { record: index, why },
            };
        }
        let Some((len, after_len)) = split_u32(at) else {
            break cut_or(stream_error, index);
        };
        let len = len as usize;
        if len > MAX_RECORD {
            break Ending::Corrupt {
                record: index,
                why: format!("its length says {len} bytes"),
            };
        }
        let Some((crc, after_crc)) = split_u32(after_len) else {
            break cut_or(stream_error, index);
        };
        if after_crc.len() < len {
            break cut_or(stream_error, index);
        }
        let (body, next) = after_crc.split_at(len);
        if crc32fast::hash(body) != crc {
            break Ending::Corrupt {
                record: index,
                why: "its checksum does not match".into(),
            };
        }
        match rmp_serde::from_slice::<Record>(body) {
            Ok(Record::End { at_ms, reason }) => break Ending::Finished { at_ms, reason },
            Ok(Record::Unknown) => {}
            Ok(record) => records.push(record),
            Err(error) => {
                break Ending::Corrupt {
                    record: index,
                    why: format!("it does not decode: {error}"),
                };
            }
        }
        index += 1;
        at = next;
    };
    Ok(Recording {
        header,
        records,
        ending,
        file_bytes: bytes.len() as u64,
    })
}

/// A record cut short: the stream's own damage, if any, is the better explanation.
fn cut_or(stream_error: Option<StreamError>, index: usize) -> Ending {
    match stream_error {
        Some(StreamError::Corrupt(why)) => Ending::Corrupt { record: index, why },
        _ => Ending::Cut { partial: true },
    }
}

fn decode_header(bytes: &[u8]) -> Result<Header, ReadError> {
    // The version first, from a header that may have fields this reader lacks.
    #[derive(serde::Deserialize)]
    struct Version {
        format_major: u32,
    }
    let version: Version =
        rmp_serde::from_slice(bytes).map_err(|e| ReadError::BadHeader(e.to_string()))?;
    if version.format_major != FORMAT_MAJOR {
        return Err(ReadError::OtherFormat {
            found: version.format_major,
        });
    }
    rmp_serde::from_slice(bytes).map_err(|e| ReadError::BadHeader(e.to_string()))
}

fn split_u32(bytes: &[u8]) -> Option<(u32, &[u8])> {
    let (head, rest) = bytes.split_first_chunk::<4>()?;
    Some((u32::from_be_bytes(*head), rest))
}

enum StreamError {
    /// The compressed stream stops mid-frame: a recorder that did not finish.
    Cut,
    Corrupt(String),
}

/// Decompress the frames after the header, as far as they go.
fn decompress(body: &[u8]) -> (Vec<u8>, Option<StreamError>) {
    let mut out = Vec::new();
    if body.is_empty() {
        return (out, None);
    }
    let mut decoder = match zstd::stream::read::Decoder::with_buffer(body) {
        Ok(decoder) => decoder,
        Err(error) => return (out, Some(StreamError::Corrupt(error.to_string()))),
    };
    let mut chunk = vec![0; 64 * 1024];
    loop {
        match decoder.read(&mut chunk) {
            Ok(0) => return (out, None),
            Ok(n) => {
                out.extend_from_slice(&chunk[..n]);
                if out.len() > MAX_STREAM {
                    return (
                        out,
                        Some(StreamError::Corrupt("it decompresses to too much".into())),
                    );
                }
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => {
                return (out, Some(StreamError::Cut));
            }
            Err(error) => return (out, Some(StreamError::Corrupt(error.to_string()))),
        }
    }
}

/// Against a crafted file that inflates without end (2 GiB; an hour of a thousand
/// processes is a few hundred MB).
const MAX_STREAM: usize = 1 << 31;
