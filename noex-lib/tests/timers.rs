//! Timers a server sets for itself, under tokio's paused clock: OTP's
//! `{noreply, State, Timeout}` (here `Context::idle_timeout`), `send_after` and
//! `timer:send_interval`, each with its cancellation.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use noex::gen_server::{
    self, Context, GenServer, IdleTimeout, Info, Reply, StartOptions, TimerRef,
};
use tokio::time::Instant;

// Its agent directory of its own (see `support::sandbox`).
mod support;

const MS: Duration = Duration::from_millis(1);

/// What the server heard in `handle_info`, and when (from the test's start).
type Heard = Arc<Mutex<Vec<(Duration, &'static str)>>>;

enum Ask {
    /// Ask for an idle timeout of that many milliseconds.
    Idle(u64),
    /// A message that asks for nothing.
    Ping,
    /// Start an interval of that many milliseconds.
    Every(u64),
    CancelInterval,
    /// `send_after` a tick in that many milliseconds.
    After(u64),
}

#[derive(Clone)]
struct Tick;

struct Timed {
    started: Instant,
    heard: Heard,
    interval: Option<TimerRef>,
}

impl GenServer for Timed {
    type Call = ();
    type Cast = Ask;
    type Reply = ();

    async fn handle_call(&mut self, (): (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }

    async fn handle_cast(&mut self, ask: Ask, ctx: &mut Context<Self>) {
        match ask {
            Ask::Idle(ms) => {
                ctx.idle_timeout(Duration::from_millis(ms));
                (self.heard.lock().unwrap()).push((self.started.elapsed(), "arm"));
            }
            Ask::Ping => {}
            Ask::Every(ms) => {
                self.interval = Some(ctx.send_interval(Duration::from_millis(ms), Tick))
            }
            Ask::CancelInterval => self.interval.take().expect("an interval").cancel(),
            Ask::After(ms) => drop(ctx.send_after(Duration::from_millis(ms), Tick)),
        }
    }

    async fn handle_info(&mut self, message: Info, _: &mut Context<Self>) {
        let what = if message.is::<IdleTimeout>() {
            "idle"
        } else if message.is::<Tick>() {
            "tick"
        } else {
            "other"
        };
        (self.heard.lock().unwrap()).push((self.started.elapsed(), what));
    }
}

async fn timed() -> (noex::ServerRef<Timed>, Heard) {
    let heard = Heard::default();
    let server = Timed {
        started: Instant::now(),
        heard: heard.clone(),
        interval: None,
    };
    (
        gen_server::start(server, StartOptions::new())
            .await
            .unwrap(),
        heard,
    )
}

fn heard(heard: &Heard) -> Vec<(u64, &'static str)> {
    let heard = heard.lock().unwrap();
    (heard.iter())
        .map(|(at, what)| (at.as_millis() as u64, *what))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn idle_timeout_fires_once_when_no_message_arrives_in_time() {
    let (server, log) = timed().await;
    server.cast(Ask::Idle(100)).unwrap();
    tokio::time::sleep(1000 * MS).await;
    assert_eq!(heard(&log), [(0, "arm"), (100, "idle")]);
}

#[tokio::test(start_paused = true)]
async fn idle_timeout_is_cancelled_by_any_message_that_arrives_first() {
    let (server, log) = timed().await;
    server.cast(Ask::Idle(100)).unwrap();
    tokio::time::sleep(50 * MS).await;
    server.cast(Ask::Ping).unwrap();
    tokio::time::sleep(1000 * MS).await;
    assert_eq!(heard(&log), [(0, "arm")]);
    // A call cancels it too.
    server.cast(Ask::Idle(100)).unwrap();
    tokio::time::sleep(50 * MS).await;
    server.call(()).await.unwrap();
    tokio::time::sleep(1000 * MS).await;
    assert_eq!(heard(&log), [(0, "arm"), (1050, "arm")]);
}

#[tokio::test(start_paused = true)]
async fn idle_timeout_counts_from_the_last_handler_that_asked() {
    let (server, log) = timed().await;
    server.cast(Ask::Idle(100)).unwrap();
    tokio::time::sleep(60 * MS).await;
    server.cast(Ask::Idle(100)).unwrap();
    tokio::time::sleep(1000 * MS).await;
    assert_eq!(heard(&log), [(0, "arm"), (60, "arm"), (160, "idle")]);
}

#[tokio::test(start_paused = true)]
async fn idle_timeout_that_fired_behind_a_newer_request_is_not_delivered() {
    let (server, log) = timed().await;
    server.cast(Ask::Idle(100)).unwrap();
    // Asks again just as the first runs out: whichever is queued first, an idle
    // timeout heard after the second request is the second's, 100 ms after it.
    tokio::time::sleep(100 * MS).await;
    server.cast(Ask::Idle(100)).unwrap();
    tokio::time::sleep(1000 * MS).await;
    let heard = heard(&log);
    let second = heard.iter().rposition(|&(_, what)| what == "arm").unwrap();
    assert_eq!(heard[second..], [(100, "arm"), (200, "idle")], "{heard:?}");
}

#[tokio::test(start_paused = true)]
async fn send_interval_delivers_every_period_until_cancelled() {
    let (server, log) = timed().await;
    server.cast(Ask::Every(100)).unwrap();
    tokio::time::sleep(350 * MS).await;
    server.cast(Ask::CancelInterval).unwrap();
    tokio::time::sleep(1000 * MS).await;
    assert_eq!(heard(&log), [(100, "tick"), (200, "tick"), (300, "tick")]);
}

#[tokio::test(start_paused = true)]
async fn idle_timeout_ends_with_its_server() {
    let (server, log) = timed().await;
    server.cast(Ask::Idle(60_000)).unwrap();
    tokio::time::sleep(10 * MS).await;
    // Killed while it waits: no message cancels the timer.
    server.kill();
    server.wait().await;
    tokio::task::yield_now().await;
    let tasks = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    assert_eq!(tasks, 0, "no idle timer is left waiting");
    assert_eq!(heard(&log), [(0, "arm")]);
}

#[tokio::test(start_paused = true)]
async fn send_interval_ends_with_its_server() {
    let (server, log) = timed().await;
    server.cast(Ask::Every(100)).unwrap();
    tokio::time::sleep(150 * MS).await;
    server.stop(noex::ExitReason::Normal).await.unwrap();
    // Nothing is left to tick: the runtime has no timer to wait for.
    tokio::time::sleep(1000 * MS).await;
    assert_eq!(heard(&log), [(100, "tick")]);
    let tasks = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    assert_eq!(tasks, 0, "the interval's task is gone");
}

/// What the Observer shows of `server`: its STATE column.
fn shown_state(server: &noex::ServerRef<Timed>) -> Option<String> {
    noex::observer::snapshot()
        .servers
        .into_iter()
        .find(|info| info.pid == server.pid())
        .expect("the server is running")
        .state
}

#[tokio::test(start_paused = true)]
async fn pending_timers_show_in_the_observer_until_they_fire_or_are_cancelled() {
    let (server, _) = timed().await;
    assert_eq!(shown_state(&server), None, "no timer yet");

    server.cast(Ask::Every(1000)).unwrap();
    server.cast(Ask::After(300)).unwrap();
    server.call(()).await.unwrap();
    assert_eq!(
        shown_state(&server).as_deref(),
        Some("2 timers, next in 300 ms")
    );

    tokio::time::sleep(400 * MS).await;
    server.call(()).await.unwrap();
    assert_eq!(
        shown_state(&server).as_deref(),
        Some("1 timer, next in 600 ms"),
        "the one-shot fired; the interval is due at 1 s"
    );

    tokio::time::sleep(1000 * MS).await;
    server.call(()).await.unwrap();
    assert_eq!(
        shown_state(&server).as_deref(),
        Some("1 timer, next in 600 ms"),
        "an interval is pending again a period after each tick"
    );

    server.cast(Ask::CancelInterval).unwrap();
    server.call(()).await.unwrap();
    support::eventually("the cancelled interval to leave the list", || async {
        shown_state(&server).is_none().then_some(())
    })
    .await;
}
