//! What a handler returns: where the machine goes, and what it does on the way
//! (OTP's state callback result with its transition actions).

use std::time::Duration;

use super::GenStateMachine;
use super::event::{Event, TimeoutName};
use crate::ExitReason;
use crate::gen_server::ReplyTo;

/// The result of a handler: the next state and the actions to take on the way.
///
/// Built from one of [`keep_state`](Self::keep_state),
/// [`next_state`](Self::next_state), [`repeat_state`](Self::repeat_state) or
/// [`stop`](Self::stop), then actions, which run in the order given; of two
/// timeouts of the same kind (or name), the last wins, as in OTP.
#[must_use = "a transition does nothing until the handler returns it"]
pub struct Transition<M: GenStateMachine> {
    pub(crate) next: Next<M::State>,
    pub(crate) actions: Vec<Action<M>>,
}

/// Where the machine goes.
pub(crate) enum Next<S> {
    Keep,
    /// Keep the state but make the enter call again (OTP's `repeat_state`).
    Repeat,
    To(S),
    Stop(ExitReason),
}

/// One transition action, kept in the order the handler gave them.
pub(crate) enum Action<M: GenStateMachine> {
    /// Sends the reply when run.
    Reply(Box<dyn FnOnce() + Send>),
    Postpone(Event<M>),
    NextEvent(Event<M>),
    Timeout(TimerKey, TimeoutSetting<M::Internal>),
}

/// A timeout set to come after the duration with the content (`Some`), or
/// cancelled (`None`).
pub(crate) type TimeoutSetting<T> = Option<(Duration, T)>;

/// Which timeout an action or a timer is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum TimerKey {
    Event,
    State,
    Named(TimeoutName),
}

impl<M: GenStateMachine> Transition<M> {
    fn to(next: Next<M::State>) -> Self {
        Transition {
            next,
            actions: Vec::new(),
        }
    }

    /// Stay in the current state (OTP's `keep_state`): postponed events stay
    /// postponed, and the state timeout keeps running.
    pub fn keep_state() -> Self {
        Self::to(Next::Keep)
    }

    /// Go to `state` (OTP's `next_state`). Only a state not `==` to the current one
    /// is a state change: it retries the postponed events, cancels the state
    /// timeout and, with [`GenStateMachine::state_enter`], makes the enter call.
    /// Going to the state the machine is in is [`keep_state`](Self::keep_state).
    pub fn next_state(state: M::State) -> Self {
        Self::to(Next::To(state))
    }

    /// Stay in the current state, but make the enter call again as if it had just
    /// been entered (OTP's `repeat_state`); not a state change otherwise. Without
    /// [`GenStateMachine::state_enter`], the same as [`keep_state`](Self::keep_state).
    pub fn repeat_state() -> Self {
        Self::to(Next::Repeat)
    }

    /// Stop the machine with `reason` (OTP's `stop`): the replies among the actions
    /// are sent, [`GenStateMachine::terminate`] runs, and the process ends. Every
    /// other action is dropped, and so are the queued and postponed events.
    pub fn stop(reason: ExitReason) -> Self {
        Self::to(Next::Stop(reason))
    }

    fn with(mut self, action: Action<M>) -> Self {
        self.actions.push(action);
        self
    }

