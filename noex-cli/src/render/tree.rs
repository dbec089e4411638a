//! The supervision tree, drawn with box characters for `noex tree`, or nested as JSON.
//!
//! Children appear in child order (the order their supervisor starts them). A child
//! spec whose process is not running shows as `stopped`. A child's restart type is
//! shown when it is not the default (`permanent`).

use std::fmt::Display;
use std::sync::Arc;

use noex_agent::types::{
    ChildKind, Pid, PidMap, ProcessStatus, ProcessTree, RestartType, ServerInfo, Strategy,
    SupervisorInfo, TreeNode,
};
use serde::Serialize;

use super::format;
use super::pid_number;
use super::style::{Role, Style, status_role};

/// How much of a last error fits on a tree line.
const LAST_ERROR_WIDTH: usize = 60;

/// The tree as text, one process per line.
pub fn tree_text(tree: &ProcessTree, all: bool, style: Style) -> String {
    let mut out = String::new();
    let roots = visible(&tree.roots, all);
    for root in roots {
        write_node(&mut out, root, None, "", None, all, style);
    }
    out
}

/// One line for `node` and then its children. `connector` is `None` for a root, else
/// whether the node is its parent's last child; `prefix` is the drawing inherited from
/// the ancestors.
fn write_node(
    out: &mut String,
    node: &TreeNode,
    restart: Option<RestartType>,
    prefix: &str,
    last: Option<bool>,
    all: bool,
    style: Style,
) {
    let branch = match last {
        None => "",
        Some(false) => "├── ",
        Some(true) => "└── ",
    };
    out.push_str(prefix);
    out.push_str(branch);
    write_node_line(out, node, restart, style);
    out.push('\n');
    if let TreeNode::Supervisor { info, children } = node {
        let child_prefix = match last {
            None => prefix.to_string(),
            Some(false) => format!("{prefix}│   "),
            Some(true) => format!("{prefix}    "),
        };
        let restarts = RestartTypes::of(info);
        let children = visible(children, all);
        let count = children.len();
        for (index, child) in children.into_iter().enumerate() {
            let is_last = index + 1 == count;
            write_node(
                out,
                child,
                restarts.of_child(child),
                &child_prefix,
                Some(is_last),
                all,
                style,
            );
        }
    }
}

fn visible(nodes: &[TreeNode], all: bool) -> Vec<&TreeNode> {
    nodes
        .iter()
        .filter(|node| all || !node.is_system())
        .collect()
}

/// The restart types of a supervisor's live children, by pid: looked up once per
/// supervisor, not once per child (a million children would take minutes).
struct RestartTypes(PidMap<RestartType>);

impl RestartTypes {
    fn of(info: &SupervisorInfo) -> Self {
        RestartTypes(
            info.children
                .iter()
                .filter_map(|child| Some((child.pid?, child.restart)))
                .collect(),
        )
    }

    fn of_child(&self, node: &TreeNode) -> Option<RestartType> {
        self.0.get(&node.pid()?).copied()
    }
}

/// The text of one node, without the drawing: `label <pid>  what  status  extras...`.
pub fn node_line(node: &TreeNode, restart: Option<RestartType>, style: Style) -> String {
    let mut line = String::new();
    write_node_line(&mut line, node, restart, style);
    line
}

