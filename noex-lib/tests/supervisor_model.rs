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
//! observer shows (`ServerInfo::restarts`, `SupervisorInfo::restarted`) counts
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

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use noex::events::{EventKind, EventStream};
use noex::gen_server::{Context, GenServer, Reply};
use noex::observer::{self, Snapshot};
use noex::supervisor::{self, ChildSpec, RestartType, SupervisorSpec};
use noex::{ExitReason, ServerRef, SupervisorRef, registry};
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// The workers under test.

/// The payload of an ordered crash (kept out of the test's output).
const CRASH: &str = "told to crash";

/// What the workers of one case share with the test.
#[derive(Default)]
struct World {
    /// Starts, failed starts and terminates, in order.
    log: Mutex<Vec<String>>,
    /// Child id → how many of its next `init`s fail.
    fail: Mutex<HashMap<String, u32>>,
    /// Child id → its latest instance.
    workers: Mutex<HashMap<String, ServerRef<Worker>>>,
}

impl World {
    fn log(&self, entry: String) {
        self.log.lock().unwrap().push(entry);
    }
}

struct Worker {
    id: String,
    world: Arc<World>,
}

enum Order {
    Exit(ExitReason),
    Crash,
}

impl GenServer for Worker {
    type Call = ();
    type Cast = Order;
    type Reply = ();

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), noex::error::BoxError> {
        let fail = match self.world.fail.lock().unwrap().get_mut(&self.id) {
            Some(left) if *left > 0 => {
                *left -= 1;
                true
            }
            _ => false,
        };
        if fail {
            self.world.log(format!("fail {}", self.id));
            return Err(format!("{} told to fail", self.id).into());
        }
        self.world.log(format!("start {}", self.id));
        let mut workers = self.world.workers.lock().unwrap();
        workers.insert(self.id.clone(), ctx.myself());
        Ok(())
    }

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }

    async fn handle_cast(&mut self, order: Order, ctx: &mut Context<Self>) {
        match order {
            Order::Exit(reason) => ctx.stop(reason),
            Order::Crash => std::panic::panic_any(CRASH),
        }
    }

    async fn terminate(&mut self, reason: &ExitReason, _: &mut Context<Self>) {
        let why = match reason {
            ExitReason::Normal => "normal".to_string(),
            ExitReason::Shutdown => "shutdown".to_string(),
            ExitReason::ShutdownWith(_) => "shutdown_with".to_string(),
            ExitReason::Error(_) => "crash".to_string(),
            other => format!("{other:?}"),
        };
        self.world.log(format!("stop {} {why}", self.id));
    }
}

/// Ordered crashes are expected: keep their panic messages out of the output.
fn quiet_ordered_crashes() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() != Some(&CRASH) {
                default(info);
            }
        }));
    });
}

// ---------------------------------------------------------------------------
// The generated case.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Strat {
    OneForOne,
    OneForAll,
    RestForOne,
    SimpleOneForOne,
}

/// Why a child exits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reason {
    Normal,
    Shutdown,
    ShutdownWith,
    Killed,
    Crash,
    /// A supervisor that gave up: noex's `MaxRestartsExceeded`, OTP's `shutdown`.
    MaxRestarts,
}

impl Reason {
    /// `do_restart/3`'s `normal`, `shutdown` and `{shutdown, _}` clauses.
    fn is_shutdown(self) -> bool {
        matches!(
            self,
            Reason::Normal | Reason::Shutdown | Reason::ShutdownWith | Reason::MaxRestarts
        )
    }

    /// How the worker's `terminate` logs it.
    fn tag(self) -> &'static str {
        match self {
            Reason::Normal => "normal",
            Reason::Shutdown | Reason::MaxRestarts => "shutdown",
            Reason::ShutdownWith => "shutdown_with",
            Reason::Crash => "crash",
            Reason::Killed => "killed",
        }
    }
}

#[derive(Clone, Debug)]
struct SupConfig {
    strategy: Strat,
    intensity: u32,
    period_ms: u64,
    /// Static workers (none for simple_one_for_one).
    workers: Vec<RestartType>,
}

