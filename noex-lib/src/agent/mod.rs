//! The embedded agent: how `noex` attaches to this application.
//!
//! It starts by itself the first time the application starts a noex process,
//! listening at `<agent dir>/<pid>.sock`; call [`start`] first to choose the options
//! (read-only, socket path, app name). It runs on a thread and tokio runtime of its
//! own, so it keeps serving whichever runtime the app's processes live on, and its
//! work (building a snapshot of 100k processes) never occupies the app's workers.
//!
//! To keep it off: call [`disable`] (or [`shutdown`]) before the first process
//! starts, set `NOEX_AGENT=off`, or build noex without its `agent` feature
//! (`default-features = false`), which leaves this module and the agent's
//! dependencies out.
//!
//! ```no_run
//! use noex::agent::{self, AgentOptions};
//!
//! let path = agent::start(AgentOptions::new("shop").read_only(true))?;
//! println!("attach with: noex ps --socket {}", path.display());
//! # Ok::<(), noex::agent::AgentError>(())
//! ```

mod backend;
mod connection;
mod table;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc as std_mpsc;

use noex_agent::server::{Agent, AgentHandle};
pub use noex_agent::server::{AgentError, AgentOptions};

use crate::observer;
use crate::sync::Mutex;
use tokio::sync::oneshot;

/// The environment variable that turns the automatic start off (`NOEX_AGENT=off`).
pub const AGENT_ENV: &str = "NOEX_AGENT";

struct Running {
    path: PathBuf,
    stop: oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

/// The running agent. Taken only for a moment, never across the join of an agent's
/// thread (the exit handler `try_lock`s it).
static AGENT: Mutex<Option<Running>> = Mutex::new(None);
/// One `start`, `shutdown` or automatic start at a time. Held across the join of the
/// old agent's thread and the start of the new one; nothing on an agent's thread takes
/// it.
static LIFECYCLE: Mutex<()> = Mutex::new(());
/// Whether the automatic start is still to come. Cleared under `LIFECYCLE` only, and
/// the automatic start decides under it too, so the first process's start and a
/// `disable` on another thread are ordered: whichever comes second sees what the
/// first did.
static AUTOSTART_PENDING: AtomicBool = AtomicBool::new(true);

/// Start (or restart with new options) the agent. Returns the socket path. Starts it
/// even after [`disable`]: the automatic start is what that keeps off.
pub fn start(options: AgentOptions) -> Result<PathBuf, AgentError> {
    let _lifecycle = LIFECYCLE.lock();
    AUTOSTART_PENDING.store(false, Ordering::Relaxed);
    start_locked(options)
}

/// `start`, with `LIFECYCLE` held.
fn start_locked(options: AgentOptions) -> Result<PathBuf, AgentError> {
    // Taken in a statement of its own, and the lock let go before the old agent's
    // thread is joined: see `AGENT`.
    let old = AGENT.lock().take();
    if let Some(old) = old {
        stop_running(old);
    }
    // Named before it serves, so its first snapshot carries the name.
    observer::set_app_name(options.app_name.clone());
    let options = options.noex_version(env!("CARGO_PKG_VERSION"));
    let (started, result) = std_mpsc::channel();
    let (stop, stopped) = oneshot::channel();
    let thread = std::thread::Builder::new()
        .name("noex-agent".into())
        .spawn(move || serve(options, started, stopped))
        .map_err(|source| AgentError::Bind {
            path: PathBuf::new(),
            source,
        })?;
    match result.recv() {
        Ok(Ok(path)) => {
            remove_socket_at_exit(&path);
            *AGENT.lock() = Some(Running {
                path: path.clone(),
                stop,
                thread,
            });
            Ok(path)
        }
        Ok(Err(error)) => {
            let _ = thread.join();
            Err(error)
        }
        Err(_) => Err(AgentError::NoRuntime),
    }
}

/// Stop the agent and remove its socket. Called before the first process starts, it
/// keeps the agent from starting with it (as [`disable`] does). A later [`start`] may
/// start it again.
pub fn shutdown() {
    let _lifecycle = LIFECYCLE.lock();
    AUTOSTART_PENDING.store(false, Ordering::Relaxed);
    // Taken in a statement of its own: an `if let` would hold the lock while the
    // agent's thread is joined (see `AGENT`).
    let running = AGENT.lock().take();
    if let Some(running) = running {
        stop_running(running);
    }
}

/// Keep the agent off: it will not start with the first process, and if it is
/// running it stops (the same as [`shutdown`], named for what an application
/// means when it calls it first thing in `main`). Safe to call from any thread at any
/// time, while the first process starts too: once it returns, no agent runs until an
/// explicit [`start`].
///
/// ```
/// use noex::gen_server::{self, StartOptions};
/// # use noex::gen_server::{Context, GenServer, Reply};
/// # struct App;
/// # impl GenServer for App { type Call = (); type Cast = (); type Reply = ();
/// #   async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> { Reply::Now(()) } }
///
/// #[tokio::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     noex::agent::disable(); // before the first process: no socket is opened
///     gen_server::start(App, StartOptions::new()).await?;
///     assert_eq!(noex::agent::socket_path(), None);
///     Ok(())
/// }
/// ```
pub fn disable() {
    shutdown();
}

/// The runtime as the agent serves it (snapshots, the tree, lifecycle events, kill,
/// restart, a process's state), for another front end to serve the same way: the
/// WebSocket gateway of noex-server acts on processes exactly as `noex kill` does.
pub fn runtime_backend() -> impl noex_agent::backend::Backend {
    backend::RuntimeBackend
}

/// Where the agent listens, if it is running.
pub fn socket_path() -> Option<PathBuf> {
    AGENT.lock().as_ref().map(|running| running.path.clone())
}

fn stop_running(running: Running) {
    let _ = running.stop.send(());
    if running.thread.thread().id() != std::thread::current().id() {
        let _ = running.thread.join();
    }
}

/// The agent's thread: its own runtime, serving until asked to stop.
fn serve(
    options: AgentOptions,
    started: std_mpsc::Sender<Result<PathBuf, AgentError>>,
    stopped: oneshot::Receiver<()>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(source) => {
            let _ = started.send(Err(AgentError::Bind {
                path: PathBuf::new(),
                source,
            }));
            return;
        }
    };
    runtime.block_on(async move {
        let handle: AgentHandle = match Agent::start(options, Arc::new(backend::RuntimeBackend)) {
            Ok(handle) => handle,
            Err(error) => {
                let _ = started.send(Err(error));
                return;
            }
        };
        let _ = started.send(Ok(handle.path().to_path_buf()));
        // Until `shutdown`, or forever if the sender is gone with the process.
        let _ = stopped.await;
        handle.shutdown();
    });
}

