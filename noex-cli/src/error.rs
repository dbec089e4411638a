//! Failures at the edge: what went wrong, the exit code it deserves, and a hint.
//!
//! Commands return [`CliError`]; only `main` prints it. Exit codes, as README.md lists them:
//! 1 when the operation failed (no such process, read-only agent, an agent error),
//! 2 for usage errors and when no application could be found. Like cargo's `CliError`,
//! the code travels with the error, so the place that knows why also decides how bad.

use std::fmt::Write as _;
use std::io;

use noex_agent::client::ClientError;
use noex_agent::protocol::{ErrorBody, ErrorCode, ProcessRef};

use crate::render::style::{Role, Style};

/// The operation was attempted and failed.
pub const EXIT_FAILED: u8 = 1;
/// The command line was wrong, or there is no application to talk to.
pub const EXIT_USAGE: u8 = 2;

/// An error on its way to stderr, with its exit code.
#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub error: anyhow::Error,
    /// Lines printed under the error (e.g. the applications to choose from).
    pub details: Option<String>,
    pub hint: Option<String>,
    /// Only a write to stdout failed, because its reader left: see [`CliError::stdout_closed`].
    stdout_closed: bool,
}

impl CliError {
    /// The operation failed: exit 1.
    pub fn failed(message: impl Into<String>) -> CliError {
        CliError::new(EXIT_FAILED, anyhow::Error::msg(message.into()))
    }

