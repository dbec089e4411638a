//! Persistence: what the store writes to disk, behind a trait.
//!
//! The store keeps every record in memory, and reads never touch the disk. Each committed
//! transaction becomes one batch of [`Mutation`]s, which a [`Storage`] applies atomically and
//! durably. [`Durable`] runs those commits on a thread of its own and merges the batches that
//! queue up meanwhile into one engine transaction (group commit), so concurrent writers share
//! one fsync. At start the store reads everything back with [`Storage::load`].
//!
//! [`RedbStorage`] (feature `redb`, on by default) keeps the buckets in a redb file;
//! [`MemoryStorage`] keeps them in memory.
//!
//! ```
//! use std::sync::Arc;
//! use noex_store::persistence::{Durable, MemoryStorage, Mutation, Storage};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let storage = Arc::new(MemoryStorage::new());
//! let durable = Durable::new(storage.clone());
//! let put = Mutation::Put { bucket: "users".into(), key: b"alice".to_vec(), value: b"{}".to_vec() };
//! // Resolves once the batch is committed: on Ok it survives a crash.
//! durable.submit(vec![put]).await??;
//! assert_eq!(storage.load()?, vec![("users".into(), b"alice".to_vec(), b"{}".to_vec())]);
//! # Ok(())
//! # }
//! ```

mod durable;
mod error;
mod memory;
#[cfg(feature = "redb")]
mod redb_storage;

pub use durable::{Durable, DurableStats};
pub use error::{Cause, PersistenceError};
pub use memory::MemoryStorage;
#[cfg(feature = "redb")]
pub use redb_storage::RedbStorage;

#[cfg(test)]
pub(crate) use memory::{FailingStorage, put, row};

/// One change to what is stored. Keys are `Key::to_bytes()`, values the record as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mutation {
    /// Stores `value` under `key`, replacing what was there.
    Put {
        /// The bucket's name.
        bucket: String,
        /// The record's key, `Key::to_bytes()`.
        key: Vec<u8>,
        /// The record as JSON, meta fields included.
        value: Vec<u8>,
    },
    /// Removes `key`; nothing happens if it is absent.
    Delete {
        /// The bucket's name.
        bucket: String,
        /// The record's key, `Key::to_bytes()`.
        key: Vec<u8>,
    },
    /// Removes every key of the bucket.
    Clear {
        /// The bucket's name.
        bucket: String,
    },
}

impl Mutation {
    /// The bucket it changes.
    pub fn bucket(&self) -> &str {
        match self {
            Mutation::Put { bucket, .. }
            | Mutation::Delete { bucket, .. }
            | Mutation::Clear { bucket } => bucket,
        }
    }

    /// Bytes of key and value it hands to the engine (the figure `DurableStats::bytes` sums).
    pub fn payload_len(&self) -> usize {
        match self {
            Mutation::Put { key, value, .. } => key.len() + value.len(),
            Mutation::Delete { key, .. } => key.len(),
            Mutation::Clear { .. } => 0,
        }
    }
}

/// One stored record: (bucket, key bytes, value bytes).
pub type Row = (String, Vec<u8>, Vec<u8>);

/// Where the store's buckets live on disk (or elsewhere).
pub trait Storage: Send + Sync + 'static {
    /// Everything stored: (bucket, key bytes, value bytes), any order.
    fn load(&self) -> Result<Vec<Row>, PersistenceError>;

    /// Applies all of `batch` atomically and durably: on Ok the whole batch survives a crash;
    /// on Err none of it is applied. Mutations apply in order, so a later one on the same key
    /// wins.
    fn commit(&self, batch: &[Mutation]) -> Result<(), PersistenceError>;
}
