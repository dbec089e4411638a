//! How a node joins: its name, the NATS servers, and the timings of membership.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::JoinError;

/// What [`join`](crate::join) needs.
///
/// A node is seen as down by the others when it has written no heartbeat for
/// `down_after`; they notice it within `down_after + heartbeat` of its last one.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// This node's name, unique in the cluster: letters, digits, `-` and `_`.
    pub node: String,
    /// The NATS servers, comma-separated (`nats://10.0.0.1:4222,nats://10.0.0.2:4222`).
    pub nats_url: String,
    /// The cluster's name: nodes of one cluster share its subjects and buckets, so
    /// two clusters can share one NATS system. Same characters as a node name.
    pub cluster: String,
    /// How often this node writes its heartbeat and renews its global names.
    pub heartbeat: Duration,
    /// How long without a heartbeat before a node is down, its monitors fire with
    /// `noconnection` and its global names are freed.
    pub down_after: Duration,
    /// Copies JetStream keeps of the membership and names buckets: 1 on a single
    /// NATS server, 3 on a cluster of three so that losing one server loses nothing.
    /// The first node to join makes the buckets; later ones use them as they are.
    pub replicas: usize,
    /// A NATS credentials file (`.creds`), for a NATS system with accounts.
    pub credentials: Option<PathBuf>,
    /// A NATS user and password.
    pub user_password: Option<(String, String)>,
    /// A NATS token.
    pub token: Option<String>,
}

/// A heartbeat a second and down after five: a dead node is seen within six seconds.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(1);
pub const DEFAULT_DOWN_AFTER: Duration = Duration::from_secs(5);

impl ClusterConfig {
    pub fn new(node: impl Into<String>, nats_url: impl Into<String>) -> Self {
        ClusterConfig {
            node: node.into(),
            nats_url: nats_url.into(),
            cluster: "noex".to_string(),
            heartbeat: DEFAULT_HEARTBEAT,
            down_after: DEFAULT_DOWN_AFTER,
            replicas: 1,
            credentials: None,
            user_password: None,
            token: None,
        }
    }

    pub fn cluster(mut self, cluster: impl Into<String>) -> Self {
        self.cluster = cluster.into();
        self
    }

    pub fn heartbeat(mut self, every: Duration) -> Self {
        self.heartbeat = every;
        self
    }

    pub fn down_after(mut self, after: Duration) -> Self {
        self.down_after = after;
        self
    }

    pub fn replicas(mut self, replicas: usize) -> Self {
        self.replicas = replicas;
        self
    }

    pub fn credentials(mut self, file: impl Into<PathBuf>) -> Self {
        self.credentials = Some(file.into());
        self
    }

    pub fn user_password(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.user_password = Some((user.into(), password.into()));
        self
    }

    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    pub(crate) fn validate(&self) -> Result<(), JoinError> {
        check_name("node", &self.node)?;
        check_name("cluster", &self.cluster)?;
        if self.heartbeat.is_zero() || self.down_after <= self.heartbeat {
            return Err(JoinError::Config(format!(
                "down_after ({:?}) must be longer than the heartbeat ({:?}), and the heartbeat above zero",
                self.down_after, self.heartbeat
            )));
        }
        Ok(())
    }
}

/// Node and cluster names go into NATS subjects and bucket names, where a dot,
/// a wildcard or a space would change their meaning.
pub(crate) fn check_name(what: &str, name: &str) -> Result<(), JoinError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(JoinError::Config(format!(
            "{what} name {name:?} must be 1 to 64 letters, digits, '-' or '_'"
        )))
    }
}

/// The connection options every client of a cluster uses, nodes and observers alike.
/// The first connection is tried once, so a wrong address is an error at once; after
/// it the client reconnects by itself, for ever, through NATS restarts.
pub(crate) async fn connect(
    config: &ClusterConfig,
    name: String,
) -> Result<async_nats::Client, JoinError> {
    let mut options = match &config.credentials {
        Some(file) => async_nats::ConnectOptions::with_credentials_file(file.clone())
            .await
            .map_err(|error| {
                JoinError::Config(format!("credentials {}: {error}", file.display()))
            })?,
        None => async_nats::ConnectOptions::new(),
    };
    options = options.name(name).max_reconnects(None);
    if let Some((user, password)) = &config.user_password {
        options = options.user_and_password(user.clone(), password.clone());
    }
    if let Some(token) = &config.token {
        options = options.token(token.clone());
    }
    let servers: Vec<&str> = config.nats_url.split(',').map(str::trim).collect();
    options
        .connect(servers)
        .await
        .map_err(|error| JoinError::Connect {
            url: config.nats_url.clone(),
            reason: error.to_string(),
        })
}
