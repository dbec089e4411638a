//! Every write goes through here: the buckets it touches locked in name order, what
//! it read checked (optimistic concurrency), its changes applied all or none, handed
//! to persistence in commit order, and announced to the reactive queries.

use std::sync::Arc;

use parking_lot::RwLockWriteGuard;

use crate::bucket::{Bucket, BucketData};
use crate::error::StoreError;
use crate::key::Key;
use crate::persistence::{Mutation, PersistenceError};
use crate::query::Changed;
use crate::record::Record;
use crate::shared::StoreInner;

/// What a transaction read, to be unchanged when it commits.
#[derive(Clone, Debug)]
pub(crate) enum ReadMark {
    /// A record's version when read; 0 when it was absent.
    Key {
        bucket: Arc<Bucket>,
        key: Key,
        version: u64,
    },
    /// The whole bucket (a filter, a count), by its generation when read.
    Whole {
        bucket: Arc<Bucket>,
        generation: u64,
    },
}

/// A change a transaction made, applied at commit.
#[derive(Clone, Debug)]
pub(crate) enum Staged {
    Put {
        bucket: Arc<Bucket>,
        key: Key,
        record: Record,
    },
    Delete {
        bucket: Arc<Bucket>,
        key: Key,
    },
}

/// A change applied: what the queries and the storage engine learn of.
#[derive(Clone, Debug)]
pub(crate) enum Effect {
    Put {
        bucket: Arc<Bucket>,
        key: Key,
        record: Record,
    },
    Delete {
        bucket: Arc<Bucket>,
        key: Key,
    },
    Clear {
        bucket: Arc<Bucket>,
    },
}

impl Effect {
    fn bucket(&self) -> &Arc<Bucket> {
        match self {
            Effect::Put { bucket, .. }
            | Effect::Delete { bucket, .. }
            | Effect::Clear { bucket } => bucket,
        }
    }

    fn changed(&self) -> Changed {
        Changed {
            bucket: self.bucket().name.clone(),
            key: match self {
                Effect::Put { key, .. } | Effect::Delete { key, .. } => Some(key.clone()),
                Effect::Clear { .. } => None,
            },
        }
    }

    fn mutation(&self) -> Mutation {
        let bucket = self.bucket().name.clone();
        match self {
            Effect::Put { key, record, .. } => Mutation::Put {
                bucket,
                key: key.to_bytes(),
                value: serde_json::to_vec(record.fields()).expect("a JSON map always serializes"),
            },
            Effect::Delete { key, .. } => Mutation::Delete {
                bucket,
                key: key.to_bytes(),
            },
            Effect::Clear { .. } => Mutation::Clear { bucket },
        }
    }
}

/// Write locks on the buckets of one commit, taken in name order so two commits
/// never wait on each other in a cycle.
pub(crate) struct Locked<'a> {
    guards: Vec<(&'a Arc<Bucket>, RwLockWriteGuard<'a, BucketData>)>,
}

