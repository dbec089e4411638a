//! Shared in-memory tables owned by a process (OTP's ETS).
//!
//! A table holds objects, each a key `K` and a value `V`, that many tasks read
//! and write at once, without a message to any process: a hashed table is split
//! into shards under read-write locks, an ordered set is a B-tree under one. As
//! in OTP, a table belongs to a process, its owner, and lives as long as the
//! owner does: when the owner ends, the table passes to its heir, if one is
//! named and alive (the heir is sent an [`EtsTransfer`] in `handle_info`), and is
//! deleted otherwise. [`Table::give_away`] passes it on before that.
//!
//! Kinds ([`TableKind`]): a set holds one object per key and an insert replaces
//! it; an ordered set is a set in key order (`first`/`next`/`last`/`prev`,
//! `range`); a bag holds many objects per key but no two equal ones; a duplicate
//! bag holds copies too.
//!
//! ```
//! use noex::ets::{self, TableOptions};
//! use noex::supervisor::{self, SupervisorSpec};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # // As a doc test, leave no agent socket behind (`NOEX_AGENT=off`); one thread, so sound.
//! # unsafe { std::env::set_var("NOEX_AGENT", "off") }
//! // A supervised process owns the table; anyone reaches it by name.
//! let options = TableOptions::set().public().named("visits");
//! let app = supervisor::start(
//!     SupervisorSpec::one_for_one().child(ets::child_spec::<String, u64>("visits", options)),
//! )
//! .await?;
//! let visits = ets::whereis_writable::<String, u64>("visits")?;
//! visits.update_counter_or(&"/home".to_string(), 1, 0)?;
//! visits.update_counter_or(&"/home".to_string(), 1, 0)?;
//! assert_eq!(visits.get(&"/home".to_string())?, Some(2));
//! app.stop().await?;
//! // Its owner ended, and the table with it.
//! assert!(ets::whereis::<String, u64>("visits").is_err());
//! # Ok(()) }
//! ```
//!
//! # Access
//!
//! OTP checks the calling process against the owner on every operation; here the
//! rights travel with the handle, so no operation asks who is calling:
//!
//! | access | owner's [`Table`] | [`whereis`] | [`whereis_writable`] |
//! |---|---|---|---|
//! | public | reads, writes | [`TableReader`] | [`Table`] |
//! | protected (default) | reads, writes | [`TableReader`] | access error |
//! | private | reads, writes | access error | access error |
//!
//! The owner's handle is the one [`Table::new`] returns, or an [`EtsTransfer`]
//! brings; it loses the owner's rights when the table changes hands, and keeps
//! what the access gives anyone. Whoever holds a handle has its rights: the
//! owner shares a private table by sharing its handle (or a read-only
//! [`Table::reader`]). Giving the table away and naming its heir are the owner's
//! alone, as in OTP.
//!
//! # Memory
//!
//! [`TableReader::memory`] and [`TableInfo::memory`] estimate the bytes the
//! table takes itself: a hashed table's slots (`size_of::<(K, V)>()` each, and a
//! control byte, spare capacity included) and shards, a bag's per-key lists
//! (`size_of::<V>()` an object), an ordered set's tree (`size_of::<K>() +
//! size_of::<V>()` an object, and half again for its nodes). What keys and values
//! point to (a `String`'s text) is not counted. The counts behind it are kept
//! per shard as writes happen, so [`all`] locks nothing.
//!
//! # Differences from OTP
//!
//! - Objects are `(K, V)` pairs, not tuples with a key position; `match` and
//!   `select` take Rust functions, not match specifications.
//! - Keys compare by `Eq` in hashed tables and by `Ord` in an ordered set; OTP's
//!   `1` and `1.0` have no counterpart.
//! - `update_counter` is for integer values ([`Counter`]) and fails on overflow
//!   (OTP's integers have no bounds); `update_element` takes a function.
//! - `first`/`next` on a hashed table walk its own order and, as OTP without
//!   `safe_fixtable`, `next` of a key no longer there is an error: traverse with
//!   [`TableReader::to_vec`] or [`TableReader::select`] instead.
//! - `insert` of a list, `safe_fixtable`, `rename`, continuations (`select/3`) and
//!   `tab2file` are left out.

mod counter;
mod error;
mod options;
mod owner_process;
mod ownership;
mod registry;
mod store;
mod table;

use std::hash::Hash;

pub use counter::Counter;
pub use error::TableError;
pub use options::{Access, Heir, TableKind, TableOptions, TransferData};
pub use owner_process::child_spec;
pub use ownership::EtsTransfer;
pub use registry::TableInfo;
pub use table::{Table, TableReader};

/// What a table's keys must be: hashed in a hashed table, ordered in an ordered
/// set, cloned out to readers, shared between threads.
pub trait Key: Hash + Ord + Clone + Send + Sync + 'static {}

impl<T: Hash + Ord + Clone + Send + Sync + 'static> Key for T {}

/// What a table's values must be: cloned out to readers (as ETS copies objects
/// out), compared by a bag and by `delete_object`, shared between threads.
pub trait Value: Clone + PartialEq + Send + Sync + 'static {}

impl<T: Clone + PartialEq + Send + Sync + 'static> Value for T {}

/// Every live table, by id, with its owner, size and memory (OTP's `ets:all/0`
/// and `ets:info/1` together): what the Observer lists.
pub fn all() -> Vec<TableInfo> {
    registry::all()
}

/// A read-only handle to the table named `name` (OTP's `whereis/1`): for a public
/// or a protected table; a private one is the owner's alone.
pub fn whereis<K: Key, V: Value>(name: &str) -> Result<TableReader<K, V>, TableError> {
    let shared = registry::named::<K, V>(name, |access| match access {
        Access::Private => Err("read"),
        _ => Ok(()),
    })?;
    Ok(TableReader::new(shared, 0))
}

/// A handle that reads and writes the table named `name`: for a public table
/// only, as only the owner writes the others.
pub fn whereis_writable<K: Key, V: Value>(name: &str) -> Result<Table<K, V>, TableError> {
    let shared = registry::named::<K, V>(name, |access| match access {
        Access::Public => Ok(()),
        _ => Err("write"),
    })?;
    Ok(Table::from_reader(TableReader::new(shared, 0)))
}
