//! One request to a node's `rpc` subject and its reply, over NATS request-reply:
//! what calls, monitors, pings, observers and tunnels all send.

use std::time::Duration;

use async_nats::RequestErrorKind;

use crate::error::RemoteError;
use crate::wire::{self, Reply, Request};

/// How long a control request (monitor, ping, snapshot) waits for its node.
pub(crate) const CONTROL_TIMEOUT: Duration = Duration::from_secs(5);

/// One request to a node's subject, its reply decoded.
pub(crate) async fn request(
    client: &async_nats::Client,
    subject: &str,
    request: &Request,
    timeout: Duration,
) -> Result<Reply, RemoteError> {
    let node = subject.to_string();
    request_on(client, subject, request, timeout, &node).await
}

pub(crate) async fn request_on(
    client: &async_nats::Client,
    subject: &str,
    request: &Request,
    timeout: Duration,
    node: &str,
) -> Result<Reply, RemoteError> {
    let message = client
        .send_request(
            subject.to_string(),
            async_nats::Request::new()
                .payload(wire::encode(request).into())
                .timeout(Some(timeout)),
        )
        .await
        .map_err(|error| match error.kind() {
            RequestErrorKind::NoResponders => RemoteError::NodeDown {
                node: node.to_string(),
            },
            RequestErrorKind::TimedOut => RemoteError::Timeout {
                node: node.to_string(),
                timeout,
            },
            _ => RemoteError::Transport(error.to_string()),
        })?;
    wire::decode(&message.payload).map_err(RemoteError::Transport)
}
