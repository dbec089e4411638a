//! The server's task: init, the message loop, and the exit that always follows.
//!
//! What must happen when a process ends — answering every caller still waiting,
//! then the exit itself (`process::finish`: children, status, registry, event,
//! links and monitors, waking waiters) — starts in `Drop for Process`, so it
//! happens on every way out: a stop, a crash, and an abort (kill), where the task's
//! future is dropped at its await point.

use std::any::Any;
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use noex_agent::text::{STORED_TEXT_LIMIT, clip_owned};
use noex_agent::types::EventKind;

use super::mailbox::{Inbox, Mailbox};
use super::reply::ReplySlot;
use super::shared::{Envelope, Shared};
use super::{Context, GenServer, Ignore, Info, Reply, ServerRef};
use crate::ExitReason;
use crate::error::{InitializationError, ServerNotRunningError, StartError};
use crate::future::catch_panic;
use crate::process::{
    self, CellInit, CellRef, Down, ProcessCell, ProcessKind, ProcessStatus, SupervisorView, names,
    processes,
};

/// Everything a supervisor (or `start`) decides about a new process.
#[derive(Default)]
pub(crate) struct SpawnOptions {
    pub(crate) name: Option<String>,
    /// At most this long for `init`.
    pub(crate) start_timeout: Option<Duration>,
    pub(crate) system: bool,
    /// The supervisor starting it: the new process is linked to it.
    pub(crate) parent: Option<CellRef>,
    pub(crate) child_id: Option<Arc<str>>,
    pub(crate) restarts: u32,
    pub(crate) last_error: Option<Box<str>>,
    pub(crate) supervisor: Option<SupervisorView>,
    /// The type of the handle users know the server by, when it is not
    /// `ServerRef<S>` (a built-in service's `Cache<K, V>`): what the registry
    /// calls the process in words.
    pub(crate) handle_type: Option<fn() -> &'static str>,
}

/// Start a server: make its process, run `init` in the caller's task, then start
/// the server's task. Staged: a starter keeps this future in its own state (a
/// supervisor's, a `handle_continue` that starts children), and the options are
/// spent before `init` runs.
pub(crate) fn spawn<S: GenServer>(
    server: S,
    options: SpawnOptions,
) -> impl Future<Output = Result<ServerRef<S>, StartError>> + Send {
    crate::future::staged(move || prepare(server, options).map(initialize))
}

/// A process made, linked and registered, its `init` not yet run.
struct Starting<S: GenServer> {
    myself: ServerRef<S>,
    process: Process<S>,
    /// The name it was registered under, for its `Started` event.
    name: Option<String>,
    timeout: Option<Duration>,
}

/// Start a server that has no name and no parent, whose start therefore cannot be
/// refused: its `init` runs in a task of its own, so the reference comes back at
/// once, as `tokio::spawn`'s handle does. A failed `init` is the process's exit,
/// seen by its links and monitors, as any other.
pub(crate) fn spawn_unattached<S: GenServer>(server: S) -> ServerRef<S> {
    let myself = new_ref::<S>(SpawnOptions::default(), None);
    tokio::spawn(initialize(publish(myself.clone(), server, None, None)));
    myself
}

fn prepare<S: GenServer>(server: S, mut options: SpawnOptions) -> Result<Starting<S>, StartError> {
    let parent = options.parent.take();
    let name = options.name.take();
    let handle_type = options.handle_type;
    let timeout = options.start_timeout;
    let myself = new_ref::<S>(options, parent.as_ref().map(|parent| parent.pid));
    let cell = myself.cell();
    // Linked before anyone else can see it (OTP's spawn_link): its parent's exit
    // cannot slip between its start and the link.
    if let Some(parent) = &parent
        && !process::link_child(cell, parent)
    {
        return Err(ServerNotRunningError { pid: parent.pid }.into());
    }
    if let Some(name) = &name
        && let Err(error) = names().register_cell(name, cell, Arc::new(myself.clone()), handle_type)
    {
        if let Some(parent) = &parent {
            process::unlink(cell, parent.pid);
        }
        return Err(error.into());
    }
    Ok(publish(myself, server, name, timeout))
}

