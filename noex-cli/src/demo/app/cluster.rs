//! The demo as a node of a cluster (`noex demo --cluster URL --node NAME`): every
//! node runs for the global name `leader`; one holds it, the others stand by and
//! one of them takes it over when the holder's node goes. Every node also calls
//! the leader by its global name, wherever it runs, every 2 s. `noex ps --cluster`
//! shows both in the STATE column: who leads, and how the last call went.
//!
//! ```text
//! cluster (one_for_one)
//! ├── leader: holds the global name `leader`, or stands by for it
//! └── caller: calls whoever holds `leader`
//! ```

use std::fmt::Display;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use noex::ServerRef;
use noex::gen_server::{Context, GenServer, Info, Reply};
use noex::process::Description;
use noex::supervisor::{ChildSpec, SupervisorSpec};
use noex_cluster::{Cluster, GlobalError};
use tokio::task::JoinHandle;

use super::tick::tick_every;

/// The global name the nodes run for.
pub(super) const LEADER: &str = "leader";
/// How often each node calls the leader.
const CALL_EVERY: Duration = Duration::from_secs(2);
/// How long a call to the leader may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(1);
/// After a failed registration (NATS away), the next try.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The `cluster` supervisor with its two servers, to start under the demo's root.
/// Other nodes may call a node's leader by name too (`remote::<Leader>(node,
/// "leader")`), not only through the global name.
pub(super) fn child_spec(cluster: &Cluster) -> ChildSpec {
    cluster.expose::<Leader>(LEADER);
    let (for_leader, for_caller) = (cluster.clone(), cluster.clone());
    ChildSpec::supervisor(
        "cluster",
        SupervisorSpec::one_for_one()
            .name("cluster")
            .max_restarts(10, Duration::from_secs(30))
            .child(ChildSpec::worker(LEADER, move || Leader::new(for_leader.clone())).name(LEADER))
            .child(
                ChildSpec::worker("caller", move || Caller::new(for_caller.clone())).name("caller"),
            ),
    )
}

/// What a node's `leader` process is, as `noex ps` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Role {
    Running,
    Holds,
    /// Another node holds the name (`None`: nobody yet, or NATS is away).
    Standby(Option<String>),
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Role::Running => write!(f, "running for global name {LEADER}"),
            Role::Holds => write!(f, "holds global name {LEADER}"),
            Role::Standby(Some(node)) => write!(f, "standby; {LEADER} is on node {node}"),
            Role::Standby(None) => write!(f, "standby; nobody holds {LEADER}"),
        }
    }
}

/// Holds the global name `leader`, or stands by for it. Called by every node: it
/// answers with its node's name.
pub(super) struct Leader {
    cluster: Cluster,
    role: Shown<Role>,
    campaign: Option<JoinHandle<()>>,
}

impl Leader {
    fn new(cluster: Cluster) -> Leader {
        Leader {
            cluster,
            role: Shown::new(Role::Running),
            campaign: None,
        }
    }
}

impl GenServer for Leader {
    type Call = ();
    type Cast = ();
    /// The node that answered.
    type Reply = String;

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        self.role.publish(ctx.pid());
        self.campaign = Some(tokio::spawn(campaign(self.cluster.clone(), ctx.myself())));
        Ok(())
    }

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<String> {
        Reply::Now(self.cluster.node_name().to_string())
    }

    async fn handle_info(&mut self, message: Info, _: &mut Context<Self>) {
        if let Ok(role) = message.downcast::<Role>() {
            self.role.set(*role);
        }
    }

    async fn terminate(&mut self, _: &noex::ExitReason, _: &mut Context<Self>) {
        // A restarted leader runs its own campaign; the name went with this process.
        if let Some(campaign) = self.campaign.take() {
            campaign.abort();
        }
    }

    fn format_status(&self) -> Option<String> {
        Some(self.role.text())
    }
}

/// Register `me` as the leader whenever the name is free; say how it goes.
async fn campaign(cluster: Cluster, me: ServerRef<Leader>) {
    loop {
        match cluster.register_global(LEADER, &me).await {
            Ok(mut name) => {
                let _ = me.send_info(Role::Holds);
                name.lost().await;
                let _ = me.send_info(Role::Standby(None));
            }
            Err(GlobalError::Taken { holder, .. }) => {
                let _ = me.send_info(Role::Standby(Some(holder)));
                cluster.wait_global_free(LEADER).await;
            }
            Err(_) => {
                let _ = me.send_info(Role::Standby(None));
                tokio::time::sleep(RETRY_AFTER).await;
            }
        }
    }
}

/// Calls the leader by its global name every 2 s, on whichever node it is.
pub(super) struct Caller {
    cluster: Cluster,
    last: Shown<String>,
}

impl Caller {
    fn new(cluster: Cluster) -> Caller {
        Caller {
            cluster,
            last: Shown::new(format!("calls {LEADER} every 2 s")),
        }
    }
}

impl GenServer for Caller {
    type Call = ();
    type Cast = ();
    type Reply = ();

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        self.last.publish(ctx.pid());
        tick_every(ctx, CALL_EVERY);
        Ok(())
    }

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }

    async fn handle_info(&mut self, _: Info, ctx: &mut Context<Self>) {
        let leader = self.cluster.global::<Leader>(LEADER);
        let asked = Instant::now();
        let outcome = match leader.call_timeout((), CALL_TIMEOUT).await {
            Ok(node) => format!(
                "{LEADER} on node {node} answered in {:.1} ms",
                asked.elapsed().as_secs_f64() * 1000.0
            ),
            Err(error) => format!("{LEADER} did not answer: {error}"),
        };
        self.last.set(outcome);
        tick_every(ctx, CALL_EVERY);
    }

    fn format_status(&self) -> Option<String> {
        Some(self.last.text())
    }
}

/// What a process shows in `noex ps` (its STATE column, read on the Observer's side)
/// and in `noex state` (`format_status`): one value, kept in one place.
struct Shown<T> {
    value: Arc<Mutex<T>>,
    _description: Option<Description>,
}

impl<T: Display + Send + 'static> Shown<T> {
    fn new(value: T) -> Shown<T> {
        Shown {
            value: Arc::new(Mutex::new(value)),
            _description: None,
        }
    }

    /// Show it for process `pid` from now on (called in `init`).
    fn publish(&mut self, pid: noex::Pid) {
        let value = Arc::clone(&self.value);
        self._description = Some(noex::process::describe(pid, move || {
            Some(
                value
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .to_string(),
            )
        }));
    }

    fn set(&self, value: T) {
        *self.value.lock().unwrap_or_else(PoisonError::into_inner) = value;
    }

    fn text(&self) -> String {
        self.value
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .to_string()
    }
}
