//! The one runtime per OS process: the process table, the registry and the
//! lifecycle stream. Created on first use.

use std::sync::LazyLock;
use std::time::Instant;

use crate::events::EventHub;
use crate::process::ProcessTable;
use crate::registry::RegistryTable;

pub(crate) struct Runtime {
    pub(crate) processes: ProcessTable,
    pub(crate) registry: RegistryTable,
    pub(crate) events: EventHub,
    pub(crate) started: Instant,
}

static RUNTIME: LazyLock<Runtime> = LazyLock::new(|| Runtime {
    processes: ProcessTable::default(),
    registry: RegistryTable::default(),
    events: EventHub::default(),
    started: Instant::now(),
});

pub(crate) fn runtime() -> &'static Runtime {
    &RUNTIME
}