/// A new process's reference: not yet linked, named or in the process table.
fn new_ref<S: GenServer>(options: SpawnOptions, parent: Option<crate::Pid>) -> ServerRef<S> {
    let kind = if options.supervisor.is_some() {
        ProcessKind::Supervisor
    } else {
        ProcessKind::Server
    };
    ServerRef::new(Arc::new(Shared {
        mailbox: Mailbox::new(),
        cell: ProcessCell::new(CellInit {
            pid: processes().next_pid(),
            kind,
            type_name: S::type_name,
            system: options.system,
            parent,
            child_id: options.child_id,
            restarts: options.restarts,
            last_error: options.last_error,
            supervisor: options.supervisor,
        }),
    }))
}

/// Put the process in the table, where the Observer sees it. From here on its
/// exit is reported, whatever ends it.
fn publish<S: GenServer>(
    myself: ServerRef<S>,
    server: S,
    name: Option<String>,
    timeout: Option<Duration>,
) -> Starting<S> {
    processes().insert(myself.cell_ref());
    #[cfg(feature = "agent")]
    process::first_spawn();
    Starting {
        process: Process {
            ctx: Context::new(myself.clone()),
            inbox: Inbox::new(),
            server,
        },
        myself,
        name,
        timeout,
    }
}

/// `init`, then the server's task. Written so that `starting` is the only thing
/// kept beside `init` itself: its parts are reached through it, not moved out.
#[allow(clippy::manual_async_fn)]
fn initialize<S: GenServer>(
    mut starting: Starting<S>,
) -> impl Future<Output = Result<ServerRef<S>, StartError>> + Send {
    // Not an `async fn`, which would keep its argument twice.
    async move {
        let cell = starting.myself.cell();
        // `init` runs here, in the starter's task, which waits for it anyway: no
        // hand-over to the server's task and back before `start` returns. A kill during
        // `init` ends it (and a starter that gives up drops it), exactly as an abort of
        // the server's task did; `Drop for Process` reports the exit either way.
        let timeout = starting.timeout;
        let process = &mut starting.process;
        let init = catch_panic(process.server.init(&mut process.ctx));
        let finished = match timeout {
            None => Ok(cell.until_killed(init).await),
            // Boxed: a start with a timeout is rare, and every start would carry
            // room for the timer.
            Some(timeout) => Box::pin(tokio::time::timeout(timeout, cell.until_killed(init)))
                .await
                .map_err(|_| timeout),
        };
        let type_name = cell.type_name();
        let init_failed = |reason: String, source| {
            let exit = ExitReason::error(format!("init failed: {reason}"));
            let error = InitializationError {
                type_name,
                reason,
                source,
            };
            (Some(exit), error.into())
        };
        // A start that did not come through: the exit to report (none: `Killed`, as
        // for a kill) and the error.
        let failed: Option<(Option<ExitReason>, StartError)> = match finished {
            Ok(Some(Ok(Ok(())))) => None,
            Ok(Some(Ok(Err(error)))) if error.is::<Ignore>() => {
                Some((Some(ExitReason::Normal), StartError::Ignored { type_name }))
            }
            Ok(Some(Ok(Err(error)))) => Some(init_failed(error.to_string(), Some(error))),
            Ok(Some(Err(panic))) => Some(init_failed(panic_message(&*panic), None)),
            Ok(None) => Some((
                None,
                InitializationError {
                    type_name,
                    reason: "killed during init".into(),
                    source: None,
                }
                .into(),
            )),
            Err(timeout) => Some((None, StartError::Timeout { type_name, timeout })),
        };
        if let Some((exit, error)) = failed {
            if let Some(exit) = exit {
                starting.process.set_exit_reason(Box::new(exit));
            }
            drop(starting.process);
            return Err(error);
        }
        cell.set_status(ProcessStatus::Running);
        // Under the name it was given, without asking the cell for it again.
        cell.emit_named_at(starting.name, EventKind::Started, cell.started_at_ms);
        let task = tokio::spawn(process::Current::new(
            starting.myself.clone(),
            run(starting.process),
        ));
        let abort_now = {
            let mut notes = cell.notes();
            // A kill that came after `init` and before the task could be aborted.
            let killed = notes.exit_reason.is_some();
            let task = notes.task.insert(task);
            killed.then(|| task.abort_handle())
        };
        // Outside the lock: an abort may drop the task, and its exit takes the lock.
        if let Some(abort) = abort_now {
            abort.abort();
        }
        Ok(starting.myself)
    }
}

