//! The quiet-period check: the tree has its original shape, and nothing outside it is
//! left in the Observer or the registry.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use noex::observer::{self, ProcessStatus, ServerInfo, Snapshot, SupervisorInfo};
use noex::{Pid, registry};

use super::tree::{Kind, Layout, Node};

/// How often the tree is looked at while it comes back.
const POLL: Duration = Duration::from_millis(10);
/// Details kept per check: enough to see what went wrong.
const MAX_DETAILS: usize = 20;

/// What one look at the runtime found.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    /// How the tree differs from its layout (missing, stopped, misnamed, misplaced…).
    pub shape: Vec<String>,
    /// Processes or names that are not part of the tree (system processes excepted).
    pub orphans: Vec<String>,
    /// Processes of the tree whose last error says a start failed on a taken name.
    pub name_conflicts: Vec<(Pid, String)>,
}

impl Findings {
    pub(crate) fn clean(&self) -> bool {
        self.shape.is_empty() && self.orphans.is_empty()
    }
}

/// How a wait for the tree ended.
#[derive(Debug)]
pub(crate) struct Settled {
    /// Whether the tree came back before the deadline.
    pub ok: bool,
    pub waited: Duration,
    /// The last look: clean if `ok`.
    pub findings: Findings,
}

/// Looks at the tree until it is back (shape and no orphans) or `deadline` passes.
pub(crate) async fn wait_for_tree(layout: &Layout, deadline: Duration) -> Settled {
    let start = Instant::now();
    loop {
        let findings = look(layout);
        let waited = start.elapsed();
        if findings.clean() || waited >= deadline {
            return Settled {
                ok: findings.clean(),
                waited,
                findings,
            };
        }
        tokio::time::sleep(POLL).await;
    }
}

/// One look: the Observer's snapshot and the registry, against the layout.
pub(crate) fn look(layout: &Layout) -> Findings {
    let snapshot = observer::snapshot();
    let names = registry::names();
    let whereis: Vec<(String, Option<Pid>)> = names
        .into_iter()
        .map(|name| {
            let pid = registry::whereis(&name);
            (name, pid)
        })
        .collect();
    compare(layout, &snapshot, &whereis)
}

struct Index<'a> {
    servers: HashMap<Pid, &'a ServerInfo>,
    supervisors: HashMap<Pid, &'a SupervisorInfo>,
}

struct Walk<'a> {
    index: Index<'a>,
    registered: HashMap<&'a str, Pid>,
    findings: Findings,
    shape_count: usize,
    /// Pid → the name it must have (or none), for every process of the tree.
    tree: HashMap<Pid, Option<String>>,
}

impl Walk<'_> {
    fn shape(&mut self, what: String) {
        self.shape_count += 1;
        if self.findings.shape.len() < MAX_DETAILS {
            self.findings.shape.push(what);
        }
    }

    fn visit(&mut self, node: &Node, pid: Pid, parent: Option<Pid>, path: &str) {
        self.tree.insert(pid, node.name.clone());
        // The registry must map the node's name to this very process.
        if let Some(name) = node.name.as_deref() {
            match self.registered.get(name) {
                Some(&holder) if holder == pid => {}
                Some(&holder) => self.shape(format!(
                    "{path}: {name:?} is registered to {holder}, not {pid}"
                )),
                None => self.shape(format!("{path}: {name:?} is not registered")),
            }
        }
        match &node.kind {
            Kind::Supervisor(strategy) => {
                let Some(info) = self.index.supervisors.get(&pid).copied() else {
                    let what = match self.index.servers.get(&pid) {
                        Some(_) => "is a server, not a supervisor",
                        None => "is not in the Observer",
                    };
                    return self.shape(format!("{path}: supervisor {pid} {what}"));
                };
                let seen = Seen::of(&info.name, &info.child_id, info.parent);
                self.running(path, pid, node, parent, seen, "supervisor", info.status);
                self.name_conflict(pid, &info.last_error);
                if info.strategy != noex_agent::types::Strategy::from(*strategy) {
                    self.shape(format!(
                        "{path}: strategy {} (expected {strategy})",
                        info.strategy
                    ));
                }
                let ids: Vec<&str> = info.children.iter().map(|c| c.id.as_str()).collect();
                let expected: Vec<&str> = node.children.iter().map(|c| c.id.as_str()).collect();
                if ids != expected {
                    return self.shape(format!(
                        "{path}: children {} (expected {})",
                        summarize(&ids),
                        summarize(&expected)
                    ));
                }
                for (child, info) in node.children.iter().zip(&info.children) {
                    let child_path = format!("{path}/{}", child.id);
                    match info.pid {
                        Some(child_pid) => self.visit(child, child_pid, Some(pid), &child_path),
                        None => self.shape(format!("{child_path}: not running")),
                    }
                }
            }
            Kind::Echo | Kind::Keeper { .. } => {
                let Some(info) = self.index.servers.get(&pid).copied() else {
                    let what = match self.index.supervisors.get(&pid) {
                        Some(_) => "is a supervisor, not a worker",
                        None => "is not in the Observer",
                    };
                    return self.shape(format!("{path}: worker {pid} {what}"));
                };
                let seen = Seen::of(&info.name, &info.child_id, info.parent);
                self.running(path, pid, node, parent, seen, "worker", info.status);
                self.name_conflict(pid, &info.last_error);
            }
        }
    }

    /// What every process of the tree must be: where it belongs, and running.
    #[allow(clippy::too_many_arguments)]
    fn running(
        &mut self,
        path: &str,
        pid: Pid,
        node: &Node,
        parent: Option<Pid>,
        seen: Seen<'_>,
        kind: &str,
        status: ProcessStatus,
    ) {
        self.common(path, pid, node, parent, seen);
        if status != ProcessStatus::Running {
            self.shape(format!("{path}: {kind} {pid} is {status}"));
        }
    }

    /// A start that failed on a name still taken leaves its error with the child,
    /// and the next instance shows it (until another exit replaces it: this sees
    /// most conflicts, not necessarily all).
    fn name_conflict(&mut self, pid: Pid, last_error: &Option<String>) {
        if let Some(error) = last_error
            && error.contains("already registered")
        {
            self.findings.name_conflicts.push((pid, error.clone()));
        }
    }

    /// Name, child id and parent, as the Observer shows them, against the layout.
    fn common(&mut self, path: &str, pid: Pid, node: &Node, parent: Option<Pid>, seen: Seen<'_>) {
        let Seen {
            name,
            child_id,
            parent: seen_parent,
        } = seen;
        if *name != node.name {
            self.shape(format!(
                "{path}: {pid} is named {name:?} (expected {:?})",
                node.name
            ));
        }
        let expected_id = (!node.id.is_empty()).then(|| node.id.clone());
        if *child_id != expected_id {
            self.shape(format!("{path}: {pid} has child id {child_id:?}"));
        }
        if seen_parent != parent {
            self.shape(format!(
                "{path}: {pid} has parent {seen_parent:?} (expected {parent:?})"
            ));
        }
    }
}

