//! `noex ps --all-agents`: the processes of every live application in one table,
//! with an APP column first.
//!
//! Rows come in application order (name, then OS pid) and pid order within one;
//! `--sort` then orders them across applications (the longest queue anywhere first),
//! ties keeping that order.

use serde::Serialize;

use super::{Absent, attach_all, outcome, refuse_a_target, report};
use crate::cli::{PsArgs, SortKey};
use crate::commands::{Context, write_out};
use crate::error::CliError;
use crate::render::table::{
    ProcessRow, compare_rows, fleet_process_table, process_rows, rows_json,
};
use crate::target;

/// One row of `noex ps --all-agents --json`: the application, then the fields of
/// `noex ps --json`.
#[derive(Serialize)]
struct FleetRow<'a> {
    app: &'a str,
    os_pid: u32,
    #[serde(flatten)]
    row: &'a ProcessRow<'a>,
}

pub async fn run(ctx: &Context, args: &PsArgs) -> Result<(), CliError> {
    refuse_a_target(ctx)?;
    let (members, mut absent) = attach_all().await?;
    let total = members.len() + absent.len();
    let asked = futures::future::join_all(members.into_iter().map(|mut member| async move {
        let snapshot = target::request("snapshot", member.client.snapshot()).await;
        (member, snapshot)
    }))
    .await;
    let mut snapshots = Vec::new();
    for (member, snapshot) in asked {
        match snapshot {
            Ok(snapshot) => snapshots.push((member, snapshot)),
            Err(error) => absent.push(Absent {
                os_pid: member.os_pid,
                reason: format!("{:#}", error.error),
            }),
        }
    }
    let mut rows: Vec<(&str, u32, ProcessRow)> = snapshots
        .iter()
        .flat_map(|(member, snapshot)| {
            process_rows(snapshot, args.all, SortKey::Pid)
                .into_iter()
                .map(|row| (member.label.as_str(), member.os_pid, row))
        })
        .collect();
    if args.sort != SortKey::Pid {
        rows.sort_by(|a, b| compare_rows(&a.2, &b.2, args.sort));
    }
    report(&absent);
    let text = if args.json {
        let rows: Vec<FleetRow> = rows
            .iter()
            .map(|(label, os_pid, row)| FleetRow {
                app: app_name(label),
                os_pid: *os_pid,
                row,
            })
            .collect();
        rows_json(&rows)
    } else {
        fleet_process_table(
            "APP",
            rows.iter().map(|(label, _, row)| (*label, row)),
            ctx.stdout,
        )
    };
    write_out(&text)?;
    outcome(&absent, total)
}

/// The name part of `noex-demo:4242`.
fn app_name(label: &str) -> &str {
    label.rsplit_once(':').map_or(label, |(name, _)| name)
}
