//! The tree the soak runs: its processes, and the shape it must always come back to.
//!
//! ```text
//! chaos                       root, one_for_one
//! ├── chaos.m0                mid, one_for_one  ─┐
//! │   ├── chaos.m0.l0         leaf supervisor    │ mids cycle through one_for_one,
//! │   │   ├── chaos.m0.l0.w0  worker             │ one_for_all, rest_for_one and
//! │   │   ├── …               (the last one of   │ simple_one_for_one; leaves through
//! │   │   └── w9               each leaf has no  │ one_for_one, one_for_all and
//! │   ├── …                    registered name)  │ rest_for_one
//! │   └── chaos.m0.w          a worker of the mid itself
//! ├── chaos.m3                mid, simple_one_for_one: workers w-1.. registered by
//! │   └── chaos.m3.w0 …        themselves in `init` (as chaos.m3.w0, chaos.m3.w1, …)
//! ├── chaos.m3.keeper         fills chaos.m3 after every (re)start of it
//! └── …
//! ```
//!
//! A `simple_one_for_one` supervisor comes back empty when it is restarted, as in OTP;
//! the keeper, its sibling, monitors it and starts its children again, so the tree
//! heals itself without the soak's help.

use std::time::Duration;

use noex::error::BoxError;
use noex::gen_server::{Context, GenServer, Info, Reply};
use noex::process::{Down, MonitorRef};
use noex::registry;
use noex::supervisor::{ChildSpec, Strategy, SupervisorSpec};
use noex::{Pid, StartError, SupervisorRef};

use super::Config;

/// The root supervisor's registered name; every other name starts with `chaos.`.
pub const ROOT_NAME: &str = "chaos";

/// The panic message of a crash the soak asks for; the soak's panic hook keeps it quiet.
pub(crate) const CRASH_MESSAGE: &str = "chaos: induced crash";

/// How long a keeper waits before looking for its pool again.
const KEEPER_RETRY: Duration = Duration::from_millis(5);

/// The root's intensity: kills never reach it (the root is never killed), but a mid
/// that dies counts one restart here. A thousand in a second is far above anything
/// the kill rate can cause, so the root never gives up and takes the soak down.
pub(crate) const ROOT_INTENSITY: (u32, Duration) = (1000, Duration::from_secs(1));

/// The call every worker answers: its nonce back, with the worker's own name.
#[derive(Clone, Copy, Debug)]
pub struct Ping {
    pub nonce: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pong {
    pub nonce: u64,
    pub name: Option<String>,
}

/// A cast that makes the receiver panic: a crash, not a kill (`terminate` runs).
#[derive(Clone, Copy, Debug)]
pub struct Crash;

/// The worker at the bottom of the tree: answers pings with its name.
pub struct Echo {
    name: Option<String>,
    /// A `simple_one_for_one` child registers its name itself (its child spec is the
    /// pool's template, shared by all of them).
    register_self: bool,
}

impl GenServer for Echo {
    type Call = Ping;
    type Cast = Crash;
    type Reply = Pong;

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), BoxError> {
        if self.register_self
            && let Some(name) = &self.name
        {
            registry::register(name, &ctx.myself())?;
        }
        Ok(())
    }

    async fn handle_call(&mut self, ping: Ping, _: &mut Context<Self>) -> Reply<Pong> {
        // The handler spans a poll, so kills also land while a call is being handled.
        tokio::task::yield_now().await;
        Reply::Now(Pong {
            nonce: ping.nonce,
            name: self.name.clone(),
        })
    }

    async fn handle_cast(&mut self, _: Crash, _: &mut Context<Self>) {
        panic!("{CRASH_MESSAGE}");
    }
}

/// Keeps a `simple_one_for_one` pool full: after its own start and after every exit of
/// the pool (it monitors it), it starts the pool's missing children, `0..size` in order.
/// A fresh pool is empty and a full one stays full (its children are permanent), so
/// "missing" is always the tail `len..size`, also after a keeper killed mid-way.
pub struct Keeper {
    pool: String,
    size: usize,
    watching: Option<(Pid, MonitorRef)>,
}

struct Fill;

impl GenServer for Keeper {
    type Call = ();
    type Cast = Crash;
    type Reply = ();

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), BoxError> {
        ctx.myself().send_info(Fill)?;
        Ok(())
    }

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }

    async fn handle_cast(&mut self, _: Crash, _: &mut Context<Self>) {
        panic!("{CRASH_MESSAGE}");
    }

    async fn handle_info(&mut self, message: Info, ctx: &mut Context<Self>) {
        if let Some(down) = message.downcast_ref::<Down>() {
            if self
                .watching
                .is_some_and(|(_, monitor)| monitor == down.monitor)
            {
                self.watching = None;
                self.fill(ctx).await;
            }
        } else if message.is::<Fill>() {
            self.fill(ctx).await;
        }
    }
}

