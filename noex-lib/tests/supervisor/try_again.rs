//! OTP's `try_again_restart`: a restart whose start fails is tried again through
//! the supervisor's mailbox, and every attempt counts toward the intensity.

use std::sync::Arc;
use std::time::Duration;

use noex::gen_server::{Context, GenServer, Reply};
use noex::registry;
use noex::supervisor::{self, ChildSpec, SupervisorSpec};
use noex::{ExitReason, SupervisorError};

use crate::support::within;
use crate::worker::*;

/// A worker whose next `fails` starts fail in `init`.
struct Fragile {
    fails: Arc<std::sync::atomic::AtomicU32>,
}

impl GenServer for Fragile {
    type Call = ();
    type Cast = ();
    type Reply = ();

    async fn init(&mut self, _: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        let left = self.fails.load(std::sync::atomic::Ordering::SeqCst);
        if left > 0 {
            self.fails
                .store(left - 1, std::sync::atomic::Ordering::SeqCst);
            return Err("not yet".into());
        }
        Ok(())
    }

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }
}

fn fragile(name: &str, fails: &Arc<std::sync::atomic::AtomicU32>) -> ChildSpec<Fragile> {
    let fails = fails.clone();
    ChildSpec::worker("a", move || Fragile {
        fails: fails.clone(),
    })
    .name(name)
}

/// Kill the running instance registered as `name`; returns once it has ended.
async fn kill_named(name: &str) {
    let server = registry::lookup::<Fragile>(name).unwrap();
    server.kill();
    server.wait().await;
}

/// OTP's `try_again_restart`: a restart whose start fails counts toward the
/// intensity and is tried again through the supervisor's own mailbox, so a request
/// that came meanwhile is answered between attempts, and sees the child restarting.
#[tokio::test(start_paused = true)]
async fn try_again_a_failed_restart_is_retried_through_the_mailbox() {
    let fails = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let sup = supervisor::start(
        SupervisorSpec::one_for_one()
            .max_restarts(10, Duration::from_secs(60))
            .child(fragile("try-again.retried", &fails)),
    )
    .await
    .unwrap();
    let mut events = noex::events::subscribe();
    fails.store(5, std::sync::atomic::Ordering::SeqCst);
    kill_named("try-again.retried").await;
    // The Exit is queued before this call: the first attempt has failed when it is
    // answered, and the retry is queued behind it.
    let child = sup.children().await.unwrap().remove(0);
    assert_eq!(child.pid, None, "restarting");
    // OTP's which_children shows `restarting`; each failed attempt (of the five that
    // fail) counts.
    assert_eq!(child.status, noex::supervisor::ChildStatus::Restarting);
    assert!((1..=5).contains(&child.restarts), "{}", child.restarts);
    assert!(matches!(
        sup.restart_child("a").await,
        Err(SupervisorError::Restarting { ref id }) if id == "a"
    ));
    assert!(matches!(
        sup.delete_child("a").await,
        Err(SupervisorError::Restarting { .. })
    ));
    // Attempts 1 to 5 fail; the 6th starts it.
    let restarted = within("the restart", async {
        loop {
            let event = events.recv().await.expect("no lag");
            if event.parent == Some(sup.pid())
                && matches!(event.kind, noex::events::EventKind::Restarted { .. })
            {
                break event;
            }
        }
    })
    .await;
    assert!(matches!(
        restarted.kind,
        noex::events::EventKind::Restarted { attempt: 6 }
    ));
    assert_eq!(pids(&sup).await, vec![Some(restarted.pid)]);
    assert!(sup.is_running());
}

/// Each failed attempt counts toward the intensity: a child that never starts
/// exhausts it, and the supervisor gives up instead of looping.
#[tokio::test(start_paused = true)]
async fn try_again_attempts_count_toward_the_intensity() {
    let fails = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let sup = supervisor::start(
        SupervisorSpec::one_for_one()
            .max_restarts(3, Duration::from_secs(60))
            .child(fragile("try-again.counted", &fails)),
    )
    .await
    .unwrap();
    fails.store(u32::MAX, std::sync::atomic::Ordering::SeqCst);
    kill_named("try-again.counted").await;
    assert_eq!(
        within("the supervisor gives up", sup.wait()).await,
        ExitReason::MaxRestartsExceeded(noex::MaxRestartsExceededError {
            max_restarts: 3,
            within: Duration::from_secs(60)
        })
    );
    assert_eq!(
        fails.load(std::sync::atomic::Ordering::SeqCst),
        u32::MAX - 3,
        "three attempts, then the fourth restart exceeded the intensity"
    );
}

