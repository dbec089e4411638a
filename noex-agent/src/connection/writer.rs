//! The writer: what is queued, in order, then the events of a subscription; a client
//! that reads nothing for the write timeout is told why and closed.

use std::io;
use std::time::Duration;

use interprocess::local_socket::tokio::Stream;
use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::sync::mpsc;
use tokio_io_timeout::TimeoutWriter;

use crate::budget::FrameBudget;
use crate::protocol::{ErrorBody, ErrorCode, ServerFrame};

use super::events::EventFeed;
use super::frames::encode;
use super::{Context, Outgoing, Queued, REFUSE_TIMEOUT};

pub(super) async fn write_loop(
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