/// A running server: its state, its context and what it has taken from its mailbox.
///
/// The state comes last, so it is dropped after `Drop for Process` has reported the
/// exit: a reply handle kept in the state and dropped with it finds the exit
/// already known, and its caller is told why.
struct Process<S: GenServer> {
    /// Holds the server's own `ServerRef`, and through it the cell and the mailbox.
    ctx: Context<S>,
    inbox: Inbox<Envelope<S>>,
    server: S,
}

pin_project_lite::pin_project! {
    /// The handler of one message, whichever kind: one type, so the message loop awaits
    /// every kind at a single point, and the task has room for the largest handler, not
    /// for each. Its output is the reply, for a call.
    #[project = HandlerProjection]
    enum Handler<C, N, I> {
        Call { #[pin] future: C },
        Cast { #[pin] future: N },
        Info { #[pin] future: I },
    }
}

impl<R, C, N, I> Future for Handler<C, N, I>
where
    C: Future<Output = Reply<R>>,
    N: Future<Output = ()>,
    I: Future<Output = ()>,
{
    type Output = Option<Reply<R>>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        match self.project() {
            HandlerProjection::Call { future } => future.poll(cx).map(Some),
            HandlerProjection::Cast { future } => future.poll(cx).map(|()| None),
            HandlerProjection::Info { future } => future.poll(cx).map(|()| None),
        }
    }
}

/// The server's task: the message loop, then `terminate`. (`init` ran in `spawn`.)
///
/// This future is most of an idle server's memory, and tokio sizes tasks in steps
/// of 128 bytes, so it is written to keep little across its awaits: not an
/// `async fn` (which would keep its argument twice), the loop not a future of its
/// own (which would keep references to its parts), the envelope taken apart in a
/// scope that ends before the handler runs, a handler's start kept in the counters,
/// and the rare paths (continuations, `terminate`) boxed.
#[allow(clippy::manual_async_fn)]
fn run<S: GenServer>(mut process: Process<S>) -> impl Future<Output = ()> + Send {
    async move {
        let reason = 'serve: loop {
            if process.ctx.requests.is_some() {
                process.inbox.previous_end = 0;
                if let Some(reason) = Box::pin(process.take_continuations()).await {
                    break 'serve Box::new(reason);
                }
            }
            let handler = {
                let mailbox = &process.ctx.myself_ref().shared().mailbox;
                let inbox = &mut process.inbox;
                let envelope = std::future::poll_fn(|cx| inbox.poll_recv(mailbox, cx)).await;
                let handled = passes_idle_timeout(&mut process.ctx, &envelope);
                let cell = process.ctx.myself_ref().cell();
                cell.counters.on_dequeue();
                if !handled
                    || matches!(&envelope, Envelope::Info(message) if is_flushed(cell, message))
                {
                    continue 'serve;
                }
                cell.counters.handler_started(process.inbox.previous_end);
                let ctx = &mut process.ctx;
                let server = &mut process.server;
                // One await for every kind of handler: room for the largest, not for each.
                match envelope {
                    Envelope::Call(request, slot) => {
                        ctx.reply_slot = Some(slot);
                        Handler::Call {
                            future: server.handle_call(request, ctx),
                        }
                    }
                    Envelope::Request(request) => Handler::Call {
                        future: server.handle_call(request, ctx),
                    },
                    Envelope::Cast(message) => Handler::Cast {
                        future: server.handle_cast(message, ctx),
                    },
                    Envelope::Info(message) => Handler::Info {
                        future: server.handle_info(message, ctx),
                    },
                    Envelope::Stop(reason) => {
                        process.cell().counters.handler_finished();
                        break 'serve reason;
                    }
                    Envelope::System(message) => {
                        run_system_message(server, message);
                        process.inbox.previous_end = process.cell().counters.handler_finished();
                        continue 'serve;
                    }
                }
            };
            let handled = catch_panic(handler).await;
            // Counted before the caller is answered, so what it sees next agrees.
            process.inbox.previous_end = process.cell().counters.handler_finished();
            match handled {
                Ok(Some(Reply::Now(value))) => {
                    if let Some(slot) = process.ctx.reply_slot.take() {
                        process.ctx.reply(slot, value);
                    }
                }
                // Deferred, or not a call. A slot the handler neither answered nor
                // kept is dropped (the caller gets NoReply), unless the server is
                // stopping: then its caller is told the exit reason (OTP's
                // `{stop, Reason, State}` from `handle_call`).
                Ok(_) => {
                    if !process.ctx.stop_requested() {
                        process.ctx.reply_slot = None;
                    }
                }
                Err(panic) => break 'serve Box::new(process.crash(&*panic)),
            }
        };
        Box::pin(process.terminate(reason)).await;
    }
}

/// A `sys` request on the state. A panic in it (a replacing function that fails)
/// leaves the server running, as OTP's `replace_state` does; its sender learns of
/// it by the dropped answer.
#[cold]
fn run_system_message<S: GenServer>(server: &mut S, message: super::shared::SystemMessage<S>) {
    let applied = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| message(server)));
    if let Err(panic) = applied {
        tracing::warn!(
            type_name = std::any::type_name::<S>(),
            error = %panic_message(&*panic),
            "a sys request on the state panicked; the server goes on"
        );
    }
}

