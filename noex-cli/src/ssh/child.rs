//! The system `ssh` client as a child process: its stdin and stdout are the byte
//! stream to the remote `noex dial-stdio`, its stderr is kept (the last few KiB) to
//! explain a failure, and its exit status is collected by a task of its own.
//!
//! The child never outlives its pipes: dropping them lets it end by itself (its stdin
//! closes, the remote relay sees the end and exits), and after a grace period it is
//! killed; the runtime's end kills it too (`kill_on_drop`).

use std::io;
use std::pin::Pin;
use std::process::{ExitStatus, Stdio};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::process::{ChildStderr, ChildStdin, ChildStdout, Command};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::host::SshHost;
use crate::error::CliError;

/// The environment variable with the ssh command, options included (`ssh -i KEY`).
pub const SSH_ENV: &str = "NOEX_SSH";

/// How long ssh may take to end by itself once its pipes are dropped.
const GRACE: Duration = Duration::from_secs(2);

/// How much of ssh's stderr is kept: the end is where the reason is.
const STDERR_TAIL: usize = 8 * 1024;

/// `ssh [NOEX_SSH options] -o BatchMode=yes -T [-p PORT] [-l USER] -- HOST REMOTE`.
///
/// BatchMode: nothing may prompt (the dashboard owns the terminal, a script has
/// none); `-T`: no terminal on the remote side, the bytes must pass untouched.
/// Options in NOEX_SSH come first, and ssh keeps the first value it sees for an
/// option, so they win.
pub fn command(host: &SshHost, remote: &str) -> Result<Command, CliError> {
    let words = ssh_words()?;
    let mut command = Command::new(&words[0]);
    command
        .args(&words[1..])
        .args(["-o", "BatchMode=yes", "-T"]);
    if let Some(port) = host.port {
        command.arg("-p").arg(port.to_string());
    }
    if let Some(user) = &host.user {
        command.arg("-l").arg(user);
    }
    command.arg("--").arg(&host.host).arg(remote);
    command.kill_on_drop(true);
    Ok(command)
}

/// NOEX_SSH split as a shell would, or plain `ssh`.
fn ssh_words() -> Result<Vec<String>, CliError> {
    let Some(value) = std::env::var_os(SSH_ENV) else {
        return Ok(vec!["ssh".to_string()]);
    };
    let value = value.to_string_lossy();
    match shlex::split(&value) {
        Some(words) if !words.is_empty() => Ok(words),
        Some(_) => Ok(vec!["ssh".to_string()]),
        None => Err(CliError::usage(format!(
            "{SSH_ENV}={value:?} is not a valid command line (an unclosed quote?)"
        ))),
    }
}

/// Why `ssh` could not even start.
pub fn spawn_error(program: &std::ffi::OsStr, error: &io::Error) -> CliError {
    CliError::usage(format!(
        "cannot run {:?} to reach --host: {error}",
        program.to_string_lossy()
    ))
    .with_hint(format!(
        "install an OpenSSH client, or name the ssh command in {SSH_ENV}"
    ))
}

/// A running ssh child: the pipes to talk through, and how it ended.
pub struct Session {
    pub pipes: Pipes,
    pub ended: Ended,
}

/// The child's stdout and stdin as one byte stream.
pub struct Pipes {
    stdout: ChildStdout,
    stdin: ChildStdin,
    /// Dropped with the pipes: tells the child's task to see it end.
    _hangup: oneshot::Sender<()>,
}

/// How the child ended: its exit status and the end of its stderr.
pub struct Ended {
    status: oneshot::Receiver<io::Result<ExitStatus>>,
    stderr: JoinHandle<String>,
}

/// What [`Ended::wait`] found.
pub struct Exit {
    /// `None` when ssh was killed by a signal or its status could not be read.
    pub code: Option<i32>,
    pub stderr: String,
}

impl Session {
    /// Start `command` (from [`command`]) with every stream piped.
    pub fn spawn(mut command: Command) -> Result<Session, CliError> {
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .map_err(|error| spawn_error(command.as_std().get_program(), &error))?;
        // Set to piped above, so each is there.
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (hangup_tx, hangup) = oneshot::channel::<()>();
        let (status_tx, status) = oneshot::channel();
        tokio::spawn(async move {
            let status = tokio::select! {
                status = child.wait() => status,
                _ = hangup => match tokio::time::timeout(GRACE, child.wait()).await {
                    Ok(status) => status,
                    // `kill` reaps it; `wait` then gives the status it kept.
                    Err(_) => {
                        let _ = child.kill().await;
                        child.wait().await
                    }
                },
            };
            let _ = status_tx.send(status);
        });
        Ok(Session {
            pipes: Pipes {
                stdout,
                stdin,
                _hangup: hangup_tx,
            },
            ended: Ended {
                status,
                stderr: tokio::spawn(tail(stderr)),
            },
        })
    }
}

impl Ended {
    /// Wait (a bounded time: the pipes are closed by now) for the exit status and
    /// the rest of stderr.
    pub async fn wait(self) -> Exit {
        let bound = GRACE + Duration::from_secs(1);
        let code = match tokio::time::timeout(bound, self.status).await {
            Ok(Ok(Ok(status))) => status.code(),
            _ => None,
        };
        let stderr = match tokio::time::timeout(bound, self.stderr).await {
            Ok(Ok(text)) => text,
            _ => String::new(),
        };
        Exit { code, stderr }
    }
}

/// Read stderr to its end, keeping the last [`STDERR_TAIL`] bytes: ssh must never
/// block on a full pipe, and what it says during a session (warnings) must not reach
/// the dashboard's screen.
async fn tail(mut stderr: ChildStderr) -> String {
    let mut kept = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(read) = stderr.read(&mut chunk).await {
        if read == 0 {
            break;
        }
        kept.extend_from_slice(&chunk[..read]);
        if kept.len() > STDERR_TAIL {
            kept.drain(..kept.len() - STDERR_TAIL);
        }
    }
    String::from_utf8_lossy(&kept).into_owned()
}

impl AsyncRead for Pipes {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stdout).poll_read(cx, buf)
    }
}

impl AsyncWrite for Pipes {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stdin).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stdin).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stdin).poll_shutdown(cx)
    }
}
