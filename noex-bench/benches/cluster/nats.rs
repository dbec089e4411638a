//! A `nats-server -js` of the bench's own, on a free port of 127.0.0.1, with its
//! JetStream store in a temporary directory; killed when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;

pub struct Nats {
    child: Child,
    port: u16,
    // Kept for the server's lifetime: its store and ports file live there.
    _dir: tempfile::TempDir,
}

impl Nats {
    /// Start one, or `None` where `nats-server` is not installed.
    pub fn start() -> Option<Nats> {
        let binary = binary()?;
        let dir = tempfile::tempdir().expect("a directory for nats-server");
        let ports = dir.path().join("ports");
        std::fs::create_dir(&ports).expect("the ports directory");
        let mut child = Command::new(&binary)
            .args(["-js", "-a", "127.0.0.1", "-p", "-1", "-sd"])
            .arg(dir.path().join("store"))
            .arg("--ports_file_dir")
            .arg(&ports)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server starts");
        // The server writes its ports file once it listens.
        let deadline = Instant::now() + Duration::from_secs(30);
        let port = loop {
            if let Some(port) = read_port(&ports) {
                break port;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("nats-server never listened");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Some(Nats {
            child,
            port,
            _dir: dir,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn binary() -> Option<PathBuf> {
    let installed = ["/usr/sbin/nats-server", "/usr/bin/nats-server"]
        .into_iter()
        .map(PathBuf::from)
        .find(|path| path.exists());
    installed.or_else(|| {
        let on_path = Command::new("nats-server")
            .arg("--version")
            .output()
            .is_ok_and(|out| out.status.success());
        on_path.then(|| PathBuf::from("nats-server"))
    })
}

/// The client port from the ports file: `{"nats":["nats://127.0.0.1:PORT"],...}`.
fn read_port(dir: &Path) -> Option<u16> {
    let entry = std::fs::read_dir(dir).ok()?.flatten().next()?;
    let text = std::fs::read_to_string(entry.path()).ok()?;
    let after = text.split("nats://").nth(1)?;
    let digits: String = after
        .split(':')
        .nth(1)?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

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
