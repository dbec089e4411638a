//! Registries of processes under keys, unique or duplicate (Elixir's `Registry`).
//!
//! Where [`crate::registry`] gives a process one global name, a keyed registry is a
//! table of `(key, pid, value)` entries of its own, started by name: a key holds at
//! most one process in a [`unique`](RegistryOptions::unique) registry (session ids
//! to their processes), and any number in a [`duplicate`](RegistryOptions::duplicate)
//! one (topics to their subscribers). A process may hold many keys. Its entries are
//! removed when it ends, however it ends: the registry's process monitors every
//! registrant.
//!
//! As Elixir's, reads and writes do not go through the registry's process: the
//! entries are in a table any task reads and writes directly, split into
//! [`partitions`](RegistryOptions::partitions) that each have their own lock.
//! [`dispatch`](KeyedRegistry::dispatch) runs a function over the entries of a key
//! in the caller: the building block of publish/subscribe.
//!
//! ```
//! use noex::keyed_registry::{KeyedRegistry, RegistryOptions};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # // As a doc test, leave no agent socket behind (`NOEX_AGENT=off`); one thread, so sound.
//! # unsafe { std::env::set_var("NOEX_AGENT", "off") }
//! # use noex::gen_server::{self, Context, GenServer, Reply, StartOptions};
//! # struct Worker;
//! # impl GenServer for Worker { type Call = (); type Cast = (); type Reply = ();
//! #   async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> { Reply::Now(()) } }
//! let topics = KeyedRegistry::<String, u32>::start(RegistryOptions::duplicate("topics")).await?;
//! let (a, b) = (
//!     gen_server::start(Worker, StartOptions::new()).await?,
//!     gen_server::start(Worker, StartOptions::new()).await?,
//! );
//! topics.register(a.pid(), "news".to_string(), 1)?;
//! topics.register(b.pid(), "news".to_string(), 2)?;
//! topics.register(b.pid(), "sport".to_string(), 3)?;
//!
//! // Anywhere else, by the registry's name:
//! let topics = KeyedRegistry::<String, u32>::lookup_registry("topics")?;
//! let mut news = topics.lookup(&"news".to_string());
//! news.sort();
//! assert_eq!(news, [(a.pid(), 1), (b.pid(), 2)]);
//! topics.dispatch(&"news".to_string(), |subscribers| {
//!     assert_eq!(subscribers.len(), 2); // send each one a message, for one
//! });
//!
//! // `b` ends: its entries go.
//! b.stop(noex::ExitReason::Normal).await?;
//! # while topics.count() > 1 { tokio::task::yield_now().await }
//! assert_eq!(topics.lookup(&"news".to_string()), [(a.pid(), 1)]);
//! assert!(topics.lookup(&"sport".to_string()).is_empty());
//! # Ok(()) }
//! ```
//!
//! # Differences from Elixir
//!
//! - Elixir registers the calling process; here the pid is an argument, so one
//!   process can register another ([`KeyedRegistry::register_self`] takes a
//!   handler's [`Context`] for the usual case). A pid that is not alive is refused
//!   ([`RegisterKeyError::NotAlive`]): in Elixir the caller is alive by definition,
//!   and an entry for a dead process would only wait for its cleanup.
//! - `match/3`, `count_match/3` and `select/2` take Rust closures, not match
//!   specifications: [`match_values`](KeyedRegistry::match_values),
//!   [`count_match`](KeyedRegistry::count_match), [`select`](KeyedRegistry::select).
//! - A key's entries live in one partition, chosen by the key in both kinds (Elixir
//!   places duplicate entries by pid): `dispatch` calls its function once, with all
//!   of them.
//! - Functions given to reads and to `update_value` run outside the registry's
//!   locks, on a copy of the entries, so they may use the registry themselves.
//! - A registry that has ended reads as empty and refuses writes; Elixir raises
//!   `unknown registry`.
//! - Not here: `:via` names (see [`NamedRef`](crate::NamedRef) for a name held across
//!   restarts), `listeners`, parallel dispatch.

mod server;
mod table;

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use self::table::Table;
use crate::error::{NotRegisteredError, StartError, StopError};
use crate::gen_server::{Context, GenServer, ServerRef};
use crate::registry::{self, LookupError};
use crate::services;
use crate::supervisor::ChildSpec;
use crate::{ExitReason, Pid, ServerNotRunningError};

pub use self::server::KeyedRegistryServer;

/// What a key can be: compared by equality, as Elixir compares keys with `===`.
pub trait RegistryKey: Eq + Hash + Clone + Send + Sync + 'static {}
impl<T: Eq + Hash + Clone + Send + Sync + 'static> RegistryKey for T {}

/// What a value can be: copied out to readers.
pub trait RegistryValue: Clone + Send + Sync + 'static {}
impl<T: Clone + Send + Sync + 'static> RegistryValue for T {}

