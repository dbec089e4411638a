//! The circuit breaker, a state machine in front of a flaky upstream, and the
//! flaky client that talks to the upstream through it.

use std::time::Duration;

use noex::gen_server::{Context, GenServer, Info, Reply};
use noex::gen_statem::{self, Event, GenStateMachine, StateMachineRef, Transition};
use tokio::time::Instant;

use super::tick::tick_every;

/// The circuit breaker's states, as `noex ps` shows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Circuit {
    /// Requests go through to the upstream.
    Closed,
    /// Too many failures in a row: requests are refused at once, until the
    /// cool-down is over.
    Open,
    /// The cool-down is over: the next request is a trial that decides.
    HalfOpen,
}

/// Failures in a row that open the breaker.
const MAX_FAILURES: u32 = 3;
/// How long the breaker stays open before it lets a trial request through.
const COOL_DOWN: Duration = Duration::from_secs(3);

/// A request to the upstream, through the breaker.
pub(super) struct UpstreamRequest;

/// How a request through the breaker went.
#[derive(Debug)]
pub(super) enum Outcome {
    Answered,
    Failed(&'static str),
    /// Refused by the open breaker, without asking the upstream.
    Refused,
}

/// What the breaker's state timeout carries: the end of the cool-down.
pub(super) struct CoolDownOver;

/// A circuit breaker in front of the flaky upstream: it stops sending requests
/// to an upstream that keeps failing, and tries again after a cool-down.
pub(super) struct CircuitBreaker {
    upstream: Upstream,
    failures: u32,
}

impl CircuitBreaker {
    pub(super) fn new(chaos: bool) -> Self {
        CircuitBreaker {
            upstream: Upstream::new(chaos),
            failures: 0,
        }
    }

    /// Open, refusing requests until the cool-down is over.
    fn open(outcome: Outcome, reply: noex::gen_server::ReplyTo<Outcome>) -> Transition<Self> {
        Transition::next_state(Circuit::Open)
            .state_timeout(COOL_DOWN, CoolDownOver)
            .reply(reply, outcome)
    }
}

impl GenStateMachine for CircuitBreaker {
    type State = Circuit;
    type Call = UpstreamRequest;
    type Cast = ();
    type Reply = Outcome;
    type Internal = CoolDownOver;

    async fn handle_event(
        &mut self,
        event: Event<Self>,
        state: &Circuit,
        _: &mut gen_statem::Context<'_, Self>,
    ) -> Transition<Self> {
        match (state, event) {
            (Circuit::Open, Event::Call(UpstreamRequest, reply)) => {
                Transition::keep_state().reply(reply, Outcome::Refused)
            }
            (Circuit::Open, Event::StateTimeout(CoolDownOver)) => {
                Transition::next_state(Circuit::HalfOpen)
            }
            (Circuit::Closed | Circuit::HalfOpen, Event::Call(UpstreamRequest, reply)) => {
                match self.upstream.request() {
                    Ok(()) => {
                        self.failures = 0;
                        Transition::next_state(Circuit::Closed).reply(reply, Outcome::Answered)
                    }
                    // The trial failed: the upstream is still down.
                    Err(error) if *state == Circuit::HalfOpen => {
                        Self::open(Outcome::Failed(error), reply)
                    }
                    Err(error) => {
                        self.failures += 1;
                        if self.failures >= MAX_FAILURES {
                            self.failures = 0;
                            Self::open(Outcome::Failed(error), reply)
                        } else {
                            Transition::keep_state().reply(reply, Outcome::Failed(error))
                        }
                    }
                }
            }
            _ => Transition::keep_state(),
        }
    }
}

/// The flaky upstream, simulated: with chaos it has outages now and then, a few
/// seconds each, during which every request to it fails.
struct Upstream {
    chaos: bool,
    down_until: Option<Instant>,
}

impl Upstream {
    pub(super) fn new(chaos: bool) -> Self {
        Upstream {
            chaos,
            down_until: None,
        }
    }