#[derive(Clone, Debug)]
struct Case {
    root: SupConfig,
    nested: SupConfig,
    /// The child supervisor's restart type and place among the root's workers.
    nested_restart: RestartType,
    nested_position: usize,
    /// For a simple_one_for_one child supervisor: the template's restart type and
    /// how many children are added at the start.
    template: RestartType,
    dynamic: usize,
    ops: Vec<Op>,
}

#[derive(Clone, Debug)]
enum Op {
    /// Running children of one supervisor exit in one step (picks among them).
    Exit {
        nested: bool,
        picks: Vec<(usize, Reason)>,
    },
    /// A worker (picked among all ids) fails its next `times` inits.
    FailNext {
        pick: usize,
        times: u32,
    },
    /// `terminate_child` of any child (not on simple_one_for_one).
    Terminate {
        nested: bool,
        pick: usize,
    },
    /// `start_child` on a simple_one_for_one child supervisor.
    AddDynamic,
    Advance(Advance),
}

#[derive(Clone, Copy, Debug)]
enum Advance {
    /// A quarter of a supervisor's period, times `quarters`.
    By { nested: bool, quarters: u64 },
    /// To where the oldest restart in a supervisor's window is exactly `period`
    /// old (`past`: 1 ms later).
    ToWindowEdge { nested: bool, past: bool },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Level {
    Root,
    Nested,
}

// ---------------------------------------------------------------------------
// The model.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pid {
    /// An instance (numbered by the model).
    Running(u64),
    Restarting,
    Undefined,
}

#[derive(Clone, Debug)]
struct MChild {
    id: String,
    restart: RestartType,
    supervisor: bool,
    pid: Pid,
    /// The instance is alive (its exit may not have been handled yet).
    alive: bool,
    /// Restart attempts of this spec so far.
    restarts: u32,
}

impl MChild {
    fn new(id: String, restart: RestartType, supervisor: bool) -> Self {
        MChild {
            id,
            restart,
            supervisor,
            pid: Pid::Undefined,
            alive: false,
            restarts: 0,
        }
    }

    fn running(&self) -> bool {
        matches!(self.pid, Pid::Running(_))
    }
}

enum Msg {
    Exit {
        id: String,
        instance: u64,
        reason: Reason,
    },
    TryAgain(String),
}

struct MSup {
    strategy: Strat,
    intensity: u32,
    period: u64,
    /// Times of the restarts still in the window.
    restarts: Vec<u64>,
    children: Vec<MChild>,
    mailbox: VecDeque<Msg>,
    next_dynamic: u64,
}

impl MSup {
    fn new(config: &SupConfig) -> Self {
        MSup {
            strategy: config.strategy,
            intensity: config.intensity,
            period: config.period_ms,
            restarts: Vec::new(),
            children: Vec::new(),
            mailbox: VecDeque::new(),
            next_dynamic: 0,
        }
    }
}

/// One log entry, or entries that may come in any order.
#[derive(Clone, Debug)]
enum Entry {
    One(String),
    AnyOrder(Vec<String>),
}

struct Model {
    prefix: String,
    nested_config: SupConfig,
    template: RestartType,
    /// The virtual clock, ms since the case began.
    now: u64,
    next_instance: u64,
    root: Option<MSup>,
    nested: Option<MSup>,
    fail: HashMap<String, u32>,
    log: Vec<Entry>,
    events: Vec<String>,
}

impl Model {
    fn new(case: &Case, prefix: &str) -> Self {
        let mut root = MSup::new(&case.root);
        root.children = case
            .root
            .workers
            .iter()
            .enumerate()
            .map(|(i, &restart)| MChild::new(format!("{prefix}r{i}"), restart, false))
            .collect();
        let position = case.nested_position.min(root.children.len());
        let nested = MChild::new(format!("{prefix}s"), case.nested_restart, true);
        root.children.insert(position, nested);
        let count = root.children.len();
        let mut model = Model {
            prefix: prefix.to_string(),
            nested_config: case.nested.clone(),
            template: case.template,
            now: 0,
            next_instance: 0,
            root: Some(root),
            nested: None,
            fail: HashMap::new(),
            log: Vec::new(),
            events: Vec::new(),
        };
        for index in 0..count {
            assert!(model.start(Level::Root, index), "model: the root starts");
        }
        model
    }