/// Whether `envelope` is to be handled, as far as an idle timeout goes (see
/// [`Context::take_idle_timer`]); one test when none is running and it is no info.
#[inline]
fn passes_idle_timeout<S: GenServer>(ctx: &mut Context<S>, envelope: &Envelope<S>) -> bool {
    let info = match envelope {
        Envelope::Info(message) => Some(message),
        _ => None,
    };
    if ctx.idle_timer.is_none() && info.is_none() {
        return true;
    }
    ctx.take_idle_timer(info)
}

/// A `Down` for a monitor taken back with its message already queued.
fn is_flushed(cell: &ProcessCell, message: &Info) -> bool {
    message
        .downcast_ref::<Down>()
        .is_some_and(|down| cell.take_flushed(&down.monitor))
}

impl<S: GenServer> Process<S> {
    fn cell(&self) -> &ProcessCell {
        self.ctx.myself_ref().cell()
    }

    /// Set on every orderly way out (in the cell: the task keeps no room for it);
    /// when the task is aborted instead, the kill's reason is reported. Boxed from
    /// the stop request to the exit signal: one allocation per exit.
    fn set_exit_reason(&self, reason: Box<ExitReason>) {
        self.cell().notes().exit_reason = Some(reason);
    }

    /// `terminate`; the exit is reported by `Drop`. A panic in `terminate` becomes
    /// the exit reason, as in OTP; a reply held back for `terminate` is sent either
    /// way.
    async fn terminate(&mut self, reason: Box<ExitReason>) {
        self.cell().set_status(ProcessStatus::Stopping);
        let held_reply = self
            .ctx
            .requests
            .take()
            .and_then(|requests| requests.reply_after_terminate);
        let terminate = catch_panic(self.server.terminate(&reason, &mut self.ctx)).await;
        if let Some(reply) = held_reply {
            reply();
        }
        self.set_exit_reason(match terminate {
            Ok(()) => reason,
            Err(panic) => Box::new(ExitReason::error(format!(
                "terminate panicked: {}",
                panic_message(&*panic)
            ))),
        });
    }

