//! The real `noex` binary against a real agent socket, served from this test process by
//! a fake application (fixed data, no runtime): exit codes, target selection, and the
//! output of every command as a user sees it.
//!
//! The end-to-end tests with a real noex application live in the workspace's `tests/`.
//!
//! Long on purpose: every command shares one fake application and one way of running
//! the binary, and a reader compares the commands' outputs side by side.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use futures::future::BoxFuture;
use noex_agent::backend::Backend;
use noex_agent::protocol::{ActionOutcome, ErrorBody, ErrorCode, ProcessRef};
use noex_agent::server::{Agent, AgentHandle, AgentOptions};
use noex_agent::types::*;
use tokio::sync::broadcast;

const NOW_MS: u64 = 1_709_301_807_512;

/// A fake application: one supervisor, three workers, two of them sharing a label.
struct FakeApp {
    events: broadcast::Sender<LifecycleEvent>,
}

fn worker(pid: u64, name: Option<&str>, child_id: &str) -> ServerInfo {
    ServerInfo {
        pid: Pid(pid),
        name: name.map(str::to_string),
        child_id: Some(child_id.to_string()),
        parent: Some(Pid(1)),
        type_name: "Worker".into(),
        status: ProcessStatus::Running,
        messages: pid * 100,
        queue_len: 0,
        started_at_ms: NOW_MS - 60_000,
        restarts: 0,
        busy_ns: 1_000_000,
        handler_running_ns: None,
        last_error: None,
        system: false,
        state: None,
    }
}

fn app_sup() -> SupervisorInfo {
    let child = |id: &str, pid| ChildInfo {
        id: id.into(),
        pid: Some(Pid(pid)),
        restart: RestartType::Permanent,
        kind: ChildKind::Worker,
    };
    SupervisorInfo {
        pid: Pid(1),
        name: Some("app_sup".into()),
        child_id: None,
        parent: None,
        status: ProcessStatus::Running,
        strategy: Strategy::OneForOne,
        intensity: Intensity {
            max_restarts: 3,
            within_ms: 5_000,
        },
        children: vec![
            child("worker-1", 5),
            child("twin", 6),
            child("cache", 7),
            ChildInfo {
                id: "reporter".into(),
                pid: None,
                restart: RestartType::Transient,
                kind: ChildKind::Worker,
            },
        ],
        child_restarts: 1,
        restarts: 0,
        started_at_ms: NOW_MS - 60_000,
        last_error: None,
        system: false,
    }
}

fn servers() -> Vec<ServerInfo> {
    let mut system = worker(9, None, "connection");
    system.system = true;
    system.parent = None;
    vec![
        worker(5, None, "worker-1"),
        worker(6, None, "twin"),
        worker(7, Some("twin"), "cache"),
        system,
    ]
}

fn event(seq: u64, pid: u64, child_id: &str, kind: EventKind) -> LifecycleEvent {
    LifecycleEvent {
        seq,
        at_ms: NOW_MS + seq,
        pid: Pid(pid),
        name: None,
        child_id: Some(child_id.into()),
        parent: Some(Pid(1)),
        system: false,
        kind,
    }
}

fn history() -> Vec<LifecycleEvent> {
    vec![
        event(1, 5, "worker-1", EventKind::Started),
        event(
            2,
            5,
            "worker-1",
            EventKind::Crashed {
                error: "boom".into(),
            },
        ),
        event(3, 8, "worker-1", EventKind::Restarted { attempt: 1 }),
        LifecycleEvent {
            system: true,
            ..event(4, 9, "connection", EventKind::Started)
        },
    ]
}

impl Backend for FakeApp {
    fn snapshot(&self) -> Snapshot {
        Snapshot {
            taken_at_ms: NOW_MS,
            app: "fake".into(),
            os_pid: std::process::id(),
            uptime_ms: 60_000,
            process_count: 5,
            total_messages: 2_000,
            memory_rss_bytes: Some(10 << 20),
            servers: servers(),
            supervisors: vec![app_sup()],
        }
    }

    /// As a real agent builds it: from its own snapshot.
    fn tree(&self) -> ProcessTree {
        ProcessTree::from_snapshot(&self.snapshot())
    }

    fn subscribe(
        &self,
        history_len: usize,
    ) -> (Vec<LifecycleEvent>, broadcast::Receiver<LifecycleEvent>) {
        let all = history();
        let skip = all.len().saturating_sub(history_len);
        (all[skip..].to_vec(), self.events.subscribe())
    }

