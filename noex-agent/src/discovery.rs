//! Where agents listen, and which of them are alive: attach by pid, like the JVM.
//!
//! Every agent listens at `<dir>/<pid>.sock`, where `<dir>` is `$NOEX_AGENT_DIR`, else
//! `$XDG_RUNTIME_DIR/noex`, else `/tmp/noex-<uid>` (on Windows: the named pipe
//! `\\.\pipe\noex-<pid>`). The directory is private (0700, ours): anything in it was put
//! there by us or by root. A socket outlives a process killed by a signal, so
//! [`list_agents`] removes the sockets of dead processes as it finds them.
//!
//! ```no_run
//! for agent in noex_agent::discovery::list_agents()? {
//!     println!("{} at {}", agent.pid, agent.path.display());
//! }
//! # Ok::<(), noex_agent::discovery::DirError>(())
//! ```

use std::io;
use std::path::{Path, PathBuf};

/// Overrides the directory agents listen in (and clients look in).
pub const AGENT_DIR_ENV: &str = "NOEX_AGENT_DIR";

/// A live agent found by [`list_agents`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentEntry {
    /// The OS process the agent runs in.
    pub pid: u32,
    /// Its socket (or named pipe).
    pub path: PathBuf,
}

/// The agent directory cannot be trusted or used.
#[derive(Debug, thiserror::Error)]
pub enum DirError {
    /// Creating, inspecting or reading the directory failed.
    #[error("cannot use the agent directory {}: {source}", path.display())]
    Io {
        /// The agent directory.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
    /// The directory is a symbolic link (checked without following it).
    #[error("refusing the agent directory {}: it is a symbolic link", path.display())]
    Symlink {
        /// The agent directory.
        path: PathBuf,
    },
    /// Something other than a directory is in its place.
    #[error("refusing the agent directory {}: it is not a directory", path.display())]
    NotADirectory {
        /// The agent directory.
        path: PathBuf,
    },
    /// The directory belongs to another user.
    #[error(
        "refusing the agent directory {}: it belongs to uid {owner}, not to us (uid {uid})",
        path.display()
    )]
    WrongOwner {
        /// The agent directory.
        path: PathBuf,
        /// The uid that owns it.
        owner: u32,
        /// Our effective uid.
        uid: u32,
    },
    /// The directory has group or other permission bits.
    #[error(
        "refusing the agent directory {}: its mode is {mode:o}, so other users can reach it \
         (fix with `chmod 700 {}`)",
        path.display(),
        path.display()
    )]
    TooOpen {
        /// The agent directory.
        path: PathBuf,
        /// Its permission bits (`st_mode & 0o7777`).
        mode: u32,
    },
}

/// The directory agents listen in: `$NOEX_AGENT_DIR`, else `$XDG_RUNTIME_DIR/noex`,
/// else `/tmp/noex-<uid>`. On Windows, the named-pipe namespace.
pub fn agent_dir() -> PathBuf {
    imp::agent_dir()
}

/// The socket of the agent of process `pid`, in `dir`.
pub fn socket_path(dir: &Path, pid: u32) -> PathBuf {
    imp::socket_path(dir, pid)
}

/// The socket of the agent of process `pid`, in the default [`agent_dir`].
pub fn socket_path_for_pid(pid: u32) -> PathBuf {
    socket_path(&agent_dir(), pid)
}

/// Creates `dir` (0700) if it is missing, and checks it with [`check_agent_dir`].
pub fn ensure_agent_dir(dir: &Path) -> Result<(), DirError> {
    imp::ensure_agent_dir(dir)
}

/// Checks, without following links, that `dir` is a directory owned by us with no
/// group or other permission bits; anything else could let another user plant or
/// intercept sockets.
pub fn check_agent_dir(dir: &Path) -> Result<(), DirError> {
    imp::check_agent_dir(dir)
}

/// The live agents in the default [`agent_dir`], by pid. See [`list_agents_in`].
pub fn list_agents() -> Result<Vec<AgentEntry>, DirError> {
    list_agents_in(&agent_dir())
}

/// The live agents in `dir`, sorted by pid. Sockets of processes that no longer exist
/// are removed. A missing directory means no agents.
pub fn list_agents_in(dir: &Path) -> Result<Vec<AgentEntry>, DirError> {
    imp::list_agents_in(dir)
}

/// Connects to `path` and hangs up at once: `Ok` when something listens there (the
/// agent's check before it replaces a socket).
#[cfg(feature = "server")]
pub(crate) fn probe(path: &Path) -> io::Result<()> {
    imp::probe(path)
}

