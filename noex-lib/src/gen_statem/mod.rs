//! State machines (OTP's `gen_statem`): a process whose handler gets each event
//! together with the machine's current state, and answers with a [`Transition`]:
//! the next state, and actions — replies, postponing the event until the state
//! changes, inserting events, and three kinds of timeouts.
//!
//! Implement [`GenStateMachine`] for the machine's data (`self`); its `State` is
//! any value compared with `==`. There is one handler, [`handle_event`], as in
//! OTP's `handle_event_function` mode: the handlers of each state are the arms of a
//! `match` on the state. Start it with [`start`] (or under a supervisor with
//! [`child_spec`]) and talk to it through the [`StateMachineRef`] you get back.
//!
//! ```
//! use std::time::Duration;
//! use noex::gen_server::StartOptions;
//! use noex::gen_statem::{self, Context, Event, GenStateMachine, Transition};
//!
//! #[derive(Clone, Debug, PartialEq, Eq)]
//! enum Light { Off, On }
//!
//! /// A light that switches itself off a second after it was switched on.
//! struct Switch { presses: u32 }
//!
//! impl GenStateMachine for Switch {
//!     type State = Light;
//!     type Call = ();     // "how many presses so far?"
//!     type Cast = ();     // a press
//!     type Reply = u32;
//!     type Internal = (); // what the timeout carries
//!
//!     async fn handle_event(&mut self, event: Event<Self>, state: &Light, _: &mut Context<'_, Self>) -> Transition<Self> {
//!         match (state, event) {
//!             (_, Event::Call((), reply)) => Transition::keep_state().reply(reply, self.presses),
//!             (Light::Off, Event::Cast(())) => {
//!                 self.presses += 1;
//!                 Transition::next_state(Light::On).state_timeout(Duration::from_secs(1), ())
//!             }
//!             (Light::On, Event::StateTimeout(())) => Transition::next_state(Light::Off),
//!             _ => Transition::keep_state(),
//!         }
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # // As a doc test, leave no agent socket behind (`NOEX_AGENT=off`); one thread, so sound.
//! # unsafe { std::env::set_var("NOEX_AGENT", "off") }
//! let light = gen_statem::start(Switch { presses: 0 }, Light::Off, StartOptions::new()).await?;
//! light.cast(())?;
//! assert_eq!(light.call(()).await?, 1);
//! assert_eq!(gen_statem::current_state(light.pid()).as_deref(), Some("On"));
//! light.stop(noex::ExitReason::Normal).await?;
//! # Ok(()) }
//! ```
//!
//! # The rules, as in OTP
//!
//! - **Postponing.** [`Transition::postpone`] sets the event aside until the state
//!   changes (to a state not `==` to the one it was postponed in); then every
//!   postponed event is handled again, in the order they first came, before the
//!   mailbox. Rust makes one difference: the handler owns its event, so postponing
//!   hands the event back.
//! - **Inserted events** ([`Transition::next_event`]) are handled next, in the
//!   order given, before the postponed events being retried and before the
//!   mailbox.
//! - **Timeouts.** The *event timeout* is cancelled by any event handled
//!   (inserted and retried ones too); the *state timeout* by a state change; a
//!   *generic timeout* only by its own cancel, and setting one of the same name
//!   replaces it. Setting a timeout again restarts it; a zero timeout comes once
//!   the queued events are handled, before the mailbox. A cancelled timeout never
//!   comes, even one whose timer had already fired.
//! - **State enter calls** ([`GenStateMachine::state_enter`]): the handler gets
//!   [`Event::Enter`] after every state change and for the initial state, just
//!   after `start` returns. An enter call may keep the state, set timeouts, reply
//!   or stop; it may not change the state, postpone or insert an event. OTP
//!   crashes the machine for these (`bad_state_enter_return`,
//!   `bad_state_enter_action`), and so does this: it exits with the
//!   [`TransitionError`]'s reason.
//! - **Replies** can come at any time: a call's [`ReplyTo`](crate::gen_server::ReplyTo)
//!   can be kept and answered from a later state, or even by another process.
//!   A panic in the handler crashes the machine; a caller whose reply handle the
//!   handler held gets `NoReply` then, every other caller the exit reason.
//!
//! Left out: OTP's `state_functions` mode (a `match` does its work), absolute
//! timeout times, `{timeout, update}`, hibernation, and changing the callback
//! module.
//!
//! [`handle_event`]: GenStateMachine::handle_event

