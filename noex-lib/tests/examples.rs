//! Every example in `noex-lib/examples/` runs, as a newcomer would run it: in its
//! bounded mode it exits 0 on its own, prints the lines that tell its story, and its
//! agent started (so `noex top` could have watched it) and left no socket behind.
//!
//! `cargo test` builds the examples before the tests; they are found beside this
//! test's own executable. Run alone (`--test examples`), cargo does not build them:
//! the test builds them if they are missing, and otherwise runs them as last built.
#![cfg(unix)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod support;

/// A guard against a hang only: each example ends in about a second, but a whole
/// program on a machine busy with the rest of the suite gets room.
const HANG: Duration = Duration::from_secs(60);

struct Output {
    stdout: String,
    stderr: String,
}

impl Output {
    /// Fail, showing everything the example printed, unless `line` was printed.
    fn expect(&self, line: &str) {
        assert!(
            self.stdout.contains(line),
            "expected {line:?} in the output:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
    }

    fn lines_with(&self, text: &str) -> Vec<&str> {
        self.stdout.lines().filter(|l| l.contains(text)).collect()
    }
}

/// The directory cargo put this test in: `target/<profile>`, above `deps/`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    exe.parent()
        .and_then(Path::parent)
        .expect("the test runs from target/<profile>/deps")
        .to_path_buf()
}