/// The effective uid of this process; `None` where there are no uids (Windows).
#[cfg(unix)]
pub fn own_uid() -> Option<u32> {
    Some(imp::own_uid())
}

/// The effective uid of this process; `None` where there are no uids (Windows).
#[cfg(not(unix))]
pub fn own_uid() -> Option<u32> {
    None
}

/// Whether process `pid` exists (another user's included), where the platform can
/// tell; `None` for pid 0 and pids beyond `i32`, which `kill` would read as process
/// groups, and on Windows.
#[cfg(unix)]
pub fn process_exists(pid: u32) -> Option<bool> {
    (pid > 0 && pid <= i32::MAX as u32).then(|| imp::process_exists(pid))
}

/// Whether process `pid` exists; Windows cannot tell here.
#[cfg(not(unix))]
pub fn process_exists(_pid: u32) -> Option<bool> {
    None
}

/// `<pid>.sock` → pid. Pid 0 and pids beyond `i32` are refused: `kill` would read them
/// as process groups.
#[cfg_attr(not(unix), allow(dead_code))]
fn pid_from_socket_name(name: &str) -> Option<u32> {
    let digits = name.strip_suffix(".sock")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let pid: u32 = digits.parse().ok()?;
    (pid > 0 && pid <= i32::MAX as u32).then_some(pid)
}