impl Keeper {
    async fn fill(&mut self, ctx: &mut Context<Self>) {
        // The pool is being restarted: its name is free, or still the dead one's.
        let pool = match registry::lookup_supervisor(&self.pool) {
            Ok(pool) if pool.is_running() => pool,
            _ => {
                ctx.send_after(KEEPER_RETRY, Fill);
                return;
            }
        };
        if self.watching.map(|(pid, _)| pid) != Some(pool.pid()) {
            if let Some((_, old)) = self.watching.take() {
                ctx.demonitor(old);
            }
            self.watching = Some((pool.pid(), ctx.monitor(pool.pid())));
        }
        // A pool that ends meanwhile sends its Down, which brings us back here.
        let Ok(children) = pool.children().await else {
            return;
        };
        for k in children.len()..self.size {
            if pool.start_child_with(k).await.is_err() {
                if pool.is_running() {
                    ctx.send_after(KEEPER_RETRY, Fill);
                }
                return;
            }
        }
    }
}

/// What a node of the tree is.
#[derive(Clone, Debug)]
pub(crate) enum Kind {
    Supervisor(Strategy),
    Echo,
    Keeper { pool: String, size: usize },
}

/// One process of the tree as it must be: child id, registered name, children in order.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    /// The child id under its supervisor; empty for the root.
    pub id: String,
    pub name: Option<String>,
    pub kind: Kind,
    pub children: Vec<Node>,
}

/// Where a process sits, for choosing what to kill.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    /// A supervisor under the root.
    Mid,
    /// A supervisor under a mid.
    Leaf,
    /// A worker anywhere (keepers included).
    Worker,
}

/// A process the soak may kill: never the root.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub level: Level,
    pub kind: Kind,
    pub name: Option<String>,
    pub id: String,
    /// The registered name of its supervisor (every supervisor has one).
    pub parent: String,
}

/// The whole tree: what to start, and what it must look like.
pub(crate) struct Layout {
    pub root: Node,
    /// The restart intensity of every supervisor but the root.
    pub intensity: (u32, Duration),
}

const MID_STRATEGIES: [Strategy; 4] = [
    Strategy::OneForOne,
    Strategy::OneForAll,
    Strategy::RestForOne,
    Strategy::SimpleOneForOne,
];
const LEAF_STRATEGIES: [Strategy; 3] = [
    Strategy::OneForOne,
    Strategy::OneForAll,
    Strategy::RestForOne,
];

fn worker(id: String, name: Option<String>) -> Node {
    Node {
        id,
        name,
        kind: Kind::Echo,
        children: Vec::new(),
    }
}

fn supervisor(id: String, name: String, strategy: Strategy, children: Vec<Node>) -> Node {
    Node {
        id,
        name: Some(name),
        kind: Kind::Supervisor(strategy),
        children,
    }
}

/// The name a pool's `k`th child registers itself under.
fn pooled_name(pool: &str, k: usize) -> String {
    format!("{pool}.w{k}")
}

impl Layout {
    pub(crate) fn new(config: &Config) -> Layout {
        let pool_size = (config.leaves_per_mid + 1) * config.workers_per_leaf;
        let mut mids = Vec::new();
        for i in 0..config.mids {
            let mid = format!("{ROOT_NAME}.m{i}");
            let strategy = MID_STRATEGIES[i % MID_STRATEGIES.len()];
            if strategy == Strategy::SimpleOneForOne {
                // Ids are the template's, numbered from 1 in start order.
                let children = (0..pool_size)
                    .map(|k| worker(format!("w-{}", k + 1), Some(pooled_name(&mid, k))))
                    .collect();
                mids.push(supervisor(format!("m{i}"), mid.clone(), strategy, children));
                mids.push(Node {
                    id: format!("m{i}.keeper"),
                    name: Some(format!("{mid}.keeper")),
                    kind: Kind::Keeper {
                        pool: mid,
                        size: pool_size,
                    },
                    children: Vec::new(),
                });
                continue;
            }
            let mut leaves = Vec::new();
            for j in 0..config.leaves_per_mid {
                let leaf = format!("{mid}.l{j}");
                let workers = (0..config.workers_per_leaf)
                    .map(|k| {
                        // The last worker of each leaf is known by its child id only.
                        let named = k + 1 < config.workers_per_leaf;
                        worker(format!("w{k}"), named.then(|| format!("{leaf}.w{k}")))
                    })
                    .collect();
                let strategy = LEAF_STRATEGIES[(i + j) % LEAF_STRATEGIES.len()];
                leaves.push(supervisor(format!("l{j}"), leaf, strategy, workers));
            }
            leaves.push(worker("w".into(), Some(format!("{mid}.w"))));
            mids.push(supervisor(format!("m{i}"), mid, strategy, leaves));
        }
        let root = supervisor(String::new(), ROOT_NAME.into(), Strategy::OneForOne, mids);
        Layout {
            root,
            intensity: config.intensity(),
        }
    }

