//! The supervisor process: a GenServer that traps exits, starts its children linked
//! to it, and turns each child's exit into a restart decision — the rules of OTP's
//! `supervisor.erl`, function for function where it matters. Here: its state, the
//! table of children, starting and stopping them. [`restart`]: what an exit does.
//! [`requests`]: the calls it answers.

mod requests;
mod restart;
mod table;

use std::sync::Arc;

use noex_agent::types::{EventKind, Intensity, LifecycleEvent};
use tokio::sync::Notify;

use super::intensity::RestartWindow;
use super::spec::{
    ChildArg, ChildSpec, ChildStart, SupervisorSpec, shutdown_child, shutdown_children,
};
use super::{ChildCount, ChildInfo, ChildRef, RestartType, Strategy};
use crate::error::{BoxError, ChildNotFoundError, StartError, SupervisorError};
use crate::gen_server::{Context, GenServer, Info, Reply, ReplyTo, SpawnOptions, spawn};
use crate::process::{CellRef, Exit, SupervisorView};
use crate::sync::{Mutex, MutexGuard};
use crate::{ExitReason, Pid};
use restart::TryAgain;
use table::{Child, ChildTable, Position};

pub(crate) struct SupervisorServer {
    spec: SupervisorSpec,
    /// Shared with its cell's [`SupervisorView`], where the Observer reads it.
    children: Arc<Mutex<ChildTable>>,
    window: RestartWindow,
    /// Set in `init`: this supervisor's own cell.
    me: Option<CellRef>,
}

/// A supervisor's requests, each carrying the handle its typed reply goes through.
pub(crate) enum SupervisorCall {
    StartChild(ChildSpec, ReplyTo<Result<Pid, SupervisorError>>),
    StartChildWith(ChildArg, ReplyTo<Result<Pid, SupervisorError>>),
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
        let children = Arc::new(Mutex::new(ChildTable::default()));
        options.supervisor = Some(SupervisorView {
            strategy: spec.strategy.into(),
            intensity: Intensity {
                max_restarts: spec.max_restarts,
                within_ms: spec.within.as_millis() as u64,
            },
            children: children.clone(),
            changed: Notify::new(),
        });
        let server = SupervisorServer {
            window: RestartWindow::new(spec.max_restarts, spec.within),
            spec,
            children,
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

    /// Its children, locked: never held across an await, so the Observer is not
    /// kept waiting.
    fn table(&self) -> MutexGuard<'_, ChildTable> {
        self.children.lock()
    }

    /// Wake the handles waiting for a child's restart (after each request, as
    /// the children it changed are all in place).
    fn announce_changes(&self) {
        if let Some(view) = self.cell().supervisor.as_ref() {
            view.changed.notify_waiters();
        }
    }

    /// Start a new instance of child `at`, linked to this supervisor.
    async fn start_instance(&self, at: Position, restarts: u32) -> Result<CellRef, StartError> {
        let me = self.cell();
        let starting = {
            let table = self.table();
            let child = table.get(at);
            let start = ChildStart {
                parent: me.clone(),
                child_id: child.id.clone(),
                restarts,
                last_error: child.last_error.clone(),
                name: child.spec.name.clone(),
                system: child.spec.system || me.system,
                handle_type: child.spec.handle_type,
            };
            (child.spec.start)(start, child.arg.as_deref())
        };
        starting.await
    }

    /// OTP's `do_start_child`: start child `at` (as restart number `restarts`).
    /// `Ignore` leaves it stopped; an error leaves its state as it was.
    async fn start_child_at(&mut self, at: Position, restarts: u32) -> Result<Started, StartError> {
        match self.start_instance(at, restarts).await {
            Ok(cell) => {
                let pid = cell.pid;
                self.table().set_running(at, cell);
                Ok(Started::Running(pid))
            }
            Err(StartError::Ignored { .. }) => {
                self.table().stop(at);
                Ok(Started::Ignored)
            }
            Err(error) => Err(error),
        }
    }

    /// Add a child at the end and start it; kept unless it failed, or ignored the
    /// start and is temporary or dynamic.
    async fn add_child(
        &mut self,
        spec: Arc<ChildSpec>,
        id: Arc<str>,
        arg: Option<ChildArg>,
    ) -> Result<Started, StartError> {
        let at = self.table().push(Child::new(spec, id, arg));
        let started = self.start_child_at(at, 0).await;
        let keep = match &started {
            Ok(Started::Running(_)) => true,
            Ok(Started::Ignored) => {
                !self.is_simple() && self.table().get(at).spec.restart != RestartType::Temporary
            }
            Err(_) => false,
        };
        if !keep {
            self.table().remove(at);
        }
        started
    }

    fn find(&self, id: &str) -> Result<Position, ChildNotFoundError> {
        self.table()
            .find(id)
            .ok_or_else(|| ChildNotFoundError { id: id.to_string() })
    }

    fn find_running(&self, pid: Pid) -> Option<Position> {
        let table = self.table();
        table
            .find_pid(pid)
            .filter(|&at| table.get(at).running().is_some())
    }

    /// OTP's `del_child`: a temporary or dynamic child is forgotten, any other is
    /// kept, stopped.
    fn del_child(&mut self, at: Position) {
        if self.table().get(at).spec.restart == RestartType::Temporary || self.is_simple() {
            self.remove(at);
        } else {
            self.table().stop(at);
        }
    }

    fn remove(&mut self, at: Position) {
        let child = self.table().remove(at);
        let cell = self.cell();
        crate::events::hub().publish(LifecycleEvent {
            seq: 0,
            at_ms: 0,
            pid: child.last_pid().unwrap_or(cell.pid),
            name: None,
            child_id: Some(child.id.to_string()),
            parent: Some(cell.pid),
            system: cell.system,
            kind: EventKind::ChildRemoved,
        });
    }

    /// Stop child `at` by its shutdown spec, if it is running (OTP's
    /// `do_terminate`); it is left stopped.
    async fn terminate_at(&mut self, at: Position) {
        let (stopped, shutdown) = {
            let mut table = self.table();
            (table.stop(at), table.get(at).spec.shutdown)
        };
        if let Some(cell) = stopped {
            shutdown_child(&cell, shutdown).await;
        }
    }

    /// Stop every child: in reverse start order, each by its shutdown spec; the
    /// dynamic children of a `simple_one_for_one` supervisor all at once.
    async fn terminate_children(&mut self) {
        if self.is_simple() {
            let running = self.table().stop_all();
            if let Some(template) = &self.spec.template {
                shutdown_children(&running, template.shutdown).await;
            }
            return;
        }
        let positions = self.table().positions_from(0);
        for at in positions.into_iter().rev() {
            self.terminate_at(at).await;
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
            if let Err(error) = self.add_child(Arc::new(spec), id.clone(), None).await {
                self.terminate_children().await;
                return Err(Box::new(StartError::Child {
                    child_id: id.to_string(),
                    source: Box::new(error),
                }));
            }
        }
        self.announce_changes();
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
        self.announce_changes();
    }
}
