//! Observer data: what a running noex application says about itself.
//!
//! These types cross the agent's socket, so every field is named on the wire
//! (MessagePack maps) and new fields can be added without breaking older clients:
//! readers ignore fields they do not know, and optional fields default when absent.
//! Enums that will grow carry an `Unknown` fallback so an older client decodes a
//! newer agent's values instead of failing.
//!
//! Times are milliseconds since the Unix epoch (`*_ms`) or durations in
//! nanoseconds (`*_ns`): plain integers are the same in every language.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::str::FromStr;
use std::sync::Arc;

#[cfg(feature = "client")]
use serde::Deserialize;
#[cfg(feature = "protocol")]
use serde::Serialize;

/// `as_str`, `from_wire_name` and `Display` for an enum: its wire name (the serde name)
/// per value, `unknown` for the fallback a newer agent's values decode to.
macro_rules! wire_names {
    ($ty:ident { $($variant:ident => $name:literal,)+ }) => {
        impl $ty {
            /// Its wire name, as serialised; `unknown` for the `Unknown` fallback.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name,)+
                }
            }

            /// The value a wire name stands for; `Unknown` for a name this client does
            /// not know (a newer agent's), as the serde fallback reads it.
            pub fn from_wire_name(name: &str) -> Self {
                match name {
                    $($name => $ty::$variant,)+
                    _ => $ty::Unknown,
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                // `pad`, so table widths apply.
                f.pad(self.as_str())
            }
        }
    };
}

/// A process identifier, unique within one run of an application and never reused.
///
/// Shown as `<0.42>`, after Erlang; parsed from `<0.42>` or `42`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "protocol", derive(Serialize, serde::Deserialize))]
#[cfg_attr(feature = "protocol", serde(transparent))]
pub struct Pid(pub u64);

impl Pid {
    /// The number inside the pid.
    pub fn id(self) -> u64 {
        self.0
    }
}

/// Hashes pids for a hash map (and any other number its own key, written with
/// `write_u64`): the number itself, with mixed bits in the top seven. Pids are
/// sequential, so neighbours land in neighbouring buckets (a walk in pid order reads
/// the table in order, not at random) and hashbrown, which takes its tags from the
/// top bits, still tells them apart.
#[derive(Clone, Copy, Debug, Default)]
pub struct PidHasher(u64);

impl Hasher for PidHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 << 8) | u64::from(byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value ^ value.wrapping_mul(0x517c_c1b7_2722_0a95) & (0x7f << 57);
    }
}

