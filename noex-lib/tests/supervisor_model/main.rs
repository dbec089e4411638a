//! Property test: noex's supervisor against a model of OTP's supervisor, written
//! from OTP's `supervisor.erl` (and `supervisor.xml`), never from noex's code, and
//! compared after every one of a random sequence of operations.
//!
//! The tree: a root supervisor (one_for_one, one_for_all or rest_for_one) with
//! workers and one child supervisor (any of the four strategies) with workers of
//! its own. Operations: children exit (`normal`, `shutdown`, `{shutdown, _}`, a
//! crash, `killed`; several in one step, before their supervisor handles any; the
//! child supervisor can be killed too), a worker is told to fail its next N
//! `init`s, `terminate_child`, `start_child` on a simple_one_for_one supervisor,
//! and the virtual clock moves on (also exactly to the edge of a restart window).
//!
//! Where each rule of the model comes from, in `supervisor.erl`:
//!
//! - An exit: `handle_info({'EXIT', Pid, Reason})` → `restart_child/3`; an exit of a
//!   pid that is not a child's current pid is ignored (`find_child_and_args` fails).
//!   Then `do_restart/3`: a permanent child is restarted; `normal`, `shutdown` and
//!   `{shutdown, _}` → `del_child` for transient and temporary children; any other
//!   reason restarts a transient child; a temporary child is never restarted.
//! - `del_child/2`: a temporary child, and every simple_one_for_one child
//!   (`dyn_erase`), is removed; any other is kept with `pid = undefined`.
//! - `restart/2` with `add_restart/1,3`: each restart is counted when it is made;
//!   those older than `period` are forgotten (kept while `R >= Now - Period`, so one
//!   exactly `period` old still counts); more than `intensity` → `del_child`,
//!   `{stop, shutdown}`, and `terminate/2` stops every child: `terminate_children`
//!   in reverse start order, or `terminate_dynamic_children` for
//!   simple_one_for_one (all at once: no order).
//! - `restart/3`: one_for_one and simple_one_for_one start the one child again;
//!   rest_for_one (`split_child`: the child and those after it) and one_for_all (all
//!   children) go through `restart_multiple_children`: `terminate_children` (reverse
//!   order; running ones shut down, temporary ones removed, the others
//!   `undefined`), then `start_children` in start order, every child of the group
//!   including those that were not running, until one fails.
//! - A failed (re)start (`restart/3`, `restart_multiple_children`): the child
//!   becomes `{restarting, _}`, those after it stay `undefined`, and
//!   `try_again_restart/1` casts `{try_again_restart, Id}` to the supervisor
//!   itself, behind the messages already queued; `handle_cast` calls `restart/2`
//!   again (counted) if the child is still restarting, for the same group.
//! - `init_children/2`: a supervisor starts its children in order; when one fails
//!   it terminates those started (reverse order) and fails to start.
//! - `handle_call({terminate_child, Id})`: `do_terminate`, then `del_child`.
//! - `handle_call({start_child, Args})` on simple_one_for_one: a failed start leaves
//!   nothing behind.
//! - `shutdown/1`: a child is stopped with `shutdown` (its `terminate` runs). A
//!   killed supervisor's workers (linked, not trapping exits) die with `killed`:
//!   no `terminate`.
//! - A child supervisor that gives up exits with `shutdown` (noex:
//!   `ExitReason::MaxRestartsExceeded`, a shutdown), so its parent applies
//!   `do_restart/3` with a shutdown: permanent restarts it, transient and
//!   temporary do not.
//!
//! noex's own parts, taken as noex documents them: simple_one_for_one children are
//! named `template-N` (N from 1 per supervisor instance); the restart count the
//! observer shows (`ServerInfo::restarts`, `SupervisorInfo::restarts`) counts
//! every restart attempt of a child spec, failed ones too, and `Restarted {
//! attempt }` is emitted for each one that succeeds; OTP's period is whole seconds,
//! noex's a `Duration` compared the same way. Exits of different processes reach
//! a supervisor in the order they happen (OTP does not order signals from
//! different senders). A killed supervisor's exit is reported once its children
//! are gone, later than other exits sent with it, so it is killed in a step of its
//! own.
//!
//! How the test waits: a current-thread runtime with a paused clock. After each
//! step, `sleep(1 ms)` returns only once every other task is idle (the paused
//! clock auto-advances only then), so the tree is quiescent; the model adds that
//! 1 ms to its own clock, and the test checks both clocks agree.