mod context;
mod event;
mod machine_ref;
mod server;
mod timers;
mod transition;

use std::fmt;
use std::future::Future;

pub use context::Context;
pub use event::{Event, TimeoutName};
pub use machine_ref::StateMachineRef;
pub use server::StateMachineServer;
pub use transition::{Transition, TransitionError};

use crate::error::{BoxError, StartError};
use crate::gen_server::{self, StartOptions};
use crate::supervisor::ChildSpec;
use crate::{ExitReason, Pid};

/// A state machine: its data is `self`, its state a `State`, and one handler
/// turns each event into a [`Transition`].
pub trait GenStateMachine: Send + Sized + 'static {
    /// The machine's state. A transition to a state `==` to the current one is
    /// no state change. Its `Debug` text is what the Observer shows.
    type State: fmt::Debug + Clone + Eq + Send + Sync + 'static;
    /// Requests that expect a reply.
    type Call: Send + 'static;
    /// Fire-and-forget messages.
    type Cast: Send + 'static;
    /// The reply to a `Call`.
    type Reply: Send + 'static;
    /// What the machine sends itself: the content of inserted
    /// ([`Event::Internal`]) events and of its timeouts. `()` if it needs none.
    type Internal: Send + 'static;

    /// Whether the handler gets an [`Event::Enter`] on every state change and for
    /// the initial state (OTP's `state_enter` callback mode). Off by default.
    fn state_enter() -> bool {
        false
    }

    /// Runs before [`start`] returns, in the machine's process, with the initial
    /// state. It may go to another initial state ([`Transition::next_state`], no
    /// enter call for the one left), set timeouts and insert events; a stop or an
    /// error fails the start.
    fn init(
        &mut self,
        state: &Self::State,
        ctx: &mut Context<'_, Self>,
    ) -> impl Future<Output = Result<Transition<Self>, BoxError>> + Send {
        let _ = (state, ctx);
        async { Ok(Transition::keep_state()) }
    }

    /// Handle one event in `state` (OTP's `handle_event/4`). A panic crashes the
    /// machine.
    fn handle_event(
        &mut self,
        event: Event<Self>,
        state: &Self::State,
        ctx: &mut Context<'_, Self>,
    ) -> impl Future<Output = Transition<Self>> + Send;

    /// The machine's data as `noex state` and [`sys::get_state`](crate::sys::get_state)
    /// show it, after its current state (OTP's `format_status`). `None`, the default,
    /// keeps the data hidden (it can hold secrets): they show the state alone, as
    /// `noex ps` does.
    fn format_status(&self, state: &Self::State) -> Option<String> {
        let _ = state;
        None
    }

    /// Runs when the machine stops (a stop asked for, a [`Transition::stop`], a
    /// refused transition or a crash), not when it is killed.
    fn terminate(
        &mut self,
        reason: &ExitReason,
        state: &Self::State,
    ) -> impl Future<Output = ()> + Send {
        let _ = (reason, state);
        async {}
    }
}

/// Start a state machine in `initial_state`: runs [`GenStateMachine::init`], then
/// returns a handle to the running machine (OTP's `gen_statem:start/3`). With
/// state enter calls, the initial state's comes right after.
pub async fn start<M: GenStateMachine>(
    machine: M,
    initial_state: M::State,
    mut options: StartOptions,
) -> Result<StateMachineRef<M>, StartError> {
    options.handle_type = Some(std::any::type_name::<StateMachineRef<M>>);
    let server = gen_server::start(StateMachineServer::new(machine, initial_state), options);
    Ok(StateMachineRef::from(server.await?))
}

/// A supervisor child that runs the machine `factory()` makes, in the state it
/// gives, at every (re)start: a restarted machine begins again in its initial
/// state, with its postponed events and timeouts gone. Registered only if named
/// (`.name("...")` on the spec); [`StateMachineRef::lookup`] finds it then.
pub fn child_spec<M, F>(id: impl Into<String>, factory: F) -> ChildSpec
where
    M: GenStateMachine,
    F: Fn() -> (M, M::State) + Send + Sync + 'static,
{
    crate::services::child_spec::<_, StateMachineRef<M>, _>(id, None, move || {
        let (machine, initial_state) = factory();
        StateMachineServer::new(machine, initial_state)
    })
}

/// The current state of the state machine running as `pid`, as its `Debug` text
/// (what the Observer shows); `None` if `pid` is not a running state machine.
pub fn current_state(pid: Pid) -> Option<String> {
    server::current_state(pid)
}
