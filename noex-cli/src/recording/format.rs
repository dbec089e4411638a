//! What a recording holds: its [`Header`], and the [`Record`]s after it.
//!
//! The bytes on disk (docs/recording.md tells the same, for other readers):
//!
//! ```text
//! "NOEXREC\0"                       8 bytes, the magic
//! u32 big-endian                    length of the header
//! MessagePack map                   the Header (named fields)
//! zstd frame, zstd frame, ...       one frame per keyframe and what follows it
//! ```
//!
//! Decompressed, the frames are one stream of records, each
//! `u32 BE length | u32 BE CRC-32 of the body | MessagePack body`. Each record is
//! flushed (a zstd block ends) as soon as it is written, so everything written before
//! a crash can be read back; the checksum tells a corrupted record from a good one.
//!
//! Snapshots are kept small: a [`Record::Keyframe`] holds a whole snapshot every
//! [`KEYFRAME_EVERY`] snapshots, and each [`Record::Delta`] between holds only the
//! process rows that changed, the ones that went, and the app-wide counters. Process
//! rows are kept in pid order, so a snapshot rebuilt from deltas equals the one
//! recorded.

use std::collections::HashMap;

use noex_agent::protocol::{Hello, ProtocolVersion};
use noex_agent::types::{LifecycleEvent, Pid, ServerInfo, Snapshot, SupervisorInfo};
use serde::{Deserialize, Serialize};

/// The first bytes of every recording.
pub const MAGIC: &[u8; 8] = b"NOEXREC\0";

/// The format's version. A reader refuses a recording of another major; a newer minor
/// only adds (record types a reader skips, fields it ignores).
pub const FORMAT_MAJOR: u32 = 1;
pub const FORMAT_MINOR: u32 = 0;

/// A whole snapshot after this many deltas, so a player seeks by rebuilding from the
/// nearest keyframe at most this many steps back.
pub const KEYFRAME_EVERY: u32 = 60;

/// The largest header or record a reader accepts: a bad length never makes it
/// allocate gigabytes.
pub const MAX_RECORD: usize = 256 * 1024 * 1024;

/// What the recording is of, written once at the start.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// `FORMAT_MAJOR`.
    pub format_major: u32,
    /// `FORMAT_MINOR`.
    pub format_minor: u32,
    /// The noex CLI version that wrote it.
    pub recorder_version: String,
    /// The agent's greeting: app name, OS pid, process start time, protocol version,
    /// the app's noex version, read-only.
    pub hello: Hello,
    /// When recording began, in milliseconds since the Unix epoch.
    pub started_at_ms: u64,
    /// Milliseconds between snapshots, as asked.
    pub interval_ms: u64,
}

impl Header {
    pub fn new(hello: Hello, started_at_ms: u64, interval_ms: u64) -> Header {
        Header {
            format_major: FORMAT_MAJOR,
            format_minor: FORMAT_MINOR,
            recorder_version: env!("CARGO_PKG_VERSION").to_string(),
            hello,
            started_at_ms,
            interval_ms,
        }
    }

    /// The agent's protocol version at recording time.
    pub fn protocol(&self) -> ProtocolVersion {
        self.hello.protocol_version
    }
}

/// One entry of the recording, in the order it was written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    /// A whole snapshot (rows in pid order). Starts a new zstd frame.
    Keyframe { snapshot: Snapshot },
    /// What changed since the previous snapshot.
    Delta { delta: Delta },
    /// A lifecycle event, as the agent pushed it.
    Event { event: LifecycleEvent },
    /// The agent skipped `dropped` events because the recorder read too slowly.
    Lagged { at_ms: u64, dropped: u64 },
    /// The recording ended on purpose, and why (the app exited, Ctrl-C, --duration).
    End { at_ms: u64, reason: String },
    /// A record type of a newer format: skipped.
    #[serde(other)]
    Unknown,
}

impl Record {
    /// When it happened, in milliseconds since the Unix epoch (`None` for an unknown
    /// record).
    pub fn at_ms(&self) -> Option<u64> {
        match self {
            Record::Keyframe { snapshot } => Some(snapshot.taken_at_ms),
            Record::Delta { delta } => Some(delta.taken_at_ms),
            Record::Event { event } => Some(event.at_ms),
            Record::Lagged { at_ms, .. } | Record::End { at_ms, .. } => Some(*at_ms),
            Record::Unknown => None,
        }
    }
}

/// A snapshot as the difference from the one before: the app-wide numbers, every
/// row that is new or changed, and the pids of the rows that went.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    pub taken_at_ms: u64,
    pub uptime_ms: u64,
    pub process_count: u64,
    pub total_messages: u64,
    #[serde(default)]
    pub memory_rss_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<ServerInfo>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub servers_gone: Vec<Pid>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supervisors: Vec<SupervisorInfo>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supervisors_gone: Vec<Pid>,
}

