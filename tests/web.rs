//! End to end: the web dashboard of `noex demo --web` in a real browser. Debian's
//! chromium, driven by Playwright (tests/web/dashboard.mjs, its package pinned in
//! tests/web/package-lock.json), loads the page from the demo's gateway and works it
//! as an operator would. Each test is one case of the script; the script waits for
//! what the page must show and says what it did not.
//!
//! Needs node, /usr/bin/chromium and `npm ci --prefix tests/web`
//! (`.ci/install-test-tools` sets up all three); skips without them, unless
//! NOEX_REQUIRE_TEST_TOOLS is set.

mod support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use noex_server::{AuthConfig, RolePermissions, ServerConfig, StaticTokens};
use support::{Demo, REQUIRE_TEST_TOOLS, outside_tool};

/// The browser a case may take, all its waits included: only against a hang.
const CASE_HANG: Duration = Duration::from_secs(180);

fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("web")
}

/// Where the screenshots go: `target/web-artifacts`, in the target dir in use.
fn artifacts() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"));
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(target)
        .join("web-artifacts")
}

/// Node and the installed Playwright; `None` (the test skips) when either is
/// missing, unless the environment says no test may skip. Chromium is looked for by
/// the script, at the path Debian installs it.
fn browser_tools() -> Option<PathBuf> {
    let node = outside_tool("node")?;
    let chromium = Path::new("/usr/bin/chromium");
    let playwright = web_dir().join("node_modules").join("playwright-core");
    for (missing, what) in [
        (!chromium.is_file(), "/usr/bin/chromium is not installed"),
        (
            !playwright.is_dir(),
            "tests/web/node_modules is not installed (`npm ci --prefix tests/web`)",
        ),
    ] {
        if missing {
            if std::env::var_os(REQUIRE_TEST_TOOLS).is_some_and(|v| v != "0" && !v.is_empty()) {
                panic!("{what}, and {REQUIRE_TEST_TOOLS} says no test may skip");
            }
            eprintln!("skipped: {what} (`.ci/install-test-tools` sets it up, as root)");
            return None;
        }
    }
    Some(node)
}

/// The dashboard's address, from the line the demo prints before it says it runs.
fn dashboard_url(demo: &Demo) -> String {
    let stdout = demo.stdout();
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix("web dashboard: "))
        .unwrap_or_else(|| panic!("the demo did not say where its dashboard is: {stdout}"));
    assert!(
        line.starts_with("http://127.0.0.1:") && !line.starts_with("http://127.0.0.1:0/"),
        "the real port, not 0: {line}"
    );
    line.to_string()
}

/// One case of tests/web/dashboard.mjs running against a page, with the home the
/// browser writes in (its settings, its runtime and temporary files, its profile): a
/// temporary directory, removed with it, not the user's.
struct Case {
    browser: Child,
    _home: tempfile::TempDir,
}

