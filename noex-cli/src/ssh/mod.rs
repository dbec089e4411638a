//! Attaching over SSH (`--host ssh://user@host`), as Docker does with `ssh://` hosts:
//! this `noex` runs the system `ssh`, which runs `noex dial-stdio` on the remote
//! machine; that relays bytes between its stdin/stdout and the agent's local socket,
//! and the agent protocol runs over the ssh child's pipes unchanged.
//!
//! SSH authenticates (keys, agent, config); nothing listens on the network for noex,
//! and the remote needs only the `noex` binary. `noex list --host` runs
//! `noex list --json` remotely and renders the rows here.

pub mod child;
pub mod host;

use std::time::Duration;

use noex_agent::client::Client;

use crate::cli::TargetArgs;
use crate::error::{CliError, EXIT_FAILED, EXIT_USAGE, from_client};
use crate::render::table::AppRow;
use child::{Exit, Session};
use host::SshHost;

/// How long ssh may take to log in and the remote agent to greet: an ssh login is
/// seconds where a local socket is microseconds.
pub const SSH_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// What a remote shell exits with when it cannot find the command.
const COMMAND_NOT_FOUND: i32 = 127;

/// What ssh exits with when it failed itself (connection, authentication).
const SSH_FAILED: i32 = 255;

/// Connect to the agent the target flags name on `host`, through
/// `ssh HOST noex dial-stdio [--pid N | --socket PATH]`.
pub async fn connect(host: &SshHost, target: &TargetArgs) -> Result<Client, CliError> {
    let mut args = vec!["dial-stdio".to_string()];
    if let Some(pid) = target.pid {
        args.extend(["--pid".to_string(), pid.to_string()]);
    }
    if let Some(socket) = &target.socket {
        args.extend([
            "--socket".to_string(),
            socket.to_string_lossy().into_owned(),
        ]);
    }
    let remote = remote_command(target.remote_noex(), &args)?;
    let session = Session::spawn(child::command(host, &remote)?)?;
    match tokio::time::timeout(SSH_CONNECT_TIMEOUT, Client::handshake(session.pipes)).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(error)) => {
            let exit = session.ended.wait().await;
            Err(explain(host, target.remote_noex(), &exit).unwrap_or_else(|| from_client(error)))
        }
        Err(_) => Err(CliError::failed(format!(
            "{host} did not answer within {}s",
            SSH_CONNECT_TIMEOUT.as_secs()
        ))
        .with_hint("check that `ssh` reaches the host, and that the application is not stuck")),
    }
}

