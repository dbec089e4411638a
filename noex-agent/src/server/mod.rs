//! The agent an application embeds: a socket that `noex` attaches to.
//!
//! [`Agent::start`] binds `<agent dir>/<pid>.sock` (mode 0600, in a private 0700
//! directory) and accepts connections on the current tokio runtime. Each connection is
//! checked (same user or root, under the connection limit), greeted with `Hello`, and
//! then served by its own task; see `PROTOCOL.md` for what crosses the socket. The
//! returned [`AgentHandle`] removes the socket and stops the agent when dropped.
//!
//! ```no_run
//! # async fn demo(backend: std::sync::Arc<dyn noex_agent::backend::Backend>) {
//! use noex_agent::server::{Agent, AgentOptions};
//!
//! let agent = Agent::start(AgentOptions::new("shop").read_only(true), backend).unwrap();
//! println!("attach with: noex ps --socket {}", agent.path().display());
//! # }
//! ```

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use crate::backend::Backend;
use crate::budget::ByteBudget;
use crate::connection::{self, CONCURRENT_BUILDS, Context};
use crate::discovery;
use crate::local_socket::{self, Listener, Stream};
use crate::process_start::{now_ms, process_start_ms};
use crate::protocol::{ErrorBody, ErrorCode, Hello, ProtocolVersion};

mod options;
pub use options::{AgentError, AgentOptions};

/// Starts agents. See the module docs.
pub struct Agent;

impl Agent {
    /// Binds the socket and starts accepting on the current tokio runtime.
    pub fn start(
        options: AgentOptions,
        backend: Arc<dyn Backend>,
    ) -> Result<AgentHandle, AgentError> {
        tokio::runtime::Handle::try_current().map_err(|_| AgentError::NoRuntime)?;
        let own_pid = std::process::id();
        let default_path = discovery::socket_path_for_pid(own_pid);
        let path = options.socket_path.clone().unwrap_or(default_path.clone());
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            discovery::ensure_agent_dir(dir)?;
        }
        // Our own pid's name can only have been left by an earlier process with this pid
        // (it is dead: the pid is ours now), so taking it over is safe. Any other path
        // might belong to a live agent.
        let ours = path == default_path;
        let listener = bind(&path, ours)?;
        let identity = file_identity(&path);

        let hello = Hello {
            protocol_version: ProtocolVersion::CURRENT,
            noex_version: options.noex_version.clone(),
            app: options.app_name.clone(),
            pid: own_pid,
            started_at_ms: process_start_ms(own_pid).unwrap_or_else(now_ms),
            read_only: options.read_only,
        };
        let memory = ByteBudget::new(options.memory_limit);
        let context = Arc::new(Context {
            backend: Arc::clone(&backend),
            hello: hello.clone(),
            read_only: options.read_only,
            reply_buffer: options.reply_buffer,
            event_buffer: options.event_buffer,
            memory: Arc::clone(&memory),
            builds: Semaphore::new(CONCURRENT_BUILDS),
            reply_sizes: Default::default(),
            max_history: options.max_history,
            request_timeout: options.request_timeout,
            write_timeout: options.write_timeout,
            table: Default::default(),
        });
        let (shutdown, shutdown_rx) = watch::channel(false);
        let slots = Arc::new(Semaphore::new(options.max_connections));
        let door = Arc::new(Door {
            backend,
            context,
            max_connections: options.max_connections,
            slots: Arc::clone(&slots),
            waiting: AtomicUsize::new(0),
            admission_wait: options.admission_wait,
            own_uid: discovery::own_uid(),
        });
        tokio::spawn(accept_loop(listener, door, shutdown_rx));
        tracing::debug!(path = %path.display(), "noex agent listening");
        Ok(AgentHandle {
            path,
            hello,
            shutdown,
            slots,
            max_connections: options.max_connections,
            memory,
            stopped: AtomicBool::new(false),
            identity,
        })
    }
}

/// A running agent. Dropping it stops the agent, like [`AgentHandle::shutdown`].
#[derive(Debug)]
pub struct AgentHandle {
    path: PathBuf,
    hello: Hello,
    shutdown: watch::Sender<bool>,
    slots: Arc<Semaphore>,
    max_connections: usize,
    memory: Arc<ByteBudget>,
    stopped: AtomicBool,
    identity: Option<FileIdentity>,
}

impl AgentHandle {
    /// The socket (or named pipe) the agent listens at.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The greeting every client receives.
    pub fn hello(&self) -> &Hello {
        &self.hello
    }