    fn kill(
        &self,
        pid: Pid,
        _reason: Option<String>,
    ) -> BoxFuture<'static, Result<ActionOutcome, ErrorBody>> {
        let outcome = outcome(pid);
        Box::pin(async move { outcome })
    }

    fn restart(&self, pid: Pid) -> BoxFuture<'static, Result<ActionOutcome, ErrorBody>> {
        let outcome = outcome(pid);
        Box::pin(async move { outcome })
    }
}

fn outcome(pid: Pid) -> Result<ActionOutcome, ErrorBody> {
    let server = servers()
        .into_iter()
        .find(|s| s.pid == pid)
        .ok_or_else(|| {
            ErrorBody::new(ErrorCode::NotSupervised, format!("{pid} has no supervisor"))
        })?;
    Ok(ActionOutcome {
        target: ProcessRef {
            pid,
            name: server.name,
            child_id: server.child_id,
        },
        supervisor: Some(ProcessRef {
            pid: Pid(1),
            name: Some("app_sup".into()),
            child_id: None,
        }),
        new_pid: Some(Pid(100 + pid.id())),
    })
}

/// A fake application's agent, listening in a private agent directory.
struct Harness {
    /// The agent directory, inside `_temp`, which removes it with everything in it.
    dir: PathBuf,
    _temp: tempfile::TempDir,
    events: broadcast::Sender<LifecycleEvent>,
    agents: Vec<AgentHandle>,
    runtime: tokio::runtime::Runtime,
}

impl Harness {
    /// An agent named after this process's pid, so discovery finds it like a real app.
    fn start() -> Harness {
        Harness::with_options(|options| options)
    }

    fn with_options(configure: impl FnOnce(AgentOptions) -> AgentOptions) -> Harness {
        let harness = Harness::empty();
        let path = harness.dir.join(format!("{}.sock", std::process::id()));
        harness.add_agent(&path, configure)
    }

    /// An agent directory with no agent in it.
    fn empty() -> Harness {
        let temp = tempfile::Builder::new()
            .prefix("noex-cli-test-")
            .tempdir()
            .expect("temp dir");
        // The agent's own rules for its directory: 0700, ours.
        let dir = temp.path().join("agents");
        noex_agent::discovery::ensure_agent_dir(&dir).expect("agent dir");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        Harness {
            dir,
            _temp: temp,
            events: broadcast::channel(64).0,
            agents: Vec::new(),
            runtime,
        }
    }

    fn add_agent(
        mut self,
        path: &Path,
        configure: impl FnOnce(AgentOptions) -> AgentOptions,
    ) -> Harness {
        let backend = Arc::new(FakeApp {
            events: self.events.clone(),
        });
        let options = configure(AgentOptions::new("fake").socket_path(path));
        let agent = self
            .runtime
            .block_on(async { Agent::start(options, backend) })
            .expect("agent starts");
        self.agents.push(agent);
        self
    }

    fn noex(&self) -> Command {
        let mut command = Command::cargo_bin("noex").expect("the noex binary");
        command
            .env("NOEX_AGENT_DIR", &self.dir)
            .env_remove("NO_COLOR")
            .timeout(Duration::from_secs(20));
        command
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        // The agents first (they remove their sockets), then the directory.
        self.agents.clear();
    }
}

fn stdout_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn ps_shows_the_only_application_without_flags() {
    let app = Harness::start();
    let output = app.noex().arg("ps").output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let text = stdout_of(&output);
    assert!(text.starts_with("  PID  NAME"), "{text}");
    assert!(text.contains("worker-1"), "{text}");
    assert!(
        !text.contains("connection"),
        "system processes hidden: {text}"
    );
    assert!(!text.contains('\u{1b}'), "no colour in a pipe: {text:?}");
    assert_eq!(
        text,
        "  PID  NAME      TYPE        PARENT  STATUS   STATE  MSGS  QUEUE  RESTARTS  BUSY  UPTIME  LAST ERROR
<0.1>  app_sup   supervisor       -  running  -         -      -         0     -  1m 00s
<0.5>  worker-1  Worker       <0.1>  running  -       500      0         0   1ms  1m 00s
<0.6>  twin      Worker       <0.1>  running  -       600      0         0   1ms  1m 00s
<0.7>  twin      Worker       <0.1>  running  -       700      0         0   1ms  1m 00s
"
    );

    let all = app.noex().args(["ps", "--all"]).output().unwrap();
    assert!(stdout_of(&all).contains("connection"));
}

