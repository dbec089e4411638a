//! The port of Erlang/OTP's `lib/stdlib/test/gen_server_SUITE.erl` to noex, case by
//! case: one test per case that maps (fully or in part), named after the case.
//!
//! The suite's callback module (`gen_server_SUITE` itself) is [`server::Suite`], its
//! `oc_server` (a module exporting `init/1` only) is [`oc_server::OcServer`]. The test process,
//! which in OTP receives `{Pid, Tag}` messages from the server and `{'EXIT', Pid, R}`
//! when it is linked and traps exits, is a channel ([`test_process::Mailbox`]) fed by the server
//! and by a [`test_process::Probe`] process that links to the server and traps exits.
//!
//! Translation of terms: an exit reason `R` that is not `normal`, `shutdown` or
//! `{shutdown, T}` is `ExitReason::Error(R)`; `{shutdown, T}` is
//! `ExitReason::ShutdownWith(T)`; a crash of class `error` (and `exit(crashed)`) is
//! a panic; `exit(shutdown)` / `exit({shutdown, T})` in a handler (noex has no
//! exit-class crash) is `ctx.stop(reason)` without a reply, which OTP makes
//! indistinguishable for the caller and the linked process. A caller exiting with
//! `{R, {gen_server, call, _}}` is `CallError::Exited { reason: R }`, `noproc` is
//! `CallError::NotRunning` / `StopError::NotRunning`, and `{already_started, Pid}`
//! is `StartError::AlreadyRegistered`. `start_link` is `start` followed by a link
//! from the probe; `start_monitor` is `start` followed by `process::monitor`.
//!
//! # Layout
//!
//! One module per group of OTP's `all/0` and `groups/0` that has cases which map;
//! the cases `all/0` lists outside a group are gathered by subject. `server` holds
//! the suite's callback module and the helpers to start and call it, `oc_server`
//! the servers of the `undef_callbacks` group, `test_process` the test's mailbox
//! and the probe that holds its links.
//!
//! | module | OTP group or cases |
//! |---|---|
//! | `start` | `start`, `loop_start_fail`, `otp_7669` |
//! | `stop` | group `stop` (`stop1`, `stop2`, `stop4`) |
//! | `crash` | `crash`, group `format_status` (`terminate_crash_format`), `undef_in_terminate`, `undef_in_handle_info` |
//! | `call_cast_info` | `call`, `cast`, `info`, `calling_self` |
//! | `handle_continue` | `continue` |
//! | `undef_callbacks` | group `undef_callbacks` |
//! | — | group `multi_call` (does not map, see below) |
//!
//! # Cases that do not map
//!
//! | case | why |
//! |---|---|
//! | `start_event_timeout` | no event-timeout action (`{timeout, T, Msg}` cancelled by any message), no hibernation, no `sys:get_status`, no `enter_loop`; `Context::send_after` is a plain timer |
//! | `start_event_timeout_zero` | zero event timeout delivered ahead of queued messages: no event-timeout actions |
//! | `stop3` | `ServerRef::stop` takes no timeout, and an invalid timeout value is a type error |
//! | `stop5` | node-qualified name `{Name, node()}`: distribution |
//! | `stop6` | global names |
//! | `stop7` | via names (`dummy_via`) |
//! | `stop8` | remote node (peer), `nodedown` |
//! | `stop9` | remote node (peer), `nodedown` |
//! | `stop10` | remote node (peer) and global names |
//! | `send_request` | no request-id API (`send_request` / `wait_response` / `check_response`), no aliases, no distribution |
//! | `send_request_receive_reqid_collection` | no request-id collections (`reqids_*`, `receive_response`) |
//! | `send_request_wait_reqid_collection` | no request-id collections (`wait_response`) |
//! | `send_request_check_reqid_collection` | no request-id collections, no raw reply messages (`check_response`) |
//! | `cast_fast` | distribution: cast to a node that never answers (epmd) |
//! | `abcast` | multi-node broadcast API (on one node it is cast by name, see `cast`) |
//! | `handle_event_timeout` | no event-timeout actions, hibernation or `sys` |
//! | `handle_event_timeout_zero` | no event-timeout actions |
//! | `handle_event_timeout_plain` | no `{noreply, S, Timeout}` idle timeout in noex (cancelled by any message, not by a system message), so the rule under test would be this file's own emulation; no `sys` |
//! | `multicall` | `multi_call` (multi-node API) |
//! | `multicall_down` | `multi_call` with a down node |
//! | `multicall_remote` | `multi_call` over peer nodes |
//! | `multicall_remote_old1` | `multi_call` to peers of release N-1 |
//! | `multicall_remote_old2` | `multi_call` to peers of release N-2 |
//! | `multicall_recv_opt_success` | `multi_call` over peers; Erlang receive optimisation |
//! | `multicall_recv_opt_timeout` | `multi_call` over peers; Erlang receive optimisation |
//! | `multicall_recv_opt_noconnection` | `multi_call` over peers; Erlang receive optimisation |
//! | `call_remote1` | global name on a peer node |
//! | `call_remote2` | pid on a peer node |
//! | `call_remote3` | `{Name, Node}` on a peer node |
//! | `call_remote_n1` | global name on a stopped peer |
//! | `call_remote_n2` | `nodedown` of a stopped peer |
//! | `call_remote_n3` | `nodedown` of a stopped peer |
//! | `spec_init` | `proc_lib` + `gen_server:enter_loop` |
//! | `spec_init_local_registered_parent` | `enter_loop` with a parent found by registered name |
//! | `spec_init_global_registered_parent` | `enter_loop` with a globally registered parent |
//! | `otp_5854` | `enter_loop` refusing a name held by another process (local, global, via) |
//! | `hibernate` | hibernation (`erlang:hibernate`, `sys:suspend`) |
//! | `auto_hibernate` | `hibernate_after` start option, `sys:get_state` |
//! | `call_format_status` | `sys:get_status` and `format_status/1,2` |
//! | `error_format_status` | `format_status` in the crash log (the crash itself: `crash`) |
//! | `crash_in_format_status` | `format_status` crashing, `sys:get_status` |
//! | `throw_in_format_status` | `format_status` throwing, `sys:get_status` |
//! | `format_all_status` | `format_status/1` rewriting `sys` status and `sys:log` entries |
//! | `get_state` | `sys:get_state`, `sys:suspend` |
//! | `replace_state` | `sys:replace_state`, `sys:suspend` |
//! | `call_with_huge_message_queue` | Erlang selective receive past a huge mailbox; a noex call has its own reply channel |
//! | `undef_handle_call` | `handle_call` is a required method of `GenServer`: leaving it out does not compile |
//! | `undef_code_change` | no `code_change` / hot code upgrade / `sys:change_code` |
//! | `format_log_1` | `gen_server:format_log/1` (logger report formatting) |
//! | `format_log_2` | `gen_server:format_log/2` (logger report formatting) |
//! | `format_log_with_process_label` | logger formatting with `proc_lib` process labels |
//! | `reply_by_alias_with_payload` | process aliases and raw reply tags; `ReplyTo` is an opaque typed handle |
//!
//! `undef_handle_cast`, marked "does not map" by the catalogue (a missing callback
//! does not compile), maps here: `GenServer::handle_cast` has a default, so a
//! server can be written without one, and OTP's answer for that server is a crash.

#[path = "../support/mod.rs"]
mod support;

mod oc_server;
mod server;
mod test_process;

// The cases, by OTP group (see the layout above).
mod call_cast_info;
mod crash;
mod handle_continue;
mod start;
mod stop;
mod undef_callbacks;
