//! `noex dial-stdio`: the remote half of `--host`. ssh runs it on the machine where
//! the application is; it finds the agent as any local command does (`--pid`,
//! `--socket`, or the one application) and relays bytes both ways between its
//! stdin/stdout and the agent's socket, without reading them.
//!
//! It ends when either side does: the agent closing (the app exited) or stdin
//! closing (the local noex, or its ssh, went away). Its errors go to stderr as any
//! command's do, and ssh carries them and the exit code back.

use std::io::Read;

use noex_agent::client::{self, LocalStream};
use tokio::io::{AsyncWriteExt, split};
use tokio::sync::mpsc;

use crate::commands::Context;
use crate::error::CliError;
use crate::target;

/// Bytes read from stdin in one go, and how many such chunks may wait for the socket.
const CHUNK: usize = 64 * 1024;
const CHUNKS_WAITING: usize = 4;

pub async fn run(ctx: &Context) -> Result<(), CliError> {
    if ctx.target.host.is_some() {
        return Err(CliError::usage(
            "dial-stdio runs on the machine of the application; it takes no --host",
        ));
    }
    let (path, what) = target::locate(&ctx.target).await?;
    let socket = client::dial(&path)
        .await
        .map_err(|error| target::connect_io_error(&error, &path, &what))?;
    relay(socket)
        .await
        .map_err(|error| CliError::from(anyhow::Error::new(error).context("relaying to the agent")))
}

/// Copy stdin to the socket and the socket to stdout until either ends.
async fn relay(socket: LocalStream) -> std::io::Result<()> {
    let (mut from_agent, mut to_agent) = split(socket);
    let mut stdin = stdin_chunks();
    let upstream = async {
        while let Some(chunk) = stdin.recv().await {
            to_agent.write_all(&chunk).await?;
        }
        Ok(())
    };
    let downstream = async {
        let mut stdout = tokio::io::stdout();
        tokio::io::copy(&mut from_agent, &mut stdout).await?;
        stdout.flush().await
    };
    tokio::select! {
        result = upstream => result,
        result = downstream => result,
    }
}

/// Stdin, read on a thread of its own. tokio's stdin reads on its blocking pool,
/// which the runtime waits for at its end, and a read of a pipe cannot be
/// cancelled: when the agent goes first, the command would hang until ssh closed
/// stdin. A plain thread ends with the process.
fn stdin_chunks() -> mpsc::Receiver<Vec<u8>> {
    let (chunks, receiver) = mpsc::channel(CHUNKS_WAITING);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buffer = vec![0u8; CHUNK];
        loop {
            match stdin.read(&mut buffer) {
                Ok(0) => return,
                Ok(read) => {
                    if chunks.blocking_send(buffer[..read].to_vec()).is_err() {
                        return;
                    }
                }
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    });
    receiver
}