    fn request(&mut self) -> Result<(), &'static str> {
        let now = Instant::now();
        if self.down_until.is_some_and(|until| now < until) {
            return Err("upstream unavailable (simulated outage)");
        }
        self.down_until = None;
        // About one outage in 25 seconds at four requests a second, 1 to 8 s long.
        if self.chaos && fastrand::u32(..100) == 0 {
            self.down_until = Some(now + Duration::from_millis(fastrand::u64(1_000..8_000)));
            return Err("upstream unavailable (simulated outage)");
        }
        Ok(())
    }
}

/// Talks to the flaky upstream through the breaker; now and then it loses its
/// connection and crashes.
#[derive(Debug)]
pub(super) struct Flaky {
    chaos: bool,
    calls: u64,
    answered: u64,
    failed: u64,
    refused: u64,
    last_failure: Option<&'static str>,
}

impl Flaky {
    pub(super) fn new(chaos: bool) -> Self {
        Flaky {
            chaos,
            calls: 0,
            answered: 0,
            failed: 0,
            refused: 0,
            last_failure: None,
        }
    }
}

impl GenServer for Flaky {
    type Call = ();
    type Cast = ();
    type Reply = u64;

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        tick_every(ctx, Duration::from_millis(250));
        Ok(())
    }

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<u64> {
        Reply::Now(self.calls)
    }

    async fn handle_info(&mut self, _: Info, ctx: &mut Context<Self>) {
        self.calls += 1;
        // About once every 12 seconds.
        if self.chaos && fastrand::u32(..48) == 0 {
            panic!(
                "lost connection to upstream after {} calls (simulated)",
                self.calls
            );
        }
        if let Ok(breaker) = StateMachineRef::<CircuitBreaker>::lookup("breaker") {
            match breaker.call(UpstreamRequest).await {
                Ok(Outcome::Answered) => self.answered += 1,
                Ok(Outcome::Failed(error)) => {
                    self.failed += 1;
                    self.last_failure = Some(error);
                }
                Ok(Outcome::Refused) => self.refused += 1,
                // The breaker is restarting: try again on the next tick.
                Err(_) => {}
            }
        }
        tick_every(ctx, Duration::from_millis(250));
    }

    // Nothing secret: `noex state flaky` shows it.
    fn format_status(&self) -> Option<String> {
        Some(format!("{self:#?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use noex::ExitReason;
    use noex::gen_server::StartOptions;

    async fn request(breaker: &StateMachineRef<CircuitBreaker>) -> Outcome {
        breaker
            .call(UpstreamRequest)
            .await
            .expect("the breaker answers")
    }

    /// The classic breaker: closed until failures in a row open it; open refuses
    /// at once; the state timeout half-opens it; one trial decides.
    #[tokio::test(start_paused = true)]
    async fn the_breaker_opens_on_failures_and_a_trial_after_the_cool_down_decides() {
        // No agent socket from a unit test; nothing else in this binary starts one.
        noex::agent::disable();
        let outage = Duration::from_secs(4);
        let mut machine = CircuitBreaker::new(false);
        machine.upstream.down_until = Some(Instant::now() + outage);
        let breaker = gen_statem::start(machine, Circuit::Closed, StartOptions::new())
            .await
            .unwrap();
        let state = || gen_statem::current_state(breaker.pid());

        for _ in 0..MAX_FAILURES {
            assert_eq!(state().as_deref(), Some("Closed"));
            assert!(matches!(request(&breaker).await, Outcome::Failed(_)));
        }
        assert_eq!(state().as_deref(), Some("Open"));
        assert!(matches!(request(&breaker).await, Outcome::Refused));

        // Past the cool-down, the upstream still down: the trial fails, open again.
        tokio::time::sleep(COOL_DOWN + Duration::from_millis(10)).await;
        assert_eq!(state().as_deref(), Some("HalfOpen"));
        assert!(matches!(request(&breaker).await, Outcome::Failed(_)));
        assert_eq!(state().as_deref(), Some("Open"));

        // The outage is over by the next trial: it closes the breaker.
        tokio::time::sleep(COOL_DOWN + Duration::from_millis(10)).await;
        assert!(COOL_DOWN * 2 > outage);
        assert_eq!(state().as_deref(), Some("HalfOpen"));
        assert!(matches!(request(&breaker).await, Outcome::Answered));
        assert_eq!(state().as_deref(), Some("Closed"));
        breaker.stop(ExitReason::Normal).await.unwrap();
    }
}
