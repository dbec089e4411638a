//! One client connection of the agent: read requests, answer them, push events.
//!
//! A connection is two halves over the same socket, run by one task:
//! - the reader decodes requests one at a time, asks the [`Backend`], and queues what to
//!   send on a small bounded queue; a client that sends requests but never reads their
//!   replies fills that queue, and is disconnected;
//! - the writer sends what is queued, in order, and the events of a subscription.
//!   Events come from a forwarder task that drains the app's broadcast receiver into a
//!   bounded per-connection queue. When that queue is full, events are dropped and
//!   counted, and reported as one `lagged { dropped }` as soon as there is room again.
//!
//! So a client that stops reading costs the app nothing (a broadcast send never waits),
//! costs the agent a bounded amount of memory, and never delays another client.

use std::io;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, SinkExt, StreamExt};
use interprocess::local_socket::tokio::Stream;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::AbortHandle;
use tokio_util::codec::{FramedRead, FramedWrite};

use crate::backend::Backend;
use crate::codec::{self, FrameCodec};
use crate::protocol::{
    ActionOutcome, ErrorBody, ErrorCode, Hello, MAX_REPLY_FRAME, MAX_REQUEST_FRAME, PROTOCOL_MAJOR,
    ProtocolVersion, ReplyBody, Request, RequestKind, ServerFrame,
};
use crate::target;
use crate::types::LifecycleEvent;

/// How long a closing connection may take to deliver its last frames (the error that
/// explains the close) to a client that reads slowly.
const CLOSE_LINGER: Duration = Duration::from_secs(5);
/// Requests are a few levels deep; anything deeper is abuse, refused before it can
/// recurse far on an app worker's stack.
const REQUEST_MAX_DEPTH: usize = 32;
/// How long a refused connection may take to receive its one error frame.
const REFUSE_TIMEOUT: Duration = Duration::from_secs(1);

/// What every connection of one agent shares.
pub(crate) struct Context {
    pub backend: Arc<dyn Backend>,
    pub hello: Hello,
    pub read_only: bool,
    /// Pushed frames (events, lag notices) waiting to be written, per connection.
    pub outgoing_queue: usize,
    /// Replies waiting to be written, per connection.
    pub reply_queue: usize,
    /// The most history a subscriber may ask for.
    pub max_history: usize,
}

type FrameSink<'s> = FramedWrite<&'s Stream, FrameCodec<Request>>;

/// Serves one accepted connection until the client leaves, the connection has to close,
/// or the agent shuts down. `_slot` is held for as long as the connection counts
/// against the agent's limit.
pub(crate) async fn serve<S: Send>(
    stream: Stream,
    context: Arc<Context>,
    mut shutdown: watch::Receiver<bool>,
    _slot: S,
) {
    let codec = FrameCodec::<Request>::new(MAX_REQUEST_FRAME).with_max_depth(REQUEST_MAX_DEPTH);
    let requests = FramedRead::new(&stream, codec);
    let sink: FrameSink<'_> = FramedWrite::new(&stream, FrameCodec::new(MAX_REPLY_FRAME));
    // The agent speaks first; the queue is empty, so this cannot fail.
    let (queue, outgoing) = mpsc::channel(context.reply_queue.max(1));
    let _ = queue.try_send(Outgoing::Frame(ServerFrame::Hello(context.hello.clone())));

    let writer = write_loop(sink, outgoing, context.outgoing_queue);
    tokio::pin!(writer);
    tokio::select! {
        ending = read_loop(requests, queue, &context) => {
            if ending == Ending::Linger {
                // The reader is gone and with it the queue's sender: the writer ends
                // once the queue is empty.
                let _ = tokio::time::timeout(CLOSE_LINGER, writer).await;
            }
        }
        () = &mut writer => {}
        _ = shutdown.changed() => {}
    }
    tracing::debug!("agent connection closed");
}

/// Sends `error` as the only frame, then closes: for connections refused at the door.
pub(crate) async fn refuse(stream: Stream, error: ErrorBody) {
    let mut sink: FrameSink<'_> = FramedWrite::new(&stream, FrameCodec::new(MAX_REPLY_FRAME));
    let frame = ServerFrame::Error { id: None, error };
    let _ = tokio::time::timeout(REFUSE_TIMEOUT, sink.send(frame)).await;
}

/// What the reader hands the writer, in the order it must go out.
enum Outgoing {
    Frame(ServerFrame),
    /// Reply `subscribed` with `history`, then push what `events` receives.
    Subscribe {
        id: u64,
        history: Vec<LifecycleEvent>,
        events: broadcast::Receiver<LifecycleEvent>,
    },
    /// Stop pushing (dropping what was not sent yet), then reply `unsubscribed`.
    Unsubscribe {
        id: u64,
    },
}

