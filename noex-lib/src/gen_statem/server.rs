//! The GenServer that runs a state machine: it turns each message into an event,
//! hands it to the machine, and carries out the transition the machine returns,
//! in OTP's order (see `transition`). Events the machine inserts, and postponed
//! ones being retried, are handled within the same GenServer handler, so nothing
//! from the mailbox comes between them.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex};

use super::GenStateMachine;
use super::context::Context;
use super::event::Event;
use super::timers::{TimerFired, Timers};
use super::transition::{Action, Next, TimeoutSetting, TimerKey, Transition, TransitionError};
use crate::ExitReason;
use crate::error::BoxError;
use crate::gen_server::{self, GenServer, Info, Reply};
use crate::process::details::{self, DetailGuard, DetailSource};

type GenContext<M> = gen_server::Context<StateMachineServer<M>>;

/// The process of a state machine. Not used directly: see
/// [`start`](super::start) and [`StateMachineRef`](super::StateMachineRef).
pub struct StateMachineServer<M: GenStateMachine> {
    machine: M,
    state: M::State,
    /// Events to handle before the next message: inserted ones, then postponed
    /// ones being retried.
    queue: VecDeque<Event<M>>,
    /// In the order they first came.
    postponed: Vec<Event<M>>,
    timers: Timers<M::Internal>,
    shown: Arc<ShownState>,
    /// Keeps `shown` published to the Observer for as long as the process lives.
    _published: Option<DetailGuard>,
    /// What `init` asked for, carried out first thing after the start.
    boot: Option<Transition<M>>,
}

/// The continuation that makes the initial enter call, after `start` has returned
/// (as OTP makes it once `init` has acknowledged the start).
struct Boot;

/// The current state as the Observer shows it: its `Debug` text, written at every
/// state change (not at every event), read only when someone looks.
struct ShownState(Mutex<String>);

impl ShownState {
    fn show(&self, state: &impl fmt::Debug) {
        let text = format!("{state:?}");
        *self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = text;
    }
}

impl DetailSource for ShownState {
    fn state(&self) -> Option<String> {
        Some(
            self.0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .clone(),
        )
    }

    fn is_machine_state(&self) -> bool {
        true
    }
}

/// The current state of the machine running as `pid`, as its `Debug` text; `None`
/// if `pid` is not a running state machine.
pub(crate) fn current_state(pid: crate::Pid) -> Option<String> {
    details::machine_source(pid)?.state()
}

/// What a handler's actions leave for the transition, once replies are sent.
struct Pending<M: GenStateMachine> {
    postponed: Option<Event<M>>,
    inserted: Vec<Event<M>>,
    timeouts: Vec<(TimerKey, TimeoutSetting<M::Internal>)>,
}

impl<M: GenStateMachine> Default for Pending<M> {
    fn default() -> Self {
        Pending {
            postponed: None,
            inserted: Vec::new(),
            timeouts: Vec::new(),
        }
    }
}

/// Which call returned the actions: an enter call may not postpone or insert.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Caller {
    Event,
    Enter,
}

impl<M: GenStateMachine> Pending<M> {
    /// Run the actions in order: replies go now, the rest waits for the
    /// transition. The first refused action ends the run (replies before it went).
    fn take(
        &mut self,
        actions: Vec<Action<M>>,
        caller: Caller,
        state: &M::State,
    ) -> Result<(), TransitionError> {
        for action in actions {
            match action {
                Action::Reply(send) => send(),
                Action::Postpone(_) if caller == Caller::Enter => {
                    return Err(TransitionError::EnterPostponed {
                        entered: format!("{state:?}"),
                    });
                }
                Action::Postpone(event) => self.postponed = Some(event),
                Action::NextEvent(_) if caller == Caller::Enter => {
                    return Err(TransitionError::EnterInsertedEvent {
                        entered: format!("{state:?}"),
                    });
                }
                Action::NextEvent(Event::Enter { .. }) => {
                    return Err(TransitionError::InsertedEnter);
                }
                Action::NextEvent(event) => self.inserted.push(event),
                Action::Timeout(key, set) => self.timeouts.push((key, set)),
            }
        }
        Ok(())
    }
}

