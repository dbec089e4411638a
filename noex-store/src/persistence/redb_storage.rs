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

use super::{Mutation, PersistenceError, Row, Storage};

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
        let db = Database::create(path).map_err(|e| match e {
            // What redb says of a file that is not one of its own: "invalid data".
            redb::DatabaseError::Storage(redb::StorageError::Io(io))
                if io.kind() == std::io::ErrorKind::InvalidData =>
            {
                PersistenceError::open(
                    path,
                    std::io::Error::new(io.kind(), "not a redb file, or a damaged one"),
                )
            }
            e => PersistenceError::open(path, e),
        })?;
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

fn load_error(e: impl Into<redb::Error>) -> PersistenceError {
    PersistenceError::load(e.into())
}

fn commit_error(e: impl Into<redb::Error>) -> PersistenceError {
    PersistenceError::commit(e.into())
}

impl Storage for RedbStorage {
    fn load(&self) -> Result<Vec<Row>, PersistenceError> {
        let txn = self.db.begin_read().map_err(load_error)?;
        let mut rows = Vec::new();
        for handle in txn.list_tables().map_err(load_error)? {
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
                rows.push((
                    bucket.to_owned(),
                    key.value().to_vec(),
                    value.value().to_vec(),
                ));
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
    use std::process::Command;
    use std::sync::Arc;

    use super::*;
    use crate::persistence::{Durable, put, row};

    /// Makes a commit fail, or the process abort, once `n` mutations of its batch are applied
    /// inside the redb transaction, before it commits.
    #[derive(Debug, Clone, Copy)]
    pub(super) enum Fault {
        FailAfter(usize),
        AbortAfter(usize),
    }

    fn sorted(mut rows: Vec<Row>) -> Vec<Row> {
        rows.sort();
        rows
    }

    #[test]
    fn redb_round_trip_put_delete_clear_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.redb");
        let storage = RedbStorage::open(&path).unwrap();
        assert_eq!(storage.load().unwrap(), vec![]);
        storage
            .commit(&[
                put("users", "a", "1"),
                put("users", "b", "2"),
                put("users", "a", "3"),
                put("orders", "x", "9"),
                put("orders", "y", "8"),
                put("empty", "e", "0"),
            ])
            .unwrap();
        storage
            .commit(&[
                Mutation::Delete {
                    bucket: "users".into(),
                    key: b"b".to_vec(),
                },
                Mutation::Delete {
                    bucket: "users".into(),
                    key: b"absent".to_vec(),
                },
                Mutation::Clear {
                    bucket: "orders".into(),
                },
                put("orders", "z", "7"),
                Mutation::Clear {
                    bucket: "empty".into(),
                },
                Mutation::Clear {
                    bucket: "never-existed".into(),
                },
            ])
            .unwrap();
        let expected = vec![row("orders", "z", "7"), row("users", "a", "3")];
        assert_eq!(sorted(storage.load().unwrap()), expected);

        drop(storage);
        let reopened = RedbStorage::open(&path).unwrap();
        assert_eq!(sorted(reopened.load().unwrap()), expected);
    }

    #[test]
    fn reopen_sees_only_committed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.redb");
        let storage = RedbStorage::open(&path).unwrap();
        storage.commit(&[put("users", "a", "1")]).unwrap();

        let batch = [
            put("users", "a", "changed"),
            Mutation::Clear {
                bucket: "users".into(),
            },
            put("orders", "x", "1"),
        ];
        // Fails midway, and once everything is applied but not yet committed.
        for applied in [2, batch.len()] {
            *storage.fault.lock() = Some(Fault::FailAfter(applied));
            let err = storage.commit(&batch).unwrap_err();
            assert_eq!(
                err.to_string(),
                "store commit failed, nothing of it was written: injected fault"
            );
            assert_eq!(storage.load().unwrap(), vec![row("users", "a", "1")]);
        }

        drop(storage);
        let reopened = RedbStorage::open(&path).unwrap();
        assert_eq!(reopened.load().unwrap(), vec![row("users", "a", "1")]);
    }

    #[tokio::test]
    async fn dropping_the_last_durable_commits_the_queue_and_closes_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.redb");
        let durable = Durable::new(Arc::new(RedbStorage::open(&path).unwrap()));
        let acks: Vec<_> = (0..20)
            .map(|i| durable.submit(vec![put("users", &format!("{i:02}"), "v")]))
            .collect();
        drop(durable);

