//! The agent starts by itself with the first process, where `noex` looks for it.
#![cfg(all(unix, feature = "agent"))]
//! (Its own test binary: the agent is one per OS process, and this test owns it.)

use std::os::unix::fs::PermissionsExt;

use noex::gen_server::{self, StartOptions};
use noex_agent::client::Client;

mod support;
use support::Idle;

#[tokio::test]
async fn the_first_process_starts_the_agent_on_a_private_socket_named_by_pid() {
    // `$NOEX_AGENT_DIR`, which `support` set to a directory of this binary's own.
    let dir = support::sandbox::agent_dir();
    assert!(!dir.exists(), "made by the agent, not before");
    assert_eq!(noex::agent::socket_path(), None, "nothing started yet");

    let _server = gen_server::start(Idle, StartOptions::new().name("autostart.named"))
        .await
        .unwrap();

    let socket = dir.join(format!("{}.sock", std::process::id()));
    assert_eq!(noex::agent::socket_path(), Some(socket.clone()));
    let dir_mode = std::fs::metadata(dir).unwrap().permissions().mode() & 0o777;
    let socket_mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
    assert_eq!((dir_mode, socket_mode), (0o700, 0o600));

    let mut client = Client::connect(&socket).await.unwrap();
    assert_eq!(client.hello().pid, std::process::id());
    let snapshot = client.snapshot().await.unwrap();
    assert!(
        snapshot
            .servers
            .iter()
            .any(|s| s.name.as_deref() == Some("autostart.named"))
    );

    #[cfg(target_os = "linux")]
    assert_sockets_close_on_exec();

    noex::agent::shutdown();
    assert!(!socket.exists(), "a clean shutdown removes the socket");
    assert_eq!(noex::agent::socket_path(), None);
}

/// Every socket this process holds now (the agent's listener and its connection among
/// them) is close-on-exec: a program the app runs does not inherit the agent's socket
/// and keep it listening after the app has gone.
#[cfg(target_os = "linux")]
fn assert_sockets_close_on_exec() {
    const O_CLOEXEC: u32 = 0o2_000_000;
    let mut sockets = 0;
    for entry in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let fd = entry.file_name().into_string().unwrap();
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        if !target.to_string_lossy().starts_with("socket:") {
            continue;
        }
        let Ok(info) = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")) else {
            continue;
        };
        let flags = info
            .lines()
            .find_map(|line| line.strip_prefix("flags:"))
            .map(|octal| u32::from_str_radix(octal.trim(), 8).unwrap())
            .unwrap();
        assert_ne!(flags & O_CLOEXEC, 0, "socket fd {fd} is inherited by exec");
        sockets += 1;
    }
    assert!(
        sockets >= 3,
        "the listener, and both ends of the connection: {sockets}"
    );
}