// The declarative form: the attribute form builds a proc-macro crate more.
ctor::declarative::ctor! {
    /// Before `main`: the process core starts the agent with the application's first
    /// process. Only stores a function pointer, so it is sound to run this early.
    #[ctor]
    unsafe fn register_autostart() {
        crate::process::on_first_spawn(autostart);
    }
}

/// Run with the application's first process: starts the agent, unless [`start`],
/// [`shutdown`] or [`disable`] came first, or `NOEX_AGENT=off`.
fn autostart() {
    // Without the lock first: the first process may be the agent's own, started on its
    // thread while `start` holds the lock and waits for it.
    if !AUTOSTART_PENDING.load(Ordering::Relaxed) {
        return;
    }
    let _lifecycle = LIFECYCLE.lock();
    if !AUTOSTART_PENDING.swap(false, Ordering::Relaxed) {
        return;
    }
    if off_by_env() {
        tracing::debug!("noex agent disabled by {AGENT_ENV}");
        return;
    }
    if let Err(error) = start_locked(AgentOptions::default()) {
        tracing::warn!(%error, "noex agent did not start; `noex` cannot attach to this process");
    }
}

/// Whether `NOEX_AGENT=off` (or `0`, `false`) keeps the agent off: the operator's
/// word, above what the code asks for (the automatic start, an application's agent).
pub(crate) fn off_by_env() -> bool {
    std::env::var(AGENT_ENV).is_ok_and(|value| matches!(value.as_str(), "off" | "0" | "false"))
}

/// The socket file outlives the process unless removed: remove it at exit too.
fn remove_socket_at_exit(path: &std::path::Path) {
    static AT_EXIT: Mutex<Option<PathBuf>> = Mutex::new(None);
    #[cfg(unix)]
    static REGISTERED: AtomicBool = AtomicBool::new(false);
    *AT_EXIT.lock() = Some(path.to_path_buf());
    #[cfg(unix)]
    if !REGISTERED.swap(true, Ordering::Relaxed) {
        extern "C" fn remove_socket() {
            // Only our own socket, and only if `shutdown` has not removed it already.
            if let Some(path) = AT_EXIT.try_lock().and_then(|mut p| p.take())
                && AGENT
                    .try_lock()
                    .is_some_and(|agent| agent.as_ref().is_some_and(|a| a.path == path))
            {
                let _ = std::fs::remove_file(path);
            }
        }
        // SAFETY: `remove_socket` is a plain `extern "C"` function with no arguments
        // (registered once, guarded by `REGISTERED`); at exit it only `try_lock`s, so it
        // cannot deadlock on a lock a dying thread held, and a panic in it aborts.
        unsafe { libc::atexit(remove_socket) };
    }
}
