//! End to end, `--all-agents`: several real demo applications in one agent directory,
//! the real `noex` binary asking all of them at once.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;

use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;
use support::{
    DEMO_PIDS, Demo, HANG, redact_columns, redact_late_pids, redact_timer_due, run_noex,
};

macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!($name, $value);
        })
    };
}

/// The OS pids of the demos, which change from run to run, as `OSPID`.
fn redact_os_pids(text: &str, demos: &[&Demo]) -> String {
    demos.iter().fold(text.to_string(), |text, demo| {
        text.replace(&demo.pid().to_string(), "OSPID")
    })
}

#[test]
fn ps_all_agents_lists_every_application_with_its_name_and_os_pid_first() {
    let first = Demo::start();
    let second = Demo::start_beside(&first);
    let ps = first.noex(&["ps", "--all-agents"]);
    assert_eq!(ps.code, 0, "{}", ps.stderr);
    assert!(ps.stderr.is_empty(), "{}", ps.stderr);
    let lines: Vec<&str> = ps.stdout.lines().collect();
    assert_eq!(lines.len(), 1 + 2 * DEMO_PIDS as usize, "{}", ps.stdout);
    // Application order (name, then OS pid), pid order within one.
    let (low, high) = if first.pid() < second.pid() {
        (&first, &second)
    } else {
        (&second, &first)
    };
    assert!(lines[1].starts_with(&format!("noex-demo:{} ", low.pid())));
    assert!(lines[lines.len() - 1].starts_with(&format!("noex-demo:{} ", high.pid())));
    snapshot!(
        "e2e_ps_all_agents",
        redact_os_pids(
            &redact_timer_due(&redact_columns(
                &ps.stdout,
                &["MSGS", "QUEUE", "BUSY", "UPTIME"]
            )),
            &[&first, &second]
        )
    );

    let json = first.noex(&["ps", "--all-agents", "--json"]);
    assert_eq!(json.code, 0, "{}", json.stderr);
    let rows: Value = serde_json::from_str(&json.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2 * DEMO_PIDS as usize);
    for demo in [&first, &second] {
        let own: Vec<&Value> = rows.iter().filter(|r| r["os_pid"] == demo.pid()).collect();
        assert_eq!(own.len(), DEMO_PIDS as usize);
        assert!(
            own.iter()
                .all(|r| r["app"] == "noex-demo" && r["pid"].is_u64())
        );
    }
}

/// Counters sort largest first across every application, as `noex ps --sort` does
/// for one: the worker restarted in the second app comes first.
#[test]
fn ps_all_agents_sorts_counters_largest_first_across_applications() {
    let first = Demo::start();
    let second = Demo::start_beside(&first);
    let pid = second.pid().to_string();
    assert_eq!(first.noex(&["kill", "worker-3", "--pid", &pid]).code, 0);
    let json = first.noex(&["ps", "--all-agents", "--sort", "restarts", "--json"]);
    let rows: Value = serde_json::from_str(&json.stdout).unwrap();
    let top = &rows[0];
    assert_eq!(top["os_pid"], second.pid(), "{top:#}");
    assert_eq!(top["child_id"], "worker-3");
    assert_eq!(top["restarts"], 1);
}

/// An agent that accepts and hangs up at once (as one that is shutting down does)
/// stands for an application that does not answer.
#[cfg(unix)]
fn silent_agent(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join(format!("{}.sock", std::process::id()));
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            drop(stream);
        }
    });
    path
}

#[cfg(unix)]
#[test]
fn an_application_that_does_not_answer_is_named_on_stderr_and_the_others_still_show() {
    let demo = Demo::start();
    let _silent = silent_agent(&demo.agent_dir());
    let ps = demo.noex(&["ps", "--all-agents"]);
    assert_eq!(
        ps.code, 1,
        "exit 1: the operation failed for one application"
    );
    assert_eq!(ps.stdout.lines().count(), 1 + DEMO_PIDS as usize);
    snapshot!(
        "e2e_ps_all_agents_one_silent",
        ps.stderr.replace(&std::process::id().to_string(), "OSPID")
    );
    let events = demo.noex(&["events", "--all-agents", "-n", "1"]);
    assert_eq!(events.code, 1);
    assert!(events.stdout.contains("noex-demo:"), "{}", events.stdout);
}

#[test]
fn all_agents_beside_a_pid_is_a_usage_error() {
    let demo = Demo::start();
    let pid = demo.pid().to_string();
    let ps = demo.noex(&["ps", "--all-agents", "--pid", &pid]);
    assert_eq!(ps.code, 2);
    snapshot!("e2e_all_agents_with_pid", ps.stderr);
    assert_eq!(
        demo.noex(&["events", "--all-agents", "--pid", &pid]).code,
        2
    );
    let empty = tempfile::tempdir().unwrap();
    let none = run_noex(&empty.path().join("agents"), &["ps", "--all-agents"]);
    assert_eq!(none.code, 2, "no application at all");
}

/// `--all-agents` reads this machine's agent directory: over `--host` it would
/// quietly show the wrong machine, so it is refused, as the exporter is.
#[test]
fn all_agents_and_the_exporter_refuse_a_remote_host() {
    let empty = tempfile::tempdir().unwrap();
    let agents = empty.path().join("agents");
    let host = "ssh://ana@box";
    for args in [
        &["--host", host, "ps", "--all-agents"][..],
        &["--host", host, "events", "--all-agents"],
        &["--host", host, "metrics", "--all-agents"],
    ] {
        let out = run_noex(&agents, args);
        assert_eq!(out.code, 2, "{args:?}");
        assert_eq!(
            out.stderr,
            "error: --all-agents reads the applications of this machine, not over --host\n\
             hint: run it on that machine; `noex --host ssh://ana@box list` shows the applications there\n",
            "{args:?}"
        );
    }
    let exporter = run_noex(&agents, &["--host", host, "exporter"]);
    assert_eq!(exporter.code, 2);
    assert!(
        exporter.stderr.starts_with(
            "error: the exporter serves the applications of the machine it runs on, not over --host"
        ),
        "{}",
        exporter.stderr
    );
}