    fn sup(&mut self, level: Level) -> &mut MSup {
        match level {
            Level::Root => self.root.as_mut(),
            Level::Nested => self.nested.as_mut(),
        }
        .expect("model: the supervisor is alive")
    }

    fn sup_ref(&self, level: Level) -> Option<&MSup> {
        match level {
            Level::Root => self.root.as_ref(),
            Level::Nested => self.nested.as_ref(),
        }
    }

    fn name(&self, level: Level) -> String {
        match level {
            Level::Root => "root".to_string(),
            Level::Nested => format!("{}s", self.prefix),
        }
    }

    fn log(&mut self, entry: String) {
        self.log.push(Entry::One(entry));
    }

    /// `do_start_child`: start child `index`; on success it runs.
    fn start(&mut self, level: Level, index: usize) -> bool {
        let child = &self.sup(level).children[index];
        let (id, supervisor) = (child.id.clone(), child.supervisor);
        let started = if supervisor {
            self.init_nested()
        } else {
            self.init_worker(&id)
        };
        if started {
            self.next_instance += 1;
            let instance = self.next_instance;
            let child = &mut self.sup(level).children[index];
            child.pid = Pid::Running(instance);
            child.alive = true;
        }
        started
    }

    fn init_worker(&mut self, id: &str) -> bool {
        match self.fail.get_mut(id) {
            Some(left) if *left > 0 => {
                *left -= 1;
                self.log(format!("fail {id}"));
                false
            }
            _ => {
                self.log(format!("start {id}"));
                true
            }
        }
    }

    /// The child supervisor's `init_children`: its children in order; if one fails,
    /// those started are terminated (reverse order) and the start fails.
    fn init_nested(&mut self) -> bool {
        assert!(self.nested.is_none(), "model: two child supervisors");
        let mut sup = MSup::new(&self.nested_config);
        if sup.strategy != Strat::SimpleOneForOne {
            sup.children = self
                .nested_config
                .workers
                .iter()
                .enumerate()
                .map(|(i, &restart)| MChild::new(format!("{}s{i}", self.prefix), restart, false))
                .collect();
        }
        let count = sup.children.len();
        self.nested = Some(sup);
        for index in 0..count {
            if !self.start(Level::Nested, index) {
                for started in (0..index).rev() {
                    self.shut_down(Level::Nested, started);
                }
                self.nested = None;
                return false;
            }
        }
        true
    }

    /// `do_terminate` → `shutdown/1`: a running child is stopped with `shutdown`
    /// (one already dead is only waited for); it is left `undefined`.
    fn shut_down(&mut self, level: Level, index: usize) {
        let child = &mut self.sup(level).children[index];
        let alive = child.running() && child.alive;
        child.pid = Pid::Undefined;
        child.alive = false;
        let (id, supervisor) = (child.id.clone(), child.supervisor);
        if alive {
            if supervisor {
                self.terminate(Level::Nested);
            } else {
                self.log(format!("stop {id} shutdown"));
            }
        }
    }

    /// `terminate/2`: `terminate_children` (reverse start order), or
    /// `terminate_dynamic_children` (all at once); then the supervisor is gone.
    fn terminate(&mut self, level: Level) {
        let sup = self.sup(level);
        if sup.strategy == Strat::SimpleOneForOne {
            let stops: Vec<String> = sup
                .children
                .iter()
                .filter(|child| child.running() && child.alive)
                .map(|child| format!("stop {} shutdown", child.id))
                .collect();
            if !stops.is_empty() {
                self.log.push(Entry::AnyOrder(stops));
            }
        } else {
            for index in (0..sup.children.len()).rev() {
                self.shut_down(level, index);
            }
        }
        match level {
            Level::Root => self.root = None,
            Level::Nested => self.nested = None,
        }
    }

    /// `del_child/2`.
    fn del_child(&mut self, level: Level, index: usize) {
        let sup = self.sup(level);
        if sup.strategy == Strat::SimpleOneForOne
            || sup.children[index].restart == RestartType::Temporary
        {
            sup.children.remove(index);
        } else {
            let child = &mut sup.children[index];
            child.pid = Pid::Undefined;
            child.alive = false;
        }
    }

