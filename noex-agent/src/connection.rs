//! One client connection of the agent: read requests, answer them, push events.
//!
//! A connection is two halves over the same socket, run by one task:
//! - the reader decodes requests one at a time, asks the [`Backend`], and queues the
//!   encoded answer for the writer. What is queued is bounded in bytes, per connection
//!   and across the agent ([`ByteBudget`]): when there is no room, the reader waits,
//!   and so stops reading the client's requests. Pipelining therefore works to any
//!   depth, with flow control by not reading, never by closing;
//! - the writer sends what is queued, in order, and the events of a subscription.
//!   Events come from a forwarder task that drains the app's broadcast receiver into a
//!   byte-bounded per-connection queue. What does not fit is dropped and counted, and
//!   reported as one `lagged { dropped }` as soon as there is room again.
//!
//! Time bounds the rest: a client must send its first request, and finish every frame
//! it starts, within the request timeout; a client that reads nothing for the write
//! timeout while the agent has something for it is told `not_reading` and closed.
//!
//! So a client that stops reading costs the app nothing (a broadcast send never waits),
//! costs the agent a bounded amount of memory, and never delays another client.

use std::io;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::FutureExt;
use interprocess::local_socket::tokio::Stream;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::sync::{Semaphore, broadcast, mpsc, watch};
use tokio::task::AbortHandle;
use tokio::time::Instant;
use tokio_io_timeout::TimeoutWriter;
use tokio_util::codec::{Decoder, Encoder};

use crate::backend::Backend;
use crate::budget::{ByteBudget, Charge, FrameBudget};
use crate::codec::{self, FrameCodec};
use crate::protocol::{
    Action, ActionOutcome, ErrorBody, ErrorCode, Hello, MAX_REPLY_FRAME, MAX_REQUEST_FRAME,
    PROTOCOL_MAJOR, ProtocolVersion, ReplyBody, Request, RequestKind, ServerFrame,
};
use crate::target;
use crate::types::LifecycleEvent;

/// How long a closing connection may take to deliver its last frames (the error that
/// explains the close) to a client that reads slowly.
const CLOSE_LINGER: Duration = Duration::from_secs(5);
/// After the last frame of a closing connection is written, how long the agent keeps
/// reading (and dropping) what the client still sends. Closing a socket with unread
/// bytes resets it, and the client may then lose the error that explains the close.
const DRAIN_GRACE: Duration = Duration::from_secs(1);
/// The most bytes read and dropped while closing (the rest of an oversized frame).
const DRAIN_LIMIT: usize = 16 * 1024 * 1024;
/// How much the reader asks the socket for at a time.
const READ_CHUNK: usize = 8 * 1024;
/// Requests are a few levels deep; anything deeper is abuse, refused before it can
/// recurse far on an app worker's stack.
const REQUEST_MAX_DEPTH: usize = 32;
/// How long a refused connection may take to receive its one error frame; also how
/// long a client that does not read gets to take the `not_reading` notice.
const REFUSE_TIMEOUT: Duration = Duration::from_secs(1);

/// What every connection of one agent shares.
pub(crate) struct Context {
    pub backend: Arc<dyn Backend>,
    pub hello: Hello,
    pub read_only: bool,
    /// Replies queued per connection, in bytes.
    pub reply_buffer: usize,
    /// Events queued per connection, in bytes.
    pub event_buffer: usize,
    /// Every frame queued on any connection, in bytes.
    pub memory: Arc<ByteBudget>,
    /// Snapshots, trees and histories built at once: each is held whole in memory
    /// before it is queued, so they are built a few at a time.
    pub builds: Semaphore,
    pub reply_sizes: ReplySizes,
    /// The most history a subscriber may ask for.
    pub max_history: usize,
    /// For the first request, and for each frame once its first byte arrived.
    pub request_timeout: Duration,
    /// How long the writer may make no progress before the client counts as not reading.
    pub write_timeout: Duration,
}

