//! The table of registered names: which process holds which name.
//!
//! Kept with the processes because a name is released when its process ends,
//! whatever the reason; the typed lookups over it are `crate::registry`.

use std::any::Any;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, LazyLock};

use noex_agent::types::EventKind;
use tokio::sync::Notify;

use super::{ProcessCell, ProcessKind};
use crate::Pid;
use crate::error::{AlreadyRegisteredError, RegisterError, ServerNotRunningError};
use crate::sync::RwLock;
use crate::type_names::readable_type_name;

/// The runtime's one name table, created on first use.
static NAMES: LazyLock<NameTable> = LazyLock::new(NameTable::default);

/// The table of registered names.
#[inline]
pub(crate) fn names() -> &'static NameTable {
    &NAMES
}

struct Registration {
    pid: Pid,
    /// A clone of the typed reference, for typed lookups.
    handle: Arc<dyn Any + Send + Sync>,
    /// What the process is, so that a lookup of another type can say so in words.
    what: Registered,
}

/// What a registered process is, as a lookup that finds another type tells it.
/// Type names are kept as functions (`std::any::type_name`), turned into text
/// only when an error needs them.
#[derive(Clone, Copy)]
pub(crate) enum Registered {
    /// A server, by its type.
    Server(fn() -> &'static str),
    /// A server known by the handle that wraps it (a built-in service's
    /// `Cache<K, V>`), by the handle's type.
    Handle(fn() -> &'static str),
    /// A supervisor.
    Supervisor,
}

impl Registered {
    /// What `cell` is, by its own type.
    pub(crate) fn of(cell: &ProcessCell) -> Self {
        match cell.kind {
            ProcessKind::Supervisor => Registered::Supervisor,
            ProcessKind::Server => Registered::Server(cell.full_type_name()),
        }
    }

    /// In words, as an error says it: a server is a `Worker server`, a built-in
    /// service its handle's type (`Cache<String, u64>`), else `supervisor`.
    pub(crate) fn describe(self) -> String {
        match self {
            Registered::Server(type_name) => format!("{} server", readable_type_name(type_name())),
            Registered::Handle(type_name) => readable_type_name(type_name()),
            Registered::Supervisor => "supervisor".to_string(),
        }
    }
}

/// Shards, each with its own lock, so lookups and registrations on many threads
/// rarely meet.
const SHARDS: usize = 16;

#[derive(Default)]
pub(crate) struct NameTable {
    shards: [Shard; SHARDS],
    /// Woken at every registration: handles by name wait here for a restarted
    /// process to take its name again.
    registered: Notify,
}

/// Aligned to a cache line, so two threads in neighbouring shards do not write to one
/// line.
#[derive(Default)]
#[repr(align(64))]
struct Shard(RwLock<HashMap<Arc<str>, Registration>>);

impl NameTable {
    fn shard(&self, name: &str) -> &Shard {
        // FNV-1a: it only spreads names over the shards; each shard's map hashes
        // with std's keyed hasher, so crafted names cannot degrade a lookup.
        let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        });
        &self.shards[hash as usize % SHARDS]
    }
}

impl NameTable {
    /// Register `cell` under `name`. `handle_type` is the type users know the
    /// server by when it is not the server's own (see [`Registered::Handle`]).
    pub(crate) fn register_cell(
        &self,
        name: &str,
        cell: &ProcessCell,
        handle: Arc<dyn Any + Send + Sync>,
        handle_type: Option<fn() -> &'static str>,
    ) -> Result<(), RegisterError> {
        let name: Arc<str> = Arc::from(name);
        let what = match handle_type {
            Some(handle_type) => Registered::Handle(handle_type),
            None => Registered::of(cell),
        };
        {
            let mut notes = cell.notes();
            if let Some(existing) = notes.name() {
                // One name per process, as in OTP.
                return Err(AlreadyRegisteredError {
                    name: existing.to_string(),
                    pid: cell.pid,
                }
                .into());
            }
            match self.shard(&name).0.write().entry(name.clone()) {
                Entry::Occupied(entry) => {
                    return Err(AlreadyRegisteredError {
                        name: name.to_string(),
                        pid: entry.get().pid,
                    }
                    .into());
                }
                Entry::Vacant(entry) => {
                    entry.insert(Registration {
                        pid: cell.pid,
                        handle,
                        what,
                    });
                }
            }
            cell.shown_mut(&mut notes).name = Some(name.clone());
        }
        if !cell.is_alive() {
            // It ended while we registered; its exit may have missed the new name.
            self.release(cell);
            return Err(ServerNotRunningError { pid: cell.pid }.into());
        }
        self.registered.notify_waiters();
        cell.emit(EventKind::Registered {
            registered_name: name.to_string(),
        });
        Ok(())
    }

    /// Drop the process's name, if it has one.
    pub(crate) fn release(&self, cell: &ProcessCell) {
        let Some(name) = cell.notes().take_name() else {
            return;
        };
        // Out of the map under the lock, dropped after it: the registration holds a
        // server's reference, whose drop must not run under a name table lock.
        let removed = {
            let mut names = self.shard(&name).0.write();
            match names.get(&name) {
                Some(registration) if registration.pid == cell.pid => names.remove(&name),
                _ => None,
            }
        };
        if removed.is_some() {
            let event = EventKind::Unregistered {
                registered_name: name.to_string(),
            };
            cell.emit_named_at(Some(name.to_string()), event, 0);
        }
    }
}

impl NameTable {
    /// The typed reference registered under `name`, if it is a `P`; if it is not,
    /// the pid registered and what it is. Cloned under the lock, with no clone of
    /// the stored handle itself.
    pub(crate) fn lookup<P: Clone + 'static>(
        &self,
        name: &str,
    ) -> Option<Result<P, (Pid, Registered)>> {
        self.shard(name).0.read().get(name).map(|registration| {
            registration
                .handle
                .downcast_ref::<P>()
                .cloned()
                .ok_or((registration.pid, registration.what))
        })
    }

    /// Woken at the next registration of any name.
    pub(crate) fn registered(&self) -> &Notify {
        &self.registered
    }

    /// The pid registered under `name`.
    pub(crate) fn whereis(&self, name: &str) -> Option<Pid> {
        self.shard(name)
            .0
            .read()
            .get(name)
            .map(|registration| registration.pid)
    }

    /// Whether `name` is registered.
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.shard(name).0.read().contains_key(name)
    }

    /// Drop `name` whoever holds it; whether it was registered. For a process that
    /// has already left the process table (its exit releases the name too).
    pub(crate) fn remove(&self, name: &str) -> bool {
        // Dropped once the lock is let go, as in `release`.
        let removed = self.shard(name).0.write().remove(name);
        removed.is_some()
    }

    /// Every registered name, sorted.
    pub(crate) fn sorted(&self) -> Vec<String> {
        let mut names = Vec::new();
        for shard in &self.shards {
            names.extend(shard.0.read().keys().map(|name| name.to_string()));
        }
        names.sort();
        names
    }

    /// How many names are registered.
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|shard| shard.0.read().len()).sum()
    }
}
