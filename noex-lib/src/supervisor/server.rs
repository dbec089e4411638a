//! The supervisor process: a GenServer that starts its children, watches them
//! exit, and applies its strategy and restart intensity.

use std::any::Any;
use std::sync::Arc;

use noex_agent::types::{
    ChildInfo, ChildKind, EventKind, Intensity, LifecycleEvent, RestartType, Strategy,
};
use parking_lot::Mutex;

use super::intensity::RestartWindow;
use super::spec::{ChildSpec, ChildStart, StartedChild, SupervisorSpec};
use super::{ChildCount, SupervisorRef, live_supervisors};
use crate::error::{
    BoxError, ChildNotFoundError, DuplicateChildError, MaxRestartsExceededError, StartError,
    SupervisorError,
};
use crate::gen_server::{Context, GenServer, Info, Link, Reply, SpawnOptions, spawn};
use crate::process::{CellRef, SupervisorView};
use crate::runtime::runtime;
use crate::{ExitReason, Pid};

pub(crate) struct SupervisorServer {
    spec: SupervisorSpec,
    children: Vec<Child>,
    window: RestartWindow,
    total_restarts: u32,
    next_dynamic_id: u64,
    /// Set in `init`: this supervisor's own cell and the link its children report to.
    me: Option<(CellRef, Link)>,
}

struct Child {
    spec: ChildSpec,
    id: Arc<str>,
    running: Option<StartedChild>,
    /// The pid of the latest instance, running or not.
    last_pid: Option<Pid>,
    restarts: u32,
    last_error: Option<String>,
    arg: Option<Arc<dyn Any + Send + Sync>>,
}

/// A child ended (sent by the child's exit, through its link).
struct ChildExit {
    pid: Pid,
    reason: ExitReason,
}

pub(crate) enum SupervisorCall {
    StartChild(ChildSpec),
    StartChildWith(Arc<dyn Any + Send + Sync>),
    TerminateChild(String),
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

impl SupervisorServer {
    pub(crate) async fn spawn(
        spec: SupervisorSpec,
        mut options: SpawnOptions,
    ) -> Result<crate::ServerRef<SupervisorServer>, StartError> {
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
        &self.me.as_ref().expect("supervisor initialized").0
    }

