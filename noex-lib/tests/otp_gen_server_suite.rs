//! The port of Erlang/OTP's `lib/stdlib/test/gen_server_SUITE.erl` to noex, case by
//! case: one test per case that maps (fully or in part), named after the case.
//!
//! The suite's callback module (`gen_server_SUITE` itself) is [`Suite`] below, its
//! `oc_server` (a module exporting `init/1` only) is [`OcServer`]. The test process,
//! which in OTP receives `{Pid, Tag}` messages from the server and `{'EXIT', Pid, R}`
//! when it is linked and traps exits, is a channel ([`Mailbox`]) fed by the server
//! and by a [`Probe`] process that links to the server and traps exits.
//!
//! Translation of terms: an exit reason `R` that is not `normal`, `shutdown` or
//! `{shutdown, T}` is `ExitReason::Error(R)`; `{shutdown, T}` is
//! `ExitReason::ShutdownWith(T)`; a crash of class `error` (and `exit(crashed)`) is
//! a panic; `exit(shutdown)` / `exit({shutdown, T})` in a handler (noex has no
//! exit-class crash) is `ctx.stop(reason)` without a reply, which OTP makes
//! indistinguishable for the caller and the linked process. A caller exiting with
//! `{R, {gen_server, call, _}}` is `CallError::Exited { reason: R }`, `noproc` is
//! `CallError::NotRunning` / `StopError::NotRunning`, and `{already_started, Pid}`
//! is `StartError::AlreadyRegistered`. `start_link` is `start` followed by a link
//! from the probe; `start_monitor` is `start` followed by `process::monitor`.
//!
//! # Cases that do not map
//!
//! | case | why |
//! |---|---|
//! | `start_event_timeout` | no event-timeout action (`{timeout, T, Msg}` cancelled by any message), no hibernation, no `sys:get_status`, no `enter_loop`; `Context::send_after` is a plain timer |
//! | `start_event_timeout_zero` | zero event timeout delivered ahead of queued messages: no event-timeout actions |
//! | `stop3` | `ServerRef::stop` takes no timeout, and an invalid timeout value is a type error |
//! | `stop5` | node-qualified name `{Name, node()}`: distribution |
//! | `stop6` | global names |
//! | `stop7` | via names (`dummy_via`) |
//! | `stop8` | remote node (peer), `nodedown` |
//! | `stop9` | remote node (peer), `nodedown` |
//! | `stop10` | remote node (peer) and global names |
//! | `send_request` | no request-id API (`send_request` / `wait_response` / `check_response`), no aliases, no distribution |
//! | `send_request_receive_reqid_collection` | no request-id collections (`reqids_*`, `receive_response`) |
//! | `send_request_wait_reqid_collection` | no request-id collections (`wait_response`) |
//! | `send_request_check_reqid_collection` | no request-id collections, no raw reply messages (`check_response`) |
//! | `cast_fast` | distribution: cast to a node that never answers (epmd) |
//! | `abcast` | multi-node broadcast API (on one node it is cast by name, see `cast`) |
//! | `handle_event_timeout` | no event-timeout actions, hibernation or `sys` |
//! | `handle_event_timeout_zero` | no event-timeout actions |
//! | `handle_event_timeout_plain` | no `{noreply, S, Timeout}` idle timeout in noex (cancelled by any message, not by a system message), so the rule under test would be this file's own emulation; no `sys` |
//! | `multicall` | `multi_call` (multi-node API) |
//! | `multicall_down` | `multi_call` with a down node |
//! | `multicall_remote` | `multi_call` over peer nodes |
//! | `multicall_remote_old1` | `multi_call` to peers of release N-1 |
//! | `multicall_remote_old2` | `multi_call` to peers of release N-2 |
//! | `multicall_recv_opt_success` | `multi_call` over peers; Erlang receive optimisation |
//! | `multicall_recv_opt_timeout` | `multi_call` over peers; Erlang receive optimisation |
//! | `multicall_recv_opt_noconnection` | `multi_call` over peers; Erlang receive optimisation |
//! | `call_remote1` | global name on a peer node |
//! | `call_remote2` | pid on a peer node |
//! | `call_remote3` | `{Name, Node}` on a peer node |
//! | `call_remote_n1` | global name on a stopped peer |
//! | `call_remote_n2` | `nodedown` of a stopped peer |
//! | `call_remote_n3` | `nodedown` of a stopped peer |
//! | `spec_init` | `proc_lib` + `gen_server:enter_loop` |
//! | `spec_init_local_registered_parent` | `enter_loop` with a parent found by registered name |
//! | `spec_init_global_registered_parent` | `enter_loop` with a globally registered parent |
//! | `otp_5854` | `enter_loop` refusing a name held by another process (local, global, via) |
//! | `hibernate` | hibernation (`erlang:hibernate`, `sys:suspend`) |
//! | `auto_hibernate` | `hibernate_after` start option, `sys:get_state` |
//! | `call_format_status` | `sys:get_status` and `format_status/1,2` |
//! | `error_format_status` | `format_status` in the crash log (the crash itself: `crash`) |
//! | `crash_in_format_status` | `format_status` crashing, `sys:get_status` |
//! | `throw_in_format_status` | `format_status` throwing, `sys:get_status` |
//! | `format_all_status` | `format_status/1` rewriting `sys` status and `sys:log` entries |
//! | `get_state` | `sys:get_state`, `sys:suspend` |
//! | `replace_state` | `sys:replace_state`, `sys:suspend` |
//! | `call_with_huge_message_queue` | Erlang selective receive past a huge mailbox; a noex call has its own reply channel |
//! | `undef_handle_call` | `handle_call` is a required method of `GenServer`: leaving it out does not compile |
//! | `undef_code_change` | no `code_change` / hot code upgrade / `sys:change_code` |
//! | `format_log_1` | `gen_server:format_log/1` (logger report formatting) |
//! | `format_log_2` | `gen_server:format_log/2` (logger report formatting) |
//! | `format_log_with_process_label` | logger formatting with `proc_lib` process labels |
//! | `reply_by_alias_with_payload` | process aliases and raw reply tags; `ReplyTo` is an opaque typed handle |
//!
//! `undef_handle_cast`, marked "does not map" by the catalogue (a missing callback
//! does not compile), maps here: `GenServer::handle_cast` has a default, so a
//! server can be written without one, and OTP's answer for that server is a crash.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use noex::events::{self, EventKind};
use noex::gen_server::{
    self, Context, GenServer, Ignore, Info, Reply, ReplyTo, StartOptions, TimerRef,
};
use noex::process::{self, Down, Exit};
use noex::registry::{self, LookupError};
use noex::{
    AlreadyRegisteredError, CallError, CallTimeoutError, ExitReason, NotRegisteredError, Pid,
    ServerNotRunningError, ServerRef, StartError, StopError,
};
use tokio::sync::mpsc;

// ---------------------------------------------------------------------------
// The test process's mailbox
// ---------------------------------------------------------------------------

/// What the OTP test process receives.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Msg {
    /// `{Pid, Tag}`, sent by the server `Pid`.
    Sent(Pid, Tag),
    /// `{'EXIT', Pid, Reason}`, received by a linked test that traps exits.
    Exit(Exit),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tag {
    HandledCast,
    Delayed,
    Stopped,
    HandledInfo,
    DelayedInfo,
    StoppedInfo,
    Continue,
    BeforeContinue,
    AfterContinue,
    Ack,
}

/// OTP's `From` / `Pid` argument: where the server sends `{self(), Tag}`.
type Tester = mpsc::UnboundedSender<Msg>;

fn send(to: &Tester, from: Pid, tag: Tag) {
    let _ = to.send(Msg::Sent(from, tag));
}

