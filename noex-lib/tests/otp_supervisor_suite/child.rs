//! The child server of the suite — OTP's helper modules `supervisor_1` ..
//! `supervisor_4`, `supervisor_deadlock` and `naughty_child` in one — its child
//! specs, and the ways a test drives it: OTP's `exit(Pid, Reason)` (through a
//! [`Signaller`]), `terminate(Sup, Pid, Id, How)`, `supervisor_3`'s questions and
//! `supervisor_deadlock`'s shared `fail_start` flag.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex, OnceLock};
use std::time::Duration;

use noex::error::BoxError;
use noex::gen_server::{self, Context, GenServer, Ignore, Reply, StartOptions};
use noex::supervisor::{ChildSpec, Shutdown};
use noex::{ExitReason, Pid, ServerRef, process};
use tokio::sync::{mpsc, oneshot};

use crate::support::{Log, died, ms, secs, within};

pub(crate) type Flag = Arc<AtomicBool>;

/// How `init` behaves: OTP's start functions.
#[derive(Clone)]
pub(crate) enum Start {
    /// `supervisor_1:start_child()`.
    Normal,
    /// `supervisor_1:start_child(ignore)`: the first start returns `ignore`, later
    /// ones succeed (OTP keeps the flag in the supervisor's process dictionary).
    IgnoreFirst(Flag),
    /// `supervisor_1:start_child(error)`: the first start succeeds, later ones fail
    /// (`function_clause`).
    ErrorAfterFirst(Flag),
    /// `supervisor_1:start_child({return, {error, Reason}})`.
    Fail(&'static str),
    /// `supervisor_1:start_child({return, Garbage})`: not an `{ok, Pid}`; a start
    /// that crashes is the Rust counterpart.
    Panic(&'static str),
    /// `supervisor_deadlock`: while `fail_start` is set, init takes 2 s and fails
    /// with `error`.
    Deadlock(Flag),
    /// `supervisor_3`: init tells the test and waits for its answer.
    AskTest(mpsc::UnboundedSender<Ask>),
}

impl Start {
    /// `supervisor_1:start_child(ignore)`, with a flag of its own.
    pub(crate) fn ignore_first() -> Self {
        Start::IgnoreFirst(Flag::default())
    }

    /// `supervisor_1:start_child(error)`, with a flag of its own.
    pub(crate) fn error_after_first() -> Self {
        Start::ErrorAfterFirst(Flag::default())
    }
}

/// `supervisor_3`'s `{Name, self()}` to the test, with the way to answer.
pub(crate) struct Ask {
    tag: String,
    pub(crate) pid: Pid,
    answer: oneshot::Sender<Answer>,
}

/// `supervisor_3`'s init results.
#[derive(Debug)]
pub(crate) enum Answer {
    /// `{ok, _}`.
    Ok,
    /// `ignore`.
    Ignore,
    /// `{stop, normal}`: the start fails.
    StopNormal,
}

impl Ask {
    pub(crate) fn answer(self, answer: Answer) -> Pid {
        let _ = self.answer.send(answer);
        self.pid
    }
}

/// Every start attempt of a child that has a notes channel.
#[derive(Debug)]
pub(crate) struct Note {
    pub(crate) started: bool,
}

#[derive(Clone)]
pub(crate) struct Child {
    tag: String,
    start: Start,
    log: Option<Log>,
    notes: Option<mpsc::UnboundedSender<Note>>,
    /// `supervisor_2`: `terminate` takes this long.
    terminate_delay: Option<Duration>,
    /// `supervisor_4`'s `exit(Reason)` in `terminate`, as far as noex allows.
    terminate_panic: Option<&'static str>,
    /// The reason it stops with when told `stop` (`supervisor_4`'s `{Reason}`).
    on_stop: ExitReason,
    /// `naughty_child`: unlink from this supervisor in init.
    unlink_from: Option<Arc<OnceLock<Pid>>>,
}

/// The messages OTP's tests send to a child.
pub(crate) enum Cmd {
    /// `die` (reason `died`), or `supervisor_deadlock`'s `restart` (reason `error`).
    Exit(ExitReason),
    /// `stop`: exit with the child's `on_stop` reason (`normal` by default).
    Stop,
    /// `{sleep, Ms}`: become unresponsive for good.
    Hang,
}

impl Child {
    pub(crate) fn new(tag: impl Into<String>) -> Self {
        Child {
            tag: tag.into(),
            start: Start::Normal,
            log: None,
            notes: None,
            terminate_delay: None,
            terminate_panic: None,
            on_stop: ExitReason::Normal,
            unlink_from: None,
        }
    }

    pub(crate) fn start(mut self, start: Start) -> Self {
        self.start = start;
        self
    }

    pub(crate) fn log(mut self, log: &Log) -> Self {
        self.log = Some(log.clone());
        self
    }

    pub(crate) fn notes(mut self, notes: &mpsc::UnboundedSender<Note>) -> Self {
        self.notes = Some(notes.clone());
        self
    }

    pub(crate) fn terminate_delay(mut self, delay: Duration) -> Self {
        self.terminate_delay = Some(delay);
        self
    }

    pub(crate) fn terminate_panic(mut self, message: &'static str) -> Self {
        self.terminate_panic = Some(message);
        self
    }

    pub(crate) fn on_stop(mut self, reason: ExitReason) -> Self {
        self.on_stop = reason;
        self
    }

    pub(crate) fn unlink_from(mut self, supervisor: &Arc<OnceLock<Pid>>) -> Self {
        self.unlink_from = Some(supervisor.clone());
        self
    }

    fn record(&self, entry: String) {
        if let Some(log) = &self.log {
            log.lock().unwrap_or_else(|e| e.into_inner()).push(entry);
        }
    }

    async fn decide(&self, pid: Pid) -> Result<(), BoxError> {
        match &self.start {
            Start::Normal => Ok(()),
            Start::IgnoreFirst(ignored) => {
                if ignored.swap(true, Ordering::SeqCst) {
                    Ok(())
                } else {
                    Err(Ignore.into())
                }
            }
            Start::ErrorAfterFirst(started) => {
                if started.swap(true, Ordering::SeqCst) {
                    Err("function_clause".into())
                } else {
                    Ok(())
                }
            }
            Start::Fail(reason) => Err((*reason).into()),
            Start::Panic(reason) => panic!("{reason}"),
            Start::Deadlock(fail_start) => {
                if fail_start.load(Ordering::SeqCst) {
                    tokio::time::sleep(secs(2)).await;
                    Err("error".into())
                } else {
                    Ok(())
                }
            }
            Start::AskTest(asks) => {
                let (answer, reply) = oneshot::channel();
                let _ = asks.send(Ask {
                    tag: self.tag.clone(),
                    pid,
                    answer,
                });
                match reply.await {
                    Ok(Answer::Ok) => Ok(()),
                    Ok(Answer::Ignore) => Err(Ignore.into()),
                    Ok(Answer::StopNormal) | Err(_) => Err("normal".into()),
                }
            }
        }
    }
}

/// Every running test child, by pid: how a test reaches a child it knows by pid.
static HANDLES: LazyLock<Mutex<HashMap<Pid, ServerRef<Child>>>> = LazyLock::new(Mutex::default);

pub(crate) fn handle(pid: Pid) -> ServerRef<Child> {
    HANDLES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&pid)
        .cloned()
        .unwrap_or_else(|| panic!("{pid} is not a test child"))
}

impl GenServer for Child {
    /// Its tag (what it was started with).
    type Call = ();
    type Cast = Cmd;
    type Reply = String;

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), BoxError> {
        let outcome = self.decide(ctx.pid()).await;
        if let Some(notes) = &self.notes {
            let _ = notes.send(Note {
                started: outcome.is_ok(),
            });
        }
        self.record(match &outcome {
            Ok(()) => format!("start {}", self.tag),
            Err(error) if error.is::<Ignore>() => format!("ignored {}", self.tag),
            Err(_) => format!("failed {}", self.tag),
        });
        if outcome.is_ok() {
            HANDLES
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(ctx.pid(), ctx.myself());
            if let Some(supervisor) = &self.unlink_from {
                ctx.unlink(*supervisor.get().expect("the supervisor's pid is set"));
            }
        }
        outcome
    }

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<String> {
        Reply::Now(self.tag.clone())
    }

