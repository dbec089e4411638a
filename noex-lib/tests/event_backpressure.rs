//! A slow subscriber never slows the app. In its own test binary: it floods the
//! one runtime-wide stream, which would make other tests' subscribers lag.

use noex::ExitReason;
use noex::events;
use noex::gen_server::{self, StartOptions};

mod support;
use support::Idle;

#[tokio::test]
async fn a_subscriber_that_never_reads_does_not_slow_the_app_and_learns_what_it_lost() {
    let mut idle = events::subscribe();
    // Far more events than a subscriber buffers; the app never waits for `idle`.
    for _ in 0..2500 {
        let server = gen_server::start(Idle, StartOptions::new()).await.unwrap();
        server.stop(ExitReason::Normal).await.unwrap();
    }
    let first = idle.recv().await;
    assert!(
        matches!(first, Err(events::Lagged { dropped }) if dropped > 0),
        "{first:?}"
    );
    assert!(
        idle.recv().await.is_ok(),
        "then it goes on from the oldest kept event"
    );
    assert!(events::recent(10_000).len() <= events::HISTORY_CAPACITY);
}