struct Mailbox {
    tx: Tester,
    rx: mpsc::UnboundedReceiver<Msg>,
}

impl Mailbox {
    fn new() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Mailbox { tx, rx }
    }

    /// `self()`, to hand to the server.
    fn me(&self) -> Tester {
        self.tx.clone()
    }

    async fn recv(&mut self) -> Msg {
        self.rx.recv().await.expect("the mailbox keeps a sender")
    }

    fn try_recv(&mut self) -> Option<Msg> {
        self.rx.try_recv().ok()
    }

    /// OTP's `read_replies(Pid)`: wait for `{Pid, ack}`, then every other message,
    /// in arrival order (those before the ack and those already queued after it).
    async fn read_replies(&mut self, pid: Pid) -> Vec<Msg> {
        let mut replies = Vec::new();
        loop {
            match self.recv().await {
                Msg::Sent(from, Tag::Ack) if from == pid => break,
                other => replies.push(other),
            }
        }
        while let Some(msg) = self.try_recv() {
            replies.push(msg);
        }
        replies
    }
}

// ---------------------------------------------------------------------------
// The probe: the test process's links and trapped exits
// ---------------------------------------------------------------------------

/// Traps exits and forwards every `Exit` it gets to the test's mailbox.
struct Probe {
    to: Tester,
}

enum ProbeCall {
    Link(Pid),
    /// A round trip: every exit signal already queued has been forwarded after it.
    Sync,
    /// Start an [`UndefInit`] from this (trapping) process.
    StartUndefInit,
}

enum ProbeReply {
    Done,
    Linked(Result<(), ServerNotRunningError>),
    Started(Result<Pid, StartError>),
}

impl GenServer for Probe {
    type Call = ProbeCall;
    type Cast = ();
    type Reply = ProbeReply;

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        ctx.trap_exit(true);
        Ok(())
    }

    async fn handle_call(&mut self, call: ProbeCall, ctx: &mut Context<Self>) -> Reply<ProbeReply> {
        Reply::Now(match call {
            ProbeCall::Link(pid) => ProbeReply::Linked(ctx.link(pid)),
            ProbeCall::Sync => ProbeReply::Done,
            ProbeCall::StartUndefInit => ProbeReply::Started(
                gen_server::start(UndefInit, StartOptions::new())
                    .await
                    .map(|server| server.pid()),
            ),
        })
    }

    async fn handle_info(&mut self, message: Info, _: &mut Context<Self>) {
        if let Ok(exit) = message.downcast::<Exit>() {
            let _ = self.to.send(Msg::Exit(*exit));
        }
    }
}

async fn probe(mailbox: &Mailbox) -> ServerRef<Probe> {
    gen_server::start(Probe { to: mailbox.me() }, StartOptions::new())
        .await
        .unwrap()
}

async fn link(probe: &ServerRef<Probe>, pid: Pid) {
    match probe.call(ProbeCall::Link(pid)).await.unwrap() {
        ProbeReply::Linked(linked) => linked.expect("linked to a live server"),
        _ => unreachable!(),
    }
}

async fn sync(probe: &ServerRef<Probe>) {
    probe.call(ProbeCall::Sync).await.unwrap();
}

// ---------------------------------------------------------------------------
// The tested gen_server: the callbacks of `gen_server_SUITE`
// ---------------------------------------------------------------------------

/// `Arg` of `init/1`.
enum Init {
    /// `[]` → `{ok, []}`
    Empty,
    /// `ignore`
    Ignore,
    /// `{error, Reason}`
    Error(&'static str),
    /// `stop` → `{stop, stopped}`
    Stop,
    /// `{continue, Pid}`: `self() ! {after_continue, Pid}`, `{ok, [], {continue, {message, Pid}}}`
    Continue(Tester),
    /// `{state, S}` → `{ok, S}`
    State(State),
}

/// The server's state.
enum State {
    /// `[]`
    Empty,
    /// `state1`, `state3`, `state4` (any plain term)
    Named(#[allow(dead_code)] &'static str),
    /// `{reply_to, From, State}`
    ReplyTo(ReplyTo<Answer>, Box<State>),
    /// `call_within`
    CallWithin,
    /// `{delayed_cast, From}`
    DelayedCast(Tester),
    /// `{delayed_info, From}`
    DelayedInfo(Tester),
    /// `crash_terminate`
    CrashTerminate,
    /// `{undef_in_terminate, {oc_server, terminate}}`
    UndefInTerminate,
}

enum Request {
    /// `started_p` → `{reply, ok, S}`
    StartedP,
    /// `{delayed_answer, T}` → `{noreply, {reply_to, From, S}, T}`; replies `delayed` on timeout
    DelayedAnswer(Duration),
    /// `{call_within, T}` → `{reply, ok, call_within, T}`
    CallWithin(Duration),
    /// `next_call` → `ok` in state `call_within` (state becomes `[]`), else `false`
    NextCall,
    /// `stop` → `{stop, stopped, ok, S}`
    Stop,
    /// `crash` → `exit(crashed)`
    Crash,
    /// `exit_shutdown` → `exit(shutdown)`
    ExitShutdown,
    /// `stop_shutdown` → `{stop, shutdown, S}`
    StopShutdown,
    /// `shutdown_reason` → `exit({shutdown, reason})`
    ShutdownReason,
    /// `stop_shutdown_reason` → `{stop, {shutdown, stop_reason}, S}`
    StopShutdownReason,
    /// `{continue_reply, Pid}`
    ContinueReply(Tester),
    /// `{continue_noreply, Pid}`: the reply comes from `handle_continue`
    ContinueNoreply(Tester),
}

#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Ok,
    Delayed,
    False,
}

enum CastMsg {
    /// `{From, handle_cast}`
    HandleCast(Tester),
    /// `{From, delayed_cast, T}`
    DelayedCast(Tester, Duration),
    /// `{From, stop}` → `{stop, {From, stopped}, S}`
    Stop(Tester),
    /// `{continue_noreply, Pid}`
    ContinueNoreply(Tester),
}

/// Messages to `handle_info/2`.
enum InfoMsg {
    /// `{From, handle_info}`
    HandleInfo(Tester),
    /// `{From, delayed_info, T}`
    DelayedInfo(Tester, Duration),
    /// `{From, stop}` → `{stop, {From, stopped_info}, S}`
    Stop(Tester),
    /// `{after_continue, Pid}`
    AfterContinue(Tester),
    /// `{continue_noreply, Pid}`
    ContinueNoreply(Tester),
    /// `{continue_continue, Pid}`
    ContinueContinue(Tester),
    /// `continue_stop`
    ContinueStop,
    /// `{call_undef_fun, gen_server_SUITE, handle_info}`
    CallUndefFun,
}

/// `handle_continue/2` arguments.
enum Cont {
    /// `{message, Pid}`
    Message(Tester),
    /// `{message, Pid, From}`
    MessageReply(Tester, ReplyTo<Answer>),
    /// `{continue, Pid}`
    Continue(Tester),
    /// `stop` → `{stop, normal, S}`
    Stop,
}

/// The `timeout` message of an idle timeout (see [`Suite::idle_timeout`]).
struct IdleTimeout(u64);

/// `stopped`
fn stopped() -> ExitReason {
    ExitReason::error("stopped")
}

/// `{From, stopped}` (the cast's stop reason)
fn from_stopped() -> ExitReason {
    ExitReason::error("{From,stopped}")
}

/// `{From, stopped_info}` (the info's stop reason)
fn from_stopped_info() -> ExitReason {
    ExitReason::error("{From,stopped_info}")
}

struct Suite {
    init: Option<Init>,
    state: State,
    /// Bumped by every message: an idle timeout armed before it is void.
    generation: u64,
    idle: Option<TimerRef>,
    /// The `From` of `{From, stopped}` / `{From, stopped_info}`, which an Erlang
    /// exit reason can carry and an `ExitReason` cannot.
    stop_from: Option<Tester>,
}

impl Suite {
    fn new(init: Init) -> Self {
        Suite {
            init: Some(init),
            state: State::Empty,
            generation: 0,
            idle: None,
            stop_from: None,
        }
    }

