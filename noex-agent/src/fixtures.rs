//! Processes for the unit tests: a running idle worker and a `one_for_one`
//! supervisor with nothing set, for each test to change what it is about with
//! struct update syntax (`ServerInfo { queue_len: 3, ..server(7) }`).

use crate::types::{
    ChildInfo, ChildKind, Intensity, Pid, ProcessStatus, RestartType, ServerInfo, Snapshot,
    Strategy, SupervisorInfo,
};

/// An idle `Worker`, `<0.pid>`, unnamed and unsupervised.
pub(crate) fn server(pid: u64) -> ServerInfo {
    ServerInfo {
        pid: Pid(pid),
        name: None,
        child_id: None,
        parent: None,
        type_name: "Worker".into(),
        status: ProcessStatus::Running,
        messages: 0,
        queue_len: 0,
        started_at_ms: 0,
        restarts: 0,
        busy_ns: 0,
        handler_running_ns: None,
        last_error: None,
        system: false,
        state: None,
    }
}

/// A `one_for_one` supervisor, `<0.pid>`, over `children`.
pub(crate) fn supervisor(pid: u64, children: Vec<ChildInfo>) -> SupervisorInfo {
    SupervisorInfo {
        pid: Pid(pid),
        name: None,
        child_id: None,
        parent: None,
        status: ProcessStatus::Running,
        strategy: Strategy::OneForOne,
        intensity: Intensity {
            max_restarts: 3,
            within_ms: 5_000,
        },
        children,
        child_restarts: 0,
        restarts: 0,
        started_at_ms: 0,
        last_error: None,
        system: false,
    }
}

/// A permanent worker child `id`, running as `pid` if any.
pub(crate) fn child(id: &str, pid: Option<u64>) -> ChildInfo {
    ChildInfo {
        id: id.into(),
        pid: pid.map(Pid),
        restart: RestartType::Permanent,
        kind: ChildKind::Worker,
    }
}

/// A snapshot of `servers` and `supervisors`, its counts theirs.
pub(crate) fn snapshot(servers: Vec<ServerInfo>, supervisors: Vec<SupervisorInfo>) -> Snapshot {
    Snapshot {
        taken_at_ms: 0,
        app: "test".into(),
        os_pid: 1,
        uptime_ms: 0,
        process_count: (servers.len() + supervisors.len()) as u64,
        total_messages: 0,
        memory_rss_bytes: None,
        servers,
        supervisors,
    }
}
