//! End to end: a real demo application process, the real `noex` binary, the real
//! socket. Output is snapshotted with the values that change between runs redacted.

mod support;

use serde_json::Value;
use support::{DEMO_PIDS, Demo, redact_columns, redact_late_pids, redact_timer_due, run_noex};

macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!($name, $value);
        })
    };
}

fn row<'a>(rows: &'a Value, name: &str) -> &'a Value {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|row| row["name"] == name || row["child_id"] == name)
        .unwrap_or_else(|| panic!("no row {name} in {rows:#}"))
}

#[test]
fn ps_lists_every_process_of_the_app_in_pid_order() {
    let demo = Demo::start();
    let ps = demo.noex(&["ps"]);
    assert_eq!(ps.code, 0, "{}", ps.stderr);
    snapshot!(
        "e2e_ps",
        redact_timer_due(&redact_columns(
            &ps.stdout,
            &["MSGS", "QUEUE", "BUSY", "UPTIME"]
        ))
    );
}

#[test]
fn ps_json_rows_carry_the_documented_fields() {
    let demo = Demo::start();
    let rows = demo.wait_for_ps(|rows| row(rows, "worker-1")["messages"].as_u64() > Some(0));
    let worker = row(&rows, "worker-1");
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
        assert!(worker.get(field).is_some(), "missing {field} in {worker:#}");
    }
    assert_eq!(worker["child_id"], "worker-1");
    assert_eq!(worker["status"], "running");
    assert_eq!(worker["restarts"], 0);
    assert_eq!(worker["parent"], row(&rows, "workers")["pid"]);
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .all(|r| r["system"] == false),
        "system rows hidden"
    );
    let all: Value = serde_json::from_str(&demo.noex(&["ps", "--all", "--json"]).stdout).unwrap();
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "noex.agent"),
        "--all shows the agent's own processes"
    );
}