    /// Runs requested continuations; returns a reason if the server must stop.
    async fn take_continuations(&mut self) -> Option<ExitReason> {
        // The box stays while the handlers below ask for more (a continuation that
        // stops its server asks twice); it goes once nothing more is asked.
        loop {
            let requests = self.ctx.requests.as_mut()?;
            if let Some(reason) = requests.stop.take() {
                // Kept for `terminate`, with the reply it may hold back.
                return Some(reason);
            }
            let Some(message) = requests.continuation.take() else {
                let idle_after = requests.idle_after.take();
                self.ctx.requests = None;
                if let Some(after) = idle_after {
                    self.ctx.start_idle_timer(after);
                }
                return None;
            };
            self.cell().counters.handler_started(0);
            let outcome = catch_panic(self.server.handle_continue(message, &mut self.ctx)).await;
            self.cell().counters.handler_finished();
            if let Err(panic) = outcome {
                return Some(self.crash(&*panic));
            }
        }
    }

    fn crash(&mut self, panic: &(dyn Any + Send)) -> ExitReason {
        let message = panic_message(panic);
        tracing::warn!(pid = %self.cell().pid, type_name = self.cell().type_name(), error = %message, "server crashed");
        let reason = ExitReason::error(message);
        if let Some(slot) = self.ctx.reply_slot.take() {
            let _ = slot.send(Err(reason.clone()), self.ctx.pid());
        }
        reason
    }
}

impl<S: GenServer> Drop for Process<S> {
    fn drop(&mut self) {
        let cell = self.cell();
        let started = cell.status() != ProcessStatus::Initializing;
        // Not running any more: a caller whose reply handle is dropped from now on
        // waits for the exit reason instead of reporting NoReply.
        cell.set_status(ProcessStatus::Stopping);
        let (reason, text) = {
            let mut notes = cell.notes();
            let reason = notes
                .exit_reason
                .take()
                .unwrap_or_else(|| Box::new(ExitReason::Killed));
            let mut text = reason.text();
            if let Cow::Owned(text) = &mut text {
                clip_owned(text, STORED_TEXT_LIMIT);
            }
            if reason.is_abnormal() {
                cell.shown_mut(&mut notes).last_error = Some((*text).into());
            }
            (reason, text)
        };
        // Every caller still waiting hears why now: the call being handled and the
        // calls queued behind it. The mailbox closes first, so once `stop` or `wait`
        // returns, nothing sent to this server is accepted any more.
        let queued = self.ctx.myself_ref().shared().mailbox.close();
        let pid = self.ctx.pid();
        let answer = |slot: ReplySlot<S::Reply>| {
            let _ = slot.send(Err(ExitReason::clone(&reason)), pid);
        };
        if let Some(slot) = self.ctx.reply_slot.take() {
            answer(slot);
        }
        for envelope in self.inbox.drain().chain(queued) {
            if let Envelope::Call(_, slot) = envelope {
                answer(slot);
            }
        }
        process::finish(self.ctx.myself_ref().cell_ref(), reason, text, started);
    }
}