#[path = "../support/mod.rs"]
mod support;

mod case;
mod harness;
mod model;
mod workers;

use noex::supervisor::RestartType;
use proptest::prelude::*;

use case::*;
use harness::*;
use workers::quiet_ordered_crashes;

fn restart_type() -> impl Strategy<Value = RestartType> {
    prop_oneof![
        Just(RestartType::Permanent),
        Just(RestartType::Transient),
        Just(RestartType::Temporary),
    ]
}

fn period_ms() -> impl Strategy<Value = u64> {
    prop_oneof![Just(100u64), Just(1000), Just(5000)]
}

fn sup_config(nested: bool) -> impl Strategy<Value = SupConfig> {
    let strategy = if nested {
        prop_oneof![
            Just(Strat::OneForOne),
            Just(Strat::OneForAll),
            Just(Strat::RestForOne),
            Just(Strat::SimpleOneForOne),
        ]
        .boxed()
    } else {
        prop_oneof![
            Just(Strat::OneForOne),
            Just(Strat::OneForAll),
            Just(Strat::RestForOne),
        ]
        .boxed()
    };
    let intensity = if nested {
        (0u32..=3).boxed()
    } else {
        prop_oneof![1 => Just(0u32), 4 => 1u32..=8].boxed()
    };
    (
        strategy,
        intensity,
        period_ms(),
        proptest::collection::vec(restart_type(), 1..=3),
    )
        .prop_map(|(strategy, intensity, period_ms, workers)| SupConfig {
            strategy,
            intensity,
            period_ms,
            workers,
        })
}

fn exit_reason() -> impl Strategy<Value = Reason> {
    prop_oneof![
        Just(Reason::Normal),
        Just(Reason::Shutdown),
        Just(Reason::ShutdownWith),
        Just(Reason::Killed),
        Just(Reason::Crash),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (any::<bool>(), proptest::collection::vec((0usize..8, exit_reason()), 1..=3))
            .prop_map(|(nested, picks)| Op::Exit { nested, picks }),
        2 => (0usize..16, 1u32..=3).prop_map(|(pick, times)| Op::FailNext { pick, times }),
        1 => (any::<bool>(), 0usize..8).prop_map(|(nested, pick)| Op::Terminate { nested, pick }),
        1 => Just(Op::AddDynamic),
        1 => (any::<bool>(), 1u64..=6)
            .prop_map(|(nested, quarters)| Op::Advance(Advance::By { nested, quarters })),
        2 => (any::<bool>(), any::<bool>())
            .prop_map(|(nested, past)| Op::Advance(Advance::ToWindowEdge { nested, past })),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (
        sup_config(false),
        sup_config(true),
        restart_type(),
        0usize..=3,
        restart_type(),
        1usize..=3,
        proptest::collection::vec(op(), 1..=30),
    )
        .prop_map(
            |(root, nested, nested_restart, nested_position, template, dynamic, ops)| Case {
                root,
                nested,
                nested_restart,
                nested_position,
                template,
                dynamic,
                ops,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// OTP's supervisor rules (`supervisor.erl`: `do_restart`, `restart/2`,
    /// `add_restart`, `restart/3`, `restart_multiple_children`,
    /// `try_again_restart`, `terminate_children`), nested, under random exits,
    /// failing starts and time.
    #[test]
    fn supervisor_matches_a_model_written_from_otps_supervisor(case in case()) {
        quiet_ordered_crashes();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(run(case));
    }
}
