//! Tokens, permissions and the audit log through a real socket.

mod support;

use std::time::Duration;

use noex_server::{AuditConfig, AuthConfig, RolePermissions, StaticTokens};
use serde_json::json;
use support::{connect, server, store};

fn auth() -> AuthConfig {
    AuthConfig::new(
        StaticTokens::new()
            .user("viewer-token", "vera", ["viewer"])
            .user("operator-token", "otto", ["operator"]),
    )
    .permissions(RolePermissions::viewer_and_operator())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_but_login_is_served_before_login() {
    let server = server(support::config().store(store().await).auth(auth())).await;
    let mut client = connect(&server).await;
    assert_eq!(client.welcome["requiresAuth"], true);
    assert_eq!(
        client.error_code("store.buckets", json!({})).await,
        "UNAUTHORIZED"
    );
    assert_eq!(
        client
            .error_code("auth.login", json!({"token": "wrong"}))
            .await,
        "UNAUTHORIZED"
    );
    let session = client
        .ok("auth.login", json!({"token": "viewer-token"}))
        .await;
    assert_eq!(session["userId"], "vera");
    let buckets = client.ok("store.buckets", json!({})).await;
    assert!(
        buckets.as_array().unwrap().contains(&json!("users")),
        "{buckets}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewer_may_read_but_not_write_and_the_refusal_is_audited() {
    let server = server(support::config().store(store().await).auth(auth())).await;
    let mut client = connect(&server).await;
    client
        .ok("auth.login", json!({"token": "viewer-token"}))
        .await;
    assert_eq!(
        client.ok("store.all", json!({"bucket": "users"})).await,
        json!([])
    );
    let insert = json!({"bucket": "users", "data": {"name": "Eve"}});
    assert_eq!(client.error_code("store.insert", insert).await, "FORBIDDEN");
    assert_eq!(
        client
            .error_code("observer.kill", json!({"target": "x"}))
            .await,
        "FORBIDDEN"
    );

    let entries = server.audit().query(&Default::default());
    let refused: Vec<_> = entries
        .iter()
        .filter(|entry| entry.operation == "store.insert")
        .collect();
    assert_eq!(refused.len(), 1, "{entries:?}");
    assert_eq!(refused[0].user_id.as_deref(), Some("vera"));
    assert_eq!(refused[0].resource.as_deref(), Some("users"));
    assert!(matches!(
        refused[0].outcome,
        noex_server::AuditOutcome::Error {
            code: noex_server::ErrorCode::Forbidden
        }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_writes_are_in_the_audit_log_and_audit_query_reads_it() {
    let audit = AuditConfig::new().capacity(100);
    let server = server(
        support::config()
            .store(store().await)
            .auth(auth())
            .audit(audit),
    )
    .await;
    let mut client = connect(&server).await;
    client
        .ok("auth.login", json!({"token": "operator-token"}))
        .await;
    client
        .ok(
            "store.insert",
            json!({"bucket": "users", "data": {"name": "Ann"}}),
        )
        .await;
    client.ok("store.all", json!({"bucket": "users"})).await;
    let entries = client
        .ok(
            "audit.query",
            json!({"userId": "otto", "operation": "store.*"}),
        )
        .await;
    let operations: Vec<_> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["operation"].as_str().unwrap().to_string())
        .collect();
    // Reads are not an audited tier by default; writes are.
    assert_eq!(operations, ["store.insert"]);
    assert_eq!(entries[0]["result"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_session_is_unauthorized_at_its_next_request() {
    let tokens = StaticTokens::new()
        .user("short", "sam", ["operator"])
        .expires_in(Duration::from_millis(1));
    let server = server(
        support::config()
            .store(store().await)
            .auth(AuthConfig::new(tokens)),
    )
    .await;
    let mut client = connect(&server).await;
    let session = client.ok("auth.login", json!({"token": "short"})).await;
    let expires_at = session["expiresAt"].as_u64().unwrap();
    // Wait until the session's end has passed by the wall clock the server reads.
    while noex_now_ms() <= expires_at {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(
        client.error_code("store.buckets", json!({})).await,
        "UNAUTHORIZED"
    );
    assert_eq!(
        client.ok("auth.whoami", json!({})).await,
        json!({"authenticated": false})
    );
}

fn noex_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}