        // Reopening at once works: the writer has committed the queue and closed the file.
        let reopened = RedbStorage::open(&path).unwrap();
        assert_eq!(reopened.load().unwrap().len(), 20);
        for ack in acks {
            ack.await.unwrap().unwrap();
        }
    }

    const CRASH_CHILD: &str = "NOEX_STORE_CRASH_CHILD";

    /// The child commits one batch through `Durable`, takes the ack, then dies (abort: no
    /// destructor, no clean close) halfway through the next commit. The parent reopens the file.
    #[test]
    fn crash_keeps_acked_commits_and_loses_the_one_in_flight() {
        if let Some(path) = std::env::var_os(CRASH_CHILD) {
            let storage = Arc::new(RedbStorage::open(path).unwrap());
            let durable = Durable::new(storage.clone());
            durable
                .submit(vec![put("users", "a", "1"), put("users", "b", "2")])
                .blocking_recv()
                .unwrap()
                .unwrap();
            *storage.fault.lock() = Some(Fault::AbortAfter(2));
            let _ = durable
                .submit(vec![
                    Mutation::Delete {
                        bucket: "users".into(),
                        key: b"a".to_vec(),
                    },
                    put("users", "b", "changed"),
                    put("orders", "x", "1"),
                ])
                .blocking_recv();
            unreachable!("the commit aborts the process");
        }

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.redb");
        let test = format!(
            "{}::crash_keeps_acked_commits_and_loses_the_one_in_flight",
            module_path!().split_once("::").unwrap().1
        );
        let output = Command::new(std::env::current_exe().unwrap())
            .args([test.as_str(), "--exact", "--nocapture", "--test-threads=1"])
            .env(CRASH_CHILD, &path)
            .output()
            .unwrap();
        assert!(
            !output.status.success(),
            "the child should have crashed: {output:?}"
        );
        #[cfg(unix)]
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&output.status),
            Some(6), // SIGABRT
            "{output:?}"
        );

        let reopened = RedbStorage::open(&path).unwrap();
        assert_eq!(
            sorted(reopened.load().unwrap()),
            vec![row("users", "a", "1"), row("users", "b", "2")]
        );
    }

    #[test]
    fn open_reports_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-dir").join("store.redb");
        let err = RedbStorage::open(&missing).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "cannot open store file {}: I/O error: No such file or directory (os error 2)",
                missing.display()
            )
        );

        let garbage = dir.path().join("garbage.redb");
        std::fs::write(&garbage, vec![0x5a; 4096]).unwrap();
        let err = RedbStorage::open(&garbage).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "cannot open store file {}: not a redb file, or a damaged one",
                garbage.display()
            )
        );
    }

    #[test]
    fn open_twice_reports_the_file_is_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.redb");
        let _first = RedbStorage::open(&path).unwrap();
        let err = RedbStorage::open(&path).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "cannot open store file {}: Database already open. Cannot acquire lock.",
                path.display()
            )
        );
    }

    #[test]
    fn load_ignores_tables_that_are_not_buckets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.redb");
        {
            let db = Database::create(&path).unwrap();
            let txn = db.begin_write().unwrap();
            txn.open_table(TableDefinition::<Bytes, Bytes>::new("meta"))
                .unwrap()
                .insert(b"version".as_slice(), b"1".as_slice())
                .unwrap();
            txn.commit().unwrap();
        }
        let storage = RedbStorage::open(&path).unwrap();
        storage.commit(&[put("users", "a", "1")]).unwrap();
        assert_eq!(storage.load().unwrap(), vec![row("users", "a", "1")]);
    }

    #[test]
    fn load_reports_a_bucket_table_of_another_type_as_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.redb");
        {
            let db = Database::create(&path).unwrap();
            let txn = db.begin_write().unwrap();
            txn.open_table(TableDefinition::<u64, u64>::new("bucket:users"))
                .unwrap()
                .insert(1, 2)
                .unwrap();
            txn.commit().unwrap();
        }
        let storage = RedbStorage::open(&path).unwrap();
        let err = storage.load().unwrap_err();
        assert_eq!(
            err.to_string(),
            "damaged data in bucket \"users\": bucket:users is of type Table<u64, u64>"
        );
    }

    /// Single-record commits per second through `Durable` + `RedbStorage`, one writer and 32
    /// concurrent ones. A figure to read, not a check:
    /// `cargo test -p noex-store --release -- --ignored --nocapture durable_redb_throughput`
    #[test]
    #[ignore = "a measurement, prints figures"]
    fn durable_redb_throughput() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        for (writers, per_writer) in [(1usize, 400usize), (32, 100)] {
            let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
            let storage = Arc::new(RedbStorage::open(dir.path().join("bench.redb")).unwrap());
            let durable = Durable::new(storage);
            let value = vec![b'x'; 200];
            let started = std::time::Instant::now();
            runtime.block_on(async {
                let tasks: Vec<_> = (0..writers)
                    .map(|w| {
                        let durable = durable.clone();
                        let value = value.clone();
                        tokio::spawn(async move {
                            for i in 0..per_writer {
                                let key = format!("{w}-{i}").into_bytes();
                                durable
                                    .submit(vec![Mutation::Put {
                                        bucket: "bench".into(),
                                        key,
                                        value: value.clone(),
                                    }])
                                    .await
                                    .unwrap()
                                    .unwrap();
                            }
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.unwrap();
                }
            });
            let elapsed = started.elapsed();
            let stats = durable.stats();
            println!(
                "{writers:>2} writer(s): {} single-record commits in {:.2?}: {:.0} commits/s, \
                 {} engine commits ({:.1} batches each)",
                stats.batches,
                elapsed,
                stats.batches as f64 / elapsed.as_secs_f64(),
                stats.commits,
                stats.batches as f64 / stats.commits as f64,
            );
        }
    }
}
