//! Tables: the process table of `noex ps` and the application table of `noex list`.
//!
//! A [`ProcessRow`] is one process flattened for display, with the same fields whether
//! it is printed as a column or as JSON; the dashboard builds its stats table from the
//! same rows, so a column means the same thing everywhere.
//!
//! Tables are plain aligned columns with no borders (like `ps`), coloured only when the
//! style says so; comfy-table measures widths before colouring, so alignment holds.

use std::borrow::Cow;
use std::cmp::{Ordering, Reverse};
use std::io::IsTerminal;
use std::sync::Arc;

use comfy_table::{Attribute, Cell, CellAlignment, Table, presets};
use noex_agent::types::{Pid, ProcessStatus, ServerInfo, Snapshot, Strategy, SupervisorInfo};
use serde::{Deserialize, Serialize};

use super::format;
use super::pid_number;
use super::style::{Role, Style, status_role};
use crate::cli::SortKey;

/// A column: its header, and whether it holds numbers (right-aligned) or text.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    pub header: &'static str,
    pub numeric: bool,
}

impl Column {
    const fn number(header: &'static str) -> Column {
        Column {
            header,
            numeric: true,
        }
    }

    const fn text(header: &'static str) -> Column {
        Column {
            header,
            numeric: false,
        }
    }
}

/// The columns of `noex ps`. NAME is the registered name, else the child id; TYPE the
/// worker's Rust type or `supervisor`; STATE what the process says it is doing (a
/// state machine's state); MSGS and QUEUE humanised counts; RESTARTS how many times
/// the process was restarted; BUSY total handler time; UPTIME the age of this
/// instance.
pub const PS_COLUMNS: [Column; 12] = [
    Column::number("PID"),
    Column::text("NAME"),
    Column::text("TYPE"),
    Column::number("PARENT"),
    Column::text("STATUS"),
    Column::text("STATE"),
    Column::number("MSGS"),
    Column::number("QUEUE"),
    Column::number("RESTARTS"),
    Column::number("BUSY"),
    Column::number("UPTIME"),
    Column::text("LAST ERROR"),
];

/// The columns of `noex list`.
pub const LIST_COLUMNS: [Column; 8] = [
    Column::number("PID"),
    Column::text("APP"),
    Column::number("UPTIME"),
    Column::number("PROCS"),
    Column::number("MSGS"),
    Column::number("MEMORY"),
    Column::text("NOEX"),
    Column::text("NOTE"),
];

/// How much of a last error fits in the table.
const LAST_ERROR_WIDTH: usize = 40;
/// How much of a process's state fits in the table (the dashboard's details show it
/// whole): room for a store bucket's figures (`bucket orders: 1,234 records,
/// 56.0 KiB, 12 ops/s, 2 subscribers`), cut between figures beyond that.
const STATE_WIDTH: usize = 66;

/// One process of `noex ps`, a GenServer (`kind: "worker"`) or a supervisor. Its JSON
/// form is documented field by field in README.md ("JSON output"); add fields, never rename.
///
/// Its texts are borrowed from the snapshot it was read from (`noex ps` lists a
/// million processes without copying their names); [`ProcessRow::into_owned`] keeps
/// one past it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProcessRow<'a> {
    pub pid: u64,
    pub name: Option<Cow<'a, str>>,
    pub child_id: Option<Cow<'a, str>>,
    pub parent: Option<u64>,
    /// `"worker"` or `"supervisor"`.
    pub kind: &'static str,
    /// The Rust type of a worker; `None` for a supervisor.
    pub type_name: Option<Arc<str>>,
    /// A supervisor's restart strategy; `None` for a worker.
    pub strategy: Option<Strategy>,
    pub status: ProcessStatus,
    /// Messages handled; `None` for a supervisor (it has no mailbox counters).
    pub messages: Option<u64>,
    pub queue_len: Option<u64>,
    /// How many times this process has been restarted by its supervisor.
    pub restarts: u32,
    /// For a supervisor: restarts it has performed on its children.
    pub child_restarts: Option<u32>,
    pub busy_ns: Option<u64>,
    pub handler_running_ns: Option<u64>,
    pub started_at_ms: u64,
    pub uptime_ms: u64,
    pub last_error: Option<Cow<'a, str>>,
    pub system: bool,
    /// What the process says it is doing (a state machine's state); left out of the
    /// JSON when it says nothing, as an agent older than protocol 2.3 never does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<Cow<'a, str>>,
}