#[test]
fn ps_json_is_an_array_of_rows_with_numeric_pids() {
    let app = Harness::start();
    let output = app
        .noex()
        .args(["ps", "--json", "--sort", "messages"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let rows: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0]["pid"], 7, "most messages first");
    for field in [
        "pid",
        "name",
        "child_id",
        "parent",
        "status",
        "messages",
        "queue_len",
        "restarts",
    ] {
        assert!(rows[0].get(field).is_some(), "missing {field}");
    }
}

#[test]
fn tree_draws_children_in_order_with_stopped_specs() {
    let app = Harness::start();
    let output = app.noex().arg("tree").output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let text = stdout_of(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("app_sup <0.1>  supervisor one_for_one  running"),
        "{text}"
    );
    assert!(lines[1].starts_with("├── worker-1 <0.5>"), "{text}");
    assert!(
        lines[4].starts_with("└── reporter  stopped  transient"),
        "{text}"
    );
    assert_eq!(
        text,
        "app_sup <0.1>  supervisor one_for_one  running  1 child restart
├── worker-1 <0.5>  Worker  running
├── twin <0.6>  Worker  running
├── twin <0.7>  Worker  running
└── reporter  stopped  transient
"
    );

    let json = app.noex().args(["tree", "--json"]).output().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(doc["roots"][0]["children"][3]["kind"], "stopped");
}

