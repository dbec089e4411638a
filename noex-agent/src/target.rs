//! Turning what a user typed (`noex kill worker`) into one process.
//!
//! A target is a registered name, a child id, or a pid (`<0.42>` or `42`). Every process
//! in the snapshot, servers and supervisors, system ones included, is matched against all
//! three readings at once; a target that means more than one process is an error that
//! lists the candidates, never a guess.
//!
//! ```no_run
//! use noex_agent::target::resolve;
//! # let snapshot: noex_agent::types::Snapshot = unimplemented!();
//! match resolve(&snapshot, "worker") {
//!     Ok(process) => println!("{}", process.pid),
//!     Err(error) => eprintln!("{error}"),
//! }
//! ```

use crate::protocol::{ErrorBody, ErrorCode, ProcessRef};
use crate::text::{ECHOED_TEXT_LIMIT, clip};
use crate::types::{Pid, RestartType, Snapshot};

/// The most candidates an `ambiguous_target` error lists (the message still counts all).
pub const MAX_CANDIDATES: usize = 20;

/// The one process `target` names in `snapshot`.
///
/// Errors: [`ErrorCode::NotFound`] when nothing matches, [`ErrorCode::AmbiguousTarget`]
/// (with `candidates`, in pid order) when several processes do.
pub fn resolve(snapshot: &Snapshot, target: &str) -> Result<ProcessRef, ErrorBody> {
    let as_pid = target.parse::<Pid>().ok();
    let matches = |pid: Pid, name: &Option<String>, child_id: &Option<String>| {
        as_pid == Some(pid)
            || name.as_deref() == Some(target)
            || child_id.as_deref() == Some(target)
    };

    let servers = snapshot
        .servers
        .iter()
        .filter(|s| matches(s.pid, &s.name, &s.child_id))
        .map(|s| (s.pid, &s.name, &s.child_id));
    let supervisors = snapshot
        .supervisors
        .iter()
        .filter(|s| matches(s.pid, &s.name, &s.child_id))
        .map(|s| (s.pid, &s.name, &s.child_id));
    let mut found: Vec<ProcessRef> = servers
        .chain(supervisors)
        .map(|(pid, name, child_id)| ProcessRef {
            pid,
            name: name.clone(),
            child_id: child_id.clone(),
        })
        .collect();
    found.sort_by_key(|p| p.pid);
    // A process listed twice (it should not be, but a snapshot is built from live data)
    // is still one process.
    found.dedup_by_key(|p| p.pid);

    let quoted = clip(target, ECHOED_TEXT_LIMIT);
    match found.len() {
        0 => Err(not_found(target)),
        1 => Ok(found.remove(0)),
        n => {
            found.truncate(MAX_CANDIDATES);
            Err(ErrorBody {
                candidates: found,
                ..ErrorBody::new(
                    ErrorCode::AmbiguousTarget,
                    format!("{quoted:?} is ambiguous: it matches {n} processes"),
                )
            })
        }
    }
}

/// `snapshot` cut down to process `pid` and its supervisor (`None` if `pid` is not
/// in it): all the checks before a kill or restart of `pid` look at.
pub fn narrow_to(mut snapshot: Snapshot, pid: Pid) -> Option<Snapshot> {
    let parent = snapshot
        .servers
        .iter()
        .map(|s| (s.pid, s.parent))
        .chain(snapshot.supervisors.iter().map(|s| (s.pid, s.parent)))
        .find(|(found, _)| *found == pid)?
        .1;
    snapshot.servers.retain(|s| s.pid == pid);
    snapshot
        .supervisors
        .retain(|s| s.pid == pid || Some(s.pid) == parent);
    Some(snapshot)
}

/// The error for a target that names no process.
pub fn not_found(target: &str) -> ErrorBody {
    let quoted = clip(target, ECHOED_TEXT_LIMIT);
    ErrorBody::new(
        ErrorCode::NotFound,
        format!("no process named {quoted:?} (by name, child id or pid)"),
    )
}

