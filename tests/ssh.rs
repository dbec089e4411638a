//! End to end over SSH: a private `sshd` on a free localhost port, the real `noex`
//! binary run with `--host ssh://USER@127.0.0.1:PORT` through the system `ssh`, and
//! `noex dial-stdio` on the "remote" side relaying to a real demo application.
//!
//! The remote side reaches the demo's private agent directory because the ssh client
//! sends `NOEX_AGENT_DIR` (`SetEnv`) and this sshd accepts it (`AcceptEnv`); the local
//! `noex` gets an agent directory with nothing in it, so only the remote path can
//! answer. Skips without sshd, ssh, ssh-keygen (and tmux for the dashboard), unless
//! NOEX_REQUIRE_TEST_TOOLS is set.

mod support;

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Instant;

use serde_json::Value;
use support::tmux::Tmux;
use support::{Demo, HANG, Output, noex_bin, outside_tool, redact_columns, redact_timer_due};

/// A private sshd, in the foreground, with its keys and config in a temp dir.
struct Sshd {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
    user: String,
}

impl Sshd {
    /// `None` (the test skips) when an outside program is missing.
    fn start() -> Option<Sshd> {
        let sshd = outside_tool("sshd")?;
        outside_tool("ssh")?;
        let keygen = outside_tool("ssh-keygen")?;
        let dir = tempfile::Builder::new()
            .prefix("noex-ssh-")
            .tempdir()
            .unwrap();
        for key in ["host_key", "client_key"] {
            let status = Command::new(&keygen)
                .args(["-q", "-t", "ed25519", "-N", "", "-C", "noex-test", "-f"])
                .arg(dir.path().join(key))
                .status()
                .unwrap();
            assert!(status.success(), "ssh-keygen {key}");
        }
        std::fs::copy(
            dir.path().join("client_key.pub"),
            dir.path().join("authorized_keys"),
        )
        .unwrap();
        // sshd's privilege separation directory; a fresh container has none.
        std::fs::create_dir_all("/run/sshd").unwrap();
        let user = current_user();
        let port = free_port();
        let config = dir.path().join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port {port}\n\
                 ListenAddress 127.0.0.1\n\
                 HostKey {dir}/host_key\n\
                 AuthorizedKeysFile {dir}/authorized_keys\n\
                 PidFile {dir}/sshd.pid\n\
                 StrictModes no\n\
                 UsePAM no\n\
                 PasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\n\
                 PubkeyAuthentication yes\n\
                 PermitRootLogin prohibit-password\n\
                 AcceptEnv NOEX_AGENT_DIR\n\
                 LogLevel ERROR\n",
                dir = dir.path().display()
            ),
        )
        .unwrap();
        // The client trusts exactly this host key: strict checking stays on.
        let host_key = std::fs::read_to_string(dir.path().join("host_key.pub")).unwrap();
        std::fs::write(
            dir.path().join("known_hosts"),
            format!("[127.0.0.1]:{port} {host_key}"),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("ssh_config"),
            format!(
                "Host *\n\
                 \x20 IdentityFile {dir}/client_key\n\
                 \x20 IdentitiesOnly yes\n\
                 \x20 UserKnownHostsFile {dir}/known_hosts\n\
                 \x20 StrictHostKeyChecking yes\n\
                 \x20 LogLevel ERROR\n",
                dir = dir.path().display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("sshd.log")).unwrap();
        let child = Command::new(&sshd)
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut sshd = Sshd {
            child,
            dir,
            port,
            user,
        };
        sshd.wait_until_listening();
        Some(sshd)
    }

    fn wait_until_listening(&mut self) {
        let began = Instant::now();
        while TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).is_err() {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("sshd exited at start ({status}): {}", self.log());
            }
            assert!(
                began.elapsed() < HANG,
                "sshd never listened: {}",
                self.log()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    fn url(&self) -> String {
        format!("ssh://{}@127.0.0.1:{}", self.user, self.port)
    }

    /// NOEX_SSH: ssh with this test's config, sending the demo's agent directory.
    fn ssh_command(&self, remote_agent_dir: &Path) -> String {
        format!(
            "ssh -F {} -o SetEnv=NOEX_AGENT_DIR={}",
            self.dir.path().join("ssh_config").display(),
            remote_agent_dir.display()
        )
    }

    /// A local agent directory with nothing in it: only the remote side can answer.
    fn empty_agent_dir(&self) -> PathBuf {
        self.dir.path().join("no-agents-here")
    }

    /// `noex --host URL ARGS` against the agents in `remote_agent_dir`.
    fn command(&self, remote_agent_dir: &Path, args: &[&str]) -> Command {
        let url = self.url();
        let mut with_host = vec!["--host", &url];
        with_host.extend(args);
        self.without_host(remote_agent_dir, &with_host)
    }

    /// `noex ARGS` with the environment of [`Sshd::command`], and no `--host`.
    fn without_host(&self, remote_agent_dir: &Path, args: &[&str]) -> Command {
        let mut command = Command::new(noex_bin());
        command
            .args(args)
            .env("NOEX_SSH", self.ssh_command(remote_agent_dir))
            .env("NOEX_REMOTE_BIN", noex_bin())
            .env("NOEX_AGENT_DIR", self.empty_agent_dir())
            .env("NO_COLOR", "1")
            .env("TZ", "UTC")
            .stdin(Stdio::null());
        command
    }

    fn noex(&self, remote_agent_dir: &Path, args: &[&str]) -> Output {
        output(self.command(remote_agent_dir, args))
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn output(mut command: Command) -> Output {
    let output = command.output().unwrap();
    Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A port nothing listens on right now (the kernel's pick, then released).
fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    listener.local_addr().unwrap().port()
}

fn ps_table(text: &str) -> String {
    redact_timer_due(&redact_columns(text, &["MSGS", "QUEUE", "BUSY", "UPTIME"]))
}

#[test]
fn ps_over_ssh_prints_what_local_ps_prints() {
    let Some(sshd) = Sshd::start() else { return };
    let demo = Demo::start();
    let local = demo.noex(&["ps"]);
    assert_eq!(local.code, 0, "{}", local.stderr);
    let remote = sshd.noex(&demo.agent_dir(), &["ps"]);
    assert_eq!(remote.code, 0, "{}\nsshd: {}", remote.stderr, sshd.log());
    assert_eq!(remote.stderr, "");
    assert_eq!(ps_table(&remote.stdout), ps_table(&local.stdout));
    assert!(remote.stdout.contains("worker-1"), "{}", remote.stdout);

    // --pid and --socket name a remote process and a remote socket.
    let pid = demo.pid().to_string();
    let by_pid = sshd.noex(&demo.agent_dir(), &["tree", "--pid", &pid]);
    assert_eq!(by_pid.code, 0, "{}", by_pid.stderr);
    assert_eq!(by_pid.stdout, demo.noex(&["tree"]).stdout);
    let socket = demo.socket();
    let by_socket = sshd.noex(
        &sshd.empty_agent_dir(),
        &["ps", "--socket", socket.to_str().unwrap()],
    );
    assert_eq!(by_socket.code, 0, "{}", by_socket.stderr);
    assert_eq!(ps_table(&by_socket.stdout), ps_table(&local.stdout));
    // Process 1 runs there, without an agent: the remote's error, and its exit code.
    let no_agent = sshd.noex(&demo.agent_dir(), &["ps", "--pid", "1"]);
    assert_eq!(no_agent.code, 2, "{}", no_agent.stderr);
    assert!(
        no_agent.stderr.starts_with(&format!(
            "error: process 1 has no noex agent (no socket at {}/1.sock) (on {})\nhint: ",
            demo.agent_dir().display(),
            sshd.url()
        )),
        "{}",
        no_agent.stderr
    );
}

#[test]
fn list_over_ssh_shows_the_remote_applications() {
    let Some(sshd) = Sshd::start() else { return };
    let demo = Demo::start();
    let json = sshd.noex(&demo.agent_dir(), &["list", "--json"]);
    assert_eq!(json.code, 0, "{}", json.stderr);
    let agents: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(agents.as_array().unwrap().len(), 1, "{agents:#}");
    assert_eq!(agents[0]["pid"], demo.pid());
    assert_eq!(agents[0]["app"], "noex-demo");
    assert_eq!(agents[0]["reachable"], true);

    let table = sshd.noex(&demo.agent_dir(), &["list"]);
    assert_eq!(table.code, 0, "{}", table.stderr);
    let local = demo.noex(&["list"]);
    let columns = ["UPTIME", "PROCS", "MSGS", "MEMORY"];
    assert_eq!(
        redact_columns(&table.stdout, &columns),
        redact_columns(&local.stdout, &columns)
    );

    // NOEX_HOST stands for --host, as DOCKER_HOST does.
    let mut command = sshd.without_host(&demo.agent_dir(), &["list", "--json"]);
    command.env("NOEX_HOST", sshd.url());
    let from_env = output(command);
    assert_eq!(from_env.code, 0, "{}", from_env.stderr);
    let agents: Value = serde_json::from_str(&from_env.stdout).unwrap();
    assert_eq!(agents[0]["pid"], demo.pid());

    let nothing = sshd.noex(&sshd.empty_agent_dir(), &["list"]);
    assert_eq!(nothing.code, 0, "{}", nothing.stderr);
    assert_eq!(nothing.stdout, "");
    assert_eq!(
        nothing.stderr,
        format!("no noex application is running on {}\n", sshd.url())
    );
}

#[test]
fn kill_over_ssh_ends_the_worker_and_its_supervisor_restarts_it() {
    let Some(sshd) = Sshd::start() else { return };
    let demo = Demo::start();
    let kill = sshd.noex(&demo.agent_dir(), &["kill", "worker-1"]);
    assert_eq!(kill.code, 0, "{}", kill.stderr);
    assert!(
        kill.stdout
            .starts_with("worker-1 <0.8> killed; restarted by workers as <0."),
        "{}",
        kill.stdout
    );
    // Waits until the restart shows; gives up only against a hang.
    demo.wait_for_ps(|rows| {
        rows.as_array()
            .unwrap()
            .iter()
            .any(|row| row["child_id"] == "worker-1" && row["restarts"] == 1)
    });

    // An agent's error comes back as the local command gives it: exit 1, with its hint.
    let unknown = sshd.noex(&demo.agent_dir(), &["kill", "no-such-worker"]);
    assert_eq!(unknown.code, 1, "{}", unknown.stderr);
    assert_eq!(
        unknown.stderr,
        demo.noex(&["kill", "no-such-worker"]).stderr
    );
}

/// A child process killed (and reaped) when the test ends, passed or not.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn events_follow_over_ssh_receives_the_restart_as_it_happens() {
    let Some(sshd) = Sshd::start() else { return };
    let demo = Demo::start();
    let mut command = sshd.command(
        &demo.agent_dir(),
        &["events", "--follow", "--json", "--history", "1"],
    );
    let mut follower = Reaped(command.stdout(Stdio::piped()).spawn().unwrap());
    let stdout = follower.0.stdout.take().unwrap();
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    // The one event of history says the subscription is in place.
    let first = received.recv_timeout(HANG).expect("the history event");
    assert!(first.starts_with('{'), "{first}");

    assert_eq!(demo.noex(&["kill", "worker-2"]).code, 0);
    let began = Instant::now();
    loop {
        let line = received
            .recv_timeout(HANG.saturating_sub(began.elapsed()))
            .expect("a restarted event before the follower ended");
        let event: Value = serde_json::from_str(&line).unwrap();
        if event["kind"] == "restarted" {
            assert_eq!(event["child_id"], "worker-2");
            assert_eq!(event["attempt"], 1);
            break;
        }
    }
    assert!(follower.0.try_wait().unwrap().is_none(), "still following");
}

#[test]
fn a_missing_remote_noex_says_how_to_install_it_with_exit_code_2() {
    let Some(sshd) = Sshd::start() else { return };
    let demo = Demo::start();
    for args in [&["ps"][..], &["list"][..]] {
        let mut command = sshd.command(&demo.agent_dir(), args);
        command.env("NOEX_REMOTE_BIN", "/no/such/dir/noex");
        let missing = output(command);
        assert_eq!(missing.code, 2, "{}", missing.stderr);
        let lines: Vec<&str> = missing.stderr.lines().collect();
        assert_eq!(
            lines.first().copied(),
            Some(
                format!(
                    "error: noex is not installed on {} (or not on its PATH for \
                     non-interactive ssh)",
                    sshd.url()
                )
                .as_str()
            ),
            "{}",
            missing.stderr
        );
        // The remote shell's own words, then the hint.
        assert!(lines[1].contains("/no/such/dir/noex"), "{}", missing.stderr);
        assert_eq!(
            lines.last().copied(),
            Some(
                "hint: install it there with `cargo install --path noex-cli`, or name it \
                 with --remote-noex PATH (now `/no/such/dir/noex`)"
            )
        );
    }
}

#[test]
fn no_application_on_the_remote_is_exit_code_2_naming_the_host() {
    let Some(sshd) = Sshd::start() else { return };
    let none = sshd.noex(&sshd.empty_agent_dir(), &["ps"]);
    assert_eq!(none.code, 2, "{}", none.stderr);
    assert!(
        none.stderr.starts_with(&format!(
            "error: no noex application found (on {})\nhint: start one",
            sshd.url()
        )),
        "{}",
        none.stderr
    );
}

#[test]
fn an_unreachable_host_shows_what_ssh_said_with_exit_code_2() {
    let Some(sshd) = Sshd::start() else { return };
    let closed = free_port();
    let mut command = Command::new(noex_bin());
    command
        .args(["--host", &format!("ssh://{}@127.0.0.1:{closed}", sshd.user)])
        .arg("ps")
        .env("NOEX_SSH", sshd.ssh_command(&sshd.empty_agent_dir()))
        .env("NO_COLOR", "1");
    let refused = output(command);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    let lines: Vec<&str> = refused.stderr.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "error: ssh could not reach ssh://{}@127.0.0.1:{closed}",
            sshd.user
        )
    );
    assert_eq!(
        lines[1],
        format!("ssh: connect to host 127.0.0.1 port {closed}: Connection refused")
    );
    assert!(
        lines[2].starts_with("hint: check that `ssh` logs in"),
        "{}",
        refused.stderr
    );
}