    /// Answer a call (OTP's `{reply, From, Reply}`); the same as
    /// [`ReplyTo::reply`], but in order with the other actions. A caller that
    /// stopped waiting is not an error.
    pub fn reply<T: Send + 'static>(self, to: ReplyTo<T>, value: T) -> Self {
        self.with(Action::Reply(Box::new(move || {
            to.reply(value);
        })))
    }

    /// Postpone `event`, the event being handled, handed back (OTP's `postpone`:
    /// the handler owns its event, so postponing gives it back). It is handled
    /// again, with the other postponed events in the order they first came, after
    /// the next state change. Refused in an enter call.
    pub fn postpone(self, event: Event<M>) -> Self {
        self.with(Action::Postpone(event))
    }

    /// Insert `event` to be handled next, before anything in the mailbox (OTP's
    /// `next_event`); several are handled in the order given, after the state
    /// change this transition makes. Usually an [`Event::Internal`]; refused in an
    /// enter call, and for [`Event::Enter`], which only the machine makes.
    pub fn next_event(self, event: Event<M>) -> Self {
        self.with(Action::NextEvent(event))
    }

    /// Have [`Event::StateTimeout`] with `content` come after `after`, unless the
    /// state changes first (OTP's `state_timeout`). Setting it again restarts it; a
    /// zero `after` delivers it as soon as the events already queued are handled,
    /// before the next message. Set together with a state change, it belongs to
    /// the new state.
    pub fn state_timeout(self, after: Duration, content: M::Internal) -> Self {
        self.with(Action::Timeout(TimerKey::State, Some((after, content))))
    }

    /// Cancel the state timeout, if one runs (OTP's `{state_timeout, cancel}`).
    pub fn cancel_state_timeout(self) -> Self {
        self.with(Action::Timeout(TimerKey::State, None))
    }

    /// Have [`Event::EventTimeout`] with `content` come after `after` unless an
    /// event comes first (OTP's event `timeout`): any event handled cancels it,
    /// one from the mailbox, an inserted one, a postponed one retried or another
    /// timeout; so a zero one comes only if no event is queued.
    pub fn event_timeout(self, after: Duration, content: M::Internal) -> Self {
        self.with(Action::Timeout(TimerKey::Event, Some((after, content))))
    }

    /// Cancel the event timeout set by this transition's earlier actions (any
    /// earlier one was cancelled by the event being handled).
    pub fn cancel_event_timeout(self) -> Self {
        self.with(Action::Timeout(TimerKey::Event, None))
    }

    /// Have [`Event::Timeout`] named `name` come after `after` (OTP's generic
    /// `{{timeout, Name}, Time, Content}`). Neither events nor state changes cancel
    /// it; setting the same name again replaces it.
    pub fn timeout(
        self,
        name: impl Into<TimeoutName>,
        after: Duration,
        content: M::Internal,
    ) -> Self {
        self.with(Action::Timeout(
            TimerKey::Named(name.into()),
            Some((after, content)),
        ))
    }

    /// Cancel the generic timeout named `name`, if it runs.
    pub fn cancel_timeout(self, name: impl Into<TimeoutName>) -> Self {
        self.with(Action::Timeout(TimerKey::Named(name.into()), None))
    }
}

/// A transition OTP refuses, and the machine's exit reason when it returns one
/// (as [`ExitReason::Error`] with this text; compare with
/// [`TransitionError::exit_reason`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// An enter call returned a state change (OTP's
    /// `bad_state_enter_return_from_state_function`): the state is entered already.
    #[error("bad_state_enter_return: the enter call of {entered} went to {returned}")]
    EnterChangedState {
        /// The state entered, as its `Debug` text.
        entered: String,
        /// The state the enter call returned, as its `Debug` text.
        returned: String,
    },
    /// An enter call postponed its event (OTP's
    /// `bad_state_enter_action_from_state_function`).
    #[error("bad_state_enter_action: the enter call of {entered} postponed")]
    EnterPostponed {
        /// The state entered, as its `Debug` text.
        entered: String,
    },
    /// An enter call inserted an event (OTP's
    /// `bad_state_enter_action_from_state_function`).
    #[error("bad_state_enter_action: the enter call of {entered} inserted an event")]
    EnterInsertedEvent {
        /// The state entered, as its `Debug` text.
        entered: String,
    },
    /// A handler inserted an [`Event::Enter`], which only the machine makes (OTP's
    /// `bad_action_from_state_function`).
    #[error("bad_action: an enter event cannot be inserted")]
    InsertedEnter,
}

impl TransitionError {
    /// The reason the machine exits with.
    pub fn exit_reason(&self) -> ExitReason {
        ExitReason::error(self.to_string())
    }
}

impl From<TransitionError> for ExitReason {
    fn from(error: TransitionError) -> Self {
        error.exit_reason()
    }
}
