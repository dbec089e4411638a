//! The client side of the agent protocol, as the `noex` command uses it.
//!
//! One [`Client`] is one connection. Requests are answered in order; events pushed by a
//! subscription may arrive while a reply is awaited, so they are kept (a bounded number;
//! what overflows is counted) and handed out by [`Client::next_push`] first.
//!
//! ```no_run
//! # async fn demo() -> Result<(), noex_agent::client::ClientError> {
//! use noex_agent::client::{Client, Push};
//!
//! let mut client = Client::connect_pid(1234).await?;
//! println!("attached to {} (pid {})", client.hello().app, client.hello().pid);
//! let snapshot = client.snapshot().await?;
//! println!("{} processes", snapshot.process_count);
//! for event in client.subscribe(10).await? {
//!     println!("earlier: {}", event.kind.label());
//! }
//! while let Some(push) = client.next_push().await? {
//!     match push {
//!         Push::Event(event) => println!("{} {}", event.pid, event.kind.label()),
//!         Push::Lagged { dropped } => println!("({dropped} events skipped)"),
//!     }
//! }
//! # Ok(())
//! # }
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::path::Path;
use std::pin::Pin;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::Framed;

use crate::codec::{self, FrameCodec};
use crate::discovery;
use crate::local_socket;
/// The raw local socket [`dial`] opens.
pub use crate::local_socket::Stream as LocalStream;
use crate::protocol::{
    ActionOutcome, ErrorBody, ErrorCode, Hello, MAX_REPLY_FRAME, PROTOCOL_MAJOR, ProcessRef,
    ProtocolVersion, ReplyBody, Request, RequestKind, ServerFrame,
};
use crate::table::{TableQuery, TableView};
use crate::types::{LifecycleEvent, ProcessTree, Snapshot};

/// Pushes kept while a reply is awaited; beyond this they are dropped and counted.
const MAX_BUFFERED_PUSHES: usize = 4096;

/// Something the agent sent without being asked (after `subscribe`).
#[derive(Clone, Debug, PartialEq)]
pub enum Push {
    /// A lifecycle event.
    Event(LifecycleEvent),
    /// `dropped` events were skipped because this client read too slowly.
    Lagged {
        /// How many events were skipped at this point of the stream.
        dropped: u64,
    },
}

/// Why a request failed. Each message is one line, fit to show a user.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Connecting, reading or writing the socket failed.
    #[error("cannot talk to the agent: {0}")]
    Io(#[from] io::Error),
    /// The agent speaks another major version of the protocol.
    #[error(
        "the agent speaks protocol {agent} and this client {client}: \
         use a noex CLI of the same major version as the app's noex"
    )]
    VersionMismatch {
        /// The agent's protocol version.
        agent: ProtocolVersion,
        /// This client's protocol version.
        client: ProtocolVersion,
    },
    /// The agent answered with an error frame.
    #[error("{0}")]
    Agent(ErrorBody),
    /// The agent sent a frame this client cannot decode, one over the size limit, or
    /// a reply of the wrong kind.
    #[error("unexpected answer from the agent: {0}")]
    Protocol(String),
    /// The agent closed the connection (or reset it).
    #[error("the agent closed the connection")]
    Closed,
}

/// Any byte stream that reaches an agent: its local socket, or the pipes of a relay
/// such as `ssh HOST noex dial-stdio`, which carries the same bytes.
pub trait Transport: AsyncRead + AsyncWrite + Send {}

impl<T: AsyncRead + AsyncWrite + Send> Transport for T {}

/// The client's transport, boxed so one `Client` type serves every way of reaching an
/// agent.
type Boxed = Pin<Box<dyn Transport>>;

/// Opens the local socket at `path`, for a caller that relays the raw bytes
/// (`noex dial-stdio`) instead of speaking the protocol itself.
pub async fn dial(path: &Path) -> io::Result<LocalStream> {
    local_socket::connect(path).await
}

/// A connection to one agent.
pub struct Client {
    frames: Framed<Boxed, FrameCodec<ServerFrame>>,
    hello: Hello,
    next_id: u64,
    pushes: VecDeque<Push>,
    /// Pushes dropped because `pushes` was full; reported after the buffered ones.
    dropped: u64,
}

