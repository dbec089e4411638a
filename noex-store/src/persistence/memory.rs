//! A [`Storage`] kept in memory: a store that needs no disk, and the reference the
//! trait's contract is tested against.

use std::collections::BTreeMap;

use parking_lot::Mutex;

use super::{Mutation, PersistenceError, Row, Storage};

type Buckets = BTreeMap<String, BTreeMap<Vec<u8>, Vec<u8>>>;

/// Keeps the buckets in memory; nothing survives the process. A commit cannot fail, and it
/// applies under one lock, so a concurrent `load` sees all of a batch or none of it.
#[derive(Debug, Default)]
pub struct MemoryStorage {
    buckets: Mutex<Buckets>,
}

impl MemoryStorage {
    /// An empty storage.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Storage for MemoryStorage {
    fn load(&self) -> Result<Vec<Row>, PersistenceError> {
        let buckets = self.buckets.lock();
        Ok(buckets
            .iter()
            .flat_map(|(bucket, records)| {
                records
                    .iter()
                    .map(move |(key, value)| (bucket.clone(), key.clone(), value.clone()))
            })
            .collect())
    }

    fn commit(&self, batch: &[Mutation]) -> Result<(), PersistenceError> {
        let mut buckets = self.buckets.lock();
        apply(&mut buckets, batch);
        Ok(())
    }
}

fn apply(buckets: &mut Buckets, batch: &[Mutation]) {
    for mutation in batch {
        match mutation {
            Mutation::Put { bucket, key, value } => {
                buckets
                    .entry(bucket.clone())
                    .or_default()
                    .insert(key.clone(), value.clone());
            }
            Mutation::Delete { bucket, key } => {
                if let Some(records) = buckets.get_mut(bucket) {
                    records.remove(key);
                }
            }
            Mutation::Clear { bucket } => {
                buckets.remove(bucket);
            }
        }
    }
}

/// A test's `Put` of text key and value.
#[cfg(test)]
pub(crate) fn put(bucket: &str, key: &str, value: &str) -> Mutation {
    Mutation::Put {
        bucket: bucket.into(),
        key: key.into(),
        value: value.into(),
    }
}

/// A test's stored row of text key and value.
#[cfg(test)]
pub(crate) fn row(bucket: &str, key: &str, value: &str) -> Row {
    (bucket.into(), key.into(), value.into())
}

/// A [`MemoryStorage`] whose commits fail whenever the batch touches `poisoned_bucket`, to
/// test the error paths. It applies the batch to a copy first and keeps the copy only if all
/// went well, as a real engine's transaction would.
#[cfg(test)]
#[derive(Debug)]
pub(crate) struct FailingStorage {
    pub(crate) inner: MemoryStorage,
    poisoned_bucket: String,
}

#[cfg(test)]
impl FailingStorage {
    pub(crate) fn new(poisoned_bucket: &str) -> Self {
        Self {
            inner: MemoryStorage::new(),
            poisoned_bucket: poisoned_bucket.to_owned(),
        }
    }
}

#[cfg(test)]
impl Storage for FailingStorage {
    fn load(&self) -> Result<Vec<Row>, PersistenceError> {
        self.inner.load()
    }

    fn commit(&self, batch: &[Mutation]) -> Result<(), PersistenceError> {
        let mut buckets = self.inner.buckets.lock();
        let mut copy = buckets.clone();
        for mutation in batch {
            if mutation.bucket() == self.poisoned_bucket {
                return Err(PersistenceError::commit(std::io::Error::other(format!(
                    "bucket {:?} is poisoned",
                    self.poisoned_bucket
                ))));
            }
            apply(&mut copy, std::slice::from_ref(mutation));
        }
        *buckets = copy;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_storage_applies_put_delete_clear_in_order() {
        let storage = MemoryStorage::new();
        storage
            .commit(&[
                put("users", "a", "1"),
                put("users", "b", "2"),
                put("users", "a", "3"),
                put("orders", "x", "9"),
                Mutation::Delete {
                    bucket: "users".into(),
                    key: b"b".to_vec(),
                },
            ])
            .unwrap();
        storage
            .commit(&[
                Mutation::Clear {
                    bucket: "orders".into(),
                },
                put("orders", "y", "8"),
            ])
            .unwrap();
        assert_eq!(
            storage.load().unwrap(),
            vec![row("orders", "y", "8"), row("users", "a", "3")]
        );
    }

    #[test]
    fn failing_storage_applies_nothing_of_a_poisoned_batch() {
        let storage = FailingStorage::new("poison");
        storage.commit(&[put("users", "a", "1")]).unwrap();
        let err = storage
            .commit(&[put("users", "b", "2"), put("poison", "p", "0")])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "store commit failed, nothing of it was written: bucket \"poison\" is poisoned"
        );
        assert_eq!(storage.load().unwrap(), vec![row("users", "a", "1")]);
    }
}
