//! A slow subscriber never slows the app. In its own test binary: it floods the
//! one runtime-wide stream, which would make other tests' subscribers lag.

use noex::ExitReason;
use noex::events::{self, Lagged};
use noex::gen_server::{self, StartOptions};

mod support;
use support::{Idle, within};

/// The `seq` of the newest event so far (0 before any).
fn newest_seq() -> u64 {
    events::recent(1).first().map_or(0, |event| event.seq)
}

/// Two events (started, terminated) per server.
async fn flood(servers: usize) {
    for _ in 0..servers {
        let server = gen_server::start(Idle, StartOptions::new()).await.unwrap();
        server.stop(ExitReason::Normal).await.unwrap();
    }
}

/// Reads everything `stream` has, checking each event's `seq` against the one
/// expected after `last` and each `Lagged` against the gap it announces. Returns
/// (events received, events reported dropped, the last `seq` received).
fn drain(stream: &mut events::EventStream, mut last: u64) -> (u64, u64, u64) {
    let (mut received, mut dropped) = (0, 0);
    while let Some(next) = stream.try_recv() {
        match next {
            Ok(event) => {
                assert_eq!(
                    event.seq,
                    last + 1,
                    "an event lost without a Lagged saying so"
                );
                last = event.seq;
                received += 1;
            }
            Err(Lagged { dropped: n }) => {
                assert!(n > 0, "a Lagged that lost nothing");
                dropped += n;
                last += n;
            }
        }
    }
    (received, dropped, last)
}

/// Every event published while a subscriber did not read is either received or
/// counted in a `Lagged { dropped }` notice, exactly: the notices account for each
/// gap in the sequence numbers, and nothing else is missing.
#[tokio::test]
async fn a_subscriber_that_never_reads_does_not_slow_the_app_and_learns_exactly_what_it_lost() {
    let before = newest_seq();
    let mut idle = events::subscribe();
    // Far more events than a subscriber buffers; the app never waits for `idle`.
    // More than the history keeps, too.
    within("publishing while nobody reads", flood(5100)).await;
    let published = newest_seq() - before;
    assert_eq!(published, 10_200);

    let (received, dropped, last) = drain(&mut idle, before);
    assert!(dropped > 0, "the subscriber fell behind");
    assert_eq!(
        received + dropped,
        published,
        "received {received}, dropped {dropped}"
    );
    assert_eq!(last, before + published);

    // It goes on with the next event, and the history stays bounded.
    flood(1).await;
    assert_eq!(drain(&mut idle, last), (2, 0, last + 2));
    assert_eq!(events::recent(usize::MAX).len(), events::HISTORY_CAPACITY);
}
