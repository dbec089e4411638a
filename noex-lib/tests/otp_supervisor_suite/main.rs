//! The port of Erlang/OTP's `lib/stdlib/test/supervisor_SUITE.erl` (the OTP 28-era
//! suite, 93 cases) to noex: one test per case that maps, named after the OTP case
//! and the rule it checks, asserting what OTP asserts in noex's types.
//!
//! The OTP helper modules become one child server, [`child::Child`], told what to do
//! through the state its `ChildSpec` factory captures: `supervisor_1` (init
//! succeeds, returns `ignore` the first time, fails after the first time, fails,
//! crashes; `die` / `stop` / `{sleep, _}` messages), `supervisor_2` (a slow
//! `terminate`), `supervisor_3` (init asks the test and waits for its answer),
//! `supervisor_4` (exits with a reason of its own), `supervisor_deadlock` (a shared
//! `fail_start` flag and a 2 s failing init) and `naughty_child` (unlinks from its
//! supervisor in init). OTP's `exit(Pid, Reason)` from the test process is sent by a
//! small [`child::Signaller`] process. Time is tokio's paused clock: a 3600 s window or a
//! 2 s init costs nothing, and no test depends on the wall clock.
//!
//! Translations used throughout: OTP's `which_children` lists the newest child
//! first, noex's `children()` lists in start order (the assertions are the same
//! lists, reversed); `{ok, undefined}` is `Err(SupervisorError::Ignored)`; OTP's
//! `simple_one_for_one` errors are `SupervisorError::Unsupported`; a supervisor
//! that reaches its intensity exits with `ExitReason::MaxRestartsExceeded`, OTP's
//! `shutdown`; the test process linked to a child (OTP's `check_exit_reason`) is a
//! `process::monitor`. The logs some tests keep are written by the child's
//! `terminate`, which in noex runs whenever a supervisor stops a child (noex
//! children behave like OTP workers that trap exits) — an intended difference.
//!
//! ## Layout
//!
//! One module per group of OTP's `all/0` and `groups/0`, in OTP's order; the cases
//! `all/0` lists outside a group are gathered by subject. `support` holds the
//! assertions and helpers, `child` the child server and how a test drives it.
//!
//! | module | OTP group or cases |
//! | --- | --- |
//! | `sup_start` | group `sup_start` |
//! | `sup_start_map` | group `sup_start_map` |
//! | `sup_stop` | group `sup_stop` |
//! | `child_adm` | `child_adm`, `child_adm_simple`, `extra_return` |
//! | `child_specs` | `child_specs`, `child_specs_map`, `sup_flags`, `multiple_restarts` |
//! | `restart::one_for_one` | group `restart_one_for_one` |
//! | `restart::one_for_all` | group `restart_one_for_all` |
//! | `restart::simple_one_for_one` | group `restart_simple_one_for_one` |
//! | `restart::rest_for_one` | group `restart_rest_for_one` |
//! | `termination` | groups `normal_termination`, `shutdown_termination`, `abnormal_termination` |
//! | `tree` | `child_unlink`, `tree` |
//! | — | group `significant` (does not map, see below) |
//! | `count_children` | `count_children`, `count_children_supervisor`, `count_restarting_children` |
//! | `temporary_children` | `do_not_save_child_specs_for_temporary_children`, `simple_one_for_one_scale_many_temporary_children`, `temporary_bystander` |
//! | `hanging_restart_loop` | `hanging_restart_loop`, `hanging_restart_loop_rest_for_one`, `hanging_restart_loop_simple` |
//! | `misc` | `order_of_children`, `scale_start_stop_many_children`, `already_started_outside_supervisor` |
//! | `which_children` | `which_children`, `which_children_simple_one_for_one` |
//!
//! ## Cases that do not map
//!
//! | # | OTP case | why it does not map |
//! | --- | --- | --- |
//! | 2 | `sup_start_ignore_init` | A noex supervisor has no `init` callback: its `SupervisorSpec` is a value, so nothing can return `ignore`. |
//! | 8 | `sup_start_error_return` | Same: there is no `init` callback whose return value could be invalid. |
//! | 9 | `sup_start_fail` | Same: there is no `init` callback that could raise. |
//! | 15 | `sup_start_map_faulty_specs` | Missing `id`/`start` keys and non-spec terms are unrepresentable in Rust's typed `ChildSpec`. |
//! | 39 | `simple_one_for_one_corruption` | Asserts on the Erlang heap size of the supervisor after GC. |
//! | 44 | `external_start_no_progress_log` | Asserts on `logger` progress reports. |
//! | 51 | `faulty_application_shutdown` | Needs the OTP application controller (`application:start/1`). |
//! | 57 | `nonsignificant_temporary` | noex has no `significant` children / `auto_shutdown`. |
//! | 58 | `nonsignificant_transient` | No `significant` / `auto_shutdown`. |
//! | 59 | `significant_temporary` | No `significant` / `auto_shutdown`. |
//! | 60 | `significant_transient` | No `significant` / `auto_shutdown`. |
//! | 61 | `significant_simple` | No `significant` / `auto_shutdown`. |
//! | 62 | `significant_bystander` | No `significant` / `auto_shutdown`. |
//! | 63 | `significant_escalation` | No `significant` / `auto_shutdown`. |
//! | 64 | `significant_upgrade_never_any` | Hot code upgrade (`sys:change_code`) and `auto_shutdown`: neither exists in noex. |
//! | 65 | `significant_upgrade_any_never` | Hot code upgrade and `auto_shutdown`. |
//! | 66 | `significant_upgrade_never_all` | Hot code upgrade and `auto_shutdown`. |
//! | 67 | `significant_upgrade_all_never` | Hot code upgrade and `auto_shutdown`. |
//! | 68 | `significant_upgrade_any_all` | Hot code upgrade and `auto_shutdown`. |
//! | 69 | `significant_upgrade_all_any` | Hot code upgrade and `auto_shutdown`. |
//! | 70 | `significant_upgrade_child` | Hot code upgrade and `auto_shutdown`. |
//! | 74 | `get_callback_module` | No callback module (and no `sys`/release-handler introspection). |
//! | 75 | `do_not_save_start_parameters_for_temporary_children` | Asserts on `erts_debug:flat_size(sys:get_status(Sup))`: term sizes of the supervisor state. |
//! | 79 | `simple_global_supervisor` | Needs `global` names (distribution); noex has only a local registry. |
//! | 83 | `code_change` | Hot code upgrade. |
//! | 84 | `code_change_map` | Hot code upgrade. |
//! | 85 | `code_change_simple` | Hot code upgrade. |
//! | 86 | `code_change_simple_map` | Hot code upgrade. |
//! | 89 | `format_log_1` | Asserts on `supervisor:format_log/1` report text. |
//! | 90 | `format_log_2` | Asserts on `supervisor:format_log/2` report text. |
//!
//! ## Cases ported in part
//!
//! | # | OTP case | not ported |
//! | --- | --- | --- |
//! | 13 | `sup_start_map` | `get_childspec` does not exist: the defaults are checked through `children()` (restart, kind) and by their effect (a worker's 5 s shutdown, a supervisor's infinite one); `modules` does not exist. |
//! | 14 | `sup_start_map_simple` | `get_childspec` by pid: checked through `children()`. |
//! | 22 | `sup_stop_non_shutdown_exit_dynamic` | A noex child cannot choose its exit reason in `terminate` (OTP's `exit(Reason)`); only a panic (reason `Error`) can change it, so `normal` and `{shutdown, test}` are not ported. |
//! | 25 | `extra_return` | `{ok, Pid, Info}`: a noex start returns the pid only. |
//! | 26 | `child_specs` | Invalid MFA / restart / type / modules / negative shutdown are unrepresentable; `check_childspecs` does not exist (checked through `supervisor::start`). |
//! | 27 | `child_specs_map` | `significant` / `auto_shutdown` validation; missing keys. |
//! | 28 | `sup_flags` | Invalid strategy / intensity / period terms and unknown flag keys are unrepresentable. |
//! | 37 | `simple_one_for_one_extra` | `{ok, Pid, Info}` (see 25). |
//! | 77 | `simple_one_for_one_scale_many_temporary_children` | The timing ratio (a wall-clock measurement, which this project's tests may not use) and the 10 000-child batch. |
//! | 88 | `scale_start_stop_many_children` | The timing ratio and the 100 000-child batch (same reason). |
//! | 92 | `which_children` | `which_child/2` is `SupervisorRef::child(id)`; `modules` does not exist. |
//! | 93 | `which_children_simple_one_for_one` | `which_child/2` by pid and its `simple_one_for_one` error (noex's dynamic children have ids). |

/// What every test binary includes: its private agent directory, and the hang
/// guard `within` (which `support` passes on).
#[path = "../support/mod.rs"]
mod shared;

#[macro_use]
mod support;
mod child;

// The cases, by OTP group (see the layout above).
mod child_adm;
mod child_specs;
mod count_children;
mod hanging_restart_loop;
mod misc;
mod restart;
mod sup_start;
mod sup_start_map;
mod sup_stop;
mod temporary_children;
mod termination;
mod tree;
mod which_children;
