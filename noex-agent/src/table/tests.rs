//! The table against fixed snapshots: order, windows, rates, filter, what the reply keeps.

use super::*;
use crate::types::{ServerInfo, Strategy, SupervisorInfo};

fn server(pid: u64, queue_len: u64, parent: Option<u64>) -> ServerInfo {
    ServerInfo {
        child_id: Some(format!("job-{pid}")),
        parent: parent.map(Pid),
        type_name: "Job".into(),
        queue_len,
        ..crate::fixtures::server(pid)
    }
}

fn supervisor(pid: u64, children: &[u64]) -> SupervisorInfo {
    let children = children
        .iter()
        .map(|&pid| crate::fixtures::child(&format!("job-{pid}"), Some(pid)))
        .collect();
    SupervisorInfo {
        name: Some("jobs".into()),
        strategy: Strategy::SimpleOneForOne,
        ..crate::fixtures::supervisor(pid, children)
    }
}

/// A supervisor `<0.1>` over servers `<0.10>`..`<0.29>`, whose queue is their pid
/// modulo 7; `<0.30>` is a system server.
fn jobs(taken_at_ms: u64) -> Snapshot {
    let pids: Vec<u64> = (10..30).collect();
    let mut servers: Vec<ServerInfo> = pids.iter().map(|&p| server(p, p % 7, Some(1))).collect();
    let mut system = server(30, 0, None);
    system.system = true;
    system.type_name = "AgentConnection".into();
    servers.push(system);
    Snapshot {
        taken_at_ms,
        app: "test".into(),
        os_pid: 1,
        uptime_ms: 0,
        process_count: 22,
        total_messages: 0,
        memory_rss_bytes: None,
        servers,
        supervisors: vec![supervisor(1, &pids)],
    }
}

fn query(sort: TableSort, descending: bool, offset: u64, limit: u32) -> TableQuery {
    TableQuery {
        sort,
        descending,
        offset,
        limit,
        ..TableQuery::default()
    }
}

fn pids(view: &TableView) -> Vec<u64> {
    view.rows.iter().map(|r| r.pid.0).collect()
}

#[test]
fn the_agent_sorts_then_windows_ties_in_pid_order() {
    let mut memory = TableMemory::default();
    let view = build_table(jobs(0), &query(TableSort::Queue, true, 0, 5), &mut memory);
    // Queue 6: pids 13, 20, 27; queue 5: 12, 19, 26.
    assert_eq!(pids(&view), [13, 20, 27, 12, 19]);
    assert_eq!(view.matched, 21, "20 jobs and their supervisor");
    assert_eq!(view.processes, 21);
    assert_eq!(view.hidden_system, 1);

    let next = build_table(jobs(0), &query(TableSort::Queue, true, 5, 5), &mut memory);
    assert_eq!(next.offset, 5);
    assert_eq!(pids(&next), [26, 11, 18, 25, 10]);

    let whole = build_table(jobs(0), &query(TableSort::Queue, true, 0, 100), &mut memory);
    let mut sorted = pids(&whole);
    assert_eq!(&sorted[..10], [13, 20, 27, 12, 19, 26, 11, 18, 25, 10]);
    sorted.sort_unstable();
    assert_eq!(sorted, (1..2).chain(10..30).collect::<Vec<_>>());
}

#[test]
fn a_window_past_the_end_is_moved_back_inside_the_table() {
    let mut memory = TableMemory::default();
    let view = build_table(
        jobs(0),
        &query(TableSort::Pid, false, 1_000, 4),
        &mut memory,
    );
    assert_eq!(view.offset, 17);
    assert_eq!(pids(&view), [26, 27, 28, 29]);
    let capped = build_table(
        jobs(0),
        &query(TableSort::Pid, false, 0, u32::MAX),
        &mut memory,
    );
    assert_eq!(capped.rows.len(), 21, "at most MAX_TABLE_ROWS, here all");
}

#[test]
fn around_moves_the_window_to_hold_the_selected_process() {
    let mut memory = TableMemory::default();
    let mut wanted = query(TableSort::Pid, false, 0, 4);
    wanted.around = Some(Pid(13));
    let view = build_table(jobs(0), &wanted, &mut memory);
    assert_eq!(
        pids(&view),
        [10, 11, 12, 13],
        "just below the window: one step"
    );
    wanted.around = Some(Pid(20));
    let view = build_table(jobs(0), &wanted, &mut memory);
    // <0.20> is the 11th row (after <0.1> and <0.10>..<0.19>): the last of the window.
    assert_eq!(pids(&view), [17, 18, 19, 20]);
    wanted.offset = 15;
    wanted.around = Some(Pid(12));
    let view = build_table(jobs(0), &wanted, &mut memory);
    assert_eq!(
        pids(&view)[0],
        12,
        "a window below the process moves up to it"
    );
    wanted.around = Some(Pid(999));
    let view = build_table(jobs(0), &wanted, &mut memory);
    assert_eq!(
        view.offset, 15,
        "an unknown pid leaves the window where it was"
    );
}