/// Snapshot, tree and history builds that may run at once.
pub(crate) const CONCURRENT_BUILDS: usize = 2;
/// Per connection, the bytes of replies and events that never wait for (or count
/// against) the agent-wide budget: a well-behaved client's small answers go through
/// even while clients that do not read have filled it.
pub(crate) const CONNECTION_RESERVE: usize = 64 * 1024;

/// The size of the last reply of each kind that is built on a blocking thread: what
/// the next one is expected to need before it is built.
#[derive(Default)]
pub(crate) struct ReplySizes {
    snapshot: AtomicUsize,
    tree: AtomicUsize,
    history: AtomicUsize,
}

#[derive(Clone, Copy)]
enum Built {
    Snapshot,
    Tree,
    History,
}

impl ReplySizes {
    fn of(&self, kind: Built) -> &AtomicUsize {
        match kind {
            Built::Snapshot => &self.snapshot,
            Built::Tree => &self.tree,
            Built::History => &self.history,
        }
    }
}

/// Serves one accepted connection until the client leaves, the connection has to close,
/// or the agent shuts down. `_slot` is held for as long as the connection counts
/// against the agent's limit.
pub(crate) async fn serve<S: Send>(
    stream: Stream,
    context: Arc<Context>,
    mut shutdown: watch::Receiver<bool>,
    _slot: S,
) {
    let (queue, outgoing) = mpsc::unbounded_channel();
    let reserve = ByteBudget::new(CONNECTION_RESERVE);
    let budget = |connection| FrameBudget {
        connection,
        reserve: Arc::clone(&reserve),
        agent: Arc::clone(&context.memory),
    };
    let handler = Handler {
        queue,
        context: &context,
        replies: budget(ByteBudget::new(context.reply_buffer)),
    };
    let events = budget(ByteBudget::new(context.event_buffer));
    let writer = write_loop(&stream, outgoing, &context, events);
    tokio::pin!(writer);
    tokio::select! {
        ending = read_loop(&stream, handler) => {
            if ending == Ending::Linger {
                // The reader is gone and with it the queue's sender: the writer ends
                // once the queue is empty.
                let _ = tokio::time::timeout(CLOSE_LINGER, linger(&stream, writer)).await;
            }
        }
        () = &mut writer => {}
        _ = shutdown.changed() => {}
    }
    tracing::debug!("agent connection closed");
}

/// Lets the writer deliver what is queued while reading and dropping what the client
/// still sends, then keeps dropping for a short grace: see [`DRAIN_GRACE`].
async fn linger(stream: &Stream, writer: impl Future<Output = ()>) {
    let drain = discard_input(stream);
    tokio::pin!(drain, writer);
    tokio::select! {
        () = &mut writer => {
            let _ = tokio::time::timeout(DRAIN_GRACE, drain).await;
        }
        // The client has stopped sending; it may still read.
        () = &mut drain => writer.await,
    }
}

/// Reads and drops input until the end of the stream (or [`DRAIN_LIMIT`] bytes).
async fn discard_input(mut stream: &Stream) {
    let mut scratch = vec![0u8; 8192];
    let mut total = 0;
    while total < DRAIN_LIMIT {
        match stream.read(&mut scratch).await {
            Ok(0) | Err(_) => return,
            Ok(n) => total += n,
        }
    }
    std::future::pending::<()>().await
}

/// Sends `error` as the only frame, then closes: for connections refused at the door.
pub(crate) async fn refuse(stream: Stream, error: ErrorBody) {
    let frame = ServerFrame::Error { id: None, error };
    if let Some(bytes) = encode(&frame) {
        let mut writer = &stream;
        let _ = tokio::time::timeout(REFUSE_TIMEOUT, writer.write_all(&bytes)).await;
    }
}

/// An encoded frame on its way to the socket, holding its bytes against the budgets
/// until it is written.
struct Queued {
    bytes: Bytes,
    _held: [Charge; 2],
}

/// What the reader hands the writer, in the order it must go out.
enum Outgoing {
    Frame(Queued),
    /// Send the `subscribed` reply, then push what `events` receives.
    Subscribe {
        reply: Queued,
        events: broadcast::Receiver<LifecycleEvent>,
    },
    /// Stop pushing (dropping what was not sent yet), then send the `unsubscribed` reply.
    Unsubscribe {
        reply: Queued,
    },
}