impl<'a> ProcessRow<'a> {
    pub fn from_server(server: &'a ServerInfo, taken_at_ms: u64) -> Self {
        ProcessRow {
            pid: pid_number(server.pid),
            name: server.name.as_deref().map(Cow::Borrowed),
            child_id: server.child_id.as_deref().map(Cow::Borrowed),
            parent: server.parent.map(pid_number),
            kind: "worker",
            type_name: Some(server.type_name.clone()),
            strategy: None,
            status: server.status,
            messages: Some(server.messages),
            queue_len: Some(server.queue_len),
            restarts: server.restarts,
            child_restarts: None,
            busy_ns: Some(server.busy_ns),
            handler_running_ns: server.handler_running_ns,
            started_at_ms: server.started_at_ms,
            uptime_ms: taken_at_ms.saturating_sub(server.started_at_ms),
            last_error: server.last_error.as_deref().map(Cow::Borrowed),
            system: server.system,
            state: server.state.as_deref().map(Cow::Borrowed),
        }
    }

    pub fn from_supervisor(supervisor: &'a SupervisorInfo, taken_at_ms: u64) -> Self {
        ProcessRow {
            pid: pid_number(supervisor.pid),
            name: supervisor.name.as_deref().map(Cow::Borrowed),
            child_id: supervisor.child_id.as_deref().map(Cow::Borrowed),
            parent: supervisor.parent.map(pid_number),
            kind: "supervisor",
            type_name: None,
            strategy: Some(supervisor.strategy),
            status: supervisor.status,
            messages: None,
            queue_len: None,
            restarts: supervisor.restarts,
            child_restarts: Some(supervisor.child_restarts),
            busy_ns: None,
            handler_running_ns: None,
            started_at_ms: supervisor.started_at_ms,
            uptime_ms: taken_at_ms.saturating_sub(supervisor.started_at_ms),
            last_error: supervisor.last_error.as_deref().map(Cow::Borrowed),
            system: supervisor.system,
            state: None,
        }
    }

    /// Registered name, else child id.
    pub fn label(&self) -> Option<&str> {
        self.name.as_deref().or(self.child_id.as_deref())
    }

    /// The row with its texts its own, to keep past the snapshot.
    pub fn into_owned(self) -> ProcessRow<'static> {
        let own = |text: Option<Cow<'_, str>>| text.map(|text| Cow::Owned(text.into_owned()));
        ProcessRow {
            name: own(self.name),
            child_id: own(self.child_id),
            last_error: own(self.last_error),
            state: own(self.state),
            ..self
        }
    }
}

/// The rows of `noex ps`: every server and supervisor of the snapshot (system ones only
/// with `all`), sorted by `sort`; ties keep pid order.
pub fn process_rows(snapshot: &Snapshot, all: bool, sort: SortKey) -> Vec<ProcessRow<'_>> {
    let at = snapshot.taken_at_ms;
    let mut rows: Vec<ProcessRow> = snapshot
        .servers
        .iter()
        .map(|s| ProcessRow::from_server(s, at))
        .chain(
            snapshot
                .supervisors
                .iter()
                .map(|s| ProcessRow::from_supervisor(s, at)),
        )
        .filter(|row| all || !row.system)
        .collect();
    rows.sort_by_key(|row| row.pid);
    sort_rows(&mut rows, sort);
    rows
}

