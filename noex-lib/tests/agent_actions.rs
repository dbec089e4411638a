//! `noex kill` and `noex restart` as the app's own agent carries them out: the
//! supervisor's policy decides, the agent only asks.
#![cfg(all(unix, feature = "agent"))]
//! (Its own test binary: the agent is one per OS process, and this test owns it.)

use noex::supervisor::{self, ChildSpec, RestartType, SupervisorSpec};
use noex_agent::client::{Client, ClientError};
use noex_agent::protocol::ErrorCode;

mod support;
use support::Idle;

/// Both tests attach clients to this binary's one agent, and one counts its
/// connections: they take turns, so neither sees the other's client, and the agent
/// has started (with the first test's first process) before the second test asks.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn client() -> Client {
    let socket = noex::agent::socket_path().expect("started with the first process");
    Client::connect(&socket).await.unwrap()
}

/// The live instances of child `id`, oldest first.
fn instances(id: &str) -> Vec<noex::Pid> {
    noex::observer::snapshot()
        .servers
        .iter()
        .filter(|server| server.child_id.as_deref() == Some(id))
        .map(|server| server.pid)
        .collect()
}

fn pid_of(id: &str) -> Option<noex::Pid> {
    instances(id).first().copied()
}

#[tokio::test]
async fn restart_asks_the_supervisor_for_a_fresh_instance_and_kill_lets_it_apply_its_policy() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let sup = supervisor::start(
        SupervisorSpec::one_for_one()
            .name("actions.sup")
            .child(ChildSpec::worker("actions.worker", || Idle)),
    )
    .await
    .unwrap();
    let mut client = client().await;
    let first = pid_of("actions.worker").unwrap();

    // OTP: terminate_child, then restart_child.
    let restarted = client.restart("actions.worker").await.unwrap();
    assert_eq!(restarted.target.pid, first);
    assert_eq!(restarted.supervisor.map(|s| s.pid), Some(sup.pid()));
    let second = restarted.new_pid.expect("started again in time");
    assert_ne!(second, first);
    assert_eq!(pid_of("actions.worker"), Some(second));

    // A kill is an abnormal exit: the permanent child is restarted by its supervisor.
    let killed = client.kill("actions.worker", None, false).await.unwrap();
    assert_eq!(killed.target.pid, second);
    let deadline = tokio::time::Instant::now() + support::HANG;
    let third = loop {
        let now = instances("actions.worker");
        if let Some(pid) = now.iter().copied().find(|pid| *pid != second) {
            break pid;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the killed worker is not back within {:?}: instances {now:?}, supervisor running: {}",
            support::HANG,
            sup.is_running()
        );
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    };
    assert_ne!(third, first);

    // The root has nothing above it to restart it.
    match client.restart("actions.sup").await {
        Err(ClientError::Agent(error)) => assert_eq!(error.code, ErrorCode::NotSupervised),
        other => panic!("restarting a root must be refused, got {other:?}"),
    }
    sup.stop().await.unwrap();
}

/// The dashboard acts by pid, and the agent then reads only the target and its
/// supervisor: a temporary child (OTP: its supervisor forgets it) is refused without
/// `force` as it is by name.
#[tokio::test]
async fn a_temporary_child_named_by_its_pid_is_killed_only_with_force() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let sup = supervisor::start(
        SupervisorSpec::one_for_one()
            .child(ChildSpec::worker("actions.other", || Idle))
            .child(ChildSpec::worker("actions.temporary", || Idle).restart(RestartType::Temporary)),
    )
    .await
    .unwrap();
    let mut client = client().await;
    let temporary = pid_of("actions.temporary").unwrap().to_string();
    match client.kill(&temporary, None, false).await {
        Err(ClientError::Agent(error)) => {
            assert_eq!(error.code, ErrorCode::NotSupervised);
            assert!(
                error.message.contains("temporary child"),
                "{}",
                error.message
            );
        }
        other => panic!("a temporary child's kill must need force, got {other:?}"),
    }
    let killed = client.kill(&temporary, None, true).await.unwrap();
    assert_eq!(killed.target.pid.to_string(), temporary);
    // A permanent sibling, by pid, needs no force.
    let other = pid_of("actions.other").unwrap().to_string();
    client.kill(&other, None, false).await.unwrap();
    sup.stop().await.unwrap();
}

/// The connections now under the agent's own supervisor (`noex.agent`), oldest first.
fn connections() -> Vec<noex::Pid> {
    let Some(agent) = noex::registry::whereis("noex.agent") else {
        return Vec::new();
    };
    noex::observer::snapshot()
        .servers
        .iter()
        .filter(|server| server.parent == Some(agent))
        .inspect(|server| assert!(server.system, "a connection is a system process"))
        .map(|server| server.pid)
        .collect()
}

