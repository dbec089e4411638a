//! The Observer and the lifecycle stream: what a user (or `noex`) sees.

use std::time::{Duration, Instant};

use noex::events::{self, EventKind, HISTORY_CAPACITY, HistoryLimits};
use noex::gen_server::{self, Context, GenServer, Reply, StartOptions};
use noex::observer::{self, ProcessStatus, Strategy, TreeNode};
use noex::supervisor::{self, ChildSpec, SupervisorSpec};
use noex::{ExitReason, Pid};
use tokio::sync::oneshot;

mod support;
use support::{eventually, within};

struct Busy;

enum Work {
    Crash,
    CrashWith(String),
    /// Say the handler has begun, then wait to be released.
    Hold {
        begun: oneshot::Sender<()>,
        release: oneshot::Receiver<()>,
    },
    Quick,
}

impl GenServer for Busy {
    type Call = ();
    type Cast = Work;
    type Reply = ();
    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }
    async fn handle_cast(&mut self, work: Work, _: &mut Context<Self>) {
        match work {
            Work::Crash => panic!("asked to crash"),
            Work::CrashWith(message) => panic!("{message}"),
            Work::Hold { begun, release } => {
                let _ = begun.send(());
                let _ = release.await;
            }
            Work::Quick => {}
        }
    }
}

fn server_info(pid: Pid) -> noex::observer::ServerInfo {
    observer::snapshot()
        .servers
        .into_iter()
        .find(|s| s.pid == pid)
        .expect("server in snapshot")
}

#[tokio::test]
async fn snapshot_counts_messages_queue_and_busy_time_without_asking_the_server() {
    let server = gen_server::start(Busy, StartOptions::new().name("obs.busy"))
        .await
        .unwrap();
    let (begun, has_begun) = oneshot::channel();
    let (release, released) = oneshot::channel();
    server
        .cast(Work::Hold {
            begun,
            release: released,
        })
        .unwrap();
    for _ in 0..9 {
        server.cast(Work::Quick).unwrap();
    }
    within("the first handler begins", has_begun).await.unwrap();
    let held_since = Instant::now();
    // The server is held in a handler with 9 messages behind it: a snapshot that
    // asked the server would never be answered.
    let info = within(
        "a snapshot while the server is busy",
        tokio::task::spawn_blocking({
            let pid = server.pid();
            move || server_info(pid)
        }),
    )
    .await
    .unwrap();
    assert_eq!(info.name.as_deref(), Some("obs.busy"));
    assert_eq!(&*info.type_name, "Busy");
    assert_eq!(info.status, ProcessStatus::Running);
    assert_eq!(
        (info.messages, info.queue_len),
        (1, 9),
        "one taken, nine queued"
    );
    assert!(
        info.handler_running_ns.is_some(),
        "a handler is running now"
    );
    // Real time for the handler to be busy: how much is measured, not assumed.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let held = held_since.elapsed();
    release.send(()).unwrap();
    server.call(()).await.unwrap();
    let info = server_info(server.pid());
    assert_eq!(info.messages, 11);
    assert_eq!(info.queue_len, 0);
    // The handler ran at least `held`; the coarse clock it is timed with may lose
    // up to a tick (10 ms at most) at each end.
    let floor = held.saturating_sub(Duration::from_millis(20)).as_nanos() as u64;
    assert!(
        info.busy_ns >= floor,
        "busy {}ns, held {held:?}",
        info.busy_ns
    );
    assert_eq!(info.handler_running_ns, None, "idle");
}

#[tokio::test]
async fn snapshot_shows_restarts_and_last_error_across_restarts() {
    let sup = supervisor::start(
        SupervisorSpec::one_for_one()
            .name("obs.sup")
            .child(ChildSpec::worker("crashy", || Busy).name("obs.crashy")),
    )
    .await
    .unwrap();
    let first = noex::registry::lookup::<Busy>("obs.crashy").unwrap();
    first.cast(Work::Crash).unwrap();
    within("the crash", first.wait()).await;
    let second = eventually("the restart", || async {
        noex::registry::lookup::<Busy>("obs.crashy").ok()
    })
    .await;
    assert_ne!(second.pid(), first.pid());
    let info = server_info(second.pid());
    assert_eq!(info.restarts, 1);
    assert_eq!(info.child_id.as_deref(), Some("crashy"));
    assert_eq!(info.parent, Some(sup.pid()));
    assert_eq!(info.last_error.as_deref(), Some("asked to crash"));

    let snapshot = observer::snapshot();
    let sup_info = snapshot
        .supervisors
        .iter()
        .find(|s| s.pid == sup.pid())
        .unwrap();
    assert_eq!(sup_info.strategy, Strategy::OneForOne);
    assert_eq!(sup_info.child_restarts, 1);
    assert_eq!(sup_info.children[0].pid, Some(second.pid()));
    assert_eq!(
        sup_info.intensity.max_restarts, 1,
        "OTP's default intensity"
    );
    assert!(snapshot.process_count >= 2);
    assert_eq!(snapshot.os_pid, std::process::id());
}