/// Put a snapshot's rows in pid order, the order deltas rebuild them in.
pub fn normalise(snapshot: &mut Snapshot) {
    snapshot.servers.sort_by_key(|s| s.pid);
    snapshot.supervisors.sort_by_key(|s| s.pid);
}

/// What changed from `before` to `after` (both normalised).
pub fn diff(before: &Snapshot, after: &Snapshot) -> Delta {
    let (servers, servers_gone) = diff_rows(&before.servers, &after.servers, |s| s.pid);
    let (supervisors, supervisors_gone) =
        diff_rows(&before.supervisors, &after.supervisors, |s| s.pid);
    Delta {
        taken_at_ms: after.taken_at_ms,
        uptime_ms: after.uptime_ms,
        process_count: after.process_count,
        total_messages: after.total_messages,
        memory_rss_bytes: after.memory_rss_bytes,
        servers,
        servers_gone,
        supervisors,
        supervisors_gone,
    }
}

fn diff_rows<T: Clone + PartialEq>(
    before: &[T],
    after: &[T],
    pid: impl Fn(&T) -> Pid,
) -> (Vec<T>, Vec<Pid>) {
    let old: HashMap<Pid, &T> = before.iter().map(|row| (pid(row), row)).collect();
    let changed = after
        .iter()
        .filter(|row| old.get(&pid(row)) != Some(row))
        .cloned()
        .collect();
    let now: std::collections::HashSet<Pid> = after.iter().map(&pid).collect();
    let gone = before
        .iter()
        .map(&pid)
        .filter(|p| !now.contains(p))
        .collect();
    (changed, gone)
}

/// `snapshot` moved on by `delta`: the snapshot the delta was taken from.
pub fn apply(snapshot: &mut Snapshot, delta: &Delta) {
    snapshot.taken_at_ms = delta.taken_at_ms;
    snapshot.uptime_ms = delta.uptime_ms;
    snapshot.process_count = delta.process_count;
    snapshot.total_messages = delta.total_messages;
    snapshot.memory_rss_bytes = delta.memory_rss_bytes;
    apply_rows(
        &mut snapshot.servers,
        &delta.servers,
        &delta.servers_gone,
        |s| s.pid,
    );
    apply_rows(
        &mut snapshot.supervisors,
        &delta.supervisors,
        &delta.supervisors_gone,
        |s| s.pid,
    );
}

fn apply_rows<T: Clone>(rows: &mut Vec<T>, changed: &[T], gone: &[Pid], pid: impl Fn(&T) -> Pid) {
    if !gone.is_empty() {
        let gone: std::collections::HashSet<Pid> = gone.iter().copied().collect();
        rows.retain(|row| !gone.contains(&pid(row)));
    }
    for row in changed {
        // Rows are in pid order: a binary search finds the row or where it goes.
        match rows.binary_search_by_key(&pid(row), &pid) {
            Ok(i) => rows[i] = row.clone(),
            Err(i) => rows.insert(i, row.clone()),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::top::testing;

    pub fn normalised(k: u64) -> Snapshot {
        let mut snapshot = testing::snapshot(k);
        normalise(&mut snapshot);
        snapshot
    }

    #[test]
    fn a_delta_rebuilds_the_next_snapshot_exactly() {
        for k in 0..3 {
            let (before, after) = (normalised(k), normalised(k + 1));
            let delta = diff(&before, &after);
            let mut rebuilt = before.clone();
            apply(&mut rebuilt, &delta);
            assert_eq!(rebuilt, after, "snapshot {k} to {}", k + 1);
        }
    }

    #[test]
    fn a_delta_holds_only_the_rows_that_changed() {
        let delta = diff(&normalised(2), &normalised(3));
        let changed: Vec<u64> = delta.servers.iter().map(|s| s.pid.0).collect();
        // cache, services, worker-2's backlog, and worker-1 under its new pid.
        assert_eq!(changed, [2, 4, 6, 23]);
        assert_eq!(delta.servers_gone, [Pid(22)]);
        assert_eq!(delta.supervisors.len(), 1, "worker-1's supervisor");
    }

    #[test]
    fn an_unknown_record_type_reads_as_unknown() {
        #[derive(Serialize)]
        struct Future {
            r#type: &'static str,
            at_ms: u64,
        }
        let bytes = rmp_serde::to_vec_named(&Future {
            r#type: "annotation",
            at_ms: 5,
        })
        .unwrap();
        let record: Record = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(record, Record::Unknown);
    }
}
