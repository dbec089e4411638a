//! The supervisor process: a GenServer that traps exits, starts its children linked
//! to it, and turns each child's exit into a restart decision — the rules of OTP's
//! `supervisor.erl`, function for function where it matters (`do_restart`,
//! `restart/2`, `restart_multiple_children`, `try_again_restart`, the
//! `handle_call` clauses and their errors).

use std::any::Any;
use std::sync::Arc;

use noex_agent::types::{
    ChildInfo, ChildKind, EventKind, Intensity, LifecycleEvent, RestartType, Strategy,
};
use parking_lot::Mutex;

use super::intensity::RestartWindow;
use super::spec::{ChildSpec, ChildStart, SupervisorSpec, shutdown_child, shutdown_children};
use super::{ChildCount, ChildRef};
use crate::error::{
    BoxError, ChildNotFoundError, MaxRestartsExceededError, StartError, SupervisorError,
};
use crate::gen_server::{Context, GenServer, Info, Reply, SpawnOptions, spawn};
use crate::process::{CellRef, Exit, SupervisorView, is_alive};
use crate::runtime::runtime;
use crate::{ExitReason, Pid};

pub(crate) struct SupervisorServer {
    spec: SupervisorSpec,
    /// In start order.
    children: Vec<Child>,
    window: RestartWindow,
    total_restarts: u32,
    next_dynamic_id: u64,
    /// Set in `init`: this supervisor's own cell.
    me: Option<CellRef>,
}

struct Child {
    spec: ChildSpec,
    id: Arc<str>,
    state: ChildState,
    /// The pid of the latest instance, running or not.
    last_pid: Option<Pid>,
    /// Restarts of this child so far (each attempt counts).
    restarts: u32,
    last_error: Option<String>,
    arg: Option<Arc<dyn Any + Send + Sync>>,
}

/// OTP's child `pid` field: a pid, `{restarting, _}`, or `undefined`.
enum ChildState {
    Running(CellRef),
    /// A restart failed; it is tried again through the mailbox.
    Restarting,
    Stopped,
}

impl Child {
    fn running(&self) -> Option<&CellRef> {
        match &self.state {
            ChildState::Running(cell) => Some(cell),
            _ => None,
        }
    }
}

/// A restart to try again, sent by the supervisor to itself (OTP's
/// `{try_again_restart, Id}` cast), so the requests that came meanwhile are
/// served between attempts.
struct TryAgain(Arc<str>);

pub(crate) enum SupervisorCall {
    StartChild(ChildSpec),
    StartChildWith(Arc<dyn Any + Send + Sync>),
    TerminateChild(ChildRef),
    RestartChild(String),
    DeleteChild(String),
    Children,
    CountChildren,
}

pub(crate) enum SupervisorReply {
    Started(Result<Pid, SupervisorError>),
    Done(Result<(), SupervisorError>),
    Children(Vec<ChildInfo>),
    Count(ChildCount),
}

/// How a start ended, for the caller's bookkeeping.
enum Started {
    Running(Pid),
    Ignored,
}

impl SupervisorServer {
    pub(crate) async fn spawn(
        spec: SupervisorSpec,
        mut options: SpawnOptions,
    ) -> Result<crate::ServerRef<SupervisorServer>, StartError> {
        spec.validate()?;
        options.supervisor = Some(SupervisorView {
            strategy: spec.strategy,
            intensity: Intensity {
                max_restarts: spec.max_restarts,
                within_ms: spec.within.as_millis() as u64,
            },
            state: Mutex::default(),
        });
        let server = SupervisorServer {
            window: RestartWindow::new(spec.max_restarts, spec.within),
            spec,
            children: Vec::new(),
            total_restarts: 0,
            next_dynamic_id: 0,
            me: None,
        };
        spawn(server, options).await
    }

    fn cell(&self) -> &CellRef {
        self.me.as_ref().expect("supervisor initialized")
    }

    fn is_simple(&self) -> bool {
        self.spec.strategy == Strategy::SimpleOneForOne
    }

    fn unsupported(&self, operation: &'static str) -> SupervisorError {
        SupervisorError::Unsupported {
            operation,
            strategy: self.spec.strategy.as_str(),
        }
    }

    /// Publish the children list for the Observer.
    fn publish(&self) {
        let Some(view) = self.cell().supervisor.as_ref() else {
            return;
        };
        let mut state = view.state.lock();
        state.children = self
            .children
            .iter()
            .map(|child| ChildInfo {
                id: child.id.to_string(),
                pid: child.running().map(|cell| cell.pid),
                restart: child.spec.restart,
                kind: child.spec.kind,
            })
            .collect();
        state.restarts = self.total_restarts;
    }