/// The demo runs the rest of OTP, each kind a process `noex ps --json` shows as such:
/// a state machine with its state, a keyed registry, a task supervisor, a table in
/// its owner's row, and pending timers.
#[test]
fn ps_json_of_the_demo_shows_the_rest_of_otp() {
    let demo = Demo::start();
    let rows: Value = serde_json::from_str(&demo.noex(&["ps", "--json"]).stdout).unwrap();
    let breaker = row(&rows, "breaker");
    assert_eq!(breaker["type_name"], "CircuitBreaker");
    assert_eq!(
        breaker["state"], "Closed",
        "--steady keeps the breaker closed"
    );
    assert_eq!(row(&rows, "topics")["type_name"], "KeyedRegistry");
    assert_eq!(row(&rows, "jobs")["strategy"], "simple_one_for_one");
    let metrics = row(&rows, "metrics")["state"].as_str().unwrap().to_string();
    assert!(metrics.starts_with("table work: 3 objects, "), "{metrics}");
    let worker = row(&rows, "worker-1")["state"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(worker.starts_with("1 timer, next in "), "{worker}");
    assert!(row(&rows, "cache").get("state").is_none_or(Value::is_null));
}

#[test]
fn tree_draws_supervisors_and_workers_in_child_order() {
    let demo = Demo::start();
    let tree = demo.noex(&["tree"]);
    assert_eq!(tree.code, 0, "{}", tree.stderr);
    let queue = regex_lite::Regex::new(r"  queue \d+").unwrap();
    snapshot!("e2e_tree", queue.replace_all(&tree.stdout, "").into_owned());
}

/// `--scale N` adds N idle servers as the numbered children of a simple_one_for_one
/// supervisor, in start order, after the demo's own tree.
#[test]
fn demo_scale_starts_idle_servers_as_simple_one_for_one_children() {
    let demo = Demo::start_with(&["--scale", "3"]);
    let tree = demo.noex(&["tree"]);
    assert_eq!(tree.code, 0, "{}", tree.stderr);
    let idle: Vec<&str> = tree
        .stdout
        .lines()
        .skip_while(|line| !line.contains("idle <0."))
        .take_while(|line| line.contains("idle"))
        .collect();
    assert!(idle[0].contains("── idle <0.21>  supervisor simple_one_for_one  running"));
    assert_eq!(idle.len(), 4, "{}", tree.stdout);
    for (n, line) in idle[1..].iter().enumerate() {
        let expected = format!("── idle-{} <0.{}>  Idle  running", n + 1, 22 + n);
        assert!(line.ends_with(&expected), "{line:?} is not {expected:?}");
    }
}

#[test]
fn kill_ends_a_worker_and_its_one_for_one_supervisor_restarts_it() {
    let demo = Demo::start();
    let before: Value = serde_json::from_str(&demo.noex(&["ps", "--json"]).stdout).unwrap();
    let kill = demo.noex(&["kill", "worker-1"]);
    assert_eq!(kill.code, 0, "{}", kill.stderr);
    snapshot!("e2e_kill", redact_late_pids(&kill.stdout, DEMO_PIDS));
    let rows = demo.wait_for_ps(|rows| row(rows, "worker-1")["restarts"] == 1);
    let worker = row(&rows, "worker-1");
    assert_ne!(
        worker["pid"],
        row(&before, "worker-1")["pid"],
        "a new process"
    );
    assert_eq!(worker["last_error"], "killed");
    assert_eq!(
        row(&rows, "worker-2")["restarts"],
        0,
        "one_for_one leaves siblings alone"
    );
    let ps = demo.noex(&["ps"]);
    snapshot!(
        "e2e_ps_after_kill",
        redact_late_pids(
            &redact_timer_due(&redact_columns(
                &ps.stdout,
                &["MSGS", "QUEUE", "BUSY", "UPTIME"]
            )),
            DEMO_PIDS
        )
    );
}

/// OTP's `sys:get_state` through `format_status`: a worker shows its state, a server
/// that keeps it to itself (the default) is refused with exit 1 and a hint.
#[test]
fn state_shows_a_state_its_server_opts_in_to_and_refuses_the_rest() {
    let demo = Demo::start();
    let state = demo.noex(&["state", "worker-1"]);
    assert_eq!(state.code, 0, "{}", state.stderr);
    let done = regex_lite::Regex::new(r"done: \d+").unwrap();
    snapshot!(
        "e2e_state",
        redact_late_pids(&done.replace_all(&state.stdout, "done: [n]"), DEMO_PIDS)
    );
    let json: Value =
        serde_json::from_str(&demo.noex(&["state", "worker-1", "--json"]).stdout).unwrap();
    assert_eq!(json["process"]["child_id"], "worker-1");
    assert!(json["state"].as_str().unwrap().starts_with("Worker {"));

    let hidden = demo.noex(&["state", "cache"]);
    assert_eq!(hidden.code, 1);
    snapshot!(
        "e2e_state_not_shown",
        redact_late_pids(&hidden.stderr, DEMO_PIDS)
    );
    let missing = demo.noex(&["state", "no-such-process"]);
    assert_eq!(missing.code, 1, "{}", missing.stderr);
}

#[test]
fn kill_with_a_reason_reports_it_as_the_crash_error() {
    let demo = Demo::start();
    let kill = demo.noex(&["kill", "cache", "--reason", "operator test"]);
    assert_eq!(kill.code, 0, "{}", kill.stderr);
    // one_for_all: config and health are restarted with the cache.
    let rows = demo.wait_for_ps(|rows| row(rows, "config")["restarts"] == 1);
    assert_eq!(row(&rows, "cache")["last_error"], "operator test");
    assert_eq!(row(&rows, "cache")["restarts"], 1);
}

#[test]
fn restart_asks_the_supervisor_and_reports_the_new_pid() {
    let demo = Demo::start();
    let restart = demo.noex(&["restart", "flaky"]);
    assert_eq!(restart.code, 0, "{}", restart.stderr);
    snapshot!("e2e_restart", redact_late_pids(&restart.stdout, DEMO_PIDS));
    let by_pid = demo.noex(&["restart", "<0.5>"]);
    assert_eq!(by_pid.code, 0, "{}", by_pid.stderr);
    assert!(
        by_pid
            .stdout
            .starts_with("cache <0.5> restarted by services as <0."),
        "{}",
        by_pid.stdout
    );
}

#[test]
fn events_show_history_with_the_kill_and_the_restart() {
    let demo = Demo::start();
    assert_eq!(demo.noex(&["kill", "worker-2"]).code, 0);
    let events = demo.noex(&["events", "--history", "4"]);
    assert_eq!(events.code, 0, "{}", events.stderr);
    let time = regex_lite::Regex::new(r"^\d\d:\d\d:\d\d\.\d{3}").unwrap();
    let lines: Vec<String> = events
        .stdout
        .lines()
        .map(|line| time.replace(line, "HH:MM:SS.mmm").into_owned())
        .collect();
    snapshot!(
        "e2e_events_history",
        redact_late_pids(&lines.join("\n"), DEMO_PIDS)
    );
    let json = demo.noex(&["events", "--history", "50", "--json"]);
    let kinds: Vec<Value> = json
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let restarted = kinds
        .iter()
        .find(|e| e["kind"] == "restarted")
        .expect("a restarted event");
    assert_eq!(restarted["child_id"], "worker-2");
    assert_eq!(restarted["attempt"], 1);
}

#[test]
fn list_shows_every_live_agent_and_forgets_stopped_ones() {
    let mut demo = Demo::start();
    let list = demo.noex(&["list", "--json"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    let agents: Value = serde_json::from_str(&list.stdout).unwrap();
    assert_eq!(agents.as_array().unwrap().len(), 1);
    assert_eq!(agents[0]["pid"], demo.pid());
    assert_eq!(agents[0]["app"], "noex-demo");
    let table = demo.noex(&["list"]);
    snapshot!(
        "e2e_list",
        redact_columns(&table.stdout, &["PID", "UPTIME", "PROCS", "MSGS", "MEMORY"])
    );
    demo.stop();
    assert!(!demo.socket().exists(), "a clean stop removes the socket");
    let none = demo.noex(&["ps"]);
    assert_eq!(none.code, 2);
}

#[test]
fn no_agent_is_exit_code_2_with_a_hint() {
    let empty = tempfile::tempdir().unwrap();
    let ps = run_noex(&empty.path().join("agents"), &["ps"]);
    assert_eq!(ps.code, 2);
    assert!(ps.stdout.is_empty());
    let dir = empty.path().join("agents").display().to_string();
    snapshot!("e2e_error_no_agent", ps.stderr.replace(&dir, "[agent dir]"));
}

#[test]
fn an_unknown_target_is_exit_code_1() {
    let demo = Demo::start();
    let kill = demo.noex(&["kill", "no-such-worker"]);
    assert_eq!(kill.code, 1);
    snapshot!("e2e_error_unknown_target", kill.stderr);
}

#[test]
fn an_ambiguous_target_lists_the_candidates_and_is_exit_code_1() {
    let demo = Demo::start();
    let kill = demo.noex(&["kill", "health"]);
    assert_eq!(kill.code, 1);
    snapshot!("e2e_error_ambiguous_target", kill.stderr);
    let rows: Value = serde_json::from_str(&demo.noex(&["ps", "--json"]).stdout).unwrap();
    assert!(
        rows.as_array().unwrap().iter().all(|r| r["restarts"] == 0),
        "nothing was killed"
    );
}

#[test]
fn a_read_only_agent_refuses_kill_and_restart_with_exit_code_1() {
    let demo = Demo::start_with(&["--read-only"]);
    let kill = demo.noex(&["kill", "worker-1"]);
    assert_eq!(kill.code, 1);
    snapshot!("e2e_error_read_only", kill.stderr);
    assert_eq!(demo.noex(&["restart", "worker-1"]).code, 1);
    assert_eq!(demo.noex(&["ps"]).code, 0, "reading is still allowed");
}

#[test]
fn usage_errors_are_exit_code_2() {
    let demo = Demo::start();
    assert_eq!(demo.noex(&["ps", "--sort", "colour"]).code, 2);
    assert_eq!(demo.noex(&["kill"]).code, 2);
    assert_eq!(demo.noex(&["--pid", "1", "--socket", "/x", "ps"]).code, 2);
}

#[test]
fn an_explicit_pid_or_socket_selects_the_app() {
    let demo = Demo::start();
    let pid = demo.pid().to_string();
    assert_eq!(demo.noex(&["ps", "--pid", &pid]).code, 0);
    let socket = demo.socket();
    assert_eq!(
        demo.noex(&["tree", "--socket", socket.to_str().unwrap()])
            .code,
        0
    );
    let missing = demo.noex(&["ps", "--pid", "999999999"]);
    assert_eq!(missing.code, 2);
}

/// The tree's shape: every node's kind, child id, name and restart type, in child
/// order — what must come back after a kill (pids and counters may change).
fn shape(node: &Value) -> Value {
    let mut shaped = serde_json::json!({
        "kind": node["kind"],
        "child_id": node["child_id"],
        "name": node["name"],
        "restart": node["restart"],
        "status": node["status"],
    });
    if let Some(children) = node["children"].as_array() {
        shaped["children"] = children.iter().map(shape).collect();
    }
    shaped
}

fn tree_shape(demo: &Demo) -> Value {
    let tree: Value = serde_json::from_str(&demo.noex(&["tree", "--json"]).stdout).unwrap();
    tree["roots"]
        .as_array()
        .unwrap()
        .iter()
        .map(shape)
        .collect()
}

/// OTP's shutdown takes a supervisor's children down before its exit is signalled
/// to its parent: so a parent restarting it never meets the old children, whose
/// names are free again.
#[test]
fn killing_any_supervisor_brings_its_tree_back_in_the_same_shape() {
    let demo = Demo::start();
    let original = tree_shape(&demo);
    for supervisor in ["pipeline", "services", "workers", "sessions"] {
        let kill = demo.noex(&["kill", supervisor]);
        assert_eq!(kill.code, 0, "{supervisor}: {}", kill.stderr);
        assert!(
            kill.stdout.contains("restarted by app_sup as <0."),
            "{supervisor}: {}",
            kill.stdout
        );
        let rows = demo.wait_for_ps(|rows| {
            rows.as_array()
                .unwrap()
                .iter()
                .all(|row| row["status"] == "running")
                && row(rows, supervisor)["restarts"] == 1
        });
        assert_eq!(row(&rows, supervisor)["last_error"], "killed");
        assert_eq!(tree_shape(&demo), original, "after killing {supervisor}");
    }
    let rows: Value = serde_json::from_str(&demo.noex(&["ps", "--json"]).stdout).unwrap();
    assert_eq!(row(&rows, "app_sup")["child_restarts"], 4);
}

/// A root supervisor has nobody to restart it: a kill is refused unless forced,
/// and once forced, the application learns its tree is gone and exits non-zero
/// instead of running on empty.
#[test]
fn killing_the_root_supervisor_needs_force_and_then_ends_the_application() {
    let mut demo = Demo::start();
    let refused = demo.noex(&["kill", "app_sup"]);
    assert_eq!(refused.code, 1);
    snapshot!("e2e_error_kill_root", refused.stderr);
    let restart = demo.noex(&["restart", "app_sup"]);
    assert_eq!(restart.code, 1);
    assert!(
        restart.stderr.contains("has no supervisor to restart it"),
        "{}",
        restart.stderr
    );
    let rows: Value = serde_json::from_str(&demo.noex(&["ps", "--json"]).stdout).unwrap();
    assert!(
        rows.as_array().unwrap().iter().all(|r| r["restarts"] == 0),
        "nothing was killed"
    );

    let forced = demo.noex(&["kill", "app_sup", "--force"]);
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    assert_eq!(
        forced.stdout,
        "app_sup <0.1> killed; it has no supervisor, so nothing restarts it\n"
    );
    let (code, stderr) = demo.wait_for_exit();
    assert_eq!(code, Some(1));
    assert_eq!(
        stderr.lines().last(),
        Some("error: the application stopped: its root supervisor app_sup exited (killed)")
    );
}

/// The agent refuses a directory other users can reach; the demo says so, with the
/// fix, instead of only that its agent did not start (with or without the dashboard).
#[cfg(unix)]
#[test]
fn demo_in_an_agent_dir_others_can_reach_says_why_and_how_to_fix_it() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().unwrap();
    let agents = dir.path().join("agents");
    std::fs::create_dir(&agents).unwrap();
    std::fs::set_permissions(&agents, std::fs::Permissions::from_mode(0o755)).unwrap();
    for args in [&["demo", "--no-ui"][..], &["demo"]] {
        let out = run_noex(&agents, args);
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        let last = out.stderr.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("error: ")
                && last.contains("the demo's agent did not start")
                && last.ends_with(&format!(
                    "its mode is 755, so other users can reach it (fix with `chmod 700 {}`)",
                    agents.display()
                )),
            "{args:?}: {}",
            out.stderr
        );
    }
}
