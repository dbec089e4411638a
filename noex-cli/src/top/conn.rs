//! The dashboard's connection to the agent, on a task of its own so the screen never
//! waits for the socket: the event loop sends [`Request`]s and receives [`Update`]s
//! (replies, pushed events, and the connection's end) over bounded channels.
//!
//! One connection serves everything: snapshots on the refresh timer, the event
//! subscription (with recent history on attach), and kill and restart. When the app
//! exits the task reports [`Update::Closed`] and ends; [`Conn::reconnect`] starts over.

use noex_agent::client::{Client, ClientError, Push};
use noex_agent::protocol::{ActionOutcome, ErrorCode, Hello};
use noex_agent::table::{TableQuery, TableView};
use noex_agent::types::{LifecycleEvent, Pid, Snapshot};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::state::HISTORY_ON_ATTACH;
use crate::cli::TargetArgs;
use crate::error::{CliError, from_client};
use crate::render::action::Action;
use crate::target::{self, REQUEST_TIMEOUT};

/// What the event loop asks of the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    Snapshot,
    /// A window of the table, for a large application.
    Table(TableQuery),
    Kill {
        pid: Pid,
        force: bool,
    },
    Restart(Pid),
}

/// What the connection tells the event loop.
#[derive(Debug)]
pub enum Update {
    /// Attached (after [`Conn::reconnect`]); `history` are recent events, oldest first.
    Connected {
        hello: Hello,
        history: Vec<LifecycleEvent>,
    },
    /// A reconnect did not get through.
    ConnectFailed(String),
    Snapshot(Snapshot),
    Table(Box<TableView>),
    /// The agent answered a snapshot or table request with an error; the connection
    /// lives on.
    SnapshotFailed(String),
    /// The agent does not know the `table` request (it is older than protocol 2.1).
    TableUnsupported,
    Push(Push),
    Action {
        action: Action,
        result: Result<ActionOutcome, String>,
    },
    /// The connection is gone (the app exited, most likely); the task has ended.
    Closed(String),
    /// The running applications, for the picker (not from this connection: from
    /// [`super::agent_picker`]).
    Apps(Result<Vec<super::state::AppChoice>, String>),
}

/// Requests waiting for the task; the loop sends at most a few at a time.
const REQUEST_QUEUE: usize = 16;
/// Updates waiting for the loop; when full the task waits, and the client keeps (and
/// counts) the events that arrive meanwhile.
const UPDATE_QUEUE: usize = 1_024;

/// What a closed connection most likely means.
pub const CLOSED: &str = "the application exited (its agent closed the connection)";

/// A running connection task.
pub struct Conn {
    requests: mpsc::Sender<Request>,
    updates: mpsc::Receiver<Update>,
    task: JoinHandle<()>,
}

impl Conn {
    /// Connect to the application `target` names and subscribe to its events, before
    /// the dashboard opens, so a wrong target is a plain error on the command line.
    pub async fn attach(
        target: &TargetArgs,
    ) -> Result<(Conn, Hello, Vec<LifecycleEvent>), CliError> {
        let (client, history) = subscribed(target).await?;
        let hello = client.hello().clone();
        Ok((Conn::serve(client), hello, history))
    }

    /// Start serving an already connected (and subscribed) client.
    pub fn serve(client: Client) -> Conn {
        Conn::spawn(|requests, updates| run(client, requests, updates))
    }

    /// Connect again in the background; the first update says how it went.
    pub fn reconnect(target: TargetArgs) -> Conn {
        Conn::spawn(|requests, updates| async move {
            match subscribed(&target).await {
                Ok((client, history)) => {
                    let hello = client.hello().clone();
                    if updates
                        .send(Update::Connected { hello, history })
                        .await
                        .is_ok()
                    {
                        run(client, requests, updates).await;
                    }
                }
                Err(error) => {
                    let _ = updates.send(Update::ConnectFailed(one_line(&error))).await;
                }
            }
        })
    }

