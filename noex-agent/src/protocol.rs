//! The agent protocol: the messages that cross the socket. See `PROTOCOL.md`.
//!
//! Every frame is a 4-byte big-endian length and a MessagePack map (named fields).
//! The agent speaks first with [`ServerFrame::Hello`]. Clients send [`Request`]s that
//! carry an id; replies echo it; pushes (events, lag notices) carry none.

use serde::{Deserialize, Serialize};

use crate::table::{TableQuery, TableView};
use crate::text::{ERROR_MESSAGE_LIMIT, clip_owned};
use crate::types::{LifecycleEvent, Pid, ProcessTree, Snapshot};

/// Major version: a client with another major is refused. Minor: additions only.
pub const PROTOCOL_MAJOR: u32 = 2;
/// Minor version: raised for additions only (new optional fields, request types,
/// frame types, enumeration values); any minor is accepted.
pub const PROTOCOL_MINOR: u32 = 3;

/// The largest frame a client may send. Requests are tiny; this only stops abuse.
pub const MAX_REQUEST_FRAME: usize = 64 * 1024;
/// The largest frame the agent sends (a snapshot of a very large application).
pub const MAX_REPLY_FRAME: usize = 256 * 1024 * 1024;

/// A protocol version, `major.minor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtocolVersion {
    /// Changes only for incompatible changes: a peer of another major is refused.
    pub major: u32,
    /// Changes for additions only.
    pub minor: u32,
}

impl ProtocolVersion {
    /// The version this crate speaks.
    pub const CURRENT: ProtocolVersion = ProtocolVersion {
        major: PROTOCOL_MAJOR,
        minor: PROTOCOL_MINOR,
    };
}

impl std::fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The agent's greeting, the first frame on every connection.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "protocol", derive(Serialize))]
#[cfg_attr(feature = "client", derive(Deserialize))]
pub struct Hello {
    /// The agent's protocol version.
    pub protocol_version: ProtocolVersion,
    /// The noex version the application was built with.
    pub noex_version: String,
    /// The application's name.
    pub app: String,
    /// The application's OS process id.
    pub pid: u32,
    /// When the OS process started, in milliseconds since the Unix epoch: tells a reused
    /// pid apart from the app meant.
    pub started_at_ms: u64,
    /// A read-only agent refuses kill and restart.
    pub read_only: bool,
}

/// A client's request: an id of the client's choosing, echoed by the reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// Chosen by the client, echoed by the reply or error that answers it.
    pub id: u64,
    /// What the client asks.
    pub request: RequestKind,
}

/// What a request asks, tagged by `type` on the wire. New kinds go last: serde also
/// reads a kind's index as its tag, and old indices must keep their meaning.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RequestKind {
    /// Optional: states the client's protocol version; another major is refused.
    Hello {
        /// The client's protocol version.
        protocol_version: ProtocolVersion,
    },
    /// Ask for a [`Snapshot`] of every process.
    Snapshot {
        /// Answer with the compact body, servers and supervisors as rows
        /// ([`crate::rows`]; since 2.1). An older agent ignores it and answers with the
        /// named form, which the client reads as well. Not written when false, so the
        /// plain request is the same bytes as before.
        #[serde(default, skip_serializing_if = "is_false")]
        rows: bool,
    },
    /// Ask for the supervision tree ([`ProcessTree`]).
    Tree,
    /// Start receiving lifecycle events, after up to `history` recent ones.
    Subscribe {
        /// How many recent events to answer with, oldest first (default 0; the agent
        /// caps it at 10 000).
        #[serde(default)]
        history: u32,
    },
    /// Stop receiving lifecycle events; events not yet sent are discarded.
    Unsubscribe,
    /// End a process with an abnormal reason; its supervisor applies its policy.
    /// A process that nothing would restart (a root, a temporary child) is killed
    /// only with `force` (since 1.1).
    Kill {
        /// A registered name, a child id or a pid (`<0.42>` or `42`).
        target: String,
        /// The abnormal exit reason to end it with, clipped to 1 KiB; `None` (the
        /// default) for `killed`.
        #[serde(default)]
        reason: Option<String>,
        /// Kill even a process that nothing would restart (default false).
        #[serde(default)]
        force: bool,
    },
    /// Ask a process's supervisor to restart it.
    Restart {
        /// A registered name, a child id or a pid (`<0.42>` or `42`).
        target: String,
    },
    /// Ask for a process's state, as the server chooses to show it (OTP's
    /// `format_status`; since 2.2). A server that keeps it to itself, the default,
    /// answers `not_shown`.
    State {
        /// A registered name, a child id or a pid (`<0.42>` or `42`).
        target: String,
    },
    /// Ask for rows of the process table, sorted, filtered and windowed by the agent,
    /// with counts over the whole table and rates (since 2.1).
    Table(TableQuery),
    /// A request type this agent does not know (sent by a newer client); answered with
    /// `unknown_request`.
    #[serde(other)]
    Unknown,
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// Every frame the agent sends.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "protocol", derive(Serialize))]
#[cfg_attr(feature = "client", derive(Deserialize))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// The agent's greeting, always the first frame.
    Hello(Hello),
    /// The answer to a request.
    Reply {
        /// The id of the request it answers.
        id: u64,
        /// The answer, tagged by the request's kind.
        body: ReplyBody,
    },
    /// A request failed, or the connection is about to close (`id` is then `None`).
    Error {
        /// The id of the request that failed; `None` when the error is about the
        /// connection, not a request.
        #[serde(default)]
        id: Option<u64>,
        /// What went wrong.
        error: ErrorBody,
    },
    /// A pushed lifecycle event (after `subscribe`).
    Event {
        /// The event.
        event: LifecycleEvent,
    },
    /// This client read too slowly; `dropped` events were skipped.
    Lagged {
        /// How many events were skipped at this point of the stream.
        dropped: u64,
    },
    /// A frame type this client does not know (sent by a newer agent); skip it.
    #[serde(other)]
    Unknown,
}

