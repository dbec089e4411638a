//! [`RedbStorage`]: the store's buckets in a redb file, one table per bucket.
//!
//! Every [`Storage::commit`] is one redb write transaction with `Durability::Immediate`, so an
//! `Ok` means the batch is on disk. What redb promises for that level
//! (<https://docs.rs/redb/2.6.4/redb/enum.Durability.html>): "Commits with this durability
//! level are guaranteed to be persistent as soon as `WriteTransaction::commit` returns." And
//! for a crash at any moment (<https://github.com/cberner/redb/blob/master/docs/design.md>,
//! "Commit strategies"): "All data is checksumed when written [...]. This allows a partially
//! committed transaction to be detected and rolled back, after a crash." So a crash loses at
//! most the commit in flight, never part of one, and never one that returned: redb assumes
//! only that "following an `fsync` operation writes are durable" and that single-byte writes
//! are atomic.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;
use std::path::{Path, PathBuf};

use redb::{
    Database, Durability, ReadableTable, Table, TableDefinition, TableHandle, WriteTransaction,
};

use super::{Mutation, PersistenceError, Storage};

/// Bucket tables carry this prefix, which leaves room for tables of other kinds later.
const BUCKET_PREFIX: &str = "bucket:";

type Bytes = &'static [u8];

/// The store's buckets in a redb file: table `bucket:<name>` per bucket, keys and values as
/// bytes. redb locks the file: one process, one `RedbStorage` per file at a time.
pub struct RedbStorage {
    db: Database,
    path: PathBuf,
    #[cfg(test)]
    fault: parking_lot::Mutex<Option<tests::Fault>>,
}

impl RedbStorage {
    /// Opens the redb file at `path`, creating it if it does not exist.
    pub fn open(path: impl AsRef<Path>) -> Result<RedbStorage, PersistenceError> {
        let path = path.as_ref();
        let db = Database::create(path).map_err(|e| PersistenceError::open(path, e))?;
        Ok(RedbStorage {
            db,
            path: path.to_owned(),
            #[cfg(test)]
            fault: parking_lot::Mutex::new(None),
        })
    }

    /// The file it keeps the buckets in.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl fmt::Debug for RedbStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedbStorage")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn table_name(bucket: &str) -> String {
    format!("{BUCKET_PREFIX}{bucket}")
}

fn commit_error(e: impl Into<redb::Error>) -> PersistenceError {
    PersistenceError::commit(e.into())
}

impl Storage for RedbStorage {
    fn load(&self) -> Result<Vec<(String, Vec<u8>, Vec<u8>)>, PersistenceError> {
        let load_error = |e: redb::Error| match e {
            redb::Error::Corrupted(reason) => PersistenceError::damaged("", reason),
            e => PersistenceError::load(e),
        };
        let txn = self.db.begin_read().map_err(|e| load_error(e.into()))?;
        let mut rows = Vec::new();
        for handle in txn.list_tables().map_err(|e| load_error(e.into()))? {
            let Some(bucket) = handle.name().strip_prefix(BUCKET_PREFIX) else {
                continue;
            };
            let damaged = |e: redb::Error| match e {
                redb::Error::Corrupted(reason) => PersistenceError::damaged(bucket, reason),
                e @ redb::Error::TableTypeMismatch { .. } => {
                    PersistenceError::damaged(bucket, e.to_string())
                }
                e => PersistenceError::load(e),
            };
            let table = txn
                .open_table(TableDefinition::<Bytes, Bytes>::new(handle.name()))
                .map_err(|e| damaged(e.into()))?;
            for entry in table.iter().map_err(|e| damaged(e.into()))? {
                let (key, value) = entry.map_err(|e| damaged(e.into()))?;
                rows.push((bucket.to_owned(), key.value().to_vec(), value.value().to_vec()));
            }
        }
        Ok(rows)
    }

    fn commit(&self, batch: &[Mutation]) -> Result<(), PersistenceError> {
        let mut txn = self.db.begin_write().map_err(commit_error)?;
        txn.set_durability(Durability::Immediate);
        {
            // Each table is opened once per transaction: redb refuses one opened twice at a time.
            let mut tables: HashMap<&str, Table<'_, Bytes, Bytes>> = HashMap::new();
            for (applied, mutation) in batch.iter().enumerate() {
                self.inject_fault(applied)?;
                match mutation {
                    Mutation::Put { bucket, key, value } => {
                        open_table(&txn, &mut tables, bucket)?
                            .insert(key.as_slice(), value.as_slice())
                            .map_err(commit_error)?;
                    }
                    Mutation::Delete { bucket, key } => {
                        open_table(&txn, &mut tables, bucket)?
                            .remove(key.as_slice())
                            .map_err(commit_error)?;
                    }
                    Mutation::Clear { bucket } => {
                        // Deleting the table frees its pages at once; a later Put recreates it.
                        tables.remove(bucket.as_str());
                        let name = table_name(bucket);
                        txn.delete_table(TableDefinition::<Bytes, Bytes>::new(&name))
                            .map_err(commit_error)?;
                    }
                }
            }
            self.inject_fault(batch.len())?;
        }
        // Until here nothing is visible; an error above drops `txn`, which aborts it.
        txn.commit().map_err(commit_error)
    }
}

fn open_table<'t, 'b, 'm>(
    txn: &'t WriteTransaction,
    tables: &'m mut HashMap<&'b str, Table<'t, Bytes, Bytes>>,
    bucket: &'b str,
) -> Result<&'m mut Table<'t, Bytes, Bytes>, PersistenceError> {
    Ok(match tables.entry(bucket) {
        Entry::Occupied(table) => table.into_mut(),
        Entry::Vacant(slot) => {
            let name = table_name(bucket);
            slot.insert(
                txn.open_table(TableDefinition::<Bytes, Bytes>::new(&name))
                    .map_err(commit_error)?,
            )
        }
    })
}

#[cfg(not(test))]
impl RedbStorage {
    #[inline(always)]
    fn inject_fault(&self, _applied: usize) -> Result<(), PersistenceError> {
        Ok(())
    }
}

#[cfg(test)]
impl RedbStorage {
    fn inject_fault(&self, applied: usize) -> Result<(), PersistenceError> {
        let fault = *self.fault.lock();
        match fault {
            Some(tests::Fault::FailAfter(n)) if n == applied => Err(PersistenceError::commit(
                std::io::Error::other("injected fault"),
            )),
            Some(tests::Fault::AbortAfter(n)) if n == applied => std::process::abort(),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Makes the next commits fail or the process abort once `n` mutations of a batch are
    /// applied inside the redb transaction, before it commits.
    #[derive(Debug, Clone, Copy)]
    pub(super) enum Fault {
        FailAfter(usize),
        AbortAfter(usize),
    }
}
