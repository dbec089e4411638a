//! Text for people and JSON for scripts, as pure functions: Observer data in, `String`
//! out. No I/O and no terminal checks happen here (the caller passes a [`style::Style`]),
//! so every renderer is snapshot-tested, and the dashboard reuses the same column
//! meanings.

pub mod action;
pub mod events;
pub mod format;
pub mod json_lines;
pub mod style;
pub mod table;
pub mod tree;

use noex_agent::types::Pid;

/// How a process is called in every view: its registered name, else its child id.
pub fn label(name: Option<&str>, child_id: Option<&str>) -> Option<String> {
    name.or(child_id).map(str::to_string)
}

/// A pid as JSON carries it: the bare number (`<0.42>` is `42`).
pub fn pid_number(pid: Pid) -> u64 {
    pid.id()
}

/// `insta::assert_snapshot!` with the file under the workspace's `snapshots/`.
#[cfg(test)]
macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!(
            { snapshot_path => concat!(env!("CARGO_MANIFEST_DIR"), "/../snapshots") },
            { insta::assert_snapshot!($name, $value) }
        )
    };
}
#[cfg(test)]
pub(crate) use snapshot;

/// Hand-built Observer data for renderer tests: a small app with a nested supervisor,
/// a crashed-and-restarted worker, a stopped child, and a system process.
#[cfg(test)]
pub mod fixtures {
    use noex_agent::types::*;

    /// When the fixture snapshot was taken: 2024-03-01T14:03:27.512Z.
    pub const NOW_MS: u64 = 1_709_301_807_512;

    pub fn worker(
        pid: u64,
        name: Option<&str>,
        child_id: Option<&str>,
        parent: Option<u64>,
    ) -> ServerInfo {
        ServerInfo {
            pid: Pid(pid),
            name: name.map(str::to_string),
            child_id: child_id.map(str::to_string),
            parent: parent.map(Pid),
            type_name: "Worker".into(),
            status: ProcessStatus::Running,
            messages: 0,
            queue_len: 0,
            started_at_ms: NOW_MS - 242_000,
            restarts: 0,
            busy_ns: 0,
            handler_running_ns: None,
            last_error: None,
            system: false,
            state: None,
        }
    }

    pub fn child(id: &str, pid: Option<u64>, restart: RestartType, kind: ChildKind) -> ChildInfo {
        ChildInfo {
            id: id.into(),
            pid: pid.map(Pid),
            restart,
            kind,
        }
    }

    pub fn app_sup() -> SupervisorInfo {
        SupervisorInfo {
            pid: Pid(1),
            name: Some("app_sup".into()),
            child_id: None,
            parent: None,
            status: ProcessStatus::Running,
            strategy: Strategy::OneForOne,
            intensity: Intensity {
                max_restarts: 3,
                within_ms: 5_000,
            },
            children: vec![
                child("cache", Some(2), RestartType::Permanent, ChildKind::Worker),
                child(
                    "workers",
                    Some(3),
                    RestartType::Permanent,
                    ChildKind::Supervisor,
                ),
                child(
                    "limiter",
                    Some(4),
                    RestartType::Transient,
                    ChildKind::Worker,
                ),
            ],
            child_restarts: 0,
            restarts: 0,
            started_at_ms: NOW_MS - 3_725_000,
            last_error: None,
            system: false,
        }
    }

    pub fn workers_sup() -> SupervisorInfo {
        SupervisorInfo {
            pid: Pid(3),
            name: None,
            child_id: Some("workers".into()),
            parent: Some(Pid(1)),
            status: ProcessStatus::Running,
            strategy: Strategy::RestForOne,
            intensity: Intensity {
                max_restarts: 3,
                within_ms: 5_000,
            },
            children: vec![
                child(
                    "worker-1",
                    Some(23),
                    RestartType::Permanent,
                    ChildKind::Worker,
                ),
                child(
                    "worker-2",
                    Some(6),
                    RestartType::Permanent,
                    ChildKind::Worker,
                ),
                child("worker-3", None, RestartType::Transient, ChildKind::Worker),
            ],
            child_restarts: 2,
            restarts: 0,
            started_at_ms: NOW_MS - 3_724_000,
            last_error: None,
            system: false,
        }
    }