/// How the reader ended.
#[derive(Debug, PartialEq, Eq)]
enum Ending {
    /// Let the writer deliver what is queued (a closing error, replies to a client that
    /// hung up after its last request).
    Linger,
    /// Close now: the writer is gone.
    Abort,
}

/// Reads whole frames and answers each before reading on; see the module docs for the
/// time limits.
async fn read_loop(mut stream: &Stream, handler: Handler<'_>) -> Ending {
    let mut codec = FrameCodec::<Request>::new(MAX_REQUEST_FRAME).with_max_depth(REQUEST_MAX_DEPTH);
    let mut buf = BytesMut::new();
    let mut greeted = false;
    // The start of what the client has yet to finish: the connection until its first
    // request, then each frame from its first byte. Time the agent spends answering
    // does not count against the client.
    let mut waiting_since = Instant::now();
    loop {
        let mut answered = false;
        loop {
            let step = match codec.decode(&mut buf) {
                Ok(None) => break,
                Ok(Some(Ok(request))) => handler.handle(request).await,
                Ok(Some(Err(undecodable))) => {
                    tracing::debug!("agent: bad frame: {undecodable}");
                    let message = format!("the frame is not a request: {undecodable}");
                    handler
                        .error(undecodable.id, ErrorCode::BadFrame, message)
                        .await
                }
                Err(e) => {
                    tracing::debug!("agent: frame over the request limit: {e}");
                    let message = format!(
                        "the frame is over the {MAX_REQUEST_FRAME}-byte request limit; \
                         closing, as the stream cannot be resynced"
                    );
                    return closing(handler.error(None, ErrorCode::FrameTooLarge, message).await);
                }
            };
            if let Err(ending) = step {
                return ending;
            }
            greeted = true;
            answered = true;
        }
        if answered {
            waiting_since = Instant::now();
        }
        let pending = !greeted || !buf.is_empty();
        let deadline = waiting_since + handler.context.request_timeout;
        let was_empty = buf.is_empty();
        // Read in chunks, not the few bytes an exhausted buffer would offer.
        buf.reserve(READ_CHUNK);
        tokio::select! {
            read = stream.read_buf(&mut buf) => match read {
                Ok(0) | Err(_) => {
                    // The client hung up (or was cut off mid-frame): deliver what is
                    // queued in case it still reads.
                    tracing::debug!(partial = buf.len(), "agent: client closed its side");
                    return Ending::Linger;
                }
                Ok(_) => {
                    if was_empty && greeted {
                        waiting_since = Instant::now();
                    }
                }
            },
            () = tokio::time::sleep_until(deadline), if pending => {
                let timeout = handler.context.request_timeout;
                let message = if greeted {
                    format!("a frame was started but not finished within {timeout:?}; closing")
                } else {
                    format!("no request within {timeout:?} of connecting; closing")
                };
                tracing::debug!("agent: {message}");
                return closing(handler.error(None, ErrorCode::Timeout, message).await);
            }
        }
    }
}

/// What a reply too small to estimate is expected to take (errors, outcomes).
const SMALL_FRAME: usize = 1024;

/// The size of what a build made, when it is a reply to queue.
trait BuiltSize {
    fn built_size(&self) -> Option<usize>;
}

impl BuiltSize for Bytes {
    fn built_size(&self) -> Option<usize> {
        Some(self.len())
    }
}

