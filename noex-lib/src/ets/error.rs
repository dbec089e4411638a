//! What can go wrong with a table.

use crate::Pid;

use super::{Access, TableKind};

/// Why a table operation failed (OTP raises `badarg` for all of these).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// The table was deleted: explicitly, or because its owner ended without an
    /// heir to take it. Every handle to it reports this from then on.
    #[error("table {table} has been deleted")]
    Deleted {
        /// The table: its name, or `#Tab<id>`.
        table: String,
    },
    /// No table is registered under the name.
    #[error("no table is named {name:?}")]
    NoTable {
        /// The name looked up.
        name: String,
    },
    /// The table under the name holds other key or value types.
    #[error("table {name:?} is a table of {registered}, not of {expected}")]
    WrongType {
        /// The name looked up.
        name: String,
        /// `(K, V)` of the table found.
        registered: String,
        /// `(K, V)` the lookup asked for.
        expected: String,
    },
    /// The handle lacks the right: writing a protected table or touching a
    /// private one without the owner's handle, or an owner's operation (give away,
    /// set the heir) from a handle that is not the owner's.
    #[error("{table} is {access}: this handle may not {operation}")]
    Access {
        /// The table: its name, or `#Tab<id>`.
        table: String,
        /// The table's access.
        access: Access,
        /// What was refused: `"write"`, `"read"`, `"give it away"`.
        operation: &'static str,
    },
    /// Another live table has the name (OTP's `badarg` from `ets:new/2`).
    #[error("a table named {name:?} exists already")]
    NameTaken {
        /// The name asked for.
        name: String,
    },
    /// The process to own the table is not alive.
    #[error("process {pid} is not alive")]
    NotAlive {
        /// The process.
        pid: Pid,
    },
    /// `give_away` to the process that owns the table already.
    #[error("{pid} owns {table} already")]
    AlreadyOwner {
        /// The table: its name, or `#Tab<id>`.
        table: String,
        /// Its owner.
        pid: Pid,
    },
    /// The operation needs an object under the key, and there is none
    /// (`update_counter`, `update_element`, `next` from a key not in a hashed table).
    #[error("{table} has no object with that key")]
    NoKey {
        /// The table: its name, or `#Tab<id>`.
        table: String,
    },
    /// The operation is not for this kind of table: counters and elements are
    /// updated in sets only.
    #[error("{operation} is not for a {kind} table")]
    WrongKind {
        /// What was asked.
        operation: &'static str,
        /// The table's kind.
        kind: TableKind,
    },
    /// A counter would pass its type's bounds (OTP's `system_limit`; Erlang's
    /// integers have none).
    #[error("the counter in {table} would overflow")]
    CounterOverflow {
        /// The table: its name, or `#Tab<id>`.
        table: String,
    },
}
