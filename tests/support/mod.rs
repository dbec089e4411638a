//! A real demo application in its own process, and the real `noex` binary to run
//! against it, each test in a private agent directory.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;

#[cfg(unix)]
pub mod raw;
#[cfg(unix)]
pub mod tmux;

/// How long a test waits for what should come at once, only against a hang.
pub const HANG: Duration = Duration::from_secs(30);

/// The `noex` binary that `cargo test --workspace` builds next to the tests.
pub fn noex_bin() -> PathBuf {
    let path = assert_cmd::cargo::cargo_bin("noex");
    assert!(
        path.exists(),
        "{} is missing: run the end-to-end tests with `cargo test --workspace`, which builds it",
        path.display()
    );
    path
}

/// Set by `.ci/run`: a test that needs an outside program fails without it instead
/// of skipping.
pub const REQUIRE_TEST_TOOLS: &str = "NOEX_REQUIRE_TEST_TOOLS";

/// The outside program `name` (sshd, prometheus, promtool, tmux), looked for on
/// `PATH` and in the sbin directories where Debian puts daemons. `None` (the test
/// skips, saying why) when it is missing, unless [`REQUIRE_TEST_TOOLS`] is set: then
/// the test fails, since CI must run everything.
pub fn outside_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file());
    if found.is_none() {
        let why =
            format!("{name} is not installed (`.ci/install-test-tools` installs it, as root)");
        if std::env::var_os(REQUIRE_TEST_TOOLS).is_some_and(|v| v != "0" && !v.is_empty()) {
            panic!("{why}, and {REQUIRE_TEST_TOOLS} says no test may skip");
        }
        eprintln!("skipped: {why}");
    }
    found
}

/// What `noex demo --no-ui` prints once its supervision tree has started.
const RUNNING: &str = "noex demo is running as pid";

/// The demo's own processes, `<0.1>`..=`<0.29>` (its tree to `<0.20>`, then the
/// store and the shop), started in order before any client connects (see
/// [`Demo::wait_until_running`]); later pids (the agent's connections, a restarted
/// worker) depend on how many clients came before.
pub const DEMO_PIDS: u64 = 29;

/// A demo app (`noex demo --no-ui --steady`) with its own agent directory.
pub struct Demo {
    child: Child,
    dir: tempfile::TempDir,
    /// Its agent directory: in `dir`, or another demo's (see [`Demo::start_beside`]).
    agents: PathBuf,
}

impl Demo {
    pub fn start() -> Demo {
        Demo::start_with(&[])
    }

    pub fn start_with(extra: &[&str]) -> Demo {
        let dir = tempfile::Builder::new()
            .prefix("noex-e2e-")
            .tempdir()
            .unwrap();
        let agents = agent_dir(dir.path());
        Demo::start_in(dir, agents, extra)
    }

    /// Another demo app in the same agent directory as `other`, so that the two are
    /// what `--all-agents` (or a picker) finds there. Its pids are its own: each app
    /// numbers its processes from `<0.1>`.
    pub fn start_beside(other: &Demo) -> Demo {
        let dir = tempfile::Builder::new()
            .prefix("noex-e2e-")
            .tempdir()
            .unwrap();
        Demo::start_in(dir, other.agent_dir(), &[])
    }

    fn start_in(dir: tempfile::TempDir, agents: PathBuf, extra: &[&str]) -> Demo {
        let stdout = std::fs::File::create(dir.path().join("demo.stdout")).unwrap();
        let stderr = std::fs::File::create(dir.path().join("demo.stderr")).unwrap();
        let child = Command::new(noex_bin())
            .args(["demo", "--no-ui", "--steady"])
            .args(extra)
            .env("NOEX_AGENT_DIR", &agents)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap();
        let mut demo = Demo { child, dir, agents };
        demo.wait_until_running();
        demo
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn agent_dir(&self) -> PathBuf {
        self.agents.clone()
    }

    /// What the app has printed on its stdout so far.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("demo.stdout")).unwrap()
    }

    pub fn socket(&self) -> PathBuf {
        self.agent_dir().join(format!("{}.sock", self.pid()))
    }

