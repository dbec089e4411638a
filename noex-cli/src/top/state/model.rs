//! A snapshot turned, once, into the model the panels read: one row per process with
//! its rates and identity, the supervision tree with each process's place in it, and
//! the column widths.

use std::collections::HashMap;

use noex_agent::table::TableRow;
use noex_agent::types::{Pid, ProcessTree, ServerInfo, Snapshot};

use super::tree::walk_paths;
use super::window::WINDOW_ABOVE;
use super::{App, NodeKey, Warnings};
use crate::render::table::ProcessRow;

/// Which process a row is, across restarts: a supervised child keeps its supervisor
/// and child id when it gets a new pid.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Identity {
    Child { parent: Pid, id: String },
    Named(String),
    Pid(Pid),
}

/// One process of the table: the same fields as a `noex ps` row, plus what only a
/// live view knows.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub process: ProcessRow<'static>,
    /// Registered name, else child id, else `-`.
    pub label: String,
    /// Messages per second since the previous snapshot; `None` for a supervisor or a
    /// process seen once.
    pub rate: Option<f64>,
    /// Share of the time between two snapshots spent in handlers, 0 to 100.
    pub busy_pct: Option<f64>,
    pub warnings: Warnings,
    pub identity: Identity,
    /// Lowercase text the filter matches: label, pid, type, status, child id, state.
    pub(super) search: String,
}

impl Row {
    pub fn pid(&self) -> Pid {
        Pid(self.process.pid)
    }

    pub fn is_supervisor(&self) -> bool {
        self.process.kind == "supervisor"
    }
}

/// What was derived from the latest snapshot.
#[derive(Clone, Debug)]
pub struct Model {
    pub snapshot: Snapshot,
    /// Every process, system ones included, in pid order.
    pub rows: Vec<Row>,
    pub by_pid: HashMap<Pid, usize>,
    pub tree: ProcessTree,
    /// Where each live process sits in the tree.
    pub tree_paths: HashMap<Pid, Vec<NodeKey>>,
    /// Messages per second of the app's own (not system) servers.
    pub app_rate: Option<f64>,
    /// The widest pid and status texts, so table columns do not jump as it scrolls.
    pub pid_width: usize,
    pub status_width: usize,
    /// The longest label, so the name column is as wide as it needs (within limits).
    pub label_width: usize,
}

impl App {
    /// Take in a new whole snapshot: rates, histories, warnings, rows, tree.
    pub fn ingest(&mut self, snapshot: Snapshot) {
        if snapshot.process_count > WINDOW_ABOVE {
            // Too many to ask for all of them every refresh.
            self.windowing.ask = true;
        }
        self.window = None;
        self.take_in(snapshot, None, None);
    }

    /// Take in `snapshot`, whole or a window's. A window comes with its rates (`given`,
    /// by pid, and `given_app_rate`); a whole snapshot's are worked out against the
    /// previous one.
    pub(super) fn take_in(
        &mut self,
        snapshot: Snapshot,
        given: Option<&HashMap<Pid, TableRow>>,
        given_app_rate: Option<f64>,
    ) {
        let before = self.remember_selection();
        self.crash_loops.saw_time(snapshot.taken_at_ms);

        let previous = self.model.take();
        let dt_ms = previous
            .as_ref()
            .map(|m| snapshot.taken_at_ms.saturating_sub(m.snapshot.taken_at_ms))
            .filter(|dt| *dt > 0);
        let counters: HashMap<Pid, (u64, u64)> = previous
            .as_ref()
            .filter(|_| given.is_none())
            .map(|m| {
                m.snapshot
                    .servers
                    .iter()
                    .map(|s| (s.pid, (s.messages, s.busy_ns)))
                    .collect()
            })
            .unwrap_or_default();
        drop(previous);

        let at = snapshot.taken_at_ms;
        let mut rows = Vec::with_capacity(snapshot.servers.len() + snapshot.supervisors.len());
        let mut app_rate = match given {
            Some(_) => given_app_rate,
            None => dt_ms.map(|_| 0.0),
        };
        for server in &snapshot.servers {
            let (rate, busy_pct) = match given {
                Some(given) => given
                    .get(&server.pid)
                    .map_or((None, None), |row| (row.rate, row.busy_pct)),
                None => dt_ms
                    .zip(counters.get(&server.pid))
                    .map(|(dt, &(messages, busy))| rates(server, messages, busy, dt))
                    .unzip(),
            };
            if let (None, Some(total), Some(rate), false) =
                (given, app_rate.as_mut(), rate, server.system)
            {
                *total += rate;
            }
            rows.push(new_row(
                ProcessRow::from_server(server, at).into_owned(),
                rate,
                busy_pct,
            ));
        }
        for supervisor in &snapshot.supervisors {
            rows.push(new_row(
                ProcessRow::from_supervisor(supervisor, at).into_owned(),
                None,
                None,
            ));
        }
        rows.sort_unstable_by_key(|r| r.process.pid);
        assign_identities(&mut rows);
        self.track(&snapshot, &mut rows, app_rate);

        let by_pid = rows.iter().enumerate().map(|(i, r)| (r.pid(), i)).collect();
        let tree = ProcessTree::from_snapshot(&snapshot);
        let mut tree_paths = HashMap::with_capacity(rows.len());
        let mut supervisors = Vec::new();
        walk_paths(
            &tree.roots,
            &mut Vec::new(),
            &mut tree_paths,
            &mut supervisors,
        );
        let pid_width = rows.last().map_or(6, |r| r.pid().to_string().len());
        let status_width = rows
            .iter()
            .map(|r| r.process.status.as_str().len())
            .max()
            .unwrap_or(7);
        let label_width = rows
            .iter()
            .map(|r| r.label.chars().count())
            .max()
            .unwrap_or(4);
        self.model = Some(Model {
            snapshot,
            rows,
            by_pid,
            tree,
            tree_paths,
            app_rate,
            pid_width,
            status_width,
            label_width,
        });

        self.open_supervisors(&supervisors);
        // The old view's indices point into the old rows.
        self.visible.clear();
        if self.window.is_some() {
            self.show_window();
        } else {
            self.refilter();
        }
        self.restore_selection(before);
    }
}

