mod support;

// A process's own word on what it is doing (`ServerInfo::state`, protocol 2.3): a
// state machine's current state, as OTP's observer shows a `gen_statem`'s state in
// its process view, in every view of the Observer: the snapshot, the tree, the
// compact rows and the dashboard's table. A plain GenServer says nothing.

use noex::gen_server::{self, StartOptions};
use noex::gen_statem::{self, Context, Event, GenStateMachine, Transition};
use noex::observer::{self, ServerInfo, Snapshot, TreeNode};
use noex::{ExitReason, Pid};
use support::{Idle, eventually};

#[derive(Clone, Debug, PartialEq, Eq)]
enum Breaker {
    Closed,
    Open,
}

/// A circuit breaker reduced to its states: a cast trips it.
struct Circuit;

impl GenStateMachine for Circuit {
    type State = Breaker;
    type Call = ();
    type Cast = Breaker;
    type Reply = ();
    type Internal = ();

    async fn handle_event(
        &mut self,
        event: Event<Self>,
        _: &Breaker,
        _: &mut Context<'_, Self>,
    ) -> Transition<Self> {
        match event {
            Event::Cast(to) => Transition::next_state(to),
            Event::Call((), reply) => Transition::keep_state().reply(reply, ()),
            _ => Transition::keep_state(),
        }
    }
}

fn server(snapshot: &Snapshot, pid: Pid) -> Option<&ServerInfo> {
    snapshot.servers.iter().find(|s| s.pid == pid)
}

/// The state `snapshot` reports for `pid`, once the process is in it.
fn state_of(snapshot: &Snapshot, pid: Pid) -> Option<String> {
    server(snapshot, pid).and_then(|s| s.state.clone())
}

#[tokio::test]
async fn a_state_machine_shows_its_current_state_and_a_plain_server_shows_none() {
    let plain = gen_server::start(Idle, StartOptions::new()).await.unwrap();
    let machine = gen_statem::start(Circuit, Breaker::Closed, StartOptions::new())
        .await
        .unwrap();

    let snapshot = observer::snapshot();
    assert_eq!(
        state_of(&snapshot, machine.pid()).as_deref(),
        Some("Closed")
    );
    let plain_info = server(&snapshot, plain.pid()).expect("in the snapshot");
    assert_eq!(plain_info.state, None);

    machine.cast(Breaker::Open).unwrap();
    machine.call(()).await.unwrap(); // The cast is handled before the call.
    assert_eq!(
        state_of(&observer::snapshot(), machine.pid()).as_deref(),
        Some("Open")
    );

    // The tree shows the same processes, state and all.
    let tree = observer::process_tree();
    let in_tree = tree
        .roots
        .iter()
        .find_map(|node| match node {
            TreeNode::Worker { info } if info.pid == machine.pid() => Some(info.state.clone()),
            _ => None,
        })
        .expect("an unsupervised machine is a root");
    assert_eq!(in_tree.as_deref(), Some("Open"));

    // Gone with the process: its pid is not listed, nor its state anywhere else.
    let pid = machine.pid();
    machine.stop(ExitReason::Normal).await.unwrap();
    eventually("the machine leaves the snapshot", || async {
        server(&observer::snapshot(), pid).is_none().then_some(())
    })
    .await;
    assert_eq!(
        server(&observer::snapshot(), plain.pid()).unwrap().state,
        None
    );
}

#[cfg(all(unix, feature = "agent"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_reads_the_state_from_the_compact_rows_and_the_table() {
    use noex_agent::client::Client;
    use noex_agent::table::TableQuery;
    use support::within;

    let plain = gen_server::start(Idle, StartOptions::new()).await.unwrap();
    let machine = gen_statem::start(Circuit, Breaker::Closed, StartOptions::new())
        .await
        .unwrap();
    machine.cast(Breaker::Open).unwrap();
    machine.call(()).await.unwrap();

    let socket = noex::agent::socket_path().expect("started with the first process");
    let mut client = within("connecting", Client::connect(&socket))
        .await
        .unwrap();
    assert!(client.hello().protocol_version.minor >= 3);

    // `snapshot` asks for rows: the machine's row carries its state, the others none.
    let rows = client.snapshot().await.unwrap();
    assert_eq!(state_of(&rows, machine.pid()).as_deref(), Some("Open"));
    assert_eq!(server(&rows, plain.pid()).unwrap().state, None);
    let observed = observer::snapshot();
    for info in rows.servers.iter().filter(|s| !s.system) {
        assert_eq!(info.state, state_of(&observed, info.pid), "{info:?}");
    }

    // The dashboard's table: the window's processes in full, state included.
    let table = client
        .table(TableQuery {
            limit: 1000,
            around: Some(machine.pid()),
            ..TableQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        state_of(&table.snapshot, machine.pid()).as_deref(),
        Some("Open")
    );
    assert_eq!(server(&table.snapshot, plain.pid()).unwrap().state, None);

    // Its filter matches the state too.
    let open = client
        .table(TableQuery {
            filter: "OPEN".into(),
            limit: 1000,
            ..TableQuery::default()
        })
        .await
        .unwrap();
    let shown: Vec<Pid> = open.rows.iter().map(|row| row.pid).collect();
    assert!(shown.contains(&machine.pid()), "{shown:?}");
    assert!(!shown.contains(&plain.pid()), "{shown:?}");
}
