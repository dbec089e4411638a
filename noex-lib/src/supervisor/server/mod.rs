//! The supervisor process: a GenServer that traps exits, starts its children linked
//! to it, and turns each child's exit into a restart decision — the rules of OTP's
//! `supervisor.erl`, function for function where it matters. Here: its state, the
//! table of children, starting and stopping them. [`restart`]: what an exit does.
//! [`requests`]: the calls it answers.

mod requests;
mod restart;

use std::any::Any;
use std::sync::Arc;

use noex_agent::types::{EventKind, Intensity, LifecycleEvent};
use tokio::sync::Notify;

use super::intensity::RestartWindow;
use super::spec::{ChildSpec, ChildStart, SupervisorSpec, shutdown_child, shutdown_children};
use super::{ChildCount, ChildInfo, ChildRef, RestartType, Strategy};
use crate::error::{BoxError, ChildNotFoundError, StartError, SupervisorError};
use crate::gen_server::{Context, GenServer, Info, Reply, ReplyTo, SpawnOptions, spawn};
use crate::process::{CellRef, Exit, SupervisorView};
use crate::sync::Mutex;
use crate::{ExitReason, Pid};
use restart::TryAgain;

pub(crate) struct SupervisorServer {
    spec: SupervisorSpec,
    /// In start order.
    children: Vec<Child>,
    window: RestartWindow,
    /// Restarts performed on its children, all time (what the Observer shows).
    child_restarts: u32,
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

/// A supervisor's requests, each carrying the handle its typed reply goes through.
pub(crate) enum SupervisorCall {
    StartChild(ChildSpec, ReplyTo<Result<Pid, SupervisorError>>),
    StartChildWith(
        Arc<dyn Any + Send + Sync>,
        ReplyTo<Result<Pid, SupervisorError>>,
    ),
    TerminateChild(ChildRef, ReplyTo<Result<(), SupervisorError>>),
    RestartChild(String, ReplyTo<Result<Pid, SupervisorError>>),
    DeleteChild(String, ReplyTo<Result<(), SupervisorError>>),
    Children(ReplyTo<Vec<ChildInfo>>),
    CountChildren(ReplyTo<ChildCount>),
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
            strategy: spec.strategy.into(),
            intensity: Intensity {
                max_restarts: spec.max_restarts,
                within_ms: spec.within.as_millis() as u64,
            },
            state: Mutex::default(),
            changed: Notify::new(),
        });
        let server = SupervisorServer {
            window: RestartWindow::new(spec.max_restarts, spec.within),
            spec,
            children: Vec::new(),
            child_restarts: 0,
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

    /// Publish the children list for the Observer.
    fn publish(&self) {
        let Some(view) = self.cell().supervisor.as_ref() else {
            return;
        };
        // Built before the lock: a snapshot reading the view waits only for the swap.
        let children = self.children_info().into_iter().map(Into::into).collect();
        let old = {
            let mut state = view.state.lock();
            state.child_restarts = self.child_restarts;
            std::mem::replace(&mut state.children, children)
        };
        drop(old);
        view.changed.notify_waiters();
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
            handle_type: child.spec.handle_type,
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
        crate::events::hub().publish(LifecycleEvent {
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
}

impl GenServer for SupervisorServer {
    type Call = SupervisorCall;
    type Cast = ();
    type Reply = ();

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

    async fn handle_call(&mut self, request: SupervisorCall, _: &mut Context<Self>) -> Reply<()> {
        match request {
            SupervisorCall::StartChild(spec, reply) => reply.reply(self.start_child(spec).await),
            SupervisorCall::StartChildWith(arg, reply) => {
                reply.reply(self.start_child_with(arg).await)
            }
            SupervisorCall::TerminateChild(child, reply) => {
                reply.reply(self.terminate_child(child).await)
            }
            SupervisorCall::RestartChild(id, reply) => reply.reply(self.restart_child(&id).await),
            SupervisorCall::DeleteChild(id, reply) => reply.reply(self.delete_child(&id).await),
            SupervisorCall::Children(reply) => reply.reply(self.children_info()),
            SupervisorCall::CountChildren(reply) => reply.reply(self.count()),
        };
        Reply::Now(())
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