/// [`node_line`], written at the end of `out`.
fn write_node_line(out: &mut String, node: &TreeNode, restart: Option<RestartType>, style: Style) {
    let mut parts = Parts {
        out,
        style,
        first: true,
    };
    match node {
        TreeNode::Supervisor { info, .. } => {
            parts.name_and_pid(info.name.as_deref(), info.child_id.as_deref(), info.pid);
            parts.push(None, format_args!("supervisor {}", info.strategy));
            parts.push(status_role(info.status), info.status.as_str());
            parts.restart_type(restart);
            parts.restarts(info.restarts);
            match info.child_restarts {
                0 => {}
                1 => parts.push(None, "1 child restart"),
                n => parts.push(None, format_args!("{n} child restarts")),
            }
            parts.last_error(info.last_error.as_deref());
        }
        TreeNode::Worker { info } => {
            parts.name_and_pid(info.name.as_deref(), info.child_id.as_deref(), info.pid);
            parts.push(None, &*info.type_name);
            parts.push(status_role(info.status), info.status.as_str());
            parts.restart_type(restart);
            parts.restarts(info.restarts);
            if info.queue_len > 0 {
                let role = (info.queue_len >= 100).then_some(Role::Warn);
                parts.push(
                    role,
                    format_args!("queue {}", format::count(info.queue_len)),
                );
            }
            parts.last_error(info.last_error.as_deref());
        }
        TreeNode::Stopped {
            child_id,
            restart,
            kind,
        } => {
            let what = match kind {
                ChildKind::Supervisor => "supervisor ",
                ChildKind::Worker | ChildKind::Unknown => "",
            };
            let text = format_args!("{child_id}  {what}stopped  {restart}");
            parts.push(Some(Role::Dim), text);
        }
        TreeNode::Unknown => parts.push(Some(Role::Dim), "? (a node this noex does not know)"),
    }
}

/// The parts of a tree line, written two spaces apart.
struct Parts<'o> {
    out: &'o mut String,
    style: Style,
    first: bool,
}

impl Parts<'_> {
    fn push(&mut self, role: Option<Role>, text: impl Display) {
        if !std::mem::take(&mut self.first) {
            self.out.push_str("  ");
        }
        self.style.write_painted(self.out, role, text);
    }

    /// `label <0.N>`, or the pid alone.
    fn name_and_pid(&mut self, name: Option<&str>, child_id: Option<&str>, pid: Pid) {
        match name.or(child_id) {
            Some(label) => {
                self.push(Some(Role::Name), label);
                self.out.push(' ');
                self.style.write_painted(self.out, Some(Role::Dim), pid);
            }
            None => self.push(Some(Role::Dim), pid),
        }
    }

    fn restart_type(&mut self, restart: Option<RestartType>) {
        if let Some(restart) = restart.filter(|r| *r != RestartType::Permanent) {
            self.push(Some(Role::Dim), restart.as_str());
        }
    }

    fn restarts(&mut self, restarts: u32) {
        match restarts {
            0 => {}
            1 => self.push(Some(Role::Warn), "restarted once"),
            n => self.push(Some(Role::Warn), format_args!("restarted {n}×")),
        }
    }

    fn last_error(&mut self, error: Option<&str>) {
        if let Some(error) = error {
            let text = format::truncate(error, LAST_ERROR_WIDTH);
            self.push(Some(Role::Bad), format_args!("last error: {text}"));
        }
    }
}

/// The `noex tree --json` document.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TreeJson {
    pub roots: Vec<NodeJson>,
}

/// One node of `noex tree --json`; README.md ("JSON output") documents every field.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeJson {
    /// `"supervisor"`, `"worker"`, `"stopped"` (a child spec with no running process),
    /// or `"unknown"`.
    pub kind: &'static str,
    pub pid: Option<u64>,
    pub name: Option<String>,
    pub child_id: Option<String>,
    pub status: ProcessStatus,
    /// How the parent supervisor restarts this child; `None` for a root.
    pub restart: Option<RestartType>,
    pub strategy: Option<Strategy>,
    pub type_name: Option<Arc<str>>,
    pub restarts: Option<u32>,
    pub child_restarts: Option<u32>,
    pub messages: Option<u64>,
    pub queue_len: Option<u64>,
    pub last_error: Option<String>,
    pub system: bool,
    /// A supervisor's children in child order; absent for other kinds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub children: Option<Vec<NodeJson>>,
}

impl NodeJson {
    /// A node with no process behind it: every process field empty.
    fn without_process(kind: &'static str, status: ProcessStatus) -> Self {
        NodeJson {
            kind,
            pid: None,
            name: None,
            child_id: None,
            status,
            restart: None,
            strategy: None,
            type_name: None,
            restarts: None,
            child_restarts: None,
            messages: None,
            queue_len: None,
            last_error: None,
            system: false,
            children: None,
        }
    }
}

