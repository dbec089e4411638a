mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use noex::gen_server::{ReplyTo, StartOptions};
use noex::gen_statem::{
    self, Context, Event, GenStateMachine, StateMachineRef, Transition, TransitionError,
};
use noex::supervisor::{self, SupervisorSpec};
use noex::{CallError, ExitReason};
use support::{eventually, within};
use tokio::time::sleep;

#[derive(Clone, Debug, PartialEq, Eq)]
enum St {
    A,
    B,
    C,
}

/// What the probe does with an event: the transition a test scripts for it.
#[derive(Default)]
struct Plan {
    to: Option<St>,
    repeat: bool,
    /// Postpone the event while in this state; otherwise carry out the rest.
    postpone_in: Option<St>,
    /// Answer the call kept waiting, from the state the machine is in.
    answer: bool,
    /// Time the handler takes (the machine's mailbox fills meanwhile).
    busy_ms: u64,
    panic: bool,
    acts: Vec<Act>,
}

enum Act {
    StateTimeout(u64, &'static str),
    EventTimeout(u64, &'static str),
    Timeout(&'static str, u64, &'static str),
    CancelTimeout(&'static str),
    Insert(&'static str),
}

fn stay() -> Plan {
    Plan::default()
}

fn go(state: St) -> Plan {
    Plan {
        to: Some(state),
        ..Plan::default()
    }
}

impl Plan {
    fn act(mut self, act: Act) -> Self {
        self.acts.push(act);
        self
    }
}

enum Ask {
    /// Answered later, when a plan says so.
    Later,
}

type Log = Arc<Mutex<Vec<String>>>;

/// A machine that logs every event it handles as `kind:content@State` and does what
/// each cast's plan says. `ENTER`: state enter calls.
struct Probe<const ENTER: bool> {
    log: Log,
    waiting: Option<ReplyTo<String>>,
    /// The plan of the enter call into a state.
    enter_plan: Option<(St, Plan)>,
}

impl<const ENTER: bool> Probe<ENTER> {
    fn new(log: Log) -> Self {
        Probe {
            log,
            waiting: None,
            enter_plan: None,
        }
    }

    fn note(&self, entry: String) {
        self.log.lock().unwrap().push(entry);
    }

    async fn carry_out(&mut self, plan: Plan, event: Event<Self>, state: &St) -> Transition<Self> {
        if plan.postpone_in.as_ref() == Some(state) {
            return Transition::keep_state().postpone(event);
        }
        if plan.busy_ms > 0 {
            sleep(Duration::from_millis(plan.busy_ms)).await;
        }
        assert!(!plan.panic, "the plan said to crash");
        let mut transition = match (plan.to, plan.repeat) {
            (Some(to), _) => Transition::next_state(to),
            (None, true) => Transition::repeat_state(),
            (None, false) => Transition::keep_state(),
        };
        if plan.answer
            && let Some(reply) = self.waiting.take()
        {
            transition = transition.reply(reply, format!("answered in {state:?}"));
        }
        for act in plan.acts {
            transition = match act {
                Act::StateTimeout(ms, what) => transition.state_timeout(ms_(ms), what),
                Act::EventTimeout(ms, what) => transition.event_timeout(ms_(ms), what),
                Act::Timeout(name, ms, what) => transition.timeout(name, ms_(ms), what),
                Act::CancelTimeout(name) => transition.cancel_timeout(name),
                Act::Insert(what) => transition.next_event(Event::Internal(what)),
            };
        }
        transition
    }
}

fn ms_(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

impl<const ENTER: bool> GenStateMachine for Probe<ENTER> {
    type State = St;
    type Call = Ask;
    type Cast = (&'static str, Plan);
    type Reply = String;
    type Internal = &'static str;

    fn state_enter() -> bool {
        ENTER
    }

    async fn handle_event(
        &mut self,
        event: Event<Self>,
        state: &St,
        _: &mut Context<'_, Self>,
    ) -> Transition<Self> {
        match event {
            Event::Enter { old_state } => {
                self.note(format!("enter:{old_state:?}->{state:?}"));
                match self.enter_plan.take() {
                    Some((into, plan)) if into == *state => {
                        self.carry_out(plan, Event::Enter { old_state }, state)
                            .await
                    }
                    other => {
                        self.enter_plan = other;
                        Transition::keep_state()
                    }
                }
            }
            Event::Cast((label, plan)) => {
                self.note(format!("cast:{label}@{state:?}"));
                // The plan travels with its event, so a postponed one keeps it.
                let postpone_in = plan.postpone_in.clone();
                if postpone_in.as_ref() == Some(state) {
                    let to = plan.to.clone();
                    let transition = to.map_or_else(Transition::keep_state, Transition::next_state);
                    return transition.postpone(Event::Cast((label, plan)));
                }
                self.carry_out(plan, Event::Internal(label), state).await
            }
            Event::Call(Ask::Later, reply) => {
                self.note(format!("call@{state:?}"));
                self.waiting = Some(reply);
                Transition::keep_state()
            }
            Event::Info(_) => {
                self.note(format!("info@{state:?}"));
                Transition::keep_state()
            }
            Event::Internal(what) => {
                self.note(format!("internal:{what}@{state:?}"));
                Transition::keep_state()
            }
            Event::EventTimeout(what) => {
                self.note(format!("event_timeout:{what}@{state:?}"));
                Transition::keep_state()
            }
            Event::StateTimeout(what) => {
                self.note(format!("state_timeout:{what}@{state:?}"));
                Transition::keep_state()
            }
            Event::Timeout(name, what) => {
                self.note(format!("timeout:{name}:{what}@{state:?}"));
                Transition::keep_state()
            }
        }
    }
}

async fn start<const ENTER: bool>(probe: Probe<ENTER>) -> StateMachineRef<Probe<ENTER>> {
    gen_statem::start(probe, St::A, StartOptions::new())
        .await
        .expect("the probe starts")
}

async fn probe() -> (StateMachineRef<Probe<false>>, Log) {
    let log = Log::default();
    (start(Probe::new(log.clone())).await, log)
}

fn entries(log: &Log) -> Vec<String> {
    log.lock().unwrap().clone()
}

fn count(log: &Log, entry: &str) -> usize {
    entries(log).iter().filter(|e| *e == entry).count()
}

/// Let the machine handle what it was sent: the paused clock moves only once
/// every task waits, so when this returns it has handled everything it could.
async fn settle() {
    sleep(Duration::from_millis(1)).await;
}

/// Sleep until `ms` after `start` on the paused clock.
async fn at(start: tokio::time::Instant, ms: u64) {
    tokio::time::sleep_until(start + ms_(ms)).await;
}

#[tokio::test(start_paused = true)]
async fn state_timeout_fires_once() {
    let (machine, log) = probe().await;
    let t0 = tokio::time::Instant::now();
    machine
        .cast(("set", stay().act(Act::StateTimeout(100, "t"))))
        .unwrap();
    at(t0, 99).await;
    assert_eq!(count(&log, "state_timeout:t@A"), 0, "{:?}", entries(&log));
    at(t0, 101).await;
    assert_eq!(count(&log, "state_timeout:t@A"), 1);
    at(t0, 2_000).await;
    assert_eq!(count(&log, "state_timeout:t@A"), 1, "{:?}", entries(&log));
}

#[tokio::test(start_paused = true)]
async fn state_timeout_restarted_when_set_again() {
    let (machine, log) = probe().await;
    let t0 = tokio::time::Instant::now();
    machine
        .cast(("set", stay().act(Act::StateTimeout(100, "first"))))
        .unwrap();
    at(t0, 50).await;
    machine
        .cast(("again", stay().act(Act::StateTimeout(100, "second"))))
        .unwrap();
    at(t0, 120).await;
    assert!(!entries(&log).iter().any(|e| e.starts_with("state_timeout")));
    at(t0, 151).await;
    assert_eq!(count(&log, "state_timeout:second@A"), 1);
    assert_eq!(count(&log, "state_timeout:first@A"), 0);
}

#[tokio::test(start_paused = true)]
async fn state_timeout_cancelled_by_state_change() {
    let (machine, log) = probe().await;
    let t0 = tokio::time::Instant::now();
    machine
        .cast(("set", stay().act(Act::StateTimeout(100, "t"))))
        .unwrap();
    at(t0, 50).await;
    machine.cast(("leave", go(St::B))).unwrap();
    at(t0, 1_000).await;
    assert_eq!(
        entries(&log),
        ["cast:set@A", "cast:leave@A"],
        "the state timeout of A never comes"
    );
}

#[tokio::test(start_paused = true)]
async fn state_timeout_set_with_a_state_change_belongs_to_the_new_state() {
    let (machine, log) = probe().await;
    machine
        .cast(("set", stay().act(Act::StateTimeout(100, "old"))))
        .unwrap();
    machine
        .cast(("leave", go(St::B).act(Act::StateTimeout(100, "new"))))
        .unwrap();
    sleep(ms_(500)).await;
    assert_eq!(count(&log, "state_timeout:new@B"), 1, "{:?}", entries(&log));
    assert_eq!(count(&log, "state_timeout:old@A"), 0);
}

#[tokio::test(start_paused = true)]
async fn state_timeout_that_fired_during_a_handler_is_dropped_by_its_state_change() {
    // The timer fires while the machine is busy with the event that changes the
    // state: its message waits in the mailbox, and must not come in the new state.
    let (machine, log) = probe().await;
    machine
        .cast(("set", stay().act(Act::StateTimeout(10, "t"))))
        .unwrap();
    let busy = Plan {
        busy_ms: 50,
        ..go(St::B)
    };
    machine.cast(("busy", busy)).unwrap();
    sleep(ms_(500)).await;
    assert_eq!(entries(&log), ["cast:set@A", "cast:busy@A"]);
}

#[tokio::test(start_paused = true)]
async fn state_timeout_restarted_after_its_timer_fired_comes_only_at_its_new_time() {
    // The first timer fires while the machine is busy with the event that sets the
    // timeout again: the first timer's message, still in the mailbox, must not
    // pass for the new one.
    let (machine, log) = probe().await;
    let t0 = tokio::time::Instant::now();
    machine
        .cast(("set", stay().act(Act::StateTimeout(10, "first"))))
        .unwrap();
    let busy = Plan {
        busy_ms: 50,
        ..stay().act(Act::StateTimeout(100, "second"))
    };
    machine.cast(("busy", busy)).unwrap();
    at(t0, 149).await;
    assert_eq!(entries(&log), ["cast:set@A", "cast:busy@A"]);
    at(t0, 1_000).await;
    assert_eq!(
        count(&log, "state_timeout:second@A"),
        1,
        "{:?}",
        entries(&log)
    );
}

#[tokio::test(start_paused = true)]
async fn state_timeout_of_zero_comes_after_queued_events_before_the_mailbox() {
    let (machine, log) = probe().await;
    let zero = stay().act(Act::StateTimeout(0, "z")).act(Act::Insert("i"));
    machine.cast(("zero", zero)).unwrap();
    machine.cast(("next", stay())).unwrap();
    settle().await;
    assert_eq!(
        entries(&log),
        [
            "cast:zero@A",
            "internal:i@A",
            "state_timeout:z@A",
            "cast:next@A"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn event_timeout_fires_when_no_event_comes() {
    let (machine, log) = probe().await;
    let t0 = tokio::time::Instant::now();
    machine
        .cast(("set", stay().act(Act::EventTimeout(100, "e"))))
        .unwrap();
    at(t0, 99).await;
    assert_eq!(count(&log, "event_timeout:e@A"), 0);
    at(t0, 1_000).await;
    assert_eq!(count(&log, "event_timeout:e@A"), 1);
}

#[tokio::test(start_paused = true)]
async fn event_timeout_cancelled_by_any_event() {
    let (machine, log) = probe().await;
    let t0 = tokio::time::Instant::now();
    // An info message.
    machine
        .cast(("set", stay().act(Act::EventTimeout(100, "by info"))))
        .unwrap();
    at(t0, 50).await;
    machine.send_info("hello").unwrap();
    // An inserted event, handled right after the one that set the timeout.
    at(t0, 200).await;
    let set_and_insert = stay()
        .act(Act::EventTimeout(100, "by inserted"))
        .act(Act::Insert("i"));
    machine.cast(("set", set_and_insert)).unwrap();
    // A postponed event retried.
    at(t0, 400).await;
    machine
        .cast((
            "p",
            Plan {
                postpone_in: Some(St::A),
                ..stay()
            },
        ))
        .unwrap();
    machine
        .cast(("leave", go(St::B).act(Act::EventTimeout(100, "by retried"))))
        .unwrap();
    at(t0, 2_000).await;
    assert!(
        !entries(&log).iter().any(|e| e.starts_with("event_timeout")),
        "{:?}",
        entries(&log)
    );
    assert_eq!(count(&log, "cast:p@B"), 1, "the postponed cast was retried");
}

#[tokio::test(start_paused = true)]
async fn generic_timeout_replaced_when_set_again() {
    let (machine, log) = probe().await;
    let t0 = tokio::time::Instant::now();
    machine
        .cast(("set", stay().act(Act::Timeout("g", 100, "first"))))
        .unwrap();
    at(t0, 50).await;
    machine
        .cast(("again", stay().act(Act::Timeout("g", 100, "second"))))
        .unwrap();
    at(t0, 120).await;
    assert!(!entries(&log).iter().any(|e| e.starts_with("timeout")));
    at(t0, 1_000).await;
    assert_eq!(count(&log, "timeout:g:second@A"), 1);
    assert_eq!(count(&log, "timeout:g:first@A"), 0);
}

#[tokio::test(start_paused = true)]
async fn generic_timeout_survives_state_changes_and_events_until_cancelled_by_name() {
    let (machine, log) = probe().await;
    let t0 = tokio::time::Instant::now();
    let both = stay()
        .act(Act::Timeout("kept", 100, "k"))
        .act(Act::Timeout("cancelled", 100, "c"));
    machine.cast(("set", both)).unwrap();
    at(t0, 30).await;
    machine.cast(("leave", go(St::B))).unwrap();
    machine.send_info("an event").unwrap();
    machine
        .cast(("cancel", stay().act(Act::CancelTimeout("cancelled"))))
        .unwrap();
    at(t0, 1_000).await;
    assert_eq!(count(&log, "timeout:kept:k@B"), 1, "{:?}", entries(&log));
    assert_eq!(count(&log, "timeout:cancelled:c@B"), 0);
}

#[tokio::test(start_paused = true)]
async fn postponed_event_retried_after_state_change_in_order() {
    let (machine, log) = probe().await;
    let postponed = || Plan {
        postpone_in: Some(St::A),
        ..stay()
    };
    machine.cast(("p1", postponed())).unwrap();
    machine.cast(("p2", postponed())).unwrap();
    machine.cast(("leave", go(St::B))).unwrap();
    machine.cast(("after", stay())).unwrap();
    settle().await;
    assert_eq!(
        entries(&log),
        [
            "cast:p1@A",
            "cast:p2@A",
            "cast:leave@A",
            "cast:p1@B",
            "cast:p2@B",
            "cast:after@B"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn postponed_event_retried_at_once_when_its_own_transition_changes_state() {
    // OTP moves the event to the postponed queue first, then retries that queue on
    // the state change: so the event is handled again at once, in the new state.
    let (machine, log) = probe().await;
    let postpone_and_leave = Plan {
        postpone_in: Some(St::A),
        ..go(St::B)
    };
    machine.cast(("p", postpone_and_leave)).unwrap();
    machine.cast(("queued", stay())).unwrap();
    settle().await;
    assert_eq!(entries(&log), ["cast:p@A", "cast:p@B", "cast:queued@B"]);
}

#[tokio::test(start_paused = true)]
async fn postponed_event_not_retried_when_state_unchanged() {
    let (machine, log) = probe().await;
    machine
        .cast((
            "p",
            Plan {
                postpone_in: Some(St::A),
                ..stay()
            },
        ))
        .unwrap();
    machine.cast(("keep", stay())).unwrap();
    machine.cast(("same", go(St::A))).unwrap();
    settle().await;
    assert_eq!(entries(&log), ["cast:p@A", "cast:keep@A", "cast:same@A"]);
    machine.cast(("leave", go(St::B))).unwrap();
    settle().await;
    assert_eq!(count(&log, "cast:p@B"), 1);
}

#[tokio::test(start_paused = true)]
async fn next_events_run_before_mailbox_in_order() {
    let (machine, log) = probe().await;
    let insert = stay().act(Act::Insert("i1")).act(Act::Insert("i2"));
    machine.cast(("insert", insert)).unwrap();
    machine.cast(("queued", stay())).unwrap();
    settle().await;
    assert_eq!(
        entries(&log),
        [
            "cast:insert@A",
            "internal:i1@A",
            "internal:i2@A",
            "cast:queued@A"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn next_events_run_before_retried_postponed_events() {
    let (machine, log) = probe().await;
    machine
        .cast((
            "p",
            Plan {
                postpone_in: Some(St::A),
                ..stay()
            },
        ))
        .unwrap();
    machine
        .cast(("leave", go(St::B).act(Act::Insert("i"))))
        .unwrap();
    settle().await;
    assert_eq!(
        entries(&log),
        ["cast:p@A", "cast:leave@A", "internal:i@B", "cast:p@B"]
    );
}

#[tokio::test(start_paused = true)]
async fn state_enter_called_on_initial_state_and_each_change() {
    let log = Log::default();
    let machine = start(Probe::<true>::new(log.clone())).await;
    settle().await;
    assert_eq!(
        entries(&log),
        ["enter:A->A"],
        "the initial state is entered"
    );
    machine.cast(("leave", go(St::B))).unwrap();
    machine.cast(("same", go(St::B))).unwrap();
    machine
        .cast((
            "repeat",
            Plan {
                repeat: true,
                ..stay()
            },
        ))
        .unwrap();
    machine.cast(("back", go(St::A))).unwrap();
    settle().await;
    assert_eq!(
        entries(&log),
        [
            "enter:A->A",
            "cast:leave@A",
            "enter:A->B",
            "cast:same@B",
            "cast:repeat@B",
            "enter:B->B",
            "cast:back@B",
            "enter:B->A"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn state_enter_timeouts_join_the_transition() {
    // An enter call may set timeouts: the state timeout it sets belongs to the
    // state entered.
    let log = Log::default();
    let mut probe = Probe::<true>::new(log.clone());
    probe.enter_plan = Some((St::B, stay().act(Act::StateTimeout(100, "entered"))));
    let machine = start(probe).await;
    machine.cast(("leave", go(St::B))).unwrap();
    sleep(ms_(500)).await;
    assert_eq!(
        count(&log, "state_timeout:entered@B"),
        1,
        "{:?}",
        entries(&log)
    );
}

async fn refused_enter(plan: Plan) -> ExitReason {
    let mut probe = Probe::<true>::new(Log::default());
    probe.enter_plan = Some((St::B, plan));
    let machine = start(probe).await;
    machine.cast(("leave", go(St::B))).unwrap();
    within("the machine exits", machine.wait()).await
}

#[tokio::test(start_paused = true)]
async fn state_enter_cannot_change_state() {
    let reason = refused_enter(go(St::C)).await;
    let refused = TransitionError::EnterChangedState {
        entered: "B".into(),
        returned: "C".into(),
    };
    assert_eq!(reason, refused.exit_reason());
    assert!(reason.to_string().starts_with("bad_state_enter_return"));
}

#[tokio::test(start_paused = true)]
async fn state_enter_cannot_postpone_or_insert_events() {
    let postpone = Plan {
        postpone_in: Some(St::B),
        ..stay()
    };
    assert_eq!(
        refused_enter(postpone).await,
        TransitionError::EnterPostponed {
            entered: "B".into()
        }
        .exit_reason()
    );
    assert_eq!(
        refused_enter(stay().act(Act::Insert("i"))).await,
        TransitionError::EnterInsertedEvent {
            entered: "B".into()
        }
        .exit_reason()
    );
}

#[tokio::test(start_paused = true)]
async fn call_reply_from_a_later_state() {
    let (machine, log) = probe().await;
    let caller = machine.clone();
    let call = tokio::spawn(async move { caller.call(Ask::Later).await });
    settle().await;
    machine.cast(("leave", go(St::B))).unwrap();
    machine
        .cast((
            "answer",
            Plan {
                answer: true,
                ..stay()
            },
        ))
        .unwrap();
    let reply = within("the reply", call).await.unwrap();
    assert_eq!(reply, Ok("answered in B".to_string()));
    assert_eq!(entries(&log)[0], "call@A");
}

#[tokio::test(start_paused = true)]
async fn call_kept_waiting_fails_with_the_exit_reason_when_the_machine_stops() {
    let (machine, _) = probe().await;
    let caller = machine.clone();
    let call = tokio::spawn(async move { caller.call(Ask::Later).await });
    settle().await;
    machine
        .stop(ExitReason::shutdown_with("done"))
        .await
        .unwrap();
    let outcome = within("the caller hears", call).await.unwrap();
    assert!(
        matches!(outcome, Err(CallError::Exited { ref reason, .. }) if *reason == ExitReason::shutdown_with("done")),
        "{outcome:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn crash_in_handler_restarted_by_supervisor_into_initial_state() {
    let log = Log::default();
    let spec_log = log.clone();
    let spec = gen_statem::child_spec("probe", move || {
        (Probe::<false>::new(spec_log.clone()), St::A)
    })
    .name("statem-crash-probe");
    let _sup = supervisor::start(SupervisorSpec::one_for_one().child(spec))
        .await
        .unwrap();
    let first = StateMachineRef::<Probe<false>>::lookup("statem-crash-probe").unwrap();
    first.cast(("leave", go(St::B))).unwrap();
    settle().await;
    assert_eq!(gen_statem::current_state(first.pid()).as_deref(), Some("B"));

    first
        .cast((
            "crash",
            Plan {
                panic: true,
                ..stay()
            },
        ))
        .unwrap();
    let reason = within("the crash", first.wait()).await;
    assert!(reason.is_abnormal(), "{reason}");
    let second = eventually("the restart", || async {
        StateMachineRef::<Probe<false>>::lookup("statem-crash-probe")
            .ok()
            .filter(|again| again.pid() != first.pid())
    })
    .await;
    assert_eq!(
        gen_statem::current_state(second.pid()).as_deref(),
        Some("A")
    );
}

#[tokio::test(start_paused = true)]
async fn current_state_visible_to_observer() {
    let (machine, _) = probe().await;
    let pid = machine.pid();
    assert_eq!(gen_statem::current_state(pid).as_deref(), Some("A"));
    machine.cast(("leave", go(St::C))).unwrap();
    settle().await;
    assert_eq!(gen_statem::current_state(pid).as_deref(), Some("C"));
    machine.stop(ExitReason::Normal).await.unwrap();
    assert_eq!(
        gen_statem::current_state(pid),
        None,
        "gone with the process"
    );
}

#[tokio::test(start_paused = true)]
async fn stop_transition_replies_then_runs_terminate() {
    struct Stopper(Log);
    impl GenStateMachine for Stopper {
        type State = St;
        type Call = ();
        type Cast = ();
        type Reply = &'static str;
        type Internal = ();

        async fn handle_event(
            &mut self,
            event: Event<Self>,
            _: &St,
            _: &mut Context<'_, Self>,
        ) -> Transition<Self> {
            match event {
                Event::Call((), reply) => {
                    Transition::stop(ExitReason::shutdown_with("asked")).reply(reply, "bye")
                }
                _ => Transition::keep_state(),
            }
        }

        async fn terminate(&mut self, reason: &ExitReason, state: &St) {
            self.0
                .lock()
                .unwrap()
                .push(format!("terminate:{reason}@{state:?}"));
        }
    }
    let log = Log::default();
    let machine = gen_statem::start(Stopper(log.clone()), St::A, StartOptions::new())
        .await
        .unwrap();
    assert_eq!(machine.call(()).await, Ok("bye"));
    assert_eq!(machine.wait().await, ExitReason::shutdown_with("asked"));
    assert_eq!(entries(&log), ["terminate:shutdown: asked@A"]);
}

/// OTP's `format_status` for gen_statem: the state, then the data the machine
/// chooses to show; a machine that does not opt in shows nothing to `sys`.
#[tokio::test]
async fn sys_get_state_shows_the_state_and_the_data_a_machine_opts_in_to() {
    struct Door {
        opened: u32,
    }
    #[derive(Clone, Debug, PartialEq, Eq)]
    enum DoorState {
        Shut,
    }
    impl GenStateMachine for Door {
        type State = DoorState;
        type Call = ();
        type Cast = ();
        type Reply = ();
        type Internal = ();

        async fn handle_event(
            &mut self,
            _: Event<Self>,
            _: &DoorState,
            _: &mut Context<'_, Self>,
        ) -> Transition<Self> {
            Transition::keep_state()
        }

        fn format_status(&self, _: &DoorState) -> Option<String> {
            Some(format!("opened {} times", self.opened))
        }
    }
    let door = gen_statem::start(Door { opened: 2 }, DoorState::Shut, StartOptions::new())
        .await
        .unwrap();
    assert_eq!(
        noex::sys::get_status(door.pid(), std::time::Duration::from_secs(5))
            .await
            .unwrap(),
        "state: Shut\nopened 2 times"
    );
}

/// A machine that keeps its data to itself still shows its state, as `noex ps` does.
#[tokio::test]
async fn sys_get_state_of_a_machine_that_hides_its_data_shows_the_state_alone() {
    let (machine, _) = probe().await;
    let text = noex::sys::get_status(machine.pid(), std::time::Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(text, "state: A");
}
