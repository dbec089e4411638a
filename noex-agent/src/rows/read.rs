//! Reading a compact snapshot reply by hand: the client's hot loop for a large
//! application (100k servers), where serde's generic path spends more on each value
//! than the value is worth.
//!
//! It reads only the shape a 2.1 to 2.3 agent writes: rows of the known positions
//! (a server row with or without the `state` of 2.3),
//! map keys that are strings, each integer in an unsigned encoding, texts as strings
//! or indexes into `strings`. Anything else, well formed or not, is declined
//! ([`Decline`]) and the caller decodes the frame with serde instead, so this path
//! accepts no frame that path would refuse and yields the same value for every frame
//! it accepts (the `server_frame_decoder` fuzz target compares the two).

use std::str;
use std::sync::Arc;

use super::decode::Text;
use super::{CHILD_ROW, SERVER_ROW, SERVER_ROW_REQUIRED, SUPERVISOR_ROW};
use crate::types::{
    ChildInfo, ChildKind, Intensity, Pid, ProcessStatus, RestartType, ServerInfo, Snapshot,
    Strategy, SupervisorInfo,
};

/// Not a shape this reader takes: decode with serde.
#[derive(Debug)]
pub(crate) struct Decline;

type Read<T> = Result<T, Decline>;

/// The id and the snapshot of a snapshot reply frame
/// (`{type: "reply", id, body: {type: "snapshot", snapshot}}`); any other frame is
/// declined, so a client tries this first, without reading the frame twice.
pub(crate) fn snapshot_reply(frame: &[u8], max_depth: usize) -> Read<(u64, Snapshot)> {
    // The deepest value read is a child row, seven levels down; a skipped value may
    // nest deeper, up to a margin under the serde path's limit.
    if max_depth < MIN_DEPTH {
        return Err(Decline);
    }
    let mut reader = Reader {
        bytes: frame,
        max_depth: max_depth - DEPTH_MARGIN,
    };
    let (mut kind, mut id, mut body) = (None, None, None);
    for _ in 0..reader.map_len()? {
        match reader.str()? {
            "type" => set_once(&mut kind, reader.str()?)?,
            "id" => set_once(&mut id, reader.uint()?)?,
            "body" => {
                let (mut kind, mut snapshot) = (None, None);
                for _ in 0..reader.map_len()? {
                    match reader.str()? {
                        "type" => set_once(&mut kind, reader.str()?)?,
                        "snapshot" => set_once(&mut snapshot, reader.snapshot()?)?,
                        _ => reader.skip(3)?,
                    }
                }
                if kind != Some("snapshot") {
                    return Err(Decline);
                }
                set_once(&mut body, snapshot.ok_or(Decline)?)?;
            }
            _ => reader.skip(2)?,
        }
    }
    if kind != Some("reply") {
        return Err(Decline);
    }
    Ok((id.ok_or(Decline)?, body.ok_or(Decline)?))
}

/// Levels below `max_depth` that skipped values keep clear of.
const DEPTH_MARGIN: usize = 2;
/// The least `max_depth` this reader works with: a child row's depth and the margin.
const MIN_DEPTH: usize = 7 + DEPTH_MARGIN + 1;

/// Most elements a list reserves room for before reading them (as the serde path).
const PREALLOCATE_BYTES: usize = 32 << 20;

fn set_once<T>(slot: &mut Option<T>, value: T) -> Read<()> {
    if slot.replace(value).is_some() {
        return Err(Decline);
    }
    Ok(())
}

