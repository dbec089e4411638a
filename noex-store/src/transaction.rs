//! A transaction: reads that see its own writes, writes staged until commit.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::bucket::Bucket;
use crate::commit::{Effect, ReadMark};
use crate::error::StoreError;
use crate::filter::Filter;
use crate::key::Key;
use crate::record::{Record, now_ms, object_of};
use crate::shared::StoreInner;

/// The view a transaction's body reads and writes through. Reads see the
/// transaction's own writes; nothing is visible to others until it commits.
pub struct Transaction<'s> {
    store: &'s StoreInner,
    reads: Vec<ReadMark>,
    /// The records in `reads`, to note each once however often it is read.
    read_keys: HashSet<(String, Key)>,
    /// The records written, in the order first written; their final state is in
    /// `overlay`.
    written: Vec<(Arc<Bucket>, Key)>,
    /// Records as this transaction left them: `None` for deleted.
    overlay: HashMap<(String, Key), Option<Record>>,
    now: u64,
}

/// One operation of the seed protocol's `store.transaction`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum TxOp {
    /// Read a record (`null` when absent).
    Get {
        /// The bucket.
        bucket: String,
        /// The key.
        key: Value,
    },
    /// Insert a record; its result is the stored record.
    Insert {
        /// The bucket.
        bucket: String,
        /// The fields.
        data: Value,
    },
    /// Update a record; its result is the stored record.
    Update {
        /// The bucket.
        bucket: String,
        /// The key.
        key: Value,
        /// The fields to set.
        data: Value,
    },
    /// Delete a record; its result is whether it existed.
    Delete {
        /// The bucket.
        bucket: String,
        /// The key.
        key: Value,
    },
    /// The records meeting a filter.
    Where {
        /// The bucket.
        bucket: String,
        /// The filter, in its JSON form.
        filter: Value,
    },
    /// The first record meeting a filter, or `null`.
    FindOne {
        /// The bucket.
        bucket: String,
        /// The filter, in its JSON form.
        filter: Value,
    },
    /// How many records meet a filter (all, without one).
    Count {
        /// The bucket.
        bucket: String,
        /// The filter, in its JSON form.
        #[serde(default)]
        filter: Option<Value>,
    },
}