/// `worker-1 <0.23>`, or `<0.23>` for a process with neither name nor child id.
pub fn describe(row: &Row) -> String {
    if row.label == "-" {
        row.pid().to_string()
    } else {
        format!("{} {}", row.label, row.pid())
    }
}

/// Messages per second and busy percent since the previous snapshot's counters.
fn rates(server: &ServerInfo, messages: u64, busy_ns: u64, dt_ms: u64) -> (f64, f64) {
    let dt = dt_ms as f64;
    let rate = server.messages.saturating_sub(messages) as f64 * 1_000.0 / dt;
    let busy = server.busy_ns.saturating_sub(busy_ns) as f64 / (dt * 1_000_000.0) * 100.0;
    (rate, busy.min(100.0))
}

fn new_row(process: ProcessRow<'static>, rate: Option<f64>, busy_pct: Option<f64>) -> Row {
    let label = process.label().unwrap_or("-").to_string();
    let search = format!(
        "{} <0.{}> {} {} {} {}",
        label,
        process.pid,
        process.type_name.as_deref().unwrap_or("supervisor"),
        process.status,
        process.child_id.as_deref().unwrap_or(""),
        process.state.as_deref().unwrap_or(""),
    )
    .to_lowercase();
    let identity = Identity::Pid(Pid(process.pid));
    Row {
        process,
        label,
        rate,
        busy_pct,
        warnings: Warnings::default(),
        identity,
        search,
    }
}

/// A supervised child is known by its supervisor and child id; a registered process by
/// its name; anything else (or a label two processes share) by its pid.
fn assign_identities(rows: &mut [Row]) {
    let identity = |p: &ProcessRow| match (&p.child_id, p.parent, &p.name) {
        (Some(id), Some(parent), _) => Identity::Child {
            parent: Pid(parent),
            id: id.to_string(),
        },
        (_, _, Some(name)) => Identity::Named(name.to_string()),
        _ => Identity::Pid(Pid(p.pid)),
    };
    let mut seen: HashMap<Identity, usize> = HashMap::with_capacity(rows.len());
    for row in rows.iter() {
        *seen.entry(identity(&row.process)).or_default() += 1;
    }
    for row in rows.iter_mut() {
        let candidate = identity(&row.process);
        if seen.get(&candidate) == Some(&1) {
            row.identity = candidate;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Layout, Theme};
    use crate::render::fixtures::{self, NOW_MS};
    use crate::top::testing::{CACHE, row};

    #[test]
    fn rates_use_the_snapshots_clock_not_ours() {
        let mut app = App::new(Layout::Full, Theme::Dark, false);
        let mut first = fixtures::snapshot();
        first.taken_at_ms = NOW_MS - 4_000;
        let mut second = fixtures::snapshot();
        for server in &mut second.servers {
            if server.pid == CACHE {
                server.messages += 2_000;
                server.busy_ns += 1_000_000_000;
            }
        }
        app.ingest(first);
        assert_eq!(row(&app, CACHE).rate, None, "one snapshot has no rate");
        app.ingest(second);
        // 2000 messages over the 4 s between the snapshots' taken_at_ms.
        assert_eq!(row(&app, CACHE).rate, Some(500.0));
        assert_eq!(row(&app, CACHE).busy_pct, Some(25.0));
        assert_eq!(row(&app, Pid(7)).rate, Some(0.0));
        assert_eq!(
            row(&app, Pid(1)).rate,
            None,
            "supervisors handle no messages"
        );
    }

    #[test]
    fn a_snapshot_with_the_same_time_gives_no_rate() {
        let mut app = App::new(Layout::Full, Theme::Dark, false);
        app.ingest(fixtures::snapshot());
        app.ingest(fixtures::snapshot());
        assert_eq!(row(&app, CACHE).rate, None);
        assert_eq!(app.model.as_ref().unwrap().app_rate, None);
    }

    #[test]
    fn duplicate_child_ids_fall_back_to_pids() {
        let mut rows = vec![
            new_row(
                ProcessRow::from_server(&fixtures::worker(5, None, Some("session"), Some(9)), 0)
                    .into_owned(),
                None,
                None,
            ),
            new_row(
                ProcessRow::from_server(&fixtures::worker(6, None, Some("session"), Some(9)), 0)
                    .into_owned(),
                None,
                None,
            ),
            new_row(
                ProcessRow::from_server(&fixtures::worker(7, None, Some("solo"), Some(9)), 0)
                    .into_owned(),
                None,
                None,
            ),
        ];
        assign_identities(&mut rows);
        assert_eq!(rows[0].identity, Identity::Pid(Pid(5)));
        assert_eq!(rows[1].identity, Identity::Pid(Pid(6)));
        assert_eq!(
            rows[2].identity,
            Identity::Child {
                parent: Pid(9),
                id: "solo".into()
            }
        );
    }
}
