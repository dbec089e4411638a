//! HTTP: `/` is the WebSocket endpoint for an upgrade request and the dashboard's page
//! otherwise; the dashboard's other files beside it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::config::OriginPolicy;
use crate::dashboard;
use crate::gateway::Gateway;

/// A connection's read buffer. tungstenite's default (128 KiB) is zeroed before every
/// read from the socket: with requests of a few hundred bytes that memset was a quarter
/// of the server's time under load, and 128 KiB a client is 1.25 GiB at 10,000 of them.
/// A larger message still arrives whole: the buffer grows to the frame's length.
const READ_BUFFER_BYTES: usize = 8 * 1024;

pub(crate) fn router(gateway: Arc<Gateway>) -> Router {
    Router::new()
        .route("/", get(root))
        .fallback(get(file))
        .with_state(gateway)
}

async fn root(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let Ok(upgrade) = upgrade else {
        return page("/");
    };
    if !gateway.accepting.load(Ordering::Relaxed) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down",
        )
            .into_response();
    }
    if !origin_allowed(&gateway.config.origins, &headers) {
        tracing::info!(%remote, "noex-server: refused a page of another origin");
        return (StatusCode::FORBIDDEN, "this origin may not connect").into_response();
    }
    if gateway.registry.len() >= gateway.config.max_connections {
        return (StatusCode::SERVICE_UNAVAILABLE, "too many connections").into_response();
    }
    let max = gateway.config.max_message_bytes;
    upgrade
        .read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| crate::connection::accept(gateway, socket, remote))
}

async fn file(uri: Uri) -> Response {
    page(uri.path())
}

fn page(path: &str) -> Response {
    match dashboard::asset(path) {
        Some((content_type, body)) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

/// A browser says which page opens the socket; a program says nothing.
fn origin_allowed(policy: &OriginPolicy, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let same = host.is_some_and(|host| {
        origin
            .split_once("://")
            .is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(host))
    });
    match policy {
        OriginPolicy::Any => true,
        OriginPolicy::SameOrigin => same,
        OriginPolicy::Allow(allowed) => same || allowed.iter().any(|a| a == origin),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, host.parse().unwrap());
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, origin.parse().unwrap());
        }
        headers
    }

    #[test]
    fn same_origin_admits_its_own_page_and_programs_only() {
        let policy = OriginPolicy::SameOrigin;
        assert!(origin_allowed(
            &policy,
            &headers(Some("http://127.0.0.1:8080"), "127.0.0.1:8080")
        ));
        assert!(origin_allowed(&policy, &headers(None, "127.0.0.1:8080")));
        assert!(!origin_allowed(
            &policy,
            &headers(Some("http://evil.example"), "127.0.0.1:8080")
        ));
    }

    #[test]
    fn an_allowed_origin_is_admitted() {
        let policy = OriginPolicy::Allow(vec!["https://ops.example.com".into()]);
        assert!(origin_allowed(
            &policy,
            &headers(Some("https://ops.example.com"), "10.0.0.1:80")
        ));
        assert!(!origin_allowed(
            &policy,
            &headers(Some("https://other.example"), "10.0.0.1:80")
        ));
    }
}
