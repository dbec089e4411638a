//! Handles that outlive restarts (`NamedRef`), typed children, and what `children()`
//! says of each child. OTP's rules: a call by registered name goes to whichever
//! process has the name when it is made (gen_server:call/2 with a name); a call to a
//! process that exits before replying fails (the caller's monitor fires).

use std::time::Duration;

use noex::gen_server::{self, Context, GenServer, NamedRef, Reply, StartOptions};
use noex::supervisor::{self, ChildSpec, ChildStatus, SupervisorSpec};
use noex::{CallError, UnresolvedError};

mod support;
use support::{eventually, within};

/// Counts its calls; `Crash` panics, `Slow` sleeps before answering.
struct Counter {
    calls: u64,
    init_delay: Duration,
}

#[derive(Debug)]
enum Ask {
    Count,
    Crash,
}

impl GenServer for Counter {
    type Call = Ask;
    type Cast = ();
    type Reply = u64;

    async fn init(&mut self, _: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        tokio::time::sleep(self.init_delay).await;
        Ok(())
    }

    async fn handle_call(&mut self, ask: Ask, _: &mut Context<Self>) -> Reply<u64> {
        match ask {
            Ask::Count => {
                self.calls += 1;
                Reply::Now(self.calls)
            }
            Ask::Crash => panic!("asked to crash"),
        }
    }
}

fn counter(init_delay: Duration) -> impl Fn() -> Counter + Send + Sync + 'static {
    move || Counter {
        calls: 0,
        init_delay,
    }
}

struct Other;

impl GenServer for Other {
    type Call = ();
    type Cast = ();
    type Reply = ();

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }
}

/// OTP: a call by name reaches whichever process holds the name now, so one handle
/// serves every instance its supervisor starts.
#[tokio::test]
async fn a_call_by_name_reaches_the_instance_its_supervisor_restarted() {
    let sup = supervisor::start(
        SupervisorSpec::one_for_one()
            .child(ChildSpec::worker("pool-1", counter(Duration::ZERO)).name("named.pool-1")),
    )
    .await
    .unwrap();
    let worker = NamedRef::<Counter>::new("named.pool-1");
    assert_eq!(within("first call", worker.call(Ask::Count)).await, Ok(1));
    assert_eq!(within("second call", worker.call(Ask::Count)).await, Ok(2));
    let first = worker.pid().unwrap();

    let crashed = within("crash", worker.call(Ask::Crash)).await;
    assert!(
        matches!(crashed, Err(CallError::Exited { pid, .. }) if pid == first),
        "{crashed:?}"
    );
    // Fresh state: the restarted instance counts from one, through the same handle.
    assert_eq!(
        within("after restart", worker.call(Ask::Count)).await,
        Ok(1)
    );
    assert_ne!(worker.pid(), Some(first));
    sup.stop().await.unwrap();
}