    /// Start a new instance of child `index`, linked to this supervisor.
    async fn start_instance(&self, index: usize, restarts: u32) -> Result<CellRef, StartError> {
        let me = self.cell();
        let child = &self.children[index];
        let start = ChildStart {
            parent: me.clone(),
            child_id: child.id.clone(),
            restarts,
            last_error: child.last_error.clone(),
            name: child.spec.name.clone(),
            system: child.spec.system || me.system,
            arg: child.arg.clone(),
        };
        (child.spec.start)(start).await
    }

    /// OTP's `do_start_child`: start child `index` (as restart number `restarts`).
    /// `Ignore` leaves it stopped; an error leaves its state as it was.
    async fn start_child_at(&mut self, index: usize, restarts: u32) -> Result<Started, StartError> {
        match self.start_instance(index, restarts).await {
            Ok(cell) => {
                let pid = cell.pid;
                let child = &mut self.children[index];
                child.last_pid = Some(pid);
                child.state = ChildState::Running(cell);
                Ok(Started::Running(pid))
            }
            Err(StartError::Ignored { .. }) => {
                self.children[index].state = ChildState::Stopped;
                Ok(Started::Ignored)
            }
            Err(error) => Err(error),
        }
    }

    /// Add a child at the end and start it; kept unless it failed, or ignored the
    /// start and is temporary or dynamic.
    async fn add_child(
        &mut self,
        spec: ChildSpec,
        id: Arc<str>,
        arg: Option<Arc<dyn Any + Send + Sync>>,
    ) -> Result<Started, StartError> {
        self.children.push(Child {
            spec,
            id,
            state: ChildState::Stopped,
            last_pid: None,
            restarts: 0,
            last_error: None,
            arg,
        });
        let index = self.children.len() - 1;
        let started = self.start_child_at(index, 0).await;
        let keep = match &started {
            Ok(Started::Running(_)) => true,
            Ok(Started::Ignored) => {
                !self.is_simple() && self.children[index].spec.restart != RestartType::Temporary
            }
            Err(_) => false,
        };
        if !keep {
            self.children.pop();
        }
        started
    }

    fn find(&self, id: &str) -> Result<usize, ChildNotFoundError> {
        self.children
            .iter()
            .position(|child| &*child.id == id)
            .ok_or_else(|| ChildNotFoundError { id: id.to_string() })
    }

    fn find_running(&self, pid: Pid) -> Option<usize> {
        self.children
            .iter()
            .position(|child| child.running().is_some_and(|cell| cell.pid == pid))
    }

    /// OTP's `del_child`: a temporary or dynamic child is forgotten, any other is
    /// kept, stopped.
    fn del_child(&mut self, index: usize) {
        let child = &self.children[index];
        if child.spec.restart == RestartType::Temporary || self.is_simple() {
            self.remove(index);
        } else {
            self.children[index].state = ChildState::Stopped;
        }
    }

    fn remove(&mut self, index: usize) {
        let child = self.children.remove(index);
        let cell = self.cell();
        runtime().events.publish(LifecycleEvent {
            seq: 0,
            at_ms: 0,
            pid: child.last_pid.unwrap_or(cell.pid),
            name: None,
            child_id: Some(child.id.to_string()),
            parent: Some(cell.pid),
            system: cell.system,
            kind: EventKind::ChildRemoved,
        });
    }

    /// Stop child `index` by its shutdown spec, if it is running (OTP's
    /// `do_terminate`); it is left stopped.
    async fn terminate_at(&mut self, index: usize) {
        let state = std::mem::replace(&mut self.children[index].state, ChildState::Stopped);
        if let ChildState::Running(cell) = state {
            shutdown_child(&cell, self.children[index].spec.shutdown).await;
        }
    }

    /// A child exited (its link's exit signal, trapped): OTP's `restart_child` and
    /// `do_restart`.
    async fn on_exit(&mut self, exit: Exit, ctx: &mut Context<Self>) {
        // Not a running child: an exit this supervisor caused, or of a process
        // linked to it that it does not supervise.
        let Some(index) = self.find_running(exit.pid) else {
            return;
        };
        let child = &mut self.children[index];
        child.state = ChildState::Stopped;
        if exit.reason.is_abnormal() {
            child.last_error = Some(exit.reason.to_string());
        }
        let restart = match child.spec.restart {
            RestartType::Permanent => true,
            RestartType::Transient => exit.reason.is_abnormal(),
            RestartType::Temporary | RestartType::Unknown => false,
        };
        if restart {
            let id = child.id.clone();
            self.restart(id, ctx).await;
        } else {
            self.del_child(index);
        }
        self.publish();
    }