#[test]
fn rates_are_against_the_agents_previous_table() {
    let mut memory = TableMemory::default();
    let first = build_table(
        jobs(1_000),
        &query(TableSort::Rate, true, 0, 3),
        &mut memory,
    );
    assert_eq!(first.interval_ms, None);
    assert_eq!(first.app_rate, None);
    assert!(first.rows.iter().all(|r| r.rate.is_none()));

    let mut later = jobs(3_000);
    for server in &mut later.servers {
        if server.pid == Pid(15) {
            server.messages = 400;
            server.busy_ns = 500_000_000;
            server.queue_len += 1;
        }
    }
    let second = build_table(later, &query(TableSort::Rate, true, 0, 3), &mut memory);
    assert_eq!(second.interval_ms, Some(2_000));
    assert_eq!(second.rows[0].pid, Pid(15));
    // 400 messages over the 2 s between the snapshots' times; 0.5 s busy of 2 s.
    assert_eq!(second.rows[0].rate, Some(200.0));
    assert_eq!(second.rows[0].busy_pct, Some(25.0));
    assert!(second.rows[0].queue_growing);
    assert_eq!(second.queues_growing, 1);
    assert_eq!(second.app_rate, Some(200.0));
    assert_eq!(second.rows[1].rate, Some(0.0));
}

#[test]
fn rates_follow_each_server_when_many_others_ended_in_between() {
    let mut memory = TableMemory::default();
    build_table(
        jobs(1_000),
        &query(TableSort::Pid, false, 0, 0),
        &mut memory,
    );
    let mut later = jobs(2_000);
    // Twelve servers ended: the walk through the previous counters jumps them.
    later.servers.retain(|s| !(10..22).contains(&s.pid.0));
    for server in &mut later.servers {
        server.messages = server.pid.0;
    }
    let view = build_table(later, &query(TableSort::Rate, true, 0, 3), &mut memory);
    let rates: Vec<_> = view.rows.iter().map(|r| (r.pid.0, r.rate)).collect();
    // (<0.30> is a system server, left out.)
    assert_eq!(
        rates,
        [(29, Some(29.0)), (28, Some(28.0)), (27, Some(27.0))]
    );
}

#[test]
fn the_filter_ignores_case_and_matches_names_pids_types_and_status() {
    let mut memory = TableMemory::default();
    let mut filtered = |filter: &str, system: bool| {
        let wanted = TableQuery {
            filter: filter.into(),
            system,
            limit: 100,
            ..TableQuery::default()
        };
        build_table(jobs(0), &wanted, &mut memory)
    };
    assert_eq!(
        pids(&filtered("JOB-1", false)).len(),
        10,
        "job-1, job-10..job-19"
    );
    assert_eq!(pids(&filtered("<0.12>", false)), [12]);
    assert_eq!(pids(&filtered("supervisor", false)), [1]);
    assert_eq!(filtered("RUNNING", false).matched, 21);
    assert_eq!(pids(&filtered("agentconn", false)), Vec::<u64>::new());
    let with_system = filtered("agentconn", true);
    assert_eq!(pids(&with_system), [30]);
    assert_eq!((with_system.processes, with_system.hidden_system), (22, 0));
}

#[test]
fn the_filter_matches_a_process_s_state_and_the_window_carries_it() {
    let mut snapshot = jobs(0);
    snapshot.servers[3].state = Some("HalfOpen".into());
    let wanted = TableQuery {
        filter: "halfopen".into(),
        limit: 100,
        ..TableQuery::default()
    };
    let view = build_table(snapshot, &wanted, &mut TableMemory::default());
    assert_eq!(pids(&view), [13]);
    assert_eq!(view.snapshot.servers[0].state.as_deref(), Some("HalfOpen"));
}

#[test]
fn the_reply_holds_the_window_and_the_supervisors_above_it() {
    let mut memory = TableMemory::default();
    let view = build_table(jobs(0), &query(TableSort::Queue, true, 0, 2), &mut memory);
    let servers: Vec<u64> = view.snapshot.servers.iter().map(|s| s.pid.0).collect();
    assert_eq!(servers, [13, 20]);
    assert_eq!(view.snapshot.supervisors.len(), 1, "their supervisor");
    let children: Vec<_> = view.snapshot.supervisors[0]
        .children
        .iter()
        .map(|c| c.pid)
        .collect();
    assert_eq!(children, [Some(Pid(13)), Some(Pid(20))]);
    assert_eq!(
        view.child_counts,
        [ChildCount {
            pid: Pid(1),
            children: 20
        }]
    );
    assert_eq!(
        view.snapshot.process_count, 22,
        "the app's figures stay whole"
    );
}
