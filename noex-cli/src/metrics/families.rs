//! What the metrics say: the families built from the snapshots of one scrape, with
//! the cap on per-process series.
//!
//! Only the application's own processes count: noex's system processes (the agent and
//! its connections) come and go with every scrape. A process's `name` label is its
//! registered name, else its child id, else its noex pid (`<0.17>`). A child id that
//! two processes of one app share is qualified by the supervisor's name
//! (`pipeline/health`), which a restart keeps, so its counters stay one series; one
//! still shared (the children of a simple_one_for_one supervisor) gets the pid after
//! it (`idle <0.25>`). Every series is one process.
//!
//! The cap: only the `max_process_series` most active processes of each app get series
//! of their own. Activity is messages handled + mailbox length + restarts (for a
//! supervisor: its own restarts + the restarts it performed); ties go to the lower
//! pid, so the choice holds still while nothing happens. The rest are summed into the
//! same families under `name="(other)"`, so `sum by (app)` still counts every process,
//! and `noex_other_processes` says how many were folded.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use noex_agent::types::{Pid, Snapshot};

use super::exposition::{Family, Kind, Value};
use crate::cli::SortKey;
use crate::render::table::{ProcessRow, process_rows};

/// The `name` of the series that sums the processes past the cap.
pub const OTHER: &str = "(other)";

/// The default of `--max-process-series`.
pub const DEFAULT_MAX_PROCESS_SERIES: usize = 100;

/// What one agent gave in one scrape.
#[derive(Clone, Debug)]
pub struct AgentScrape {
    /// The OS pid of the application.
    pub pid: u32,
    /// Its name, once its agent greeted us; empty if it never did.
    pub app: String,
    /// Its snapshot, or why there is none (the agent is then `up 0`).
    pub snapshot: Result<Snapshot, String>,
}

/// One process, flattened for the metrics.
#[derive(Clone, Debug)]
struct Process {
    pid: u64,
    parent: Option<u64>,
    label: String,
    kind: &'static str,
    status: &'static str,
    /// `None` for a supervisor: it has no mailbox counters.
    messages: Option<u64>,
    queue: Option<u64>,
    busy_ns: Option<u64>,
    restarts: u64,
    activity: u64,
}

fn processes(snapshot: &Snapshot) -> Vec<Process> {
    // The rows `noex ps` shows, in pid order: the app's own processes only.
    let mut list: Vec<Process> = process_rows(snapshot, false, SortKey::Pid)
        .iter()
        .map(Process::from_row)
        .collect();
    // A shared name gets its supervisor's name before it, then, if still shared, the
    // pid after it, so no two series are the same.
    let first = shared(&list);
    if first.is_empty() {
        return list;
    }
    // Only the names of those processes' supervisors: few, however many share them.
    let parents: HashSet<u64> = first.iter().filter_map(|&i| list[i].parent).collect();
    let names: HashMap<u64, String> = list
        .iter()
        .filter(|p| parents.contains(&p.pid))
        .map(|p| (p.pid, p.label.clone()))
        .collect();
    for process in first {
        let process = &mut list[process];
        if let Some(parent) = process.parent.and_then(|pid| names.get(&pid)) {
            process.label = format!("{parent}/{}", process.label);
        }
    }
    for process in shared(&list) {
        let process = &mut list[process];
        process.label = format!("{} {}", process.label, Pid(process.pid));
    }
    list
}

/// The indices of the processes whose label another one has too.
fn shared(list: &[Process]) -> Vec<usize> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for process in list {
        *seen.entry(process.label.as_str()).or_default() += 1;
    }
    (0..list.len())
        .filter(|&i| seen[list[i].label.as_str()] > 1)
        .collect()
}