#[tokio::test]
async fn process_tree_nests_children_in_start_order() {
    let sup = supervisor::start(
        SupervisorSpec::rest_for_one()
            .name("tree.root")
            .child(ChildSpec::worker("w1", || Busy))
            .child(ChildSpec::supervisor(
                "inner",
                SupervisorSpec::one_for_all().child(ChildSpec::worker("w2", || Busy)),
            ))
            .child(ChildSpec::worker("w3", || Busy)),
    )
    .await
    .unwrap();
    let tree = observer::process_tree();
    let root = tree
        .roots
        .iter()
        .find(|node| node.pid() == Some(sup.pid()))
        .expect("the supervisor is a root");
    let TreeNode::Supervisor { info, children } = root else {
        panic!("root is a supervisor")
    };
    assert_eq!(info.strategy, Strategy::RestForOne);
    let ids: Vec<String> = children
        .iter()
        .map(|c| match c {
            TreeNode::Worker { info } => info.child_id.clone().unwrap(),
            TreeNode::Supervisor { info, .. } => info.child_id.clone().unwrap(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(ids, ["w1", "inner", "w3"]);
    let TreeNode::Supervisor {
        children: inner,
        info,
    } = &children[1]
    else {
        panic!("inner supervisor")
    };
    assert_eq!(info.strategy, Strategy::OneForAll);
    assert!(
        matches!(&inner[0], TreeNode::Worker { info } if info.child_id.as_deref() == Some("w2"))
    );
    // Children are not roots.
    assert!(!tree.roots.iter().any(|n| n.pid() == children[0].pid()));
}

#[tokio::test]
async fn lifecycle_events_report_start_crash_restart_in_order() {
    let mut stream = events::subscribe();
    let sup = supervisor::start(
        SupervisorSpec::one_for_one().child(ChildSpec::worker("ev", || Busy).name("events.worker")),
    )
    .await
    .unwrap();
    let worker = noex::registry::lookup::<Busy>("events.worker").unwrap();
    worker.cast(Work::Crash).unwrap();
    let mut seen = Vec::new();
    while seen.len() < 7 {
        let event = within("the next event", stream.recv())
            .await
            .expect("no lag");
        let ours = event.pid == sup.pid() || event.parent == Some(sup.pid());
        if ours {
            seen.push((event.kind.label(), event.child_id.clone(), event.seq));
        }
    }
    let kinds: Vec<_> = seen.iter().map(|(k, id, _)| (*k, id.as_deref())).collect();
    assert_eq!(
        kinds,
        [
            ("registered", Some("ev")),
            ("started", Some("ev")),
            ("started", None),
            ("unregistered", Some("ev")),
            ("crashed", Some("ev")),
            ("registered", Some("ev")),
            ("started", Some("ev")),
        ]
    );
    let next = within("the restarted event", async {
        loop {
            let event = stream.recv().await.expect("no lag");
            if event.parent == Some(sup.pid()) {
                break event;
            }
        }
    })
    .await;
    assert_eq!(next.kind, EventKind::Restarted { attempt: 1 });
    assert!(
        seen.windows(2).all(|w| w[0].2 < w[1].2),
        "sequence numbers increase"
    );
}

/// The history keeps the newest events up to its limits (by count and by bytes),
/// oldest first, none missing; `recent(n)` is its newest `n`. (Other tests of this
/// binary add events meanwhile: only what holds whatever they add is asserted.)
#[tokio::test]
async fn recent_events_keep_the_newest_events_within_the_history_limits_oldest_first() {
    assert_eq!(
        events::history_limits(),
        HistoryLimits {
            events: HISTORY_CAPACITY,
            bytes: events::HISTORY_BYTES
        },
        "the documented defaults"
    );
    // Smaller, so that flooding it does not overrun the live subscribers of the
    // other tests here.
    const KEPT: usize = 1000;
    events::set_history_limits(HistoryLimits {
        events: KEPT,
        bytes: events::HISTORY_BYTES,
    });
    // Two events each (started, terminated): more than the history keeps.
    let mut servers = Vec::new();
    for _ in 0..KEPT / 2 + 10 {
        let server = gen_server::start(Busy, StartOptions::new()).await.unwrap();
        server.stop(ExitReason::Normal).await.unwrap();
        servers.push(server.pid());
    }
    let all = events::recent(usize::MAX);
    assert_eq!(all.len(), KEPT, "bounded");
    assert!(
        all.windows(2).all(|w| w[1].seq == w[0].seq + 1),
        "oldest first, none missing"
    );
    assert!(
        !all.iter().any(|e| e.pid == servers[0]),
        "the oldest events were dropped"
    );
    let last = *servers.last().unwrap();
    let ours: Vec<_> = all
        .iter()
        .filter(|e| e.pid == last)
        .map(|e| &e.kind)
        .collect();
    assert_eq!(
        ours,
        [
            &EventKind::Started,
            &EventKind::Terminated {
                reason: "normal".into()
            }
        ]
    );
    let newest = events::recent(50);
    assert_eq!(newest.len(), 50);
    assert!(newest.windows(2).all(|w| w[1].seq == w[0].seq + 1));
    assert!(
        newest.last().unwrap().seq >= all.last().unwrap().seq,
        "the newest 50, not the oldest"
    );

    // Bounded in bytes too: a limit of a few events' worth keeps only those.
    // Each event counts its fixed size plus its strings.
    let fixed = std::mem::size_of::<noex_agent::types::LifecycleEvent>();
    events::set_history_limits(HistoryLimits {
        events: KEPT,
        bytes: 3 * fixed,
    });
    let few = events::recent(usize::MAX);
    assert!((1..=3).contains(&few.len()), "{} kept", few.len());
    assert_eq!(few.last().unwrap().seq, events::recent(1)[0].seq);
    events::set_history_limits(HistoryLimits::default());
}

/// A crash's text is stored clipped: a 60 KB panic message costs 1 KiB in its event
/// and in `last_error`, however many times it is kept.
#[tokio::test]
async fn crash_texts_are_clipped_in_events_and_last_error() {
    let mut stream = events::subscribe();
    let sup = supervisor::start(
        SupervisorSpec::one_for_one().child(ChildSpec::worker("long", || Busy).name("long.crash")),
    )
    .await
    .unwrap();
    let worker = noex::registry::lookup::<Busy>("long.crash").unwrap();
    worker.cast(Work::CrashWith("x".repeat(60_000))).unwrap();
    let crashed = within("the crash event", async {
        loop {
            let event = stream.recv().await.expect("no lag");
            if event.parent == Some(sup.pid()) && event.kind.label() == "crashed" {
                break event;
            }
        }
    })
    .await;
    let EventKind::Crashed { error } = crashed.kind else {
        unreachable!()
    };
    assert_eq!(error.len(), noex_agent::text::STORED_TEXT_LIMIT);
    assert!(error.ends_with(" bytes)"), "{}", &error[error.len() - 40..]);
    // The restarted instance shows why its predecessor ended.
    let last_error = within("the restart", async {
        loop {
            let restarted = observer::snapshot().servers.into_iter().find(|s| {
                s.parent == Some(sup.pid()) && s.pid != crashed.pid && s.last_error.is_some()
            });
            if let Some(server) = restarted {
                break server.last_error.unwrap();
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert_eq!(last_error.len(), noex_agent::text::STORED_TEXT_LIMIT);
}

/// Events carry the wall-clock time they happened at (milliseconds since the Unix
/// epoch, from a clock that may lag a tick behind): a start, and a child added.
#[tokio::test]
async fn lifecycle_events_are_stamped_with_the_time_they_happened() {
    let now_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
    };
    let mut events = events::subscribe();
    let before = now_ms();
    let sup = supervisor::start(SupervisorSpec::one_for_one())
        .await
        .unwrap();
    let child = sup
        .start_child(ChildSpec::worker("stamped", || support::Idle))
        .await
        .unwrap()
        .pid();
    let after = now_ms();
    let mut seen = Vec::new();
    within("the started and child_added events", async {
        while seen.len() < 2 {
            let event = events.recv().await.unwrap();
            if event.pid == child {
                seen.push(event);
            }
        }
    })
    .await;
    assert!(matches!(seen[0].kind, EventKind::Started), "{seen:?}");
    assert!(matches!(seen[1].kind, EventKind::ChildAdded), "{seen:?}");
    for event in &seen {
        // The coarse clock is at most a few ticks behind the precise one.
        assert!(
            (before.saturating_sub(100)..=after).contains(&event.at_ms),
            "{event:?} not within {before}..={after}"
        );
    }
}

#[tokio::test]
async fn a_snapshot_s_totals_agree_with_its_rows() {
    let servers: Vec<_> = futures::future::join_all(
        (0..3).map(|_| gen_server::start(support::Idle, StartOptions::new())),
    )
    .await
    .into_iter()
    .map(Result::unwrap)
    .collect();
    for server in &servers {
        server.call(()).await.unwrap();
    }
    // Other tests of this binary run beside this one: at least these three.
    assert!(
        observer::process_count() >= 3,
        "{}",
        observer::process_count()
    );
    let snapshot = observer::snapshot();
    let rows = snapshot.servers.len() + snapshot.supervisors.len();
    assert_eq!(snapshot.process_count, rows as u64);
    let messages: u64 = snapshot.servers.iter().map(|server| server.messages).sum();
    assert!(messages >= 3);
    assert_eq!(snapshot.total_messages, messages);
}
