//! A state machine written as a GenServer: a door with a code lock. Its states are
//! explicit (locked, open, blocked), events come as calls (enter a code, lock) and
//! casts (the fire alarm), timers move it on by themselves (an open door locks
//! itself again; three wrong codes block the keypad for a while), and an event the
//! current state does not accept is answered with an error, the state unchanged.
//!
//! Run with `cargo run -p noex --example state_machine`: a short run that exits.
//! With `-- --forever` visitors keep trying codes (and the door's sensor fails now
//! and then, a crash its supervisor answers) until Ctrl-C; watch it from another
//! terminal with `noex top` (or `noex tree`).

use std::fmt;
use std::time::Duration;

use noex::gen_server::{Context, GenServer, Info, NamedRef, Reply, ReplyTo, TimerRef};
use noex::supervisor::{self, ChildSpec, SupervisorSpec};

const CODE: &str = "1234";
/// Wrong codes in a row that block the keypad.
const MAX_WRONG: u32 = 3;
const AUTO_LOCK: Duration = Duration::from_millis(300);
const BLOCKED_FOR: Duration = Duration::from_millis(400);

/// Where the door is: what callers see of its state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Locked,
    Open,
    Blocked,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Locked => "locked",
            Phase::Open => "open",
            Phase::Blocked => "blocked",
        })
    }
}

/// The state with what each phase needs: the count of wrong codes while locked,
/// and the timer that ends the phase while open or blocked.
enum State {
    Locked {
        wrong: u32,
    },
    /// `None`: held open (by the fire alarm) until someone locks it.
    Open {
        auto_lock: Option<TimerRef>,
    },
    Blocked {
        unblock: TimerRef,
    },
}

impl State {
    fn phase(&self) -> Phase {
        match self {
            State::Locked { .. } => Phase::Locked,
            State::Open { .. } => Phase::Open,
            State::Blocked { .. } => Phase::Blocked,
        }
    }
}

#[derive(Debug)]
enum DoorError {
    WrongCode {
        tries_left: u32,
    },
    /// The event is not one the current phase accepts.
    NotNow {
        phase: Phase,
        event: &'static str,
    },
}

impl fmt::Display for DoorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DoorError::WrongCode { tries_left: 0 } => {
                write!(f, "wrong code; the keypad is blocked for {BLOCKED_FOR:?}")
            }
            DoorError::WrongCode { tries_left } => {
                write!(f, "wrong code ({tries_left} tries left)")
            }
            DoorError::NotNow { phase, event } => write!(f, "cannot {event}: the door is {phase}"),
        }
    }
}

type Answer = Result<Phase, DoorError>;

/// Calls: each carries the handle its answer goes back through, typed.
enum DoorCall {
    Enter(String, ReplyTo<Answer>),
    Lock(ReplyTo<Answer>),
    Status(ReplyTo<Phase>),
    /// Answered once the door is in this phase: at once if it is already.
    When(Phase, ReplyTo<Phase>),
}

/// Casts: events nobody waits an answer for.
enum DoorCast {
    FireAlarm,
    SensorFault,
}

/// A timer's message. It names the state it was set for: one that fires after the
/// door has moved on (cancelling is best effort) is recognised and ignored.
struct Timeout {
    entered: u64,
}

struct Door {
    state: State,
    /// Counts the states entered, so a timeout knows whether its state is current.
    entered: u64,
    waiting: Vec<(Phase, ReplyTo<Phase>)>,
}

impl Door {
    fn new() -> Self {
        Door {
            state: State::Locked { wrong: 0 },
            entered: 0,
            waiting: Vec::new(),
        }
    }

    /// A timer for the state about to be entered.
    fn timer(&self, ctx: &Context<Self>, after: Duration) -> TimerRef {
        let entered = self.entered + 1;
        ctx.send_after(after, Timeout { entered })
    }

    /// Leave the current state for `next`: cancel what belonged to the old one, and
    /// answer whoever waited for the new phase.
    fn go(&mut self, next: State, why: &str) -> Phase {
        let from = self.state.phase();
        match std::mem::replace(&mut self.state, next) {
            State::Open {
                auto_lock: Some(timer),
            }
            | State::Blocked { unblock: timer } => timer.cancel(),
            State::Open { auto_lock: None } | State::Locked { .. } => {}
        }
        self.entered += 1;
        let to = self.state.phase();
        println!("  door: {from} -> {to} ({why})");
        let (ready, waiting) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|(phase, _)| *phase == to);
        self.waiting = waiting;
        for (_, reply) in ready {
            reply.reply(to);
        }
        to
    }

    fn enter(&mut self, code: &str, ctx: &Context<Self>) -> Answer {
        let State::Locked { wrong } = self.state else {
            let phase = self.state.phase();
            let event = "enter a code";
            return Err(DoorError::NotNow { phase, event });
        };
        if code == CODE {
            let auto_lock = Some(self.timer(ctx, AUTO_LOCK));
            return Ok(self.go(State::Open { auto_lock }, "the code is right"));
        }
        let wrong = wrong + 1;
        if wrong == MAX_WRONG {
            let unblock = self.timer(ctx, BLOCKED_FOR);
            self.go(State::Blocked { unblock }, "too many wrong codes");
        } else {
            self.state = State::Locked { wrong };
        }
        let tries_left = MAX_WRONG - wrong;
        Err(DoorError::WrongCode { tries_left })
    }

    fn lock(&mut self) -> Answer {
        match self.state {
            State::Open { .. } => Ok(self.go(State::Locked { wrong: 0 }, "locked by hand")),
            _ => {
                let phase = self.state.phase();
                Err(DoorError::NotNow {
                    phase,
                    event: "lock",
                })
            }
        }
    }
}