impl<'s> Transaction<'s> {
    pub(crate) fn new(store: &'s StoreInner) -> Transaction<'s> {
        Transaction {
            store,
            reads: Vec::new(),
            read_keys: HashSet::new(),
            written: Vec::new(),
            overlay: HashMap::new(),
            now: now_ms(),
        }
    }

    pub(crate) fn into_parts(mut self) -> (Vec<ReadMark>, Vec<Effect>) {
        let effects = self
            .written
            .into_iter()
            .map(|(bucket, key)| {
                match self
                    .overlay
                    .remove(&(bucket.name.clone(), key.clone()))
                    .flatten()
                {
                    Some(record) => Effect::Put {
                        bucket,
                        key,
                        record,
                    },
                    None => Effect::Delete { bucket, key },
                }
            })
            .collect();
        (self.reads, effects)
    }

    /// A record, as this transaction sees it.
    pub fn get(&mut self, bucket: &str, key: impl Into<Key>) -> Result<Option<Record>, StoreError> {
        let bucket = self.store.bucket(bucket)?;
        Ok(self.read(&bucket, key.into()))
    }

    fn read(&mut self, bucket: &Arc<Bucket>, key: Key) -> Option<Record> {
        if let Some(mine) = self.overlay.get(&(bucket.name.clone(), key.clone())) {
            return mine.clone();
        }
        let found = bucket.data.read().get(&key).cloned();
        bucket.counted_read();
        if self.read_keys.insert((bucket.name.clone(), key.clone())) {
            self.reads.push(ReadMark::Key {
                bucket: bucket.clone(),
                key,
                version: found.as_ref().map_or(0, Record::version),
            });
        }
        found
    }

    /// Inserts a record (generated fields made now); `ALREADY_EXISTS` when its key
    /// is taken.
    pub fn insert(
        &mut self,
        bucket: &str,
        value: &(impl Serialize + ?Sized),
    ) -> Result<Record, StoreError> {
        let bucket = self.store.bucket(bucket)?;
        let fields = object_of(value)?;
        let (key, fields) =
            bucket
                .schema
                .prepare_insert(fields, &mut bucket.generator(), self.now)?;
        if self.read(&bucket, key.clone()).is_some() {
            return Err(StoreError::AlreadyExists {
                bucket: bucket.name.clone(),
                what: format!("key {key}"),
            });
        }
        Ok(self.stage_put(&bucket, key, Record::new(fields)))
    }

    /// Sets some fields of a record; `NOT_FOUND` when there is none.
    pub fn update(
        &mut self,
        bucket: &str,
        key: impl Into<Key>,
        patch: &(impl Serialize + ?Sized),
    ) -> Result<Record, StoreError> {
        let bucket = self.store.bucket(bucket)?;
        let key = key.into();
        let patch = object_of(patch)?;
        let Some(old) = self.read(&bucket, key.clone()) else {
            return Err(StoreError::NotFound {
                bucket: bucket.name.clone(),
                key: key.to_string(),
            });
        };
        let mut fields = bucket
            .schema
            .prepare_update(old.fields(), patch, self.now)?;
        if self
            .overlay
            .contains_key(&(bucket.name.clone(), key.clone()))
        {
            // Written already in this transaction: one commit, one new version.
            fields.insert(crate::record::VERSION.into(), Value::from(old.version()));
        }
        Ok(self.stage_put(&bucket, key, Record::new(fields)))
    }

    /// Deletes a record; whether there was one.
    pub fn delete(&mut self, bucket: &str, key: impl Into<Key>) -> Result<bool, StoreError> {
        let bucket = self.store.bucket(bucket)?;
        let key = key.into();
        if self.read(&bucket, key.clone()).is_none() {
            return Ok(false);
        }
        self.stage(&bucket, key, None);
        Ok(true)
    }

    /// The records meeting `filter`, as this transaction sees them, in key order.
    pub fn find(&mut self, bucket: &str, filter: &Filter) -> Result<Vec<Record>, StoreError> {
        let bucket = self.store.bucket(bucket)?;
        let mut found: std::collections::BTreeMap<Key, Record> = {
            let data = bucket.data.read();
            self.reads.push(ReadMark::Whole {
                bucket: bucket.clone(),
                generation: data.generation,
            });
            let key_field = &bucket.schema.key;
            data.matching(filter)
                .filter_map(|r| Some((Key::from_value(r.get(key_field)?)?, r.clone())))
                .collect()
        };
        bucket.counted_read();
        for ((name, key), mine) in &self.overlay {
            if *name != bucket.name {
                continue;
            }
            match mine {
                Some(record) if filter.matches(record.fields()) => {
                    found.insert(key.clone(), record.clone());
                }
                _ => {
                    found.remove(key);
                }
            }
        }
        Ok(found.into_values().collect())
    }

    /// The first record meeting `filter`, in key order.
    pub fn find_one(
        &mut self,
        bucket: &str,
        filter: &Filter,
    ) -> Result<Option<Record>, StoreError> {
        Ok(self.find(bucket, filter)?.into_iter().next())
    }

    /// How many records meet `filter`.
    pub fn count(&mut self, bucket: &str, filter: &Filter) -> Result<usize, StoreError> {
        Ok(self.find(bucket, filter)?.len())
    }

    fn stage_put(&mut self, bucket: &Arc<Bucket>, key: Key, record: Record) -> Record {
        self.stage(bucket, key, Some(record.clone()));
        record
    }

    fn stage(&mut self, bucket: &Arc<Bucket>, key: Key, record: Option<Record>) {
        let slot = (bucket.name.clone(), key.clone());
        if !self.overlay.contains_key(&slot) {
            self.written.push((bucket.clone(), key));
        }
        self.overlay.insert(slot, record);
    }

    /// Runs one operation of the seed's list form.
    pub fn run(&mut self, op: &TxOp) -> Result<Value, StoreError> {
        let key_of = |key: &Value| {
            Key::from_value(key).ok_or_else(|| {
                StoreError::InvalidArgument(format!(
                    "a key must be a string or an integer, not {key}"
                ))
            })
        };
        Ok(match op {
            TxOp::Get { bucket, key } => self
                .get(bucket, key_of(key)?)?
                .map_or(Value::Null, Value::from),
            TxOp::Insert { bucket, data } => self.insert(bucket, data)?.into(),
            TxOp::Update { bucket, key, data } => self.update(bucket, key_of(key)?, data)?.into(),
            TxOp::Delete { bucket, key } => Value::from(self.delete(bucket, key_of(key)?)?),
            TxOp::Where { bucket, filter } => Value::from_iter(
                self.find(bucket, &Filter::from_json(filter)?)?
                    .into_iter()
                    .map(Value::from),
            ),
            TxOp::FindOne { bucket, filter } => self
                .find_one(bucket, &Filter::from_json(filter)?)?
                .map_or(Value::Null, Value::from),
            TxOp::Count { bucket, filter } => {
                let filter = match filter {
                    Some(filter) => Filter::from_json(filter)?,
                    None => Filter::all(),
                };
                Value::from(self.count(bucket, &filter)?)
            }
        })
    }
}