/// A child terminated while its restart is pending is left alone by the retry.
#[tokio::test(start_paused = true)]
async fn try_again_stops_once_the_child_is_terminated() {
    let fails = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let sup = supervisor::start(
        SupervisorSpec::one_for_one()
            .max_restarts(100, Duration::from_secs(60))
            .child(fragile("try-again.terminated", &fails)),
    )
    .await
    .unwrap();
    fails.store(u32::MAX, std::sync::atomic::Ordering::SeqCst);
    kill_named("try-again.terminated").await;
    sup.terminate_child("a").await.unwrap();
    let attempts = u32::MAX - fails.load(std::sync::atomic::Ordering::SeqCst);
    // Let any retry already queued run: none starts another attempt.
    for _ in 0..10 {
        sup.count_children().await.unwrap();
    }
    assert_eq!(
        u32::MAX - fails.load(std::sync::atomic::Ordering::SeqCst),
        attempts
    );
    assert_eq!(pids(&sup).await, vec![None]);
    assert!(sup.is_running());
    fails.store(0, std::sync::atomic::Ordering::SeqCst);
    let pid = sup
        .restart_child("a")
        .await
        .expect("stopped, so restartable");
    assert_eq!(registry::whereis("try-again.terminated"), Some(pid));
}

/// A dynamic child that registers itself under the name it is given, fails its next
/// `fails` starts, and crashes when called.
struct Dynamic {
    name: String,
    fails: Arc<std::sync::atomic::AtomicU32>,
}

impl GenServer for Dynamic {
    type Call = ();
    type Cast = ();
    type Reply = ();

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        let left = self.fails.load(std::sync::atomic::Ordering::SeqCst);
        if left > 0 {
            self.fails
                .store(left - 1, std::sync::atomic::Ordering::SeqCst);
            return Err("not yet".into());
        }
        registry::register(&self.name, &ctx.myself())?;
        Ok(())
    }

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        panic!("crash on call");
    }
}

/// OTP's `terminate_child(Sup, Pid)` in a simple_one_for_one supervisor finds a
/// running child by its pid, or one whose restart from that pid is pending
/// (`{restarting, Pid}`); any other live pid is `not_found`, even while a child
/// restarts.
#[tokio::test(start_paused = true)]
async fn try_again_a_restarting_dynamic_child_is_found_by_its_old_pid_only() {
    type Arg = (String, Arc<std::sync::atomic::AtomicU32>);
    let sup = supervisor::start(
        SupervisorSpec::simple_one_for_one(ChildSpec::worker_with("d", |(name, fails): &Arg| {
            Dynamic {
                name: name.clone(),
                fails: fails.clone(),
            }
        }))
        .max_restarts(100, Duration::from_secs(60)),
    )
    .await
    .unwrap();
    let steady: Arg = ("try-again.steady".into(), Arc::default());
    let failing: Arg = ("try-again.failing".into(), Arc::default());
    let steady_pid = sup.start_child_with(steady).await.unwrap();
    let failing_pid = sup.start_child_with(failing.clone()).await.unwrap();

    failing
        .1
        .store(u32::MAX, std::sync::atomic::Ordering::SeqCst);
    let crashing = registry::lookup::<Dynamic>("try-again.failing").unwrap();
    let _ = crashing.call(()).await;
    within("the crash", crashing.wait()).await;
    assert_eq!(pids(&sup).await, vec![Some(steady_pid), None], "restarting");

    // A live process that is not its child: not_found. (A dead pid would be `ok`:
    // OTP's find_child takes it for a child that has already ended.)
    let outsider = noex::gen_server::start(crate::support::Idle, Default::default())
        .await
        .unwrap();
    let outcome = sup.terminate_child(outsider.pid()).await;
    assert!(
        matches!(outcome, Err(SupervisorError::ChildNotFound(_))),
        "{outcome:?}"
    );
    assert_eq!(pids(&sup).await, vec![Some(steady_pid), None]);
    sup.terminate_child(failing_pid).await.unwrap();
    assert_eq!(pids(&sup).await, vec![Some(steady_pid)]);
}