/// Sort stably: counters largest first, names alphabetical (unnamed last), status by its
/// text.
pub fn sort_rows(rows: &mut [ProcessRow], sort: SortKey) {
    rows.sort_by(|a, b| compare_rows(a, b, sort));
}

/// The order of `noex ps --sort`: counters largest first, names alphabetical (unnamed
/// last), status by its text, pids ascending. Equal rows compare equal, so a stable
/// sort keeps their earlier order.
pub fn compare_rows(a: &ProcessRow, b: &ProcessRow, sort: SortKey) -> Ordering {
    match sort {
        SortKey::Pid => a.pid.cmp(&b.pid),
        SortKey::Name => (a.label().is_none(), a.label()).cmp(&(b.label().is_none(), b.label())),
        SortKey::Messages => Reverse(a.messages).cmp(&Reverse(b.messages)),
        SortKey::Queue => Reverse(a.queue_len).cmp(&Reverse(b.queue_len)),
        SortKey::Restarts => Reverse(a.restarts).cmp(&Reverse(b.restarts)),
        SortKey::Busy => Reverse(a.busy_ns).cmp(&Reverse(b.busy_ns)),
        SortKey::Status => a.status.as_str().cmp(b.status.as_str()),
    }
}

/// The `noex ps` table.
pub fn process_table(rows: &[ProcessRow], style: Style) -> String {
    let mut table = plain_table(style);
    set_header(&mut table, &PS_COLUMNS, style);
    for row in rows {
        table.add_row(process_cells(row, style));
    }
    finish(table, &PS_COLUMNS)
}

/// The `noex ps --all-agents` table: the `noex ps` columns after an APP column
/// (`noex-demo:4242`, the application's name and OS pid).
pub fn fleet_process_table<'r>(
    first: &'static str,
    rows: impl IntoIterator<Item = (&'r str, &'r ProcessRow<'r>)>,
    style: Style,
) -> String {
    let columns: Vec<Column> = std::iter::once(Column::text(first))
        .chain(PS_COLUMNS)
        .collect();
    let mut table = plain_table(style);
    set_header(&mut table, &columns, style);
    for (app, row) in rows {
        let mut cells = vec![Cell::new(app)];
        cells.extend(process_cells(row, style));
        table.add_row(cells);
    }
    finish(table, &columns)
}

/// One row's cells, in [`PS_COLUMNS`] order.
fn process_cells(row: &ProcessRow, style: Style) -> Vec<Cell> {
    let dash = || "-".to_string();
    let kind = row.type_name.as_deref().unwrap_or("supervisor");
    let queue = row.queue_len.unwrap_or(0);
    vec![
        Cell::new(pid_text(row.pid)),
        Cell::new(row.label().map_or_else(dash, str::to_string)),
        Cell::new(kind),
        Cell::new(row.parent.map(pid_text).unwrap_or_else(dash)),
        coloured(Cell::new(row.status), style, status_role(row.status)),
        Cell::new(row.state.as_deref().map_or_else(dash, |state| {
            format::truncate_between_pieces(state, STATE_WIDTH)
        })),
        Cell::new(row.messages.map(format::count).unwrap_or_else(dash)),
        coloured(
            Cell::new(row.queue_len.map(format::count).unwrap_or_else(dash)),
            style,
            (queue >= 100).then_some(Role::Warn),
        ),
        coloured(
            Cell::new(row.restarts),
            style,
            (row.restarts > 0).then_some(Role::Warn),
        ),
        Cell::new(row.busy_ns.map(format::duration_ns).unwrap_or_else(dash)),
        Cell::new(format::duration_ms(row.uptime_ms)),
        coloured(
            Cell::new(
                row.last_error
                    .as_deref()
                    .map(|e| format::truncate(e, LAST_ERROR_WIDTH))
                    .unwrap_or_default(),
            ),
            style,
            Some(Role::Bad),
        ),
    ]
}

