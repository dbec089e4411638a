//! `noex list`: every noex application running for this user, asked in parallel
//! (with `--host`, on that machine: its `noex list --json`, shown here).
//!
//! An agent that does not answer still gets a row (`unreachable`), so a stuck
//! application shows up instead of vanishing.

use std::path::Path;

use noex_agent::client::{Client, ClientError};
use noex_agent::protocol::ErrorCode;
use noex_agent::table::TableQuery;

use crate::cli::ListArgs;
use crate::commands::{Context, write_err, write_out};
use crate::error::CliError;
use crate::render::table::{AppRow, app_json, app_table};
use crate::target::{self, CONNECT_TIMEOUT};

pub async fn run(ctx: &Context, args: &ListArgs) -> Result<(), CliError> {
    if let Some(host) = &ctx.target.host {
        let rows = crate::ssh::list(host, ctx.target.remote_noex()).await?;
        if rows.is_empty() && !args.json {
            write_err(&format!("no noex application is running on {host}\n"));
            return Ok(());
        }
        return write_out(&if args.json {
            app_json(&rows)
        } else {
            app_table(&rows, ctx.stdout)
        });
    }
    let agents = target::list_agents()?;
    let rows = futures::future::join_all(agents.iter().map(|a| app_row(a.pid, &a.path))).await;
    if args.json {
        return write_out(&app_json(&rows));
    }
    if rows.is_empty() {
        // Not an error: "none" is a fine answer to "which are running?".
        write_err(&format!(
            "no noex application is running (looked in {})\n",
            noex_agent::discovery::agent_dir().display()
        ));
        return Ok(());
    }
    write_out(&app_table(&rows, ctx.stdout))
}

/// Ask one agent who it is and how big it is: a row of `noex list`, and a line of
/// the dashboard's application picker.
pub async fn app_row(pid: u32, path: &Path) -> AppRow {
    let mut row = AppRow::unreached(pid, path.display().to_string());
    let mut client = match tokio::time::timeout(CONNECT_TIMEOUT, Client::connect(path)).await {
        Ok(Ok(client)) => client,
        Ok(Err(error)) => {
            row.error = Some(error.to_string());
            return row;
        }
        Err(_) => {
            row.error = Some(format!("no answer within {}s", CONNECT_TIMEOUT.as_secs()));
            return row;
        }
    };
    let hello = client.hello();
    row.reachable = true;
    row.app = Some(hello.app.clone());
    row.noex_version = Some(hello.noex_version.clone());
    row.protocol_version = Some(hello.protocol_version.to_string());
    row.read_only = Some(hello.read_only);
    row.started_at_ms = Some(hello.started_at_ms);
    // A one-row table carries the application's figures without its processes: as
    // quick for a million processes as for ten. An agent older than tables sends
    // its whole snapshot instead.
    let query = TableQuery {
        limit: 1,
        ..TableQuery::default()
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, client.table(query)).await {
        Ok(Ok(view)) => {
            row.uptime_ms = Some(view.snapshot.uptime_ms);
            row.processes = Some(view.processes);
            row.processes_all = Some(view.snapshot.process_count);
            row.total_messages = Some(view.snapshot.total_messages);
            row.memory_rss_bytes = view.snapshot.memory_rss_bytes;
            return row;
        }
        Ok(Err(ClientError::Agent(body))) if body.code == ErrorCode::UnknownRequest => {}
        Ok(Err(error)) => {
            row.error = Some(error.to_string());
            return row;
        }
        Err(_) => {
            row.error = Some(format!("no answer within {}s", CONNECT_TIMEOUT.as_secs()));
            return row;
        }
    }
    match tokio::time::timeout(CONNECT_TIMEOUT, client.snapshot()).await {
        Ok(Ok(snapshot)) => {
            let user = |system: bool| u64::from(!system);
            let shown = snapshot.servers.iter().map(|s| user(s.system)).sum::<u64>()
                + snapshot
                    .supervisors
                    .iter()
                    .map(|s| user(s.system))
                    .sum::<u64>();
            row.uptime_ms = Some(snapshot.uptime_ms);
            row.processes = Some(shown);
            row.processes_all = Some(snapshot.process_count);
            row.total_messages = Some(snapshot.total_messages);
            row.memory_rss_bytes = snapshot.memory_rss_bytes;
        }
        Ok(Err(error)) => row.error = Some(error.to_string()),
        Err(_) => row.error = Some(format!("no snapshot within {}s", CONNECT_TIMEOUT.as_secs())),
    }
    row
}
