//! Scrape-time collection: reach each agent, read a snapshot, give up on it after a
//! time limit, all agents at once. A stuck application is reported `up 0` and never
//! holds the others up; an agent directory with none is an empty scrape, not an error.

use std::path::{Path, PathBuf};
use std::time::Duration;

use noex_agent::client::Client;
use noex_agent::discovery::{self, AgentEntry, DirError};
use tokio::time::{Instant, timeout_at};

use super::families::AgentScrape;

/// The default of `--agent-timeout`: well inside Prometheus' default 10 s scrape timeout.
pub const DEFAULT_AGENT_TIMEOUT: Duration = Duration::from_secs(3);

/// Scrape every live agent in `dir`, each within `limit`, in pid order.
pub async fn scrape_dir(dir: &Path, limit: Duration) -> Result<Vec<AgentScrape>, DirError> {
    let agents = discovery::list_agents_in(dir)?;
    Ok(scrape_agents(&agents, limit).await)
}

/// Scrape these agents, each within `limit`, all at once.
pub async fn scrape_agents(agents: &[AgentEntry], limit: Duration) -> Vec<AgentScrape> {
    futures::future::join_all(
        agents
            .iter()
            .map(|agent| scrape_path(agent.pid, agent.path.clone(), limit)),
    )
    .await
}

/// Connect to the agent at `path` and read its snapshot, within `limit` in all.
pub async fn scrape_path(pid: u32, path: PathBuf, limit: Duration) -> AgentScrape {
    let deadline = Instant::now() + limit;
    let mut scrape = AgentScrape {
        pid,
        app: String::new(),
        snapshot: Err(String::new()),
    };
    let mut client = match timeout_at(deadline, Client::connect(&path)).await {
        Ok(Ok(client)) => client,
        Ok(Err(error)) => {
            scrape.snapshot = Err(error.to_string());
            return scrape;
        }
        Err(_) => {
            scrape.snapshot = Err(format!("no greeting within {limit:?}"));
            return scrape;
        }
    };
    scrape_client(&mut client, deadline, &mut scrape).await;
    scrape
}

/// Read the snapshot through a connected client, by `deadline`, into `scrape`.
pub async fn scrape_client(client: &mut Client, deadline: Instant, scrape: &mut AgentScrape) {
    scrape.pid = client.hello().pid;
    scrape.app = client.hello().app.clone();
    scrape.snapshot = match timeout_at(deadline, client.snapshot()).await {
        Ok(Ok(snapshot)) => Ok(snapshot),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err("no snapshot in time".to_string()),
    };
}
