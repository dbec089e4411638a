//! OTP cases `hanging_restart_loop`, `hanging_restart_loop_rest_for_one` and
//! `hanging_restart_loop_simple` (OTP-9549): a supervisor whose child's restart
//! keeps failing, each attempt taking 2 s, still serves requests and shuts down.

use noex::registry;
use noex::supervisor::{ChildSpec, Shutdown, SupervisorSpec};
use noex::{SupervisorError, SupervisorRef};

use crate::child::*;
use crate::support::*;

/// OTP's `start_link({local, sup_test}, …)` with the flags `{Strategy, 8, 10}`:
/// a supervisor of `spec` registered under a name of case `case`.
async fn start_registered(case: &str, spec: SupervisorSpec) -> (SupervisorRef, String) {
    let name = n(case, "sup");
    let sup = start_sup(spec.max_restarts(8, secs(10)).name(&name)).await;
    (sup, name)
}

/// What a supervisor in a restart loop of the child of `spec` answers about it:
/// `start_child(spec)` is `{error, already_present}`, `restart_child` and
/// `delete_child` are `{error, restarting}`.
async fn assert_restarting<S>(sup: &SupervisorRef, spec: ChildSpec<S>) {
    let id = spec.id().to_string();
    assert_matches!(
        sup.start_child(spec).await,
        Err(SupervisorError::AlreadyPresent { id: ref present }) if *present == id
    );
    assert_matches!(
        sup.restart_child(&id).await,
        Err(SupervisorError::Restarting { id: ref restarting }) if *restarting == id
    );
    assert_matches!(
        sup.delete_child(&id).await,
        Err(SupervisorError::Restarting { id: ref restarting }) if *restarting == id
    );
}

/// The end of every case: the supervisor, in a restart loop, shuts down with
/// `shutdown` (it does not hang) and its name is free (`whereis(sup_test)` is
/// `undefined`).
async fn shut_down_in_the_restart_loop(sup: &SupervisorRef, name: &str) {
    stop_sup(sup).await;
    assert_eq!(registry::whereis(name), None);
}

/// OTP `hanging_restart_loop` (OTP-9549): while a child's restart keeps failing
/// (each attempt takes 2 s), the supervisor still serves requests between attempts:
/// `start_child` is `already_present`, `restart_child` and `delete_child` are
/// `restarting`, the child is listed not running (counts `[1,0,0,1]`);
/// `terminate_child` ends the loop (the child is then stopped: `restart_child`
/// starts it); and the supervisor shuts down (`shutdown`) in the middle of a
/// restart loop, releasing its name. (noex's `children()` shows a restarting child
/// as not running: `pid: None`; the crashed child's `error` is checked when it
/// exits.)
#[tokio::test(start_paused = true)]
async fn hanging_restart_loop_a_supervisor_in_a_restart_loop_serves_requests_and_shuts_down() {
    let mut deadlock = Deadlock::new();
    let (sup, name) = start_registered("hanging_restart_loop", SupervisorSpec::one_for_one()).await;
    let cpid1 = sup
        .start_child(deadlock.child("child1"))
        .await
        .unwrap()
        .pid();
    deadlock.crash_into_a_restart_loop(cpid1).await;

    assert_restarting(&sup, deadlock.child("child1")).await;
    assert_only_child1(&sup, None).await;

    within("terminate_child", sup.terminate_child("child1"))
        .await
        .unwrap();
    assert_eq!(which(&sup).await, rows(&[("child1", None, W)]));

    deadlock.let_starts_succeed();
    let cpid2 = sup.restart_child("child1").await.unwrap();
    deadlock.crash_into_a_restart_loop(cpid2).await;
    shut_down_in_the_restart_loop(&sup, &name).await;
}

/// OTP `hanging_restart_loop_rest_for_one`: the same in a rest_for_one supervisor:
/// child2's restart keeps failing, so child3 (terminated by the restart) is not
/// started; `already_present` / `restarting` / `restarting`, counts `[3,1,0,3]`;
/// after `terminate_child(child2)` a `restart_child(child2)` starts child2 only
/// (child3 stays down); and the supervisor shuts down in the restart loop.
#[tokio::test(start_paused = true)]
async fn hanging_restart_loop_rest_for_one_a_supervisor_in_a_restart_loop_serves_requests() {
    let mut deadlock = Deadlock::new();
    let (sup, name) = start_registered(
        "hanging_restart_loop_rest_for_one",
        SupervisorSpec::rest_for_one(),
    )
    .await;
    let cpid1 = sup
        .start_child(sup1("child1").shutdown(Shutdown::BrutalKill))
        .await
        .unwrap()
        .pid();
    let cpid2 = sup
        .start_child(deadlock.child("child2"))
        .await
        .unwrap()
        .pid();
    sup.start_child(sup1("child3").shutdown(Shutdown::BrutalKill))
        .await
        .unwrap()
        .pid();
    deadlock.crash_into_a_restart_loop(cpid2).await;

    assert_restarting(&sup, deadlock.child("child2")).await;
    let child2_down = [
        ("child1", Some(cpid1), W),
        ("child2", None, W),
        ("child3", None, W),
    ];
    assert_children(&sup, &child2_down, count(3, 1, 0, 3)).await;

    within("terminate_child", sup.terminate_child("child2"))
        .await
        .unwrap();
    assert_eq!(which(&sup).await, rows(&child2_down));

    deadlock.let_starts_succeed();
    let cpid22 = sup.restart_child("child2").await.unwrap();
    assert_eq!(
        which(&sup).await,
        rows(&[
            ("child1", Some(cpid1), W),
            ("child2", Some(cpid22), W),
            ("child3", None, W)
        ])
    );
    deadlock.crash_into_a_restart_loop(cpid22).await;
    shut_down_in_the_restart_loop(&sup, &name).await;
}

/// OTP `hanging_restart_loop_simple`: the same for a dynamic child:
/// `restart_child` / `delete_child` are `{error, simple_one_for_one}`
/// (`Unsupported`), the child is listed restarting (not running; counts
/// `[1,0,0,1]`); `terminate_child` with the restarting child's old pid is `ok` and
/// removes it (`which_children` is `[]`); the supervisor shuts down in a later
/// restart loop.
#[tokio::test(start_paused = true)]
async fn hanging_restart_loop_simple_terminate_child_by_old_pid_ends_the_restart_loop() {
    let mut deadlock = Deadlock::new();
    let (sup, name) = start_registered(
        "hanging_restart_loop_simple",
        SupervisorSpec::simple_one_for_one(deadlock.child("child1")),
    )
    .await;
    let cpid1 = sup.start_child_with(()).await.unwrap();
    deadlock.crash_into_a_restart_loop(cpid1).await;

    assert_simple_one_for_one_error(sup.restart_child("child1").await);
    assert_simple_one_for_one_error(sup.delete_child("child1").await);
    assert_eq!(pids(&sup).await, [None]);
    assert_eq!(counts(&sup).await, count(1, 0, 0, 1));

    within("terminate_child", sup.terminate_child(cpid1))
        .await
        .unwrap();
    assert_eq!(
        which(&sup).await,
        [],
        "terminate_child(Sup, OldPid) of a restarting dynamic child removes it"
    );

    deadlock.let_starts_succeed();
    let cpid2 = sup.start_child_with(()).await.unwrap();
    deadlock.crash_into_a_restart_loop(cpid2).await;
    shut_down_in_the_restart_loop(&sup, &name).await;
}
