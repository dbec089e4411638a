//! A subscriber's end: the latest result, never a queue of old ones.

use std::sync::Weak;

use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::watch;

use super::{Outcome, Queries};
use crate::error::StoreError;

/// A live subscription to a query's result (from [`Store::subscribe`](crate::Store::subscribe)).
/// Dropping it unsubscribes.
pub struct Subscription {
    /// Always there but while dropping, when it goes first so the count after it
    /// leaves it out.
    receiver: Option<watch::Receiver<Outcome>>,
    /// Its group: the query's name and parameters.
    slot: (String, String),
    queries: Weak<Queries>,
}

impl Subscription {
    pub(crate) fn new(
        mut receiver: watch::Receiver<Outcome>,
        slot: (String, String),
        queries: Weak<Queries>,
    ) -> Subscription {
        // The first `next` gives the current result at once.
        receiver.mark_changed();
        Subscription {
            receiver: Some(receiver),
            slot,
            queries,
        }
    }

    /// The first result at once; after that, waits for the next result that
    /// differs. A subscriber that was slow gets the latest only. `None` once the
    /// store is gone.
    pub async fn next(&mut self) -> Option<Result<Value, StoreError>> {
        let receiver = self.receiver.as_mut()?;
        receiver.changed().await.ok()?;
        Some((**receiver.borrow_and_update()).clone())
    }

    /// As [`next`](Subscription::next), the result as `T`.
    pub async fn next_as<T: DeserializeOwned>(&mut self) -> Option<Result<T, StoreError>> {
        let value = self.next().await?;
        Some(value.and_then(|v| T::deserialize(v).map_err(|e| StoreError::Serde(e.to_string()))))
    }

    /// The latest result, without waiting (and without counting it as seen).
    pub fn latest(&self) -> Result<Value, StoreError> {
        match &self.receiver {
            Some(receiver) => (**receiver.borrow()).clone(),
            None => Err(StoreError::Stopped),
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        drop(self.receiver.take());
        if let Some(queries) = self.queries.upgrade() {
            queries.unsubscribed(&self.slot);
        }
    }
}