impl Client {
    /// Connects, reads the agent's `Hello`, checks its major version and states ours.
    pub async fn connect(path: &Path) -> Result<Client, ClientError> {
        let stream = local_socket::connect(path).await?;
        Client::handshake(stream).await
    }

    /// Speaks the protocol over `transport`, which already reaches an agent (the pipes
    /// of an ssh child running `noex dial-stdio`, say): the same greeting and version
    /// check as [`Client::connect`]. Dropping the client drops the transport.
    pub async fn handshake(transport: impl Transport + 'static) -> Result<Client, ClientError> {
        let boxed: Boxed = Box::pin(transport);
        let mut frames = Framed::new(
            boxed,
            FrameCodec::with_decoder(MAX_REPLY_FRAME, crate::protocol::decode_server_frame),
        );
        let hello = match read_frame(&mut frames).await? {
            Some(ServerFrame::Hello(hello)) => hello,
            // Refused at the door: busy, or another user.
            Some(ServerFrame::Error { error, .. }) => return Err(ClientError::Agent(error)),
            Some(other) => {
                return Err(ClientError::Protocol(format!(
                    "expected hello first, got {}",
                    frame_kind(&other)
                )));
            }
            None => return Err(ClientError::Closed),
        };
        let mismatch = ClientError::VersionMismatch {
            agent: hello.protocol_version,
            client: ProtocolVersion::CURRENT,
        };
        if hello.protocol_version.major != PROTOCOL_MAJOR {
            return Err(mismatch);
        }
        let mut client = Client {
            frames,
            hello,
            next_id: 1,
            pushes: VecDeque::new(),
            dropped: 0,
        };
        let stated = RequestKind::Hello {
            protocol_version: ProtocolVersion::CURRENT,
        };
        match client.request(stated).await {
            Ok(ReplyBody::Hello { .. }) => Ok(client),
            Ok(other) => Err(unexpected(&other)),
            Err(ClientError::Agent(e)) if e.code == ErrorCode::VersionMismatch => Err(mismatch),
            Err(e) => Err(e),
        }
    }

    /// Connects to the agent of process `pid`, at its default socket.
    pub async fn connect_pid(pid: u32) -> Result<Client, ClientError> {
        Client::connect(&discovery::socket_path_for_pid(pid)).await
    }

    /// The agent's greeting: app, pid, versions, start time, read-only.
    pub fn hello(&self) -> &Hello {
        &self.hello
    }

    /// Asks for a snapshot of every process.
    pub async fn snapshot(&mut self) -> Result<Snapshot, ClientError> {
        // Rows: a fraction of the bytes and the work. An agent older than 2.1 ignores
        // the field and answers with named maps, which decode to the same snapshot.
        match self.request(RequestKind::Snapshot { rows: true }).await? {
            ReplyBody::Snapshot { snapshot } => Ok(snapshot),
            other => Err(unexpected(&other)),
        }
    }

    /// Asks for the supervision tree.
    pub async fn tree(&mut self) -> Result<ProcessTree, ClientError> {
        match self.request(RequestKind::Tree).await? {
            ReplyBody::Tree { tree } => Ok(tree),
            other => Err(unexpected(&other)),
        }
    }

    /// Asks for a window of the process table, sorted and filtered by the agent, with
    /// rates since the agent's previous table. An agent older than 2.1 answers
    /// with an `unknown_request` error.
    pub async fn table(&mut self, query: TableQuery) -> Result<TableView, ClientError> {
        match self.request(RequestKind::Table(query)).await? {
            ReplyBody::Table { table } => Ok(*table),
            other => Err(unexpected(&other)),
        }
    }

    /// Starts the event stream; returns up to `history` recent events, oldest first.
    /// Later events come from [`Client::next_push`].
    pub async fn subscribe(&mut self, history: u32) -> Result<Vec<LifecycleEvent>, ClientError> {
        match self.request(RequestKind::Subscribe { history }).await? {
            ReplyBody::Subscribed { history } => Ok(history),
            other => Err(unexpected(&other)),
        }
    }

