//! noex nodes in a cluster on NATS: remote calls, global names, distributed
//! pub/sub and remote monitors, on a NATS server with JetStream.
//!
//! ```no_run
//! use noex_cluster::{ClusterConfig, join};
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let cluster = join(ClusterConfig::new("node-a", "nats://127.0.0.1:4222")).await?;
//! for node in cluster.nodes() {
//!     println!("{} ({}, pid {})", node.node, node.app, node.os_pid);
//! }
//! # Ok(()) }
//! ```
//!
//! See `docs/cluster.md` for what is and is not guaranteed.

mod bus;
mod config;
mod error;
mod exports;
mod global;
mod membership;
mod monitor;
mod node;
mod observe;
mod remote;
mod rpc;
mod subjects;
mod tunnel;
mod wire;

pub use bus::{ClusterBus, ClusterSubscription};
pub use config::{ClusterConfig, DEFAULT_DOWN_AFTER, DEFAULT_HEARTBEAT};
pub use error::{GlobalError, JoinError, RemoteError};
pub use global::GlobalName;
pub use membership::{DownCause, NodeEvent};
pub use monitor::{DownReason, RemoteDown, RemoteMonitor};
pub use node::{Cluster, join};
pub use observe::ClusterView;
pub use remote::RemoteRef;
pub use tunnel::{IDLE_LIMIT as TUNNEL_IDLE_LIMIT, close_observer_tunnels};
pub use wire::{GlobalEntry, NodeInfo};
