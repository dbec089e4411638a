//! The supervision tree, drawn with box characters for `noex tree`, or nested as JSON.
//!
//! Children appear in child order (the order their supervisor starts them). A child
//! spec whose process is not running shows as `stopped`. A child's restart type is
//! shown when it is not the default (`permanent`).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use noex_agent::types::{
    ChildKind, Pid, ProcessStatus, ProcessTree, RestartType, ServerInfo, Strategy, SupervisorInfo,
    TreeNode,
};
use serde::Serialize;

use super::format;
use super::style::{Role, Style, status_role};
use super::{label, pid_number};

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
    let _ = writeln!(out, "{prefix}{branch}{}", node_line(node, restart, style));
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
struct RestartTypes(HashMap<Pid, RestartType>);

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
    let mut parts: Vec<String> = Vec::new();
    match node {
        TreeNode::Supervisor { info, .. } => {
            parts.push(name_and_pid(
                info.name.as_deref(),
                info.child_id.as_deref(),
                info.pid,
                style,
            ));
            parts.push(format!("supervisor {}", info.strategy));
            parts.push(style.paint_opt(status_role(info.status), info.status.as_str()));
            push_restart_type(&mut parts, restart, style);
            push_restarts(&mut parts, info.restarts, style);
            match info.child_restarts {
                0 => {}
                1 => parts.push("1 child restart".to_string()),
                n => parts.push(format!("{n} child restarts")),
            }
            push_last_error(&mut parts, info.last_error.as_deref(), style);
        }
        TreeNode::Worker { info } => {
            parts.push(name_and_pid(
                info.name.as_deref(),
                info.child_id.as_deref(),
                info.pid,
                style,
            ));
            parts.push(info.type_name.to_string());
            parts.push(style.paint_opt(status_role(info.status), info.status.as_str()));
            push_restart_type(&mut parts, restart, style);
            push_restarts(&mut parts, info.restarts, style);
            if info.queue_len > 0 {
                let text = format!("queue {}", format::count(info.queue_len));
                parts.push(style.paint_opt((info.queue_len >= 100).then_some(Role::Warn), &text));
            }
            push_last_error(&mut parts, info.last_error.as_deref(), style);
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
            let text = format!("{child_id}  {what}stopped  {restart}");
            parts.push(style.paint(Role::Dim, &text));
        }
        TreeNode::Unknown => {
            parts.push(style.paint(Role::Dim, "? (a node this noex does not know)"))
        }
    }
    parts.join("  ")
}

fn name_and_pid(name: Option<&str>, child_id: Option<&str>, pid: Pid, style: Style) -> String {
    let pid = style.paint(Role::Dim, &pid.to_string());
    match label(name, child_id) {
        Some(label) => format!("{} {pid}", style.paint(Role::Name, &label)),
        None => pid,
    }
}

fn push_restart_type(parts: &mut Vec<String>, restart: Option<RestartType>, style: Style) {
    if let Some(restart) = restart.filter(|r| *r != RestartType::Permanent) {
        parts.push(style.paint(Role::Dim, restart.as_str()));
    }
}

fn push_restarts(parts: &mut Vec<String>, restarts: u32, style: Style) {
    if restarts > 0 {
        let text = if restarts == 1 {
            "restarted once".to_string()
        } else {
            format!("restarted {restarts}×")
        };
        parts.push(style.paint(Role::Warn, &text));
    }
}

fn push_last_error(parts: &mut Vec<String>, error: Option<&str>, style: Style) {
    if let Some(error) = error {
        let text = format!("last error: {}", format::truncate(error, LAST_ERROR_WIDTH));
        parts.push(style.paint(Role::Bad, &text));
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
