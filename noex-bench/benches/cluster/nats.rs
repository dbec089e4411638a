//! The bench's own `nats-server -js` (noex-cluster's test server: a free port of
//! 127.0.0.1, its JetStream store in a temporary directory, killed when dropped),
//! and a way to wait until the server has read what a client sent.

use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::StreamExt;

#[path = "../../../noex-cluster/tests/support/mod.rs"]
mod support;

pub use support::Nats;

/// Returns once the server has read everything `client` sent before, its
/// subscriptions included (`Client::flush` only writes them out): a message to
/// itself, on a subject of its own, has come back.
pub async fn round_trip(client: &async_nats::Client) {
    static PROBES: AtomicU64 = AtomicU64::new(0);
    // A message to itself, not a request nobody answers: on a client that also
    // listens on every inbox (`noex_cluster::sizes`), the "no responders" went to
    // that subscription, and the request waited out its timeout.
    let subject = format!("bench.probe.{}", PROBES.fetch_add(1, Ordering::Relaxed));
    let mut echo = client.subscribe(subject.clone()).await.expect("subscribed");
    client
        .publish(subject, bytes::Bytes::new())
        .await
        .expect("sent");
    echo.next().await.expect("the probe came back");
}