    fn strategy_name(&self) -> &'static str {
        self.spec.strategy.as_str()
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
                pid: child.running.as_ref().map(StartedChild::pid),
                restart: child.spec.restart,
                kind: child.spec.kind,
            })
            .collect();
        state.restarts = self.total_restarts;
    }

    async fn start_instance(
        &self,
        index: usize,
        restarts: u32,
    ) -> Result<StartedChild, StartError> {
        let (cell, link) = self.me.as_ref().expect("supervisor initialized");
        let child = &self.children[index];
        let start = ChildStart {
            link: link.clone(),
            child_id: child.id.clone(),
            restarts,
            last_error: child.last_error.clone(),
            name: child.spec.name.clone(),
            system: child.spec.system || cell.system,
            arg: child.arg.clone(),
        };
        (child.spec.start)(start).await
    }

    /// Start a new child at the end of the list; on failure it is not kept.
    async fn add_child(
        &mut self,
        spec: ChildSpec,
        id: Arc<str>,
        arg: Option<Arc<dyn Any + Send + Sync>>,
    ) -> Result<Pid, StartError> {
        self.children.push(Child {
            spec,
            id,
            running: None,
            last_pid: None,
            restarts: 0,
            last_error: None,
            arg,
        });
        let index = self.children.len() - 1;
        match self.start_instance(index, 0).await {
            Ok(started) => {
                let pid = started.pid();
                self.children[index].last_pid = Some(pid);
                self.children[index].running = Some(started);
                Ok(pid)
            }
            Err(error) => {
                self.children.pop();
                Err(error)
            }
        }
    }

    fn find(&self, id: &str) -> Result<usize, ChildNotFoundError> {
        self.children
            .iter()
            .position(|child| &*child.id == id)
            .ok_or_else(|| ChildNotFoundError { id: id.to_string() })
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

    /// Stop the running children at `indices`, in the order given.
    async fn stop_children(&mut self, indices: impl Iterator<Item = usize>) {
        for index in indices {
            if let Some(running) = self.children[index].running.take() {
                running.shutdown(self.children[index].spec.shutdown).await;
            }
        }
    }

    async fn on_child_exit(&mut self, exit: ChildExit, ctx: &mut Context<Self>) {
        let Some(index) = self
            .children
            .iter()
            .position(|child| child.running.as_ref().map(StartedChild::pid) == Some(exit.pid))
        else {
            return; // An exit we caused (terminate/restart), already handled.
        };
        let child = &mut self.children[index];
        child.running = None;
        if exit.reason.is_abnormal() {
            child.last_error = Some(exit.reason.to_string());
        }
        let restart = match child.spec.restart {
            RestartType::Permanent => true,
            RestartType::Transient => exit.reason.is_abnormal(),
            RestartType::Temporary | RestartType::Unknown => false,
        };
        if !restart {
            if child.spec.restart == RestartType::Temporary
                || self.spec.strategy == Strategy::SimpleOneForOne
            {
                self.remove(index);
            }
            self.publish();
            return;
        }
        if self.window.record(tokio::time::Instant::now()) {
            self.escalate(ctx).await;
            return;
        }
        // The group to restart, in start order; the others in it stop first, in reverse.
        let group: Vec<usize> = match self.spec.strategy {
            Strategy::OneForAll => (0..self.children.len()).collect(),
            Strategy::RestForOne => (index..self.children.len()).collect(),
            _ => vec![index],
        };
        let group: Vec<usize> = group
            .into_iter()
            .filter(|&i| i == index || self.children[i].running.is_some())
            .collect();
        self.stop_children(group.iter().rev().copied()).await;
        // Temporary children taken down with a sibling are not restarted, as in OTP.
        let failed = self.children[index].id.clone();
        let ids: Vec<Arc<str>> = group.iter().map(|&i| self.children[i].id.clone()).collect();
        for id in ids.iter().rev() {
            if let Ok(at) = self.find(id)
                && *id != failed
                && self.children[at].spec.restart == RestartType::Temporary
            {
                self.remove(at);
            }
        }
        self.restart_children(ids, ctx).await;
    }

    /// Start new instances of the children `ids`, in order. A start that fails
    /// counts as another restart, until the intensity runs out.
    async fn restart_children(&mut self, ids: Vec<Arc<str>>, ctx: &mut Context<Self>) {
        for id in ids {
            let Ok(index) = self.find(&id) else {
                continue; // a temporary child, removed
            };
            loop {
                let attempt = self.children[index].restarts + 1;
                match self.start_instance(index, attempt).await {
                    Ok(started) => {
                        self.record_restart(index, started, attempt);
                        break;
                    }
                    Err(error) => {
                        tracing::warn!(child = %id, %error, "restart failed");
                        self.children[index].restarts = attempt;
                        self.children[index].last_error = Some(error.to_string());
                        if self.window.record(tokio::time::Instant::now()) {
                            self.escalate(ctx).await;
                            return;
                        }
                    }
                }
            }
        }
        self.publish();
    }

    fn record_restart(&mut self, index: usize, started: StartedChild, attempt: u32) {
        let child = &mut self.children[index];
        child.restarts = attempt;
        child.last_pid = Some(started.pid());
        let cell = started.cell.clone();
        child.running = Some(started);
        self.total_restarts += 1;
        runtime()
            .events
            .emit(&cell, EventKind::Restarted { attempt });
    }

    /// Too many restarts: stop every child, then this supervisor, as a crash.
    async fn escalate(&mut self, ctx: &mut Context<Self>) {
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
        self.stop_children((0..self.children.len()).rev()).await;
        self.publish();
        ctx.stop(ExitReason::MaxRestartsExceeded(error));
    }

    async fn start_child(&mut self, spec: ChildSpec) -> Result<Pid, SupervisorError> {
        if self.spec.strategy == Strategy::SimpleOneForOne {
            return Err(SupervisorError::Unsupported {
                operation: "start_child with a spec (use start_child_with)",
                strategy: self.strategy_name(),
            });
        }
        if self.children.iter().any(|child| *child.id == *spec.id) {
            return Err(DuplicateChildError { id: spec.id }.into());
        }
        let id: Arc<str> = Arc::from(spec.id.as_str());
        let pid = self.add_child(spec, id, None).await?;
        self.child_added(pid);
        Ok(pid)
    }

    async fn start_child_with(
        &mut self,
        arg: Arc<dyn Any + Send + Sync>,
    ) -> Result<Pid, SupervisorError> {
        let Some(template) = self.spec.template.clone() else {
            return Err(SupervisorError::Unsupported {
                operation: "start_child_with",
                strategy: self.strategy_name(),
            });
        };
        self.next_dynamic_id += 1;
        let id: Arc<str> = Arc::from(format!("{}-{}", template.id, self.next_dynamic_id));
        let pid = self.add_child(template, id, Some(arg)).await?;
        self.child_added(pid);
        Ok(pid)
    }

    fn child_added(&self, pid: Pid) {
        if let Some(cell) = runtime().processes.get(pid) {
            runtime().events.emit(&cell, EventKind::ChildAdded);
        }
        self.publish();
    }

    async fn terminate_child(&mut self, id: &str) -> Result<(), SupervisorError> {
        let index = self.find(id)?;
        self.stop_children(std::iter::once(index)).await;
        let child = &self.children[index];
        if child.spec.restart == RestartType::Temporary
            || self.spec.strategy == Strategy::SimpleOneForOne
        {
            self.remove(index);
        }
        self.publish();
        Ok(())
    }

    /// Restart a child now, running or not (a manual restart does not count toward
    /// the intensity).
    async fn restart_child(&mut self, id: &str) -> Result<Pid, SupervisorError> {
        if self.spec.strategy == Strategy::SimpleOneForOne {
            return Err(SupervisorError::Unsupported {
                operation: "restart_child",
                strategy: self.strategy_name(),
            });
        }
        let index = self.find(id)?;
        self.stop_children(std::iter::once(index)).await;
        let attempt = self.children[index].restarts + 1;
        let started = self.start_instance(index, attempt).await;
        let result = match started {
            Ok(started) => {
                let pid = started.pid();
                self.record_restart(index, started, attempt);
                Ok(pid)
            }
            Err(error) => Err(error.into()),
        };
        self.publish();
        result
    }

    async fn delete_child(&mut self, id: &str) -> Result<(), SupervisorError> {
        let index = self.find(id)?;
        self.stop_children(std::iter::once(index)).await;
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

    fn count(&self) -> ChildCount {
        let mut count = ChildCount {
            specs: self.children.len(),
            ..ChildCount::default()
        };
        for child in &self.children {
            if child.running.is_some() {
                count.active += 1;
            }
            match child.spec.kind {
                ChildKind::Supervisor => count.supervisors += 1,
                _ => count.workers += 1,
            }
        }
        count
    }
}

impl GenServer for SupervisorServer {
    type Call = SupervisorCall;
    type Cast = ();
    type Reply = SupervisorReply;

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), BoxError> {
        let myself = ctx.myself();
        let reporter = myself.clone();
        let link = Link {
            parent: myself.pid(),
            notify: Arc::new(move |pid, reason| {
                let _ = reporter.send_info(ChildExit { pid, reason });
            }),
        };
        self.me = Some((myself.cell_ref(), link));
        live_supervisors().insert(myself.pid(), SupervisorRef { server: myself });
        for spec in std::mem::take(&mut self.spec.children) {
            let id: Arc<str> = Arc::from(spec.id.as_str());
            if self.children.iter().any(|child| child.id == id) {
                self.stop_children((0..self.children.len()).rev()).await;
                return Err(Box::new(DuplicateChildError { id: id.to_string() }));
            }
            if let Err(error) = self.add_child(spec, id.clone(), None).await {
                // Children already started stop again, in reverse order.
                self.stop_children((0..self.children.len()).rev()).await;
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
            SupervisorCall::TerminateChild(id) => {
                SupervisorReply::Done(self.terminate_child(&id).await)
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
        if let Ok(exit) = message.downcast::<ChildExit>() {
            self.on_child_exit(*exit, ctx).await;
        }
    }

    async fn terminate(&mut self, _: &ExitReason, _: &mut Context<Self>) {
        self.stop_children((0..self.children.len()).rev()).await;
        self.publish();
    }
}

impl Drop for SupervisorServer {
    fn drop(&mut self) {
        // Killed without `terminate`: its children must not outlive it (OTP links).
        for child in self.children.iter_mut().rev() {
            if let Some(running) = child.running.take() {
                running.cell.kill(ExitReason::Shutdown);
            }
        }
        if let Some((cell, _)) = &self.me {
            live_supervisors().remove(&cell.pid);
        }
    }
}