    /// Stops the event stream, and forgets pushes not read yet.
    pub async fn unsubscribe(&mut self) -> Result<(), ClientError> {
        match self.request(RequestKind::Unsubscribe).await? {
            ReplyBody::Unsubscribed => {
                self.pushes.clear();
                self.dropped = 0;
                Ok(())
            }
            other => Err(unexpected(&other)),
        }
    }

    /// The next event or lag notice: buffered ones first, then from the socket. `None`
    /// once the agent closed the connection. Cancel-safe: nothing is lost if the future
    /// is dropped, so it can sit in a `select!` beside keyboard input.
    pub async fn next_push(&mut self) -> Result<Option<Push>, ClientError> {
        if let Some(push) = self.pushes.pop_front() {
            return Ok(Some(push));
        }
        if self.dropped > 0 {
            let dropped = std::mem::take(&mut self.dropped);
            return Ok(Some(Push::Lagged { dropped }));
        }
        loop {
            match read_frame(&mut self.frames).await? {
                None => return Ok(None),
                Some(ServerFrame::Event { event }) => return Ok(Some(Push::Event(event))),
                Some(ServerFrame::Lagged { dropped }) => {
                    return Ok(Some(Push::Lagged { dropped }));
                }
                Some(ServerFrame::Error { id: None, error }) => {
                    return Err(ClientError::Agent(error));
                }
                // Late answers to abandoned requests, and frames of a newer protocol.
                Some(_) => continue,
            }
        }
    }

    /// Kills the process `target` names (registered name, child id or pid) with an
    /// abnormal reason, so its supervisor applies its policy. A process that nothing
    /// would restart (a root, a temporary child) is refused unless `force`.
    pub async fn kill(
        &mut self,
        target: &str,
        reason: Option<&str>,
        force: bool,
    ) -> Result<ActionOutcome, ClientError> {
        let request = RequestKind::Kill {
            target: target.to_string(),
            reason: reason.map(str::to_string),
            force,
        };
        match self.request(request).await? {
            ReplyBody::Killed { outcome } => Ok(outcome),
            other => Err(unexpected(&other)),
        }
    }

    /// Asks the supervisor of the process `target` names to restart it.
    pub async fn restart(&mut self, target: &str) -> Result<ActionOutcome, ClientError> {
        let request = RequestKind::Restart {
            target: target.to_string(),
        };
        match self.request(request).await? {
            ReplyBody::Restarted { outcome } => Ok(outcome),
            other => Err(unexpected(&other)),
        }
    }

    /// The state of the process `target` names, as it shows it (since 2.2).
    pub async fn state(&mut self, target: &str) -> Result<(ProcessRef, String), ClientError> {
        let request = RequestKind::State {
            target: target.to_string(),
        };
        match self.request(request).await? {
            ReplyBody::State { process, state } => Ok((process, state)),
            other => Err(unexpected(&other)),
        }
    }

    /// Sends one request and waits for its answer, keeping pushes that arrive meanwhile.
    async fn request(&mut self, request: RequestKind) -> Result<ReplyBody, ClientError> {
        let id = self.next_id;
        self.next_id += 1;
        self.frames
            .send(Request { id, request })
            .await
            .map_err(closed_or_io)?;
        loop {
            match read_frame(&mut self.frames).await? {
                None => return Err(ClientError::Closed),
                Some(ServerFrame::Reply { id: got, body }) if got == id => return Ok(body),
                Some(ServerFrame::Error {
                    id: Some(got),
                    error,
                }) if got == id => return Err(ClientError::Agent(error)),
                // Not tied to a request: the connection is about to close.
                Some(ServerFrame::Error { id: None, error }) => {
                    return Err(ClientError::Agent(error));
                }
                Some(ServerFrame::Event { event }) => self.keep(Push::Event(event)),
                Some(ServerFrame::Lagged { dropped }) => self.keep(Push::Lagged { dropped }),
                // A late answer to a request whose future was dropped, or a frame of a
                // newer protocol: neither is ours to handle.
                Some(other) => {
                    tracing::debug!("noex client: skipping {}", frame_kind(&other));
                }
            }
        }
    }

