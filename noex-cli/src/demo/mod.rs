//! `noex demo`: one command for a newcomer. It starts a demo application as a second
//! OS process (`noex demo --no-ui`, with a supervision tree doing real work and
//! crashing now and then), opens the dashboard on it, and stops it on the way out.

mod app;

pub use app::Idle;

use std::io::IsTerminal;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use noex_agent::discovery;

use crate::cli::{ClusterArgs, DemoArgs, Layout, TargetArgs, Theme, TopArgs};
use crate::context::Context;
use crate::error::CliError;

/// How long the demo app may take to start its tree and open its agent socket...
const STARTUP_TIMEOUT: Duration = Duration::from_secs(15);
/// ...and, with `--scale`, to start each idle server (a million in well under a minute).
const STARTUP_PER_IDLE_SERVER: Duration = Duration::from_micros(50);

pub async fn run(ctx: &Context, args: DemoArgs) -> Result<(), CliError> {
    // With the web dashboard and no terminal to draw the other one on (a script, a
    // pipe), the browser is the UI: the app runs here and says where to point it.
    let web_only = args.web.is_some() && !std::io::stdout().is_terminal();
    if args.no_ui || web_only {
        return Ok(app::run(&args, &ctx.target.cluster).await?);
    }
    let mut demo = DemoProcess::spawn(&args, &ctx.target.cluster)?;
    demo.wait_for_agent(STARTUP_TIMEOUT + STARTUP_PER_IDLE_SERVER * args.scale)
        .await?;
    // Said before the terminal dashboard takes the screen, and again when it leaves.
    let web = demo.web_address();
    if let Some(line) = &web {
        println!("{line}");
    }
    let attached = Context {
        // The demo runs here, whatever NOEX_HOST says.
        target: TargetArgs {
            pid: Some(demo.pid()),
            ..TargetArgs::default()
        },
        ..ctx.clone()
    };
    let shown = crate::top::run(
        &attached,
        TopArgs {
            layout: Layout::Full,
            refresh: 1000,
            theme: Theme::Dark,
            replay: None,
        },
    )
    .await;
    // An application whose tree gave up (or whose root was killed) has exited with
    // the reason on its stderr: that is this command's outcome too.
    let gave_up = demo.exit_error();
    demo.stop();
    if let Some(line) = &web {
        println!("{line} (stopped with the demo)");
    }
    shown?;
    match gave_up {
        Some(reason) => Err(CliError::failed(reason)),
        None => Ok(()),
    }
}

/// The demo application's process; stopped (and its socket removed) when dropped.
struct DemoProcess {
    child: Child,
    /// Its stdout (the line saying it runs, see [`app::RUNNING`]) and its stderr (crash
    /// lines, and why it stopped if it stopped by itself): files, not pipes that nobody
    /// reads while the dashboard runs.
    stdout: tempfile::NamedTempFile,
    stderr: tempfile::NamedTempFile,
}

impl DemoProcess {
    fn spawn(args: &DemoArgs, cluster: &ClusterArgs) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("finding the noex executable")?;
        let mut command = Command::new(exe);
        command.args(["demo", "--no-ui", "--watch-parent"]);
        if args.steady {
            command.arg("--steady");
        }
        if args.read_only {
            command.arg("--read-only");
        }
        if args.scale > 0 {
            command.args(["--scale", &args.scale.to_string()]);
        }
        if let Some(web) = args.web {
            command.args(["--web", &web.to_string()]);
        }
        if let Some(url) = &cluster.cluster {
            command.args(["--cluster", url, "--cluster-name", &cluster.cluster_name]);
            if let Some(node) = &cluster.node {
                command.args(["--node", node]);
            }
            if let Some(creds) = &cluster.nats_creds {
                command.arg("--nats-creds").arg(creds);
            }
        }
        // Its output would draw over the dashboard.
        let stdout = tempfile::NamedTempFile::new().context("creating the demo's log file")?;
        let stderr = tempfile::NamedTempFile::new().context("creating the demo's log file")?;
        command
            .stdin(Stdio::null())
            .stdout(stdout.reopen().context("opening the demo's log file")?)
            .stderr(stderr.reopen().context("opening the demo's log file")?);
        let child = command.spawn().context("starting the demo application")?;
        Ok(DemoProcess {
            child,
            stdout,
            stderr,
        })
    }

    /// If the application exited by itself with a failure: the error it reported.
    fn exit_error(&mut self) -> Option<String> {
        let status = self.child.try_wait().ok().flatten()?;
        if status.success() {
            return None;
        }
        let log = std::fs::read_to_string(self.stderr.path()).unwrap_or_default();
        let last = log
            .lines()
            .rev()
            .find_map(|line| line.strip_prefix("error: "))
            .map(str::to_string);
        Some(last.unwrap_or_else(|| format!("the demo application exited ({status})")))
    }

    /// The line where it says where its web dashboard is, with `--web`.
    fn web_address(&self) -> Option<String> {
        let out = std::fs::read_to_string(self.stdout.path()).ok()?;
        out.lines()
            .find(|line| line.starts_with(app::WEB_DASHBOARD))
            .map(str::to_string)
    }

    /// Whether it has said that it runs.
    fn running(&self) -> bool {
        std::fs::read_to_string(self.stdout.path()).is_ok_and(|out| out.contains(app::RUNNING))
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Until its agent listens and its whole tree has started: attaching earlier would
    /// start the agent's connection process in the middle of the tree, and the tree's
    /// pids would no longer follow its start order.
    async fn wait_for_agent(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let socket = discovery::socket_path_for_pid(self.pid());
        let began = Instant::now();
        while !(self.running() && socket_ready(&socket)) {
            if let Some(status) = self.child.try_wait()? {
                let why = self.exit_error().unwrap_or_else(|| status.to_string());
                bail!("the demo application exited at start: {why}");
            }
            if began.elapsed() > timeout {
                bail!("the demo application did not start within {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// Ask it to stop (it removes its socket), then make sure it has.
    fn stop(&mut self) {
        if self.child.try_wait().ok().flatten().is_some() {
            return;
        }
        #[cfg(unix)]
        {
            // `try_wait` above found the child not yet reaped, so its pid is still its
            // own and not another process's.
            if let Some(pid) = i32::try_from(self.child.id())
                .ok()
                .and_then(rustix::process::Pid::from_raw)
            {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            }
            let began = Instant::now();
            while began.elapsed() < Duration::from_secs(3) {
                if self.child.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for DemoProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

fn socket_ready(path: &Path) -> bool {
    path.exists()
}
