//! `noex::application`, against what OTP's `application` documents: an
//! application's tree stops children in reverse start order, within the kernel's
//! `shutdown_timeout` (else what is left is killed); a permanent application whose
//! top supervisor ends takes the node (here: the program) with it, exit 1; SIGTERM
//! stops it gracefully (`init:stop()`). The signal tests run the example
//! `examples/application.rs` as its own process and signal it for real.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use noex::application::{AppExit, Application, StopCause};
use noex::error::BoxError;
use noex::gen_server::{Context, GenServer, Info, Reply};
use noex::supervisor::{ChildSpec, Shutdown, SupervisorSpec};
use noex::{ExitReason, StartError};
use support::within;

/// What the children did, in order: "start a", "stop a", ...
type Journal = Arc<Mutex<Vec<String>>>;

/// A child that writes its start and its stop in the journal.
struct Recorded {
    id: &'static str,
    journal: Journal,
    /// Its `terminate` never finishes.
    stuck: bool,
    /// Crashes right after each start.
    crashes: bool,
    /// Its `init` fails.
    fails_to_start: bool,
}

struct Crash;

impl GenServer for Recorded {
    type Call = ();
    type Cast = ();
    type Reply = ();

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), BoxError> {
        if self.fails_to_start {
            return Err("no database".into());
        }
        self.journal
            .lock()
            .unwrap()
            .push(format!("start {}", self.id));
        if self.crashes {
            ctx.send_after(Duration::from_millis(10), Crash);
        }
        Ok(())
    }

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }

    async fn handle_info(&mut self, _: Info, ctx: &mut Context<Self>) {
        ctx.stop(ExitReason::error("lost the connection"));
    }

    async fn terminate(&mut self, _: &ExitReason, _: &mut Context<Self>) {
        if self.stuck {
            std::future::pending::<()>().await;
        }
        self.journal
            .lock()
            .unwrap()
            .push(format!("stop {}", self.id));
    }
}

fn child(id: &'static str, journal: &Journal) -> Recorded {
    Recorded {
        id,
        journal: journal.clone(),
        stuck: false,
        crashes: false,
        fails_to_start: false,
    }
}

fn spec(id: &'static str, journal: &Journal) -> ChildSpec<Recorded> {
    let journal = journal.clone();
    ChildSpec::worker(id, move || child(id, &journal))
}

/// An application with the agent left alone (one per test binary; another test's
/// agent is not this one's business) and no signal handlers (tests share a process).
fn app(name: &str, root: SupervisorSpec) -> Application {
    Application::new(name)
        .supervisor(root)
        .without_agent()
        .stop_on_signals(false)
}

fn entries(journal: &Journal) -> Vec<String> {
    journal.lock().unwrap().clone()
}

#[tokio::test]
async fn stop_stops_children_in_reverse_start_order() {
    let journal = Journal::default();
    let root = SupervisorSpec::one_for_one()
        .child(spec("db", &journal))
        .child(spec("cache", &journal))
        .child(spec("http", &journal));
    let running = app("order", root).start().await.unwrap();
    let exit = within("the stop", running.stop()).await;
    assert!(
        matches!(
            exit,
            AppExit::Stopped {
                by: StopCause::Request
            }
        ),
        "{exit:?}"
    );
    assert_eq!(exit.exit_code(), std::process::ExitCode::SUCCESS);
    assert_eq!(
        entries(&journal),
        [
            "start db",
            "start cache",
            "start http",
            "stop http",
            "stop cache",
            "stop db"
        ]
    );
}

#[tokio::test]
async fn stop_from_another_task_ends_run_with_stopped_by_request() {
    let journal = Journal::default();
    let running = app(
        "request",
        SupervisorSpec::one_for_one().child(spec("db", &journal)),
    )
    .start()
    .await
    .unwrap();
    let root = running.supervisor().clone();
    let stop = running.stop_handle();
    let run = tokio::spawn(running.run());
    // The application runs until it is asked to stop: its tree is up.
    tokio::task::yield_now().await;
    assert!(root.is_running());
    assert!(!run.is_finished());
    tokio::spawn(async move { stop.stop() });
    let exit = within("run returns", run).await.unwrap();
    assert!(
        matches!(
            exit,
            AppExit::Stopped {
                by: StopCause::Request
            }
        ),
        "{exit:?}"
    );
    assert!(!root.is_running());
    assert_eq!(entries(&journal), ["start db", "stop db"]);
}