/// The body of a [`ServerFrame::Reply`], tagged by `type` with the kind of request it
/// answers.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "protocol", derive(Serialize))]
#[cfg_attr(feature = "client", derive(Deserialize))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ReplyBody {
    /// The answer to `hello`.
    Hello {
        /// The agent's protocol version.
        protocol_version: ProtocolVersion,
    },
    /// The answer to `snapshot`, in either form: the named one, or rows (since 2.1).
    Snapshot {
        /// Every process, now.
        #[cfg_attr(
            feature = "client",
            serde(deserialize_with = "crate::rows::deserialize_snapshot")
        )]
        snapshot: Snapshot,
    },
    /// The answer to `tree`.
    Tree {
        /// The supervision tree, now.
        tree: ProcessTree,
    },
    /// Subscribed; `history` holds the recent events, oldest first.
    Subscribed {
        /// Up to the requested number of recent events, oldest first.
        history: Vec<LifecycleEvent>,
    },
    /// The answer to `unsubscribe`: no more events are pushed.
    Unsubscribed,
    /// The answer to `kill`.
    Killed {
        /// What the kill did.
        outcome: ActionOutcome,
    },
    /// The answer to `restart`.
    Restarted {
        /// What the restart did.
        outcome: ActionOutcome,
    },
    /// The answer to `state` (since 2.2).
    State {
        /// The process asked.
        process: ProcessRef,
        /// Its state as it shows it, clipped to 16 KiB.
        state: String,
    },
    /// The answer to `table`.
    Table {
        /// The window and the counts.
        table: Box<TableView>,
    },
    /// A reply kind this client does not know (sent by a newer agent).
    #[serde(other)]
    Unknown,
}

/// What a client may do to a process: kill it (its supervisor applies its restart
/// policy) or have its supervisor restart it. One type for the agent, the CLI and the
/// dashboard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "protocol", derive(Serialize))]
#[cfg_attr(feature = "client", derive(Deserialize))]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// End the process with an abnormal reason (the `kill` request).
    Kill,
    /// Have its supervisor stop and start it again (the `restart` request).
    Restart,
}

impl Action {
    /// The command's name, as users type it: `kill`, `restart`.
    pub fn verb(self) -> &'static str {
        match self {
            Action::Kill => "kill",
            Action::Restart => "restart",
        }
    }
}

/// A process, named the ways a user may name it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "protocol", derive(Serialize))]
#[cfg_attr(feature = "client", derive(Deserialize))]
pub struct ProcessRef {
    /// Its pid.
    pub pid: Pid,
    /// Its registered name, if any.
    #[serde(default)]
    pub name: Option<String>,
    /// The id of its child spec, when a supervisor started it.
    #[serde(default)]
    pub child_id: Option<String>,
}

impl ProcessRef {
    /// The friendliest label: registered name, else child id, else the pid.
    pub fn label(&self) -> String {
        self.name
            .clone()
            .or_else(|| self.child_id.clone())
            .unwrap_or_else(|| self.pid.to_string())
    }
}

/// What a kill or restart did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "protocol", derive(Serialize))]
#[cfg_attr(feature = "client", derive(Deserialize))]
pub struct ActionOutcome {
    /// The process acted on, as it was before.
    pub target: ProcessRef,
    /// Its supervisor, if it has one.
    #[serde(default)]
    pub supervisor: Option<ProcessRef>,
    /// The pid of the new instance, if the supervisor started one in time.
    #[serde(default)]
    pub new_pid: Option<Pid>,
}

