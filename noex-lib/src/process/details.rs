//! What a process of a particular kind tells the Observer beyond the common columns:
//! a state machine's current state, for one. The kind registers a source once, when
//! its process starts, and keeps it current itself (a state change writes its own
//! cell, not this table); the Observer reads it only when it is asked.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::Pid;
use crate::process::PidHasher;
use std::hash::BuildHasherDefault;

/// A process kind's own facts, read when the Observer builds a view.
pub(crate) trait DetailSource: Send + Sync {
    /// A state machine's current state, as its `Debug` text.
    fn state(&self) -> Option<String> {
        None
    }
}

type Sources = HashMap<u64, Arc<dyn DetailSource>, BuildHasherDefault<PidHasher>>;

static SOURCES: Mutex<Option<Sources>> = Mutex::new(None);

fn with_sources<T>(f: impl FnOnce(&mut Sources) -> T) -> T {
    let mut sources = SOURCES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    f(sources.get_or_insert_with(Sources::default))
}

/// Registers `source` for `pid` until the returned guard drops. The guard lives in
/// the process's own state, so it drops however the process ends (a kill drops the
/// task's future, and the state with it).
pub(crate) fn publish(pid: Pid, source: Arc<dyn DetailSource>) -> DetailGuard {
    with_sources(|sources| sources.insert(pid.0, source));
    DetailGuard { pid }
}

/// The source registered for `pid`, if its process published one.
pub(crate) fn source(pid: Pid) -> Option<Arc<dyn DetailSource>> {
    with_sources(|sources| sources.get(&pid.0).cloned())
}

/// Removes a process's source when dropped.
pub(crate) struct DetailGuard {
    pid: Pid,
}

impl Drop for DetailGuard {
    fn drop(&mut self) {
        with_sources(|sources| sources.remove(&self.pid.0));
    }
}