/// How the reader ended.
#[derive(Debug, PartialEq, Eq)]
enum Ending {
    /// Let the writer deliver what is queued (a closing error, replies to a client that
    /// hung up after its last request).
    Linger,
    /// Close now: the client does not read, waiting would only hold resources.
    Abort,
}

async fn read_loop(
    mut requests: FramedRead<&Stream, FrameCodec<Request>>,
    queue: mpsc::Sender<Outgoing>,
    context: &Context,
) -> Ending {
    let handler = Handler { queue, context };
    while let Some(item) = requests.next().await {
        let step = match item {
            Ok(Ok(request)) => handler.handle(request).await,
            Ok(Err(undecodable)) => {
                tracing::debug!("agent: bad frame: {undecodable}");
                handler.error(
                    None,
                    ErrorCode::BadFrame,
                    format!("the frame is not a request: {undecodable}"),
                )
            }
            Err(e) if codec::is_frame_too_large(&e) => {
                tracing::debug!("agent: frame over the request limit");
                handler
                    .error(
                        None,
                        ErrorCode::FrameTooLarge,
                        format!(
                            "the frame is over the {MAX_REQUEST_FRAME}-byte request limit; \
                             closing, as the stream cannot be resynced"
                        ),
                    )
                    .and(Err(Ending::Linger))
            }
            Err(e) => {
                // Cut mid-frame or reset: the client is gone.
                tracing::debug!("agent: connection read ended: {e}");
                Err(Ending::Linger)
            }
        };
        if let Err(ending) = step {
            return ending;
        }
    }
    Ending::Linger
}

struct Handler<'c> {
    queue: mpsc::Sender<Outgoing>,
    context: &'c Context,
}

impl Handler<'_> {
    async fn handle(&self, Request { id, request }: Request) -> Result<(), Ending> {
        match request {
            RequestKind::Hello { protocol_version } => {
                if protocol_version.major != PROTOCOL_MAJOR {
                    self.error(
                        Some(id),
                        ErrorCode::VersionMismatch,
                        format!(
                            "protocol version mismatch: this agent speaks {}, the client {}; \
                             the major versions must match",
                            ProtocolVersion::CURRENT,
                            protocol_version
                        ),
                    )?;
                    return Err(Ending::Linger);
                }
                self.reply(
                    id,
                    ReplyBody::Hello {
                        protocol_version: ProtocolVersion::CURRENT,
                    },
                )
            }
            RequestKind::Snapshot => match self.blocking("snapshot", |b| b.snapshot()).await {
                Ok(snapshot) => self.reply(id, ReplyBody::Snapshot { snapshot }),
                Err(error) => self.send(ServerFrame::Error {
                    id: Some(id),
                    error,
                }),
            },
            RequestKind::Tree => match self.blocking("tree", |b| b.tree()).await {
                Ok(tree) => self.reply(id, ReplyBody::Tree { tree }),
                Err(error) => self.send(ServerFrame::Error {
                    id: Some(id),
                    error,
                }),
            },
            RequestKind::Subscribe { history } => {
                let wanted = (history as usize).min(self.context.max_history);
                let (history, events) = self.context.backend.subscribe(wanted);
                self.push(Outgoing::Subscribe {
                    id,
                    history,
                    events,
                })
            }
            RequestKind::Unsubscribe => self.push(Outgoing::Unsubscribe { id }),
            RequestKind::Kill {
                target,
                reason,
                force,
            } => match self.act(Action::Kill { reason, force }, &target).await {
                Ok(outcome) => self.reply(id, ReplyBody::Killed { outcome }),
                Err(error) => self.send(ServerFrame::Error {
                    id: Some(id),
                    error,
                }),
            },
            RequestKind::Restart { target } => match self.act(Action::Restart, &target).await {
                Ok(outcome) => self.reply(id, ReplyBody::Restarted { outcome }),
                Err(error) => self.send(ServerFrame::Error {
                    id: Some(id),
                    error,
                }),
            },
            RequestKind::Unknown => self.error(
                Some(id),
                ErrorCode::UnknownRequest,
                format!(
                    "unknown request type (this agent speaks protocol {})",
                    ProtocolVersion::CURRENT
                ),
            ),
        }
    }

    /// Runs a backend call on a blocking thread: a snapshot of a large app takes a
    /// while, and the app's async workers must never wait on it.
    async fn blocking<T: Send + 'static>(
        &self,
        what: &str,
        call: impl FnOnce(&dyn Backend) -> T + Send + 'static,
    ) -> Result<T, ErrorBody> {
        let backend = Arc::clone(&self.context.backend);
        tokio::task::spawn_blocking(move || call(&*backend))
            .await
            .map_err(|e| {
                tracing::warn!("agent: backend {what} failed: {e}");
                ErrorBody::new(ErrorCode::Failed, format!("{what} failed inside the app"))
            })
    }

    async fn act(&self, action: Action, target: &str) -> Result<ActionOutcome, ErrorBody> {
        if self.context.read_only {
            return Err(ErrorBody::new(
                ErrorCode::ReadOnly,
                format!("this agent is read-only: {} is refused", action.verb()),
            ));
        }
        let snapshot = self.blocking("snapshot", |b| b.snapshot()).await?;
        let process = target::resolve(&snapshot, target)?;
        if let Action::Kill { force: false, .. } = action
            && let Some(why) = target::nothing_restarts(&snapshot, &process)
        {
            return Err(ErrorBody::new(ErrorCode::NotSupervised, why));
        }
        let backend = &self.context.backend;
        let verb = action.verb();
        let done = match action {
            Action::Kill { reason, .. } => backend.kill(process.pid, reason),
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

    fn reply(&self, id: u64, body: ReplyBody) -> Result<(), Ending> {
        self.send(ServerFrame::Reply { id, body })
    }

    fn error(&self, id: Option<u64>, code: ErrorCode, message: String) -> Result<(), Ending> {
        self.send(ServerFrame::Error {
            id,
            error: ErrorBody::new(code, message),
        })
    }

    fn send(&self, frame: ServerFrame) -> Result<(), Ending> {
        self.push(Outgoing::Frame(frame))
    }

    /// Never waits: a full queue means the client is not reading its replies.
    fn push(&self, outgoing: Outgoing) -> Result<(), Ending> {
        match self.queue.try_send(outgoing) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::debug!("agent: client does not read its replies; closing");
                Err(Ending::Abort)
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(Ending::Abort),
        }
    }
}

