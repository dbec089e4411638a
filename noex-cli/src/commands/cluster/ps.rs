//! `noex ps --cluster NATS_URL`: the processes of every node of a cluster in one
//! table, with a NODE column first. Rows come in node order and pid order within
//! one; `--sort` then orders them across nodes, ties keeping that order.

use serde::Serialize;

use super::{Silent, outcome, report, view};
use crate::cli::{PsArgs, SortKey};
use crate::commands::{Context, write_out};
use crate::error::CliError;
use crate::render::table::{
    ProcessRow, compare_rows, fleet_process_table, process_rows, rows_json,
};

/// One row of `noex ps --cluster URL --json`: the node, then `noex ps --json`'s fields.
#[derive(Serialize)]
struct NodeRow<'a> {
    node: &'a str,
    #[serde(flatten)]
    row: &'a ProcessRow<'a>,
}

pub async fn run(ctx: &Context, args: &PsArgs) -> Result<(), CliError> {
    let (view, nodes) = view(ctx).await?;
    let total = nodes.len();
    let asked = futures::future::join_all(
        nodes
            .iter()
            .map(|node| async { (node.node.clone(), view.snapshot(&node.node).await) }),
    )
    .await;
    let mut snapshots = Vec::new();
    let mut silent = Vec::new();
    for (node, snapshot) in asked {
        match snapshot {
            Ok(snapshot) => snapshots.push((node, snapshot)),
            Err(error) => silent.push(Silent {
                node,
                reason: error.to_string(),
            }),
        }
    }
    let mut rows: Vec<(&str, ProcessRow)> = snapshots
        .iter()
        .flat_map(|(node, snapshot)| {
            process_rows(snapshot, args.all, SortKey::Pid)
                .into_iter()
                .map(move |row| (node.as_str(), row))
        })
        .collect();
    if args.sort != SortKey::Pid {
        rows.sort_by(|a, b| compare_rows(&a.1, &b.1, args.sort));
    }
    report(&silent);
    let text = if args.json {
        let rows: Vec<NodeRow> = rows
            .iter()
            .map(|(node, row)| NodeRow { node, row })
            .collect();
        rows_json(&rows)
    } else {
        fleet_process_table(
            "NODE",
            rows.iter().map(|(node, row)| (*node, row)),
            ctx.stdout,
        )
    };
    write_out(&text)?;
    outcome(&silent, total)
}