    fn keep(&mut self, push: Push) {
        // Once something was dropped, later pushes are dropped too until the count is
        // reported, so the lag notice stays in its place in the stream.
        if self.dropped > 0 || self.pushes.len() >= MAX_BUFFERED_PUSHES {
            self.dropped += match push {
                Push::Event(_) => 1,
                Push::Lagged { dropped } => dropped,
            };
        } else {
            self.pushes.push_back(push);
        }
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("hello", &self.hello)
            .field("next_id", &self.next_id)
            .field("pushes", &self.pushes.len())
            .field("dropped", &self.dropped)
            .finish_non_exhaustive()
    }
}

async fn read_frame(
    frames: &mut Framed<Boxed, FrameCodec<ServerFrame>>,
) -> Result<Option<ServerFrame>, ClientError> {
    match frames.next().await {
        None => Ok(None),
        Some(Ok(Ok(frame))) => Ok(Some(frame)),
        Some(Ok(Err(undecodable))) => Err(ClientError::Protocol(undecodable.to_string())),
        Some(Err(e)) if codec::is_frame_too_large(&e) => Err(ClientError::Protocol(format!(
            "a frame over the {MAX_REPLY_FRAME}-byte limit"
        ))),
        Some(Err(e)) => match closed_or_io(e) {
            ClientError::Closed => Ok(None),
            other => Err(other),
        },
    }
}

/// A reset or broken pipe is the agent going away, not an I/O fault of ours.
fn closed_or_io(error: io::Error) -> ClientError {
    match error.kind() {
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::UnexpectedEof => ClientError::Closed,
        _ => ClientError::Io(error),
    }
}

fn unexpected(body: &ReplyBody) -> ClientError {
    let kind = match body {
        ReplyBody::Hello { .. } => "hello",
        ReplyBody::Snapshot { .. } => "snapshot",
        ReplyBody::Tree { .. } => "tree",
        ReplyBody::Table { .. } => "table",
        ReplyBody::Subscribed { .. } => "subscribed",
        ReplyBody::Unsubscribed => "unsubscribed",
        ReplyBody::Killed { .. } => "killed",
        ReplyBody::Restarted { .. } => "restarted",
        ReplyBody::State { .. } => "state",
        ReplyBody::Unknown => "an unknown reply",
    };
    ClientError::Protocol(format!("a {kind} reply to another request"))
}

fn frame_kind(frame: &ServerFrame) -> &'static str {
    match frame {
        ServerFrame::Hello(_) => "hello",
        ServerFrame::Reply { .. } => "a reply",
        ServerFrame::Error { .. } => "an error",
        ServerFrame::Event { .. } => "an event",
        ServerFrame::Lagged { .. } => "a lag notice",
        ServerFrame::Unknown => "an unknown frame",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_are_one_line() {
        let errors = [
            ClientError::Io(io::Error::new(io::ErrorKind::NotFound, "no such file")),
            ClientError::VersionMismatch {
                agent: ProtocolVersion { major: 3, minor: 1 },
                client: ProtocolVersion::CURRENT,
            },
            ClientError::Agent(ErrorBody::new(
                ErrorCode::NotFound,
                "no process named \"x\"",
            )),
            ClientError::Protocol("a tree reply to another request".into()),
            ClientError::Closed,
        ];
        for error in errors {
            let text = error.to_string();
            assert!(!text.contains('\n'), "{text:?}");
            assert!(!text.is_empty());
        }
    }

    #[test]
    fn version_mismatch_names_both_versions() {
        let text = ClientError::VersionMismatch {
            agent: ProtocolVersion { major: 3, minor: 1 },
            client: ProtocolVersion { major: 2, minor: 0 },
        }
        .to_string();
        assert!(text.contains("3.1") && text.contains("2.0"), "{text}");
    }

    #[test]
    fn agent_errors_show_the_agents_message() {
        let error = ClientError::Agent(ErrorBody::new(
            ErrorCode::ReadOnly,
            "this agent is read-only",
        ));
        assert_eq!(error.to_string(), "this agent is read-only");
    }

    #[test]
    fn resets_are_a_closed_connection() {
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert!(matches!(closed_or_io(reset), ClientError::Closed));
        let denied = io::Error::from(io::ErrorKind::PermissionDenied);
        assert!(matches!(closed_or_io(denied), ClientError::Io(_)));
    }
}
