//! Writing a recording: the header, then records, each compressed and flushed at
//! once, so a recorder killed at any moment leaves a file that reads back to its last
//! whole record.

use std::io::{self, Write};

use noex_agent::types::{LifecycleEvent, Snapshot};
use zstd::stream::write::Encoder;

use super::format::{self, Header, KEYFRAME_EVERY, MAGIC, Record};

/// zstd's level: 3 is its default, fast enough to run beside every snapshot, and the
/// deltas between keyframes compress against the rows they repeat.
const LEVEL: i32 = 3;

/// What has been written so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Written {
    pub snapshots: u64,
    pub keyframes: u64,
    pub events: u64,
    /// Bytes in the file.
    pub bytes: u64,
}

/// Writes a recording to `W` (a file; a `Vec` in tests).
pub struct Writer<W: Write> {
    /// The current zstd frame; `None` before the first record and between a frame's
    /// end and the next keyframe.
    frame: Option<Encoder<'static, Counting<W>>>,
    /// The sink while no frame is open.
    idle: Option<Counting<W>>,
    previous: Option<Snapshot>,
    deltas_since_keyframe: u32,
    keyframe_every: u32,
    written: Written,
}

impl<W: Write> Writer<W> {
    /// Start a recording: write the magic and `header`.
    pub fn new(sink: W, header: &Header) -> io::Result<Writer<W>> {
        let mut sink = Counting {
            inner: sink,
            bytes: 0,
        };
        let header = rmp_serde::to_vec_named(header).map_err(io::Error::other)?;
        sink.write_all(MAGIC)?;
        sink.write_all(&(header.len() as u32).to_be_bytes())?;
        sink.write_all(&header)?;
        sink.flush()?;
        Ok(Writer {
            frame: None,
            idle: Some(sink),
            previous: None,
            deltas_since_keyframe: 0,
            keyframe_every: KEYFRAME_EVERY,
            written: Written::default(),
        })
    }

    /// Write a whole snapshot every `every` snapshots (tests use small numbers).
    pub fn keyframe_every(mut self, every: u32) -> Writer<W> {
        self.keyframe_every = every.max(1);
        self
    }

    pub fn written(&self) -> Written {
        let bytes = match (&self.frame, &self.idle) {
            (Some(frame), _) => frame.get_ref().bytes,
            (None, Some(idle)) => idle.bytes,
            (None, None) => 0,
        };
        Written {
            bytes,
            ..self.written
        }
    }

    /// The sink, with what has been flushed to it so far.
    pub fn sink(&self) -> &W {
        match (&self.frame, &self.idle) {
            (Some(frame), _) => &frame.get_ref().inner,
            (None, Some(idle)) => &idle.inner,
            (None, None) => unreachable!("a frame or the sink itself is always there"),
        }
    }

    /// Record a snapshot: a keyframe, or what changed since the previous one.
    pub fn snapshot(&mut self, mut snapshot: Snapshot) -> io::Result<()> {
        format::normalise(&mut snapshot);
        let keyframe = match &self.previous {
            None => true,
            Some(_) => self.deltas_since_keyframe + 1 >= self.keyframe_every,
        };
        let record = match (&self.previous, keyframe) {
            (Some(previous), false) => {
                self.deltas_since_keyframe += 1;
                Record::Delta {
                    delta: format::diff(previous, &snapshot),
                }
            }
            _ => {
                // A keyframe starts a new zstd frame: a reader can start decoding there.
                self.end_frame()?;
                self.deltas_since_keyframe = 0;
                self.written.keyframes += 1;
                Record::Keyframe {
                    snapshot: snapshot.clone(),
                }
            }
        };
        self.write(&record)?;
        self.written.snapshots += 1;
        self.previous = Some(snapshot);
        Ok(())
    }

    pub fn event(&mut self, event: LifecycleEvent) -> io::Result<()> {
        self.written.events += 1;
        self.write(&Record::Event { event })
    }

    pub fn lagged(&mut self, at_ms: u64, dropped: u64) -> io::Result<()> {
        self.write(&Record::Lagged { at_ms, dropped })
    }

    /// Write the end record and close the last frame; the sink is handed back.
    pub fn finish(mut self, at_ms: u64, reason: &str) -> io::Result<W> {
        self.write(&Record::End {
            at_ms,
            reason: reason.to_string(),
        })?;
        self.end_frame()?;
        Ok(self.idle.take().expect("no frame is open").inner)
    }

    /// Compress and flush one record: after this, a reader sees it even if we die.
    fn write(&mut self, record: &Record) -> io::Result<()> {
        let body = rmp_serde::to_vec_named(record).map_err(io::Error::other)?;
        let frame = match &mut self.frame {
            Some(frame) => frame,
            None => {
                let sink = self.idle.take().expect("a sink when no frame is open");
                let mut encoder = Encoder::new(sink, LEVEL)?;
                encoder.include_checksum(true)?;
                self.frame.insert(encoder)
            }
        };
        frame.write_all(&(body.len() as u32).to_be_bytes())?;
        frame.write_all(&crc32fast::hash(&body).to_be_bytes())?;
        frame.write_all(&body)?;
        // Ends a zstd block and writes it out: the record is readable from now on.
        frame.flush()
    }

    fn end_frame(&mut self) -> io::Result<()> {
        if let Some(frame) = self.frame.take() {
            let mut sink = frame.finish()?;
            sink.flush()?;
            self.idle = Some(sink);
        }
        Ok(())
    }
}

/// A sink that counts the bytes written through it.
struct Counting<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