    /// A message came in: it cancels a pending idle timeout, as in OTP.
    fn message_arrived(&mut self) {
        self.generation += 1;
        if let Some(timer) = self.idle.take() {
            timer.cancel();
        }
    }

    /// OTP's `{noreply, S, T}` / `{reply, R, S, T}`: `handle_info(timeout, S)` after
    /// `T` unless another message comes first.
    fn idle_timeout(&mut self, ctx: &Context<Self>, after: Duration) {
        self.idle = Some(ctx.send_after(after, IdleTimeout(self.generation)));
    }

    /// `handle_info(timeout, State)`.
    fn timeout(&mut self, ctx: &Context<Self>) {
        self.state = match std::mem::replace(&mut self.state, State::Empty) {
            State::ReplyTo(from, state) => {
                from.reply(Answer::Delayed);
                *state
            }
            State::CallWithin => State::Empty,
            State::DelayedCast(from) => {
                send(&from, ctx.pid(), Tag::Delayed);
                State::Empty
            }
            State::DelayedInfo(from) => {
                send(&from, ctx.pid(), Tag::DelayedInfo);
                State::Empty
            }
            other => other,
        };
    }
}

impl GenServer for Suite {
    type Call = Request;
    type Cast = CastMsg;
    type Reply = Answer;

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        match self.init.take().expect("init runs once") {
            Init::Empty => Ok(()),
            Init::Ignore => Err(Ignore.into()),
            Init::Error(reason) => Err(reason.into()),
            Init::Stop => Err("stopped".into()),
            Init::Continue(pid) => {
                ctx.myself()
                    .send_info(InfoMsg::AfterContinue(pid.clone()))
                    .unwrap();
                ctx.continue_with(Cont::Message(pid));
                Ok(())
            }
            Init::State(state) => {
                self.state = state;
                Ok(())
            }
        }
    }

    async fn handle_call(&mut self, call: Request, ctx: &mut Context<Self>) -> Reply<Answer> {
        self.message_arrived();
        match call {
            Request::StartedP => Reply::Now(Answer::Ok),
            Request::DelayedAnswer(after) => {
                let from = ctx.defer_reply().expect("a call");
                let state = std::mem::replace(&mut self.state, State::Empty);
                self.state = State::ReplyTo(from, Box::new(state));
                self.idle_timeout(ctx, after);
                Reply::Deferred
            }
            Request::CallWithin(after) => {
                self.state = State::CallWithin;
                self.idle_timeout(ctx, after);
                Reply::Now(Answer::Ok)
            }
            Request::NextCall => match self.state {
                State::CallWithin => {
                    self.state = State::Empty;
                    Reply::Now(Answer::Ok)
                }
                _ => Reply::Now(Answer::False),
            },
            Request::Stop => {
                ctx.stop(stopped());
                Reply::Now(Answer::Ok)
            }
            Request::Crash => panic!("crashed"),
            Request::ExitShutdown | Request::StopShutdown => {
                ctx.stop(ExitReason::Shutdown);
                Reply::Deferred
            }
            Request::ShutdownReason => {
                ctx.stop(ExitReason::shutdown_with("reason"));
                Reply::Deferred
            }
            Request::StopShutdownReason => {
                ctx.stop(ExitReason::shutdown_with("stop_reason"));
                Reply::Deferred
            }
            Request::ContinueReply(pid) => {
                ctx.myself()
                    .send_info(InfoMsg::AfterContinue(pid.clone()))
                    .unwrap();
                ctx.continue_with(Cont::Message(pid));
                Reply::Now(Answer::Ok)
            }
            Request::ContinueNoreply(pid) => {
                ctx.myself()
                    .send_info(InfoMsg::AfterContinue(pid.clone()))
                    .unwrap();
                let from = ctx.defer_reply().expect("a call");
                ctx.continue_with(Cont::MessageReply(pid, from));
                Reply::Deferred
            }
        }
    }

    async fn handle_cast(&mut self, cast: CastMsg, ctx: &mut Context<Self>) {
        self.message_arrived();
        match cast {
            CastMsg::HandleCast(from) => send(&from, ctx.pid(), Tag::HandledCast),
            CastMsg::DelayedCast(from, after) => {
                self.state = State::DelayedCast(from);
                self.idle_timeout(ctx, after);
            }
            CastMsg::Stop(from) => {
                self.stop_from = Some(from);
                ctx.stop(from_stopped());
            }
            CastMsg::ContinueNoreply(pid) => {
                ctx.myself()
                    .send_info(InfoMsg::AfterContinue(pid.clone()))
                    .unwrap();
                ctx.continue_with(Cont::Message(pid));
            }
        }
    }

    async fn handle_info(&mut self, message: Info, ctx: &mut Context<Self>) {
        let message = match message.downcast::<IdleTimeout>() {
            Ok(timeout) => {
                // Void if any message came after it was armed (OTP never sends it then).
                if timeout.0 == self.generation {
                    self.message_arrived();
                    self.timeout(ctx);
                }
                return;
            }
            Err(message) => message,
        };
        self.message_arrived();
        let Ok(message) = message.downcast::<InfoMsg>() else {
            return; // handle_info(_Info, State) -> {noreply, State}
        };
        match *message {
            InfoMsg::HandleInfo(from) => {
                send(&from, ctx.pid(), Tag::HandledInfo);
                self.state = State::Empty;
            }
            InfoMsg::DelayedInfo(from, after) => {
                self.state = State::DelayedInfo(from);
                self.idle_timeout(ctx, after);
            }
            InfoMsg::Stop(from) => {
                self.stop_from = Some(from);
                ctx.stop(from_stopped_info());
            }
            InfoMsg::AfterContinue(pid) => {
                send(&pid, ctx.pid(), Tag::AfterContinue);
                send(&pid, ctx.pid(), Tag::Ack);
            }
            InfoMsg::ContinueNoreply(pid) => {
                ctx.myself()
                    .send_info(InfoMsg::AfterContinue(pid.clone()))
                    .unwrap();
                ctx.continue_with(Cont::Message(pid));
            }
            InfoMsg::ContinueContinue(pid) => ctx.continue_with(Cont::Continue(pid)),
            InfoMsg::ContinueStop => ctx.continue_with(Cont::Stop),
            InfoMsg::CallUndefFun => panic!("undef: gen_server_SUITE:handle_info/0"),
        }
    }

    async fn handle_continue(&mut self, message: Info, ctx: &mut Context<Self>) {
        let cont = *message.downcast::<Cont>().expect("a Cont");
        match cont {
            Cont::Message(pid) => send(&pid, ctx.pid(), Tag::Continue),
            Cont::MessageReply(pid, from) => {
                send(&pid, ctx.pid(), Tag::Continue);
                from.reply(Answer::Ok);
            }
            Cont::Continue(pid) => {
                send(&pid, ctx.pid(), Tag::BeforeContinue);
                ctx.myself()
                    .send_info(InfoMsg::AfterContinue(pid.clone()))
                    .unwrap();
                ctx.continue_with(Cont::Message(pid));
            }
            Cont::Stop => ctx.stop(ExitReason::Normal),
        }
    }

