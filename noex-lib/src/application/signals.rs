//! Listening for SIGTERM and SIGINT, from the application's start on: a signal
//! that came before `run` is kept, not lost to the default action (which would end
//! the process without a graceful stop).

use std::task::{Context, Poll};

use super::exit::Signal;

/// The signals an application stops on, once registered.
pub(crate) struct Signals {
    #[cfg(unix)]
    listeners: Vec<(Signal, tokio::signal::unix::Signal)>,
    #[cfg(not(unix))]
    ctrl_c: Option<tokio::signal::windows::CtrlC>,
}

impl Signals {
    /// Listen for SIGTERM and SIGINT from now on. A signal that cannot be listened
    /// for is logged and left to its default action.
    ///
    /// Needs the runtime's IO driver (`#[tokio::main]` enables it).
    pub(crate) fn listen() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let listeners = [
                (Signal::Sigterm, SignalKind::terminate()),
                (Signal::Sigint, SignalKind::interrupt()),
            ]
            .into_iter()
            .filter_map(|(name, kind)| match signal(kind) {
                Ok(listener) => Some((name, listener)),
                Err(error) => {
                    tracing::warn!(signal = %name, %error, "cannot listen for the signal; it will end the process without a graceful stop");
                    None
                }
            })
            .collect();
            Signals { listeners }
        }
        #[cfg(not(unix))]
        {
            let ctrl_c = match tokio::signal::windows::ctrl_c() {
                Ok(listener) => Some(listener),
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for Ctrl-C; it will end the process without a graceful stop");
                    None
                }
            };
            Signals { ctrl_c }
        }
    }

    /// No signals: for an application whose process handles them itself.
    pub(crate) fn none() -> Signals {
        Signals {
            #[cfg(unix)]
            listeners: Vec::new(),
            #[cfg(not(unix))]
            ctrl_c: None,
        }
    }

    /// The next signal; pending forever when none is listened for.
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Signal> {
        #[cfg(unix)]
        for (name, listener) in &mut self.listeners {
            if let Poll::Ready(Some(())) = listener.poll_recv(cx) {
                return Poll::Ready(*name);
            }
        }
        #[cfg(not(unix))]
        if let Some(ctrl_c) = &mut self.ctrl_c
            && let Poll::Ready(Some(())) = ctrl_c.poll_recv(cx)
        {
            return Poll::Ready(Signal::Sigint);
        }
        Poll::Pending
    }
}
