//! End to end: `noex metrics` and `noex exporter` against a real demo application,
//! checked by Prometheus' own tools: promtool lints the text and the documented rules,
//! and a real Prometheus server scrapes the exporter.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use support::{Demo, HANG, noex_bin, outside_tool};

macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!($name, $value);
        })
    };
}

/// The docs' rules and scrape config, which the tests check as they are.
fn docs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs")
}

/// The sample lines of `family` (its full sample name, `_total` and all).
fn samples<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    text.lines()
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .collect()
}

/// The value of a sample line.
fn value(line: &str) -> f64 {
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

/// Run `tool args` with `input` on its stdin; its exit code, stdout and stderr.
fn run_with_stdin(tool: &Path, args: &[&str], input: &str) -> (i32, String, String) {
    let mut child = Command::new(tool)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn metrics_text_passes_promtool_lint_with_no_warnings() {
    let Some(promtool) = outside_tool("promtool") else {
        return;
    };
    let demo = Demo::start();
    let pid = demo.pid().to_string();
    let metrics = demo.noex(&["metrics", "--pid", &pid, "--format", "prometheus"]);
    assert_eq!(metrics.code, 0, "{}", metrics.stderr);
    let (code, stdout, stderr) = run_with_stdin(&promtool, &["check", "metrics"], &metrics.stdout);
    assert_eq!(
        (code, stdout.as_str(), stderr.as_str()),
        (0, "", ""),
        "promtool on:\n{}",
        metrics.stdout
    );
}

/// Every family with its HELP, TYPE and UNIT lines and the label sets of its series,
/// values and pids redacted: the documented names, exactly.
#[test]
fn metrics_families_and_labels_are_the_documented_ones() {
    let demo = Demo::start();
    let pid = demo.pid().to_string();
    let metrics = demo.noex(&["metrics", "--pid", &pid]);
    assert_eq!(metrics.code, 0, "{}", metrics.stderr);
    assert!(
        metrics.stdout.ends_with("# EOF\n"),
        "OpenMetrics ends with # EOF"
    );
    assert!(
        metrics.stdout.contains(&format!(
            "noex_agent_up{{app=\"noex-demo\",pid=\"{pid}\"}} 1\n"
        )),
        "{}",
        metrics.stdout
    );
    let value = regex_lite::Regex::new(r"(?m)^([^#].*) \S+$").unwrap();
    let redacted = value.replace_all(&metrics.stdout, "$1 _");
    let redacted = redacted.replace(&format!("pid=\"{pid}\""), "pid=\"PID\"");
    snapshot!("e2e_metrics_families", redacted);
}

/// With 500 idle servers and a cap of 10, ten processes get series of their own and
/// the rest are summed into name="(other)", counted by noex_other_processes.
#[test]
fn the_series_cap_keeps_ten_processes_and_sums_the_rest_into_other() {
    let demo = Demo::start_with(&["--scale", "500"]);
    let metrics = demo.noex(&["metrics", "--max-process-series", "10"]);
    assert_eq!(metrics.code, 0, "{}", metrics.stderr);
    let text = &metrics.stdout;
    let total: f64 = samples(text, "noex_processes").into_iter().map(value).sum();
    assert!(total > 500.0, "{text}");
    let other = samples(text, "noex_other_processes");
    assert_eq!(other.len(), 1, "{text}");
    assert_eq!(value(other[0]), total - 10.0, "{text}");
    assert_eq!(samples(text, "noex_process_status").len(), 10, "{text}");
    // Workers and supervisors alike have restarts; only workers have mailboxes.
    assert_eq!(
        samples(text, "noex_process_restarts_total").len(),
        11,
        "{text}"
    );
    for family in [
        "noex_process_restarts_total",
        "noex_process_messages_total",
        "noex_process_queue_length",
        "noex_process_busy_seconds_total",
    ] {
        let lines = samples(text, family);
        assert!(lines.len() <= 11, "{family}: {lines:#?}");
        assert_eq!(
            lines
                .iter()
                .filter(|l| l.contains("name=\"(other)\""))
                .count(),
            1,
            "{family}: {lines:#?}"
        );
    }
    // The idle servers did nothing: the demo's working processes are the ten shown.
    assert!(
        !samples(text, "noex_process_status")
            .iter()
            .any(|l| l.contains("idle")),
        "{text}"
    );
}

/// An agent that accepts and never answers is `up 0` within --agent-timeout, and the
/// live application beside it is still read.
#[cfg(unix)]
#[test]
fn a_stuck_agent_is_down_and_does_not_stall_the_scrape() {
    let demo = Demo::start();
    // Named after a live process (this test's), so discovery keeps it; nobody accepts
    // on it, so the greeting never comes.
    let own = std::process::id();
    let _stuck =
        std::os::unix::net::UnixListener::bind(demo.agent_dir().join(format!("{own}.sock")))
            .unwrap();
    let metrics = demo.noex(&["metrics", "--all-agents", "--agent-timeout", "1s"]);
    assert_eq!(metrics.code, 0, "{}", metrics.stderr);
    let mut up = samples(&metrics.stdout, "noex_agent_up");
    up.sort_unstable();
    let mut expected = vec![
        format!(
            "noex_agent_up{{app=\"noex-demo\",pid=\"{}\"}} 1",
            demo.pid()
        ),
        format!("noex_agent_up{{app=\"\",pid=\"{own}\"}} 0"),
    ];
    expected.sort_unstable();
    assert_eq!(up, expected, "{}", metrics.stdout);
    assert_eq!(samples(&metrics.stdout, "noex_app_uptime_seconds").len(), 1);
}

#[test]
fn all_agents_with_a_pid_is_a_usage_error() {
    let demo = Demo::start();
    let out = demo.noex(&["metrics", "--all-agents", "--pid", &demo.pid().to_string()]);
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        "error: --all-agents cannot be combined with --pid or --socket\n\
         hint: --all-agents already attaches to every running noex application\n"
    );
}

#[test]
fn the_exporter_refuses_a_non_loopback_address_without_allow_remote() {
    let demo = Demo::start();
    let out = demo.noex(&["exporter", "--listen", "0.0.0.0:0"]);
    assert_eq!(out.code, 2);
    snapshot!("e2e_exporter_refuses_remote", out.stderr);
}

#[test]
fn the_documented_alerting_rules_pass_promtool() {
    let Some(promtool) = outside_tool("promtool") else {
        return;
    };
    let rules = docs().join("prometheus-rules.yml");
    let (code, stdout, stderr) =
        run_with_stdin(&promtool, &["check", "rules", rules.to_str().unwrap()], "");
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("SUCCESS: 2 rules found"), "{stdout}");
    // The documented scrape config, with the rules file it names.
    let config = docs().join("prometheus.yml");
    let (code, stdout, stderr) = run_with_stdin(
        &promtool,
        &["check", "config", config.to_str().unwrap()],
        "",
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
}

/// A child process killed and reaped on drop, even when the test fails.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port nobody listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `noex exporter --listen 127.0.0.1:0` for the demo's agent directory, and the
/// address it says it serves on.
fn start_exporter(demo: &Demo) -> (Reaped, String) {
    let mut child = Command::new(noex_bin())
        .args(["exporter", "--listen", "127.0.0.1:0"])
        .env("NOEX_AGENT_DIR", demo.agent_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let address = regex_lite::Regex::new(r"http://(127\.0\.0\.1:\d+)/metrics")
        .unwrap()
        .captures(&line)
        .unwrap_or_else(|| panic!("no address in {line:?}"))[1]
        .to_string();
    (Reaped(child), address)
}

fn get(url: &str) -> (u16, String, String) {
    let mut response = ureq::get(url)
        .config()
        .http_status_as_error(false)
        .build()
        .call()
        .unwrap();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = response.body_mut().read_to_string().unwrap();
    (response.status().as_u16(), content_type, body)
}

/// Prometheus' instant query `query`: the `data.result` array.
fn query(prometheus: &str, query: &str) -> Vec<serde_json::Value> {
    let body = ureq::get(&format!("http://{prometheus}/api/v1/query"))
        .query("query", query)
        .call()
        .and_then(|mut response| response.body_mut().read_to_string());
    let Ok(body) = body else {
        return Vec::new();
    };
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    json["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn prometheus_scrapes_the_exporter_and_sees_the_demo() {
    let Some(prometheus) = outside_tool("prometheus") else {
        return;
    };
    let demo = Demo::start();
    let (mut exporter, address) = start_exporter(&demo);

    let (status, content_type, index) = get(&format!("http://{address}/"));
    assert_eq!(
        (status, content_type.as_str()),
        (200, "text/html; charset=utf-8")
    );
    assert!(
        index.contains("<a href=\"metrics\">/metrics</a>"),
        "{index}"
    );
    let (status, content_type, text) = get(&format!("http://{address}/metrics"));
    assert_eq!(
        (status, content_type.as_str()),
        (200, "text/plain; version=0.0.4; charset=utf-8"),
        "a scraper that does not ask for OpenMetrics gets the 0.0.4 text"
    );
    assert!(text.contains("noex_agent_up{app=\"noex-demo\""), "{text}");
    assert_eq!(get(&format!("http://{address}/nothing")).0, 404);
    let post = ureq::post(&format!("http://{address}/metrics"))
        .config()
        .http_status_as_error(false)
        .build()
        .send_empty()
        .unwrap();
    assert_eq!(post.status().as_u16(), 405);
    assert_eq!(post.headers().get("allow").unwrap(), "GET");

    let dir = tempfile::Builder::new()
        .prefix("noex-prometheus-")
        .tempdir()
        .unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
             scrape_configs:\n  - job_name: noex\n    static_configs:\n      - targets: ['{address}']\n"
        ),
    )
    .unwrap();
    let web = format!("127.0.0.1:{}", free_port());
    let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
    let _prometheus = Reaped(
        Command::new(prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={web}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );

    // Wait for the first scrape that carries the demo's series.
    let demo_workers = "noex_processes{job=\"noex\",app=\"noex-demo\",kind=\"worker\"}";
    let began = Instant::now();
    let workers = loop {
        let result = query(&web, demo_workers);
        if !result.is_empty() {
            break result;
        }
        assert!(
            began.elapsed() < HANG,
            "Prometheus never had the demo's series; its log:\n{}",
            std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(workers[0]["metric"]["pid"], demo.pid().to_string());
    let up = query(&web, "up{job=\"noex\"}");
    assert_eq!(up.len(), 1, "{up:#?}");
    assert_eq!(up[0]["value"][1], "1", "{up:#?}");
    let agent_up = query(&web, "noex_agent_up{job=\"noex\"}");
    assert_eq!(agent_up[0]["value"][1], "1", "{agent_up:#?}");
    assert!(!query(&web, "noex_process_messages_total{name=\"worker-1\"}").is_empty());
    // Prometheus asked for OpenMetrics and got it: only that format carries units.
    let metadata = ureq::get(&format!("http://{web}/api/v1/targets/metadata"))
        .query("match_target", "{job=\"noex\"}")
        .query("metric", "noex_process_busy_seconds")
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    let metadata: serde_json::Value = serde_json::from_str(&metadata).unwrap();
    assert_eq!(metadata["data"][0]["unit"], "seconds", "{metadata:#}");
    assert_eq!(metadata["data"][0]["type"], "counter", "{metadata:#}");

    // SIGTERM stops the exporter cleanly.
    #[cfg(unix)]
    {
        // SAFETY: `kill` touches no memory of ours; the child has not been reaped, so
        // its pid is still its own.
        unsafe {
            libc::kill(exporter.0.id() as libc::pid_t, libc::SIGTERM);
        }
        let status = exporter.0.wait().unwrap();
        assert_eq!(status.code(), Some(0));
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut exporter.0.stderr.take().unwrap(), &mut stderr).unwrap();
        assert_eq!(stderr, "noex exporter: stopped\n");
    }
}
