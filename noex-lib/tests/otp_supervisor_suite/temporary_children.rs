//! OTP cases `do_not_save_child_specs_for_temporary_children`,
//! `simple_one_for_one_scale_many_temporary_children` and `temporary_bystander`.

use noex::supervisor::{ChildSpec, RestartType, Shutdown, SupervisorSpec};
use noex::{ExitReason, Pid, SupervisorError, SupervisorRef, process};

use crate::child::*;
use crate::support::*;

/// OTP `do_not_save_child_specs_for_temporary_children`: for each strategy and each
/// way a child ends (killed, `normal`, crash, `terminate_child`): a permanent child
/// — and a transient one that crashed or was killed — is restarted, so
/// `start_child` with its spec is `already_started`; one stopped by
/// `terminate_child` — and a transient one that ended `normal` — keeps its spec,
/// so `start_child` is `already_present` and `restart_child` starts it; a temporary
/// child's spec is never kept, so `start_child` with it succeeds again.
#[tokio::test(start_paused = true)]
async fn do_not_save_child_specs_for_temporary_children_only_their_spec_is_forgotten() {
    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Ending {
        Kill,
        Normal,
        Abnormal,
        Supervisor,
    }
    async fn end_with(sup: &SupervisorRef, pid: Pid, id: &str, ending: Ending) {
        match ending {
            Ending::Kill => end(pid, How::Kill).await,
            Ending::Normal => end(pid, How::Normal).await,
            Ending::Abnormal => end(pid, How::Abnormal).await,
            Ending::Supervisor => within("terminate_child", sup.terminate_child(id))
                .await
                .unwrap(),
        }
    }
    /// Start `spec`, end the child as `ending` says, and start `spec` again:
    /// the child's id and first pid, and what the second `start_child` answered.
    async fn end_and_start_again<S>(
        sup: &SupervisorRef,
        spec: ChildSpec<S>,
        ending: Ending,
    ) -> (String, Pid, Result<Pid, SupervisorError>) {
        let id = spec.id().to_string();
        let pid = sup.start_child(spec.clone()).await.unwrap().pid();
        end_with(sup, pid, &id, ending).await;
        (id, pid, sup.start_child(spec).await.map(|c| c.pid()))
    }
    async fn already_present<S>(sup: &SupervisorRef, spec: ChildSpec<S>, ending: Ending) {
        let (id, _, again) = end_and_start_again(sup, spec, ending).await;
        assert_matches!(
            again,
            Err(SupervisorError::AlreadyPresent { id: ref present }) if *present == id
        );
        sup.restart_child(&id).await.unwrap();
    }
    async fn restarted<S>(sup: &SupervisorRef, spec: ChildSpec<S>, ending: Ending) {
        let (id, pid, again) = end_and_start_again(sup, spec, ending).await;
        assert_matches!(
            again,
            Err(SupervisorError::AlreadyStarted { id: ref started, pid: now }) if *started == id && now != pid
        );
    }

    for ending in [
        Ending::Kill,
        Ending::Normal,
        Ending::Abnormal,
        Ending::Supervisor,
    ] {
        for strategy in [
            SupervisorSpec::one_for_all,
            SupervisorSpec::one_for_one,
            SupervisorSpec::rest_for_one,
        ] {
            let sup = start_sup(strategy().max_restarts(2, hour())).await;
            let permanent = sup1("child1");
            let transient = sup1("child2").restart(RestartType::Transient);
            let temporary = sup1("child3").restart(RestartType::Temporary);

            if ending == Ending::Supervisor {
                already_present(&sup, permanent, ending).await;
            } else {
                restarted(&sup, permanent, ending).await;
            }
            if matches!(ending, Ending::Supervisor | Ending::Normal) {
                already_present(&sup, transient, ending).await;
            } else {
                restarted(&sup, transient, ending).await;
            }
            let (_, _, again) = end_and_start_again(&sup, temporary, ending).await;
            again.unwrap();
            stop_sup(&sup).await;
        }
    }
}

/// OTP `simple_one_for_one_scale_many_temporary_children` (in part): 1000
/// temporary dynamic children, each terminated by pid (`ok` each), leave none.
/// The timing ratio against a 10 000-child batch is a wall-clock measurement and
/// is not ported.
#[tokio::test(start_paused = true)]
async fn simple_one_for_one_scale_many_temporary_children_are_each_terminated_by_pid() {
    let sup = start_sup(
        SupervisorSpec::simple_one_for_one(sup1("child").restart(RestartType::Temporary))
            .max_restarts(2, hour()),
    )
    .await;
    let mut started = Vec::new();
    for _ in 0..1000 {
        started.push(sup.start_child_with(()).await.unwrap());
    }
    assert_eq!(counts(&sup).await, count(1, 1000, 0, 1000));
    for pid in started {
        within("terminate_child", sup.terminate_child(pid))
            .await
            .unwrap();
    }
    assert_eq!(which(&sup).await, []);
    assert_eq!(counts(&sup).await, count(1, 0, 0, 0));
    stop_sup(&sup).await;
}

/// OTP `temporary_bystander`: in a one_for_all and in a rest_for_one supervisor, a
/// temporary child terminated by the group restart that its permanent sibling's
/// exit caused is not restarted: its spec is gone (`[child1]`), and both
/// supervisors live on.
#[tokio::test(start_paused = true)]
async fn temporary_bystander_a_temporary_child_taken_down_by_a_group_restart_is_dropped() {
    let sup_a = start_sup(SupervisorSpec::one_for_all().max_restarts(2, secs(300))).await;
    let sup_b = start_sup(SupervisorSpec::rest_for_one().max_restarts(2, secs(300))).await;
    let child1 = || sup1("child1").shutdown(Shutdown::Timeout(ms(100)));
    let child2 = || {
        sup1("child2")
            .restart(RestartType::Temporary)
            .shutdown(Shutdown::Timeout(ms(100)))
    };
    let mut bystanders = Vec::new();
    let mut firsts = Vec::new();
    for sup in [&sup_a, &sup_b] {
        firsts.push(sup.start_child(child1()).await.unwrap().pid());
        let cpid2 = sup.start_child(child2()).await.unwrap().pid();
        bystanders.push(process::monitor(cpid2));
    }
    end(firsts[0], How::Normal).await;
    end(firsts[1], How::Normal).await;
    for bystander in bystanders {
        assert_eq!(
            within("the temporary bystander's exit", bystander)
                .await
                .reason,
            ExitReason::Shutdown
        );
    }
    for (sup, first) in [(&sup_a, firsts[0]), (&sup_b, firsts[1])] {
        assert!(sup.is_running());
        let children = which(sup).await;
        assert_eq!(children.len(), 1, "{children:?}");
        assert_eq!(children[0].0, "child1");
        assert!(children[0].1.is_some_and(|pid| pid != first));
        stop_sup(sup).await;
    }
}