impl<'a> Locked<'a> {
    pub(crate) fn lock(buckets: &'a [Arc<Bucket>]) -> Locked<'a> {
        let mut order: Vec<&Arc<Bucket>> = buckets.iter().collect();
        order.sort_by(|a, b| a.name.cmp(&b.name));
        order.dedup_by(|a, b| Arc::ptr_eq(a, b));
        Locked {
            guards: order.into_iter().map(|b| (b, b.data.write())).collect(),
        }
    }

    /// The write lock of one bucket.
    pub(crate) fn one(bucket: &'a Arc<Bucket>) -> Locked<'a> {
        Locked {
            guards: vec![(bucket, bucket.data.write())],
        }
    }

    pub(crate) fn data(&mut self, bucket: &Bucket) -> &mut BucketData {
        &mut self
            .guards
            .iter_mut()
            .find(|(b, _)| std::ptr::eq(Arc::as_ptr(b), bucket))
            .expect("a commit locks every bucket it touches")
            .1
    }
}

/// The receiver of a commit's durability, when the store persists.
pub(crate) type DurableAck = tokio::sync::oneshot::Receiver<Result<(), PersistenceError>>;

/// Applies a transaction: its reads checked, its writes applied all or none.
pub(crate) fn commit_transaction(
    store: &StoreInner,
    reads: &[ReadMark],
    staged: Vec<Staged>,
) -> Result<Option<DurableAck>, StoreError> {
    if staged.is_empty() {
        return Ok(None);
    }
    let mut buckets: Vec<Arc<Bucket>> = reads
        .iter()
        .map(|read| match read {
            ReadMark::Key { bucket, .. } | ReadMark::Whole { bucket, .. } => bucket.clone(),
        })
        .collect();
    buckets.extend(staged.iter().map(|s| match s {
        Staged::Put { bucket, .. } | Staged::Delete { bucket, .. } => bucket.clone(),
    }));
    let mut locked = Locked::lock(&buckets);
    for read in reads {
        check_read(&mut locked, read)?;
    }
    let mut undo: Vec<(Arc<Bucket>, Key, Option<Record>)> = Vec::new();
    let mut effects = Vec::with_capacity(staged.len());
    for change in staged {
        let applied = match &change {
            Staged::Put {
                bucket,
                key,
                record,
            } => {
                let data = locked.data(bucket);
                data.check_unique(&bucket.name, key, record).map(|()| {
                    let before = data.put(key.clone(), record.clone());
                    undo.push((bucket.clone(), key.clone(), before));
                    Effect::Put {
                        bucket: bucket.clone(),
                        key: key.clone(),
                        record: record.clone(),
                    }
                })
            }
            Staged::Delete { bucket, key } => {
                let before = locked.data(bucket).remove(key);
                undo.push((bucket.clone(), key.clone(), before));
                Ok(Effect::Delete {
                    bucket: bucket.clone(),
                    key: key.clone(),
                })
            }
        };
        match applied {
            Ok(effect) => effects.push(effect),
            Err(error) => {
                for (bucket, key, before) in undo.into_iter().rev() {
                    let data = locked.data(&bucket);
                    match before {
                        Some(record) => {
                            data.put(key, record);
                        }
                        None => {
                            data.remove(&key);
                        }
                    }
                }
                return Err(error);
            }
        }
    }
    Ok(seal(store, locked, effects))
}

fn check_read(locked: &mut Locked<'_>, read: &ReadMark) -> Result<(), StoreError> {
    match read {
        ReadMark::Key {
            bucket,
            key,
            version,
        } => {
            let found = locked.data(bucket).get(key).map_or(0, Record::version);
            if found != *version {
                return Err(StoreError::Conflict {
                    bucket: bucket.name.clone(),
                    key: key.to_string(),
                    expected: *version,
                    found,
                });
            }
        }
        ReadMark::Whole { bucket, generation } => {
            let now = locked.data(bucket).generation;
            if now != *generation {
                return Err(StoreError::Conflict {
                    bucket: bucket.name.clone(),
                    key: "*".into(),
                    expected: *generation,
                    found: now,
                });
            }
        }
    }
    Ok(())
}

/// Finishes a commit whose effects are applied: hands them to persistence while the
/// locks still hold (so the engine sees commits in their order), releases the
/// locks, and tells the reactive queries.
pub(crate) fn seal(
    store: &StoreInner,
    locked: Locked<'_>,
    effects: Vec<Effect>,
) -> Option<DurableAck> {
    if effects.is_empty() {
        return None;
    }
    let ack = store
        .durable
        .as_ref()
        .map(|durable| durable.submit(effects.iter().map(Effect::mutation).collect()));
    drop(locked);
    for effect in &effects {
        effect.bucket().counted_write();
    }
    store.queries.changed(effects.iter().map(Effect::changed));
    ack
}

/// Waits until a commit is durable (at once without persistence).
/// A commit that could not be made durable stops the store's writes: memory holds
/// it and the disk does not, and later writes must not build on that.
pub(crate) async fn durable(store: &StoreInner, ack: Option<DurableAck>) -> Result<(), StoreError> {
    let Some(ack) = ack else {
        return Ok(());
    };
    let failure = match ack.await {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(error)) => error.to_string(),
        Err(_) => "the storage writer stopped before the commit".to_string(),
    };
    store.refuse_writes(&failure);
    Err(StoreError::Persistence(failure))
}