/// The `noex ps --json` document: an array of rows, indented for a person to read.
pub fn process_json(rows: &[ProcessRow]) -> String {
    serde_json::to_string_pretty(rows).expect("rows serialise") + "\n"
}

/// Rows of several applications or nodes as JSON: pretty on a terminal, one row a
/// line into a pipe (as `noex ps --json` writes there).
pub fn rows_json<T: Serialize>(rows: &[T]) -> String {
    if std::io::stdout().is_terminal() {
        return serde_json::to_string_pretty(rows).expect("rows serialise") + "\n";
    }
    let lines: Vec<String> = rows
        .iter()
        .map(|row| serde_json::to_string(row).expect("row serialises"))
        .collect();
    if lines.is_empty() {
        "[]\n".to_string()
    } else {
        format!("[\n{}\n]\n", lines.join(",\n"))
    }
}

/// One application of `noex list`. An agent that did not answer has only `pid`,
/// `socket`, `reachable: false` and `error`.
/// Deserialize: `noex list --host` reads the rows the remote `noex list --json` wrote.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AppRow {
    /// The OS process id.
    pub pid: u32,
    pub socket: String,
    pub reachable: bool,
    pub app: Option<String>,
    pub noex_version: Option<String>,
    pub protocol_version: Option<String>,
    pub read_only: Option<bool>,
    pub started_at_ms: Option<u64>,
    pub uptime_ms: Option<u64>,
    /// Processes `noex ps` shows (system ones left out).
    pub processes: Option<u64>,
    /// Every process, system ones included.
    pub processes_all: Option<u64>,
    pub total_messages: Option<u64>,
    pub memory_rss_bytes: Option<u64>,
    /// Why the agent could not be asked, for an unreachable one.
    pub error: Option<String>,
}

impl AppRow {
    /// An application known only by its socket, until its agent answers.
    pub fn unreached(pid: u32, socket: impl Into<String>) -> AppRow {
        AppRow {
            pid,
            socket: socket.into(),
            reachable: false,
            app: None,
            noex_version: None,
            protocol_version: None,
            read_only: None,
            started_at_ms: None,
            uptime_ms: None,
            processes: None,
            processes_all: None,
            total_messages: None,
            memory_rss_bytes: None,
            error: None,
        }
    }
}

/// The `noex list` table. An agent that did not answer keeps its row, with dashes and
/// the reason in the last column.
pub fn app_table(rows: &[AppRow], style: Style) -> String {
    let mut table = plain_table(style);
    set_header(&mut table, &LIST_COLUMNS, style);
    for row in rows {
        let dash = || "-".to_string();
        let note = match (&row.error, row.reachable, row.read_only) {
            (Some(error), false, _) => coloured(
                Cell::new(format!("unreachable: {error}")),
                style,
                Some(Role::Bad),
            ),
            (Some(error), true, _) => coloured(Cell::new(error), style, Some(Role::Warn)),
            (None, _, Some(true)) => Cell::new("read-only"),
            (None, _, _) => Cell::new(""),
        };
        table.add_row(vec![
            Cell::new(row.pid),
            Cell::new(row.app.clone().unwrap_or_else(dash)),
            Cell::new(row.uptime_ms.map(format::duration_ms).unwrap_or_else(dash)),
            Cell::new(row.processes.map(format::count).unwrap_or_else(dash)),
            Cell::new(row.total_messages.map(format::count).unwrap_or_else(dash)),
            Cell::new(row.memory_rss_bytes.map(format::bytes).unwrap_or_else(dash)),
            Cell::new(row.noex_version.clone().unwrap_or_else(dash)),
            note,
        ]);
    }
    finish(table, &LIST_COLUMNS)
}

/// The `noex list --json` document: an array of applications.
pub fn app_json(rows: &[AppRow]) -> String {
    serde_json::to_string_pretty(rows).expect("rows serialise") + "\n"
}

