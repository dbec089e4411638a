//! What every handle to one server shares, in one allocation: its cell (identity,
//! status, counters) and its mailbox, and what the mailbox carries (`Envelope`). One
//! allocation per process instead of two, and a `ServerRef` one pointer wide.

use super::mailbox::Mailbox;
use super::reply::ReplySlot;
use super::{GenServer, Info};
use crate::ExitReason;
use crate::process::{ProcessCell, ProcessRecord};

/// `repr(C)`, mailbox first: see [`ProcessCell`] on why the cell's counters come last.
#[repr(C)]
pub(crate) struct Shared<S: GenServer> {
    pub(crate) mailbox: Mailbox<Envelope<S>>,
    pub(crate) cell: ProcessCell,
}

impl<S: GenServer> ProcessRecord for Shared<S> {
    fn cell(&self) -> &ProcessCell {
        &self.cell
    }

    fn enqueued(&self) -> u64 {
        self.mailbox.enqueued()
    }

    fn send_info(&self, message: Info) -> bool {
        self.mailbox.send(Envelope::Info(message)).is_ok()
    }

    fn format_status(&self) -> Option<oneshot::Receiver<Option<String>>> {
        let (answer, status) = oneshot::channel();
        let message: SystemMessage<S> = Box::new(move |server: &mut S| {
            let _ = answer.send(server.format_status());
        });
        self.mailbox.send(Envelope::System(message)).ok()?;
        Some(status)
    }

    fn request_stop(&self, reason: ExitReason) {
        let _ = self.mailbox.send(Envelope::Stop(Box::new(reason)));
    }

    fn into_any(self: std::sync::Arc<Self>) -> std::sync::Arc<dyn std::any::Any + Send + Sync> {
        self
    }
}

/// What a server's mailbox carries.
pub(crate) enum Envelope<S: GenServer> {
    Call(S::Call, ReplySlot<S::Reply>),
    /// A typed request (`ServerRef::request`): answered through the `ReplyTo` it
    /// carries, so it needs no slot.
    Request(S::Call),
    Cast(S::Cast),
    Info(Info),
    // Boxed: rare, and it would otherwise make every envelope larger.
    Stop(Box<ExitReason>),
    /// Run on the state between two messages (OTP's system messages: `sys`).
    System(SystemMessage<S>),
}

/// What a system message does to the server's state.
pub(crate) type SystemMessage<S> = Box<dyn FnOnce(&mut S) + Send>;
