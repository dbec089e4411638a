//! The live tables, for [`all`](super::all) and lookups by name.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

use super::table::Shared;
use super::{Access, Key, TableError, TableKind, Value};
use crate::Pid;
use crate::sync::Mutex;

/// What the Observer shows of a table (OTP's `ets:info/1`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableInfo {
    /// The table's id, unique in this process for its whole run.
    pub id: u64,
    /// Its name, if it is a named table.
    pub name: Option<String>,
    /// Its kind.
    pub kind: TableKind,
    /// Who may use it besides its owner.
    pub access: Access,
    /// The process that owns it.
    pub owner: Pid,
    /// The process that inherits it when the owner ends.
    pub heir: Option<Pid>,
    /// How many objects it holds (each object of a bag counts).
    pub size: usize,
    /// An estimate of its bytes: see "Memory" in [`ets`](super).
    pub memory: usize,
    /// The key type, as `std::any::type_name` writes it.
    pub key_type: &'static str,
    /// The value type, as `std::any::type_name` writes it.
    pub value_type: &'static str,
}

/// A live table, whatever its types.
pub(super) trait Listed: Send + Sync {
    fn info(&self) -> TableInfo;
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
    fn types(&self) -> String;
    fn access(&self) -> Access;
}

impl<K: Key, V: Value> Listed for Shared<K, V> {
    fn info(&self) -> TableInfo {
        Shared::info(self)
    }

    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }

    fn types(&self) -> String {
        types::<K, V>()
    }

    fn access(&self) -> Access {
        self.access
    }
}

pub(super) fn types<K, V>() -> String {
    format!(
        "({}, {})",
        crate::type_names::readable_type_name(std::any::type_name::<K>()),
        crate::type_names::readable_type_name(std::any::type_name::<V>())
    )
}

#[derive(Default)]
struct Tables {
    by_id: HashMap<u64, Arc<dyn Listed>>,
    by_name: HashMap<Arc<str>, u64>,
}

static TABLES: Mutex<Option<Tables>> = Mutex::new(None);

fn with_tables<T>(f: impl FnOnce(&mut Tables) -> T) -> T {
    f(TABLES.lock().get_or_insert_with(Tables::default))
}

/// List a new table, and register its name; fails if the name is taken.
pub(super) fn insert<K: Key, V: Value>(shared: Arc<Shared<K, V>>) -> Result<(), TableError> {
    with_tables(|tables| {
        if let Some(name) = &shared.name {
            if tables.by_name.contains_key(name) {
                return Err(TableError::NameTaken {
                    name: name.to_string(),
                });
            }
            tables.by_name.insert(name.clone(), shared.id);
        }
        tables.by_id.insert(shared.id, shared);
        Ok(())
    })
}

/// Take a deleted table off the list, and free its name.
pub(super) fn remove(id: u64, name: Option<&Arc<str>>) {
    with_tables(|tables| {
        tables.by_id.remove(&id);
        if let Some(name) = name
            && tables.by_name.get(name) == Some(&id)
        {
            tables.by_name.remove(name);
        }
    });
}

/// The table named `name`, if it holds `K` and `V` and `access` lets a lookup
/// by name reach it.
pub(super) fn named<K: Key, V: Value>(
    name: &str,
    may: impl FnOnce(Access) -> Result<(), &'static str>,
) -> Result<Arc<Shared<K, V>>, TableError> {
    let listed = with_tables(|tables| {
        let id = tables.by_name.get(name)?;
        tables.by_id.get(id).cloned()
    });
    let Some(listed) = listed else {
        return Err(TableError::NoTable {
            name: name.to_owned(),
        });
    };
    if let Err(operation) = may(listed.access()) {
        return Err(TableError::Access {
            table: name.to_owned(),
            access: listed.access(),
            operation,
        });
    }
    let registered = listed.types();
    listed
        .into_any()
        .downcast::<Shared<K, V>>()
        .map_err(|_| TableError::WrongType {
            name: name.to_owned(),
            registered,
            expected: types::<K, V>(),
        })
}

/// Every live table, by id.
pub(super) fn all() -> Vec<TableInfo> {
    let listed: Vec<Arc<dyn Listed>> =
        with_tables(|tables| tables.by_id.values().cloned().collect());
    let mut infos: Vec<TableInfo> = listed.iter().map(|table| table.info()).collect();
    infos.sort_by_key(|info| info.id);
    infos
}