/// What the Observer says of a process's place.
struct Seen<'a> {
    name: &'a Option<String>,
    child_id: &'a Option<String>,
    parent: Option<Pid>,
}

impl<'a> Seen<'a> {
    fn of(name: &'a Option<String>, child_id: &'a Option<String>, parent: Option<Pid>) -> Self {
        Seen {
            name,
            child_id,
            parent,
        }
    }
}

/// Compares a snapshot and the registry (name → pid) with the layout.
pub(crate) fn compare(
    layout: &Layout,
    snapshot: &Snapshot,
    registered: &[(String, Option<Pid>)],
) -> Findings {
    let index = Index {
        servers: snapshot.servers.iter().map(|s| (s.pid, s)).collect(),
        supervisors: snapshot.supervisors.iter().map(|s| (s.pid, s)).collect(),
    };
    let system = system_pids(snapshot);
    let mut walk = Walk {
        index,
        registered: registered
            .iter()
            .filter_map(|(name, pid)| Some((name.as_str(), (*pid)?)))
            .collect(),
        findings: Findings::default(),
        shape_count: 0,
        tree: HashMap::new(),
    };

    let root_name = layout.root.name.as_deref();
    let roots: Vec<&SupervisorInfo> = snapshot
        .supervisors
        .iter()
        .filter(|s| s.name.as_deref() == root_name)
        .collect();
    match roots.as_slice() {
        [root] => walk.visit(&layout.root, root.pid, None, "root"),
        [] => walk.shape("root: not running".into()),
        many => walk.shape(format!(
            "root: {} supervisors are named {root_name:?}",
            many.len()
        )),
    }
    if walk.shape_count > walk.findings.shape.len() {
        let more = walk.shape_count - walk.findings.shape.len();
        walk.findings.shape.push(format!("… and {more} more"));
    }

    let mut orphans = Vec::new();
    for server in &snapshot.servers {
        if !server.system && !walk.tree.contains_key(&server.pid) {
            orphans.push(format!(
                "server {} {:?} (child {:?} of {:?}, {}, {})",
                server.pid,
                server.name,
                server.child_id,
                server.parent,
                server.type_name,
                server.status
            ));
        }
    }
    for supervisor in &snapshot.supervisors {
        if !supervisor.system && !walk.tree.contains_key(&supervisor.pid) {
            orphans.push(format!(
                "supervisor {} {:?} (child {:?} of {:?}, {})",
                supervisor.pid,
                supervisor.name,
                supervisor.child_id,
                supervisor.parent,
                supervisor.status
            ));
        }
    }
    for (name, pid) in registered {
        // A name gone between `names()` and `whereis` is no name.
        let Some(pid) = *pid else { continue };
        if system.contains(&pid) {
            continue;
        }
        match walk.tree.get(&pid) {
            Some(Some(expected)) if expected == name => {}
            Some(expected) => orphans.push(format!(
                "name {name:?} on {pid}, a process of the tree named {expected:?}"
            )),
            None => orphans.push(format!("name {name:?} on {pid}, not in the tree")),
        }
    }
    walk.findings.orphans = orphans;
    walk.findings
}

