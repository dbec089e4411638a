//! The state every handle of one store shares.

use std::collections::HashMap;
use std::sync::Arc;

use noex::supervisor::SupervisorRef;
use parking_lot::Mutex;

use crate::bucket::Bucket;
use crate::catalog::Catalog;
use crate::error::StoreError;
use crate::key::Key;
use crate::persistence::Durable;
use crate::query::Queries;
use crate::record::Record;

pub(crate) struct StoreInner {
    pub(crate) name: String,
    pub(crate) catalog: Arc<Catalog>,
    pub(crate) queries: Arc<Queries>,
    pub(crate) durable: Option<Durable>,
    /// Records the storage held for buckets not defined yet.
    pub(crate) loaded: Mutex<HashMap<String, Vec<(Key, Record)>>>,
    pub(crate) supervisor: SupervisorRef,
}

impl StoreInner {
    pub(crate) fn bucket(&self, name: &str) -> Result<Arc<Bucket>, StoreError> {
        self.catalog.bucket(name)
    }

    pub(crate) fn check_running(&self) -> Result<(), StoreError> {
        self.catalog.check_running()
    }

    /// A commit could not be made durable: memory holds it and the disk does not,
    /// and later writes must not build on that.
    pub(crate) fn refuse_writes(&self, failure: &str) {
        tracing::error!(store = %self.name, %failure, "a commit could not be made durable; the store refuses writes from now on");
        self.catalog.refuse_writes(failure);
    }

    /// Commits what is queued and closes the storage, off the runtime's threads.
    pub(crate) async fn close_storage(&self) {
        if let Some(durable) = self.durable.clone() {
            let _ = tokio::task::spawn_blocking(move || durable.close()).await;
        }
    }
}
