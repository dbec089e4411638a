//! End to end, `--cluster`: real demo applications joined to a cluster on a real
//! `nats-server` (as nodes `a` and `b`), and the real `noex` binary reaching them
//! through NATS only — `ps` across every node, any command on one node through its
//! agent tunnel, and the dashboard switching between nodes in a real terminal.
//! Skipped when `nats-server` is missing, never in CI (NOEX_REQUIRE_TEST_TOOLS=1).

mod support;

#[path = "../noex-cluster/tests/support/mod.rs"]
mod nats;

use std::ffi::OsStr;

use nats::Nats;
use serde_json::Value;
use support::tmux::Tmux;
use support::{
    DEMO_PIDS, Demo, Output, noex_bin, redact_columns, redact_late_pids, redact_timer_due, run_noex,
};

macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!($name, $value);
        })
    };
}

/// A demo node's processes: the demo's, and its `cluster` supervisor with `leader`
/// and `caller` (noex-cli/src/demo/app/cluster.rs).
const NODE_PIDS: usize = DEMO_PIDS as usize + 3;

/// A NATS server and the demo joined to it as each of `nodes`.
fn cluster(nodes: &[&str]) -> Option<(Nats, Vec<Demo>)> {
    let nats = Nats::start()?;
    let url = nats.url();
    let demos = nodes
        .iter()
        .map(|node| Demo::start_with(&["--cluster", &url, "--node", node]))
        .collect();
    Some((nats, demos))
}

/// `noex ARGS` from a directory with no agent in it: whatever it reaches, it reaches
/// through NATS.
fn noex(args: &[&str]) -> Output {
    let nowhere = tempfile::tempdir().unwrap();
    run_noex(nowhere.path(), args)
}