#[cfg(unix)]
mod imp {
    use std::fs;
    use std::io;
    use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt};
    use std::path::{Path, PathBuf};

    use super::{AGENT_DIR_ENV, AgentEntry, DirError, pid_from_socket_name};
    use crate::process_start::process_start_ms;

    pub fn agent_dir() -> PathBuf {
        if let Some(dir) = std::env::var_os(AGENT_DIR_ENV).filter(|d| !d.is_empty()) {
            return PathBuf::from(dir);
        }
        // XDG says to ignore a relative XDG_RUNTIME_DIR.
        if let Some(runtime) = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|d| d.is_absolute())
        {
            return runtime.join("noex");
        }
        PathBuf::from(format!("/tmp/noex-{}", own_uid()))
    }

    pub fn socket_path(dir: &Path, pid: u32) -> PathBuf {
        dir.join(format!("{pid}.sock"))
    }

    pub fn own_uid() -> u32 {
        // SAFETY: geteuid has no preconditions and cannot fail.
        unsafe { libc::geteuid() }
    }

    pub fn ensure_agent_dir(dir: &Path) -> Result<(), DirError> {
        match fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
        {
            Ok(()) => {}
            // `recursive` already accepts an existing directory; anything else in the
            // way (a file, a dangling link) is reported by the check below.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(source) => {
                return Err(DirError::Io {
                    path: dir.to_path_buf(),
                    source,
                });
            }
        }
        check_agent_dir(dir)
    }

    pub fn check_agent_dir(dir: &Path) -> Result<(), DirError> {
        let path = dir.to_path_buf();
        let meta = match fs::symlink_metadata(dir) {
            Ok(meta) => meta,
            Err(source) => return Err(DirError::Io { path, source }),
        };
        if meta.file_type().is_symlink() {
            return Err(DirError::Symlink { path });
        }
        if !meta.is_dir() {
            return Err(DirError::NotADirectory { path });
        }
        let uid = own_uid();
        if meta.uid() != uid {
            return Err(DirError::WrongOwner {
                path,
                owner: meta.uid(),
                uid,
            });
        }
        let mode = meta.mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(DirError::TooOpen { path, mode });
        }
        Ok(())
    }

    pub fn list_agents_in(dir: &Path) -> Result<Vec<AgentEntry>, DirError> {
        match fs::symlink_metadata(dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            _ => check_agent_dir(dir)?,
        }
        let entries = fs::read_dir(dir).map_err(|source| DirError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut live = Vec::new();
        for entry in entries.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(pid_from_socket_name) else {
                continue;
            };
            let path = entry.path();
            // Only sockets: never remove some other file that happens to be named so.
            let Ok(meta) = fs::symlink_metadata(&path) else {
                continue;
            };
            if !meta.file_type().is_socket() {
                continue;
            }
            if !process_exists(pid) {
                remove_stale(&path, pid, "its process is gone");
                continue;
            }
            match probe(&path) {
                Ok(()) => live.push(AgentEntry { pid, path }),
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    // Nobody listens. If the socket predates the process now holding the
                    // pid, the pid was reused and the socket is stale. Otherwise the agent
                    // may be binding right now: leave it alone.
                    if socket_predates_process(&meta, pid) {
                        remove_stale(&path, pid, "its pid now belongs to a newer process");
                    }
                }
                Err(e) => tracing::debug!(path = %path.display(), "skipping agent socket: {e}"),
            }
        }
        live.sort_by_key(|entry| entry.pid);
        Ok(live)
    }

    fn remove_stale(path: &Path, pid: u32, why: &str) {
        match fs::remove_file(path) {
            Ok(()) => {
                tracing::debug!(pid, path = %path.display(), "removed stale agent socket: {why}")
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(pid, path = %path.display(), "cannot remove stale agent socket: {e}")
            }
        }
    }

    /// `kill(pid, 0)` sends nothing; it only asks whether the process exists. EPERM means
    /// it does, under another user.
    pub fn process_exists(pid: u32) -> bool {
        // 0 and negative pids name process groups, not a process.
        let Some(pid) = i32::try_from(pid).ok().filter(|&pid| pid > 0) else {
            return false;
        };
        // SAFETY: signal 0 is never delivered; kill only checks that the process exists.
        if unsafe { libc::kill(pid, 0) } == 0 {
            return true;
        }
        io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }

    fn socket_predates_process(meta: &fs::Metadata, pid: u32) -> bool {
        let Some(started_ms) = process_start_ms(pid) else {
            return false;
        };
        let Ok(mtime) = u64::try_from(meta.mtime()) else {
            return false;
        };
        // Boot time has one-second precision: leave a margin before calling it older.
        mtime * 1000 + 2000 < started_ms
    }

    /// Connects and hangs up at once. Non-blocking, so a listener whose backlog is full
    /// (an app that stopped accepting) cannot hold `noex list`: that counts as listening.
    /// Not `connect_timeout`: it would wait out a full backlog, then call it an error.
    pub fn probe(path: &Path) -> io::Result<()> {
        use socket2::{Domain, SockAddr, Socket, Type};
        // Refuses a path too long for `sun_path` (InvalidInput).
        let addr = SockAddr::unix(path)?;
        // Close-on-exec from the start: a program run meanwhile must not inherit it.
        let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
        socket.set_nonblocking(true)?;
        match socket.connect(&addr) {
            Ok(()) => Ok(()),
            Err(err) => match err.raw_os_error() {
                Some(libc::EAGAIN | libc::EINPROGRESS) => Ok(()),
                _ => Err(err),
            },
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn a_live_process_exists_and_an_impossible_pid_does_not() {
            assert!(process_exists(std::process::id()));
            assert!(!process_exists(0));
            assert!(!process_exists(u32::MAX));
        }

        /// A listener that stopped accepting counts as listening, at once; a socket file
        /// nobody listens on is refused, a missing one not found, an overlong path invalid.
        #[test]
        fn probe_tells_listening_from_refused_without_waiting() {
            use socket2::{Domain, SockAddr, Socket, Type};
            let path = std::env::temp_dir().join(format!("noex-probe-{}.sock", std::process::id()));
            let _ = fs::remove_file(&path);
            let addr = SockAddr::unix(&path).unwrap();
            let listener = Socket::new(Domain::UNIX, Type::STREAM, None).unwrap();
            listener.bind(&addr).unwrap();
            listener.listen(0).unwrap();
            assert!(probe(&path).is_ok());
            // Fill the backlog: connections nobody accepts.
            let mut queued = Vec::new();
            loop {
                let client = Socket::new(Domain::UNIX, Type::STREAM, None).unwrap();
                client.set_nonblocking(true).unwrap();
                match client.connect(&addr) {
                    Ok(()) => queued.push(client),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => panic!("connect: {e}"),
                }
                assert!(queued.len() < 1000, "the backlog never filled");
            }
            assert!(probe(&path).is_ok());
            drop(listener);
            assert_eq!(
                probe(&path).unwrap_err().kind(),
                io::ErrorKind::ConnectionRefused
            );
            fs::remove_file(&path).unwrap();
            assert_eq!(probe(&path).unwrap_err().kind(), io::ErrorKind::NotFound);
            let long = std::env::temp_dir().join("x".repeat(200));
            assert_eq!(
                probe(&long).unwrap_err().kind(),
                io::ErrorKind::InvalidInput
            );
        }
    }
}

#[cfg(windows)]
mod imp {
    use std::path::{Path, PathBuf};

    use super::{AgentEntry, DirError};

    const PIPE_DIR: &str = r"\\.\pipe\";

