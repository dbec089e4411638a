//! The supervision tree panel: how its nodes are addressed, which supervisors are
//! open, the lines it draws, and moving its selection.

use std::collections::{HashMap, HashSet};

use noex_agent::types::{Pid, SupervisorInfo, TreeNode};

use super::App;

/// A tree node's identifier among its siblings: its pid, or for a child spec with no
/// running process, its place in the supervisor's child list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeKey {
    Pid(Pid),
    Spec(u32),
}

impl NodeKey {
    pub fn of(node: &TreeNode, index: usize) -> NodeKey {
        match node.pid() {
            Some(pid) => NodeKey::Pid(pid),
            None => NodeKey::Spec(u32::try_from(index).unwrap_or(u32::MAX)),
        }
    }

    pub fn pid(self) -> Option<Pid> {
        match self {
            NodeKey::Pid(pid) => Some(pid),
            NodeKey::Spec(_) => None,
        }
    }
}

impl App {
    /// Open every supervisor of a new tree (`supervisors` are their paths) unless the
    /// user closed it; forget the closed ones that are gone.
    pub(super) fn open_supervisors(&mut self, supervisors: &[Vec<NodeKey>]) {
        let existing: HashSet<&Vec<NodeKey>> = supervisors.iter().collect();
        self.collapsed.retain(|path| existing.contains(path));
        self.tree_state.close_all();
        for path in supervisors {
            if !self.collapsed.contains(path) {
                self.tree_state.open(path.clone());
            }
        }
        self.tree_dirty = true;
    }

    /// Put the tree's selection on `pid`, if the tree has it.
    pub fn select_tree_pid(&mut self, pid: Pid) -> bool {
        let path = self
            .model
            .as_ref()
            .and_then(|m| m.tree_paths.get(&pid))
            .cloned();
        match path {
            Some(path) => {
                self.tree_state.select(path);
                true
            }
            None => false,
        }
    }

    pub(super) fn select_first_tree_node(&mut self) {
        if let Some(first) = self.tree_lines().into_iter().next() {
            self.tree_state.select(first);
        }
    }

    /// The tree node under the tree's selection.
    pub fn tree_node(&self) -> Option<(&TreeNode, Option<&SupervisorInfo>)> {
        self.node_at(self.tree_state.selected())
    }

    /// The tree node at `path`, with its supervisor.
    pub(super) fn node_at(&self, path: &[NodeKey]) -> Option<(&TreeNode, Option<&SupervisorInfo>)> {
        let model = self.model.as_ref()?;
        let mut nodes = model.tree.roots.as_slice();
        let mut parent = None;
        for (depth, key) in path.iter().enumerate() {
            let node = nodes
                .iter()
                .enumerate()
                .find(|(i, n)| NodeKey::of(n, *i) == *key)
                .map(|(_, n)| n)?;
            if depth + 1 == path.len() {
                return Some((node, parent));
            }
            match node {
                TreeNode::Supervisor { info, children } => {
                    parent = Some(info);
                    nodes = children;
                }
                _ => return None,
            }
        }
        None
    }

    /// The tree's lines as drawn (open supervisors' children included), top to bottom.
    pub fn tree_lines(&self) -> Vec<Vec<NodeKey>> {
        let mut out = Vec::new();
        if let Some(model) = &self.model {
            let opened = self.tree_state.opened();
            flatten(
                &model.tree.roots,
                &mut Vec::new(),
                opened,
                self.show_system,
                &mut out,
            );
        }
        out
    }

    /// Whether the selected node is among the lines drawn.
    pub(super) fn tree_selection_shown(&self) -> bool {
        let selected = self.tree_state.selected();
        self.tree_lines().iter().any(|p| p.as_slice() == selected)
    }

    /// Move the tree selection by `delta` lines (clamped), and the table with it.
    pub fn move_tree(&mut self, delta: isize) {
        let lines = self.tree_lines();
        if lines.is_empty() {
            return;
        }
        let current = lines
            .iter()
            .position(|p| p.as_slice() == self.tree_state.selected());
        let next = match current {
            None => 0,
            Some(i) => i.saturating_add_signed(delta).min(lines.len() - 1),
        };
        self.tree_state.select(lines[next].clone());
        if let Some(pid) = lines[next].last().and_then(|k| k.pid()) {
            self.select_table_pid(pid);
        }
    }

    /// Close the selected supervisor, or go to the parent of what is selected.
    pub fn tree_left(&mut self) {
        let selected = self.tree_state.selected().to_vec();
        if selected.is_empty() {
            return;
        }
        if self.tree_state.opened().contains(&selected) {
            self.tree_state.close(&selected);
            self.collapsed.insert(selected);
            self.tree_dirty = true;
        } else if selected.len() > 1 {
            self.tree_state
                .select(selected[..selected.len() - 1].to_vec());
        }
    }

    /// Open the selected supervisor.
    pub fn tree_right(&mut self) {
        let selected = self.tree_state.selected().to_vec();
        if self.collapsed.remove(&selected) || self.is_supervisor_path(&selected) {
            self.tree_state.open(selected);
            self.tree_dirty = true;
        }
    }

    pub fn tree_toggle(&mut self) {
        let selected = self.tree_state.selected().to_vec();
        if self.tree_state.opened().contains(&selected) {
            self.tree_left();
        } else {
            self.tree_right();
        }
    }

    fn is_supervisor_path(&self, path: &[NodeKey]) -> bool {
        matches!(
            path.last().and_then(|k| k.pid()).and_then(|p| self.row(p)),
            Some(row) if row.is_supervisor()
        )
    }
}

/// Record each live process's path, and every supervisor's path.
pub(super) fn walk_paths(
    nodes: &[TreeNode],
    prefix: &mut Vec<NodeKey>,
    paths: &mut HashMap<Pid, Vec<NodeKey>>,
    supervisors: &mut Vec<Vec<NodeKey>>,
) {
    for (i, node) in nodes.iter().enumerate() {
        prefix.push(NodeKey::of(node, i));
        if let Some(pid) = node.pid() {
            paths.insert(pid, prefix.clone());
        }
        if let TreeNode::Supervisor { children, .. } = node {
            supervisors.push(prefix.clone());
            walk_paths(children, prefix, paths, supervisors);
        }
        prefix.pop();
    }
}

/// The paths of the nodes drawn: children only under open supervisors, system
/// nodes only when `all`.
fn flatten(
    nodes: &[TreeNode],
    prefix: &mut Vec<NodeKey>,
    opened: &HashSet<Vec<NodeKey>>,
    all: bool,
    out: &mut Vec<Vec<NodeKey>>,
) {
    for (i, node) in nodes.iter().enumerate() {
        if !all && node.is_system() {
            continue;
        }
        prefix.push(NodeKey::of(node, i));
        out.push(prefix.clone());
        if let TreeNode::Supervisor { children, .. } = node
            && opened.contains(prefix.as_slice())
        {
            flatten(children, prefix, opened, all, out);
        }
        prefix.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Layout;
    use crate::top::testing;

    fn app() -> App {
        testing::app(Layout::Full)
    }

    #[test]
    fn collapsing_a_supervisor_hides_its_children_and_survives_a_snapshot() {
        let mut app = app();
        let all = app.tree_lines().len();
        assert!(app.select_tree_pid(Pid(3)));
        app.tree_left();
        assert_eq!(app.tree_lines().len(), all - 3);
        app.ingest(testing::snapshot(3));
        assert_eq!(app.tree_lines().len(), all - 3, "still closed");
        app.tree_right();
        assert_eq!(app.tree_lines().len(), all);
    }
}