    /// Connections being served now.
    pub fn active_connections(&self) -> usize {
        self.max_connections - self.slots.available_permits()
    }

    /// Bytes of frames queued for clients on every connection now: at most
    /// [`AgentOptions::memory_limit`], plus a reply or two being admitted.
    pub fn queued_bytes(&self) -> usize {
        self.memory.used()
    }

    /// Stops accepting, closes every connection and removes the socket file. Call it on
    /// SIGTERM too: a socket survives a process killed by a signal. Idempotent.
    pub fn shutdown(&self) {
        if self.stopped.swap(true, Ordering::SeqCst) {
            return;
        }
        let _ = self.shutdown.send(true);
        remove_socket(&self.path, self.identity);
        tracing::debug!(path = %self.path.display(), "noex agent stopped");
    }
}

impl Drop for AgentHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Whether a peer running as `peer_uid` may talk to an agent running as `own_uid`: the
/// same user, or root (who could read the process's memory anyway).
pub fn peer_allowed(peer_uid: u32, own_uid: u32) -> bool {
    peer_uid == own_uid || peer_uid == 0
}

/// What the accept loop needs to admit or refuse a connection.
struct Door {
    backend: Arc<dyn Backend>,
    context: Arc<Context>,
    max_connections: usize,
    /// One permit per connection served at once.
    slots: Arc<Semaphore>,
    /// Connections waiting for a slot; as many may wait as may be served.
    waiting: AtomicUsize,
    admission_wait: Duration,
    own_uid: Option<u32>,
}

impl Door {
    fn admit(self: &Arc<Self>, stream: Stream, shutdown: &watch::Receiver<bool>) {
        if let Err(refusal) = self.check_peer(&stream) {
            tokio::spawn(connection::refuse(stream, refusal));
            return;
        }
        if let Ok(slot) = Arc::clone(&self.slots).try_acquire_owned() {
            self.serve(stream, slot, shutdown.clone());
            return;
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_connections {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            let busy = self.busy(format!("{} more are waiting", self.max_connections));
            tokio::spawn(connection::refuse(stream, busy));
            return;
        }
        // Full: wait for a slot. Connections that never send a request are closed
        // after the request timeout, so a slot frees within it.
        let door = Arc::clone(self);
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let waited =
                tokio::time::timeout(door.admission_wait, Arc::clone(&door.slots).acquire_owned())
                    .await;
            door.waiting.fetch_sub(1, Ordering::AcqRel);
            match waited {
                Ok(Ok(slot)) => door.serve(stream, slot, shutdown),
                _ => {
                    let waited = format!("none freed up within {:?}", door.admission_wait);
                    connection::refuse(stream, door.busy(waited)).await;
                }
            }
        });
    }

    fn serve(&self, stream: Stream, slot: OwnedSemaphorePermit, shutdown: watch::Receiver<bool>) {
        let served = connection::serve(stream, Arc::clone(&self.context), shutdown, slot);
        self.backend.spawn_connection(Box::pin(served));
    }

    fn busy(&self, why: String) -> ErrorBody {
        tracing::debug!("agent: refusing a connection: busy");
        ErrorBody::new(
            ErrorCode::Busy,
            format!(
                "the agent is busy: it already serves {} connections, and {why}",
                self.max_connections
            ),
        )
    }

    fn check_peer(&self, stream: &Stream) -> Result<(), ErrorBody> {
        let Some(own_uid) = self.own_uid else {
            // No uids here (Windows): the pipe's own security decides.
            return Ok(());
        };
        match local_socket::peer_uid(stream) {
            Ok(Some(uid)) if peer_allowed(uid, own_uid) => Ok(()),
            outcome => {
                tracing::warn!("agent: refusing a connection from another user: {outcome:?}");
                Err(ErrorBody::new(
                    ErrorCode::PermissionDenied,
                    "permission denied: only the user running the application (or root) \
                     may attach",
                ))
            }
        }
    }
}

async fn accept_loop(listener: Listener, door: Arc<Door>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            // Fires on shutdown, and when the handle is dropped (the sender goes away).
            _ = shutdown.changed() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok(stream) => door.admit(stream, &shutdown),
            Err(e) => {
                // Out of file descriptors and the like: back off rather than spin.
                tracing::warn!("agent: accept failed: {e}");
                tokio::select! {
                    _ = shutdown.changed() => break,
                    () = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
            }
        }
    }
}