/// The pid a target names in pid form, `<0.42>`, which only a pid is written as (a
/// bare `42` may also be a name or a child id, so it is resolved against them all).
pub fn pid_form(target: &str) -> Option<Pid> {
    let inner = target.trim().strip_prefix("<0.")?.strip_suffix('>')?;
    inner.parse().ok().map(Pid)
}

/// Why `process` may not be killed or restarted through the agent, if so: it is one of
/// noex's own (`system`) processes, the agent's supervisor and its connections, and
/// ending them would cut clients off or stop the agent.
pub fn belongs_to_agent(snapshot: &Snapshot, process: &ProcessRef) -> Option<String> {
    let system = snapshot
        .servers
        .iter()
        .any(|s| s.pid == process.pid && s.system)
        || snapshot
            .supervisors
            .iter()
            .any(|s| s.pid == process.pid && s.system);
    system.then(|| {
        format!(
            "{} {} belongs to the noex agent itself: it cannot be killed or restarted \
             through the agent",
            process.label(),
            process.pid
        )
    })
}

/// Why nothing would start `process` again if it were killed, if so: it has no
/// supervisor (a root), or its supervisor forgets it (a temporary child). A kill of
/// such a process needs `force`.
pub fn nothing_restarts(snapshot: &Snapshot, process: &ProcessRef) -> Option<String> {
    let parent = snapshot
        .servers
        .iter()
        .find(|s| s.pid == process.pid)
        .map(|s| s.parent)
        .or_else(|| {
            snapshot
                .supervisors
                .iter()
                .find(|s| s.pid == process.pid)
                .map(|s| s.parent)
        })
        .flatten();
    let label = format!("{} {}", process.label(), process.pid);
    let Some(parent) = parent else {
        let what = if snapshot.supervisors.iter().any(|s| s.pid == process.pid) {
            "a root supervisor"
        } else {
            "not supervised"
        };
        return Some(format!("{label} is {what}: nothing would restart it"));
    };
    let supervisor = snapshot.supervisors.iter().find(|s| s.pid == parent)?;
    let temporary = supervisor
        .children
        .iter()
        .any(|child| child.pid == Some(process.pid) && child.restart == RestartType::Temporary);
    temporary.then(|| {
        let supervisor_label = supervisor
            .name
            .clone()
            .or_else(|| supervisor.child_id.clone())
            .unwrap_or_else(|| parent.to_string());
        format!("{label} is a temporary child of {supervisor_label}: nothing would restart it")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{ServerInfo, SupervisorInfo};

    use crate::fixtures::snapshot;

    fn server(pid: u64, name: Option<&str>, child_id: Option<&str>) -> ServerInfo {
        ServerInfo {
            name: name.map(Into::into),
            child_id: child_id.map(Into::into),
            ..crate::fixtures::server(pid)
        }
    }

    fn supervisor(pid: u64, name: Option<&str>, child_id: Option<&str>) -> SupervisorInfo {
        SupervisorInfo {
            name: name.map(Into::into),
            child_id: child_id.map(Into::into),
            ..crate::fixtures::supervisor(pid, Vec::new())
        }
    }

    fn sample() -> Snapshot {
        snapshot(
            vec![
                server(3, Some("cache"), Some("cache")),
                server(4, None, Some("worker")),
                server(7, Some("worker"), Some("w2")),
                server(9, Some("agent_conn"), None),
                server(42, None, Some("job")),
            ],
            vec![
                supervisor(1, Some("root"), None),
                supervisor(2, None, Some("pool")),
            ],
        )
    }

    #[test]
    fn registered_name_resolves_to_its_process() {
        let found = resolve(&sample(), "cache").unwrap();
        assert_eq!(found.pid, Pid(3));
        assert_eq!(found.name.as_deref(), Some("cache"));
        assert_eq!(found.child_id.as_deref(), Some("cache"));
    }

    #[test]
    fn child_id_resolves_to_its_process() {
        assert_eq!(resolve(&sample(), "job").unwrap().pid, Pid(42));
        assert_eq!(resolve(&sample(), "w2").unwrap().pid, Pid(7));
    }

    #[test]
    fn supervisors_resolve_by_name_and_child_id() {
        assert_eq!(resolve(&sample(), "root").unwrap().pid, Pid(1));
        assert_eq!(resolve(&sample(), "pool").unwrap().pid, Pid(2));
    }

    #[test]
    fn pid_resolves_in_both_forms() {
        assert_eq!(resolve(&sample(), "<0.42>").unwrap().pid, Pid(42));
        assert_eq!(resolve(&sample(), "42").unwrap().pid, Pid(42));
        assert_eq!(resolve(&sample(), "<0.1>").unwrap().pid, Pid(1));
    }

    #[test]
    fn system_processes_are_targets_too() {
        let mut snap = sample();
        snap.servers[3].system = true;
        assert_eq!(resolve(&snap, "agent_conn").unwrap().pid, Pid(9));
    }

    #[test]
    fn name_of_one_and_child_id_of_another_is_ambiguous_with_sorted_candidates() {
        let err = resolve(&sample(), "worker").unwrap_err();
        assert_eq!(err.code, ErrorCode::AmbiguousTarget);
        assert_eq!(
            err.message,
            "\"worker\" is ambiguous: it matches 2 processes"
        );
        let pids: Vec<Pid> = err.candidates.iter().map(|c| c.pid).collect();
        assert_eq!(pids, vec![Pid(4), Pid(7)]);
        assert_eq!(err.candidates[1].name.as_deref(), Some("worker"));
    }

    #[test]
    fn numeric_name_and_pid_reading_together_are_ambiguous() {
        // `7` is the pid of one process and the child id of another.
        let snap = snapshot(
            vec![server(7, None, None), server(8, None, Some("7"))],
            vec![],
        );
        let err = resolve(&snap, "7").unwrap_err();
        assert_eq!(err.code, ErrorCode::AmbiguousTarget);
        let pids: Vec<Pid> = err.candidates.iter().map(|c| c.pid).collect();
        assert_eq!(pids, vec![Pid(7), Pid(8)]);
    }

    #[test]
    fn one_process_matching_several_ways_is_not_ambiguous() {
        // Name and child id both "cache", and also listed twice: still one process.
        let mut snap = sample();
        snap.servers.push(server(3, Some("cache"), Some("cache")));
        let found = resolve(&snap, "cache").unwrap();
        assert_eq!(found.pid, Pid(3));
    }

    #[test]
    fn a_long_target_is_quoted_back_clipped() {
        let long = "t".repeat(60_000);
        let err = resolve(&sample(), &long).unwrap_err();
        assert_eq!(err.code, ErrorCode::NotFound);
        assert!(err.message.len() < 200, "{} bytes", err.message.len());
        assert!(err.message.contains("… (60000 bytes)"), "{}", err.message);
    }

    #[test]
    fn an_ambiguous_target_lists_at_most_max_candidates_but_counts_all() {
        let servers = (0..50).map(|pid| server(pid, None, Some("w"))).collect();
        let err = resolve(&snapshot(servers, vec![]), "w").unwrap_err();
        assert_eq!(err.message, "\"w\" is ambiguous: it matches 50 processes");
        let pids: Vec<u64> = err.candidates.iter().map(|c| c.pid.0).collect();
        assert_eq!(pids, (0..MAX_CANDIDATES as u64).collect::<Vec<_>>());
    }

    #[test]
    fn narrowing_keeps_the_process_and_its_supervisor_only() {
        let mut snap = sample();
        snap.servers[0].parent = Some(Pid(1));
        let view = narrow_to(snap.clone(), Pid(3)).unwrap();
        let servers: Vec<Pid> = view.servers.iter().map(|s| s.pid).collect();
        let supervisors: Vec<Pid> = view.supervisors.iter().map(|s| s.pid).collect();
        assert_eq!((servers, supervisors), (vec![Pid(3)], vec![Pid(1)]));
        let root = narrow_to(snap.clone(), Pid(2)).unwrap();
        assert!(root.servers.is_empty());
        assert_eq!(
            root.supervisors.len(),
            1,
            "a root has no supervisor to keep"
        );
        assert!(narrow_to(snap, Pid(999)).is_none());
    }

    #[test]
    fn only_the_angle_bracket_form_is_a_pid_by_itself() {
        assert_eq!(pid_form("<0.42>"), Some(Pid(42)));
        assert_eq!(pid_form(" <0.7> "), Some(Pid(7)));
        assert_eq!(pid_form("42"), None, "may be a name or a child id too");
        assert_eq!(pid_form("<0.x>"), None);
        assert_eq!(pid_form("<1.42>"), None);
        assert_eq!(pid_form("worker"), None);
    }

    #[test]
    fn processes_of_the_agent_itself_are_protected_and_the_app_s_are_not() {
        let mut snap = sample();
        snap.servers[3].system = true;
        snap.supervisors[1].system = true;
        let conn = resolve(&snap, "agent_conn").unwrap();
        assert_eq!(
            belongs_to_agent(&snap, &conn).as_deref(),
            Some(
                "agent_conn <0.9> belongs to the noex agent itself: it cannot be killed or \
                 restarted through the agent"
            )
        );
        let pool = resolve(&snap, "pool").unwrap();
        assert!(
            belongs_to_agent(&snap, &pool).is_some(),
            "a system supervisor"
        );
        let cache = resolve(&snap, "cache").unwrap();
        assert_eq!(belongs_to_agent(&snap, &cache), None);
        let root = resolve(&snap, "root").unwrap();
        assert_eq!(belongs_to_agent(&snap, &root), None);
    }

    #[test]
    fn unknown_target_is_not_found_with_a_clear_message() {
        let err = resolve(&sample(), "nope").unwrap_err();
        assert_eq!(err.code, ErrorCode::NotFound);
        assert_eq!(
            err.message,
            "no process named \"nope\" (by name, child id or pid)"
        );
        assert!(err.candidates.is_empty());
    }

    #[test]
    fn pid_of_no_process_is_not_found() {
        assert_eq!(
            resolve(&sample(), "<0.999>").unwrap_err().code,
            ErrorCode::NotFound
        );
    }

    #[test]
    fn empty_snapshot_finds_nothing() {
        let err = resolve(&snapshot(vec![], vec![]), "").unwrap_err();
        assert_eq!(err.code, ErrorCode::NotFound);
    }

    #[test]
    fn matching_is_exact_not_by_prefix_or_case() {
        assert_eq!(
            resolve(&sample(), "cach").unwrap_err().code,
            ErrorCode::NotFound
        );
        assert_eq!(
            resolve(&sample(), "CACHE").unwrap_err().code,
            ErrorCode::NotFound
        );
    }

    #[test]
    fn nothing_restarts_a_root_or_a_temporary_child_but_a_permanent_child_comes_back() {
        use crate::types::{ChildInfo, ChildKind};
        let mut root = supervisor(1, Some("app_sup"), None);
        let mut pool = supervisor(2, Some("sessions"), Some("sessions"));
        pool.parent = Some(Pid(1));
        let child = |id: &str, pid: u64, restart| ChildInfo {
            id: id.into(),
            pid: Some(Pid(pid)),
            restart,
            kind: ChildKind::Worker,
        };
        root.children = vec![child("worker", 3, RestartType::Permanent)];
        pool.children = vec![child("session-1", 4, RestartType::Temporary)];
        let mut worker = server(3, Some("worker"), Some("worker"));
        worker.parent = Some(Pid(1));
        let mut session = server(4, None, Some("session-1"));
        session.parent = Some(Pid(2));
        let lone = server(5, Some("lone"), None);
        let snapshot = snapshot(vec![worker, session, lone], vec![root, pool]);
        let why = |target: &str| nothing_restarts(&snapshot, &resolve(&snapshot, target).unwrap());
        assert_eq!(
            why("app_sup").as_deref(),
            Some("app_sup <0.1> is a root supervisor: nothing would restart it")
        );
        assert_eq!(
            why("lone").as_deref(),
            Some("lone <0.5> is not supervised: nothing would restart it")
        );
        assert_eq!(
            why("session-1").as_deref(),
            Some("session-1 <0.4> is a temporary child of sessions: nothing would restart it")
        );
        assert_eq!(why("worker"), None);
        assert_eq!(
            why("sessions"),
            None,
            "a permanent child supervisor comes back"
        );
    }
}