impl GenServer for Door {
    type Call = DoorCall;
    type Cast = DoorCast;
    type Reply = ();

    async fn handle_call(&mut self, call: DoorCall, ctx: &mut Context<Self>) -> Reply<()> {
        match call {
            DoorCall::Enter(code, reply) => {
                reply.reply(self.enter(&code, ctx));
            }
            DoorCall::Lock(reply) => {
                reply.reply(self.lock());
            }
            DoorCall::Status(reply) => {
                reply.reply(self.state.phase());
            }
            DoorCall::When(phase, reply) if phase == self.state.phase() => {
                reply.reply(phase);
            }
            DoorCall::When(phase, reply) => self.waiting.push((phase, reply)),
        }
        Reply::Now(())
    }

    async fn handle_cast(&mut self, event: DoorCast, _: &mut Context<Self>) {
        match event {
            // Whatever the state: open, and stay open.
            DoorCast::FireAlarm => {
                self.go(State::Open { auto_lock: None }, "fire alarm");
            }
            // The supervisor restarts the door in its first state: locked.
            DoorCast::SensorFault => panic!("door sensor fault"),
        }
    }

    async fn handle_info(&mut self, message: Info, _: &mut Context<Self>) {
        let Ok(timeout) = message.downcast::<Timeout>() else {
            return;
        };
        if timeout.entered != self.entered {
            return; // set for a state the door has already left
        }
        match self.state {
            State::Open { .. } => self.go(State::Locked { wrong: 0 }, "auto-lock"),
            State::Blocked { .. } => self.go(State::Locked { wrong: 0 }, "keypad unblocked"),
            State::Locked { .. } => return,
        };
    }
}

/// A visitor at the keypad: enter a code, print what the door said.
async fn enter(door: &NamedRef<Door>, code: &str) -> Result<(), noex::CallError> {
    println!("enter {code}");
    match door
        .request(|reply| DoorCall::Enter(code.to_string(), reply))
        .await?
    {
        Ok(phase) => println!("  = {phase}"),
        Err(error) => println!("  ! {error}"),
    }
    Ok(())
}

async fn lock(door: &NamedRef<Door>) -> Result<(), noex::CallError> {
    println!("lock");
    match door.request(DoorCall::Lock).await? {
        Ok(phase) => println!("  = {phase}"),
        Err(error) => println!("  ! {error}"),
    }
    Ok(())
}

/// Wait until the door is `phase` again (a timer will get it there).
async fn until(door: &NamedRef<Door>, phase: Phase) -> Result<(), noex::CallError> {
    println!("wait until {phase}");
    door.request(|reply| DoorCall::When(phase, reply)).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let forever = std::env::args().any(|arg| arg == "--forever");
    let sup = supervisor::start(
        SupervisorSpec::one_for_one()
            .name("door_sup")
            .max_restarts(5, Duration::from_secs(10))
            .child(ChildSpec::worker("front_door", Door::new).name("front_door")),
    )
    .await?;
    // The child by its id: this handle reaches every instance the supervisor starts.
    let door = sup.child::<Door>("front_door");
    println!("the door is {}", door.request(DoorCall::Status).await?);

    if forever {
        println!("running until Ctrl-C; watch it with `noex top`");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = visitors(&door) => {}
        }
    } else {
        enter(&door, "0000").await?;
        enter(&door, CODE).await?;
        enter(&door, CODE).await?; // not while open
        lock(&door).await?;
        lock(&door).await?; // not while locked

        enter(&door, CODE).await?;
        until(&door, Phase::Locked).await?; // the auto-lock timer
        for code in ["1111", "2222", "3333", CODE] {
            enter(&door, code).await?;
        }
        until(&door, Phase::Locked).await?; // the block's timer

        println!("fire alarm (a cast)");
        door.cast(DoorCast::FireAlarm)?;
        until(&door, Phase::Open).await?;

        println!("sensor fault (a cast): the door crashes");
        let crashed = door.resolve()?;
        crashed.cast(DoorCast::SensorFault)?;
        println!("  {} exited: {}", crashed.pid(), crashed.wait().await);
        // The same handle: it waits for the restarted door.
        let status = door.request(DoorCall::Status).await?;
        let restarts = sup
            .child_info("front_door")
            .await?
            .map_or(0, |c| c.restarts);
        println!("  the door is {status} again, its first state (restarts={restarts})");
    }

    sup.stop().await?;
    Ok(())
}

/// The `--forever` load: a visitor every 150 ms, in a round of twelve: codes right
/// and wrong, a lock, idle turns for the timers to fire; a fire alarm every 50 turns,
/// and a sensor fault (a crash) every 40 (6 s).
async fn visitors(door: &NamedRef<Door>) {
    let mut tick = tokio::time::interval(Duration::from_millis(150));
    for n in 1u64.. {
        tick.tick().await;
        let code = match n % 12 {
            _ if n.is_multiple_of(40) => {
                let _ = door.cast(DoorCast::SensorFault);
                continue;
            }
            _ if n.is_multiple_of(50) => {
                let _ = door.cast(DoorCast::FireAlarm);
                continue;
            }
            0 => {
                if let Err(error) = door.request(DoorCall::Lock).await {
                    println!("visitor {n}: {error}");
                }
                continue;
            }
            5 => "1111",
            6 => "2222",
            7 => "3333",
            1 | 3 | 8 | 11 => CODE,
            _ => continue, // nobody: the timers move the door
        };
        let entered = door.request(|reply| DoorCall::Enter(code.to_string(), reply));
        if let Err(error) = entered.await {
            println!("visitor {n}: {error}");
        }
    }
}
