//! The writer: what is queued, in order, then the events of a subscription; a client
//! that reads nothing for the write timeout is told why and closed.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use tokio::io::{AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};

use crate::budget::FrameBudget;
use crate::local_socket::Stream;
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
    let out = BufWriter::new(StallTimeout::new(stream, context.write_timeout));
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

/// A writer whose writes fail with `TimedOut` once the socket has taken nothing for
/// `timeout`: a client that reads nothing. Each byte taken restarts the clock, so a
/// large reply to a slow client that keeps reading is never cut short.
struct StallTimeout<W> {
    inner: W,
    timeout: Duration,
    /// Set when a write first waits, and again whenever one makes progress.
    deadline: Pin<Box<Sleep>>,
    waiting: bool,
}

impl<W: AsyncWrite + Unpin> StallTimeout<W> {
    fn new(inner: W, timeout: Duration) -> Self {
        StallTimeout {
            inner,
            timeout,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            waiting: false,
        }
    }

    fn guard<T>(
        &mut self,
        cx: &mut TaskContext<'_>,
        poll: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if poll.is_ready() {
            self.waiting = false;
            return poll;
        }
        if !self.waiting {
            self.waiting = true;
            self.deadline.as_mut().reset(Instant::now() + self.timeout);
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.waiting = false;
                Poll::Ready(Err(io::ErrorKind::TimedOut.into()))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for StallTimeout<W> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        bytes: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write(cx, bytes);
        this.guard(cx, poll)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_flush(cx);
        this.guard(cx, poll)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.guard(cx, poll)
    }
}

async fn next_push(feed: &mut Option<EventFeed>) -> Option<Queued> {
    match feed {
        Some(feed) => feed.frames.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(10);

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn a_reader_that_takes_nothing_times_the_write_out() {
        let (socket, _reader) = tokio::io::duplex(64);
        let mut out = StallTimeout::new(socket, TIMEOUT);
        let started = Instant::now();
        let written = tokio::time::timeout(3 * TIMEOUT, out.write_all(&[7; 1024])).await;
        let error = written.expect("the write timed out by itself").unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), TIMEOUT);
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn a_slow_reader_that_keeps_reading_gets_everything() {
        let (socket, mut reader) = tokio::io::duplex(64);
        let mut out = StallTimeout::new(socket, TIMEOUT);
        let slow = tokio::spawn(async move {
            let mut taken = Vec::new();
            let mut chunk = [0; 64];
            // A chunk every 60% of the timeout: 16 chunks take far longer than one
            // timeout, but the writer never waits a whole one.
            loop {
                tokio::time::sleep(TIMEOUT * 6 / 10).await;
                match reader.read(&mut chunk).await.unwrap() {
                    0 => return taken,
                    n => taken.extend_from_slice(&chunk[..n]),
                }
            }
        });
        let started = Instant::now();
        out.write_all(&[7; 1024]).await.unwrap();
        out.shutdown().await.unwrap();
        assert!(started.elapsed() > 5 * TIMEOUT, "{:?}", started.elapsed());
        assert_eq!(slow.await.unwrap(), vec![7; 1024]);
    }
}
