//! A client's snapshot, which the runtime writes as rows straight from its process
//! table (protocol 2.1), says what `observer::snapshot` says.
#![cfg(all(unix, feature = "agent"))]
//! (Its own test binary: the agent is one per OS process, and this test owns it.)

use noex::gen_server::{self, Context, GenServer, Reply, StartOptions};
use noex::observer::{self, Snapshot};
use noex::supervisor::{self, ChildSpec, SupervisorSpec};
use noex_agent::client::Client;

mod support;
use support::{Idle, eventually, within};

/// Crashes when cast to.
struct Crashy;

impl GenServer for Crashy {
    type Call = ();
    type Cast = ();
    type Reply = ();
    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }
    async fn handle_cast(&mut self, _: (), _: &mut Context<Self>) {
        panic!("asked to crash");
    }
}

/// What may differ between two snapshots taken one after the other: the clock, the
/// memory, and the agent's own processes, which serve the request.
fn steady(mut snapshot: Snapshot) -> Snapshot {
    snapshot.taken_at_ms = 0;
    snapshot.uptime_ms = 0;
    snapshot.memory_rss_bytes = None;
    snapshot.total_messages = 0;
    snapshot.servers.retain(|server| !server.system);
    snapshot.supervisors.retain(|supervisor| !supervisor.system);
    snapshot
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_written_from_the_process_table_decode_to_the_observer_s_snapshot() {
    let app = supervisor::start(
        SupervisorSpec::one_for_one()
            .name("rows.app")
            .child(ChildSpec::worker("crashy", || Crashy).name("rows.crashy"))
            .child(ChildSpec::worker("plain", || Idle))
            .child(ChildSpec::supervisor(
                "pool",
                SupervisorSpec::simple_one_for_one(ChildSpec::worker("w", || Idle)),
            )),
    )
    .await
    .unwrap();
    let named = gen_server::start(Idle, StartOptions::new().name("rows.alone"))
        .await
        .unwrap();
    named.call(()).await.unwrap();
    let first = noex::registry::lookup::<Crashy>("rows.crashy").unwrap();
    first.cast(()).unwrap();
    within("the crash", first.wait()).await;
    eventually("the restart", || async {
        noex::registry::lookup::<Crashy>("rows.crashy").ok()
    })
    .await;

    let socket = noex::agent::socket_path().expect("started with the first process");
    let mut client = Client::connect(&socket).await.unwrap();
    let from_rows = client.snapshot().await.unwrap();
    let observed = observer::snapshot();
    assert!(
        from_rows
            .servers
            .iter()
            .any(|s| s.last_error.as_deref() == Some("asked to crash") && s.restarts == 1),
        "{from_rows:#?}"
    );
    assert!(from_rows.servers.iter().any(|s| &*s.type_name == "Crashy"));
    assert!(
        from_rows.supervisors.iter().any(|s| s.system),
        "the agent's own"
    );
    assert_eq!(from_rows.app, observed.app);
    assert_eq!(steady(from_rows), steady(observed));
    drop(app);
}