/// The noex applications running on `host`, from `noex list --json` run there.
pub async fn list(host: &SshHost, remote_noex: &str) -> Result<Vec<AppRow>, CliError> {
    let remote = remote_command(remote_noex, &["list".to_string(), "--json".to_string()])?;
    let mut command = child::command(host, &remote)?;
    command.stdin(std::process::Stdio::null());
    let program = command.as_std().get_program().to_owned();
    let output = match tokio::time::timeout(SSH_CONNECT_TIMEOUT, command.output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(error)) => return Err(child::spawn_error(&program, &error)),
        Err(_) => {
            return Err(CliError::failed(format!(
                "{host} did not answer within {}s",
                SSH_CONNECT_TIMEOUT.as_secs()
            )));
        }
    };
    let exit = Exit {
        code: output.status.code(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    if !output.status.success() {
        return Err(explain(host, remote_noex, &exit).unwrap_or_else(|| {
            CliError::failed(format!("`noex list` on {host} failed ({})", output.status))
        }));
    }
    serde_json::from_slice(&output.stdout).map_err(|error| {
        CliError::failed(format!(
            "`noex list --json` on {host} printed something unexpected: {error}"
        ))
        .with_hint("the noex there may be of another version")
    })
}

/// The command line for the remote shell: `REMOTE_NOEX --color never ARGS...`.
///
/// REMOTE_NOEX goes in as written, so it may use the remote shell's syntax
/// (`~/.cargo/bin/noex`); every argument after it is quoted.
fn remote_command(remote_noex: &str, args: &[String]) -> Result<String, CliError> {
    let mut line = format!("{remote_noex} --color never");
    for arg in args {
        let quoted = shlex::try_quote(arg)
            .map_err(|_| CliError::usage(format!("{arg:?} cannot be passed to a remote shell")))?;
        line.push(' ');
        line.push_str(&quoted);
    }
    Ok(line)
}

/// Why the ssh child failed, from its exit code and stderr; `None` when they say
/// nothing (it exited 0 with nothing to tell), so the protocol error stands.
fn explain(host: &SshHost, remote_noex: &str, exit: &Exit) -> Option<CliError> {
    let said = exit.stderr.trim();
    match exit.code {
        Some(COMMAND_NOT_FOUND) => {
            let error = CliError::usage(format!(
                "noex is not installed on {host} (or not on its PATH for non-interactive ssh)"
            ))
            .with_hint(format!(
                "install it there with `cargo install --path noex-cli`, or name it with \
                 --remote-noex PATH (now `{remote_noex}`)"
            ));
            Some(with_lines(error, said))
        }
        Some(SSH_FAILED) => {
            let error = CliError::usage(format!("ssh could not reach {host}")).with_hint(
                "check that `ssh` logs in there without a prompt (noex runs it with \
                 BatchMode=yes; NOEX_SSH sets the ssh command and its options)",
            );
            Some(with_lines(error, said))
        }
        _ if said.contains("unrecognized subcommand") => Some(
            CliError::usage(format!(
                "the noex on {host} is too old to be reached over ssh (it has no dial-stdio)"
            ))
            .with_hint("install the same noex version there"),
        ),
        Some(code) if code != 0 || !said.is_empty() => Some(remote_error(host, code, said)),
        None if !said.is_empty() => Some(remote_error(host, EXIT_FAILED.into(), said)),
        _ => None,
    }
}

/// `error` with ssh's own lines under it.
fn with_lines(error: CliError, lines: &str) -> CliError {
    if lines.is_empty() {
        error
    } else {
        error.with_details(lines)
    }
}

/// An error the remote `noex` printed (`error: ...`, details, `hint: ...`), told again
/// here with the host, and its exit code kept.
fn remote_error(host: &SshHost, code: i32, said: &str) -> CliError {
    let code = match code {
        2 => EXIT_USAGE,
        _ => EXIT_FAILED,
    };
    let mut message = None;
    let mut hint = None;
    let mut details = Vec::new();
    for line in said.lines() {
        if let Some(text) = line.strip_prefix("error: ").filter(|_| message.is_none()) {
            message = Some(text.to_string());
        } else if let Some(text) = line.strip_prefix("hint: ") {
            hint = Some(text.to_string());
        } else {
            details.push(line);
        }
    }
    let Some(message) = message else {
        return CliError::new(code, anyhow::anyhow!("the remote noex on {host} failed"))
            .with_details(said);
    };
    let mut error = CliError::new(code, anyhow::anyhow!("{message} (on {host})"));
    if !details.is_empty() {
        error = error.with_details(details.join("\n"));
    }
    if let Some(hint) = hint {
        error = error.with_hint(hint);
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::style::Style;

    fn host() -> SshHost {
        SshHost::parse("ssh://ana@box:2222").unwrap()
    }

    fn exit(code: i32, stderr: &str) -> Exit {
        Exit {
            code: Some(code),
            stderr: stderr.to_string(),
        }
    }

    #[test]
    fn the_remote_command_quotes_every_argument_after_the_binary() {
        let line = remote_command(
            "~/.cargo/bin/noex",
            &[
                "dial-stdio".into(),
                "--socket".into(),
                "/run/my app/1.sock".into(),
            ],
        )
        .unwrap();
        assert_eq!(
            line,
            "~/.cargo/bin/noex --color never dial-stdio --socket '/run/my app/1.sock'"
        );
    }

    #[test]
    fn a_missing_remote_binary_says_how_to_install_it() {
        let error = explain(
            &host(),
            "noex",
            &exit(127, "bash: line 1: noex: command not found\n"),
        )
        .unwrap();
        assert_eq!(error.code, EXIT_USAGE);
        assert_eq!(
            error.render(Style::PLAIN),
            "error: noex is not installed on ssh://ana@box:2222 (or not on its PATH for \
             non-interactive ssh)\n\
             bash: line 1: noex: command not found\n\
             hint: install it there with `cargo install --path noex-cli`, or name it with \
             --remote-noex PATH (now `noex`)\n"
        );
    }

    #[test]
    fn an_ssh_failure_shows_what_ssh_said() {
        let error = explain(
            &host(),
            "noex",
            &exit(255, "ana@box: Permission denied (publickey).\n"),
        )
        .unwrap();
        assert_eq!(error.code, EXIT_USAGE);
        let text = error.render(Style::PLAIN);
        assert!(
            text.starts_with(
                "error: ssh could not reach ssh://ana@box:2222\n\
                 ana@box: Permission denied (publickey).\nhint: "
            ),
            "{text}"
        );
    }

    #[test]
    fn a_remote_noex_error_keeps_its_exit_code_and_hint() {
        let error = explain(
            &host(),
            "noex",
            &exit(
                2,
                "error: no noex application found\nhint: start one (try `noex demo`)\n",
            ),
        )
        .unwrap();
        assert_eq!(error.code, EXIT_USAGE);
        assert_eq!(
            error.render(Style::PLAIN),
            "error: no noex application found (on ssh://ana@box:2222)\n\
             hint: start one (try `noex demo`)\n"
        );
    }

    #[test]
    fn an_old_remote_noex_is_named_as_such() {
        let error = explain(
            &host(),
            "noex",
            &exit(
                2,
                "error: unrecognized subcommand 'dial-stdio'\n\nUsage: noex [OPTIONS] <COMMAND>\n",
            ),
        )
        .unwrap();
        assert!(error.render(Style::PLAIN).contains("too old"));
    }

    #[test]
    fn a_clean_exit_with_nothing_said_leaves_the_protocol_error() {
        assert!(explain(&host(), "noex", &exit(0, "")).is_none());
    }
}