/// Starts one case of tests/web/dashboard.mjs against the page at `url`.
fn start_case(node: &Path, case: &str, url: &str) -> Case {
    let home = tempfile::Builder::new()
        .prefix("noex-web-")
        .tempdir()
        .unwrap();
    let browser = Command::new(node)
        .arg("dashboard.mjs")
        .args([case, url])
        .arg(artifacts())
        .current_dir(web_dir())
        .env("HOME", home.path())
        .env("XDG_RUNTIME_DIR", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("XDG_CACHE_HOME", home.path().join("cache"))
        // Chromium leaves a file or two of its own in the temporary directory.
        .env("TMPDIR", home.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting node");
    Case {
        browser,
        _home: home,
    }
}

/// Waits for the case to end (killing it after [`CASE_HANG`]) and fails with what it
/// said unless it passed. `said` is what the test read of its stdout already.
fn finish_case(case: &str, Case { mut browser, _home }: Case, said: &str) {
    let began = Instant::now();
    while browser.try_wait().unwrap().is_none() {
        if began.elapsed() > CASE_HANG {
            let _ = browser.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = browser.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "case {case} failed ({}); screenshot in {}\n{said}{stdout}\n{stderr}",
        output.status,
        artifacts().display()
    );
}

/// Runs one case of tests/web/dashboard.mjs against a fresh demo with its dashboard.
fn run_case(case: &str) {
    let Some(node) = browser_tools() else {
        return;
    };
    let mut demo = Demo::start_with(&["--web", "127.0.0.1:0"]);
    let url = dashboard_url(&demo);
    let browser = start_case(&node, case, &url);
    let result = std::panic::catch_unwind(|| finish_case(case, browser, ""));
    demo.stop();
    if let Err(failure) = result {
        std::panic::resume_unwind(failure);
    }
}

/// A gateway on `address` that asks for a token: `viewer-token` is a viewer (reads
/// only), `operator-token` an operator.
async fn gateway_with_tokens(address: SocketAddr) -> noex_server::Server {
    let tokens = StaticTokens::new()
        .user("viewer-token", "vera", [RolePermissions::VIEWER])
        .user("operator-token", "otto", [RolePermissions::OPERATOR]);
    let auth = AuthConfig::new(tokens).permissions(RolePermissions::viewer_and_operator());
    noex_server::start(ServerConfig::new().bind(address).auth(auth))
        .await
        .expect("starting the gateway")
}

/// The page shows the demo's supervision tree, nested, and folds a supervisor.
#[test]
fn the_tree_shows_the_demos_supervisors() {
    run_case("tree");
}

/// The process table sorts by the header clicked, both ways, and filters by name.
#[test]
fn the_process_table_sorts_by_a_header_and_filters() {
    run_case("table");
}

/// Kill asks first (cancel does nothing); confirmed, the worker is restarted: a new
/// pid in the table, a `restarted` event in the log.
#[test]
fn a_confirmed_kill_restarts_the_worker_and_logs_the_restart() {
    run_case("kill");
}

/// A live query on the page follows a change another client makes to a record.
#[test]
fn a_live_query_shows_a_record_changed_by_another_client() {
    run_case("query");
}

/// The filled-in page, saved as target/web-artifacts/dashboard.png.
#[test]
fn the_dashboard_screenshot_is_saved() {
    run_case("screenshot");
    if browser_tools().is_some() {
        assert!(artifacts().join("dashboard.png").is_file());
    }
}

/// With a gateway that asks for a token: the page asks first (and says why a token is
/// refused), a viewer's kill is FORBIDDEN, and when the gateway goes away and comes
/// back, the page says it is retrying, reconnects and logs in again by itself.
#[test]
fn a_viewer_is_refused_a_kill_and_the_page_reconnects_after_a_restart() {
    let Some(node) = browser_tools() else {
        return;
    };
    // No agent socket from this test: the gateway reads its Observer in process. (Not
    // NOEX_AGENT=off: the demos the other tests of this binary start would inherit it.)
    noex::agent::disable();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let first = runtime.block_on(gateway_with_tokens("127.0.0.1:0".parse().unwrap()));
    let address = first.local_addr();
    let mut server = Some(first);
    let mut case = start_case(&node, "auth", &format!("http://{address}/"));
    // The script says when to stop the gateway and when to start it again (on the
    // same port, as a restarted server would come back).
    let mut said = String::new();
    let mut lines = BufReader::new(case.browser.stdout.take().unwrap());
    let mut line = String::new();
    while lines.read_line(&mut line).unwrap() > 0 {
        said.push_str(&line);
        match line.trim() {
            "stop" => {
                if let Some(stopped) = server.take() {
                    runtime.block_on(stopped.stop(Duration::from_millis(100)));
                }
            }
            "start" => server = Some(runtime.block_on(gateway_with_tokens(address))),
            _ => {}
        }
        line.clear();
    }
    finish_case("auth", case, &said);
    if let Some(server) = server {
        runtime.block_on(server.stop(Duration::ZERO));
    }
}