/// Why a request failed, or why the connection closes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "protocol", derive(Serialize))]
#[cfg_attr(feature = "client", derive(Deserialize))]
#[error("{message}")]
pub struct ErrorBody {
    /// What kind of error it is.
    pub code: ErrorCode,
    /// One line, fit to show a user; at most 1 KiB, client text in it quoted at most
    /// 128 bytes.
    pub message: String,
    /// For `ambiguous_target`: the processes the target could mean.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<ProcessRef>,
}

impl ErrorBody {
    /// An error with `message`, clipped to [`ERROR_MESSAGE_LIMIT`] bytes: messages may
    /// quote client text or a crash's.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        let mut message = message.into();
        clip_owned(&mut message, ERROR_MESSAGE_LIMIT);
        ErrorBody {
            code,
            message,
            candidates: Vec::new(),
        }
    }
}

/// The kind of an error, a snake_case string on the wire. Clients must accept codes they
/// do not know.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "protocol", derive(Serialize))]
#[cfg_attr(feature = "client", derive(Deserialize))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame's bytes are not a request.
    BadFrame,
    /// The frame is over the request size limit; the connection closes.
    FrameTooLarge,
    /// A request type this agent does not know.
    UnknownRequest,
    /// The client's protocol major version differs; the connection closes.
    VersionMismatch,
    /// No process matches the target.
    NotFound,
    /// More than one process matches the target; see `candidates`.
    AmbiguousTarget,
    /// The agent is read-only: kill and restart are refused.
    ReadOnly,
    /// Its supervisor cannot restart the process in place (it has none, or it is a
    /// temporary or `simple_one_for_one` child): `restart` is refused, and so is `kill`
    /// without `force` of a process nothing would restart.
    NotSupervised,
    /// The peer is another user.
    PermissionDenied,
    /// The agent is at its connection limit.
    Busy,
    /// The operation was attempted and failed, or the reply could not be sent.
    Failed,
    /// The client did not send its first request, or did not finish a frame, in time;
    /// the connection closes (since 1.2).
    Timeout,
    /// The client has not read what the agent sent for too long; the connection closes
    /// (since 1.2).
    NotReading,
    /// The process belongs to the agent itself: kill and restart are refused (since 1.2).
    Protected,
    /// The process does not show its state (since 2.2).
    NotShown,
    /// A code this client does not know (sent by a newer agent): show the message.
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// Every code this version knows (not `Unknown`, which stands for a newer one).
    pub const ALL: [ErrorCode; 15] = [
        ErrorCode::BadFrame,
        ErrorCode::FrameTooLarge,
        ErrorCode::UnknownRequest,
        ErrorCode::VersionMismatch,
        ErrorCode::NotFound,
        ErrorCode::AmbiguousTarget,
        ErrorCode::ReadOnly,
        ErrorCode::NotSupervised,
        ErrorCode::PermissionDenied,
        ErrorCode::Busy,
        ErrorCode::Failed,
        ErrorCode::Timeout,
        ErrorCode::NotReading,
        ErrorCode::Protected,
        ErrorCode::NotShown,
    ];

    /// Its wire name (`not_found`, ...); `unknown` for [`ErrorCode::Unknown`].
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadFrame => "bad_frame",
            ErrorCode::FrameTooLarge => "frame_too_large",
            ErrorCode::UnknownRequest => "unknown_request",
            ErrorCode::VersionMismatch => "version_mismatch",
            ErrorCode::NotFound => "not_found",
            ErrorCode::AmbiguousTarget => "ambiguous_target",
            ErrorCode::ReadOnly => "read_only",
            ErrorCode::NotSupervised => "not_supervised",
            ErrorCode::PermissionDenied => "permission_denied",
            ErrorCode::Busy => "busy",
            ErrorCode::Failed => "failed",
            ErrorCode::Timeout => "timeout",
            ErrorCode::NotReading => "not_reading",
            ErrorCode::Protected => "protected",
            ErrorCode::NotShown => "not_shown",
            ErrorCode::Unknown => "unknown",
        }
    }
}

