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

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Semaphore, broadcast, mpsc, watch};

use crate::backend::Backend;
use crate::budget::{ByteBudget, Charge, FrameBudget};
use crate::local_socket::Stream;
use crate::protocol::{ErrorBody, Hello, ServerFrame};
use crate::types::LifecycleEvent;

mod events;
mod frames;
mod handler;
mod reader;
mod writer;

use frames::encode;
use handler::Handler;
pub(crate) use handler::ReplySizes;
use reader::read_loop;
use writer::write_loop;

/// How long a closing connection may take to deliver its last frames (the error that
/// explains the close) to a client that reads slowly.
const CLOSE_LINGER: Duration = Duration::from_secs(5);
/// After the last frame of a closing connection is written, how long the agent keeps
/// reading (and dropping) what the client still sends. Closing a socket with unread
/// bytes resets it, and the client may then lose the error that explains the close.
const DRAIN_GRACE: Duration = Duration::from_secs(1);
/// The most bytes read and dropped while closing (the rest of an oversized frame).
const DRAIN_LIMIT: usize = 16 * 1024 * 1024;
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
    /// The counters of the previous `table`, for rates. One for the agent, not one per
    /// connection: 32 bytes a server, however many clients ask.
    pub table: std::sync::Mutex<crate::table::TableMemory>,
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
    pub(super) bytes: Bytes,
    pub(super) _held: [Charge; 2],
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

/// How the reader ends after sending an error about the connection.
fn closing(sent: Result<(), Ending>) -> Ending {
    sent.err().unwrap_or(Ending::Linger)
}