    pub fn agent_dir() -> PathBuf {
        PathBuf::from(PIPE_DIR)
    }

    pub fn socket_path(dir: &Path, pid: u32) -> PathBuf {
        dir.join(format!("noex-{pid}"))
    }

    // Named pipes live in a namespace of their own, with no directory to create or check.
    pub fn ensure_agent_dir(_dir: &Path) -> Result<(), DirError> {
        Ok(())
    }

    pub fn check_agent_dir(_dir: &Path) -> Result<(), DirError> {
        Ok(())
    }

    // Binding over a live pipe fails; a dead one is already gone.
    #[cfg(feature = "server")]
    pub fn probe(_path: &Path) -> std::io::Result<()> {
        Ok(())
    }

    // A named pipe disappears with its server, so every one listed is alive.
    pub fn list_agents_in(dir: &Path) -> Result<Vec<AgentEntry>, DirError> {
        let entries = std::fs::read_dir(dir).map_err(|source| DirError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut live: Vec<AgentEntry> = entries
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name();
                let pid = name.to_str()?.strip_prefix("noex-")?.parse().ok()?;
                Some(AgentEntry {
                    pid,
                    path: socket_path(dir, pid),
                })
            })
            .collect();
        live.sort_by_key(|entry| entry.pid);
        Ok(live)
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    /// The pid of a process that has exited and been waited for: no process has it
    /// (pids are handed out in order, so it is not reused this soon).
    fn exited_pid() -> u32 {
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let pid = child.id();
        child.wait().expect("wait for true");
        pid
    }

    #[test]
    fn a_running_process_exists_and_an_exited_one_does_not() {
        assert_eq!(process_exists(std::process::id()), Some(true));
        assert_eq!(process_exists(exited_pid()), Some(false));
    }

    /// `kill(0, _)` addresses our own process group and a negative pid a group or every
    /// process, so neither may be taken for the answer about one process.
    #[test]
    fn pids_that_name_no_single_process_are_not_asked_about() {
        assert_eq!(process_exists(0), None);
        assert_eq!(process_exists(u32::MAX), None);
        assert_eq!(process_exists(1 << 31), None);
    }

    /// Signalling another user's process fails with EPERM, which still proves that it
    /// exists. Root may signal anyone, so as root the check runs in a child that has
    /// dropped to user `nobody`.
    #[test]
    fn another_users_process_exists_though_we_may_not_signal_it() {
        if own_uid() != Some(0) {
            assert_eq!(process_exists(1), Some(true));
            return;
        }
        const NOBODY: libc::uid_t = 65_534;
        // SAFETY: until `_exit` the child only makes system calls: nothing that
        // allocates or takes a lock another thread may have held.
        let child = unsafe { libc::fork() };
        assert!(child >= 0, "fork: {}", io::Error::last_os_error());
        if child == 0 {
            // SAFETY: a plain system call on no memory of ours; in the forked child it
            // neither allocates nor takes a lock.
            let code = if unsafe { libc::setuid(NOBODY) } != 0 {
                2
            } else if process_exists(1) == Some(true) {
                0
            } else {
                1
            };
            // SAFETY: `_exit` ends the child at once, without running the parent's
            // exit handlers or destructors (which a forked copy must not run).
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        // SAFETY: waits for our own child; `status` is a valid int to write to.
        let waited = unsafe { libc::waitpid(child, &mut status, 0) };
        assert_eq!(waited, child, "waitpid: {}", io::Error::last_os_error());
        assert!(libc::WIFEXITED(status), "child status {status:#x}");
        match libc::WEXITSTATUS(status) {
            0 => {}
            2 => panic!("could not drop to uid {NOBODY} to meet EPERM"),
            _ => panic!("pid 1, owned by root, did not count as existing for uid {NOBODY}"),
        }
    }

    #[test]
    fn socket_names_are_pid_dot_sock() {
        assert_eq!(
            socket_path(Path::new("/run/user/1000/noex"), 42),
            PathBuf::from("/run/user/1000/noex/42.sock")
        );
        assert_eq!(pid_from_socket_name("42.sock"), Some(42));
        assert_eq!(pid_from_socket_name("0.sock"), None);
        assert_eq!(pid_from_socket_name("+42.sock"), None);
        assert_eq!(pid_from_socket_name("42.sock.bak"), None);
        assert_eq!(pid_from_socket_name(".sock"), None);
        assert_eq!(pid_from_socket_name("4294967295.sock"), None);
    }
}