impl Process {
    fn from_row(row: &ProcessRow) -> Process {
        let restarts = u64::from(row.restarts);
        Process {
            pid: row.pid,
            parent: row.parent,
            label: row
                .label()
                .map_or_else(|| Pid(row.pid).to_string(), str::to_string),
            kind: row.kind,
            status: row.status.as_str(),
            messages: row.messages,
            queue: row.queue_len,
            busy_ns: row.busy_ns,
            restarts,
            // A server's messages and queue; a supervisor's restarts performed.
            activity: [
                row.messages,
                row.queue_len,
                row.child_restarts.map(u64::from),
            ]
            .into_iter()
            .flatten()
            .fold(restarts, u64::saturating_add),
        }
    }
}

/// Split the processes into the `max` most active (by [activity](self), ties to the
/// lower pid), in pid order, and the rest.
fn cap(mut list: Vec<Process>, max: usize) -> (Vec<Process>, Vec<Process>) {
    if list.len() <= max {
        return (list, Vec::new());
    }
    list.sort_by(|a, b| b.activity.cmp(&a.activity).then(a.pid.cmp(&b.pid)));
    let rest = list.split_off(max);
    list.sort_by_key(|p| p.pid);
    (list, rest)
}

/// Every family, in the order they are written, each with its series for `scrapes`.
pub fn families(
    scrapes: &[AgentScrape],
    max_process_series: usize,
    scrape_duration: Duration,
) -> Vec<Family> {
    let mut up = Family::new(
        "noex_agent_up",
        Kind::Gauge,
        "1 if the application's agent answered this scrape with a snapshot, else 0.",
    );
    let mut uptime = Family::new(
        "noex_app_uptime_seconds",
        Kind::Gauge,
        "How long the application has run.",
    )
    .unit("seconds");
    let mut start_time = Family::new(
        "noex_app_start_time_seconds",
        Kind::Gauge,
        "When the application started, in seconds since the Unix epoch.",
    )
    .unit("seconds");
    let mut memory = Family::new(
        "noex_app_resident_memory_bytes",
        Kind::Gauge,
        "Resident memory of the application's OS process, where the platform tells it.",
    )
    .unit("bytes");
    let mut counts = Family::new(
        "noex_processes",
        Kind::Gauge,
        "The application's processes (GenServers and supervisors) by kind and status.",
    );
    let mut app_messages = Family::new(
        "noex_app_messages",
        Kind::Counter,
        "Messages handled by every live GenServer of the application.",
    );
    let mut app_restarts = Family::new(
        "noex_app_restarts",
        Kind::Counter,
        "Restarts performed by every supervisor of the application.",
    );
    let mut other = Family::new(
        "noex_other_processes",
        Kind::Gauge,
        "Processes past --max-process-series, summed into the series named (other).",
    );
    let mut messages = Family::new(
        "noex_process_messages",
        Kind::Counter,
        "Messages a GenServer has handled (this instance, since its last start).",
    );
    let mut queue = Family::new(
        "noex_process_queue_length",
        Kind::Gauge,
        "Messages waiting in a GenServer's mailbox.",
    );
    let mut restarts = Family::new(
        "noex_process_restarts",
        Kind::Counter,
        "Times the process's supervisor has restarted it.",
    );
    let mut busy = Family::new(
        "noex_process_busy_seconds",
        Kind::Counter,
        "Time a GenServer has spent in its handlers (this instance).",
    )
    .unit("seconds");
    let mut status = Family::new(
        "noex_process_status",
        Kind::Gauge,
        "1 for the process's status now (initializing, running, stopping, stopped).",
    );

    for scrape in scrapes {
        let app_labels = || vec![("app", scrape.app.clone()), ("pid", scrape.pid.to_string())];
        let snapshot = match &scrape.snapshot {
            Ok(snapshot) => snapshot,
            Err(_) => {
                up.push(app_labels(), Value::Int(0));
                continue;
            }
        };
        up.push(app_labels(), Value::Int(1));
        uptime.push(
            app_labels(),
            Value::Float(snapshot.uptime_ms as f64 / 1000.0),
        );
        let started_ms = snapshot.taken_at_ms.saturating_sub(snapshot.uptime_ms);
        start_time.push(app_labels(), Value::Float(started_ms as f64 / 1000.0));
        if let Some(bytes) = snapshot.memory_rss_bytes {
            memory.push(app_labels(), Value::Int(bytes));
        }

        let list = processes(snapshot);
        let mut by_kind_status: BTreeMap<(&str, &str), u64> = BTreeMap::new();
        for process in &list {
            *by_kind_status
                .entry((process.kind, process.status))
                .or_default() += 1;
        }
        for ((kind, state), count) in by_kind_status {
            let mut labels = app_labels();
            labels.extend([("kind", kind.to_string()), ("status", state.to_string())]);
            counts.push(labels, Value::Int(count));
        }
        let total_messages: u64 = list.iter().filter_map(|p| p.messages).sum();
        app_messages.push(app_labels(), Value::Int(total_messages));
        let performed: u64 = snapshot
            .supervisors
            .iter()
            .filter(|s| !s.system)
            .map(|s| u64::from(s.child_restarts))
            .sum();
        app_restarts.push(app_labels(), Value::Int(performed));

        let (shown, rest) = cap(list, max_process_series);
        other.push(app_labels(), Value::Int(rest.len() as u64));
        let process_labels = |name: &str| {
            let mut labels = app_labels();
            labels.push(("name", name.to_string()));
            labels
        };
        for process in &shown {
            let labels = process_labels(&process.label);
            if let Some(count) = process.messages {
                messages.push(labels.clone(), Value::Int(count));
            }
            if let Some(length) = process.queue {
                queue.push(labels.clone(), Value::Int(length));
            }
            restarts.push(labels.clone(), Value::Int(process.restarts));
            if let Some(ns) = process.busy_ns {
                busy.push(labels.clone(), Value::Float(seconds(ns)));
            }
            let mut labels = labels;
            labels.push(("status", process.status.to_string()));
            status.push(labels, Value::Int(1));
        }
        if !rest.is_empty() {
            let labels = process_labels(OTHER);
            let sum = |f: fn(&Process) -> Option<u64>| rest.iter().filter_map(f).sum::<u64>();
            messages.push(labels.clone(), Value::Int(sum(|p| p.messages)));
            queue.push(labels.clone(), Value::Int(sum(|p| p.queue)));
            restarts.push(labels.clone(), Value::Int(sum(|p| Some(p.restarts))));
            busy.push(labels, Value::Float(seconds(sum(|p| p.busy_ns))));
        }
    }

    let mut duration = Family::new(
        "noex_scrape_duration_seconds",
        Kind::Gauge,
        "How long this scrape took to reach every agent and read its snapshot.",
    )
    .unit("seconds");
    duration.push(Vec::new(), Value::Float(scrape_duration.as_secs_f64()));

    vec![
        up,
        uptime,
        start_time,
        memory,
        counts,
        app_messages,
        app_restarts,
        other,
        messages,
        queue,
        restarts,
        busy,
        status,
        duration,
    ]
}