    /// The channels, and `task` on them.
    fn spawn<F>(task: impl FnOnce(mpsc::Receiver<Request>, mpsc::Sender<Update>) -> F) -> Conn
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let (requests, request_rx) = mpsc::channel(REQUEST_QUEUE);
        let (update_tx, updates) = mpsc::channel(UPDATE_QUEUE);
        Conn {
            requests,
            updates,
            task: tokio::spawn(task(request_rx, update_tx)),
        }
    }

    /// Queue a request; `false` if the connection has ended or is overwhelmed.
    pub fn request(&self, request: Request) -> bool {
        self.requests.try_send(request).is_ok()
    }

    /// The next update; `None` once the task has ended and every update was read.
    /// Cancel-safe, for `select!`.
    pub async fn next(&mut self) -> Option<Update> {
        self.updates.recv().await
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Connect to the application `target` names and subscribe to its events, as
/// `noex events` does.
async fn subscribed(target: &TargetArgs) -> Result<(Client, Vec<LifecycleEvent>), CliError> {
    let mut client = target::connect(target).await?;
    let history = target::request("subscribe", client.subscribe(HISTORY_ON_ATTACH)).await?;
    Ok((client, history))
}

/// Serve requests and forward pushes until the agent or the event loop goes away.
async fn run(
    mut client: Client,
    mut requests: mpsc::Receiver<Request>,
    updates: mpsc::Sender<Update>,
) {
    loop {
        let update = tokio::select! {
            request = requests.recv() => match request {
                None => return,
                Some(request) => perform(&mut client, request).await,
            },
            push = client.next_push() => match push {
                Ok(Some(push)) => Update::Push(push),
                Ok(None) | Err(ClientError::Closed) => Update::Closed(CLOSED.to_string()),
                Err(error) => Update::Closed(error.to_string()),
            },
        };
        let closed = matches!(update, Update::Closed(_));
        if updates.send(update).await.is_err() || closed {
            return;
        }
    }
}

async fn perform(client: &mut Client, request: Request) -> Update {
    match request {
        Request::Snapshot => match bounded(client.snapshot()).await {
            Ok(snapshot) => Update::Snapshot(snapshot),
            Err(error) if is_fatal(&error) => Update::Closed(closed_reason(error)),
            Err(error) => Update::SnapshotFailed(one_line(&from_client(error))),
        },
        Request::Table(query) => match bounded(client.table(query)).await {
            Ok(view) => Update::Table(Box::new(view)),
            Err(ClientError::Agent(error)) if error.code == ErrorCode::UnknownRequest => {
                Update::TableUnsupported
            }
            Err(error) if is_fatal(&error) => Update::Closed(closed_reason(error)),
            Err(error) => Update::SnapshotFailed(one_line(&from_client(error))),
        },
        Request::Kill { pid, force } => {
            let result = bounded(client.kill(&pid.to_string(), None, force)).await;
            action_update(Action::Kill, result)
        }
        Request::Restart(pid) => {
            let result = bounded(client.restart(&pid.to_string())).await;
            action_update(Action::Restart, result)
        }
    }
}

fn action_update(action: Action, result: Result<ActionOutcome, ClientError>) -> Update {
    match result {
        Ok(outcome) => Update::Action {
            action,
            result: Ok(outcome),
        },
        Err(error) if is_fatal(&error) => Update::Closed(closed_reason(error)),
        Err(error) => Update::Action {
            action,
            result: Err(one_line(&from_client(error))),
        },
    }
}

/// A request with the CLI's time limit; running out of time is an I/O error.
async fn bounded<T>(
    future: impl Future<Output = Result<T, ClientError>>,
) -> Result<T, ClientError> {
    match tokio::time::timeout(REQUEST_TIMEOUT, future).await {
        Ok(result) => result,
        Err(_) => Err(ClientError::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!(
                "the agent did not answer within {}s",
                REQUEST_TIMEOUT.as_secs()
            ),
        ))),
    }
}

/// Errors after which the connection cannot be used.
fn is_fatal(error: &ClientError) -> bool {
    matches!(
        error,
        ClientError::Closed | ClientError::Io(_) | ClientError::Protocol(_)
    )
}

fn closed_reason(error: ClientError) -> String {
    match error {
        ClientError::Closed => CLOSED.to_string(),
        other => other.to_string(),
    }
}

/// An error as one line for the status bar (hints are for the command line; here the
/// keys are on screen).
fn one_line(error: &CliError) -> String {
    format!("{:#}", error.error)
}
