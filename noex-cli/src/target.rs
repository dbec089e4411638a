//! Choosing the application to attach to: `--socket PATH`, `--pid N`, or else the one
//! noex application running for this user; with `--host`, on that machine, over ssh.
//!
//! Every way of not finding an agent is exit 2 with a hint; once an agent answers,
//! failures belong to the command (exit 1).

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use noex_agent::client::{Client, ClientError};
use noex_agent::discovery::{self, process_exists};
use noex_agent::protocol::{ErrorCode, Hello};

use crate::cli::TargetArgs;
use crate::error::{CliError, EXIT_USAGE, from_client};
use crate::render::table::choice_table;

/// How long to wait for an agent to accept and greet. A live agent answers in
/// microseconds, but one at its connection limit lets a newcomer wait up to 6 s for a
/// slot (clients that never send a request are closed within 5 s); one that does not
/// answer in this time is stuck.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(8);

/// How long to wait for an answer to a request (a snapshot of 100k processes included).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Connect to the application the flags name: over ssh with `--host`, else here.
pub async fn connect(target: &TargetArgs) -> Result<Client, CliError> {
    if target.cluster.cluster.is_some() || target.cluster.node.is_some() {
        return crate::commands::cluster::connect(target).await;
    }
    if let Some(host) = &target.host {
        return crate::ssh::connect(host, target).await;
    }
    let (path, what) = locate(target).await?;
    connect_path(&path, &what).await
}

/// The local agent socket the flags name, and how errors name that agent. Every way
/// of not finding one is exit 2 with a hint.
pub async fn locate(target: &TargetArgs) -> Result<(PathBuf, String), CliError> {
    if let Some(path) = &target.socket {
        return Ok((path.clone(), format!("agent socket {}", path.display())));
    }
    if let Some(pid) = target.pid {
        return locate_pid(pid);
    }
    locate_only_agent().await
}

fn locate_pid(pid: u32) -> Result<(PathBuf, String), CliError> {
    let path = discovery::socket_path(&discovery::agent_dir(), pid);
    if !path.exists() && !is_named_pipe(&path) {
        let error = match process_exists(pid) {
            Some(false) => CliError::usage(format!("no process with pid {pid} is running")),
            _ => CliError::usage(format!(
                "process {pid} has no noex agent (no socket at {})",
                path.display()
            )),
        };
        return Err(error.with_hint(
            "`noex list` shows the running noex applications (an app started with \
             NOEX_AGENT=off, or with another NOEX_AGENT_DIR, is not listed)",
        ));
    }
    Ok((path, format!("the agent of process {pid}")))
}

async fn locate_only_agent() -> Result<(PathBuf, String), CliError> {
    let agents = list_agents()?;
    match agents.as_slice() {
        [] => Err(no_application_found()),
        [only] => Ok((
            only.path.clone(),
            format!("the agent of process {}", only.pid),
        )),
        several => {
            let probes = futures::future::join_all(several.iter().map(|a| probe(&a.path))).await;
            let choices: Vec<(u32, Option<String>)> = several
                .iter()
                .zip(probes)
                .map(|(agent, hello)| (agent.pid, hello.ok().map(|h| h.app)))
                .collect();
            Err(CliError::usage(format!(
                "{} noex applications are running; choose one with --pid",
                several.len()
            ))
            .with_details(choice_table(&choices))
            .with_hint(format!("for example: --pid {}", several[0].pid)))
        }
    }
}

/// The live agents, by pid.
pub fn list_agents() -> Result<Vec<discovery::AgentEntry>, CliError> {
    discovery::list_agents().map_err(|error| {
        CliError::new(EXIT_USAGE, anyhow::Error::new(error))
            .with_hint("agents are looked for in $NOEX_AGENT_DIR, else $XDG_RUNTIME_DIR/noex, else /tmp/noex-<uid>")
    })
}

/// The error for an empty agent directory.
pub fn no_application_found() -> CliError {
    CliError::usage("no noex application found").with_hint(format!(
        "start one (try `noex demo`); noex looks for agent sockets in {} (set NOEX_AGENT_DIR to look elsewhere)",
        discovery::agent_dir().display()
    ))
}