/// Whether a key holds one process or many.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Keys {
    /// A key holds at most one process (Elixir's `keys: :unique`).
    Unique,
    /// A key holds any number of entries, even several of one process (`:duplicate`).
    Duplicate,
}

/// How to start a registry: its name, its kind of keys, and optionally its
/// partitions and metadata (Elixir's `start_link/1` options).
#[derive(Clone)]
pub struct RegistryOptions {
    name: String,
    keys: Keys,
    partitions: usize,
    meta: HashMap<String, Arc<dyn Any + Send + Sync>>,
}

impl fmt::Debug for RegistryOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryOptions")
            .field("name", &self.name)
            .field("keys", &self.keys)
            .field("partitions", &self.partitions)
            .field("meta", &self.meta.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl RegistryOptions {
    /// A registry of unique keys, registered under `name`.
    pub fn unique(name: impl Into<String>) -> Self {
        Self::new(name.into(), Keys::Unique)
    }

    /// A registry of duplicate keys, registered under `name`.
    pub fn duplicate(name: impl Into<String>) -> Self {
        Self::new(name.into(), Keys::Duplicate)
    }

    fn new(name: String, keys: Keys) -> Self {
        RegistryOptions {
            name,
            keys,
            partitions: 1,
            meta: HashMap::new(),
        }
    }

    /// Split the entries into `partitions` parts, each with its own lock, for
    /// many writers at once (Elixir's `:partitions`; the number of cores is a good
    /// choice). 1 by default; 0 counts as 1.
    pub fn partitions(mut self, partitions: usize) -> Self {
        self.partitions = partitions.max(1);
        self
    }

    /// Metadata the registry starts with (Elixir's `:meta`); see
    /// [`KeyedRegistry::meta`].
    pub fn meta(mut self, key: impl Into<String>, value: impl Any + Send + Sync) -> Self {
        self.meta.insert(key.into(), Arc::new(value));
        self
    }

    fn table<K: RegistryKey, V: RegistryValue>(&self) -> Table<K, V> {
        Table::new(self.keys, self.partitions, self.meta.clone())
    }
}

/// Why [`KeyedRegistry::register`] added no entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegisterKeyError {
    /// The registry has unique keys, and a live process holds the key (maybe the
    /// one registering): Elixir's `{:already_registered, pid}`.
    #[error("the key is already registered to {holder}")]
    AlreadyRegistered {
        /// The process holding the key.
        holder: Pid,
    },
    /// The process to register is not alive.
    #[error("{pid} is not alive: only a live process can hold a key")]
    NotAlive {
        /// The process that was to be registered.
        pid: Pid,
    },
    /// The registry has ended.
    #[error(transparent)]
    NotRunning(#[from] ServerNotRunningError),
}

/// Why [`KeyedRegistry::update_value`] changed nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UpdateValueError {
    /// The process does not hold the key (Elixir's `:error`).
    #[error("{pid} does not hold the key")]
    NotHeld {
        /// The process whose value was to be updated.
        pid: Pid,
    },
    /// The registry has duplicate keys, where a value is not one process's to
    /// update (Elixir raises `ArgumentError`).
    #[error("update_value needs a registry of unique keys")]
    DuplicateKeys,
    /// The registry has ended.
    #[error(transparent)]
    NotRunning(#[from] ServerNotRunningError),
}

/// A running registry, as [`all`] lists it for the Observer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryInfo {
    /// The name it is registered under.
    pub name: String,
    /// Unique or duplicate keys.
    pub keys: Keys,
    /// How many entries it holds now.
    pub entries: usize,
    /// Its process.
    pub pid: Pid,
}

/// Every running keyed registry, sorted by name: what the Observer shows of them.
pub fn all() -> Vec<RegistryInfo> {
    server::listed()
}

/// A handle to a running registry of `K` keys and `V` values. Cheap to clone.
pub struct KeyedRegistry<K: RegistryKey, V: RegistryValue> {
    server: ServerRef<KeyedRegistryServer<K, V>>,
    table: Arc<Table<K, V>>,
}

impl<K: RegistryKey, V: RegistryValue> Clone for KeyedRegistry<K, V> {
    fn clone(&self) -> Self {
        KeyedRegistry {
            server: self.server.clone(),
            table: self.table.clone(),
        }
    }
}

impl<K: RegistryKey, V: RegistryValue> fmt::Debug for KeyedRegistry<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedRegistry")
            .field("pid", &self.server.pid())
            .field("keys", &self.table.keys_kind())
            .finish()
    }
}