fn seconds(ns: u64) -> f64 {
    ns as f64 / 1e9
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use noex_agent::types::{Pid, ProcessStatus, ServerInfo};

    use super::*;

    fn server(
        pid: u64,
        child_id: &str,
        messages: u64,
        queue_len: u64,
        restarts: u32,
    ) -> ServerInfo {
        ServerInfo {
            pid: Pid(pid),
            name: None,
            child_id: Some(child_id.to_string()),
            parent: None,
            type_name: Arc::from("Worker"),
            status: ProcessStatus::Running,
            messages,
            queue_len,
            started_at_ms: 0,
            restarts,
            busy_ns: 1_500_000_000,
            handler_running_ns: None,
            last_error: None,
            system: false,
            state: None,
        }
    }

    fn scrape(servers: Vec<ServerInfo>) -> AgentScrape {
        AgentScrape {
            pid: 4242,
            app: "shop".into(),
            snapshot: Ok(Snapshot {
                app: "shop".into(),
                os_pid: 4242,
                servers,
                ..Snapshot::default()
            }),
        }
    }

    fn series<'a>(families: &'a [Family], name: &str) -> Vec<(String, &'a Value)> {
        let family = families.iter().find(|f| f.name == name).unwrap();
        family
            .samples
            .iter()
            .map(|s| {
                (
                    s.labels
                        .iter()
                        .find(|(l, _)| *l == "name")
                        .unwrap()
                        .1
                        .clone(),
                    &s.value,
                )
            })
            .collect()
    }

    #[test]
    fn the_cap_keeps_the_most_active_and_sums_the_rest_into_other() {
        let servers = vec![
            server(1, "idle-a", 0, 0, 0),
            server(2, "busy", 100, 0, 0),
            server(3, "queued", 0, 50, 0),
            server(4, "flapping", 0, 0, 7),
            server(5, "idle-b", 0, 0, 0),
            server(6, "idle-c", 2, 0, 0),
        ];
        let families = families(&[scrape(servers)], 3, Duration::ZERO);
        assert_eq!(
            series(&families, "noex_process_messages"),
            vec![
                ("busy".to_string(), &Value::Int(100)),
                ("queued".to_string(), &Value::Int(0)),
                ("flapping".to_string(), &Value::Int(0)),
                ("(other)".to_string(), &Value::Int(2)),
            ]
        );
        assert_eq!(
            series(&families, "noex_process_busy_seconds")
                .last()
                .unwrap(),
            &("(other)".to_string(), &Value::Float(4.5))
        );
        let other = families
            .iter()
            .find(|f| f.name == "noex_other_processes")
            .unwrap();
        assert_eq!(other.samples[0].value, Value::Int(3));
    }

    #[test]
    fn the_cap_breaks_ties_by_the_lower_pid() {
        let servers = (1..=5)
            .map(|pid| server(pid, &format!("w{pid}"), 0, 0, 0))
            .collect();
        let families = families(&[scrape(servers)], 2, Duration::ZERO);
        let names: Vec<String> = series(&families, "noex_process_queue_length")
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        assert_eq!(names, ["w1", "w2", "(other)"]);
    }

    #[test]
    fn under_the_cap_there_is_no_other_series() {
        let families = families(&[scrape(vec![server(1, "a", 1, 0, 0)])], 5, Duration::ZERO);
        assert_eq!(series(&families, "noex_process_messages").len(), 1);
        let other = families
            .iter()
            .find(|f| f.name == "noex_other_processes")
            .unwrap();
        assert_eq!(other.samples[0].value, Value::Int(0));
    }

    #[test]
    fn a_shared_name_gets_its_supervisor_then_its_pid_and_an_unnamed_process_is_its_pid() {
        let mut unnamed = server(9, "x", 0, 0, 0);
        unnamed.child_id = None;
        let under = |pid, child_id, parent| ServerInfo {
            parent: Some(Pid(parent)),
            ..server(pid, child_id, 0, 0, 0)
        };
        let servers = vec![
            server(1, "services", 0, 0, 0),
            server(2, "pipeline", 0, 0, 0),
            under(3, "idle", 1),
            under(4, "idle", 1),
            under(5, "health", 1),
            under(6, "health", 2),
            unnamed,
        ];
        let families = families(&[scrape(servers)], 10, Duration::ZERO);
        let names: Vec<String> = series(&families, "noex_process_restarts")
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        assert_eq!(
            names,
            [
                "services",
                "pipeline",
                "services/idle <0.3>",
                "services/idle <0.4>",
                "services/health",
                "pipeline/health",
                "<0.9>"
            ]
        );
    }

    #[test]
    fn an_agent_that_did_not_answer_is_down_with_no_other_series() {
        let down = AgentScrape {
            pid: 7,
            app: String::new(),
            snapshot: Err("no answer".into()),
        };
        let families = families(&[down], 10, Duration::ZERO);
        for family in &families {
            let expected = match family.name {
                "noex_agent_up" | "noex_scrape_duration_seconds" => 1,
                _ => 0,
            };
            assert_eq!(family.samples.len(), expected, "{}", family.name);
        }
        assert_eq!(families[0].samples[0].value, Value::Int(0));
    }
}