    async fn terminate(&mut self, reason: &ExitReason, ctx: &mut Context<Self>) {
        if *reason == from_stopped() {
            send(self.stop_from.as_ref().unwrap(), ctx.pid(), Tag::Stopped);
        } else if *reason == from_stopped_info() {
            send(
                self.stop_from.as_ref().unwrap(),
                ctx.pid(),
                Tag::StoppedInfo,
            );
        } else if let State::CrashTerminate = self.state {
            panic!("crash terminate"); // exit({crash, terminate})
        } else if let State::UndefInTerminate = self.state {
            panic!("undef: oc_server:terminate/0");
        }
    }
}

async fn start(init: Init) -> ServerRef<Suite> {
    gen_server::start(Suite::new(init), StartOptions::new())
        .await
        .unwrap()
}

async fn start_named(name: &str, init: Init) -> Result<ServerRef<Suite>, StartError> {
    gen_server::start(Suite::new(init), StartOptions::new().name(name)).await
}

/// `gen_server:call(Name, Request)`: the name is looked up at call time.
async fn call_name(name: &str, call: Request) -> Result<Answer, CallError> {
    registry::lookup::<Suite>(name)
        .expect("registered")
        .call(call)
        .await
}

fn initialization_reason(result: Result<ServerRef<Suite>, StartError>) -> String {
    match result {
        Err(StartError::Initialization(error)) => error.reason,
        Err(other) => panic!("expected an initialization error, got {other:?}"),
        Ok(server) => panic!("expected an initialization error, got {server:?}"),
    }
}

fn already_registered(name: &str, pid: Pid) -> impl Fn(&StartError) -> bool {
    let expected = AlreadyRegisteredError {
        name: name.to_string(),
        pid,
    };
    move |error| matches!(error, StartError::AlreadyRegistered(e) if *e == expected)
}

// ---------------------------------------------------------------------------
// oc_server: a callback module with init/1 only
// ---------------------------------------------------------------------------

/// `oc_server`: only what noex requires (`handle_call`, a required method; OTP's
/// `oc_server` has no `handle_call` either, see `undef_handle_call` above). Every
/// other callback is the trait's default.
struct OcServer;

impl GenServer for OcServer {
    type Call = ();
    type Cast = &'static str;
    type Reply = ();

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }
}

/// `oc_server:start(continue)`: init asks for a continue, and there is no
/// `handle_continue`.
struct OcContinueServer;

impl GenServer for OcContinueServer {
    type Call = ();
    type Cast = ();
    type Reply = ();

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        ctx.continue_with("continue");
        Ok(())
    }

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }
}

/// `oc_init_server`, a module that does not exist: calling its `init/1` is an
/// `undef` crash.
struct UndefInit;

const UNDEF_INIT: &str = "undef: oc_init_server:init/1";

impl GenServer for UndefInit {
    type Call = ();
    type Cast = ();
    type Reply = ();

    async fn init(&mut self, _: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        panic!("{UNDEF_INIT}")
    }

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }
}

// ---------------------------------------------------------------------------
// start
// ---------------------------------------------------------------------------

/// OTP `gen_server_SUITE:start/1`.
///
/// Ported: anonymous start, call, `{stop, stopped, ok, S}` then `noproc` for a call
/// to the dead pid even with a 1 ms timeout; init returning `ignore`,
/// `{error, foobar}` and `{stop, stopped}`; the linked variant (`{'EXIT', Pid,
/// stopped}`), the monitored one (`DOWN` with `stopped`); a local name, a second
/// start with it (`{already_started, Pid}`), calls by name, `noproc` after the
/// end; the same with link and with monitor; and no stray message at the end.
///
/// Not ported: the start-timeout option (`{timeout, 1000}` / `{error, timeout}`),
/// because `StartOptions` has no start timeout; global and via names.
#[tokio::test(start_paused = true)]
async fn start_returns_ok_ignore_error_and_already_started() {
    let mut mailbox = Mailbox::new();
    let probe = probe(&mailbox).await;

    // Anonymous.
    let pid0 = start(Init::Empty).await;
    assert_eq!(pid0.call(Request::StartedP).await, Ok(Answer::Ok));
    assert_eq!(pid0.call(Request::Stop).await, Ok(Answer::Ok));
    assert_eq!(pid0.wait().await, stopped());
    assert_eq!(
        pid0.call_timeout(Request::StartedP, Duration::from_millis(1))
            .await,
        Err(CallError::NotRunning(ServerNotRunningError {
            pid: pid0.pid()
        }))
    );

    // init returns ignore, {error, foobar}, {stop, stopped}.
    let ignored = gen_server::start(Suite::new(Init::Ignore), StartOptions::new()).await;
    assert!(
        matches!(ignored, Err(StartError::Ignored { .. })),
        "{ignored:?}"
    );
    let error = gen_server::start(Suite::new(Init::Error("foobar")), StartOptions::new()).await;
    assert_eq!(initialization_reason(error), "foobar");
    let stop = gen_server::start(Suite::new(Init::Stop), StartOptions::new()).await;
    assert_eq!(initialization_reason(stop), "stopped");

    // Anonymous, linked.
    let pid1 = start(Init::Empty).await;
    link(&probe, pid1.pid()).await;
    assert_eq!(pid1.call(Request::StartedP).await, Ok(Answer::Ok));
    assert_eq!(pid1.call(Request::Stop).await, Ok(Answer::Ok));
    assert_eq!(
        mailbox.recv().await,
        Msg::Exit(Exit {
            pid: pid1.pid(),
            reason: stopped()
        })
    );

    // Anonymous, monitored.
    let pid1b = start(Init::Empty).await;
    let mon1b = process::monitor(pid1b.pid());
    let mon1b_ref = mon1b.monitor_ref();
    assert_eq!(pid1b.call(Request::StartedP).await, Ok(Answer::Ok));
    assert_eq!(pid1b.call(Request::Stop).await, Ok(Answer::Ok));
    assert_eq!(
        mon1b.await,
        Down {
            monitor: mon1b_ref,
            pid: pid1b.pid(),
            reason: stopped()
        }
    );

    // Local name.
    let name = "otp.gs.start.my_test_name";
    let pid2 = start_named(name, Init::Empty).await.unwrap();
    assert_eq!(call_name(name, Request::StartedP).await, Ok(Answer::Ok));
    let again = start_named(name, Init::Empty).await.unwrap_err();
    assert!(already_registered(name, pid2.pid())(&again), "{again:?}");
    assert_eq!(call_name(name, Request::Stop).await, Ok(Answer::Ok));
    pid2.wait().await;
    assert_eq!(
        pid2.call_timeout(Request::StartedP, Duration::from_millis(10))
            .await,
        Err(CallError::NotRunning(ServerNotRunningError {
            pid: pid2.pid()
        }))
    );

    // Local name, linked.
    let pid3 = start_named(name, Init::Empty).await.unwrap();
    link(&probe, pid3.pid()).await;
    assert_eq!(call_name(name, Request::StartedP).await, Ok(Answer::Ok));
    let again = start_named(name, Init::Empty).await.unwrap_err();
    assert!(already_registered(name, pid3.pid())(&again), "{again:?}");
    assert_eq!(call_name(name, Request::Stop).await, Ok(Answer::Ok));
    assert_eq!(
        mailbox.recv().await,
        Msg::Exit(Exit {
            pid: pid3.pid(),
            reason: stopped()
        })
    );

    // Local name, monitored.
    let pid3b = start_named(name, Init::Empty).await.unwrap();
    let mon3b = process::monitor(pid3b.pid());
    let mon3b_ref = mon3b.monitor_ref();
    assert_eq!(call_name(name, Request::StartedP).await, Ok(Answer::Ok));
    let again = start_named(name, Init::Empty).await.unwrap_err();
    assert!(already_registered(name, pid3b.pid())(&again), "{again:?}");
    assert_eq!(call_name(name, Request::Stop).await, Ok(Answer::Ok));
    assert_eq!(
        mon3b.await,
        Down {
            monitor: mon3b_ref,
            pid: pid3b.pid(),
            reason: stopped()
        }
    );

    // No unexpected message.
    sync(&probe).await;
    assert_eq!(mailbox.try_recv(), None);
}

