//! The process table: every live GenServer and supervisor, with the counters the
//! Observer reads. Internal to the runtime.

mod cell;
pub(crate) mod clock;
mod table;

pub(crate) use cell::{
    CellInit, CellRef, NotifyExit, ProcessCell, ProcessKind, ProcessRecord, SupervisorView,
};
pub(crate) use table::{ProcessTable, coarse_now_ms, now_ms};