async fn new_connection(before: &[noex::Pid]) -> noex::Pid {
    support::eventually("the client's connection process", async || {
        connections().into_iter().find(|pid| !before.contains(pid))
    })
    .await
}

/// `noex ps --all` shows who is attached: each client is a temporary system process
/// under `noex.agent`, which ends normally when its client goes. Those processes are
/// the agent's own: no client can kill or restart them (or the agent's supervisor)
/// through the agent, so one client cannot cut another off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_is_a_system_process_that_ends_with_its_connection_and_is_protected() {
    let _turn = ONE_AT_A_TIME.lock().await;
    // The agent starts with the app's first process.
    let _app = noex::gen_server::start(Idle, Default::default())
        .await
        .unwrap();
    let before = connections();
    let attached = client().await;
    let first = new_connection(&before).await;
    let down = noex::process::monitor(first);
    drop(attached);
    let ended = support::within("the connection's end", down).await;
    assert_eq!(ended.reason, noex::ExitReason::Normal);

    let before = connections();
    let mut victim = client().await;
    let victim_pid = new_connection(&before).await;
    let mut operator = client().await;
    let refused = operator.kill(&victim_pid.to_string(), None, true).await;
    match refused {
        Err(ClientError::Agent(error)) => {
            assert_eq!(error.code, ErrorCode::Protected, "{}", error.message);
            assert!(
                error.message.contains("belongs to the noex agent itself"),
                "{}",
                error.message
            );
        }
        other => panic!("killing a client's connection must be refused, got {other:?}"),
    }
    for target in ["noex.agent", &victim_pid.to_string()] {
        match operator.restart(target).await {
            Err(ClientError::Agent(error)) => assert_eq!(error.code, ErrorCode::Protected),
            other => panic!("restarting {target} must be refused, got {other:?}"),
        }
    }
    // The victim was never cut off.
    victim.snapshot().await.unwrap();
    assert!(noex::process::is_alive(victim_pid));
}

/// The runtime reads the table from its process table, without a snapshot; it must
/// say what a table cut from a whole snapshot says.
#[tokio::test]
async fn the_table_read_from_the_process_table_agrees_with_one_cut_from_a_snapshot() {
    use noex_agent::table::{TableMemory, TableQuery, TableSort, build_table};
    let _turn = ONE_AT_A_TIME.lock().await;
    let sup = supervisor::start(
        SupervisorSpec::simple_one_for_one(ChildSpec::worker_with("table.job", |(): &()| Idle))
            .name("table.jobs"),
    )
    .await
    .unwrap();
    for _ in 0..40 {
        sup.start_child_with(()).await.unwrap();
    }
    let mut client = client().await;
    for (sort, descending, filter, offset) in [
        (TableSort::Pid, false, "table.", 5),
        (TableSort::Name, true, "table.", 0),
        (TableSort::Uptime, false, "TABLE.JOB", 30),
        (TableSort::Status, true, "running", 0),
    ] {
        let query = TableQuery {
            sort,
            descending,
            filter: filter.into(),
            offset,
            limit: 10,
            ..TableQuery::default()
        };
        let read = client.table(query.clone()).await.unwrap();
        let cut = build_table(
            noex::observer::snapshot(),
            &query,
            &mut TableMemory::default(),
        );
        let pids = |rows: &[noex_agent::table::TableRow]| -> Vec<_> {
            rows.iter().map(|r| r.pid).collect()
        };
        assert_eq!(pids(&read.rows), pids(&cut.rows), "{query:?}");
        assert_eq!((read.offset, read.matched), (cut.offset, cut.matched));
        assert_eq!(read.snapshot.servers, cut.snapshot.servers, "{query:?}");
        assert_eq!(read.child_counts, cut.child_counts, "{query:?}");
        let listed = |view: &noex_agent::table::TableView| -> Vec<_> {
            view.snapshot
                .supervisors
                .iter()
                .map(|s| (s.pid, s.children.clone()))
                .collect()
        };
        assert_eq!(listed(&read), listed(&cut), "{query:?}");
    }
    let whole = client
        .table(TableQuery {
            filter: "table.job".into(),
            limit: 100,
            ..TableQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(whole.matched, 41, "the jobs and table.jobs");
    // One memory of counters for the agent, not one per client: another client's
    // first table already has rates (over the time since this client's table).
    let mut other = self::client().await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let first_of_other = other.table(TableQuery::default()).await.unwrap();
    assert!(first_of_other.interval_ms.is_some());
    assert_eq!(
        whole.child_counts,
        [noex_agent::table::ChildCount {
            pid: sup.pid(),
            children: 40
        }]
    );
}
