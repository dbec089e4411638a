//! `--cluster NATS_URL`: the nodes of a noex cluster, reached through NATS instead of
//! a local socket. `noex ps` asks every node in parallel (a node that does not answer
//! is named on stderr and does not hide the others; the command then ends with exit
//! status 1); with `--node`, any command attaches to that node's agent through a
//! tunnel over NATS, as it would to a local application.

pub mod ps;

use std::time::Duration;

use noex_agent::client::Client;
use noex_cluster::{ClusterConfig, ClusterView, NodeInfo, RemoteError};

use crate::cli::TargetArgs;
use crate::commands::{Context, write_err};
use crate::error::{CliError, from_client};
use crate::render::table::node_choice_table;

/// How long a node's agent has to greet through its tunnel: as long as a local
/// agent has (`target::GREETING_TIMEOUT`); NATS adds milliseconds.
const GREETING_TIMEOUT: Duration = Duration::from_secs(8);

/// Connect to the cluster's NATS as an observer (not a node), and list the nodes up.
pub async fn view(ctx: &Context) -> Result<(ClusterView, Vec<NodeInfo>), CliError> {
    view_for(&ctx.target).await
}

/// Attach to the node `--node` names (or the cluster's only node) through its agent
/// tunnel: the same client as for a local socket.
pub async fn connect(target: &TargetArgs) -> Result<Client, CliError> {
    let (view, nodes) = view_for(target).await?;
    let node = match (&target.cluster.node, nodes.as_slice()) {
        (Some(node), _) => node.clone(),
        (None, [only]) => only.node.clone(),
        (None, several) => {
            let choices: Vec<(String, Option<String>)> = several
                .iter()
                .map(|n| (n.node.clone(), Some(n.app.clone())))
                .collect();
            return Err(CliError::usage(format!(
                "{} nodes are up in cluster {:?}; choose one with --node",
                several.len(),
                target.cluster.cluster_name
            ))
            .with_details(node_choice_table(&choices))
            .with_hint(format!("for example: --node {}", several[0].node)));
        }
    };
    let what = format!("the agent of node {node}");
    let stream = view.dial_agent(&node).await.map_err(|error| match error {
        RemoteError::NodeDown { .. } => CliError::usage(format!(
            "node {node:?} is not up in cluster {:?}",
            target.cluster.cluster_name
        ))
        .with_hint("`noex ps --cluster URL` lists the nodes up"),
        other => CliError::failed(format!("cannot reach {what}: {other}")),
    })?;
    match tokio::time::timeout(GREETING_TIMEOUT, Client::handshake(stream)).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(error)) => Err(from_client(error)),
        Err(_) => Err(CliError::failed(format!(
            "{what} did not greet within {}s",
            GREETING_TIMEOUT.as_secs()
        ))),
    }
}

pub(crate) async fn view_for(
    target: &TargetArgs,
) -> Result<(ClusterView, Vec<NodeInfo>), CliError> {
    let args = &target.cluster;
    if args.cluster.is_none() {
        return Err(CliError::usage("--node needs --cluster NATS_URL")
            .with_hint("for example: --cluster nats://127.0.0.1:4222 --node node-a"));
    }
    if target.pid.is_some() || target.socket.is_some() || target.host.is_some() {
        return Err(
            CliError::usage("--cluster cannot be combined with --pid, --socket or --host")
                .with_hint("--cluster reaches the nodes of a cluster through NATS"),
        );
    }
    let url = args.cluster.clone().unwrap_or_default();
    let mut config = ClusterConfig::new("observer", url.clone()).cluster(args.cluster_name.clone());
    if let Some(creds) = &args.nats_creds {
        config = config.credentials(creds.clone());
    }
    let view = ClusterView::connect(&config)
        .await
        .map_err(|error| CliError::usage(error.to_string()))?;
    let nodes = view
        .nodes()
        .await
        .map_err(|error| CliError::failed(error.to_string()))?;
    if nodes.is_empty() {
        return Err(CliError::usage(format!(
            "no node of cluster {:?} is up on {url}",
            args.cluster_name
        ))
        .with_hint("a node joins with noex_cluster::join; --cluster-name picks another cluster"));
    }
    Ok((view, nodes))
}

/// A node that did not answer, and why.
pub struct Silent {
    pub node: String,
    pub reason: String,
}

pub fn report(silent: &[Silent]) {
    for node in silent {
        write_err(&format!(
            "noex: node {} did not answer ({}); left out\n",
            node.node, node.reason
        ));
    }
}

/// Exit 1 when some node was left out, after the others were shown.
pub fn outcome(silent: &[Silent], total: usize) -> Result<(), CliError> {
    if silent.is_empty() {
        return Ok(());
    }
    Err(CliError::failed(format!(
        "{} of {total} nodes did not answer",
        silent.len()
    )))
}