// ---------------------------------------------------------------------------
// Group stop
// ---------------------------------------------------------------------------

/// OTP `gen_server_SUITE:stop1/1`: `stop(Pid)` returns `ok` once the server is
/// gone (not alive right after), and a second `stop` fails with `noproc`. Ported
/// whole.
#[tokio::test(start_paused = true)]
async fn stop1_stop_normal_returns_once_dead_then_noproc() {
    let server = start(Init::Empty).await;
    assert_eq!(server.stop(ExitReason::Normal).await, Ok(()));
    assert!(!process::is_alive(server.pid()));
    assert!(!server.is_running());
    assert_eq!(
        server.stop(ExitReason::Normal).await,
        Err(StopError::NotRunning(ServerNotRunningError {
            pid: server.pid()
        }))
    );
}

/// OTP `gen_server_SUITE:stop2/1`: `stop(Pid, other_reason, infinity)` returns
/// `ok` (the server ended with the reason asked for, abnormal as it is), and the
/// server is dead. Ported whole (noex's stop has no timeout: it waits as
/// `infinity` does).
#[tokio::test(start_paused = true)]
async fn stop2_stop_with_another_reason_is_ok() {
    let server = start(Init::Empty).await;
    assert_eq!(server.stop(ExitReason::error("other_reason")).await, Ok(()));
    assert!(!process::is_alive(server.pid()));
    assert_eq!(server.wait().await, ExitReason::error("other_reason"));
}

/// OTP `gen_server_SUITE:stop4/1`: `stop(to_stop)` by registered name returns
/// `ok`, the server is dead, and a second `stop(to_stop)` is `noproc` because the
/// name is no longer registered. Ported whole: noex stops by name through a
/// lookup, whose failure is the `noproc`.
#[tokio::test(start_paused = true)]
async fn stop4_stop_by_registered_name_then_noproc() {
    let name = "otp.gs.stop4.to_stop";
    let server = start_named(name, Init::Empty).await.unwrap();
    let by_name = registry::lookup::<Suite>(name).unwrap();
    assert_eq!(by_name.stop(ExitReason::Normal).await, Ok(()));
    assert!(!process::is_alive(server.pid()));
    assert_eq!(
        registry::lookup::<Suite>(name).map(|s| s.pid()),
        Err(LookupError::NotRegistered(NotRegisteredError {
            name: name.to_string()
        }))
    );
    assert_eq!(
        by_name.stop(ExitReason::Normal).await,
        Err(StopError::NotRunning(ServerNotRunningError {
            pid: server.pid()
        }))
    );
}

// ---------------------------------------------------------------------------
// crash
// ---------------------------------------------------------------------------

/// OTP `gen_server_SUITE:crash/1`.
///
/// Ported: a handler exiting `{shutdown, reason}`, returning `{stop, {shutdown,
/// stop_reason}, S}`, exiting `shutdown`, returning `{stop, shutdown, S}`: the
/// caller gets that reason and the linked, trapping test gets `{'EXIT', Pid,
/// Reason}` with it; none of these is reported as a crash (noex's report is the
/// lifecycle event: `Terminated`, not `Crashed`). Then a handler exiting
/// `crashed` in an unlinked server: the caller gets `crashed`, and it is reported
/// as a crash (`Crashed { error: "crashed" }`), once. Nothing else arrives.
///
/// Not ported: the content of gen_server's error report (last message, state as
/// formatted by `format_status`, server and client stacktraces, client pid) and
/// proc_lib's crash report; noex's event carries the reason only. The two
/// shutdown exits that OTP raises with `exit/1` are `ctx.stop` without a reply,
/// since a noex handler cannot crash with a shutdown reason.
#[tokio::test(start_paused = true)]
async fn crash_caller_and_linked_process_get_the_exit_reason() {
    let mut events = events::subscribe();
    let mut mailbox = Mailbox::new();
    let probe = probe(&mailbox).await;

    let cases = [
        (
            Init::Empty,
            Request::ShutdownReason,
            ExitReason::shutdown_with("reason"),
        ),
        (
            Init::State(State::Named("state1")),
            Request::StopShutdownReason,
            ExitReason::shutdown_with("stop_reason"),
        ),
        (Init::Empty, Request::ExitShutdown, ExitReason::Shutdown),
        (
            Init::State(State::Named("state3")),
            Request::StopShutdown,
            ExitReason::Shutdown,
        ),
    ];
    let mut pids = Vec::new();
    for (init, call, reason) in cases {
        let server = start(init).await;
        link(&probe, server.pid()).await;
        assert_eq!(
            server.call(call).await,
            Err(CallError::Exited {
                pid: server.pid(),
                reason: reason.clone()
            })
        );
        assert_eq!(
            mailbox.recv().await,
            Msg::Exit(Exit {
                pid: server.pid(),
                reason
            })
        );
        pids.push(server.pid());
    }

    // Not linked: a crash.
    let pid4 = start(Init::State(State::Named("state4"))).await;
    assert_eq!(
        pid4.call(Request::Crash).await,
        Err(CallError::Exited {
            pid: pid4.pid(),
            reason: ExitReason::error("crashed")
        })
    );
    assert_eq!(pid4.wait().await, ExitReason::error("crashed"));
    pids.push(pid4.pid());

    let mut reports = Vec::new();
    while let Some(event) = events.try_recv() {
        let event = event.expect("no event lost");
        if pids.contains(&event.pid)
            && matches!(
                event.kind,
                EventKind::Terminated { .. } | EventKind::Crashed { .. }
            )
        {
            reports.push((event.pid, event.kind));
        }
    }
    let terminated = |reason: &str| EventKind::Terminated {
        reason: reason.to_string(),
    };
    assert_eq!(
        reports,
        [
            (pids[0], terminated("shutdown: reason")),
            (pids[1], terminated("shutdown: stop_reason")),
            (pids[2], terminated("shutdown")),
            (pids[3], terminated("shutdown")),
            (
                pids[4],
                EventKind::Crashed {
                    error: "crashed".to_string()
                }
            ),
        ]
    );

    sync(&probe).await;
    assert_eq!(mailbox.try_recv(), None);
}

// ---------------------------------------------------------------------------
// loop_start_fail
// ---------------------------------------------------------------------------

/// What `init({ets, X})` does after taking its per-process resource.
#[derive(Clone, Copy)]
enum LoopInit {
    /// `{return, {stop, failed_to_start}}`
    Stop,
    /// `{return, ignore}`
    Ignore,
    /// `{crash, error, bailout}`
    PanicBailout,
    /// `{crash, exit, bailout}`
    ExitBailout,
}

/// `init({ets, X})`: takes a resource only one live process can hold (OTP: the
/// named ETS table `gen_server_SUITE`; here: a registered name, released when the
/// process ends), then fails as `X` says.
struct LoopStartFail(LoopInit);

const LOOP_START_FAIL_TABLE: &str = "otp.gs.loop_start_fail.ets";