    /// Wait until the app says it is running, which it does once its whole supervision
    /// tree has started, before any client has connected. The agent listens earlier,
    /// and every connection starts processes of the agent's own: a client connecting
    /// while the tree starts would take pids from the middle of it. Waiting keeps the
    /// demo's pids `<0.1>`..=`<0.DEMO_PIDS>` in start order, run after run.
    fn wait_until_running(&mut self) {
        let began = Instant::now();
        loop {
            let stdout = std::fs::read_to_string(self.dir.path().join("demo.stdout")).unwrap();
            if stdout.contains(RUNNING) {
                break;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                let stderr = std::fs::read_to_string(self.dir.path().join("demo.stderr"));
                panic!("the demo app exited at start ({status}): {stderr:?}");
            }
            // Only against a hang: the app starts in well under a second.
            assert!(
                began.elapsed() < Duration::from_secs(60),
                "the demo app never said it was running"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(self.socket().exists(), "its agent listens before it runs");
    }

    /// `noex ARGS` against this app's agent directory (no `--pid`: the one agent there).
    pub fn noex(&self, args: &[&str]) -> Output {
        run_noex(&self.agent_dir(), args)
    }

    /// Wait until `noex ps --json` satisfies `ready`.
    pub fn wait_for_ps(&self, ready: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        let began = Instant::now();
        loop {
            let ps = self.noex(&["ps", "--json"]);
            let rows: serde_json::Value = serde_json::from_str(&ps.stdout).unwrap();
            if ready(&rows) {
                return rows;
            }
            assert!(
                began.elapsed() < Duration::from_secs(30),
                "never ready: {rows:#}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Wait until the app exits by itself; its exit code and what it wrote on stderr.
    pub fn wait_for_exit(&mut self) -> (Option<i32>, String) {
        let began = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                began.elapsed() < Duration::from_secs(20),
                "the demo app did not exit"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let stderr = std::fs::read_to_string(self.dir.path().join("demo.stderr")).unwrap();
        (status.code(), stderr)
    }

    /// Stop the app (SIGTERM) and wait until it has exited.
    pub fn stop(&mut self) {
        #[cfg(unix)]
        // SAFETY: `kill` touches no memory of ours. The child has not been waited for
        // yet (a failed start panics, and `wait_for_exit` is not followed by `stop`), so
        // its pid is still its own and not another process's.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let began = Instant::now();
        while self.child.try_wait().unwrap().is_none() {
            if began.elapsed() > Duration::from_secs(5) {
                let _ = self.child.kill();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The agent directory inside a test's temp dir (the agent creates it 0700).
fn agent_dir(base: &Path) -> PathBuf {
    base.join("agents")
}

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run_noex(agent_dir: &Path, args: &[&str]) -> Output {
    let output = Command::cargo_bin("noex")
        .unwrap()
        .args(args)
        .env("NOEX_AGENT_DIR", agent_dir)
        .env("NO_COLOR", "1")
        .env("TZ", "UTC")
        .output()
        .unwrap();
    Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// Replace the values that change from run to run (counts, durations, times) in
/// a whitespace-aligned table by `_`, column by column, keeping the rest.
///
/// Columns are apart by two spaces or more; one space is inside a cell, as in a
/// header (`LAST ERROR`), an error or a generic type (`KeyedRegistryServer<&str, ()>`).
/// Each line comes back with its cells one space apart.
/// What moves from run to run in a STATE column: when a pending timer is due
/// (`1 timer, next in 125 ms` → `next in _`), and a table's memory estimate, which
/// follows its hash table's growth (`3 objects, 1.3 KiB` → `3 objects, _`). How
/// many timers and objects there are does not move. The same for the demo's store:
/// a bucket's bytes and rate (`40 records, 24.0 KiB, 61 ops/s` → `40 records, _,
/// _ ops/s`; its records and subscribers do not move), and the counts the shop's
/// live queries show (`12 pending` → `_ pending`, `4 orders, 2 open` → `_ orders,
/// _ open`).
pub fn redact_timer_due(text: &str) -> String {
    let due = regex_lite::Regex::new(r"next in [0-9.]+ (ms|s|min)").unwrap();
    let memory = regex_lite::Regex::new(r"objects?, [0-9.]+ (B|KiB|MiB)").unwrap();
    let bucket = regex_lite::Regex::new(r"(records?), [0-9.]+ (B|KiB|MiB), [0-9,]+ ops/s").unwrap();
    let statuses = regex_lite::Regex::new(r"\b[0-9]+ (pending|paid|shipped|delivered)\b").unwrap();
    let orders = regex_lite::Regex::new(r"[0-9]+ (orders?), [0-9]+ open").unwrap();
    let text = due.replace_all(text, "next in _");
    let text = memory.replace_all(&text, "objects, _");
    let text = bucket.replace_all(&text, "$1, _, _ ops/s");
    let text = statuses.replace_all(&text, "_ $1");
    orders.replace_all(&text, "_ orders, _ open").into_owned()
}

pub fn redact_columns(table: &str, columns: &[&str]) -> String {
    let gap = regex_lite::Regex::new(r"\s{2,}").unwrap();
    let cells = |line: &'_ str| -> Vec<String> {
        gap.split(line.trim())
            .filter(|cell| !cell.is_empty())
            .map(str::to_string)
            .collect()
    };
    let mut lines = table.lines();
    let Some(header) = lines.next() else {
        return String::new();
    };
    let names = cells(header);
    let redact: Vec<usize> = names
        .iter()
        .enumerate()
        .filter(|(_, name)| columns.contains(&name.as_str()))
        .map(|(i, _)| i)
        .collect();
    let mut out = vec![names.join(" ")];
    for line in lines {
        let fields: Vec<String> = cells(line)
            .into_iter()
            .enumerate()
            .map(|(i, field)| {
                if redact.contains(&i) {
                    "_".to_string()
                } else {
                    field
                }
            })
            .collect();
        out.push(fields.join(" "));
    }
    out.join("\n")
}

/// Redact pids that depend on how many clients connected before (`<0.N>` above `limit`).
pub fn redact_late_pids(text: &str, limit: u64) -> String {
    let pid = regex_lite::Regex::new(r"<0\.(\d+)>").unwrap();
    pid.replace_all(text, |caps: &regex_lite::Captures| {
        let n: u64 = caps[1].parse().unwrap();
        if n > limit {
            "<0.N>".to_string()
        } else {
            caps[0].to_string()
        }
    })
    .into_owned()
}