impl<K: RegistryKey, V: RegistryValue> KeyedRegistry<K, V> {
    /// Start a registry, registered under its name (Elixir's `start_link/1`).
    /// Fails with [`StartError::AlreadyRegistered`] if another process has the name.
    pub async fn start(options: RegistryOptions) -> Result<Self, StartError> {
        let table = Arc::new(options.table());
        let server = KeyedRegistryServer::new(options.name.as_str().into(), table.clone());
        let server = services::start::<_, Self>(server, Some(&options.name)).await?;
        Ok(KeyedRegistry { server, table })
    }

    /// A supervisor child that runs a registry registered under its name (Elixir's
    /// `child_spec/1`). Every (re)start begins with no entries: the entries of a
    /// registry end with its process. Find it with [`KeyedRegistry::lookup_registry`].
    pub fn child_spec(id: impl Into<String>, options: RegistryOptions) -> ChildSpec {
        let name: Arc<str> = options.name.as_str().into();
        services::child_spec::<_, Self, _>(id, Some(options.name.clone()), move || {
            KeyedRegistryServer::new(name.clone(), Arc::new(options.table::<K, V>()))
        })
    }

    /// The running registry registered under `name`. Fails with
    /// [`LookupError::WrongType`] if it holds other keys or values than `K` and
    /// `V` (or is no registry), and with [`LookupError::NotRegistered`] if nothing
    /// runs under the name (or the registry has not finished starting).
    pub fn lookup_registry(name: &str) -> Result<Self, LookupError> {
        let server = registry::lookup_wrapped::<KeyedRegistryServer<K, V>, Self>(name)?;
        let table = server::table_of::<K, V>(server.pid()).ok_or_else(|| NotRegisteredError {
            name: name.to_string(),
        })?;
        Ok(KeyedRegistry { server, table })
    }

    /// The registry's process.
    pub fn server_ref(&self) -> &ServerRef<KeyedRegistryServer<K, V>> {
        &self.server
    }

    /// The pid of the registry's process.
    pub fn pid(&self) -> Pid {
        self.server.pid()
    }

    /// Unique or duplicate keys.
    pub fn kind(&self) -> Keys {
        self.table.keys_kind()
    }

    /// Into how many partitions the entries are split.
    pub fn partitions(&self) -> usize {
        self.table.partitions()
    }

    /// Whether the registry's process is still running.
    pub fn is_running(&self) -> bool {
        self.server.is_running()
    }

    /// Stop the registry; its entries go with it.
    pub async fn stop(&self) -> Result<(), StopError> {
        self.server.stop(ExitReason::Normal).await
    }

    fn running(&self) -> Result<(), ServerNotRunningError> {
        if self.server.is_running() {
            Ok(())
        } else {
            Err(ServerNotRunningError { pid: self.pid() })
        }
    }

    /// Add the entry `(key, pid, value)` (Elixir's `register/3`, for `pid` rather
    /// than the caller). In a unique registry, a key held by a live process is
    /// refused with [`RegisterKeyError::AlreadyRegistered`], even to its holder; a
    /// key whose holder has ended goes to the new registrant. In a duplicate
    /// registry every registration adds an entry, even the same one again. The
    /// entries of `pid` are removed when it ends.
    pub fn register(&self, pid: Pid, key: K, value: V) -> Result<(), RegisterKeyError> {
        self.running()?;
        self.table.register(self.server.cell(), pid, key, value)
    }

    /// [`KeyedRegistry::register`] the process whose handler `ctx` belongs to: the
    /// caller, as in Elixir.
    pub fn register_self<S: GenServer>(
        &self,
        ctx: &Context<S>,
        key: K,
        value: V,
    ) -> Result<(), RegisterKeyError> {
        self.register(ctx.pid(), key, value)
    }

    /// Remove every entry of `pid` under `key` (Elixir's `unregister/2`). Returns
    /// how many there were.
    pub fn unregister(&self, pid: Pid, key: &K) -> Result<usize, ServerNotRunningError> {
        self.unregister_match(pid, key, |_| true)
    }

    /// Remove the entries of `pid` under `key` whose value `matches` (Elixir's
    /// `unregister_match/4`). Returns how many there were.
    pub fn unregister_match(
        &self,
        pid: Pid,
        key: &K,
        matches: impl Fn(&V) -> bool,
    ) -> Result<usize, ServerNotRunningError> {
        self.running()?;
        Ok(self.table.unregister(self.server.cell(), pid, key, matches))
    }

    /// Every `(pid, value)` under `key`, in no particular order (Elixir's
    /// `lookup/2`). Right after a registrant ends, until the registry has handled
    /// its exit, its entries may still be here, as in Elixir.
    pub fn lookup(&self, key: &K) -> Vec<(Pid, V)> {
        if !self.server.is_running() {
            return Vec::new();
        }
        self.table.lookup(key)
    }

    /// The entries under `key` whose value `matches` (Elixir's `match/4`, with a
    /// predicate for the pattern and guards).
    pub fn match_values(&self, key: &K, matches: impl Fn(&V) -> bool) -> Vec<(Pid, V)> {
        let mut entries = self.lookup(key);
        entries.retain(|(_, value)| matches(value));
        entries
    }

