//! `--cluster NATS_URL`: the nodes of a noex cluster, reached through NATS instead of
//! a local socket, each asked in parallel. A node that does not answer is named on
//! stderr and does not hide the others; the command then ends with exit status 1.

pub mod ps;

use noex_cluster::{ClusterConfig, ClusterView, NodeInfo};

use crate::cli::ClusterArgs;
use crate::commands::{Context, write_err};
use crate::error::CliError;

/// Connect to the cluster's NATS as an observer (not a node).
pub async fn view(
    ctx: &Context,
    args: &ClusterArgs,
) -> Result<(ClusterView, Vec<NodeInfo>), CliError> {
    if ctx.target.pid.is_some() || ctx.target.socket.is_some() || ctx.target.host.is_some() {
        return Err(
            CliError::usage("--cluster cannot be combined with --pid, --socket or --host")
                .with_hint("--cluster reaches every node of the cluster through NATS"),
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