    /// A worker exits by its own order (its `terminate` runs unless killed); its
    /// supervisor is told through its mailbox.
    fn exit(&mut self, level: Level, index: usize, reason: Reason) {
        let child = &mut self.sup(level).children[index];
        let Pid::Running(instance) = child.pid else {
            panic!("model: only a running child exits");
        };
        child.alive = false;
        let id = child.id.clone();
        if reason != Reason::Killed {
            self.log(format!("stop {id} {}", reason.tag()));
        }
        let msg = Msg::Exit {
            id,
            instance,
            reason,
        };
        self.sup(level).mailbox.push_back(msg);
    }

    /// The child supervisor is killed: its workers die with it (`killed`, no
    /// `terminate`), and the root is told.
    fn kill_nested(&mut self) {
        self.nested = None;
        self.nested_exited(Reason::Killed);
    }

    /// The root's `{'EXIT', Nested, Reason}`.
    fn nested_exited(&mut self, reason: Reason) {
        let root = self.sup(Level::Root);
        let child = root
            .children
            .iter_mut()
            .find(|child| child.supervisor)
            .expect("model: the root has its child supervisor");
        let Pid::Running(instance) = child.pid else {
            panic!("model: the child supervisor was running");
        };
        child.alive = false;
        let msg = Msg::Exit {
            id: child.id.clone(),
            instance,
            reason,
        };
        root.mailbox.push_back(msg);
    }

    /// Every message queued, the child supervisor's first (only one of the two
    /// ever has messages at a time).
    fn run_mailboxes(&mut self) {
        loop {
            let nested = self.nested.as_mut().and_then(|sup| sup.mailbox.pop_front());
            if let Some(msg) = nested {
                assert!(
                    self.root
                        .as_ref()
                        .is_none_or(|root| root.mailbox.is_empty()),
                    "model: both supervisors have messages: their order is not defined"
                );
                self.handle(Level::Nested, msg);
                continue;
            }
            let root = self.root.as_mut().and_then(|sup| sup.mailbox.pop_front());
            match root {
                Some(msg) => self.handle(Level::Root, msg),
                None => break,
            }
        }
    }

    /// `handle_info({'EXIT', ..})` → `restart_child/3` → `do_restart/3`, and
    /// `handle_cast({try_again_restart, Id})`.
    fn handle(&mut self, level: Level, msg: Msg) {
        let sup = self.sup(level);
        match msg {
            Msg::Exit {
                id,
                instance,
                reason,
            } => {
                let Some(index) = sup
                    .children
                    .iter()
                    .position(|child| child.id == id && child.pid == Pid::Running(instance))
                else {
                    return;
                };
                let restart = match sup.children[index].restart {
                    RestartType::Permanent => true,
                    _ if reason.is_shutdown() => false,
                    RestartType::Transient => true,
                    _ => false,
                };
                if restart {
                    self.restart(level, index);
                } else {
                    self.del_child(level, index);
                }
            }
            Msg::TryAgain(id) => {
                if let Some(index) = sup
                    .children
                    .iter()
                    .position(|child| child.id == id && child.pid == Pid::Restarting)
                {
                    self.restart(level, index);
                }
            }
        }
    }

    /// `restart/2`: `add_restart`, then the strategy's `restart/3`.
    fn restart(&mut self, level: Level, index: usize) {
        let now = self.now;
        let sup = self.sup(level);
        let period = sup.period;
        sup.restarts.retain(|&at| at + period >= now);
        sup.restarts.push(now);
        if sup.restarts.len() > sup.intensity as usize {
            let name = self.name(level);
            self.events.push(format!("gave_up {name}"));
            self.del_child(level, index);
            self.terminate(level);
            if level == Level::Nested {
                self.nested_exited(Reason::MaxRestarts);
            }
            return;
        }
        match sup.strategy {
            Strat::OneForOne | Strat::SimpleOneForOne => self.restart_one(level, index),
            Strat::OneForAll => self.restart_group(level, 0),
            Strat::RestForOne => self.restart_group(level, index),
        }
    }