impl<T> BuiltSize for (Bytes, T) {
    fn built_size(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

impl BuiltSize for crate::types::Snapshot {
    fn built_size(&self) -> Option<usize> {
        None
    }
}

impl BuiltSize for Option<crate::types::Snapshot> {
    fn built_size(&self) -> Option<usize> {
        None
    }
}

/// How the reader ends after sending an error about the connection.
fn closing(sent: Result<(), Ending>) -> Ending {
    sent.err().unwrap_or(Ending::Linger)
}

struct Handler<'c> {
    queue: mpsc::UnboundedSender<Outgoing>,
    context: &'c Context,
    /// This connection's queued replies.
    replies: FrameBudget,
}

impl Handler<'_> {
    async fn handle(&self, Request { id, request }: Request) -> Result<(), Ending> {
        match request {
            RequestKind::Hello { protocol_version } => {
                if protocol_version.major != PROTOCOL_MAJOR {
                    let message = format!(
                        "protocol version mismatch: this agent speaks {}, the client {}; \
                         the major versions must match",
                        ProtocolVersion::CURRENT,
                        protocol_version
                    );
                    self.error(Some(id), ErrorCode::VersionMismatch, message)
                        .await?;
                    return Err(Ending::Linger);
                }
                let body = ReplyBody::Hello {
                    protocol_version: ProtocolVersion::CURRENT,
                };
                self.send(ServerFrame::Reply { id, body }).await
            }
            RequestKind::Snapshot => {
                let snapshot = |backend: &dyn Backend| ReplyBody::Snapshot {
                    snapshot: backend.snapshot(),
                };
                match self
                    .build(Some(Built::Snapshot), "snapshot", move |b| {
                        reply(id, snapshot(b))
                    })
                    .await
                {
                    Ok(bytes) => self.queue(Outgoing::Frame, bytes),
                    Err(error) => self.fail(id, error).await,
                }
            }
            RequestKind::Tree => {
                let tree = |backend: &dyn Backend| ReplyBody::Tree {
                    tree: backend.tree(),
                };
                match self
                    .build(Some(Built::Tree), "tree", move |b| reply(id, tree(b)))
                    .await
                {
                    Ok(bytes) => self.queue(Outgoing::Frame, bytes),
                    Err(error) => self.fail(id, error).await,
                }
            }
            RequestKind::Subscribe { history } => {
                let wanted = (history as usize).min(self.context.max_history);
                let subscribed = self
                    .build(Some(Built::History), "subscribe", move |backend| {
                        let (history, events) = backend.subscribe(wanted);
                        (reply(id, ReplyBody::Subscribed { history }), events)
                    })
                    .await;
                match subscribed {
                    Ok((bytes, events)) => {
                        self.queue(|reply| Outgoing::Subscribe { reply, events }, bytes)
                    }
                    Err(error) => self.fail(id, error).await,
                }
            }
            RequestKind::Unsubscribe => {
                self.room(SMALL_FRAME).await;
                let bytes = reply(id, ReplyBody::Unsubscribed);
                self.queue(|reply| Outgoing::Unsubscribe { reply }, bytes)
            }
            RequestKind::Kill {
                target,
                reason,
                force,
            } => match self.act(Action::Kill, &target, reason, force).await {
                Ok(outcome) => self.send_reply(id, ReplyBody::Killed { outcome }).await,
                Err(error) => self.fail(id, error).await,
            },
            RequestKind::Restart { target } => {
                match self.act(Action::Restart, &target, None, false).await {
                    Ok(outcome) => self.send_reply(id, ReplyBody::Restarted { outcome }).await,
                    Err(error) => self.fail(id, error).await,
                }
            }
            RequestKind::Unknown => {
                let message = format!(
                    "unknown request type (this agent speaks protocol {})",
                    ProtocolVersion::CURRENT
                );
                self.error(Some(id), ErrorCode::UnknownRequest, message)
                    .await
            }
        }
    }

