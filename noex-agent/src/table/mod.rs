//! The process table, cut by the agent: every process sorted and filtered in the
//! application, and only the rows a client shows sent over the socket, with counts over
//! all of them and rates since the agent's previous table (since 2.1).
//!
//! A dashboard watching a million processes draws forty rows: asking for a whole
//! snapshot every second would cost the application hundreds of megabytes of encoding
//! and the client as much of decoding, for rows nobody sees.

#[cfg(feature = "client")]
use serde::Deserialize;
#[cfg(feature = "protocol")]
use serde::Serialize;

use crate::types::{Pid, Snapshot};

/// The most rows one table reply carries, whatever the client asks.
pub const MAX_TABLE_ROWS: u32 = 1_000;
/// The longest filter the agent matches with; longer ones are cut to it.
pub const MAX_FILTER_BYTES: usize = 256;
/// A handler running longer than this is stuck (as the dashboard says).
pub const STUCK_NS: u64 = 1_000_000_000;

/// What the table is sorted by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "protocol", derive(Serialize, serde::Deserialize))]
#[cfg_attr(feature = "protocol", serde(rename_all = "snake_case"))]
pub enum TableSort {
    /// Pid order, the order processes started in.
    #[default]
    Pid,
    /// Registered name, else child id; processes with neither last.
    Name,
    /// Status by its wire name.
    Status,
    /// Messages per second since the agent's previous table; unknown lowest.
    Rate,
    /// Messages waiting.
    Queue,
    /// Restarts by its supervisor.
    Restarts,
    /// Share of time in handlers since the previous table; unknown lowest.
    Busy,
    /// Time since the instance started.
    Uptime,
    /// A stuck handler, then a growing queue.
    Warnings,
    /// A sort this agent does not know (sent by a newer client): pid order.
    #[cfg_attr(feature = "protocol", serde(other))]
    Unknown,
}

/// Which rows of the table a client wants. Every field may be left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "protocol", derive(Serialize, serde::Deserialize))]
#[cfg_attr(feature = "protocol", serde(default))]
pub struct TableQuery {
    /// The sort column.
    pub sort: TableSort,
    /// Largest first; ties are always in pid order.
    pub descending: bool,
    /// Keep rows whose name, child id, pid (`<0.42>`), type, status or state (since
    /// 2.3) contains this, ignoring case; empty keeps every row. Cut to
    /// [`MAX_FILTER_BYTES`].
    pub filter: String,
    /// Include noex's own processes.
    pub system: bool,
    /// The first row wanted, counted in the sorted, filtered table.
    pub offset: u64,
    /// How many rows, at most [`MAX_TABLE_ROWS`].
    pub limit: u32,
    /// Move the window so it holds this process, if it is in the table: keeps a
    /// selected row in view while the order changes under it.
    pub around: Option<Pid>,
}

/// One row of the window: which process, and what only the agent can work out.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "protocol", derive(Serialize))]
#[cfg_attr(feature = "client", derive(Deserialize))]
pub struct TableRow {
    /// The process; its details are in the reply's snapshot.
    pub pid: Pid,
    /// Messages per second since the previous table; `None` for a supervisor or a
    /// process the previous table did not see.
    #[cfg_attr(feature = "protocol", serde(default))]
    pub rate: Option<f64>,
    /// Share of the time since the previous table spent in handlers, 0 to 100.
    #[cfg_attr(feature = "protocol", serde(default))]
    pub busy_pct: Option<f64>,
    /// The queue is longer than at the previous table.
    #[cfg_attr(feature = "protocol", serde(default))]
    pub queue_growing: bool,
}

/// How many children a supervisor of the reply has in all (its `children` list in the
/// reply holds only those in the window).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "protocol", derive(Serialize))]
#[cfg_attr(feature = "client", derive(Deserialize))]
pub struct ChildCount {
    /// The supervisor.
    pub pid: Pid,
    /// All of its children, running or not.
    pub children: u64,
}

/// The answer to `table`.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "protocol", derive(Serialize))]
#[cfg_attr(feature = "client", derive(Deserialize))]
pub struct TableView {
    /// The application's figures (`process_count`, `total_messages`, memory) as in a
    /// whole snapshot, but `servers` and `supervisors` hold only the window's processes
    /// and the supervisors above them, whose `children` hold only those.
    pub snapshot: Snapshot,
    /// The window, in table order.
    pub rows: Vec<TableRow>,
    /// Where the window starts in the table (moved to hold `around`, and kept inside
    /// the table).
    pub offset: u64,
    /// Rows that pass the filter: the table's length.
    pub matched: u64,
    /// Processes counted before the filter, system ones only when asked for.
    pub processes: u64,
    /// System processes left out (the query did not ask for them).
    pub hidden_system: u64,
    /// Processes whose handler has run longer than [`STUCK_NS`].
    pub stuck: u64,
    /// Processes whose queue grew since the previous table.
    pub queues_growing: u64,
    /// Time since the agent's previous table (for any client), the base of the rates; `None` the
    /// first time.
    #[cfg_attr(feature = "protocol", serde(default))]
    pub interval_ms: Option<u64>,
    /// Messages per second of the application's own servers (not system ones).
    #[cfg_attr(feature = "protocol", serde(default))]
    pub app_rate: Option<f64>,
    /// The full child count of every supervisor in the reply.
    #[cfg_attr(feature = "protocol", serde(default))]
    pub child_counts: Vec<ChildCount>,
}

impl TableQuery {
    /// Whether the rows' names, child ids and types are needed: to sort by name or to
    /// filter. Without them, a source may leave labels out, which saves a lock and a
    /// copy per process.
    pub fn needs_labels(&self) -> bool {
        self.sort == TableSort::Name || !self.filter.trim().is_empty()
    }
}

#[cfg(feature = "server")]
pub use build::{TableEntry, TableMemory, build_table, cut_table};

#[cfg(feature = "server")]
mod build;

#[cfg(all(test, feature = "server"))]
mod tests;