fn send_replies<M: GenStateMachine>(actions: Vec<Action<M>>) {
    for action in actions {
        if let Action::Reply(send) = action {
            send();
        }
    }
}

impl<M: GenStateMachine> StateMachineServer<M> {
    pub(crate) fn new(machine: M, initial_state: M::State) -> Self {
        StateMachineServer {
            machine,
            state: initial_state,
            queue: VecDeque::new(),
            postponed: Vec::new(),
            timers: Timers::default(),
            shown: Arc::new(ShownState(Mutex::new(String::new()))),
            _published: None,
            boot: None,
        }
    }

    /// Handle `first`, then every event queued behind it (inserted, retried, zero
    /// timeouts), until none is left or the machine stops.
    async fn run(&mut self, first: Event<M>, ctx: &mut GenContext<M>) {
        let mut next = Some(first);
        while let Some(event) = next {
            let transition = self
                .machine
                .handle_event(event, &self.state, &mut Context::new(ctx))
                .await;
            if !self.transition(transition, false, ctx).await {
                return;
            }
            next = self.queue.pop_front().or_else(|| self.zero_timeout());
        }
    }

    fn zero_timeout(&mut self) -> Option<Event<M>> {
        self.timers.take_zero().map(timeout_event)
    }

    /// Carry out a transition, in OTP's order: actions in order (replies sent),
    /// the enter call if the state changed (or is repeated, or is the initial one
    /// at `boot`), then the event timeout cancelled (an event was handled), and on
    /// a state change the state timeout cancelled and the postponed events queued
    /// again, oldest first; then the timeouts asked for start, and the inserted
    /// events go first in the queue. Returns whether the machine goes on.
    async fn transition(
        &mut self,
        transition: Transition<M>,
        boot: bool,
        ctx: &mut GenContext<M>,
    ) -> bool {
        let Transition { next, actions } = transition;
        let mut pending = Pending::default();
        let (old_state, enter) = match next {
            Next::Stop(reason) => {
                send_replies(actions);
                ctx.stop(reason);
                return false;
            }
            Next::Keep => (None, boot),
            Next::Repeat => (None, true),
            Next::To(state) if state == self.state => (None, boot),
            Next::To(state) => (Some(std::mem::replace(&mut self.state, state)), true),
        };
        if let Err(error) = pending.take(actions, Caller::Event, &self.state) {
            return self.refuse(error, ctx);
        }
        if boot {
            // Nothing was being handled to postpone (OTP forces `{postpone, false}`).
            pending.postponed = None;
        }
        if old_state.is_some() {
            self.shown.show(&self.state);
        }
        if enter && M::state_enter() {
            let entered_from = old_state.clone().unwrap_or_else(|| self.state.clone());
            if !self.enter(entered_from, &mut pending, ctx).await {
                return false;
            }
        }

        self.timers.cancel(&TimerKey::Event);
        let mut retried = Vec::new();
        if old_state.is_some() {
            self.timers.cancel(&TimerKey::State);
            retried = std::mem::take(&mut self.postponed);
            retried.extend(pending.postponed);
        } else if let Some(event) = pending.postponed {
            self.postponed.push(event);
        }
        for event in retried.into_iter().rev() {
            self.queue.push_front(event);
        }
        for event in pending.inserted.into_iter().rev() {
            self.queue.push_front(event);
        }
        // In order: of two for the same timeout, the later wins.
        for (key, set) in pending.timeouts {
            match set {
                Some((after, content)) => self.timers.start(key, after, content, ctx),
                None => self.timers.cancel(&key),
            }
        }
        true
    }

