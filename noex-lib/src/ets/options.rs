//! How a table is made: its kind, who may use it, its name and its heir.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use crate::Pid;

/// How a table keeps its objects (OTP's table type).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TableKind {
    /// One object per key; an insert replaces. Hashed, so no order among keys.
    Set,
    /// One object per key, in key order: `first`/`next`/`last`/`prev` and `range`
    /// walk it in `Ord` order.
    OrderedSet,
    /// Many objects per key, but only one copy of each (`V: PartialEq`): inserting
    /// an object equal to one already under the key does nothing.
    Bag,
    /// Many objects per key, copies included.
    DuplicateBag,
}

impl TableKind {
    /// The name OTP gives it: `set`, `ordered_set`, `bag`, `duplicate_bag`.
    pub fn as_str(self) -> &'static str {
        match self {
            TableKind::Set => "set",
            TableKind::OrderedSet => "ordered_set",
            TableKind::Bag => "bag",
            TableKind::DuplicateBag => "duplicate_bag",
        }
    }

    /// Whether a key holds one object at most.
    pub fn is_set(self) -> bool {
        matches!(self, TableKind::Set | TableKind::OrderedSet)
    }
}

impl fmt::Display for TableKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who may use a table besides its owner (OTP's protection). In noex the rights
/// travel with handles: see "Access" in [`ets`](super).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Access {
    /// Any handle reads and writes; a lookup by name gives a writable handle.
    Public,
    /// The owner writes, the others read: a lookup by name gives a read-only
    /// handle. OTP's default.
    #[default]
    Protected,
    /// Only the owner's handle reads or writes; a lookup by name is refused.
    Private,
}

impl Access {
    /// The name OTP gives it: `public`, `protected`, `private`.
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Public => "public",
            Access::Protected => "protected",
            Access::Private => "private",
        }
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the heir or the receiver of [`give_away`](super::Table::give_away) is sent
/// with the table (OTP's `HeirData` and `GiftData`); downcast it to the type you gave.
pub type TransferData = Arc<dyn Any + Send + Sync>;

/// The process that inherits a table when its owner ends (OTP's `{heir, Pid, HeirData}`).
#[derive(Clone)]
pub struct Heir {
    /// The heir.
    pub pid: Pid,
    /// Sent to the heir in its [`EtsTransfer`](super::EtsTransfer); kept, as OTP
    /// keeps it, for a later inheritance.
    pub data: Option<TransferData>,
}

impl fmt::Debug for Heir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Heir")
            .field("pid", &self.pid)
            .field("data", &self.data.as_ref().map(|_| ".."))
            .finish()
    }
}

/// A table's options, as OTP's `ets:new/2` takes them; the defaults are OTP's
/// (`set`, `protected`, unnamed, no heir), but for `write_concurrency`, which is on.
///
/// ```
/// use noex::ets::{Access, TableKind, TableOptions};
///
/// let options = TableOptions::ordered_set().public().named("prices");
/// assert_eq!(options.kind(), TableKind::OrderedSet);
/// assert_eq!(options.access(), Access::Public);
/// ```
#[derive(Clone, Debug)]
pub struct TableOptions {
    pub(super) kind: TableKind,
    pub(super) access: Access,
    pub(super) name: Option<Arc<str>>,
    pub(super) heir: Option<Heir>,
    pub(super) write_concurrency: bool,
}

impl Default for TableOptions {
    fn default() -> Self {
        TableOptions::new(TableKind::Set)
    }
}

impl TableOptions {
    /// A table of `kind`, protected, unnamed, without an heir.
    pub fn new(kind: TableKind) -> Self {
        TableOptions {
            kind,
            access: Access::Protected,
            name: None,
            heir: None,
            write_concurrency: true,
        }
    }

    /// A [`TableKind::Set`].
    pub fn set() -> Self {
        Self::new(TableKind::Set)
    }

    /// A [`TableKind::OrderedSet`].
    pub fn ordered_set() -> Self {
        Self::new(TableKind::OrderedSet)
    }

    /// A [`TableKind::Bag`].
    pub fn bag() -> Self {
        Self::new(TableKind::Bag)
    }

    /// A [`TableKind::DuplicateBag`].
    pub fn duplicate_bag() -> Self {
        Self::new(TableKind::DuplicateBag)
    }

    /// Who may use the table besides its owner.
    pub fn with_access(mut self, access: Access) -> Self {
        self.access = access;
        self
    }

    /// [`Access::Public`].
    pub fn public(self) -> Self {
        self.with_access(Access::Public)
    }

    /// [`Access::Protected`] (the default).
    pub fn protected(self) -> Self {
        self.with_access(Access::Protected)
    }

    /// [`Access::Private`].
    pub fn private(self) -> Self {
        self.with_access(Access::Private)
    }

    /// Register the table under `name` (OTP's `named_table`), for
    /// [`whereis`](super::whereis); creating it fails while the name is taken.
    pub fn named(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The process that inherits the table when its owner ends, and is sent an
    /// [`EtsTransfer`](super::EtsTransfer) without data.
    pub fn heir(mut self, pid: Pid) -> Self {
        self.heir = Some(Heir { pid, data: None });
        self
    }

    /// As [`heir`](Self::heir), with `data` in the heir's `EtsTransfer`.
    pub fn heir_with(mut self, pid: Pid, data: impl Any + Send + Sync) -> Self {
        self.heir = Some(Heir {
            pid,
            data: Some(Arc::new(data)),
        });
        self
    }

    /// Whether writers to different keys of a hashed table take different locks
    /// (on by default). Off, one lock guards the whole table: less memory, and no
    /// parallel writers. An ordered set has one lock either way.
    pub fn write_concurrency(mut self, on: bool) -> Self {
        self.write_concurrency = on;
        self
    }

    /// The table's kind.
    pub fn kind(&self) -> TableKind {
        self.kind
    }

    /// Who may use the table besides its owner.
    pub fn access(&self) -> Access {
        self.access
    }
}
