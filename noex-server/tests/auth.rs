//! Auth over a real socket: UNAUTHORIZED before a login or with a refused token or an
//! expired session, FORBIDDEN for what the permissions refuse. The validator and the
//! permissions are this file's own, so the tests check the gateway, not them.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::future::BoxFuture;
use noex_server::{AuthConfig, Permissions, Session, TokenValidator};
use serde_json::json;
use support::{connect, server, store};

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// `admin-token` is alice (admin), `viewer-token` is bob (viewer), `brief-token` a
/// session of a second; anything else is refused.
struct Tokens;

impl TokenValidator for Tokens {
    fn validate(&self, token: String) -> BoxFuture<'_, Option<Session>> {
        Box::pin(async move {
            let (user, role, expires_at) = match token.as_str() {
                "admin-token" => ("alice", "admin", None),
                "viewer-token" => ("bob", "viewer", None),
                "brief-token" => ("carol", "admin", Some(now_ms() + 1_000)),
                "stale-token" => ("dave", "admin", Some(now_ms() - 1)),
                _ => return None,
            };
            Some(Session {
                user_id: user.into(),
                roles: vec![role.into()],
                expires_at,
            })
        })
    }
}

/// Admins run everything; viewers read, and never the `accounts` bucket; a client
/// with no roles (anonymous) only `store.buckets`.
struct ReadOnlyViewers;

impl Permissions for ReadOnlyViewers {
    fn check(&self, session: &Session, operation: &str, resource: Option<&str>) -> bool {
        if session.roles.iter().any(|role| role == "admin") {
            return true;
        }
        if session.roles.iter().any(|role| role == "viewer") {
            let reads = ["store.get", "store.all", "store.count", "store.buckets"];
            return reads.contains(&operation) && resource != Some("accounts");
        }
        operation == "store.buckets"
    }
}

fn auth() -> AuthConfig {
    AuthConfig::new(Tokens).permissions(ReadOnlyViewers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_login_every_operation_is_unauthorized() {
    let server = server(support::config().store(store().await).auth(auth())).await;
    let mut client = connect(&server).await;
    assert_eq!(client.welcome["requiresAuth"], true);
    for kind in ["store.buckets", "server.stats", "observer.snapshot", "nope"] {
        assert_eq!(
            client.error_code(kind, json!({})).await,
            "UNAUTHORIZED",
            "{kind}"
        );
    }
    let whoami = client.ok("auth.whoami", json!({})).await;
    assert_eq!(whoami["authenticated"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_is_unauthorized_and_a_good_one_logs_in() {
    let server = server(support::config().store(store().await).auth(auth())).await;
    let mut client = connect(&server).await;
    assert_eq!(
        client.error_code("auth.login", json!({"token": 42})).await,
        "VALIDATION_ERROR",
        "a token is a string"
    );
    assert_eq!(
        client
            .error_code("auth.login", json!({"token": "forged"}))
            .await,
        "UNAUTHORIZED"
    );
    assert_eq!(
        client
            .error_code("auth.login", json!({"token": "stale-token"}))
            .await,
        "UNAUTHORIZED",
        "a token whose session has ended already"
    );
    let session = client
        .ok("auth.login", json!({"token": "admin-token"}))
        .await;
    assert_eq!(session["userId"], "alice");
    assert_eq!(session["roles"], json!(["admin"]));
    let whoami = client.ok("auth.whoami", json!({})).await;
    assert_eq!(whoami["authenticated"], true);
    assert_eq!(whoami["userId"], "alice");
    client.ok("store.buckets", json!({})).await;
    let connection = support::only_connection(&server);
    assert!(connection.authenticated);
    assert_eq!(connection.user_id.as_deref(), Some("alice"));

    client.ok("auth.logout", json!({})).await;
    assert_eq!(
        client.error_code("store.buckets", json!({})).await,
        "UNAUTHORIZED",
        "logged out"
    );
    assert!(!support::only_connection(&server).authenticated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_permissions_refuse_is_forbidden_and_not_run() {
    let server = server(support::config().store(store().await).auth(auth())).await;
    let mut client = connect(&server).await;
    client
        .ok("auth.login", json!({"token": "viewer-token"}))
        .await;
    assert_eq!(
        client.ok("store.count", json!({"bucket": "users"})).await,
        0
    );
    let reply = client
        .request(
            "store.insert",
            json!({"bucket": "users", "data": {"name": "Mallory"}}),
        )
        .await;
    assert_eq!(reply["code"], "FORBIDDEN");
    assert!(reply["message"].as_str().unwrap().contains("bob"));
    assert_eq!(
        client
            .error_code("store.all", json!({"bucket": "accounts"}))
            .await,
        "FORBIDDEN",
        "a resource the viewer may not read"
    );
    assert_eq!(
        client
            .error_code("observer.kill", json!({"target": "x"}))
            .await,
        "FORBIDDEN"
    );
    assert_eq!(
        client.ok("store.count", json!({"bucket": "users"})).await,
        0,
        "the refused insert did not run"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_required_login_an_anonymous_client_has_the_permissions_of_no_roles() {
    let server = server(
        support::config()
            .store(store().await)
            .auth(auth().required(false)),
    )
    .await;
    let mut client = connect(&server).await;
    assert_eq!(client.welcome["requiresAuth"], false);
    client.ok("store.buckets", json!({})).await;
    assert_eq!(
        client
            .error_code("store.all", json!({"bucket": "users"}))
            .await,
        "FORBIDDEN"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_session_is_unauthorized() {
    let server = server(support::config().store(store().await).auth(auth())).await;
    let mut client = connect(&server).await;
    let session = client
        .ok("auth.login", json!({"token": "brief-token"}))
        .await;
    let expires_at = session["expiresAt"].as_u64().unwrap();
    while now_ms() <= expires_at {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let reply = client.request("store.buckets", json!({})).await;
    assert_eq!(reply["code"], "UNAUTHORIZED");
    assert!(reply["message"].as_str().unwrap().contains("expired"));
    assert!(!support::only_connection(&server).authenticated);
    // A fresh login works again.
    client
        .ok("auth.login", json!({"token": "admin-token"}))
        .await;
    client.ok("store.buckets", json!({})).await;
}
