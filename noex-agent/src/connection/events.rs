//! A subscription's events, from the app's broadcast into the connection's byte-bounded
//! queue: what does not fit is dropped, counted and reported as one `lagged`.

use tokio::sync::{broadcast, mpsc};
use tokio::task::AbortHandle;

use crate::budget::FrameBudget;
use crate::protocol::ServerFrame;
use crate::types::LifecycleEvent;

use super::Queued;
use super::frames::encode;

/// A subscription's events on their way to the writer.
pub(super) struct EventFeed {
    pub(super) frames: mpsc::UnboundedReceiver<Queued>,
    pub(super) forwarder: AbortHandle,
}

impl EventFeed {
    pub(super) fn start(events: broadcast::Receiver<LifecycleEvent>, budget: FrameBudget) -> Self {
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
    use std::sync::Arc;

    use bytes::BytesMut;
    use tokio_util::codec::Decoder;

    use super::*;
    use crate::budget::ByteBudget;
    use crate::codec::FrameCodec;
    use crate::protocol::MAX_REPLY_FRAME;
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