/// The text of a panic payload (`panic!("...")` gives a `&str` or a `String`).
pub(crate) fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::BoxError;
    use crate::gen_server::StartOptions;
    use crate::registry;

    struct StuckInInit;

    impl GenServer for StuckInInit {
        type Call = ();
        type Cast = ();
        type Reply = ();

        async fn init(&mut self, _: &mut Context<Self>) -> Result<(), BoxError> {
            std::future::pending().await
        }

        async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
            Reply::Now(())
        }
    }

    #[tokio::test]
    async fn a_kill_during_init_ends_the_process_and_fails_the_start() {
        let name = "process-test.stuck-in-init";
        let start = tokio::spawn(super::super::start(
            StuckInInit,
            StartOptions::new().name(name),
        ));
        // Guards against a hang only: a lost kill must fail the test, not stall it.
        let hang = std::time::Duration::from_secs(10);
        let pid = tokio::time::timeout(hang, async {
            loop {
                if let Some(pid) = registry::whereis(name) {
                    break pid;
                }
                assert!(!start.is_finished(), "the start ended before `init` ran");
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the name is registered before `init` runs");
        let cell = processes().get(pid).expect("in the process table");
        cell.kill(ExitReason::Killed);
        let error = tokio::time::timeout(hang, start)
            .await
            .expect("the start returns once killed")
            .unwrap()
            .unwrap_err();
        assert!(error.to_string().contains("killed during init"), "{error}");
        let exit = tokio::time::timeout(hang, cell.wait_exit())
            .await
            .expect("the exit is reported");
        assert_eq!(exit, ExitReason::Killed);
        assert!(processes().get(pid).is_none());
        assert!(registry::whereis(name).is_none());
    }
}
#[cfg(test)]
mod size_tests {
    use super::*;
    use crate::Pid;
    use crate::gen_server::StartOptions;
    use crate::registry;

    struct Counter(u64);

    impl GenServer for Counter {
        type Call = ();
        type Cast = u64;
        type Reply = u64;

        async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<u64> {
            Reply::Now(self.0)
        }

        async fn handle_cast(&mut self, amount: u64, _: &mut Context<Self>) {
            self.0 += amount;
        }
    }

    fn size_of_future<F: Future>(_: &F) -> usize {
        std::mem::size_of::<F>()
    }

    /// tokio adds about 100 bytes to a task's future and rounds up to 128: a small
    /// server's loop up to 144 bytes makes a 256-byte task, a few bytes more a
    /// 384-byte one. BENCHMARKS.md's idle-memory row depends on it.
    #[tokio::test]
    async fn a_small_server_s_task_fits_tokio_s_256_byte_tasks() {
        let myself = ServerRef::new(Arc::new(Shared {
            mailbox: Mailbox::new(),
            cell: ProcessCell::new(CellInit::bare(
                Pid(u64::MAX),
                std::any::type_name::<Counter>,
            )),
        }));
        let process = Process {
            ctx: Context::new(myself),
            inbox: Inbox::new(),
            server: Counter(0),
        };
        let myself = process.ctx.myself_ref().clone();
        // As `initialize` spawns it: marked as the current process while polled.
        let task = crate::process::Current::new(myself, run(process));
        assert!(size_of_future(&task) <= 144, "{}", size_of_future(&task));
        // Not dropped: its exit would be reported (an event) for a process that
        // never was.
        std::mem::forget(task);
    }

    /// A starter keeps `start`'s future in its own state (a `handle_continue` that
    /// starts children, a supervisor's): it holds what `init` needs, not the options
    /// and the arguments beside it. (It was 1,080 bytes for skynet's node: a
    /// 1,216-byte box per node, past glibc's per-thread cache.)
    #[test]
    fn a_small_server_s_start_is_a_future_of_a_few_hundred_bytes() {
        let start = crate::gen_server::start(Counter(0), StartOptions::new());
        assert!(size_of_future(&start) <= 384, "{}", size_of_future(&start));
    }

    #[tokio::test]
    async fn start_does_nothing_until_it_is_awaited() {
        let name = "start-does-nothing-until-awaited";
        let start = crate::gen_server::start(Counter(0), StartOptions::new().name(name));
        assert!(
            registry::whereis(name).is_none(),
            "registered before a poll"
        );
        let server = start.await.unwrap();
        assert_eq!(registry::whereis(name), Some(server.pid()));
        server.stop(ExitReason::Normal).await.unwrap();
    }

    /// Every server's cell and mailbox share one allocation: with the `Arc`'s
    /// counts, 232 bytes at most is glibc's 240-byte chunk, one size class below
    /// the cell as it was (304). BENCHMARKS.md's idle-memory row depends on it.
    #[test]
    fn a_server_s_cell_and_mailbox_fit_a_240_byte_heap_chunk() {
        assert!(
            size_of::<Shared<Counter>>() <= 216,
            "{}",
            size_of::<Shared<Counter>>()
        );
        assert!(
            size_of::<ProcessCell>() <= 144,
            "{}",
            size_of::<ProcessCell>()
        );
    }
}