    async fn handle_cast(&mut self, cmd: Cmd, ctx: &mut Context<Self>) {
        match cmd {
            Cmd::Exit(reason) => ctx.stop(reason),
            Cmd::Stop => ctx.stop(self.on_stop.clone()),
            Cmd::Hang => std::future::pending::<()>().await,
        }
    }

    async fn terminate(&mut self, reason: &ExitReason, _: &mut Context<Self>) {
        self.record(format!("stop {} ({reason})", self.tag));
        if let Some(delay) = self.terminate_delay {
            tokio::time::sleep(delay).await;
        }
        if let Some(message) = self.terminate_panic {
            panic!("{message}");
        }
    }
}

/// A child spec of `child`, with OTP's usual shutdown of 1000 ms.
pub(crate) fn worker(id: &str, child: Child) -> ChildSpec<Child> {
    ChildSpec::worker(id, move || child.clone()).shutdown(Shutdown::Timeout(ms(1000)))
}

/// `{Id, {supervisor_1, start_child, []}, permanent, 1000, worker, []}`.
pub(crate) fn sup1(id: &str) -> ChildSpec<Child> {
    worker(id, Child::new(id))
}

/// `{Id, {supervisor_1, start_child, [Arg]}, permanent, 1000, worker, []}`: a
/// `supervisor_1` child whose start behaves as `start` says.
pub(crate) fn sup1_starting(id: &str, start: Start) -> ChildSpec<Child> {
    worker(id, Child::new(id).start(start))
}