/// A call made while the child is restarting waits for the next instance within its
/// timeout, as a call by name does in OTP when the name is back in time; one still in
/// `init` takes the call into its mailbox.
#[tokio::test(start_paused = true)]
async fn a_call_made_while_the_child_restarts_waits_for_it_within_its_timeout() {
    let sup = supervisor::start(
        SupervisorSpec::one_for_one()
            .max_restarts(10, Duration::from_secs(60))
            .child(
                ChildSpec::worker("slow-start", counter(Duration::from_millis(200)))
                    .name("named.slow"),
            ),
    )
    .await
    .unwrap();
    let worker = NamedRef::<Counter>::new("named.slow");
    worker.resolve().unwrap().kill();
    // The new instance needs 200 ms to start: a 1 s call waits for it.
    assert_eq!(
        worker
            .call_timeout(Ask::Count, Duration::from_secs(1))
            .await,
        Ok(1)
    );

    // Nothing runs under the name: a 50 ms call says so, and how long it waited.
    sup.terminate_child("slow-start").await.unwrap();
    let early = worker
        .call_timeout(Ask::Count, Duration::from_millis(50))
        .await;
    assert_eq!(
        early,
        Err(CallError::Unresolved(UnresolvedError::NotFound {
            target: "\"named.slow\"".into(),
            waited: Some(Duration::from_millis(50)),
        }))
    );
    assert_eq!(
        early.unwrap_err().to_string(),
        "no process runs as \"named.slow\" (waited 50ms for it to come up)"
    );

    // A call made before the child is started again is answered by it.
    let waiting = tokio::spawn({
        let worker = worker.clone();
        async move {
            worker
                .call_timeout(Ask::Count, Duration::from_secs(1))
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!waiting.is_finished());
    sup.restart_child("slow-start").await.unwrap();
    assert_eq!(waiting.await.unwrap(), Ok(1));
    sup.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_name_nobody_holds_times_out_and_a_cast_to_it_fails_at_once() {
    let nobody = NamedRef::<Counter>::new("named.nobody");
    assert!(matches!(
        nobody.resolve(),
        Err(UnresolvedError::NotFound { waited: None, .. })
    ));
    assert_eq!(nobody.pid(), None);
    assert_eq!(
        nobody.cast(()),
        Err(UnresolvedError::NotFound {
            target: "\"named.nobody\"".into(),
            waited: None,
        })
    );
    let call = nobody.call(Ask::Count).await;
    assert!(
        matches!(call, Err(CallError::Unresolved(UnresolvedError::NotFound { waited: Some(w), .. })) if w == gen_server::DEFAULT_CALL_TIMEOUT),
        "{call:?}"
    );
}

#[tokio::test]
async fn a_handle_of_the_wrong_type_says_which_server_is_there() {
    let other = gen_server::start(Other, StartOptions::new().name("named.other"))
        .await
        .unwrap();
    let wrong = NamedRef::<Counter>::new("named.other");
    let error = wrong.resolve().unwrap_err();
    assert_eq!(
        error,
        UnresolvedError::WrongType {
            target: "\"named.other\"".into(),
            pid: other.pid(),
            registered: "Other server".into(),
            expected: "Counter".into(),
        }
    );
    assert_eq!(
        error.to_string(),
        format!(
            "\"named.other\" is {}, an Other server, not a Counter",
            other.pid()
        )
    );
    // A call fails at once: waiting would not change the type.
    assert!(matches!(
        within("wrong type", wrong.call(Ask::Count)).await,
        Err(CallError::Unresolved(UnresolvedError::WrongType { .. }))
    ));
    other.stop(noex::ExitReason::Normal).await.unwrap();
}

/// A supervisor gives typed access to its children by id: no name needed, and the
/// handle follows the child across restarts.
#[tokio::test]
async fn a_supervisor_gives_typed_handles_to_its_children_across_restarts() {
    let sup = supervisor::start(SupervisorSpec::one_for_one())
        .await
        .unwrap();
    let started = sup
        .start_child(ChildSpec::worker("job", counter(Duration::ZERO)))
        .await
        .unwrap();
    assert_eq!(started.id(), "job");
    let job = started.handle();
    assert_eq!(job.pid(), Some(started.pid()));
    assert_eq!(job.target(), format!("child \"job\" of {}", sup.pid()));
    assert_eq!(within("call", job.call(Ask::Count)).await, Ok(1));

    let _ = within("crash", job.call(Ask::Crash)).await;
    assert_eq!(within("after restart", job.call(Ask::Count)).await, Ok(1));
    assert_ne!(job.pid(), Some(started.pid()));
    // The same child, asked for by id.
    let by_id = sup.child::<Counter>("job");
    assert_eq!(by_id.pid(), job.pid());
    assert!(matches!(
        sup.child::<Other>("job").resolve(),
        Err(UnresolvedError::WrongType { .. })
    ));

    sup.stop().await.unwrap();
    assert_eq!(
        job.resolve().unwrap_err(),
        UnresolvedError::SupervisorEnded {
            target: format!("child \"job\" of {}", sup.pid()),
            supervisor: sup.pid(),
        }
    );
}

/// `children()` says of each child how often it was restarted and whether it runs
/// (OTP's which_children shows a pid, `restarting` or `undefined`).
#[tokio::test]
async fn children_carry_their_restart_count_and_status() {
    let sup = supervisor::start(
        SupervisorSpec::one_for_one()
            .max_restarts(10, Duration::from_secs(60))
            .child(ChildSpec::worker("a", counter(Duration::ZERO)))
            .child(ChildSpec::worker("b", counter(Duration::ZERO))),
    )
    .await
    .unwrap();
    let a = sup.child::<Counter>("a");
    for crash in 1..=2 {
        let _ = within("crash", a.call(Ask::Crash)).await;
        eventually("restarted", || async {
            let children = sup.children().await.unwrap();
            (children[0].restarts == crash && children[0].status == ChildStatus::Running)
                .then_some(())
        })
        .await;
    }
    sup.terminate_child("b").await.unwrap();
    let children = sup.children().await.unwrap();
    let seen: Vec<_> = children
        .iter()
        .map(|child| {
            (
                child.id.as_str(),
                child.status,
                child.restarts,
                child.pid.is_some(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("a", ChildStatus::Running, 2, true),
            ("b", ChildStatus::Stopped, 0, false),
        ]
    );
    sup.stop().await.unwrap();
}
