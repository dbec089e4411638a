//! The compact snapshot (since protocol 2.1): servers and supervisors as positional
//! rows, and the strings that repeat from row to row (type names, enumeration values)
//! sent once in a table and referred to by their index.
//!
//! A client asks for it with `snapshot { rows: true }`. In the named form most of a
//! large snapshot is field names and type names, written again on every process
//! (100k idle servers: 16 MB); as rows it is 2.6 MB, and quicker to write and read.
//! The envelope stays a map of named fields, so fields can still be added to it.
//! PROTOCOL.md §5 ("Compact snapshot") is the specification.
//!
//! The agent writes rows with [`RowsWriter`], which a backend feeds process by
//! process ([`crate::backend::Backend::snapshot_rows`]): the runtime writes straight
//! from its process table, with no [`Snapshot`] in between.
//!
//! Decoding reads either form, element by element: an element of `servers` that is a
//! map is a named `ServerInfo`, one that is an array is a row. So one reader turns an
//! older agent's named reply and a newer agent's rows into the same [`Snapshot`],
//! straight from MessagePack.

use std::collections::HashMap;

use crate::types::{
    ChildInfo, ChildKind, Intensity, Pid, ProcessStatus, RestartType, ServerInfo, Snapshot,
    Strategy, SupervisorInfo,
};

/// The positions of a server row, in order. Positions are only ever added at the
/// end: a reader ignores positions after those it knows, and a position added after
/// 2.1 takes its default when a row ends before it.
pub const SERVER_ROW: [&str; 15] = [
    "pid",
    "name",
    "child_id",
    "parent",
    "type_name",
    "status",
    "messages",
    "queue_len",
    "started_at_ms",
    "restarts",
    "busy_ns",
    "handler_running_ns",
    "last_error",
    "system",
    // Since 2.3; left out when nil.
    "state",
];

/// The positions a server row must have: those of 2.1. A row ends after them when
/// the positions added since are all nil, so a server with nothing to say costs no
/// more than in 2.1, and a reader of 2.1 or 2.2 keeps reading it the quick way.
pub const SERVER_ROW_REQUIRED: usize = 14;

/// The positions of a supervisor row, in order; `intensity` is flattened into
/// `max_restarts` and `within_ms`, and `children` holds child rows.
pub const SUPERVISOR_ROW: [&str; 14] = [
    "pid",
    "name",
    "child_id",
    "parent",
    "status",
    "strategy",
    "max_restarts",
    "within_ms",
    "children",
    "child_restarts",
    "restarts",
    "started_at_ms",
    "last_error",
    "system",
];

/// The positions of a child row (an element of a supervisor row's `children`).
pub const CHILD_ROW: [&str; 4] = ["id", "pid", "restart", "kind"];

/// One server as a row is written from it, borrowed from wherever the backend keeps
/// it: the runtime writes its processes as it reads them, without a [`ServerInfo`].
/// The fields are [`ServerInfo`]'s.
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug)]
pub struct ServerRow<'a> {
    pub pid: Pid,
    pub name: Option<&'a str>,
    pub child_id: Option<&'a str>,
    pub parent: Option<Pid>,
    pub type_name: &'a str,
    pub status: ProcessStatus,
    pub messages: u64,
    pub queue_len: u64,
    pub started_at_ms: u64,
    pub restarts: u32,
    pub busy_ns: u64,
    pub handler_running_ns: Option<u64>,
    pub last_error: Option<&'a str>,
    pub system: bool,
    pub state: Option<&'a str>,
}

impl<'a> From<&'a ServerInfo> for ServerRow<'a> {
    fn from(info: &'a ServerInfo) -> Self {
        ServerRow {
            pid: info.pid,
            name: info.name.as_deref(),
            child_id: info.child_id.as_deref(),
            parent: info.parent,
            type_name: &info.type_name,
            status: info.status,
            messages: info.messages,
            queue_len: info.queue_len,
            started_at_ms: info.started_at_ms,
            restarts: info.restarts,
            busy_ns: info.busy_ns,
            handler_running_ns: info.handler_running_ns,
            last_error: info.last_error.as_deref(),
            system: info.system,
            state: info.state.as_deref(),
        }
    }
}