    /// Builds a reply (or, with no `kind`, something for the agent's own use) on a
    /// blocking thread: a snapshot of a large app takes a while, and the app's async
    /// workers must never wait on it. A reply waits for room first, for as many bytes
    /// as the last one of its kind took. At most [`CONCURRENT_BUILDS`] run at once, so
    /// clients asking together hold at most that many unqueued replies in memory.
    async fn build<T: BuiltSize + Send + 'static>(
        &self,
        kind: Option<Built>,
        what: &str,
        make: impl FnOnce(&dyn Backend) -> T + Send + 'static,
    ) -> Result<T, ErrorBody> {
        let expected = kind.map(|kind| self.context.reply_sizes.of(kind).load(Ordering::Relaxed));
        let _build = loop {
            if let Some(expected) = expected {
                self.room(expected).await;
            }
            let permit = self.context.builds.acquire().await;
            // Room again, now that no other build can start: another connection may
            // have filled the agent's budget meanwhile.
            if expected.is_none_or(|expected| self.replies.fits(expected)) {
                break permit;
            }
        };
        let backend = Arc::clone(&self.context.backend);
        let built = tokio::task::spawn_blocking(move || make(&*backend))
            .await
            .map_err(|e| {
                tracing::warn!("agent: backend {what} failed: {e}");
                ErrorBody::new(ErrorCode::Failed, format!("{what} failed inside the app"))
            })?;
        if let (Some(kind), Some(len)) = (kind, built.built_size()) {
            self.context
                .reply_sizes
                .of(kind)
                .store(len, Ordering::Relaxed);
        }
        Ok(built)
    }

    /// Kills or restarts what `target` names; `reason` and `force` are the kill's.
    async fn act(
        &self,
        action: Action,
        target: &str,
        reason: Option<String>,
        force: bool,
    ) -> Result<ActionOutcome, ErrorBody> {
        if self.context.read_only {
            return Err(ErrorBody::new(
                ErrorCode::ReadOnly,
                format!("this agent is read-only: {} is refused", action.verb()),
            ));
        }
        // A pid needs only that process and its supervisor; a name, every process.
        let snapshot = match target::pid_form(target) {
            Some(pid) => self
                .build(None, "process", move |b| b.process_view(pid))
                .await?
                .ok_or_else(|| target::not_found(target))?,
            None => self.build(None, "snapshot", |b| b.snapshot()).await?,
        };
        let process = target::resolve(&snapshot, target)?;
        if let Some(why) = target::belongs_to_agent(&snapshot, &process) {
            return Err(ErrorBody::new(ErrorCode::Protected, why));
        }
        if action == Action::Kill
            && !force
            && let Some(why) = target::nothing_restarts(&snapshot, &process)
        {
            return Err(ErrorBody::new(ErrorCode::NotSupervised, why));
        }
        drop(snapshot);
        let backend = &self.context.backend;
        let verb = action.verb();
        let done = match action {
            Action::Kill => backend.kill(process.pid, reason),
            Action::Restart => backend.restart(process.pid),
        };
        // A panicking backend fails this request, not the connection.
        AssertUnwindSafe(done)
            .catch_unwind()
            .await
            .unwrap_or_else(|_| {
                tracing::warn!("agent: backend {verb} of {} panicked", process.pid);
                Err(ErrorBody::new(
                    ErrorCode::Failed,
                    format!("{verb} of {} failed inside the app", process.label()),
                ))
            })
    }

    /// Waits until both this connection's and the agent's budgets have room.
    /// Waits until a reply of about `expected` bytes may be queued.
    async fn room(&self, expected: usize) {
        self.replies.room_for(expected).await;
    }

    async fn send_reply(&self, id: u64, body: ReplyBody) -> Result<(), Ending> {
        self.room(SMALL_FRAME).await;
        self.queue(Outgoing::Frame, reply(id, body))
    }

    async fn fail(&self, id: u64, error: ErrorBody) -> Result<(), Ending> {
        self.send(ServerFrame::Error {
            id: Some(id),
            error,
        })
        .await
    }

    async fn error(&self, id: Option<u64>, code: ErrorCode, message: String) -> Result<(), Ending> {
        self.send(ServerFrame::Error {
            id,
            error: ErrorBody::new(code, message),
        })
        .await
    }

    async fn send(&self, frame: ServerFrame) -> Result<(), Ending> {
        self.room(SMALL_FRAME).await;
        match encode(&frame) {
            Some(bytes) => self.queue(Outgoing::Frame, bytes),
            None => Ok(()),
        }
    }

    /// Charges `bytes` to both budgets (the caller waited for room) and queues them.
    fn queue(&self, outgoing: impl FnOnce(Queued) -> Outgoing, bytes: Bytes) -> Result<(), Ending> {
        let queued = Queued {
            _held: self.replies.charge(bytes.len()),
            bytes,
        };
        self.queue.send(outgoing(queued)).map_err(|_| Ending::Abort)
    }
}