impl GenServer for LoopStartFail {
    type Call = ();
    type Cast = ();
    type Reply = ();

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        // `gen_server_SUITE = ets:new(gen_server_SUITE, [named_table])`: a badmatch
        // crash if the previous server still holds it.
        if let Err(error) = registry::register(LOOP_START_FAIL_TABLE, &ctx.myself()) {
            panic!("badarg: the table is still owned: {error}");
        }
        match self.0 {
            LoopInit::Stop => Err("failed_to_start".into()),
            LoopInit::Ignore => Err(Ignore.into()),
            LoopInit::PanicBailout => panic!("bailout"),
            LoopInit::ExitBailout => Err("bailout".into()),
        }
    }

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }
}

/// OTP `gen_server_SUITE:loop_start_fail/1`: a start that fails has, when it
/// returns, a server that is gone with its resources, so the next start can take
/// them again; five times in a row for each way init fails.
///
/// Ported: `{stop, failed_to_start}` → `{error, failed_to_start}`; `ignore` →
/// `ignore`; an error-class crash → `{error, {bailout, Stack}}` (a panic,
/// `Initialization` with the panic message); an exit-class crash → `{error,
/// bailout}` (init returning the error `bailout`, as noex has no exit-class
/// crash). Not ported: `{bad_return_value, 4711}` (an invalid return value is a
/// type error), the start-timeout row (`StartOptions` has no start timeout), and
/// the start variants `start_link`, `start_monitor` and the ignored `link` option:
/// noex has one `start`; links and monitors are set after it returns.
#[tokio::test(start_paused = true)]
async fn loop_start_fail_a_failed_start_has_released_the_process_resources() {
    for init in [
        LoopInit::Stop,
        LoopInit::Ignore,
        LoopInit::PanicBailout,
        LoopInit::ExitBailout,
    ] {
        for _ in 0..5 {
            let started = gen_server::start(LoopStartFail(init), StartOptions::new()).await;
            match (init, started) {
                (LoopInit::Stop, Err(StartError::Initialization(e))) => {
                    assert_eq!(e.reason, "failed_to_start")
                }
                (LoopInit::Ignore, Err(StartError::Ignored { .. })) => {}
                (
                    LoopInit::PanicBailout | LoopInit::ExitBailout,
                    Err(StartError::Initialization(e)),
                ) => assert_eq!(e.reason, "bailout"),
                (_, other) => panic!("unexpected start result {other:?}"),
            }
        }
    }
    assert_eq!(registry::whereis(LOOP_START_FAIL_TABLE), None);
}

// ---------------------------------------------------------------------------
// call
// ---------------------------------------------------------------------------

/// OTP `gen_server_SUITE:call/1`.
///
/// Ported: `started_p` → `ok`; a reply deferred to an idle timeout of 1 ms →
/// `delayed`; `{call_within, 1000}` then `next_call` 500 ms later → `ok`, and again
/// 1500 ms later → `false` (the idle timeout moved the state on); a per-call
/// timeout of 30 ms long enough for the deferred reply → `delayed`; one of 1 ms too
/// short → `timeout`, and the server goes on (its late reply is dropped, not given
/// to the next call). OTP's `{noreply, S, T}` idle timeout is a self-timer that
/// every message voids (noex has no such return value).
///
/// Not ported: `badreturn` (an invalid return value is a type error).
#[tokio::test(start_paused = true)]
async fn call_replies_deferred_replies_and_per_call_timeouts() {
    let name = "otp.gs.call.my_test_name";
    let server = start_named(name, Init::Empty).await.unwrap();
    let ms = Duration::from_millis;

    assert_eq!(call_name(name, Request::StartedP).await, Ok(Answer::Ok));
    assert_eq!(
        call_name(name, Request::DelayedAnswer(ms(1))).await,
        Ok(Answer::Delayed)
    );

    // Two requests within a specified time.
    assert_eq!(
        call_name(name, Request::CallWithin(ms(1000))).await,
        Ok(Answer::Ok)
    );
    tokio::time::sleep(ms(500)).await;
    assert_eq!(call_name(name, Request::NextCall).await, Ok(Answer::Ok));
    assert_eq!(
        call_name(name, Request::CallWithin(ms(1000))).await,
        Ok(Answer::Ok)
    );
    tokio::time::sleep(ms(1500)).await;
    assert_eq!(call_name(name, Request::NextCall).await, Ok(Answer::False));

    // Timeout call.
    let by_name = registry::lookup::<Suite>(name).unwrap();
    assert_eq!(
        by_name
            .call_timeout(Request::DelayedAnswer(ms(1)), ms(30))
            .await,
        Ok(Answer::Delayed)
    );
    assert_eq!(
        by_name
            .call_timeout(Request::DelayedAnswer(ms(30)), ms(1))
            .await,
        Err(CallError::Timeout(CallTimeoutError {
            pid: server.pid(),
            timeout: ms(1)
        }))
    );
    // The server replies `delayed` to the caller that gave up; the next call gets
    // its own answer.
    tokio::time::sleep(ms(30)).await;
    assert_eq!(call_name(name, Request::StartedP).await, Ok(Answer::Ok));
    assert!(server.is_running());
}

// ---------------------------------------------------------------------------
// cast, info
// ---------------------------------------------------------------------------

/// OTP `gen_server_SUITE:cast/1`: a cast by name is handled (`{Pid,
/// handled_cast}`); a cast whose handler returns an idle timeout of 1 ms leads to
/// `{Pid, delayed}`; a cast returning `{stop, {From, stopped}, S}` runs
/// `terminate/2` with that reason (`{Pid, stopped}`). Ported whole; the idle
/// timeout as in `call`.
#[tokio::test(start_paused = true)]
async fn cast_is_handled_and_a_cast_stop_runs_terminate_with_its_reason() {
    let name = "otp.gs.cast.my_test_name";
    let mut mailbox = Mailbox::new();
    let server = start_named(name, Init::Empty).await.unwrap();
    let pid = server.pid();
    assert_eq!(call_name(name, Request::StartedP).await, Ok(Answer::Ok));
    let cast = |cast: CastMsg| registry::lookup::<Suite>(name).unwrap().cast(cast);

    assert_eq!(cast(CastMsg::HandleCast(mailbox.me())), Ok(()));
    assert_eq!(mailbox.recv().await, Msg::Sent(pid, Tag::HandledCast));

    assert_eq!(
        cast(CastMsg::DelayedCast(mailbox.me(), Duration::from_millis(1))),
        Ok(())
    );
    assert_eq!(mailbox.recv().await, Msg::Sent(pid, Tag::Delayed));

    assert_eq!(cast(CastMsg::Stop(mailbox.me())), Ok(()));
    assert_eq!(mailbox.recv().await, Msg::Sent(pid, Tag::Stopped));
    assert_eq!(server.wait().await, from_stopped());
}

/// OTP `gen_server_SUITE:info/1`: the same as `cast` with plain messages to
/// `handle_info/2`: `{Pid, handled_info}`, `{Pid, delayed_info}` after an idle
/// timeout of 1 ms, and `terminate/2` run with `{From, stopped_info}`. Ported
/// whole.
#[tokio::test(start_paused = true)]
async fn info_is_handled_and_an_info_stop_runs_terminate_with_its_reason() {
    let name = "otp.gs.info.my_test_name";
    let mut mailbox = Mailbox::new();
    let server = start_named(name, Init::Empty).await.unwrap();
    let pid = server.pid();
    assert_eq!(call_name(name, Request::StartedP).await, Ok(Answer::Ok));

    server.send_info(InfoMsg::HandleInfo(mailbox.me())).unwrap();
    assert_eq!(mailbox.recv().await, Msg::Sent(pid, Tag::HandledInfo));

    server
        .send_info(InfoMsg::DelayedInfo(mailbox.me(), Duration::from_millis(1)))
        .unwrap();
    assert_eq!(mailbox.recv().await, Msg::Sent(pid, Tag::DelayedInfo));

    server.send_info(InfoMsg::Stop(mailbox.me())).unwrap();
    assert_eq!(mailbox.recv().await, Msg::Sent(pid, Tag::StoppedInfo));
    assert_eq!(server.wait().await, from_stopped_info());
}

