//! `noex::state_agent`, against what Elixir's `Agent` documents: the functions run
//! in the agent, one at a time, in the order they were asked; `get_and_update` reads
//! and writes in one step; `start` returns after the initial value is made; a
//! supervised agent that crashes starts again from its initial value.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use noex::state_agent::StateAgent;
use noex::supervisor::{self, SupervisorSpec};
use noex::{CallError, ExitReason, InitializationError, StartError};

mod support;
use support::{eventually, within};

#[tokio::test]
async fn agent_runs_the_functions_of_one_caller_in_the_order_asked() {
    let agent = StateAgent::start(Vec::new, None).await.unwrap();
    for n in 0..100 {
        if n % 2 == 0 {
            agent.cast(move |seen: &mut Vec<u32>| seen.push(n)).unwrap();
        } else {
            agent.update(move |seen| seen.push(n)).await.unwrap();
        }
    }
    let seen = agent.get(Vec::clone).await.unwrap();
    assert_eq!(seen, (0..100).collect::<Vec<_>>());
    agent.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_get_and_update_reads_and_writes_in_one_step() {
    let agent = StateAgent::start(|| 0_u32, None).await.unwrap();
    let callers: Vec<_> = (0..8)
        .map(|_| {
            let agent = agent.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                for _ in 0..250 {
                    got.push(
                        agent
                            .get_and_update(|n| {
                                *n += 1;
                                *n - 1
                            })
                            .await
                            .unwrap(),
                    );
                }
                got
            })
        })
        .collect();
    let mut all = Vec::new();
    for caller in callers {
        all.extend(caller.await.unwrap());
    }
    // Every value before an increment was seen by exactly one caller.
    all.sort_unstable();
    assert_eq!(all, (0..2000).collect::<Vec<_>>());
    assert_eq!(agent.get(|n| *n).await.unwrap(), 2000);
}

#[tokio::test]
async fn agent_start_returns_once_the_initial_value_is_made_in_the_agent() {
    let made = Arc::new(AtomicBool::new(false));
    let agent = StateAgent::start(
        {
            let made = made.clone();
            move || {
                made.store(true, Ordering::SeqCst);
                String::from("ready")
            }
        },
        Some("state_agent.init"),
    )
    .await
    .unwrap();
    assert!(made.load(Ordering::SeqCst));
    let found = StateAgent::<String>::lookup("state_agent.init").unwrap();
    assert_eq!(found.pid(), agent.pid());
    assert_eq!(found.get(String::clone).await.unwrap(), "ready");
}

#[tokio::test]
async fn agent_init_that_panics_fails_the_start() {
    let error = StateAgent::<u8>::start(|| panic!("no initial value"), None)
        .await
        .unwrap_err();
    let StartError::Initialization(InitializationError { reason, .. }) = error else {
        panic!("expected an initialization error, got {error:?}");
    };
    assert!(reason.contains("no initial value"), "{reason}");
}

#[tokio::test]
async fn agent_function_that_panics_crashes_it_and_its_supervisor_restarts_it_from_init() {
    let sup = supervisor::start(
        SupervisorSpec::one_for_one()
            .child(StateAgent::child_spec("visits", || 1_u64).name("state_agent.visits")),
    )
    .await
    .unwrap();
    let agent = StateAgent::<u64>::lookup("state_agent.visits").unwrap();
    agent.update(|visits| *visits += 41).await.unwrap();
    assert_eq!(agent.get(|visits| *visits).await.unwrap(), 42);

    let crashed = agent.get(|_| -> u64 { panic!("bad read") }).await;
    // As in Elixir, the caller hears the reason the agent crashed with.
    assert!(
        matches!(&crashed, Err(CallError::Exited { reason: ExitReason::Error(why), .. }) if &**why == "bad read"),
        "{crashed:?}"
    );
    let restarted = eventually("the agent is restarted", || async {
        StateAgent::<u64>::lookup("state_agent.visits")
            .ok()
            .filter(|again| again.pid() != agent.pid())
    })
    .await;
    assert_eq!(restarted.get(|visits| *visits).await.unwrap(), 1);
    assert_eq!(sup.child_info("visits").await.unwrap().unwrap().restarts, 1);
    sup.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_call_that_times_out_leaves_its_function_to_run_in_turn() {
    let agent = StateAgent::start(|| 0_u32, None).await.unwrap();
    let (release, held) = std::sync::mpsc::channel::<()>();
    // Holds the agent until released: the next caller cannot be answered in time.
    agent.cast(move |_| held.recv().expect("released")).unwrap();
    let late = agent
        .get_and_update_timeout(|n| std::mem::replace(n, 7), Duration::from_millis(20))
        .await;
    assert!(matches!(late, Err(CallError::Timeout(_))), "{late:?}");
    release.send(()).unwrap();
    // The timed-out caller's change was still made, in its turn.
    let value = within("the agent answers", agent.get(|n| *n))
        .await
        .unwrap();
    assert_eq!(value, 7);
}

#[tokio::test]
async fn agent_that_ended_refuses_casts_and_calls() {
    let agent = StateAgent::start(|| 0_u8, None).await.unwrap();
    agent.stop().await.unwrap();
    assert!(!agent.is_running());
    assert!(agent.cast(|n| *n += 1).is_err());
    let call = agent.get(|n| *n).await;
    assert!(matches!(call, Err(CallError::NotRunning(_))), "{call:?}");
}