/// One supervisor as a row is written from it, its children apart: the fields are
/// [`SupervisorInfo`]'s.
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug)]
pub struct SupervisorRow<'a> {
    pub pid: Pid,
    pub name: Option<&'a str>,
    pub child_id: Option<&'a str>,
    pub parent: Option<Pid>,
    pub status: ProcessStatus,
    pub strategy: Strategy,
    pub intensity: Intensity,
    pub child_restarts: u32,
    pub restarts: u32,
    pub started_at_ms: u64,
    pub last_error: Option<&'a str>,
    pub system: bool,
}

impl<'a> From<&'a SupervisorInfo> for SupervisorRow<'a> {
    fn from(info: &'a SupervisorInfo) -> Self {
        SupervisorRow {
            pid: info.pid,
            name: info.name.as_deref(),
            child_id: info.child_id.as_deref(),
            parent: info.parent,
            status: info.status,
            strategy: info.strategy,
            intensity: info.intensity,
            child_restarts: info.child_restarts,
            restarts: info.restarts,
            started_at_ms: info.started_at_ms,
            last_error: info.last_error.as_deref(),
            system: info.system,
        }
    }
}

/// One child of a supervisor row: the fields are [`ChildInfo`]'s.
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug)]
pub struct ChildRow<'a> {
    pub id: &'a str,
    pub pid: Option<Pid>,
    pub restart: RestartType,
    pub kind: ChildKind,
}

impl<'a> From<&'a ChildInfo> for ChildRow<'a> {
    fn from(child: &'a ChildInfo) -> Self {
        ChildRow {
            id: &child.id,
            pid: child.pid,
            restart: child.restart,
            kind: child.kind,
        }
    }
}

/// What a snapshot says besides its processes: the compact body's named fields, as
/// in [`Snapshot`].
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    pub taken_at_ms: u64,
    pub app: String,
    pub os_pid: u32,
    pub uptime_ms: u64,
    pub process_count: u64,
    pub total_messages: u64,
    pub memory_rss_bytes: Option<u64>,
}

/// Writes a compact snapshot as its processes are read: rows go straight into
/// MessagePack, and each repeated string into the table. The table must precede the
/// rows on the wire and is only complete at the end, so the rows are written apart
/// and copied after it once (a few bytes per process).
#[derive(Default)]
pub struct RowsWriter {
    strings: Strings,
    servers: Vec<u8>,
    server_count: u32,
    supervisors: Vec<u8>,
    supervisor_count: u32,
}

impl RowsWriter {
    /// Makes room for about `servers` more server rows.
    pub fn reserve(&mut self, servers: usize) {
        self.servers.reserve(servers * TYPICAL_SERVER_ROW);
    }

    /// Writes one server's row.
    pub fn server(&mut self, row: ServerRow<'_>) {
        let type_name = self.strings.intern(Field::TypeName, row.type_name);
        let status = self.strings.intern(Field::Status, row.status.as_str());
        let out = &mut self.servers;
        let positions = if row.state.is_some() {
            SERVER_ROW.len()
        } else {
            SERVER_ROW_REQUIRED
        };
        write::array_len(out, positions);
        write::uint(out, row.pid.0);
        write::optional_str(out, row.name);
        write::optional_str(out, row.child_id);
        write::optional_uint(out, row.parent.map(|pid| pid.0));
        write::uint(out, type_name.into());
        write::uint(out, status.into());
        write::uint(out, row.messages);
        write::uint(out, row.queue_len);
        write::uint(out, row.started_at_ms);
        write::uint(out, row.restarts.into());
        write::uint(out, row.busy_ns);
        write::optional_uint(out, row.handler_running_ns);
        write::optional_str(out, row.last_error);
        write::bool(out, row.system);
        if let Some(state) = row.state {
            write::str(out, state);
        }
        self.server_count += 1;
    }

    /// Writes one supervisor's row.
    pub fn supervisor(&mut self, info: &SupervisorInfo) {
        self.supervisor_row(
            SupervisorRow::from(info),
            info.children.iter().map(ChildRow::from),
        );
    }

