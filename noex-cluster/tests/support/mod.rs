//! A real `nats-server` with JetStream for the tests, and node processes.
//!
//! Tests that need `nats-server` skip with a note when it is missing, unless
//! NOEX_REQUIRE_TEST_TOOLS=1 (CI installs it and sets that: nothing is skipped there).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long a test waits for something that should happen in well under a second:
/// long, because a wait ends when the thing happens, and only a failing test waits.
pub const PATIENCE: Duration = Duration::from_secs(60);

pub fn required() -> bool {
    std::env::var("NOEX_REQUIRE_TEST_TOOLS").is_ok_and(|value| value == "1")
}

fn nats_server_binary() -> Option<PathBuf> {
    [
        "/usr/sbin/nats-server",
        "/usr/bin/nats-server",
        "/usr/local/bin/nats-server",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|path| path.exists())
    .or_else(|| {
        Command::new("nats-server")
            .arg("--version")
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|_| PathBuf::from("nats-server"))
    })
}

/// Keeps the agent of this test binary off: a test's own node leaves no socket (and
/// no agent directory) behind. Called before any process starts.
pub fn agent_off() {
    // SAFETY: set before any process starts, the same value by every test of the binary.
    unsafe { std::env::set_var("NOEX_AGENT", "off") }
}

/// A `nats-server -js` of the test's own, on a port it picks; killed on drop.
pub struct Nats {
    binary: PathBuf,
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Nats {
    /// Start one, or `None` (the test skips) where `nats-server` is missing.
    pub fn start() -> Option<Nats> {
        let Some(binary) = nats_server_binary() else {
            assert!(
                !required(),
                "nats-server is required (NOEX_REQUIRE_TEST_TOOLS=1)"
            );
            eprintln!(
                "skipped: no `nats-server` on this machine (Debian: apt install nats-server)"
            );
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let (child, port) = spawn(&binary, dir.path(), None);
        Some(Nats {
            binary,
            child,
            port,
            dir,
        })
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The server's OS process id (the cluster bench reads its CPU time).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kill the server with SIGKILL.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Start it again on the same port and store: JetStream's state is kept.
    pub fn restart(&mut self) {
        let (child, _) = spawn(&self.binary, self.dir.path(), Some(self.port));
        self.child = child;
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.kill();
    }
}

// The child is handed to `Nats`, whose drop kills and waits for it.
#[allow(clippy::zombie_processes)]
fn spawn(binary: &Path, dir: &Path, port: Option<u16>) -> (Child, u16) {
    let ports = dir.join("ports");
    let _ = std::fs::remove_dir_all(&ports);
    std::fs::create_dir_all(&ports).unwrap();
    let mut child = Command::new(binary)
        .args(["-js", "-a", "127.0.0.1", "-p"])
        .arg(port.map_or("-1".to_string(), |port| port.to_string()))
        .arg("-sd")
        .arg(dir.join("store"))
        .arg("--ports_file_dir")
        .arg(&ports)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nats-server starts");
    // The server writes its ports file once it listens.
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        if let Some(port) = read_port(&ports) {
            return (child, port);
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("nats-server never listened");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read_port(dir: &Path) -> Option<u16> {
    let entry = std::fs::read_dir(dir).ok()?.flatten().next()?;
    let text = std::fs::read_to_string(entry.path()).ok()?;
    // {"nats":["nats://127.0.0.1:PORT"],...}
    let after = text.split("nats://").nth(1)?;
    let port: String = after
        .split(':')
        .nth(1)?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    port.parse().ok()
}

/// A node in a process of its own: this test binary again, running the ignored
/// test `node_process` (tests/nodes.rs), driven by lines on its stdin and telling
/// what it sees in lines on its stdout.
pub struct NodeProcess {
    pub name: String,
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
}

impl NodeProcess {
    pub fn start(name: &str, url: &str) -> NodeProcess {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "node_process",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("NOEX_TEST_NODE", name)
            .env("NOEX_TEST_NATS", url)
            .env("NOEX_AGENT", "off")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the node process starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let mut node = NodeProcess {
            name: name.to_string(),
            child,
            stdin,
            lines,
        };
        node.expect("joined");
        node
    }

    pub fn send(&mut self, line: &str) {
        use std::io::Write;
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// The next line that starts with `prefix`, others skipped.
    pub fn expect(&mut self, prefix: &str) -> String {
        self.expect_one_of(&[prefix])
    }

    /// The next line that starts with any of `prefixes`, others skipped: for lines
    /// that two tasks of the node print in either order.
    pub fn expect_one_of(&mut self, prefixes: &[&str]) -> String {
        let deadline = std::time::Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if prefixes.iter().any(|prefix| line.starts_with(prefix)) => {
                    return line;
                }
                Ok(_) => continue,
                Err(_) => panic!("node {} never said any of {prefixes:?}", self.name),
            }
        }
    }

    pub fn os_pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no goodbye, no cleanup; the others must notice by themselves.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
