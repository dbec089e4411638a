//! The applications the picker (`A`) offers: every live agent in the agent
//! directory, asked in parallel for its name and how many processes it has; over
//! `--host`, every agent on that host, as `noex list` there sees them.
//!
//! The count comes from a one-row table request, which the agent answers without
//! sending its processes, so a million-process application is as quick to list as a
//! small one. An agent too old for tables is listed without a count.

use std::path::Path;

use noex_agent::client::Client;
use noex_agent::discovery;
use noex_agent::table::TableQuery;

use super::state::AppChoice;
use crate::ssh::host::SshHost;
use crate::target::CONNECT_TIMEOUT;

/// Every live agent in `dir`, in pid order. One that does not answer is listed
/// with the reason.
pub async fn list_apps(dir: &Path) -> Vec<AppChoice> {
    let agents = discovery::list_agents_in(dir).unwrap_or_default();
    futures::future::join_all(agents.into_iter().map(|agent| ask(agent.pid, agent.path))).await
}

/// Every live agent on `host`, listed there by its own `noex list`. Picked by its
/// socket, a path on that host, which the remote `dial-stdio` connects to.
pub async fn list_remote_apps(host: &SshHost, remote_noex: &str) -> Result<Vec<AppChoice>, String> {
    let rows = crate::ssh::list(host, remote_noex)
        .await
        .map_err(|error| format!("{:#}", error.error))?;
    Ok(rows
        .into_iter()
        .map(|row| AppChoice {
            pid: row.pid,
            socket: row.socket.into(),
            app: row.app,
            processes: row.processes,
            error: row.error,
        })
        .collect())
}

async fn ask(pid: u32, socket: std::path::PathBuf) -> AppChoice {
    let mut choice = AppChoice {
        pid,
        socket,
        app: None,
        processes: None,
        error: None,
    };
    let asked = tokio::time::timeout(CONNECT_TIMEOUT, async {
        let mut client = Client::connect(&choice.socket).await?;
        let app = client.hello().app.clone();
        let query = TableQuery {
            limit: 1,
            ..TableQuery::default()
        };
        let processes = client.table(query).await.ok().map(|view| view.processes);
        Ok::<_, noex_agent::client::ClientError>((app, processes))
    })
    .await;
    match asked {
        Ok(Ok((app, processes))) => {
            choice.app = Some(app);
            choice.processes = processes;
        }
        Ok(Err(error)) => choice.error = Some(error.to_string()),
        Err(_) => {
            choice.error = Some(format!("no answer within {}s", CONNECT_TIMEOUT.as_secs()));
        }
    }
    choice
}