enum Action {
    Kill { reason: Option<String>, force: bool },
    Restart,
}

impl Action {
    fn verb(&self) -> &'static str {
        match self {
            Action::Kill { .. } => "kill",
            Action::Restart => "restart",
        }
    }
}

async fn write_loop(
    mut sink: FrameSink<'_>,
    mut outgoing: mpsc::Receiver<Outgoing>,
    push_capacity: usize,
) {
    let mut feed: Option<EventFeed> = None;
    loop {
        let frame = tokio::select! {
            // Replies first: a burst of events never holds one back.
            biased;
            next = outgoing.recv() => match next {
                None => break,
                Some(Outgoing::Frame(frame)) => frame,
                Some(Outgoing::Subscribe { id, history, events }) => {
                    // Replaces (and so stops) an earlier subscription.
                    feed = Some(EventFeed::start(events, push_capacity));
                    ServerFrame::Reply { id, body: ReplyBody::Subscribed { history } }
                }
                Some(Outgoing::Unsubscribe { id }) => {
                    feed = None;
                    ServerFrame::Reply { id, body: ReplyBody::Unsubscribed }
                }
            },
            pushed = next_push(&mut feed) => match pushed {
                Some(frame) => frame,
                // The app's event stream ended.
                None => {
                    feed = None;
                    continue;
                }
            },
        };
        if let Err(e) = write(&mut sink, frame).await {
            tracing::debug!("agent: write failed: {e}");
            return;
        }
        // Flush only once nothing else is ready, so a burst goes out in few writes.
        let idle = outgoing.is_empty() && feed.as_ref().is_none_or(|f| f.frames.is_empty());
        if idle && flush(&mut sink).await.is_err() {
            return;
        }
    }
    let _ = flush(&mut sink).await;
}

/// The codec encodes anything `Serialize`, so a bare `flush` would not know its item type.
async fn flush(sink: &mut FrameSink<'_>) -> io::Result<()> {
    SinkExt::<ServerFrame>::flush(sink).await
}

async fn next_push(feed: &mut Option<EventFeed>) -> Option<ServerFrame> {
    match feed {
        Some(feed) => feed.frames.recv().await,
        None => std::future::pending().await,
    }
}

/// Buffers `frame` for writing. A frame that cannot be encoded (over the reply limit)
/// is replaced by an error for the request it answered, so the client is not left
/// waiting.
async fn write(sink: &mut FrameSink<'_>, frame: ServerFrame) -> io::Result<()> {
    let reply_id = match &frame {
        ServerFrame::Reply { id, .. } => Some(*id),
        _ => None,
    };
    let Err(e) = sink.feed(frame).await else {
        return Ok(());
    };
    let Some(unencodable) = codec::encode_error(&e) else {
        return Err(e);
    };
    tracing::warn!("agent: cannot send a frame: {unencodable}");
    match reply_id {
        Some(id) => {
            let error = ErrorBody::new(
                ErrorCode::Failed,
                format!("the reply cannot be sent: {unencodable}"),
            );
            sink.feed(ServerFrame::Error {
                id: Some(id),
                error,
            })
            .await
        }
        None => Ok(()),
    }
}