    /// Writes one supervisor's row from its parts, borrowed wherever the backend
    /// keeps them: a supervisor of a million children writes them as it lists them.
    pub fn supervisor_row<'c>(
        &mut self,
        row: SupervisorRow<'_>,
        children: impl ExactSizeIterator<Item = ChildRow<'c>>,
    ) {
        let status = self.strings.intern(Field::Status, row.status.as_str());
        let strategy = self.strings.intern(Field::Strategy, row.strategy.as_str());
        let out = &mut self.supervisors;
        write::array_len(out, SUPERVISOR_ROW.len());
        write::uint(out, row.pid.0);
        write::optional_str(out, row.name);
        write::optional_str(out, row.child_id);
        write::optional_uint(out, row.parent.map(|pid| pid.0));
        write::uint(out, status.into());
        write::uint(out, strategy.into());
        write::uint(out, row.intensity.max_restarts.into());
        write::uint(out, row.intensity.within_ms);
        write::array_len(out, children.len());
        for child in children {
            let restart = self.strings.intern(Field::Restart, child.restart.as_str());
            let kind = self.strings.intern(Field::Kind, child.kind.as_str());
            let out = &mut self.supervisors;
            write::array_len(out, CHILD_ROW.len());
            write::str(out, child.id);
            write::optional_uint(out, child.pid.map(|pid| pid.0));
            write::uint(out, restart.into());
            write::uint(out, kind.into());
        }
        let out = &mut self.supervisors;
        write::uint(out, row.child_restarts.into());
        write::uint(out, row.restarts.into());
        write::uint(out, row.started_at_ms);
        write::optional_str(out, row.last_error);
        write::bool(out, row.system);
        self.supervisor_count += 1;
    }

    /// Writes every process of `snapshot`.
    pub fn snapshot(&mut self, snapshot: &Snapshot) {
        self.reserve(snapshot.servers.len());
        for server in &snapshot.servers {
            self.server(server.into());
        }
        for supervisor in &snapshot.supervisors {
            self.supervisor(supervisor);
        }
    }

    /// Appends the compact snapshot, `envelope` and the rows written, to `out`: the
    /// value of a snapshot reply's `snapshot` field.
    pub fn finish(self, envelope: &Envelope, out: &mut Vec<u8>) {
        out.reserve(self.strings.bytes + self.servers.len() + self.supervisors.len() + 256);
        write::map_len(out, 10);
        write::str(out, "taken_at_ms");
        write::uint(out, envelope.taken_at_ms);
        write::str(out, "app");
        write::str(out, &envelope.app);
        write::str(out, "os_pid");
        write::uint(out, envelope.os_pid.into());
        write::str(out, "uptime_ms");
        write::uint(out, envelope.uptime_ms);
        write::str(out, "process_count");
        write::uint(out, envelope.process_count);
        write::str(out, "total_messages");
        write::uint(out, envelope.total_messages);
        write::str(out, "memory_rss_bytes");
        write::optional_uint(out, envelope.memory_rss_bytes);
        // Before the rows, so a reader can resolve them as it reads them.
        write::str(out, "strings");
        write::array_len(out, self.strings.list.len());
        for text in &self.strings.list {
            write::str(out, text);
        }
        write::str(out, "servers");
        write::array_len(out, self.server_count as usize);
        out.extend_from_slice(&self.servers);
        write::str(out, "supervisors");
        write::array_len(out, self.supervisor_count as usize);
        out.extend_from_slice(&self.supervisors);
    }
}

/// Writes the head of a snapshot reply frame, `{type: "reply", id, body: {type:
/// "snapshot", snapshot: `, as [`crate::protocol::ServerFrame::Reply`] with
/// [`crate::protocol::ReplyBody::Snapshot`] is written: the compact snapshot follows.
#[cfg(any(feature = "server", test))]
pub(crate) fn write_snapshot_reply_head(out: &mut Vec<u8>, id: u64) {
    write::map_len(out, 3);
    write::str(out, "type");
    write::str(out, "reply");
    write::str(out, "id");
    write::uint(out, id);
    write::str(out, "body");
    write::map_len(out, 2);
    write::str(out, "type");
    write::str(out, "snapshot");
    write::str(out, "snapshot");
}

/// A server row's usual size, to reserve room by: an idle supervised server with a
/// short type name takes about 36 bytes. Room reserved and not written costs no
/// memory; a row list that outgrows it is copied whole.
const TYPICAL_SERVER_ROW: usize = 40;

/// The compact form of `snapshot`, as a reply's `snapshot` field holds it.
pub fn encode(snapshot: &Snapshot) -> Vec<u8> {
    let mut rows = RowsWriter::default();
    rows.snapshot(snapshot);
    let mut out = Vec::new();
    rows.finish(&Envelope::of(snapshot), &mut out);
    out
}