// ---------------------------------------------------------------------------
// continue
// ---------------------------------------------------------------------------

/// OTP `gen_server_SUITE:continue/1`: a continue asked for by init, by a call that
/// replies, by a call that does not (handle_continue replies), by a cast and by
/// an info runs before the message the server had already sent itself
/// (`[continue, after_continue]`); a continue may ask for another, and both run
/// first (`[before_continue, continue, after_continue]`); a continue returning
/// `{stop, normal, S}` ends the server with `normal`. Ported whole.
#[tokio::test(start_paused = true)]
async fn continue_runs_before_queued_messages_and_may_chain_or_stop() {
    let mut mailbox = Mailbox::new();
    let server = start(Init::Continue(mailbox.me())).await;
    let pid = server.pid();
    let continue_then_after = vec![
        Msg::Sent(pid, Tag::Continue),
        Msg::Sent(pid, Tag::AfterContinue),
    ];
    assert_eq!(mailbox.read_replies(pid).await, continue_then_after);

    assert_eq!(
        server.call(Request::ContinueReply(mailbox.me())).await,
        Ok(Answer::Ok)
    );
    assert_eq!(mailbox.read_replies(pid).await, continue_then_after);

    assert_eq!(
        server.call(Request::ContinueNoreply(mailbox.me())).await,
        Ok(Answer::Ok)
    );
    assert_eq!(mailbox.read_replies(pid).await, continue_then_after);

    server.cast(CastMsg::ContinueNoreply(mailbox.me())).unwrap();
    assert_eq!(mailbox.read_replies(pid).await, continue_then_after);

    server
        .send_info(InfoMsg::ContinueNoreply(mailbox.me()))
        .unwrap();
    assert_eq!(mailbox.read_replies(pid).await, continue_then_after);

    server
        .send_info(InfoMsg::ContinueContinue(mailbox.me()))
        .unwrap();
    assert_eq!(
        mailbox.read_replies(pid).await,
        vec![
            Msg::Sent(pid, Tag::BeforeContinue),
            Msg::Sent(pid, Tag::Continue),
            Msg::Sent(pid, Tag::AfterContinue),
        ]
    );

    let down = process::monitor(pid);
    server.send_info(InfoMsg::ContinueStop).unwrap();
    assert_eq!(down.await.reason, ExitReason::Normal);
}

// ---------------------------------------------------------------------------
// calling_self
// ---------------------------------------------------------------------------

/// Calls itself from a handler, with the default timeout and with an
/// "infinite" one, and tells the test what each call returned and how long it took.
struct SelfCaller;

type SelfCalls = Vec<(Result<(), CallError>, Duration)>;

impl GenServer for SelfCaller {
    type Call = ();
    type Cast = mpsc::UnboundedSender<SelfCalls>;
    type Reply = ();

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }

    async fn handle_cast(&mut self, to: Self::Cast, ctx: &mut Context<Self>) {
        let myself = ctx.myself();
        let began = tokio::time::Instant::now();
        let default = myself.call(()).await;
        let default = (default, began.elapsed());
        let began = tokio::time::Instant::now();
        let infinity = myself.call_timeout((), Duration::MAX).await;
        let infinity = (infinity, began.elapsed());
        let _ = to.send(vec![default, infinity]);
    }
}

/// OTP `gen_server_SUITE:calling_self/1`: `gen_server:call(self(), oops)` and
/// `gen_server:call(self(), oops, infinity)` fail at once with `calling_self`
/// instead of waiting for a reply that can never come. Ported as a server calling
/// itself from a handler: each call must fail without any time passing (paused
/// clock) with `CallError::CallingSelf`.
#[tokio::test(start_paused = true)]
async fn calling_self_fails_at_once_instead_of_deadlocking() {
    let server = gen_server::start(SelfCaller, StartOptions::new())
        .await
        .unwrap();
    let (to, mut results) = mpsc::unbounded_channel();
    server.cast(to).unwrap();
    let results = results.recv().await.unwrap();
    let calling_self = (
        Err(CallError::CallingSelf { pid: server.pid() }),
        Duration::ZERO,
    );
    assert_eq!(results, vec![calling_self.clone(), calling_self]);
}

// ---------------------------------------------------------------------------
// otp_7669
// ---------------------------------------------------------------------------

/// OTP `gen_server_SUITE:otp_7669/1`: when a start with a local name returns
/// `ignore` or `{error, stopped}`, the name is already unregistered (100 times
/// `ignore` with `start`, `start` and `start_link`; 10 times `{stop, stopped}`),
/// so a new start under that name succeeds at once.
///
/// Not ported: the global-name halves. `start_link` is `start` here (noex has no
/// linked start; the link would come after `start` returns).
#[tokio::test(start_paused = true)]
async fn otp_7669_a_failed_init_has_released_the_name_when_start_returns() {
    let name = "otp.gs.otp_7669.gen_server_SUITE";
    for _ in 0..100 {
        for _ in 0..3 {
            let ignored = start_named(name, Init::Ignore).await;
            assert!(
                matches!(ignored, Err(StartError::Ignored { .. })),
                "{ignored:?}"
            );
            assert_eq!(registry::whereis(name), None);
        }
    }
    for _ in 0..10 {
        assert_eq!(
            initialization_reason(start_named(name, Init::Stop).await),
            "stopped"
        );
        assert_eq!(registry::whereis(name), None);
    }
    let server = start_named(name, Init::Empty).await.unwrap();
    assert_eq!(registry::whereis(name), Some(server.pid()));
    server.stop(ExitReason::Normal).await.unwrap();
}

// ---------------------------------------------------------------------------
// Group format_status: terminate_crash_format
// ---------------------------------------------------------------------------

/// OTP `gen_server_SUITE:terminate_crash_format/1`: `call(Pid, stop)` returns `ok`
/// although `terminate/2` then crashes (`{stop, stopped, ok, S}` replies after
/// terminate, whatever it does); the crash replaces `stopped` as the exit reason,
/// which the linked, trapping test receives. Ported: the reply and the exit
/// reason (in noex, `"terminate panicked: "` and the panic message), also as seen
/// by a monitor. Not ported: the error log and the state formatted by
/// `format_status` (no logger report, no format_status); the run with
/// `format_status_server` differs only in those.
#[tokio::test(start_paused = true)]
async fn terminate_crash_format_a_crash_in_terminate_replaces_the_stop_reason() {
    let mut mailbox = Mailbox::new();
    let probe = probe(&mailbox).await;
    let server = start(Init::State(State::CrashTerminate)).await;
    link(&probe, server.pid()).await;
    let down = process::monitor(server.pid());
    assert_eq!(server.call(Request::Stop).await, Ok(Answer::Ok));
    let crash = ExitReason::error("terminate panicked: crash terminate");
    assert_eq!(
        mailbox.recv().await,
        Msg::Exit(Exit {
            pid: server.pid(),
            reason: crash.clone()
        })
    );
    assert_eq!(down.await.reason, crash);
}

// ---------------------------------------------------------------------------
// Group undef_callbacks
// ---------------------------------------------------------------------------