/// The applications to choose from when several run: `PID  APP`, indented to sit under
/// an error line. `None` is an agent that did not answer.
pub fn choice_table(agents: &[(u32, Option<String>)]) -> String {
    choices(Column::number("PID"), agents)
}

/// The nodes of a cluster to choose from, as [`choice_table`] lists applications.
pub fn node_choice_table(nodes: &[(String, Option<String>)]) -> String {
    choices(Column::text("NODE"), nodes)
}

fn choices<K: std::fmt::Display>(key: Column, rows: &[(K, Option<String>)]) -> String {
    let columns = [key, Column::text("APP")];
    let mut table = plain_table(Style::PLAIN);
    set_header(&mut table, &columns, Style::PLAIN);
    for (key, app) in rows {
        let app = app.clone().unwrap_or_else(|| "(not answering)".to_string());
        table.add_row(vec![Cell::new(key), Cell::new(app)]);
    }
    finish(table, &columns)
        .lines()
        .map(|line| format!("  {line}\n"))
        .collect()
}

fn pid_text(pid: u64) -> String {
    Pid(pid).to_string()
}

/// No borders, two spaces between columns, no terminal-width guessing: the same bytes
/// on a terminal and in a pipe, apart from colour.
fn plain_table(style: Style) -> Table {
    let mut table = Table::new();
    table.load_preset(presets::NOTHING);
    table.force_no_tty();
    if style.is_coloured() {
        table.enforce_styling();
    }
    table
}

fn set_header(table: &mut Table, columns: &[Column], style: Style) {
    table.set_header(columns.iter().map(|column| {
        let cell = Cell::new(column.header);
        if style.is_coloured() {
            cell.add_attribute(Attribute::Bold)
        } else {
            cell
        }
    }));
}

fn coloured(cell: Cell, style: Style, role: Option<Role>) -> Cell {
    match role.and_then(|role| style.cell_colour(role)) {
        Some(colour) => cell.fg(colour),
        None => cell,
    }
}

