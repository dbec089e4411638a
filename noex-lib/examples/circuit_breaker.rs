//! A circuit breaker as a state machine (`noex::gen_statem`): calls go through
//! while it is closed; after three failures in a row it opens and refuses them
//! at once; a state timeout moves it to half-open after a while, where one trial
//! call decides: a success closes it, a failure opens it again.
//!
//! Run with `cargo run -p noex --example circuit_breaker`: a short run that exits.
//! The breaker runs under a supervisor, so `noex ps` shows it with its state while
//! it runs.

use std::time::Duration;

use noex::gen_statem::{self, Context, Event, GenStateMachine, StateMachineRef, Transition};
use noex::supervisor::{self, SupervisorSpec};

/// Failures in a row that open the breaker.
const MAX_FAILURES: u32 = 3;
/// How long the breaker stays open before it lets a trial call through.
const COOL_DOWN: Duration = Duration::from_millis(200);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Breaker {
    Closed { failures: u32 },
    Open,
    HalfOpen,
}

/// A call through the breaker: whether the service behind it would succeed (a
/// real breaker would make the call itself, or be told how it went).
struct Request {
    service_ok: bool,
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Done,
    Failed,
    /// Refused by the open breaker, without calling the service.
    Refused,
}

/// What the breaker's timeout carries: the end of the cool-down.
struct CoolDownOver;

struct CircuitBreaker;

impl GenStateMachine for CircuitBreaker {
    type State = Breaker;
    type Call = Request;
    type Cast = ();
    /// The outcome, and the state the breaker moves to with it.
    type Reply = (Outcome, Breaker);
    type Internal = CoolDownOver;

    fn state_enter() -> bool {
        true
    }

    async fn handle_event(
        &mut self,
        event: Event<Self>,
        state: &Breaker,
        _: &mut Context<'_, Self>,
    ) -> Transition<Self> {
        match (state, event) {
            (_, Event::Enter { old_state }) => {
                println!("breaker: {old_state:?} -> {state:?}");
                match state {
                    // Entering open starts the cool-down; leaving open cancels it.
                    Breaker::Open => {
                        Transition::keep_state().state_timeout(COOL_DOWN, CoolDownOver)
                    }
                    _ => Transition::keep_state(),
                }
            }
            (Breaker::Closed { failures }, Event::Call(request, reply)) => {
                let (outcome, next) = if request.service_ok {
                    (Outcome::Done, Breaker::Closed { failures: 0 })
                } else if failures + 1 >= MAX_FAILURES {
                    (Outcome::Failed, Breaker::Open)
                } else {
                    let failures = failures + 1;
                    (Outcome::Failed, Breaker::Closed { failures })
                };
                Transition::next_state(next.clone()).reply(reply, (outcome, next))
            }
            (Breaker::Open, Event::Call(_, reply)) => {
                Transition::keep_state().reply(reply, (Outcome::Refused, Breaker::Open))
            }
            (Breaker::Open, Event::StateTimeout(CoolDownOver)) => {
                Transition::next_state(Breaker::HalfOpen)
            }
            (Breaker::HalfOpen, Event::Call(request, reply)) => {
                let (outcome, next) = if request.service_ok {
                    (Outcome::Done, Breaker::Closed { failures: 0 })
                } else {
                    (Outcome::Failed, Breaker::Open)
                };
                Transition::next_state(next.clone()).reply(reply, (outcome, next))
            }
            _ => Transition::keep_state(),
        }
    }
}

async fn call(breaker: &StateMachineRef<CircuitBreaker>, service_ok: bool) -> Outcome {
    let (outcome, next) = breaker
        .call(Request { service_ok })
        .await
        .expect("the breaker answers");
    println!(
        "call (service {}): {outcome:?}, now {next:?}",
        if service_ok { "up" } else { "down" }
    );
    outcome
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let spec = gen_statem::child_spec("breaker", || {
        (CircuitBreaker, Breaker::Closed { failures: 0 })
    })
    .name("breaker");
    let app = supervisor::start(SupervisorSpec::one_for_one().child(spec)).await?;
    let breaker = StateMachineRef::<CircuitBreaker>::lookup("breaker")?;

    assert_eq!(call(&breaker, true).await, Outcome::Done);
    for _ in 0..MAX_FAILURES {
        assert_eq!(call(&breaker, false).await, Outcome::Failed);
    }
    // Open: refused at once, even though the service is back.
    assert_eq!(call(&breaker, true).await, Outcome::Refused);

    tokio::time::sleep(COOL_DOWN * 2).await;
    // Half-open: one trial call that fails opens it again.
    assert_eq!(call(&breaker, false).await, Outcome::Failed);
    assert_eq!(call(&breaker, true).await, Outcome::Refused);

    tokio::time::sleep(COOL_DOWN * 2).await;
    // Half-open again: a trial call that succeeds closes it.
    assert_eq!(call(&breaker, true).await, Outcome::Done);
    // What `noex ps` shows. The reply comes before the machine moves to its next
    // state, as in OTP, so the move may still be under way.
    for _ in 0..100 {
        if gen_statem::current_state(breaker.pid()).as_deref() == Some("Closed { failures: 0 }") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        gen_statem::current_state(breaker.pid()).as_deref(),
        Some("Closed { failures: 0 }")
    );
    println!("closed again after a successful trial");

    app.stop().await?;
    Ok(())
}
