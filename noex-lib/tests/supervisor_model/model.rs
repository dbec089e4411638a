//! The model: OTP's supervisor, written from `supervisor.erl` (see the crate doc).

use std::collections::{HashMap, VecDeque};

use noex::supervisor::RestartType;

use crate::case::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pid {
    /// An instance (numbered by the model).
    Running(u64),
    Restarting,
    Undefined,
}

#[derive(Clone, Debug)]
pub(crate) struct MChild {
    pub(crate) id: String,
    pub(crate) restart: RestartType,
    pub(crate) supervisor: bool,
    pub(crate) pid: Pid,
    /// The instance is alive (its exit may not have been handled yet).
    pub(crate) alive: bool,
    /// Restart attempts of this spec so far.
    pub(crate) restarts: u32,
}

impl MChild {
    pub(crate) fn new(id: String, restart: RestartType, supervisor: bool) -> Self {
        MChild {
            id,
            restart,
            supervisor,
            pid: Pid::Undefined,
            alive: false,
            restarts: 0,
        }
    }

    pub(crate) fn running(&self) -> bool {
        matches!(self.pid, Pid::Running(_))
    }
}

pub(crate) enum Msg {
    Exit {
        id: String,
        instance: u64,
        reason: Reason,
    },
    TryAgain(String),
}

pub(crate) struct MSup {
    pub(crate) strategy: Strat,
    pub(crate) intensity: u32,
    pub(crate) period: u64,
    /// Times of the restarts still in the window.
    pub(crate) restarts: Vec<u64>,
    pub(crate) children: Vec<MChild>,
    pub(crate) mailbox: VecDeque<Msg>,
    pub(crate) next_dynamic: u64,
}

impl MSup {
    pub(crate) fn new(config: &SupConfig) -> Self {
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
pub(crate) enum Entry {
    One(String),
    AnyOrder(Vec<String>),
}

pub(crate) struct Model {
    pub(crate) prefix: String,
    pub(crate) nested_config: SupConfig,
    pub(crate) template: RestartType,
    /// The virtual clock, ms since the case began.
    pub(crate) now: u64,
    pub(crate) next_instance: u64,
    pub(crate) root: Option<MSup>,
    pub(crate) nested: Option<MSup>,
    pub(crate) fail: HashMap<String, u32>,
    pub(crate) log: Vec<Entry>,
    pub(crate) events: Vec<String>,
}

impl Model {
    pub(crate) fn new(case: &Case, prefix: &str) -> Self {
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

    pub(crate) fn sup(&mut self, level: Level) -> &mut MSup {
        match level {
            Level::Root => self.root.as_mut(),
            Level::Nested => self.nested.as_mut(),
        }
        .expect("model: the supervisor is alive")
    }

    pub(crate) fn sup_ref(&self, level: Level) -> Option<&MSup> {
        match level {
            Level::Root => self.root.as_ref(),
            Level::Nested => self.nested.as_ref(),
        }
    }

    pub(crate) fn name(&self, level: Level) -> String {
        match level {
            Level::Root => "root".to_string(),
            Level::Nested => format!("{}s", self.prefix),
        }
    }

    pub(crate) fn log(&mut self, entry: String) {
        self.log.push(Entry::One(entry));
    }

    /// `do_start_child`: start child `index`; on success it runs.
    pub(crate) fn start(&mut self, level: Level, index: usize) -> bool {
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

    pub(crate) fn init_worker(&mut self, id: &str) -> bool {
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
    pub(crate) fn init_nested(&mut self) -> bool {
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
    pub(crate) fn shut_down(&mut self, level: Level, index: usize) {
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
    pub(crate) fn terminate(&mut self, level: Level) {
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
    pub(crate) fn del_child(&mut self, level: Level, index: usize) {
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
    pub(crate) fn exit(&mut self, level: Level, index: usize, reason: Reason) {
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
    pub(crate) fn kill_nested(&mut self) {
        self.nested = None;
        self.nested_exited(Reason::Killed);
    }

    /// The root's `{'EXIT', Nested, Reason}`.
    pub(crate) fn nested_exited(&mut self, reason: Reason) {
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
    pub(crate) fn run_mailboxes(&mut self) {
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
    pub(crate) fn handle(&mut self, level: Level, msg: Msg) {
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
    pub(crate) fn restart(&mut self, level: Level, index: usize) {
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
    pub(crate) fn attempt(&mut self, level: Level, index: usize) -> bool {
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

    pub(crate) fn restart_one(&mut self, level: Level, index: usize) {
        self.attempt(level, index);
    }

    /// `restart_multiple_children` for the children from `from` on.
    pub(crate) fn restart_group(&mut self, level: Level, from: usize) {
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
    pub(crate) fn terminate_child(&mut self, level: Level, index: usize) {
        self.shut_down(level, index);
        self.del_child(level, index);
    }

    /// `start_child` on the simple_one_for_one child supervisor: the new child's
    /// id, and whether it started.
    pub(crate) fn add_dynamic(&mut self) -> (String, bool) {
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
    pub(crate) fn oldest_restart(&self, level: Level) -> Option<(u64, u64)> {
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
pub(crate) fn log_matches(expected: &[Entry], actual: &[String]) -> bool {
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

pub(crate) fn flatten(expected: &[Entry]) -> Vec<String> {
    expected
        .iter()
        .flat_map(|entry| match entry {
            Entry::One(line) => vec![line.clone()],
            Entry::AnyOrder(lines) => lines.clone(),
        })
        .collect()
}
