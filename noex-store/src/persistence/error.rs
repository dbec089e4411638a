//! What can go wrong between the store and its disk.

use std::error::Error;
use std::path::PathBuf;
use std::sync::Arc;

/// The engine's own error, shared: one failed group commit answers every batch in it.
pub type Cause = Arc<dyn Error + Send + Sync>;

/// Persistence failed. Cloneable, because a group commit that fails fails every batch in it,
/// and each submitter gets the same error.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum PersistenceError {
    /// The storage file could not be created or opened.
    #[error("cannot open store file {}: {cause}", path.display())]
    Open {
        /// The file asked for.
        path: PathBuf,
        /// The engine's or the system's error.
        cause: Cause,
    },
    /// A commit failed; by [`Storage::commit`](super::Storage::commit)'s contract none of it
    /// was applied.
    #[error("store commit failed, nothing of it was written: {cause}")]
    Commit {
        /// The engine's error.
        cause: Cause,
    },
    /// Reading the stored buckets back failed.
    #[error("cannot load the store: {cause}")]
    Load {
        /// The engine's error.
        cause: Cause,
    },
    /// Something stored cannot be read as what it should be.
    #[error("damaged data in bucket {bucket:?}: {reason}")]
    Damaged {
        /// The bucket it belongs to.
        bucket: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The writer thread is gone, so nothing more can be made durable.
    #[error("the store's writer thread has stopped")]
    WriterStopped,
}

impl PersistenceError {
    /// [`PersistenceError::Open`] for `path`.
    pub fn open(path: impl Into<PathBuf>, cause: impl Error + Send + Sync + 'static) -> Self {
        Self::Open {
            path: path.into(),
            cause: Arc::new(cause),
        }
    }

    /// [`PersistenceError::Commit`].
    pub fn commit(cause: impl Error + Send + Sync + 'static) -> Self {
        Self::Commit {
            cause: Arc::new(cause),
        }
    }

    /// [`PersistenceError::Load`].
    pub fn load(cause: impl Error + Send + Sync + 'static) -> Self {
        Self::Load {
            cause: Arc::new(cause),
        }
    }

    /// [`PersistenceError::Damaged`]: what `bucket` holds cannot be read, and why.
    pub fn damaged(bucket: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Damaged {
            bucket: bucket.into(),
            reason: reason.into(),
        }
    }
}