    /// OTP's `restart/2`: count the restart against the intensity, then restart by
    /// the strategy; a start that fails is tried again through the mailbox.
    async fn restart(&mut self, id: Arc<str>, ctx: &mut Context<Self>) {
        if self.window.record(tokio::time::Instant::now()) {
            if let Ok(index) = self.find(&id) {
                self.del_child(index);
            }
            self.give_up(ctx);
            return;
        }
        let Ok(index) = self.find(&id) else {
            return;
        };
        let failed = match self.spec.strategy {
            Strategy::OneForAll => self.restart_group(0).await,
            Strategy::RestForOne => self.restart_group(index).await,
            _ => self.restart_one(index).await,
        };
        if let Some(failed) = failed {
            let _ = ctx.myself().send_info(TryAgain(failed));
        }
    }

    /// One child (one_for_one, simple_one_for_one). Returns the id to try again.
    async fn restart_one(&mut self, index: usize) -> Option<Arc<str>> {
        let attempt = self.children[index].restarts + 1;
        self.children[index].restarts = attempt;
        match self.start_child_at(index, attempt).await {
            Ok(Started::Running(_)) => {
                self.restarted(index, attempt);
                None
            }
            // A dynamic child that ignores its restart is dropped, as in OTP.
            Ok(Started::Ignored) => {
                if self.is_simple() {
                    self.remove(index);
                }
                None
            }
            Err(error) => Some(self.restart_failed(index, &error)),
        }
    }

    /// OTP's `restart_multiple_children`: stop the children from `from` on (in
    /// reverse start order; temporary ones are dropped), then start every one left
    /// in start order, until one fails. Returns the id of the one that failed.
    async fn restart_group(&mut self, from: usize) -> Option<Arc<str>> {
        for index in (from..self.children.len()).rev() {
            self.terminate_at(index).await;
            if self.children[index].spec.restart == RestartType::Temporary {
                self.remove(index);
            }
        }
        let mut index = from;
        while index < self.children.len() {
            let attempt = self.children[index].restarts + 1;
            self.children[index].restarts = attempt;
            match self.start_child_at(index, attempt).await {
                Ok(Started::Running(_)) => self.restarted(index, attempt),
                Ok(Started::Ignored)
                    if self.children[index].spec.restart == RestartType::Temporary =>
                {
                    self.remove(index);
                    continue;
                }
                Ok(Started::Ignored) => {}
                Err(error) => return Some(self.restart_failed(index, &error)),
            }
            index += 1;
        }
        None
    }

    fn restart_failed(&mut self, index: usize, error: &StartError) -> Arc<str> {
        let child = &mut self.children[index];
        tracing::warn!(child = %child.id, %error, "restart failed; trying again");
        child.state = ChildState::Restarting;
        child.last_error = Some(error.to_string());
        child.id.clone()
    }

    fn restarted(&mut self, index: usize, attempt: u32) {
        self.total_restarts += 1;
        if let Some(cell) = self.children[index].running() {
            runtime()
                .events
                .emit(cell, EventKind::Restarted { attempt });
        }
    }

    /// OTP's `try_again_restart`: only if the child is still waiting for it.
    ///
    /// It yields first: an Erlang supervisor retrying a failing start shares its
    /// scheduler with the processes that may want to stop it, and so must this one,
    /// or a start that fails at once would spend the intensity before anyone else
    /// could run.
    async fn try_again(&mut self, id: Arc<str>, ctx: &mut Context<Self>) {
        tokio::task::yield_now().await;
        if let Ok(index) = self.find(&id)
            && matches!(self.children[index].state, ChildState::Restarting)
        {
            self.restart(id, ctx).await;
            self.publish();
        }
    }

    /// Too many restarts: stop with a shutdown that says why. `terminate` stops
    /// the children, and the parent acts by this supervisor's restart type.
    fn give_up(&mut self, ctx: &mut Context<Self>) {
        let error = MaxRestartsExceededError {
            max_restarts: self.spec.max_restarts,
            within: self.spec.within,
        };
        tracing::error!(supervisor = %self.cell().pid, %error, "supervisor giving up");
        runtime().events.emit(
            self.cell(),
            EventKind::MaxRestartsExceeded {
                max_restarts: error.max_restarts,
                within_ms: error.within.as_millis() as u64,
            },
        );
        ctx.stop(ExitReason::MaxRestartsExceeded(error));
    }