fn summarize(ids: &[&str]) -> String {
    if ids.len() <= 12 {
        return format!("[{}]", ids.join(", "));
    }
    format!(
        "[{}, … {} more, {}]",
        ids[..6].join(", "),
        ids.len() - 10,
        ids[ids.len() - 4..].join(", ")
    )
}

/// The agent's own processes (system ones), which the checks leave out.
fn system_pids(snapshot: &Snapshot) -> HashSet<Pid> {
    let servers = snapshot.servers.iter().filter(|s| s.system).map(|s| s.pid);
    let supervisors = snapshot
        .supervisors
        .iter()
        .filter(|s| s.system)
        .map(|s| s.pid);
    servers.chain(supervisors).collect()
}

/// After the shutdown: every process and name still there that is not the agent's.
pub(crate) fn leftovers() -> Vec<String> {
    let snapshot = observer::snapshot();
    let system = system_pids(&snapshot);
    let mut left: Vec<String> = snapshot
        .servers
        .iter()
        .filter(|s| !s.system)
        .map(|s| {
            format!(
                "server {} {:?} ({}, {})",
                s.pid, s.name, s.type_name, s.status
            )
        })
        .chain(
            snapshot
                .supervisors
                .iter()
                .filter(|s| !s.system)
                .map(|s| format!("supervisor {} {:?} ({})", s.pid, s.name, s.status)),
        )
        .collect();
    for name in registry::names() {
        match registry::whereis(&name) {
            Some(pid) if !system.contains(&pid) => {
                left.push(format!("name {name:?} on {pid}"));
            }
            _ => {}
        }
    }
    left
}

#[cfg(test)]
mod tests {
    use noex::gen_server::{self, Context, GenServer, Reply, StartOptions};

    use super::*;
    use crate::chaos::{Config, start_agent, tree};

    struct Outsider;

    impl GenServer for Outsider {
        type Call = ();
        type Cast = ();
        type Reply = ();

        async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
            Reply::Now(())
        }
    }

    fn small() -> Config {
        Config {
            mids: 4,
            leaves_per_mid: 2,
            workers_per_leaf: 3,
            ..Config::new(0)
        }
    }

    /// The soak's verdict rests on this check, so it must see each thing it looks for:
    /// a child not running, a process and a name outside the tree, a tree of another
    /// shape; and a pool restarted empty must be filled again by its keeper.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_check_sees_a_stopped_child_an_outsider_and_another_shape() {
        let (_dir, _socket) = start_agent();
        let layout = Layout::new(&small());
        // 1 root + 3 mids × (2 leaves × 4 + 1 worker) + a pool of 9 and its keeper.
        assert_eq!(layout.process_count(), 1 + 3 * 10 + 1 + 9 + 1);
        let root = tree::start(&layout).await.expect("the tree starts");
        let settled = wait_for_tree(&layout, Duration::from_secs(5)).await;
        assert!(settled.ok, "{:?}", settled.findings);

        let mid = registry::lookup_supervisor("chaos.m0").expect("chaos.m0");
        mid.terminate_child("l1").await.expect("l1 stops");
        let findings = look(&layout);
        assert_eq!(findings.shape, ["root/m0/l1: not running"]);
        assert!(findings.orphans.is_empty(), "{findings:?}");
        mid.restart_child("l1").await.expect("l1 starts again");
        assert!(look(&layout).clean(), "{:?}", look(&layout));

        let outsider = gen_server::start(Outsider, StartOptions::new().name("chaos.outsider"))
            .await
            .expect("the outsider starts");
        let findings = look(&layout);
        assert!(findings.shape.is_empty(), "{findings:?}");
        assert_eq!(
            findings.orphans.len(),
            2,
            "its process and its name: {findings:?}"
        );
        outsider
            .stop(noex::ExitReason::Normal)
            .await
            .expect("it stops");
        assert!(look(&layout).clean(), "{:?}", look(&layout));

        for other in [
            Config {
                workers_per_leaf: 4,
                ..small()
            },
            Config {
                workers_per_leaf: 2,
                ..small()
            },
            Config { mids: 5, ..small() },
        ] {
            let findings = look(&Layout::new(&other));
            assert!(!findings.shape.is_empty(), "{other:?}: {findings:?}");
        }

        let pool = registry::lookup_supervisor("chaos.m3").expect("chaos.m3");
        pool.kill();
        pool.wait().await;
        let settled = wait_for_tree(&layout, Duration::from_secs(5)).await;
        assert!(
            settled.ok,
            "the keeper fills the new pool: {:?}",
            settled.findings
        );
        let refilled = registry::lookup_supervisor("chaos.m3").expect("chaos.m3 again");
        assert_ne!(refilled.pid(), pool.pid());
        assert_eq!(refilled.count_children().await.expect("count").active, 9);

        root.stop().await.expect("the tree stops");
        assert_eq!(leftovers(), Vec::<String>::new());
    }
}
