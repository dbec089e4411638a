//! A client that is not ours: `seed_client/client.mjs`, written from the seed's
//! protocol document with Node's own WebSocket, runs the operations and the abuses
//! against a real server; the server must answer as the seed says and stay unharmed.
//!
//! Skipped (with a note) where `node` is missing, unless NOEX_REQUIRE_TEST_TOOLS=1.

mod support;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use support::{connect, server, store};

/// `node` with the WebSocket it needs: Node 22+ has it, Node 20 behind a flag.
async fn node_command() -> Option<tokio::process::Command> {
    let probe = |flag: Option<&str>| {
        let mut command = tokio::process::Command::new("node");
        command.args(flag);
        command.args([
            "-e",
            "process.exit(typeof WebSocket === 'function' ? 0 : 1)",
        ]);
        command.stdout(Stdio::null()).stderr(Stdio::null());
        command
    };
    for flag in [None, Some("--experimental-websocket")] {
        if let Ok(status) = probe(flag).status().await
            && status.success()
        {
            let mut command = tokio::process::Command::new("node");
            command.args(flag);
            return Some(command);
        }
    }
    // An older Node: the `ws` package, installed beside the browser tests' (`npm ci
    // --prefix tests/web`, as .ci/install-test-tools does).
    let web = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/web");
    if web.join("node_modules/ws").is_dir() && probe(None).status().await.is_ok() {
        let mut command = tokio::process::Command::new("node");
        command.env("NOEX_WS_FROM", web.join("package.json"));
        return Some(command);
    }
    None
}

fn required() -> bool {
    std::env::var("NOEX_REQUIRE_TEST_TOOLS").is_ok_and(|value| value == "1")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_written_from_the_seed_runs_every_operation_and_abuse_and_the_server_stays_up() {
    let Some(mut node) = node_command().await else {
        assert!(
            !required(),
            "node with a WebSocket is required (NOEX_REQUIRE_TEST_TOOLS=1)"
        );
        eprintln!("skipped: no `node` with a WebSocket on this machine");
        return;
    };
    let server = server(
        support::config()
            .store(store().await)
            .heartbeat(Duration::from_millis(50), Duration::from_millis(300)),
    )
    .await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/seed_client/client.mjs");
    let run = node
        .arg(script)
        .arg(support::url(&server))
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the script finished in time")
        .expect("node ran");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "node failed: {stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|error| panic!("no summary ({error}): {stdout}\n{stderr}"));

    eprintln!("the seed client saw: {summary}");
    assert_eq!(summary["failures"], json!([]), "{summary:#}");
    assert_eq!(summary["welcome"]["type"], "welcome");
    assert_eq!(summary["welcome"]["version"], "1.0.0");
    assert_eq!(summary["welcome"]["requiresAuth"], false);
    assert_eq!(summary["push"]["channel"], "subscription");
    assert_eq!(summary["unknownOperation"], "UNKNOWN_OPERATION");
    assert_eq!(summary["bucketNotDefined"], "BUCKET_NOT_DEFINED");
    assert_eq!(summary["pongs"]["stillServed"], true, "{summary:#}");
    assert_eq!(
        summary["badJson"],
        json!({"code": "PARSE_ERROR", "hasId": false, "stillOpen": true})
    );
    assert_eq!(summary["invalidRequest"], "INVALID_REQUEST");
    // A flood is answered, or its client closed for not keeping up (its pongs wait
    // behind its requests; its replies may outgrow its buffer): never the server down.
    let flood = &summary["flood"];
    assert_eq!(flood["sent"], 10_000);
    assert!(
        flood["answered"] == 10_000
            || [4001, 4002].contains(&flood["closeCode"].as_u64().unwrap_or(0)),
        "{flood}"
    );
    assert_eq!(summary["afterFlood"]["freshClientServed"], true);
    assert_eq!(summary["silent"]["closeCode"], 4001);
    assert!(summary["silent"]["pingsIgnored"].as_u64().unwrap() >= 1);
    // 1009 as the seed says; or 1006 when the server's socket was reset with the
    // rest of the huge message unread (the WebSocket layer ends the stream at the
    // oversized frame, so it cannot be read away): the client is cut off either
    // way, and `huge_message_closes_with_1009` checks the code itself.
    let huge = summary["huge"]["closeCode"].as_u64();
    assert!(matches!(huge, Some(1009 | 1006)), "{summary:#}");

    // Unharmed: a fresh client of ours is served, and nothing the script left lingers.
    let mut client = connect(&server).await;
    let count = client.ok("store.count", json!({"bucket": "users"})).await;
    assert_eq!(count, 3, "Bob, Carol and Dora, and not the huge insert");
    support::until("only our client is connected", || {
        server.connection_count() == 1
    })
    .await;
    assert!(server.is_running());
}