    /// Stop every child: in reverse start order, each by its shutdown spec; the
    /// dynamic children of a `simple_one_for_one` supervisor all at once.
    async fn terminate_children(&mut self) {
        if self.is_simple() {
            let running: Vec<CellRef> = self
                .children
                .iter_mut()
                .filter_map(|child| {
                    match std::mem::replace(&mut child.state, ChildState::Stopped) {
                        ChildState::Running(cell) => Some(cell),
                        _ => None,
                    }
                })
                .collect();
            if let Some(template) = &self.spec.template {
                shutdown_children(&running, template.shutdown).await;
            }
            return;
        }
        for index in (0..self.children.len()).rev() {
            self.terminate_at(index).await;
        }
    }

    async fn start_child(&mut self, spec: ChildSpec) -> Result<Pid, SupervisorError> {
        if self.is_simple() {
            return Err(self.unsupported("start_child with a spec (use start_child_with)"));
        }
        if let Ok(index) = self.find(&spec.id) {
            let child = &self.children[index];
            return Err(match child.running() {
                Some(cell) => SupervisorError::AlreadyStarted {
                    id: spec.id,
                    pid: cell.pid,
                },
                None => SupervisorError::AlreadyPresent { id: spec.id },
            });
        }
        let id: Arc<str> = Arc::from(spec.id.as_str());
        let started = self.add_child(spec, id.clone(), None).await;
        self.added(&id, started)
    }

    async fn start_child_with(
        &mut self,
        arg: Arc<dyn Any + Send + Sync>,
    ) -> Result<Pid, SupervisorError> {
        let Some(template) = self.spec.template.clone() else {
            return Err(self.unsupported("start_child_with"));
        };
        self.next_dynamic_id += 1;
        let id: Arc<str> = Arc::from(format!("{}-{}", template.id, self.next_dynamic_id));
        let started = self.add_child(template, id.clone(), Some(arg)).await;
        self.added(&id, started)
    }

    fn added(
        &self,
        id: &str,
        started: Result<Started, StartError>,
    ) -> Result<Pid, SupervisorError> {
        self.publish();
        match started? {
            Started::Running(pid) => {
                if let Some(cell) = runtime().processes.get(pid) {
                    runtime().events.emit(&cell, EventKind::ChildAdded);
                }
                Ok(pid)
            }
            Started::Ignored => Err(SupervisorError::Ignored { id: id.to_string() }),
        }
    }

    async fn terminate_child(&mut self, child: ChildRef) -> Result<(), SupervisorError> {
        let index = match child {
            ChildRef::Id(id) => self.find(&id)?,
            // By pid: only the children of a simple_one_for_one supervisor (OTP's
            // `find_child`), whose pid is their only name there.
            ChildRef::Pid(pid) if self.is_simple() => match self.find_dynamic(pid) {
                Some(index) => index,
                // One that has already ended has nothing left to stop.
                None if !is_alive(pid) => return Ok(()),
                None => return Err(not_found(pid)),
            },
            ChildRef::Pid(pid) => return Err(not_found(pid)),
        };
        self.terminate_at(index).await;
        self.del_child(index);
        self.publish();
        Ok(())
    }

    /// A dynamic child by its pid: the running one, or one whose restart from that
    /// pid is pending (OTP's `{restarting, Pid}`).
    fn find_dynamic(&self, pid: Pid) -> Option<usize> {
        self.find_running(pid).or_else(|| {
            self.children.iter().position(|child| {
                matches!(child.state, ChildState::Restarting) && child.last_pid == Some(pid)
            })
        })
    }

    /// Start a stopped child again; a manual restart does not count toward the
    /// intensity. As OTP: a running or restarting child is an error.
    async fn restart_child(&mut self, id: &str) -> Result<Pid, SupervisorError> {
        if self.is_simple() {
            return Err(self.unsupported("restart_child"));
        }
        let index = self.find(id)?;
        match self.children[index].state {
            ChildState::Running(_) => return Err(SupervisorError::Running { id: id.into() }),
            ChildState::Restarting => {
                return Err(SupervisorError::Restarting { id: id.into() });
            }
            ChildState::Stopped => {}
        }
        let attempt = self.children[index].restarts + 1;
        let started = self.start_child_at(index, attempt).await;
        let result = match started {
            Ok(Started::Running(pid)) => {
                self.children[index].restarts = attempt;
                self.restarted(index, attempt);
                Ok(pid)
            }
            Ok(Started::Ignored) => Err(SupervisorError::Ignored { id: id.into() }),
            Err(error) => Err(error.into()),
        };
        self.publish();
        result
    }

