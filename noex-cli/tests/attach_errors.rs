//! What the real `noex` binary says when there is no agent to attach to: exit 2, and a
//! message that tells an exited process and a socket left behind by a crashed
//! application from a running process without an agent.

#![cfg(unix)]

use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;

const LIST_HINT: &str = "`noex list` shows the running noex applications";

/// An empty agent directory, with the agent's own permissions.
fn agent_dir() -> (tempfile::TempDir, PathBuf) {
    let temp = tempfile::Builder::new()
        .prefix("noex-cli-attach-")
        .tempdir()
        .expect("temp dir");
    let dir = temp.path().join("agents");
    noex_agent::discovery::ensure_agent_dir(&dir).expect("agent dir");
    (temp, dir)
}

fn noex(agent_dir: &Path) -> Command {
    let mut command = Command::cargo_bin("noex").expect("the noex binary");
    command
        .env("NOEX_AGENT_DIR", agent_dir)
        .env_remove("NO_COLOR")
        .timeout(Duration::from_secs(20));
    command
}

/// The pid of a process that has exited and been waited for: no process has it
/// (pids are handed out in order, so it is not reused this soon).
fn exited_pid() -> u32 {
    let mut child = std::process::Command::new("true")
        .spawn()
        .expect("spawn true");
    let pid = child.id();
    child.wait().expect("wait for true");
    pid
}

/// `(exit code, stderr)` of `noex` run with `args`.
fn run(agent_dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let output = noex(agent_dir).args(args).output().expect("run noex");
    assert!(output.stdout.is_empty(), "{output:?}");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_pid_whose_process_has_exited_is_reported_as_not_running() {
    let (_temp, dir) = agent_dir();
    let pid = exited_pid().to_string();
    let (code, stderr) = run(&dir, &["ps", "--pid", &pid]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(
        stderr.lines().next(),
        Some(format!("error: no process with pid {pid} is running").as_str()),
        "{stderr}"
    );
}

/// A crashed application leaves its socket file with nobody listening on it.
#[test]
fn a_socket_left_by_an_exited_application_is_exit_2_not_a_failure() {
    let (_temp, dir) = agent_dir();
    let pid = exited_pid();
    let stale = dir.join(format!("{pid}.sock"));
    drop(UnixListener::bind(&stale).expect("bind"));
    let expected = format!(
        "error: nothing is listening at {} (the application has exited)\nhint: {LIST_HINT}\n",
        stale.display()
    );

    let (code, stderr) = run(&dir, &["ps", "--socket", stale.to_str().unwrap()]);
    assert_eq!((code, stderr.as_str()), (Some(2), expected.as_str()));

    let (code, stderr) = run(&dir, &["ps", "--pid", &pid.to_string()]);
    assert_eq!((code, stderr.as_str()), (Some(2), expected.as_str()));
}