#[test]
fn events_all_agents_merges_the_histories_by_time() {
    let first = Demo::start();
    let second = Demo::start_beside(&first);
    let pid = second.pid().to_string();
    assert_eq!(first.noex(&["kill", "worker-2", "--pid", &pid]).code, 0);
    let events = first.noex(&["events", "--all-agents", "-n", "3"]);
    assert_eq!(events.code, 0, "{}", events.stderr);
    let time = regex_lite::Regex::new(r"(?m)^\d\d:\d\d:\d\d\.\d{3}").unwrap();
    // The OS pids' widths move the columns after them: one gap each.
    let gap = regex_lite::Regex::new(r" {2,}").unwrap();
    let text = redact_late_pids(
        &redact_os_pids(
            &time.replace_all(&events.stdout, "HH:MM:SS.mmm"),
            &[&first, &second],
        ),
        DEMO_PIDS,
    );
    snapshot!("e2e_events_all_agents", gap.replace_all(&text, "  "));
    let json = first.noex(&["events", "--all-agents", "-n", "20", "--json"]);
    let lines: Vec<Value> = json
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 40);
    for demo in [&first, &second] {
        let seqs: Vec<u64> = lines
            .iter()
            .filter(|l| l["os_pid"] == demo.pid())
            .map(|l| l["seq"].as_u64().unwrap())
            .collect();
        assert_eq!(seqs.len(), 20);
        assert!(
            seqs.is_sorted(),
            "each app's events in its own order: {seqs:?}"
        );
    }
    // The first app's history ends at its start, before the kill in the second.
    let last = lines.last().unwrap();
    assert_eq!(last["os_pid"], second.pid());
    assert_eq!(last["kind"], "restarted");
}

/// `noex events --follow --all-agents --json` running in the background: its lines,
/// as they come, on two channels.
struct Follow {
    child: std::process::Child,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
}

impl Follow {
    fn start(agent_dir: &std::path::Path) -> Follow {
        let mut child = Command::cargo_bin("noex")
            .unwrap()
            .args(["events", "--follow", "--all-agents", "--json", "-n", "1"])
            .env("NOEX_AGENT_DIR", agent_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = |stream: Box<dyn std::io::Read + Send>| {
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            rx
        };
        let stdout = lines(Box::new(child.stdout.take().unwrap()));
        let stderr = lines(Box::new(child.stderr.take().unwrap()));
        Follow {
            child,
            stdout,
            stderr,
        }
    }

    /// The next event line that satisfies `wanted`; the others are skipped.
    fn event(&self, wanted: impl Fn(&Value) -> bool) -> Value {
        loop {
            let line = self.stdout.recv_timeout(HANG).expect("an event line");
            let event: Value = serde_json::from_str(&line).unwrap();
            if wanted(&event) {
                return event;
            }
        }
    }

    /// The next stderr line that contains `text`.
    fn note(&self, text: &str) -> String {
        loop {
            let line = self.stderr.recv_timeout(HANG).expect("a note on stderr");
            if line.contains(text) {
                return line;
            }
        }
    }
}

impl Drop for Follow {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn events_follow_all_agents_picks_up_restarts_of_every_application_and_newcomers() {
    let first = Demo::start();
    let second = Demo::start_beside(&first);
    let mut follow = Follow::start(&first.agent_dir());
    // One line of history from each: both are subscribed.
    let mut seen = Vec::new();
    for _ in 0..2 {
        seen.push(follow.event(|_| true)["os_pid"].as_u64().unwrap());
    }
    seen.sort();
    let mut both = vec![u64::from(first.pid()), u64::from(second.pid())];
    both.sort();
    assert_eq!(seen, both);

    // A kill in the second application: its restart comes in, named by app.
    let pid = second.pid().to_string();
    assert_eq!(first.noex(&["kill", "worker-2", "--pid", &pid]).code, 0);
    let restarted = follow.event(|e| e["kind"] == "restarted");
    assert_eq!(restarted["os_pid"], second.pid());
    assert_eq!(restarted["app"], "noex-demo");
    assert_eq!(restarted["child_id"], "worker-2");

    // An application that starts after the follow began joins within a poll.
    let mut third = Demo::start_beside(&first);
    let joined = follow.note("following");
    assert_eq!(joined, format!("noex: following noex-demo:{}", third.pid()));
    let pid = third.pid().to_string();
    assert_eq!(first.noex(&["kill", "worker-1", "--pid", &pid]).code, 0);
    let restarted = follow.event(|e| e["kind"] == "restarted" && e["os_pid"] == third.pid());
    assert_eq!(restarted["child_id"], "worker-1");

    // It exits: noted on stderr; the follow goes on with the others.
    third.stop();
    let gone = follow.note("went away");
    assert!(
        gone.starts_with(&format!("noex: noex-demo:{} went away", third.pid())),
        "{gone}"
    );
    assert!(
        follow.child.try_wait().unwrap().is_none(),
        "still following"
    );

    // Ctrl-C ends it cleanly.
    #[cfg(unix)]
    {
        // SAFETY: `kill` touches no memory of ours; the child has not been waited for,
        // so its pid is still its own.
        unsafe {
            libc::kill(follow.child.id() as libc::pid_t, libc::SIGINT);
        }
        let status = follow.child.wait().unwrap();
        assert_eq!(status.code(), Some(0));
    }
}