    /// Make the enter call of the state just entered, its actions joining the
    /// transition's. It may keep the state (or repeat it: the call is made again)
    /// or stop; anything else is refused, as OTP refuses it.
    async fn enter(
        &mut self,
        old_state: M::State,
        pending: &mut Pending<M>,
        ctx: &mut GenContext<M>,
    ) -> bool {
        loop {
            let event = Event::Enter {
                old_state: old_state.clone(),
            };
            let Transition { next, actions } = self
                .machine
                .handle_event(event, &self.state, &mut Context::new(ctx))
                .await;
            let again = match next {
                Next::Stop(reason) => {
                    send_replies(actions);
                    ctx.stop(reason);
                    return false;
                }
                Next::To(state) if state != self.state => {
                    return self.refuse(
                        TransitionError::EnterChangedState {
                            entered: format!("{:?}", self.state),
                            returned: format!("{state:?}"),
                        },
                        ctx,
                    );
                }
                Next::Repeat => true,
                Next::Keep | Next::To(_) => false,
            };
            if let Err(error) = pending.take(actions, Caller::Enter, &self.state) {
                return self.refuse(error, ctx);
            }
            if !again {
                return true;
            }
        }
    }

    /// Crash the machine with a refused transition's reason.
    fn refuse(&mut self, error: TransitionError, ctx: &mut GenContext<M>) -> bool {
        tracing::error!(pid = %ctx.pid(), %error, "state machine returned a refused transition");
        ctx.stop(error.exit_reason());
        false
    }
}

fn timeout_event<M: GenStateMachine>((key, content): (TimerKey, M::Internal)) -> Event<M> {
    match key {
        TimerKey::Event => Event::EventTimeout(content),
        TimerKey::State => Event::StateTimeout(content),
        TimerKey::Named(name) => Event::Timeout(name, content),
    }
}

impl<M: GenStateMachine> GenServer for StateMachineServer<M> {
    type Call = M::Call;
    type Cast = M::Cast;
    type Reply = M::Reply;

    /// The machine's type, not the adapter's: `CircuitBreaker` in `noex ps`.
    fn type_name() -> &'static str {
        std::any::type_name::<M>()
    }

    async fn init(&mut self, ctx: &mut GenContext<M>) -> Result<(), BoxError> {
        let mut boot = self
            .machine
            .init(&self.state, &mut Context::new(ctx))
            .await?;
        match std::mem::replace(&mut boot.next, Next::Keep) {
            Next::Stop(reason) => return Err(reason.to_string().into()),
            Next::To(state) => self.state = state,
            Next::Keep | Next::Repeat => {}
        }
        self.shown.show(&self.state);
        self._published = Some(details::publish(ctx.pid(), self.shown.clone()));
        self.boot = Some(boot);
        ctx.continue_with(Boot);
        Ok(())
    }

    async fn handle_call(&mut self, request: M::Call, ctx: &mut GenContext<M>) -> Reply<M::Reply> {
        if let Some(reply) = ctx.defer_reply() {
            self.run(Event::Call(request, reply), ctx).await;
        }
        Reply::Deferred
    }

    async fn handle_cast(&mut self, message: M::Cast, ctx: &mut GenContext<M>) {
        self.run(Event::Cast(message), ctx).await;
    }

    async fn handle_info(&mut self, message: Info, ctx: &mut GenContext<M>) {
        let event = match message.downcast::<TimerFired>() {
            Ok(fired) => match self.timers.fired(*fired) {
                Some(timeout) => timeout_event(timeout),
                // Cancelled or replaced after it fired.
                None => return,
            },
            Err(message) => Event::Info(message),
        };
        self.run(event, ctx).await;
    }

    async fn handle_continue(&mut self, message: Info, ctx: &mut GenContext<M>) {
        if !message.is::<Boot>() {
            return;
        }
        let Some(boot) = self.boot.take() else {
            return;
        };
        if self.transition(boot, true, ctx).await
            && let Some(event) = self.queue.pop_front().or_else(|| self.zero_timeout())
        {
            self.run(event, ctx).await;
        }
    }

    async fn terminate(&mut self, reason: &ExitReason, _: &mut GenContext<M>) {
        self.machine.terminate(reason, &self.state).await;
    }

    /// The state always (`noex ps` shows it anyway), the data only if the machine
    /// shows it.
    fn format_status(&self) -> Option<String> {
        Some(match self.machine.format_status(&self.state) {
            Some(data) => format!("state: {:?}\n{data}", self.state),
            None => format!("state: {:?}", self.state),
        })
    }
}
