//! The Supervisor contract, one OTP rule per test.
//!
//! # Layout
//!
//! One module per topic; `worker` holds the worker the tests supervise (it logs its
//! start and terminate, and crashes or exits on request) and the helpers that
//! drive it and read the supervisor's children.
//!
//! | module | topic |
//! |---|---|
//! | `start_and_shutdown` | start order, stop order, a failed start, `brutal_kill` and shutdown timeouts |
//! | `strategies` | `one_for_one`, `one_for_all`, `rest_for_one`, `simple_one_for_one` |
//! | `restart_types` | permanent, transient and temporary children; what a restarted child starts with |
//! | `intensity` | the restart intensity, its defaults, and a supervisor that gives up escalating to its parent |
//! | `child_admin` | `start_child`, `terminate_child`, `restart_child`, `delete_child`, `count_children` |
//! | `try_again` | a restart whose start fails, retried through the supervisor's mailbox |

#[path = "../support/mod.rs"]
mod support;
mod worker;

// The tests, by topic (see the layout above).
mod child_admin;
mod intensity;
mod restart_types;
mod start_and_shutdown;
mod strategies;
mod try_again;