/// Encodes a frame with its length prefix; `None` (logged) if it cannot be encoded.
fn encode(frame: &ServerFrame) -> Option<Bytes> {
    let mut buf = BytesMut::new();
    match FrameCodec::<Request>::new(MAX_REPLY_FRAME).encode(frame, &mut buf) {
        Ok(()) => Some(buf.freeze()),
        Err(e) => {
            tracing::warn!("agent: cannot send a frame: {e}");
            None
        }
    }
}

/// Encodes a reply; one that cannot be encoded (over the reply limit) is replaced by an
/// error for its request, so the client is not left waiting.
fn reply(id: u64, body: ReplyBody) -> Bytes {
    let mut buf = BytesMut::new();
    let mut codec = FrameCodec::<Request>::new(MAX_REPLY_FRAME);
    let Err(e) = codec.encode(ServerFrame::Reply { id, body }, &mut buf) else {
        return buf.freeze();
    };
    let why = match codec::encode_error(&e) {
        Some(unencodable) => unencodable.to_string(),
        None => e.to_string(),
    };
    tracing::warn!("agent: cannot send a reply: {why}");
    let error = ServerFrame::Error {
        id: Some(id),
        error: ErrorBody::new(
            ErrorCode::Failed,
            format!("the reply cannot be sent: {why}"),
        ),
    };
    encode(&error).unwrap_or_default()
}

async fn write_loop(
    stream: &Stream,
    mut outgoing: mpsc::UnboundedReceiver<Outgoing>,
    context: &Context,
    events: FrameBudget,
) {
    let mut socket = TimeoutWriter::new(stream);
    socket.set_timeout(Some(context.write_timeout));
    let out = BufWriter::new(socket);
    tokio::pin!(out);
    let mut feed: Option<EventFeed> = None;
    let hello = ServerFrame::Hello(context.hello.clone());
    let mut first = encode(&hello);
    loop {
        let bytes = if let Some(hello) = first.take() {
            // The agent speaks first.
            hello
        } else {
            let queued = tokio::select! {
                // Replies first: a burst of events never holds one back.
                biased;
                next = outgoing.recv() => match next {
                    None => break,
                    Some(Outgoing::Frame(queued)) => queued,
                    Some(Outgoing::Subscribe { reply, events: receiver }) => {
                        // Replaces (and so stops) an earlier subscription.
                        feed = Some(EventFeed::start(receiver, events.clone()));
                        reply
                    }
                    Some(Outgoing::Unsubscribe { reply }) => {
                        feed = None;
                        reply
                    }
                },
                pushed = next_push(&mut feed) => match pushed {
                    Some(queued) => queued,
                    // The app's event stream ended.
                    None => {
                        feed = None;
                        continue;
                    }
                },
            };
            // Released once written (to the socket, or into the small write buffer).
            queued.bytes
        };
        let written = match out.write_all(&bytes).await {
            Ok(()) => {
                // Flush only once nothing else is ready, so a burst goes out in few writes.
                let idle = outgoing.is_empty() && feed.as_ref().is_none_or(|f| f.frames.is_empty());
                if idle { out.flush().await } else { Ok(()) }
            }
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            if e.kind() == io::ErrorKind::TimedOut {
                tell_not_reading(out.as_mut(), context.write_timeout).await;
            } else {
                tracing::debug!("agent: write failed: {e}");
            }
            return;
        }
    }
    let _ = out.flush().await;
}

/// The client has read nothing for `timeout` while the agent had frames for it: the
/// connection closes. The notice goes after whatever was already being written, for a
/// client that reads again in the next moment.
async fn tell_not_reading<W: tokio::io::AsyncWrite>(
    mut out: std::pin::Pin<&mut W>,
    timeout: Duration,
) {
    tracing::debug!("agent: the client has not read for {timeout:?}; closing");
    let error = ErrorBody::new(
        ErrorCode::NotReading,
        format!(
            "the client has not read what the agent sent for {timeout:?}; closing \
             (a client must keep reading its replies and events)"
        ),
    );
    if let Some(bytes) = encode(&ServerFrame::Error { id: None, error }) {
        let _ = tokio::time::timeout(REFUSE_TIMEOUT, async {
            out.write_all(&bytes).await?;
            out.flush().await
        })
        .await;
    }
}