/// A `simple_one_for_one` template whose argument is the child to start.
pub(crate) fn template(id: &str) -> ChildSpec<Child> {
    ChildSpec::worker_with(id, |child: &Child| child.clone()).shutdown(Shutdown::Timeout(ms(1000)))
}

// ---------------------------------------------------------------------------------
// OTP's exit(Pid, Reason) and terminate(Sup, Pid, Id, How)
// ---------------------------------------------------------------------------------

/// A process that sends exit signals: OTP's `exit(Pid, Reason)` from the test.
pub(crate) struct Signaller;

impl GenServer for Signaller {
    type Call = (Pid, ExitReason);
    type Cast = ();
    type Reply = ();

    async fn handle_call(
        &mut self,
        (pid, reason): (Pid, ExitReason),
        ctx: &mut Context<Self>,
    ) -> Reply<()> {
        ctx.exit(pid, reason);
        Reply::Now(())
    }
}

pub(crate) async fn signaller() -> ServerRef<Signaller> {
    gen_server::start(Signaller, StartOptions::new())
        .await
        .expect("the signaller starts")
}

/// `exit(Pid, Reason)`.
pub(crate) async fn exit_signal(pid: Pid, reason: ExitReason) {
    let signaller = signaller().await;
    signaller.call((pid, reason)).await.expect("exit/2");
    within("the signaller's stop", signaller.stop(ExitReason::Normal))
        .await
        .expect("stops");
}

/// How OTP's `terminate(Sup, Pid, Id, How)` ends a child (all but `supervisor`,
/// which is `terminate_child` and written out where used).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum How {
    /// `exit(P, kill)`: reason `killed`.
    Kill,
    /// `exit(P, shutdown)`.
    Shutdown,
    /// `exit(P, {shutdown, Term})`.
    ShutdownWith(&'static str),
    /// The message `stop`: reason `normal`.
    Normal,
    /// The message `die`: reason `died`.
    Abnormal,
}