    /// One restart attempt of child `index`; `false` if it failed (it is then
    /// restarting, and a try_again is queued).
    fn attempt(&mut self, level: Level, index: usize) -> bool {
        let child = &mut self.sup(level).children[index];
        child.restarts += 1;
        let (id, attempt) = (child.id.clone(), child.restarts);
        if self.start(level, index) {
            self.events.push(format!("restarted {id} {attempt}"));
            return true;
        }
        let sup = self.sup(level);
        sup.children[index].pid = Pid::Restarting;
        sup.mailbox.push_back(Msg::TryAgain(id));
        false
    }

    fn restart_one(&mut self, level: Level, index: usize) {
        self.attempt(level, index);
    }

    /// `restart_multiple_children` for the children from `from` on.
    fn restart_group(&mut self, level: Level, from: usize) {
        for index in (from..self.sup(level).children.len()).rev() {
            self.shut_down(level, index);
            let sup = self.sup(level);
            if sup.children[index].restart == RestartType::Temporary {
                sup.children.remove(index);
            }
        }
        let mut index = from;
        while index < self.sup(level).children.len() {
            if !self.attempt(level, index) {
                return;
            }
            index += 1;
        }
    }

    /// `handle_call({terminate_child, Id})`.
    fn terminate_child(&mut self, level: Level, index: usize) {
        self.shut_down(level, index);
        self.del_child(level, index);
    }

    /// `start_child` on the simple_one_for_one child supervisor: the new child's
    /// id, and whether it started.
    fn add_dynamic(&mut self) -> (String, bool) {
        let prefix = self.prefix.clone();
        let template = self.template;
        let sup = self.sup(Level::Nested);
        sup.next_dynamic += 1;
        let id = format!("{prefix}d-{}", sup.next_dynamic);
        sup.children.push(MChild::new(id.clone(), template, false));
        let index = sup.children.len() - 1;
        let started = self.start(Level::Nested, index);
        if !started {
            self.sup(Level::Nested).children.pop();
        }
        (id, started)
    }

    /// The oldest restart still in `level`'s window.
    fn oldest_restart(&self, level: Level) -> Option<(u64, u64)> {
        let sup = self.sup_ref(level)?;
        let oldest = sup
            .restarts
            .iter()
            .copied()
            .filter(|&at| at + sup.period >= self.now)
            .min()?;
        Some((oldest, sup.period))
    }
}

/// Does `actual` follow `expected` (entries of an `AnyOrder` group in any order)?
fn log_matches(expected: &[Entry], actual: &[String]) -> bool {
    let mut at = 0;
    for entry in expected {
        match entry {
            Entry::One(line) => {
                if actual.get(at) != Some(line) {
                    return false;
                }
                at += 1;
            }
            Entry::AnyOrder(lines) => {
                let Some(got) = actual.get(at..at + lines.len()) else {
                    return false;
                };
                let (mut got, mut want) = (got.to_vec(), lines.clone());
                got.sort();
                want.sort();
                if got != want {
                    return false;
                }
                at += lines.len();
            }
        }
    }
    at == actual.len()
}

