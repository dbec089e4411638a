//! What an agent allows and how it listens: its options, with the limits PROTOCOL.md
//! documents, and why it could not start.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use crate::discovery::DirError;
use crate::types::default_app_name;

/// How an agent listens and what it allows. The defaults are the limits PROTOCOL.md
/// documents (§8).
#[derive(Clone, Debug)]
pub struct AgentOptions {
    /// Where to listen. `None`: `<agent dir>/<pid>.sock`, where `noex --pid` looks.
    pub socket_path: Option<PathBuf>,
    /// The application's name, shown by `noex list` and in the dashboard.
    pub app_name: String,
    /// The noex version the application was built with (sent in `Hello`).
    pub noex_version: String,
    /// Refuse kill and restart.
    pub read_only: bool,
    /// Connections served at once. One more waits up to `admission_wait` for a free
    /// slot, then is refused with `busy`.
    pub max_connections: usize,
    /// How long a connection over the limit waits for a slot. Longer than
    /// `request_timeout`, so clients that never send a request cannot keep a
    /// well-behaved one out.
    pub admission_wait: Duration,
    /// Replies queued per connection, in bytes. When they fill it, the agent stops
    /// reading that client's requests until it reads its replies. One reply of any
    /// size is always let through (a large snapshot).
    pub reply_buffer: usize,
    /// Events queued per connection, in bytes; what does not fit is dropped and
    /// counted (`lagged`).
    pub event_buffer: usize,
    /// Every frame queued on every connection together, in bytes: the agent's memory
    /// ceiling whatever its clients do (plus one reply being built per concurrent
    /// build, at most two).
    pub memory_limit: usize,
    /// The most history events one `subscribe` may ask for.
    pub max_history: usize,
    /// A client must send its first request within this long of connecting, and
    /// finish every frame within this long of its first byte.
    pub request_timeout: Duration,
    /// A client that reads nothing for this long while the agent has frames for it is
    /// told `not_reading` and disconnected.
    pub write_timeout: Duration,
}

impl Default for AgentOptions {
    fn default() -> Self {
        AgentOptions {
            socket_path: None,
            app_name: default_app_name(),
            noex_version: env!("CARGO_PKG_VERSION").to_string(),
            read_only: false,
            max_connections: 64,
            admission_wait: Duration::from_secs(6),
            reply_buffer: 1024 * 1024,
            event_buffer: 256 * 1024,
            memory_limit: 32 * 1024 * 1024,
            max_history: 10_000,
            request_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(10),
        }
    }
}

impl AgentOptions {
    /// Default options for the application called `app_name`.
    pub fn new(app_name: impl Into<String>) -> Self {
        AgentOptions {
            app_name: app_name.into(),
            ..AgentOptions::default()
        }
    }

    /// Listens at `path` instead of `<agent dir>/<pid>.sock`.
    pub fn socket_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.socket_path = Some(path.into());
        self
    }

    /// Sets the application name sent in `Hello`.
    pub fn app_name(mut self, app_name: impl Into<String>) -> Self {
        self.app_name = app_name.into();
        self
    }

    /// Sets the noex version sent in `Hello`.
    pub fn noex_version(mut self, version: impl Into<String>) -> Self {
        self.noex_version = version.into();
        self
    }

    /// Whether to refuse kill and restart.
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// Sets how many connections are served at once.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }

    /// Sets how long a connection over the limit waits for a slot.
    pub fn admission_wait(mut self, wait: Duration) -> Self {
        self.admission_wait = wait;
        self
    }

    /// Sets the replies queued per connection, in bytes.
    pub fn reply_buffer(mut self, bytes: usize) -> Self {
        self.reply_buffer = bytes;
        self
    }

    /// Sets the events queued per connection, in bytes.
    pub fn event_buffer(mut self, bytes: usize) -> Self {
        self.event_buffer = bytes;
        self
    }

    /// Sets the bytes queued on every connection together.
    pub fn memory_limit(mut self, bytes: usize) -> Self {
        self.memory_limit = bytes;
        self
    }

    /// Sets the most history events one `subscribe` may ask for.
    pub fn max_history(mut self, events: usize) -> Self {
        self.max_history = events;
        self
    }

    /// Sets the time allowed for the first request and for each frame.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets how long a client may read nothing while frames wait for it.
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout;
        self
    }
}

/// The agent could not start.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// [`Agent::start`](super::Agent::start) was called outside a tokio runtime.
    #[error("the noex agent must be started from inside a tokio runtime")]
    NoRuntime,
    /// The agent directory cannot be trusted or used.
    #[error(transparent)]
    Dir(#[from] DirError),
    /// Another agent listens at the socket path.
    #[error("another agent is already listening at {}", path.display())]
    InUse {
        /// The socket path.
        path: PathBuf,
    },
    /// Binding the socket failed.
    #[error("cannot listen at {}: {source}", path.display())]
    Bind {
        /// The socket path.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
}