#[test]
fn a_host_that_is_not_an_ssh_url_is_a_usage_error() {
    let bad = support::run_noex(
        Path::new("/nonexistent"),
        &["--host", "tcp://box:2375", "ps"],
    );
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.starts_with(
            "error: invalid value 'tcp://box:2375' for '--host <URL>': the scheme \"tcp\" \
             is not supported; use ssh://[user@]host[:port]"
        ),
        "{}",
        bad.stderr
    );
}

/// The `noex dial-stdio` processes relaying to the agents in `agent_dir` (the
/// "remote" side runs on this machine), by their command line and environment.
fn relays_for(agent_dir: &Path) -> Vec<u32> {
    let wanted = format!("NOEX_AGENT_DIR={}", agent_dir.display());
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let read = |what: &str| std::fs::read(entry.path().join(what)).unwrap_or_default();
        let cmdline = read("cmdline");
        let is_relay = cmdline.split(|b| *b == 0).any(|arg| arg == b"dial-stdio");
        let environ = read("environ");
        let here = environ
            .split(|b| *b == 0)
            .any(|var| var == wanted.as_bytes());
        if is_relay && here {
            pids.push(pid);
        }
    }
    pids
}

#[test]
fn top_over_ssh_shows_the_remote_process_table_and_reconnects_after_a_drop() {
    let Some(sshd) = Sshd::start() else { return };
    let demo = Demo::start();
    let remote = sshd.ssh_command(&demo.agent_dir());
    let local = sshd.empty_agent_dir();
    let bin = noex_bin();
    let env: [(&str, &std::ffi::OsStr); 4] = [
        ("NOEX_SSH", remote.as_ref()),
        ("NOEX_REMOTE_BIN", bin.as_os_str()),
        ("NOEX_AGENT_DIR", local.as_ref()),
        ("NO_COLOR", "1".as_ref()),
    ];
    let Some(tmux) = Tmux::start(
        sshd.dir.path(),
        (160, 48),
        &env,
        &bin,
        &["--host", &sshd.url(), "top"],
    ) else {
        return;
    };
    let header = format!("demo pid {}", demo.pid());
    let table = [
        &header,
        "● connected",
        "NAME",
        "worker-1",
        "worker-2",
        "app_sup",
    ];
    let screen = tmux
        .wait_for(&table)
        .unwrap_or_else(|screen| panic!("the dashboard never showed the table:\n{screen}"));
    assert!(screen.contains("noex top"), "{screen}");

    // The connection drops (its remote relay ends): the dashboard says so, and
    // reconnects by itself through ssh again.
    let relays = relays_for(&demo.agent_dir());
    assert_eq!(relays.len(), 1, "one dial-stdio serves the dashboard");
    // SAFETY: `kill` touches no memory; the pid is a dial-stdio this test started
    // (through ssh), found a moment ago by its environment.
    unsafe {
        libc::kill(relays[0] as libc::pid_t, libc::SIGTERM);
    }
    tmux.wait_for(&["disconnected"])
        .unwrap_or_else(|screen| panic!("the drop never showed:\n{screen}"));
    tmux.wait_for(&table)
        .unwrap_or_else(|screen| panic!("the dashboard never reconnected:\n{screen}"));
    assert_ne!(relays_for(&demo.agent_dir()), relays, "a new relay");

    // q quits; the ssh child goes with it, and noex exits cleanly.
    tmux.send_keys("q");
    assert_eq!(tmux.exit_status(), 0, "noex top's exit status");
}
