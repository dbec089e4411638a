//! Who owns a table, and what happens when the owner ends: the table passes to
//! its heir, or is deleted (OTP's owner, `heir` and `give_away`).
//!
//! A table watches its owner with an exit hook of the process core: it runs as
//! the owner exits, before the owner's links and monitors hear of it, as OTP
//! deletes or passes on a process's tables before its `'DOWN'`s are sent. So when
//! `stop` returns, or a monitor's `Down` arrives, the table is gone or has its new
//! owner.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use super::registry;
use super::registry::Listed;
use super::table::{Shared, TableReader};
use super::{Heir, Key, Table, TableError, TableOptions, TransferData, Value};
use crate::Pid;
use crate::process::details::{self, DetailGuard, DetailSource};
use crate::process::{self, MonitorRef, Watcher, processes};

/// A table's owner and heir.
pub(super) struct Ownership {
    pub(super) owner: Pid,
    pub(super) heir: Option<Heir>,
    /// The hook on the owner's exit, taken back when the table changes hands or
    /// is deleted.
    pub(super) watch: Option<MonitorRef>,
    /// The table as the owner's row in the Observer shows it (`noex ps`'s STATE):
    /// moves with the table, and goes with it.
    pub(super) shown: Option<DetailGuard>,
}

impl Ownership {
    pub(super) fn new(owner: Pid, heir: Option<Heir>) -> Self {
        Ownership {
            owner,
            heir: alive_heir(heir),
            watch: None,
            shown: None,
        }
    }
}

/// An heir that is not alive is no heir, as OTP's `set_heir` has it.
fn alive_heir(heir: Option<Heir>) -> Option<Heir> {
    heir.filter(|heir| process::is_alive(heir.pid))
}

/// A table came to this process (OTP's `{'ETS-TRANSFER', Tab, FromPid, Data}`):
/// delivered to `handle_info` of the heir when the owner ends, and of the
/// receiver of [`Table::give_away`]. It carries the new owner's handle.
///
/// ```
/// use noex::ets::EtsTransfer;
/// use noex::gen_server::Info;
///
/// fn inherited(message: Info) -> Option<EtsTransfer<String, u64>> {
///     message.downcast::<EtsTransfer<String, u64>>().ok().map(|transfer| *transfer)
/// }
/// ```
pub struct EtsTransfer<K, V> {
    /// The owner's handle, with every right.
    pub table: Table<K, V>,
    /// The previous owner.
    pub from: Pid,
    /// The heir's data, or the gift given with `give_away`; downcast it to the
    /// type given.
    pub data: Option<TransferData>,
}

impl<K: Key, V: Value> fmt::Debug for EtsTransfer<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EtsTransfer")
            .field("table", &self.table)
            .field("from", &self.from)
            .field("data", &self.data.as_ref().map(|_| ".."))
            .finish()
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl<K: Key, V: Value> Table<K, V> {
    /// A new table owned by the process `owner` (OTP's `ets:new/2`, where the
    /// owner is the caller: from a GenServer, pass `ctx.pid()`). The table lives
    /// until it is deleted or its owner ends without an heir; it does not end with
    /// its handles. Fails if `owner` is not alive, or the name is taken.
    pub fn new(owner: Pid, options: TableOptions) -> Result<Self, TableError> {
        if !process::is_alive(owner) {
            return Err(TableError::NotAlive { pid: owner });
        }
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let shared = Arc::new(Shared::<K, V>::new(id, owner, options));
        registry::insert(shared.clone())?;
        let watch = watch_owner(&shared, owner);
        let shown = show_in_owner(&shared, owner);
        {
            let mut ownership = shared.ownership.lock();
            ownership.watch = Some(watch);
            ownership.shown = Some(shown);
        }
        if shared.is_deleted() {
            // The owner ended in between, and its hook deleted the table.
            return Err(TableError::NotAlive { pid: owner });
        }
        let epoch = shared.epoch.load(Ordering::Acquire);
        Ok(Table::from_reader(TableReader::new(shared, epoch)))
    }

    /// Make `to` the owner (OTP's `give_away/3`): it is sent an [`EtsTransfer`]
    /// with the owner's handle and `gift`, and this handle, with every other of
    /// the old owner's, keeps only what the table's access gives anyone. The heir
    /// stays as it was. The owner's handle only; `to` must be alive and not the
    /// owner already.
    pub fn give_away(
        &self,
        to: Pid,
        gift: impl std::any::Any + Send + Sync,
    ) -> Result<(), TableError> {
        let shared = &self.shared;
        if shared.is_deleted() {
            return Err(TableError::Deleted {
                table: shared.label(),
            });
        }
        if !process::is_alive(to) {
            return Err(TableError::NotAlive { pid: to });
        }
        let mut ownership = shared.ownership.lock();
        if !self.is_owners() {
            return Err(self.refused("give it away"));
        }
        if ownership.owner == to {
            return Err(TableError::AlreadyOwner {
                table: shared.label(),
                pid: to,
            });
        }
        let from = ownership.owner;
        let old_watch = ownership.watch.take();
        let epoch = begin_ownership(shared, &mut ownership, to);
        drop(ownership);
        if let Some(watch) = old_watch {
            process::remove_monitor(watch, None);
        }
        settle(shared, to, from, Some(Arc::new(gift)), epoch);
        Ok(())
    }

    /// Name the process that inherits the table when its owner ends, or none
    /// (OTP's `setopts(T, {heir, ..})`). An heir that is not alive is none. The
    /// owner's handle only.
    pub fn set_heir(&self, heir: Option<Heir>) -> Result<(), TableError> {
        let shared = &self.shared;
        if shared.is_deleted() {
            return Err(TableError::Deleted {
                table: shared.label(),
            });
        }
        let mut ownership = shared.ownership.lock();
        if !self.is_owners() {
            return Err(self.refused("name its heir"));
        }
        ownership.heir = alive_heir(heir);
        Ok(())
    }
}

