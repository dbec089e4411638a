//! Placeholder until the persistence layer lands (the interface of store-design.md).

use std::sync::Arc;

/// A change for the storage engine.
pub enum Mutation {
    /// Store a record.
    Put {
        /// Bucket.
        bucket: String,
        /// Key bytes.
        key: Vec<u8>,
        /// Record bytes.
        value: Vec<u8>,
    },
    /// Remove a record.
    Delete {
        /// Bucket.
        bucket: String,
        /// Key bytes.
        key: Vec<u8>,
    },
    /// Remove all of a bucket's records.
    Clear {
        /// Bucket.
        bucket: String,
    },
}

/// A storage failure.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PersistenceError(String);

/// A storage engine.
pub trait Storage: Send + Sync + 'static {
    /// Everything stored.
    #[allow(clippy::type_complexity)]
    fn load(&self) -> Result<Vec<(String, Vec<u8>, Vec<u8>)>, PersistenceError>;
    /// Applies a batch atomically and durably.
    fn commit(&self, batch: &[Mutation]) -> Result<(), PersistenceError>;
}

/// Group commit.
pub struct Durable(Arc<dyn Storage>);

impl Durable {
    /// Group commit over `storage`.
    pub fn new(storage: Arc<dyn Storage>) -> Durable {
        Durable(storage)
    }

    /// Queues a batch.
    pub fn submit(
        &self,
        batch: Vec<Mutation>,
    ) -> tokio::sync::oneshot::Receiver<Result<(), PersistenceError>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let _ = tx.send(self.0.commit(&batch));
        rx
    }
}