    async fn delete_child(&mut self, id: &str) -> Result<(), SupervisorError> {
        if self.is_simple() {
            return Err(self.unsupported("delete_child"));
        }
        let index = self.find(id)?;
        match self.children[index].state {
            ChildState::Running(_) => return Err(SupervisorError::Running { id: id.into() }),
            ChildState::Restarting => {
                return Err(SupervisorError::Restarting { id: id.into() });
            }
            ChildState::Stopped => {}
        }
        self.remove(index);
        self.publish();
        Ok(())
    }

    fn children_info(&self) -> Vec<ChildInfo> {
        self.cell()
            .supervisor
            .as_ref()
            .map(|view| view.state.lock().children.clone())
            .unwrap_or_default()
    }

    /// OTP's `count_children`: a `simple_one_for_one` supervisor has one spec, its
    /// template, and counts its children by the template's kind.
    fn count(&self) -> ChildCount {
        let active = self
            .children
            .iter()
            .filter(|child| child.running().is_some())
            .count();
        let mut count = ChildCount {
            specs: self.children.len(),
            active,
            ..ChildCount::default()
        };
        if let Some(template) = self.spec.template.as_ref().filter(|_| self.is_simple()) {
            count.specs = 1;
            match template.kind {
                ChildKind::Supervisor => count.supervisors = self.children.len(),
                _ => count.workers = self.children.len(),
            }
            return count;
        }
        for child in &self.children {
            match child.spec.kind {
                ChildKind::Supervisor => count.supervisors += 1,
                _ => count.workers += 1,
            }
        }
        count
    }
}

fn not_found(pid: Pid) -> SupervisorError {
    ChildNotFoundError {
        id: pid.to_string(),
    }
    .into()
}

impl GenServer for SupervisorServer {
    type Call = SupervisorCall;
    type Cast = ();
    type Reply = SupervisorReply;

    /// OTP's `init_children`: trap exits, then start the children in order; if one
    /// fails, stop the ones started (in reverse) and fail.
    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), BoxError> {
        ctx.trap_exit(true);
        self.me = Some(ctx.myself().cell_ref());
        for spec in std::mem::take(&mut self.spec.children) {
            let id: Arc<str> = Arc::from(spec.id.as_str());
            if let Err(error) = self.add_child(spec, id.clone(), None).await {
                self.terminate_children().await;
                return Err(Box::new(StartError::Child {
                    child_id: id.to_string(),
                    source: Box::new(error),
                }));
            }
        }
        self.publish();
        Ok(())
    }

    async fn handle_call(
        &mut self,
        request: SupervisorCall,
        _: &mut Context<Self>,
    ) -> Reply<SupervisorReply> {
        Reply::Now(match request {
            SupervisorCall::StartChild(spec) => {
                SupervisorReply::Started(self.start_child(spec).await)
            }
            SupervisorCall::StartChildWith(arg) => {
                SupervisorReply::Started(self.start_child_with(arg).await)
            }
            SupervisorCall::TerminateChild(child) => {
                SupervisorReply::Done(self.terminate_child(child).await)
            }
            SupervisorCall::RestartChild(id) => {
                SupervisorReply::Started(self.restart_child(&id).await)
            }
            SupervisorCall::DeleteChild(id) => SupervisorReply::Done(self.delete_child(&id).await),
            SupervisorCall::Children => SupervisorReply::Children(self.children_info()),
            SupervisorCall::CountChildren => SupervisorReply::Count(self.count()),
        })
    }

    async fn handle_info(&mut self, message: Info, ctx: &mut Context<Self>) {
        let message = match message.downcast::<Exit>() {
            Ok(exit) => return self.on_exit(*exit, ctx).await,
            Err(message) => message,
        };
        if let Ok(again) = message.downcast::<TryAgain>() {
            self.try_again(again.0, ctx).await;
        }
    }

    async fn terminate(&mut self, _: &ExitReason, _: &mut Context<Self>) {
        self.terminate_children().await;
        self.publish();
    }
}