fn rows(output: &Output) -> Vec<Value> {
    assert_eq!(output.code, 0, "{}", output.stderr);
    serde_json::from_str::<Value>(&output.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn restarts_of(rows: &[Value], child: &str) -> u64 {
    rows.iter()
        .find(|row| row["child_id"] == child)
        .unwrap_or_else(|| panic!("no child {child} in {rows:?}"))["restarts"]
        .as_u64()
        .unwrap()
}

#[test]
fn ps_cluster_lists_every_nodes_processes_with_the_node_first() {
    let Some((nats, demos)) = cluster(&["a", "b"]) else {
        return;
    };
    let url = nats.url();
    let ps = noex(&["ps", "--cluster", &url]);
    assert_eq!(ps.code, 0, "{}", ps.stderr);
    assert!(ps.stderr.is_empty(), "{}", ps.stderr);
    let lines: Vec<&str> = ps.stdout.lines().collect();
    assert_eq!(lines.len(), 1 + 2 * NODE_PIDS, "{}", ps.stdout);
    // Node order, pid order within one.
    assert!(lines[1].starts_with("a "), "{}", ps.stdout);
    assert!(lines[lines.len() - 1].starts_with("b "), "{}", ps.stdout);
    let table = redact_late_pids(
        &redact_timer_due(&redact_columns(
            &ps.stdout,
            &["MSGS", "QUEUE", "BUSY", "UPTIME"],
        )),
        DEMO_PIDS,
    );
    // Who leads, and how the last call went, change with timing: the leader test
    // below checks them.
    let table: Vec<&str> = table
        .lines()
        .filter(|line| !line.contains(" leader Leader ") && !line.contains(" caller Caller "))
        .collect();
    snapshot!("e2e_ps_cluster", table.join("\n"));
    let json = rows(&noex(&["ps", "--cluster", &url, "--json"]));
    assert_eq!(json.len(), 2 * NODE_PIDS);
    assert_eq!(json[0]["node"], "a");
    assert_eq!(json[json.len() - 1]["node"], "b");
    drop(demos);
}

#[test]
fn a_command_with_node_acts_on_that_node_only() {
    let Some((nats, _demos)) = cluster(&["a", "b"]) else {
        return;
    };
    let url = nats.url();
    let kill = noex(&["kill", "worker-1", "--cluster", &url, "--node", "b"]);
    assert_eq!(kill.code, 0, "{}", kill.stderr);
    assert!(
        kill.stdout
            .starts_with("worker-1 <0.8> killed; restarted by workers as <0."),
        "{}",
        kill.stdout
    );
    // OTP: one_for_one restarts the killed child only, on its own node.
    let on_b = rows(&noex(&["ps", "--json", "--cluster", &url, "--node", "b"]));
    assert_eq!(restarts_of(&on_b, "worker-1"), 1);
    let on_a = rows(&noex(&["ps", "--json", "--cluster", &url, "--node", "a"]));
    assert_eq!(restarts_of(&on_a, "worker-1"), 0);

    let tree = noex(&["tree", "--cluster", &url, "--node", "a"]);
    assert_eq!(tree.code, 0, "{}", tree.stderr);
    assert!(
        tree.stdout
            .starts_with("app_sup <0.1>  supervisor one_for_one")
    );
    // Its events, the kill and restart among them, through the same tunnel.
    let events = noex(&["events", "--cluster", &url, "--node", "b"]);
    assert_eq!(events.code, 0, "{}", events.stderr);
    assert!(
        events.stdout.contains("worker-1        killed"),
        "{}",
        events.stdout
    );
    assert!(events.stdout.contains("restarted      by <0.7>, attempt 1"));
}

/// The tunnel carries the agent protocol unchanged, so the agent's own rules hold:
/// a read-only node refuses `kill` and `restart` from across the cluster with the
/// same error as from its own machine, and still answers `ps`.
#[test]
fn a_read_only_nodes_agent_refuses_kill_through_the_tunnel() {
    let Some(nats) = nats::Nats::start() else {
        return;
    };
    let url = nats.url();
    let _demo = Demo::start_with(&["--read-only", "--cluster", &url, "--node", "a"]);
    let kill = noex(&["kill", "worker-1", "--cluster", &url, "--node", "a"]);
    assert_eq!(kill.code, 1, "{}", kill.stderr);
    snapshot!("e2e_error_read_only", kill.stderr);
    let restart = noex(&["restart", "worker-1", "--cluster", &url, "--node", "a"]);
    assert_eq!(restart.code, 1, "{}", restart.stderr);
    let ps = noex(&["ps", "--cluster", &url, "--node", "a"]);
    assert_eq!(ps.code, 0, "reading is still allowed: {}", ps.stderr);
}

#[test]
fn cluster_target_mistakes_are_usage_errors_with_exit_code_2() {
    let Some((nats, _demos)) = cluster(&["a", "b"]) else {
        return;
    };
    let url = nats.url();
    let several = noex(&["tree", "--cluster", &url]);
    assert_eq!(several.code, 2, "{}", several.stderr);
    snapshot!("e2e_cluster_choose_a_node", several.stderr);
    let unknown = noex(&["tree", "--cluster", &url, "--node", "zz"]);
    assert_eq!(unknown.code, 2);
    snapshot!("e2e_cluster_node_not_up", unknown.stderr);
    let alone = noex(&["tree", "--node", "a"]);
    assert_eq!(alone.code, 2);
    assert!(
        alone
            .stderr
            .starts_with("error: --node needs --cluster NATS_URL")
    );
    let beside_pid = noex(&["ps", "--cluster", &url, "--pid", "1"]);
    assert_eq!(beside_pid.code, 2);
    assert!(
        beside_pid
            .stderr
            .contains("--cluster cannot be combined with --pid")
    );
    let other_cluster = noex(&["ps", "--cluster", &url, "--cluster-name", "elsewhere"]);
    assert_eq!(other_cluster.code, 2, "{}", other_cluster.stderr);
    assert!(
        other_cluster
            .stderr
            .starts_with("error: no node of cluster \"elsewhere\" is up"),
        "{}",
        other_cluster.stderr
    );
}

#[test]
fn a_node_killed_with_sigkill_cannot_be_attached_and_the_others_can() {
    let Some((nats, mut demos)) = cluster(&["a", "b"]) else {
        return;
    };
    let url = nats.url();
    let b = demos.pop().unwrap();
    drop(b); // SIGKILL: no goodbye, its membership entry stays until it ages out.
    let tree = noex(&["tree", "--cluster", &url, "--node", "b"]);
    assert_eq!(tree.code, 2, "{}", tree.stderr);
    assert!(
        tree.stderr.starts_with("error: node \"b\" is not up"),
        "{}",
        tree.stderr
    );
    let a = noex(&["tree", "--cluster", &url, "--node", "a"]);
    assert_eq!(a.code, 0, "{}", a.stderr);
}

#[test]
fn top_cluster_switches_between_nodes_from_the_picker() {
    let Some((nats, demos)) = cluster(&["a", "b"]) else {
        return;
    };
    let url = nats.url();
    let dir = tempfile::tempdir().unwrap();
    let nowhere = dir.path().join("no-agents");
    let Some(tmux) = Tmux::start(
        dir.path(),
        (160, 40),
        &[
            ("NOEX_AGENT_DIR", nowhere.as_os_str()),
            ("NO_COLOR", OsStr::new("1")),
        ],
        &noex_bin(),
        &["top", "--cluster", &url, "--node", "a"],
    ) else {
        return;
    };
    let pid_of = |demo: &Demo| format!("noex-demo pid {} · on node", demo.pid());
    let on_a = format!("{} a", pid_of(&demos[0]));
    tmux.wait_for(&[&on_a, "connected", "worker-1"])
        .unwrap_or_else(|screen| panic!("never attached to node a:\n{screen}"));
    tmux.send_keys("A");
    let picker = tmux
        .wait_for(&["Nodes · Enter switch", "a · noex-demo", "b · noex-demo"])
        .unwrap_or_else(|screen| panic!("the picker never listed the nodes:\n{screen}"));
    assert!(picker.contains("(shown)"), "{picker}");
    tmux.send_keys("Down");
    tmux.send_keys("Enter");
    let on_b = format!("{} b", pid_of(&demos[1]));
    tmux.wait_for(&[&on_b, "connected"])
        .unwrap_or_else(|screen| panic!("never switched to node b:\n{screen}"));
    tmux.send_keys("q");
    assert_eq!(tmux.exit_status(), 0);
}

/// The kind of a tunnel message that says its sender is still there.
const KEEPALIVE: u8 = 2;

/// `noex events --follow --cluster URL --node NODE`, its output in a file.
struct Follower {
    child: std::process::Child,
    dir: tempfile::TempDir,
}

impl Follower {
    /// Started, and attached: its first event is printed.
    fn attach(url: &str, node: &str) -> Follower {
        let dir = tempfile::tempdir().unwrap();
        let out = std::fs::File::create(dir.path().join("out")).unwrap();
        let err = std::fs::File::create(dir.path().join("err")).unwrap();
        let child = std::process::Command::new(noex_bin())
            .args(["events", "--follow", "--cluster", url, "--node", node])
            .env("NOEX_AGENT_DIR", dir.path().join("no-agents"))
            .env("NO_COLOR", "1")
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap();
        let follower = Follower { child, dir };
        follower.until(|out, _| !out.is_empty(), "attached");
        follower
    }

    /// Wait until `done(stdout, stderr)`.
    fn until(&self, done: impl Fn(&str, &str) -> bool, what: &str) {
        until(what, || {
            let read = |name| std::fs::read_to_string(self.dir.path().join(name)).unwrap();
            let (out, err) = (read("out"), read("err"));
            if done(&out, &err) {
                Ok(())
            } else {
                Err(format!("{out}\n{err}"))
            }
        });
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Wait until `check` is `Ok`, asking again every 100 ms; its last `Err` says
/// what was seen instead.
fn until(what: &str, mut check: impl FnMut() -> Result<(), String>) {
    let deadline = std::time::Instant::now() + nats::PATIENCE;
    loop {
        match check() {
            Ok(()) => return,
            Err(seen) => assert!(std::time::Instant::now() < deadline, "never {what}: {seen}"),
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// `noex tree --cluster URL --node NODE`, run until it attaches.
fn tree_once_attached(url: &str, node: &str) {
    until(&format!("a tunnel into node {node} again"), || {
        let tree = noex(&["tree", "--cluster", url, "--node", node]);
        if tree.code == 0 {
            Ok(())
        } else {
            Err(tree.stderr)
        }
    });
}

/// A raw NATS client of the test, subscribed to `subject` once the server knows.
fn raw_subscriber(
    url: &str,
    subject: &'static str,
) -> (
    tokio::runtime::Runtime,
    async_nats::Client,
    async_nats::Subscriber,
) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let raw = runtime.block_on(async_nats::connect(url)).unwrap();
    let subscriber = runtime.block_on(raw.subscribe(subject)).unwrap();
    runtime.block_on(raw.flush()).unwrap();
    (runtime, raw, subscriber)
}

#[test]
fn a_node_serves_eight_agent_tunnels_and_every_noex_gives_its_own_back() {
    let Some((nats, _demos)) = cluster(&["a"]) else {
        return;
    };
    let url = nats.url();
    let (runtime, raw, mut downs) = raw_subscriber(&url, "noex.noex.tunnel.*.down");
    let mut followers: Vec<Follower> = (0..8).map(|_| Follower::attach(&url, "a")).collect();
    let ninth = noex(&["tree", "--cluster", &url, "--node", "a"]);
    assert_eq!(ninth.code, 1, "{}", ninth.stderr);
    snapshot!("e2e_cluster_tunnels_busy", ninth.stderr);

    // A noex killed with SIGKILL says no goodbye: the node finds out at its next
    // keepalive, a request that NATS answers "no responders" once nobody listens,
    // and frees the tunnel.
    let keepalive = runtime.block_on(async {
        tokio::time::timeout(nats::PATIENCE, async {
            loop {
                let message = futures_util::StreamExt::next(&mut downs).await.unwrap();
                if message.payload.first() == Some(&KEEPALIVE) {
                    return message;
                }
            }
        })
        .await
        .expect("the node sends keepalives")
    });
    assert!(keepalive.reply.is_some(), "a keepalive asks for an answer");
    // A listener on the tunnel's subject hides the dead end from "no responders".
    drop(downs);
    runtime.block_on(raw.flush()).unwrap();
    drop(followers.pop());
    tree_once_attached(&url, "a");
    // Seven held, one free: each command gives its tunnel back as it ends, so the
    // next one in a row gets it.
    for _ in 0..3 {
        let tree = noex(&["tree", "--cluster", &url, "--node", "a"]);
        assert_eq!(tree.code, 0, "{}", tree.stderr);
    }
}

/// Core NATS may drop a message for a slow subscriber; a tunnel whose sequence has a
/// hole ends, rather than hand the agent (or `noex`) a corrupted byte stream. Here a
/// raw NATS client forges the hole: a message numbered far ahead.
#[test]
fn a_lost_tunnel_message_ends_the_tunnel_rather_than_corrupt_the_stream() {
    let Some((nats, _demos)) = cluster(&["a"]) else {
        return;
    };
    let url = nats.url();
    let (runtime, raw, mut ups) = raw_subscriber(&url, "noex.noex.tunnel.*.up");
    let follower = Follower::attach(&url, "a");
    let up = runtime
        .block_on(async {
            tokio::time::timeout(nats::PATIENCE, futures_util::StreamExt::next(&mut ups)).await
        })
        .unwrap()
        .unwrap()
        .subject;
    let mut forged = vec![0u8]; // data
    // No bytes in it: only its number is wrong, so nothing but the hole can end it.
    forged.extend_from_slice(&1_000_000u64.to_be_bytes());
    runtime.block_on(async {
        raw.publish(up, forged.into()).await.unwrap();
        raw.flush().await.unwrap();
    });
    follower.until(
        |_, err| err.contains("closed the connection"),
        "told that the tunnel ended",
    );
    // And the node took its tunnel back.
    tree_once_attached(&url, "a");
}

/// The issue's own check, with the CLI alone: three demo nodes run for the global
/// name `leader`; exactly one holds it, every node's `caller` reaches it across
/// nodes; its node killed with SIGKILL, another node takes the name over (once the
/// others see the node down) and the callers follow it.
#[test]
fn the_global_leader_moves_to_another_node_when_its_node_is_killed() {
    let Some((nats, mut demos)) = cluster(&["a", "b", "c"]) else {
        return;
    };
    let url = nats.url();
    // (node, state) of every process named `name`, on every node that answers.
    let states = |name: &str| -> Vec<(String, String)> {
        let ps = noex(&["ps", "--json", "--cluster", &url]);
        let Ok(rows) = serde_json::from_str::<Vec<Value>>(&ps.stdout) else {
            return Vec::new();
        };
        rows.iter()
            .filter(|row| row["name"] == name)
            .map(|row| {
                let field = |key: &str| row[key].as_str().unwrap_or_default().to_string();
                (field("node"), field("state"))
            })
            .collect()
    };
    let holder = |states: &[(String, String)]| -> Vec<String> {
        states
            .iter()
            .filter(|(_, state)| state == "holds global name leader")
            .map(|(node, _)| node.clone())
            .collect()
    };
    // The leaders' or callers' states as seen, if not yet as wanted.
    let seen = |wanted: bool, states: Vec<(String, String)>| {
        if wanted {
            Ok(())
        } else {
            Err(format!("{states:?}"))
        }
    };

    until("one leader and two standbys", || {
        let leaders = states("leader");
        seen(leaders.len() == 3 && holder(&leaders).len() == 1, leaders)
    });
    let first = holder(&states("leader")).remove(0);
    let answered_by = |node: &str| format!("leader on node {node} answered in ");
    until("every caller answered by the leader", || {
        let callers = states("caller");
        let all = callers
            .iter()
            .all(|(_, state)| state.starts_with(&answered_by(&first)));
        seen(callers.len() == 3 && all, callers)
    });
    // The standbys name the holder.
    for (node, state) in states("leader") {
        if node != first {
            assert_eq!(state, format!("standby; leader is on node {first}"));
        }
    }

    let index = ["a", "b", "c"]
        .iter()
        .position(|node| *node == first)
        .unwrap();
    drop(demos.remove(index)); // SIGKILL
    until("a new leader on another node", || {
        let leaders = states("leader");
        seen(leaders.len() == 2 && holder(&leaders).len() == 1, leaders)
    });
    let second = holder(&states("leader")).remove(0);
    assert_ne!(second, first);
    until("both callers answered by the new leader", || {
        let callers = states("caller");
        let all = callers
            .iter()
            .all(|(_, state)| state.starts_with(&answered_by(&second)));
        seen(callers.len() == 2 && all, callers)
    });
}