/// Numbers right-aligned, two spaces between columns, none at the edges, no trailing
/// blanks.
fn finish(mut table: Table, columns: &[Column]) -> String {
    let last = table.column_count().saturating_sub(1);
    for (index, column) in table.column_iter_mut().enumerate() {
        column.set_padding((0, if index == last { 0 } else { 2 }));
        if columns.get(index).is_some_and(|c| c.numeric) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    let mut text = String::new();
    for line in table.lines() {
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::fixtures;

    #[test]
    fn ps_table_hides_system_processes_and_sorts_by_pid() {
        let snapshot = fixtures::snapshot();
        let rows = process_rows(&snapshot, false, SortKey::Pid);
        assert!(rows.iter().all(|r| !r.system));
        crate::render::snapshot!("ps_table", process_table(&rows, Style::PLAIN));
    }

    #[test]
    fn ps_table_with_all_includes_system_processes() {
        let snapshot = fixtures::snapshot();
        let rows = process_rows(&snapshot, true, SortKey::Pid);
        assert!(rows.iter().any(|r| r.system));
        crate::render::snapshot!("ps_table_all", process_table(&rows, Style::PLAIN));
    }

    #[test]
    fn ps_json() {
        let snapshot = fixtures::snapshot();
        let rows = process_rows(&snapshot, false, SortKey::Pid);
        crate::render::snapshot!("ps_json", process_json(&rows));
    }

    /// A store bucket says its figures, then (`; `) its pending sampling timer: the
    /// table shows every figure and cuts only what follows them.
    #[test]
    fn ps_table_shows_a_buckets_figures_whole_and_cuts_between_parts() {
        let mut snapshot = fixtures::snapshot();
        let limiter = snapshot.servers.iter_mut().find(|s| s.pid.0 == 4).unwrap();
        limiter.state = Some(
            "bucket orders: 1,234 records, 56.0 KiB, 12 ops/s, 2 subscribers; 1 timer, next in 640 ms"
                .into(),
        );
        let rows = process_rows(&snapshot, false, SortKey::Pid);
        let table = process_table(&rows, Style::PLAIN);
        let row = table.lines().find(|l| l.contains("limiter")).unwrap();
        assert!(
            row.contains("  bucket orders: 1,234 records, 56.0 KiB, 12 ops/s, 2 subscribers; …  "),
            "{row}"
        );
    }

    #[test]
    fn counters_sort_largest_first_and_ties_keep_pid_order() {
        let pids = |sort| -> Vec<u64> {
            process_rows(&fixtures::snapshot(), false, sort)
                .iter()
                .map(|r| r.pid)
                .collect()
        };
        assert_eq!(pids(SortKey::Messages), [2, 4, 6, 23, 7, 1, 3]);
        assert_eq!(pids(SortKey::Queue), [6, 4, 2, 7, 23, 1, 3]);
        assert_eq!(pids(SortKey::Restarts)[0], 23);
        assert_eq!(pids(SortKey::Busy), [6, 2, 4, 23, 7, 1, 3]);
        assert_eq!(pids(SortKey::Name), [1, 2, 7, 4, 23, 6, 3]);
        assert_eq!(pids(SortKey::Status), [1, 2, 3, 4, 7, 23, 6]);
    }

    #[test]
    fn coloured_table_has_the_same_text_and_alignment() {
        let snapshot = fixtures::snapshot();
        let rows = process_rows(&snapshot, false, SortKey::Pid);
        let coloured = process_table(&rows, Style::COLOURED);
        assert!(coloured.contains('\u{1b}'));
        let stripped: String = strip_ansi(&coloured)
            .lines()
            .map(|line| line.trim_end().to_string() + "\n")
            .collect();
        assert_eq!(stripped, process_table(&rows, Style::PLAIN));
    }

    /// The text of `s` without its `ESC [ ... m` colour sequences.
    fn strip_ansi(s: &str) -> String {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                for c in chars.by_ref() {
                    if c == 'm' {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    fn app_rows() -> Vec<AppRow> {
        vec![
            AppRow {
                pid: 4242,
                socket: "/run/user/1000/noex/4242.sock".into(),
                reachable: true,
                app: Some("demo".into()),
                noex_version: Some("0.1.0".into()),
                protocol_version: Some("1.0".into()),
                read_only: Some(false),
                started_at_ms: Some(fixtures::NOW_MS - 3_725_000),
                uptime_ms: Some(3_725_000),
                processes: Some(7),
                processes_all: Some(9),
                total_messages: Some(1_240_181),
                memory_rss_bytes: Some(50_541_363),
                error: None,
            },
            AppRow {
                pid: 4300,
                socket: "/run/user/1000/noex/4300.sock".into(),
                reachable: true,
                app: Some("billing".into()),
                noex_version: Some("0.1.0".into()),
                protocol_version: Some("1.0".into()),
                read_only: Some(true),
                started_at_ms: Some(fixtures::NOW_MS - 93_600_000 * 2),
                uptime_ms: Some(93_600_000 * 2),
                processes: Some(12_045),
                processes_all: Some(12_050),
                total_messages: Some(98_765_432_100),
                memory_rss_bytes: Some(1_181_116_006),
                error: None,
            },
            AppRow {
                error: Some("timed out after 2s".into()),
                ..AppRow::unreached(5150, "/run/user/1000/noex/5150.sock")
            },
        ]
    }

    #[test]
    fn choice_table_aligns_pids() {
        let text = choice_table(&[(1, Some("other".into())), (19_563, None)]);
        assert_eq!(
            text,
            "    PID  APP\n      1  other\n  19563  (not answering)\n"
        );
    }

    #[test]
    fn list_table() {
        crate::render::snapshot!("list_table", app_table(&app_rows(), Style::PLAIN));
    }

    #[test]
    fn list_json() {
        crate::render::snapshot!("list_json", app_json(&app_rows()));
    }
}
