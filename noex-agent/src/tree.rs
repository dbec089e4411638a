//! The supervision tree, derived from a snapshot: supervisors list their children
//! in start order, so the tree is a pure function of the flat lists.

use crate::types::{
    ChildKind, Pid, PidMap, ProcessTree, ServerInfo, Snapshot, SupervisorInfo, TreeNode,
};

impl ProcessTree {
    /// Nest the snapshot's processes under their supervisors. Processes nobody
    /// supervises are roots, in pid order.
    pub fn from_snapshot(snapshot: &Snapshot) -> ProcessTree {
        Self::from_processes(snapshot.servers.clone(), snapshot.supervisors.clone())
    }

    /// [`ProcessTree::from_snapshot`], taking the processes rather than copying
    /// them (a million servers, their names and errors).
    pub fn from_processes(servers: Vec<ServerInfo>, supervisors: Vec<SupervisorInfo>) -> Self {
        let mut nest = Nest {
            server_at: servers
                .iter()
                .enumerate()
                .map(|(at, s)| (s.pid, at))
                .collect(),
            supervisor_at: supervisors
                .iter()
                .enumerate()
                .map(|(at, s)| (s.pid, at))
                .collect(),
            servers: servers.into_iter().map(Some).collect(),
            supervisors: supervisors.into_iter().map(Some).collect(),
        };
        let unsupervised = |parent: Option<Pid>| {
            parent.is_none_or(|parent| !nest.supervisor_at.contains_key(&parent))
        };
        let mut candidates: Vec<Pid> = (nest.supervisors.iter().flatten())
            .filter(|s| unsupervised(s.parent))
            .map(|s| s.pid)
            .chain(
                (nest.servers.iter().flatten())
                    .filter(|s| unsupervised(s.parent))
                    .map(|s| s.pid),
            )
            .collect();
        candidates.sort_unstable();
        ProcessTree {
            roots: candidates
                .into_iter()
                .filter_map(|pid| nest.node_for(pid))
                .collect(),
        }
    }
}

/// The processes not yet placed in the tree, and where each pid is among them.
struct Nest {
    server_at: PidMap<usize>,
    supervisor_at: PidMap<usize>,
    servers: Vec<Option<ServerInfo>>,
    supervisors: Vec<Option<SupervisorInfo>>,
}

impl Nest {
    /// The node of `pid`, taking it: a pid appears once, even if a racing snapshot
    /// lists it twice.
    fn node_for(&mut self, pid: Pid) -> Option<TreeNode> {
        let server = self.server_at.get(&pid).copied();
        if let Some(&at) = self.supervisor_at.get(&pid)
            && let Some(info) = self.supervisors[at].take()
        {
            // Placed as a supervisor: not again as a server.
            if let Some(server) = server {
                self.servers[server] = None;
            }
            let children = info
                .children
                .iter()
                .filter_map(|child| match child.pid {
                    Some(child_pid)
                        if self.server_at.contains_key(&child_pid)
                            || self.supervisor_at.contains_key(&child_pid) =>
                    {
                        self.node_for(child_pid)
                    }
                    _ => Some(TreeNode::Stopped {
                        child_id: child.id.clone(),
                        restart: child.restart,
                        kind: child.kind,
                    }),
                })
                .collect();
            return Some(TreeNode::Supervisor { info, children });
        }
        let info = self.servers[server?].take()?;
        // Placed as a server: not again as a supervisor.
        if let Some(&at) = self.supervisor_at.get(&pid) {
            self.supervisors[at] = None;
        }
        Some(TreeNode::Worker { info })
    }
}

impl TreeNode {
    /// Whether this node is, or contains, only processes of noex itself.
    pub fn is_system(&self) -> bool {
        match self {
            TreeNode::Supervisor { info, .. } => info.system,
            TreeNode::Worker { info } => info.system,
            TreeNode::Stopped { .. } | TreeNode::Unknown => false,
        }
    }

    /// The child id or kind label used when a node has no name.
    pub fn kind(&self) -> Option<ChildKind> {
        match self {
            TreeNode::Supervisor { .. } => Some(ChildKind::Supervisor),
            TreeNode::Worker { .. } => Some(ChildKind::Worker),
            TreeNode::Stopped { kind, .. } => Some(*kind),
            TreeNode::Unknown => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    fn server(pid: u64, parent: Option<u64>) -> ServerInfo {
        ServerInfo {
            parent: parent.map(Pid),
            ..fixtures::server(pid)
        }
    }

    fn supervisor(pid: u64, children: &[(&str, Option<u64>)]) -> SupervisorInfo {
        let children = children
            .iter()
            .map(|&(id, pid)| fixtures::child(id, pid))
            .collect();
        fixtures::supervisor(pid, children)
    }

    /// Each node's pid (0 for a stopped child), depth first.
    fn pids(nodes: &[TreeNode], out: &mut Vec<u64>) {
        for node in nodes {
            out.push(node.pid().map_or(0, |pid| pid.0));
            if let TreeNode::Supervisor { children, .. } = node {
                pids(children, out);
            }
        }
    }

    #[test]
    fn children_nest_in_start_order_and_unsupervised_processes_are_roots_in_pid_order() {
        let tree = ProcessTree::from_processes(
            vec![server(9, None), server(3, Some(1)), server(2, Some(1))],
            vec![supervisor(
                1,
                &[("b", Some(3)), ("gone", None), ("a", Some(2))],
            )],
        );
        let mut order = Vec::new();
        pids(&tree.roots, &mut order);
        assert_eq!(order, [1, 3, 0, 2, 9]);
    }

    #[test]
    fn a_process_a_racing_snapshot_lists_twice_appears_once() {
        // Listed twice as a server, once more as a supervisor, and twice as a child.
        let tree = ProcessTree::from_processes(
            vec![server(2, Some(1)), server(2, Some(1)), server(5, None)],
            vec![
                supervisor(1, &[("a", Some(2)), ("a", Some(2))]),
                supervisor(5, &[]),
            ],
        );
        let mut order = Vec::new();
        pids(&tree.roots, &mut order);
        assert_eq!(order, [1, 2, 5]);
        assert!(matches!(tree.roots[1], TreeNode::Supervisor { .. }));
        let snapshot = fixtures::snapshot(
            vec![server(2, Some(1)), server(2, Some(1)), server(5, None)],
            vec![
                supervisor(1, &[("a", Some(2)), ("a", Some(2))]),
                supervisor(5, &[]),
            ],
        );
        assert_eq!(ProcessTree::from_snapshot(&snapshot), tree);
    }

    #[test]
    fn pids_hash_to_neighbouring_buckets_with_mixed_tags() {
        use std::hash::{BuildHasher, BuildHasherDefault};

        use crate::types::PidHasher;
        let hash = |pid: u64| BuildHasherDefault::<PidHasher>::default().hash_one(Pid(pid));
        // The low bits are the pid's: neighbours are neighbours in the table.
        assert_eq!(hash(1000) & 0xffff, 1000);
        assert_eq!(hash(1001) & 0xffff, 1001);
        // The top seven bits, hashbrown's tag, differ between neighbours.
        let tags: std::collections::HashSet<u64> = (0..64).map(|pid| hash(pid) >> 57).collect();
        assert!(tags.len() > 32, "{} tags for 64 pids", tags.len());
    }
}
