//! Recordings: what `noex record` writes and `noex events --replay` and
//! `noex top --replay` read.
//!
//! A recording is a header (what app, when, which protocol) and a stream of
//! timestamped records: snapshots, as a whole snapshot now and then (a keyframe) and
//! what changed in between (a delta), and every lifecycle event. The stream is zstd,
//! flushed at every record, so a recording survives its app's crash and its
//! recorder's `kill -9`: it reads back to the last record written.
//!
//! [`format`] is the file format, [`writer`] and [`reader`] its two ends, and
//! [`timeline`] turns the records into frames a player can seek. docs/recording.md
//! describes the format for other readers.

pub mod format;
pub mod reader;
pub mod timeline;
pub mod writer;

#[cfg(test)]
mod tests;

pub use format::{Header, Record};
pub use reader::{Ending, ReadError, Recording, read, read_file};
pub use timeline::Timeline;
pub use writer::{Writer, Written};