    /// Usage error, or nothing to attach to: exit 2.
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError::new(EXIT_USAGE, anyhow::Error::msg(message.into()))
    }

    pub fn new(code: u8, error: anyhow::Error) -> CliError {
        CliError {
            code,
            error,
            details: None,
            hint: None,
            stdout_closed: false,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> CliError {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_details(mut self, details: impl Into<String>) -> CliError {
        self.details = Some(details.into());
        self
    }

    /// Stdout's reader went away (`noex ps | head -1`): not a failure; stop quietly.
    pub fn stdout_closed() -> CliError {
        CliError {
            stdout_closed: true,
            ..CliError::new(0, anyhow::Error::msg("stdout was closed"))
        }
    }

    /// See [`CliError::stdout_closed`]: `main` exits 0 and prints nothing.
    pub fn is_stdout_closed(&self) -> bool {
        self.stdout_closed
    }

    /// The lines for stderr: `error: ...`, any details, and `hint: ...`.
    pub fn render(&self, style: Style) -> String {
        let mut text = String::new();
        // `{:#}` puts anyhow's context chain on the one line: "a: b: c".
        let _ = writeln!(
            text,
            "{} {:#}",
            style.paint(Role::Bad, "error:"),
            self.error
        );
        if let Some(details) = &self.details {
            for line in details.lines() {
                let _ = writeln!(text, "{line}");
            }
        }
        if let Some(hint) = &self.hint {
            let _ = writeln!(text, "{} {hint}", style.paint(Role::Hint, "hint:"));
        }
        text
    }
}

impl From<anyhow::Error> for CliError {
    fn from(error: anyhow::Error) -> CliError {
        CliError::new(EXIT_FAILED, error)
    }
}

impl From<io::Error> for CliError {
    fn from(error: io::Error) -> CliError {
        CliError::new(EXIT_FAILED, error.into())
    }
}

impl From<ClientError> for CliError {
    fn from(error: ClientError) -> CliError {
        from_client(error)
    }
}

/// A failed conversation with the agent, told the user's way.
pub fn from_client(error: ClientError) -> CliError {
    match error {
        ClientError::Agent(body) => from_agent(&body),
        ClientError::VersionMismatch { agent, client } => CliError::failed(format!(
            "the application speaks agent protocol {agent}, this noex speaks {client}"
        ))
        .with_hint("use a noex command built from the same major version as the application"),
        ClientError::Closed => CliError::failed("the agent closed the connection")
            .with_hint("the application may have exited; `noex list` shows the running ones"),
        ClientError::Io(err) => CliError::new(
            EXIT_FAILED,
            anyhow::Error::new(err).context("talking to the agent"),
        ),
        ClientError::Protocol(what) => {
            CliError::failed(format!("the agent sent something unexpected: {what}"))
                .with_hint("the application and this noex may be of different versions")
        }
    }
}

/// An error the agent answered with. Every one is a failed operation (exit 1).
pub fn from_agent(body: &ErrorBody) -> CliError {
    let message = body.message.trim_end_matches('.');
    match body.code {
        ErrorCode::AmbiguousTarget if !body.candidates.is_empty() => {
            let candidates = body
                .candidates
                .iter()
                .map(process_ref)
                .collect::<Vec<_>>()
                .join(", ");
            let example = body.candidates[0].pid;
            CliError::failed(format!("{message} ({candidates})"))
                .with_hint(format!("name one process by its pid, e.g. '{example}'"))
        }
        ErrorCode::NotFound => CliError::failed(message.to_string())
            .with_hint("`noex ps` lists names, child ids and pids"),
        ErrorCode::ReadOnly => CliError::failed(message.to_string()).with_hint(
            "this application started its agent read-only; kill and restart are turned off",
        ),
        ErrorCode::NotSupervised => CliError::failed(message.to_string()).with_hint(
            "only a supervised process can be restarted; `noex tree` shows who supervises whom",
        ),
        ErrorCode::PermissionDenied => CliError::failed(message.to_string())
            .with_hint("run noex as the same user as the application"),
        ErrorCode::Busy => CliError::failed(message.to_string())
            .with_hint("the agent is at its connection limit; try again"),
        ErrorCode::VersionMismatch => CliError::failed(message.to_string())
            .with_hint("use a noex command built from the same major version as the application"),
        ErrorCode::Protected => CliError::failed(message.to_string()).with_hint(
            "noex.agent and its connections (`noex ps --all`) keep clients attached; they stay up",
        ),
        ErrorCode::NotShown => CliError::failed(message.to_string()).with_hint(
            "a server shows its state by implementing GenServer::format_status (off by default: a state can hold secrets)",
        ),
        ErrorCode::NotReading => CliError::failed(message.to_string())
            .with_hint("this noex was paused or too slow to read; run the command again"),
        _ => CliError::failed(message.to_string()),
    }
}

/// `worker-1 <0.17>`, or `<0.17>` for a process with neither a name nor a child id.
pub fn process_ref(process: &ProcessRef) -> String {
    match process.name.as_deref().or(process.child_id.as_deref()) {
        Some(label) => format!("{label} {}", process.pid),
        None => process.pid.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use noex_agent::types::Pid;

    use super::*;

    fn reference(pid: u64, name: Option<&str>, child_id: Option<&str>) -> ProcessRef {
        ProcessRef {
            pid: Pid(pid),
            name: name.map(str::to_string),
            child_id: child_id.map(str::to_string),
        }
    }

    #[test]
    fn error_lines() {
        let ambiguous = ErrorBody {
            code: ErrorCode::AmbiguousTarget,
            message: "\"worker\" is ambiguous: it matches 2 processes".into(),
            candidates: vec![
                reference(17, None, Some("worker")),
                reference(23, Some("worker"), None),
            ],
        };
        let cases = [
            ("ambiguous target", from_agent(&ambiguous)),
            (
                "not found",
                from_agent(&ErrorBody::new(
                    ErrorCode::NotFound,
                    "no process named \"wrker-1\" (by name, child id or pid)",
                )),
            ),
            (
                "read-only",
                from_agent(&ErrorBody::new(
                    ErrorCode::ReadOnly,
                    "the agent is read-only",
                )),
            ),
            (
                "not supervised",
                from_agent(&ErrorBody::new(
                    ErrorCode::NotSupervised,
                    "<0.9> has no supervisor",
                )),
            ),
            (
                "protected",
                from_agent(&ErrorBody::new(
                    ErrorCode::Protected,
                    "connection-3 <0.7> belongs to the noex agent itself: it cannot be killed \
                     or restarted through the agent",
                )),
            ),
            ("closed", from_client(ClientError::Closed)),
            (
                "version mismatch",
                from_client(ClientError::VersionMismatch {
                    agent: noex_agent::protocol::ProtocolVersion { major: 3, minor: 0 },
                    client: noex_agent::protocol::ProtocolVersion::CURRENT,
                }),
            ),
            (
                "io with context",
                from_client(ClientError::Io(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    "connection reset by peer",
                ))),
            ),
        ];
        let mut text = String::new();
        for (case, error) in cases {
            let _ = writeln!(text, "# {case} (exit {})", error.code);
            text.push_str(&error.render(Style::PLAIN));
        }
        crate::render::snapshot!("error_lines", text);
    }

    #[test]
    fn agent_errors_are_failed_operations() {
        for code in [
            ErrorCode::NotFound,
            ErrorCode::AmbiguousTarget,
            ErrorCode::ReadOnly,
            ErrorCode::Protected,
            ErrorCode::NotReading,
            ErrorCode::Timeout,
        ] {
            assert_eq!(from_agent(&ErrorBody::new(code, "x")).code, EXIT_FAILED);
        }
    }

    #[test]
    fn only_a_closed_stdout_is_a_quiet_success() {
        assert!(CliError::stdout_closed().is_stdout_closed());
        // A broken pipe on the agent's socket is a real failure.
        let socket = io::Error::new(io::ErrorKind::BrokenPipe, "pipe");
        assert!(!from_client(ClientError::Io(socket)).is_stdout_closed());
        assert!(!CliError::failed("nope").is_stdout_closed());
    }
}