    /// The root supervisor's spec, with everything below it.
    pub(crate) fn root_spec(&self) -> SupervisorSpec {
        self.supervisor_spec(&self.root, ROOT_INTENSITY)
    }

    fn supervisor_spec(&self, node: &Node, (max, within): (u32, Duration)) -> SupervisorSpec {
        let Kind::Supervisor(strategy) = node.kind else {
            unreachable!("a supervisor node");
        };
        let name = node.name.clone().expect("every supervisor is named");
        let spec = match strategy {
            Strategy::OneForOne => SupervisorSpec::one_for_one(),
            Strategy::OneForAll => SupervisorSpec::one_for_all(),
            Strategy::RestForOne => SupervisorSpec::rest_for_one(),
            Strategy::SimpleOneForOne => {
                let pool = name.clone();
                let template = ChildSpec::worker_with("w", move |k: &usize| Echo {
                    name: Some(pooled_name(&pool, *k)),
                    register_self: true,
                });
                // Its children are started by its keeper, not by the spec.
                return SupervisorSpec::simple_one_for_one(template)
                    .name(name)
                    .max_restarts(max, within);
            }
        };
        spec.name(name)
            .max_restarts(max, within)
            .children(node.children.iter().map(|child| self.child_spec(child)))
    }

    fn child_spec(&self, node: &Node) -> ChildSpec {
        let spec = match &node.kind {
            Kind::Supervisor(_) => {
                // The name comes with the supervisor's spec.
                return ChildSpec::supervisor(
                    node.id.clone(),
                    self.supervisor_spec(node, self.intensity),
                );
            }
            Kind::Echo => {
                let name = node.name.clone();
                ChildSpec::worker(node.id.clone(), move || Echo {
                    name: name.clone(),
                    register_self: false,
                })
                .erase()
            }
            Kind::Keeper { pool, size } => {
                let (pool, size) = (pool.clone(), *size);
                ChildSpec::worker(node.id.clone(), move || Keeper {
                    pool: pool.clone(),
                    size,
                    watching: None,
                })
                .erase()
            }
        };
        match &node.name {
            Some(name) => spec.name(name.clone()),
            None => spec,
        }
    }

    /// Every process of the tree, the root included.
    pub(crate) fn process_count(&self) -> usize {
        fn count(node: &Node) -> usize {
            1 + node.children.iter().map(count).sum::<usize>()
        }
        count(&self.root)
    }

    /// The registered names of the workers the load calls.
    pub(crate) fn echo_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        walk(&self.root, 0, "", &mut |node, _, _| {
            if let (Kind::Echo, Some(name)) = (&node.kind, &node.name) {
                names.push(name.clone());
            }
        });
        names
    }

    /// Every process but the root, with its level.
    pub(crate) fn targets(&self) -> Vec<Target> {
        let mut targets = Vec::new();
        walk(&self.root, 0, "", &mut |node, depth, parent| {
            let level = match (&node.kind, depth) {
                (_, 0) => return,
                (Kind::Supervisor(_), 1) => Level::Mid,
                (Kind::Supervisor(_), _) => Level::Leaf,
                _ => Level::Worker,
            };
            targets.push(Target {
                level,
                kind: node.kind.clone(),
                name: node.name.clone(),
                id: node.id.clone(),
                parent: parent.to_string(),
            });
        });
        targets
    }
}

fn walk(node: &Node, depth: usize, parent: &str, visit: &mut impl FnMut(&Node, usize, &str)) {
    visit(node, depth, parent);
    let me = node.name.as_deref().unwrap_or_default();
    for child in &node.children {
        walk(child, depth + 1, me, visit);
    }
}

/// Starts the tree: the root and everything below it.
pub(crate) async fn start(layout: &Layout) -> Result<SupervisorRef, StartError> {
    noex::supervisor::start(layout.root_spec()).await
}
