//! The tested gen_server: the callbacks of `gen_server_SUITE` ([`Suite`]), and
//! the helpers to start it, call it by name and read its start errors.

use std::time::Duration;

use noex::gen_server::{
    self, Context, GenServer, Ignore, Info, Reply, ReplyTo, StartOptions, TimerRef,
};
use noex::registry;
use noex::{AlreadyRegisteredError, CallError, ExitReason, Pid, ServerRef, StartError};

use crate::test_process::*;

/// `Arg` of `init/1`.
pub(crate) enum Init {
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
pub(crate) enum State {
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

pub(crate) enum Request {
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
pub(crate) enum Answer {
    Ok,
    Delayed,
    False,
}

pub(crate) enum CastMsg {
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
pub(crate) enum InfoMsg {
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
pub(crate) fn stopped() -> ExitReason {
    ExitReason::error("stopped")
}

/// `{From, stopped}` (the cast's stop reason)
pub(crate) fn from_stopped() -> ExitReason {
    ExitReason::error("{From,stopped}")
}

/// `{From, stopped_info}` (the info's stop reason)
pub(crate) fn from_stopped_info() -> ExitReason {
    ExitReason::error("{From,stopped_info}")
}

pub(crate) struct Suite {
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
    pub(crate) fn new(init: Init) -> Self {
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

pub(crate) async fn start(init: Init) -> ServerRef<Suite> {
    gen_server::start(Suite::new(init), StartOptions::new())
        .await
        .unwrap()
}

pub(crate) async fn start_named(name: &str, init: Init) -> Result<ServerRef<Suite>, StartError> {
    gen_server::start(Suite::new(init), StartOptions::new().name(name)).await
}

/// `gen_server:call(Name, Request)`: the name is looked up at call time.
pub(crate) async fn call_name(name: &str, call: Request) -> Result<Answer, CallError> {
    registry::lookup::<Suite>(name)
        .expect("registered")
        .call(call)
        .await
}

pub(crate) fn initialization_reason(result: Result<ServerRef<Suite>, StartError>) -> String {
    match result {
        Err(StartError::Initialization(error)) => error.reason,
        Err(other) => panic!("expected an initialization error, got {other:?}"),
        Ok(server) => panic!("expected an initialization error, got {server:?}"),
    }
}

pub(crate) fn already_registered(name: &str, pid: Pid) -> impl Fn(&StartError) -> bool {
    let expected = AlreadyRegisteredError {
        name: name.to_string(),
        pid,
    };
    move |error| matches!(error, StartError::AlreadyRegistered(e) if *e == expected)
}