    pub fn agent_sup() -> SupervisorInfo {
        SupervisorInfo {
            pid: Pid(9),
            name: Some("noex_agent_sup".into()),
            child_id: None,
            parent: None,
            status: ProcessStatus::Running,
            strategy: Strategy::SimpleOneForOne,
            intensity: Intensity {
                max_restarts: 3,
                within_ms: 5_000,
            },
            children: vec![child(
                "connection",
                Some(31),
                RestartType::Temporary,
                ChildKind::Worker,
            )],
            child_restarts: 0,
            restarts: 0,
            started_at_ms: NOW_MS - 3_725_000,
            last_error: None,
            system: true,
        }
    }

    pub fn servers() -> Vec<ServerInfo> {
        let cache = ServerInfo {
            type_name: "Cache".into(),
            messages: 1_234_567,
            busy_ns: 12_345_000_000,
            ..worker(2, Some("cache"), Some("cache"), Some(1))
        };
        let limiter = ServerInfo {
            type_name: "RateLimiter".into(),
            messages: 4_321,
            queue_len: 3,
            busy_ns: 850_000_000,
            handler_running_ns: Some(1_500_000),
            state: Some("Throttling".into()),
            ..worker(4, Some("limiter"), Some("limiter"), Some(1))
        };
        let worker1 = ServerInfo {
            messages: 87,
            restarts: 2,
            busy_ns: 42_000,
            started_at_ms: NOW_MS - 12_300,
            last_error: Some("panicked at src/worker.rs:42:9:\nattempt to divide by zero (job 17 of batch \"nightly\")".into()),
            ..worker(23, None, Some("worker-1"), Some(3))
        };
        let worker2 = ServerInfo {
            messages: 999,
            queue_len: 1_500,
            busy_ns: 37_000_000_000,
            status: ProcessStatus::Stopping,
            ..worker(6, None, Some("worker-2"), Some(3))
        };
        let standalone = ServerInfo {
            type_name: "Counter".into(),
            messages: 5,
            started_at_ms: NOW_MS - 850,
            ..worker(7, Some("counter"), None, None)
        };
        let connection = ServerInfo {
            type_name: "Connection".into(),
            messages: 2,
            system: true,
            ..worker(31, None, Some("connection"), Some(9))
        };
        vec![cache, limiter, worker1, worker2, standalone, connection]
    }

    pub fn snapshot() -> Snapshot {
        Snapshot {
            taken_at_ms: NOW_MS,
            app: "demo".into(),
            os_pid: 4242,
            uptime_ms: 3_725_000,
            process_count: 9,
            total_messages: 1_240_181,
            memory_rss_bytes: Some(50_541_363),
            servers: servers(),
            supervisors: vec![app_sup(), workers_sup(), agent_sup()],
        }
    }

    fn server(pid: u64) -> ServerInfo {
        servers()
            .into_iter()
            .find(|s| s.pid == Pid(pid))
            .expect("fixture server")
    }

    pub fn tree() -> ProcessTree {
        let w = |pid| TreeNode::Worker { info: server(pid) };
        ProcessTree {
            roots: vec![
                TreeNode::Supervisor {
                    info: app_sup(),
                    children: vec![
                        w(2),
                        TreeNode::Supervisor {
                            info: workers_sup(),
                            children: vec![
                                w(23),
                                w(6),
                                TreeNode::Stopped {
                                    child_id: "worker-3".into(),
                                    restart: RestartType::Transient,
                                    kind: ChildKind::Worker,
                                },
                            ],
                        },
                        w(4),
                    ],
                },
                w(7),
                TreeNode::Supervisor {
                    info: agent_sup(),
                    children: vec![w(31)],
                },
            ],
        }
    }
}