/// End `pid` and wait until it is dead with the reason OTP's helper waits for.
pub(crate) async fn end(pid: Pid, how: How) {
    let down = process::monitor(pid);
    let expected = match how {
        How::Kill => {
            exit_signal(pid, ExitReason::Killed).await;
            ExitReason::Killed
        }
        How::Shutdown => {
            exit_signal(pid, ExitReason::Shutdown).await;
            ExitReason::Shutdown
        }
        How::ShutdownWith(why) => {
            exit_signal(pid, ExitReason::shutdown_with(why)).await;
            ExitReason::shutdown_with(why)
        }
        How::Normal => {
            handle(pid).cast(Cmd::Stop).expect("the child runs");
            ExitReason::Normal
        }
        How::Abnormal => {
            handle(pid).cast(Cmd::Exit(died())).expect("the child runs");
            died()
        }
    };
    assert_eq!(within("the child's exit", down).await.reason, expected);
}

/// The next `supervisor_3` start, which must be of child `tag`.
pub(crate) async fn ask(asks: &mut mpsc::UnboundedReceiver<Ask>, tag: &str) -> Ask {
    let ask = within("a child start", asks.recv())
        .await
        .expect("the asks channel is open");
    assert_eq!(ask.tag, tag, "the child the supervisor starts next");
    ask
}

/// OTP's `restart` cast to a `supervisor_deadlock` child: it exits with `error`.
pub(crate) async fn crash_with_error(pid: Pid) {
    let down = process::monitor(pid);
    handle(pid)
        .cast(Cmd::Exit(ExitReason::error("error")))
        .unwrap();
    assert_eq!(
        within("the child's exit", down).await.reason,
        ExitReason::error("error")
    );
}

/// The `supervisor_deadlock` children of one case: their shared `fail_start`
/// flag, and the notes of their start attempts.
pub(crate) struct Deadlock {
    fail_start: Flag,
    notes_tx: mpsc::UnboundedSender<Note>,
    notes: mpsc::UnboundedReceiver<Note>,
}

impl Deadlock {
    pub(crate) fn new() -> Self {
        let (notes_tx, notes) = mpsc::unbounded_channel();
        Deadlock {
            fail_start: Flag::default(),
            notes_tx,
            notes,
        }
    }

    /// `{Id, {supervisor_deadlock, start_child, []}, permanent, brutal_kill,
    /// worker, []}`.
    pub(crate) fn child(&self, id: &str) -> ChildSpec<Child> {
        worker(
            id,
            Child::new(id)
                .start(Start::Deadlock(self.fail_start.clone()))
                .notes(&self.notes_tx),
        )
        .shutdown(Shutdown::BrutalKill)
    }

    /// `fail_start = true`: every start takes 2 s and fails.
    pub(crate) fn fail_starts(&self) {
        self.fail_start.store(true, Ordering::SeqCst);
    }

    /// `fail_start = false`: starts succeed.
    pub(crate) fn let_starts_succeed(&self) {
        self.fail_start.store(false, Ordering::SeqCst);
    }

    /// Forget the start attempts noted so far.
    pub(crate) fn drain_notes(&mut self) {
        while self.notes.try_recv().is_ok() {}
    }

    /// The next start attempt.
    pub(crate) async fn next_note(&mut self) -> Note {
        within("a start attempt", self.notes.recv())
            .await
            .expect("the notes channel is open")
    }

    /// The `hanging_restart_loop*` cases' way into a restart loop:
    /// `fail_start = true`, the child `pid` crashes with `error`, and the restart
    /// that follows fails.
    pub(crate) async fn crash_into_a_restart_loop(&mut self, pid: Pid) {
        self.drain_notes();
        self.fail_starts();
        crash_with_error(pid).await;
        assert!(!self.next_note().await.started, "the restart fails");
    }
}
