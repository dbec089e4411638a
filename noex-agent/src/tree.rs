//! The supervision tree, derived from a snapshot: supervisors list their children
//! in start order, so the tree is a pure function of the flat lists.

use std::collections::{HashMap, HashSet};

use crate::types::{ChildKind, Pid, ProcessTree, ServerInfo, Snapshot, SupervisorInfo, TreeNode};

impl ProcessTree {
    /// Nest the snapshot's processes under their supervisors. Processes nobody
    /// supervises are roots, in pid order.
    pub fn from_snapshot(snapshot: &Snapshot) -> ProcessTree {
        let servers: HashMap<Pid, &ServerInfo> =
            snapshot.servers.iter().map(|s| (s.pid, s)).collect();
        let supervisors: HashMap<Pid, &SupervisorInfo> =
            snapshot.supervisors.iter().map(|s| (s.pid, s)).collect();
        let mut placed = HashSet::new();
        let mut roots: Vec<(Pid, TreeNode)> = Vec::new();
        let mut candidates: Vec<Pid> = snapshot
            .supervisors
            .iter()
            .filter(|s| s.parent.is_none_or(|p| !supervisors.contains_key(&p)))
            .map(|s| s.pid)
            .chain(
                snapshot
                    .servers
                    .iter()
                    .filter(|s| s.parent.is_none_or(|p| !supervisors.contains_key(&p)))
                    .map(|s| s.pid),
            )
            .collect();
        candidates.sort_unstable();
        for pid in candidates {
            if let Some(node) = node_for(pid, &servers, &supervisors, &mut placed) {
                roots.push((pid, node));
            }
        }
        ProcessTree {
            roots: roots.into_iter().map(|(_, node)| node).collect(),
        }
    }
}

fn node_for(
    pid: Pid,
    servers: &HashMap<Pid, &ServerInfo>,
    supervisors: &HashMap<Pid, &SupervisorInfo>,
    placed: &mut HashSet<Pid>,
) -> Option<TreeNode> {
    // A pid appears once, even if a racing snapshot lists it twice.
    if !placed.insert(pid) {
        return None;
    }
    if let Some(info) = supervisors.get(&pid) {
        let children = info
            .children
            .iter()
            .filter_map(|child| match child.pid {
                Some(child_pid)
                    if servers.contains_key(&child_pid) || supervisors.contains_key(&child_pid) =>
                {
                    node_for(child_pid, servers, supervisors, placed)
                }
                _ => Some(TreeNode::Stopped {
                    child_id: child.id.clone(),
                    restart: child.restart,
                    kind: child.kind,
                }),
            })
            .collect();
        return Some(TreeNode::Supervisor {
            info: (*info).clone(),
            children,
        });
    }
    servers.get(&pid).map(|info| TreeNode::Worker {
        info: (*info).clone(),
    })
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