#[test]
fn kill_says_who_restarted_the_process() {
    let app = Harness::start();
    let output = app.noex().args(["kill", "worker-1"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(
        stdout_of(&output),
        "worker-1 <0.5> killed; restarted by app_sup as <0.105>\n"
    );
}

#[test]
fn restart_by_pid_says_what_happened() {
    let app = Harness::start();
    let output = app.noex().args(["restart", "<0.7>"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    assert_eq!(
        stdout_of(&output),
        "twin <0.7> restarted by app_sup as <0.107>\n"
    );

    let json = app
        .noex()
        .args(["restart", "5", "--json"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(doc["new_pid"], 105);
    assert_eq!(doc["action"], "restart");
}

#[test]
fn an_ambiguous_target_fails_listing_the_candidates() {
    let app = Harness::start();
    let output = app.noex().args(["kill", "twin"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = stderr_of(&output);
    let first = err.lines().next().unwrap();
    assert!(first.starts_with("error: \"twin\" is ambiguous"), "{err}");
    assert!(
        first.contains("twin <0.6>") && first.contains("twin <0.7>"),
        "{err}"
    );
    assert!(err.contains("hint:"), "{err}");
    assert!(output.stdout.is_empty());
}

#[test]
fn an_unknown_target_fails_with_exit_1() {
    let app = Harness::start();
    let output = app.noex().args(["restart", "nobody"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr_of(&output).starts_with("error: no process named \"nobody\""));
}

#[test]
fn a_read_only_agent_refuses_kill_with_a_hint() {
    let app = Harness::with_options(|options| options.read_only(true));
    let output = app.noex().args(["kill", "worker-1"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = stderr_of(&output);
    assert!(err.starts_with("error: this agent is read-only"), "{err}");
    assert!(err.contains("hint: "), "{err}");
}

#[test]
fn events_prints_recent_history_without_system_events() {
    let app = Harness::start();
    let output = app
        .noex()
        .args(["events", "--history", "10", "--utc"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let text = stdout_of(&output);
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(
        text.lines().nth(1).unwrap().contains("crashed        boom"),
        "{text}"
    );
    assert_eq!(
        text,
        "14:03:27.513    <0.5>  worker-1        started        under <0.1>
14:03:27.514    <0.5>  worker-1        crashed        boom
14:03:27.515    <0.8>  worker-1        restarted      by <0.1>, attempt 1
"
    );

    let json = app
        .noex()
        .args(["events", "--json", "--all"])
        .output()
        .unwrap();
    let lines: Vec<serde_json::Value> = stdout_of(&json)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[1]["kind"], "crashed");
    assert_eq!(lines[1]["error"], "boom");
}

#[test]
fn events_follow_prints_live_events_and_ends_when_the_app_exits() {
    let mut app = Harness::start();
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("noex"))
        .args(["events", "--follow", "--history", "0", "--json"])
        .env("NOEX_AGENT_DIR", &app.dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Lines as they come, read on a thread so that a silent noex fails the test
    // instead of hanging it.
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (sender, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines() {
            if sender.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    // Only against a hang: each wait below is for something that comes at once.
    let guard = Duration::from_secs(30);

    // Wait until noex has subscribed, then publish one event.
    let deadline = Instant::now() + guard;
    while app.events.receiver_count() == 0 {
        assert!(Instant::now() < deadline, "noex never subscribed");
        std::thread::sleep(Duration::from_millis(20));
    }
    app.events
        .send(event(
            10,
            5,
            "worker-1",
            EventKind::Crashed {
                error: "live".into(),
            },
        ))
        .unwrap();
    let line = lines.recv_timeout(guard).expect("the live event, printed");
    let line: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(line["kind"], "crashed", "{line}");
    assert_eq!(line["seq"], 10, "no history before it: {line}");
    assert_eq!(line["error"], "live");

    app.agents.clear(); // the application exits
    let deadline = Instant::now() + guard;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "noex kept following a dead app");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    assert!(
        lines.recv_timeout(guard).is_err(),
        "nothing more on stdout once the app is gone"
    );
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(
        stderr,
        "the application closed the connection (it has probably exited)\n"
    );
}

#[test]
fn list_shows_every_application() {
    let app = Harness::start();
    let output = app.noex().arg("list").output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));
    let text = stdout_of(&output);
    assert!(
        text.contains(&format!("{}  fake", std::process::id())),
        "{text}"
    );

    let json = app.noex().args(["list", "--json"]).output().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(doc[0]["app"], "fake");
    assert_eq!(doc[0]["processes"], 4);
    assert_eq!(doc[0]["reachable"], true);
}

#[test]
fn list_with_no_applications_succeeds_with_an_empty_array() {
    let none = Harness::empty();
    let json = none.noex().args(["list", "--json"]).output().unwrap();
    assert_eq!(json.status.code(), Some(0));
    assert_eq!(stdout_of(&json).trim(), "[]");
}

#[test]
fn no_application_is_exit_2_with_a_hint() {
    let none = Harness::empty();
    let output = none.noex().arg("ps").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let err = stderr_of(&output);
    assert!(
        err.starts_with("error: no noex application found\nhint: "),
        "{err}"
    );
}

#[test]
fn several_applications_are_listed_and_exit_2() {
    // Pid 1 always exists, so discovery takes a socket named after it as live.
    let app = Harness::start();
    let other = app.dir.join("1.sock");
    let app = app.add_agent(&other, |options| options.app_name("other"));
    let output = app.noex().arg("tree").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let err = stderr_of(&output);
    assert!(
        err.starts_with("error: 2 noex applications are running; choose one with --pid"),
        "{err}"
    );
    let rows: Vec<&str> = err.lines().map(str::trim).collect();
    assert!(rows.contains(&"1  other"), "{err}");
    let fake = format!("{}  fake", std::process::id());
    assert!(rows.contains(&fake.as_str()), "{err}");

    let chosen = app.noex().args(["tree", "--pid", "1"]).output().unwrap();
    assert_eq!(chosen.status.code(), Some(0), "{}", stderr_of(&chosen));
}

#[test]
fn a_pid_without_an_agent_is_exit_2() {
    let none = Harness::empty();
    let output = none
        .noex()
        .args(["ps", "--pid", &std::process::id().to_string()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr_of(&output).contains("has no noex agent"),
        "{}",
        stderr_of(&output)
    );
}

#[test]
fn a_socket_path_attaches_directly() {
    let app = Harness::start();
    let path = app.dir.join(format!("{}.sock", std::process::id()));
    let output = Command::cargo_bin("noex")
        .unwrap()
        .env("NOEX_AGENT_DIR", "/nonexistent")
        .args(["ps", "--socket"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_of(&output));

    let missing = app
        .noex()
        .args(["ps", "--socket", "/nonexistent/x.sock"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn usage_errors_are_exit_2() {
    let none = Harness::empty();
    let output = none
        .noex()
        .args(["ps", "--sort", "colour"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

/// `--color always` colours even a pipe, and wins over `NO_COLOR`, as no-color.org
/// wants of an explicit flag.
#[test]
fn colour_is_forced_by_the_flag_even_with_no_color() {
    let app = Harness::start();
    let forced = app
        .noex()
        .args(["--color", "always", "kill", "worker-1"])
        .output()
        .unwrap();
    assert!(stdout_of(&forced).contains('\u{1b}'));
    let err = app
        .noex()
        .args(["--color", "always", "kill", "nobody"])
        .output()
        .unwrap();
    assert!(stderr_of(&err).contains('\u{1b}'));
    let flag_wins = app
        .noex()
        .env("NO_COLOR", "1")
        .args(["--color", "always", "kill", "worker-1"])
        .output()
        .unwrap();
    assert!(stdout_of(&flag_wins).contains('\u{1b}'));
}

/// On a terminal, output is coloured by default; `NO_COLOR` (any value but empty),
/// `TERM=dumb` and `--color never` turn it off, on stdout and on stderr alike.
#[cfg(target_os = "linux")]
#[test]
fn on_a_terminal_colour_is_on_unless_no_color() {
    const KILLED: &str = "worker-1 <0.5> killed; restarted by app_sup as <0.105>\n";
    let app = Harness::start();
    let kill = |env: &[(&str, &str)], args: &[&str]| {
        let mut command = StdCommand::new(assert_cmd::cargo::cargo_bin("noex"));
        command
            .env("NOEX_AGENT_DIR", &app.dir)
            .env_remove("NO_COLOR")
            .env("TERM", "xterm-256color")
            .envs(env.iter().copied())
            .args(args);
        on_a_terminal(command)
    };

    // Coloured by default: so the plain output below is NO_COLOR's doing, not a
    // terminal that went unnoticed.
    let (code, coloured) = kill(&[], &["kill", "worker-1"]);
    assert_eq!(code, 0, "{coloured}");
    assert!(coloured.contains('\u{1b}'), "{coloured:?}");
    let (_, error) = kill(&[], &["kill", "nobody"]);
    assert!(error.contains('\u{1b}'), "{error:?}");

    for (env, args) in [
        (&[("NO_COLOR", "1")][..], &["kill", "worker-1"][..]),
        (&[("NO_COLOR", "0")], &["kill", "worker-1"]),
        (&[("TERM", "dumb")], &["kill", "worker-1"]),
        (&[], &["--color", "never", "kill", "worker-1"]),
    ] {
        let (code, plain) = kill(env, args);
        assert_eq!(code, 0, "{plain}");
        assert_eq!(plain, KILLED, "{env:?} {args:?}");
    }
    let (code, error) = kill(&[("NO_COLOR", "1")], &["kill", "nobody"]);
    assert_eq!(code, 1, "{error}");
    assert!(error.starts_with("error: no process named"), "{error:?}");
    assert!(!error.contains('\u{1b}'), "{error:?}");

    // An empty NO_COLOR does not count (no-color.org).
    let (_, coloured) = kill(&[("NO_COLOR", "")], &["kill", "worker-1"]);
    assert!(coloured.contains('\u{1b}'), "{coloured:?}");
}

/// Run `command` with a pseudo-terminal as its stdout and stderr (stdin empty): its
/// exit code and everything it wrote, with the terminal's `\r\n` read as `\n`.
#[cfg(target_os = "linux")]
fn on_a_terminal(mut command: StdCommand) -> (i32, String) {
    use std::ffi::CStr;
    use std::fs::File;
    use std::io::Read;
    use std::os::fd::FromRawFd;
    use std::os::unix::fs::OpenOptionsExt;

    // SAFETY: plain libc calls on a descriptor this function owns; `name` is a
    // NUL-terminated buffer that ptsname_r fills.
    let (mut terminal, name) = unsafe {
        let fd = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(fd >= 0, "posix_openpt: {}", std::io::Error::last_os_error());
        let terminal = File::from_raw_fd(fd);
        assert_eq!(libc::grantpt(fd), 0, "grantpt");
        assert_eq!(libc::unlockpt(fd), 0, "unlockpt");
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(libc::ptsname_r(fd, name.as_mut_ptr(), name.len()), 0);
        let name = CStr::from_ptr(name.as_ptr()).to_str().unwrap().to_string();
        (terminal, name)
    };
    let open_side = || {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY)
            .open(&name)
            .expect("the terminal's other side")
    };
    let mut child = command
        .stdin(Stdio::null())
        .stdout(open_side())
        .stderr(open_side())
        .spawn()
        .unwrap();
    // Our copies of the child's side: closed, so the read ends when the child exits.
    drop(command);
    let (sender, output) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let mut buf = [0u8; 4096];
        // Linux reports the closed side as EIO rather than end of file.
        while let Ok(n @ 1..) = terminal.read(&mut buf) {
            bytes.extend_from_slice(&buf[..n]);
        }
        let _ = sender.send(bytes);
    });
    // Only against a hang: the command answers at once.
    let bytes = output
        .recv_timeout(Duration::from_secs(30))
        .expect("noex ended on a terminal");
    let status = child.wait().unwrap();
    let text = String::from_utf8(bytes).unwrap().replace("\r\n", "\n");
    (status.code().unwrap_or(-1), text)
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    let app = Harness::start();
    // The reader is gone before noex starts, like `| head -0`: its first write fails.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = StdCommand::new(assert_cmd::cargo::cargo_bin("noex"))
        .args(["ps", "--all"])
        .env("NOEX_AGENT_DIR", &app.dir)
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(output.stderr.is_empty(), "{}", stderr_of(&output));
}