/// The built example, building every example first if it is not there.
fn example(name: &str) -> PathBuf {
    let profile_dir = profile_dir();
    let binary = profile_dir.join("examples").join(name);
    if binary.exists() {
        return binary;
    }
    let profile = match profile_dir.file_name().and_then(|p| p.to_str()) {
        Some("debug") => "dev".to_string(),
        Some(other) => other.to_string(),
        None => panic!("no profile in {}", profile_dir.display()),
    };
    // All of them at once: the other tests then find theirs built (cargo's lock makes
    // them wait for this build, not start their own).
    let status = Command::new(option_env!("CARGO").unwrap_or("cargo"))
        .args(["build", "--quiet", "-p", "noex", "--examples", "--profile"])
        .arg(&profile)
        .arg("--target-dir")
        .arg(profile_dir.parent().expect("target/<profile> has a parent"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the examples failed: {status}");
    assert!(binary.exists(), "{} was not built", binary.display());
    binary
}

/// Run an example in its bounded mode, with an agent directory of its own.
fn run(name: &str) -> Output {
    let agent_dir = support::sandbox::agent_dir().join(name);
    let mut child = Command::new(example(name))
        .env("NOEX_AGENT_DIR", &agent_dir)
        .env_remove("NOEX_AGENT")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the example starts");
    // Read on threads of their own, so a full pipe never stalls the example.
    let read = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = read(Box::new(child.stdout.take().expect("piped")));
    let stderr = read(Box::new(child.stderr.take().expect("piped")));
    let deadline = Instant::now() + HANG;
    let status = loop {
        if let Some(status) = child.try_wait().expect("the example can be waited for") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{name} did not exit within {HANG:?} (a hang)");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let output = Output {
        stdout: stdout.join().expect("stdout read"),
        stderr: stderr.join().expect("stderr read"),
    };
    assert!(
        status.success(),
        "{name} exited with {status}\nstdout:\n{}\nstderr:\n{}",
        output.stdout,
        output.stderr
    );
    // With the agent, it made the directory when the example started its first
    // process, and removed its socket when the example exited; without it, nothing
    // is made at all.
    if cfg!(feature = "agent") {
        let left: Vec<_> = std::fs::read_dir(&agent_dir)
            .unwrap_or_else(|error| panic!("{name}'s agent never started: {error}"))
            .map(|entry| entry.map(|e| e.file_name()))
            .collect();
        assert!(
            left.is_empty(),
            "{name} left {left:?} in its agent directory"
        );
    } else {
        assert!(
            !agent_dir.exists(),
            "{name} made an agent directory without the agent"
        );
    }
    output
}

#[test]
fn worker_pool_keeps_one_handle_per_worker_across_a_crash() {
    let out = run("worker_pool");
    out.expect(r#"job 11 on worker-3 FAILED: "#);
    out.expect(r#"job 11: "12x" is not a number"#);
    // The next job through the same handle reached a fresh worker: its count restarted.
    let job_15 = out.lines_with("job 15 on worker-3 <0.");
    assert_eq!(job_15.len(), 1, "{}", out.stdout);
    assert!(
        job_15[0].ends_with("(its job #1 since it started)"),
        "{job_15:?}"
    );
    out.expect("  worker-3 <0.6> Running restarts=1");
    // The others never crashed: the same process did every one of their jobs.
    for (worker, pid) in [
        ("worker-1", "<0.2>"),
        ("worker-2", "<0.3>"),
        ("worker-4", "<0.5>"),
    ] {
        let jobs = out.lines_with(&format!("on {worker} "));
        assert_eq!(jobs.len(), 6, "{}", out.stdout);
        assert!(jobs.iter().all(|job| job.contains(pid)), "{jobs:?}");
        out.expect(&format!("  {worker} {pid} Running restarts=0"));
    }
}

#[test]
fn pubsub_delivers_by_pattern_until_unsubscribed() {
    let out = run("pubsub");
    out.expect("4 subscriptions: ");
    out.expect("  -> order #1, heard by 3 subscriber(s)");
    out.expect("  alerts    payment.failed for order #2: card declined");
    out.expect("  dashboard 2 order(s) placed today");
    out.expect("the dashboard unsubscribes");
    // After it unsubscribed, the third order reaches the audit log and the mailer only.
    out.expect("  -> order #3, heard by 2 subscriber(s)");
    assert!(
        !out.stdout.contains("dashboard 3 order(s)"),
        "{}",
        out.stdout
    );
    out.expect("  mailer    mail: order #1 is on its way");
    out.expect("audit saw 6 events; the bus has 3 subscriptions");
    out.expect("after unsubscribing the rest, the bus has 0 subscriptions");
}

#[test]
fn rate_limited_client_waits_for_the_limiter_and_gets_every_answer() {
    let out = run("rate_limited_client");
    assert_eq!(out.lines_with("°C").len(), 12, "{}", out.stdout);
    out.expect("  client: limit reached; the next request goes in ");
    // How often it waited depends on timing; that it waited and every request was
    // served does not.
    out.expect("; the API served 12 request(s) and refused ");
    assert!(
        !out.stdout.contains("waited for the limiter 0 time(s)"),
        "{}",
        out.stdout
    );
}

#[test]
fn services_limit_cache_publish_count_and_restart_the_cache_empty() {
    let out = run("services");
    // Five requests a second per client, eight asked: the limiter turned some away,
    // and the agent counted each client's (how many depends on timing).
    out.expect("api.limited: ");
    out.expect("turned away: {\"alice\": ");
    for client in ["bob", "carol"] {
        out.expect(&format!("\"{client}\": "));
    }
    out.expect("the database was asked 3 times");
    out.expect(": 0 entries");
}

#[test]
fn state_machine_moves_by_calls_casts_and_timers_and_refuses_the_rest() {
    let out = run("state_machine");
    for line in [
        "the door is locked",
        "  ! wrong code (2 tries left)",
        "  door: locked -> open (the code is right)",
        "  ! cannot enter a code: the door is open",
        "  door: open -> locked (locked by hand)",
        "  ! cannot lock: the door is locked",
        "  door: open -> locked (auto-lock)",
        "  door: locked -> blocked (too many wrong codes)",
        "  ! wrong code; the keypad is blocked for 400ms",
        "  ! cannot enter a code: the door is blocked",
        "  door: blocked -> locked (keypad unblocked)",
        "  door: locked -> open (fire alarm)",
        "  <0.2> exited: door sensor fault",
        "  the door is locked again, its first state (restarts=1)",
    ] {
        out.expect(line);
    }
}

#[test]
fn job_queue_retries_requeues_a_crashed_workers_job_and_keeps_dead_letters() {
    let out = run("job_queue");
    out.expect("submitting 7 jobs to 3 workers");
    out.expect("failed: mail server timed out; retry in 50ms");
    // The job whose worker crashed was not lost: retried, and done on its second try.
    out.expect(" crashed (job 3: corrupt row 13 in import report.csv); retry in 50ms");
    assert_eq!(
        out.lines_with("job 3 (import report.csv) done by worker-")
            .len(),
        1,
        "{}",
        out.stdout
    );
    out.expect(" on attempt 2");
    out.expect("job 4 (charge card 4242) attempt 3 failed: card declined; to the dead letters");
    out.expect("done: 6 jobs");
    out.expect("dead letter: job 4 (charge card 4242) after 3 attempts: card declined");
    assert_eq!(out.lines_with("restarts=1").len(), 1, "{}", out.stdout);
    assert_eq!(out.lines_with("restarts=0").len(), 2, "{}", out.stdout);
}

#[test]
fn circuit_breaker_opens_after_failures_and_closes_after_a_successful_trial() {
    let out = run("circuit_breaker");
    // Three failures in a row open it; open, it refuses even a healthy service.
    out.expect("call (service down): Failed, now Open");
    out.expect("call (service up): Refused, now Open");
    // After the cool-down, a failed trial opens it again, and a good one closes it.
    out.expect("breaker: Open -> HalfOpen");
    out.expect("breaker: HalfOpen -> Open");
    out.expect("breaker: HalfOpen -> Closed { failures: 0 }");
    out.expect("closed again after a successful trial");
}
