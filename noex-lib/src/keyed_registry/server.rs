//! The registry's process: it watches the registrants and removes their entries
//! when they end (Elixir's `Registry.Partition`, which links to them), and lists its
//! table for [`lookup_registry`](super::KeyedRegistry::lookup_registry) and
//! [`all`](super::all) while it runs.

use std::any::Any;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::Arc;

use super::table::Table;
use super::{Keys, RegistryInfo, RegistryKey, RegistryValue};
use crate::Pid;
use crate::error::BoxError;
use crate::gen_server::{Context, GenServer, Info, Reply};
use crate::process::{self, Down, PidHasher};
use crate::sync::Mutex;

/// The process behind a [`KeyedRegistry`](super::KeyedRegistry). Not used directly.
pub struct KeyedRegistryServer<K, V> {
    name: Arc<str>,
    table: Arc<Table<K, V>>,
    /// Lists the table from `init` until the process ends, however it ends.
    listing: Option<Listing>,
}

impl<K: RegistryKey, V: RegistryValue> KeyedRegistryServer<K, V> {
    pub(super) fn new(name: Arc<str>, table: Arc<Table<K, V>>) -> Self {
        KeyedRegistryServer {
            name,
            table,
            listing: None,
        }
    }
}

impl<K, V> Drop for KeyedRegistryServer<K, V> {
    /// A registry's entries end with its process (Elixir's tables belong to it),
    /// also when it is killed: the state is dropped then too. Handles that outlive
    /// it find an empty table.
    fn drop(&mut self) {
        self.table.clear();
    }
}

impl<K: RegistryKey, V: RegistryValue> GenServer for KeyedRegistryServer<K, V> {
    /// Nothing to ask: reads and writes go to the table. A call only waits for the
    /// registry to have handled every `Down` sent before it.
    type Call = ();
    type Cast = ();
    type Reply = ();

    fn type_name() -> &'static str {
        "KeyedRegistry"
    }

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), BoxError> {
        let listed: Arc<dyn Listed> = self.table.clone();
        self.listing = Some(Listing::list(ctx.pid(), self.name.clone(), listed));
        Ok(())
    }

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }

    async fn handle_cast(&mut self, _: (), _: &mut Context<Self>) {}

    async fn handle_info(&mut self, message: Info, _: &mut Context<Self>) {
        match message.downcast::<Down>() {
            Ok(down) => self.table.remove_process(down.pid, down.monitor),
            Err(_) => tracing::debug!(registry = %self.name, "unexpected info message dropped"),
        }
    }
}

/// A table as the directory holds it, whatever its key and value types.
trait Listed: Send + Sync {
    fn keys(&self) -> Keys;
    fn entries(&self) -> usize;
    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
}

impl<K: RegistryKey, V: RegistryValue> Listed for Table<K, V> {
    fn keys(&self) -> Keys {
        self.keys_kind()
    }

    fn entries(&self) -> usize {
        self.count()
    }

    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
}

/// Running registries by pid.
type Directory = HashMap<u64, (Arc<str>, Arc<dyn Listed>), BuildHasherDefault<PidHasher>>;

static DIRECTORY: Mutex<Option<Directory>> = Mutex::new(None);

fn with_directory<T>(f: impl FnOnce(&mut Directory) -> T) -> T {
    f(DIRECTORY.lock().get_or_insert_with(Directory::default))
}

/// A registry's place in the directory, taken back when dropped.
struct Listing {
    pid: Pid,
}

impl Listing {
    fn list(pid: Pid, name: Arc<str>, table: Arc<dyn Listed>) -> Self {
        with_directory(|directory| directory.insert(pid.0, (name, table)));
        Listing { pid }
    }
}

impl Drop for Listing {
    fn drop(&mut self) {
        with_directory(|directory| directory.remove(&self.pid.0));
    }
}

/// The table of the running registry `pid`, if it is one of `K` and `V`.
pub(super) fn table_of<K: RegistryKey, V: RegistryValue>(pid: Pid) -> Option<Arc<Table<K, V>>> {
    let listed = with_directory(|directory| directory.get(&pid.0).map(|(_, t)| t.clone()))?;
    listed.as_any().downcast::<Table<K, V>>().ok()
}

/// Every running registry, by name.
pub(super) fn listed() -> Vec<RegistryInfo> {
    let mut all: Vec<RegistryInfo> = with_directory(|directory| {
        directory
            .iter()
            // One that has just ended is listed until its state is dropped.
            .filter(|(pid, _)| process::is_alive(Pid(**pid)))
            .map(|(&pid, (name, table))| RegistryInfo {
                name: name.to_string(),
                keys: table.keys(),
                entries: table.entries(),
                pid: Pid(pid),
            })
            .collect()
    });
    all.sort_by(|a, b| a.name.cmp(&b.name));
    all
}