/// Decode a [`ServerFrame`] without serde's buffering of internally tagged enums.
///
/// Serde decodes an internally tagged enum by first copying the whole value into a
/// generic tree, which more than doubles the cost of a large snapshot (100k processes
/// is ~20 MB). The agent writes `type` first, so a first pass reads only the tags
/// (skipping the rest without allocating) and a second pass decodes snapshot and tree
/// replies straight into their types, a snapshot in either form, named maps or rows
/// (`crate::rows`, since 2.1). Anything else takes the ordinary path.
///
/// A client's work: with the `client` feature, so an agent's build does not compile
/// the decoding of every frame it only ever writes.
#[cfg(feature = "client")]
pub fn decode_server_frame(
    body: &[u8],
    max_depth: usize,
) -> Result<ServerFrame, rmp_serde::decode::Error> {
    use crate::codec::decode_with_serde;

    #[derive(Deserialize)]
    struct Head<'a> {
        #[serde(rename = "type", borrow)]
        kind: &'a str,
        #[serde(default, borrow)]
        body: Option<BodyHead<'a>>,
    }
    #[derive(Deserialize)]
    struct BodyHead<'a> {
        #[serde(rename = "type", borrow)]
        kind: &'a str,
    }
    #[derive(Deserialize)]
    struct Reply<B> {
        id: u64,
        body: B,
    }
    #[derive(Deserialize)]
    struct SnapshotBody {
        #[serde(deserialize_with = "crate::rows::deserialize_snapshot")]
        snapshot: Snapshot,
    }
    #[derive(Deserialize)]
    struct TreeBody {
        tree: ProcessTree,
    }

    // A large snapshot is read by hand, without a first pass over it for its tags.
    if let Ok((id, snapshot)) = crate::rows::read::snapshot_reply(body, max_depth) {
        return Ok(ServerFrame::Reply {
            id,
            body: ReplyBody::Snapshot { snapshot },
        });
    }
    let head: Result<Head<'_>, _> = decode_with_serde(body, max_depth);
    match head {
        Ok(Head {
            kind: "reply",
            body: Some(BodyHead { kind: "snapshot" }),
        }) => {
            let reply: Reply<SnapshotBody> = decode_with_serde(body, max_depth)?;
            Ok(ServerFrame::Reply {
                id: reply.id,
                body: ReplyBody::Snapshot {
                    snapshot: reply.body.snapshot,
                },
            })
        }
        Ok(Head {
            kind: "reply",
            body: Some(BodyHead { kind: "tree" }),
        }) => {
            let reply: Reply<TreeBody> = decode_with_serde(body, max_depth)?;
            Ok(ServerFrame::Reply {
                id: reply.id,
                body: ReplyBody::Tree {
                    tree: reply.body.tree,
                },
            })
        }
        _ => decode_with_serde(body, max_depth),
    }
}

#[cfg(all(test, feature = "client"))]
mod tests {
    use super::*;
    use crate::codec::decode_with_serde;
    use crate::types::{ProcessStatus, ServerInfo};

    fn snapshot() -> Snapshot {
        Snapshot {
            taken_at_ms: 1,
            app: "app".into(),
            os_pid: 2,
            uptime_ms: 3,
            process_count: 1,
            total_messages: 4,
            memory_rss_bytes: Some(5),
            servers: vec![ServerInfo {
                pid: Pid(6),
                name: Some("worker".into()),
                child_id: None,
                parent: None,
                type_name: "Worker".into(),
                status: ProcessStatus::Running,
                messages: 7,
                queue_len: 0,
                started_at_ms: 8,
                restarts: 0,
                busy_ns: 9,
                handler_running_ns: None,
                last_error: None,
                system: false,
                state: None,
            }],
            supervisors: Vec::new(),
        }
    }

    #[test]
    fn the_fast_frame_decoder_agrees_with_serde_on_every_frame_kind() {
        let frames = vec![
            ServerFrame::Reply {
                id: 1,
                body: ReplyBody::Snapshot {
                    snapshot: snapshot(),
                },
            },
            ServerFrame::Reply {
                id: 2,
                body: ReplyBody::Tree {
                    tree: ProcessTree::from_snapshot(&snapshot()),
                },
            },
            ServerFrame::Reply {
                id: 3,
                body: ReplyBody::Unsubscribed,
            },
            ServerFrame::Lagged { dropped: 4 },
            ServerFrame::Error {
                id: None,
                error: ErrorBody::new(ErrorCode::Busy, "busy"),
            },
        ];
        for frame in frames {
            let bytes = rmp_serde::to_vec_named(&frame).unwrap();
            let fast = decode_server_frame(&bytes, 64).unwrap();
            let plain: ServerFrame = decode_with_serde(&bytes, 64).unwrap();
            assert_eq!(fast, plain);
            assert_eq!(fast, frame);
        }
    }

    #[test]
    fn the_fast_frame_decoder_rejects_garbage_like_serde() {
        assert!(decode_server_frame(&[0xc1, 0x00], 64).is_err());
    }
}