/// Watch `owner`'s exit on the table's behalf; the hook holds the table weakly,
/// so a hook left on a process never keeps a deleted table's memory.
fn watch_owner<K: Key, V: Value>(shared: &Arc<Shared<K, V>>, owner: Pid) -> MonitorRef {
    let table: Weak<Shared<K, V>> = Arc::downgrade(shared);
    let hook = move |down: process::Down| {
        if let Some(table) = table.upgrade() {
            owner_exited(&table, down.pid);
        }
    };
    process::add_monitor(owner, Watcher::Hook(Box::new(hook)), None)
}

/// The table in its owner's row of the Observer: `table sessions: 120 objects, 14 KiB`.
fn show_in_owner<K: Key, V: Value>(shared: &Arc<Shared<K, V>>, owner: Pid) -> DetailGuard {
    let table: Weak<dyn Listed> = Arc::downgrade(shared) as Weak<dyn Listed>;
    details::publish(owner, Arc::new(ShownTable(table)))
}

struct ShownTable(Weak<dyn Listed>);

impl DetailSource for ShownTable {
    fn state(&self) -> Option<String> {
        let info = self.0.upgrade()?.info();
        let name = info.name.unwrap_or_else(|| format!("#{}", info.id));
        let unit = if info.size == 1 { "object" } else { "objects" };
        Some(format!(
            "table {name}: {} {unit}, {}",
            info.size,
            crate::process::readable_bytes(info.memory)
        ))
    }
}

/// `to` owns the table from now on: a new epoch, which the old owner's handles
/// do not carry. Under the ownership lock.
fn begin_ownership<K: Key, V: Value>(
    shared: &Shared<K, V>,
    ownership: &mut Ownership,
    to: Pid,
) -> u64 {
    ownership.owner = to;
    shared.epoch.fetch_add(1, Ordering::AcqRel) + 1
}

/// Watch the new owner and send it its handle. Outside the ownership lock: if
/// `to` has exited meanwhile, its hook runs at once and needs the lock.
fn settle<K: Key, V: Value>(
    shared: &Arc<Shared<K, V>>,
    to: Pid,
    from: Pid,
    data: Option<TransferData>,
    epoch: u64,
) {
    let watch = watch_owner(shared, to);
    let shown = show_in_owner(shared, to);
    {
        let mut ownership = shared.ownership.lock();
        if ownership.owner == to && shared.epoch.load(Ordering::Acquire) == epoch {
            ownership.watch = Some(watch);
            ownership.shown = Some(shown);
        }
    }
    let transfer = EtsTransfer {
        table: Table::from_reader(TableReader::new(shared.clone(), epoch)),
        from,
        data,
    };
    // A process that ended meanwhile is not sent it: its hook has handled the table.
    if let Some(cell) = processes().get(to) {
        cell.send_info(Box::new(transfer));
    }
    tracing::debug!(table = %shared.label(), %from, %to, "table changed hands");
}

/// The owner `pid` ended: the table passes to its heir if the heir is alive and
/// not the owner itself, and is deleted otherwise (OTP's
/// `erts_db_process_exiting`).
fn owner_exited<K: Key, V: Value>(shared: &Arc<Shared<K, V>>, pid: Pid) {
    let mut ownership = shared.ownership.lock();
    if ownership.owner != pid || shared.is_deleted() {
        return; // A watch of an earlier owner, or a table deleted already.
    }
    ownership.watch = None;
    ownership.shown = None;
    let heir =
        (ownership.heir.clone()).filter(|heir| heir.pid != pid && process::is_alive(heir.pid));
    match heir {
        Some(heir) => {
            let epoch = begin_ownership(shared, &mut ownership, heir.pid);
            drop(ownership);
            settle(shared, heir.pid, pid, heir.data, epoch);
        }
        None => {
            drop(ownership);
            shared.delete();
        }
    }
}