fn bind(path: &Path, ours: bool) -> Result<Listener, AgentError> {
    let bind_error = |source| AgentError::Bind {
        path: path.to_path_buf(),
        source,
    };
    match Listener::bind(path, ours) {
        Ok(listener) => Ok(listener),
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
            // A socket file is in the way. Take it over only if nobody listens on it.
            if discovery::probe(path).is_ok() {
                return Err(AgentError::InUse {
                    path: path.to_path_buf(),
                });
            }
            tracing::debug!(path = %path.display(), "removing a stale agent socket");
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(bind_error(e)),
            }
            Listener::bind(path, false).map_err(bind_error)
        }
        Err(e) => Err(bind_error(e)),
    }
}

/// Which file the socket is, so shutdown removes our socket and not a successor's.
type FileIdentity = (u64, u64);

#[cfg(unix)]
fn file_identity(path: &Path) -> Option<FileIdentity> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn file_identity(_path: &Path) -> Option<FileIdentity> {
    None
}

#[cfg(unix)]
fn remove_socket(path: &Path, identity: Option<FileIdentity>) {
    if identity.is_some()
        && file_identity(path) == identity
        && let Err(e) = std::fs::remove_file(path)
    {
        tracing::debug!(path = %path.display(), "cannot remove the agent socket: {e}");
    }
}

// A named pipe goes away with its listener.
#[cfg(not(unix))]
fn remove_socket(_path: &Path, _identity: Option<FileIdentity>) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_of_the_same_user_are_allowed() {
        assert!(peer_allowed(1000, 1000));
    }

    #[test]
    fn root_may_attach_to_anyone() {
        assert!(peer_allowed(0, 1000));
        assert!(peer_allowed(0, 0));
    }

    #[test]
    fn other_users_are_refused() {
        assert!(!peer_allowed(1001, 1000));
        // Root's agent refuses ordinary users: root is only ever the peer exception.
        assert!(!peer_allowed(1000, 0));
    }

    #[test]
    fn options_default_to_documented_limits() {
        let options = AgentOptions::new("shop");
        assert_eq!(options.app_name, "shop");
        assert_eq!(options.max_connections, 64);
        assert_eq!(options.reply_buffer, 1 << 20);
        assert_eq!(options.event_buffer, 256 << 10);
        assert_eq!(options.memory_limit, 32 << 20);
        assert_eq!(options.max_history, 10_000);
        assert_eq!(options.request_timeout, Duration::from_secs(5));
        assert_eq!(options.write_timeout, Duration::from_secs(10));
        assert!(options.admission_wait > options.request_timeout);
        assert!(!options.read_only);
        assert!(options.socket_path.is_none());
    }

    #[test]
    fn starting_outside_a_runtime_is_a_clear_error() {
        // An application with no processes.
        struct Nothing;
        impl Backend for Nothing {
            fn snapshot(&self) -> crate::types::Snapshot {
                crate::types::Snapshot {
                    taken_at_ms: 0,
                    app: "x".into(),
                    os_pid: std::process::id(),
                    uptime_ms: 0,
                    process_count: 0,
                    total_messages: 0,
                    memory_rss_bytes: None,
                    servers: Vec::new(),
                    supervisors: Vec::new(),
                }
            }
            fn tree(&self) -> crate::types::ProcessTree {
                crate::types::ProcessTree { roots: Vec::new() }
            }
            fn subscribe(
                &self,
                _: usize,
            ) -> (
                Vec<crate::types::LifecycleEvent>,
                tokio::sync::broadcast::Receiver<crate::types::LifecycleEvent>,
            ) {
                (Vec::new(), tokio::sync::broadcast::channel(1).1)
            }
            fn kill(
                &self,
                pid: crate::types::Pid,
                _: Option<String>,
            ) -> crate::backend::BoxFuture<'static, Result<crate::protocol::ActionOutcome, ErrorBody>>
            {
                Box::pin(async move { Err(crate::target::not_found(&pid.to_string())) })
            }
            fn restart(
                &self,
                pid: crate::types::Pid,
            ) -> crate::backend::BoxFuture<'static, Result<crate::protocol::ActionOutcome, ErrorBody>>
            {
                Box::pin(async move { Err(crate::target::not_found(&pid.to_string())) })
            }
        }
        let err = Agent::start(AgentOptions::new("x"), Arc::new(Nothing)).unwrap_err();
        assert!(matches!(err, AgentError::NoRuntime));
    }
}