async fn next_push(feed: &mut Option<EventFeed>) -> Option<Queued> {
    match feed {
        Some(feed) => feed.frames.recv().await,
        None => std::future::pending().await,
    }
}

/// A subscription's events on their way to the writer.
struct EventFeed {
    frames: mpsc::UnboundedReceiver<Queued>,
    forwarder: AbortHandle,
}

impl EventFeed {
    fn start(events: broadcast::Receiver<LifecycleEvent>, budget: FrameBudget) -> Self {
        let (queue, frames) = mpsc::unbounded_channel();
        let forwarder = tokio::spawn(forward_events(events, queue, budget)).abort_handle();
        EventFeed { frames, forwarder }
    }
}

impl Drop for EventFeed {
    fn drop(&mut self) {
        self.forwarder.abort();
    }
}

/// Moves events from the app's broadcast into a connection's queue, bounded in bytes by
/// `budget` (this connection's events, and the agent's). It never waits for the
/// client: what does not fit is dropped and counted, and the count goes out as one
/// `lagged` frame as soon as there is room. Events the broadcast itself dropped (the
/// forwarder fell behind the app) are counted the same way.
async fn forward_events(
    mut events: broadcast::Receiver<LifecycleEvent>,
    queue: mpsc::UnboundedSender<Queued>,
    budget: FrameBudget,
) {
    use broadcast::error::RecvError;
    let mut dropped: u64 = 0;
    loop {
        if dropped == 0 {
            match events.recv().await {
                Ok(event) => {
                    let Some(bytes) = encode(&ServerFrame::Event { event }) else {
                        continue;
                    };
                    let Some(held) = budget.try_charge(bytes.len()) else {
                        dropped += 1;
                        continue;
                    };
                    if queue.send(Queued { bytes, _held: held }).is_err() {
                        return;
                    }
                }
                Err(RecvError::Lagged(n)) => dropped += n,
                Err(RecvError::Closed) => return,
            }
            continue;
        }
        let Some(notice) = encode(&ServerFrame::Lagged { dropped }) else {
            return;
        };
        tokio::select! {
            biased;
            () = budget.room_for(notice.len()) => {
                let held = budget.charge(notice.len());
                if queue.send(Queued { bytes: notice, _held: held }).is_err() {
                    return;
                }
                dropped = 0;
            }
            received = events.recv() => match received {
                Ok(_) => dropped += 1,
                Err(RecvError::Lagged(n)) => dropped += n,
                Err(RecvError::Closed) => {
                    // Still tell the client what it missed before the stream ended.
                    budget.room_for(notice.len()).await;
                    let held = budget.charge(notice.len());
                    let _ = queue.send(Queued { bytes: notice, _held: held });
                    return;
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{EventKind, Pid};

    fn event(seq: u64) -> LifecycleEvent {
        LifecycleEvent {
            seq,
            at_ms: 0,
            pid: Pid(1),
            name: None,
            child_id: None,
            parent: None,
            system: false,
            kind: EventKind::Started,
        }
    }

    /// The encoded size of one test event (all of them encode alike up to seq 127).
    fn event_len() -> usize {
        encode(&ServerFrame::Event { event: event(0) })
            .unwrap()
            .len()
    }

    async fn next(frames: &mut mpsc::UnboundedReceiver<Queued>) -> Option<ServerFrame> {
        let queued = frames.recv().await?;
        let mut buf = BytesMut::from(&queued.bytes[..]);
        let mut codec = FrameCodec::<ServerFrame>::new(MAX_REPLY_FRAME);
        Some(codec.decode(&mut buf).unwrap().unwrap().unwrap())
    }

    /// Lets the forwarder run until it waits again.
    async fn settle() {
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
    }

    /// No reserve: every frame counts against `agent`.
    fn frame_budget(connection: Arc<ByteBudget>, agent: Arc<ByteBudget>) -> FrameBudget {
        FrameBudget {
            connection,
            reserve: ByteBudget::new(0),
            agent,
        }
    }

    fn start(
        events: broadcast::Receiver<LifecycleEvent>,
        budget_bytes: usize,
    ) -> (
        mpsc::UnboundedReceiver<Queued>,
        Arc<ByteBudget>,
        AbortHandle,
    ) {
        let (queue, frames) = mpsc::unbounded_channel();
        let budget = ByteBudget::new(budget_bytes);
        let budgets = frame_budget(Arc::clone(&budget), ByteBudget::new(usize::MAX));
        let forwarder = tokio::spawn(forward_events(events, queue, budgets));
        (frames, budget, forwarder.abort_handle())
    }

    fn seq_of(frame: Option<ServerFrame>) -> u64 {
        match frame {
            Some(ServerFrame::Event { event }) => event.seq,
            other => panic!("expected an event, got {other:?}"),
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn events_that_do_not_fit_the_byte_budget_are_counted_and_reported_once_as_lagged() {
        let (app, events) = broadcast::channel(100);
        let (mut frames, budget, forwarder) = start(events, 2 * event_len());
        for seq in 0..10 {
            app.send(event(seq)).unwrap();
        }
        settle().await;
        assert_eq!(budget.used(), 2 * event_len(), "two fit the budget");
        // Two fit, eight were dropped; the lag notice waits for room.
        assert_eq!(seq_of(next(&mut frames).await), 0);
        settle().await;
        assert_eq!(seq_of(next(&mut frames).await), 1);
        settle().await;
        assert_eq!(
            next(&mut frames).await,
            Some(ServerFrame::Lagged { dropped: 8 })
        );
        settle().await;
        assert_eq!(budget.used(), 0, "written frames give their bytes back");
        // After the notice, events flow again.
        app.send(event(10)).unwrap();
        settle().await;
        assert_eq!(seq_of(next(&mut frames).await), 10);
        forwarder.abort();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn events_the_agent_wide_budget_cannot_hold_are_dropped_too() {
        let (app, events) = broadcast::channel(100);
        let (queue, mut frames) = mpsc::unbounded_channel();
        let memory = ByteBudget::new(event_len());
        let budgets = frame_budget(ByteBudget::new(usize::MAX), memory);
        let forwarder = tokio::spawn(forward_events(events, queue, budgets));
        for seq in 0..3 {
            app.send(event(seq)).unwrap();
        }
        settle().await;
        assert_eq!(seq_of(next(&mut frames).await), 0);
        settle().await;
        assert_eq!(
            next(&mut frames).await,
            Some(ServerFrame::Lagged { dropped: 2 })
        );
        forwarder.abort();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn events_the_broadcast_dropped_are_reported_as_lagged() {
        let (app, events) = broadcast::channel(4);
        // Overrun the broadcast before the forwarder ever runs.
        for seq in 0..10 {
            app.send(event(seq)).unwrap();
        }
        let (mut frames, _budget, forwarder) = start(events, 1 << 20);
        settle().await;
        assert_eq!(
            next(&mut frames).await,
            Some(ServerFrame::Lagged { dropped: 6 })
        );
        for seq in 6..10 {
            assert_eq!(seq_of(next(&mut frames).await), seq);
        }
        forwarder.abort();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn lag_is_reported_even_when_the_app_stream_ends() {
        let (app, events) = broadcast::channel(100);
        let (mut frames, _budget, _forwarder) = start(events, event_len());
        for seq in 0..3 {
            app.send(event(seq)).unwrap();
        }
        settle().await;
        drop(app);
        assert_eq!(seq_of(next(&mut frames).await), 0);
        assert_eq!(
            next(&mut frames).await,
            Some(ServerFrame::Lagged { dropped: 2 })
        );
        assert!(next(&mut frames).await.is_none());
    }
}