/// OTP `gen_server_SUITE:undef_handle_cast/1`: a cast to a server whose module has
/// no `handle_cast/2` crashes it (`DOWN` with `{undef, [{oc_server, handle_cast,
/// _, _} | _]}`). The catalogue marks this case as not mapping because a missing
/// callback would not compile; but `GenServer::handle_cast` has a default, so the
/// server exists in noex, and OTP's answer for it is a crash. Ported: the server
/// ends with a crash (an abnormal reason); the `undef` term has no counterpart.
#[tokio::test(start_paused = true)]
async fn undef_handle_cast_a_cast_without_handle_cast_crashes_the_server() {
    let server = gen_server::start(OcServer, StartOptions::new())
        .await
        .unwrap();
    let down = process::monitor(server.pid());
    server.cast("cast_msg").unwrap();
    // The cast is handled before this call: the call meets the crash, or is answered.
    let after = server.call(()).await;
    assert!(
        matches!(&after, Err(CallError::Exited { reason, .. }) if reason.is_abnormal()),
        "OTP: the server crashes with undef on the cast; noex answered the next call with {after:?}"
    );
    assert!(down.await.reason.is_abnormal());
}

/// Every tracing event on this thread: level and fields.
#[derive(Clone, Default)]
struct Logged(Arc<Mutex<Vec<(tracing::Level, String)>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Logged {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Fields(String);
        impl tracing::field::Visit for Fields {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                use std::fmt::Write;
                let _ = write!(self.0, "{}={:?} ", field.name(), value);
            }
        }
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        self.0
            .lock()
            .unwrap()
            .push((*event.metadata().level(), fields.0));
    }
}

/// OTP `gen_server_SUITE:undef_handle_info/1`: a message to a server whose module
/// has no `handle_info/2` is dropped, the server lives on, and a warning is logged
/// (`"** Undefined handle_info in " ++ _` naming `oc_server` and the message).
/// Ported: the server lives on and answers the next call; exactly one warning
/// (tracing level WARN, noex's log) names the server type. Not ported: the message
/// in the warning (an `Info` is a `Box<dyn Any>`, which has no readable form).
#[tokio::test(start_paused = true)]
async fn undef_handle_info_an_unhandled_info_is_dropped_with_a_warning() {
    use tracing_subscriber::layer::SubscriberExt;
    let logged = Logged::default();
    let _log =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(logged.clone()));

    let server = gen_server::start(OcServer, StartOptions::new())
        .await
        .unwrap();
    server.send_info("hej").unwrap();
    // Handled before this call.
    assert_eq!(server.call(()).await, Ok(()));
    assert!(server.is_running());

    let about_it: Vec<_> = logged
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, fields)| fields.contains("OcServer"))
        .cloned()
        .collect();
    assert!(
        about_it.len() == 1 && about_it[0].0 == tracing::Level::WARN,
        "OTP logs one warning for the unhandled message; noex logged {about_it:?}"
    );
}

/// OTP `gen_server_SUITE:undef_handle_continue/1`: `oc_server:start(continue)`
/// succeeds (init returned before the continue runs), and the server then crashes
/// because it has no `handle_continue/2` (`DOWN` with `{undef, [{oc_server,
/// handle_continue, _, _} | _]}`). Ported: start is `Ok`, then the server ends with
/// a crash; the `undef` term has no counterpart.
#[tokio::test(start_paused = true)]
async fn undef_handle_continue_a_continue_without_handle_continue_crashes_the_server() {
    let server = gen_server::start(OcContinueServer, StartOptions::new())
        .await
        .unwrap();
    let down = process::monitor(server.pid());
    // The continue runs before this call: the call meets the crash, or is answered.
    let after = server.call(()).await;
    assert!(
        matches!(&after, Err(CallError::Exited { reason, .. }) if reason.is_abnormal()),
        "OTP: the server crashes with undef in the continue; noex answered the next call with {after:?}"
    );
    assert!(down.await.reason.is_abnormal());
}

/// OTP `gen_server_SUITE:undef_init/1`: starting a module whose `init/1` is an
/// `undef` crash returns `{error, {undef, _}}`; `start_link` from a process that
/// traps exits returns the same, and no `{'EXIT', _, _}` is left in its mailbox.
/// Ported: init panics (the missing `init`); `start` fails with the panic as the
/// initialization error, also when a trapping process (the probe) starts it, and
/// that process gets no exit message. (noex's start does not link, so the link is
/// not exercised; the catalogue's "start_link" becomes the probe's start.)
#[tokio::test(start_paused = true)]
async fn undef_init_a_failed_init_is_a_start_error_and_leaves_no_exit_message() {
    let started = gen_server::start(UndefInit, StartOptions::new()).await;
    match started {
        Err(StartError::Initialization(e)) => assert_eq!(e.reason, UNDEF_INIT),
        other => panic!("expected an initialization error, got {other:?}"),
    }

    let mut mailbox = Mailbox::new();
    let probe = probe(&mailbox).await;
    match probe.call(ProbeCall::StartUndefInit).await {
        Ok(ProbeReply::Started(Err(StartError::Initialization(e)))) => {
            assert_eq!(e.reason, UNDEF_INIT)
        }
        Ok(ProbeReply::Started(other)) => panic!("expected an initialization error, got {other:?}"),
        Ok(_) => unreachable!(),
        Err(error) => panic!("the probe failed: {error}"),
    }
    sync(&probe).await;
    assert_eq!(mailbox.try_recv(), None);
}

/// OTP `gen_server_SUITE:undef_terminate1/1`: with no `terminate/2`, `stop(S)`
/// returns `ok` and the monitor's `DOWN` says `normal`. Ported whole.
#[tokio::test(start_paused = true)]
async fn undef_terminate1_default_terminate_stop_normal() {
    let server = gen_server::start(OcServer, StartOptions::new())
        .await
        .unwrap();
    let down = process::monitor(server.pid());
    assert_eq!(server.stop(ExitReason::Normal).await, Ok(()));
    assert_eq!(down.await.reason, ExitReason::Normal);
}

/// OTP `gen_server_SUITE:undef_terminate2/1`: with no `terminate/2`,
/// `stop(S, {error, test}, infinity)` returns `ok` and the `DOWN` carries
/// `{error, test}`. Ported whole.
#[tokio::test(start_paused = true)]
async fn undef_terminate2_default_terminate_stop_with_a_reason() {
    let server = gen_server::start(OcServer, StartOptions::new())
        .await
        .unwrap();
    let down = process::monitor(server.pid());
    let reason = ExitReason::error("{error,test}");
    assert_eq!(server.stop(reason.clone()).await, Ok(()));
    assert_eq!(down.await.reason, reason);
}

// ---------------------------------------------------------------------------
// undef_in_terminate, undef_in_handle_info
// ---------------------------------------------------------------------------

/// OTP `gen_server_SUITE:undef_in_terminate/1`: when `terminate/2` crashes,
/// `stop(S)` does not return `ok`: it fails with the crash, which became the exit
/// reason. Ported whole (noex's reason is `"terminate panicked: "` and the panic
/// message).
#[tokio::test(start_paused = true)]
async fn undef_in_terminate_a_crash_in_terminate_fails_stop() {
    let server = start(Init::State(State::UndefInTerminate)).await;
    assert_eq!(
        server.stop(ExitReason::Normal).await,
        Err(StopError::Exited {
            pid: server.pid(),
            reason: ExitReason::error("terminate panicked: undef: oc_server:terminate/0")
        })
    );
}

/// OTP `gen_server_SUITE:undef_in_handle_info/1`: a crash inside an implemented
/// `handle_info/2` kills the server (the default for a missing `handle_info`
/// must not swallow it): `DOWN` with the crash. Ported whole.
#[tokio::test(start_paused = true)]
async fn undef_in_handle_info_a_crash_in_handle_info_kills_the_server() {
    let server = start(Init::Empty).await;
    let down = process::monitor(server.pid());
    server.send_info(InfoMsg::CallUndefFun).unwrap();
    assert_eq!(
        down.await.reason,
        ExitReason::error("undef: gen_server_SUITE:handle_info/0")
    );
}