impl Envelope {
    /// The envelope of `snapshot`.
    pub fn of(snapshot: &Snapshot) -> Self {
        Envelope {
            taken_at_ms: snapshot.taken_at_ms,
            app: snapshot.app.clone(),
            os_pid: snapshot.os_pid,
            uptime_ms: snapshot.uptime_ms,
            process_count: snapshot.process_count,
            total_messages: snapshot.total_messages,
            memory_rss_bytes: snapshot.memory_rss_bytes,
        }
    }
}

/// The strings sent once, in the order they first appeared.
#[derive(Default)]
struct Strings {
    list: Vec<Box<str>>,
    index: HashMap<Box<str>, u32>,
    /// Per field, the last string interned, by address: a runtime's type names
    /// and enumeration names are static, and a row's usually are the row before's,
    /// so most lookups are a comparison rather than a hash.
    last: [Option<(usize, usize, u32)>; Field::COUNT],
    /// Their encoded size, about.
    bytes: usize,
}

/// Which field a string is, for [`Strings::last`].
#[derive(Clone, Copy)]
enum Field {
    TypeName,
    Status,
    Strategy,
    Restart,
    Kind,
}

impl Field {
    const COUNT: usize = 5;
}

impl Strings {
    fn intern(&mut self, field: Field, text: &str) -> u32 {
        let address = (text.as_ptr() as usize, text.len());
        if let Some((at, len, index)) = self.last[field as usize]
            && (at, len) == address
        {
            return index;
        }
        let index = match self.index.get(text) {
            Some(&index) => index,
            None => {
                let index = self.list.len() as u32;
                self.list.push(text.into());
                self.index.insert(text.into(), index);
                self.bytes += text.len() + 5;
                index
            }
        };
        self.last[field as usize] = Some((address.0, address.1, index));
        index
    }
}

/// MessagePack, written by hand: the rows are the hot loop of a large snapshot, and
/// these few encodings (each value in its smallest form) are all they use.
pub(crate) mod write {
    pub(crate) fn uint(out: &mut Vec<u8>, value: u64) {
        if value < 0x80 {
            out.push(value as u8);
        } else if value <= 0xff {
            out.extend_from_slice(&[0xcc, value as u8]);
        } else if value <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(value as u16).to_be_bytes());
        } else if value <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(value as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&value.to_be_bytes());
        }
    }

    pub(crate) fn optional_uint(out: &mut Vec<u8>, value: Option<u64>) {
        match value {
            Some(value) => uint(out, value),
            None => nil(out),
        }
    }

    pub(crate) fn nil(out: &mut Vec<u8>) {
        out.push(0xc0);
    }

    pub(crate) fn bool(out: &mut Vec<u8>, value: bool) {
        out.push(if value { 0xc3 } else { 0xc2 });
    }

    pub(crate) fn str(out: &mut Vec<u8>, text: &str) {
        // Longer than a frame may be if it does not fit 32 bits: the frame's limit
        // refuses it.
        let len = text.len();
        if len < 32 {
            out.push(0xa0 | len as u8);
        } else if len <= 0xff {
            out.extend_from_slice(&[0xd9, len as u8]);
        } else if len <= 0xffff {
            out.push(0xda);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            out.push(0xdb);
            out.extend_from_slice(&(len as u32).to_be_bytes());
        }
        out.extend_from_slice(text.as_bytes());
    }

    pub(crate) fn optional_str(out: &mut Vec<u8>, text: Option<&str>) {
        match text {
            Some(text) => str(out, text),
            None => nil(out),
        }
    }

    pub(crate) fn array_len(out: &mut Vec<u8>, len: usize) {
        header(out, len, 0x90, 0xdc);
    }

    pub(crate) fn map_len(out: &mut Vec<u8>, len: usize) {
        header(out, len, 0x80, 0xde);
    }

    /// A fix-, 16- or 32-bit header; `wide` is the 16-bit marker, the 32-bit one
    /// follows it.
    fn header(out: &mut Vec<u8>, len: usize, fix: u8, wide: u8) {
        if len < 16 {
            out.push(fix | len as u8);
        } else if len <= 0xffff {
            out.push(wide);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            out.push(wide + 1);
            out.extend_from_slice(&(len as u32).to_be_bytes());
        }
    }
}

#[cfg(feature = "client")]
pub use decode::deserialize_snapshot;

/// Reading a snapshot in either form.
#[cfg(feature = "client")]
mod decode;
/// Reading a compact snapshot reply by hand, the quick path.
#[cfg(feature = "client")]
pub(crate) mod read;
