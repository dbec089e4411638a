//! What every handle to one server shares, in one allocation: its cell (identity,
//! status, counters) and its mailbox. One allocation per process instead of two,
//! and a `ServerRef` one pointer wide.

use super::GenServer;
use super::mailbox::Mailbox;
use super::process::Envelope;
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
}