/// A subscription's events on their way to the writer.
struct EventFeed {
    frames: mpsc::Receiver<ServerFrame>,
    forwarder: AbortHandle,
}

impl EventFeed {
    fn start(events: broadcast::Receiver<LifecycleEvent>, capacity: usize) -> Self {
        let (queue, frames) = mpsc::channel(capacity.max(1));
        let forwarder = tokio::spawn(forward_events(events, queue)).abort_handle();
        EventFeed { frames, forwarder }
    }
}

impl Drop for EventFeed {
    fn drop(&mut self) {
        self.forwarder.abort();
    }
}

/// Moves events from the app's broadcast into a connection's bounded queue. It never
/// waits for the client: what does not fit is dropped and counted, and the count goes
/// out as one `lagged` frame as soon as a slot frees up. Events the broadcast itself
/// dropped (the forwarder fell behind the app) are counted the same way.
async fn forward_events(
    mut events: broadcast::Receiver<LifecycleEvent>,
    queue: mpsc::Sender<ServerFrame>,
) {
    use broadcast::error::RecvError;
    let mut dropped: u64 = 0;
    loop {
        if dropped == 0 {
            match events.recv().await {
                Ok(event) => match queue.try_send(ServerFrame::Event { event }) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(_)) => dropped += 1,
                    Err(mpsc::error::TrySendError::Closed(_)) => return,
                },
                Err(RecvError::Lagged(n)) => dropped += n,
                Err(RecvError::Closed) => return,
            }
            continue;
        }
        tokio::select! {
            biased;
            slot = queue.reserve() => match slot {
                Ok(slot) => {
                    slot.send(ServerFrame::Lagged { dropped });
                    dropped = 0;
                }
                Err(_) => return,
            },
            received = events.recv() => match received {
                Ok(_) => dropped += 1,
                Err(RecvError::Lagged(n)) => dropped += n,
                Err(RecvError::Closed) => {
                    // Still tell the client what it missed before the stream ended.
                    if let Ok(slot) = queue.reserve().await {
                        slot.send(ServerFrame::Lagged { dropped });
                    }
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

    /// Lets the forwarder run until it waits again.
    async fn settle() {
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn events_that_do_not_fit_are_counted_and_reported_once_as_lagged() {
        let (app, events) = broadcast::channel(100);
        let (queue, mut frames) = mpsc::channel(2);
        let forwarder = tokio::spawn(forward_events(events, queue));
        for seq in 0..10 {
            app.send(event(seq)).unwrap();
        }
        settle().await;
        // Two fit, eight were dropped; the lag notice waits for room.
        assert!(
            matches!(frames.recv().await, Some(ServerFrame::Event { event }) if event.seq == 0)
        );
        settle().await;
        assert!(
            matches!(frames.recv().await, Some(ServerFrame::Event { event }) if event.seq == 1)
        );
        settle().await;
        assert_eq!(
            frames.recv().await,
            Some(ServerFrame::Lagged { dropped: 8 })
        );
        // After the notice, events flow again.
        app.send(event(10)).unwrap();
        settle().await;
        assert!(
            matches!(frames.recv().await, Some(ServerFrame::Event { event }) if event.seq == 10)
        );
        forwarder.abort();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn events_the_broadcast_dropped_are_reported_as_lagged() {
        let (app, events) = broadcast::channel(4);
        let (queue, mut frames) = mpsc::channel(16);
        // Overrun the broadcast before the forwarder ever runs.
        for seq in 0..10 {
            app.send(event(seq)).unwrap();
        }
        let forwarder = tokio::spawn(forward_events(events, queue));
        settle().await;
        assert_eq!(
            frames.recv().await,
            Some(ServerFrame::Lagged { dropped: 6 })
        );
        for seq in 6..10 {
            assert!(
                matches!(frames.recv().await, Some(ServerFrame::Event { event }) if event.seq == seq)
            );
        }
        forwarder.abort();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn lag_is_reported_even_when_the_app_stream_ends() {
        let (app, events) = broadcast::channel(100);
        let (queue, mut frames) = mpsc::channel(1);
        let forwarder = tokio::spawn(forward_events(events, queue));
        for seq in 0..3 {
            app.send(event(seq)).unwrap();
        }
        settle().await;
        drop(app);
        assert!(matches!(
            frames.recv().await,
            Some(ServerFrame::Event { .. })
        ));
        assert_eq!(
            frames.recv().await,
            Some(ServerFrame::Lagged { dropped: 2 })
        );
        assert_eq!(frames.recv().await, None);
        forwarder.await.unwrap();
    }
}