struct Reader<'a> {
    bytes: &'a [u8],
    max_depth: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Read<u8> {
        let (&first, rest) = self.bytes.split_first().ok_or(Decline)?;
        self.bytes = rest;
        Ok(first)
    }

    fn take(&mut self, len: usize) -> Read<&'a [u8]> {
        if len > self.bytes.len() {
            return Err(Decline);
        }
        let (taken, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Ok(taken)
    }

    fn be(&mut self, len: usize) -> Read<u64> {
        Ok(self
            .take(len)?
            .iter()
            .fold(0, |value, &byte| (value << 8) | u64::from(byte)))
    }

    fn peek(&self) -> Read<u8> {
        self.bytes.first().copied().ok_or(Decline)
    }

    /// Consumes a nil if one comes next.
    fn nil(&mut self) -> Read<bool> {
        let nil = self.peek()? == 0xc0;
        if nil {
            self.bytes = &self.bytes[1..];
        }
        Ok(nil)
    }

    fn uint(&mut self) -> Read<u64> {
        match self.byte()? {
            small @ 0x00..=0x7f => Ok(small.into()),
            0xcc => self.be(1),
            0xcd => self.be(2),
            0xce => self.be(4),
            0xcf => self.be(8),
            _ => Err(Decline),
        }
    }

    fn u32(&mut self) -> Read<u32> {
        u32::try_from(self.uint()?).map_err(|_| Decline)
    }

    fn optional_uint(&mut self) -> Read<Option<u64>> {
        if self.nil()? {
            return Ok(None);
        }
        self.uint().map(Some)
    }

    fn bool(&mut self) -> Read<bool> {
        match self.byte()? {
            0xc2 => Ok(false),
            0xc3 => Ok(true),
            _ => Err(Decline),
        }
    }

    fn str(&mut self) -> Read<&'a str> {
        let len = match self.byte()? {
            fix @ 0xa0..=0xbf => usize::from(fix & 0x1f),
            0xd9 => self.be(1)? as usize,
            0xda => self.be(2)? as usize,
            0xdb => self.be(4)? as usize,
            _ => return Err(Decline),
        };
        str::from_utf8(self.take(len)?).map_err(|_| Decline)
    }

    fn header(&mut self, fix: u8, wide: u8) -> Read<usize> {
        match self.byte()? {
            marker if marker & 0xf0 == fix => Ok(usize::from(marker & 0x0f)),
            marker if marker == wide => Ok(self.be(2)? as usize),
            marker if marker == wide + 1 => Ok(self.be(4)? as usize),
            _ => Err(Decline),
        }
    }

    fn map_len(&mut self) -> Read<usize> {
        self.header(0x80, 0xde)
    }

    fn array_len(&mut self) -> Read<usize> {
        self.header(0x90, 0xdc)
    }

    /// An array of exactly `positions` elements.
    fn row(&mut self, positions: usize) -> Read<()> {
        if self.array_len()? != positions {
            return Err(Decline);
        }
        Ok(())
    }

    /// An array of `required` to `known` elements; returns how many.
    fn row_between(&mut self, required: usize, known: usize) -> Read<usize> {
        let positions = self.array_len()?;
        if !(required..=known).contains(&positions) {
            return Err(Decline);
        }
        Ok(positions)
    }

    /// Room for a list announced as `len` long: no more than its bytes could hold.
    fn list<T>(&self, len: usize) -> Vec<T> {
        let most = PREALLOCATE_BYTES / size_of::<T>().max(1);
        Vec::with_capacity(len.min(most).min(self.bytes.len()))
    }

    /// Passes over one value of any kind, at `depth` (the frame itself is at 1).
    /// Strings must be UTF-8, and extension values are declined: what the serde
    /// path might refuse.
    fn skip(&mut self, depth: usize) -> Read<()> {
        if depth > self.max_depth {
            return Err(Decline);
        }
        if matches!(self.peek()?, 0xa0..=0xbf | 0xd9..=0xdb) {
            return self.str().map(drop);
        }
        let marker = self.byte()?;
        let (data, values) = match marker {
            0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => (0, 0),
            0x80..=0x8f => (0, 2 * usize::from(marker & 0x0f)),
            0x90..=0x9f => (0, usize::from(marker & 0x0f)),
            0xcc | 0xd0 => (1, 0),
            0xcd | 0xd1 => (2, 0),
            0xce | 0xd2 | 0xca => (4, 0),
            0xcf | 0xd3 | 0xcb => (8, 0),
            0xc4 => (self.be(1)? as usize, 0),
            0xc5 => (self.be(2)? as usize, 0),
            0xc6 => (self.be(4)? as usize, 0),
            0xdc => (0, self.be(2)? as usize),
            0xdd => (0, self.be(4)? as usize),
            0xde => (0, 2 * self.be(2)? as usize),
            0xdf => (0, 2 * self.be(4)? as usize),
            // Extensions, and 0xc1 (never used).
            _ => return Err(Decline),
        };
        self.take(data)?;
        for _ in 0..values {
            self.skip(depth + 1)?;
        }
        Ok(())
    }

    fn snapshot(&mut self) -> Read<Snapshot> {
        let mut taken_at_ms = None;
        let mut app = None;
        let mut os_pid = None;
        let mut uptime_ms = None;
        let mut process_count = None;
        let mut total_messages = None;
        let mut memory_rss_bytes = None;
        let mut strings: Option<Vec<Arc<str>>> = None;
        let mut servers = None;
        let mut supervisors = None;
        for _ in 0..self.map_len()? {
            match self.str()? {
                "taken_at_ms" => set_once(&mut taken_at_ms, self.uint()?)?,
                "app" => set_once(&mut app, self.str()?.to_string())?,
                "os_pid" => set_once(&mut os_pid, self.u32()?)?,
                "uptime_ms" => set_once(&mut uptime_ms, self.uint()?)?,
                "process_count" => set_once(&mut process_count, self.uint()?)?,
                "total_messages" => set_once(&mut total_messages, self.uint()?)?,
                "memory_rss_bytes" => set_once(&mut memory_rss_bytes, self.optional_uint()?)?,
                "strings" => {
                    let len = self.array_len()?;
                    let mut list = self.list(len);
                    for _ in 0..len {
                        list.push(Arc::from(self.str()?));
                    }
                    set_once(&mut strings, list)?;
                }
                "servers" => {
                    let table = strings.as_deref().unwrap_or_default();
                    let len = self.array_len()?;
                    let mut list = self.list(len);
                    for _ in 0..len {
                        list.push(self.server(table)?);
                    }
                    set_once(&mut servers, list)?;
                }
                "supervisors" => {
                    let table = strings.as_deref().unwrap_or_default();
                    let len = self.array_len()?;
                    let mut list = self.list(len);
                    for _ in 0..len {
                        list.push(self.supervisor(table)?);
                    }
                    set_once(&mut supervisors, list)?;
                }
                // Inside the reply, its body and the snapshot.
                _ => self.skip(4)?,
            }
        }
        Ok(Snapshot {
            taken_at_ms: taken_at_ms.ok_or(Decline)?,
            app: app.ok_or(Decline)?,
            os_pid: os_pid.ok_or(Decline)?,
            uptime_ms: uptime_ms.ok_or(Decline)?,
            process_count: process_count.ok_or(Decline)?,
            total_messages: total_messages.ok_or(Decline)?,
            memory_rss_bytes: memory_rss_bytes.flatten(),
            servers: servers.ok_or(Decline)?,
            supervisors: supervisors.ok_or(Decline)?,
        })
    }

    /// A string position: the string, or its index in `table`; nil is `None`.
    fn text<'t>(&mut self, table: &'t [Arc<str>]) -> Read<Option<Text<'t, 'a>>> {
        match self.peek()? {
            0xc0 => {
                self.byte()?;
                Ok(None)
            }
            0xa0..=0xbf | 0xd9..=0xdb => Ok(Some(Text::Borrowed(self.str()?))),
            _ => {
                let index = usize::try_from(self.uint()?).map_err(|_| Decline)?;
                Ok(Some(Text::Table(table.get(index).ok_or(Decline)?)))
            }
        }
    }

    fn required_text<'t>(&mut self, table: &'t [Arc<str>]) -> Read<Text<'t, 'a>> {
        self.text(table)?.ok_or(Decline)
    }

    fn optional_string(&mut self, table: &[Arc<str>]) -> Read<Option<String>> {
        Ok(self.text(table)?.map(Text::into_string))
    }

    fn server(&mut self, table: &[Arc<str>]) -> Read<ServerInfo> {
        let positions = self.row_between(SERVER_ROW_REQUIRED, SERVER_ROW.len())?;
        // Fields are evaluated in the order written: the row's order.
        Ok(ServerInfo {
            pid: Pid(self.uint()?),
            name: self.optional_string(table)?,
            child_id: self.optional_string(table)?,
            parent: self.optional_uint()?.map(Pid),
            type_name: self.required_text(table)?.into_shared(),
            status: ProcessStatus::from_wire_name(self.required_text(table)?.as_str()),
            messages: self.uint()?,
            queue_len: self.uint()?,
            started_at_ms: self.uint()?,
            restarts: self.u32()?,
            busy_ns: self.uint()?,
            handler_running_ns: self.optional_uint()?,
            last_error: self.optional_string(table)?,
            system: self.bool()?,
            // Since 2.3; a row of 2.1 or 2.2 ends before it.
            state: if positions > SERVER_ROW_REQUIRED {
                self.optional_string(table)?
            } else {
                None
            },
        })
    }

    fn supervisor(&mut self, table: &[Arc<str>]) -> Read<SupervisorInfo> {
        self.row(SUPERVISOR_ROW.len())?;
        Ok(SupervisorInfo {
            pid: Pid(self.uint()?),
            name: self.optional_string(table)?,
            child_id: self.optional_string(table)?,
            parent: self.optional_uint()?.map(Pid),
            status: ProcessStatus::from_wire_name(self.required_text(table)?.as_str()),
            strategy: Strategy::from_wire_name(self.required_text(table)?.as_str()),
            intensity: Intensity {
                max_restarts: self.u32()?,
                within_ms: self.uint()?,
            },
            children: {
                let len = self.array_len()?;
                let mut children = self.list(len);
                for _ in 0..len {
                    children.push(self.child(table)?);
                }
                children
            },
            child_restarts: self.u32()?,
            restarts: self.u32()?,
            started_at_ms: self.uint()?,
            last_error: self.optional_string(table)?,
            system: self.bool()?,
        })
    }

    fn child(&mut self, table: &[Arc<str>]) -> Read<ChildInfo> {
        self.row(CHILD_ROW.len())?;
        Ok(ChildInfo {
            id: self.required_text(table)?.into_string(),
            pid: self.optional_uint()?.map(Pid),
            restart: RestartType::from_wire_name(self.required_text(table)?.as_str()),
            kind: ChildKind::from_wire_name(self.required_text(table)?.as_str()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;
    use crate::rows::{encode, write, write_snapshot_reply_head};

    fn snapshot() -> Snapshot {
        let server = ServerInfo {
            name: Some("cache".into()),
            child_id: Some("cache".into()),
            parent: Some(Pid(1)),
            type_name: "Cache<String, u64>".into(),
            messages: 1 << 40,
            queue_len: 300,
            started_at_ms: 1_714_000_000_000,
            restarts: 4,
            busy_ns: 70_000,
            handler_running_ns: Some(12),
            last_error: Some("index out of bounds".into()),
            state: Some("Open".into()),
            ..fixtures::server(7)
        };
        let idle = ServerInfo {
            pid: Pid(8),
            name: None,
            child_id: None,
            parent: None,
            handler_running_ns: None,
            last_error: None,
            system: true,
            state: None,
            ..server.clone()
        };
        let child = ChildInfo {
            restart: RestartType::Transient,
            ..fixtures::child("cache", Some(7))
        };
        Snapshot {
            taken_at_ms: 1_714_000_123_456,
            app: "shop".into(),
            os_pid: 4242,
            uptime_ms: 60_000,
            total_messages: u64::MAX,
            ..fixtures::snapshot(
                vec![server, idle],
                vec![SupervisorInfo {
                    name: Some("app".into()),
                    strategy: Strategy::SimpleOneForOne,
                    child_restarts: 2,
                    started_at_ms: 1_714_000_000_000,
                    ..fixtures::supervisor(1, vec![child])
                }],
            )
        }
    }

    /// A snapshot reply frame around `snapshot` (a compact snapshot's bytes), as the
    /// agent writes one.
    fn reply(id: u64, snapshot: &[u8]) -> Vec<u8> {
        let mut frame = Vec::new();
        write_snapshot_reply_head(&mut frame, id);
        frame.extend_from_slice(snapshot);
        frame
    }

    /// A compact snapshot of one server, `row`, with `Worker` and `running` at
    /// 0 and 1 in its table.
    fn compact_with(row: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write::map_len(&mut out, 9);
        for (key, value) in [
            ("taken_at_ms", 1),
            ("os_pid", 2),
            ("uptime_ms", 3),
            ("process_count", 1),
            ("total_messages", 0),
        ] {
            write::str(&mut out, key);
            write::uint(&mut out, value);
        }
        write::str(&mut out, "app");
        write::str(&mut out, "shop");
        write::str(&mut out, "strings");
        write::array_len(&mut out, 2);
        write::str(&mut out, "Worker");
        write::str(&mut out, "running");
        write::str(&mut out, "servers");
        write::array_len(&mut out, 1);
        out.extend_from_slice(row);
        write::str(&mut out, "supervisors");
        write::array_len(&mut out, 0);
        out
    }

    /// An idle server's row with `pid` as encoded: the positions of 2.1, then
    /// `after` (each position encoded).
    fn server_row(pid: &[u8], after: &[&[u8]]) -> Vec<u8> {
        let mut row = Vec::new();
        write::array_len(&mut row, SERVER_ROW_REQUIRED + after.len());
        row.extend_from_slice(pid);
        row.extend_from_slice(&[0xc0, 0xc0, 0xc0]); // name, child id, parent
        row.extend_from_slice(&[0, 1]); // type name, status: from the table
        row.extend_from_slice(&[0, 0, 0, 0, 0]); // counters, start, restarts
        row.extend_from_slice(&[0xc0, 0xc0, 0xc2]); // running for, last error, system
        row.extend(after.concat());
        row
    }

    /// The one server of the frame, as the reader by hand and serde read it (they
    /// must agree).
    fn server_read(frame: &[u8]) -> ServerInfo {
        let (_, by_hand) = snapshot_reply(frame, 64).expect("taken by hand");
        let serde = crate::codec::decode_with_serde::<crate::protocol::ServerFrame>(frame, 64);
        match serde.unwrap() {
            crate::protocol::ServerFrame::Reply {
                body: crate::protocol::ReplyBody::Snapshot { snapshot },
                ..
            } => assert_eq!(snapshot, by_hand, "the two readers disagree"),
            other => panic!("not a snapshot: {other:?}"),
        }
        by_hand.servers[0].clone()
    }

    /// The pid of the one server of the frame, as the whole decoder reads it.
    fn pid_decoded(frame: &[u8]) -> u64 {
        match crate::protocol::decode_server_frame(frame, 64).unwrap() {
            crate::protocol::ServerFrame::Reply {
                body: crate::protocol::ReplyBody::Snapshot { snapshot },
                ..
            } => snapshot.servers[0].pid.0,
            other => panic!("not a snapshot: {other:?}"),
        }
    }

    #[test]
    fn the_reader_takes_a_compact_snapshot_as_an_agent_writes_it() {
        let frame = reply(42, &encode(&snapshot()));
        let (id, read) = snapshot_reply(&frame, 64).expect("taken by hand");
        assert_eq!(id, 42);
        assert_eq!(read, snapshot());
        // Servers of one type share their type's name from the table.
        let mut two = read.servers.iter().map(|s| &s.type_name);
        assert!(Arc::ptr_eq(two.next().unwrap(), two.next().unwrap()));

        let frame = reply(1, &compact_with(&server_row(&[0xcc, 0x07], &[])));
        let (_, read) = snapshot_reply(&frame, 64).expect("taken by hand");
        assert_eq!(read.servers[0].pid, Pid(7));
        assert_eq!(&*read.servers[0].type_name, "Worker");
    }

    #[test]
    fn a_server_row_of_14_positions_has_no_state_and_one_of_15_has_the_state_of_2_3() {
        let row = |after: &[&[u8]]| reply(1, &compact_with(&server_row(&[0x07], after)));
        // An agent of 2.1 or 2.2, and one of 2.3 with nothing to say.
        assert_eq!(server_read(&row(&[])).state, None);
        assert_eq!(server_read(&row(&[&[0xc0]])).state, None);
        // 2.3: the state inline, or from the table.
        let open = [&[0xa4][..], b"Open"].concat();
        assert_eq!(server_read(&row(&[&open])).state.as_deref(), Some("Open"));
        assert_eq!(server_read(&row(&[&[1]])).state.as_deref(), Some("running"));
        // The writer leaves a nil state out: a 2.1 row.
        let mut rows = crate::rows::RowsWriter::default();
        rows.server((&fixtures::server(7)).into());
        assert_eq!(rows.servers[0], 0x90 | SERVER_ROW_REQUIRED as u8);
    }

    #[test]
    fn the_reader_declines_what_only_the_serde_path_reads_and_serde_still_does() {
        let compact = encode(&snapshot());
        assert!(snapshot_reply(&reply(1, &compact)[..40], 64).is_err());
        assert!(snapshot_reply(&reply(1, &compact), MIN_DEPTH - 1).is_err());

        // Another reply: the `type`s say so.
        let mut tree = reply(1, &compact);
        let at = tree.windows(8).position(|w| w == b"snapshot").unwrap();
        tree[at..at + 4].copy_from_slice(b"tree");
        assert!(snapshot_reply(&tree, 64).is_err());

        // A pid in a signed encoding, and a row with a position of a newer agent.
        for frame in [
            reply(1, &compact_with(&server_row(&[0xd0, 0x07], &[]))),
            reply(1, &compact_with(&server_row(&[0x07], &[&[0xc0], &[0]]))),
        ] {
            assert!(snapshot_reply(&frame, 64).is_err());
            assert_eq!(pid_decoded(&frame), 7, "serde reads it");
        }
    }
}
