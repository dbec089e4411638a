//! A process that only owns a table: how a table runs under a supervisor (the
//! OTP habit of a table-owning server that does nothing else).

use std::marker::PhantomData;

use super::{EtsTransfer, Key, Table, TableOptions, Value};
use crate::error::BoxError;
use crate::gen_server::{Context, GenServer, Info, Reply};
use crate::supervisor::ChildSpec;

/// A child that creates a table as it starts and owns it while it runs: a
/// restart makes a fresh, empty table (the old one ended with its owner). Name
/// the table in `options` to reach it with [`whereis`](super::whereis).
pub fn child_spec<K: Key, V: Value>(id: impl Into<String>, options: TableOptions) -> ChildSpec {
    ChildSpec::worker(id, move || TableOwner::<K, V> {
        options: options.clone(),
        table: None,
        types: PhantomData,
    })
    .erase()
}

/// Owns one table, and any table given to it.
struct TableOwner<K, V> {
    options: TableOptions,
    /// Kept so that the table is visibly this process's; tables given to it are
    /// kept too, in `handle_info`.
    table: Option<Table<K, V>>,
    types: PhantomData<fn() -> (K, V)>,
}

impl<K: Key, V: Value> GenServer for TableOwner<K, V> {
    type Call = ();
    type Cast = ();
    type Reply = ();

    fn type_name() -> &'static str {
        "TableOwner"
    }

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), BoxError> {
        self.table = Some(Table::new(ctx.pid(), self.options.clone())?);
        Ok(())
    }

    async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Reply<()> {
        Reply::Now(())
    }

    async fn handle_info(&mut self, message: Info, _: &mut Context<Self>) {
        if let Ok(transfer) = message.downcast::<EtsTransfer<K, V>>() {
            self.table = Some(transfer.table);
        }
    }
}
