//! Answering one request: what it asks of the backend, the room its answer needs in the
//! budgets, and the kill or restart it may carry out.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError};

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::backend::Backend;
use crate::budget::FrameBudget;
use crate::protocol::{
    Action, ActionOutcome, ErrorBody, ErrorCode, PROTOCOL_MAJOR, ProcessRef, ProtocolVersion,
    ReplyBody, Request, RequestKind, ServerFrame,
};
use crate::rows::RowsWriter;
use crate::target;

use super::frames::{encode, reply, snapshot_rows};
use super::{Context, Ending, Outgoing, Queued};

/// The size of the last reply of each kind that is built on a blocking thread: what
/// the next one is expected to need before it is built.
#[derive(Default)]
pub(crate) struct ReplySizes {
    snapshot: AtomicUsize,
    tree: AtomicUsize,
    table: AtomicUsize,
    history: AtomicUsize,
}

#[derive(Clone, Copy)]
enum Built {
    Snapshot,
    Tree,
    Table,
    History,
}

impl ReplySizes {
    fn of(&self, kind: Built) -> &AtomicUsize {
        match kind {
            Built::Snapshot => &self.snapshot,
            Built::Tree => &self.tree,
            Built::Table => &self.table,
            Built::History => &self.history,
        }
    }
}

/// What a reply too small to estimate is expected to take (errors, outcomes).
const SMALL_FRAME: usize = 1024;

/// The size of what a build made, when it is a reply to queue.
trait BuiltSize {
    fn built_size(&self) -> Option<usize>;
}

impl BuiltSize for Bytes {
    fn built_size(&self) -> Option<usize> {
        Some(self.len())
    }
}

