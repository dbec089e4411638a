//! The applications the picker (`A`) offers: the rows of `noex list`, asked here
//! or, over `--host`, by `noex list` on that host; with `--cluster`, the nodes up.

use std::path::{Path, PathBuf};

use noex_agent::discovery;

use super::state::AppChoice;
use crate::cli::TargetArgs;
use crate::commands::list::app_row;
use crate::render::table::AppRow;
use crate::ssh::host::SshHost;

/// Every live agent in `dir`, in pid order, as `noex list` asks them. One that does
/// not answer is listed with the reason.
pub async fn list_apps(dir: &Path) -> Vec<AppChoice> {
    let agents = discovery::list_agents_in(dir).unwrap_or_default();
    let rows = futures::future::join_all(agents.iter().map(|a| app_row(a.pid, &a.path))).await;
    rows.into_iter().map(choice).collect()
}

/// Every live agent on `host`, listed there by its own `noex list`. Picked by its
/// socket, a path on that host, which the remote `dial-stdio` connects to.
pub async fn list_remote_apps(host: &SshHost, remote_noex: &str) -> Result<Vec<AppChoice>, String> {
    let rows = crate::ssh::list(host, remote_noex)
        .await
        .map_err(|error| format!("{:#}", error.error))?;
    Ok(rows.into_iter().map(choice).collect())
}

/// The nodes up in the `--cluster` of `target`, picked by node name.
pub async fn list_cluster_nodes(target: &TargetArgs) -> Result<Vec<AppChoice>, String> {
    let (_, nodes) = crate::commands::cluster::view_for(target)
        .await
        .map_err(|error| format!("{:#}", error.error))?;
    Ok(nodes
        .into_iter()
        .map(|info| AppChoice {
            pid: info.os_pid,
            socket: PathBuf::new(),
            app: Some(format!("{} · {}", info.node, info.app)),
            processes: None,
            error: None,
            node: Some(info.node),
            host: Some(info.host),
        })
        .collect())
}

fn choice(row: AppRow) -> AppChoice {
    AppChoice {
        pid: row.pid,
        socket: row.socket.into(),
        app: row.app,
        processes: row.processes,
        error: row.error,
        node: None,
        host: None,
    }
}