#[tokio::test(start_paused = true)]
async fn grace_period_exceeded_kills_remaining_children() {
    let journal = Journal::default();
    let stuck_journal = journal.clone();
    let root = SupervisorSpec::one_for_one()
        .child(spec("db", &journal))
        .child(
            ChildSpec::worker("http", move || Recorded {
                stuck: true,
                ..child("http", &stuck_journal)
            })
            // Its supervisor would wait forever: the grace period is the only limit.
            .shutdown(Shutdown::Infinity),
        );
    let running = app("grace", root)
        .shutdown_grace(Duration::from_secs(5))
        .start()
        .await
        .unwrap();
    let children: Vec<_> = running
        .supervisor()
        .children()
        .await
        .unwrap()
        .into_iter()
        .map(|child| child.pid.unwrap())
        .collect();
    let root = running.supervisor().clone();
    let exit = within("the forced stop", running.stop()).await;
    let AppExit::GraceExceeded { grace, killed } = &exit else {
        panic!("expected GraceExceeded, got {exit:?}");
    };
    assert_eq!(*grace, Duration::from_secs(5));
    // `http` hung in its `terminate`; `db`, to be stopped after it, never was.
    assert_eq!(killed, &["db", "http"]);
    assert_eq!(exit.exit_code(), std::process::ExitCode::FAILURE);
    assert!(!root.is_running());
    for pid in children {
        assert!(!noex::process::is_alive(pid), "{pid} outlived the kill");
    }
    assert_eq!(entries(&journal), ["start db", "start http"]);
}

#[tokio::test(start_paused = true)]
async fn stop_within_the_grace_period_is_clean() {
    let journal = Journal::default();
    let running = app(
        "in-time",
        SupervisorSpec::one_for_one().child(spec("db", &journal)),
    )
    .shutdown_grace(Duration::from_secs(10))
    .start()
    .await
    .unwrap();
    let exit = within("the stop", running.stop()).await;
    assert!(exit.is_clean(), "{exit:?}");
}

#[tokio::test(start_paused = true)]
async fn tree_giving_up_ends_the_application_with_the_reason() {
    let journal = Journal::default();
    let crashing = journal.clone();
    let root = SupervisorSpec::one_for_one()
        .child(spec("db", &journal))
        .child(ChildSpec::worker("cache", move || Recorded {
            crashes: true,
            ..child("cache", &crashing)
        }));
    let exit = within("the tree gives up", app("gives-up", root).run()).await;
    let AppExit::GaveUp { reason } = &exit else {
        panic!("expected GaveUp, got {exit:?}");
    };
    assert!(
        matches!(reason, ExitReason::MaxRestartsExceeded(_)),
        "{reason:?}"
    );
    assert_eq!(exit.exit_code(), std::process::ExitCode::FAILURE);
    // The supervisor stopped its children before it gave up.
    assert_eq!(
        entries(&journal).last().map(String::as_str),
        Some("stop db")
    );
}

#[tokio::test]
async fn root_that_fails_to_start_is_a_start_error_and_a_nonzero_exit() {
    let journal = Journal::default();
    let failing = journal.clone();
    let root = || {
        let failing = failing.clone();
        SupervisorSpec::one_for_one()
            .child(spec("db", &journal))
            .child(ChildSpec::worker("cache", move || Recorded {
                fails_to_start: true,
                ..child("cache", &failing)
            }))
    };
    let error = app("no-start", root()).start().await.unwrap_err();
    // The root's own start failed, for its child `cache`.
    assert!(
        matches!(&error, StartError::Initialization(_)) && error.to_string().contains("\"cache\""),
        "{error:?}"
    );
    let exit = app("no-start", root()).run().await;
    assert!(matches!(exit, AppExit::StartFailed(_)), "{exit:?}");
    assert_eq!(exit.exit_code(), std::process::ExitCode::FAILURE);
    // What started was stopped again, as a supervisor's failed start does.
    assert_eq!(
        entries(&journal),
        ["start db", "stop db", "start db", "stop db"]
    );
}

#[tokio::test]
async fn root_supervisor_is_registered_under_the_application_name() {
    let running = app("registered-app", SupervisorSpec::one_for_one())
        .start()
        .await
        .unwrap();
    assert_eq!(running.name(), "registered-app");
    assert_eq!(
        noex::registry::whereis("registered-app"),
        Some(running.supervisor().pid())
    );
    let _ = within("the stop", running.stop()).await;
    assert_eq!(noex::registry::whereis("registered-app"), None);
}