impl<T> BuiltSize for (Bytes, T) {
    fn built_size(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

impl BuiltSize for crate::types::Snapshot {
    fn built_size(&self) -> Option<usize> {
        None
    }
}

impl BuiltSize for Option<crate::types::Snapshot> {
    fn built_size(&self) -> Option<usize> {
        None
    }
}

pub(super) struct Handler<'c> {
    pub(super) queue: mpsc::UnboundedSender<Outgoing>,
    pub(super) context: &'c Context,
    /// This connection's queued replies.
    pub(super) replies: FrameBudget,
}

impl Handler<'_> {
    pub(super) async fn handle(&self, Request { id, request }: Request) -> Result<(), Ending> {
        match request {
            RequestKind::Hello { protocol_version } => {
                if protocol_version.major != PROTOCOL_MAJOR {
                    let message = format!(
                        "protocol version mismatch: this agent speaks {}, the client {}; \
                         the major versions must match",
                        ProtocolVersion::CURRENT,
                        protocol_version
                    );
                    self.error(Some(id), ErrorCode::VersionMismatch, message)
                        .await?;
                    return Err(Ending::Linger);
                }
                let body = ReplyBody::Hello {
                    protocol_version: ProtocolVersion::CURRENT,
                };
                self.send(ServerFrame::Reply { id, body }).await
            }
            RequestKind::Snapshot { rows } => {
                let snapshot = move |backend: &dyn Backend| {
                    if rows {
                        let mut writer = RowsWriter::default();
                        let envelope = backend.snapshot_rows(&mut writer);
                        snapshot_rows(id, writer, &envelope)
                    } else {
                        let snapshot = backend.snapshot();
                        reply(id, ReplyBody::Snapshot { snapshot })
                    }
                };
                match self
                    .build(Some(Built::Snapshot), "snapshot", snapshot)
                    .await
                {
                    Ok(bytes) => self.queue(Outgoing::Frame, bytes),
                    Err(error) => self.fail(id, error).await,
                }
            }
            RequestKind::Tree => {
                let tree = |backend: &dyn Backend| ReplyBody::Tree {
                    tree: backend.tree(),
                };
                match self
                    .build(Some(Built::Tree), "tree", move |b| reply(id, tree(b)))
                    .await
                {
                    Ok(bytes) => self.queue(Outgoing::Frame, bytes),
                    Err(error) => self.fail(id, error).await,
                }
            }
            RequestKind::Table(query) => {
                // Taken while the table is built: a table built meanwhile for another
                // client has no rates, and the last one built is remembered.
                let memory = std::mem::take(
                    &mut *self
                        .context
                        .table
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner),
                );
                let built = self
                    .build(Some(Built::Table), "table", move |backend| {
                        let mut memory = memory;
                        let table = backend.table(&query, &mut memory);
                        let bytes = reply(
                            id,
                            ReplyBody::Table {
                                table: Box::new(table),
                            },
                        );
                        (bytes, memory)
                    })
                    .await;
                match built {
                    Ok((bytes, memory)) => {
                        *self
                            .context
                            .table
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner) = memory;
                        self.queue(Outgoing::Frame, bytes)
                    }
                    Err(error) => self.fail(id, error).await,
                }
            }
            RequestKind::Subscribe { history } => {
                let wanted = (history as usize).min(self.context.max_history);
                let subscribed = self
                    .build(Some(Built::History), "subscribe", move |backend| {
                        let (history, events) = backend.subscribe(wanted);
                        (reply(id, ReplyBody::Subscribed { history }), events)
                    })
                    .await;
                match subscribed {
                    Ok((bytes, events)) => {
                        self.queue(|reply| Outgoing::Subscribe { reply, events }, bytes)
                    }
                    Err(error) => self.fail(id, error).await,
                }
            }
            RequestKind::Unsubscribe => {
                self.room(SMALL_FRAME).await;
                let bytes = reply(id, ReplyBody::Unsubscribed);
                self.queue(|reply| Outgoing::Unsubscribe { reply }, bytes)
            }
            RequestKind::Kill {
                target,
                reason,
                force,
            } => match self.act(Action::Kill, &target, reason, force).await {
                Ok(outcome) => self.send_reply(id, ReplyBody::Killed { outcome }).await,
                Err(error) => self.fail(id, error).await,
            },
            RequestKind::Restart { target } => {
                match self.act(Action::Restart, &target, None, false).await {
                    Ok(outcome) => self.send_reply(id, ReplyBody::Restarted { outcome }).await,
                    Err(error) => self.fail(id, error).await,
                }
            }
            RequestKind::State { target } => match self.state(&target).await {
                Ok((process, state)) => {
                    self.room(state.len() + SMALL_FRAME).await;
                    self.queue(
                        Outgoing::Frame,
                        reply(id, ReplyBody::State { process, state }),
                    )
                }
                Err(error) => self.fail(id, error).await,
            },
            RequestKind::Unknown => {
                let message = format!(
                    "unknown request type (this agent speaks protocol {})",
                    ProtocolVersion::CURRENT
                );
                self.error(Some(id), ErrorCode::UnknownRequest, message)
                    .await
            }
        }
    }

    /// Builds a reply (or, with no `kind`, something for the agent's own use) on a
    /// blocking thread: a snapshot of a large app takes a while, and the app's async
    /// workers must never wait on it. A reply waits for room first, for as many bytes
    /// as the last one of its kind took. At most [`CONCURRENT_BUILDS`] run at once, so
    /// clients asking together hold at most that many unqueued replies in memory.
    async fn build<T: BuiltSize + Send + 'static>(
        &self,
        kind: Option<Built>,
        what: &str,
        make: impl FnOnce(&dyn Backend) -> T + Send + 'static,
    ) -> Result<T, ErrorBody> {
        let expected = kind.map(|kind| self.context.reply_sizes.of(kind).load(Ordering::Relaxed));
        let _build = loop {
            if let Some(expected) = expected {
                self.room(expected).await;
            }
            let permit = self.context.builds.acquire().await;
            // Room again, now that no other build can start: another connection may
            // have filled the agent's budget meanwhile.
            if expected.is_none_or(|expected| self.replies.fits(expected)) {
                break permit;
            }
        };
        let backend = Arc::clone(&self.context.backend);
        let built = tokio::task::spawn_blocking(move || make(&*backend))
            .await
            .map_err(|e| {
                tracing::warn!("agent: backend {what} failed: {e}");
                ErrorBody::new(ErrorCode::Failed, format!("{what} failed inside the app"))
            })?;
        if let (Some(kind), Some(len)) = (kind, built.built_size()) {
            self.context
                .reply_sizes
                .of(kind)
                .store(len, Ordering::Relaxed);
        }
        Ok(built)
    }

    /// Kills or restarts what `target` names; `reason` and `force` are the kill's.
    async fn act(
        &self,
        action: Action,
        target: &str,
        reason: Option<String>,
        force: bool,
    ) -> Result<ActionOutcome, ErrorBody> {
        if self.context.read_only {
            return Err(ErrorBody::new(
                ErrorCode::ReadOnly,
                format!("this agent is read-only: {} is refused", action.verb()),
            ));
        }
        let snapshot = self.view_for(target).await?;
        let process = target::resolve(&snapshot, target)?;
        if let Some(why) = target::belongs_to_agent(&snapshot, &process) {
            return Err(ErrorBody::new(ErrorCode::Protected, why));
        }
        if action == Action::Kill
            && !force
            && let Some(why) = target::nothing_restarts(&snapshot, &process)
        {
            return Err(ErrorBody::new(ErrorCode::NotSupervised, why));
        }
        drop(snapshot);
        let backend = &self.context.backend;
        let verb = action.verb();
        let done = match action {
            Action::Kill => backend.kill(process.pid, reason),
            Action::Restart => backend.restart(process.pid),
        };
        // A task of its own: a panicking backend fails this request, not the connection;
        // and an action once begun runs to its end even if the client leaves.
        tokio::spawn(done).await.unwrap_or_else(|_| {
            tracing::warn!("agent: backend {verb} of {} panicked", process.pid);
            Err(ErrorBody::new(
                ErrorCode::Failed,
                format!("{verb} of {} failed inside the app", process.label()),
            ))
        })
    }

    /// What it takes to resolve `target`: a pid needs only that process and its
    /// supervisor; a name, every process.
    async fn view_for(&self, target: &str) -> Result<crate::types::Snapshot, ErrorBody> {
        match target::pid_form(target) {
            Some(pid) => self
                .build(None, "process", move |b| b.process_view(pid))
                .await?
                .ok_or_else(|| target::not_found(target)),
            None => self.build(None, "snapshot", |b| b.snapshot()).await,
        }
    }

    /// The state of what `target` names, as the process shows it. Reading is not
    /// acting: a read-only agent answers it too.
    async fn state(&self, target: &str) -> Result<(ProcessRef, String), ErrorBody> {
        let process = target::resolve(&self.view_for(target).await?, target)?;
        let asked = self.context.backend.state(process.pid);
        let state = tokio::spawn(asked).await.unwrap_or_else(|_| {
            Err(ErrorBody::new(
                ErrorCode::Failed,
                format!(
                    "reading the state of {} failed inside the app",
                    process.label()
                ),
            ))
        })?;
        Ok((process, state))
    }

    /// Waits until both this connection's and the agent's budgets have room.
    /// Waits until a reply of about `expected` bytes may be queued.
    async fn room(&self, expected: usize) {
        self.replies.room_for(expected).await;
    }

    async fn send_reply(&self, id: u64, body: ReplyBody) -> Result<(), Ending> {
        self.room(SMALL_FRAME).await;
        self.queue(Outgoing::Frame, reply(id, body))
    }

    async fn fail(&self, id: u64, error: ErrorBody) -> Result<(), Ending> {
        self.send(ServerFrame::Error {
            id: Some(id),
            error,
        })
        .await
    }

    pub(super) async fn error(
        &self,
        id: Option<u64>,
        code: ErrorCode,
        message: String,
    ) -> Result<(), Ending> {
        self.send(ServerFrame::Error {
            id,
            error: ErrorBody::new(code, message),
        })
        .await
    }

    async fn send(&self, frame: ServerFrame) -> Result<(), Ending> {
        self.room(SMALL_FRAME).await;
        match encode(&frame) {
            Some(bytes) => self.queue(Outgoing::Frame, bytes),
            None => Ok(()),
        }
    }

    /// Charges `bytes` to both budgets (the caller waited for room) and queues them.
    fn queue(&self, outgoing: impl FnOnce(Queued) -> Outgoing, bytes: Bytes) -> Result<(), Ending> {
        let queued = Queued {
            _held: self.replies.charge(bytes.len()),
            bytes,
        };
        self.queue.send(outgoing(queued)).map_err(|_| Ending::Abort)
    }
}