/// Connect and read the greeting, with a time limit. `what` names the agent in errors.
pub async fn connect_path(path: &Path, what: &str) -> Result<Client, CliError> {
    match tokio::time::timeout(CONNECT_TIMEOUT, Client::connect(path)).await {
        Err(_) => Err(CliError::failed(format!(
            "{what} did not answer within {}s",
            CONNECT_TIMEOUT.as_secs()
        ))
        .with_hint("the application may be overloaded or stuck")),
        Ok(Ok(client)) => Ok(client),
        Ok(Err(ClientError::Io(error))) => Err(connect_io_error(&error, path, what)),
        Ok(Err(error)) => Err(from_client(error)),
    }
}

/// A failed connection to the local socket at `path`, told the user's way.
pub fn connect_io_error(error: &io::Error, path: &Path, what: &str) -> CliError {
    match error.kind() {
        io::ErrorKind::NotFound => CliError::usage(format!("no noex agent at {}", path.display()))
            .with_hint("`noex list` shows the running noex applications"),
        io::ErrorKind::ConnectionRefused => CliError::usage(format!(
            "nothing is listening at {} (the application has exited)",
            path.display()
        ))
        .with_hint("`noex list` shows the running noex applications"),
        io::ErrorKind::PermissionDenied => {
            CliError::failed(format!("cannot connect to {what}: permission denied"))
                .with_hint("run noex as the same user as the application")
        }
        _ => CliError::failed(format!("cannot connect to {what}: {error}")),
    }
}

/// Connect and hang up, keeping only the greeting: for lists of applications.
pub async fn probe(path: &Path) -> Result<Hello, String> {
    match tokio::time::timeout(CONNECT_TIMEOUT, Client::connect(path)).await {
        Ok(Ok(client)) => Ok(client.hello().clone()),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {}s", CONNECT_TIMEOUT.as_secs())),
    }
}

/// A request to the agent, with a time limit.
pub async fn request<T>(
    what: &str,
    future: impl Future<Output = Result<T, ClientError>>,
) -> Result<T, CliError> {
    match tokio::time::timeout(REQUEST_TIMEOUT, future).await {
        Ok(Err(ClientError::Agent(body)))
            if what == "kill" && body.code == ErrorCode::NotSupervised =>
        {
            Err(CliError::failed(body.message.clone()).with_hint("add --force to kill it anyway"))
        }
        Ok(result) => result.map_err(from_client),
        Err(_) => Err(CliError::failed(format!(
            "the agent did not answer the {what} request within {}s",
            REQUEST_TIMEOUT.as_secs()
        ))),
    }
}

/// Named pipes do not show up to `Path::exists`; let the connection attempt decide.
fn is_named_pipe(path: &Path) -> bool {
    cfg!(windows) && path.starts_with(PathBuf::from(r"\\.\pipe\"))
}

#[cfg(test)]
mod tests {
    use noex_agent::protocol::ErrorBody;

    use super::*;
    use crate::error::EXIT_FAILED;
    use crate::render::style::Style;

    #[test]
    fn a_socket_we_may_not_connect_to_says_to_run_as_the_apps_user() {
        let error = connect_io_error(
            &io::Error::from(io::ErrorKind::PermissionDenied),
            Path::new("/tmp/noex-1000/4242.sock"),
            "the agent of process 4242",
        );
        assert_eq!(error.code, EXIT_FAILED);
        assert_eq!(
            error.render(Style::PLAIN),
            "error: cannot connect to the agent of process 4242: permission denied\n\
             hint: run noex as the same user as the application\n"
        );
    }

    fn not_supervised() -> Result<(), ClientError> {
        Err(ClientError::Agent(ErrorBody::new(
            ErrorCode::NotSupervised,
            "app_sup <0.1> is a root supervisor: nothing would restart it",
        )))
    }

    /// Only `kill` has `--force`; a `restart` of the same process keeps the agent's own
    /// hint.
    #[tokio::test]
    async fn a_refused_kill_of_an_unsupervised_process_suggests_force() {
        let kill = request("kill", async { not_supervised() })
            .await
            .unwrap_err();
        assert_eq!(
            kill.render(Style::PLAIN),
            "error: app_sup <0.1> is a root supervisor: nothing would restart it\n\
             hint: add --force to kill it anyway\n"
        );
        assert_eq!(kill.code, EXIT_FAILED);

        let restart = request("restart", async { not_supervised() })
            .await
            .unwrap_err();
        let text = restart.render(Style::PLAIN);
        assert!(!text.contains("--force"), "{text}");
        assert_eq!(
            restart.hint,
            from_client(not_supervised().unwrap_err()).hint
        );
    }
}
