//! A handle to one bucket: its reads (those of [`BucketReader`]) and its writes,
//! each a transaction of one.

use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bucket::{Bucket, BucketReader};
use crate::commit::{self, Effect};
use crate::error::StoreError;
use crate::filter::Filter;
use crate::key::Key;
use crate::record::{Record, now_ms, object_of};
use crate::shared::StoreInner;

/// A bucket of a [`Store`](crate::Store): its reads (it dereferences to
/// [`BucketReader`]) and its writes. Writes are async because, with persistence
/// on, they return only once durable.
#[derive(Clone)]
pub struct BucketRef {
    reader: BucketReader,
    bucket: Arc<Bucket>,
    store: Arc<StoreInner>,
}

impl std::fmt::Debug for BucketRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BucketRef")
            .field("name", &self.bucket.name)
            .finish()
    }
}

impl Deref for BucketRef {
    type Target = BucketReader;

    fn deref(&self) -> &BucketReader {
        &self.reader
    }
}

impl BucketRef {
    pub(crate) fn new(bucket: Arc<Bucket>, store: Arc<StoreInner>) -> BucketRef {
        BucketRef {
            reader: BucketReader::new(bucket.clone()),
            bucket,
            store,
        }
    }

    /// The same bucket, read and written as `T`.
    pub fn typed<T: Serialize + DeserializeOwned>(&self) -> TypedBucket<T> {
        TypedBucket {
            inner: self.clone(),
            _type: PhantomData,
        }
    }

    /// Inserts a record: defaults and generated fields filled in, every rule
    /// checked. `ALREADY_EXISTS` when the key or a unique value is taken.
    pub async fn insert(&self, value: &(impl Serialize + ?Sized)) -> Result<Record, StoreError> {
        let fields = object_of(value)?;
        let (key, fields) =
            self.bucket
                .schema
                .prepare_insert(fields, &mut self.bucket.generator(), now_ms())?;
        let record = Record::new(fields);
        commit::write_one(&self.store, &self.bucket, |data| {
            if data.get(&key).is_some() {
                return Err(StoreError::AlreadyExists {
                    bucket: self.bucket.name.clone(),
                    what: format!("key {key}"),
                });
            }
            Ok((Some(self.put(key, record.clone())), record))
        })
        .await
    }

    /// Sets the fields of `patch` on the record under `key` (a null removes a
    /// field); `NOT_FOUND` when there is none.
    pub async fn update(
        &self,
        key: impl Into<Key>,
        patch: &(impl Serialize + ?Sized),
    ) -> Result<Record, StoreError> {
        self.write_update(key.into(), patch, None).await
    }

    /// As [`update`](BucketRef::update), only if the record is still at `version`:
    /// `CONFLICT` otherwise.
    pub async fn update_if(
        &self,
        key: impl Into<Key>,
        patch: &(impl Serialize + ?Sized),
        version: u64,
    ) -> Result<Record, StoreError> {
        self.write_update(key.into(), patch, Some(version)).await
    }

    async fn write_update(
        &self,
        key: Key,
        patch: &(impl Serialize + ?Sized),
        expected: Option<u64>,
    ) -> Result<Record, StoreError> {
        let patch = object_of(patch)?;
        commit::write_one(&self.store, &self.bucket, |data| {
            let Some(old) = data.get(&key) else {
                return Err(StoreError::NotFound {
                    bucket: self.bucket.name.clone(),
                    key: key.to_string(),
                });
            };
            if let Some(expected) = expected
                && old.version() != expected
            {
                return Err(StoreError::Conflict {
                    bucket: self.bucket.name.clone(),
                    key: key.to_string(),
                    expected,
                    found: old.version(),
                });
            }
            let fields = self
                .bucket
                .schema
                .prepare_update(old.fields(), patch, now_ms())?;
            let record = Record::new(fields);
            Ok((Some(self.put(key, record.clone())), record))
        })
        .await
    }

    /// Deletes the record under `key`; whether there was one.
    pub async fn delete(&self, key: impl Into<Key>) -> Result<bool, StoreError> {
        let key = key.into();
        commit::write_one(&self.store, &self.bucket, |data| {
            Ok(match data.get(&key) {
                None => (None, false),
                Some(_) => {
                    let bucket = self.bucket.clone();
                    (Some(Effect::Delete { bucket, key }), true)
                }
            })
        })
        .await
    }

    /// Deletes every record; how many there were.
    pub async fn clear(&self) -> Result<usize, StoreError> {
        commit::write_one(&self.store, &self.bucket, |data| {
            let bucket = self.bucket.clone();
            Ok((Some(Effect::Clear { bucket }), data.len()))
        })
        .await
    }

    fn put(&self, key: Key, record: Record) -> Effect {
        Effect::Put {
            bucket: self.bucket.clone(),
            key,
            record,
        }
    }
}

/// A bucket read and written as the caller's type `T` (a serde struct). The meta
/// fields reach `T` if it names them (`#[serde(rename = "_version")]`).
pub struct TypedBucket<T> {
    inner: BucketRef,
    _type: PhantomData<fn() -> T>,
}

impl<T> Clone for TypedBucket<T> {
    fn clone(&self) -> Self {
        TypedBucket {
            inner: self.inner.clone(),
            _type: PhantomData,
        }
    }
}

impl<T: Serialize + DeserializeOwned> TypedBucket<T> {
    /// The untyped handle.
    pub fn untyped(&self) -> &BucketRef {
        &self.inner
    }

    /// Inserts `value`; the stored record (generated fields filled in) as `T`.
    pub async fn insert(&self, value: &T) -> Result<T, StoreError> {
        self.inner.insert(value).await?.to()
    }

    /// The record under `key` as `T`.
    pub fn get(&self, key: impl Into<Key>) -> Result<Option<T>, StoreError> {
        self.inner.get(key).map(|r| r.to()).transpose()
    }

    /// Sets the fields of `patch` (any serializable value: a struct of the fields
    /// to change, or `json!`); the stored record as `T`.
    pub async fn update(
        &self,
        key: impl Into<Key>,
        patch: &(impl Serialize + ?Sized),
    ) -> Result<T, StoreError> {
        self.inner.update(key, patch).await?.to()
    }

    /// As [`update`](TypedBucket::update), only if the record is still at
    /// `version`: `CONFLICT` otherwise.
    pub async fn update_if(
        &self,
        key: impl Into<Key>,
        patch: &(impl Serialize + ?Sized),
        version: u64,
    ) -> Result<T, StoreError> {
        self.inner.update_if(key, patch, version).await?.to()
    }

    /// Every record as `T`, in key order.
    pub fn all(&self) -> Result<Vec<T>, StoreError> {
        self.inner.all().iter().map(Record::to).collect()
    }

    /// The records meeting `filter` as `T`, in key order.
    pub fn find(&self, filter: &Filter) -> Result<Vec<T>, StoreError> {
        self.inner.find(filter).iter().map(Record::to).collect()
    }

    /// The first record meeting `filter` as `T`, in key order.
    pub fn find_one(&self, filter: &Filter) -> Result<Option<T>, StoreError> {
        self.inner.find_one(filter).map(|r| r.to()).transpose()
    }

    /// Deletes the record under `key`; whether there was one.
    pub async fn delete(&self, key: impl Into<Key>) -> Result<bool, StoreError> {
        self.inner.delete(key).await
    }
}