fn flatten(expected: &[Entry]) -> Vec<String> {
    expected
        .iter()
        .flat_map(|entry| match entry {
            Entry::One(line) => vec![line.clone()],
            Entry::AnyOrder(lines) => lines.clone(),
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Running a case against noex.

static CASE: AtomicU64 = AtomicU64::new(0);

struct Harness {
    world: Arc<World>,
    prefix: String,
    root: SupervisorRef,
    nested_name: String,
    events: EventStream,
    /// This case's events so far, as the model writes them.
    seen: Vec<String>,
    start: tokio::time::Instant,
    /// The operations done so far, resolved.
    trace: Vec<String>,
}

fn spec_for(strategy: Strat, template: Option<ChildSpec>) -> SupervisorSpec {
    match strategy {
        Strat::OneForOne => SupervisorSpec::one_for_one(),
        Strat::OneForAll => SupervisorSpec::one_for_all(),
        Strat::RestForOne => SupervisorSpec::rest_for_one(),
        Strat::SimpleOneForOne => SupervisorSpec::simple_one_for_one(template.expect("a template")),
    }
}

fn worker_spec(world: &Arc<World>, id: String, restart: RestartType) -> ChildSpec {
    let (world, worker_id) = (world.clone(), id.clone());
    ChildSpec::worker(id, move || Worker {
        id: worker_id.clone(),
        world: world.clone(),
    })
    .restart(restart)
}

fn root_spec(case: &Case, world: &Arc<World>, prefix: &str) -> SupervisorSpec {
    let nested = &case.nested;
    let template = {
        let world = world.clone();
        ChildSpec::worker_with(format!("{prefix}d"), move |id: &String| Worker {
            id: id.clone(),
            world: world.clone(),
        })
        .restart(case.template)
    };
    let nested_spec = spec_for(nested.strategy, Some(template))
        .max_restarts(nested.intensity, Duration::from_millis(nested.period_ms))
        .name(format!("{prefix}sup"))
        .children(
            nested
                .workers
                .iter()
                .enumerate()
                .filter(|_| nested.strategy != Strat::SimpleOneForOne)
                .map(|(i, &restart)| worker_spec(world, format!("{prefix}s{i}"), restart)),
        );
    let mut children: Vec<ChildSpec> = case
        .root
        .workers
        .iter()
        .enumerate()
        .map(|(i, &restart)| worker_spec(world, format!("{prefix}r{i}"), restart))
        .collect();
    let position = case.nested_position.min(children.len());
    children.insert(
        position,
        ChildSpec::supervisor(format!("{prefix}s"), nested_spec).restart(case.nested_restart),
    );
    spec_for(case.root.strategy, None)
        .max_restarts(
            case.root.intensity,
            Duration::from_millis(case.root.period_ms),
        )
        .name(format!("{prefix}root"))
        .children(children)
}

/// Wait until every task is idle: the paused clock moves on only then.
async fn settle(model: &mut Model) {
    tokio::time::sleep(Duration::from_millis(1)).await;
    model.now += 1;
}

impl Harness {
    fn nested(&self) -> SupervisorRef {
        registry::lookup_supervisor(&self.nested_name).expect("the child supervisor is registered")
    }

    fn sup(&self, level: Level) -> SupervisorRef {
        match level {
            Level::Root => self.root.clone(),
            Level::Nested => self.nested(),
        }
    }

    fn worker(&self, id: &str) -> ServerRef<Worker> {
        self.world.workers.lock().unwrap()[id].clone()
    }

    /// This case's new events, written as the model writes them.
    fn drain_events(&mut self) {
        while let Some(event) = self.events.try_recv() {
            let event = event.expect("the event stream lagged");
            let who = if event.pid == self.root.pid() {
                Some("root".to_string())
            } else {
                event.child_id.filter(|id| id.starts_with(&self.prefix))
            };
            let Some(who) = who else { continue };
            match event.kind {
                EventKind::Restarted { attempt } => {
                    self.seen.push(format!("restarted {who} {attempt}"));
                }
                EventKind::MaxRestartsExceeded { .. } => self.seen.push(format!("gave_up {who}")),
                _ => {}
            }
        }
    }

    async fn check(&mut self, model: &Model) {
        let at = format!("after {:#?}", self.trace);
        assert_eq!(
            self.start.elapsed(),
            Duration::from_millis(model.now),
            "virtual clock; {at}"
        );
        assert_eq!(
            self.root.is_running(),
            model.root.is_some(),
            "root alive; {at}"
        );
        assert_eq!(
            registry::whereis(&self.nested_name).is_some(),
            model.nested.is_some(),
            "child supervisor alive; {at}"
        );
        let snapshot = observer::snapshot();
        for level in [Level::Root, Level::Nested] {
            if let Some(sup) = model.sup_ref(level) {
                check_children(&self.sup(level), sup, &snapshot, &model.name(level), &at).await;
            }
        }
        let log = self.world.log.lock().unwrap().clone();
        if !log_matches(&model.log, &log) {
            assert_eq!(
                log,
                flatten(&model.log),
                "start/stop log (noex, model); {at}"
            );
        }
        self.drain_events();
        assert_eq!(self.seen, model.events, "events (noex, model); {at}");
    }
}

/// The children (ids in order, running or not) and each running child's restart
/// count, as noex reports them.
async fn check_children(
    actual: &SupervisorRef,
    model: &MSup,
    snapshot: &Snapshot,
    name: &str,
    at: &str,
) {
    let children = actual.children().await.expect("children");
    let mut got: Vec<(String, bool)> = children
        .iter()
        .map(|child| (child.id.clone(), child.pid.is_some()))
        .collect();
    let mut want: Vec<(String, bool)> = model
        .children
        .iter()
        .map(|child| (child.id.clone(), child.running()))
        .collect();
    let mut got_restarts: Vec<(String, u32)> = children
        .iter()
        .filter_map(|child| {
            let pid = child.pid?;
            let restarts = snapshot
                .servers
                .iter()
                .find(|server| server.pid == pid)
                .map(|server| server.restarts)
                .or_else(|| {
                    snapshot
                        .supervisors
                        .iter()
                        .find(|sup| sup.pid == pid)
                        .map(|sup| sup.restarted)
                })
                .expect("a running child is in the snapshot");
            Some((child.id.clone(), restarts))
        })
        .collect();
    let mut want_restarts: Vec<(String, u32)> = model
        .children
        .iter()
        .filter(|child| child.running())
        .map(|child| (child.id.clone(), child.restarts))
        .collect();
    // OTP keeps simple_one_for_one children in no order.
    if model.strategy == Strat::SimpleOneForOne {
        got.sort();
        want.sort();
        got_restarts.sort();
        want_restarts.sort();
    }
    assert_eq!(got, want, "children of {name} (noex, model); {at}");
    assert_eq!(
        got_restarts, want_restarts,
        "restart counts of {name}'s children (noex, model); {at}"
    );
}

/// Do `op` on noex and on the model; `false` if it did not apply.
async fn apply(op: &Op, h: &mut Harness, model: &mut Model) -> bool {
    match *op {
        Op::Exit { nested, ref picks } => {
            let level = if nested { Level::Nested } else { Level::Root };
            let Some(sup) = model.sup_ref(level) else {
                return false;
            };
            let mut candidates: Vec<usize> = (0..sup.children.len())
                .filter(|&i| sup.children[i].running() && sup.children[i].alive)
                .collect();
            let mut targets = Vec::new();
            for &(pick, reason) in picks {
                if candidates.is_empty() {
                    break;
                }
                let index = candidates.remove(pick % candidates.len());
                if sup.children[index].supervisor {
                    // The child supervisor can only be killed, and alone: noex
                    // reports its exit once its children are gone, so the root may
                    // have handled the other exits of the step (and queued
                    // try_agains) before it.
                    if targets.is_empty() {
                        targets.push((index, Reason::Killed));
                        break;
                    }
                    continue;
                }
                targets.push((index, reason));
            }
            if targets.is_empty() {
                return false;
            }
            let mut done = Vec::new();
            for &(index, reason) in &targets {
                let child = &sup.children[index];
                if child.supervisor {
                    h.nested().kill();
                    done.push(format!("kill {}", child.id));
                    continue;
                }
                let worker = h.worker(&child.id);
                let order = match reason {
                    Reason::Killed => {
                        worker.kill();
                        None
                    }
                    Reason::Crash => Some(Order::Crash),
                    Reason::Normal => Some(Order::Exit(ExitReason::Normal)),
                    Reason::Shutdown => Some(Order::Exit(ExitReason::Shutdown)),
                    Reason::ShutdownWith => Some(Order::Exit(ExitReason::shutdown_with("bye"))),
                    Reason::MaxRestarts => unreachable!("not generated"),
                };
                if let Some(order) = order {
                    worker.cast(order).expect("the worker is running");
                }
                done.push(format!("{} exits {}", child.id, reason.tag()));
            }
            h.trace
                .push(format!("at {} ms: {}", model.now, done.join(", ")));
            for (index, reason) in targets {
                if model.sup(level).children[index].supervisor {
                    model.kill_nested();
                } else {
                    model.exit(level, index, reason);
                }
            }
            model.run_mailboxes();
            settle(model).await;
        }
        Op::FailNext { pick, times } => {
            let mut ids: Vec<String> = model.root.as_ref().map_or(Vec::new(), |root| {
                root.children
                    .iter()
                    .filter(|child| !child.supervisor)
                    .map(|child| child.id.clone())
                    .collect()
            });
            if model.nested_config.strategy == Strat::SimpleOneForOne {
                if let Some(nested) = &model.nested {
                    ids.extend(nested.children.iter().map(|child| child.id.clone()));
                    ids.push(format!("{}d-{}", model.prefix, nested.next_dynamic + 1));
                }
            } else {
                ids.extend(
                    (0..model.nested_config.workers.len()).map(|i| format!("{}s{i}", model.prefix)),
                );
            }
            if ids.is_empty() {
                return false;
            }
            let id = ids[pick % ids.len()].clone();
            h.trace.push(format!("{id} fails its next {times} inits"));
            h.world.fail.lock().unwrap().insert(id.clone(), times);
            model.fail.insert(id, times);
        }
        Op::Terminate { nested, pick } => {
            let level = if nested { Level::Nested } else { Level::Root };
            let Some(sup) = model.sup_ref(level) else {
                return false;
            };
            if sup.strategy == Strat::SimpleOneForOne || sup.children.is_empty() {
                return false;
            }
            let index = pick % sup.children.len();
            let id = sup.children[index].id.clone();
            h.trace
                .push(format!("at {} ms: terminate_child({id})", model.now));
            let result = h.sup(level).terminate_child(id.as_str()).await;
            assert!(result.is_ok(), "terminate_child({id}): {result:?}");
            model.terminate_child(level, index);
            model.run_mailboxes();
            settle(model).await;
        }
        Op::AddDynamic => {
            if model
                .nested
                .as_ref()
                .is_none_or(|sup| sup.strategy != Strat::SimpleOneForOne)
            {
                return false;
            }
            let (id, started) = model.add_dynamic();
            h.trace
                .push(format!("at {} ms: start_child({id})", model.now));
            let result = h.nested().start_child_with(id.clone()).await;
            assert_eq!(result.is_ok(), started, "start_child({id}): {result:?}");
            model.run_mailboxes();
            settle(model).await;
        }
        Op::Advance(advance) => {
            let by = match advance {
                Advance::By { nested, quarters } => {
                    let config_period = if nested {
                        model.nested_config.period_ms
                    } else {
                        model.sup_ref(Level::Root).map_or(0, |root| root.period)
                    };
                    config_period * quarters / 4
                }
                Advance::ToWindowEdge { nested, past } => {
                    let level = if nested { Level::Nested } else { Level::Root };
                    match model.oldest_restart(level) {
                        Some((oldest, period)) => {
                            (oldest + period + u64::from(past)).saturating_sub(model.now)
                        }
                        None => 0,
                    }
                }
            };
            if by == 0 {
                return false;
            }
            h.trace.push(format!("advance {by} ms"));
            tokio::time::advance(Duration::from_millis(by)).await;
            model.now += by;
        }
    }
    true
}

async fn run(case: Case) {
    let prefix = format!("c{}.", CASE.fetch_add(1, Ordering::Relaxed));
    let world = Arc::new(World::default());
    let events = noex::events::subscribe();
    let start = tokio::time::Instant::now();
    let root = supervisor::start(root_spec(&case, &world, &prefix))
        .await
        .expect("the root starts");
    let mut model = Model::new(&case, &prefix);
    let mut h = Harness {
        world,
        prefix: prefix.clone(),
        root,
        nested_name: format!("{prefix}sup"),
        events,
        seen: Vec::new(),
        start,
        trace: Vec::new(),
    };
    if case.nested.strategy == Strat::SimpleOneForOne {
        for _ in 0..case.dynamic {
            apply(&Op::AddDynamic, &mut h, &mut model).await;
        }
    }
    settle(&mut model).await;
    h.check(&model).await;

    for op in &case.ops {
        if model.root.is_none() {
            break;
        }
        if apply(op, &mut h, &mut model).await {
            h.check(&model).await;
        }
    }

    if model.root.is_some() {
        h.trace.push("stop the root".to_string());
        h.root.stop().await.expect("the root stops");
        model.terminate(Level::Root);
        h.check(&model).await;
    } else {
        let reason = h.root.wait().await;
        assert!(
            matches!(reason, ExitReason::MaxRestartsExceeded(_)),
            "the root gave up with {reason:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// Generators.

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
