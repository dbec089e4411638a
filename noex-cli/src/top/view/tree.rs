//! The supervision tree (tui-tree-widget): supervisors and workers nested in child
//! order, with strategy, status, restarts and warnings on each line.
//!
//! The widget's items are built once per snapshot (or after a collapse, expand or `a`)
//! and kept in the state; a frame only lays out the lines in sight.

use noex_agent::types::{RestartType, TreeNode};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use tui_tree_widget::{Tree, TreeItem};

use super::styles::Styles;
use super::table::{warning_style, warning_text};
use super::{WAITING, panel};
use crate::top::state::{App, Focus, NodeKey, Row};

pub fn draw(frame: &mut Frame, area: Rect, app: &mut App, styles: &Styles) {
    if app.tree_dirty {
        app.tree_items = items(app, styles);
        app.tree_dirty = false;
    }
    let focused = app.focus == Focus::Tree;
    let block = panel(Line::from(" Supervision tree "), focused, styles);
    if app.model.is_none() {
        let inner = block.inner(area);
        frame.render_widget(block, area);
        frame.render_widget(Paragraph::new(Span::styled(WAITING, styles.dim())), inner);
        return;
    }
    let symbols = styles.symbols;
    match Tree::new(&app.tree_items) {
        Ok(tree) => {
            let tree = tree
                .block(block)
                .highlight_symbol(symbols.cursor)
                .highlight_style(if focused {
                    styles.cursor()
                } else {
                    styles.cursor_unfocused()
                })
                .node_open_symbol(symbols.open)
                .node_closed_symbol(symbols.closed)
                .node_no_children_symbol(symbols.leaf);
            frame.render_stateful_widget(tree, area, &mut app.tree_state);
        }
        // Pids are unique, so this does not happen; say so rather than panic if it does.
        Err(error) => {
            let inner = block.inner(area);
            frame.render_widget(block, area);
            frame.render_widget(Paragraph::new(format!(" {error}")), inner);
        }
    }
}

/// The widget's items for the current tree (system processes only with `a`).
pub fn items(app: &App, styles: &Styles) -> Vec<TreeItem<'static, NodeKey>> {
    match &app.model {
        Some(model) => nodes(&model.tree.roots, app, styles),
        None => Vec::new(),
    }
}

fn nodes(nodes: &[TreeNode], app: &App, styles: &Styles) -> Vec<TreeItem<'static, NodeKey>> {
    nodes
        .iter()
        .enumerate()
        .filter(|(_, node)| app.show_system || !node.is_system())
        .map(|(i, node)| {
            let key = NodeKey::of(node, i);
            let text = line(node, app, styles);
            match node {
                TreeNode::Supervisor { children, .. } => {
                    let children = self::nodes(children, app, styles);
                    TreeItem::new(key, text.clone(), children)
                        .unwrap_or_else(|_| TreeItem::new_leaf(key, text))
                }
                _ => TreeItem::new_leaf(key, text),
            }
        })
        .collect()
}

/// `workers <0.3> rest_for_one`, `worker-1 <0.23> Worker 2 restarts ! crash loop`,
/// `worker-3 stopped (transient)`.
fn line(node: &TreeNode, app: &App, styles: &Styles) -> Line<'static> {
    let mut spans = Vec::new();
    let row = node.pid().and_then(|pid| app.row(pid));
    match (node, row) {
        (TreeNode::Supervisor { info, children }, Some(row)) => {
            name_and_pid(&mut spans, row, styles);
            spans.push(Span::styled(format!(" {}", info.strategy), styles.dim()));
            let count = match app.child_count(info.pid) {
                // A window holds some of its children.
                Some(all) if all > children.len() as u64 => {
                    format!(" [{} of {all}]", children.len())
                }
                _ => format!(" [{}]", children.len()),
            };
            spans.push(Span::styled(count, styles.dim()));
            status_and_more(&mut spans, row, styles);
        }
        (TreeNode::Worker { info }, Some(row)) => {
            name_and_pid(&mut spans, row, styles);
            spans.push(Span::styled(format!(" {}", info.type_name), styles.dim()));
            status_and_more(&mut spans, row, styles);
        }
        (
            TreeNode::Stopped {
                child_id, restart, ..
            },
            _,
        ) => {
            spans.push(Span::styled(child_id.clone(), styles.dim()));
            let restart = match restart {
                RestartType::Permanent => String::new(),
                other => format!(" ({other})"),
            };
            spans.push(Span::styled(format!(" stopped{restart}"), styles.dim()));
        }
        _ => spans.push(Span::styled("?", styles.dim())),
    }
    Line::from(spans)
}

fn name_and_pid(spans: &mut Vec<Span<'static>>, row: &Row, styles: &Styles) {
    if row.label != "-" {
        spans.push(Span::styled(
            row.label.clone(),
            styles.bold().patch(styles.status(row.process.status)),
        ));
        spans.push(Span::raw(" "));
    }
    spans.push(Span::styled(row.pid().to_string(), styles.dim()));
}

fn status_and_more(spans: &mut Vec<Span<'static>>, row: &Row, styles: &Styles) {
    let status = row.process.status;
    if status != noex_agent::types::ProcessStatus::Running {
        spans.push(Span::styled(format!(" {status}"), styles.status(status)));
    }
    match row.process.restarts {
        0 => {}
        1 => spans.push(Span::styled(" 1 restart", styles.warn())),
        n => spans.push(Span::styled(format!(" {n} restarts"), styles.warn())),
    }
    if row.warnings.any() {
        spans.push(Span::styled(
            format!(" ! {}", warning_text(&row.warnings)),
            warning_style(&row.warnings, styles),
        ));
    }
}
