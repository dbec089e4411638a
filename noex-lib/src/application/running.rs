//! A started application: waiting for the reason to stop, and stopping its tree
//! within the grace period.

use std::fmt;
use std::future::poll_fn;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::Hook;
use super::exit::{AppExit, Signal, StopCause};
use super::signals::Signals;
use crate::ExitReason;
use crate::future::catch_panic;
use crate::supervisor::{ChildInfo, SupervisorRef};

/// The hooks run around the tree's stop.
#[derive(Default)]
pub(super) struct Hooks {
    pub(super) prep_stop: Option<Hook>,
    pub(super) on_stop: Option<Hook>,
}

impl fmt::Debug for Hooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hooks")
            .field("prep_stop", &self.prep_stop.is_some())
            .field("on_stop", &self.on_stop.is_some())
            .finish()
    }
}

/// A running application, from [`Application::start`](super::Application::start):
/// its tree runs; [`run`](RunningApplication::run) waits for the reason to stop it.
pub struct RunningApplication {
    pub(super) name: Arc<str>,
    pub(super) root: SupervisorRef,
    pub(super) grace: Option<Duration>,
    pub(super) signals: Signals,
    pub(super) stop: Arc<Notify>,
    pub(super) hooks: Hooks,
}

/// Asks a running application to stop, from any task: its `run` then stops the tree
/// and returns [`AppExit::Stopped`] `{ by: StopCause::Request }`. Cheap to clone.
#[derive(Clone)]
pub struct StopHandle {
    stop: Arc<Notify>,
}

impl StopHandle {
    /// Ask the application to stop. Returns at once; asking again, or after it has
    /// ended, does nothing.
    pub fn stop(&self) {
        // A permit is kept when `run` is not waiting yet: the request is not lost.
        self.stop.notify_one();
    }
}

impl fmt::Debug for StopHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StopHandle").finish_non_exhaustive()
    }
}

impl fmt::Debug for RunningApplication {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningApplication")
            .field("name", &self.name)
            .field("root", &self.root)
            .field("shutdown_grace", &self.grace)
            .field("hooks", &self.hooks)
            .finish_non_exhaustive()
    }
}

/// What woke a running application.
enum Woke {
    Stop(StopCause),
    RootEnded(ExitReason),
}

/// How a graceful stop ended.
enum Stopping {
    Done,
    GraceExceeded,
    SecondSignal(Signal),
}

impl RunningApplication {
    /// The application's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The root supervisor: to reach the children, or add some.
    pub fn supervisor(&self) -> &SupervisorRef {
        &self.root
    }

    /// A handle that stops the application from another task.
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle {
            stop: self.stop.clone(),
        }
    }

    /// Stop the application now and wait until it has stopped.
    pub async fn stop(self) -> AppExit {
        self.stop_handle().stop();
        self.run().await
    }

    /// Run until a signal, a stop request or the end of the tree; then stop the
    /// tree (see the [module](super)) and say how it ended.
    pub async fn run(mut self) -> AppExit {
        let woke = {
            let requested = pin!(self.stop.notified());
            let root_ended = pin!(self.root.wait());
            let (mut requested, mut root_ended) = (requested, root_ended);
            let signals = &mut self.signals;
            poll_fn(|cx| {
                if let Poll::Ready(signal) = signals.poll_recv(cx) {
                    return Poll::Ready(Woke::Stop(StopCause::Signal(signal)));
                }
                if requested.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Woke::Stop(StopCause::Request));
                }
                root_ended.as_mut().poll(cx).map(Woke::RootEnded)
            })
            .await
        };
        match woke {
            Woke::Stop(cause) => self.shut_down(cause).await,
            Woke::RootEnded(reason) => {
                tracing::error!(app = %self.name, %reason, "the supervision tree ended; the application stops");
                // OTP's application master runs both callbacks after its tree ended too.
                run_hook(&self.name, "prep_stop", self.hooks.prep_stop.take()).await;
                run_hook(&self.name, "on_stop", self.hooks.on_stop.take()).await;
                AppExit::GaveUp { reason }
            }
        }
    }

    /// Stop the tree gracefully, within the grace period, unless a second signal
    /// cuts it short.
    async fn shut_down(mut self, cause: StopCause) -> AppExit {
        let started = Instant::now();
        tracing::info!(app = %self.name, %cause, grace = ?self.grace, "application stopping");
        let deadline = self.grace.map(|grace| started + grace);
        let mut children = Vec::new();
        let outcome = {
            let root = &self.root;
            let prep_stop = self.hooks.prep_stop.take();
            let name = &self.name;
            let children = &mut children;
            let graceful = pin!(async move {
                // Who is there, for the report should the grace run out.
                *children = root.children().await.unwrap_or_default();
                run_hook(name, "prep_stop", prep_stop).await;
                // Children in reverse start order, each by its shutdown spec. An
                // error only says the root had ended already.
                let _ = root.stop().await;
            });
            let mut graceful = graceful;
            let mut grace_over = pin!(async move {
                match deadline {
                    Some(deadline) => tokio::time::sleep_until(deadline).await,
                    None => std::future::pending().await,
                }
            });
            let signals = &mut self.signals;
            poll_fn(|cx| {
                if let Poll::Ready(signal) = signals.poll_recv(cx) {
                    return Poll::Ready(Stopping::SecondSignal(signal));
                }
                if graceful.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Stopping::Done);
                }
                grace_over
                    .as_mut()
                    .poll(cx)
                    .map(|()| Stopping::GraceExceeded)
            })
            .await
        };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match outcome {
            Stopping::Done => {
                run_hook(&self.name, "on_stop", self.hooks.on_stop.take()).await;
                tracing::info!(app = %self.name, elapsed_ms, "application stopped");
                AppExit::Stopped { by: cause }
            }
            Stopping::GraceExceeded => {
                let killed = still_running(&children);
                tracing::warn!(
                    app = %self.name,
                    elapsed_ms,
                    ?killed,
                    "the tree did not stop within the grace period; killing what is left"
                );
                kill_tree(&self.root).await;
                AppExit::GraceExceeded {
                    grace: self.grace.unwrap_or_default(),
                    killed,
                }
            }
            Stopping::SecondSignal(signal) => {
                tracing::warn!(app = %self.name, %signal, elapsed_ms, "second signal; killing the tree at once");
                kill_tree(&self.root).await;
                AppExit::Forced { by: signal }
            }
        }
    }
}

/// Kill the root, its children with it, and wait until they are gone.
async fn kill_tree(root: &SupervisorRef) {
    root.kill();
    root.wait().await;
}

/// The ids of the children that still run, in start order.
fn still_running(children: &[ChildInfo]) -> Vec<String> {
    children
        .iter()
        .filter(|child| child.pid.is_some_and(crate::process::is_alive))
        .map(|child| child.id.clone())
        .collect()
}

/// Run a hook; a panic in it is logged, and the stop goes on (as OTP catches a
/// crash in `prep_stop/1` and `stop/1`).
async fn run_hook(app: &str, which: &'static str, hook: Option<Hook>) {
    let Some(hook) = hook else { return };
    if catch_panic(hook()).await.is_err() {
        tracing::error!(
            app,
            hook = which,
            "application hook panicked; stopping goes on"
        );
    }
}
