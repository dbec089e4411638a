//! `--all-agents`: every live noex application of this user on this host at once,
//! each asked in parallel. An application that does not answer is named on stderr
//! and does not hide the others; the command then ends with exit status 1.

pub mod events;
pub mod ps;

use std::path::Path;

use noex_agent::client::Client;

use crate::commands::{Context, write_err};
use crate::error::CliError;
use crate::target::{self, CONNECT_TIMEOUT};

/// An application that answered.
pub struct Member {
    /// `noex-demo:4242`: its name and OS pid, as the APP column shows it.
    pub label: String,
    pub os_pid: u32,
    pub client: Client,
}

/// An application whose agent did not answer, and why.
pub struct Absent {
    pub os_pid: u32,
    pub reason: String,
}

/// How the APP column names an application: `noex-demo:4242`.
pub fn label(app: &str, os_pid: u32) -> String {
    format!("{app}:{os_pid}")
}

/// `--all-agents` is every application: a `--pid` or `--socket` beside it is a
/// contradiction, not a filter. It reads this machine's agent directory, so it
/// does not go over `--host` either.
pub fn refuse_a_target(ctx: &Context) -> Result<(), CliError> {
    if let Some(host) = &ctx.target.host {
        return Err(CliError::usage(
            "--all-agents reads the applications of this machine, not over --host",
        )
        .with_hint(format!(
            "run it on that machine; `noex --host {host} list` shows the applications there"
        )));
    }
    if ctx.target.pid.is_some() || ctx.target.socket.is_some() {
        return Err(
            CliError::usage("--all-agents cannot be combined with --pid or --socket")
                .with_hint("--all-agents already attaches to every running noex application"),
        );
    }
    Ok(())
}

/// Attach to every live agent, in parallel. No agent at all is exit 2, as for any
/// command; the ones that answered come back in (name, OS pid) order.
pub async fn attach_all() -> Result<(Vec<Member>, Vec<Absent>), CliError> {
    let agents = target::list_agents()?;
    if agents.is_empty() {
        return Err(target::no_application_found());
    }
    let attempts = futures::future::join_all(agents.iter().map(|a| attach(a.pid, &a.path))).await;
    let (mut members, mut absent) = (Vec::new(), Vec::new());
    for attempt in attempts {
        match attempt {
            Ok(member) => members.push(member),
            Err(gone) => absent.push(gone),
        }
    }
    members
        .sort_by(|a, b| (&a.client.hello().app, a.os_pid).cmp(&(&b.client.hello().app, b.os_pid)));
    Ok((members, absent))
}

/// Connect to one agent and read its greeting, with the usual time limit.
pub async fn attach(os_pid: u32, path: &Path) -> Result<Member, Absent> {
    let absent = |reason: String| Absent { os_pid, reason };
    match tokio::time::timeout(CONNECT_TIMEOUT, Client::connect(path)).await {
        Ok(Ok(client)) => Ok(Member {
            label: label(&client.hello().app, os_pid),
            os_pid,
            client,
        }),
        Ok(Err(error)) => Err(absent(error.to_string())),
        Err(_) => Err(absent(format!(
            "no answer within {}s",
            CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

/// Name on stderr each application left out.
pub fn report(absent: &[Absent]) {
    for gone in absent {
        write_err(&format!(
            "noex: the application with pid {} did not answer ({}); left out\n",
            gone.os_pid, gone.reason
        ));
    }
}

/// Exit 1 when some application was left out, after the others were shown.
pub fn outcome(absent: &[Absent], total: usize) -> Result<(), CliError> {
    if absent.is_empty() {
        return Ok(());
    }
    Err(CliError::failed(format!(
        "{} of {total} noex applications did not answer",
        absent.len()
    ))
    .with_hint("`noex list` shows which applications run and which answer"))
}
