//! OTP and Elixir names, and what they are called in noex.
//!
//! For a reader who knows Erlang/OTP or Elixir: where each idea lives here, and how
//! it differs. The differences from OTP's supervisor and gen_server in detail, each
//! with its reason and its test, are in [`crate::supervisor::otp_differences`].
//!
//! ## Processes and servers
//!
//! | OTP / Elixir | noex | Differences |
//! |---|---|---|
//! | `gen_server` / `GenServer` behaviour | [`GenServer`](crate::GenServer) trait | `Call`, `Cast` and `Reply` are types; handlers are `async fn`s on `&mut self` (the state). |
//! | `init/1` returning `{ok, State}`, `ignore`, `{stop, R}` | [`GenServer::init`](crate::GenServer::init): `Ok(())`, `Err(Ignore.into())`, `Err(e)` | The state is the value you start, not what `init` returns. |
//! | `gen_server:start_link/3`, `GenServer.start_link/3` | [`gen_server::start`](crate::gen_server::start), or a [`ChildSpec`](crate::ChildSpec) under a supervisor | Linking to the caller is what supervision does; a bare `start` is `start/3`. |
//! | `{timeout, T}` start option, `{error, timeout}` | [`StartOptions::timeout`](crate::StartOptions::timeout), [`StartError::Timeout`](crate::StartError::Timeout) | The process is killed, as OTP does. |
//! | `{local, Name}` / `name:` option | [`StartOptions::name`](crate::StartOptions::name), [`ChildSpec::name`](crate::ChildSpec::name) | Registered before `init` runs, released when the process ends. |
//! | `gen_server:call(Pid, Req)` | [`ServerRef::call`](crate::ServerRef::call), [`call_timeout`](crate::ServerRef::call_timeout) | Errors are values ([`CallError`](crate::CallError)), not exits. Default timeout 5 s, as OTP. |
//! | `gen_server:call(Name, Req)` | [`NamedRef::call`](crate::NamedRef::call) | Looks the name up on each call; waits within the timeout for a restarting process to take the name again. |
//! | `gen_server:cast/2` | [`ServerRef::cast`](crate::ServerRef::cast) | Fails if the server has ended (OTP's cast always returns `ok`). |
//! | `Pid ! Msg`, `handle_info/2` | [`ServerRef::send_info`](crate::ServerRef::send_info), [`GenServer::handle_info`](crate::GenServer::handle_info) | An info message is any `'static` value; downcast it. |
//! | `{noreply, S}` + `gen_server:reply/2` | [`Context::defer_reply`](crate::Context::defer_reply), [`Reply::Deferred`](crate::Reply::Deferred), [`ReplyTo::reply`](crate::gen_server::ReplyTo::reply) | |
//! | `{continue, C}`, `handle_continue/2` | [`Context::continue_with`](crate::Context::continue_with) | Delivered to `handle_info` before any other message. |
//! | `{stop, Reason, ...}` | [`Context::stop`](crate::Context::stop) | |
//! | `gen_server:stop/3` | [`ServerRef::stop`](crate::ServerRef::stop) | |
//! | `erlang:send_after/3`, `Process.send_after/3` | [`Context::send_after`](crate::Context::send_after) → [`TimerRef`](crate::gen_server::TimerRef) | |
//! | `timer:send_interval/2` | [`Context::send_interval`](crate::Context::send_interval) → [`TimerRef`](crate::gen_server::TimerRef) | Ends with the server. |
//! | `{noreply, State, Timeout}`, the `timeout` message | [`Context::idle_timeout`](crate::Context::idle_timeout), [`IdleTimeout`](crate::gen_server::IdleTimeout) in `handle_info` | Asked for from any handler, including `handle_call` (whose reply is its return value). |
//! | a `call` in a cycle of calls: each waits out its timeout | [`CallError::Deadlock`](crate::CallError::Deadlock) | Fails at once, naming the cycle; OTP has no such check. |
//! | `exit(Pid, kill)` | [`ServerRef::kill`](crate::ServerRef::kill), [`Context::exit`](crate::Context::exit) | A kill lands at the handler's next `.await`. |
//! | `monitor/2`, `'DOWN'` | [`Context::monitor`](crate::Context::monitor), [`process::monitor`](crate::process::monitor), [`process::Down`](crate::process::Down) | |
//! | `link/1`, `process_flag(trap_exit, true)`, `'EXIT'` | [`Context::link`](crate::Context::link), [`Context::trap_exit`](crate::Context::trap_exit), [`process::Exit`](crate::process::Exit) | |
//! | `is_process_alive/1` | [`process::is_alive`](crate::process::is_alive) | |
//! | exit reasons `normal`, `shutdown`, `{shutdown, T}`, `kill` | [`ExitReason`](crate::ExitReason) | A panic is `ExitReason::Error(message)`. |
//!
//! ## State machines
//!
//! | OTP / Elixir | noex | Differences |
//! |---|---|---|
//! | `gen_statem` behaviour, `handle_event_function` mode | [`GenStateMachine`](crate::gen_statem::GenStateMachine), one [`handle_event`](crate::gen_statem::GenStateMachine::handle_event) with the current state | No `state_functions` mode: match on the state. |
//! | `gen_statem:start/3`, `call/2,3`, `cast/2`, `stop/1,3` | [`gen_statem::start`](crate::gen_statem::start), [`StateMachineRef`](crate::gen_statem::StateMachineRef) `call`, `call_timeout`, `cast`, `stop` | |
//! | `state_enter` callback mode | [`GenStateMachine::state_enter`](crate::gen_statem::GenStateMachine::state_enter) | An enter call that changes state, postpones or inserts events stops the machine, as OTP does. |
//! | `next_state`, `keep_state`, `repeat_state`, `stop`; `{reply, From, R}` | [`Transition`](crate::gen_statem::Transition) `next_state`, `keep_state`, `repeat_state`, `stop`, `reply` | |
//! | `postpone`, `{next_event, internal, C}` | [`Transition::postpone`](crate::gen_statem::Transition::postpone), [`Transition::next_event`](crate::gen_statem::Transition::next_event) | The handler owns its event, so postponing hands it back. |
//! | `{timeout, T, C}`, `{state_timeout, T, C}`, `{{timeout, Name}, T, C}`, `cancel` | [`event_timeout`](crate::gen_statem::Transition::event_timeout), [`state_timeout`](crate::gen_statem::Transition::state_timeout), [`timeout`](crate::gen_statem::Transition::timeout), `cancel_*` | No absolute times, no `update`. |
//!
//! ## Supervision
//!
//! | OTP / Elixir | noex | Differences |
//! |---|---|---|
//! | `supervisor:start_link/2`, `Supervisor.start_link/2` | [`supervisor::start`](crate::supervisor::start) with a [`SupervisorSpec`](crate::SupervisorSpec) | |
//! | `one_for_one`, `one_for_all`, `rest_for_one`, `simple_one_for_one` | [`SupervisorSpec::one_for_one`](crate::SupervisorSpec::one_for_one) and its siblings | |
//! | `DynamicSupervisor` | [`SupervisorSpec::simple_one_for_one`](crate::SupervisorSpec::simple_one_for_one) + [`start_child_with`](crate::SupervisorRef::start_child_with) | |
//! | `intensity`, `period` | [`SupervisorSpec::max_restarts`](crate::SupervisorSpec::max_restarts) | The period is a `Duration`. |
//! | child spec `#{id, start, restart, shutdown, type}` | [`ChildSpec::worker`](crate::ChildSpec::worker), [`ChildSpec::supervisor`](crate::ChildSpec::supervisor), [`restart`](crate::ChildSpec::restart), [`shutdown`](crate::ChildSpec::shutdown) | `start` is a closure that makes a fresh server per (re)start. |
//! | `permanent`, `transient`, `temporary` | [`RestartType`](crate::supervisor::RestartType) | |
//! | `brutal_kill`, timeout, `infinity` | [`Shutdown`](crate::supervisor::Shutdown) | |
//! | `supervisor:start_child/2` | [`SupervisorRef::start_child`](crate::SupervisorRef::start_child) | Returns a typed child whose [`handle`](crate::supervisor::StartedChild::handle) outlives its restarts. |
//! | `which_children/1` | [`SupervisorRef::children`](crate::SupervisorRef::children) | Start order (OTP lists newest first); each child says its status and restart count. |
//! | `count_children/1`, `terminate_child/2`, `restart_child/2`, `delete_child/2` | [`count_children`](crate::SupervisorRef::count_children), [`terminate_child`](crate::SupervisorRef::terminate_child), [`restart_child`](crate::SupervisorRef::restart_child), [`delete_child`](crate::SupervisorRef::delete_child) | |
//!
//! ## Names
//!
//! | OTP / Elixir | noex | Differences |
//! |---|---|---|
//! | `register/2`, `whereis/1`, `unregister/1` | [`registry::register`](crate::registry::register), [`whereis`](crate::registry::whereis), [`unregister`](crate::registry::unregister) | One name per process, one process per name, as in OTP. |
//! | a `{via, Registry, Key}` name held across restarts | [`NamedRef`](crate::NamedRef), [`SupervisorRef::child`](crate::SupervisorRef::child) | |
//! | `Registry.start_link(keys: :unique/:duplicate, name:)`, `child_spec/1` | [`KeyedRegistry::start`](crate::keyed_registry::KeyedRegistry::start) with [`RegistryOptions`](crate::keyed_registry::RegistryOptions), [`KeyedRegistry::child_spec`](crate::keyed_registry::KeyedRegistry::child_spec), [`lookup_registry`](crate::keyed_registry::KeyedRegistry::lookup_registry) | Typed by key and value; a lookup with other types is an error. A restart starts empty. |
//! | `Registry.register/3`, `unregister/2`, `unregister_match/4`, `update_value/3` | [`register`](crate::keyed_registry::KeyedRegistry::register), [`register_self`](crate::keyed_registry::KeyedRegistry::register_self), [`unregister`](crate::keyed_registry::KeyedRegistry::unregister), [`unregister_match`](crate::keyed_registry::KeyedRegistry::unregister_match), [`update_value`](crate::keyed_registry::KeyedRegistry::update_value) | The pid is an argument (a dead one is refused); predicates instead of match specs. |
//! | `Registry.lookup/2`, `match/4`, `count/1`, `count_match/4`, `select/2`, `count_select/2`, `keys/2`, `values/3`, `meta/2`, `put_meta/3` | same names on [`KeyedRegistry`](crate::keyed_registry::KeyedRegistry); `match` is [`match_values`](crate::keyed_registry::KeyedRegistry::match_values) | Closures instead of match specs; reads of an ended registry are empty. |
//! | `Registry.dispatch/3`, the PubSub pattern | [`dispatch`](crate::keyed_registry::KeyedRegistry::dispatch), [`publish`](crate::keyed_registry::KeyedRegistry::publish) | One call per key, in the caller; no `parallel:` option. |
//!
//! ## Tasks
//!
//! | OTP / Elixir | noex | Differences |
//! |---|---|---|
//! | `Task.async/1` (from a process) | [`Task::async_linked`](crate::task::Task::async_linked); outside any process [`task::spawn`](crate::task::spawn) | Takes the caller's `Context`; starts without `.await`. `spawn` links to nobody. |
//! | `Task.await/2` | [`Task::await_timeout`](crate::task::Task::await_timeout), [`Task::await_result`](crate::task::Task::await_result) (5 s) | Errors are values ([`TaskError`](crate::task::TaskError)); on timeout the task is killed and the caller goes on. |
//! | `Task.yield/2`, `Task.yield_many/2`, `Task.await_many/2` | [`Task::yield_timeout`](crate::task::Task::yield_timeout), [`task::yield_many`](crate::task::yield_many), [`task::await_many`](crate::task::await_many) | |
//! | `Task.shutdown/2` (`:brutal_kill`) | [`Task::shutdown`](crate::task::Task::shutdown), [`Task::brutal_kill`](crate::task::Task::brutal_kill) | A future does not trap exits: `Shutdown` ends it at its next `.await`. |
//! | `{Task, fun}` child, `Task.start_link/1` | [`task::child_spec`](crate::task::child_spec) | Temporary by default; stopped by a kill. |
//! | `Task.Supervisor` (`async_nolink`, `async`, `start_child`, `children`, `terminate_child`) | [`TaskSupervisor`](crate::task::TaskSupervisor) (`async_nolink`, `async_linked`, `start_child`, `children`, `terminate_child`) | Tasks are temporary only; shutdown is a kill. Dropping a `Task` detaches it. |
//!
//! ## Applications
//!
//! | OTP / Elixir | noex | Differences |
//! |---|---|---|
//! | `application` behaviour, `Application` (Elixir), `start/2` | [`Application`](crate::application::Application) + [`run`](crate::application::Application::run) / [`start`](crate::application::Application::start) | One per program, always `permanent`: when its tree ends, `run` returns and `main` exits 1. |
//! | `prep_stop/1`, `stop/1` callbacks | [`Application::prep_stop`](crate::application::Application::prep_stop), [`Application::on_stop`](crate::application::Application::on_stop) | Closures; a stop cut short skips `on_stop`. |
//! | `application:stop/1`, `init:stop()` | [`StopHandle::stop`](crate::application::StopHandle::stop), [`RunningApplication::stop`](crate::application::RunningApplication::stop) | |
//! | SIGTERM → `init:stop()` (kernel's `erl_signal_handler`) | SIGTERM and SIGINT stop the application | A second signal during the stop kills the tree at once. |
//! | kernel `shutdown_timeout` | [`Application::shutdown_grace`](crate::application::Application::shutdown_grace) | Default: none (`infinity`); past it → [`AppExit::GraceExceeded`](crate::application::AppExit::GraceExceeded). |
//! | node exit status (`halt/1`) | [`AppExit`](crate::application::AppExit) as `main`'s `Termination` | 0 clean stop; 1 gave up, forced, or failed to start. |
//!
//! ## Debugging live processes
//!
//! | OTP / Elixir | noex | Differences |
//! |---|---|---|
//! | `format_status/1` callback | [`GenServer::format_status`](crate::GenServer::format_status) | Opt-in: `None` by default hides the state everywhere. |
//! | `sys:get_state/1`, `sys:replace_state/2` | [`sys::get_state`](crate::sys::get_state), [`sys::replace_state`](crate::sys::replace_state), `noex state TARGET` | Only for servers that show their state; a panicking replacement leaves the server running. |
//! | `sys:statistics/2` | [`sys::statistics`](crate::sys::statistics) | Read from counters every process keeps; no message. |
//!
//! ## Tables
//!
//! | OTP / Elixir | noex | Differences |
//! |---|---|---|
//! | `ets:new/2` (`set`, `ordered_set`, `bag`, `duplicate_bag`) | [`Table::new`](crate::ets::Table::new)`(owner_pid, `[`TableOptions`](crate::ets::TableOptions)`)` | The owner is a pid given, not the caller; typed keys and values. |
//! | `insert/2`, `insert_new/2`, `lookup/2`, `member/2`, `delete/2`, `delete_object/2`, `take/2` | the [`Table`](crate::ets::Table) / [`TableReader`](crate::ets::TableReader) methods of the same names | |
//! | `delete/1`, `delete_all_objects/1` | [`Table::delete_table`](crate::ets::Table::delete_table), [`Table::clear`](crate::ets::Table::clear) | |
//! | `update_counter/3,4`, `update_element/3` | [`update_counter`](crate::ets::Table::update_counter), [`update_counter_or`](crate::ets::Table::update_counter_or), [`update_element`](crate::ets::Table::update_element) | Overflow is an error, not a wrap; `update_element` takes a closure. |
//! | `select/2`, `match_object/2`, `select_count/2`, `select_delete/2`, `tab2list/1` | methods taking closures; [`to_vec`](crate::ets::TableReader::to_vec) | Closures instead of match specs; no continuations. |
//! | `first/1`, `next/2`, `last/1`, `prev/2` | the same names | |
//! | `give_away/3`, `{heir, Pid, Data}`, `setopts(T, {heir, ..})`, `'ETS-TRANSFER'` | [`give_away`](crate::ets::Table::give_away), [`TableOptions::heir_with`](crate::ets::TableOptions::heir_with), [`set_heir`](crate::ets::Table::set_heir), [`EtsTransfer`](crate::ets::EtsTransfer) | |
//! | `public`, `protected`, `private`; `named_table`, `whereis/1` | [`Access`](crate::ets::Access); [`TableOptions::named`](crate::ets::TableOptions::named), [`ets::whereis`](crate::ets::whereis), [`whereis_writable`](crate::ets::whereis_writable) | Access is the handle's: a protected table found by name gives a read-only handle. |
//! | `ets:all/0`, `ets:info/1` | [`ets::all`](crate::ets::all), [`TableReader::info`](crate::ets::TableReader::info); each table in its owner's row of `noex ps` | Memory is an estimate (the structure, not what keys and values point to). |
//!
//! ## Services and the rest of OTP
//!
//! | OTP / Elixir | noex |
//! |---|---|
//! | ETS as a cache | [`cache::Cache`](crate::cache::Cache): LRU, TTLs, single-flight `get_or_set` |
//! | `Phoenix.PubSub`, `:pg` topics | [`event_bus::EventBus`](crate::event_bus::EventBus): dotted topics with `*` wildcards |
//! | a rate-limiting GenServer | [`rate_limiter::RateLimiter`](crate::rate_limiter::RateLimiter) |
//! | observer, `sys:get_status` | [`observer::snapshot`](crate::observer::snapshot), and `noex ps` / `noex tree` / `noex top` from outside |
//! | `Agent` (`get`, `update`, `get_and_update`, `cast`) | [`state_agent::StateAgent`](crate::state_agent::StateAgent): the same four, each a function run in the agent; `cast` fails if the agent has ended |