    /// How many entries under `key` have a value that `matches` (Elixir's
    /// `count_match/4`).
    pub fn count_match(&self, key: &K, matches: impl Fn(&V) -> bool) -> usize {
        let entries = self.lookup(key);
        entries.iter().filter(|(_, value)| matches(value)).count()
    }

    /// The values `pid` registered under `key` (Elixir's `values/3`): at most one
    /// in a unique registry.
    pub fn values(&self, key: &K, pid: Pid) -> Vec<V> {
        let entries = self.lookup(key);
        entries
            .into_iter()
            .filter_map(|(holder, value)| (holder == pid).then_some(value))
            .collect()
    }

    /// The keys `pid` holds, in no particular order (Elixir's `keys/2`): a key
    /// registered twice in a duplicate registry is listed twice.
    pub fn keys(&self, pid: Pid) -> Vec<K> {
        if !self.server.is_running() {
            return Vec::new();
        }
        self.table.keys_of(pid)
    }

    /// How many entries the registry holds (Elixir's `count/1`), without a lock.
    pub fn count(&self) -> usize {
        if !self.server.is_running() {
            return 0;
        }
        self.table.count()
    }

    /// What `pick` makes of each entry `(key, pid, value)` it does not skip
    /// (Elixir's `select/2`, with a closure for the match specification).
    pub fn select<T>(&self, mut pick: impl FnMut(&K, Pid, &V) -> Option<T>) -> Vec<T> {
        if !self.server.is_running() {
            return Vec::new();
        }
        let entries = self.table.all_entries();
        entries
            .iter()
            .filter_map(|(key, pid, value)| pick(key, *pid, value))
            .collect()
    }

    /// How many entries `matches` accepts (Elixir's `count_select/2`).
    pub fn count_select(&self, mut matches: impl FnMut(&K, Pid, &V) -> bool) -> usize {
        self.select(|key, pid, value| matches(key, pid, value).then_some(()))
            .len()
    }

    /// Set the value of `pid`'s entry under `key` to `change(old)` and return
    /// `(new, old)` (Elixir's `update_value/3`, for `pid` rather than the caller).
    /// Only in a unique registry. As in Elixir, the value is read, changed and
    /// written back in steps: of two updates at once, the last write wins.
    pub fn update_value(
        &self,
        pid: Pid,
        key: &K,
        change: impl FnOnce(&V) -> V,
    ) -> Result<(V, V), UpdateValueError> {
        self.running()?;
        if self.table.keys_kind() == Keys::Duplicate {
            return Err(UpdateValueError::DuplicateKeys);
        }
        (self.table)
            .update_value(pid, key, change)
            .ok_or(UpdateValueError::NotHeld { pid })
    }

    /// Run `action` on the entries under `key`, in the caller (Elixir's
    /// `dispatch/3`); not at all if there are none. It gets a copy: it may use the
    /// registry, and a registrant that ends meanwhile is still in it. Returns
    /// whether `action` ran.
    pub fn dispatch(&self, key: &K, action: impl FnOnce(&[(Pid, V)])) -> bool {
        let entries = self.lookup(key);
        if entries.is_empty() {
            return false;
        }
        action(&entries);
        true
    }

    /// Send a clone of `message` to [`GenServer::handle_info`] of the process of
    /// every entry under `key`: publish/subscribe over a duplicate registry, the
    /// pattern of Elixir's docs (`for {pid, _} <- entries, do: send(pid, msg)`).
    /// A process registered twice gets it twice. Returns how many were sent; a
    /// process that has ended is skipped, as Elixir's `send` to it does nothing.
    pub fn publish<M: Any + Send + Clone>(&self, key: &K, message: M) -> usize {
        let entries = self.lookup(key);
        entries
            .iter()
            .filter(|(pid, _)| {
                crate::process::processes()
                    .get(*pid)
                    .is_some_and(|process| process.send_info(Box::new(message.clone())))
            })
            .count()
    }

    /// Store `value` as the registry's metadata under `key` (Elixir's `put_meta/3`).
    pub fn put_meta(
        &self,
        key: impl Into<String>,
        value: impl Any + Send + Sync,
    ) -> Result<(), ServerNotRunningError> {
        self.running()?;
        self.table.put_meta(key.into(), Arc::new(value));
        Ok(())
    }

    /// The registry's metadata under `key` (Elixir's `meta/2`): `None` if there is
    /// none, or it is not a `T`.
    pub fn meta<T: Any + Clone>(&self, key: &str) -> Option<T> {
        if !self.server.is_running() {
            return None;
        }
        let value = self.table.meta(key)?;
        value.downcast_ref::<T>().cloned()
    }
}