/// A hash map keyed by pid, hashed by [`PidHasher`].
pub type PidMap<V> = HashMap<Pid, V, BuildHasherDefault<PidHasher>>;

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad` so table columns and `{:>8}` widths apply to the whole `<0.n>`.
        f.pad(&format!("<0.{}>", self.0))
    }
}

/// The text was not a pid (`<0.42>` or `42`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a pid: {0:?} (expected <0.42> or 42)")]
pub struct ParsePidError(pub String);

impl FromStr for Pid {
    type Err = ParsePidError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        let digits = match trimmed.strip_prefix('<').and_then(|t| t.strip_suffix('>')) {
            Some(inner) => inner.strip_prefix("0.").unwrap_or(inner),
            None => trimmed,
        };
        digits
            .parse::<u64>()
            .map(Pid)
            .map_err(|_| ParsePidError(text.to_string()))
    }
}

/// Where a process is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "protocol", derive(Serialize))]
#[cfg_attr(feature = "client", derive(Deserialize))]
#[cfg_attr(feature = "protocol", serde(rename_all = "snake_case"))]
pub enum ProcessStatus {
    /// `init` is running; the process does not take messages yet.
    Initializing,
    /// Waiting for or handling messages.
    Running,
    /// `terminate` is running.
    Stopping,
    /// Ended; kept in a snapshot only while its supervisor still lists it.
    Stopped,
    /// A status this client does not know (sent by a newer agent).
    #[cfg_attr(feature = "protocol", serde(other))]
    Unknown,
}

wire_names!(ProcessStatus {
    Initializing => "initializing",
    Running => "running",
    Stopping => "stopping",
    Stopped => "stopped",
    Unknown => "unknown",
});

/// A supervisor's restart strategy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "protocol", derive(Serialize))]
#[cfg_attr(feature = "client", derive(Deserialize))]
#[cfg_attr(feature = "protocol", serde(rename_all = "snake_case"))]
pub enum Strategy {
    /// Restart only the child that exited.
    OneForOne,
    /// Restart every child when one exits.
    OneForAll,
    /// Restart the child that exited and every child started after it.
    RestForOne,
    /// Dynamic children of one template, each restarted on its own.
    SimpleOneForOne,
    /// A strategy this client does not know (sent by a newer agent).
    #[cfg_attr(feature = "protocol", serde(other))]
    Unknown,
}

wire_names!(Strategy {
    OneForOne => "one_for_one",
    OneForAll => "one_for_all",
    RestForOne => "rest_for_one",
    SimpleOneForOne => "simple_one_for_one",
    Unknown => "unknown",
});

/// When a supervisor restarts a child.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "protocol", derive(Serialize))]
#[cfg_attr(feature = "client", derive(Deserialize))]
#[cfg_attr(feature = "protocol", serde(rename_all = "snake_case"))]
pub enum RestartType {
    /// Always restarted.
    #[default]
    Permanent,
    /// Restarted only after an abnormal exit (not `normal`, not `shutdown`).
    Transient,
    /// Never restarted.
    Temporary,
    /// A restart type this client does not know (sent by a newer agent).
    #[cfg_attr(feature = "protocol", serde(other))]
    Unknown,
}

wire_names!(RestartType {
    Permanent => "permanent",
    Transient => "transient",
    Temporary => "temporary",
    Unknown => "unknown",
});

/// Whether a child is a worker (a GenServer) or a supervisor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "protocol", derive(Serialize))]
#[cfg_attr(feature = "client", derive(Deserialize))]
#[cfg_attr(feature = "protocol", serde(rename_all = "snake_case"))]
pub enum ChildKind {
    /// A worker: a GenServer.
    Worker,
    /// A supervisor, with children of its own.
    Supervisor,
    /// A kind this client does not know (sent by a newer agent).
    #[cfg_attr(feature = "protocol", serde(other))]
    Unknown,
}

wire_names!(ChildKind {
    Worker => "worker",
    Supervisor => "supervisor",
    Unknown => "unknown",
});

/// Restart intensity: more than `max_restarts` restarts within `within_ms`
/// stops the supervisor, and its parent sees that as a crash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "protocol", derive(Serialize))]
#[cfg_attr(feature = "client", derive(Deserialize))]
pub struct Intensity {
    /// The most restarts allowed within the window.
    pub max_restarts: u32,
    /// The length of the window, in milliseconds.
    pub within_ms: u64,
}

/// One GenServer, as the Observer sees it.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "protocol", derive(Serialize))]
#[cfg_attr(feature = "client", derive(Deserialize))]
pub struct ServerInfo {
    /// The server's pid.
    pub pid: Pid,
    /// Registered name, if any.
    #[cfg_attr(feature = "protocol", serde(default))]
    pub name: Option<String>,
    /// The id of its child spec, when a supervisor started it.
    #[cfg_attr(feature = "protocol", serde(default))]
    pub child_id: Option<String>,
    /// The supervisor it belongs to.
    #[cfg_attr(feature = "protocol", serde(default))]
    pub parent: Option<Pid>,
    /// The Rust type implementing the server (short path). Shared: servers of one
    /// type hold the same string, so a snapshot of many does not allocate one each.
    pub type_name: Arc<str>,
    /// Where it is in its life.
    pub status: ProcessStatus,
    /// Messages handled so far (calls, casts, infos). Monotonic: clients diff two
    /// snapshots for a rate rather than trusting their own clock.
    pub messages: u64,
    /// Messages waiting in the mailbox now.
    pub queue_len: u64,
    /// When this instance started, in milliseconds since the Unix epoch.
    pub started_at_ms: u64,
    /// How many times its supervisor has restarted this child (carried across restarts).
    pub restarts: u32,
    /// Total time spent inside handlers, in nanoseconds. Monotonic; diff for a busy
    /// percentage.
    pub busy_ns: u64,
    /// How long the handler running now has been running, in nanoseconds; `None` when
    /// idle, so a stuck handler stands out.
    #[cfg_attr(feature = "protocol", serde(default))]
    pub handler_running_ns: Option<u64>,
    /// The last crash or error message, kept across restarts.
    #[cfg_attr(feature = "protocol", serde(default))]
    pub last_error: Option<String>,
    /// Part of noex itself (the agent's own processes); hidden from user views by default.
    #[cfg_attr(feature = "protocol", serde(default))]
    pub system: bool,
    /// What the process says it is doing, in a few words: a state machine's current
    /// state, the tables it owns. `None` for a process of a kind that says nothing
    /// (most), and from an agent older than 2.3. Absent from the named form when `None`.
    #[cfg_attr(
        feature = "protocol",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub state: Option<String>,
}

/// One child as its supervisor lists it, in start order.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "protocol", derive(Serialize))]
#[cfg_attr(feature = "client", derive(Deserialize))]
pub struct ChildInfo {
    /// The id of its child spec.
    pub id: String,
    /// `None` while the child is not running (terminated, or between restarts).
    #[cfg_attr(feature = "protocol", serde(default))]
    pub pid: Option<Pid>,
    /// When the supervisor restarts it.
    pub restart: RestartType,
    /// Worker or supervisor.
    pub kind: ChildKind,
}

/// One supervisor, as the Observer sees it.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "protocol", derive(Serialize))]
#[cfg_attr(feature = "client", derive(Deserialize))]
pub struct SupervisorInfo {
    /// The supervisor's pid.
    pub pid: Pid,
    /// Registered name, if any.
    #[cfg_attr(feature = "protocol", serde(default))]
    pub name: Option<String>,
    /// The id of its child spec, when a supervisor started it.
    #[cfg_attr(feature = "protocol", serde(default))]
    pub child_id: Option<String>,
    /// The supervisor it belongs to.
    #[cfg_attr(feature = "protocol", serde(default))]
    pub parent: Option<Pid>,
    /// Where it is in its life.
    pub status: ProcessStatus,
    /// How it restarts its children.
    pub strategy: Strategy,
    /// How many restarts it allows before it gives up.
    pub intensity: Intensity,
    /// Its children, in start order.
    pub children: Vec<ChildInfo>,
    /// Restarts this supervisor has performed on its children, all time.
    pub child_restarts: u32,
    /// How many times its own supervisor has restarted it (carried across restarts), as
    /// [`ServerInfo::restarts`]: `restarts` means the same on every process.
    #[cfg_attr(feature = "protocol", serde(default))]
    pub restarts: u32,
    /// When this instance started, in milliseconds since the Unix epoch.
    pub started_at_ms: u64,
    /// The last crash or error message, kept across restarts.
    #[cfg_attr(feature = "protocol", serde(default))]
    pub last_error: Option<String>,
    /// Part of noex itself (the agent's own supervisor); hidden from user views by default.
    #[cfg_attr(feature = "protocol", serde(default))]
    pub system: bool,
}

/// Everything the Observer knows at one moment. Built on demand, never on a timer.
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "protocol", derive(Serialize))]
#[cfg_attr(feature = "client", derive(Deserialize))]
pub struct Snapshot {
    /// When it was taken, in milliseconds since the Unix epoch.
    pub taken_at_ms: u64,
    /// The application's name ([`default_app_name`] unless it was given one).
    pub app: String,
    /// The application's OS process id.
    pub os_pid: u32,
    /// How long the application has run, in milliseconds.
    pub uptime_ms: u64,
    /// GenServers plus supervisors, system ones included.
    pub process_count: u64,
    /// Messages handled by every live server.
    pub total_messages: u64,
    /// Resident memory of the whole OS process, in bytes, where the platform tells it.
    #[cfg_attr(feature = "protocol", serde(default))]
    pub memory_rss_bytes: Option<u64>,
    /// The GenServers.
    pub servers: Vec<ServerInfo>,
    /// The supervisors.
    pub supervisors: Vec<SupervisorInfo>,
}

/// The executable's name: the application's name until it is given one.
pub fn default_app_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "app".to_string())
}

/// The supervision tree: supervisors with their children in child order. Processes
/// that nobody supervises are roots, in pid order.
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "protocol", derive(Serialize))]
#[cfg_attr(feature = "client", derive(Deserialize))]
pub struct ProcessTree {
    /// The top-level nodes: root supervisors and unsupervised processes, in pid order.
    pub roots: Vec<TreeNode>,
}

/// A node of the supervision tree.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "protocol", derive(Serialize))]
#[cfg_attr(feature = "client", derive(Deserialize))]
#[cfg_attr(feature = "protocol", serde(tag = "type", rename_all = "snake_case"))]
pub enum TreeNode {
    /// A live supervisor.
    Supervisor {
        /// The supervisor itself.
        info: SupervisorInfo,
        /// Its children, in child order.
        children: Vec<TreeNode>,
    },
    /// A live GenServer.
    Worker {
        /// The server itself.
        info: ServerInfo,
    },
    /// A child spec whose process is not running now.
    Stopped {
        /// The id of the child spec.
        child_id: String,
        /// When the supervisor restarts it.
        restart: RestartType,
        /// Worker or supervisor.
        kind: ChildKind,
    },
    /// A node type this client does not know (sent by a newer agent).
    #[cfg_attr(feature = "protocol", serde(other))]
    Unknown,
}

impl TreeNode {
    /// The node's pid, if it is a live process.
    pub fn pid(&self) -> Option<Pid> {
        match self {
            TreeNode::Supervisor { info, .. } => Some(info.pid),
            TreeNode::Worker { info } => Some(info.pid),
            TreeNode::Stopped { .. } | TreeNode::Unknown => None,
        }
    }
}

/// One entry of the runtime-wide lifecycle stream.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "protocol", derive(Serialize))]
#[cfg_attr(feature = "client", derive(Deserialize))]
pub struct LifecycleEvent {
    /// Increases by one per event in a run; a gap means events were dropped.
    pub seq: u64,
    /// When it happened, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// The process it happened to (for `restarted`, the new process).
    pub pid: Pid,
    /// The process's registered name, if any.
    #[cfg_attr(feature = "protocol", serde(default))]
    pub name: Option<String>,
    /// The id of the process's child spec, when a supervisor started it.
    #[cfg_attr(feature = "protocol", serde(default))]
    pub child_id: Option<String>,
    /// The supervisor of the process, if any.
    #[cfg_attr(feature = "protocol", serde(default))]
    pub parent: Option<Pid>,
    /// The process is part of noex itself (hidden from user views by default).
    #[cfg_attr(feature = "protocol", serde(default))]
    pub system: bool,
    /// What happened.
    pub kind: EventKind,
}

/// Whether an exit reason, as events carry it, is a normal one. OTP has three: `normal`, `shutdown` and
/// `{shutdown, Term}` (written `shutdown: why`, also when a supervisor gives up after
/// too many restarts). Any other reason, `killed` among them, is abnormal: a crash, after
/// which a supervisor restarts even a transient child.
pub fn is_normal_exit(reason: &str) -> bool {
    reason == "normal" || reason == "shutdown" || reason.starts_with("shutdown: ")
}

/// What happened to a process.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "protocol", derive(Serialize))]
#[cfg_attr(feature = "client", derive(Deserialize))]
#[cfg_attr(feature = "protocol", serde(tag = "type", rename_all = "snake_case"))]
pub enum EventKind {
    /// The process started.
    Started,
    /// The process ended other than by a crash; the reason may still be abnormal
    /// (`killed`; see [`is_normal_exit`]).
    Terminated {
        /// The exit reason, clipped to 1 KiB.
        reason: Cow<'static, str>,
    },
    /// The process ended with an error: a crash.
    Crashed {
        /// The crash's message, clipped to 1 KiB.
        error: Cow<'static, str>,
    },
    /// A supervisor started a new instance of a child; `pid` is the new process.
    Restarted {
        /// How many times the child has now been restarted (1 the first time).
        attempt: u32,
    },
    /// A supervisor started a child added at run time; `pid` is the child.
    ChildAdded,
    /// A supervisor removed a child's spec; `pid` is the child's last process (the
    /// supervisor's, if the child never ran).
    ChildRemoved,
    /// A supervisor exceeded its restart intensity and gave up.
    MaxRestartsExceeded {
        /// The most restarts its intensity allowed.
        max_restarts: u32,
        /// The intensity's window, in milliseconds.
        within_ms: u64,
    },
    /// A name was registered for the process.
    Registered {
        /// The name it registered.
        registered_name: String,
    },
    /// The process's registered name was dropped.
    Unregistered {
        /// The name it had.
        registered_name: String,
    },
    /// An event kind this client does not know (sent by a newer agent).
    #[cfg_attr(feature = "protocol", serde(other))]
    Unknown,
}

impl EventKind {
    /// A short lowercase label (`crashed`, `restarted`, ...).
    pub fn label(&self) -> &'static str {
        match self {
            EventKind::Started => "started",
            EventKind::Terminated { .. } => "terminated",
            EventKind::Crashed { .. } => "crashed",
            EventKind::Restarted { .. } => "restarted",
            EventKind::ChildAdded => "child_added",
            EventKind::ChildRemoved => "child_removed",
            EventKind::MaxRestartsExceeded { .. } => "max_restarts_exceeded",
            EventKind::Registered { .. } => "registered",
            EventKind::Unregistered { .. } => "unregistered",
            EventKind::Unknown => "unknown",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_normal_and_shutdown_are_normal_exits() {
        for normal in ["normal", "shutdown", "shutdown: draining"] {
            assert!(is_normal_exit(normal), "{normal}");
        }
        for abnormal in ["killed", "noproc", "boom", "shutdownish", "normal: no"] {
            assert!(!is_normal_exit(abnormal), "{abnormal}");
        }
    }

    #[test]
    fn pid_displays_and_parses_both_forms() {
        assert_eq!(Pid(42).to_string(), "<0.42>");
        assert_eq!("<0.42>".parse::<Pid>().unwrap(), Pid(42));
        assert_eq!("42".parse::<Pid>().unwrap(), Pid(42));
        assert_eq!(" <42> ".parse::<Pid>().unwrap(), Pid(42));
        assert!("worker-1".parse::<Pid>().is_err());
        assert_eq!(format!("{:>7}", Pid(3)), "  <0.3>");
    }

    #[test]
    fn unknown_event_kind_decodes_to_unknown() {
        #[derive(Serialize)]
        #[serde(tag = "type")]
        enum Future {
            #[serde(rename = "teleported")]
            Teleported { to: String },
        }
        let bytes = rmp_serde::to_vec_named(&Future::Teleported { to: "mars".into() }).unwrap();
        let kind: EventKind = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(kind, EventKind::Unknown);
    }

    #[test]
    fn unknown_status_decodes_to_unknown() {
        let bytes = rmp_serde::to_vec_named(&"hibernating").unwrap();
        let status: ProcessStatus = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(status, ProcessStatus::Unknown);
    }
}
