//! What a state machine's handler is given: one event at a time.

use std::borrow::Cow;

use super::GenStateMachine;
use crate::gen_server::ReplyTo;
use crate::process::Info;

/// The name of a generic timeout (OTP's `{timeout, Name}`): several can run at
/// once, one per name.
pub type TimeoutName = Cow<'static, str>;

/// One event for [`GenStateMachine::handle_event`], OTP's `EventType` and
/// `EventContent` in one value.
pub enum Event<M: GenStateMachine> {
    /// The machine has just entered its state (OTP's `enter` call, only with
    /// [`GenStateMachine::state_enter`]): after every state change, after a
    /// [`Transition::repeat_state`](super::Transition::repeat_state), and once for the
    /// initial state, where `old_state` is the initial state itself.
    Enter {
        /// The state before the change.
        old_state: M::State,
    },
    /// A [`StateMachineRef::call`](super::StateMachineRef::call), with the handle to
    /// answer it through: now, later, or from another state (OTP's
    /// `{call, From}`). Dropping the handle unanswered fails the call with
    /// [`CallError::NoReply`](crate::CallError::NoReply).
    Call(M::Call, ReplyTo<M::Reply>),
    /// A [`StateMachineRef::cast`](super::StateMachineRef::cast).
    Cast(M::Cast),
    /// Any other message: [`StateMachineRef::send_info`](super::StateMachineRef::send_info),
    /// [`Context::send_after`](super::Context::send_after), monitors' `Down`,
    /// trapped `Exit`s.
    Info(Info),
    /// An event the machine inserted itself with
    /// [`Transition::next_event`](super::Transition::next_event) (OTP's `internal`).
    Internal(M::Internal),
    /// The event timeout ran out: no event came for as long as it was set for
    /// (OTP's `timeout`).
    EventTimeout(M::Internal),
    /// The state timeout ran out: the machine stayed in the state it was set in
    /// (OTP's `state_timeout`).
    StateTimeout(M::Internal),
    /// The generic timeout of this name ran out (OTP's `{timeout, Name}`).
    Timeout(TimeoutName, M::Internal),
}

impl<M: GenStateMachine> Event<M> {
    /// The kind of event, as OTP names its event type: for logs and traces.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Enter { .. } => "enter",
            Event::Call(..) => "call",
            Event::Cast(_) => "cast",
            Event::Info(_) => "info",
            Event::Internal(_) => "internal",
            Event::EventTimeout(_) => "timeout",
            Event::StateTimeout(_) => "state_timeout",
            Event::Timeout(..) => "generic timeout",
        }
    }
}

impl<M: GenStateMachine> std::fmt::Debug for Event<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Event::Enter { old_state } => f
                .debug_struct("Enter")
                .field("old_state", old_state)
                .finish(),
            Event::Timeout(name, _) => f.debug_tuple("Timeout").field(name).finish(),
            other => f.write_str(other.kind()),
        }
    }
}