/// The tree as a JSON document (system processes only with `all`).
pub fn tree_json(tree: &ProcessTree, all: bool) -> String {
    let doc = TreeJson {
        roots: visible(&tree.roots, all)
            .into_iter()
            .map(|node| node_json(node, None, all))
            .collect(),
    };
    serde_json::to_string_pretty(&doc).expect("tree serialises") + "\n"
}

fn node_json(node: &TreeNode, restart: Option<RestartType>, all: bool) -> NodeJson {
    match node {
        TreeNode::Supervisor { info, children } => {
            let restarts = RestartTypes::of(info);
            NodeJson {
                kind: "supervisor",
                pid: Some(pid_number(info.pid)),
                name: info.name.clone(),
                child_id: info.child_id.clone(),
                status: info.status,
                restart,
                strategy: Some(info.strategy),
                type_name: None,
                restarts: Some(info.restarts),
                child_restarts: Some(info.child_restarts),
                messages: None,
                queue_len: None,
                last_error: info.last_error.clone(),
                system: info.system,
                children: Some(
                    visible(children, all)
                        .into_iter()
                        .map(|child| node_json(child, restarts.of_child(child), all))
                        .collect(),
                ),
            }
        }
        TreeNode::Worker { info } => worker_json(info, restart),
        TreeNode::Stopped {
            child_id,
            restart,
            kind,
        } => NodeJson {
            child_id: Some(child_id.clone()),
            restart: Some(*restart),
            children: matches!(kind, ChildKind::Supervisor).then(Vec::new),
            ..NodeJson::without_process("stopped", ProcessStatus::Stopped)
        },
        TreeNode::Unknown => NodeJson::without_process("unknown", ProcessStatus::Unknown),
    }
}

fn worker_json(info: &ServerInfo, restart: Option<RestartType>) -> NodeJson {
    NodeJson {
        kind: "worker",
        pid: Some(pid_number(info.pid)),
        name: info.name.clone(),
        child_id: info.child_id.clone(),
        status: info.status,
        restart,
        strategy: None,
        type_name: Some(info.type_name.clone()),
        restarts: Some(info.restarts),
        child_restarts: None,
        messages: Some(info.messages),
        queue_len: Some(info.queue_len),
        last_error: info.last_error.clone(),
        system: info.system,
        children: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::fixtures;

    #[test]
    fn tree_hides_system_processes() {
        crate::render::snapshot!("tree", tree_text(&fixtures::tree(), false, Style::PLAIN));
    }

    #[test]
    fn tree_with_all_shows_system_processes() {
        crate::render::snapshot!("tree_all", tree_text(&fixtures::tree(), true, Style::PLAIN));
    }

    #[test]
    fn tree_json_nests_children_in_child_order() {
        crate::render::snapshot!("tree_json", tree_json(&fixtures::tree(), false));
    }

    #[test]
    fn empty_tree_is_empty() {
        assert_eq!(tree_text(&ProcessTree::default(), false, Style::PLAIN), "");
        assert_eq!(
            tree_json(&ProcessTree::default(), false),
            "{\n  \"roots\": []\n}\n"
        );
    }

    /// A mailbox of 100 messages or more is worth a look; a shorter one is not.
    #[test]
    fn a_queue_is_highlighted_from_100_messages() {
        let line = |queue_len| {
            let info = ServerInfo {
                queue_len,
                ..fixtures::worker(2, Some("cache"), None, None)
            };
            node_line(&TreeNode::Worker { info }, None, Style::COLOURED)
        };
        let warned = Style::COLOURED.paint(Role::Warn, "queue 100");
        assert!(line(100).contains(&warned), "{:?}", line(100));
        let short = line(99);
        assert!(short.contains("queue 99"), "{short:?}");
        assert!(
            !short.contains(&Style::COLOURED.paint(Role::Warn, "queue 99")),
            "{short:?}"
        );
    }

    #[test]
    fn deep_last_branches_leave_no_stray_lines() {
        let tree = fixtures::tree();
        let text = tree_text(&tree, false, Style::PLAIN);
        // worker-3 is the last child of `workers`, which is not the last child of app_sup.
        assert!(text.contains("│   └── worker-3"), "{text}");
    }
}