#[tokio::test]
async fn prep_stop_runs_before_the_tree_stops_and_on_stop_after() {
    let journal = Journal::default();
    let (before, after) = (journal.clone(), journal.clone());
    let running = app(
        "hooks",
        SupervisorSpec::one_for_one().child(spec("db", &journal)),
    )
    .prep_stop(move || async move { before.lock().unwrap().push("prep_stop".into()) })
    .on_stop(move || async move { after.lock().unwrap().push("on_stop".into()) })
    .start()
    .await
    .unwrap();
    assert!(within("the stop", running.stop()).await.is_clean());
    assert_eq!(
        entries(&journal),
        ["start db", "prep_stop", "stop db", "on_stop"]
    );
}

#[tokio::test]
async fn a_panicking_hook_is_logged_and_the_stop_goes_on() {
    let journal = Journal::default();
    let running = app(
        "panicking-hook",
        SupervisorSpec::one_for_one().child(spec("db", &journal)),
    )
    .prep_stop(|| async { panic!("prep_stop failed") })
    .start()
    .await
    .unwrap();
    assert!(within("the stop", running.stop()).await.is_clean());
    assert_eq!(entries(&journal), ["start db", "stop db"]);
}

/// The example, run as a program and signalled for real.
#[cfg(all(unix, any(target_os = "linux", feature = "agent")))]
mod across_processes {
    use std::io::{BufRead, BufReader, Read};
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, ExitStatus, Stdio};
    use std::sync::{OnceLock, mpsc};
    use std::time::{Duration, Instant};

    use super::support;

    /// A guard against a hang only: each run ends in about a second.
    const HANG: Duration = Duration::from_secs(60);

    /// The example `application`, built once per run: cargo does not build examples
    /// for one test (`--test application`), and one built before may be out of date.
    fn example() -> PathBuf {
        static BUILT: OnceLock<PathBuf> = OnceLock::new();
        BUILT.get_or_init(build_example).clone()
    }

    fn build_example() -> PathBuf {
        let exe = std::env::current_exe().expect("the test's own path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test runs from target/<profile>/deps");
        let profile = match profile_dir.file_name().and_then(|p| p.to_str()) {
            Some("debug") => "dev",
            Some(other) => other,
            None => panic!("no profile in {}", profile_dir.display()),
        };
        let status = Command::new(option_env!("CARGO").unwrap_or("cargo"))
            .args(["build", "--quiet", "-p", "noex", "--example", "application"])
            .args(["--profile", profile])
            .arg("--target-dir")
            .arg(profile_dir.parent().expect("target/<profile> has a parent"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the example failed: {status}");
        profile_dir.join("examples").join("application")
    }

    /// The example, running, its stdout read line by line as it comes.
    struct Program {
        child: Child,
        lines: mpsc::Receiver<String>,
        stdout: Vec<String>,
        stderr: std::thread::JoinHandle<String>,
    }

    impl Program {
        fn start(args: &[&str]) -> Program {
            let mut child = Command::new(example())
                .args(args)
                .env("NOEX_AGENT_DIR", support::sandbox::agent_dir().join("app"))
                .env_remove("NOEX_AGENT")
                .env("RUST_LOG", "info")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("the example starts");
            let stdout = child.stdout.take().expect("piped");
            let (send, lines) = mpsc::channel();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    let _ = send.send(line);
                }
            });
            let mut stderr = child.stderr.take().expect("piped");
            let stderr = std::thread::spawn(move || {
                let mut text = String::new();
                let _ = stderr.read_to_string(&mut text);
                text
            });
            Program {
                child,
                lines,
                stdout: Vec::new(),
                stderr,
            }
        }

        /// Read its output until `line` (the event itself, not a delay).
        fn wait_for(&mut self, line: &str) {
            let deadline = Instant::now() + HANG;
            while !self.stdout.iter().any(|l| l == line) {
                let left = deadline.saturating_duration_since(Instant::now());
                match self.lines.recv_timeout(left) {
                    Ok(next) => self.stdout.push(next),
                    Err(_) => {
                        let _ = self.child.kill();
                        panic!("no {line:?} (a hang or an early exit):\n{:?}", self.stdout)
                    }
                }
            }
        }

        fn signal(&self, signal: libc::c_int) {
            let pid = libc::pid_t::try_from(self.child.id()).expect("a pid");
            // SAFETY: `kill` only sends a signal; the pid is our own child's, which
            // has not been waited for, so it cannot have been reused.
            let sent = unsafe { libc::kill(pid, signal) };
            assert_eq!(sent, 0, "kill failed: {}", std::io::Error::last_os_error());
        }

        /// Wait for it to exit: its status, all its stdout lines, its stderr.
        fn finish(mut self) -> (ExitStatus, Vec<String>, String) {
            let deadline = Instant::now() + HANG;
            let status = loop {
                if let Some(status) = self.child.try_wait().expect("waitable") {
                    break status;
                }
                if Instant::now() > deadline {
                    let _ = self.child.kill();
                    panic!("did not exit within {HANG:?}: {:?}", self.stdout);
                }
                std::thread::sleep(Duration::from_millis(10));
            };
            self.stdout.extend(self.lines.iter());
            let stderr = self.stderr.join().expect("stderr read");
            (status, self.stdout, stderr)
        }
    }

    /// The lines that say a child stopped, in the order printed.
    fn stops(stdout: &[String]) -> Vec<&str> {
        stdout
            .iter()
            .filter(|line| line.ends_with(": stopped"))
            .map(String::as_str)
            .collect()
    }

    /// Started and ready: signals are listened for before the first child starts,
    /// so once the last one said so, a signal stops the tree gracefully.
    fn started(args: &[&str]) -> Program {
        let mut program = Program::start(args);
        program.wait_for("http: started");
        program
    }

    #[test]
    fn sigterm_stops_children_in_reverse_start_order_and_exits_zero() {
        let program = started(&[]);
        #[cfg(feature = "agent")]
        agent_shows_the_application(program.child.id(), "shop");
        program.signal(libc::SIGTERM);
        let (status, stdout, stderr) = program.finish();
        assert_eq!(status.code(), Some(0), "{stdout:?}\n{stderr}");
        assert_eq!(
            stops(&stdout),
            ["http: stopped", "cache: stopped", "db: stopped"]
        );
        assert!(stderr.contains("SIGTERM"), "{stderr}");
        assert!(stderr.contains("application stopped"), "{stderr}");
    }

    #[test]
    fn sigint_stops_gracefully() {
        let program = started(&[]);
        program.signal(libc::SIGINT);
        let (status, stdout, stderr) = program.finish();
        assert_eq!(status.code(), Some(0), "{stdout:?}\n{stderr}");
        assert_eq!(
            stops(&stdout),
            ["http: stopped", "cache: stopped", "db: stopped"]
        );
        assert!(stderr.contains("SIGINT"), "{stderr}");
    }

    #[test]
    fn tree_giving_up_exits_nonzero() {
        let program = Program::start(&["--crash"]);
        let (status, stdout, stderr) = program.finish();
        assert_eq!(status.code(), Some(1), "{stdout:?}\n{stderr}");
        assert!(stderr.contains("max restarts exceeded"), "{stderr}");
        // The supervisor stopped the others before it gave up, in reverse order.
        assert_eq!(stops(&stdout).last(), Some(&"db: stopped"), "{stdout:?}");
    }

    #[test]
    fn second_signal_during_stop_kills_at_once() {
        let mut program = started(&["--slow-stop"]);
        program.signal(libc::SIGTERM);
        // `http` takes a minute to stop; the operator does not wait.
        program.wait_for("http: stopping");
        program.signal(libc::SIGINT);
        let (status, stdout, stderr) = program.finish();
        assert_eq!(status.code(), Some(1), "{stdout:?}\n{stderr}");
        assert!(stderr.contains("a second SIGINT"), "{stderr}");
        // Killed: nothing stopped gracefully.
        assert_eq!(stops(&stdout), Vec::<&str>::new());
    }

    #[test]
    fn grace_period_exceeded_in_a_program_exits_nonzero() {
        let mut program = started(&["--slow-stop"]);
        program.signal(libc::SIGTERM);
        program.wait_for("http: stopping");
        let (status, stdout, stderr) = program.finish();
        assert_eq!(status.code(), Some(1), "{stdout:?}\n{stderr}");
        assert!(stderr.contains("killed db, cache, http"), "{stderr}");
    }

    /// `noex` attached to the program finds the application by its name.
    #[cfg(feature = "agent")]
    fn agent_shows_the_application(pid: u32, name: &str) {
        let socket = support::sandbox::agent_dir()
            .join("app")
            .join(format!("{pid}.sock"));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let mut client = noex_agent::client::Client::connect(&socket)
                .await
                .expect("the agent listens");
            assert_eq!(client.hello().app, name);
            let snapshot = client.snapshot().await.expect("a snapshot");
            assert!(
                snapshot
                    .supervisors
                    .iter()
                    .any(|s| s.name.as_deref() == Some(name)),
                "no supervisor named {name}"
            );
        });
    }
}
