//! The chaos soak, for 10 seconds: a tree of about a thousand processes under call
//! load, killed at random at every level (a third of the kills through the agent's
//! socket, as `noex kill` does), must come back whole after every burst, answer every
//! call or fail it with a typed error, leave nothing behind, and stop cleanly.
//! `cargo run --release -p noex-bench --bin chaos -- --secs 600` is the long run.

use noex_bench::chaos::{self, Config};

/// OTP's promise under fire: supervisors restore their children, and callers of a
/// dying server are told (`{'EXIT', ...}` / `noproc`) instead of waiting forever.
#[test]
fn chaos_soak_restores_the_tree_and_answers_every_call() {
    let report = chaos::run(Config::new(10));
    let details = format!("{}\n{}", report.line(), report.details());
    eprintln!("{details}");

    assert_eq!(report.lost, 0, "{details}");
    assert_eq!(report.hung, 0, "{details}");
    assert_eq!(report.orphans, 0, "{details}");
    assert!(report.shape_ok, "the tree did not come back: {details}");
    assert_eq!(report.escalations, 0, "a supervisor gave up: {details}");
    assert_eq!(report.name_conflicts, 0, "{details}");
    assert_eq!(report.shutdown_error, None, "{details}");
    assert!(report.kills > 0, "{details}");
    assert!(report.restarts > 0, "{details}");
    assert!(
        report.kills_by_agent > 0,
        "no kill went through the agent: {details}"
    );
    assert!(report.calls > 0 && report.ok > 0, "{details}");

    // The same tree, the same number of tasks: nothing leaked one, and nothing of
    // the tree outlives its shutdown.
    let slack = report.tasks_start / 50;
    assert!(
        report.tasks_end.abs_diff(report.tasks_start) <= slack,
        "tasks {} at the start, {} at the end: {details}",
        report.tasks_start,
        report.tasks_end
    );
    // (How long the shutdown took is the long run's to judge, `shutdown_ms`: a test
    // does not time the machine it runs on.)
    assert_eq!(
        report.tasks_after_shutdown, report.tasks_before_tree,
        "{details}"
    );
}
